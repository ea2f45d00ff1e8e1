"""The turbulence study's settings: one frozen dataclass, its three sizes, the fit options."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from typing import Any

from surrogates.errors import DataError, ModelError
from surrogates.training.config import FitConfig

__all__ = ["DT", "MODELS", "SIZES", "VELOCITY", "Settings", "crop_size", "fit_options"]

VELOCITY = ("u_x", "u_y", "u_z")
MODELS = ("vnet", "fno", "neuralop_fno")
DT = 0.5  # time between stored frames of the recipe = one surrogate step


@dataclass(frozen=True)
class Settings:
    """Every size and option of the turbulence study.

    Attributes
    ----------
    n_dns : int
        DNS points per side of a training box (side 2 pi); the large box has twice as many.
    nu : float
        Viscosity (the recipe's 0.02 needs 64^3: k_max eta ~ 1).
    factor : int
        Coarse-graining factor per axis (box filter, subsampled).
    samples : int
        Training realisations (own seeds and forcing schedules).
    spinup : float
        Discarded transient (time units).
    t_train : float
        End time of the training runs.
    steps : int
        Rollout steps on the large box (and at most on each held-out realisation).
    budget : float
        Seconds of training loop per model (validation included).
    calibration_steps : int
        Steps of the calibration fit that measures each model's step cost.
    validations : int
        Validations per fit (every ``max_steps // validations`` steps).
    val_fraction : float
        Share of the training realisations held out for validation.
    val_batches : int
        Validation batches per validation.
    vnet : dict
        Model config of the vnet.
    fno : dict
        Model config of both FNOs (ours and neuraloperator's).
    fno_pad : int
        FNO training context per side: the rollout's blend overlap.
    lr : dict
        Peak learning rate per model (picked by validation rollouts; package docstring).
    models : tuple of str
        The models trained, a subset of ``("vnet", "fno", "neuralop_fno")`` in this order
        or another; ``neuralop_fno`` is skipped (and reported) without neuraloperator.
    batch_size : int
        Training items per step.
    loss : str
        Training loss of every model (``amse``: package docstring).
    config_steps : int
        ``max_steps`` of :func:`train_config`'s run (the study derives its own from the
        budget; the full size's 7500 is about what 180 s fit on 2 CPU cores).
    progress : bool
        Lightning's progress bar during each fit.
    seed : int
        Seed of every fit: weights, crops and the held-out realisation.
    """

    n_dns: int
    nu: float
    factor: int
    samples: int
    spinup: float
    t_train: float
    steps: int
    budget: float
    calibration_steps: int
    validations: int
    val_fraction: float
    val_batches: int
    vnet: dict
    fno: dict
    fno_pad: int
    lr: dict
    models: tuple[str, ...] = MODELS
    batch_size: int = 4
    loss: str = "amse"
    config_steps: int = 7500
    progress: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        _check_sizes(self)
        _check_options(self)
        for name in self.models:  # the fit options too (loss, batch size, split, configs)
            FitConfig.from_kwargs(fit_options(self, name))


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_sizes(s: Settings) -> None:
    for name, minimum in (("n_dns", 2), ("factor", 1), ("samples", 1), ("steps", 1),
                          ("calibration_steps", 1), ("validations", 1), ("fno_pad", 0),
                          ("config_steps", 1)):  # fmt: skip
        value = getattr(s, name)
        if not _is_int(value, minimum):
            raise DataError(f"Settings.{name}: got {value!r}, expected an int >= {minimum}")
    if s.n_dns % (2 * s.factor):
        raise DataError(f"Settings.n_dns: got {s.n_dns}, expected a multiple of 2 * factor"
                        f" ({2 * s.factor}): the crop is half the coarse box")  # fmt: skip
    if not (s.nu > 0 and 0 <= s.spinup < s.t_train):
        raise DataError(f"Settings: got nu={s.nu}, spinup={s.spinup}, t_train={s.t_train};"
                        " expected nu > 0 and 0 <= spinup < t_train")  # fmt: skip


def _check_options(s: Settings) -> None:
    if not (isinstance(s.budget, int | float) and math.isfinite(s.budget) and s.budget > 0):
        raise ModelError(f"Settings.budget: got {s.budget!r}, expected a positive number of"
                         " seconds")  # fmt: skip
    unknown = [m for m in s.models if m not in MODELS]
    if unknown or not s.models or len(set(s.models)) != len(s.models):
        raise ModelError(f"Settings.models: got {list(s.models)}, expected distinct names"
                         f" of {list(MODELS)}")  # fmt: skip
    for name in s.models:
        lr = s.lr.get(name) if isinstance(s.lr, dict) else None
        ok = isinstance(lr, int | float) and not isinstance(lr, bool) and lr > 0
        if not (ok and math.isfinite(lr)):
            raise ModelError(f"Settings.lr[{name!r}]: got {lr!r}, expected a positive"
                             " learning rate")  # fmt: skip
    if not _is_int(s.seed, 0):
        raise ModelError(f"Settings.seed: got {s.seed!r}, expected an int >= 0")


def usable_models(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """The models to train, and those skipped with the reason (neuraloperator missing)."""
    names, skipped = list(settings.models), {}
    if "neuralop_fno" in names and importlib.util.find_spec("neuralop") is None:
        skipped["neuralop_fno"] = "neuraloperator not installed (pip install -e '.[bench]')"
        names.remove("neuralop_fno")
        print(f"note: skipping neuralop_fno: {skipped['neuralop_fno']}")
    if not names:
        raise ModelError(f"Settings.models {list(settings.models)}: nothing left to train"
                         f" ({skipped})")  # fmt: skip
    return names, skipped


def crop_size(settings: Settings) -> int:
    """Training crop (coarse cells per side): half the coarse box, so windows wrap around it.

    Also the rollout tile of the same-size models (the FNOs).
    """
    return settings.n_dns // settings.factor // 2


def fit_options(settings: Settings, name: str) -> dict[str, Any]:
    """Options of ``surrogates.fit`` for model ``name``, shared by calibration and training.

    The budget's options (``max_steps``, ``max_time``, ``val_every``) and ``out_dir`` are
    the caller's.
    """
    config = dict(settings.vnet if name == "vnet" else settings.fno)
    options = dict(
        crop=crop_size(settings), unroll=1, batch_size=settings.batch_size,
        lr=float(settings.lr[name]), loss=settings.loss, symmetries=True, seed=settings.seed,
        val_fraction=settings.val_fraction, val_batches=settings.val_batches,
        model_config=config,
    )  # fmt: skip
    if name != "vnet":  # same-size model: train on crop + 2 pad windows, the rollout's tiles
        options["pad"] = settings.fno_pad
    return options


_FULL_FNO = dict(modes=4, width=16, layers=4, halo=1)
SIZES: dict[str, Settings] = {
    # seconds: the tests
    "quick": Settings(
        n_dns=16, nu=0.08, factor=2, samples=2, spinup=1.0, t_train=4.0, steps=4, budget=3.0,
        calibration_steps=3, validations=2, val_fraction=0.5, val_batches=2,
        vnet=dict(width=4, levels=1, blocks=1), fno=dict(modes=2, width=4, layers=2, halo=1),
        fno_pad=2, lr=dict(vnet=1e-3, fno=1e-3, neuralop_fno=1e-3), config_steps=20,
        progress=False,
    ),
    # minutes on a 2-core laptop: the full study's physics at 2x coarse-graining of a
    # 32^3 DNS (nu = 0.04 resolves it), the full models, a 40 s budget per model
    "laptop": Settings(
        n_dns=32, nu=0.04, factor=2, samples=3, spinup=2.0, t_train=8.0, steps=8, budget=40.0,
        calibration_steps=20, validations=4, val_fraction=0.25, val_batches=8,
        vnet=dict(width=12, levels=1, blocks=1), fno=dict(_FULL_FNO), fno_pad=3,
        lr=dict(vnet=1e-3, fno=1e-2, neuralop_fno=3e-3), config_steps=2000,
    ),
    # the figures of docs/results.md (about 32 minutes on 2 CPU cores, 21 of them the DNS)
    "full": Settings(
        n_dns=64, nu=0.02, factor=4, samples=3, spinup=4.0, t_train=12.0, steps=12,
        budget=180.0, calibration_steps=30, validations=6, val_fraction=0.25, val_batches=16,
        vnet=dict(width=12, levels=1, blocks=1), fno=dict(_FULL_FNO), fno_pad=3,
        lr=dict(vnet=1e-3, fno=1e-2, neuralop_fno=3e-3),
    ),
}  # fmt: skip

"""The lift-and-drag study's settings: one frozen dataclass and its three named sizes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from surrogates.errors import DataError
from surrogates.training.config import FitConfig

__all__ = ["COEFFICIENTS", "FRAME", "INPUTS", "SIZES", "STATE", "Settings", "fit_options"]

STATE = ("p", "u_x", "u_y", "u_z")
INPUTS = ("u_inflow", "mask", "distance", "wake_short", "wake_long")
PARAMS = ("Re",)
MODEL = "vnet"
FRAME = 0.2  # seconds between stored frames (the recipe's save_every)
# coefficients of the field diagnostic -> the solver's names for them (momentum exchange)
COEFFICIENTS = {"C_D": "drag", "C_L": "lift", "C_S": "side"}
# fit options the study sets itself (from other fields, or where it writes the model)
_OWN_FIT_KEYS = ("seed", "out_dir", "checkpoint_dir", "resume")


@dataclass(frozen=True)
class Settings:
    """Every size and option of the lift-and-drag study.

    Attributes
    ----------
    cells : int
        Cells across the 1 m channel (the recipe has 32).
    section_length : int
        Training sections are ``section_length`` x 1 m x 1 m.
    sections : int
        Training sections.
    train_re : tuple of float
        Range of the sections' Reynolds numbers, drawn uniformly (the recipe's 60 is
        unstable at 24 cells across over the 7 s these runs need).
    length : int
        The long channel is ``length`` x 2 m.
    re : float
        Reynolds number of the long channel (inside the training range, not one of it).
    section_average : tuple of float
        Seconds: the window the sections' steady state is averaged over (the sections
        run to its end).
    long_end : float
        Seconds: the long channel's run (frames are saved every 0.2 s from 0.2 s on).
    long_average : float
        Seconds: the final stretch of the long channel's run that is averaged.
    train_obstacles : tuple of int
        Obstacles per training section (cycled over the sections, in the band 5-85 % of
        their length: about as many per metre as the long channel has).
    long_obstacles : int
        Obstacles in the long channel.
    fit : dict
        Keyword arguments of :func:`surrogates.fit` (``model_config`` included) besides
        ``seed`` and ``out_dir``, which the study sets.
    seed : int
        Seed of the fit: the network's initial weights, the training/validation split of
        the sections and the random crops and mirrors (:class:`FitConfig` ``seed``). The
        LBM data keep the recipe's seeds (the long channel its own, 500), so a study run
        with another seed trains on the same flows and is scored on the same channel.
    """

    cells: int
    section_length: int
    sections: int
    train_re: tuple[float, float]
    length: int
    re: float
    section_average: tuple[float, float]
    long_end: float
    long_average: float
    train_obstacles: tuple[int, ...]
    long_obstacles: int
    fit: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("cells", "section_length", "sections", "length", "long_obstacles"):
            _positive(name, getattr(self, name))
        lo, hi = _pair("train_re", self.train_re)
        if not 0 < lo <= hi:
            raise DataError(f"train_re {list(self.train_re)}: expected 0 < low <= high")
        start, end = _pair("section_average", self.section_average)
        if not 0 < start < end:
            raise DataError(
                f"section_average {list(self.section_average)}: expected 0 < start < end"
            )
        if not 0 < self.long_average < self.long_end or self.long_end < FRAME:
            raise DataError(
                f"long_average {self.long_average}, long_end {self.long_end}: expected"
                f" 0 < long_average < long_end and long_end >= {FRAME} (one saved frame)"
            )
        if not self.train_obstacles or any(int(c) < 1 for c in self.train_obstacles):
            raise DataError(f"train_obstacles {list(self.train_obstacles)}: expected counts >= 1")
        fit_options(self)  # the fit options, checked now rather than after the LBM runs

    @property
    def tile(self) -> tuple[int, int, int]:
        """Rollout tile: 2 m of channel, the whole cross-section."""
        return (2 * self.cells, self.cells, self.cells)


def _positive(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DataError(f"{name} {value!r}: expected an int >= 1")


def _pair(name: str, value: Any) -> tuple[float, float]:
    if len(value) != 2:
        raise DataError(f"{name} {list(value)}: expected two numbers [low, high]")
    return float(value[0]), float(value[1])


def fit_options(settings: Settings, out_dir: str | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`surrogates.fit` the study trains with.

    Raises
    ------
    DataError
        If ``fit`` sets what the study sets itself (``seed``: use the ``seed`` field).
    ModelError
        If the options are not valid :class:`FitConfig` options (``fit.max_steps=0``).
    """
    own = sorted(set(settings.fit) & set(_OWN_FIT_KEYS))
    if own:
        raise DataError(
            f"fit.{own[0]}: set by the study (seed: the settings' seed field); expected"
            f" none of {list(_OWN_FIT_KEYS)} in fit"
        )
    options = {**settings.fit, "seed": settings.seed, "out_dir": out_dir}
    FitConfig.from_kwargs(options)
    return options


def _sizes() -> dict[str, Settings]:
    """quick (seconds: tests), laptop (minutes), full (the figures of docs/results.md)."""
    full_fit = dict(
        crop=24,  # whole cross-sections: the halo (20 cells) is read anyway
        pad_mode="reflect",  # wall and open faces: padded as the rollout pads them
        gauge=["p"],  # pressure up to a constant (the package docstring)
        loss_weight="wall_weight",  # 0 in solids, 10x in the 2 cells next to them
        symmetries=["y", "z"],  # mirrors across the channel; never x (the flow direction)
        batch_size=2,
        max_steps=2000,
        lr=2e-3,
        val_fraction=0.15,
        val_every=250,
        val_batches=8,
        model_config=dict(width=16, levels=2, blocks=1),
        progress=True,
    )
    full = Settings(
        cells=24, section_length=4, sections=32, train_re=(10.0, 40.0), length=4, re=30.0,
        section_average=(6.0, 7.0), long_end=12.0, long_average=2.0,
        train_obstacles=(3, 4), long_obstacles=6, fit=full_fit,
    )  # fmt: skip
    laptop_fit = {**full_fit, "max_steps": 600, "val_every": 100, "val_batches": 4}
    laptop = replace(full, sections=12, fit=laptop_fit)
    quick_fit = {
        **full_fit, "crop": 16, "max_steps": 10, "val_fraction": 0.34, "val_every": 5,
        "val_batches": 2, "model_config": dict(width=4, levels=2, blocks=1), "progress": False,
    }  # fmt: skip
    quick = Settings(
        cells=16, section_length=4, sections=3, train_re=(10.0, 40.0), length=4, re=30.0,
        section_average=(0.4, 0.6), long_end=1.0, long_average=0.4,
        train_obstacles=(3, 4), long_obstacles=3, fit=quick_fit,
    )  # fmt: skip
    return {"quick": quick, "laptop": laptop, "full": full}


#: The named sizes: ``quick`` (about 10 s: the tests), ``laptop`` (about 5 minutes on a
#: 2-core CPU: 12 sections, 600 training steps, the full long channel) and ``full`` (13
#: minutes on 2 threads: the numbers and figures of ``docs/results.md``).
SIZES: dict[str, Settings] = _sizes()

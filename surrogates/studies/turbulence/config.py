"""The ``surrogates train`` run configuration that trains a model the way the study does."""

from __future__ import annotations

from typing import Any

from surrogates.errors import ModelError
from surrogates.studies.turbulence.settings import MODELS, VELOCITY, Settings, fit_options

__all__ = ["DATA_PATH", "TASK", "TRAIN_HEADER", "train_config"]

#: Where the study (run into ``runs/studies/turbulence``) writes its coarse training set.
DATA_PATH = "runs/studies/turbulence/coarse-train.nc"
#: The study's task: advance the coarse velocity one stored frame, forced.
TASK = dict(inputs=list(VELOCITY), targets=list(VELOCITY), params=["forcing_amplitude"],
            lead=1, residual=True)  # fmt: skip


#: The leading comment of ``cli/train-turbulence.toml``.
TRAIN_HEADER = """\
Turbulence world model (the turbulence study's vnet): advance the box-filtered velocity of
forced isotropic turbulence by one stored frame (0.5 time units), conditioned on the
time-varying forcing amplitude, learned as a residual with the amplitude-corrected
spectral loss (amse). The study writes its coarse training set; run it first:

  surrogates study turbulence --size full --out runs/studies/turbulence   # ~32 min
  surrogates train cli/train-turbulence.toml           # -> runs/turbulence/surrogate.pt

The study trains each model for a wall-clock budget; this configuration trains the vnet
for a fixed number of steps instead. The FNOs' configurations come from Python:
surrogates.studies.turbulence.train_config(SIZES["full"], "fno")."""


def train_config(
    settings: Settings,
    model: str = "vnet",
    *,
    data: str = DATA_PATH,
    out_dir: str = "runs/turbulence",
) -> dict[str, dict[str, Any]]:
    """The run configuration (tables data/task/model/train) of ``surrogates train``.

    The same task, model config, loss, crop, learning rate, symmetries, split and seed
    as the study's fit of ``model``; instead of the study's wall-clock budget, a fixed
    ``settings.config_steps`` steps with ``settings.validations`` validations.

    Parameters
    ----------
    settings : Settings
        The study's settings (``SIZES["full"]`` for ``cli/train-turbulence.toml``).
    model : str
        One of the study's models.
    data : str
        The coarse training set: the study writes it to ``OUT/coarse-train.nc``.
    out_dir : str
        Where ``surrogates train`` writes the artifact.

    Returns
    -------
    dict
        ``{"data": ..., "task": ..., "model": ..., "train": ...}`` of TOML-able values
        (what :func:`surrogates.training.load_config` reads).
    """
    if model not in MODELS:
        raise ModelError(f"train_config: model {model!r}, expected one of {list(MODELS)}")
    if model not in settings.lr:
        raise ModelError(f"train_config: Settings.lr has no rate for {model!r}")
    options = fit_options(settings, model)
    model_table = {"name": model, **options.pop("model_config")}
    steps = settings.config_steps
    train = {
        **options,
        "max_steps": steps,
        "val_every": max(1, steps // settings.validations),
        "out_dir": out_dir,
    }
    return {"data": {"path": data}, "task": dict(TASK), "model": model_table, "train": train}

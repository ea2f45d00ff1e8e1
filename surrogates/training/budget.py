"""Training for a wall-clock budget: calibrate the step cost, then fit what fits the budget.

A fair comparison of models at equal cost gives each the same seconds of training loop,
not the same number of steps. :func:`fit_for_budget` first runs a short calibration fit
(nothing written) that measures the model's steady seconds per training step and per
validation; the real fit then gets ``max_steps = (budget - validations * val_seconds) /
step_seconds``, so that its learning-rate schedule completes, and ``max_time = budget``
as a hard stop. The budget is the wall clock of the training loop, validation included
(Lightning's setup and the artifact write are not).
"""

from __future__ import annotations

import math
import time
from typing import Any

import lightning
import numpy as np
import xarray as xr

from surrogates.data import Task
from surrogates.errors import ModelError
from surrogates.training.trainer import fit

__all__ = ["LoopClock", "calibrate", "fit_for_budget"]

# fit options the budget sets itself
_OWN = ("max_steps", "max_time", "val_every", "max_epochs")


class LoopClock(lightning.Callback):
    """Wall clock of a training loop: batch end times, validation durations, loop span."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.validations: list[float] = []
        self.span = (math.nan, math.nan)
        self._val_start = math.nan

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.span = (time.perf_counter(), math.nan)

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        self.ends.append(time.perf_counter())

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._val_start = time.perf_counter()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self.validations.append(time.perf_counter() - self._val_start)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.span = (self.span[0], time.perf_counter())

    @property
    def loop_seconds(self) -> float:
        """Seconds from the start to the end of the training loop."""
        return self.span[1] - self.span[0]

    @property
    def step_seconds(self) -> float:
        """Median time between batch ends (the first quarter, warm-up, left out)."""
        gaps = np.diff(self.ends)
        gaps = gaps[gaps.size // 4 :]
        return float(np.median(gaps)) if gaps.size else self.loop_seconds


def _check(budget: float, calibration_steps: int, validations: int, options: dict) -> None:
    if not (isinstance(budget, int | float) and math.isfinite(budget) and budget > 0):
        raise ModelError(f"budget: got {budget!r}, expected a positive number of seconds")
    for name, value in (("calibration_steps", calibration_steps), ("validations", validations)):
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ModelError(f"{name}: got {value!r}, expected an int >= 1")
    own = sorted(set(options) & set(_OWN))
    if own:
        raise ModelError(f"fit_for_budget: got fit options {own}; the budget sets {list(_OWN)}")


def calibrate(
    data: xr.Dataset | str, task: Task, model: str, steps: int, **fit_options: Any
) -> dict[str, float]:
    """Seconds per training step and per validation, from a short fit (nothing written).

    Parameters
    ----------
    data, task, model
        As for :func:`surrogates.fit`.
    steps : int
        Training steps of the calibration fit (one validation at its end).
    **fit_options
        The options of the real fit (``out_dir`` and ``progress`` are ignored here).

    Returns
    -------
    dict
        ``steps``, ``step_seconds`` (median after warm-up) and ``val_seconds`` (0 when the
        fit does not validate).
    """
    clock = LoopClock()
    options = {**fit_options, "out_dir": None, "progress": False}
    options["callbacks"] = (*options.get("callbacks", ()), clock)
    fit(data, task, model, **options, max_steps=steps, val_every=steps)
    val = float(np.median(clock.validations)) if clock.validations else 0.0
    return {"steps": steps, "step_seconds": clock.step_seconds, "val_seconds": val}


def fit_for_budget(
    data: xr.Dataset | str,
    task: Task,
    model: str,
    budget: float,
    *,
    calibration_steps: int = 30,
    validations: int = 6,
    **fit_options: Any,
) -> tuple[Any, dict[str, Any]]:
    """Fit ``model`` for ``budget`` seconds of training loop (module docstring).

    Parameters
    ----------
    data, task, model
        As for :func:`surrogates.fit`.
    budget : float
        Wall-clock seconds of the training loop, validation included.
    calibration_steps : int
        Steps of the calibration fit that measures the step and validation cost.
    validations : int
        Validations of the real fit (every ``max_steps // validations`` steps); also the
        fewest steps it gets.
    **fit_options
        Other options of :func:`surrogates.fit` (not ``max_steps``, ``max_time``,
        ``val_every``, ``max_epochs``: the budget sets those).

    Returns
    -------
    surrogate : Surrogate
        The fitted model (written to ``out_dir`` if given).
    record : dict
        ``params`` (real parameters; a complex one counts twice), ``calibration``,
        ``budget_seconds``, ``max_steps``, ``steps``, ``stopped_by`` (``max_steps`` or
        ``max_time``), ``loop_seconds``, ``train_seconds``, ``val_loss_best``, ``weights``.

    Raises
    ------
    ModelError
        A non-positive budget, bad counts, or options the budget sets itself.
    """
    _check(budget, calibration_steps, validations, fit_options)
    cal = calibrate(data, task, model, calibration_steps, **fit_options)
    usable = budget - validations * cal["val_seconds"]
    max_steps = max(validations, int(usable / cal["step_seconds"]))
    clock = LoopClock()
    options = {**fit_options, "callbacks": (*fit_options.get("callbacks", ()), clock)}
    print(f"{model}: {cal['step_seconds']:.3g} s/step -> max_steps {max_steps}, {budget:g} s")
    surrogate = fit(data, task, model, **options, max_steps=max_steps, max_time=budget,
                    val_every=max(1, max_steps // validations))  # fmt: skip
    prov = surrogate.metadata.provenance
    print(f"{model}: {prov['steps']} steps in {clock.loop_seconds:.1f} s, {prov['weights']}")
    return surrogate, _record(surrogate, cal, budget, max_steps, clock)


def _record(
    surrogate: Any, cal: dict, budget: float, max_steps: int, clock: LoopClock
) -> dict[str, Any]:
    """What :func:`fit_for_budget` returns beside the surrogate."""
    prov = surrogate.metadata.provenance
    params = surrogate.model.parameters()
    return {
        "params": sum(p.numel() * (2 if p.is_complex() else 1) for p in params),
        "calibration": cal,
        "budget_seconds": budget,
        "max_steps": max_steps,
        "steps": prov["steps"],
        "stopped_by": "max_steps" if prov["steps"] >= max_steps else "max_time",
        "loop_seconds": clock.loop_seconds,
        "train_seconds": prov["train_seconds"],
        "val_loss_best": prov["metrics"].get("val_loss_best"),
        "weights": prov["weights"],
    }

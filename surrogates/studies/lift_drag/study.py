"""The whole study, step by step: LBM data, steady states, fit, tiled rollout, scores."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import surrogates
from surrogates.diagnostics import (
    coefficient_errors,
    field_errors,
    matched_frame,
    placement_distance,
)
from surrogates.errors import DataError
from surrogates.io import to_netcdf
from surrogates.solvers.cache import run_cached
from surrogates.solvers.lbm import steady_state
from surrogates.studies._common import Stopwatch, write_results
from surrogates.studies.lift_drag.config import STEADY_SECTIONS, make_recipes
from surrogates.studies.lift_drag.figures import figures, solver_history
from surrogates.studies.lift_drag.settings import (
    COEFFICIENTS,
    INPUTS,
    MODEL,
    PARAMS,
    STATE,
    Settings,
    fit_options,
)
from surrogates.studies.lift_drag.tables import force_spread, markdown, obstacle_rows

__all__ = ["run"]

log = logging.getLogger(__name__)


def _simulate(s: Settings, out: Path) -> dict[str, Any]:
    """LBM sections and long channel (reused when their recipe is unchanged), steady states."""
    train_recipe, long_recipe = make_recipes(s)
    log.info("LBM: %d training sections, then the long channel (to t = %s s)",
             s.sections, s.long_end)  # fmt: skip
    lbm_train = run_cached(train_recipe, out / "sections.nc")
    lbm_long = run_cached(long_recipe, out / "long.nc")
    sections = steady_state(surrogates.open_dataset(out / "sections.nc"))
    to_netcdf(sections, out / STEADY_SECTIONS, overwrite=True)  # for `surrogates train`
    run = surrogates.open_dataset(out / "long.nc")
    truth = steady_state(run, since=s.long_end - s.long_average)
    distance = placement_distance(
        truth["mask"].isel(sample=0).values > 0.5,
        sections["mask"].values > 0.5,
        sections.sizes["x"],  # positions relative to a training section's length
    )
    clash = [i + 1 for i, d in enumerate(distance) if d == 0]
    if clash:
        log.warning("long-channel bodies %s are placed as in training", clash)
    return {"lbm_train": lbm_train, "lbm_long": lbm_long, "sections": sections, "run": run,
            "truth": truth, "distance": distance, "clash": clash}  # fmt: skip


def _train(data: xr.Dataset, s: Settings, out: Path) -> surrogates.Surrogate:
    """Fit the steady-flow ``vnet``: (``INPUTS``; Re) -> (p, u_x, u_y, u_z)."""
    task = surrogates.Task(inputs=INPUTS, targets=STATE, params=PARAMS)
    if out.exists():  # checkpoints of an earlier run would be mistaken for this one's
        shutil.rmtree(out)
    return surrogates.fit(data, task, model=MODEL, **fit_options(s, out_dir=str(out)))


def _predict(model: surrogates.Surrogate, truth: xr.Dataset, s: Settings,
             watch: Stopwatch) -> xr.Dataset:  # fmt: skip
    """The surrogate's steady flow of the long channel, tile by tile (the second call timed)."""
    state = truth[[*INPUTS, *PARAMS]].load()
    surrogates.rollout(model, state, tile=s.tile, progress=False)  # warm-up, not timed
    with watch("rollout"):  # the time of a second channel: torch's set-up is paid
        prediction = surrogates.rollout(model, state, tile=s.tile, progress=False)
    return prediction.expand_dims(time=truth["time"].values).transpose("sample", "time", ...)


def _matched(cost: np.ndarray, times: np.ndarray, lbm_error: list, target: float,
             seconds: float) -> dict[str, Any]:  # fmt: skip
    """The solver's wall time to get the drag as right as the surrogate does, for good."""
    first = matched_frame(lbm_error, target)
    return {
        "lbm_seconds": cost.tolist(), "lbm_error": lbm_error,
        "surrogate_seconds": seconds, "surrogate_error": target,
        "lbm_seconds_matched": None if first is None else float(cost[first]),
        "lbm_time": None if first is None else float(times[first]),
        "speedup": None if first is None else float(cost[first]) / seconds,
    }  # fmt: skip


def _score(s: Settings, flows: dict, prediction: xr.Dataset, watch: Stopwatch) -> dict:
    """Forces and field errors of the surrogate and of the LBM stopped at the same cost."""
    run, truth = flows["run"], flows["truth"]
    times = run["time"].values
    cost = flows["lbm_long"]["seconds"] * times / s.long_end  # grows with simulated time
    frame = min(int(np.searchsorted(cost, watch.seconds["rollout"])), len(times) - 1)
    equal = f"LBM at equal cost (t = {times[frame]:.3g} s)"
    early = run[list(STATE)].isel(time=[frame]).assign_coords(time=truth["time"].values)
    u_mean = float(truth["U"].values[0]) * 2 / 3  # mean of the parabolic inflow
    with watch("compare"):
        result = surrogates.compare(
            prediction, truth, diagnostics=["metrics", "forces"], U=u_mean,
            baselines={equal: early},
        )  # fmt: skip
        history = solver_history(run, u_mean)
    rows = obstacle_rows(result, truth, prediction, flows["distance"], equal)
    steady = result.isel(sample=0, time=-1)
    drag = {
        name: coefficient_errors(steady["C_D"].sel(model=name), steady["C_D_truth"])
        for name in ("surrogate", equal)
    }
    lbm_error = coefficient_errors(history["C_D"], steady["C_D_truth"])["mean"]
    fields = {name: field_errors(f, truth, STATE, gradient=["p"])
              for name, f in (("surrogate", prediction), (equal, early))}  # fmt: skip
    matched = _matched(cost, times, lbm_error, drag["surrogate"]["mean"],
                       watch.seconds["rollout"])  # fmt: skip
    return {"result": result, "history": history, "rows": rows, "drag": drag,
            "fields": fields, "matched": matched}  # fmt: skip


def _results(s: Settings, model: surrogates.Surrogate, flows: dict, prediction: xr.Dataset,
             scores: dict, seconds: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """The JSON-able results (``results.json``)."""
    import numba
    import torch

    provenance, history, rows = model.metadata.provenance, scores["history"], scores["rows"]
    lbm_seconds = flows["lbm_long"]["seconds"]
    return {
        "settings": dataclasses.asdict(s),
        "fit": {k: v for k, v in fit_options(s).items() if k not in ("progress", "out_dir")},
        "threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "model": provenance["model"],
        "training_steps": provenance["steps"],
        "tile": list(s.tile),
        "long_shape": list(flows["truth"]["mask"].shape[1:]),
        "rollout_plan": str(prediction.attrs.get("rollout_plan", "")),
        "steady_drift": {
            "sections": flows["sections"].attrs["steady_drift"],
            "long": flows["truth"].attrs["steady_drift"],
        },  # fmt: skip
        "obstacles": rows,
        "coinciding_obstacles": flows["clash"],
        "drag_error": scores["drag"],
        "force_spread": force_spread(rows),
        "field_errors": scores["fields"],
        "lbm_seconds": lbm_seconds,
        "speedup": lbm_seconds / seconds["rollout"],
        "matched_accuracy": scores["matched"],
        "coefficients_history": {
            "time": history["time"].values.tolist(),
            **{c: history[c].transpose("body", "time").values.tolist() for c in COEFFICIENTS},
        },
        "seconds": {
            "lbm_sections": flows["lbm_train"]["seconds"],
            "lbm_long": lbm_seconds,
            **{k: seconds[k] for k in ("fit", "rollout", "compare", "total")},
        },  # fmt: skip
        # reused: the dataset (and its timing) came from an earlier run with these settings
        "lbm_runs": {
            name: {k: v for k, v in r.items() if k != "fingerprint"}
            for name, r in (("sections", flows["lbm_train"]), ("long", flows["lbm_long"]))
        },
    }


def run(settings: Settings, out: Path) -> dict[str, Any]:
    """Run the study into ``out``; return the results also written to ``out/results.json``.

    Parameters
    ----------
    settings : Settings
        One of :data:`SIZES`, possibly changed (:func:`surrogates.studies.settings`).
    out : pathlib.Path
        The study's folder (:func:`surrogates.studies.run` checks it): the LBM datasets
        ``sections.nc`` and ``long.nc`` (reused by a later run of the same recipes), the
        steady sections ``steady-sections.nc``, the model ``model/``, ``results.json``,
        ``results.md`` and three figures. Thread counts are the caller's (torch, and
        numba for the LBM solver).

    Raises
    ------
    DataError
        If ``settings`` is not this study's :class:`Settings`.
    """
    if not isinstance(settings, Settings):
        raise DataError(
            f"lift-drag: settings of type {type(settings).__name__}; expected"
            " surrogates.studies.lift_drag.Settings"
        )
    s, out, watch = settings, Path(out), Stopwatch()
    out.mkdir(parents=True, exist_ok=True)
    with watch("total"):
        flows = _simulate(s, out)
        with watch("fit"):
            model = _train(flows["sections"], s, out / "model")
        prediction = _predict(model, flows["truth"], s, watch)
        scores = _score(s, flows, prediction, watch)
        paths = figures(scores["history"], scores["result"], flows["truth"], prediction,
                        scores["matched"], out)  # fmt: skip
    results = _results(s, model, flows, prediction, scores, watch.seconds)
    results["figures"] = [p.name for p in paths]
    json_path, md_path = write_results(out, results, markdown(results))
    log.info("results: %s, %s; figures: %s", json_path, md_path, ", ".join(map(str, paths)))
    return results

"""The turbulence study end to end: DNS, coarse-graining, budgeted fits, rollouts, report."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import xarray as xr

from surrogates.data import Task, coarse_grain
from surrogates.errors import DataError
from surrogates.io import open_dataset, to_netcdf
from surrogates.solvers.cache import run_cached
from surrogates.solvers.recipe import Recipe, load_recipe
from surrogates.studies._common import Stopwatch, recipe_folder, write_results
from surrogates.studies.turbulence.config import TASK
from surrogates.studies.turbulence.evaluate import (
    coarse_solvers,
    evaluate,
    roll,
    series,
    validation_rollout,
)
from surrogates.studies.turbulence.report import figures, markdown
from surrogates.studies.turbulence.settings import (
    DT,
    Settings,
    crop_size,
    fit_options,
    usable_models,
)
from surrogates.training.budget import fit_for_budget

__all__ = ["recipes", "run_study"]

# the DNS's own dissipation diagnostics are fine-grid quantities: not coarse-grained
FINE_GRID_DIAGNOSTICS = ("kinetic_energy", "dissipation", "enstrophy")


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Keep Lightning's per-fit banners out of the output (the study prints a summary)."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def recipes(settings: Settings) -> tuple[Recipe, Recipe, float]:
    """Recipes of the training DNS and the 2x larger DNS, and the large run's end time."""
    s = settings
    common = [f"nu={s.nu}", f"spinup={s.spinup}", f"save_every={DT}"]
    folder = recipe_folder("turbulence-ns")
    train = load_recipe(
        folder, [f"samples={s.samples}", f"n={s.n_dns}", f"t_end={s.t_train}", *common]
    )
    t_large = s.spinup + DT * s.steps
    large = load_recipe(
        folder,
        ["samples=1", "seed=100", f"n={2 * s.n_dns}", f"box_size={4 * math.pi}",
         "spectrum_peak=4.0", f"t_end={t_large}", *common],
    )  # fmt: skip
    return train, large, t_large


def _train(
    data: xr.Dataset, task: Task, name: str, settings: Settings, out: Path
) -> tuple[Any, dict[str, Any]]:
    """Fit ``name`` for the budget into ``out/models/name``; returns (surrogate, record)."""
    options = fit_options(settings, name)
    folder = out / "models" / name
    shutil.rmtree(folder, ignore_errors=True)  # no checkpoints of older runs
    model, record = fit_for_budget(
        data, task, name, settings.budget, calibration_steps=settings.calibration_steps,
        validations=settings.validations, **options, out_dir=str(folder),
        progress=settings.progress,
    )  # fmt: skip
    head = {"params": record.pop("params"), "config": options["model_config"],
            "lr": options["lr"], "seed": options["seed"]}  # fmt: skip
    return model, {**head, **record}


def _models(
    names: list[str], data: xr.Dataset, truth: xr.Dataset, settings: Settings, out: Path,
    watch: Stopwatch, solver_per_time: float,
) -> tuple[dict[str, dict], dict[str, xr.Dataset]]:  # fmt: skip
    """Train, validate and roll out every model: (records, predictions on the large box)."""
    task = Task(**TASK)
    records, predictions = {}, {}
    for name in names:
        with watch(f"train_{name}"):
            model, records[name] = _train(data, task, name, settings, out)
        tile = None if name == "vnet" else crop_size(settings)
        with watch(f"validate_{name}"):
            records[name]["validation"] = validation_rollout(
                model, data, task, settings.steps, tile
            )
        prediction, seconds = roll(model, truth, settings.steps, tile)
        predictions[name] = prediction
        records[name].update(
            rollout_seconds=seconds,
            rollout_plan=prediction.attrs["rollout_plan"],
            speedup=solver_per_time / (seconds / (settings.steps * DT)),
        )
    return records, predictions


def _dns(settings: Settings, out: Path, watch: Stopwatch) -> dict[str, Any]:
    """Run (or reuse) both DNS, coarse-grain them; the training set goes to a file too."""
    train_recipe, large_recipe, t_large = recipes(settings)
    with watch("dns_train"):
        run_cached(train_recipe, out / "dns-train.nc")
    large_run = run_cached(large_recipe, out / "dns-large.nc", resume=False)
    dns_large = open_dataset(out / "dns-large.nc")
    drop = FINE_GRID_DIAGNOSTICS
    data = coarse_grain(open_dataset(out / "dns-train.nc"), settings.factor, drop=drop)
    to_netcdf(data, out / "coarse-train.nc", overwrite=True)  # for cli/train-turbulence.toml
    return {
        "data": data,
        "truth": coarse_grain(dns_large, settings.factor, drop=drop),
        "dns_large": dns_large,
        "large_recipe": large_recipe,
        "t_large": t_large,
        "seconds": large_run["seconds"],
        "reused": large_run["reused"],
    }


def _study(settings: Settings, out: Path) -> dict[str, Any]:
    """Everything but the files of results: the results dictionary."""
    names, skipped = usable_models(settings)
    watch, steps = Stopwatch(), settings.steps
    dns = _dns(settings, out, watch)
    truth, solver_per_time = dns["truth"], dns["seconds"] / dns["t_large"]
    records, predictions = _models(names, dns["data"], truth, settings, out, watch,
                                   solver_per_time)  # fmt: skip
    with watch("coarse_solvers"):
        solvers = coarse_solvers(dns["large_recipe"], dns["dns_large"], truth, steps,
                                 settings.factor)  # fmt: skip
    with watch("compare"):
        result = evaluate(predictions, truth, {k: frames for k, (frames, _) in solvers.items()})
        paths = figures(result, truth, out)
    for name in names:
        records[name].update(series(result, name))
    solver_records = {
        name: {"solver_seconds": seconds, **series(result, name),
               "speedup": solver_per_time / (seconds / (steps * DT))}
        for name, (_, seconds) in solvers.items()
    }  # fmt: skip
    watch.seconds["dns_large"] = dns["seconds"]
    return {
        "settings": dataclasses.asdict(settings),
        "coarse_large": truth.sizes["x"],
        "budget_seconds": settings.budget,
        "loss": settings.loss,
        "seed": settings.seed,
        "t_large": dns["t_large"],
        "times": result["time"].values.tolist(),
        "dns_large_reused": dns["reused"],
        "solver_steps": int(dns["dns_large"].attrs["steps"]),
        "threads": torch.get_num_threads(),
        "solver_seconds_per_time": solver_per_time,
        "models": records,
        "persistence": series(result, "persistence"),
        "solvers": solver_records,
        "dissipation_truth": result["dissipation_truth"].isel(sample=0).values.tolist(),
        "skipped": skipped,
        "figures": [p.name for p in paths],
        "seconds": watch.seconds,
    }


def run_study(settings: Settings, out: Path) -> dict[str, Any]:
    """The whole study into ``out`` (see :func:`surrogates.studies.turbulence.run`)."""
    if not isinstance(settings, Settings):
        raise DataError(f"run: got {type(settings).__name__}, expected turbulence Settings")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with quiet_lightning():
        results = _study(settings, out)
    results["seconds"]["total"] = time.perf_counter() - start
    text = markdown(results)
    json_path, md_path = write_results(out, results, text)
    print(text)
    print(f"\nresults: {json_path} and {md_path}")
    print(f"figures: {', '.join(str(out / f) for f in results['figures'])}")
    print(f"models:  {out / 'models'}/<name>/surrogate.pt")
    return results

"""Cosmology large-volume emulation: a box 4x larger per side than any training box.

The particle-mesh solver simulates the large box (``datasets/cosmo-pm-large``) at an
Ω_m and white-noise seed no training box used; the shipped surrogate (a
parameter-conditioned ``vnet`` trained on 128 Mpc/h boxes by ``cli/train-cosmology.toml``)
emulates it tile by tile from its 2LPT displacements; the comparison scores it and the
2LPT and Zel'dovich approximations against the PM truth (P(k), T(k), r(k), ξ(r), halo
mass function, density slices: ``OUT/report/``).

The ``full`` size adds the speedup at matched accuracy: the same FastPM run with fewer
time steps (the cheap solver a surrogate must beat), and every way to the displacements
timed warm in this process (no start-up, no files); per score, the cheapest PM run at
least as accurate as the surrogate, and its cost over the surrogate's.

``laptop`` is ``make demo``; ``quick`` (a 256 Mpc/h box of 64³ particles) is the tests'.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from surrogates.diagnostics import cheapest_matching
from surrogates.errors import DataError
from surrogates.solvers.cache import run_cached
from surrogates.solvers.recipe import Recipe, load_recipe, sample_configs
from surrogates.studies._common import Stopwatch, best_time, recipe_folder, write_results

__all__ = ["SIZES", "Settings", "run"]

_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Every size and option of the cosmology study.

    Attributes
    ----------
    seed : int
        White-noise seed of the large box (the training boxes used 0–63).
    n : int
        Particles per side of the large box.
    box_size : float
        Side of the large box, Mpc/h (the training boxes are 128 Mpc/h at 4 Mpc/h spacing).
    omega_m : float
        Ω_m of the large box (inside the training range [0.2, 0.4], no training draw).
    model : str
        Surrogate artifact to roll out; relative paths are taken from the repository.
    tile : int
        Core tile of the rollout (cells per side).
    memory : str
        Memory budget of the rollout.
    ladder : tuple of int
        FastPM time steps of the cheaper solver runs (the truth has 10); empty: none, and
        no speedup table.
    bf16 : bool
        Also roll out under bfloat16 autocast and tabulate it.
    repeats : int
        Warm timings: the best of ``repeats`` calls after an untimed one.
    figures : bool
        Write the report's PNG figures.
    """

    seed: int = 1000
    n: int = 128
    box_size: float = 512.0
    omega_m: float = 0.3
    model: str = "pretrained/cosmology/surrogate.pt"
    tile: int = 64
    memory: str = "2GB"
    ladder: tuple[int, ...] = ()
    bf16: bool = False
    repeats: int = 3
    figures: bool = True


SIZES = {
    "quick": Settings(
        n=64, box_size=256.0, tile=32, ladder=(2,), bf16=True, repeats=1, figures=False
    ),  # fmt: skip
    "laptop": Settings(),
    "full": Settings(ladder=(2, 3, 4, 5), bf16=True),
}

# Summary scores (surrogates.report.cosmology_scores) of the matched-accuracy table: their
# headings, and their error (smaller is better).
SCORES: dict[str, tuple[str, Callable[[float], float]]] = {
    "max_T_error": ("max abs(1 − T), k ≤ k½", lambda x: x),
    "min_r": ("min r, k ≤ k½", lambda x: 1.0 - x),
    "halo_ratio": ("halos / PM's", lambda x: abs(1.0 - x)),
}


def _check(s: Settings) -> Path:
    """The artifact's path; one-line errors for settings that cannot run."""
    if s.seed < 0:
        raise DataError(f"--seed {s.seed}: expected a non-negative integer")
    if any(k < 1 or k >= 10 for k in s.ladder):
        raise DataError(f"ladder {list(s.ladder)}: expected FastPM steps between 1 and 9")
    if s.repeats < 1:
        raise DataError(f"repeats {s.repeats}: expected at least 1")
    model = Path(s.model) if Path(s.model).is_absolute() else _REPO / s.model
    if not model.is_file():
        raise DataError(f"model {s.model}: no such artifact (make demo-train writes one)")
    return model


def recipe(s: Settings, steps: int | None = None) -> Recipe:
    """The large box's recipe under ``s`` (with ``steps`` FastPM steps if given)."""
    sets = [f"seed={s.seed}", f"params.n={s.n}", f"params.box_size={s.box_size}",
            f"params.Omega_m={s.omega_m}"]  # fmt: skip
    if steps is not None:
        sets.append(f"params.steps={steps}")
    return load_recipe(recipe_folder("cosmo-pm-large"), sets)


def warm_costs(s: Settings, large: Path, model: Path) -> dict[str, float]:
    """Warm seconds of each way to the z = 0 displacements, in this process.

    The surrogate's cost is the 2LPT initial conditions plus the in-memory tiled rollout;
    a PM run's includes its own 2LPT initial conditions and the force mesh at every step.
    """
    from surrogates.artifact import load
    from surrogates.rollout import rollout
    from surrogates.solvers.pm import ic
    from surrogates.solvers.pm.solver import lpt_fields
    from surrogates.solvers.pm.solver import run as pm_run

    config, seed = sample_configs(recipe(s))[0]
    noise = ic.white_noise(config.n, seed)
    ics = best_time(lambda: lpt_fields(config, ic.white_noise(config.n, seed)), s.repeats)
    seconds = {}
    for k in (*s.ladder, 10):
        name = "PM (truth)" if k == 10 else f"PM-{k}-steps"
        cheaper = dataclasses.replace(config, steps=k)
        seconds[name] = best_time(lambda c=cheaper: pm_run(c, noise), s.repeats)
    surrogate = load(model)
    state = xr.open_dataset(large)[[*surrogate.task.inputs, *surrogate.task.params]].load()
    precisions = {"surrogate": "32-true", **({"surrogate-bf16": "bf16-mixed"} if s.bf16 else {})}
    for name, precision in precisions.items():
        seconds[name] = ics + best_time(
            lambda p=precision: rollout(
                surrogate, state, tile=s.tile, progress=False, precision=p
            ),  # fmt: skip
            s.repeats,
        )
    return seconds


def matched_accuracy(scores: dict[str, dict], costs: dict[str, float]) -> dict[str, Any]:
    """Per surrogate and score: its value, the cheapest PM run at least as accurate, and
    that run's cost over the surrogate's (``None`` where no PM run is as accurate)."""
    runs = {k: v for k, v in costs.items() if k.startswith("PM-")}
    table: dict[str, Any] = {}
    for model in (m for m in costs if m.startswith("surrogate")):
        row = {}
        for key, (_, error) in SCORES.items():
            if key not in scores[model]:
                continue
            mine = scores[model][key]
            errors = {r: error(scores[r][key]) for r in runs}
            match = cheapest_matching(runs, errors, error(mine))
            row[key] = {
                "value": mine,
                "match": match,
                "match_seconds": None if match is None else costs[match],
                "speedup": None if match is None else costs[match] / costs[model],
            }
        table[model] = row
    return table


def _rollouts(s: Settings, large: Path, model: Path, out: Path, watch: Stopwatch) -> dict:
    """Tiled rollouts into ``out/emulated*.zarr``; returns ``{model name: store}``."""
    from surrogates.rollout.api import rollout_cli

    stores = {"surrogate": (out / "emulated.zarr", "32-true")}
    if s.bf16:
        stores["surrogate-bf16"] = (out / "emulated-bf16.zarr", "bf16-mixed")
    for store, precision in stores.values():
        shutil.rmtree(store, ignore_errors=True)  # ours: this study's folder
        with watch(f"rollout {precision}"):
            rollout_cli(model, large, store, tile=s.tile, memory=s.memory, precision=precision)
    return {name: store for name, (store, _) in stores.items()}


def run(s: Settings, out: Path) -> dict[str, Any]:
    """The whole study into ``out``; returns its results (also ``out/results.json``)."""
    from surrogates import io
    from surrogates.report import compare_report, cosmology_scores

    model = _check(s)
    watch = Stopwatch()
    large = out / "large.nc"
    truth = run_cached(recipe(s), large)
    print(io.describe(large))
    ladder = {k: run_cached(recipe(s, steps=k), out / f"pm-{k}-steps.nc") for k in s.ladder}
    stores = _rollouts(s, large, model, out, watch)
    baselines: dict[str, Any] = {n: str(p) for n, p in stores.items() if n != "surrogate"}
    baselines.update({"2LPT": "disp_2lpt", "ZA": "disp_za"})
    baselines.update({f"PM-{k}-steps": str(out / f"pm-{k}-steps.nc") for k in s.ladder})
    with watch("compare"):
        report = compare_report(stores["surrogate"], large, out / "report",
                                baselines=baselines, figures=s.figures)  # fmt: skip
    scores = cosmology_scores(xr.open_dataset(report / "metrics.nc"))
    results: dict[str, Any] = {
        "settings": dataclasses.asdict(s),
        "scores": scores,
        "solver_seconds": {"PM (truth)": truth["seconds"],
                           **{f"PM-{k}-steps": r["seconds"] for k, r in ladder.items()}},
        "seconds": dict(watch.seconds),
        "report": str(report.relative_to(out)),
    }  # fmt: skip
    if s.ladder:
        with watch("warm costs"):
            costs = warm_costs(s, large, model)
        results["warm_seconds"] = costs
        results["matched_accuracy"] = matched_accuracy(scores, costs)
        results["seconds"] = dict(watch.seconds)
    write_results(out, results, markdown(results, (report / "summary.md").read_text()))
    return results


def markdown(results: dict[str, Any], summary: str) -> str:
    """``results.md``: the report's cosmology table and, with a ladder, the speedups."""
    table = summary.split("## Cosmology", 1)[-1].split("## Figures", 1)[0].strip()
    lines = ["# Cosmology large-volume emulation", "", table, ""]
    times = ", ".join(f"{k} {v:.1f} s" for k, v in results["seconds"].items())
    lines += [f"Wall time: {times}.", ""]
    if "matched_accuracy" in results:
        lines += _matched_lines(results), ""
    return "\n".join(lines)


def _matched_lines(results: dict[str, Any]) -> str:
    costs, scores = results["warm_seconds"], results["scores"]
    head = " | ".join(h for h, _ in SCORES.values())
    lines = [
        "## Speedup at matched accuracy",
        "",
        "Warm compute seconds in one process (no start-up, no files; best of"
        f" {results['settings']['repeats']}): a surrogate's is the 2LPT ICs plus the"
        " in-memory tiled rollout, a PM run's its ICs and k steps. Per score: the"
        " surrogate's value, the cheapest PM run at least as accurate, and its cost over"
        " the surrogate's.",
        "",
        f"| model | warm compute s | {head} |",
        "|---|---|" + "---|" * len(SCORES),
    ]
    for model, row in results["matched_accuracy"].items():
        cells = []
        for key in SCORES:
            cell = row.get(key)
            if cell is None:
                cells.append("–")
            elif cell["match"] is None:
                cells.append(f"{cell['value']:.4g}: no PM run as accurate")
            else:
                cells.append(f"{cell['value']:.4g}: {cell['match']} ({cell['match_seconds']:.1f}"
                             f" s), **{cell['speedup']:.1f}x**")  # fmt: skip
        lines.append(f"| {model} | {costs[model]:.2f} | " + " | ".join(cells) + " |")
    lines += ["", f"| PM run | warm compute s | {head} |", "|---|---|" + "---|" * len(SCORES)]
    for name in sorted((k for k in costs if k.startswith("PM-")), key=costs.get):
        values = " | ".join(f"{scores[name].get(key, float('nan')):.4g}" for key in SCORES)
        lines.append(f"| {name} | {costs[name]:.2f} | {values} |")
    return "\n".join(lines)


# The shipped surrogate's training (``make demo-train``; ``cli/train-cosmology.toml`` is
# written from it by ``python -m surrogates.studies.configs``).
TRAIN_HEADER = """\
Cosmology emulator (the cosmology study's surrogate): PM displacement from the 2LPT
displacement, learned as a residual on 2LPT, conditioned on Omega_m, with a
valid-convolution vnet that tiles exactly. `make demo-train` runs it; the artifact it
produced is shipped in pretrained/cosmology/ (with this configuration, the training log and
the metrics) and is the one `make demo` rolls out.

  surrogates generate datasets/cosmo-pm-train --out runs/cosmology/train.nc   # 64 boxes
  surrogates train cli/train-cosmology.toml          # -> runs/cosmology/surrogate.pt
  surrogates train cli/train-cosmology.toml --resume # continue a killed run

Why 2LPT: on large scales 2LPT is already within 1e-3 of PM in r(k); a residual on it
leaves the network only the small-scale, non-perturbative part. The vnet (width 16, 2
levels, halo 21) sees 74^3 windows (32^3 core + 21 per side, wrapped periodically). It
sees centred differences of the displacement, not its values (`differences = true`): the
PM correction cannot depend on a uniform shift of all particles, which a 128 Mpc/h
training box bounds and a 512 Mpc/h box exceeds. Run time: pretrained/cosmology/README.md
(45 minutes on the shared 2-core CPU; precision "32-true" keeps it reproducible)."""


def train_config(s: Settings | None = None) -> dict[str, Any]:
    """The ``surrogates train`` run configuration of the shipped surrogate.

    The large-box settings ``s`` do not change it: the surrogate is trained once, on the
    64 boxes of ``datasets/cosmo-pm-train``, and rolled out on any large box.
    """
    axes = "xyz"
    return {
        "data": {"path": "runs/cosmology/train.nc"},
        "task": {
            "inputs": [f"disp_2lpt_{a}" for a in axes],
            "targets": [f"disp_{a}" for a in axes],
            "params": ["Omega_m"],
            "residual": True,
        },
        "model": {"name": "vnet", "width": 16, "levels": 2, "blocks": 1, "differences": True},
        "train": {
            "crop": 32,
            "batch_size": 4,
            "max_steps": 1500,
            "lr": 1e-3,
            "weight_decay": 1e-4,
            "schedule": "cosine",
            "warmup_steps": 50,
            "clip": 1.0,
            "loss": "mse",
            "symmetries": True,
            "val_fraction": 0.1,
            "val_every": 250,
            "checkpoint_every": 250,
            "precision": "32-true",
            "seed": 0,
            "out_dir": "runs/cosmology",
        },  # fmt: skip
    }

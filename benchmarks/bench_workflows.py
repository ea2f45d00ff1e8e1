"""The three scientific workflows end to end, with their accuracy tables and speedups.

Runs, one after another, each as its own command (so each is timed as a user would see it):

1. cosmology (``make demo``'s commands): the 512 Mpc/h PM box, the tiled rollout of the
   shipped surrogate (``models/cosmology/``) in float32 and bfloat16, the comparison with
   PM and the 2LPT and ZA baselines, and with the same PM run at 2-5 time steps instead of
   10 (the solver at lower cost); the table is the ``Cosmology`` part of the report's
   ``summary.md``. Then the speedup at matched accuracy: every way to the displacements
   timed warm in one process (:func:`compute_costs`), and per score the cheapest PM run
   at least as accurate as the surrogate;
2. turbulence (``workflows/turbulence.py``): ``vnet``, ``fno`` and neuraloperator's FNO
   trained with equal wall-clock budgets, rolled out on a 2x larger box;
3. lift and drag (``workflows/lift_drag.py``): C_D and C_L of every obstacle of a long
   channel from a steady-flow surrogate vs the LBM's steady state, and the LBM's wall time
   to get the drag as right (speedup at matched accuracy).

Prints Markdown (each workflow's ``results.md``). Outputs go to ``runs/bench/<workflow>``.

Usage::

    .venv/bin/python benchmarks/bench_workflows.py [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from timing import best_time

from surrogates.diagnostics import cheapest_matching

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "bench"
PM_STEPS = (2, 3, 4, 5)  # FastPM time steps of the cheaper solver runs (the truth has 10)
SURROGATES = [sys.executable, "-m", "surrogates"]


def _run(command: list[str]) -> float:
    """Run a command from the repository root (output shown); return its wall time."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
    return time.perf_counter() - start


def compute_costs(large: str, sets: list[str], tile: int, repeats: int = 3) -> dict[str, float]:
    """Warm seconds of each way to the z = 0 displacements, in this process.

    No Python start-up and no file I/O; best of ``repeats`` calls after an untimed one
    (numba and oneDNN set up). The surrogate's cost is the 2LPT initial conditions plus the
    in-memory tiled rollout (``tile`` as in the demo); a PM run's includes its own 2LPT
    initial conditions and the force mesh at every step.
    """
    import dataclasses

    import xarray as xr

    from surrogates.artifact import load
    from surrogates.rollout import rollout
    from surrogates.solvers.pm import ic
    from surrogates.solvers.pm.solver import lpt_fields, run
    from surrogates.solvers.recipe import load_recipe, sample_configs

    config, seed = sample_configs(load_recipe(ROOT / "datasets/cosmo-pm-large", sets))[0]
    ics = best_time(lambda: lpt_fields(config, ic.white_noise(config.n, seed)), repeats)
    noise = ic.white_noise(config.n, seed)
    seconds = {}
    for k in (*PM_STEPS, 10):
        steps = dataclasses.replace(config, steps=k)
        name = "PM (truth)" if k == 10 else f"PM-{k}-steps"
        seconds[name] = best_time(lambda c=steps: run(c, noise), repeats)
    surrogate = load(ROOT / "models/cosmology/surrogate.pt")
    state = xr.open_dataset(large)[[*surrogate.task.inputs, *surrogate.task.params]].load()
    for name, precision in (("surrogate", "32-true"), ("surrogate-bf16", "bf16-mixed")):
        seconds[name] = ics + best_time(
            lambda p=precision: rollout(surrogate, state, tile=tile, progress=False, precision=p),
            repeats,
        )
    return seconds


# Summary scores (surrogates.report.cosmology_scores) of the matched-accuracy table: their
# headings, and their error (smaller is better).
SCORES = {
    "max_T_error": ("max abs(1 − T), k ≤ k½", lambda x: x),
    "min_r": ("min r, k ≤ k½", lambda x: 1.0 - x),
    "halo_ratio": ("halos / PM's", lambda x: abs(1.0 - x)),
}


def matched_accuracy(scores: dict[str, dict], costs: dict[str, float]) -> list[str]:
    """Markdown: each surrogate against the cheapest PM run at least as accurate, per score."""
    runs = sorted((k for k in costs if k.startswith("PM-")), key=costs.get)
    run_costs = {r: costs[r] for r in runs}
    head = " | ".join(h for h, _ in SCORES.values())
    lines = [f"| model | warm compute s | {head} |", "|---|---|" + "---|" * len(SCORES)]
    for model in (m for m in costs if m.startswith("surrogate")):
        cells = []
        for key, (_, error) in SCORES.items():
            mine = scores[model][key]
            errors = {r: error(scores[r][key]) for r in runs}
            match = cheapest_matching(run_costs, errors, error(mine))
            if match is None:
                cells.append(f"{mine:.4g}: no PM run as accurate")
                continue
            ratio = costs[match] / costs[model]
            cells.append(f"{mine:.4g}: {match} ({costs[match]:.1f} s), **{ratio:.1f}x**")
        lines.append(f"| {model} | {costs[model]:.2f} | " + " | ".join(cells) + " |")
    lines += ["", f"| PM run | warm compute s | {head} |", "|---|---|" + "---|" * len(SCORES)]
    for run in runs:
        values = " | ".join(f"{scores[run][key]:.4g}" for key in SCORES)
        lines.append(f"| {run} | {costs[run]:.2f} | {values} |")
    return lines


def cosmology(quick: bool) -> str:
    import xarray as xr

    from surrogates.report import cosmology_scores

    out = OUT / "cosmology"
    for store in ("emulated.zarr", "emulated-bf16.zarr"):
        shutil.rmtree(out / store, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    large = str(out / "large.nc")
    sets = ["params.n=64", "params.box_size=256.0"] if quick else []
    tile = "32" if quick else "64"  # the demo's tiles

    def generate(path: str, *changes: str) -> float:
        extra = [a for item in [*sets, *changes] for a in ("--set", item)]
        return _run([*SURROGATES, "generate", "datasets/cosmo-pm-large", "--out", path, *extra])

    seconds = {"PM (truth and baselines)": generate(large)}
    # The solver at lower cost: the same FastPM run (same ICs) with fewer time steps
    fewer = {k: str(out / f"pm-{k}-steps.nc") for k in PM_STEPS}
    for k, path in fewer.items():
        seconds[f"PM {k} steps"] = generate(path, f"params.steps={k}")
    for store, precision in (("emulated.zarr", "32-true"), ("emulated-bf16.zarr", "bf16-mixed")):
        seconds[f"tiled rollout {precision}"] = _run(
            [*SURROGATES, "rollout", "models/cosmology/surrogate.pt", large, "--out",
             str(out / store), "--tile", tile, "--memory", "2GB", "--precision", precision]
        )  # fmt: skip
    baselines = ["--baseline", "surrogate-bf16=" + str(out / "emulated-bf16.zarr"),
                 "--baseline", "2LPT=disp_2lpt", "--baseline", "ZA=disp_za"]  # fmt: skip
    for k, path in fewer.items():
        baselines += ["--baseline", f"PM-{k}-steps={path}"]
    seconds["comparison"] = _run(
        [*SURROGATES, "compare", str(out / "emulated.zarr"), large, "--out", str(out / "report"),
         *baselines]
    )  # fmt: skip
    summary = (out / "report" / "summary.md").read_text()
    table = "## Cosmology" + summary.split("## Cosmology", 1)[1].split("## Figures", 1)[0]
    times = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    costs = compute_costs(large, sets, int(tile))
    scores = cosmology_scores(xr.open_dataset(out / "report" / "metrics.nc"))
    note = (
        "PM-k-steps: the truth's FastPM run (same ICs, same 2LPT start at a = 0.1) with k"
        " time steps instead of 10 -- the solver at lower cost. surrogate-bf16: the same"
        " rollout under bfloat16 autocast (`--precision bf16-mixed`)."
    )
    matched = (
        "#### Speedup at matched accuracy\n\nWarm compute seconds in one process (2 threads;"
        " no start-up, no files; best of 3): a surrogate's is the 2LPT ICs plus the in-memory"
        f" tiled rollout (tile {tile}), a PM run's its ICs and k steps. Per score: the"
        " surrogate's value, the cheapest PM run at least as accurate, and its cost over the"
        " surrogate's.\n\n" + "\n".join(matched_accuracy(scores, costs))
    )
    return (
        table.replace("## Cosmology", "### Cosmology", 1).strip()
        + f"\n\n{note}\n\nWall time of each command (start-up and files included): {times}."
        + f"\n\n{matched}"
    )


def _demote(markdown: str, levels: int = 2) -> str:
    """Push Markdown headings down ``levels`` levels (they nest under the page's sections)."""
    return "\n".join("#" * levels + line if line.startswith("#") else line
                     for line in markdown.splitlines())  # fmt: skip


def script(name: str, quick: bool) -> str:
    out = OUT / name.replace("_", "-")
    took = _run([sys.executable, f"workflows/{name}.py", "--out", str(out)]
                + (["--quick"] if quick else []))  # fmt: skip
    body = _demote((out / "results.md").read_text().strip())
    return body + f"\n\nWall time (whole script): {took:.0f} s."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", choices=["cosmology", "turbulence", "lift_drag"])
    args = parser.parse_args(argv)
    sections = []
    for name in ("cosmology", "turbulence", "lift_drag"):
        if args.only and name not in args.only:
            continue
        body = cosmology(args.quick) if name == "cosmology" else script(name, args.quick)
        sections.append(body)
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())

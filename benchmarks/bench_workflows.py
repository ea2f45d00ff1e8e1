"""The three scientific workflows end to end, with their accuracy tables and speedups.

Runs, one after another, each as its own command (so each is timed as a user would see it):

1. cosmology (``make demo``'s commands): the 512 Mpc/h PM box, the tiled rollout of the
   shipped surrogate (``models/cosmology/``), the comparison with PM and the 2LPT and ZA
   baselines, and with the same PM run at 2, 3 and 5 time steps instead of 10 (the solver
   at lower cost: speedup at matched accuracy); the table is the ``Cosmology`` part of the
   report's ``summary.md``;
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

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "bench"
PM_STEPS = (2, 3, 5)  # FastPM time steps of the cheaper solver runs (the truth has 10)
SURROGATES = [sys.executable, "-m", "surrogates"]


def _run(command: list[str]) -> float:
    """Run a command from the repository root (output shown); return its wall time."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
    return time.perf_counter() - start


def cosmology(quick: bool) -> str:
    out = OUT / "cosmology"
    shutil.rmtree(out / "emulated.zarr", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    large = str(out / "large.nc")
    extra = ["--set", "params.n=64", "--set", "params.box_size=256.0"] if quick else []

    def generate(path: str, *changes: str) -> float:
        return _run([*SURROGATES, "generate", "datasets/cosmo-pm-large", "--out", path,
                     *extra, *changes])  # fmt: skip

    seconds = {"PM (truth and baselines)": generate(large)}
    # The solver at lower cost: the same FastPM run (same ICs) with fewer time steps
    fewer = {k: str(out / f"pm-{k}-steps.nc") for k in PM_STEPS}
    for k, path in fewer.items():
        seconds[f"PM {k} steps"] = generate(path, "--set", f"params.steps={k}")
    seconds["tiled rollout"] = _run(
        [*SURROGATES, "rollout", "models/cosmology/surrogate.pt", large,
         "--out", str(out / "emulated.zarr"), "--tile", "32" if quick else "64",
         "--memory", "2GB"]  # the demo's tiles
    )  # fmt: skip
    baselines = ["--baseline", "2LPT=disp_2lpt", "--baseline", "ZA=disp_za"]
    for k, path in fewer.items():
        baselines += ["--baseline", f"PM-{k}-steps={path}"]
    seconds["comparison"] = _run(
        [*SURROGATES, "compare", str(out / "emulated.zarr"), large, "--out", str(out / "report"),
         *baselines]
    )  # fmt: skip
    summary = (out / "report" / "summary.md").read_text()
    table = "## Cosmology" + summary.split("## Cosmology", 1)[1].split("## Figures", 1)[0]
    times = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    note = (
        "PM k steps: the truth's FastPM run (same ICs, same 2LPT start at a = 0.1) with k"
        " time steps instead of 10 -- the solver at lower cost, for the speedup at matched"
        " accuracy. The surrogate's cost is the 2LPT ICs (part of any PM run) plus the tiled"
        " rollout."
    )
    return (
        table.replace("## Cosmology", "### Cosmology", 1).strip()
        + f"\n\n{note}\n\nWall time: {times}."
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

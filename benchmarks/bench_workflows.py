"""The three studies end to end at their full size, with their accuracy tables and speedups.

Each study runs as its own command, ``surrogates study NAME --size full`` (so each is
timed as a user would see it), into ``runs/bench/<study>``:

1. cosmology: the 512 Mpc/h PM box, the tiled rollout of the shipped surrogate
   (``pretrained/cosmology/``) in float32 and bfloat16, the comparison with PM, 2LPT, ZA and
   the same PM run at 2-5 time steps instead of 10 (the solver at lower cost), and the
   speedup at matched accuracy (every way to the displacements timed warm in one process);
2. turbulence: ``vnet``, ``fno`` and neuraloperator's FNO trained with equal wall-clock
   budgets, rolled out on a 2x larger box, beside persistence and the coarse-solver ladder;
3. lift and drag: C_D and C_L of every obstacle of a long channel from a steady-flow
   surrogate vs the LBM's steady state, and the LBM's wall time to get the drag as right.

Prints Markdown (each study's ``results.md``, headings demoted). Usage::

    .venv/bin/python benchmarks/bench_workflows.py [--size quick|laptop|full] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "bench"
STUDIES = ("cosmology", "turbulence", "lift-drag")


def _demote(markdown: str, levels: int = 2) -> str:
    """Push Markdown headings down ``levels`` levels (they nest under the page's sections)."""
    return "\n".join("#" * levels + line if line.startswith("#") else line
                     for line in markdown.splitlines())  # fmt: skip


def study(name: str, size: str) -> str:
    """Run ``surrogates study NAME`` (output shown on stderr); its results.md, demoted."""
    out = OUT / name
    command = [sys.executable, "-m", "surrogates", "study", name, "--size", size,
               "--out", str(out)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
    took = time.perf_counter() - start
    body = _demote((out / "results.md").read_text().strip())
    return body + f"\n\nWall time (`{' '.join(command[1:])}`): {took:.0f} s."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="full", choices=["quick", "laptop", "full"])
    parser.add_argument("--quick", action="store_true", help="same as --size quick")
    parser.add_argument("--only", nargs="*", choices=STUDIES)
    args = parser.parse_args(argv)
    size = "quick" if args.quick else args.size
    names = [n for n in STUDIES if not args.only or n in args.only]
    print("\n\n".join(study(name, size) for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())

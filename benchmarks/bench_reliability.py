"""Benchmark of the extra cost of reliability in the tiled rollout (issue 21).

Side by side in one run, best of N: a tiled in-memory rollout of a seeded, untrained 3D
``vnet`` (default width 8, 1 level: ``--width``, ``--levels``) on an N^3 periodic field
(N = 64; ``--quick``: 32), with and without ``reliability=True`` for an attached error
model (an :class:`ErrorNet` of width 16 and 2 valid convolutions, seeded, q = 1). Prints
a Markdown table with the ratio (the issue's goal for the error model: at most 1.3x).
Torch runs on one thread.

    .venv/bin/python benchmarks/bench_reliability.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import xarray as xr
from timing import best_time

import surrogates
from surrogates.reliability import Calibration, ErrorModel, ErrorNet
from surrogates.rollout import rollout


def _setup(n: int, width: int, levels: int):
    """The state, and a vnet fitted for one step on it (its weights do not change the
    cost) with an error model attached."""
    rng = np.random.default_rng(0)
    axes = ("x", "y", "z")
    data = {f: (axes, rng.normal(size=(n,) * 3).astype(np.float32)) for f in ("u", "v")}
    coords = {a: (np.arange(n) + 0.5) * 0.5 for a in axes}
    attrs = {f"boundary_{a}": "periodic" for a in axes} | {"source": "bench"}
    state = xr.Dataset(data, coords, attrs)
    task = surrogates.Task(inputs=["u", "v"], targets=["u", "v"])
    surrogate = surrogates.fit(
        state.expand_dims(sample=2), task, "vnet", crop=16, max_steps=1, batch_size=1,
        val_fraction=0.0, progress=False, model_config={"width": width, "levels": levels},
    )  # fmt: skip
    torch.manual_seed(1)
    net = ErrorNet(3, 4, 2, width=16, convs=2).eval()
    cal = Calibration(0.9, "cell", None, tuple(surrogate.task.targets), 100, ((1.0, 1.0),))
    surrogate.reliability = ErrorModel(net, cal, {})
    return surrogate, state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32^3 instead of 64^3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=8, help="vnet width")
    parser.add_argument("--levels", type=int, default=1, help="vnet levels")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n = 32 if args.quick else 64
    tile = n // 2
    surrogate, state = _setup(n, args.width, args.levels)

    def run(reliability: bool):
        return lambda: rollout(surrogate, state, tile=tile, progress=False,
                               reliability=reliability)  # fmt: skip

    plain = best_time(run(False), args.repeats)
    rel = best_time(run(True), args.repeats)
    what = f"vnet width {args.width}, {args.levels} level(s)"
    print(f"tiled rollout, {n}^3, tile {tile}, {what} (1 thread), best of {args.repeats}\n")
    print("| rollout | seconds | ratio |\n|---|---|---|")
    print(f"| plain | {plain:.3f} | 1.00 |")
    print(f"| reliability=True (error model) | {rel:.3f} | {rel / plain:.2f} |")
    print(f"\ngoal: ratio <= 1.3 ({'met' if rel / plain <= 1.3 else 'not met'})")


if __name__ == "__main__":
    main()

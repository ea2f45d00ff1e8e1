"""Lattice Boltzmann throughput: million lattice updates per second (MLUPS) of the
``lbm`` solver for D2Q9 and D3Q19, float64 and float32, on 1 and 2 numba threads.

Each case is a channel with an inlet, a pressure outlet, walls and a cylinder (the
Schafer-Turek layout), timed over whole solver steps (ghost refill, the fused
stream-collide sweep, the open-boundary kernels) after a warm-up that compiles the
kernels. MLUPS counts every interior cell (fluid or solid) per step, per second of wall
time; "MLUPS per CPU-s" divides by the process's CPU time instead, which stays meaningful
when other jobs share the cores (n threads on n idle cores reach about n times it).

    .venv/bin/python benchmarks/bench_fluids_lbm.py [--quick]

Threads that wait at the end of a parallel sweep sleep instead of spinning
(``OMP_WAIT_POLICY=PASSIVE``, set below unless already set): on a shared, oversubscribed
machine spinning threads take the core their partner needs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402

from surrogates.solvers.lbm import Config, Simulation  # noqa: E402

CASES = {
    # name: (lattice, shape, size, boundary, obstacle centre)
    "D2Q9": ("D2Q9", (880, 164), (2.2, 0.41), ("open", "wall"), (0.2, 0.2)),
    "D3Q19": ("D3Q19", (160, 48, 48), (1.0, 0.3, 0.3), ("open", "wall", "wall"), (0.2, 0.15, 0.15)),
}


def _config(name: str, quick: bool, dtype: str) -> Config:
    lattice, shape, size, boundary, centre = CASES[name]
    if quick:  # half the cells along x
        shape = (shape[0] // 2,) + shape[1:]
        size = (size[0] / 2,) + size[1:]
    return Config(
        lattice=lattice,
        shape=shape,
        size=size,
        boundary=boundary,
        obstacle_center=centre,
        obstacle_size=(0.1,),
        compute_dtype=dtype,
        reynolds=100.0,
    )


def _time(sim: Simulation, seconds: float) -> tuple[int, float, float]:
    """Steps taken, their wall time and the process's CPU time, repeating until
    ``seconds`` of wall time have passed."""
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        sim.step(10)
        steps += 10
    return steps, time.perf_counter() - start, time.process_time() - cpu


def run(quick: bool = False) -> list[dict]:
    """Measure every case; one dict per (lattice, dtype, threads)."""
    seconds = 1.0 if quick else 4.0
    rows = []
    threads = [t for t in (1, 2) if t <= numba.config.NUMBA_NUM_THREADS]
    for name in CASES:
        for dtype in ("float64", "float32"):
            sim = Simulation(_config(name, quick, dtype))
            sim.step(2)  # compile
            cells = int(sim.domain.solid.size)
            for n in threads:
                numba.set_num_threads(n)
                steps, wall, cpu = _time(sim, seconds)
                rows.append(
                    {
                        "lattice": name,
                        "grid": "x".join(map(str, sim.config.shape)),
                        "dtype": dtype,
                        "threads": n,
                        "steps": steps,
                        "seconds": round(wall, 3),
                        "MLUPS": round(cells * steps / wall / 1e6, 1),
                        "MLUPS per CPU-s": round(cells * steps / cpu / 1e6, 1),
                    }
                )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return rows


def _markdown(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids, shorter timing")
    args = parser.parse_args()
    print(_markdown(run(quick=args.quick)))

"""Spectral Navier-Stokes benchmark: solver steps per second and the Re = 1600 Taylor-Green
dissipation peak (van Rees et al. 2011) at 128^3.

Usage::

    .venv/bin/python benchmarks/bench_fluids_ns.py [--quick]

``--quick`` times a few steps at 64^3 and 128^3 (about 20 s on 2 cores); the full run also
integrates the Re = 1600 Taylor-Green vortex to t = 10 on a 128^3 grid with the 2/3 rule
(float64) and with phase-shift dealiasing (float32, cfl 0.9), and at 192^3 with the 2/3
rule (float32), and reports the dissipation peaks against the reference 1.286e-2 at
t = 8.97 (about 50 minutes on an idle 2-core machine).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from surrogates.ops.fft import fft_workers
from surrogates.solvers.ns import (
    Grid,
    System,
    dissipation_peak,
    simulate_diagnostics,
    taylor_green,
    taylor_green_1600,
)

REFERENCE_PEAK = 1.286e-2  # van Rees et al. 2011, spectral DNS, eps_max = -dE/dt
REFERENCE_TIME = 8.97


def steps_per_second(
    n: int, dtype: str, steps: int, repeats: int = 3, dealiasing: str = "two-thirds"
) -> float:
    """Median over ``repeats`` of the rate of full IF-RK4 steps (4 right-hand sides each)."""
    grid = Grid(n, 2 * math.pi, dtype, dealiasing)
    system = System(grid, nu=1 / 1600)
    uk = taylor_green(grid)
    k1, _ = system.tendency(uk, 0.0)
    uk = system.step(uk, k1, 1e-3, 0.0)  # warm-up: plans, caches, page faults
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            k1, _ = system.tendency(uk, 0.0)
            uk = system.step(uk, k1, 1e-3, 0.0)
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def peak_run(
    n: int, dtype: str = "float64", dealiasing: str = "two-thirds", cfl: float = 1.0
) -> tuple[float, float, float]:
    """Peak of eps(t) (parabola through the frames every 0.1 around the maximum), its time,
    and the wall time of the run."""
    config = taylor_green_1600(n, dtype, dealiasing, cfl)
    start = time.perf_counter()
    ds = simulate_diagnostics(config)
    wall = time.perf_counter() - start
    return (*dissipation_peak(ds), wall)


def run(quick: bool) -> list[dict]:
    """Benchmark rows ``{benchmark, case, metric, value, note}``."""
    rows = []
    sizes = ((64, 5), (128, 2)) if quick else ((64, 20), (128, 5))
    variants = (("float64", "two-thirds"), ("float32", "two-thirds"), ("float32", "phase-shift"))
    for n, steps in sizes:
        rates = {v: steps_per_second(n, v[0], steps, dealiasing=v[1]) for v in variants}
        for (dtype, rule), rate in rates.items():
            ffts = 36 if rule == "two-thirds" else 72
            note = f"{fft_workers()} FFT threads; 4 RHS = {ffts} FFTs of {n}^3 per step"
            if (dtype, rule) != variants[0]:
                note += f"; {rate / rates[variants[0]]:.2f}x float64 2/3 rule"
            rows.append(
                {
                    "benchmark": "spectral NS",
                    "case": f"{n}^3 {dtype} {rule}",
                    "metric": "steps/s",
                    "value": rate,
                    "note": note,
                }
            )
    if not quick:
        runs = (
            (128, "float64", "two-thirds", 1.0),
            (128, "float32", "phase-shift", 0.9),
            (192, "float32", "two-thirds", 1.0),
        )
        for n, dtype, rule, cfl in runs:
            peak, when, wall = peak_run(n, dtype, rule, cfl)
            case = f"TG Re=1600 {n}^3 {dtype} {rule}"
            error = peak / REFERENCE_PEAK - 1
            rows.append(
                {
                    "benchmark": "spectral NS",
                    "case": case,
                    "metric": "eps_max",
                    "value": peak,
                    "note": f"ref {REFERENCE_PEAK} ({error:+.1%}); wall {wall:.0f} s",
                }
            )
            rows.append(
                {
                    "benchmark": "spectral NS",
                    "case": case,
                    "metric": "t(eps_max)",
                    "value": when,
                    "note": f"ref {REFERENCE_TIME}",
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    """Rows as a Markdown table."""
    lines = ["| benchmark | case | metric | value | note |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['benchmark']} | {r['case']} | {r['metric']} | {r['value']:.4g} | {r['note']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="timings only, few steps")
    print(markdown(run(parser.parse_args().quick)))

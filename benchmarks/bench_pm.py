"""Benchmark of the particle-mesh solver (surrogates.solvers.pm): wall time, particle
updates per second and peak memory for 64³ and 128³ particles (mesh factor 2, 10 steps).

Each size runs in a fresh subprocess (after a tiny warm-up run that loads the numba cache),
so the peak resident memory (getrusage) belongs to that size alone. Prints a Markdown table.

    .venv/bin/python benchmarks/bench_pm.py [--quick] [--sizes 64 128] [--steps 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time


def child(n: int, steps: int, mesh_factor: int) -> dict:
    """Run one realisation of ``n³`` particles; timings of its stages and peak RSS."""
    import numba

    from surrogates.ops import fft
    from surrogates.solvers.pm import Config, ic, solver

    solver.run(Config(n=8, box_size=32.0, steps=1), ic.white_noise(8, 0))  # warm-up / JIT
    config = Config(n=n, box_size=4.0 * n, steps=steps, mesh_factor=mesh_factor)
    times = []
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    noise = ic.white_noise(n, 0)
    solver.run(config, noise, progress=lambda done, total: times.append(time.perf_counter()))
    t1 = time.perf_counter()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    first_step = times[0]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "n": n,
        "mesh": n * mesh_factor,
        "steps": steps,
        "total_s": t1 - t0,
        "cpu_s": cpu,  # user + system CPU time of all threads
        "steps_s": times[-1] - first_step,  # steps 2..last (step 1 also holds the first force)
        "setup_s": first_step - t0,  # noise, P(k), ZA + 2LPT, first force, first step
        "peak_mib": peak_kib / 1024.0,
        "threads": numba.get_num_threads(),
        "fft_workers": fft.fft_workers(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32³ and 64³ only")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--mesh-factor", type=int, default=2)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.steps, args.mesh_factor)))
        return
    sizes = args.sizes or ([32, 64] if args.quick else [64, 128])
    rows = []
    for n in sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--steps", str(args.steps),
               "--mesh-factor", str(args.mesh_factor)]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    print(f"PM benchmark on {platform.node()} ({os.cpu_count()} cores, load average {load:.1f}, "
          f"{rows[0]['threads']} numba threads, {rows[0]['fft_workers']} FFT workers)\n"
          "particle-updates / s = particles x steps / wall time; CPU = user + system time of "
          "all threads (less sensitive to other load on a shared machine)\n")  # fmt: skip
    print("| particles | force mesh | steps | wall (s) | CPU (s) | ICs + first step (s) | "
          "other steps (s) | s / step | particle-updates / s | peak RSS (MiB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        later = max(r["steps"] - 1, 1)
        per_step = r["steps_s"] / later
        updates = r["n"] ** 3 * r["steps"] / r["total_s"]
        print(f"| {r['n']}³ | {r['mesh']}³ | {r['steps']} | {r['total_s']:.2f} | "
              f"{r['cpu_s']:.1f} | {r['setup_s']:.2f} | {r['steps_s']:.2f} | {per_step:.2f} | "
              f"{updates:.3g} | {r['peak_mib']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()

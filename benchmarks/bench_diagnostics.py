"""Benchmark of the cosmology diagnostics: power spectrum P(k) of 256³ and 512³ float32
fields, and periodic friends-of-friends on 128³ and 256³ clustered mock particles.

Each case runs in a fresh subprocess (after a tiny warm-up that loads the numba cache), so
its peak resident memory (getrusage) is its own; "inputs RSS" is the resident memory once
the inputs exist, before the timed call. The FoF mock is a lattice with Gaussian
displacements (0.2 spacing) where 30% of the particles sit in planted clusters with
power-law sizes (20 to 20000 members) and concentrated profiles. O(N log N) predicts a
per-particle time ratio of log(N2)/log(N1) ~ 1.14 between the two FoF sizes. CPU time
(process time, all threads) is reported beside wall time because the machine may be shared.

    .venv/bin/python benchmarks/bench_diagnostics.py [--quick]
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

import numpy as np


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_power(n: int) -> dict:
    from surrogates.diagnostics import power_spectrum

    power_spectrum(np.zeros((8, 8, 8), np.float32), 1.0, scheme="cic")  # warm-up
    field = np.random.default_rng(0).standard_normal((n, n, n), dtype=np.float32)
    inputs = _rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    ds = power_spectrum(field, 1000.0, scheme="cic")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"n": n, "time_s": elapsed, "cpu_s": cpu, "bins": ds.sizes["k"],
            "inputs_mib": inputs, "peak_mib": _peak_mib()}  # fmt: skip


def mock_positions(n: int, seed: int = 0) -> np.ndarray:
    """Clustered mock: perturbed lattice, 30% of particles moved into planted clusters."""
    from surrogates.ops.mesh import lattice

    rng = np.random.default_rng(seed)
    box, count = float(n), n**3
    pos = lattice(n, box) + rng.normal(scale=0.2, size=(count, 3))
    sizes = np.minimum(20 * (1 - rng.uniform(size=count // 20)) ** -1.0, 20000).astype(int)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), 0.3 * count)]
    members = rng.permutation(count)[: sizes.sum()]
    owner = np.repeat(np.arange(sizes.size), sizes)
    radius = 0.15 * sizes[owner] ** (1 / 3) * rng.uniform(size=owner.size) ** 2
    direction = rng.normal(size=(owner.size, 3))
    direction *= (radius / np.linalg.norm(direction, axis=1))[:, None]
    pos[members] = rng.uniform(0, box, size=(sizes.size, 3))[owner] + direction
    return np.mod(pos, box)


def child_fof(n: int) -> dict:
    from surrogates.diagnostics import fof_halos

    fof_halos(np.random.default_rng(1).uniform(size=(500, 3)), 1.0)  # warm-up
    pos = mock_positions(n)
    inputs = _rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    cat = fof_halos(pos, float(n), linking_length=0.2, min_members=20)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"n": n, "time_s": elapsed, "cpu_s": cpu, "halos": len(cat),
            "in_halos": int((cat.labels >= 0).sum()), "inputs_mib": inputs,
            "peak_mib": _peak_mib()}  # fmt: skip


def _run(kind: str, n: int) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, str(n)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="P(k) 64³, 128³; FoF 32³, 64³")
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        kind, n = args.child[0], int(args.child[1])
        print(json.dumps(child_power(n) if kind == "power" else child_fof(n)))
        return
    pk_sizes, fof_sizes = ([64, 128], [32, 64]) if args.quick else ([256, 512], [128, 256])
    from surrogates.ops.fft import fft_workers

    print(f"Diagnostics benchmark on {platform.node()} ({os.cpu_count()} cores, "
          f"{fft_workers()} FFT workers; shared machine, timings are noisy)\n")  # fmt: skip
    print("| power_spectrum (float32, CIC-compensated) | wall (s) | CPU (s) | ns / cell (wall) "
          "| bins | inputs RSS (MiB) | peak RSS (MiB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for n in pk_sizes:
        r = _run("power", n)
        print(f"| {n}³ | {r['time_s']:.2f} | {r['cpu_s']:.2f} | {1e9 * r['time_s'] / n**3:.1f} | "
              f"{r['bins']} | {r['inputs_mib']:.0f} | {r['peak_mib']:.0f} |")  # fmt: skip
    print("\n| fof_halos (b = 0.2) | particles | wall (s) | CPU (s) | CPU µs / particle | "
          "ratio to first | N log N ratio | halos | in halos | inputs RSS (MiB) | "
          "peak RSS (MiB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    first = None
    for n in fof_sizes:
        r = _run("fof", n)
        count = n**3
        per = r["cpu_s"] / count
        first = first or (per, count)
        predicted = np.log(count) / np.log(first[1])
        print(f"| {n}³ | {count} | {r['time_s']:.2f} | {r['cpu_s']:.2f} | {1e6 * per:.2f} | "
              f"{per / first[0]:.2f} | {predicted:.2f} | {r['halos']} | {r['in_halos']} | "
              f"{r['inputs_mib']:.0f} | {r['peak_mib']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()

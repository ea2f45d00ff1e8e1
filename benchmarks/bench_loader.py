"""Benchmark of the training-sample loader (surrogates.data.CubeDataset).

For a periodic N³ dataset with 3 fields (``velocity_x|y|z``, float32) written as netCDF-4
(contiguous), PDEBench-style HDF5 (contiguous) and zarr v3 (64³ chunks, the
``surrogates.io.to_zarr`` default), it measures side by side:

- crops per second for 32³ and 64³ crops (random position and cube symmetry, one
  process, no worker processes), read through ``surrogates.io.open_dataset``;
- resident memory after the imports, after opening, and the peak while sampling; each
  (format, crop) runs in its own subprocess so its peak RSS (getrusage) is its own;
- the samples/s of one training step of a small 3D conv net (3 Conv3d layers of width
  32, batch 4, AdamW) on the same crops, and the loader / training ratio (target >= 5).

Default N = 256 with 2 samples x 4 times (1.5 GiB per file); ``--quick``: N = 128 with
2 x 2 frames (96 MiB per file). Files go to a temporary folder removed at the end.
Prints a Markdown table. Timings are noisy on a shared machine.

    .venv/bin/python benchmarks/bench_loader.py [--quick] [--size 256] [--frames 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

FIELDS = ("velocity_x", "velocity_y", "velocity_z")
FORMATS = ("netcdf", "hdf5", "zarr")


def rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def synthetic(n: int, samples: int, times: int):
    """Lazy (dask) canonical dataset: 3 float32 fields, one chunk per frame."""
    import dask.array
    import numpy as np
    import xarray as xr

    rng = dask.array.random.default_rng(0)
    shape, chunks = (samples, times, n, n, n), (1, 1, n, n, n)
    fields = {
        name: (
            ("sample", "time", "x", "y", "z"),
            rng.standard_normal(shape, chunks=chunks, dtype=np.float32),
        )
        for name in FIELDS
    }
    coords = {ax: np.arange(n) + 0.5 for ax in "xyz"}
    coords["time"] = np.arange(times, dtype=np.float64)
    attrs = {f"boundary_{ax}": "periodic" for ax in "xyz"}
    attrs.update(source="bench_loader synthetic", source_format="synthetic")
    return xr.Dataset(fields, coords, attrs)


def write_files(folder: pathlib.Path, n: int, samples: int, times: int) -> dict[str, pathlib.Path]:
    """The same data in the three formats."""
    import h5py
    import numpy as np

    import surrogates.io

    ds = synthetic(n, samples, times)
    paths = {
        "netcdf": folder / "cube.nc",
        "zarr": folder / "cube.zarr",
        "hdf5": folder / "cube_periodic.h5",
    }
    surrogates.io.to_netcdf(ds, paths["netcdf"])
    surrogates.io.to_zarr(ds, paths["zarr"])
    with h5py.File(paths["hdf5"], "w") as f:  # PDEBench CFD layout: Vx, Vy, Vz [N, T, X, Y, Z]
        for name, key in zip(FIELDS, ("Vx", "Vy", "Vz"), strict=True):
            dset = f.create_dataset(key, shape=ds[name].shape, dtype="f4")
            for s in range(samples):
                for t in range(times):
                    dset[s, t] = ds[name].data[s, t].compute()
        for ax in "xyz":
            f[f"{ax}-coordinate"] = np.arange(n) + 0.5
        f["t-coordinate"] = np.arange(times + 1, dtype=np.float64)  # PDEBench stores T + 1
    return paths


def size_on_disk(path: pathlib.Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def measure_loader(path: str, crop: int, seconds: float) -> dict:
    """Child process: open, sample crops for about ``seconds``; crops/s and memory."""
    import surrogates.io
    from surrogates.data import CubeDataset, Task
    from surrogates.data.hyperslab import _direct_source

    rss_import = rss_mib()
    t0 = time.perf_counter()
    ds = surrogates.io.open_dataset(path, boundary="periodic")
    open_s = time.perf_counter() - t0
    rss_open, peak_open = rss_mib(), peak_mib()
    task = Task(inputs=FIELDS, targets=FIELDS)
    data = CubeDataset(ds, task, crop=crop, symmetries=True, length=10**9, seed=0)
    data[0]  # warm-up (file handles, caches)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or count < 5:
        item = data[count + 1]
        assert item["input"].shape == (3, crop, crop, crop)
        count += 1
    rate = count / (time.perf_counter() - t0)
    direct = _direct_source(ds[FIELDS[0]].data) is not None
    return {
        "crops_per_s": rate,
        "open_s": open_s,
        "rss_import": rss_import,
        "rss_open": rss_open,
        "peak_open": peak_open,
        "peak": peak_mib(),
        "read": "backend array" if direct else "dask graph",
    }


def measure_training(crop: int, steps: int) -> dict:
    """Child process: samples/s of a training step of a small Conv3d net, batch 4."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv3d(3, 32, 3, padding=1),
        torch.nn.GELU(),
        torch.nn.Conv3d(32, 32, 3, padding=1),
        torch.nn.GELU(),
        torch.nn.Conv3d(32, 3, 3, padding=1),
    )
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.randn(4, 3, crop, crop, crop)
    y = torch.randn(4, 3, crop, crop, crop)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return {
        "samples_per_s": 4 * steps / (time.perf_counter() - t0),
        "threads": torch.get_num_threads(),
    }


def child(kind: str, *args: str) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128³, 2 x 2 frames")
    parser.add_argument("--size", type=int, default=None, help="edge N of the N³ volume")
    parser.add_argument("--frames", type=int, nargs=2, default=None, metavar=("SAMPLES", "TIMES"))
    parser.add_argument("--seconds", type=float, default=None, help="sampling time per case")
    parser.add_argument("--dir", default=None, help="where to write the files (temporary)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "loader":
            print(json.dumps(measure_loader(rest[0], int(rest[1]), float(rest[2]))))
        else:
            print(json.dumps(measure_training(int(rest[0]), int(rest[1]))))
        return
    n = args.size or (128 if args.quick else 256)
    samples, times = args.frames or ((2, 2) if args.quick else (2, 4))
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="bench_loader_", dir=args.dir))
    try:
        t0 = time.perf_counter()
        paths = write_files(folder, n, samples, times)
        write_s = time.perf_counter() - t0
        train = {c: child("train", str(c), "3" if c == 32 else "2") for c in (32, 64)}
        rows = [
            (fmt, c, child("loader", str(paths[fmt]), str(c), str(seconds)))
            for fmt in FORMATS
            for c in (32, 64)
        ]
        sizes = {fmt: size_on_disk(p) for fmt, p in paths.items()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(n, samples, times, write_s, sizes, train, rows)


def report(n, samples, times, write_s, sizes, train, rows) -> None:
    print(f"# Loader benchmark: {n}³ x 3 fields float32, {samples} samples x {times} times\n")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared),"
        f" files written in {write_s:.0f} s; opened with surrogates.io.open_dataset\n"
    )
    print(
        "| format | file MiB | crop | crops/s | train samples/s | loader/train | open s"
        " | RSS import MiB | RSS open MiB | peak MiB | read path |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for fmt, c, r in rows:
        t = train[c]["samples_per_s"]
        print(
            f"| {fmt} | {sizes[fmt]:.0f} | {c}³ | {r['crops_per_s']:.1f} | {t:.2f} |"
            f" {r['crops_per_s'] / t:.1f}x | {r['open_s']:.2f} | {r['rss_import']:.0f} |"
            f" {r['rss_open']:.0f} | {r['peak']:.0f} | {r['read']} |"
        )
    print(
        f"\nTraining: 3 Conv3d layers (width 32), batch 4, AdamW, torch threads"
        f" {train[32]['threads']}. Crops: random position + cube symmetry, one process."
    )


if __name__ == "__main__":
    main()

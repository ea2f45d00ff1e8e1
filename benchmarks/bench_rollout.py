"""Benchmark of the tiled rollout engine (surrogates.rollout, issue 6).

Side by side in one run, on 3-field periodic cubes (smooth Gaussian random fields,
P(k) ~ k^-3) and untrained, seeded networks of the default size (``vnet``: width 16,
2 levels, halo 20, alignment 4; ``fno``: 8 modes, width 32, 4 layers, overlap 8):

1. Tiled vs whole-domain time for ``vnet`` and ``fno`` on N^3 (N = 128) under a budget that
   forces several tiles, with the ideal halo-overhead ratio ``((t + 2h) / t)^3`` and the
   model-FLOP ratio beside it, and the seam error against whole-domain evaluation
   (``fno`` blends overlapping tiles; ``vnet`` must agree to round-off).
2. Cells per second and achieved GFLOP/s (model FLOPs counted by
   ``torch.utils.flop_counter`` on fake tensors, FFTs not included) against this
   machine's float32 matmul rate measured in the same run.
3. The target: tiled ``vnet`` at 2N^3 under a 4 GB budget within 1.5x of whole-domain time.
4. Peak memory of out-of-core rollouts (zarr store in and out) at N^3 and (2N)^3 under the
   same budget, with glibc's default allocator settings and with a fixed mmap threshold.
5. ``local`` (one process, 2 torch threads) vs ``dask`` (LocalCluster, 2 worker processes
   x 1 thread) throughput on the same out-of-core rollout.
6. Layout and precision of one window through ``Surrogate.apply``: the weights and window
   in the default (contiguous) layout, channels-last (apply's CPU default)
   and bfloat16 autocast (``precision="bf16-mixed"``), with each one's relative L2
   difference from the first.

Every measured run is its own subprocess, so its peak RSS (getrusage) is its own.
``--quick``: N = 64 and budgets scaled down (a few minutes). Timings are noisy on a
shared machine.

    .venv/bin/python benchmarks/bench_rollout.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("u", "v", "w")
MODELS = {"vnet": {}, "fno": {}}  # registry defaults (see the module docstring)


def build(name: str):
    """Seeded, untrained map surrogate ``u, v, w -> u_out, v_out, w_out`` (3D, periodic)."""
    import torch

    from surrogates.artifact import GridInfo, Surrogate, SurrogateMetadata
    from surrogates.data import PadSpec, Task
    from surrogates.models import build as build_model

    torch.manual_seed(0)
    model = build_model(name, 3, 3, ndim=3, **MODELS[name])
    axes = ("x", "y", "z")
    meta = SurrogateMetadata(
        task=Task(inputs=FIELDS, targets=tuple(f"{f}_out" for f in FIELDS)),
        model=model.spec, normalizer=None, residual=None,
        grid=GridInfo(axes, (1.0,) * 3, ("periodic",) * 3, (64,) * 3, None),
        pad_spec=PadSpec(axes, ("periodic",) * 3), context=(0, 0, 0),
        halo=int(model.halo), alignment=int(model.alignment),
        exact_tiling=bool(type(model).exact_tiling),
    )  # fmt: skip
    return Surrogate(model, meta)


def smooth_state(n: int, seed: int = 0):
    """Canonical dataset of 3 Gaussian random fields with P(k) ~ k^-3, unit variance."""
    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(seed)
    k = np.fft.fftfreq(n) * n
    kz = np.fft.rfftfreq(n) * n
    k2 = k[:, None, None] ** 2 + k[None, :, None] ** 2 + kz[None, None, :] ** 2
    k2[0, 0, 0] = np.inf  # no mean
    amp = k2 ** (-3 / 4)
    data = {}
    for name in FIELDS:
        noise = np.fft.rfftn(rng.standard_normal((n, n, n)))
        field = np.fft.irfftn(noise * amp, s=(n, n, n), axes=(0, 1, 2))
        data[name] = (("x", "y", "z"), (field / field.std()).astype(np.float32))
    coords = {a: np.arange(n) + 0.5 for a in ("x", "y", "z")}
    attrs = {f"boundary_{a}": "periodic" for a in coords} | {
        "source": f"smooth-{n}", "source_format": "benchmark"}  # fmt: skip
    return xr.Dataset(data, coords, attrs)


def count_flops(surrogate, plan) -> float:
    """Model FLOPs of a plan: one meta-device forward per window size, times the windows."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils.flop_counter import FlopCounterMode

    from surrogates.models import build as build_model

    spec = dict(surrogate.model.spec)
    with FakeTensorMode():
        fake = type(surrogate)(build_model(spec.pop("name"), **spec), surrogate.metadata)
        with FlopCounterMode(display=False) as counter:
            fake.apply(torch.empty((1, 3, *plan.tiles.window)))
    return float(counter.get_total_flops()) * len(plan.tiles)


def child(config: dict) -> dict:
    """One measured rollout in this (fresh) process; returns times, plan and peak memory."""
    import numpy as np
    import torch
    import xarray as xr

    from surrogates.io import open_dataset
    from surrogates.rollout import plan_rollout, rollout
    from surrogates.rollout.memory import source_chunks

    surrogate = build(config["model"])
    if config.get("state"):
        state = open_dataset(config["state"])
    else:
        state = smooth_state(config["n"])
    base = _rss()  # resident set before the rollout (the peak below is its high-water mark)
    sources = source_chunks(state, FIELDS, ("x", "y", "z"))
    plan = plan_rollout(surrogate, (config["n"],) * 3, tile=config.get("tile"),
                        memory=config["memory"], device=torch.device("cpu"),
                        sources=sources)  # fmt: skip
    kwargs = dict(tile=config.get("tile"), memory=config["memory"], progress=False)
    if config.get("store"):
        kwargs["store"] = config["store"]
    client = None
    if config.get("backend") == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
        kwargs |= {"backend": "dask", "scheduler": client}
        warm = Path(config["store"]).with_suffix(".warm.zarr")  # workers import torch & co.
        rollout(surrogate, smooth_state(48), store=warm, backend="dask", scheduler=client,
                tile=8, memory="64GB", progress=False)  # fmt: skip
    start = time.perf_counter()
    out = rollout(surrogate, state, **kwargs)
    seconds = time.perf_counter() - start
    if config.get("save"):
        np.save(config["save"], xr.concat([out[f"{f}_out"] for f in FIELDS], "c").values)
    if client is not None:
        client.close()
        cluster.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "seconds": seconds, "base": base, "peak": peak, "budget": plan.budget,
        "estimate": plan.bytes, "tile": plan.tiles.tile, "tiles": len(plan.tiles),
        "window": plan.tiles.window, "ideal": plan.tiles.ideal_overhead,
        "overhead": plan.tiles.overhead, "batch": plan.batch, "mode": plan.mode,
        "flops": count_flops(surrogate, plan), "cells": config["n"] ** 3,
    }  # fmt: skip


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run(config: dict, malloc_fixed: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if malloc_fixed:
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(config)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"child {config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def seam_error(tiled_path: str, whole_path: str) -> tuple[float, float]:
    import numpy as np

    tiled, whole = np.load(tiled_path), np.load(whole_path)
    diff = tiled - whole
    return (float(np.abs(diff).max() / np.abs(whole).max()),
            float(np.sqrt((diff**2).mean() / (whole**2).mean())))  # fmt: skip


def mb(x: float) -> str:
    return f"{x / 1e6:,.0f}"


def timing_table(n: int, budget: str, peak: float, tmp: Path) -> list[str]:
    lines = [
        f"### Tiled vs whole domain, {n}^3, tiled budget {budget} (in memory)",
        "",
        "| model | run | tiles (core -> window) | batch | time s | tiled/whole time |"
        " ideal halo overhead | FLOP ratio | Mcells/s | GFLOP/s (% of matmul) |"
        " seam error max / rms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in MODELS:
        whole = run({"model": model, "n": n, "tile": n, "memory": "64GB",
                     "save": str(tmp / f"{model}-whole.npy")})  # fmt: skip
        tiled = run({"model": model, "n": n, "memory": budget,
                     "save": str(tmp / f"{model}-tiled.npy")})  # fmt: skip
        err = seam_error(str(tmp / f"{model}-tiled.npy"), str(tmp / f"{model}-whole.npy"))
        for label, r in (("whole", whole), ("tiled", tiled)):
            gflops = r["flops"] / r["seconds"] / 1e9
            ratio = f"{tiled['seconds'] / whole['seconds']:.2f}" if label == "tiled" else ""
            flop_ratio = f"{tiled['flops'] / whole['flops']:.2f}" if label == "tiled" else ""
            seam = f"{err[0]:.1e} / {err[1]:.1e}" if label == "tiled" else ""
            lines.append(
                f"| {model} | {label} | {r['tiles']} x {r['tile'][0]}^3 -> {r['window'][0]}^3 |"
                f" {r['batch']} | {r['seconds']:.1f} | {ratio} | {r['ideal']:.2f} |"
                f" {flop_ratio} | {r['cells'] / r['seconds'] / 1e6:.2f} |"
                f" {gflops:.1f} ({100 * gflops / peak:.0f}%) | {seam} |"
            )
    return lines


def target_table(n: int, budget: str) -> list[str]:
    import psutil

    tiled = run({"model": "vnet", "n": n, "memory": budget})
    lines = [f"### Target: tiled vnet at {n}^3 under {budget} vs whole domain", "",
             "| run | tiles (core -> window) | time s | peak RSS MB (growth) | estimate MB |"
             " time ratio | FLOP ratio |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    from surrogates.rollout.memory import traced_peak

    vnet = build("vnet")
    need = 1.15 * traced_peak(vnet, (n + 2 * vnet.halo,) * 3)  # one whole-domain window
    if psutil.virtual_memory().available < need + 2e9:
        whole = None
        lines.append(f"| whole | skipped: needs ~{need / 1e9:.0f} GB, not available | | | | | |")
    else:
        whole = run({"model": "vnet", "n": n, "tile": n, "memory": "64GB"})
    for label, r in (("whole", whole), ("tiled", tiled)):
        if r is None:
            continue
        ratio = flop = ""
        if label == "tiled" and whole is not None:
            ratio = f"{r['seconds'] / whole['seconds']:.2f}"
            flop = f"{r['flops'] / whole['flops']:.2f}"
        lines.append(
            f"| {label} | {r['tiles']} x {r['tile'][0]}^3 -> {r['window'][0]}^3 |"
            f" {r['seconds']:.1f} | {mb(r['peak'])} ({mb(r['peak'] - r['base'])}) |"
            f" {mb(r['estimate'])} | {ratio} | {flop} |"
        )
    return lines


def memory_table(sizes: tuple[int, int], budget: str, tmp: Path) -> list[str]:
    lines = [f"### Out-of-core peak memory, vnet, budget {budget} (zarr store in and out)", "",
             "| domain | tiles | estimate MB | RSS growth MB, glibc default |"
             " RSS growth MB, fixed mmap threshold | peak RSS MB (default) | time s |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for n in sizes:
        path = tmp / f"state{n}.zarr"
        encoding = {f: {"chunks": (32, 32, 32)} for f in FIELDS}
        smooth_state(n).to_zarr(path, zarr_format=3, consolidated=False, encoding=encoding)
        rows = []
        for fixed in (False, True):
            out = tmp / f"out{n}-{fixed}.zarr"
            rows.append(run({"model": "vnet", "n": n, "memory": budget, "state": str(path),
                             "store": str(out)}, malloc_fixed=fixed))  # fmt: skip
            shutil.rmtree(out, ignore_errors=True)
        a, b = rows
        lines.append(
            f"| {n}^3 | {a['tiles']} x {a['tile'][0]}^3 | {mb(a['estimate'])} |"
            f" {mb(a['peak'] - a['base'])} | {mb(b['peak'] - b['base'])} | {mb(a['peak'])} |"
            f" {a['seconds']:.1f} |"
        )
    return lines


def dask_table(n: int, budget: str, tmp: Path) -> list[str]:
    path = tmp / f"dask-state{n}.zarr"
    encoding = {f: {"chunks": (32, 32, 32)} for f in FIELDS}
    smooth_state(n).to_zarr(path, zarr_format=3, consolidated=False, encoding=encoding)
    lines = [
        f"### local vs dask, vnet {n}^3 out of core, budget {budget}",
        "",
        "| backend | workers | tiles | time s | Mcells/s |",
        "|---|---|---|---|---|",
    ]
    for backend, workers in (("local", "1 process x 2 threads"),
                             ("dask", "2 processes x 1 thread")):  # fmt: skip
        r = run({"model": "vnet", "n": n, "memory": budget, "state": str(path),
                 "store": str(tmp / f"{backend}.zarr"), "backend": backend})  # fmt: skip
        lines.append(f"| {backend} | {workers} | {r['tiles']} | {r['seconds']:.1f} |"
                     f" {r['cells'] / r['seconds'] / 1e6:.2f} |")  # fmt: skip
    return lines


def precision_table(windows: dict[str, int], repeats: int = 3) -> list[str]:
    """Seconds per window of ``apply`` by layout and precision (in this process).

    ``windows`` maps a model of :data:`MODELS`, or ``"cosmology"`` (the shipped
    ``pretrained/cosmology`` surrogate, at Omega_m = 0.3), to its window side.
    """
    import torch

    from surrogates.artifact import load

    lines = [
        "### Layout and precision of one window (`Surrogate.apply`, in process, best of"
        f" {repeats})",
        "",
        "| model | window | arithmetic | layout | s per window | speedup | rel. L2 vs first |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, n in windows.items():
        shipped = model == "cosmology"
        surrogate = load(ROOT / "pretrained/cosmology/surrogate.pt") if shipped else build(model)
        window = torch.randn(1, 3, n, n, n) * (5.0 if shipped else 1.0)  # ~ displacements
        params = torch.tensor([[0.3]]) if shipped else None

        runs = _layout_runs(surrogate, window, params)
        outputs = {key: fn() for key, fn in runs.items()}  # warm-up (and layout change)
        best = {key: min(_timed(fn) for _ in range(repeats)) for key, fn in runs.items()}
        first = next(iter(runs))
        for key, seconds in best.items():
            diff = float((outputs[key] - outputs[first]).norm() / outputs[first].norm())
            lines.append(f"| {model} | {n}^3 | {key[0]} | {key[1]} | {seconds:.3f} |"
                         f" {best[first] / seconds:.2f} | {diff:.1e} |")  # fmt: skip
    return lines


def _layout_runs(surrogate, window, params) -> dict:
    """(arithmetic, layout) -> a call of the surrogate on ``window``."""
    import torch

    plain = copy.deepcopy(surrogate)  # weights kept in the default layout

    @torch.inference_mode()
    def contiguous():  # what Surrogate.apply did before it went channels-last
        x, p = plain.scaling.inputs(window), plain.scaling.params(params)
        return plain.scaling.decode(plain.model(x, p), window)

    return {
        ("float32", "contiguous"): contiguous,
        ("float32", "channels-last"): lambda: surrogate.apply(window, params),
        ("bf16-mixed", "channels-last"): lambda: surrogate.apply(window, params, "bf16-mixed"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 64, small budgets")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--only-precision", action="store_true", help="only table 6 (layout and precision)"
    )
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    n = 64 if args.quick else 128
    windows = ({"vnet": 104, "fno": 64, "cosmology": 106} if not args.quick
               else {"vnet": 72, "fno": 32, "cosmology": 74})  # fmt: skip
    if args.only_precision:
        print("\n".join(precision_table(windows)))
        return
    small = "250MB" if args.quick else "1GB"
    target = "1GB" if args.quick else "4GB"
    peak = matmul_gflops()
    tmp = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    try:
        lines = timing_table(n, small, peak, tmp) + [""]
        lines += target_table(2 * n, target) + [""]
        lines += memory_table((n, 2 * n), small, tmp) + [""]
        lines += dask_table(n, small, tmp) + [""]
        lines += precision_table(windows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    late = matmul_gflops()
    head = (f"float32 matmul (2048^2, torch, {_threads()} threads): {peak:.1f} GFLOP/s at the"
            f" start, {late:.1f} at the end (the % column uses the start value)")  # fmt: skip
    print("\n".join([head, "", *lines]))


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()

"""Forward and training-step cost of the surrogate models on 3D cubes, per sample.

For each model and cube size N (the *output* is N³; vnet reads N + 2·halo cells per axis),
3 input and 3 output channels, batch 2, one fresh subprocess per configuration measures:

- forward time (inference, ``torch.no_grad``) and training-step time (forward, MSE
  backward, Adam step), best of ``--repeats`` after one warm-up, divided by the batch;
- peak memory: the rise of the process's peak RSS over its resident size before the
  first forward, divided by the batch (training includes Adam's state).

Side by side in the same run: the FNO of the ``neuraloperator`` package configured as the
same architecture (same modes, width, layers; lifting/projection MLPs of 2·width; linear
skip; no positional embedding or channel MLP), with its parameter count beside ours.
``neuraloperator`` is a benchmark-only dependency; without it those rows are skipped.

Usage::

    .venv/bin/python benchmarks/bench_models.py [--quick] [--threads N] [--sizes 32 64]

Prints a Markdown table. Takes a few minutes on 2 CPU cores (``--quick``: 32³ only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

from timing import best_time

BATCH, CHANNELS = 2, 3
FNO = {"modes": 8, "width": 32, "layers": 4}
MODELS = {
    "vnet": ("ours", {"name": "vnet"}),
    "unet": ("ours", {"name": "unet"}),
    "fno": ("ours", {"name": "fno", **FNO}),
    "fno (tucker, rank 8)": ("ours", {"name": "fno", **FNO, "factorization": "tucker", "rank": 8}),
    "neuralop FNO": ("neuralop", FNO),
}


def _rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak resident set size of this process so far in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(kind: str, config: dict, size: int):
    """Build (model, input size per axis for an output of ``size``) for one benchmark row."""
    if kind == "ours":
        from surrogates.models import build

        model = build(in_channels=CHANNELS, out_channels=CHANNELS, ndim=3, **config)
        return model, model.input_size(size)
    import warnings

    warnings.filterwarnings("ignore")
    from neuralop.models import FNO as NeuralopFNO

    m = config["modes"]
    # neuraloperator counts modes per axis over both signs (and halves the last axis):
    # (2m, 2m, 2m - 1) keeps exactly our block of frequencies -m..m-1, -m..m-1, 0..m-1.
    model = NeuralopFNO(
        n_modes=(2 * m, 2 * m, 2 * m - 1),
        in_channels=CHANNELS,
        out_channels=CHANNELS,
        hidden_channels=config["width"],
        n_layers=config["layers"],
        positional_embedding=None,
        use_channel_mlp=False,
        fno_skip="linear",
    )
    return model, size


def worker(kind: str, config: dict, size: int, repeats: int, threads: int) -> dict:
    """Measure one (model, size) configuration in this process; return a JSON-able row."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, n_in = _build(kind, config, size)
    params = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    x = torch.randn(BATCH, CHANNELS, n_in, n_in, n_in)
    target = torch.randn(BATCH, CHANNELS, size, size, size)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    base = _rss_mb()

    def forward():
        with torch.no_grad():
            return model(x)

    def train_step():
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(model(x), target).backward()
        optimiser.step()

    assert forward().shape == target.shape
    fwd = best_time(forward, repeats)
    fwd_peak = _peak_mb()
    train = best_time(train_step, repeats)
    train_peak = _peak_mb()
    return {
        "input": n_in,
        "params": params,
        "fwd_ms": 1e3 * fwd / BATCH,
        "train_ms": 1e3 * train / BATCH,
        "fwd_mb": (fwd_peak - base) / BATCH,
        "train_mb": (train_peak - base) / BATCH,
        "threads": torch.get_num_threads(),
    }


def run_row(label: str, size: int, repeats: int, threads: int) -> dict | str:
    """Run one configuration in a fresh subprocess; a string explains a skipped row."""
    kind, config = MODELS[label]
    if kind == "neuralop":
        import importlib.util

        if importlib.util.find_spec("neuralop") is None:
            return "neuraloperator not installed"
    job = json.dumps({"kind": kind, "config": config, "size": size, "repeats": repeats})
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    cmd = [sys.executable, __file__, "--worker", job, "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="32³ only, 2 repeats")
    parser.add_argument("--sizes", type=int, nargs="+", help="output cube sizes (default 32 64)")
    parser.add_argument("--repeats", type=int, help="timed repeats (best is reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        row = worker(job["kind"], job["config"], job["size"], job["repeats"], args.threads)
        print(json.dumps(row))
        return
    sizes = args.sizes or ([32] if args.quick else [32, 64])
    repeats = args.repeats or (2 if args.quick else 3)
    print(f"batch {BATCH}, {CHANNELS} in / {CHANNELS} out channels, best of {repeats}, per sample")
    print()
    print("| model | cube | input | params | fwd ms | train ms | fwd MiB | train MiB |")
    print("|---|---|---|---|---|---|---|---|")
    results = {}
    for size in sizes:
        for label in MODELS:
            row = run_row(label, size, repeats, args.threads)
            results[label, size] = row
            if isinstance(row, str):
                print(f"| {label} | {size}³ | – | – | {row} | | | |", flush=True)
                continue
            print(
                f"| {label} | {size}³ | {row['input']}³ | {row['params']:,} | {row['fwd_ms']:.0f} "
                f"| {row['train_ms']:.0f} | {row['fwd_mb']:.0f} | {row['train_mb']:.0f} |",
                flush=True,
            )
    print()
    for size in sizes:
        ours, theirs = results["fno", size], results["neuralop FNO", size]
        if isinstance(ours, dict) and isinstance(theirs, dict):
            fwd, train = (theirs[k] / ours[k] for k in ("fwd_ms", "train_ms"))
            print(
                f"- {size}³: neuralop/ours time ratio forward {fwd:.2f}, "
                f"training step {train:.2f}; parameters "
                f"{'equal' if ours['params'] == theirs['params'] else 'DIFFER'} "
                f"({ours['params']:,} vs {theirs['params']:,})"
            )


if __name__ == "__main__":
    main()

"""Memory budgets: sizes, traced activation memory, plans that fit, flat RSS out of core."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import dask.array
import numpy as np
import pytest
import torch
import xarray as xr
from test_rollout_fixtures import make_surrogate

import surrogates
from surrogates.errors import DataError
from surrogates.rollout import parse_bytes, plan_rollout
from surrogates.rollout.memory import traced_peak

CPU = torch.device("cpu")


def test_parse_bytes():
    assert parse_bytes("4GB") == 4 * 10**9
    assert parse_bytes("4 GiB") == 4 * 2**30
    assert parse_bytes("512mb") == 512 * 10**6
    assert parse_bytes("1.5e9") == 1_500_000_000
    assert parse_bytes(2048) == 2048 and parse_bytes(None) is None
    for bad in ("lots", "-1GB", 0, "4 GBB"):
        with pytest.raises(DataError, match="memory: got"):
            parse_bytes(bad)


def test_traced_peak_follows_the_window_and_batch():
    fno = make_surrogate("fno", 3, modes=4, width=8, layers=2)
    small, large = traced_peak(fno, (16, 16, 16)), traced_peak(fno, (32, 32, 32))
    # Same-size model: activations scale with the window volume (8x), up to the
    # retained-mode tensors, which do not grow with the grid.
    assert 7.0 < large / small <= 8.0
    assert 1.8 * large < traced_peak(fno, (32, 32, 32), batch=2) <= 2 * large
    # At least the lifted features (8 channels) and the input's normalised copy, float32.
    assert large >= 4 * 32**3 * (8 + 2)
    vnet = make_surrogate("vnet", 3, width=4, levels=1)
    assert traced_peak(vnet, (40, 40, 40)) >= 4 * 4 * (40 - 2) ** 3  # first conv output


def test_plan_fits_the_budget_and_prefers_large_tiles():
    surrogate = make_surrogate("vnet", 3, width=4, levels=1)
    shape = (96, 80, 64)
    small = plan_rollout(surrogate, shape, memory=30 * 10**6, device=CPU)
    large = plan_rollout(surrogate, shape, memory=120 * 10**6, device=CPU)
    for plan in (small, large):
        assert plan.bytes == plan.batch * plan.unit_bytes + plan.read_bytes <= plan.budget
        assert all(t % surrogate.alignment == 0 for t in plan.tiles.tile)
    assert math.prod(large.tiles.tile) > math.prod(small.tiles.tile)
    assert large.tiles.ideal_overhead < small.tiles.ideal_overhead
    assert "exact tiling" in small.describe() and "of a 30 MB budget" in small.describe()
    fno = make_surrogate("fno", 2, modes=4, width=8, layers=2, halo=5)
    blended = plan_rollout(fno, (200, 120), memory=5 * 10**6, device=CPU)
    assert blended.mode == "blend" and blended.tiles.halo == 5 and len(blended.tiles) > 1
    whole = plan_rollout(fno, (40, 24), device=CPU)  # fits in one tile: no overlap needed
    assert len(whole.tiles) == 1 and whole.tiles.halo == 0


CHILD = """
import json, resource, sys
from surrogates.io import open_dataset
from surrogates.rollout import rollout
from surrogates.artifact import load

model, state, store, memory = sys.argv[1:]
surrogate, state = load(model), open_dataset(state)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rollout(surrogate, state, steps=2, memory=memory, store=store, progress=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base": base * 1024, "peak": peak * 1024}))
"""


@pytest.mark.slow
def test_peak_rss_is_flat_when_the_domain_grows_8x(tmp_path):
    # Out of core with a fixed 48 MB budget, the resident set may not grow with the domain.
    # glibc's dynamic mmap threshold lets freed buffers linger in per-thread heaps (the
    # resident set then doubles, whatever the domain); fixing the threshold makes RSS track
    # live memory, which is what this test measures (see surrogates.rollout.memory).
    surrogate = make_surrogate("vnet", 3, fields=("u", "v", "w"), width=2, levels=1)
    model = surrogate.save(tmp_path / "model.pt")
    env = {**os.environ, "PYTHONPATH": str(Path(surrogates.__file__).parents[1]),
           "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "131072"}  # fmt: skip
    growth = {}
    for n in (64, 128):
        axes = {a: (np.arange(n) + 0.5) * 0.5 for a in ("x", "y", "z")}
        rng = dask.array.random.default_rng(1)
        fields = {
            v: (("time", "x", "y", "z"),
                rng.standard_normal((1, n, n, n), chunks=(1, 32, 32, 32), dtype=np.float32))
            for v in ("u", "v", "w")
        }  # fmt: skip
        attrs = {
            **{f"boundary_{a}": "periodic" for a in axes},
            "source": "rss",
            "source_format": "t",
        }
        state = xr.Dataset(fields, {**axes, "time": [0.0]}, attrs)
        path = tmp_path / f"state{n}.zarr"  # small chunks: windows decode little beyond themselves
        encoding = {v: {"chunks": (1, 16, 16, 16)} for v in fields}
        state.to_zarr(path, zarr_format=3, consolidated=False, encoding=encoding)
        args = [str(model), str(path), str(tmp_path / f"out{n}.zarr"), "48MB"]
        done = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, check=True,
                              capture_output=True, text=True)  # fmt: skip
        rss = json.loads(done.stdout.strip().splitlines()[-1])
        growth[n] = rss["peak"] - rss["base"]
    # One frame of the large state is 25 MB and the run writes three: an engine holding any
    # field in memory would grow by tens of MB. Allowance: 8 MB of noise; the budget plus
    # 16 MB of fixed costs (first-call buffers of torch, zarr and the thread pools).
    assert growth[128] < growth[64] + 8e6, growth
    assert growth[128] < 48e6 + 16e6, growth

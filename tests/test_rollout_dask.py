"""The Dask backend runs the same tile groups as the local one: identical results.

A 2-worker ``LocalCluster`` with one thread per worker and ``processes=False`` (worker
threads in this process): process workers each import torch, which takes ~30 s on the
shared 2-core test machine. The code path (tasks, scatter of the context, per-worker
surrogate loaded from the artifact in the store, shared zarr store) is the same.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_rollout_fixtures import make_state, make_surrogate

from surrogates.errors import DataError
from surrogates.rollout import dask_ as rollout_dask
from surrogates.rollout import read_manifest, rollout


@pytest.fixture(scope="module")
def client(one_thread_module):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        yield client


@pytest.mark.parametrize("name", ["vnet", "fno"])
def test_dask_equals_local(client, tmp_path, name):
    config = dict(width=4, levels=1) if name == "vnet" else dict(modes=4, width=8, layers=2)
    surrogate = make_surrogate(name, 2, static=("mask",), params=("amp",), **config)
    state = make_state(surrogate, (24, 20), samples=2, params={"amp": [0.5, 1.0]})
    kwargs = dict(steps=3, every=2, tile=12, batch=2, progress=False)
    local = rollout(surrogate, state, store=tmp_path / "local.zarr", **kwargs)
    rollout_dask._SURROGATES.clear()
    dask = rollout(surrogate, state, store=tmp_path / "dask.zarr", backend="dask",
                   scheduler=client, **kwargs)  # fmt: skip
    for var in ("u", "v", "mask", "amp"):
        np.testing.assert_array_equal(dask[var].values, local[var].values)
    assert len(rollout_dask._SURROGATES) == 1  # loaded once from the store's artifact
    manifest = read_manifest(tmp_path / "dask.zarr")
    assert manifest["runs"][0]["backend"] == "dask" and manifest["complete"]


def test_dask_needs_a_store():
    surrogate = make_surrogate("vnet", 2, width=4, levels=1)
    with pytest.raises(DataError, match="backend='dask' writes to a shared zarr store"):
        rollout(surrogate, make_state(surrogate, (20, 18)), backend="dask", progress=False)

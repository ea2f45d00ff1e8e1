"""Tests of surrogates.data.normalize: one-pass statistics, JSON, (de)normalisation."""

from __future__ import annotations

import json
import threading

import dask.array
import numpy as np
import pytest
import torch
import xarray as xr

from surrogates.data.normalize import Normalizer
from surrogates.errors import DataError

DIMS = ("sample", "time", "x", "y", "z")


class Counting:
    """Array-like counting reads per chunk origin (thread-safe: dask may use threads)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim
        self.reads: list[tuple] = []
        self._lock = threading.Lock()

    def __getitem__(self, key):
        out = self.a[key]
        if out.size:  # dask probes with an empty slice when wrapping the array
            with self._lock:
                self.reads.append(tuple(k.start for k in key))
        return out


@pytest.fixture
def fields():
    rng = np.random.default_rng(0)
    u = rng.normal(3.0, 2.0, size=(4, 3, 6, 5, 4))
    rho = (1e4 + rng.normal(size=(4, 3, 6, 5, 4))).astype(np.float32)  # mean >> std
    return u, rho


def test_stats_match_numpy_and_read_each_chunk_once(fields):
    # Reference: numpy float64 mean/std over the training samples; tolerance 1e-6
    # relative (pooled float64 moments).
    u, rho = fields
    counters = [Counting(u), Counting(rho)]
    chunks = (1, 2, 3, 5, 4)  # chunks span several times and split x
    data = {
        n: (DIMS, dask.array.from_array(c, chunks=chunks))
        for n, c in zip("ur", counters, strict=True)
    }
    ds = xr.Dataset(data)
    for c in counters:
        c.reads.clear()
    norm = Normalizer.from_dataset(ds, ["u", "r"], samples=[3, 1])
    for name, a, c in zip("ur", (u, rho), counters, strict=True):
        ref = a[[3, 1]].astype(np.float64)
        mean, std = norm.stats([name])
        assert mean[0] == pytest.approx(ref.mean(), rel=1e-6)
        assert std[0] == pytest.approx(ref.std(), rel=1e-6)
        # Chunks of samples 1 and 3 only, each read exactly once: 2 samples x 2 time
        # chunks x 2 x chunks.
        assert len(c.reads) == len(set(c.reads)) == 8
        assert {r[0] for r in c.reads} == {1, 3}


def test_parameters_static_fields_constants_and_lazy_files(tmp_path, fields):
    u, _ = fields
    ds = xr.Dataset(
        {
            "u": (DIMS, u),
            "mask": (("x", "y", "z"), np.ones((6, 5, 4))),
            "omega": (("sample",), np.array([0.2, 0.3, 0.4, 0.5])),
            "force": (("sample", "time"), np.arange(12.0).reshape(4, 3)),
            "box": ((), 100.0),
        }
    )
    ds.to_netcdf(tmp_path / "n.nc")
    with xr.open_dataset(tmp_path / "n.nc") as lazy:  # lazily indexed, no dask
        norm = Normalizer.from_dataset(lazy, ["u", "mask", "omega", "force", "box"], times=(1, 3))
    mean, std = norm.stats(["omega", "force", "mask", "box"])
    np.testing.assert_allclose(mean, [0.35, np.arange(12.0).reshape(4, 3)[:, 1:].mean(), 1, 100])
    # Constant fields (mask, box) get std 1 so normalising only removes the mean.
    np.testing.assert_allclose(
        std, [np.std([0.2, 0.3, 0.4, 0.5]), np.arange(12.0).reshape(4, 3)[:, 1:].std(), 1, 1]
    )
    assert norm.stats(["u"])[1][0] == pytest.approx(u[:, 1:3].std(), rel=1e-6)


def test_json_round_trip_and_normalize_numpy_torch(fields):
    u, rho = fields
    ds = xr.Dataset({"u": (DIMS, u), "rho": (DIMS, rho)}).chunk({"sample": 1})
    norm = Normalizer.from_dataset(ds, ["u", "rho"])
    again = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again == norm
    x = np.stack([u[0], rho[0].astype(np.float64)], axis=1)  # (time, channel, x, y, z)
    z = norm.normalize(x, ["u", "rho"])
    assert abs(z.mean()) < 0.5 and z.dtype == x.dtype
    np.testing.assert_allclose(norm.denormalize(z, ["u", "rho"]), x, rtol=1e-12)
    zt = norm.normalize(torch.from_numpy(x), ["u", "rho"])
    np.testing.assert_allclose(zt.numpy(), z, rtol=1e-12)
    swapped = norm.normalize(x[:, ::-1], ["rho", "u"])  # names follow channel order
    np.testing.assert_allclose(swapped[:, ::-1], z, rtol=1e-12)
    p = norm.normalize(np.array([[3.0, 1e4]]), ["u", "rho"], channel_axis=-1)
    assert p.shape == (1, 2)


def test_errors(fields):
    u, _ = fields
    bad = u.copy()
    bad[2, 1, 0, 0, 0] = np.inf
    ds = xr.Dataset({"u": (DIMS, bad)}).chunk({"sample": 2, "time": 3})
    with pytest.raises(
        DataError, match=r"variable 'u' has non-finite values \(NaN or Inf\) at sample 2, time 1"
    ):
        Normalizer.from_dataset(ds, ["u"], samples=[0, 2])
    Normalizer.from_dataset(ds, ["u"], samples=[0, 1, 3])  # the bad sample is not used
    with pytest.raises(DataError, match=r"no variable\(s\) \['v'\]; available: \['u'\]"):
        Normalizer.from_dataset(ds, ["v"])
    norm = Normalizer(("u",), (0.0,), (1.0,))
    with pytest.raises(DataError, match=r"no statistics for \['w'\]; known: \['u'\]"):
        norm.normalize(np.zeros((1, 2, 2, 2)), ["w"])
    with pytest.raises(DataError, match=r"1 names \['u'\] for an array of shape \(2, 2, 2, 2\)"):
        norm.normalize(np.zeros((2, 2, 2, 2)), ["u"])
    with pytest.raises(DataError, match="non-positive std"):
        Normalizer(("u",), (0.0,), (0.0,))
    with pytest.raises(DataError, match="expected keys format"):
        Normalizer.from_dict({"mean": {"u": 0.0}})

"""Lazy HDF5 access: hyperslab-exact reads, numpy-equal indexing, picklable graphs."""

from __future__ import annotations

import pickle

import dask
import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_fixtures import write_pdebench_cfd

from surrogates.errors import DataError
from surrogates.io import open_dataset
from surrogates.io.lazy import Axis, H5Array, frame_chunks

SHAPE = (3, 4, 5, 6, 2)


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("lazy") / "a.h5"
    values = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["a"] = values
        f["s0"], f["s1"] = values[0], values[1]
        f["b"] = values[:, 0, :1, :, 0]  # (3, 1, 6): broadcast along two virtual axes
    return path, values


def _getters(path):
    """(getter, expected numpy array) for each kind of virtual axis."""
    file_axes = tuple(Axis("file", i) for i in range(4))
    plain = H5Array(str(path), ("a",), file_axes, SHAPE[:4], np.dtype("f8"), fixed=((4, 1),))
    stack_axes = (Axis("stack"), *(Axis("file", i) for i in range(3)))
    stacked = H5Array(str(path), ("s0", "s1"), stack_axes, (2, 4, 5, 6), np.dtype("f4"), ((3, 0),))
    bcast_axes = (Axis("file", 0), Axis("broadcast"), Axis("broadcast", 1), Axis("file", 2))
    bcast = H5Array(str(path), ("b",), bcast_axes, (3, 7, 5, 6), np.dtype("f4"))
    return [plain, stacked, bcast]


def _expected(values):
    return [
        values[..., 1].astype("f8"),
        values[:2, ..., 0],
        np.broadcast_to(values[:, None, 0, :1, :, 0], (3, 7, 5, 6)),
    ]


@st.composite
def keys(draw, shape):
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "array"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n, n))
            stop = draw(st.none() | st.integers(-n, n))
            step = draw(st.none() | st.sampled_from([1, 2, -1, -2]))
            items.append(slice(start, stop, step))
        else:
            items.append(np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))))
    return tuple(items)


def _orthogonal(values, key):
    """Outer (orthogonal) indexing, axis by axis: the semantics of h5py and of H5Array."""
    for axis in reversed(range(len(key))):
        values = values[(slice(None),) * axis + (key[axis],)]
    return values


@settings(max_examples=40, deadline=None, database=None)
@given(data=st.data(), which=st.integers(0, 2))
def test_h5array_indexing_matches_numpy(h5, data, which):
    path, values = h5
    getter, expected = _getters(path)[which], _expected(values)[which]
    key = data.draw(keys(expected.shape))
    np.testing.assert_array_equal(getter[key], _orthogonal(expected, key))
    if not any(isinstance(k, np.ndarray) for k in key):  # then plain numpy indexing agrees
        np.testing.assert_array_equal(getter[key], expected[key])


def test_crop_reads_only_its_hyperslab(tmp_path, monkeypatch):
    """A 3D crop of a lazily opened PDEBench field reads exactly the crop, once."""
    truth = write_pdebench_cfd(tmp_path / "cfd.h5", 3, n=2, t=3, sizes=(16, 12, 8))
    ds = open_dataset(tmp_path / "cfd.h5")
    reads = []
    original = H5Array._read

    def counting(self, dset, key):
        reads.append((dset.name, key))
        return original(self, dset, key)

    monkeypatch.setattr(H5Array, "_read", counting)
    crop = ds["density"].isel(sample=1, time=2, x=slice(3, 7), y=slice(2, 6), z=slice(1, 5))
    np.testing.assert_array_equal(crop.values, truth["density"][1, 2, 3:7, 2:6, 1:5])
    # integer indices are read as length-1 slices and dropped afterwards
    expected = (slice(1, 2, 1), slice(2, 3, 1), slice(3, 7, 1), slice(2, 6, 1), slice(1, 5, 1))
    assert reads == [("/density", expected)]


def test_opening_reads_no_field_values(tmp_path, monkeypatch):
    write_pdebench_cfd(tmp_path / "cfd.h5", 2)
    reads = []
    monkeypatch.setattr(H5Array, "_read", lambda self, dset, key: reads.append(key))
    open_dataset(tmp_path / "cfd.h5")
    assert reads == []


def test_graph_is_picklable_and_runs_in_worker_processes(tmp_path):
    truth = write_pdebench_cfd(tmp_path / "cfd.h5", 2, n=2, t=2)
    ds = open_dataset(tmp_path / "cfd.h5")
    restored = pickle.loads(pickle.dumps(ds["pressure"].data))
    np.testing.assert_array_equal(restored.compute(scheduler="sync"), truth["pressure"])
    # tasks are pickled to the worker whatever the start method; fork keeps the test fast
    with dask.config.set({"multiprocessing.context": "fork"}):
        (total,) = dask.compute(ds["pressure"].sum(), scheduler="processes", num_workers=1)
    np.testing.assert_allclose(float(total), truth["pressure"].astype(np.float64).sum(), rtol=1e-6)


def test_read_failure_after_open_names_the_file(tmp_path):
    write_pdebench_cfd(tmp_path / "cfd.h5", 1)
    ds = open_dataset(tmp_path / "cfd.h5")
    (tmp_path / "cfd.h5").unlink()
    with pytest.raises(DataError, match=r"cfd\.h5: reading dataset 'density' failed"):
        ds["density"].load()


@pytest.mark.parametrize(
    ("shape", "n_lead", "itemsize", "expected"),
    [
        ((4, 10, 64, 64), 2, 4, (1, 1, 64, 64)),  # a frame well under the target
        ((2, 3, 256, 256, 256), 2, 4, (1, 1, 128, 256, 256)),  # 64 MiB frame -> halves
        ((16, 16, 16), 0, 8, (16, 16, 16)),  # static field
    ],
)
def test_frame_chunks(shape, n_lead, itemsize, expected):
    assert frame_chunks(shape, n_lead=n_lead, itemsize=itemsize) == expected

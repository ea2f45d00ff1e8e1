"""Tests of surrogates.data.window: PadSpec and boundary-aware window reads."""

from __future__ import annotations

import json

import dask.array
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogates.data.window import PadSpec, read_window, read_windows, window_index
from surrogates.errors import DataError, ModelError

AXES = ("x", "y", "z")
NP_MODE = {"periodic": "wrap", "reflect": "symmetric", "edge": "edge", "constant": "constant"}


def reference(a: np.ndarray, start, size, modes, value=0.0) -> np.ndarray:
    """The window cut from ``numpy.pad`` of the whole array, one axis at a time."""
    out = a
    for ax, (s, w, mode) in enumerate(zip(start, size, modes, strict=True)):
        p = abs(s) + w + a.shape[ax]  # enough padding on both sides, also beyond n
        width = [(0, 0)] * a.ndim
        width[ax] = (p, p)
        kw = {"constant_values": value} if mode == "constant" else {}
        out = np.pad(out, width, mode=NP_MODE[mode], **kw)
        out = np.take(out, np.arange(p + s, p + s + w), axis=ax)
    return out


def canonical(a: np.ndarray, modes, lead=("sample", "time")) -> xr.Dataset:
    axes = AXES[: a.ndim - len(lead)]
    boundary = {"periodic": "periodic"}
    attrs = {f"boundary_{ax}": boundary.get(m, "wall") for ax, m in zip(axes, modes, strict=True)}
    return xr.Dataset({"u": ((*lead, *axes), a)}, attrs=attrs)


class Counting:
    """Array-like recording every hyperslab read (to check what a window reads)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim
        self.reads: list[int] = []

    def __getitem__(self, key):
        out = self.a[key]
        self.reads.append(out.size)
        return out


@st.composite
def window_cases(draw, modes=("periodic",)):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    start = tuple(draw(st.integers(-15, 15)) for _ in range(ndim))
    size = tuple(draw(st.integers(1, 16)) for _ in range(ndim))
    axis_modes = tuple(draw(st.sampled_from(modes)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    return shape, start, size, axis_modes, chunks


@settings(max_examples=60, deadline=None)
@given(window_cases())
def test_periodic_window_equals_tiled_array(case):
    # Property: a periodic window (any start, pad beyond the axis length included) is the
    # slice of the periodically tiled array, read from memory or from dask chunks.
    shape, start, size, modes, chunks = case
    a = np.random.default_rng(len(shape)).normal(size=(2, 3, *shape)).astype(np.float32)
    ds = canonical(a, modes)
    pad = PadSpec.from_dataset(ds)
    reps = [(abs(s) + w) // n + 2 for s, w, n in zip(start, size, shape, strict=True)]
    tiled = np.tile(a[1, 2], reps)
    offset = [s % n for s, n in zip(start, shape, strict=True)]  # same cell, first tile
    expected = tiled[tuple(slice(o, o + w) for o, w in zip(offset, size, strict=True))]
    for data in (ds, ds.chunk(dict(zip(AXES, chunks, strict=False)))):
        got = read_window(data["u"], start, size, pad, sample=1, time=2)
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(window_cases(modes=("periodic", "reflect", "edge", "constant")))
def test_padded_window_equals_numpy_pad(case):
    # Property: per-axis modes reproduce numpy.pad: reflect = "symmetric" (mirror about the
    # face of cell-centred data), edge = "edge", constant = "constant", periodic = "wrap".
    shape, start, size, modes, chunks = case
    a = np.random.default_rng(7).normal(size=shape)
    spec = PadSpec(AXES[: len(shape)], modes, value=-3.5)
    ds = canonical(a, modes, lead=())
    expected = reference(a, start, size, modes, value=-3.5)
    got = read_window(ds.chunk(dict(zip(AXES, chunks, strict=False)))["u"], start, size, spec)
    np.testing.assert_array_equal(got, expected)


def test_window_index_reflect_is_symmetric_about_face():
    # Ghost cell at distance d outside the face mirrors the cell at distance d inside.
    np.testing.assert_array_equal(window_index(-3, 3, 5, "reflect"), [2, 1, 0])
    np.testing.assert_array_equal(window_index(5, 3, 5, "reflect"), [4, 3, 2])
    np.testing.assert_array_equal(
        window_index(-2, 9, 5, "constant"), [-1, -1, 0, 1, 2, 3, 4, -1, -1]
    )


def test_reads_only_the_needed_hyperslabs():
    # A 6^3 window wrapping the x face of a 32^3 periodic volume reads 6^3 cells in two
    # hyperslabs (one per side of the face), never the volume, from a lazily opened array.
    a = np.random.default_rng(0).normal(size=(32, 32, 32))
    counter = Counting(a)
    data = dask.array.from_array(counter, chunks=(32, 32, 32))
    counter.reads.clear()  # dask probes the array once when wrapping it
    ds = xr.Dataset({"u": (AXES, data)}, attrs={f"boundary_{ax}": "periodic" for ax in AXES})
    got = read_window(ds["u"], (-2, 10, 10), 6, PadSpec.from_dataset(ds))
    np.testing.assert_array_equal(got, np.roll(a, 2, axis=0)[:6, 10:16, 10:16])
    assert sorted(counter.reads) == [2 * 36, 4 * 36]


def test_derived_dask_arrays_read_each_touched_chunk_once():
    # Dask cannot push slices through a stack, so each chunk the window touches is read
    # whole, but once: here the two x-chunks on either side of the periodic face.
    a = np.random.default_rng(0).normal(size=(32, 32, 32))
    counter = Counting(a)
    data = dask.array.stack([dask.array.from_array(counter, chunks=(16, 32, 32))] * 2)
    counter.reads.clear()
    ds = xr.Dataset({"u": (("sample", *AXES), data)}, attrs={"boundary_x": "periodic"})
    ds.attrs.update(boundary_y="wall", boundary_z="wall")
    got = read_window(ds["u"], (-2, 10, 10), 6, PadSpec.from_dataset(ds), sample=1)
    np.testing.assert_array_equal(got, np.roll(a, 2, axis=0)[:6, 10:16, 10:16])
    assert counter.reads == [16 * 32 * 32] * 2


def test_time_sequences_static_fields_and_netcdf(tmp_path):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 5, 6, 7)).astype(np.float32)
    ds = canonical(a, ("periodic", "reflect"))
    ds["mask"] = (("x", "y"), rng.normal(size=(6, 7)).astype(np.float32))
    ds.to_netcdf(tmp_path / "w.nc")
    pad = PadSpec.from_dataset(ds)
    with xr.open_dataset(tmp_path / "w.nc", chunks={}) as lazy:
        out = read_windows(lazy, ["u", "mask"], (-2, -1), (4, 5), pad, sample=1, time=[0, 2, 4])
    assert out["u"].shape == (3, 4, 5) and out["mask"].shape == (3, 4, 5)
    for k, t in enumerate([0, 2, 4]):
        expected = reference(a[1, t], (-2, -1), (4, 5), pad.modes)
        np.testing.assert_array_equal(out["u"][k], expected)
        np.testing.assert_array_equal(
            out["mask"][k], reference(ds["mask"].values, (-2, -1), (4, 5), pad.modes)
        )


def test_pad_spec_from_dataset_and_json():
    ds = xr.Dataset(
        {"u": (("x", "y", "z"), np.zeros((2, 3, 4)))},
        attrs={"boundary_x": "periodic", "boundary_y": "wall", "boundary_z": "open"},
    )
    spec = PadSpec.from_dataset(ds, mode={"y": "edge", "z": "constant"}, value=1.5)
    assert spec.modes == ("periodic", "edge", "constant") and spec.value == 1.5
    assert PadSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ModelError, match="periodic axes always wrap"):
        PadSpec.from_dataset(ds, mode={"x": "periodic"})
    with pytest.raises(ModelError, match="unknown pad modes"):
        PadSpec(("x",), ("mirror",))
    with pytest.raises(DataError, match="'boundary_z' is None"):
        PadSpec.from_dataset(ds.drop_attrs().assign_attrs(boundary_x="wall", boundary_y="wall"))


def test_window_errors():
    a = np.ones((2, 3, 4, 4))
    a[1, 2, 0, 3] = np.nan
    ds = canonical(a, ("periodic", "periodic"))
    pad = PadSpec.from_dataset(ds)
    with pytest.raises(DataError, match=r"variable 'u' has a non-finite value .*sample 1, time 2"):
        read_window(ds["u"], 0, 4, pad, sample=1, time=[0, 2])
    with pytest.raises(DataError, match=r"no variable\(s\) \['v'\]; available: \['u'\]"):
        read_windows(ds, ["v"], 0, 4, pad, sample=0, time=0)
    with pytest.raises(DataError, match="has a time dim; give time="):
        read_window(ds["u"], 0, 4, pad, sample=0)
    with pytest.raises(ModelError, match="size must be positive"):
        read_window(ds["u"], 0, 0, pad, sample=0, time=0)
    with pytest.raises(ModelError, match="start has 3 entries for 2 axes"):
        read_window(ds["u"], (0, 0, 0), 2, pad, sample=0, time=0)

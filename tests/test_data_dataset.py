"""Tests of surrogates.data.dataset: the item contract of CubeDataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from surrogates.data import CubeDataset, Normalizer, PadSpec, Task
from surrogates.errors import DataError, ModelError

AXES = ("x", "y", "z")
DIMS = ("sample", "time", *AXES)
NP_MODE = {"periodic": "wrap", "reflect": "symmetric"}


def central_gradient(phi: np.ndarray, axes=(-3, -2, -1)) -> list[np.ndarray]:
    return [(np.roll(phi, -1, a) - np.roll(phi, 1, a)) / 2 for a in axes]


def make_dataset(shape=(8, 8, 6), boundary_z="wall", samples=4, times=7) -> xr.Dataset:
    """phi, u = grad(phi) (periodic central differences), rho, a static mask, parameters."""
    rng = np.random.default_rng(0)
    phi = rng.normal(size=(samples, times, *shape))
    ds = xr.Dataset(
        {
            "phi": (DIMS, phi.astype(np.float32)),
            **{
                f"u_{ax}": (DIMS, g.astype(np.float32))
                for ax, g in zip(AXES, central_gradient(phi), strict=True)
            },
            "rho": (DIMS, rng.normal(5.0, 1.0, size=phi.shape).astype(np.float32)),
            "mask": (AXES, (rng.random(shape) > 0.5).astype(np.float32)),
            "re": (("sample",), np.arange(samples) + 1.0),
            "force": (("sample", "time"), rng.normal(size=(samples, times))),
            "box": ((), 64.0),
        },
        coords={ax: np.arange(n) + 0.5 for ax, n in zip(AXES, shape, strict=True)},
        attrs={"boundary_x": "periodic", "boundary_y": "periodic", "boundary_z": boundary_z},
    )
    return ds


def padded(a: np.ndarray, start, size, modes) -> np.ndarray:
    """Reference window from numpy.pad (wrap / symmetric) of the whole field."""
    width = [(abs(s) + w, abs(s) + w) for s, w in zip(start, size, strict=True)]
    out = a
    for ax, mode in enumerate(modes):
        w = [(0, 0)] * a.ndim
        w[ax] = width[ax]
        out = np.pad(out, w, mode=NP_MODE[mode])
    return out[
        tuple(slice(p[0] + s, p[0] + s + n) for p, s, n in zip(width, start, size, strict=True))
    ]


def test_map_item_contract():
    ds = make_dataset().chunk({"sample": 1, "time": 1})
    task = Task(
        inputs=["phi", "mask"], targets=["u_x", "u_y", "u_z"], params=["re", "force", "box"]
    )
    data = CubeDataset(ds, task, crop=4, pad=2, seed=3)
    assert len(data) == 4 * 7 * (8 * 8 * 6 // 64)
    item = data[5]
    assert item["input"].shape == (2, 8, 8, 8) and item["input"].dtype == torch.float32
    assert item["target"].shape == (3, 8, 8, 8) and item["params"].shape == (3,)
    spec = data.crop_spec(5)
    start = [s - 2 for s in spec.start]
    modes = data.pad_spec.modes
    np.testing.assert_array_equal(
        item["input"][0], padded(ds["phi"].values[spec.sample, spec.time], start, (8,) * 3, modes)
    )
    np.testing.assert_array_equal(
        item["input"][1], padded(ds["mask"].values, start, (8,) * 3, modes)
    )
    np.testing.assert_array_equal(
        item["target"][2], padded(ds["u_z"].values[spec.sample, spec.time], start, (8,) * 3, modes)
    )
    expected = [spec.sample + 1.0, ds["force"].values[spec.sample, spec.time], 64.0]
    np.testing.assert_allclose(item["params"], expected, rtol=1e-6)


def test_lead_item_contract_with_unroll():
    ds = make_dataset()
    task = Task(
        inputs=["rho", "u_x", "u_y", "u_z", "mask"],
        targets=["rho", "u_x", "u_y", "u_z"],
        params=["force"],
        lead=2,
    )
    data = CubeDataset(ds, task, crop=(4, 4, 3), pad=1, unroll=2, seed=1)
    assert data.input_times == (0, 1, 2)  # t + unroll * lead <= 6
    for key in range(6):
        item, spec = data[key], data.crop_spec(key)
        assert item["input"].shape == (5, 6, 6, 5)
        assert item["target"].shape == (2, 4, 6, 6, 5) and item["params"].shape == (2, 1)
        start = [s - 1 for s in spec.start]
        for k in range(2):
            t = spec.time + (k + 1) * 2
            ref = padded(ds["rho"].values[spec.sample, t], start, (6, 6, 5), data.pad_spec.modes)
            np.testing.assert_array_equal(item["target"][k, 0], ref)
            assert item["params"][k, 0] == pytest.approx(
                ds["force"].values[spec.sample, spec.time + 2 * k]
            )
        ref = padded(
            ds["rho"].values[spec.sample, spec.time], start, (6, 6, 5), data.pad_spec.modes
        )
        np.testing.assert_array_equal(item["input"][0], ref)


def test_loss_weight_items_follow_the_crop_and_the_symmetry():
    ds = make_dataset()
    ds["w"] = np.abs(ds["phi"])  # a time-dependent weight, equal to |phi| cell by cell
    ds["w_static"] = ds["mask"] * 2.0
    inputs = ["phi", "u_x", "u_y", "u_z", "mask"]
    mapped = CubeDataset(ds, Task(inputs, ["rho"]), crop=4, pad=1, symmetries=True, weight="w")
    for key in range(8):
        item = mapped[key]
        assert item["weight"].shape == (1, 6, 6, 6)
        np.testing.assert_array_equal(item["weight"][0], item["input"][0].abs())
    lead = Task(inputs, ["phi", "u_x", "u_y", "u_z"], lead=1)
    timed = CubeDataset(ds, lead, crop=4, pad=1, unroll=2, symmetries=True, weight="w")
    static = CubeDataset(ds, lead, crop=4, pad=1, unroll=2, symmetries=True, weight="w_static")
    for key in range(8):
        item = timed[key]
        assert item["weight"].shape == (2, 1, 6, 6, 6)
        np.testing.assert_array_equal(item["weight"][:, 0], item["target"][:, 0].abs())
        item = static[key]
        assert item["weight"].shape == (2, 1, 6, 6, 6)
        for k in range(2):
            np.testing.assert_array_equal(item["weight"][k, 0], 2 * item["input"][4])
    assert "weight" not in CubeDataset(ds, Task(inputs, ["rho"]), crop=4)[0]
    with pytest.raises(DataError, match="'re' has dims"):
        CubeDataset(ds, Task(inputs, ["rho"]), crop=4, weight="re")


def test_symmetric_items_keep_u_the_gradient_of_phi_whole_box():
    # Physics: u = grad(phi) holds in every item whatever symmetry was drawn: inside the
    # halo-padded window the central difference of the input phi equals the target u
    # (float32 round-off, atol 1e-5). Whole-box periodic crops (crop = domain) with a halo.
    ds = make_dataset(shape=(6, 6, 6), boundary_z="periodic")
    task = Task(inputs=["phi"], targets=["u_x", "u_y", "u_z"])
    data = CubeDataset(ds, task, crop=6, pad=2, symmetries=True, seed=0, length=40)
    assert len(data.group) == 48
    drawn = set()
    for key in range(40):
        item = data[key]
        drawn.add(data.crop_spec(key).symmetry)
        phi, u = item["input"][0].numpy(), item["target"].numpy()
        inner = (slice(1, -1),) * 3
        for a, grad in enumerate(central_gradient(phi, axes=(0, 1, 2))):
            np.testing.assert_allclose(u[a][inner], grad[inner], atol=1e-5)
    assert len(drawn) > 10


def test_symmetry_group_keeps_window_shape_and_spacing():
    ds = make_dataset()
    task = Task(inputs=["phi"], targets=["u_x", "u_y", "u_z"])
    assert len(CubeDataset(ds, task, crop=(4, 4, 2), symmetries=True).group) == 16
    stretched = ds.assign_coords(y=ds["y"] * 2)  # anisotropic grid: y never swaps
    group = CubeDataset(stretched, task, crop=4, symmetries=True).group
    assert len(group) == 16 and all(g.perm[1] == 1 for g in group)


def test_mirror_axes_give_only_those_flips_and_keep_vectors_consistent():
    # A channel flow is symmetric under y -> -y and z -> -z but not x -> -x: naming the
    # mirror axes gives the four flip combinations of y and z (identity first), no
    # permutation, and u = grad(phi) still holds in every drawn item (atol 1e-5).
    ds = make_dataset(shape=(6, 6, 6), boundary_z="periodic")
    task = Task(inputs=["phi"], targets=["u_x", "u_y", "u_z"])
    data = CubeDataset(ds, task, crop=6, pad=2, symmetries=["y", "z"], seed=0, length=16)
    flips = [g.flips for g in data.group]
    assert flips == [(False, False, False), (False, False, True), (False, True, False),
                     (False, True, True)]  # fmt: skip
    assert all(g.perm == (0, 1, 2) for g in data.group)
    for key in range(16):
        item = data[key]
        phi, u = item["input"][0].numpy(), item["target"].numpy()
        inner = (slice(1, -1),) * 3
        for a, grad in enumerate(central_gradient(phi, axes=(0, 1, 2))):
            np.testing.assert_allclose(u[a][inner], grad[inner], atol=1e-5)
    for bad in (["w"], ["y", "y"]):
        with pytest.raises(ModelError, match="mirror axes"):
            CubeDataset(ds, task, crop=6, symmetries=bad)


def test_nonperiodic_core_stays_inside_and_reflects():
    ds = make_dataset(boundary_z="wall")
    data = CubeDataset(ds, Task(inputs=["rho"], targets=["rho"]), crop=(2, 2, 4), pad=3, length=200)
    z_starts = {data.crop_spec(k).start[2] for k in range(200)}
    assert z_starts == {0, 1, 2}  # core inside [0, 6)
    x_starts = {data.crop_spec(k).start[0] for k in range(200)}
    assert x_starts == set(range(8))  # periodic: anywhere


def test_deterministic_with_seed_and_workers(tmp_path):
    make_dataset().to_netcdf(tmp_path / "d.nc")
    task = Task(inputs=["rho", "mask"], targets=["rho"], params=["re"], lead=1)
    with xr.open_dataset(tmp_path / "d.nc", chunks={}) as ds:
        a = CubeDataset(ds, task, crop=4, pad=1, symmetries=True, seed=7, length=8)
        b = CubeDataset(ds, task, crop=4, pad=1, symmetries=True, seed=7, length=8)
        c = CubeDataset(ds, task, crop=4, pad=1, symmetries=True, seed=8, length=8)
        for key in (3, 0, 5):  # order of access does not matter
            for name in ("input", "target", "params"):
                assert torch.equal(a[key][name], b[key][name])
        assert not all(torch.equal(a[k]["input"], c[k]["input"]) for k in range(8))
        batches = []
        for workers in (0, 2):
            loader = torch.utils.data.DataLoader(a, batch_size=4, num_workers=workers)
            batches.append(torch.cat([batch["target"] for batch in loader]))
        assert torch.equal(batches[0], batches[1])


def test_normalised_items():
    ds = make_dataset()
    task = Task(inputs=["rho", "mask"], targets=["rho"], params=["re"])
    norm = Normalizer.from_dataset(ds, ["rho", "mask", "re"])
    raw = CubeDataset(ds, task, crop=4, seed=2)[0]
    item = CubeDataset(ds, task, crop=4, seed=2, normalizer=norm)[0]
    torch.testing.assert_close(item["input"], norm.normalize(raw["input"], task.inputs))
    torch.testing.assert_close(item["target"], norm.normalize(raw["target"], task.targets))
    torch.testing.assert_close(
        item["params"], norm.normalize(raw["params"], ["re"], channel_axis=-1)
    )


def test_errors():
    ds = make_dataset()
    rho = Task(inputs=["rho"], targets=["rho"])
    with pytest.raises(
        DataError, match=r"task variable\(s\) \['vel'\] not found; available: \['box', 'force'"
    ):
        CubeDataset(ds, Task(inputs=["vel"], targets=["rho"]), crop=4)
    with pytest.raises(DataError, match=r"crop 7 along 'z' is larger than the domain \(6 cells\)"):
        CubeDataset(ds, rho, crop=7)
    with pytest.raises(ModelError, match="unroll=2 needs a lead task"):
        CubeDataset(ds, rho, crop=4, unroll=2)
    with pytest.raises(
        DataError, match=r"time range \[0, 7\) of 7 steps cannot hold an item spanning 9"
    ):
        CubeDataset(ds, Task(inputs=["rho"], targets=["rho"], lead=4), crop=4, unroll=2)
    with pytest.raises(DataError, match="parameter 'phi' has dims"):
        CubeDataset(ds, Task(inputs=["rho"], targets=["rho"], params=["phi"]), crop=4)
    with pytest.raises(DataError, match=r"samples \[4\] invalid; the dataset has 4 samples"):
        CubeDataset(ds, rho, crop=4, samples=[4])
    with pytest.raises(ModelError, match="pad must be an int >= 0"):
        CubeDataset(ds, rho, crop=4, pad=-1)
    with pytest.raises(ModelError, match="pad spec axes"):
        CubeDataset(ds, rho, crop=4, pad_mode=PadSpec(("x", "y"), ("periodic", "periodic")))
    bad = ds.copy(deep=True)
    bad["rho"][2, 3] = np.nan
    data = CubeDataset(bad, rho, crop=4, samples=[2], times=(3, 4))
    with pytest.raises(
        DataError, match=r"variable 'rho' has a non-finite value .*sample 2, time 3"
    ):
        data[0]


def test_two_dimensional_data_with_symmetries():
    # The same code serves 2D data: the group has 8 elements and vectors rotate with it.
    rng = np.random.default_rng(5)
    phi = rng.normal(size=(2, 3, 8, 8))
    grad = central_gradient(phi, axes=(-2, -1))
    ds = xr.Dataset(
        {"phi": (DIMS[:-1], phi), "u_x": (DIMS[:-1], grad[0]), "u_y": (DIMS[:-1], grad[1])},
        attrs={"boundary_x": "periodic", "boundary_y": "periodic"},
    )
    data = CubeDataset(
        ds, Task(inputs=["phi"], targets=["u_x", "u_y"]), crop=8, pad=1, symmetries=True
    )
    assert len(data.group) == 8
    for key in range(8):
        item = data[key]
        assert item["input"].shape == (1, 10, 10) and item["target"].shape == (2, 10, 10)
        phi_w, u = item["input"][0].numpy(), item["target"].numpy()
        for a, g in enumerate(central_gradient(phi_w, axes=(0, 1))):
            np.testing.assert_allclose(u[a][1:-1, 1:-1], g[1:-1, 1:-1], atol=1e-5)

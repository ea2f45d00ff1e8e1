"""Writers of tiny, seeded solver files in every external layout, for tests anywhere.

Each writer returns the arrays it wrote so tests can compare what ``open_dataset`` reads
with the truth. Sizes default to a few cells; all files go where the caller says (a
pytest ``tmp_path``).
"""

from __future__ import annotations

import pathlib

import h5py
import numpy as np
import xarray as xr

AXES = ("x", "y", "z")
SIZES = (8, 6, 4)


def centres(n: int, length: float = 1.0) -> np.ndarray:
    """Cell centres of ``n`` uniform cells on ``[0, length)``."""
    return (np.arange(n) + 0.5) * (length / n)


def canonical_dataset(
    ndim: int = 2,
    *,
    n_sample: int = 2,
    n_time: int = 3,
    sizes: tuple[int, ...] = SIZES,
    seed: int = 0,
    boundary: str = "periodic",
    dtype: str = "float32",
) -> xr.Dataset:
    """An in-memory canonical dataset: density, velocity_*, a static mask, parameters."""
    rng = np.random.default_rng(seed)
    axes = AXES[:ndim]
    shape = (n_sample, n_time, *sizes[:ndim])
    dims = ("sample", "time", *axes)
    data_vars = {"density": (dims, rng.random(shape, dtype=np.float64).astype(dtype))}
    for axis in axes:
        data_vars[f"velocity_{axis}"] = (dims, rng.normal(size=shape).astype(dtype))
    data_vars["mask"] = (axes, (rng.random(sizes[:ndim]) > 0.5).astype(dtype))
    data_vars["nu"] = (("sample",), rng.random(n_sample))
    data_vars["gamma"] = ((), np.float64(1.4))
    coords = {a: centres(n, 2.0) for a, n in zip(axes, sizes, strict=False)}
    coords["time"] = 0.1 * np.arange(n_time)
    coords["sample"] = np.arange(n_sample)
    attrs = {f"boundary_{a}": boundary for a in axes}
    attrs.update(source_format="xarray", source="<in-memory dataset>", title="fixture")
    ds = xr.Dataset(data_vars, coords, attrs)
    ds["density"].attrs["units"] = "kg m-3"
    ds["x"].attrs["units"] = "m"
    return ds


def write_pdebench_cfd(
    path: pathlib.Path,
    ndim: int,
    *,
    n: int = 2,
    t: int = 3,
    sizes: tuple[int, ...] = SIZES,
    seed: int = 0,
    extra_time: bool = True,
) -> dict[str, np.ndarray]:
    """PDEBench CFD file: density, pressure, Vx.. [N, T, *spatial], coords, eta/zeta/M."""
    rng = np.random.default_rng(seed)
    shape = (n, t, *sizes[:ndim])
    arrays = {
        "density": rng.random(shape, dtype=np.float32) + 0.5,
        "pressure": rng.random(shape, dtype=np.float32),
    }
    for axis in AXES[:ndim]:
        arrays[f"V{axis}"] = rng.normal(size=shape).astype(np.float32)
    with h5py.File(path, "w") as f:
        for name, values in arrays.items():
            f[name] = values
        for axis, size in zip(AXES, sizes[:ndim], strict=False):
            f[f"{axis}-coordinate"] = centres(size).astype(np.float32)
        f["t-coordinate"] = 0.05 * np.arange(t + extra_time, dtype=np.float32)
        f.attrs.update(eta=0.01, zeta=0.1, M=1.0)
    return arrays


def write_pdebench_tensor(
    path: pathlib.Path, ndim: int, *, n: int = 2, t: int = 3, sizes=SIZES, seed: int = 0
) -> np.ndarray:
    """PDEBench single-field file: ``tensor`` [N, T, *spatial], coords and ``beta``."""
    tensor = np.random.default_rng(seed).random((n, t, *sizes[:ndim]), dtype=np.float32)
    with h5py.File(path, "w") as f:
        f["tensor"] = tensor
        for axis, size in zip(AXES, sizes[:ndim], strict=False):
            f[f"{axis}-coordinate"] = centres(size)
        f["t-coordinate"] = np.linspace(0.0, 1.0, t + 1)
        f.attrs["beta"] = 0.5
    return tensor


def write_pdebench_seeds(
    path: pathlib.Path, ndim: int, *, seeds: int = 3, t: int = 4, sizes=SIZES, channels: int = 2
) -> np.ndarray:
    """PDEBench multi-seed file; returns data of shape (seed, T, *spatial, C)."""
    rng = np.random.default_rng(7)
    data = rng.random((seeds, t, *sizes[:ndim], channels), dtype=np.float32)
    with h5py.File(path, "w") as f:
        for s in range(seeds):
            group = f.create_group(f"{s:04d}")
            group["data"] = data[s]
            for axis, size in zip(AXES, sizes[:ndim], strict=False):
                group[f"grid/{axis}"] = centres(size, 2.0) - 1.0
            group["grid/t"] = np.linspace(0.0, 0.5, t)
    return data


def write_pdebench_ns_incomp(
    path: pathlib.Path,
    *,
    n: int = 2,
    t: int = 3,
    sizes: tuple[int, int] = (8, 6),
    seed: int = 0,
    config: dict | None = None,
) -> dict[str, np.ndarray]:
    """PDEBench 2D incompressible Navier-Stokes file as ``data_io.h5_for`` lays it out.

    ``velocity`` [N, T, X, Y, 2], ``particles`` [N, T, X, Y, 1], ``force`` [N, X, Y, 2] and
    ``t`` [N, T], float32, chunked one frame per chunk with lzf + shuffle; root attributes
    ``config`` (the run's YAML, block style as OmegaConf writes it; ``config={}`` leaves
    it out) and ``latestIndex`` = T - 1. Frame k is at t = k * frame_int * DT, as
    ``sim_ns_incomp_2d`` stores it. Returns the arrays written.
    """
    import yaml  # a dependency of dask

    rng = np.random.default_rng(seed)
    grid = tuple(sizes)
    run = {
        "sim_name": "ns_sim_2d",
        "domain_size": [1, 1],
        "grid_size": list(grid),
        "particle_extrapolation": "BOUNDARY",
        "velocity_extrapolation": "ZERO",
        "NU": 0.01,
        "force_extrapolation": "ZERO",
        "seed": seed,
        "n_steps": 100 * t,
        "DT": 5e-05,
        "frame_int": 100,
        "n_batch": n,
    }
    run = run if config is None else config
    dt = 100 * 5e-05 if config is None else config.get("frame_int", 1) * config.get("DT", 1.0)
    arrays = {
        "velocity": rng.normal(size=(n, t, *grid, 2)).astype(np.float32),
        "particles": rng.random((n, t, *grid, 1), dtype=np.float32),
        "force": rng.normal(size=(n, *grid, 2)).astype(np.float32),
        "t": np.broadcast_to(np.arange(t) * dt, (n, t)).astype(np.float32),
    }
    with h5py.File(path, "w") as f:
        if run:
            f.attrs["config"] = yaml.safe_dump(run, default_flow_style=False, sort_keys=False)
        f.attrs["latestIndex"] = t - 1
        for name, values in arrays.items():
            chunks = (1, 1, *values.shape[2:])  # h5_for: one (sample, frame) per chunk
            dset = f.require_dataset(
                name, values.shape, "float32", compression="lzf", chunks=chunks, shuffle=True
            )
            dset[...] = values
    return arrays


def _flags(dset: h5py.Dataset, sample: bool, time: bool, dim_varying=None) -> None:
    dset.attrs["sample_varying"] = sample
    dset.attrs["time_varying"] = time
    if dim_varying is not None:
        dset.attrs["dim_varying"] = np.array(dim_varying)


def write_well(
    path: pathlib.Path,
    ndim: int = 2,
    *,
    n_traj: int = 2,
    n_time: int = 3,
    sizes: tuple[int, ...] = SIZES,
    names: tuple[str, ...] = AXES,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The Well file with scalar, vector and rank-2 tensor fields, scalars and BCs.

    Axis 0 is periodic, the last axis has walls (2D/3D). ``profile`` does not vary along
    the last axis (stored with length 1); ``obstacle`` is static and shared by samples.
    """
    rng = np.random.default_rng(seed)
    space = sizes[:ndim]
    lead = (n_traj, n_time)
    arrays = {
        "density": rng.random((*lead, *space), dtype=np.float32),
        "profile": rng.random((*lead, *space[:-1], 1), dtype=np.float32),
        "obstacle": (rng.random(space) > 0.7).astype(np.float32),
        "velocity": rng.normal(size=(*lead, *space, ndim)).astype(np.float32),
        "stress": rng.normal(size=(*lead, *space, ndim, ndim)).astype(np.float32),
        "Reynolds": rng.uniform(100, 1000, size=n_traj),
        "forcing": rng.random(lead),
    }
    with h5py.File(path, "w") as f:
        f.attrs.update(
            dataset_name="fixture_flow",
            grid_type="cartesian",
            n_spatial_dims=ndim,
            n_trajectories=n_traj,
            alpha=0.5,
            gamma_attr=2.0,
        )
        f.attrs["simulation_parameters"] = ["Reynolds", "alpha"]
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = list(names[:ndim])
        for name, size in zip(names, space, strict=False):
            _flags(dims.create_dataset(name, data=centres(size, 2 * np.pi)), False, False)
        _flags(dims.create_dataset("time", data=0.25 * np.arange(n_time)), False, True)
        fields = [f.create_group(g) for g in ("t0_fields", "t1_fields", "t2_fields")]
        fields[0].attrs["field_names"] = ["density", "profile", "obstacle"]
        fields[1].attrs["field_names"] = ["velocity"]
        fields[2].attrs["field_names"] = ["stress"]
        _flags(
            fields[0].create_dataset("density", data=arrays["density"]), True, True, [True] * ndim
        )
        varying = [True] * (ndim - 1) + [False]
        _flags(fields[0].create_dataset("profile", data=arrays["profile"]), True, True, varying)
        _flags(fields[0].create_dataset("obstacle", data=arrays["obstacle"]), False, False)
        _flags(
            fields[1].create_dataset("velocity", data=arrays["velocity"]), True, True, [True] * ndim
        )
        _flags(fields[2].create_dataset("stress", data=arrays["stress"]), True, True, [True] * ndim)
        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = ["Reynolds", "forcing"]
        _flags(scalars.create_dataset("Reynolds", data=arrays["Reynolds"]), True, False)
        _flags(scalars.create_dataset("forcing", data=arrays["forcing"]), True, True)
        bcs = f.create_group("boundary_conditions")
        _boundary(bcs, "periodic_0", names[0], "PERIODIC", space[0])
        if ndim > 1:
            _boundary(bcs, "wall_last", names[ndim - 1], "WALL", space[-1])
    return arrays


def _boundary(bcs: h5py.Group, name: str, dim: str, kind: str, size: int, edges=(0, -1)) -> None:
    group = bcs.create_group(name)
    group.attrs.update(
        associated_dims=[dim],
        associated_fields=[],
        bc_type=kind,
        sample_varying=False,
        time_varying=False,
    )
    mask = np.zeros(size, dtype=bool)
    mask[list(edges)] = True
    group["mask"] = mask
    group["values"] = np.zeros(mask.sum(), dtype=np.float32)


def write_netcdf_cf(path: pathlib.Path, *, seed: int = 0) -> xr.Dataset:
    """CF-style netCDF with dims (lon, time, lat), descending lat, a bounds variable and
    an int32 variable; returns the dataset written (before any canonicalisation)."""
    rng = np.random.default_rng(seed)
    lon = centres(8, 360.0)
    lat = (centres(6, 180.0) - 90.0)[::-1]
    time = np.array([0, 1, 2, 3], dtype=np.int32)
    ds = xr.Dataset(
        {
            "temp": (("lon", "time", "lat"), rng.normal(size=(8, 4, 6)).astype(np.float32)),
            "count": (("lon", "time", "lat"), rng.integers(0, 9, size=(8, 4, 6), dtype=np.int32)),
            "time_bnds": (("time", "nv"), np.stack([time, time + 1], axis=1)),
        },
        coords={
            "lon": lon,
            "lat": lat,
            "time": ("time", time, {"units": "days since 2000-01-01", "bounds": "time_bnds"}),
        },
    )
    ds["temp"].attrs["units"] = "K"
    ds.to_netcdf(path, engine="netcdf4")
    return ds


def truncate(source: pathlib.Path, target: pathlib.Path, fraction: float = 0.5) -> pathlib.Path:
    """Copy the first ``fraction`` of a file's bytes: a truncated download."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target

"""Tiny seeded canonical datasets for the training and artifact tests (and their own checks).

Built in code: 2D fields of 16 x 16 cells, smooth (wavenumbers <= 2 per axis) so every
model, the FNO included, can represent the maps exactly.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from surrogates.io import validate

N = 16


def centres(n: int = N) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


def smooth_fields(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Random sums of cosines with mode numbers <= 2, shape (*lead, N, N), float64."""
    rng = np.random.default_rng(seed)
    x = centres()
    gx, gy = np.meshgrid(x, x, indexing="ij")
    out = np.zeros((*shape, N, N))
    for index in np.ndindex(*shape):
        for kx in range(3):
            for ky in range(-2, 3):
                phase = rng.uniform(0, 2 * np.pi)
                out[index] += rng.normal() * np.cos(2 * np.pi * (kx * gx + ky * gy) + phase)
    return out


def stencil(a: np.ndarray) -> np.ndarray:
    """The map the map-task models learn: a local linear stencil on the last two axes."""
    neighbours = sum(np.roll(a, s, axis=ax) for s in (1, -1) for ax in (-1, -2))
    return 0.25 * neighbours - 0.5 * a


def _attrs(boundary: str) -> dict:
    return {
        "boundary_x": boundary,
        "boundary_y": boundary,
        "source": "<training fixture>",
        "source_format": "xarray",
    }


def map_dataset(n_sample: int = 1, boundary: str = "periodic", seed: int = 0) -> xr.Dataset:
    """Map task data: ``b = stencil(a) + 0.1 * omega * a`` with a per-sample parameter."""
    a = smooth_fields((n_sample,), seed)
    omega = np.linspace(0.5, 1.5, n_sample)
    b = stencil(a) + 0.1 * omega[:, None, None] * a
    dims = ("sample", "x", "y")
    return xr.Dataset(
        {
            "a": (dims, a.astype(np.float32)),
            "b": (dims, b.astype(np.float32)),
            "omega": (("sample",), omega),
        },
        coords={"sample": np.arange(n_sample), "x": centres(), "y": centres()},
        attrs=_attrs(boundary),
    )


def lead_dataset(n_sample: int = 2, n_time: int = 6, seed: int = 1) -> xr.Dataset:
    """Lead task data: ``u`` advected by one cell along x per frame where ``mask == 0``
    (frozen where ``mask == 1``), forcing amplitude ``f`` over (sample, time)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((N, N))
    mask[6:9, 6:9] = 1.0
    u = np.empty((n_sample, n_time, N, N))
    u[:, 0] = smooth_fields((n_sample,), seed)
    for t in range(1, n_time):
        u[:, t] = np.where(mask > 0, u[:, t - 1], np.roll(u[:, t - 1], 1, axis=-2))
    f = rng.uniform(0.2, 0.4, size=(n_sample, n_time))
    dims = ("sample", "time", "x", "y")
    return xr.Dataset(
        {
            "u": (dims, u.astype(np.float32)),
            "mask": (("x", "y"), mask.astype(np.float32)),
            "f": (("sample", "time"), f),
        },
        coords={
            "sample": np.arange(n_sample),
            "time": 0.5 * np.arange(n_time),
            "x": centres(),
            "y": centres(),
        },
        attrs=_attrs("periodic"),
    )


def vector_dataset(n: int = 8, n_sample: int = 3, seed: int = 2) -> xr.Dataset:
    """3D periodic vector map, cosmology-like: ``disp_a = 1.2 disp_za_a`` for a = x, y, z,
    which commutes with every cube symmetry; ``Omega_m`` per sample."""
    rng = np.random.default_rng(seed)
    x = centres(n)
    dims = ("sample", "x", "y", "z")
    data = {}
    for axis in "xyz":
        za = rng.normal(size=(n_sample, n, n, n))
        data[f"disp_za_{axis}"] = (dims, za.astype(np.float32))
        data[f"disp_{axis}"] = (dims, (1.2 * za).astype(np.float32))
    data["Omega_m"] = (("sample",), rng.uniform(0.2, 0.4, n_sample))
    attrs = {f"boundary_{a}": "periodic" for a in "xyz"}
    attrs.update(source="<vector fixture>", source_format="xarray")
    return xr.Dataset(data, coords={"sample": np.arange(n_sample), "x": x, "y": x, "z": x},
                      attrs=attrs)  # fmt: skip


def test_fixtures_are_canonical():
    for ds in (map_dataset(2), map_dataset(1, boundary="wall"), lead_dataset(), vector_dataset()):
        validate(ds)


def test_lead_fixture_advects_outside_the_mask():
    ds = lead_dataset()
    u, mask = ds.u.values, ds.mask.values > 0
    np.testing.assert_array_equal(u[:, 1][:, ~mask], np.roll(u[:, 0], 1, axis=-2)[:, ~mask])
    np.testing.assert_array_equal(u[:, 1][:, mask], u[:, 0][:, mask])

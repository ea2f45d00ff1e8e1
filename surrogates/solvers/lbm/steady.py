"""Steady states of lattice Boltzmann runs, as training pairs for steady-flow surrogates.

At the Reynolds numbers of the obstacle recipes (Re <= 60 on the obstacle size) the flow
past the obstacles becomes steady once the start-up sound waves have left through the
outlet. :func:`steady_state` averages a run's last frames (removing what is left of those
waves) and adds the fields a steady surrogate starts from:

- ``u_inflow``, the undisturbed inflow profile continued along the channel, which tells a
  convolutional network where the walls are and how fast the fluid goes;
- ``distance``, the signed distance to the nearest obstacle surface (negative inside,
  capped), :func:`obstacle_distance`: every fluid cell within the cap knows how far the
  nearest body is, not only the cells next to one (the input of Guo, Li & Iorio 2016,
  "Convolutional neural networks for steady flow approximation");
- ``wake_short`` and ``wake_long``, :func:`upstream_wake` of the mask with decay lengths
  of 0.5 m and 2 m: the obstacles upstream of a cell, carried downstream by a linear wake
  model. A network sees a fixed number of cells (the steady vnet of workflow 3: 0.8 m),
  while at these Reynolds numbers a body still meets fluid 30-40 % slower than the inflow
  1.2 m behind another one (the 8 m channel of workflow 3); without these inputs the
  network cannot know the wake is there and over-predicts the drag of shielded bodies.
  Computed once on the whole domain, like every input, so tiled rollouts stay exact.

and a loss weight, ``wall_weight`` (:func:`wall_weight`, for ``fit(loss_weight=...)``): 0
inside the obstacles, whose cells no force reads, and ``WALL_FACTOR`` in the fluid within
``WALL_BAND`` cells of their surface, whose pressure and shear are the force.
"""

from __future__ import annotations

import json

import numpy as np
import scipy.ndimage
import xarray as xr

from surrogates.errors import DataError
from surrogates.solvers.lbm.boundaries import inflow_profile

__all__ = ["obstacle_distance", "steady_state", "upstream_wake", "wall_weight"]

DISTANCE_CAP = 0.4  # metres: 10 cells at 24 per metre, 1.5 obstacle sizes
# Decay lengths (m) of the two wake inputs, and their lateral spread (m / sqrt(m)): a
# laminar wake widens diffusively, variance 2 nu x / U, and sqrt(2 nu / U) = 0.11-0.14
# in workflow 3's long channel (nu = 0.0061 m^2/s, U = 0.67-1 m/s).
WAKE_LENGTHS = {"wake_short": 0.5, "wake_long": 2.0}
WAKE_SPREAD = 0.15
# Loss weight of the fluid cells next to an obstacle (workflow 3, one run each: mean C_D
# error 4.6 % -> 3.9 %, C_L error 7.1 % -> 1.9 % of C_D with the wake inputs).
WALL_BAND, WALL_FACTOR = 2, 10.0

_STATE = ("p", "u_x", "u_y", "u_z")


def obstacle_distance(
    mask: np.ndarray, spacing: float, periodic: tuple[bool, ...], cap: float = DISTANCE_CAP
) -> np.ndarray:
    """Signed distance to the nearest obstacle surface, capped at ``+-cap``.

    Parameters
    ----------
    mask : ndarray of bool, shape (n_1, ..., n_d)
        True in solid cells.
    spacing : float
        Cell size (isotropic grids).
    periodic : tuple of bool
        Per axis: wrap around (a body near one face is near the other too).
    cap : float
        Largest magnitude returned: the field depends on the mask within ``cap`` only,
        so it is the same whether computed on a whole domain or on a piece of it with
        that much context (tiles).

    Returns
    -------
    ndarray of float32, shape (n_1, ..., n_d)
        Centre-to-centre distance from a fluid cell to the nearest solid cell minus half a
        cell (positive), or minus the distance from a solid cell to the nearest fluid cell
        plus half a cell (negative); ``cap`` everywhere without a body within ``cap``.
    """
    solid = np.asarray(mask, dtype=bool)
    if not solid.any():
        return np.full(solid.shape, cap, dtype=np.float32)
    halo = int(np.ceil(cap / spacing)) + 1
    widths = [(halo, halo) if p else (0, 0) for p in periodic]
    padded = np.pad(solid, widths, mode="wrap")
    outside = scipy.ndimage.distance_transform_edt(~padded, sampling=spacing)
    inside = scipy.ndimage.distance_transform_edt(padded, sampling=spacing)
    signed = np.where(padded, -(inside - 0.5 * spacing), outside - 0.5 * spacing)
    core = tuple(slice(lo, n - hi) for (lo, hi), n in zip(widths, padded.shape, strict=True))
    return np.clip(signed[core], -cap, cap).astype(np.float32)


def upstream_wake(
    mask: np.ndarray,
    spacing: float,
    periodic: tuple[bool, ...],
    length: float,
    spread: float = WAKE_SPREAD,
) -> np.ndarray:
    """Obstacles upstream of each cell, carried along the flow (axis 0) by a linear wake.

    The blockage of each solid cell (its length ``spacing``) is advected down axis 0,
    decays as ``exp(-s / length)`` over the distance ``s`` travelled and spreads across
    the flow like a diffusing laminar wake (a Gaussian of variance ``spread**2 * s``):

    ``W[i] = exp(-h / length) * G(W[i - 1] + h * mask[i - 1])``, ``W[0] = 0``

    with ``G`` a Gaussian blur over the cross-stream axes of standard deviation
    ``spread * sqrt(h)``, wrapped across periodic axes and mirrored at the others (walls
    and open faces: no blockage leaves the channel). Each step conserves the blockage
    (up to the decay): the cross-section sum of ``W`` a distance ``s`` behind a solid
    cell is ``h * exp(-s / length)``.

    Parameters
    ----------
    mask : ndarray of bool, shape (n_0, n_1, ..., n_{d-1})
        True in solid cells; axis 0 is the flow direction.
    spacing : float
        Cell size ``h`` in metres (isotropic grids).
    periodic : tuple of bool
        Per cross-stream axis (``d - 1`` entries): wrap around.
    length : float
        Decay length in metres.
    spread : float
        Lateral standard deviation gained over 1 m of travel squared, m / sqrt(m).

    Returns
    -------
    ndarray of float32, shape (n_0, ..., n_{d-1})
        Metres of obstacle upstream, decayed and spread; 0 upstream of every obstacle.
    """
    solid = np.asarray(mask, dtype=bool)
    if len(periodic) != solid.ndim - 1:
        raise DataError(
            f"upstream_wake: {len(periodic)} periodic flags for a {solid.ndim}D mask;"
            f" expected {solid.ndim - 1} (the cross-stream axes)"
        )
    if not (spacing > 0 and length > 0 and spread >= 0):
        raise DataError(
            f"upstream_wake: expected spacing > 0, length > 0, spread >= 0; got {spacing},"
            f" {length}, {spread}"
        )
    modes = ["wrap" if p else "reflect" for p in periodic]
    decay, sigma = np.exp(-spacing / length), spread * np.sqrt(spacing) / spacing
    out = np.zeros(solid.shape, dtype=np.float64)
    for i in range(1, solid.shape[0]):
        carried = out[i - 1] + spacing * solid[i - 1]
        out[i] = decay * scipy.ndimage.gaussian_filter(carried, sigma, mode=modes)
    return out.astype(np.float32)


def wall_weight(mask: np.ndarray, band: int = WALL_BAND, factor: float = WALL_FACTOR) -> np.ndarray:
    """Loss weights of a steady flow: 0 in solids, ``factor`` near them, 1 elsewhere.

    Parameters
    ----------
    mask : ndarray of bool, shape (n_1, ..., n_d)
        True in solid cells.
    band : int
        Fluid cells within ``band`` face-neighbour steps of a solid cell are "near".
    factor : float
        Their weight.

    Returns
    -------
    ndarray of float32, shape (n_1, ..., n_d)
    """
    solid = np.asarray(mask, dtype=bool)
    if int(band) != band or band < 0 or not factor >= 0:
        raise DataError(f"wall_weight: expected band >= 0 (int), factor >= 0; got {band}, {factor}")
    near = np.zeros_like(solid)
    if band and solid.any():
        faces = scipy.ndimage.generate_binary_structure(solid.ndim, 1)
        near = scipy.ndimage.binary_dilation(solid, faces, iterations=int(band)) & ~solid
    return np.where(solid, 0.0, np.where(near, factor, 1.0)).astype(np.float32)


def steady_state(ds: xr.Dataset, since: float | None = None) -> xr.Dataset:
    """Time average of an LBM run's frames from ``since`` on, with its input fields.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of the ``lbm`` solver (a recipe run): ``p`` and velocity components over
        ``([sample,] time, *spatial)``, ``mask``, ``Re``, ``U`` and the ``config`` attribute.
    since : float, optional
        First time averaged (default: every frame).

    Returns
    -------
    xarray.Dataset
        ``p, u_x, u_y[, u_z]`` of shape ``([sample,] 1, *spatial)`` (the mean, at the last
        averaged time), ``u_inflow`` of shape ``([sample,] *spatial)`` (``U`` times the
        inflow profile at every ``x``), ``distance`` (:func:`obstacle_distance` of the
        mask), ``wake_short`` and ``wake_long`` (:func:`upstream_wake` of the mask, decay
        lengths ``WAKE_LENGTHS``), ``wall_weight`` (:func:`wall_weight`, a loss weight),
        ``mask``, ``Re``, ``U``, the solver's force
        coefficients (every other variable over time) averaged the same way, and the
        attributes of ``ds`` plus ``steady_window`` (first and last time averaged) and
        ``steady_drift``: the largest change of any obstacle's solver drag coefficient
        over the window, relative to its mean (how far from steady the run still was).

    Raises
    ------
    DataError
        If ``ds`` is not an LBM run or no frame lies at or after ``since``.
    """
    source = ds.attrs.get("source", "dataset")
    dims = [d for d in ("x", "y", "z") if d in ds.dims]
    state = list(_STATE[: 1 + len(dims)])
    missing = [v for v in (*state, "mask", "U", "Re") if v not in ds]
    if missing or "config" not in ds.attrs or "time" not in ds.dims:
        raise DataError(
            f"{source}: steady_state needs an lbm run (fields {state}, mask, U, Re, a time"
            f" axis and the 'config' attribute); missing {missing or 'config/time'}"
        )
    times = ds["time"].values
    start = float(times[0]) if since is None else float(since)
    window = ds.sel(time=slice(start, None))
    if window.sizes["time"] == 0:
        raise DataError(
            f"{source}: no frame at or after t = {start} (frames span {times[0]}..{times[-1]})"
        )
    scalars = [v for v in ds.data_vars if "time" in ds[v].dims and v not in state]
    mean = window[[*state, *scalars]].mean("time")
    last = float(window["time"].values[-1])
    out = mean[state].expand_dims(time=[last], axis=1 if "sample" in ds.dims else 0)
    for name in scalars:
        out[name] = mean[name]
    out["u_inflow"] = _inflow(ds, dims)
    out.update(_mask_fields(ds, dims))
    for name in ("mask", "Re", "U"):
        out[name] = ds[name]
    out.attrs = {
        **ds.attrs,
        "steady_window": [float(window["time"].values[0]), last],
        "steady_drift": _drift(window, [v for v in scalars if v.startswith("drag_coefficient")]),
    }
    return out


def _inflow(ds: xr.Dataset, dims: list[str]) -> xr.DataArray:
    """``U`` times the solver's inflow profile, repeated along ``x``: ([sample,] *spatial)."""
    config = json.loads(ds.attrs["config"])
    centres = tuple(np.asarray(ds[d].values, dtype=np.float64) for d in dims)
    profile = inflow_profile(centres, tuple(config["size"]), tuple(config["boundary"]),
                             config["inflow"])  # fmt: skip
    field = np.broadcast_to(profile, (len(centres[0]), *profile.shape))
    along = xr.DataArray(field, dims=dims, coords={d: ds[d] for d in dims})
    inflow = (ds["U"].astype(np.float64) * along).astype(ds["u_x"].dtype)
    inflow.attrs = {"long_name": "undisturbed inflow velocity (x component)", "units": "m/s"}
    return inflow


def _mask_fields(ds: xr.Dataset, dims: list[str]) -> dict[str, xr.DataArray]:
    """``distance``, the wake inputs and ``wall_weight`` of each sample's mask (read once):
    ([sample,] *spatial) each."""
    if dims[0] != "x":
        raise DataError(f"steady_state: the flow runs along x, the first of {dims}")
    mask = ds["mask"].transpose(..., *dims)
    spacing = float(ds.attrs["dx"])
    periodic = tuple(ds.attrs.get(f"boundary_{d}") == "periodic" for d in dims)
    values = np.asarray(mask.values) > 0.5
    flat = values.reshape(-1, *values.shape[-len(dims) :])

    def field(per_sample: list[np.ndarray], long_name: str, units: str) -> xr.DataArray:
        out = np.stack(per_sample).reshape(values.shape)
        attrs = {"long_name": long_name, "units": units}
        return xr.DataArray(out, dims=mask.dims, coords=mask.coords, attrs=attrs)

    out = {
        "distance": field([obstacle_distance(m, spacing, periodic) for m in flat],
                          "signed distance to the nearest obstacle", "m"),
    }  # fmt: skip
    for name, length in WAKE_LENGTHS.items():
        wakes = [upstream_wake(m, spacing, periodic[1:], length) for m in flat]
        out[name] = field(wakes, f"obstacles upstream, linear wake decaying over {length} m", "m")
    out["wall_weight"] = field([wall_weight(m) for m in flat],
                               "loss weight: 0 in solids, larger next to them", "1")  # fmt: skip
    return out


def _drift(window: xr.Dataset, drags: list[str]) -> float:
    """Largest ``|C(last) - C(first)| / |mean C|`` of the drag series over the window.

    Series that are NaN (a sample with fewer obstacles than another) are skipped.
    """
    if not drags or window.sizes["time"] < 2:
        return 0.0
    worst = 0.0
    for name in drags:
        values = window[name].transpose(..., "time").values
        series = np.asarray(values, dtype=np.float64).reshape(-1, window.sizes["time"])
        scale = np.abs(series.mean(axis=1))
        change = np.abs(series[:, -1] - series[:, 0]) / np.where(scale > 0, scale, 1.0)
        finite = change[np.isfinite(change)]
        if finite.size:
            worst = max(worst, float(finite.max()))
    return worst

"""Forces on immersed bodies from (predicted) flow fields, force coefficients and the
Strouhal number.

Bodies are the connected components (face connectivity, ``scipy.ndimage.label``) of a
boolean mask, True inside solid cells. Two estimates of the force of the fluid on each
body, both written once for 2D and 3D:

``method="surface"``
    Staircase surface integral ``F = sum_faces (-p n + tau . n) dA`` over every cell face
    between a solid cell and a fluid cell (``n``: outward normal of the body). The wall
    pressure is extrapolated linearly from the two nearest fluid cells (``(3 p1 - p2) / 2``;
    ``p1`` alone when the second cell is not fluid); the viscous traction is the no-slip
    wall shear ``mu du_t/dn`` with the one-sided second-order gradient
    ``(9 u1 - u2) / (3 H)`` through the wall value 0 (``2 u1 / H`` with one fluid cell).
    The normal viscous stress ``2 mu du_n/dn`` vanishes at a no-slip wall (continuity).
``method="control_volume"``
    Steady momentum balance on a box around each body (its bounding box grown by
    ``margin`` cells, clipped to the domain), through the cell-centre planes of the box:
    ``F = oint (-p n + tau . n - rho u (u . n)) dA`` with ``tau = mu (grad u + grad u^T)``
    from second-order finite differences, trapezoidal quadrature. Valid for steady or
    time-averaged fields (the storage term ``d/dt int rho u`` is neglected).

Coefficients: ``C = 2 F / (rho U^2 A)``; in 2D the force is per unit depth and ``A`` is
a reference length (default: the body's extent across the drag axis, i.e. its projected
height, ``D`` for a cylinder), in 3D a reference area (default: frontal projected area).
``C_D`` is the component along ``drag_axis``, ``C_L`` along ``lift_axis`` and, in 3D,
``C_S`` (the side force) along the remaining axis: the transverse force of a body in 3D
has two components, and an off-centre body in a channel may be pushed mostly sideways.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.ndimage
import scipy.signal
import xarray as xr

from surrogates.diagnostics import _xr
from surrogates.errors import DataError

__all__ = ["force_coefficients", "strouhal"]

_AXES = ("x", "y", "z")
_AXES_NAMES = ["u_x", "u_y", "u_z"]


def _shift(arr: np.ndarray, axis: int, s: int, fill: Any) -> np.ndarray:
    """``out[i] = arr[i + s e_axis]``, ``fill`` where that index is outside the domain."""
    out = np.roll(arr, -s, axis=axis)
    edge = [slice(None)] * arr.ndim
    edge[axis] = slice(arr.shape[axis] - s, None) if s > 0 else slice(0, -s)
    out[tuple(edge)] = fill
    return out


def _surface(p, comps, mask, labels, nbody, grid, mu) -> np.ndarray:
    """Force (nbody, d) by staircase surface integration."""
    d = grid.ndim
    force = np.zeros((nbody, d))
    fluid = ~mask
    for a in range(d):
        area = float(np.prod([grid.spacing[j] for j in range(d) if j != a]))
        h = grid.spacing[a]
        for s in (1, -1):
            face = mask & _shift(fluid, a, s, False)
            if not face.any():
                continue
            body = labels[face] - 1
            two = _shift(fluid, a, 2 * s, False)[face]
            p1, p2 = _shift(p, a, s, 0.0)[face], _shift(p, a, 2 * s, 0.0)[face]
            p_wall = np.where(two, 1.5 * p1 - 0.5 * p2, p1)
            force[:, a] += np.bincount(body, weights=-p_wall * s * area, minlength=nbody)
            for i in range(d):
                if i == a or mu == 0.0:
                    continue
                u1 = _shift(comps[i], a, s, 0.0)[face]
                u2 = _shift(comps[i], a, 2 * s, 0.0)[face]
                dudn = np.where(two, (9.0 * u1 - u2) / (3.0 * h), 2.0 * u1 / h)
                force[:, i] += np.bincount(body, weights=mu * dudn * area, minlength=nbody)
    return force


def _trapezoid_weights(lo: int, hi: int, h: float) -> np.ndarray:
    w = np.full(hi - lo + 1, h)
    w[0] = w[-1] = 0.5 * h
    return w


def _control_volume(p, comps, box, grid, mu, rho, grads) -> np.ndarray:
    """Force (d,) from the momentum balance on the cell-centre box ``box`` [(lo, hi), ...]."""
    d = grid.ndim
    force = np.zeros(d)
    for a in range(d):
        others = [j for j in range(d) if j != a]
        weight = np.ones(())
        for j in others:
            w = _trapezoid_weights(*box[j], grid.spacing[j])
            weight = np.multiply.outer(weight, w)
        for s, plane in ((-1, box[a][0]), (1, box[a][1])):
            index = [slice(lo, hi + 1) for lo, hi in box]
            index[a] = plane
            at = tuple(index)
            un = comps[a][at] * s
            for i in range(d):
                tau = mu * (grads[i][a][at] + grads[a][i][at]) * s
                flux = -rho * comps[i][at] * un + tau - (p[at] * s if i == a else 0.0)
                force[i] += np.sum(flux * weight)
    return force


def _reference(labels, nbody, grid, drag_axis) -> np.ndarray:
    """Projected extent (2D) or frontal area (3D) of each body across ``drag_axis``."""
    cell = float(np.prod([h for j, h in enumerate(grid.spacing) if j != drag_axis]))
    ref = np.empty(nbody)
    for b in range(nbody):
        ref[b] = np.count_nonzero((labels == b + 1).any(axis=drag_axis)) * cell
    return ref


def force_coefficients(
    p: Any,
    u_x: Any,
    u_y: Any,
    u_z: Any = None,
    box_size: float | Sequence[float] | None = None,
    *,
    mask: Any,
    velocity: float,
    rho: float = 1.0,
    nu: float | None = None,
    mu: float | None = None,
    reference: float | None = None,
    method: str = "surface",
    drag_axis: int = 0,
    lift_axis: int = 1,
    margin: int = 3,
) -> xr.Dataset:
    """Force and force coefficients of each body in a flow field (see module docstring).

    Parameters
    ----------
    p, u_x, u_y, u_z : array-like, shape (n_1, ..., n_d), or DataArrays (..., x, y[, z])
        Pressure and velocity components (``u_z`` only in 3D); predicted or true fields.
    box_size : float or sequence of float, optional
        Domain side lengths ``n_i H_i``; read from the xarray coordinates when omitted.
    mask : array-like of bool, shape (n_1, ..., n_d)
        True in solid cells (static: no leading dims).
    velocity : float
        Reference velocity ``U``.
    rho : float
        Density.
    nu, mu : float
        Kinematic or dynamic viscosity (exactly one; 0 for inviscid).
    reference : float, optional
        Reference length (2D) or area (3D) for all bodies; default per body (see above).
    method : {"surface", "control_volume"}
    drag_axis, lift_axis : int
        Axes of the drag (the free stream) and lift components.
    margin : int
        Cells between a body's bounding box and its control volume.

    Returns
    -------
    xarray.Dataset
        Dims ``body`` (1..n_bodies, the mask labels) and ``component`` (x, y[, z]):
        ``force``, ``coefficient``, ``C_D``, ``C_L``, ``C_S`` (3D only), ``reference``,
        ``touches_boundary``.
    """
    if (nu is None) == (mu is None):
        raise DataError(f"force_coefficients: give exactly one of nu or mu, got {nu=}, {mu=}")
    if method not in ("surface", "control_volume"):
        raise DataError(f"method: got {method!r}, expected 'surface' or 'control_volume'")
    if not velocity > 0 or not rho > 0:
        raise DataError(f"velocity and rho must be positive, got {velocity}, {rho}")
    dyn = float(mu) if mu is not None else float(nu) * float(rho)
    if isinstance(mask, xr.DataArray):
        mask = mask.transpose(*_xr.spatial_dims(mask, "mask"))
    solid = _xr.to_numpy(mask, "mask").astype(bool)

    def core(arrays, grid, units):
        comps = [a.astype(np.float64) for a in arrays[1:] if a is not None]
        if len(comps) != grid.ndim or solid.shape != grid.shape:
            raise DataError(
                f"force_coefficients: got {len(comps)} velocity components and mask shape "
                f"{solid.shape} for grid {grid.shape}; expected {grid.ndim} and {grid.shape}"
            )
        if not {drag_axis, lift_axis} <= set(range(grid.ndim)) or drag_axis == lift_axis:
            raise DataError(f"drag_axis/lift_axis: got {drag_axis}, {lift_axis}")
        labels, nbody = scipy.ndimage.label(solid)
        if nbody == 0:
            raise DataError("force_coefficients: mask has no solid cells")
        pressure = arrays[0].astype(np.float64)
        if method == "surface":
            force = _surface(pressure, comps, solid, labels, nbody, grid, dyn)
        else:
            grads = [
                [np.gradient(c, grid.spacing[j], axis=j, edge_order=2) for j in range(grid.ndim)]
                for c in comps
            ]
            force = np.stack(
                [
                    _control_volume(
                        pressure, comps, _cv_box(sl, margin, grid.shape), grid, dyn, rho, grads
                    )
                    for sl in scipy.ndimage.find_objects(labels)
                ]
            )
        ref = (
            np.full(nbody, float(reference))
            if reference is not None
            else _reference(labels, nbody, grid, drag_axis)
        )
        coef = 2.0 * force / (rho * velocity**2 * ref[:, None])
        edge = _touches_boundary(labels, nbody)
        return _forces_dataset(force, coef, ref, edge, grid, drag_axis, lift_axis, method)

    return _xr.apply_fields(core, [p, u_x, u_y, u_z], box_size, ["p", *_AXES_NAMES])


def _cv_box(sl: tuple[slice, ...], margin: int, shape) -> list[tuple[int, int]]:
    return [
        (max(0, s.start - margin), min(n - 1, s.stop - 1 + margin))
        for s, n in zip(sl, shape, strict=True)
    ]


def _touches_boundary(labels: np.ndarray, nbody: int) -> np.ndarray:
    edge = np.zeros(nbody + 1, dtype=bool)
    for a in range(labels.ndim):
        for i in (0, -1):
            edge[np.unique(np.take(labels, i, axis=a))] = True
    return edge[1:]


def _forces_dataset(force, coef, ref, edge, grid, drag_axis, lift_axis, method) -> xr.Dataset:
    comp = list(_AXES[: grid.ndim])
    dims = ("body", "component")
    ds = xr.Dataset(
        {
            "force": (dims, force, {"long_name": "force of the fluid on the body"}),
            "coefficient": (dims, coef, {"long_name": "2 F / (rho U^2 A)"}),
            "C_D": ("body", coef[:, drag_axis]),
            "C_L": ("body", coef[:, lift_axis]),
            "reference": ("body", ref, {"long_name": "reference length (2D) or area (3D)"}),
            "touches_boundary": ("body", edge),
        },
        coords={"body": np.arange(1, force.shape[0] + 1), "component": comp},
    )
    if grid.ndim == 3:
        (side,) = {0, 1, 2} - {drag_axis, lift_axis}
        ds["C_S"] = ("body", coef[:, side])
    ds.attrs.update(method=method, normalisation="C = 2 F / (rho U^2 A); 2D per unit depth")
    return ds


def strouhal(
    signal: Any, dt: float, diameter: float, velocity: float, *, detrend: str = "linear"
) -> float:
    """Strouhal number ``St = f D / U`` of the dominant frequency of a (lift) time series.

    The signal is detrended (``scipy.signal.detrend``), Hann-windowed and transformed; the
    peak of the magnitude spectrum (DC excluded) is refined by a parabola through the log
    magnitudes of the three bins around it (Gaussian interpolation, bias well below a
    tenth of a bin for a Hann window).

    Parameters
    ----------
    signal : array-like, shape (n_steps,)
        Lift (or any force) coefficient sampled every ``dt``.
    """
    x = _xr.to_numpy(signal, "signal").astype(np.float64).ravel()
    if x.size < 16 or not np.all(np.isfinite(x)):
        raise DataError(f"strouhal: need >= 16 finite samples, got {x.size}")
    spec = np.abs(np.fft.rfft(scipy.signal.detrend(x, type=detrend) * np.hanning(x.size)))
    m = int(np.argmax(spec[1:])) + 1
    if m < 2 or m >= spec.size - 1:
        raise DataError(
            f"strouhal: dominant frequency at FFT bin {m} of {spec.size}: the series must "
            "hold at least 2 periods and be sampled above twice the frequency"
        )
    a, b, c = np.log(spec[m - 1 : m + 2] + 1e-300)
    delta = 0.5 * (a - c) / (a - 2.0 * b + c)
    frequency = (m + delta) / (x.size * float(dt))
    return frequency * float(diameter) / float(velocity)

"""The padded lattice of the solver: ghost layers, cell flags, open faces and the inflow
profile.

Every axis is ``"periodic"``, ``"wall"`` (no-slip, half-way bounce-back: the wall lies
half a cell outside the outermost cell centres, i.e. on the domain edge) or, for the first
axis only, ``"open"``: a velocity inlet on the first layer of cells and a pressure outlet
on the last (see :class:`OpenFace`). The grid is padded by one ghost layer per side.
Ghosts of walls are :data:`SOLID`; ghosts of periodic axes are refilled from the opposite
face before each sweep; ghosts of open faces are :data:`OPEN`: the populations they would
send are unknown, and :func:`~.kernels.open_face` completes the layer next to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from surrogates.solvers.lbm.kernels import FLUID, OPEN, SOLID
from surrogates.solvers.lbm.lattice import CS2, Lattice

__all__ = ["Domain", "OpenFace", "Sponge", "BOUNDARIES", "inflow_profile"]

BOUNDARIES = ("periodic", "wall", "open")


@dataclass(frozen=True)
class Domain:
    """Padded grid of ``shape`` interior cells with boundary kinds per axis.

    Attributes
    ----------
    shape : tuple of int
        Interior cells per axis.
    boundary : tuple of str
        Kind per axis (:data:`BOUNDARIES`; ``"open"`` on axis 0 only).
    solid : ndarray of bool, shape (*shape)
        Obstacle cells.
    """

    shape: tuple[int, ...]
    boundary: tuple[str, ...]
    solid: np.ndarray = field(repr=False)

    @property
    def padded(self) -> tuple[int, ...]:
        """Shape with ghost layers, ``shape + 2``."""
        return tuple(n + 2 for n in self.shape)

    @property
    def size(self) -> int:
        """Number of padded cells."""
        return int(np.prod(self.padded))

    @property
    def interior(self) -> tuple[slice, ...]:
        """Index of the interior within a padded array of shape (*padded)."""
        return (slice(1, -1),) * len(self.shape)

    def pad(self, a: np.ndarray) -> np.ndarray:
        """Pad an interior array (*shape) by one cell: wrapped along periodic axes, zero
        elsewhere; flattened, shape (size,)."""
        for axis, kind in enumerate(self.boundary):
            width = [(0, 0)] * a.ndim
            width[axis] = (1, 1)
            a = np.pad(a, width, mode="wrap" if kind == "periodic" else "constant")
        return a.ravel()

    def flags(self) -> np.ndarray:
        """Cell types over the padded grid, flattened, uint8, shape (size,).

        Obstacles are wrapped into periodic ghosts, so bounce-back works across a periodic
        edge; walls take precedence over open faces in the corners.
        """
        flag = np.where(self.pad(self.solid).reshape(self.padded), SOLID, FLUID).astype(np.uint8)
        if self.boundary[0] == "open":
            flag[0] = OPEN
            flag[-1] = OPEN
        for axis, kind in enumerate(self.boundary):
            if kind == "wall":
                lo = (slice(None),) * axis + (0,)
                hi = (slice(None),) * axis + (-1,)
                flag[lo] = SOLID
                flag[hi] = SOLID
        return flag.ravel()

    def fluid_cells(self) -> np.ndarray:
        """Flat padded indices of the interior fluid cells."""
        index = np.arange(self.size).reshape(self.padded)[self.interior]
        return index[~self.solid]

    def offsets(self, lattice: Lattice) -> np.ndarray:
        """Flat-index offset of each velocity, shape (q,)."""
        strides = np.array([int(np.prod(self.padded[a + 1 :])) for a in range(len(self.shape))])
        return (lattice.c @ strides).astype(np.int64)

    def span(self) -> tuple[int, int]:
        """Flat indices ``(start, stop)`` from the first to past the last interior cell.

        Every padded cell in between is interior or a ghost of an axis other than x.
        """
        index = np.arange(self.size).reshape(self.padded)[self.interior]
        return int(index.flat[0]), int(index.flat[-1]) + 1

    def face(self, high: bool, depth: int = 0) -> np.ndarray:
        """Flat indices of the first (``high=False``) or last interior layer of axis 0, or
        of the layer ``depth`` cells further inside."""
        index = np.arange(self.size).reshape(self.padded)
        layer = index[-2 - depth if high else 1 + depth]
        return np.ascontiguousarray(layer[self.interior[1:]].ravel())

    def fill_ghosts(self, f: np.ndarray) -> None:
        """Refill the periodic ghosts of ``f`` (q, size) in place."""
        view = f.reshape((f.shape[0],) + self.padded)
        for axis, kind in enumerate(self.boundary):
            if kind != "periodic":
                continue
            head = (slice(None),) * (axis + 1)
            view[head + (0,)] = view[head + (-2,)]
            view[head + (-1,)] = view[head + (1,)]

    def to_interior(self, a: np.ndarray) -> np.ndarray:
        """View of the interior of a flat padded array ``a`` of shape (..., size)."""
        return a.reshape(a.shape[:-1] + self.padded)[(Ellipsis,) + self.interior]


def inflow_profile(
    centres: tuple[np.ndarray, ...], size: tuple[float, ...], boundary: tuple[str, ...], kind: str
) -> np.ndarray:
    """Streamwise inflow velocity over the cross-section, relative to its maximum.

    Parameters
    ----------
    centres : tuple of ndarray
        Cell-centre coordinates per axis (axis 0 is ignored).
    size : tuple of float
        Physical extent per axis.
    boundary : tuple of str
        Boundary kind per axis; the parabolic profile vanishes on every wall.
    kind : {"parabolic", "uniform"}
        ``prod_walls 4 s (1 - s)`` with ``s = y / L_y`` (Poiseuille; the product over two
        walls is the Schafer-Turek 3D profile), or 1.

    Returns
    -------
    ndarray, shape (*shape[1:])
        Values in ``[0, 1]``.
    """
    shape = tuple(len(c) for c in centres[1:])
    profile = np.ones(shape)
    if kind == "uniform":
        return profile
    for axis in range(1, len(centres)):
        if boundary[axis] == "wall":
            s = centres[axis] / size[axis]
            view = [1] * len(shape)
            view[axis - 1] = -1
            profile = profile * (4.0 * s * (1.0 - s)).reshape(view)
    return profile


def mean_factor(boundary: tuple[str, ...], kind: str) -> float:
    """Mean over the cross-section of :func:`inflow_profile` (continuous): ``(2/3)^walls``."""
    if kind == "uniform":
        return 1.0
    return (2.0 / 3.0) ** sum(1 for kind_ in boundary[1:] if kind_ == "wall")


@dataclass(frozen=True)
class OpenFace:
    """An open face: its first interior layer and what is prescribed there.

    Attributes
    ----------
    cells : ndarray of int64, shape (m,)
        Flat padded indices of the layer.
    values : ndarray, shape (m, 3)
        Prescribed velocity (lattice units), or the density in column 0.
    spec : tuple of int
        ``(axis, inward sign, velocity?, regularized?)`` for :func:`~.kernels.open_face`.
    """

    cells: np.ndarray
    values: np.ndarray
    spec: tuple[int, int, int, int]


@dataclass(frozen=True)
class Sponge:
    """Damping zone before the outlet (see :func:`~.kernels.sponge`).

    Attributes
    ----------
    cells : ndarray of int64, shape (m,)
        Flat padded indices of the zone's cells.
    strength : ndarray, shape (m,)
        Damping per step, rising as ``MAX (s)^2`` from 0 at the zone's start to ``MAX`` at
        the outlet (``s`` the fraction of the zone crossed).
    mean : ndarray of float64, shape (m, 4)
        Running means of density and momentum (zeros beyond ``d``; updated in place).
    rate : float
        Running-mean rate per step: one sound crossing of the domain, ``c_s / n_x``.
    """

    cells: np.ndarray
    strength: np.ndarray
    mean: np.ndarray
    rate: float

    MAX = 0.1

    @classmethod
    def build(cls, domain: Domain, fraction: float) -> Sponge | None:
        """The zone covering the last ``fraction`` of axis 0, or None if it is empty."""
        nx = domain.shape[0]
        layers = int(round(fraction * nx))
        if layers < 1 or domain.boundary[0] != "open":
            return None
        index = np.arange(domain.size).reshape(domain.padded)[domain.interior]
        s = (np.arange(nx - layers, nx) - (nx - layers) + 1.0) / layers
        zone = index[nx - layers :]
        strength = np.broadcast_to(
            (cls.MAX * s**2).reshape((-1,) + (1,) * (len(domain.shape) - 1)), zone.shape
        )
        keep = ~domain.solid[nx - layers :]
        cells = zone[keep]
        mean = np.zeros((cells.size, 4))
        return cls(cells, strength[keep].copy(), mean, math.sqrt(CS2) / nx)

    def reset(self, f: np.ndarray, c: np.ndarray) -> None:
        """Start the running means at the density and momentum of ``f`` (q, n_cells)."""
        local = f[:, self.cells].astype(np.float64)
        self.mean[:, 0] = local.sum(axis=0)
        self.mean[:, 1 : 1 + c.shape[1]] = (c.T @ local).T

"""Forces on obstacles by momentum exchange, force coefficients and the Strouhal number.

Momentum exchange with half-way bounce-back on stationary walls (Ladd 1994; Mei, Yu, Shyy
& Luo 2002): a population ``f*_i`` leaving fluid cell ``x_f`` towards a solid cell
``x_f + c_i`` is reflected at the half-way point and comes back as ``f_opp(i)(x_f, t+1) =
f*_i(x_f, t)``, so each such link transfers ``2 f*_i(x_f, t) c_i`` to the body. The force
on obstacle ``k`` is the sum over its links, in lattice units (per unit depth in 2D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surrogates.errors import DataError
from surrogates.solvers.lbm.lattice import Lattice

__all__ = ["Links", "boundary_links", "momentum_exchange", "coefficients", "strouhal"]


@dataclass(frozen=True)
class Links:
    """Fluid-to-obstacle links: fluid ``cell`` (flat padded index), ``direction`` ``i``
    with ``cell + c_i`` inside obstacle ``obstacle``; each of shape (n_links,)."""

    cell: np.ndarray
    direction: np.ndarray
    obstacle: np.ndarray
    count: int

    def __len__(self) -> int:
        return len(self.cell)


def boundary_links(fluid: np.ndarray, labels: np.ndarray, off: np.ndarray, count: int) -> Links:
    """All links from interior fluid cells into obstacles.

    Parameters
    ----------
    fluid : ndarray of int64, shape (n_fluid,)
        Flat padded indices of the interior fluid cells.
    labels : ndarray of int, shape (n_cells,)
        Padded obstacle labels (wrapped into periodic ghosts), 0 outside obstacles,
        ``k + 1`` inside obstacle ``k``.
    off : ndarray of int64, shape (q,)
        Flat-index offset of each velocity.
    count : int
        Number of obstacles.
    """
    cells, dirs, obstacles = [], [], []
    for i, o in enumerate(off):
        target = labels[fluid + o]
        hit = target > 0
        cells.append(fluid[hit])
        dirs.append(np.full(int(hit.sum()), i, dtype=np.int64))
        obstacles.append(target[hit] - 1)
    return Links(np.concatenate(cells), np.concatenate(dirs), np.concatenate(obstacles), count)


def momentum_exchange(f: np.ndarray, links: Links, lattice: Lattice) -> np.ndarray:
    """Force on each obstacle, ``F_k = sum_links 2 f*_i(x_f) c_i`` (lattice units).

    Parameters
    ----------
    f : ndarray, shape (q, n_cells)
        Post-collision populations.
    links : Links
        From :func:`boundary_links`.
    lattice : Lattice
        Velocity set.

    Returns
    -------
    ndarray of float64, shape (count, d)
    """
    values = 2.0 * f[links.direction, links.cell].astype(np.float64)
    c = lattice.c[links.direction]
    out = np.empty((links.count, lattice.dim))
    for a in range(lattice.dim):
        out[:, a] = np.bincount(links.obstacle, weights=values * c[:, a], minlength=links.count)
    return out


def coefficients(force: np.ndarray, speed: float, reference: np.ndarray) -> np.ndarray:
    """Force coefficients ``C = 2 F / (rho_0 U^2 A)`` with ``rho_0 = 1`` (lattice units).

    Parameters
    ----------
    force : ndarray, shape (..., count, d)
        Forces in lattice units.
    speed : float
        Reference (mean inflow) speed in lattice units.
    reference : ndarray, shape (count,)
        Reference length (2D, per unit depth) or frontal area (3D) in lattice units.
    """
    return 2.0 * force / (speed**2 * np.asarray(reference)[:, None])


def strouhal(lift: np.ndarray, dt: float, diameter: float, velocity: float) -> float:
    """Strouhal number ``St = f D / U`` of the dominant oscillation of a lift signal.

    The frequency is the number of upward crossings of the signal's mean minus one, over
    the time between the first and last crossing (linear interpolation between samples).
    Pass only the periodic part of the record (after the start-up transient).

    Parameters
    ----------
    lift : ndarray, shape (n,)
        Lift (or lift coefficient) sampled every ``dt``.
    dt : float
        Sampling interval.
    diameter, velocity : float
        Reference length and speed, in units consistent with ``dt``.

    Raises
    ------
    DataError
        If the signal has fewer than two full periods.
    """
    s = np.asarray(lift, dtype=np.float64)
    s = s - s.mean()
    up = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))
    if len(up) < 3:
        raise DataError(
            f"strouhal: lift signal of {len(s)} samples has {max(len(up) - 1, 0)} full"
            " periods; expected at least 2 (record longer or sample finer)"
        )
    times = (up + s[up] / (s[up] - s[up + 1])) * dt
    frequency = (len(times) - 1) / (times[-1] - times[0])
    return float(frequency * diameter / velocity)

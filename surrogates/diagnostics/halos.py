"""Friends-of-friends halos in a periodic box and the halo mass function.

FoF (Davis et al. 1985, ApJ 292, 371): particles closer than the linking length
``b = linking_length * (V / N)^(1/d)`` (minimum-image distance, ``<= b``) are friends;
halos are the connected components with at least ``min_members`` particles.

Algorithm, O(N log N) and O(N) memory: sorted cell lists of fully linked cells (side below
``b / sqrt(3)``) and a union-find, in numba; see :mod:`surrogates.diagnostics._fof`.
2D positions are handled as 3D with one flat cell layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from surrogates.diagnostics._fof import friends
from surrogates.errors import DataError
from surrogates.ops.mesh import minimum_image

__all__ = ["HaloCatalog", "fof_halos", "mass_function"]


@dataclass(frozen=True, eq=False)
class HaloCatalog:
    """FoF halos, ordered by decreasing mass (ties: lowest particle index first).

    Attributes
    ----------
    masses : ndarray, shape (n_halos,)
        Sum of member particle masses.
    centres : ndarray, shape (n_halos, d)
        Periodic centre of mass in ``[0, L)``.
    n_members : ndarray, shape (n_halos,)
    labels : ndarray, shape (N,)
        Halo index of each particle (input order), ``-1`` outside halos.
    linking_length : float
        Absolute linking length ``b`` used.
    box_size : tuple of float
    """

    masses: np.ndarray
    centres: np.ndarray
    n_members: np.ndarray
    labels: np.ndarray
    linking_length: float
    box_size: tuple[float, ...]

    def __len__(self) -> int:
        return int(self.masses.size)

    def to_dataset(self) -> xr.Dataset:
        """The catalogue as an ``xarray.Dataset`` with dims ``halo`` and ``axis``."""
        axes = ["x", "y", "z"][: self.centres.shape[1]]
        return xr.Dataset(
            {
                "mass": ("halo", self.masses),
                "centre": (("halo", "axis"), self.centres),
                "n_members": ("halo", self.n_members),
            },
            coords={"axis": axes},
            attrs={"linking_length": self.linking_length, "box_size": list(self.box_size)},
        )


def _validate(positions, box_size) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] not in (2, 3) or pos.shape[0] == 0:
        raise DataError(f"fof_halos: positions: got shape {pos.shape}, expected (N, 2|3), N > 0")
    if not np.all(np.isfinite(pos)):
        raise DataError("fof_halos: positions contain NaN or infinite values")
    box = np.broadcast_to(np.asarray(box_size, dtype=np.float64), (pos.shape[1],)).copy()
    if not np.all(box > 0):
        raise DataError(f"fof_halos: box_size must be positive, got {box_size!r}")
    return np.mod(pos, box), box


def fof_halos(
    positions: np.ndarray,
    box_size: float | Sequence[float],
    linking_length: float = 0.2,
    min_members: int = 20,
    particle_mass: float | np.ndarray = 1.0,
) -> HaloCatalog:
    """Periodic friends-of-friends halo finder.

    Parameters
    ----------
    positions : ndarray, shape (N, d), d in {2, 3}
        Particle positions (wrapped into the box).
    box_size : float or sequence of d floats
    linking_length : float
        In units of the mean interparticle spacing ``(V / N)^(1/d)``.
    min_members : int
        Smallest group reported as a halo.
    particle_mass : float or ndarray, shape (N,)

    Returns
    -------
    HaloCatalog
        Masses, centres (periodic centre of mass, members unwrapped around one member by
        minimum image, so halos must be smaller than half the box), member counts and
        per-particle labels.
    """
    pos, box = _validate(positions, box_size)
    n, d = pos.shape
    b = float(linking_length) * (np.prod(box) / n) ** (1.0 / d)
    if not b > 0 or 2.0 * b >= box.min():
        raise DataError(f"fof_halos: linking length {b:.4g} must be in (0, min(L)/2)")
    mass = np.asarray(particle_mass, dtype=np.float64)
    if mass.shape not in ((), (n,)) or not np.all(mass > 0):
        raise DataError(
            f"fof_halos: particle_mass: got shape {mass.shape}, expected () or ({n},), > 0"
        )
    if d == 3:
        roots = friends(pos, box, b)
    else:  # 2D: a flat third axis thinner than b
        roots = friends(np.column_stack([pos, np.zeros(n)]), np.append(box, 0.5 * b), b)
    return _catalogue(pos, box, roots, np.broadcast_to(mass, (n,)), int(min_members), b)


def _catalogue(pos, box, roots, mass, min_members: int, b: float) -> HaloCatalog:
    """Halos (groups of >= min_members) from the FoF root of each particle."""
    d = pos.shape[1]
    uniq, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    big = np.flatnonzero(counts >= min_members)
    big = big[np.lexsort((uniq[big], -counts[big]))]  # by size, then lowest root index
    halo_of_group = np.full(uniq.size, -1, dtype=np.int64)
    halo_of_group[big] = np.arange(big.size)
    labels = halo_of_group[inverse]
    member = labels >= 0
    masses = np.bincount(labels[member], weights=mass[member], minlength=big.size)
    ref = pos[uniq[big]]  # one member (the group root) per halo
    dx = minimum_image(pos[member] - ref[labels[member]], box)
    centres = np.zeros((big.size, d))
    for a in range(d):
        centres[:, a] = np.bincount(labels[member], weights=mass[member] * dx[:, a],
                                    minlength=big.size)  # fmt: skip
    if big.size:
        centres = np.mod(ref + centres / masses[:, None], box)
    return HaloCatalog(masses, centres, counts[big], labels, b, tuple(float(x) for x in box))


def mass_function(
    masses: np.ndarray,
    box_size: float | Sequence[float],
    bins: int | Sequence[float] = 10,
) -> xr.Dataset:
    """Halo mass function ``dn/dlnM`` and cumulative ``n(>M)`` with Poisson errors.

    Parameters
    ----------
    masses : ndarray, shape (n_halos,)
    box_size : float or sequence of float
        Box side(s); the volume is their product (one value: a cube of the ``d`` given by
        ``len(box_size)``, 3 for a scalar).
    bins : int or sequence of float
        Number of logarithmic bins between the smallest and largest mass, or mass edges.

    Returns
    -------
    xarray.Dataset
        Coordinate ``mass`` (geometric bin centre); ``dn_dlnm`` and ``dn_dlnm_err``
        (``count / (V dlnM)`` and ``sqrt(count) / (V dlnM)``), ``n_above`` and
        ``n_above_err`` (number density of halos above the bin's lower edge), ``count``,
        ``mass_lo``, ``mass_hi``.
    """
    m = np.asarray(masses, dtype=np.float64).ravel()
    if m.size == 0 or not np.all(m > 0):
        raise DataError(f"mass_function: need positive halo masses, got {m.size} values")
    box = np.atleast_1d(np.asarray(box_size, dtype=np.float64))
    volume = float(np.prod(box)) if box.size > 1 else float(box[0]) ** 3
    if np.isscalar(bins) or np.ndim(bins) == 0:
        lo, hi = m.min(), m.max()
        edges = (
            np.geomspace(lo, hi * (1 + 1e-9), int(bins) + 1)
            if hi > lo
            else np.array([lo / 1.1, lo * 1.1])
        )
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] <= 0:
            raise DataError(f"mass_function: bins must be increasing positive edges, got {bins!r}")
    count = np.histogram(m, edges)[0].astype(np.float64)
    dlnm = np.diff(np.log(edges))
    above = np.array([(m >= e).sum() for e in edges[:-1]], dtype=np.float64)
    data = {
        "dn_dlnm": ("mass", count / (volume * dlnm)),
        "dn_dlnm_err": ("mass", np.sqrt(count) / (volume * dlnm)),
        "n_above": ("mass", above / volume),
        "n_above_err": ("mass", np.sqrt(above) / volume),
        "count": ("mass", count),
        "mass_lo": ("mass", edges[:-1]),
        "mass_hi": ("mass", edges[1:]),
    }
    coords = {"mass": ("mass", np.sqrt(edges[:-1] * edges[1:]), {"long_name": "geometric centre"})}
    return xr.Dataset(data, coords=coords, attrs={"volume": volume})

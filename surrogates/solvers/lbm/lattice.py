"""Lattice velocity sets (D2Q9, D3Q19) and the second-order equilibrium, written once for
any dimension.

A velocity set is every vector of ``{-1, 0, 1}^d`` with ``|c|^2 <= 2``, weighted by
``|c|^2``: D2Q9 takes ``(4/9, 1/9, 1/36)`` and D3Q19 ``(1/3, 1/18, 1/36)``. Both have the
lattice speed of sound ``c_s^2 = 1/3``. The rest velocity is always index 0; the opposite
of direction ``i`` is ``opp[i]``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from surrogates.errors import DataError

__all__ = ["Lattice", "get_lattice", "LATTICES", "CS2"]

CS2 = 1.0 / 3.0
"""Squared lattice speed of sound (lattice units)."""

_WEIGHTS = {"D2Q9": (2, (4 / 9, 1 / 9, 1 / 36)), "D3Q19": (3, (1 / 3, 1 / 18, 1 / 36))}
LATTICES = tuple(_WEIGHTS)


@dataclass(frozen=True)
class Lattice:
    """A DdQq velocity set.

    Attributes
    ----------
    name : str
        ``"D2Q9"`` or ``"D3Q19"``.
    c : ndarray of int64, shape (q, d)
        Discrete velocities; ``c[0]`` is the rest velocity.
    w : ndarray of float64, shape (q,)
        Quadrature weights.
    """

    name: str
    c: np.ndarray = field(repr=False)
    w: np.ndarray = field(repr=False)

    @property
    def dim(self) -> int:
        """Number of spatial dimensions ``d``."""
        return self.c.shape[1]

    @property
    def q(self) -> int:
        """Number of discrete velocities."""
        return self.c.shape[0]

    @property
    def opp(self) -> np.ndarray:
        """Index of the opposite velocity, shape (q,)."""
        keys = {tuple(v): i for i, v in enumerate(self.c)}
        return np.array([keys[tuple(-v)] for v in self.c], dtype=np.int64)

    @property
    def pairs(self) -> np.ndarray:
        """Each non-rest direction with its opposite once, shape ((q - 1) / 2, 2)."""
        opp = self.opp
        return np.array([(i, opp[i]) for i in range(1, self.q) if i < opp[i]], dtype=np.int64)

    @property
    def c3(self) -> np.ndarray:
        """Velocities padded to three components (zeros beyond ``d``), float64, shape (q, 3)."""
        out = np.zeros((self.q, 3))
        out[:, : self.dim] = self.c
        return out

    def equilibrium(self, rho: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Second-order equilibrium populations.

        Parameters
        ----------
        rho : ndarray, shape (*spatial)
            Density (lattice units).
        u : ndarray, shape (d, *spatial)
            Velocity (lattice units).

        Returns
        -------
        ndarray, shape (q, *spatial)
            ``w_i rho (1 + 3 c.u + 9/2 (c.u)^2 - 3/2 u.u)``.
        """
        cu = np.tensordot(self.c.astype(u.dtype), u, axes=(1, 0))
        usq = np.sum(u * u, axis=0)
        w = self.w.reshape((-1,) + (1,) * rho.ndim)
        return w * rho * (1.0 + 3.0 * cu + 4.5 * cu * cu - 1.5 * usq)

    def moments(self, f: np.ndarray, incompressible: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Density, shape (*spatial), and velocity, shape (d, *spatial), of ``f`` (q, *spatial).

        The velocity is ``j / rho``, or the momentum ``j`` itself for the incompressible
        model (reference density 1).
        """
        rho = f.sum(axis=0)
        j = np.tensordot(self.c.T.astype(f.dtype), f, axes=(1, 0))
        return rho, (j if incompressible else j / rho)


def _velocity_set(name: str) -> Lattice:
    dim, weights = _WEIGHTS[name]
    vectors = [v for v in itertools.product((0, 1, -1), repeat=dim) if sum(x * x for x in v) <= 2]
    vectors.sort(key=lambda v: sum(x * x for x in v))  # rest first, then axes, then edges
    c = np.array(vectors, dtype=np.int64)
    w = np.array([weights[int(np.sum(v * v))] for v in c])
    assert np.all(c[0] == 0) and abs(w.sum() - 1.0) < 1e-14
    return Lattice(name, c, w)


_CACHE: dict[str, Lattice] = {}


def get_lattice(name: str) -> Lattice:
    """The velocity set called ``name`` (``"D2Q9"`` or ``"D3Q19"``)."""
    if name not in _WEIGHTS:
        raise DataError(f"lattice={name!r}: unknown velocity set; expected one of {LATTICES}")
    if name not in _CACHE:
        _CACHE[name] = _velocity_set(name)
    return _CACHE[name]

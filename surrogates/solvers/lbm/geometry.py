"""Obstacle geometry on the cell-centre grid: balls (discs, spheres), cylinders, boxes and
seeded random obstacle fields, as boolean masks.

A cell belongs to a shape when its centre lies inside it (so a mask's area converges to
the shape's at first order in the cell size, faster on average). Grids are described by
``shape`` (cells per axis) and ``size`` (physical extent per axis, origin at 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from surrogates.errors import DataError

__all__ = [
    "cell_centres",
    "ball",
    "cylinder",
    "box",
    "Obstacle",
    "random_obstacles",
    "label_obstacles",
]

KINDS = ("ball", "cylinder", "box")


def cell_centres(shape: Sequence[int], size: Sequence[float]) -> tuple[np.ndarray, ...]:
    """Cell-centre coordinates ``(i + 1/2) L / n`` per axis."""
    return tuple((np.arange(n) + 0.5) * (length / n) for n, length in zip(shape, size, strict=True))


def _open_grid(shape, size) -> list[np.ndarray]:
    return list(np.meshgrid(*cell_centres(shape, size), indexing="ij", sparse=True))


def ball(shape, size, center: Sequence[float], diameter: float) -> np.ndarray:
    """Cells inside the ball ``|x - center| < diameter / 2`` (a disc in 2D), shape (*shape)."""
    grid = _open_grid(shape, size)
    r2 = sum((g - c) ** 2 for g, c in zip(grid, center, strict=True))
    return r2 < (0.5 * diameter) ** 2


def cylinder(shape, size, center: Sequence[float], diameter: float, axis: int = -1) -> np.ndarray:
    """Cells inside a circular cylinder spanning the domain along ``axis`` (3D), shape (*shape).

    In 2D the cylinder is the disc of :func:`ball`; ``center``'s coordinate along ``axis``
    is ignored in 3D.
    """
    if len(shape) == 2:
        return ball(shape, size, center, diameter)
    axis = axis % len(shape)
    grid = _open_grid(shape, size)
    r2 = sum((g - c) ** 2 for a, (g, c) in enumerate(zip(grid, center, strict=True)) if a != axis)
    return np.broadcast_to(r2 < (0.5 * diameter) ** 2, tuple(shape)).copy()


def box(shape, size, center: Sequence[float], extent: Sequence[float]) -> np.ndarray:
    """Cells inside the axis-aligned box of side lengths ``extent`` about ``center``."""
    grid = _open_grid(shape, size)
    inside = np.ones(tuple(shape), dtype=bool)
    for g, c, e in zip(grid, center, extent, strict=True):
        inside &= np.abs(g - c) < 0.5 * e
    return inside


@dataclass(frozen=True)
class Obstacle:
    """One obstacle: ``kind`` in ``("ball", "cylinder", "box")``, ``center`` (d,), ``size``
    (``(diameter,)`` for a ball or cylinder, side lengths (d,) for a box)."""

    kind: str
    center: tuple[float, ...]
    size: tuple[float, ...]

    def mask(self, shape: Sequence[int], size: Sequence[float]) -> np.ndarray:
        """Boolean mask of the obstacle, shape (*shape)."""
        if self.kind == "ball":
            return ball(shape, size, self.center, self.size[0])
        if self.kind == "cylinder":
            return cylinder(shape, size, self.center, self.size[0])
        return box(shape, size, self.center, self.size)

    @property
    def radius(self) -> float:
        """Radius of a ball that encloses the obstacle (the cross-section for a cylinder)."""
        if self.kind == "box":
            return 0.5 * math.sqrt(sum(e * e for e in self.size))
        return 0.5 * self.size[0]

    def frontal(self, size: Sequence[float]) -> float:
        """Reference length (2D) or area (3D) seen by a flow along axis 0.

        2D: the diameter, or a box's extent along ``y``. 3D: ``pi D^2 / 4`` for a ball,
        ``D L_z`` for a cylinder spanning the domain along ``z``, ``e_y e_z`` for a box.
        """
        d = len(self.center)
        if self.kind == "box":
            return float(np.prod(self.size[1:d]))
        diameter = self.size[0]
        if d == 2:
            return diameter
        return diameter * size[-1] if self.kind == "cylinder" else math.pi * diameter**2 / 4


def random_obstacles(
    shape: Sequence[int],
    size: Sequence[float],
    count: int,
    size_range: tuple[float, float],
    rng: np.random.Generator,
    region: tuple[float, float] = (0.1, 0.6),
    kinds: Sequence[str] = ("ball", "box"),
) -> list[Obstacle]:
    """Seeded, non-overlapping balls and cubes in a band of the channel.

    Each obstacle's kind is drawn from ``kinds`` and its diameter or side from
    ``size_range``; its centre is uniform in the band ``region`` (fractions of the length
    along axis 0) and across the section, keeping the enclosing ball at least two cells
    from the band's ends, the domain's sides and every other obstacle.

    Raises
    ------
    DataError
        If ``count`` obstacles do not fit after many attempts.
    """
    dx = size[0] / shape[0]
    clearance = 2.0 * dx
    lo, hi = region[0] * size[0], region[1] * size[0]
    placed: list[Obstacle] = []
    for _ in range(1000 * max(count, 1)):
        if len(placed) == count:
            break
        kind = kinds[int(rng.integers(len(kinds)))]
        extent = float(rng.uniform(*size_range))
        dims = (extent,) * len(shape) if kind == "box" else (extent,)
        trial = Obstacle(kind, (0.0,) * len(shape), dims)
        r = trial.radius + clearance
        bounds = [(lo + r, hi - r)] + [(r, length - r) for length in size[1:]]
        if any(a >= b for a, b in bounds):
            continue
        center = tuple(float(rng.uniform(a, b)) for a, b in bounds)
        if all(math.dist(center, o.center) >= r + o.radius for o in placed):
            placed.append(Obstacle(kind, center, dims))
    if len(placed) < count:
        raise DataError(
            f"obstacle_count={count}: only {len(placed)} obstacles of size {size_range} fit"
            f" in the band {region} of a domain of size {tuple(size)}; use fewer or smaller"
        )
    return placed


def label_obstacles(
    shape: Sequence[int], size: Sequence[float], obstacles: Sequence[Obstacle]
) -> np.ndarray:
    """Integer labels, shape (*shape): 0 fluid, ``k + 1`` inside obstacle ``k``.

    Raises
    ------
    DataError
        If two obstacles share a cell or an obstacle covers no cell.
    """
    labels = np.zeros(tuple(shape), dtype=np.int32)
    for k, obstacle in enumerate(obstacles):
        mask = obstacle.mask(shape, size)
        if not mask.any():
            raise DataError(f"obstacle {k} ({obstacle}) covers no cell; refine the grid")
        if (labels[mask] > 0).any():
            raise DataError(f"obstacle {k} ({obstacle}) overlaps another obstacle")
        labels[mask] = k + 1
    return labels

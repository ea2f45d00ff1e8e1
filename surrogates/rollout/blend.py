"""Partition-of-unity blending of overlapping tiles, for models that cannot tile exactly.

Same-size models (``fno``, padded ``unet``) see the faces of every window as an artificial
boundary, so a tile's output is least accurate near them. With a :class:`TilePlan` whose
``halo`` is an *overlap* ``o``, tile ``j`` along an axis evaluates the window
``[j t - o, j t + t + o)`` and its output covers that whole window. Each window cell gets
the raw weight

    r(q) = min(s(q), s(W - 1 - q)),   s(q) = sin^2(pi/2 (q + 1/2) / (2 o))  for q < 2 o, else 1,

which rises smoothly from ~0 at the window faces to 1 inside. ``s(q) + s(2 o - 1 - q) = 1``,
so two neighbours overlapping by ``2 o`` cells already sum to one; in general (domain
faces, a padded last tile, a window wrapping a small periodic axis) each domain cell's
weights are divided by their sum, making them an exact partition of unity. Weights are
separable, so the blend is a product of per-axis weights and the normalisation is
per axis.

Periodic axes wrap window positions modulo ``n``; on non-periodic axes positions outside
the domain are dropped. Everything here is pure index arithmetic on plain arrays.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from surrogates.rollout.tiling import TilePlan

__all__ = ["Piece", "ramp", "axis_pieces", "blend_pieces", "assemble_core", "blend_stitch"]


def ramp(window: int, overlap: int) -> np.ndarray:
    """Raw weights of the cells of a window of ``window`` cells, shape (window,) float64."""
    q = np.arange(window, dtype=np.float64)
    if overlap == 0:
        return np.ones(window)
    side = np.where(q < 2 * overlap, np.sin(0.5 * np.pi * (q + 0.5) / (2 * overlap)) ** 2, 1.0)
    return np.minimum(side, side[::-1])


@dataclass(frozen=True)
class Piece:
    """A contiguous run of one tile's output that lands in another tile's core (one axis).

    Attributes
    ----------
    source : int
        Tile index (along this axis) whose output is read.
    src : slice
        Cells of the source tile's window output.
    dst : slice
        Cells of the destination core (relative to the core start).
    weight : numpy.ndarray, shape (dst length,)
        Normalised blend weights of those cells.
    """

    source: int
    src: slice
    dst: slice
    weight: np.ndarray


def _positions(j: int, tile: int, overlap: int, window: int) -> np.ndarray:
    return np.arange(j * tile - overlap, j * tile - overlap + window)


def axis_pieces(n: int, tile: int, overlap: int, count: int, periodic: bool) -> list[list[Piece]]:
    """Per destination tile along one axis, the pieces of every tile's output covering it.

    Parameters
    ----------
    n : int
        Axis length.
    tile, overlap : int
        Core size and overlap (window = tile + 2 * overlap).
    count : int
        Number of tiles along the axis (``ceil(n / tile)``).
    periodic : bool
        Whether window positions wrap modulo ``n``.

    Returns
    -------
    list (per destination tile) of list of :class:`Piece`, in a fixed order
    """
    window = tile + 2 * overlap
    raw = ramp(window, overlap)
    total = np.zeros(n)
    for j in range(count):
        pos = _positions(j, tile, overlap, window)
        keep = np.ones(window, bool) if periodic else (pos >= 0) & (pos < n)
        np.add.at(total, pos[keep] % n, raw[keep])
    shifts = range(-math.ceil(window / n) - 1, math.ceil(window / n) + 2) if periodic else [0]
    out = []
    for i in range(count):
        lo, hi = i * tile, min((i + 1) * tile, n)
        pieces = []
        for j in range(count):
            first = j * tile - overlap
            for m in shifts:  # the core, shifted by a period, against window j
                a, b = max(lo + m * n, first), min(hi + m * n, first + window)
                if a < b:
                    src = slice(a - first, b - first)
                    dst = slice(a - m * n - lo, b - m * n - lo)
                    weight = raw[src] / total[a - m * n : b - m * n]
                    pieces.append(Piece(j, src, dst, weight))
        out.append(pieces)
    return out


def blend_pieces(plan: TilePlan, periodic: Sequence[bool]) -> list[list[list[Piece]]]:
    """:func:`axis_pieces` of every axis of a plan (``plan.halo`` is the overlap)."""
    return [
        axis_pieces(n, t, plan.halo, g, p)
        for n, t, g, p in zip(plan.shape, plan.tile, plan.grid, periodic, strict=True)
    ]


def assemble_core(
    index: Sequence[int],
    plan: TilePlan,
    pieces: list[list[list[Piece]]],
    read: Callable[[tuple[int, ...], tuple[slice, ...]], np.ndarray],
) -> np.ndarray:
    """Blended values of the core of tile ``index``.

    Parameters
    ----------
    index : sequence of int
        Grid position of the destination tile.
    plan : TilePlan
    pieces : output of :func:`blend_pieces`
    read : callable
        ``read(source_index, src_slices)`` returns that part of the source tile's output,
        shape (..., *lengths of src_slices), float32 or float64.

    Returns
    -------
    numpy.ndarray, shape (..., *core lengths), float32
        Contributions summed in a fixed order (deterministic for a given plan).
    """
    tile = plan.tile_at(index)
    acc = None
    for combo in itertools.product(*(pieces[a][i] for a, i in enumerate(index))):
        part = read(tuple(p.source for p in combo), tuple(p.src for p in combo))
        weight = _outer([p.weight for p in combo])
        if acc is None:
            lead = part.shape[: part.ndim - len(index)]
            acc = np.zeros(lead + tuple(b - a for a, b in tile.core), dtype=np.float64)
        acc[(Ellipsis, *(p.dst for p in combo))] += part * weight
    assert acc is not None, "every core cell is covered by its own window"
    return acc.astype(np.float32)


def _outer(weights: list[np.ndarray]) -> np.ndarray:
    out = weights[0]
    for w in weights[1:]:
        out = np.multiply.outer(out, w)
    return out


def blend_stitch(
    outputs: Sequence[np.ndarray], plan: TilePlan, periodic: Sequence[bool]
) -> np.ndarray:
    """Blend whole-window tile outputs (shape ``(..., *plan.window)``, plan order) into the domain.

    The in-memory reference of what the rollout engine does tile by tile.
    """
    if len(outputs) != len(plan):
        raise ValueError(f"got {len(outputs)} tile outputs for a plan of {len(plan)} tiles")
    pieces = blend_pieces(plan, periodic)

    def read(source: tuple[int, ...], src: tuple[slice, ...]) -> np.ndarray:
        return outputs[plan.flat_index(source)][(Ellipsis, *src)]

    lead = outputs[0].shape[: outputs[0].ndim - len(plan.shape)]
    result = np.empty(lead + plan.shape, dtype=np.float32)
    for tile in plan:
        result[(Ellipsis, *tile.core_slices)] = assemble_core(tile.index, plan, pieces, read)
    return result

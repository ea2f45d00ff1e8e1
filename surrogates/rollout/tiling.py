"""Pure tiling: plan core tiles over a domain, cut input windows with a halo, stitch outputs.

A model with ``halo`` h and ``alignment`` a maps an input window of ``c + 2h`` cells per
axis to an output core of ``c`` cells. Core tiles start at multiples of the core size
``t`` (itself a multiple of ``a``), so every window sits at an offset that is a multiple
of ``a`` from the whole-domain window: for a valid-convolution network this makes tiled
evaluation equal whole-domain evaluation. When the domain is not a multiple of ``a``, the
last core runs past the end of the domain and its extra cells are discarded; inputs past
the end come from the same boundary padding (periodic wrap, or the configured padding of
wall/open faces) that whole-domain evaluation uses.

Everything here is index arithmetic on plain integers; reading windows from (lazy)
arrays is :func:`surrogates.data.read_window`'s job.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Tile", "TilePlan", "plan_tiles", "stitch", "split"]


@dataclass(frozen=True)
class Tile:
    """One tile: its output core and the input window that produces it.

    Attributes
    ----------
    index : tuple of int
        Position of the tile in the tile grid.
    core : tuple of (start, stop)
        Output cells this tile owns, per axis, clipped to the domain.
    window_start : tuple of int
        First input cell of the window per axis (may be negative: padding or wrap).
    window_size : tuple of int
        Input window size per axis: padded core + 2 * halo.
    """

    index: tuple[int, ...]
    core: tuple[tuple[int, int], ...]
    window_start: tuple[int, ...]
    window_size: tuple[int, ...]

    @property
    def core_slices(self) -> tuple[slice, ...]:
        """Slices of the domain that this tile's output fills."""
        return tuple(slice(a, b) for a, b in self.core)

    @property
    def output_slices(self) -> tuple[slice, ...]:
        """Slices of the tile's (padded) output that land in the domain."""
        return tuple(slice(0, b - a) for a, b in self.core)


@dataclass(frozen=True)
class TilePlan:
    """Core tiles covering a domain exactly once, with their input windows.

    Attributes
    ----------
    shape : tuple of int
        Domain shape (spatial axes).
    tile : tuple of int
        Core tile size per axis (a multiple of ``alignment``).
    halo : int
        Input cells needed on each side of an output core.
    alignment : int
        Tile origins and core sizes are multiples of it.
    """

    shape: tuple[int, ...]
    tile: tuple[int, ...]
    halo: int
    alignment: int

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of tiles along each axis."""
        return tuple(math.ceil(n / t) for n, t in zip(self.shape, self.tile, strict=True))

    @property
    def padded_shape(self) -> tuple[int, ...]:
        """Domain rounded up to whole tiles (cells past ``shape`` are computed and dropped)."""
        return tuple(g * t for g, t in zip(self.grid, self.tile, strict=True))

    @property
    def window(self) -> tuple[int, ...]:
        """Input window size per axis."""
        return tuple(t + 2 * self.halo for t in self.tile)

    def __len__(self) -> int:
        return math.prod(self.grid)

    def __iter__(self) -> Iterator[Tile]:
        for index in itertools.product(*(range(g) for g in self.grid)):
            yield self.tile_at(index)

    def tile_at(self, index: Sequence[int]) -> Tile:
        """The tile at grid position ``index``."""
        starts = [i * t for i, t in zip(index, self.tile, strict=True)]
        core = tuple(
            (s, min(s + t, n)) for s, t, n in zip(starts, self.tile, self.shape, strict=True)
        )
        return Tile(
            index=tuple(index),
            core=core,
            window_start=tuple(s - self.halo for s in starts),
            window_size=self.window,
        )

    @property
    def overhead(self) -> float:
        """Input cells read per output cell: ``prod(window) * len(self) / prod(shape)``.

        The ideal (infinite-domain) value is ``prod((t + 2h) / t)``; padding the last
        tile past the domain adds to it.
        """
        return math.prod(self.window) * len(self) / math.prod(self.shape)

    @property
    def ideal_overhead(self) -> float:
        """Halo overhead ``prod((t + 2h) / t)`` of this tile size on an unbounded domain."""
        return math.prod((t + 2 * self.halo) / t for t in self.tile)

    def flat_index(self, index: Sequence[int]) -> int:
        """Position of the tile at grid ``index`` in iteration order."""
        return int(np.ravel_multi_index(tuple(index), self.grid))

    def to_dict(self) -> dict:
        """JSON-able form, inverse of :meth:`from_dict`."""
        return {"shape": list(self.shape), "tile": list(self.tile), "halo": self.halo,
                "alignment": self.alignment}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> TilePlan:
        """Rebuild from :meth:`to_dict` output."""
        return cls(tuple(data["shape"]), tuple(data["tile"]), int(data["halo"]),
                   int(data["alignment"]))  # fmt: skip

    def describe(self) -> str:
        """One line: tiles, core and window sizes, halo overhead against the ideal."""
        times = "x".join
        return (
            f"{len(self)} tiles ({times(map(str, self.grid))}) of core {times(map(str, self.tile))}"
            f", window {times(map(str, self.window))}: reads {self.overhead:.2f} input cells per"
            f" output cell (ideal {self.ideal_overhead:.2f} for this tile size)"
        )


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def plan_tiles(
    shape: Sequence[int],
    *,
    halo: int,
    alignment: int = 1,
    tile: int | Sequence[int] | None = None,
    max_window_cells: int | None = None,
    fits: Callable[[tuple[int, ...]], bool] | None = None,
) -> TilePlan:
    """Plan core tiles over a domain.

    Parameters
    ----------
    shape : sequence of int
        Domain shape (spatial axes only).
    halo : int
        Input cells the model needs on each side of an output core.
    alignment : int
        Tile sizes (and so origins) are rounded up to multiples of it.
    tile : int or sequence of int, optional
        Core tile size per axis. If None, the largest aligned tile whose window fits the
        budget is chosen (the halo overhead falls with tile size), never larger than the
        domain rounded up to the alignment; it is then shrunk to the smallest aligned size
        giving the same number of tiles per axis, so the last tile is padded as little as
        possible.
    max_window_cells : int, optional
        Cell budget of one input window.
    fits : callable, optional
        ``fits(tile) -> bool``: whether tiles of core size ``tile`` fit the budget; must be
        monotone (a smaller tile fits if a larger one does). Used when ``max_window_cells``
        is None. One of the two is required if ``tile`` is None.

    Returns
    -------
    TilePlan
    """
    shape = tuple(int(n) for n in shape)
    if halo < 0 or alignment < 1 or any(n < 1 for n in shape):
        raise ValueError(f"invalid plan: shape={shape}, halo={halo}, alignment={alignment}")
    full = tuple(_round_up(n, alignment) for n in shape)
    if tile is None:
        if max_window_cells is not None:
            budget = max_window_cells

            def fits(sizes: tuple[int, ...]) -> bool:
                return math.prod(s + 2 * halo for s in sizes) <= budget

        elif fits is None:
            raise ValueError("plan_tiles: give tile, max_window_cells or fits")
        sizes = _balanced(shape, _largest_tile(full, alignment, fits, halo), alignment)
    else:
        sizes = (int(tile),) * len(shape) if np.isscalar(tile) else tuple(int(t) for t in tile)
        if len(sizes) != len(shape):
            raise ValueError(f"tile has {len(sizes)} entries, domain has {len(shape)} axes")
        if any(t < 1 or t % alignment for t in sizes):
            raise ValueError(f"tile sizes {sizes} must be positive multiples of {alignment}")
        sizes = tuple(min(t, f) for t, f in zip(sizes, full, strict=True))
    return TilePlan(shape=shape, tile=sizes, halo=halo, alignment=alignment)


def _largest_tile(
    full: tuple[int, ...], alignment: int, fits: Callable[[tuple[int, ...]], bool], halo: int
) -> tuple[int, ...]:
    """Largest near-cubic aligned tile that fits: bisect a cube (clipped to the domain), then
    grow the smallest axis one aligned step at a time while it fits.

    Near-cubic tiles minimise the halo overhead ``prod((t + 2h) / t)`` for a given volume.
    """
    memo: dict[tuple[int, ...], bool] = {}

    def ok(sizes: Sequence[int]) -> bool:
        key = tuple(sizes)
        if key not in memo:
            memo[key] = bool(fits(key))
        return memo[key]

    def cube(k: int) -> tuple[int, ...]:
        return tuple(min(k * alignment, f) for f in full)

    if not ok(cube(1)):
        raise ValueError(
            f"a single aligned window ({alignment} + 2*{halo} per axis) exceeds the budget"
        )
    lo, hi = 1, max(full) // alignment  # ok(cube(lo)) holds
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(cube(mid)) else (lo, mid - 1)
    sizes = list(cube(lo))
    while True:
        grow = []
        for axis, f in enumerate(full):
            trial = list(sizes)
            trial[axis] = min(sizes[axis] + alignment, f)
            if sizes[axis] < f and ok(trial):
                grow.append(axis)
        if not grow:
            return tuple(sizes)
        axis = min(grow, key=lambda a: sizes[a])
        sizes[axis] = min(sizes[axis] + alignment, full[axis])


def _balanced(shape: Sequence[int], sizes: Sequence[int], alignment: int) -> tuple[int, ...]:
    """Smallest aligned tile giving the same tile count per axis (less padding, same fit)."""
    out = []
    for n, t in zip(shape, sizes, strict=True):
        count = math.ceil(n / t)
        out.append(min(t, _round_up(math.ceil(n / count), alignment)))
    return tuple(out)


def split(x: np.ndarray, plan: TilePlan, mode: str = "wrap") -> list[np.ndarray]:
    """Input windows of every tile of an in-memory array (reference implementation).

    Parameters
    ----------
    x : ndarray, shape (..., *plan.shape)
        Leading axes (channels) are kept.
    mode : str
        ``numpy.pad`` mode for cells outside the domain (``"wrap"`` for periodic axes).

    Returns
    -------
    list of ndarray, each of shape (..., *plan.window)
    """
    d = len(plan.shape)
    extra = [p - n for p, n in zip(plan.padded_shape, plan.shape, strict=True)]
    widths = [(0, 0)] * (x.ndim - d) + [(plan.halo, plan.halo + e) for e in extra]
    padded = np.pad(x, widths, mode=mode)
    out = []
    for tile in plan:
        index = tuple(
            slice(s + plan.halo, s + plan.halo + w)
            for s, w in zip(tile.window_start, tile.window_size, strict=True)
        )
        out.append(padded[(Ellipsis, *index)])
    return out


def stitch(outputs: Sequence[np.ndarray], plan: TilePlan) -> np.ndarray:
    """Assemble tile outputs (cores, shape ``(..., *plan.tile)``) into the domain.

    Each domain cell is written by exactly one tile; cells of a core past the domain
    end are dropped.
    """
    if len(outputs) != len(plan):
        raise ValueError(f"got {len(outputs)} tile outputs for a plan of {len(plan)} tiles")
    lead = outputs[0].shape[: outputs[0].ndim - len(plan.shape)]
    result = np.empty(lead + plan.shape, dtype=outputs[0].dtype)
    for tile, out in zip(plan, outputs, strict=True):
        result[(Ellipsis, *tile.core_slices)] = out[(Ellipsis, *tile.output_slices)]
    return result

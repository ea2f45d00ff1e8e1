"""Memory budget of a tiled rollout: sizes like ``"4GB"``, default budgets, bytes per tile.

Bytes per tile are *measured*, not guessed: :func:`~surrogates.rollout.trace.traced_peak`
traces :meth:`Surrogate.apply` with fake tensors at the exact window size, following every
tensor the pass creates and frees, plus the column buffers of im2col convolutions. Added
on top:

- other kernel workspaces (oneDNN re-layouts, FFT scratch, cuDNN): the peak is multiplied
  by :data:`WORKSPACE_FACTOR`. On this project's 2-core CPU machine the resident-set
  growth of a real forward was 0.99-1.05x the traced peak (``vnet`` width 2 and 16,
  ``fno`` width 16, windows 60-96^3), hence 1.15 on CPU; 1.3 on CUDA is an assumption;
- the pipeline around the model: five copies of each window (hyperslab pieces, the
  assembled window, the stacked batch, the next batch being read) and three of each
  output (the result, its host copy, the one being written);
- the chunks one window read decodes (:func:`read_bytes`);
- with a reliability estimator (``reliability=True``): its traced peak
  (:func:`~surrogates.rollout.trace.estimator_peak`) where it exceeds the surrogate's (it
  runs after the network, on its output), and three copies of its half-width map; the
  tiles also grow by the estimator's halo (:func:`~surrogates.rollout.halfwidth.extra_margin`).
  An estimator that cannot be traced is counted like a second surrogate pass.

On CPU one tile goes through the model per call (batching buys nothing there and costs
memory); on a GPU up to :data:`MAX_BATCH` tiles that fit the budget.

What the budget does not cover: the fixed footprint of the process (Python, torch and
the other libraries: about 0.5 GB), the state and outputs of an in-memory rollout, and
memory the C allocator keeps after it is freed. glibc's dynamic mmap threshold lets
freed buffers linger in per-thread heaps, so the resident set can exceed the live
memory by up to 2x; ``MALLOC_MMAP_THRESHOLD_=131072`` in the environment makes it track
the live memory (about 5% slower forwards here). The benchmark
(``benchmarks/bench_rollout.py``) measures both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil
import torch

from surrogates._bytes import parse_bytes
from surrogates.errors import DataError, ModelError
from surrogates.rollout.halfwidth import extra_margin
from surrogates.rollout.tiling import TilePlan, plan_tiles
from surrogates.rollout.trace import Tracer, estimator_peak, traced_peak

__all__ = [
    "WORKSPACE_FACTOR",
    "RolloutPlan",
    "default_budget",
    "parse_bytes",
    "plan_rollout",
    "read_bytes",
    "source_chunks",
    "tile_geometry",
    "traced_peak",
]

WORKSPACE_FACTOR = {"cpu": 1.15, "cuda": 1.3}
#: Fraction of the available host RAM (CPU) or free GPU memory used when no budget is given.
DEFAULT_FRACTION = {"cpu": 0.5, "cuda": 0.8}
MAX_BATCH = 8


def human(n: float) -> str:
    """Bytes as a short decimal size: ``"3.1 GB"``, ``"61 kB"``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def default_budget(device: torch.device) -> int:
    """Default budget: a fraction of the available host RAM, or of the free GPU memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(DEFAULT_FRACTION["cuda"] * free)
    return int(DEFAULT_FRACTION["cpu"] * psutil.virtual_memory().available)


def tile_geometry(surrogate: Any, single: bool = False) -> tuple[str, int]:
    """``("exact", halo)`` for models that tile exactly, ``("blend", overlap)`` otherwise.

    Blended tiles overlap by ``overlap`` cells per side: the model's ``halo`` (its receptive
    radius or configured overlap) or the training context, whichever is larger, rounded up
    to a multiple of the alignment so that every window sits on the model's down-sampling
    grid (cells deeper than the overlap inside a core are then exact for a padded U-Net
    whose receptive radius is at most twice the overlap). A ``single`` tile covering the whole
    domain gets only the training context, which is exactly whole-domain evaluation
    (``Surrogate.predict``): a periodic domain is then seen whole, without seams.
    """
    halo, trim, align = int(surrogate.halo), int(surrogate.trim), int(surrogate.alignment)
    if surrogate.exact_tiling and trim == halo:
        return "exact", halo
    if trim != 0:
        raise ModelError(
            f"rollout: {surrogate!r} trims {trim} cells per side but does not tile exactly;"
            " only exact (trim == halo) or same-size (trim == 0) models can be tiled"
        )
    context = max(surrogate.metadata.context)
    if single:
        return "blend", context + (-2 * context) % align // 2 if align > 1 else context
    return "blend", -(-max(halo, context) // align) * align


@dataclass(frozen=True)
class RolloutPlan:
    """A tile plan with its evaluation mode, batch and memory accounting.

    Attributes
    ----------
    tiles : TilePlan
        Cores and windows (``tiles.halo`` is the halo, or the blend overlap).
    mode : {"exact", "blend"}
    batch : int
        Tiles per model call (also the unit of progress records).
    budget : int
        Memory budget in bytes.
    unit_bytes : int
        Estimated working memory of one tile (module docstring).
    read_bytes : int
        Estimated chunk bytes decoded while reading one window (:func:`read_bytes`).
    """

    tiles: TilePlan
    mode: str
    batch: int
    budget: int
    unit_bytes: int
    read_bytes: int = 0

    @property
    def bytes(self) -> int:
        """Estimated working memory: ``batch * unit_bytes + read_bytes``."""
        return self.batch * self.unit_bytes + self.read_bytes

    def describe(self) -> str:
        return (
            f"{self.mode} tiling, {self.tiles.describe()}; batch {self.batch}, about"
            f" {human(self.bytes)} of a {human(self.budget)} budget"
        )


def _unit_bytes(surrogate: Any, mode: str, margin: int, device: str, estimator: Any = None):
    memo: dict[tuple[int, ...], int] = {}
    tracer = Tracer(surrogate)
    c_in, c_out = len(surrogate.task.inputs), len(surrogate.task.targets)
    factor = WORKSPACE_FACTOR.get(device, WORKSPACE_FACTOR["cpu"])
    trim = 0 if mode == "blend" else int(surrogate.halo)

    def unit_bytes(core: tuple[int, ...]) -> int:
        window = tuple(c + 2 * margin for c in core)
        if window not in memo:
            out = tuple(w - 2 * trim for w in window)
            io = 4 * (5 * c_in * math.prod(window) + 3 * c_out * math.prod(out))
            peak = tracer.peak(window, 1, device)
            if estimator is not None:
                extra = estimator_peak(estimator, (1, c_in, *window), (1, c_out, *out), device)
                peak = max(peak, 2 * peak if extra is None else extra)
                io += 4 * 3 * c_out * math.prod(out)
            memo[window] = int(factor * peak) + io
        return memo[window]

    return unit_bytes


Chunking = tuple[tuple[int, ...], int]  # per-axis chunk sizes, bytes per value


def source_chunks(state: Any, names: Sequence[str], axes: Sequence[str]) -> list[Chunking]:
    """Chunking of the variables windows are read from (dask chunks or on-disk chunks).

    Variables without chunks (in memory, or contiguous on disk) are read exactly and left
    out; they cost nothing beyond the window.
    """
    out = []
    for name in names:
        var = state[name].variable
        if var.chunks is not None:
            sizes = {d: max(c) for d, c in zip(var.dims, var.chunks, strict=True)}
        else:
            disk = var.encoding.get("chunks") or var.encoding.get("chunksizes")
            if not disk:
                continue
            sizes = dict(zip(var.dims, disk, strict=True))
        out.append((tuple(int(sizes[a]) for a in axes), var.dtype.itemsize))
    return out


def read_bytes(window: Sequence[int], shape: Sequence[int], sources: Sequence[Chunking]) -> int:
    """Decoded chunk bytes that reading one window may hold at once: every chunk it touches,
    in every variable (an upper bound: readers may decode chunks a few at a time)."""
    total = 0
    for chunk, itemsize in sources:
        axes = zip(window, chunk, shape, strict=True)
        touched = [min(-(-w // c) + 1, -(-n // c)) for w, c, n in axes]
        total += math.prod(touched) * math.prod(chunk) * itemsize
    return total


def plan_rollout(
    surrogate: Any,
    shape: tuple[int, ...],
    *,
    tile: int | tuple[int, ...] | None = None,
    memory: int | str | None = None,
    device: torch.device,
    items: int = 1,
    sources: Sequence[Chunking] = (),
    batch: int | None = None,
    estimator: Any = None,
) -> RolloutPlan:
    """Choose tiles and a batch that fit the memory budget (largest tiles first).

    The budget covers ``batch`` tiles in flight (traced peak plus pipeline buffers)
    and the chunks one window read decodes, from the initial state (``sources``, see
    :func:`source_chunks`) or, for a lead surrogate's later steps, from the store (chunked
    to the tile cores). ``items`` (independent fields per step) caps the batch together
    with the tile count. ``batch`` fixes the tiles per model call (default: 1 on CPU, as
    many as fit up to :data:`MAX_BATCH` on a GPU). ``estimator`` (a reliability
    attachment) widens the tiles by its halo and adds its memory (module docstring).

    Raises
    ------
    DataError
        The budget is too small for the smallest tile, or a given ``tile`` or ``batch``
        exceeds it.
    """
    given = parse_bytes(memory)
    budget = given if given is not None else default_budget(device)
    mode, margin = _geometry(surrogate, estimator)
    plan = _tiles(surrogate, shape, tile, budget, device, sources, mode, margin, estimator)
    if mode == "blend" and len(plan) == 1:  # one tile: whole-domain evaluation
        mode, margin = _geometry(surrogate, estimator, single=True)
        plan = _tiles(surrogate, shape, plan.tile, budget, device, sources, mode, margin,
                      estimator)  # fmt: skip
    unit_bytes = _unit_bytes(surrogate, mode, margin, device.type, estimator)(plan.tile)
    reading = _reading(surrogate, plan.tile, margin, shape, sources)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise DataError(f"rollout: batch={batch!r}, expected a positive integer")
    need = (batch or 1) * unit_bytes + reading
    if given is not None and need > budget:
        raise DataError(
            f"rollout: {batch or 1} tile(s) of {plan.tile} need about {human(need)}, over the"
            f" memory budget of {human(budget)}; give smaller tiles or a larger budget"
        )
    if batch is None:
        most = MAX_BATCH if device.type == "cuda" else 1
        batch = max(1, min((budget - reading) // unit_bytes, most, items * len(plan)))
    return RolloutPlan(plan, mode, int(batch), budget, unit_bytes, reading)


def _geometry(surrogate: Any, estimator: Any, single: bool = False) -> tuple[str, int]:
    """:func:`tile_geometry`, the margin grown so that the estimator's map covers the core:
    by its aligned halo (exact tiles), or to at least that (blended tiles)."""
    mode, margin = tile_geometry(surrogate, single)
    if estimator is None:
        return mode, margin
    extra = extra_margin(estimator, int(surrogate.alignment))
    return mode, margin + extra if mode == "exact" else max(margin, extra)


def _reading(surrogate: Any, core, margin: int, shape, sources) -> int:
    window = [c + 2 * margin for c in core]
    stored = []
    if surrogate.task.lead is not None:  # later steps read the store, chunked to the cores
        chunk = tuple(min(c, n) for c, n in zip(core, shape, strict=True))
        stored = [(chunk, 4)] * len(surrogate.task.inputs)
    return max(read_bytes(window, shape, sources), read_bytes(window, shape, stored))


def _tiles(surrogate, shape, tile, budget, device, sources, mode, margin, estimator=None):
    unit_bytes = _unit_bytes(surrogate, mode, margin, device.type, estimator)
    align = int(surrogate.alignment)
    if tile is not None:
        try:
            return plan_tiles(shape, halo=margin, alignment=align, tile=tile)
        except ValueError as err:
            raise DataError(f"rollout: tile={tile!r}: {err}") from None

    def fits(core: tuple[int, ...]) -> bool:
        return unit_bytes(core) + _reading(surrogate, core, margin, shape, sources) <= budget

    try:
        return plan_tiles(shape, halo=margin, alignment=align, fits=fits)
    except ValueError as err:
        core = (align,) * len(shape)
        smallest = unit_bytes(core) + _reading(surrogate, core, margin, shape, sources)
        raise DataError(
            f"rollout: {err}: memory budget {human(budget)}, the smallest tile needs"
            f" {human(smallest)}"
        ) from None

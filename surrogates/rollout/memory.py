"""Memory budget of a tiled rollout: sizes like ``"4GB"``, default budgets, bytes per tile.

Bytes per tile are *measured*, not guessed: the surrogate's network is rebuilt with
PyTorch's fake tensors (shapes only, no data, no arithmetic) and :meth:`Surrogate.apply` is
traced at the exact window size under a dispatch mode that follows every tensor the
forward pass creates and frees (:func:`traced_peak`). That is the peak of live tensor
storage, exactly, for that window. Added on top:

- the column buffer of every CPU convolution that PyTorch runs as im2col + GEMM (its
  fallback for small channel counts, and for transposed convolutions), asked of
  PyTorch's own backend selection; it lives inside the kernel and can be 27x the input;
- other kernel workspaces (oneDNN re-layouts, FFT scratch, cuDNN): the peak is multiplied
  by :data:`WORKSPACE_FACTOR`. On this project's 2-core CPU machine the resident-set
  growth of a real forward was 0.99-1.05x the traced peak (``vnet`` width 2 and 16,
  ``fno`` width 16, windows 60-96^3), hence 1.15 on CPU; 1.3 on CUDA is an assumption;
- the pipeline around the model: the next batch's windows being read (with the
  hyperslab pieces they are assembled from) and the previous batch's outputs being
  written, counted as three copies of each window and of each output;
- the chunks one window read decodes (:func:`read_bytes`).

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
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil
import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from surrogates.errors import DataError, ModelError
from surrogates.models import build
from surrogates.rollout.tiling import TilePlan, plan_tiles

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
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_IUNITS = {"ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def parse_bytes(value: int | float | str | None) -> int | None:
    """Bytes from ``4000000000``, ``"4GB"``, ``"4 GiB"``, ``"512MB"``, ``"1.5e9"`` (None passes).

    Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB) of 1024.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, scale = float(value), 1
    else:
        match = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([kmgt]i?)?b?\s*", str(value).lower())
        if match is None:
            raise DataError(f"memory: got {value!r}, expected bytes such as 4GB, 512MiB or 1e9")
        unit = match.group(2) or ""
        number, scale = float(match.group(1)), _IUNITS.get(unit) or _UNITS[unit]
    if not math.isfinite(number) or number <= 0:
        raise DataError(f"memory: got {value!r}, expected a positive size")
    return int(number * scale)


def default_budget(device: torch.device) -> int:
    """Default budget: a fraction of the available host RAM, or of the free GPU memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(DEFAULT_FRACTION["cuda"] * free)
    return int(DEFAULT_FRACTION["cpu"] * psutil.virtual_memory().available)


class _LiveBytes(TorchDispatchMode):
    """Follows the storages of every tensor created under it; records the peak live bytes."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__()
        self.device = device
        self.refs: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.live = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._track(t)
        name = func.overloadpacket.__name__
        if name in _CONVOLUTIONS and self.device == "cpu":
            transposed = "transpose" in name or (name == "convolution" and bool(args[6]))
            if transposed or _im2col(name, args):
                self.peak = max(self.peak, self.live + _conv_workspace(args, out, transposed))
        return out

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = storage._cdata
        if key not in self.refs:
            self.refs[key] = 0
            self.sizes[key] = storage.nbytes()
            self.live += self.sizes[key]
            self.peak = max(self.peak, self.live)
        self.refs[key] += 1
        weakref.finalize(t, self._release, key)

    def _release(self, key: int) -> None:
        self.refs[key] -= 1
        if self.refs[key] == 0:
            self.live -= self.sizes.pop(key)
            del self.refs[key]


_CONVOLUTIONS = {"convolution", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                 "conv_transpose2d", "conv_transpose3d"}  # fmt: skip


_IM2COL = {"Slow2d", "Slow3d", "SlowDilated2d", "SlowDilated3d"}


def _im2col(name: str, args: tuple) -> bool:
    """Whether PyTorch runs this (non-transposed) CPU convolution as im2col + GEMM.

    Asks PyTorch's own backend selection with uninitialised CPU tensors of the traced shapes
    (virtual memory only; pages are never touched); if that private API is unavailable,
    assumes im2col (the conservative answer).
    """
    x, weight = args[0], args[1]
    d = weight.ndim - 2
    if name == "convolution":
        stride, padding, dilation, groups = args[3], args[4], args[5], args[8]
    else:
        full = (*args, *([None] * 7))[:7]
        stride, padding, dilation, groups = full[3:7]
    stride, padding = stride or [1] * d, padding or [0] * d
    try:
        backend = torch._C._select_conv_backend(
            torch.empty(x.shape), torch.empty(weight.shape), None, list(stride),
            list(padding) if not isinstance(padding, str) else [0] * d, list(dilation or [1] * d),
            False, [0] * d, int(groups or 1),
        )  # fmt: skip
    except (AttributeError, RuntimeError, TypeError):
        return True
    return str(backend).rsplit(".", 1)[-1] in _IM2COL


def _conv_workspace(args: tuple, out: torch.Tensor, transposed: bool) -> int:
    """Bytes of the column buffer of an im2col convolution (PyTorch's CPU fallback for
    small channel counts, ``slow_conv3d`` / ``slow_conv_transpose3d``): input channels per
    group x kernel cells x output cells (for a transposed convolution: output channels per
    group x kernel cells x input cells), from the weight of shape (C, C' / groups, *kernel).

    It lives inside the kernel, invisible to tensor tracking, and can dwarf the activations
    (27x the input for a 3x3x3 kernel). Transposed convolutions are always counted (PyTorch
    3.x-era CPU kernels fall back to the column path for them).
    """
    x, weight = args[0], args[1]
    cells = math.prod((x if transposed else out).shape[2:]) * x.shape[0]
    return weight.shape[1] * math.prod(weight.shape[2:]) * cells * x.element_size()


class _Tracer:
    """The surrogate rebuilt with fake tensors (shapes and a CPU device, no storage)."""

    def __init__(self, surrogate: Any) -> None:
        spec = dict(surrogate.model.spec)
        self.n_in, self.n_par = len(surrogate.task.inputs), len(surrogate.task.params)
        self.fake = FakeTensorMode()
        with self.fake:
            self.copy = type(surrogate)(build(spec.pop("name"), **spec), surrogate.metadata)

    def peak(self, window: tuple[int, ...], batch: int, device: str) -> int:
        with self.fake:
            x = torch.empty((batch, self.n_in, *window))
            p = torch.empty((batch, self.n_par)) if self.n_par else None
            mode = _LiveBytes(device)
            with mode:
                y = self.copy.apply(x, p)
            del y
        return mode.peak


def traced_peak(
    surrogate: Any, window: tuple[int, ...], batch: int = 1, device: str = "cpu"
) -> int:
    """Peak live tensor bytes of ``surrogate.apply`` on a (batch, C_in, *window) input.

    Traced with fake tensors (no storage, no arithmetic); the input window itself is not
    counted. On ``device="cpu"`` the column buffers of im2col convolutions are added.
    """
    return _Tracer(surrogate).peak(tuple(window), batch, device)


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
            f" {self.bytes / 1e6:.0f} MB of a {self.budget / 1e6:.0f} MB budget"
        )


def _unit_bytes(surrogate: Any, mode: str, margin: int, device: str):
    memo: dict[tuple[int, ...], int] = {}
    tracer = _Tracer(surrogate)
    c_in, c_out = len(surrogate.task.inputs), len(surrogate.task.targets)
    factor = WORKSPACE_FACTOR.get(device, WORKSPACE_FACTOR["cpu"])

    def unit_bytes(core: tuple[int, ...]) -> int:
        window = tuple(c + 2 * margin for c in core)
        if window not in memo:
            out_cells = math.prod(window if mode == "blend" else core)
            io = 3 * 4 * (c_in * math.prod(window) + c_out * out_cells)
            peak = tracer.peak(window, 1, device)
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
) -> RolloutPlan:
    """Choose tiles and a batch that fit the memory budget (largest tiles first).

    The budget covers ``batch`` tiles in flight (:func:`traced_peak` plus pipeline buffers)
    and the chunks one window read decodes, from the initial state (``sources``, see
    :func:`source_chunks`) or, for a lead surrogate's later steps, from the store (chunked
    to the tile cores). ``items`` (independent fields per step) caps the batch together
    with the tile count.

    Raises
    ------
    DataError
        The budget is too small for the smallest tile, or a given ``tile`` exceeds it.
    """
    given = parse_bytes(memory)
    budget = given if given is not None else default_budget(device)
    mode, margin = tile_geometry(surrogate)
    plan = _tiles(surrogate, shape, tile, budget, device, sources, mode, margin)
    if mode == "blend" and len(plan) == 1:  # one tile: whole-domain evaluation
        mode, margin = tile_geometry(surrogate, single=True)
        plan = _tiles(surrogate, shape, plan.tile, budget, device, sources, mode, margin)
    unit_bytes = _unit_bytes(surrogate, mode, margin, device.type)(plan.tile)
    reading = _reading(surrogate, plan.tile, margin, shape, sources)
    if given is not None and unit_bytes + reading > budget:
        raise DataError(
            f"rollout: tile {plan.tile} needs about {(unit_bytes + reading) / 1e6:.1f} MB, over"
            f" the memory budget of {budget / 1e6:.1f} MB; give a smaller tile or a larger budget"
        )
    batch = max(1, min((budget - reading) // unit_bytes, MAX_BATCH, items * len(plan)))
    return RolloutPlan(plan, mode, int(batch), budget, unit_bytes, reading)


def _reading(surrogate: Any, core, margin: int, shape, sources) -> int:
    window = [c + 2 * margin for c in core]
    stored = []
    if surrogate.task.lead is not None:  # later steps read the store, chunked to the cores
        chunk = tuple(min(c, n) for c, n in zip(core, shape, strict=True))
        stored = [(chunk, 4)] * len(surrogate.task.inputs)
    return max(read_bytes(window, shape, sources), read_bytes(window, shape, stored))


def _tiles(surrogate, shape, tile, budget, device, sources, mode, margin) -> TilePlan:
    unit_bytes = _unit_bytes(surrogate, mode, margin, device.type)
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
            f"rollout: {err}: memory budget {budget / 1e6:.1f} MB, the smallest tile needs"
            f" {smallest / 1e6:.1f} MB"
        ) from None

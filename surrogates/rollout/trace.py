"""Peak memory of one forward pass, traced with fake tensors (no data, no arithmetic).

:func:`traced_peak` rebuilds the surrogate's network with PyTorch's fake tensors (shapes
and a CPU device, no storage) and runs :meth:`Surrogate.apply` on a window of the exact
size under a dispatch mode that follows every tensor the pass creates and frees: the peak
of live tensor storage, exactly. On CPU it adds the column buffer of every convolution
PyTorch runs as im2col + GEMM (its fallback for small channel counts, and for transposed
convolutions), which lives inside the kernel and can be 27x the input.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from surrogates.models import build

__all__ = ["Tracer", "estimator_peak", "traced_peak"]


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


class Tracer:
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
    return Tracer(surrogate).peak(tuple(window), batch, device)


def estimator_peak(
    estimator: Any, x: tuple[int, ...], y: tuple[int, ...], device: str = "cpu"
) -> int | None:
    """Peak live tensor bytes of ``estimator.halfwidth`` on windows of shapes ``x``, ``y``.

    Traced with fake tensors as :func:`traced_peak` (the estimator's own weights are
    converted on the fly); the inputs themselves are not counted. None if the estimator
    cannot be traced (an operation without a fake-tensor kernel).
    """
    fake = FakeTensorMode(allow_non_fake_inputs=True)
    try:
        with fake:
            xs, ys = torch.empty(x), torch.empty(y)
            mode = _LiveBytes(device)
            with mode:
                h = estimator.halfwidth(xs, ys, 1)
            del h
    except (RuntimeError, TypeError, NotImplementedError):
        return None
    return mode.peak

"""Complex spectral weights of a Fourier layer: dense, CP and Tucker factorised.

A spectral weight maps the retained Fourier modes of ``in_channels`` fields to
``out_channels`` fields, ``y[b, o, k] = sum_i W[i, o, k] x[b, i, k]`` for every retained
mode ``k`` (a multi-index). The dense weight stores ``W`` mode-major, shape
``(*mode_shape, in_channels, out_channels)``, so the contraction is one batched matrix
product over the modes; the factorised ones never materialise ``W``:

- CP (rank ``r``): ``W[i, o, k1..kd] = sum_r A[i, r] B[o, r] K1[k1, r] ... Kd[kd, r]``,
  ``r * (in + out + sum(mode_shape))`` complex numbers.
- Tucker (ranks ``(r_in, r_out, r_1..r_d)``): a core ``G`` of the rank shape multiplied by
  one factor matrix per axis.

All are contracted over the whole block of retained modes at once (``torch.einsum`` and
batched matrix products, no loop over modes).
Complex numbers are stored as real tensors with a trailing axis of 2 (real, imaginary)
so optimisers, checkpoints and distributed reductions see ordinary float parameters.

``mode_shape`` lists the weight extent per spatial axis: ``2 m`` on every axis but the last
(frequencies ``0..m-1`` then ``-m..-1``) and ``m`` on the last (``0..m-1``, real FFT).
``counts`` passed to :meth:`contract` give how many positive and negative frequencies the
current grid retains per axis (fewer than ``m`` on grids too small for ``m`` modes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["CPWeight", "DenseWeight", "TuckerWeight", "mode_matmul", "select_modes"]

_LETTERS = "xyzuvw"

Counts = Sequence[tuple[int, int]]
"""Per spatial axis, ``(positive, negative)`` retained frequencies (negative 0 on the last)."""


def _complex_param(*shape: int, std: float) -> nn.Parameter:
    """A complex parameter with i.i.d. entries of variance ``std**2`` stored as (..., 2)."""
    return nn.Parameter(torch.randn(*shape, 2) * (std / math.sqrt(2.0)))


def select_modes(t: torch.Tensor, dim: int, full: int, pos: int, neg: int) -> torch.Tensor:
    """Keep the first ``pos`` and last ``neg`` entries of axis ``dim`` (length ``full``)."""
    if pos + neg == full:
        return t
    if neg == 0:
        return t.narrow(dim, 0, pos)
    return torch.cat([t.narrow(dim, 0, pos), t.narrow(dim, full - neg, neg)], dim=dim)


class _ComplexBmm(torch.autograd.Function):
    """``torch.bmm`` for complex tensors with a backward that avoids slow kernel paths.

    Autograd's own backward multiplies by conjugate-transposed views, which the CPU kernel
    handles one matrix at a time (thousands of small copies for a block of Fourier modes).
    Here only the small activation-sized operands are conjugated explicitly, and the
    weight enters through a plain transposed view that BLAS takes as is:
    ``grad_x = conj(conj(grad) @ w^T)`` and ``grad_w = conj(x)^T @ grad``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        return torch.bmm(x, w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x, w = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_conj = grad.conj().resolve_conj()
            grad_x = torch.bmm(grad_conj, w.transpose(1, 2)).conj().resolve_conj()
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(x.conj().resolve_conj().transpose(1, 2), grad)
        return grad_x, grad_w


def mode_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-mode channel mixing ``y[b, o, k] = sum_i x[b, i, k] w[k, i, o]``.

    Parameters
    ----------
    x : Tensor, shape (batch, in, *k), complex
    w : Tensor, shape (prod(k), in, out), complex

    Returns
    -------
    Tensor, shape (batch, out, *k), complex
    """
    batch, channels, *k = x.shape
    modes = list(range(2, x.ndim))
    xs = x.permute(*modes, 0, 1).reshape(-1, batch, channels)  # (K, batch, in), contiguous
    y = _ComplexBmm.apply(xs, w)
    return y.reshape(*k, batch, w.shape[-1]).permute(-2, -1, *range(len(k)))


class DenseWeight(nn.Module):
    """Dense complex weight, stored mode-major as ``(*mode_shape, in_channels, out_channels)``."""

    def __init__(self, in_channels: int, out_channels: int, mode_shape: Sequence[int]) -> None:
        super().__init__()
        self.mode_shape = tuple(mode_shape)
        std = math.sqrt(2.0 / (in_channels + out_channels))
        self.weight = _complex_param(*self.mode_shape, in_channels, out_channels, std=std)

    def contract(self, x: torch.Tensor, counts: Counts) -> torch.Tensor:
        """Apply the weight to modes ``x`` of shape (batch, in, *k); returns (batch, out, *k)."""
        w = torch.view_as_complex(self.weight)
        for axis, ((pos, neg), full) in enumerate(zip(counts, self.mode_shape, strict=True)):
            w = select_modes(w, axis, full, pos, neg)
        return mode_matmul(x, w.reshape(-1, *w.shape[-2:]))


class CPWeight(nn.Module):
    """Canonical-polyadic (CP) factorised complex weight of rank ``rank``."""

    def __init__(
        self, in_channels: int, out_channels: int, mode_shape: Sequence[int], rank: int
    ) -> None:
        super().__init__()
        self.mode_shape = tuple(mode_shape)
        # Entries of W are sums of `rank` products of (2 + d) factors; choose the factor
        # scale so that W has the dense initial variance 2 / (in + out).
        order = 2 + len(self.mode_shape)
        var = 2.0 / (in_channels + out_channels)
        std = (var / rank) ** (1.0 / (2 * order))
        self.factor_in = _complex_param(in_channels, rank, std=std)
        self.factor_out = _complex_param(out_channels, rank, std=std)
        self.factor_modes = nn.ParameterList(
            _complex_param(n, rank, std=std) for n in self.mode_shape
        )
        ax = _LETTERS[: len(self.mode_shape)]
        self._outer = ",".join(f"{a}r" for a in ax) + f"->r{ax}"
        self._in = f"bi{ax},ir->br{ax}"
        self._out = f"br{ax},or->bo{ax}"

    def contract(self, x: torch.Tensor, counts: Counts) -> torch.Tensor:
        """Apply the weight to modes ``x`` of shape (batch, in, *k); returns (batch, out, *k)."""
        modes = [
            select_modes(torch.view_as_complex(f), 0, full, pos, neg)
            for f, full, (pos, neg) in zip(self.factor_modes, self.mode_shape, counts, strict=True)
        ]
        kernel = torch.einsum(self._outer, *modes)  # (rank, *k): small
        h = torch.einsum(self._in, x, torch.view_as_complex(self.factor_in)) * kernel
        return torch.einsum(self._out, h, torch.view_as_complex(self.factor_out))


class TuckerWeight(nn.Module):
    """Tucker factorised complex weight with ranks ``(r_in, r_out, r_1, ..., r_d)``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mode_shape: Sequence[int],
        ranks: Sequence[int],
    ) -> None:
        super().__init__()
        self.mode_shape = tuple(mode_shape)
        dims = (in_channels, out_channels, *self.mode_shape)
        assert len(ranks) == len(dims) and all(
            1 <= r <= n for r, n in zip(ranks, dims, strict=True)
        )
        self.ranks = tuple(ranks)
        # Factors have entries of variance 1/n (columns of norm ~1); the core variance makes
        # W's variance match the dense initialisation 2 / (in + out).
        var = (
            2.0
            / (in_channels + out_channels)
            * math.prod(n / r for n, r in zip(dims, ranks, strict=True))
        )
        self.core = _complex_param(*self.ranks, std=math.sqrt(var))
        self.factors = nn.ParameterList(
            _complex_param(n, r, std=1.0 / math.sqrt(n))
            for n, r in zip(dims, self.ranks, strict=True)
        )
        ax = _LETTERS[: len(self.mode_shape)]
        rk = _LETTERS.upper()[: len(self.mode_shape)]
        factors = ",".join(f"{a}{r}" for a, r in zip(ax, rk, strict=True))
        self._kernel = f"pq{rk},{factors}->{ax}pq"
        self._in = f"bi{ax},ip->bp{ax}"
        self._out = f"bq{ax},oq->bo{ax}"

    def contract(self, x: torch.Tensor, counts: Counts) -> torch.Tensor:
        """Apply the weight to modes ``x`` of shape (batch, in, *k); returns (batch, out, *k)."""
        f_in, f_out, *f_modes = (torch.view_as_complex(f) for f in self.factors)
        f_modes = [
            select_modes(f, 0, full, pos, neg)
            for f, full, (pos, neg) in zip(f_modes, self.mode_shape, counts, strict=True)
        ]
        # The weight is diagonal in the modes, so the mode factors build a small
        # (*k, r_in, r_out) kernel; the channel factors act before and after it.
        kernel = torch.einsum(self._kernel, torch.view_as_complex(self.core), *f_modes)
        h = mode_matmul(torch.einsum(self._in, x, f_in), kernel.reshape(-1, *kernel.shape[-2:]))
        return torch.einsum(self._out, h, f_out)

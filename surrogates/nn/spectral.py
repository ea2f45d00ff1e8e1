"""Spectral convolution, the global layer of a Fourier neural operator (Li et al. 2021).

``SpectralConv`` transforms its input with a real FFT over the spatial axes, multiplies
the lowest ``modes`` frequencies of every axis (positive and negative on all axes but the
last, non-negative on the last, real-FFT axis) by a learnt complex weight, drops the rest
and transforms back. The weight is dense or CP/Tucker factorised
(:mod:`surrogates.nn.spectral_weights`).

The transforms are *pruned*: the forward FFT runs one axis at a time, discarding the
unused frequencies after each axis, and the inverse inserts zeros one axis at a time, so
the cost beyond the first (and last) one-dimensional transform scales with the retained
modes rather than with the grid. FFTs use ``norm="forward"`` (coefficients are averages),
so a weight means the same thing at any grid resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from surrogates.errors import ModelError
from surrogates.nn.conv import check_ndim
from surrogates.nn.spectral_weights import CPWeight, DenseWeight, TuckerWeight, select_modes

__all__ = ["FACTORIZATIONS", "SpectralConv", "mode_counts"]

FACTORIZATIONS = ("dense", "cp", "tucker")
"""Spectral weight layouts accepted by :class:`SpectralConv`."""


def mode_counts(spatial: Sequence[int], modes: Sequence[int]) -> list[tuple[int, int]]:
    """Retained ``(positive, negative)`` frequencies per axis for a grid of shape ``spatial``.

    Non-last axes keep frequencies ``0..p-1`` and ``-q..-1`` with ``p = min(m, ceil(n/2))``
    and ``q = min(m, floor(n/2))``, so they never overlap on small grids; the last axis
    (real FFT, ``n // 2 + 1`` frequencies) keeps ``0..min(m, n // 2 + 1) - 1``.
    """
    counts = [
        (min(m, (n + 1) // 2), min(m, n // 2))
        for n, m in zip(spatial[:-1], modes[:-1], strict=True)
    ]
    counts.append((min(modes[-1], spatial[-1] // 2 + 1), 0))
    return counts


def _expand(t: torch.Tensor, dim: int, size: int, pos: int, neg: int) -> torch.Tensor:
    """Inverse of keeping ``pos`` leading and ``neg`` trailing entries: insert zeros."""
    gap = size - pos - neg
    if gap == 0:
        return t
    shape = list(t.shape)
    shape[dim] = gap
    zeros = t.new_zeros(shape)
    return torch.cat([t.narrow(dim, 0, pos), zeros, t.narrow(dim, pos, neg)], dim=dim)


class SpectralConv(nn.Module):
    """Fourier layer ``y = irfft(W · rfft(x)[retained modes])`` for N spatial dimensions.

    Parameters
    ----------
    ndim : int
        Number of spatial dimensions.
    in_channels, out_channels : int
    modes : int or sequence of int
        Highest retained frequency count per axis (``m`` keeps ``|k| < m``; ``-m`` is kept
        too on the non-last axes).
    factorization : {"dense", "cp", "tucker"}
    rank : int or sequence of int, optional
        CP rank (int), or Tucker ranks: an int applied to every axis (capped by its size) or
        ``2 + ndim`` ints ``(r_in, r_out, r_1, ..., r_ndim)``. Ignored for dense.

    Notes
    -----
    Input shape (batch, in_channels, *spatial), output (batch, out_channels, *spatial) for
    any spatial size; grids too coarse for ``modes`` keep all the frequencies they have.
    """

    def __init__(
        self,
        ndim: int,
        in_channels: int,
        out_channels: int,
        modes: int | Sequence[int],
        factorization: str = "dense",
        rank: int | Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.modes = (modes,) * ndim if isinstance(modes, int) else tuple(modes)
        if len(self.modes) != ndim or min(self.modes) < 1:
            raise ModelError(f"modes: got {modes!r}, expected a positive int or {ndim} of them")
        self.out_channels = out_channels
        mode_shape = [2 * m for m in self.modes[:-1]] + [self.modes[-1]]
        self.weight = _make_weight(in_channels, out_channels, mode_shape, factorization, rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer to ``x`` of shape (batch, in_channels, *spatial).

        The transforms and the mode mixing run in float32 even under bf16/fp16 autocast
        (cuFFT has no bf16 transforms and half-precision spectra lose the small modes);
        the result is cast back to the input dtype.
        """
        spatial = x.shape[2:]
        counts = mode_counts(spatial, self.modes)
        dtype = x.dtype
        wide = x if dtype in (torch.float32, torch.float64) else x.float()
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = self._spectral(wide, spatial, counts)
        return y.to(dtype)

    def _spectral(self, x: torch.Tensor, spatial: Sequence[int], counts: list) -> torch.Tensor:
        xf = torch.fft.rfft(x, dim=-1, norm="forward").narrow(-1, 0, counts[-1][0])
        for axis in range(self.ndim - 2, -1, -1):
            dim, (pos, neg) = axis + 2, counts[axis]
            xf = torch.fft.fft(xf, dim=dim, norm="forward")
            xf = select_modes(xf, dim, spatial[axis], pos, neg)
        yf = self.weight.contract(xf, counts)
        for axis in range(self.ndim - 1):
            dim, (pos, neg) = axis + 2, counts[axis]
            yf = torch.fft.ifft(_expand(yf, dim, spatial[axis], pos, neg), dim=dim, norm="forward")
        return torch.fft.irfft(yf, n=spatial[-1], dim=-1, norm="forward")


def _make_weight(
    in_channels: int,
    out_channels: int,
    mode_shape: Sequence[int],
    factorization: str,
    rank: int | Sequence[int] | None,
) -> nn.Module:
    """Build the spectral weight module for ``factorization`` (validating ``rank``)."""
    if factorization == "dense":
        return DenseWeight(in_channels, out_channels, mode_shape)
    dims = (in_channels, out_channels, *mode_shape)
    if factorization == "cp":
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ModelError(f"rank: got {rank!r}, expected a positive int for factorization 'cp'")
        return CPWeight(in_channels, out_channels, mode_shape, rank)
    if factorization == "tucker":
        if isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1:
            ranks = [min(rank, n) for n in dims]
        elif (
            isinstance(rank, (list, tuple))
            and len(rank) == len(dims)
            and all(isinstance(r, int) and 1 <= r <= n for r, n in zip(rank, dims, strict=True))
        ):
            ranks = list(rank)
        else:
            raise ModelError(
                f"rank: got {rank!r}, expected a positive int or {len(dims)} ints "
                f"(r_in, r_out, r_1..r_{len(mode_shape)}) bounded by {list(dims)} for 'tucker'"
            )
        return TuckerWeight(in_channels, out_channels, mode_shape, ranks)
    raise ModelError(
        f"factorization: got {factorization!r}, expected one of {list(FACTORIZATIONS)}"
    )

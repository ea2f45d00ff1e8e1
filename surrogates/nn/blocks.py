"""Residual convolution blocks and factor-2 resampling for U-Net style networks.

Two flavours of the same residual block, written once for N spatial dimensions:

- :class:`ValidConvBlock` uses unpadded ("valid") kernel-3 convolutions, as in map2map:
  each convolution trims one cell per side, so the output depends only on input within
  ``trim`` cells and tiles of a valid network stitch exactly.
- :class:`PaddedConvBlock` pads every convolution (circular, zeros or reflect) and keeps
  the spatial size, the classic U-Net layer.

:class:`Down` (kernel-2, stride-2 convolution) and :class:`Up` (kernel-2, stride-2
transposed convolution) change the resolution by exactly 2 without overlap, so that a
coarse cell covers two fine cells per axis.
"""

from __future__ import annotations

import torch
from torch import nn

from surrogates.nn.conv import (
    PADDING_MODES,
    activation,
    conv_nd,
    conv_transpose_nd,
    crop_to,
    norm_nd,
)
from surrogates.nn.film import FiLM

__all__ = ["Down", "PaddedConvBlock", "Up", "ValidConvBlock"]


class _ResidualConvBlock(nn.Module):
    """``act(FiLM(convs(x) + shortcut(x)))`` with ``convs`` kernel-3 convolutions."""

    def __init__(
        self,
        ndim: int,
        in_channels: int,
        out_channels: int,
        convs: int,
        act: str,
        norm: str,
        cond_dim: int,
        padding_mode: str | None,
    ) -> None:
        super().__init__()
        assert convs >= 1
        pad = {} if padding_mode is None else {"padding": 1, "padding_mode": padding_mode}
        channels = [in_channels] + [out_channels] * convs
        self.convs = nn.ModuleList(
            conv_nd(ndim, c_in, c_out, 3, bias=norm == "none", **pad)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )
        self.norms = nn.ModuleList(norm_nd(norm, ndim, out_channels) for _ in range(convs))
        self.shortcut = (
            nn.Identity()
            if in_channels == out_channels
            else conv_nd(ndim, in_channels, out_channels, 1)
        )
        self.film = FiLM(cond_dim, out_channels) if cond_dim else None
        self.act = activation(act)
        self.trim = convs if padding_mode is None else 0

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the block.

        Parameters
        ----------
        x : Tensor, shape (batch, in_channels, *spatial)
        embedding : Tensor, shape (batch, cond_dim), optional
            Parameter embedding; required iff the block was built with ``cond_dim > 0``.

        Returns
        -------
        Tensor, shape (batch, out_channels, *(spatial - 2 * trim))
        """
        h = x
        last = len(self.convs) - 1
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            h = norm(conv(h))
            if i < last:
                h = self.act(h)
        h = h + self.shortcut(crop_to(x, h.shape[2:]))
        if self.film is not None:
            h = self.film(h, embedding)
        return self.act(h)


class ValidConvBlock(_ResidualConvBlock):
    """Residual block of ``convs`` unpadded kernel-3 convolutions with optional FiLM.

    Parameters
    ----------
    ndim : int
        Number of spatial dimensions.
    in_channels, out_channels : int
    convs : int
        Number of kernel-3 convolutions; the block trims ``convs`` cells per side.
    act : str
        Activation name.
    norm : {"none", "batch"}
    cond_dim : int
        Width of the parameter embedding; 0 builds an unconditioned block (no FiLM).

    Notes
    -----
    The shortcut is the centre crop of the input (through a 1×1 convolution when the
    channel count changes). Output size per axis is ``input - 2 * convs``.
    """

    def __init__(
        self,
        ndim: int,
        in_channels: int,
        out_channels: int,
        convs: int = 2,
        act: str = "gelu",
        norm: str = "none",
        cond_dim: int = 0,
    ) -> None:
        super().__init__(ndim, in_channels, out_channels, convs, act, norm, cond_dim, None)


class PaddedConvBlock(_ResidualConvBlock):
    """Residual block of ``convs`` padded kernel-3 convolutions with optional FiLM.

    Parameters are those of :class:`ValidConvBlock` plus ``padding_mode`` (one of
    :data:`surrogates.nn.conv.PADDING_MODES`). The spatial size is preserved; each
    convolution widens the receptive field by one cell per side.
    """

    def __init__(
        self,
        ndim: int,
        in_channels: int,
        out_channels: int,
        convs: int = 2,
        act: str = "gelu",
        norm: str = "none",
        cond_dim: int = 0,
        padding_mode: str = "circular",
    ) -> None:
        assert padding_mode in PADDING_MODES, padding_mode
        super().__init__(ndim, in_channels, out_channels, convs, act, norm, cond_dim, padding_mode)


class Down(nn.Sequential):
    """Halve the resolution: kernel-2 stride-2 convolution, normalisation, activation.

    Input shape (batch, in_channels, *spatial) with even spatial sizes; output
    (batch, out_channels, *(spatial // 2)). Coarse cell ``i`` sees fine cells ``2i, 2i+1``.
    """

    def __init__(self, ndim: int, in_channels: int, out_channels: int, act: str, norm: str) -> None:
        super().__init__(
            conv_nd(ndim, in_channels, out_channels, 2, stride=2, bias=norm == "none"),
            norm_nd(norm, ndim, out_channels),
            activation(act),
        )


class Up(nn.Sequential):
    """Double the resolution: kernel-2 stride-2 transposed convolution, norm, activation.

    Input shape (batch, in_channels, *spatial); output (batch, out_channels, *(2 * spatial)).
    Fine cells ``2i, 2i+1`` are computed from coarse cell ``i`` only.
    """

    def __init__(self, ndim: int, in_channels: int, out_channels: int, act: str, norm: str) -> None:
        super().__init__(
            conv_transpose_nd(ndim, in_channels, out_channels, 2, stride=2, bias=norm == "none"),
            norm_nd(norm, ndim, out_channels),
            activation(act),
        )

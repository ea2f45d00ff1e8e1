"""The U-shaped encoder/decoder shared by ``vnet`` (valid convolutions) and ``unet`` (padded).

``levels`` factor-2 down-samplings, a residual block (``convs`` kernel-3 convolutions) at
every level on the way down, at the bottom and on the way up, and skip connections that
concatenate the encoder features to the up-sampled decoder features.

With valid convolutions, skip features are centre-cropped to the decoder size, and the
decoder may crop ``extra_crop[l]`` more cells per side at level ``l`` (see
:mod:`surrogates.models.vnet` for why).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from surrogates.nn import Down, PaddedConvBlock, Up, ValidConvBlock, crop_to

__all__ = ["UNetBody"]


class UNetBody(nn.Module):
    """Encoder/decoder with skip connections, returning level-0 features.

    Parameters
    ----------
    ndim : int
        Number of spatial dimensions.
    in_channels : int
    channels : list of int
        Feature channels per level, ``levels + 1`` entries (level 0 first).
    convs : int
        Kernel-3 convolutions per residual block.
    act, norm : str
        Activation and normalisation names.
    cond_dim : int
        Parameter-embedding width for the FiLM layers (0: unconditioned).
    padding_mode : str or None
        None for valid convolutions, else the padding mode of every convolution.
    extra_crop : list of int, optional
        Cells per side cropped from the up-sampled features at each level (valid only).
    """

    def __init__(
        self,
        ndim: int,
        in_channels: int,
        channels: list[int],
        convs: int,
        act: str,
        norm: str,
        cond_dim: int,
        padding_mode: str | None,
        extra_crop: list[int] | None = None,
    ) -> None:
        super().__init__()
        levels = len(channels) - 1
        options = {"convs": convs, "act": act, "norm": norm, "cond_dim": cond_dim}
        if padding_mode is None:
            block = partial(ValidConvBlock, ndim, **options)
        else:
            block = partial(PaddedConvBlock, ndim, padding_mode=padding_mode, **options)
        ins = [in_channels] + channels[1:]
        self.encoders = nn.ModuleList(block(ins[lv], channels[lv]) for lv in range(levels))
        self.downs = nn.ModuleList(
            Down(ndim, channels[lv], channels[lv + 1], act, norm) for lv in range(levels)
        )
        self.bottom = block(ins[levels], channels[levels])
        self.ups = nn.ModuleList(
            Up(ndim, channels[lv + 1], channels[lv], act, norm) for lv in range(levels)
        )
        self.decoders = nn.ModuleList(block(2 * channels[lv], channels[lv]) for lv in range(levels))
        self.extra_crop = list(extra_crop) if extra_crop is not None else [0] * levels
        assert len(self.extra_crop) == levels

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Features of shape (batch, channels[0], *spatial_out) from x (batch, in, *spatial)."""
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            x = encoder(x, embedding)
            skips.append(x)
            x = down(x)
        x = self.bottom(x, embedding)
        for level in reversed(range(len(self.decoders))):
            x = self.ups[level](x)
            size = [n - 2 * self.extra_crop[level] for n in x.shape[2:]]
            x = torch.cat([crop_to(skips[level], size), crop_to(x, size)], dim=1)
            x = self.decoders[level](x, embedding)
        return x

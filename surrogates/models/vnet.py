"""``vnet``: a U-Net/V-Net of unpadded (valid) convolutions that tiles exactly (map2map style).

Geometry (per spatial axis, ``L = levels``, ``C = 2 * blocks`` convolutions per level)
---------------------------------------------------------------------------------------
Every kernel-3 valid convolution at level ``l`` trims ``2**l`` input cells per side; the
kernel-2 stride-2 down-sampling and up-sampling trim nothing. The network therefore maps
``n = m + 2 * halo`` input cells to ``m`` output cells; output cell ``j`` sits on input cell
``j + halo``.

Receptive field, precisely: an *aligned block* of output cells ``[b, b + 2**L)`` (``b`` a
multiple of ``2**L``) depends only on the input cells ``[b, b + 2**L + 2 * halo)``, that is
on input within ``halo`` cells of the block, and together its cells use all of them. A
single output cell can see up to ``halo + 2**L - 1`` cells to one side (which side depends
on its position in the block), so the margin needed around an aligned output region is
``halo``, not the per-cell radius.

Sizes must stay even before every down-sampling. With ``m`` a multiple of ``2**L`` this
holds if the decoder at level ``l`` crops ``e_l = (-C) mod 2**(L-l-1)`` extra cells per side
of its up-sampled input (zero for the default ``blocks``/``levels``; e.g. 2 at level 0 for
``levels=3, blocks=1``). Then

    halo = sum_l C 2**l  +  C 2**L  +  sum_l (C + e_l) 2**l          (l = 0 .. L-1)

(plus 1 with ``differences``: the centred differences consume one cell per side), and the
valid output sizes are exactly the positive multiples of ``alignment = 2**L``.

Exact tiling
------------
Let a whole domain of ``N + 2 * halo`` input cells give the output ``Y`` (``N`` cells).
A window of the input starting at offset ``o`` with ``m + 2 * halo`` cells gives
``Y[o : o + m]`` to round-off **if** ``o`` and ``m`` are multiples of ``2**L``: shifting by a
multiple of ``2**L`` maps every level's grid of coarse cells onto itself, and valid
convolutions commute with such shifts. For other ``o`` the coarse cells pair different fine
cells and the outputs differ (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from surrogates.errors import ModelError
from surrogates.models.base import (
    SurrogateModel,
    as_size,
    check_choice,
    check_common,
    check_int,
)
from surrogates.models.registry import register
from surrogates.models.unet_body import UNetBody
from surrogates.nn import NORMS, centred_differences, conv_nd, crop_to

__all__ = ["VNet", "VNetConfig"]


@dataclass(frozen=True)
class VNetConfig:
    """Options of :class:`VNet`.

    Attributes
    ----------
    width : int
        Feature channels at level 0.
    levels : int
        Number of factor-2 down-samplings (0 gives a plain valid residual CNN).
    blocks : int
        Residual blocks (two kernel-3 valid convolutions each) per level.
    growth : int
        Channel multiplier per level (channels at level ``l`` are ``width * growth**l``).
    activation : str
        One of :data:`surrogates.nn.ACTIVATIONS`.
    norm : {"none", "batch"}
        Batch norm is per-cell in eval mode, so it keeps exact tiling at inference.
    residual : bool
        Add the centre-cropped first ``out_channels`` input channels to the output.
    embed_dim : int
        Width of the parameter embedding (used only when ``n_params > 0``).
    differences : bool
        Feed the network the centred differences of every input channel along every axis
        (``in_channels * ndim`` channels, one more halo cell) instead of the values. The
        output is then exactly unchanged when a constant is added to an input channel, as
        a displacement-field map must be under a uniform shift of all particles: a model
        that sees values learns a dependence on the bulk displacement, which is bounded by
        the training box and extrapolates badly in larger volumes. ``residual`` still adds
        the input values.
    """

    width: int = 16
    levels: int = 2
    blocks: int = 1
    growth: int = 2
    activation: str = "gelu"
    norm: str = "none"
    residual: bool = False
    embed_dim: int = 32
    differences: bool = False

    def __post_init__(self) -> None:
        check_int("width", self.width)
        check_int("levels", self.levels, minimum=0)
        check_int("blocks", self.blocks)
        check_int("growth", self.growth)
        check_choice("norm", self.norm, NORMS)
        check_choice("residual", self.residual, [False, True])
        check_choice("differences", self.differences, [False, True])
        check_common(self)


def vnet_geometry(levels: int, convs: int) -> tuple[int, list[int]]:
    """``(halo, extra_crop)`` of a valid U-Net with ``convs`` convolutions per level."""
    extra = [(-convs) % 2 ** (levels - lv - 1) for lv in range(levels)]
    halo = convs * 2**levels + sum((2 * convs + extra[lv]) * 2**lv for lv in range(levels))
    return halo, extra


@register("vnet")
class VNet(SurrogateModel):
    """Valid-convolution U-Net; output size = input size - 2 * halo (see module docstring).

    Built through :func:`surrogates.models.build`; ``forward(x, params=None)`` maps
    (batch, in_channels, *spatial) to (batch, out_channels, *(spatial - 2 * halo)).
    """

    Config = VNetConfig
    exact_tiling = True

    def __init__(
        self, in_channels: int, out_channels: int, n_params: int, ndim: int, config: VNetConfig
    ) -> None:
        super().__init__(in_channels, out_channels, n_params, ndim, config)
        if config.residual and out_channels > in_channels:
            raise ModelError(
                f"vnet: residual=True adds the first out_channels input channels, so it needs "
                f"out_channels <= in_channels; got {out_channels} > {in_channels}"
            )
        convs = 2 * config.blocks
        self.halo, extra = vnet_geometry(config.levels, convs)
        self.halo += int(config.differences)
        self.alignment = 2**config.levels
        channels = [config.width * config.growth**lv for lv in range(config.levels + 1)]
        options = {"act": config.activation, "norm": config.norm, "cond_dim": self.cond_dim}
        features = in_channels * ndim if config.differences else in_channels
        self.body = UNetBody(
            ndim, features, channels, convs, padding_mode=None, **options, extra_crop=extra
        )
        self.head = conv_nd(ndim, channels[0], out_channels, 1)

    def output_size(self, input_size: int) -> int:
        """``input_size - 2 * halo``, which must be a positive multiple of ``alignment``."""
        m = as_size(input_size) - 2 * self.halo
        if m < self.alignment or m % self.alignment:
            raise ModelError(
                f"{self._describe()} takes input sizes 2*halo + k*{self.alignment} = "
                f"{2 * self.halo} + k*{self.alignment} (k >= 1); got {input_size}"
            )
        return m

    def input_size(self, output_size: int) -> int:
        """``output_size + 2 * halo``; ``output_size`` must be a positive multiple of alignment."""
        output_size = as_size(output_size)
        if output_size < self.alignment or output_size % self.alignment:
            raise ModelError(
                f"{self._describe()} produces output sizes that are positive multiples of "
                f"{self.alignment}; got {output_size}"
            )
        return output_size + 2 * self.halo

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Map x (batch, in_channels, *n) to (batch, out_channels, *(n - 2 * halo))."""
        embedding = self._prepare(x, params)
        features = centred_differences(x) if self.config.differences else x
        y = self.head(self.body(features, embedding))
        assert y.shape[2:] == tuple(n - 2 * self.halo for n in x.shape[2:])
        if self.config.residual:
            y = y + crop_to(x[:, : self.out_channels], y.shape[2:])
        return y

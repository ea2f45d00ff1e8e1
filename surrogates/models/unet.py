"""``unet``: the classic padded U-Net baseline (D3M style), periodic padding by default.

Every kernel-3 convolution is padded (``padding_mode`` circular, zeros or reflect), so the
output has the input's size, which must be a multiple of ``alignment = 2**levels``.
Padding makes each output depend on how the window's faces are filled, so tiles evaluated
separately never reproduce the whole-domain output exactly (``exact_tiling = False``).

``halo`` is the exact receptive radius: the largest distance (per axis, circular for
circular padding) between an output cell and an input cell it depends on, computed by
propagating index intervals backwards through the network for every phase of the output
cell modulo ``2**levels`` (:func:`receptive_radius`). The rollout engine uses it as the
overlap between blended tiles.
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
from surrogates.nn import NORMS, PADDING_MODES, conv_nd

__all__ = ["UNet", "UNetConfig", "receptive_radius"]


@dataclass(frozen=True)
class UNetConfig:
    """Options of :class:`UNet` (as :class:`~surrogates.models.vnet.VNetConfig`, plus).

    Attributes
    ----------
    padding_mode : {"circular", "zeros", "reflect"}
        Padding of every kernel-3 convolution; circular suits periodic domains.
    """

    width: int = 16
    levels: int = 2
    blocks: int = 1
    growth: int = 2
    activation: str = "gelu"
    norm: str = "none"
    padding_mode: str = "circular"
    embed_dim: int = 32

    def __post_init__(self) -> None:
        check_int("width", self.width)
        check_int("levels", self.levels, minimum=0)
        check_int("blocks", self.blocks)
        check_int("growth", self.growth)
        check_choice("norm", self.norm, NORMS)
        check_choice("padding_mode", self.padding_mode, PADDING_MODES)
        check_common(self)


def receptive_radius(levels: int, convs: int) -> int:
    """Receptive radius (level-0 cells) of a padded U-Net with ``convs`` convs per block.

    Intervals ``[lo, hi]`` of indices are propagated from one output cell back to the
    input: a kernel-3 convolution widens them by one cell per side, the down-sampling maps
    coarse ``[a, b]`` to fine ``[2a, 2b + 1]``, the up-sampling maps fine ``[a, b]`` to coarse
    ``[a // 2, b // 2]``, and a skip concatenation takes the union of both branches.
    """

    def encoder(level: int, lo: int, hi: int) -> tuple[int, int]:
        lo, hi = lo - convs, hi + convs  # the encoder block at `level` (or the bottom)
        if level == 0:
            return lo, hi
        return encoder(level - 1, 2 * lo, 2 * hi + 1)

    def decoder(level: int, lo: int, hi: int) -> tuple[int, int]:
        if level == levels:
            return encoder(levels, lo, hi)
        lo, hi = lo - convs, hi + convs
        skip = encoder(level, lo, hi)
        deep = decoder(level + 1, lo // 2, hi // 2)
        return min(skip[0], deep[0]), max(skip[1], deep[1])

    radius = 0
    for phase in range(2**levels):
        lo, hi = decoder(0, phase, phase)
        radius = max(radius, phase - lo, hi - phase)
    return radius


@register("unet")
class UNet(SurrogateModel):
    """Padded U-Net; output size = input size (a multiple of ``alignment``).

    Built through :func:`surrogates.models.build`; ``forward(x, params=None)`` maps
    (batch, in_channels, *spatial) to (batch, out_channels, *spatial).
    """

    Config = UNetConfig
    exact_tiling = False

    def __init__(
        self, in_channels: int, out_channels: int, n_params: int, ndim: int, config: UNetConfig
    ) -> None:
        super().__init__(in_channels, out_channels, n_params, ndim, config)
        convs = 2 * config.blocks
        self.halo = receptive_radius(config.levels, convs)
        self.alignment = 2**config.levels
        # reflect padding needs at least two cells at the coarsest level
        self._min_size = self.alignment * (2 if config.padding_mode == "reflect" else 1)
        channels = [config.width * config.growth**lv for lv in range(config.levels + 1)]
        options = {"act": config.activation, "norm": config.norm, "cond_dim": self.cond_dim}
        self.body = UNetBody(
            ndim, in_channels, channels, convs, padding_mode=config.padding_mode, **options
        )
        self.head = conv_nd(ndim, channels[0], out_channels, 1)

    def output_size(self, input_size: int) -> int:
        """``input_size``, which must be a multiple of ``alignment`` (and large enough)."""
        input_size = as_size(input_size)
        if input_size < self._min_size or input_size % self.alignment:
            raise ModelError(
                f"{self._describe()} takes sizes that are multiples of {self.alignment} "
                f"and >= {self._min_size}; got {input_size}"
            )
        return input_size

    def input_size(self, output_size: int) -> int:
        """``output_size`` (same rules as :meth:`output_size`)."""
        return self.output_size(output_size)

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Map x (batch, in_channels, *n) to (batch, out_channels, *n)."""
        embedding = self._prepare(x, params)
        return self.head(self.body(x, embedding))

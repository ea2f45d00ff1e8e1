"""``fno``: Fourier neural operator (Li et al. 2021) for N spatial dimensions.

Pointwise lifting MLP → ``layers`` Fourier layers → pointwise projection MLP. Each Fourier
layer computes ``act(FiLM(SpectralConv(h) + W h + b))`` (no activation after the last
layer), where the spectral convolution keeps the lowest ``modes`` frequencies per axis
with a dense, CP or Tucker factorised complex weight (:mod:`surrogates.nn.spectral`).

Domain padding (``padding``) zero-pads the lifted features at the end of each axis before
the Fourier layers and crops them after, so non-periodic axes are not treated as periodic.

The operator is global: every output cell depends on every input cell, so tiles can never
reproduce whole-domain evaluation exactly (``exact_tiling = False``). ``halo`` is a
configurable overlap (cells per side) the rollout engine adds around tile cores and blends;
``alignment`` is 1 and any grid size is accepted (output size = input size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from surrogates.errors import ModelError
from surrogates.models.base import (
    SurrogateModel,
    as_size,
    check_choice,
    check_common,
    check_int,
)
from surrogates.models.registry import register
from surrogates.nn import FACTORIZATIONS, FiLM, SpectralConv, activation, conv_nd

__all__ = ["FNO", "FNOConfig"]

Number = int | float


@dataclass(frozen=True)
class FNOConfig:
    """Options of :class:`FNO`.

    Attributes
    ----------
    modes : int or list of int
        Retained frequencies per axis (``|k| < modes``), one int for all axes or one per axis.
    width : int
        Channels of the Fourier layers.
    layers : int
        Number of Fourier layers.
    lifting_channels, projection_channels : int or None
        Hidden channels of the two-layer lifting / projection MLPs (None: ``2 * width``;
        0: a single linear map).
    factorization : {"dense", "cp", "tucker"}
    rank : int, list of int or None
        CP rank, or Tucker rank(s) (see :class:`surrogates.nn.SpectralConv`); None for dense.
    padding : int, float or list
        Domain padding per axis at the end of the axis: an int is cells, a float in
        (0, 1) a fraction of the axis size (rounded up); a list gives one value per axis
        (0 for periodic axes).
    halo : int
        Tile overlap (cells per side) for approximate tiled evaluation.
    activation : str
    embed_dim : int
    """

    modes: int | tuple[int, ...] = 8
    width: int = 32
    layers: int = 4
    lifting_channels: int | None = None
    projection_channels: int | None = None
    factorization: str = "dense"
    rank: int | tuple[int, ...] | None = None
    padding: Number | tuple[Number, ...] = 0
    halo: int = 8
    activation: str = "gelu"
    embed_dim: int = 32

    def __post_init__(self) -> None:
        for name in ("modes", "rank", "padding"):  # lists (e.g. from JSON) -> hashable tuples
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        modes = self.modes if isinstance(self.modes, tuple) else [self.modes]
        for m in modes:
            check_int("modes", m)
        check_int("width", self.width)
        check_int("layers", self.layers)
        for name in ("lifting_channels", "projection_channels"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=0)
        check_choice("factorization", self.factorization, FACTORIZATIONS)
        if self.factorization == "dense" and self.rank is not None:
            raise ModelError(f"rank: got {self.rank!r}, but factorization 'dense' takes no rank")
        pads = self.padding if isinstance(self.padding, tuple) else [self.padding]
        for p in pads:
            if isinstance(p, bool) or not isinstance(p, (int, float)) or p < 0:
                raise ModelError(
                    f"padding: got {self.padding!r}, expected cells (int >= 0) or a fraction "
                    "in (0, 1)"
                )
            if isinstance(p, float) and p >= 1:
                raise ModelError(f"padding: got fraction {p!r}, expected a float in (0, 1)")
        check_int("halo", self.halo, minimum=0)
        check_common(self)


def _per_axis(value: object, ndim: int, name: str) -> list:
    """Broadcast a scalar option to ``ndim`` axes, or check a list has ``ndim`` entries."""
    if isinstance(value, (list, tuple)):
        if len(value) != ndim:
            raise ModelError(f"{name}: got {list(value)}, expected 1 or {ndim} (ndim) values")
        return list(value)
    return [value] * ndim


def _mlp(ndim: int, c_in: int, hidden: int, c_out: int, act: str) -> nn.Module:
    """Pointwise MLP (1×1 convolutions); ``hidden == 0`` gives a single linear map."""
    if hidden == 0:
        return conv_nd(ndim, c_in, c_out, 1)
    return nn.Sequential(
        conv_nd(ndim, c_in, hidden, 1), activation(act), conv_nd(ndim, hidden, c_out, 1)
    )


@register("fno")
class FNO(SurrogateModel):
    """Fourier neural operator; output size = input size, any size (see module docstring).

    Built through :func:`surrogates.models.build`; ``forward(x, params=None)`` maps
    (batch, in_channels, *spatial) to (batch, out_channels, *spatial).
    """

    Config = FNOConfig
    exact_tiling = False

    def __init__(
        self, in_channels: int, out_channels: int, n_params: int, ndim: int, config: FNOConfig
    ) -> None:
        super().__init__(in_channels, out_channels, n_params, ndim, config)
        c = config
        modes = _per_axis(c.modes, ndim, "modes")
        self._padding = _per_axis(c.padding, ndim, "padding")
        self.halo = c.halo
        self.alignment = 1
        lift = 2 * c.width if c.lifting_channels is None else c.lifting_channels
        proj = 2 * c.width if c.projection_channels is None else c.projection_channels
        self.lifting = _mlp(ndim, in_channels, lift, c.width, c.activation)
        self.spectral = nn.ModuleList(
            SpectralConv(ndim, c.width, c.width, modes, c.factorization, c.rank)
            for _ in range(c.layers)
        )
        self.skips = nn.ModuleList(conv_nd(ndim, c.width, c.width, 1) for _ in range(c.layers))
        self.films = (
            nn.ModuleList(FiLM(self.cond_dim, c.width) for _ in range(c.layers))
            if self.cond_dim
            else None
        )
        self.act = activation(c.activation)
        self.projection = _mlp(ndim, c.width, proj, out_channels, c.activation)

    def output_size(self, input_size: int) -> int:
        """``input_size`` (any positive size)."""
        return self.input_size(input_size)

    def input_size(self, output_size: int) -> int:
        """``output_size`` (any positive size)."""
        if as_size(output_size) < 1:
            raise ModelError(f"fno takes any positive size; got {output_size!r}")
        return as_size(output_size)

    def pad_cells(self, spatial: tuple[int, ...]) -> list[int]:
        """Cells of zero padding appended to each spatial axis of size ``spatial``."""
        return [
            math.ceil(p * n) if isinstance(p, float) else p
            for p, n in zip(self._padding, spatial, strict=True)
        ]

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Map x (batch, in_channels, *n) to (batch, out_channels, *n)."""
        embedding = self._prepare(x, params)
        spatial = tuple(x.shape[2:])
        h = self.lifting(x)
        pads = self.pad_cells(spatial)
        if any(pads):
            # F.pad lists (before, after) pairs starting from the last axis
            h = F.pad(h, [v for p in reversed(pads) for v in (0, p)])
        last = len(self.spectral) - 1
        for i, (spectral, skip) in enumerate(zip(self.spectral, self.skips, strict=True)):
            h = spectral(h) + skip(h)
            if self.films is not None:
                h = self.films[i](h, embedding)
            if i < last:
                h = self.act(h)
        if any(pads):
            h = h[(slice(None), slice(None), *(slice(0, n) for n in spatial))]
        return self.projection(h)

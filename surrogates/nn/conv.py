"""N-dimensional convolution helpers, activations and centre cropping.

Every layer of :mod:`surrogates.nn` is written once for any number of spatial dimensions
(1, 2 or 3); these helpers pick the matching ``torch.nn`` class from ``ndim``. Tensors are
channels-first, shape ``(batch, channel, *spatial)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from surrogates.errors import ModelError

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "PADDING_MODES",
    "activation",
    "centred_differences",
    "check_ndim",
    "conv_nd",
    "conv_transpose_nd",
    "crop_to",
    "norm_nd",
]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}
"""Activation names accepted by every model's ``activation`` option."""

NORMS = ("none", "batch")
"""Normalisation layers accepted by the convolutional models.

Only normalisations that are pointwise at inference are offered: batch norm in eval mode
is a per-channel affine map, so it keeps the exact-tiling property of valid networks.
Instance or group norm would average over the tile and are deliberately absent.
"""

PADDING_MODES = ("circular", "zeros", "reflect")
"""Padding modes of padded convolutions (``torch.nn.ConvNd`` ``padding_mode``)."""


def check_ndim(ndim: int) -> int:
    """Return ``ndim`` if it is a supported number of spatial dimensions (1, 2 or 3)."""
    if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim not in (1, 2, 3):
        raise ModelError(f"ndim: got {ndim!r}, expected 1, 2 or 3 spatial dimensions")
    return ndim


def conv_nd(
    ndim: int, in_channels: int, out_channels: int, kernel_size: int, **kwargs
) -> nn.Module:
    """``nn.Conv{ndim}d(in_channels, out_channels, kernel_size, **kwargs)``."""
    cls = getattr(nn, f"Conv{check_ndim(ndim)}d")
    return cls(in_channels, out_channels, kernel_size, **kwargs)


def conv_transpose_nd(
    ndim: int, in_channels: int, out_channels: int, kernel_size: int, **kwargs
) -> nn.Module:
    """``nn.ConvTranspose{ndim}d(in_channels, out_channels, kernel_size, **kwargs)``."""
    cls = getattr(nn, f"ConvTranspose{check_ndim(ndim)}d")
    return cls(in_channels, out_channels, kernel_size, **kwargs)


def norm_nd(kind: str, ndim: int, channels: int) -> nn.Module:
    """A normalisation layer: ``"batch"`` → ``BatchNorm{ndim}d``, ``"none"`` → identity."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return getattr(nn, f"BatchNorm{check_ndim(ndim)}d")(channels)
    raise ModelError(f"norm: got {kind!r}, expected one of {list(NORMS)}")


def activation(name: str) -> nn.Module:
    """A fresh activation module from its name (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except (KeyError, TypeError):
        raise ModelError(
            f"activation: got {name!r}, expected one of {sorted(ACTIVATIONS)}"
        ) from None


def crop_to(x: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """Centre-crop the spatial axes of ``x`` to ``size``.

    Parameters
    ----------
    x : Tensor, shape (batch, channel, *spatial)
    size : int or sequence of int
        Target size of every spatial axis (an int applies to all of them). Each axis
        must shrink by an even number of cells so that the crop is centred exactly.

    Returns
    -------
    Tensor, shape (batch, channel, *size)
        A view of ``x``.
    """
    spatial = x.shape[2:]
    target = (size,) * len(spatial) if isinstance(size, int) else tuple(size)
    if len(target) != len(spatial):
        raise ModelError(f"crop_to: got {len(target)} sizes for {len(spatial)} spatial axes")
    for axis, (n, m) in enumerate(zip(spatial, target, strict=True)):
        excess = n - m
        if m < 1 or excess < 0 or excess % 2:
            raise ModelError(
                f"crop_to: cannot centre-crop spatial axis {axis} from {n} to {m} cells "
                "(expected 1 <= target <= size with an even difference)"
            )
        if excess:
            x = x.narrow(axis + 2, excess // 2, m)
    return x


def centred_differences(x: torch.Tensor) -> torch.Tensor:
    """Centred differences of every channel along every spatial axis (valid, no padding).

    Parameters
    ----------
    x : Tensor, shape (batch, channel, *spatial)

    Returns
    -------
    Tensor, shape (batch, channel * ndim, *(spatial - 2))
        ``(x[i + 1] - x[i - 1]) / 2`` along axis 0 for every channel, then along axis 1, ...
        (in cell units), on the cells that have both neighbours. Adding a constant to a
        channel leaves the result unchanged.
    """
    spatial = x.shape[2:]
    if min(spatial) < 3:
        raise ModelError(f"centred_differences: spatial shape {tuple(spatial)} has an axis < 3")
    parts = []
    for axis, n in enumerate(spatial):
        d = x.narrow(axis + 2, 2, n - 2) - x.narrow(axis + 2, 0, n - 2)
        for other, m in enumerate(spatial):
            if other != axis:
                d = d.narrow(other + 2, 1, m - 2)
        parts.append(0.5 * d)
    return torch.cat(parts, dim=1)

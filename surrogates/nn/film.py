"""Conditioning on scalar parameters: an MLP embedding and FiLM modulation.

A model conditioned on ``n_params`` scalars (Ω_m, a Reynolds number, a forcing amplitude)
embeds them once per forward pass with :class:`ParamEmbedding`; every block then applies
its own :class:`FiLM`, a per-channel scale and shift computed from the embedding
(Perez et al. 2018, "FiLM: visual reasoning with a general conditioning layer").

FiLM maps are initialised to the identity (zero weights and biases), so a freshly built
conditioned model computes the same function as its unconditioned counterpart and learns
how the parameters matter during training. A consequence worth knowing: at exactly that
initial point the gradient reaching the embedding MLP is zero (it only flows through the
zero FiLM weights); it becomes non-zero after the first optimiser step.
"""

from __future__ import annotations

import torch
from torch import nn

from surrogates.nn.conv import activation

__all__ = ["FiLM", "ParamEmbedding"]


class ParamEmbedding(nn.Module):
    """Two-layer MLP embedding of scalar parameters.

    Parameters
    ----------
    n_params : int
        Number of scalar parameters (> 0).
    dim : int
        Embedding width.
    act : str
        Activation name (see :data:`surrogates.nn.conv.ACTIVATIONS`).
    """

    def __init__(self, n_params: int, dim: int, act: str = "gelu") -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_params, dim), activation(act), nn.Linear(dim, dim), activation(act)
        )

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        """Embed ``params`` of shape (batch, n_params) to shape (batch, dim)."""
        return self.net(params)


class FiLM(nn.Module):
    """Feature-wise linear modulation ``x * (1 + gamma(e)) + beta(e)``.

    Parameters
    ----------
    dim : int
        Width of the parameter embedding ``e``.
    channels : int
        Number of channels of the modulated feature map.

    Notes
    -----
    ``gamma`` and ``beta`` come from one linear layer initialised to zero, so the module is
    the identity at initialisation. It acts per cell, so it never changes a receptive field.
    """

    def __init__(self, dim: int, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 2 * channels)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """Modulate ``x`` of shape (batch, channels, *spatial) by ``embedding`` (batch, dim)."""
        gamma, beta = self.linear(embedding).chunk(2, dim=1)
        view = gamma.shape + (1,) * (x.ndim - 2)
        return torch.addcmul(beta.view(view), x, 1.0 + gamma.view(view))

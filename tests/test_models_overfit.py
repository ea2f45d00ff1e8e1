"""Every registered model can memorise one conditioned sample (loss falls by >= 100x).

The target is a fixed nonlinear, spatially mixing function of the input (a product of
the two input channels plus a periodic neighbour average), centre-cropped to the
model's output size; a working network and optimiser path fits it to < 1% of the initial
mean-squared error within a few hundred Adam steps.
"""

from __future__ import annotations

import pytest
import torch

from surrogates.models import available, build
from surrogates.nn import crop_to

TINY = {
    "vnet": {"width": 8, "levels": 2, "blocks": 1, "embed_dim": 8},
    "unet": {"width": 8, "levels": 2, "blocks": 1, "embed_dim": 8},
    "fno": {"width": 8, "modes": 6, "layers": 2, "embed_dim": 8},
}
SMALLER_3D = {"vnet": {"levels": 1}, "unet": {"levels": 1}}  # halo 8 instead of 20


pytestmark = pytest.mark.usefixtures("one_thread")


def target_of(x: torch.Tensor) -> torch.Tensor:
    """(batch, 2, *spatial) -> (batch, 1, *spatial): tanh(a) b + mean of a's neighbours / 2."""
    a, b = x[:, :1], x[:, 1:2]
    dims = range(2, x.ndim)
    neighbours = sum(torch.roll(a, s, d) for s in (-1, 1) for d in dims) / (2 * len(dims))
    return torch.tanh(a) * b + 0.5 * neighbours


def overfit(name: str, ndim: int, size: int, steps: int) -> tuple[float, float]:
    """Train on one sample; return (initial, final) MSE."""
    torch.manual_seed(0)
    config = {**TINY.get(name, {}), **(SMALLER_3D.get(name, {}) if ndim == 3 else {})}
    model = build(name, 2, 1, n_params=1, ndim=ndim, **config)
    m = model.alignment * -(-size // model.alignment)
    x = torch.randn(1, 2, *[model.input_size(m)] * ndim)
    params = torch.tensor([[0.3]])
    target = crop_to(target_of(x), m)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x, params), target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


@pytest.mark.parametrize("name", available())
def test_overfits_one_2d_sample(name):
    initial, final = overfit(name, ndim=2, size=16, steps=150)
    assert final <= initial / 100, f"{name}: loss {initial:.3g} -> {final:.3g}"


@pytest.mark.slow
@pytest.mark.parametrize("name", available())
def test_overfits_one_3d_sample(name):
    initial, final = overfit(name, ndim=3, size=8, steps=300)
    assert final <= initial / 100, f"{name}: loss {initial:.3g} -> {final:.3g}"

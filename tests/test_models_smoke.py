"""Smoke tests run automatically for every registered model, in 2D and 3D.

Parametrised over ``available()``, so a newly registered model is covered without editing
this file (with its default config unless ``TINY`` names a smaller one).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from surrogates.models import available, build

TINY = {
    "vnet": {"width": 4, "levels": 2, "blocks": 1, "embed_dim": 8},
    "unet": {"width": 4, "levels": 2, "blocks": 1, "embed_dim": 8},
    "fno": {"width": 6, "modes": 3, "layers": 2, "embed_dim": 8},
}
IN, OUT, N_PARAMS, BATCH = 3, 2, 2, 2


pytestmark = pytest.mark.usefixtures("one_thread")


def make(name: str, ndim: int, n_params: int = N_PARAMS, seed: int = 0):
    torch.manual_seed(seed)
    return build(name, IN, OUT, n_params=n_params, ndim=ndim, **TINY.get(name, {}))


def inputs(model, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Random input with distinct valid sizes per axis, and params if conditioned."""
    a = model.alignment
    out_sizes = [a * math.ceil((6 + 2 * axis) / a) for axis in range(model.ndim)]
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, IN, *[model.input_size(m) for m in out_sizes], generator=gen)
    p = torch.randn(BATCH, model.n_params, generator=gen) if model.n_params else None
    return x, p


def perturb_all(model, scale: float = 0.05, seed: int = 2) -> None:
    """Move every parameter off its initial value (FiLM starts at exactly the identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


CASES = [(name, ndim) for name in available() for ndim in (2, 3)]


@pytest.mark.parametrize("name,ndim", CASES)
def test_output_shape(name, ndim):
    for n_params in (0, N_PARAMS):
        model = make(name, ndim, n_params)
        x, p = inputs(model)
        y = model(x, p)
        expected = [model.output_size(n) for n in x.shape[2:]]
        assert y.shape == (BATCH, OUT, *expected) and y.dtype == torch.float32
        assert torch.isfinite(y).all()


@pytest.mark.parametrize("name,ndim", CASES)
def test_gradients_reach_every_parameter(name, ndim):
    # Unconditioned: at initialisation. Conditioned: after moving off the init, since the
    # zero-initialised FiLM layers block the gradient to the parameter embedding at init.
    for n_params in (0, N_PARAMS):
        model = make(name, ndim, n_params)
        if n_params:
            perturb_all(model)
        x, p = inputs(model)
        y = model(x, p)
        weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(3))
        (y * weights).sum().backward()
        dead = [n for n, t in model.named_parameters() if t.grad is None or not t.grad.any()]
        assert not dead, f"{name} n_params={n_params}: no gradient reaches {dead}"


@pytest.mark.parametrize("name,ndim", CASES)
def test_unconditioned_models_have_no_conditioning_weights(name, ndim):
    plain, conditioned = make(name, ndim, 0), make(name, ndim)
    names = {n for n, _ in plain.named_parameters()}
    extra = {n for n, _ in conditioned.named_parameters()} - names
    assert not any("embedding" in n or "film" in n for n in names)
    assert extra and all("embedding" in n or "film" in n for n in extra)


@pytest.mark.parametrize("name,ndim", CASES)
def test_determinism(name, ndim):
    a, b = make(name, ndim, seed=5), make(name, ndim, seed=5)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], v) for k, v in make(name, ndim, seed=6).state_dict().items())
    x, p = inputs(a)
    assert torch.equal(a(x, p), a(x, p))
    assert torch.equal(a(x, p), b(x, p))


@pytest.mark.parametrize("name,ndim", CASES)
def test_conditioning(name, ndim):
    model = make(name, ndim)
    x, p = inputs(model)
    # FiLM starts at the identity: the freshly built model ignores its parameters ...
    assert torch.equal(model(x, p), model(x, p + 1.0))
    # ... and once trained (here: perturbed) the parameters change the output.
    perturb_all(model)
    diff = (model(x, p) - model(x, p + 1.0)).abs().max()
    assert diff > 1e-3 * model(x, p).abs().max()


@pytest.mark.parametrize("name,ndim", CASES)
def test_spec_rebuilds_identical_architecture(name, ndim):
    model = make(name, ndim)
    perturb_all(model)
    spec = json.loads(json.dumps(model.spec))
    assert spec["name"] == name and spec["ndim"] == ndim and spec["n_params"] == N_PARAMS
    torch.manual_seed(123)
    rebuilt = build(**spec)
    assert rebuilt.spec == model.spec
    assert (rebuilt.halo, rebuilt.alignment, rebuilt.exact_tiling) == (
        model.halo,
        model.alignment,
        model.exact_tiling,
    )
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x, p = inputs(model)
    assert torch.equal(rebuilt(x, p), model(x, p))

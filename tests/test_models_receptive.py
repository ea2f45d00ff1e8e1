"""Receptive-field and tiling claims of the models, verified by perturbing input cells.

- vnet: an aligned block of output cells ``[b, b + alignment)`` (``b`` a multiple of
  ``alignment``) depends only on the input window ``[b, b + alignment + 2 halo)``, i.e. on
  input within ``halo`` cells of the block; windows at aligned origins reproduce the
  whole-domain output to float32 round-off (relative max error <= 1e-5, the rollout
  engine's tolerance); misaligned origins do not.
- unet: changes stay within ``halo`` cells, distance measured periodically.
- fno: a change anywhere changes the output everywhere (global operator).

Perturbation tests run in float64 so that tiny influences are not rounded away; the
tightness of each claim is checked on the exact dependency pattern, the non-zero entries
of the Jacobian of 1D models.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from surrogates.models import build

TINY = {"width": 4, "levels": 2, "blocks": 1, "embed_dim": 8}


pytestmark = pytest.mark.usefixtures("one_thread")


def changed(model, x: torch.Tensor, cell: tuple[int, ...], params=None) -> torch.Tensor:
    """Boolean map (output spatial shape) of cells changed by perturbing input ``cell``."""
    with torch.no_grad():
        x2 = x.clone()
        x2[(0, 0, *cell)] += 1.0
        return (model(x2, params) - model(x, params))[0].abs().amax(dim=0) > 0


def cell_grid(shape) -> torch.Tensor:
    """Integer coordinates of every cell, shape (ndim, *shape)."""
    return torch.stack(torch.meshgrid(*[torch.arange(n) for n in shape], indexing="ij"))


def conditioned(model):
    """Move the FiLM layers off their identity init so the params actually matter."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    return model


def jacobian_pattern(model, n: int) -> torch.Tensor:
    """Boolean (n_out, n_in) map of which input cells each output cell of a 1D model uses."""
    x = torch.randn(1, model.in_channels, n, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: model(t)[0, 0], x)
    return jac[:, 0, 0, :] != 0


@pytest.mark.parametrize("ndim", [2, 3])
def test_vnet_output_depends_only_on_input_within_halo_of_its_block(ndim):
    torch.manual_seed(0)
    model = build("vnet", 2, 2, ndim=ndim, **TINY).double()
    a, h, m = model.alignment, model.halo, 3 * model.alignment
    x = torch.randn(1, 2, *[model.input_size(m)] * ndim, dtype=torch.float64)
    # output cell j belongs to the aligned block starting at b = a * (j // a), whose
    # window is input cells b .. b + a + 2h - 1
    block = a * (cell_grid([m] * ndim) // a)
    for cell in [(0,) * ndim, (h + 5,) + (h + 2,) * (ndim - 1), (2 * h + m - 1,) * ndim]:
        q = torch.tensor(cell).view(-1, *[1] * ndim)
        inside = ((q >= block) & (q < block + a + 2 * h)).all(dim=0)
        hit = changed(model, x, cell)
        assert hit.any(), cell
        assert not hit[~inside].any(), f"input {cell} changed outputs beyond the halo {h}"


@pytest.mark.parametrize(
    "levels,blocks,differences",
    [(0, 1, False), (1, 1, False), (2, 2, False), (3, 1, False), (2, 1, True), (0, 1, True)],
)
def test_vnet_block_window_is_exact_and_tight(levels, blocks, differences):
    # Exact dependency pattern (1D Jacobian): every output cell uses only its block's window,
    # and together the cells of a block use every input cell of that window.
    torch.manual_seed(0)
    options = {"levels": levels, "blocks": blocks, "differences": differences}
    model = build("vnet", 1, 1, ndim=1, width=2, **options).double()
    a, h = model.alignment, model.halo
    uses = jacobian_pattern(model, model.input_size(3 * a))
    for b in range(0, 3 * a, a):
        window = torch.zeros(uses.shape[1], dtype=torch.bool)
        window[b : b + a + 2 * h] = True
        assert not (uses[b : b + a] & ~window).any()
        assert uses[b : b + a].any(dim=0)[window].all()


def _tile(model, x, whole, origin, size, params=None):
    """Evaluate one window and return (tile output, matching slice of the whole output)."""
    h = model.halo
    window = x[
        (
            slice(None),
            slice(None),
            *(slice(o, o + s + 2 * h) for o, s in zip(origin, size, strict=True)),
        )
    ]
    core = whole[
        (slice(None), slice(None), *(slice(o, o + s) for o, s in zip(origin, size, strict=True)))
    ]
    return model(window, params), core


@pytest.mark.parametrize(
    "ndim,config,n_params",
    [
        (2, {}, 0),
        (3, {}, 0),
        (2, {"norm": "batch"}, 0),
        (2, {"levels": 3}, 1),
        (3, {}, 1),
        (3, {"differences": True}, 1),
    ],
)
def test_vnet_aligned_tiles_equal_whole_domain(ndim, config, n_params):
    torch.manual_seed(0)
    model = build("vnet", 2, 2, n_params=n_params, ndim=ndim, **{**TINY, **config}).eval()
    if n_params:
        conditioned(model)
    a, h = model.alignment, model.halo
    domain = [2 * a, 3 * a, a][:ndim]
    x = torch.randn(2, 2, *[model.input_size(n) for n in domain])
    p = torch.randn(2, n_params) if n_params else None
    with torch.no_grad():
        whole = model(x, p)
        stitched = torch.empty_like(whole)
        # overlapping windows: origins on the alignment grid, cores of unequal sizes
        splits = [[(0, a), (a, a)], [(0, 2 * a), (2 * a, a)], [(0, a)]][:ndim]
        for tile in itertools.product(*splits):
            origin, size = zip(*tile, strict=True)
            out, _ = _tile(model, x, whole, origin, size, p)
            stitched[(slice(None), slice(None), *(slice(o, o + s) for o, s in tile))] = out
    error = (stitched - whole).abs().max() / whole.abs().max()
    assert error <= 1e-5, f"tiled vs whole relative max error {error:.2e} (halo {h})"


def test_vnet_differences_make_the_output_blind_to_constant_input_offsets():
    # With differences=True the network sees only centred differences, so adding a
    # constant to each input channel (a uniform displacement) leaves the output unchanged,
    # apart from the residual connection, which adds the offset itself; without it the
    # output moves (the failure this option exists for).
    torch.manual_seed(0)
    n = build("vnet", 3, 3, ndim=3, differences=True, **TINY).input_size(4)
    x = torch.randn(2, 3, n, n, n, dtype=torch.float64)
    offset = torch.tensor([5.0, -4.0, 3.0], dtype=torch.float64).view(1, 3, 1, 1, 1)
    for residual in (False, True):
        model = build("vnet", 3, 3, ndim=3, differences=True, residual=residual, **TINY)
        model = model.double().eval()
        assert model.halo == build("vnet", 3, 3, ndim=3, **TINY).halo + 1
        with torch.no_grad():
            moved = model(x + offset) - (offset if residual else 0.0)
            assert torch.allclose(moved, model(x), atol=1e-12)
    plain = build("vnet", 3, 3, ndim=3, **TINY).double().eval()
    with torch.no_grad():
        x = x[..., 1:-1, 1:-1, 1:-1]
        assert (plain(x + offset) - plain(x)).abs().max() > 1e-3


@pytest.mark.parametrize("shift", [1, 2])
def test_vnet_misaligned_tiles_differ(shift):
    # A window whose origin is not a multiple of alignment = 4 pairs different fine cells
    # in the down-sampling, so it no longer reproduces the whole-domain output.
    torch.manual_seed(0)
    model = conditioned(build("vnet", 1, 1, ndim=2, **TINY))
    a = model.alignment
    x = torch.randn(1, 1, model.input_size(3 * a), model.input_size(a))
    with torch.no_grad():
        whole = model(x)
        scale = whole.abs().max()
        aligned, core = _tile(model, x, whole, (a, 0), (a, a))
        assert (aligned - core).abs().max() <= 1e-5 * scale
        shifted, core = _tile(model, x, whole, (a + shift, 0), (a, a))
    # at least 10x the exactness tolerance (shift 2 only re-pairs the coarsest level)
    assert (shifted - core).abs().max() > 1e-4 * scale


@pytest.mark.parametrize("ndim,levels", [(2, 2), (3, 1)])
def test_unet_changes_stay_within_periodic_halo(ndim, levels):
    torch.manual_seed(0)
    model = build("unet", 2, 2, ndim=ndim, **{**TINY, "levels": levels}).double()
    h, n = model.halo, 64 if ndim == 2 else 24
    assert n > 2 * h + 1  # some cells lie beyond the halo
    x = torch.randn(1, 2, *[n] * ndim, dtype=torch.float64)
    grid = cell_grid([n] * ndim)
    for cell in [(0,) * ndim, (n // 2 + 1,) * ndim]:
        hit = changed(model, x, cell)
        offset = (grid - torch.tensor(cell).view(-1, *[1] * ndim)).abs()
        dist = torch.minimum(offset, n - offset).amax(dim=0)  # periodic distance
        assert hit.any() and not hit[dist > h].any(), cell
    assert changed(model, x, (0,) * ndim)[(n - 1,) * ndim]  # the influence wraps around


@pytest.mark.parametrize("levels,blocks", [(0, 1), (1, 1), (2, 1), (2, 2), (3, 1)])
def test_unet_halo_is_the_exact_receptive_radius(levels, blocks):
    # Exact dependency pattern (1D Jacobian, circular): the farthest input cell any output
    # cell uses lies exactly `halo` cells away, periodically.
    torch.manual_seed(0)
    model = build("unet", 1, 1, ndim=1, width=2, levels=levels, blocks=blocks).double()
    a, h = model.alignment, model.halo
    n = a * (2 * h // a + 2)
    out, inp = jacobian_pattern(model, n).nonzero().T
    offset = (out - inp).abs()
    assert torch.minimum(offset, n - offset).max() == h


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("config", [{}, {"padding": 2}, {"factorization": "tucker", "rank": 2}])
def test_fno_is_global(ndim, config):
    torch.manual_seed(0)
    model = build("fno", 2, 2, ndim=ndim, width=6, modes=3, layers=2, **config)
    x = torch.randn(1, 2, *[10] * ndim)
    assert changed(model, x, (0,) * ndim).all()

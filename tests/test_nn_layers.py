"""Tests of the N-d convolution helpers, residual blocks, resampling and FiLM layers."""

from __future__ import annotations

import pytest
import torch

from surrogates import ModelError
from surrogates.nn import (
    ACTIVATIONS,
    Down,
    FiLM,
    PaddedConvBlock,
    ParamEmbedding,
    Up,
    ValidConvBlock,
    activation,
    conv_nd,
    conv_transpose_nd,
    crop_to,
    norm_nd,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_conv_helpers_pick_the_nd_class(ndim):
    assert isinstance(conv_nd(ndim, 2, 3, 3), getattr(torch.nn, f"Conv{ndim}d"))
    assert isinstance(conv_transpose_nd(ndim, 2, 3, 2), getattr(torch.nn, f"ConvTranspose{ndim}d"))
    assert isinstance(norm_nd("batch", ndim, 3), getattr(torch.nn, f"BatchNorm{ndim}d"))
    assert isinstance(norm_nd("none", ndim, 3), torch.nn.Identity)


def test_helpers_reject_bad_names():
    with pytest.raises(ModelError, match=r"ndim: got 4, expected 1, 2 or 3"):
        conv_nd(4, 1, 1, 3)
    with pytest.raises(ModelError, match=r"activation: got 'swish', expected one of \['gelu'"):
        activation("swish")
    with pytest.raises(ModelError, match=r"norm: got 'group', expected one of \['none', 'batch'\]"):
        norm_nd("group", 2, 4)
    assert all(isinstance(activation(name), torch.nn.Module) for name in ACTIVATIONS)


def test_crop_to_takes_the_centre():
    x = torch.arange(2 * 3 * 8 * 6, dtype=torch.float32).reshape(2, 3, 8, 6)
    assert torch.equal(crop_to(x, (4, 2)), x[:, :, 2:6, 2:4])
    assert torch.equal(crop_to(x, [8, 6]), x)
    assert crop_to(torch.zeros(1, 1, 7, 7, 7), 3).shape == (1, 1, 3, 3, 3)


def test_crop_to_rejects_impossible_crops():
    x = torch.zeros(1, 1, 8, 6)
    with pytest.raises(ModelError, match=r"axis 0 from 8 to 5 cells"):
        crop_to(x, (5, 4))
    with pytest.raises(ModelError, match=r"axis 1 from 6 to 8 cells"):
        crop_to(x, (8, 8))
    with pytest.raises(ModelError, match=r"got 3 sizes for 2 spatial axes"):
        crop_to(x, (2, 2, 2))


@pytest.mark.parametrize("ndim", [2, 3])
def test_valid_block_trims_convs_cells_per_side(ndim):
    torch.manual_seed(0)
    block = ValidConvBlock(ndim, 2, 5, convs=3)
    x = torch.randn(2, 2, *([11] * ndim))
    assert block.trim == 3
    assert block(x).shape == (2, 5, *([5] * ndim))


def test_valid_block_output_depends_only_on_its_window():
    # A valid block of c convolutions is local: output cell j sees input cells j..j+2c only.
    torch.manual_seed(0)
    block = ValidConvBlock(2, 1, 3, convs=2)
    x = torch.randn(1, 1, 12, 12)
    y = block(x)
    x2 = x.clone()
    x2[0, 0, 0, 0] += 1.0
    changed = (block(x2) - y).abs().amax(dim=1)[0] > 0
    assert changed[0, 0] and not changed[1:, :].any() and not changed[:, 1:].any()


@pytest.mark.parametrize("mode", ["circular", "zeros", "reflect"])
def test_padded_block_keeps_size(mode):
    torch.manual_seed(0)
    block = PaddedConvBlock(3, 2, 4, convs=2, padding_mode=mode, norm="batch")
    assert block(torch.randn(2, 2, 6, 5, 4)).shape == (2, 4, 6, 5, 4)


def test_circular_block_commutes_with_periodic_shifts():
    torch.manual_seed(0)
    block = PaddedConvBlock(2, 2, 3, convs=2, padding_mode="circular")
    x = torch.randn(1, 2, 10, 8)
    shifted = block(torch.roll(x, shifts=(3, -2), dims=(2, 3)))
    torch.testing.assert_close(shifted, torch.roll(block(x), shifts=(3, -2), dims=(2, 3)))


def test_down_and_up_resample_by_two_without_overlap():
    torch.manual_seed(0)
    down, up = Down(2, 3, 4, "gelu", "none"), Up(2, 4, 3, "gelu", "none")
    x = torch.randn(1, 3, 8, 6)
    assert down(x).shape == (1, 4, 4, 3)
    assert up(down(x)).shape == (1, 3, 8, 6)
    # coarse cell (1, 1) sees exactly fine cells (2..3, 2..3)
    x2 = x.clone()
    x2[..., 2:4, 2:4] += 1.0
    diff = (down(x2) - down(x)).abs().amax(dim=1)[0] > 0
    assert diff[1, 1] and diff.sum() == 1


def test_film_is_identity_at_init_and_modulates_per_channel():
    torch.manual_seed(0)
    film = FiLM(dim=4, channels=3)
    x, e = torch.randn(2, 3, 5, 5), torch.randn(2, 4)
    assert torch.equal(film(x, e), x)
    with torch.no_grad():
        film.linear.bias.copy_(torch.tensor([1.0, 0.0, -1.0, 0.5, 0.0, 2.0]))
    y = film(x, e)  # scale 1 + (1, 0, -1), shift (0.5, 0, 2)
    torch.testing.assert_close(y[:, 0], 2 * x[:, 0] + 0.5)
    torch.testing.assert_close(y[:, 1], x[:, 1])
    torch.testing.assert_close(y[:, 2], torch.full_like(x[:, 2], 2.0))


def test_param_embedding_shape():
    torch.manual_seed(0)
    assert ParamEmbedding(3, 8)(torch.randn(5, 3)).shape == (5, 8)

"""Tests of the spectral convolution and its dense / CP / Tucker weights.

The reference is a direct, mode-by-mode evaluation of the definition
``y = irfftn(sum_i W[i, o, k] rfftn(x)[b, i, k])`` over the retained modes ``k`` with the
dense weight materialised from the factors; agreement is to float64 round-off (1e-12).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from surrogates import ModelError
from surrogates.nn import SpectralConv, mode_counts
from surrogates.nn.spectral_weights import CPWeight, DenseWeight, TuckerWeight, mode_matmul

C = torch.view_as_complex


pytestmark = pytest.mark.usefixtures("one_thread")


def dense_weight(weight: torch.nn.Module, ndim: int) -> torch.Tensor:
    """Materialise W[i, o, *mode_shape] from any weight layout (reference only)."""
    ax, rk = "xyz"[:ndim], "XYZ"[:ndim]
    if isinstance(weight, DenseWeight):
        return C(weight.weight).movedim((-2, -1), (0, 1))
    if isinstance(weight, CPWeight):
        factors = [weight.factor_in, weight.factor_out, *weight.factor_modes]
        eq = "ir,or," + ",".join(f"{a}r" for a in ax) + f"->io{ax}"
        return torch.einsum(eq, *[C(f) for f in factors])
    assert isinstance(weight, TuckerWeight)
    eq = f"PQ{rk},iP,oQ," + ",".join(f"{a}{r}" for a, r in zip(ax, rk, strict=True)) + f"->io{ax}"
    return torch.einsum(eq, C(weight.core), *[C(f) for f in weight.factors])


def reference(conv: SpectralConv, x: torch.Tensor) -> torch.Tensor:
    """Mode-by-mode spectral convolution (slow, obviously correct)."""
    ndim, shape, m = conv.ndim, x.shape[2:], conv.modes
    w = dense_weight(conv.weight, ndim)
    xf = torch.fft.rfftn(x, dim=tuple(range(2, 2 + ndim)), norm="forward")
    out = torch.zeros(x.shape[0], conv.out_channels, *xf.shape[2:], dtype=xf.dtype)
    axes = []  # (spectrum index, weight index) pairs per axis
    for (pos, neg), n, mm in zip(mode_counts(shape, m)[:-1], shape[:-1], m[:-1], strict=True):
        axes.append([(k, k) for k in range(pos)] + [(n - j, 2 * mm - j) for j in range(1, neg + 1)])
    axes.append([(k, k) for k in range(mode_counts(shape, m)[-1][0])])
    for combo in itertools.product(*axes):
        xi = (slice(None), slice(None), *(c[0] for c in combo))
        wi = (slice(None), slice(None), *(c[1] for c in combo))
        out[xi] = xf[xi] @ w[wi]
    return torch.fft.irfftn(out, s=shape, dim=tuple(range(2, 2 + ndim)), norm="forward")


CASES = [
    (2, (12, 10), 3),
    (2, (5, 6), 4),  # grid too small for the modes: all its frequencies are kept
    (3, (8, 9, 7), 3),
    (3, (6, 4, 6), (2, 1, 3)),
]
WEIGHTS = [("dense", None), ("cp", 3), ("tucker", 2)]


@pytest.mark.parametrize("ndim,shape,modes", CASES)
@pytest.mark.parametrize("factorization,rank", WEIGHTS)
def test_spectral_conv_matches_mode_by_mode_reference(ndim, shape, modes, factorization, rank):
    torch.manual_seed(0)
    conv = SpectralConv(ndim, 3, 2, modes, factorization, rank).double()
    x = torch.randn(2, 3, *shape, dtype=torch.float64)
    y = conv(x)
    assert y.shape == (2, 2, *shape) and y.dtype == torch.float64
    torch.testing.assert_close(y, reference(conv, x), rtol=0, atol=1e-12)


def test_tucker_with_explicit_ranks_matches_reference():
    torch.manual_seed(0)
    conv = SpectralConv(2, 3, 4, 3, "tucker", [2, 3, 4, 2]).double()
    assert C(conv.weight.core).shape == (2, 3, 4, 2)
    x = torch.randn(1, 3, 10, 8, dtype=torch.float64)
    torch.testing.assert_close(conv(x), reference(conv, x), rtol=0, atol=1e-12)


def test_identity_weight_is_an_exact_low_pass_filter():
    # With W[i, o, k] = delta_io the layer projects onto the retained modes: a Fourier mode
    # inside the band passes unchanged, one outside (|k_x| = 4 >= modes = 3) is removed.
    conv = SpectralConv(2, 1, 1, 3).double()
    with torch.no_grad():
        conv.weight.weight.zero_()
        conv.weight.weight[..., 0] = 1.0
    i = torch.arange(16, dtype=torch.float64)
    xx, yy = torch.meshgrid(i, i, indexing="ij")
    inside = torch.cos(2 * math.pi * (2 * xx - 1 * yy) / 16)[None, None]
    outside = torch.sin(2 * math.pi * (4 * xx + 1 * yy) / 16)[None, None]
    torch.testing.assert_close(conv(inside + outside), inside, rtol=0, atol=1e-12)


def test_spectral_conv_commutes_with_periodic_shifts():
    torch.manual_seed(0)
    conv = SpectralConv(3, 2, 2, 2, "cp", 4)
    x = torch.randn(1, 2, 8, 6, 8)
    torch.testing.assert_close(
        conv(torch.roll(x, (2, 1, -3), (2, 3, 4))), torch.roll(conv(x), (2, 1, -3), (2, 3, 4))
    )


def test_factorisations_cut_parameters():
    # dense: in*out*(2m)^2*m complex numbers; CP: r*(in + out + 2m + 2m + m)
    count = {
        f: sum(p.numel() for p in SpectralConv(3, 16, 16, 8, f, r).parameters()) // 2
        for f, r in [("dense", None), ("cp", 8), ("tucker", 4)]
    }
    assert count["dense"] == 16 * 16 * 16 * 16 * 8
    assert count["cp"] == 8 * (16 + 16 + 16 + 16 + 8)
    assert count["tucker"] == 4**5 + 4 * (16 + 16 + 16 + 16 + 8)
    assert count["cp"] < count["tucker"] < count["dense"] / 100


def test_factorised_init_matches_dense_scale():
    # All layouts start with W entries of variance ~2 / (in + out) = 1/16 (loose bound: the
    # factorised weights are sums of a few products, so their spread is larger).
    torch.manual_seed(0)
    for f, r in [("dense", None), ("cp", 16), ("tucker", 8)]:
        w = dense_weight(SpectralConv(3, 16, 16, 6, f, r).weight, 3)
        assert 0.5 / 16 < w.abs().pow(2).mean().item() < 2.0 / 16, f


@pytest.mark.parametrize(
    "factorization,rank,match",
    [
        ("cp", None, r"rank: got None, expected a positive int for factorization 'cp'"),
        ("tucker", [2, 2], r"rank: got \[2, 2\], expected a positive int or 4 ints"),
        ("tucker", [2, 2, 9, 2], r"bounded by \[3, 3, 6, 3\]"),
        ("svd", 2, r"factorization: got 'svd', expected one of \['dense', 'cp', 'tucker'\]"),
    ],
)
def test_bad_factorisations_raise(factorization, rank, match):
    with pytest.raises(ModelError, match=match):
        SpectralConv(2, 3, 3, 3, factorization, rank)


def test_bad_modes_raise():
    with pytest.raises(ModelError, match=r"modes: got \(2, 2, 2\), expected a positive int or 2"):
        SpectralConv(2, 1, 1, (2, 2, 2))
    with pytest.raises(ModelError, match=r"modes: got 0"):
        SpectralConv(2, 1, 1, 0)


def test_mode_matmul_forward_and_custom_backward():
    # Reference: einsum over the modes; gradients checked by finite differences (gradcheck
    # handles complex inputs with PyTorch's conjugate-Wirtinger convention).
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5, dtype=torch.complex128, requires_grad=True)
    w = torch.randn(20, 3, 2, dtype=torch.complex128, requires_grad=True)
    expected = torch.einsum("bixy,xyio->boxy", x, w.reshape(4, 5, 3, 2))
    torch.testing.assert_close(mode_matmul(x, w), expected, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(mode_matmul, (x, w))


def test_spectral_conv_runs_in_float32_under_bf16_autocast():
    # cuFFT has no bf16 transforms: the layer must upcast its FFTs under autocast and
    # return the autocast dtype; the CPU autocast path exercises the same code.
    torch.manual_seed(0)
    layer = SpectralConv(2, 3, 3, modes=(3, 3))
    x = torch.randn(2, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x.to(torch.bfloat16))
    assert y.dtype == torch.bfloat16
    reference = layer(x.to(torch.bfloat16).float())
    # bf16 keeps ~3 significant digits: compare at that precision
    torch.testing.assert_close(y.float(), reference, rtol=2e-2, atol=2e-2)

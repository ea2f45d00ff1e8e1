"""Fourier resampling of periodic cell-centred fields (surrogates.ops.fft)."""

from __future__ import annotations

import numpy as np
import pytest

from surrogates.ops.fft import fourier_resample


def _field(n: int, box: float = 2.0) -> np.ndarray:
    """Two components of a field with modes |m| <= 3 (band-limited for n >= 8) at cell
    centres (i + 1/2) box / n."""
    x = (np.arange(n) + 0.5) * box / n
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    k = 2 * np.pi / box
    a = np.sin(k * X + 0.3) * np.cos(2 * k * Y) + 0.5 * np.cos(3 * k * Z - 1.0)
    b = np.cos(k * (X + Y + Z)) + 0.2
    return np.stack([a, b])


@pytest.mark.parametrize(("n", "size"), [(8, 16), (16, 8), (8, 12)])
def test_band_limited_fields_are_resampled_exactly(n, size):
    # Reference: the analytic field at the new cell centres; tolerance: round-off.
    np.testing.assert_allclose(fourier_resample(_field(n), size), _field(size), atol=1e-12)


def test_modes_beyond_the_coarse_grid_are_dropped_and_errors_are_clear():
    n = 16
    x = (np.arange(n) + 0.5) / n
    fine = np.sin(2 * np.pi * 6 * x)[:, None, None] * np.ones((n, n, n))  # mode 6 > 8 / 2
    np.testing.assert_allclose(fourier_resample(fine, 8), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="need 3 equal trailing axes"):
        fourier_resample(np.zeros((8, 8, 4)), 4)

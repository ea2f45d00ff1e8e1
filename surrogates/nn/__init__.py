"""Neural-network layers written once for N spatial dimensions (channels-first tensors).

Valid and padded residual convolution blocks, factor-2 resampling, spectral (Fourier)
convolutions with dense or factorised weights, and FiLM conditioning on scalar parameters.
"""

from surrogates.nn.blocks import Down, PaddedConvBlock, Up, ValidConvBlock
from surrogates.nn.conv import (
    ACTIVATIONS,
    NORMS,
    PADDING_MODES,
    activation,
    centred_differences,
    conv_nd,
    conv_transpose_nd,
    crop_to,
    norm_nd,
)
from surrogates.nn.film import FiLM, ParamEmbedding
from surrogates.nn.spectral import FACTORIZATIONS, SpectralConv, mode_counts
from surrogates.nn.spectral_weights import CPWeight, DenseWeight, TuckerWeight

__all__ = [
    "ACTIVATIONS",
    "FACTORIZATIONS",
    "NORMS",
    "PADDING_MODES",
    "CPWeight",
    "DenseWeight",
    "Down",
    "FiLM",
    "PaddedConvBlock",
    "ParamEmbedding",
    "SpectralConv",
    "TuckerWeight",
    "Up",
    "ValidConvBlock",
    "activation",
    "centred_differences",
    "conv_nd",
    "conv_transpose_nd",
    "crop_to",
    "mode_counts",
    "norm_nd",
]

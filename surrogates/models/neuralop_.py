"""``neuralop_fno``: the Fourier neural operator of the ``neuraloperator`` package.

An optional model for side-by-side studies. ``neuraloperator`` is an optional dependency
(the ``bench`` extra: ``pip install 'pde-surrogates[bench]'``, or ``pip install -e
'.[bench]'`` in a source checkout) and is imported only when such a model is built, so
importing :mod:`surrogates.models` registers the name without it, and building it without
the package raises :class:`~surrogates.errors.ModelError` naming the extra.

It is configured as the same architecture as our ``fno`` (as ``benchmarks/bench_models.py``
does): the same retained frequencies, width and layers, lifting and projection MLPs of
``2 * width`` channels, a linear skip, no positional embedding and no channel MLP.
Parameters condition it the way users of that package do: appended to the input as
constant channels (no FiLM embedding, ``embedding = None``). ``surrogates.fit``, the
``Surrogate`` artifact and the tiled rollout (blended tiles: the operator is global,
``exact_tiling = False``) all work with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from surrogates.errors import ModelError
from surrogates.models.base import SurrogateModel, as_size, check_common, check_int
from surrogates.models.registry import register

__all__ = ["INSTALL_HINT", "NeuralopFNO", "NeuralopFNOConfig"]

#: Our activation names as the functions ``neuralop`` takes (``non_linearity``).
FUNCTIONS = {
    "gelu": F.gelu,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "silu": F.silu,
    "tanh": torch.tanh,
}
#: How to get ``neuraloperator``: the ``bench`` extra, from PyPI or a source checkout.
INSTALL_HINT = "pip install 'pde-surrogates[bench]' (or pip install -e '.[bench]' in a checkout)"


@dataclass(frozen=True)
class NeuralopFNOConfig:
    """Options of :class:`NeuralopFNO` (the same meaning as in our ``fno``).

    Attributes
    ----------
    modes : int
        Retained frequencies per axis (``-modes .. modes - 1``; ``0 .. modes - 1`` on the
        last, real-FFT axis), as in our ``fno``.
    width : int
        Channels of the Fourier layers (``hidden_channels``).
    layers : int
        Number of Fourier layers.
    halo : int
        Tile overlap (cells per side) for blended tiled evaluation.
    activation : str
        One of ``surrogates.nn.ACTIVATIONS``.
    embed_dim : int
        Kept so that every model has the same common options; unused (parameters enter
        as input channels).
    """

    modes: int = 8
    width: int = 32
    layers: int = 4
    halo: int = 8
    activation: str = "gelu"
    embed_dim: int = 32

    def __post_init__(self) -> None:
        for name in ("modes", "width", "layers"):
            check_int(name, getattr(self, name))
        check_int("halo", self.halo, minimum=0)
        check_common(self)


def _neuralop_fno() -> type:
    """The ``neuralop.models.FNO`` class, or ModelError saying how to install it."""
    try:
        from neuralop.models import FNO
    except ImportError as err:
        raise ModelError(
            f"neuralop_fno needs the optional neuraloperator package ({err}); install the"
            f" bench extra: {INSTALL_HINT}"
        ) from None
    return FNO


@register("neuralop_fno", requires=("neuralop",))
class NeuralopFNO(SurrogateModel):
    """``neuralop.models.FNO`` behind our model contract; output size = input size.

    ``forward(x, params=None)`` maps x of shape (batch, in_channels, *spatial) and params
    of shape (batch, n_params) to (batch, out_channels, *spatial).
    """

    Config = NeuralopFNOConfig
    exact_tiling = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_params: int,
        ndim: int,
        config: NeuralopFNOConfig,
    ) -> None:
        super().__init__(in_channels, out_channels, n_params, ndim, config)
        self.embedding, self.cond_dim = None, 0  # parameters are input channels instead
        self.halo, self.alignment = config.halo, 1
        m = config.modes
        # neuraloperator counts modes over both signs and halves the last axis:
        # (2m, ..., 2m - 1) keeps exactly our block -m..m-1, ..., 0..m-1.
        self.net = _neuralop_fno()(
            n_modes=(2 * m,) * (ndim - 1) + (2 * m - 1,),
            in_channels=in_channels + n_params,
            out_channels=out_channels,
            hidden_channels=config.width,
            n_layers=config.layers,
            lifting_channel_ratio=2,
            projection_channel_ratio=2,
            positional_embedding=None,
            use_channel_mlp=False,
            fno_skip="linear",
            non_linearity=FUNCTIONS[config.activation],
        )

    def output_size(self, input_size: int) -> int:
        """``input_size`` (any positive size)."""
        return self.input_size(input_size)

    def input_size(self, output_size: int) -> int:
        """``output_size`` (any positive size)."""
        if as_size(output_size) < 1:
            raise ModelError(f"neuralop_fno takes any positive size; got {output_size!r}")
        return as_size(output_size)

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Map x (batch, in_channels, *n) and params (batch, n_params) to (batch, out, *n)."""
        self._prepare(x, None)  # checks x (the embedding is None: params are checked here)
        if not self.n_params:
            if params is not None:
                raise ModelError(
                    f"{self.name}: model is unconditioned (n_params=0) but params of shape "
                    f"{tuple(params.shape)} were given"
                )
            return self.net(x)
        expected = (x.shape[0], self.n_params)
        if params is None or tuple(params.shape) != expected:
            got = None if params is None else tuple(params.shape)
            raise ModelError(f"{self.name}: params: got shape {got}, expected {expected}")
        const = params.to(x.dtype).reshape(*expected, *([1] * self.ndim))
        return self.net(torch.cat([x, const.expand(-1, -1, *x.shape[2:])], dim=1))

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The weights only: drops the ``_metadata`` entry (constructor arguments, Python
        objects) that ``neuralop``'s models add, so artifacts and checkpoints stay
        tensors-only and load with ``strict=True``."""
        state = super().state_dict(*args, **kwargs)
        state.pop("_metadata", None)
        return state

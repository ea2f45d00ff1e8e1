"""The model contract shared by every surrogate network, and config validation helpers.

Every registered model subclasses :class:`SurrogateModel`. Training, the artifact and the
tiled rollout engine rely only on this contract:

- ``forward(x, params=None)``: ``x`` of shape (batch, in_channels, *spatial), ``params`` of
  shape (batch, n_params), required iff ``n_params > 0``; returns
  (batch, out_channels, *map(output_size, spatial)). Bad shapes raise :class:`ModelError`.
- ``output_size(n)`` / ``input_size(m)`` per spatial axis, raising :class:`ModelError` for
  sizes the network cannot take or produce. ``input_size(m) - m`` is the total margin the
  network consumes (``2 * halo`` for ``vnet``, 0 for the size-preserving models).
- ``alignment``: tile origins and core sizes must be multiples of it (``2**levels`` for the
  U-Nets, 1 for ``fno``).
- ``halo``: input cells needed on each side of an output region. With ``exact_tiling``
  True (``vnet``), evaluating the window ``[o - halo, o + m + halo)`` of a domain (``o``, ``m``
  multiples of ``alignment``) reproduces the whole-domain output on ``[o, o + m)`` to
  round-off. Otherwise (``unet``: its exact receptive radius; ``fno``: a configured
  overlap, the operator being global) it is the overlap for blended approximate tiling.
- ``spec``: JSON-able dict such that ``surrogates.models.build(**spec)`` rebuilds the same
  architecture (the state dict then loads with ``strict=True``).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from surrogates.errors import ModelError
from surrogates.nn import ACTIVATIONS, ParamEmbedding
from surrogates.nn.conv import check_ndim

__all__ = ["SurrogateModel", "as_size", "check_choice", "check_int", "config_to_json"]


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise :class:`ModelError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelError(f"{name}: got {value!r}, expected an int >= {minimum}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ModelError`."""
    choices = list(choices)
    if isinstance(value, bool) and not all(isinstance(c, bool) for c in choices):
        raise ModelError(f"{name}: got {value!r}, expected one of {choices}")
    if value not in choices:
        raise ModelError(f"{name}: got {value!r}, expected one of {choices}")
    return value


def as_size(value: Any) -> int:
    """``value`` as a Python int (numpy integers accepted), else raise :class:`ModelError`."""
    if isinstance(value, bool):
        raise ModelError(f"size: got {value!r}, expected an integer number of cells")
    try:
        return operator.index(value)
    except TypeError:
        raise ModelError(f"size: got {value!r}, expected an integer number of cells") from None


def check_common(config: Any) -> None:
    """Validate the options every model config has: ``activation`` and ``embed_dim``."""
    check_choice("activation", config.activation, sorted(ACTIVATIONS))
    check_int("embed_dim", config.embed_dim)


def config_to_json(config: Any) -> dict[str, Any]:
    """The fields of a config dataclass as a JSON-able dict (tuples become lists)."""

    def plain(v: Any) -> Any:
        return [plain(e) for e in v] if isinstance(v, (list, tuple)) else v

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


class SurrogateModel(nn.Module):
    """Base class of registered models: shape contract, parameter embedding, ``spec``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and output fields.
    n_params : int
        Number of scalar conditioning parameters (0: unconditioned, no embedding weights).
    ndim : int
        Number of spatial dimensions (1, 2 or 3).
    config : dataclass
        The model's frozen config (``type(self).Config``), already validated.

    Attributes
    ----------
    name : str
        Registry name (set by :func:`surrogates.models.register`).
    halo, alignment : int
        Set by subclasses (see the module docstring).
    cond_dim : int
        Width of the parameter embedding fed to the FiLM layers, 0 when unconditioned.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type]
    exact_tiling: ClassVar[bool] = False
    halo: int
    alignment: int

    def __init__(
        self, in_channels: int, out_channels: int, n_params: int, ndim: int, config: Any
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels)
        self.out_channels = check_int("out_channels", out_channels)
        self.n_params = check_int("n_params", n_params, minimum=0)
        self.ndim = check_ndim(ndim)
        self.config = config
        self.cond_dim = config.embed_dim if n_params else 0
        self.embedding = (
            ParamEmbedding(n_params, config.embed_dim, config.activation) if n_params else None
        )

    @property
    def spec(self) -> dict[str, Any]:
        """JSON-able architecture description; ``build(**spec)`` rebuilds this model."""
        return {
            "name": self.name,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "n_params": self.n_params,
            "ndim": self.ndim,
            **config_to_json(self.config),
        }

    def output_size(self, input_size: int) -> int:
        """Output cells per axis for ``input_size`` input cells (ModelError if invalid)."""
        raise NotImplementedError

    def input_size(self, output_size: int) -> int:
        """Input cells per axis needed for ``output_size`` output cells (ModelError if invalid)."""
        raise NotImplementedError

    def _describe(self) -> str:
        options = ", ".join(f"{k}={v}" for k, v in config_to_json(self.config).items())
        return f"{self.name}({options})"

    def _prepare(self, x: torch.Tensor, params: torch.Tensor | None) -> torch.Tensor | None:
        """Validate ``x`` and ``params``; return the parameter embedding (or None)."""
        if x.ndim != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise ModelError(
                f"{self.name}: input has shape {tuple(x.shape)}, expected "
                f"(batch, {self.in_channels}, {', '.join(['n'] * self.ndim)})"
            )
        for axis, n in enumerate(x.shape[2:]):
            try:
                self.output_size(n)
            except ModelError as err:
                raise ModelError(f"{self.name}: input spatial axis {axis}: {err}") from None
        if self.embedding is None:
            if params is not None:
                raise ModelError(
                    f"{self.name}: model is unconditioned (n_params=0) but params of shape "
                    f"{tuple(params.shape)} were given"
                )
            return None
        expected = (x.shape[0], self.n_params)
        if params is None or tuple(params.shape) != expected:
            got = None if params is None else tuple(params.shape)
            raise ModelError(f"{self.name}: params: got shape {got}, expected {expected}")
        return self.embedding(params.to(x.dtype))

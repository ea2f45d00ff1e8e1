"""A deep ensemble as one model: K members of one registered architecture, mean output.

:class:`Ensemble` (registered as ``"ensemble"``, unlisted: ``fit(..., ensemble=K)`` builds
it) holds K independently trained members of the same spec and returns the **mean** of
their predictions, so an ensemble surrogate tiles, pads, saves, loads and rolls out
exactly like one member: ``halo``, ``alignment``, ``output_size``, ``input_size`` and
``exact_tiling`` are the member's (an ensemble of ``vnet`` members is an
:class:`ExactEnsemble`). The spec is the member's spec (less the channel counts) plus
``members`` and ``head``; the members' weights are ``members.<k>.*`` of one state dict.

Heads
-----
- ``"mean"``: each member predicts the targets (``out_channels``); the spread is the
  members' sample standard deviation (``ddof=1``; 0 for one member).
- ``"gaussian"``: each member predicts a mean and ``log σ`` per target (``2 out_channels``
  channels: means first), trained by a proper scoring rule (``loss="gaussian_nll"`` or
  ``"crps"``). The prediction is the mixture mean; the spread is the mixture's standard
  deviation, ``sqrt(mean_k σ_k² + var_k μ_k)`` (the variance of the means with ``ddof=0``).

Outputs and spreads are in the network's (normalised) output space; the surrogate's
``Scaling.out_std`` turns a spread into physical units (decoding is affine per channel).
With gradients off (inference), :meth:`Ensemble.forward` keeps the spread of its last call
with that call's input, so :meth:`Ensemble.spread_of` returns it for the same input (checked
by value) without running the members again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from surrogates.errors import ModelError
from surrogates.models.base import SurrogateModel, check_choice, check_int
from surrogates.models.registry import _lookup, build, register

__all__ = ["HEADS", "Ensemble", "EnsembleConfig", "ExactEnsemble", "ensemble_of"]

HEADS = ("mean", "gaussian")
_CHANNEL_KEYS = ("in_channels", "out_channels", "n_params", "ndim")


@dataclass(frozen=True)
class EnsembleConfig:
    """Options of an :class:`Ensemble`.

    Attributes
    ----------
    member : dict
        The members' spec without channel counts: ``{"name": "vnet", "width": 8, ...}``.
    members : int
        Number of members K >= 1.
    head : {"mean", "gaussian"}
        What each member predicts (module docstring).
    """

    member: dict | None = None
    members: int = 2
    head: str = "mean"

    def __post_init__(self) -> None:
        if not isinstance(self.member, dict) or not isinstance(self.member.get("name"), str):
            raise ModelError(
                f"ensemble: member={self.member!r}, expected a member spec dict with a 'name'"
            )
        if self.member["name"] == "ensemble" or set(_CHANNEL_KEYS) & set(self.member):
            raise ModelError(
                f"ensemble: member spec {self.member!r} must name a plain model and hold no"
                f" channel counts {list(_CHANNEL_KEYS)}"
            )
        check_int("ensemble members", self.members)
        check_choice("ensemble head", self.head, HEADS)


@register("ensemble", listed=False)
class Ensemble(SurrogateModel):
    """K members of one architecture; ``forward`` returns their mean (module docstring).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input fields and of the predicted targets.
    n_params : int
        Conditioning parameters (each member has its own embedding).
    ndim : int
        Spatial dimensions.
    config : EnsembleConfig
    """

    Config = EnsembleConfig

    def __new__(cls, *args: Any, **kwargs: Any) -> Ensemble:
        # The class carries exact_tiling (read as type(model).exact_tiling): pick the
        # subclass that matches the members' architecture.
        config = args[4] if len(args) > 4 else kwargs.get("config")
        if cls is Ensemble and isinstance(config, EnsembleConfig):
            if _lookup(config.member["name"]).exact_tiling:
                cls = ExactEnsemble
        return super().__new__(cls)

    def __init__(
        self, in_channels: int, out_channels: int, n_params: int, ndim: int, config: EnsembleConfig
    ) -> None:
        super().__init__(in_channels, out_channels, 0, ndim, config)  # no embedding of its own
        self.n_params = check_int("n_params", n_params, minimum=0)
        options = {k: v for k, v in config.member.items() if k != "name"}
        width = out_channels * (2 if config.head == "gaussian" else 1)
        self.members = nn.ModuleList(
            build(config.member["name"], in_channels, width, n_params, ndim, **options)
            for _ in range(config.members)
        )
        first = self.members[0]
        self.halo, self.alignment = first.halo, first.alignment
        self._last: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None = None

    def output_size(self, input_size: int) -> int:
        return self.members[0].output_size(input_size)

    def input_size(self, output_size: int) -> int:
        return self.members[0].input_size(output_size)

    def member_outputs(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Every member's raw output.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, in_channels, *spatial)
            Normalised inputs.
        params : torch.Tensor, shape (batch, n_params), optional

        Returns
        -------
        torch.Tensor, shape (K, batch, M, *out_spatial)
            ``M = out_channels`` (head "mean") or ``2 out_channels`` (means, then log σ).
        """
        return torch.stack([m(x, params) for m in self.members])

    def spread(self, outputs: torch.Tensor) -> torch.Tensor:
        """Predictive standard deviation from :meth:`member_outputs`, (batch, C, *S)."""
        c = self.out_channels
        means = outputs[:, :, :c].float()
        if self.config.head == "gaussian":
            var = torch.exp(2 * outputs[:, :, c:].float()).mean(0) + means.var(0, correction=0)
            return var.sqrt()
        if len(self.members) == 1:
            return torch.zeros_like(means[0])
        return means.std(0, correction=1)

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Mean prediction, shape (batch, out_channels, *out_spatial) (network units)."""
        outputs = self.member_outputs(x, params)
        if not torch.is_grad_enabled():
            self._last = (x, params, self.spread(outputs))
        else:
            self._last = None
        return outputs[:, :, : self.out_channels].mean(0)

    def spread_of(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Spread (network units) at normalised input ``x``: the kept one if ``x`` and
        ``params`` equal the last inference call's, else from a fresh pass of the members."""
        last = self._last
        if last is not None and _same(last[0], x) and _same(last[1], params):
            return last[2]
        with torch.no_grad():
            return self.spread(self.member_outputs(x, params))


class ExactEnsemble(Ensemble):
    """An :class:`Ensemble` of exactly tiling members (``vnet``): tiles exactly too."""

    exact_tiling = True


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and a.device == b.device and bool(torch.equal(a, b))


def ensemble_of(members: Sequence[SurrogateModel], out_channels: int) -> Ensemble:
    """An :class:`Ensemble` holding copies of the weights of trained ``members``.

    Parameters
    ----------
    members : sequence of SurrogateModel
        Trained networks of one spec; ``out_channels`` outputs each (head "mean") or
        ``2 out_channels`` (head "gaussian").
    out_channels : int
        Predicted targets.
    """
    specs = [dict(m.spec) for m in members]
    if not specs or any(s != specs[0] for s in specs):
        raise ModelError("ensemble_of: expected one or more members of the same spec")
    spec = specs[0]
    width = spec["out_channels"]
    if width not in (out_channels, 2 * out_channels):
        raise ModelError(f"ensemble_of: members have {width} outputs for {out_channels} targets")
    head = "mean" if width == out_channels else "gaussian"
    member = {k: v for k, v in spec.items() if k not in _CHANNEL_KEYS}
    ens = build("ensemble", spec["in_channels"], out_channels, spec["n_params"], spec["ndim"],
                member=member, members=len(members), head=head)  # fmt: skip
    for target, source in zip(ens.members, members, strict=True):
        target.load_state_dict(source.state_dict())
    return ens.to(next(members[0].parameters()).device)

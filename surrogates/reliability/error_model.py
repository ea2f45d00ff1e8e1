"""A learned error model: a small local network that predicts a surrogate's error scale.

:class:`ErrorNet` maps the surrogate's inputs and its prediction (physical units, both on
the cells of one window) to ``log σ̂`` per cell and target variable, with one residual
block of ``convs`` unpadded kernel-3 convolutions and a 1×1 head: the receptive field is
``2 convs + 1`` cells per axis and the output is ``halo = convs`` cells smaller per side,
so tiles with a ``halo``-cell margin stitch exactly (as a valid surrogate's do). It is
not conditioned on the surrogate's scalar parameters.

:class:`ErrorModel` is the reliability attachment of a :class:`~surrogates.Surrogate`: the
network plus its :class:`~surrogates.reliability.Calibration`; the calibrated interval
half-width is ``σ̂ q``. :func:`predict_error` gives it for whole (untiled) fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from surrogates.artifact.metadata import spatial_dims
from surrogates.data import read_windows
from surrogates.errors import ModelError
from surrogates.nn import ValidConvBlock, conv_nd, crop_to
from surrogates.reliability.conformal import Calibration

if TYPE_CHECKING:
    from surrogates.artifact import Surrogate

__all__ = [
    "KIND", "ErrorModel", "ErrorNet", "error_features", "predict_error", "require", "stack_items",
]  # fmt: skip

KIND = "error_model"


class ErrorNet(nn.Module):
    """``log σ̂`` of every target from inputs and prediction (valid convolutions).

    Parameters
    ----------
    ndim : int
        Spatial dimensions.
    in_channels : int
        Inputs plus predicted targets.
    out_channels : int
        Target variables.
    width : int
        Hidden channels.
    convs : int
        Kernel-3 valid convolutions; the halo (cells trimmed per side) is ``convs``.
    """

    def __init__(
        self, ndim: int, in_channels: int, out_channels: int, width: int = 16, convs: int = 2
    ) -> None:
        super().__init__()
        if not isinstance(convs, int) or convs < 1 or not isinstance(width, int) or width < 1:
            raise ModelError(f"ErrorNet: width={width!r}, convs={convs!r}; expected ints >= 1")
        self.spec = {"ndim": ndim, "in_channels": in_channels, "out_channels": out_channels,
                     "width": width, "convs": convs}  # fmt: skip
        self.block = ValidConvBlock(ndim, in_channels, width, convs)
        self.head = conv_nd(ndim, width, out_channels, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("in_mean", torch.zeros(in_channels))
        self.register_buffer("in_std", torch.ones(in_channels))
        self.register_buffer("log_scale", torch.zeros(out_channels))
        self.halo = convs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``log σ̂``.

        Parameters
        ----------
        x : Tensor, shape (batch, in_channels, *W)
            Inputs then predicted targets, physical units.

        Returns
        -------
        Tensor, shape (batch, out_channels, *(W - 2 * halo))
        """
        view = (1, -1) + (1,) * (x.ndim - 2)
        h = self.block((x - self.in_mean.view(view)) / self.in_std.view(view))
        return self.head(h) + self.log_scale.view(view)


@dataclass
class ErrorModel:
    """The reliability attachment of a surrogate: an :class:`ErrorNet` and its calibration.

    Attributes
    ----------
    net : ErrorNet
    calibration : Calibration
    provenance : dict
        JSON-able record of how the error model was fitted.

    Notes
    -----
    The estimator interface of the tiled rollout (shared with ensembles): ``kind``,
    ``calibration``, ``halo``, :meth:`halfwidth` and :meth:`to`. The network runs in
    float32 on its own device (``Surrogate.to`` moves it with the surrogate), whatever
    the surrogate's precision.
    """

    net: ErrorNet
    calibration: Calibration
    provenance: dict

    kind = KIND

    @property
    def halo(self) -> int:
        """Cells per side by which the half-width map is smaller than the prediction."""
        return self.net.halo

    def to(self, device: str | torch.device) -> ErrorModel:
        """Move the network to ``device``; returns self."""
        self.net.to(device)
        return self

    @torch.inference_mode()
    def sigma(self, features: torch.Tensor) -> torch.Tensor:
        """``σ̂`` from feature windows (batch, C_in, *W), shape (batch, C_out, *(W - 2 halo))."""
        self.net.eval()
        device = next(self.net.parameters()).device
        return torch.exp(self.net(features.to(device=device, dtype=torch.float32)))

    def halfwidth(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        step: int = 1,
        params: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Calibrated half-widths ``σ̂ q_step`` of the prediction ``y`` of window ``x``.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, C_in, *W)
            The physical input window given to ``Surrogate.apply`` (``task.inputs`` order);
            centre-cropped to ``y``'s cells.
        y : torch.Tensor, shape (batch, C_out, *S)
            Its output, physical units (``task.targets`` order).
        step : int
            Rollout step (1-based) whose calibration quantile applies.
        params : torch.Tensor, shape (batch, P), optional
            The surrogate's parameters (unused: the network is not conditioned on them).

        Returns
        -------
        torch.Tensor, shape (batch, C_out, *(S - 2 * halo)), float32, on ``y``'s device

        Raises
        ------
        ModelError
            ``step`` is not calibrated.
        """
        q = torch.as_tensor(self.calibration.quantile(step), dtype=torch.float32)
        feats = torch.cat([crop_to(x.to(y.device, torch.float32), y.shape[2:]), y.float()], 1)
        s = self.sigma(feats)
        return (s * q.to(s.device).view((1, -1) + (1,) * (s.ndim - 2))).to(y.device)

    def to_payload(self) -> dict[str, Any]:
        """What the artifact file stores: JSON metadata and CPU tensors."""
        meta = {"kind": KIND, "net": self.net.spec, "calibration": self.calibration.to_dict(),
                "provenance": self.provenance}  # fmt: skip
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.net.state_dict().items()}
        return {"metadata": json.dumps(meta), "state_dict": state}

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], state: dict[str, torch.Tensor]) -> ErrorModel:
        """Inverse of :meth:`to_payload` (metadata already parsed)."""
        try:
            net = ErrorNet(**meta["net"])
            net.load_state_dict(state, strict=True)
        except (KeyError, TypeError, RuntimeError) as err:
            first = str(err).strip().splitlines()[0]
            raise ModelError(f"error model: weights do not match its spec ({first})") from None
        return cls(net.eval(), Calibration.from_dict(meta["calibration"]),
                   dict(meta.get("provenance", {})))  # fmt: skip


def attachment(surrogate: Surrogate, name: str | None = None) -> Any:
    """The surrogate's reliability attachment (any kind), or the one-line ModelError when
    it has none; ``name`` (the artifact's path, say) leads the message."""
    rel = getattr(surrogate, "reliability", None)
    if rel is None:
        what = name or f"the {surrogate.model.name} surrogate"
        raise ModelError(
            f"{what}: reliability requested but the artifact has no reliability attachment;"
            " attach one with surrogates.reliability.fit_error_model(surrogate, held_out) and"
            " save it"
        )
    return rel


def require(surrogate: Surrogate) -> ErrorModel:
    """The surrogate's error model, or the one-line ModelError when it has none."""
    rel = attachment(surrogate)
    if not isinstance(rel, ErrorModel):
        raise ModelError(f"reliability attachment {type(rel).__name__} is not an error model")
    return rel


def error_features(
    surrogate: Surrogate, inputs: np.ndarray, prediction: np.ndarray, halo: int
) -> np.ndarray:
    """Feature windows of an error model: inputs then prediction, padded by ``halo``.

    Parameters
    ----------
    surrogate : Surrogate
        Gives the pad spec (the windows pad like the surrogate's: periodic axes wrap).
    inputs : numpy.ndarray, shape (item, C_in, *spatial)
        The task's inputs, physical units.
    prediction : numpy.ndarray, shape (item, C_out, *spatial)
        The surrogate's prediction of the targets.
    halo : int
        Cells added per side.

    Returns
    -------
    numpy.ndarray, shape (item, C_in + C_out, *(spatial + 2 * halo)), float32
    """
    x = np.concatenate([inputs, prediction], axis=1)
    axes = surrogate.pad_spec.axes
    ds = xr.Dataset({f"c{c}": (("sample", *axes), x[:, c]) for c in range(x.shape[1])})
    names = list(ds.data_vars)
    size = [n + 2 * halo for n in x.shape[2:]]
    out = np.empty((x.shape[0], x.shape[1], *size), dtype=np.float32)
    for i in range(x.shape[0]):
        w = read_windows(ds, names, -halo, size, surrogate.pad_spec, sample=i)
        out[i] = np.stack([w[n] for n in names])
    return out


def stack_items(ds: xr.Dataset, names, axes: tuple[str, ...], lead: tuple[str, ...]) -> np.ndarray:
    """Variables ``names`` as shape (item, C, *spatial), items the ``lead`` dims in C order.

    A variable without one of the ``lead`` dims (a static field) is repeated along it.
    """
    sizes = {d: ds.sizes[d] for d in lead}
    arrays = []
    for n in names:
        da = ds[n]
        da = da.expand_dims({d: k for d, k in sizes.items() if d not in da.dims})
        arrays.append(da.transpose(*lead, *axes).values.reshape(-1, *(ds.sizes[a] for a in axes)))
    return np.stack(arrays, axis=1)


def predict_error(
    surrogate: Surrogate,
    state: xr.Dataset,
    prediction: xr.Dataset | None = None,
    *,
    step: int = 1,
) -> xr.Dataset:
    """Calibrated error half-widths ``<var>_error`` of one prediction of whole fields.

    Parameters
    ----------
    surrogate : Surrogate
        With a reliability attachment (:func:`fit_error_model`).
    state : xarray.Dataset
        Canonical dataset with the task's inputs (what :meth:`Surrogate.predict` takes).
    prediction : xarray.Dataset, optional
        ``surrogate.predict(state)`` if already computed (else computed here).
    step : int
        Rollout step whose calibration applies (1 for one application).

    Returns
    -------
    xarray.Dataset
        ``<var>_error`` per target, on the prediction's dims and coordinates: the
        half-width ``h`` such that ``[ŷ - h, ŷ + h]`` covers the truth with probability
        ``level`` (attribute) per cell, or per tile of ``tile`` cells.

    Raises
    ------
    ModelError
        The surrogate has no reliability attachment, or ``step`` is not calibrated.
    """
    if getattr(surrogate.reliability, "kind", None) == "ensemble":
        from surrogates.reliability.ensemble import predict_ensemble_error

        return predict_ensemble_error(surrogate, state, prediction, step=step)
    rel = require(surrogate)
    task = surrogate.task
    prediction = surrogate.predict(state) if prediction is None else prediction
    axes = spatial_dims(state)
    lead = tuple(d for d in ("sample", "time") if d in prediction[task.targets[0]].dims)
    x_in = stack_items(state, task.inputs, axes, lead)
    y = stack_items(prediction, task.targets, axes, lead)
    if x_in.shape[0] != y.shape[0]:
        raise ModelError(f"predict_error: {x_in.shape[0]} input items, {y.shape[0]} predicted")
    feats = torch.from_numpy(error_features(surrogate, x_in, y, rel.halo))
    n_in = x_in.shape[1]  # inputs and prediction, both padded by the halo
    h = rel.halfwidth(feats[:, :n_in], feats[:, n_in:], step).cpu().numpy()  # (item, C_out, *S)
    cal = rel.calibration
    attrs = {"level": cal.level, "per": cal.per, "step": step}
    if cal.tile is not None:
        attrs["tile"] = cal.tile
    out = {}
    for c, name in enumerate(task.targets):
        ref = prediction[name].transpose(*lead, *axes)
        data = h[:, c].reshape(ref.shape)
        out[f"{name}_error"] = xr.Variable(ref.dims, data, attrs | _units(ref))
    return xr.Dataset(out, coords=prediction.coords, attrs={"reliability": KIND, **attrs})


def _units(da: xr.DataArray) -> dict:
    return {"units": da.attrs["units"]} if "units" in da.attrs else {}

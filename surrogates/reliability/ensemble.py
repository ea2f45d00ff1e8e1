"""The deep-ensemble error estimate: member spread, split-conformal calibrated.

A surrogate fitted with ``fit(..., ensemble=K)`` (or a probabilistic loss) has an
:class:`~surrogates.models.Ensemble` as its network; its prediction is the member mean and
its spread ``s`` the members' standard deviation (or the Gaussian mixture's,
:mod:`surrogates.models.ensemble`), in physical units ``s_norm · out_std``.
:func:`calibrate_ensemble` calibrates ``s`` on held-out samples
(:func:`~surrogates.reliability.calibrate` with ``σ̂ = s``) and attaches an
:class:`EnsembleEstimator` whose half-width is ``q_step · s``.

Estimator interface (shared with the tiled rollout engine): ``kind``, ``calibration``,
``halo`` (0: the spread map has the output's cells), ``halfwidth(x, y, step, params)`` on
the physical window ``x`` that :meth:`Surrogate.apply` took and its output ``y``, ``to``,
``to_payload``. The members' weights live in the surrogate's own state dict, so the
payload holds only JSON (the calibration); the estimator is bound to its surrogate's
network when the surrogate is built (``Surrogate(model, metadata, reliability)`` calls
:meth:`EnsembleEstimator.bind`). ``halfwidth`` right after ``apply`` on the same window
reuses the spread the ensemble kept from that forward pass (checked by value: one
comparison of the window instead of K member passes); otherwise it runs the members.

Lead surrogates: step ``k``'s spread is the members' one-step spread from the state the
mean has reached after ``k - 1`` steps, and ``q_k`` (calibrated per step along the mean
trajectory) absorbs the error's growth. :func:`members` gives one surrogate per member
for member-by-member rollouts.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import xarray as xr

from surrogates.artifact.metadata import dataset_source, spatial_dims
from surrogates.artifact.predict import item_batches, item_dims
from surrogates.errors import DataError, ModelError
from surrogates.models import Ensemble, build
from surrogates.reliability.conformal import PER, Calibration, calibrate, check_level
from surrogates.reliability.conformal import min_calibration as _min_units
from surrogates.reliability.error_model import stack_items

if TYPE_CHECKING:
    from surrogates.artifact import Surrogate

__all__ = [
    "KIND", "EnsembleEstimator", "calibrate_ensemble", "field_spread", "members",
    "predict_ensemble_error",
]  # fmt: skip

KIND = "ensemble"


@dataclass
class EnsembleEstimator:
    """Calibrated spread of an ensemble surrogate (module docstring).

    Attributes
    ----------
    calibration : Calibration
    provenance : dict
        JSON-able record of the calibration run.
    model : Ensemble or None
        The surrogate's network (None until :meth:`bind`).
    scaling : Scaling or None
        The surrogate's normalisation (None until :meth:`bind`).
    """

    calibration: Calibration
    provenance: dict
    model: Any = None
    scaling: Any = None

    kind = KIND
    halo = 0

    def bind(self, surrogate: Surrogate) -> EnsembleEstimator:
        """This estimator reading the members of ``surrogate`` (ModelError if no ensemble)."""
        _ensemble(surrogate)
        return replace(self, model=surrogate.model, scaling=surrogate.scaling)

    @torch.inference_mode()
    def spread(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Uncalibrated spread in physical units.

        Parameters
        ----------
        x : torch.Tensor, shape (B, C_in, *W)
            Physical input window (as given to :meth:`Surrogate.apply`).
        params : torch.Tensor, shape (B, P), optional

        Returns
        -------
        torch.Tensor, shape (B, C_out, *S), float32, on the network's device
        """
        if self.model is None:
            raise ModelError("ensemble estimator is not bound to a surrogate (use bind)")
        return _spread(self.model, self.scaling, x, params)

    def halfwidth(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        step: int = 1,
        params: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Calibrated half-widths ``q_step · spread``, shape of ``y`` (B, C_out, *S).

        ``x`` is the physical window :meth:`Surrogate.apply` took, ``y`` its output.
        """
        s = self.spread(x, params)
        if tuple(s.shape) != tuple(y.shape):
            raise ModelError(
                f"ensemble halfwidth: spread {tuple(s.shape)} for an output {tuple(y.shape)}"
            )
        q = torch.as_tensor(self.calibration.quantile(step), dtype=torch.float32)
        return s * q.to(s.device).view(1, -1, *([1] * (s.ndim - 2)))

    def to(self, device: str | torch.device) -> EnsembleEstimator:
        """No-op: the members are the surrogate's network and move with it."""
        return self

    def to_payload(self) -> dict:
        meta = {"kind": KIND, "calibration": self.calibration.to_dict(),
                "provenance": self.provenance}  # fmt: skip
        return {"metadata": json.dumps(meta), "state_dict": {}}

    @classmethod
    def from_metadata(cls, meta: dict, state_dict: dict) -> EnsembleEstimator:
        """Rebuild from :meth:`to_payload` (unbound; the surrogate binds it)."""
        if "calibration" not in meta:
            raise ModelError("corrupt ensemble reliability entry (no calibration)")
        return cls(Calibration.from_dict(meta["calibration"]), dict(meta.get("provenance", {})))


def _ensemble(surrogate: Surrogate) -> Ensemble:
    net = surrogate.model
    if not isinstance(net, Ensemble):
        raise ModelError(
            f"{net.name} surrogate is not an ensemble; fit one with surrogates.fit(...,"
            " ensemble=K) (K >= 2) or a probabilistic loss"
        )
    if net.config.head == "mean" and net.config.members < 2:
        raise ModelError("a 1-member ensemble with a mean head has no spread; use ensemble >= 2")
    return net


def members(surrogate: Surrogate) -> list[Surrogate]:
    """One surrogate per member (sharing its weights), for member-by-member rollouts.

    A Gaussian-head member is wrapped in a 1-member :class:`Ensemble` (its mean output).
    """
    from surrogates.artifact import Surrogate

    net = surrogate.model
    if not isinstance(net, Ensemble):
        raise ModelError(f"members: {net.name} surrogate is not an ensemble")
    out = []
    for member in net.members:
        if net.config.head == "mean":
            model = member
        else:
            model = build("ensemble", net.in_channels, net.out_channels, net.n_params, net.ndim,
                          member=net.config.member, members=1, head="gaussian")  # fmt: skip
            model.members[0] = member
        out.append(Surrogate(model, replace(surrogate.metadata, model=model.spec)))
    return out


def _spread(net: Ensemble, scaling: Any, x: torch.Tensor, params: torch.Tensor | None):
    """Physical spread (B, C_out, *S) at the physical window ``x`` (B, C_in, *W)."""
    device = next(net.parameters()).device
    xn = scaling.inputs(x.to(device=device, dtype=torch.float32))
    p = None if params is None else params.to(device=device, dtype=torch.float32)
    return net.spread_of(xn, scaling.params(p)).float() * scaling.out_std


def field_spread(surrogate: Surrogate, ds: xr.Dataset, batch_size: int = 8) -> np.ndarray:
    """Uncalibrated spread of one application to every item of ``ds`` (whole fields).

    Returns
    -------
    numpy.ndarray, shape (item, C_out, *spatial), float32
        Items over the (sample, time) dims of the inputs, in C order (as
        :meth:`Surrogate.predict`).
    """
    net = _ensemble(surrogate)
    surrogate.check_dataset(ds)
    dims = item_dims(ds, surrogate.task.inputs)
    shape = tuple(ds.sizes[a] for a in surrogate.metadata.grid.axes)
    n = int(np.prod([ds.sizes[d] for d in dims]))
    out = np.empty((n, len(surrogate.task.targets), *shape), dtype=np.float32)
    for rows, x, p, region in item_batches(surrogate, ds, dims, batch_size):
        with torch.inference_mode():
            out[rows] = _spread(net, surrogate.scaling, x, p)[region].cpu().numpy()
    return out


def _stack(ds: xr.Dataset, names, dims: tuple[str, ...]) -> np.ndarray:
    return stack_items(ds, names, spatial_dims(ds), dims)


def _per_step(
    surrogate: Surrogate, ds: xr.Dataset, steps: int, batch_size: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(prediction, spread, truth) per step, each (item, C_out, *spatial), along the mean."""
    task = surrogate.task
    if task.lead is None:
        if steps != 1:
            raise ModelError(f"calibrate_ensemble: steps={steps}, but a map surrogate has 1 step")
        pred, dims = surrogate.predict(ds, batch_size), item_dims(ds, task.inputs)
        return [(_stack(pred, task.targets, dims), field_spread(surrogate, ds, batch_size),
                 _stack(ds, task.targets, dims))]  # fmt: skip
    n_t = ds.sizes.get("time", 0) - steps * task.lead
    if n_t < 1:
        raise DataError(
            f"{dataset_source(ds)}: {ds.sizes.get('time', 0)} time steps; {steps} step(s) of a"
            f" lead-{task.lead} surrogate need at least {steps * task.lead + 1}"
        )
    state, out = ds.isel(time=slice(0, n_t)), []
    dims = item_dims(state, task.inputs)
    for k in range(1, steps + 1):
        pred = surrogate.predict(state, batch_size)
        truth = ds.isel(time=slice(k * task.lead, k * task.lead + n_t))
        out.append((_stack(pred, task.targets, dims), field_spread(surrogate, state, batch_size),
                    _stack(truth, task.targets, dims)))  # fmt: skip
        state = truth.assign(
            {n: (truth[n].dims, pred[n].transpose(*truth[n].dims).values) for n in task.targets}
        )
    return out


def calibrate_ensemble(
    surrogate: Surrogate,
    data: xr.Dataset,
    *,
    level: float = 0.9,
    per: str = "cell",
    tile: int | None = None,
    steps: int = 1,
    batch_size: int = 8,
) -> Surrogate:
    """Split-conformal calibration of an ensemble's spread on held-out data.

    Parameters
    ----------
    surrogate : Surrogate
        An ensemble surrogate (``fit(..., ensemble=K)``, or a probabilistic loss).
    data : xarray.Dataset
        Held-out canonical data (not the members' training samples, not the evaluation
        domain) with the task's inputs and targets; every (sample, time) item calibrates.
    level : float
        Coverage of the calibrated intervals, in (0, 1).
    per : {"cell", "tile"}
        Calibration unit (:mod:`surrogates.reliability.conformal`).
    tile : int, optional
        Tile edge in cells for ``per="tile"``.
    steps : int
        Rollout steps calibrated (lead surrogates; one ``q`` per step, module docstring).
    batch_size : int
        Windows per network call.

    Returns
    -------
    Surrogate
        A shallow copy sharing the network, its ``reliability`` an :class:`EnsembleEstimator`.

    Raises
    ------
    ModelError
        Not an ensemble (or one without spread), bad level, ``per``, tile or steps, or too
        few calibration units for the level (the message says how many are needed).
    DataError
        Missing variables, too few time steps for ``steps``.
    """
    _ensemble(surrogate)
    check_level(level)
    if per not in PER:
        raise ModelError(f"calibrate_ensemble: per={per!r}, expected one of {list(PER)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ModelError(f"calibrate_ensemble: steps={steps!r}, expected an int >= 1")
    arrays = _per_step(surrogate, data, steps, batch_size)
    samples = data["sample"].values.tolist() if "sample" in data.dims else None
    record = {"source": dataset_source(data), "samples": samples, "items": len(arrays[0][0]),
              "min_units": _min_units(level)}  # fmt: skip
    truth, pred, spread = ([a[i] for a in arrays] for i in (2, 0, 1))
    calibration = calibrate(truth, pred, spread, level=level, per=per, tile=tile,
                            variables=surrogate.task.targets, calibration_set=record)  # fmt: skip
    net = surrogate.model
    provenance = {"members": net.config.members, "head": net.config.head, "steps": steps}
    out = copy.copy(surrogate)
    out.reliability = EnsembleEstimator(calibration, provenance).bind(out)
    return out


def predict_ensemble_error(
    surrogate: Surrogate,
    state: xr.Dataset,
    prediction: xr.Dataset | None = None,
    *,
    step: int = 1,
    batch_size: int = 8,
) -> xr.Dataset:
    """Calibrated half-widths ``<var>_error`` of one ensemble prediction of whole fields.

    As :func:`surrogates.reliability.predict_error` (which dispatches here for ensembles):
    ``h = q_step · spread`` on the prediction's dims, attributes ``level``, ``per``, ``step``.
    """
    est = surrogate.reliability
    if not isinstance(est, EnsembleEstimator):
        raise ModelError("predict_error: the surrogate has no calibrated ensemble estimate")
    task, cal = surrogate.task, est.calibration
    prediction = surrogate.predict(state, batch_size) if prediction is None else prediction
    axes = spatial_dims(state)
    q = cal.quantile(step).reshape(1, -1, *[1] * len(axes))
    h = field_spread(surrogate, state, batch_size) * q
    lead = tuple(d for d in ("sample", "time") if d in prediction[task.targets[0]].dims)
    attrs = {"level": cal.level, "per": cal.per, "step": step}
    if cal.tile is not None:
        attrs["tile"] = cal.tile
    out = {}
    for c, name in enumerate(task.targets):
        ref = prediction[name].transpose(*lead, *axes)
        units = {"units": ref.attrs["units"]} if "units" in ref.attrs else {}
        out[f"{name}_error"] = xr.Variable(ref.dims, h[:, c].reshape(ref.shape), attrs | units)
    return xr.Dataset(out, coords=prediction.coords, attrs={"reliability": KIND, **attrs})

"""Fit a learned error model on held-out residuals of a surrogate, then calibrate it.

The held-out data (never the surrogate's training data, never the evaluation domain) is
split by sample with a seeded permutation: ``calibration_fraction`` of the samples
calibrate (split-conformal, :mod:`surrogates.reliability.conformal`), the rest train the
:class:`~surrogates.reliability.ErrorNet` by the Gaussian negative log-likelihood of the
residual, ``residual ~ N(0, σ̂²)``: ``mean(log σ̂ + r² / (2 σ̂²))``. Training is full-batch
Adam for ``steps`` steps from a seeded initialisation, deterministic on a CPU.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from surrogates.artifact.metadata import dataset_source, spatial_dims
from surrogates.errors import DataError, ModelError
from surrogates.reliability.conformal import PER, calibrate, check_level, min_calibration
from surrogates.reliability.error_model import ErrorModel, ErrorNet, error_features, stack_items

if TYPE_CHECKING:
    from surrogates.artifact import Surrogate

__all__ = ["ErrorModelConfig", "fit_error_model", "held_out_arrays"]


@dataclass(frozen=True)
class ErrorModelConfig:
    """Options of :func:`fit_error_model` for the network and its training.

    Attributes
    ----------
    width : int
        Hidden channels of the :class:`ErrorNet`.
    convs : int
        Kernel-3 valid convolutions (the halo; receptive field ``2 convs + 1`` cells).
    steps : int
        Full-batch Adam steps.
    lr : float
        Adam learning rate.
    seed : int
        Seeds the split and the initialisation.
    """

    width: int = 16
    convs: int = 2
    steps: int = 300
    lr: float = 3e-3
    seed: int = 0


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def held_out_arrays(
    surrogate: Surrogate, ds: xr.Dataset, samples: list[int], steps: int = 1, batch_size: int = 8
) -> list[Arrays]:
    """Inputs, prediction and truth on ``samples`` of ``ds``, one triple per rollout step.

    Map tasks pair each item with its targets (one step). Lead tasks start from the state
    at every time ``t`` that leaves room for ``steps`` applications and compare step
    ``k`` (the surrogate applied ``k`` times to its own output, static inputs and
    controls read from the data) with the truth at ``t + k lead``.

    Returns
    -------
    list of tuple of numpy.ndarray
        Per step: shapes (item, C_in, *spatial), (item, C_out, *spatial) twice.
    """
    task, axes, part = surrogate.task, spatial_dims(ds), ds.isel(sample=samples)
    if task.lead is None:
        if steps != 1:
            raise ModelError(f"fit_error_model: steps={steps}, but a map surrogate has 1 step")
        pred = surrogate.predict(part, batch_size)
        dims = tuple(d for d in ("sample", "time") if d in pred[task.targets[0]].dims)
        return [(stack_items(part, task.inputs, axes, dims),
                 stack_items(pred, task.targets, axes, dims),
                 stack_items(part, task.targets, axes, dims))]  # fmt: skip
    n_t = part.sizes["time"] - steps * task.lead
    if n_t < 1:
        raise DataError(
            f"{dataset_source(ds)}: {part.sizes['time']} time steps; {steps} step(s) of a"
            f" lead-{task.lead} surrogate need at least {steps * task.lead + 1}"
        )
    state, out, dims = part.isel(time=slice(0, n_t)), [], ("sample", "time")
    for k in range(1, steps + 1):
        pred = surrogate.predict(state, batch_size)
        truth = part.isel(time=slice(k * task.lead, k * task.lead + n_t))
        out.append((stack_items(state, task.inputs, axes, dims),
                    stack_items(pred, task.targets, axes, dims),
                    stack_items(truth, task.targets, axes, dims)))  # fmt: skip
        state = truth.assign(
            {n: (truth[n].dims, pred[n].transpose(*truth[n].dims).values) for n in task.targets}
        )
    return out


def _split(ds: xr.Dataset, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    n = ds.sizes.get("sample", 0)
    if not 0 < fraction < 1:
        raise ModelError(f"calibration_fraction: got {fraction!r}, expected a number in (0, 1)")
    if n < 2:
        raise DataError(
            f"{dataset_source(ds)}: {n} samples; an error model needs held-out data with a"
            " 'sample' dim of at least 2 (some to train it, some to calibrate it)"
        )
    order = np.random.default_rng(seed).permutation(n)
    n_cal = min(n - 1, max(1, round(fraction * n)))
    return sorted(order[n_cal:].tolist()), sorted(order[:n_cal].tolist())


def _train(net: ErrorNet, feats: np.ndarray, resid: np.ndarray, cfg: ErrorModelConfig) -> float:
    """Fit ``net`` by Gaussian NLL of ``resid`` (N, C_out, *S); returns the final loss."""
    x, r = torch.from_numpy(feats), torch.from_numpy(resid.astype(np.float32))
    dims = (0, *range(2, x.ndim))
    net.in_mean.copy_(x.mean(dims))
    net.in_std.copy_(x.std(dims).clamp_min(1e-6))
    net.log_scale.copy_(torch.log(r.pow(2).mean(dims).sqrt().clamp_min(1e-12)))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    net.train()
    loss = torch.tensor(float("nan"))
    for _ in range(cfg.steps):
        opt.zero_grad()
        var = torch.exp(2 * net(x))
        loss = torch.nn.functional.gaussian_nll_loss(torch.zeros_like(r), r, var, full=False)
        loss.backward()
        opt.step()
    net.eval()
    return float(loss.detach())


def fit_error_model(
    surrogate: Surrogate,
    data: xr.Dataset,
    *,
    calibration_fraction: float = 0.5,
    level: float = 0.9,
    per: str = "cell",
    tile: int | None = None,
    steps: int = 1,
    config: ErrorModelConfig | None = None,
) -> Surrogate:
    """Train and calibrate an error model; returns the surrogate with it attached.

    Parameters
    ----------
    surrogate : Surrogate
        A fitted surrogate (its network is not changed; the returned artifact shares it).
    data : xarray.Dataset
        Held-out canonical data with a ``sample`` dim (not the surrogate's training data,
        not the evaluation domain): the task's inputs and targets.
    calibration_fraction : float
        Share of the samples kept for the conformal calibration, in (0, 1).
    level : float
        Coverage of the calibrated intervals, in (0, 1).
    per : {"cell", "tile"}
        Calibration unit (see :mod:`surrogates.reliability.conformal`).
    tile : int, optional
        Tile edge in cells for ``per="tile"``.
    steps : int
        Rollout steps calibrated (lead surrogates; one ``q`` per step). The network learns
        from step-1 residuals; later steps' growing errors are absorbed by their ``q``.
    config : ErrorModelConfig, optional
        Network size and training options.

    Returns
    -------
    Surrogate
        A shallow copy of ``surrogate`` whose ``reliability`` is the new
        :class:`ErrorModel`; :func:`predict_error` and ``save`` use it.

    Raises
    ------
    ModelError
        Bad level, fraction, ``per`` or tile, or too few calibration units for the level.
    DataError
        Fewer than 2 samples, or missing variables.
    """
    check_level(level)
    if per not in PER:
        raise ModelError(f"fit_error_model: per={per!r}, expected one of {list(PER)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ModelError(f"fit_error_model: steps={steps!r}, expected an int >= 1")
    cfg = config or ErrorModelConfig()
    train_s, cal_s = _split(data, calibration_fraction, cfg.seed)
    ((x, y_hat, y),) = held_out_arrays(surrogate, data, train_s)
    task = surrogate.task
    torch.manual_seed(cfg.seed)
    net = ErrorNet(x.ndim - 2, x.shape[1] + y.shape[1], y.shape[1], cfg.width, cfg.convs)
    loss = _train(net, error_features(surrogate, x, y_hat, net.halo), y - y_hat, cfg)
    per_step = held_out_arrays(surrogate, data, cal_s, steps)
    sigma = []
    with torch.inference_mode():
        for xc, yc_hat, _ in per_step:
            feats = torch.from_numpy(error_features(surrogate, xc, yc_hat, net.halo))
            sigma.append(torch.exp(net(feats)).numpy())
    record = {"source": dataset_source(data), "samples": cal_s, "items": len(per_step[0][0]),
              "min_units": min_calibration(level)}  # fmt: skip
    truth, pred = [a[2] for a in per_step], [a[1] for a in per_step]
    calibration = calibrate(truth, pred, sigma, level=level, per=per, tile=tile,
                            variables=task.targets, calibration_set=record)  # fmt: skip
    provenance = {"train_samples": train_s, "config": cfg.__dict__, "final_nll": loss}
    out = copy.copy(surrogate)
    out.reliability = ErrorModel(net, calibration, provenance)
    return out

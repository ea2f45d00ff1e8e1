"""``fit(..., ensemble=K)``: a deep ensemble of K members trained one after the other.

Member ``k`` is a full :func:`~surrogates.training.trainer.fit_config` run of the same
model and options with seed ``seed + k`` (its initialisation and its crops), on the
train/validation split of ``seed``: every member sees the same training samples and none
sees the held-out ones. The members are then copied into one
:class:`~surrogates.models.Ensemble` whose forward is their mean, with the normalisation
of the shared split, so the returned :class:`~surrogates.Surrogate` tiles, saves, loads
and rolls out as one model. A probabilistic loss (``"gaussian_nll"``, ``"crps"``) gives
members that predict a mean and ``log σ`` (the Gaussian head), also for ``ensemble=1``.

With ``out_dir`` (or ``checkpoint_dir``) member ``k`` checkpoints under
``<checkpoints>/member-<k>`` and ``resume`` continues each member where it stopped; only
the ensemble's artifact and ``fit_config.json`` are written to ``out_dir``. Calibrate the
spread with :func:`surrogates.reliability.calibrate_ensemble` on held-out data.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import xarray as xr
from lightning.pytorch.utilities import rank_zero_only

from surrogates.artifact import ARTIFACT_NAME, Surrogate
from surrogates.data import Task
from surrogates.models import ensemble_of
from surrogates.training.config import FitConfig

__all__ = ["fit_ensemble"]


def _member_config(cfg: FitConfig, k: int) -> FitConfig:
    ckpt = cfg.checkpoint_dir or (Path(cfg.out_dir) / "checkpoints" if cfg.out_dir else None)
    ckpt = None if ckpt is None else str(Path(ckpt) / f"member-{k}")
    return replace(cfg, seed=cfg.seed + k, ensemble=1, out_dir=None, checkpoint_dir=ckpt)


def fit_ensemble(
    data: xr.Dataset | str | os.PathLike, task: Task | dict, model: str, cfg: FitConfig
) -> Surrogate:
    """Train ``cfg.ensemble`` members and return their mean as one surrogate.

    Parameters
    ----------
    data, task, model
        As in :func:`surrogates.fit`.
    cfg : FitConfig
        The options of every member (seeds ``cfg.seed + k``).

    Returns
    -------
    Surrogate
        Its ``model`` an :class:`~surrogates.models.Ensemble` of ``cfg.ensemble`` members;
        provenance per member under ``provenance["members"]``.
    """
    from surrogates.training.trainer import _describe, fit_config

    task = task if isinstance(task, Task) else Task(**task)
    if not isinstance(data, xr.Dataset):  # open once, not once per member
        from surrogates.io import open_dataset

        data, cfg = open_dataset(data, **cfg.open_options), replace(cfg, open_options={})
    fitted = [
        fit_config(data, task, model, _member_config(cfg, k), split_seed=cfg.seed)
        for k in range(cfg.ensemble)
    ]
    first = fitted[0].metadata
    net = ensemble_of([s.model for s in fitted], len(task.targets))
    provenance = {
        **first.provenance, "seed": cfg.seed, "ensemble": cfg.ensemble,
        "fit_config": cfg.to_dict(), "members": [s.metadata.provenance for s in fitted],
        "train_seconds": round(sum(s.metadata.provenance["train_seconds"] for s in fitted), 3),
    }  # fmt: skip
    meta = replace(first, model=net.spec, provenance=provenance)
    surrogate = Surrogate(net, meta)
    if cfg.out_dir is not None and rank_zero_only.rank == 0:
        out = Path(cfg.out_dir)
        surrogate.save(out / ARTIFACT_NAME)
        (out / "fit_config.json").write_text(
            json.dumps(_describe(data, task, model, cfg), indent=2)
        )
    return surrogate

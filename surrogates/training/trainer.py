"""``surrogates.fit``: train a registered model on a canonical dataset, return a Surrogate.

What happens, in order: open the data (a path goes through ``open_dataset``), seed
everything (``seed``), build the model, derive the crop geometry for ``unroll`` steps
(:mod:`surrogates.training.geometry`), split the data and compute the normalisation
statistics on the training split (and of ``target - input`` for residual tasks; on
resume they are read back from the checkpoint instead), then run a Lightning
``Trainer`` with AdamW, the LR schedule, gradient clipping, the precision and the
distributed settings passed through, CSV (and TensorBoard, when the ``tensorboard``
package is installed) logs under ``out_dir/logs``, a progress bar with the loss and
samples/s, periodic and best-by-validation checkpoints written atomically, early
stopping, and exact resume (:mod:`surrogates.training.loaders`). The returned
:class:`Surrogate` holds the best-validation (or last) weights; with ``out_dir`` it is
also saved as ``out_dir/surrogate.pt`` beside ``out_dir/fit_config.json``.

Under DDP every rank runs this function; ranks draw different crops, gradients are
averaged, and only global rank 0 writes the artifact.

NaN/Inf in the data raise :class:`~surrogates.DataError` where they are first read: the
statistics pass over the training split, else the first crop (training or validation)
holding one, naming file, variable, sample, time and cells (README "Non-finite values").
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import json
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning
import torch
import xarray as xr
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import callbacks as cb
from lightning.pytorch import loggers
from lightning.pytorch.utilities import rank_zero_info

from surrogates.artifact import ARTIFACT_NAME, Surrogate, make_metadata
from surrogates.artifact.device import check_device
from surrogates.artifact.geometry import trim
from surrogates.artifact.metadata import dataset_source, spatial_dims
from surrogates.artifact.scaling import Scaling, field_statistics, residual_statistics
from surrogates.data import CubeDataModule, Normalizer, Task
from surrogates.errors import ModelError
from surrogates.models import build
from surrogates.training.checkpoint import (
    atomic_torch_save,
    check_compatible,
    find_resume_checkpoint,
    model_state,
    read_checkpoint,
    run_metadata,
)
from surrogates.training.config import FitConfig, load_config
from surrogates.training.geometry import UnrollPlan, plan_unroll
from surrogates.training.loaders import train_loader, val_loader
from surrogates.training.losses import PROBABILISTIC, Loss
from surrogates.training.module import Optimization, SurrogateModule, Throughput

__all__ = ["ARTIFACT_NAME", "FitConfig", "fit", "load_config", "train_from_config"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO that writes each checkpoint atomically (tmp + rename)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        atomic_torch_save(checkpoint, path)


HAS_TENSORBOARD = any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX"))
_QUIET = (
    ".*does not have many workers.*",
    ".*smaller than the logging interval.*",
    ".*but have no `val_dataloader`.*",
)
_RESUMING = (".*Checkpoint directory .* exists and is not empty.*",)


def fit(
    data: xr.Dataset | str | os.PathLike,
    task: Task | dict,
    model: str = "vnet",
    **config: Any,
) -> Surrogate:
    """Train a surrogate (see the module docstring).

    Parameters
    ----------
    data : xarray.Dataset or path
        Canonical dataset, or a file/store for ``surrogates.open_dataset`` (options in
        ``open_options``).
    task : Task or dict
        What to learn (a dict is passed to ``Task``).
    model : str
        Registered model name (``surrogates.models.available()``).
    **config
        :class:`FitConfig` options, flat (``lr=1e-3``) or by section (``optim={"lr":
        1e-3}``); unknown or misplaced keys raise ModelError naming the allowed ones.

    Returns
    -------
    Surrogate
    """
    return fit_config(data, task, model, FitConfig.from_kwargs(config))


def _open(data: xr.Dataset | str | os.PathLike, options: dict) -> xr.Dataset:
    if isinstance(data, xr.Dataset):
        if options:
            raise ModelError(f"open_options {sorted(options)} given, but data is already a Dataset")
        return data
    from surrogates.io import open_dataset

    return open_dataset(data, **options)


def _statistics(ds, task, dm, cfg, resume_meta) -> tuple[Normalizer | None, Normalizer | None]:
    if resume_meta is not None:
        norm, res = resume_meta.get("normalizer"), resume_meta.get("residual")
        return (None if norm is None else Normalizer.from_dict(norm),
                None if res is None else Normalizer.from_dict(res))  # fmt: skip
    if not cfg.normalize:
        return None, None
    normalizer = field_statistics(ds, task, dm.split)
    residual = residual_statistics(ds, task, dm.split) if task.residual else None
    return normalizer, residual


def _precision(cfg: FitConfig) -> str:
    if cfg.precision != "auto":
        return cfg.precision
    gpu = cfg.accelerator in ("gpu", "cuda") or (
        cfg.accelerator == "auto" and torch.cuda.is_available()
    )
    return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


def _callbacks(cfg: FitConfig, ckpt_dir: Path | None, validate: bool, logging: bool) -> list:
    found = [Throughput()]
    if ckpt_dir is not None:
        found.append(cb.ModelCheckpoint(
            dirpath=ckpt_dir, filename="last", every_n_train_steps=cfg.checkpoint_every,
            save_top_k=1, enable_version_counter=False,
        ))  # fmt: skip
        if validate:
            found.append(cb.ModelCheckpoint(
                dirpath=ckpt_dir, filename="best", monitor="val_loss", mode="min",
                save_top_k=1, enable_version_counter=False,
            ))  # fmt: skip
    if validate and cfg.patience is not None:
        found.append(cb.EarlyStopping("val_loss", patience=cfg.patience, mode="min"))
    if logging:
        found.append(cb.LearningRateMonitor("step"))
    return [*found, *cfg.callbacks]


def _validation_interval(cfg: FitConfig, validate: bool) -> tuple[int | None, int | None]:
    """Lightning's ``(val_check_interval, check_val_every_n_epoch)``.

    Every ``val_every`` steps; by default every ``checkpoint_every`` steps (at most
    ``max_steps``), or once per epoch when training is limited by epochs only.
    """
    if not validate or (cfg.val_every is None and cfg.max_steps is None):
        return None, 1
    return cfg.val_every or min(cfg.checkpoint_every, cfg.max_steps), None


def _trainer(cfg: FitConfig, ckpt_dir: Path | None, validate: bool) -> lightning.Trainer:
    out = Path(cfg.out_dir) if cfg.out_dir is not None else None
    found = []
    if out is not None:
        found.append(loggers.CSVLogger(save_dir=out, name="logs"))
        if HAS_TENSORBOARD:
            found.append(loggers.TensorBoardLogger(save_dir=out, name="logs"))
        else:
            rank_zero_info("logs: CSV only (install the `tensorboard` package for TensorBoard)")
    interval, per_epoch = _validation_interval(cfg, validate)
    if cfg.accelerator in ("gpu", "cuda"):
        check_device("cuda", "accelerator")  # a ModelError, not Lightning's exception
    return lightning.Trainer(
        accelerator=cfg.accelerator, devices=cfg.devices, num_nodes=cfg.num_nodes,
        strategy=cfg.strategy, precision=_precision(cfg),
        max_steps=cfg.max_steps or -1, max_epochs=cfg.max_epochs,
        max_time=None if cfg.max_time is None else datetime.timedelta(seconds=cfg.max_time),
        gradient_clip_val=cfg.clip, deterministic=cfg.deterministic,
        callbacks=_callbacks(cfg, ckpt_dir, validate, bool(found)),
        logger=found or False, enable_checkpointing=ckpt_dir is not None,
        plugins=[AtomicCheckpointIO()] if ckpt_dir is not None else None,
        default_root_dir=ckpt_dir or out, val_check_interval=interval,
        check_val_every_n_epoch=per_epoch, num_sanity_val_steps=0,
        limit_val_batches=None if validate else 0, use_distributed_sampler=False,
        log_every_n_steps=cfg.log_every, enable_progress_bar=cfg.progress,
        enable_model_summary=False,
    )  # fmt: skip


@contextlib.contextmanager
def _quiet(resuming: bool):
    """Silence Lightning hints that do not apply here (few workers, short epochs)."""
    with warnings.catch_warnings():
        for message in (*_QUIET, *(_RESUMING if resuming else ())):
            warnings.filterwarnings("ignore", message=message)
        yield


def _run_description(task: Task, net, plan: UnrollPlan, cfg: FitConfig) -> dict[str, Any]:
    return {"task": task.to_dict(), "model": net.spec, "crop": list(plan.crop),
            "pad": list(plan.pad), "unroll": cfg.unroll}  # fmt: skip


def _resume_point(cfg: FitConfig, ckpt_dir: Path | None, run: dict) -> tuple[Path | None, Any]:
    if not cfg.resume:
        return None, None
    if ckpt_dir is None:
        raise ModelError("resume=True needs out_dir or checkpoint_dir (where the checkpoints are)")
    path = find_resume_checkpoint(ckpt_dir)
    if path is None:
        rank_zero_info(f"resume: no checkpoint in {ckpt_dir}; starting from scratch")
        return None, None
    stored = run_metadata(read_checkpoint(path), path)
    check_compatible(stored, run, str(path))
    return path, stored


def fit_config(
    data: xr.Dataset | str | os.PathLike,
    task: Task | dict,
    model: str,
    cfg: FitConfig,
    *,
    split_seed: int | None = None,
) -> Surrogate:
    """:func:`fit` with an already validated :class:`FitConfig`.

    An ensemble (``cfg.ensemble > 1``, or a probabilistic loss) goes to
    :func:`surrogates.training.ensemble.fit_ensemble`, which trains its members here with
    ``split_seed`` (the seed of their shared train/validation split) set.
    """
    if split_seed is None and (cfg.ensemble > 1 or cfg.loss in PROBABILISTIC):
        from surrogates.training.ensemble import fit_ensemble

        return fit_ensemble(data, task, model, cfg)
    task = task if isinstance(task, Task) else Task(**task)
    gauge = _gauge_channels(task, cfg.gauge)
    ds = _open(data, dict(cfg.open_options))
    net, plan, dm = _prepare(ds, task, model, cfg, split_seed)
    ckpt_dir = cfg.checkpoint_dir or (Path(cfg.out_dir) / "checkpoints" if cfg.out_dir else None)
    ckpt_dir = Path(ckpt_dir) if ckpt_dir is not None else None
    run = _run_description(task, net, plan, cfg)
    resume_from, stored = _resume_point(cfg, ckpt_dir, run)
    normalizer, residual = _statistics(ds, task, dm, cfg, stored)
    run["normalizer"] = None if normalizer is None else normalizer.to_dict()
    run["residual"] = None if residual is None else residual.to_dict()
    module = SurrogateModule(
        net, task, Scaling(task, normalizer, residual, len(plan.crop)), plan,
        Loss(cfg.loss, cfg.spectral_weight, gauge),
        Optimization(cfg.lr, cfg.weight_decay, cfg.schedule, cfg.warmup_steps),
        cfg.unroll_detach, json.dumps(run),
    )  # fmt: skip
    validate = dm.val_set is not None
    with _quiet(resume_from is not None):
        trainer = _trainer(cfg, ckpt_dir, validate)
        started = time.perf_counter()
        _fit_trainer(trainer, module, dm, cfg, validate, resume_from)
        seconds = time.perf_counter() - started
    weights = _final_weights(trainer, net, cfg)
    context = plan.pad if trim(net) == 0 else (0,) * len(plan.pad)
    provenance = _provenance(ds, data, model, trainer, module, cfg, plan, weights)
    provenance["train_seconds"] = round(seconds, 3)  # this call's wall clock (not resumed parts)
    meta = make_metadata(net, task, ds, dm.pad_spec, context, normalizer, residual, provenance)
    surrogate = Surrogate(net, meta)
    if cfg.out_dir is not None and trainer.is_global_zero:
        out = Path(cfg.out_dir)
        surrogate.save(out / ARTIFACT_NAME)
        text = json.dumps(_describe(data, task, model, cfg), indent=2)
        (out / "fit_config.json").write_text(text)
    return surrogate


def _gauge_channels(task: Task, gauge: tuple[str, ...]) -> tuple[int, ...]:
    """Target channel indices of the ``gauge`` option's variable names."""
    unknown = [g for g in gauge if g not in task.targets]
    if unknown:
        raise ModelError(f"gauge: {unknown} are not targets; targets are {list(task.targets)}")
    return tuple(task.targets.index(g) for g in gauge)


def _prepare(ds: xr.Dataset, task: Task, model: str, cfg: FitConfig, split_seed: int | None):
    """Seed, build the network, plan the crop geometry, split the data into crop sets."""
    ndim = len(spatial_dims(ds))
    lightning.seed_everything(cfg.seed, workers=True, verbose=False)
    outputs = len(task.targets) * (2 if cfg.loss in PROBABILISTIC else 1)  # (mean, log σ)
    net = build(model, len(task.inputs), outputs, len(task.params), ndim,
                **cfg.model_config)  # fmt: skip
    if task.lead is None and cfg.unroll != 1:
        raise ModelError(f"unroll={cfg.unroll} needs a lead task; this task maps fields")
    plan = plan_unroll(net, cfg.per_axis("crop", ndim), cfg.per_axis("pad", ndim), cfg.unroll)
    dm = CubeDataModule(
        ds, task, crop=plan.crop, pad=plan.pad, unroll=cfg.unroll, batch_size=cfg.batch_size,
        val_fraction=cfg.val_fraction, num_workers=cfg.num_workers, seed=cfg.seed,
        symmetries=cfg.symmetries, normalizer=False, pad_mode=cfg.pad_mode, length=cfg.length,
        weight=cfg.loss_weight, split_seed=split_seed,
    )  # fmt: skip
    dm.setup("fit")
    return net, plan, dm


def _fit_trainer(trainer, module, dm, cfg: FitConfig, validate: bool, resume_from) -> None:
    def position() -> tuple[int, int, int]:
        return trainer.global_step, trainer.global_rank, trainer.world_size

    pin = trainer.strategy.root_device.type == "cuda"
    world = trainer.world_size
    train = train_loader(dm.train_set, cfg.batch_size, position, world, cfg.num_workers, pin)
    val = None
    if validate:
        val = val_loader(dm.val_set, cfg.batch_size, position, cfg.val_batches, world,
                         cfg.num_workers, pin)  # fmt: skip
    # weights_only: resuming never unpickles arbitrary objects from a checkpoint file
    trainer.fit(module, train, val, ckpt_path=resume_from, weights_only=True)
    if trainer.checkpoint_callback is not None and trainer.state.finished:
        last = Path(trainer.checkpoint_callback.dirpath) / "last.ckpt"
        trainer.save_checkpoint(last, weights_only=False)


def _final_weights(trainer: lightning.Trainer, net, cfg: FitConfig) -> str:
    """Load the best-validation weights into ``net`` when asked and available."""
    best = next((c for c in trainer.checkpoint_callbacks if c.monitor == "val_loss"), None)
    if cfg.weights != "best" or best is None or not best.best_model_path:
        return "last"
    path = best.best_model_path
    net.load_state_dict(model_state(read_checkpoint(path)))
    return f"best (val_loss {float(best.best_model_score):.6g} at {Path(path).name})"


def _provenance(ds, data, model, trainer, module, cfg, plan, weights) -> dict[str, Any]:
    source = dataset_source(ds) if isinstance(data, xr.Dataset) else str(data)
    return {
        "source": source,
        "source_format": ds.attrs.get("source_format"),
        "model": model,
        "steps": int(trainer.global_step),
        "epochs": int(trainer.current_epoch),
        "seed": cfg.seed,
        "weights": weights,
        "metrics": dict(module.history),
        "crop": list(plan.crop),
        "pad": list(plan.pad),
        "world_size": int(trainer.world_size),
        "precision": str(trainer.precision),
        "fit_config": cfg.to_dict(),
    }


def _describe(data, task: Task, model: str, cfg: FitConfig) -> dict[str, Any]:
    data = data if not isinstance(data, xr.Dataset) else dataset_source(data)
    return {"data": str(data), "task": task.to_dict(), "model": model, "train": cfg.to_dict()}


def train_from_config(
    path: str | os.PathLike, overrides: tuple[str, ...] | list[str] = (), resume: bool = False
) -> Path:
    """Run a TOML run configuration (``surrogates train``); returns the artifact path.

    ``out_dir`` defaults to ``runs/<config file stem>`` in the current directory.
    """
    data, task, model, cfg = load_config(path, overrides)
    if cfg.out_dir is None:
        cfg = replace(cfg, out_dir=str(Path("runs") / Path(path).stem))
    if resume:
        cfg = replace(cfg, resume=True)
    fit_config(data, task, model, cfg)
    return Path(cfg.out_dir) / ARTIFACT_NAME

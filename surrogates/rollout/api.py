"""``rollout``: run a surrogate over a domain of any size, tile by tile; ``rollout_cli``.

A map surrogate (``task.lead is None``) is applied once to every item of the state. A
lead surrogate advances the state ``steps`` times; each step re-tiles the full new state
(a halo exchange through the store), keeps the static inputs and the parameters (constant
or scheduled per step), and every ``every``-th state (and the last) is saved.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import xarray as xr

from surrogates._files import output_lock, output_path
from surrogates.artifact import PRECISIONS
from surrogates.errors import DataError
from surrogates.rollout.dask_ import dask_client, run_dask
from surrogates.rollout.halfwidth import estimator, fingerprint_estimator
from surrogates.rollout.local import run_local
from surrogates.rollout.memory import human, parse_bytes, plan_rollout, source_chunks
from surrogates.rollout.resume import (
    fingerprint_state,
    fingerprint_surrogate,
    new_manifest,
    options,
    resume_plan,
    run_record,
)
from surrogates.rollout.spec import make_spec
from surrogates.rollout.store import Layout, MemoryStore, ZarrStore
from surrogates.rollout.work import Context, Job, make_layout

__all__ = ["rollout", "rollout_cli", "BACKENDS"]

BACKENDS = ("local", "dask")
ARTIFACT = "surrogate.pt"


def _as_surrogate(surrogate: Any) -> Any:
    if isinstance(surrogate, (str, os.PathLike)):
        from surrogates.artifact import load

        return load(surrogate)
    return surrogate


def _attrs(state: xr.Dataset, surrogate: Any, spec: Any, plan: Any, store: Path | None) -> dict:
    keep = {k: v for k, v in state.attrs.items()
            if isinstance(v, (str, int, float)) and not isinstance(v, bool)}  # fmt: skip
    keep.update(
        source=str(store) if store is not None else f"rollout of {keep.get('source', 'state')}",
        source_format="pde-surrogates rollout",
        rollout_surrogate=repr(surrogate),
        rollout_initial_state=str(state.attrs.get("source", "in-memory dataset")),
        rollout_steps=spec.steps,
        rollout_every=spec.every,
        rollout_plan=plan.describe(),
    )
    if spec.schedule:
        keep["rollout_params_schedule"] = json.dumps(spec.schedule)
    return keep


class _Progress:
    """Counts tiles and cells; drives an optional tqdm bar (tiles, cells/s, ETA)."""

    def __init__(self, ctx: Context, total: int, show: bool) -> None:
        from tqdm.auto import tqdm

        self.ctx, self.tiles, self.cells, self.start = ctx, 0, 0, time.perf_counter()
        self.lock = threading.Lock()
        self.bar = tqdm(total=total, unit="tile", desc="rollout", disable=not show)

    def __call__(self, job: Job) -> None:
        if job.phase != "apply":
            return
        with self.lock:
            self.tiles += len(job.units)
            self.cells += self.ctx.cells(job)
            rate = self.cells / max(time.perf_counter() - self.start, 1e-9)
            self.bar.set_postfix_str(f"{rate:.3g} cells/s", refresh=False)
            self.bar.update(len(job.units))


def rollout(
    surrogate: Any,
    state: xr.Dataset,
    steps: int = 1,
    every: int = 1,
    params: Mapping[str, Any] | None = None,
    tile: int | tuple[int, ...] | None = None,
    memory: int | str | None = None,
    store: str | os.PathLike | None = None,
    backend: str = "local",
    device: str | None = None,
    resume: bool = False,
    progress: bool = True,
    scheduler: Any = None,
    batch: int | None = None,
    precision: str = "32-true",
    reliability: bool = False,
) -> xr.Dataset:
    """Apply or advance a surrogate over a domain of any size by tiles.

    Parameters
    ----------
    surrogate : Surrogate or path
        A :class:`surrogates.artifact.Surrogate` or the path of a saved artifact.
    state : xarray.Dataset
        Canonical dataset with the surrogate's inputs (and parameters, unless given), on the
        training grid spacing and boundaries; for a lead surrogate at most one time frame.
        May be lazy (a zarr store bigger than memory): only tile windows are read.
    steps, every : int
        Lead surrogates: steps to advance, and save every ``every``-th state (the initial
        state is saved as the first frame, the last state always).
    params : mapping, optional
        Parameter values overriding the state's: scalars, or for a lead surrogate one value
        per step (a schedule), or DataArrays over ``sample`` and/or ``step``.
    tile : int or tuple of int, optional
        Core tile size (a multiple of the alignment); default: the largest that fits.
    memory : int or str, optional
        Working-memory budget, bytes or ``"4GB"``; default half the available RAM (CPU) or
        80% of the free GPU memory.
    store : path, optional
        ``PATH.zarr``: fields live there, chunked to the tiles (out of core, resumable; see
        :mod:`surrogates.rollout.store`). None: in memory.
    backend : {"local", "dask"}
        ``"local"``: this process (tiles batched through the model, reads and writes
        overlapped with compute). ``"dask"``: the same tile groups as tasks on a
        ``dask.distributed`` cluster; needs ``store``.
    device : str, optional
        Move the surrogate there first (e.g. ``"cuda"``); it stays there.
    resume : bool
        Continue the run recorded in an existing ``store`` (an existing store is refused
        otherwise).
    progress : bool
        Show a progress bar (tiles, cells per second, ETA).
    scheduler : str or distributed.Client, optional
        Dask backend: a scheduler address or a client (default: a new ``LocalCluster``
        with one thread per worker, closed afterwards).
    batch : int, optional
        Tiles per model call, also the unit of progress records (default: 1 on CPU, as
        many as fit, up to 8, on a GPU).
    precision : {"32-true", "bf16-mixed"}
        Arithmetic of the network (``Surrogate.apply``): float32, or bfloat16 autocast
        (about 2x faster on CPUs with AVX512-BF16 and on GPUs; its effect on the cosmology
        emulator's T(k), r(k) and halo counts is in ``docs/results/cosmology.md``).
    reliability : bool
        Also write the surrogate's calibrated error estimate (its reliability attachment,
        e.g. :func:`surrogates.reliability.fit_error_model`): a ``<var>_error`` half-width
        field per target, stitched exactly, and the per-tile table
        ``<var>_error_tile_max|mean`` (:mod:`surrogates.rollout.halfwidth`); step ``k`` of
        a lead rollout uses the calibration of step ``k``. The estimator runs in float32.

    Returns
    -------
    xarray.Dataset
        Canonical: the targets over ``(sample, time, *axes)`` (``time`` for lead surrogates
        and timed map inputs), plus, for lead surrogates, the statics and constant
        parameters. Dask-backed when it lives in a store.

    Raises
    ------
    DataError
        Bad state, parameters, options or budget; an existing store without ``resume``, or
        one from another surrogate, state or options (reliability included).
    ModelError
        ``reliability=True`` for a surrogate without a reliability attachment, or for more
        steps than it was calibrated for.
    """
    name = str(surrogate) if isinstance(surrogate, (str, os.PathLike)) else None
    surrogate = _as_surrogate(surrogate)
    if device is not None:
        surrogate.to(device)
    if backend not in BACKENDS:
        raise DataError(f"rollout: backend={backend!r}, expected one of {BACKENDS}")
    if backend == "dask" and store is None:
        raise DataError("rollout: backend='dask' writes to a shared zarr store: give store=")
    if resume and store is None:
        raise DataError("rollout: resume=True continues a run recorded in a store: give store=")
    if precision not in PRECISIONS:
        raise DataError(f"rollout: precision={precision!r}, expected one of {PRECISIONS}")
    spec = make_spec(surrogate, state, steps, every, params)
    est = estimator(surrogate, spec.steps, name) if reliability else None
    run = {"precision": precision, "estimator": est}
    fingerprints = {
        "surrogate": fingerprint_surrogate(surrogate),
        "state": fingerprint_state(state, surrogate.task.inputs, spec.axes),
    }
    path = None if store is None else output_path(store, "store")
    with output_lock(path, "rollout") if path is not None else contextlib.nullcontext():
        if path is not None and (path.exists() or path.is_symlink()):
            if not resume:
                what = "a rollout store" if _is_store(path) else "not a rollout store"
                raise DataError(
                    f"{path}: exists ({what}); pass resume=True (--resume) to continue the"
                    " rollout stored there, or choose a new store"
                )
            target, plan = _reopen(path, spec, surrogate, fingerprints, (tile, batch), backend,
                                   run)  # fmt: skip
        else:
            target, plan = _create(path, spec, surrogate, state, fingerprints, (tile, batch),
                                   memory, backend, run)  # fmt: skip
        ctx = Context(spec, plan, surrogate.task, surrogate.pad_spec, target, state, precision,
                      reliability=est is not None)  # fmt: skip
        _run(ctx, surrogate, backend, scheduler, fingerprints["surrogate"], progress)
    return target.result()


def _is_store(path: Path) -> bool:
    return (path / "_rollout" / "manifest.json").is_file()


def _options(spec, surrogate, mode: str, run: dict) -> dict:
    est = run["estimator"]
    return options(spec, surrogate, mode, run["precision"],
                   False if est is None else fingerprint_estimator(est))  # fmt: skip


def _reopen(path: Path, spec, surrogate, fingerprints: dict, tiling, backend: str, run: dict):
    """An existing store and its plan, after checking it belongs to this run."""
    target = ZarrStore(path)
    manifest = target.manifest()
    opts = _options(spec, surrogate, manifest["mode"], run)
    plan = resume_plan(manifest, fingerprints, opts, *tiling, path)
    target.update_manifest(runs=[*manifest["runs"], run_record(backend)])
    return target, plan


def _create(path: Path | None, spec, surrogate, state, fingerprints: dict, tiling, memory,
            backend: str, run: dict):  # fmt: skip
    """Plan the tiles, then lay out a new store (or in-memory arrays)."""
    est = run["estimator"]
    plan = plan_rollout(
        surrogate, spec.shape, tile=tiling[0], batch=tiling[1], memory=parse_bytes(memory),
        items=len(spec.items), device=surrogate.device,
        sources=source_chunks(state, surrogate.task.inputs, spec.axes), estimator=est,
    )  # fmt: skip
    attrs = _attrs(state, surrogate, spec, plan, path) | {"rollout_precision": run["precision"]}
    if est is not None:
        attrs["rollout_reliability"] = est.kind
    layout = make_layout(spec, plan, surrogate.task, state, attrs, est)
    _check_room(layout, path)
    if path is None:
        return MemoryStore(layout), plan
    opts = _options(spec, surrogate, plan.mode, run)
    manifest = new_manifest(fingerprints, opts, plan, backend)
    return ZarrStore.create(path, layout, manifest, {ARTIFACT: surrogate.save}), plan


def _check_room(layout: Layout, path: Path | None) -> None:
    """Refuse a result that cannot fit: in memory (no store) or on the store's disk."""
    need = sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in layout.arrays)
    if path is None:
        have = psutil.virtual_memory().available
        if need > have:
            raise DataError(
                f"rollout: the result needs {human(need)} in memory, {human(have)} available;"
                " give store=PATH.zarr to keep it on disk"
            )
        return
    have = shutil.disk_usage(path.parent).free
    if need > have:
        raise DataError(
            f"{path}: the store needs up to {human(need)} (uncompressed fields and scratch),"
            f" {human(have)} free on its disk; free space, save fewer frames (--every), or"
            " choose another disk"
        )


def _run(ctx: Context, surrogate: Any, backend: str, scheduler: Any, fp: str, show: bool) -> None:
    store = ctx.store
    manifest = store.manifest() if isinstance(store, ZarrStore) else None
    first = 1 + (manifest["steps_done"] if manifest else 0)
    steps = range(first, ctx.spec.steps + 1)
    total = sum(len(j.units) for k in steps for j in ctx.jobs(k, "apply")
                if not store.done(k, j.key))  # fmt: skip
    counter = _Progress(ctx, total, show)
    client_cm = dask_client(scheduler) if backend == "dask" else contextlib.nullcontext()
    with counter.bar, client_cm as client:
        shared = client.scatter(ctx, broadcast=True, hash=False) if client else None
        for step in steps:
            for phase in ctx.phases():
                jobs = [j for j in ctx.jobs(step, phase) if not store.done(step, j.key)]
                if backend == "local":
                    run_local(ctx, jobs, surrogate, counter)
                else:
                    artifact = str(store.meta_dir / ARTIFACT)
                    run_dask(shared, jobs, client, artifact, fp, str(surrogate.device), counter)
            _step_done(store, step, counter.tiles)
    if manifest is not None:
        store.update_manifest(complete=True)
        store.drop_work()


def _step_done(store: Any, step: int, tiles: int) -> None:
    """Record a finished step (atomically), then drop its per-group markers."""
    if isinstance(store, ZarrStore):
        manifest = store.manifest()
        runs = manifest["runs"]
        runs[-1]["tiles"] = tiles
        store.update_manifest(steps_done=step, runs=runs)
    store.clear_marks(step)


def rollout_cli(
    model_path: str | os.PathLike,
    state_path: str | os.PathLike,
    out: str | os.PathLike,
    steps: int = 1,
    every: int = 1,
    tile: int | None = None,
    memory: str | int | None = None,
    device: str | None = None,
    dask_scheduler: str | None = None,
    resume: bool = False,
    frame: int | None = None,
    precision: str = "32-true",
    reliability: bool = False,
) -> Path:
    """``surrogates rollout MODEL STATE --out OUT.zarr ...``: roll out into a zarr store.

    Parameters are those of :func:`rollout`; ``memory`` may be a string such as ``"4GB"``;
    ``dask_scheduler`` (an address) selects the Dask backend; ``frame`` picks the time frame
    of ``STATE`` a lead surrogate starts from (default: its only frame); ``reliability``
    (``--reliability``) writes the error fields and table. Shows a progress bar; returns
    the store path.
    """
    from surrogates.artifact import load
    from surrogates.io import open_dataset

    surrogate = load(model_path)
    if reliability:  # before the state is opened: the artifact named in the message
        estimator(surrogate, steps, str(model_path))
    state = open_dataset(state_path)
    if frame is not None:
        if "time" not in state.dims:
            raise DataError(f"{state_path}: --frame given but the state has no time dimension")
        n = state.sizes["time"]
        if not -n <= frame < n:
            raise DataError(
                f"{state_path}: --frame {frame} out of range for {n} time frames; expected"
                f" -{n} <= frame < {n}"
            )
        state = state.isel(time=[frame])
    backend = "dask" if dask_scheduler else "local"
    rollout(surrogate, state, steps=steps, every=every, tile=tile, memory=parse_bytes(memory),
            store=out, backend=backend, device=device, resume=resume, progress=True,
            scheduler=dask_scheduler, precision=precision, reliability=reliability)  # fmt: skip
    return Path(out)

"""Fingerprints and the manifest check that let a killed rollout resume, and only its own.

A store remembers the surrogate, the initial state and the options it was started with.
``resume=True`` continues it only if all three match; anything else is refused with a
:class:`~surrogates.DataError` saying what differs.

- Surrogate: SHA-256 of its metadata (JSON) and of every weight tensor's bytes.
- State: SHA-256 of the names, dims, shapes and dtypes of the input variables, the
  coordinates, the ``boundary_*`` attributes, and the values of three blocks of up to
  ``8^d`` cells (first, central and last) of each input variable (sample 0, frame 0). It
  detects another state in practice (another run, seed, size or file) but not a change
  confined to other cells; hashing every value would cost a full pass over a state that
  may not fit in memory. The file path is not part of it: a moved file still resumes.
- Options: steps, every, the resolved parameter values, the pad spec, the tiling mode,
  the precision and the reliability estimate (its kind and calibration fingerprint, or
  ``False``: a store written without it is not resumed with it, nor the reverse).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import numpy as np
import torch
import xarray as xr

from surrogates.artifact.metadata import differences
from surrogates.errors import DataError
from surrogates.rollout.memory import RolloutPlan
from surrogates.rollout.spec import RunSpec
from surrogates.rollout.store import FORMAT, FORMAT_VERSION
from surrogates.rollout.tiling import TilePlan

__all__ = ["fingerprint_surrogate", "fingerprint_state", "new_manifest", "resume_plan"]

_BLOCK = 8


def fingerprint_surrogate(surrogate: Any) -> str:
    """SHA-256 of a surrogate's metadata and weights (hex)."""
    h = hashlib.sha256(json.dumps(surrogate.metadata.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(surrogate.model.state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _blocks(n: int) -> list[slice]:
    b = min(_BLOCK, n)
    mid = (n - b) // 2
    return [slice(0, b), slice(mid, mid + b), slice(n - b, n)]


def fingerprint_state(state: xr.Dataset, names: tuple[str, ...], axes: tuple[str, ...]) -> str:
    """SHA-256 of a state's structure and of three blocks of its values (module docstring)."""
    h = hashlib.sha256()
    for dim in (*axes, "sample", "time"):
        if dim in state.coords:
            h.update(dim.encode() + np.ascontiguousarray(state[dim].values).tobytes())
    for axis in axes:
        h.update(str(state.attrs.get(f"boundary_{axis}")).encode())
    for name in sorted(names):
        da = state[name]
        h.update(repr((name, da.dims, da.shape, str(da.dtype))).encode())
        da = da.isel({d: 0 for d in ("sample", "time") if d in da.dims})
        for k in range(3):
            block = {a: _blocks(da.sizes[a])[k] for a in axes}
            h.update(np.ascontiguousarray(da.isel(block).values).tobytes())
    return h.hexdigest()


def options(spec: RunSpec, surrogate: Any, mode: str, precision: str,
            reliability: str | bool = False) -> dict:  # fmt: skip
    """The options a resumed run must share with the original (``reliability``: the
    estimator's :func:`~surrogates.rollout.halfwidth.fingerprint_estimator`, or False)."""
    return {
        "precision": precision,
        "reliability": reliability,
        "steps": spec.steps,
        "every": spec.every,
        "params_sha256": hashlib.sha256(np.ascontiguousarray(spec.params).tobytes()).hexdigest(),
        "pad_spec": surrogate.pad_spec.to_dict(),
        "mode": mode,
    }


def new_manifest(fingerprints: dict, opts: dict, plan: RolloutPlan, backend: str) -> dict:
    """The manifest of a new store (see :mod:`surrogates.rollout.store`)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fingerprints": fingerprints,
        "options": opts,
        "plan": plan.tiles.to_dict(),
        "mode": plan.mode,
        "batch": plan.batch,
        "budget": plan.budget,
        "unit_bytes": plan.unit_bytes,
        "read_bytes": plan.read_bytes,
        "steps_done": 0,
        "complete": False,
        "runs": [run_record(backend)],
    }


def run_record(backend: str) -> dict:
    return {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "backend": backend, "tiles": 0}


def resume_plan(
    manifest: dict, fingerprints: dict, opts: dict, tile: Any, batch: Any, path: Any
) -> RolloutPlan:
    """The stored plan of a store being resumed, after checking it belongs to this run.

    Raises
    ------
    DataError
        The store was started with another surrogate, state, options, tile size or batch.
    """
    for what in ("surrogate", "state"):
        if manifest["fingerprints"].get(what) != fingerprints[what]:
            raise DataError(
                f"{path}: this store was started with a different {what} (fingerprint"
                f" {manifest['fingerprints'].get(what, '?')[:12]}, now {fingerprints[what][:12]});"
                " refusing to resume: use a new store"
            )
    # stores from before these options
    stored = {"precision": "32-true", "reliability": False} | manifest["options"]
    changed = [d for k, v in opts.items() for d in differences(stored.get(k), v, k)]
    if changed:
        raise DataError(
            f"{path}: cannot resume with other options ({'; '.join(changed)}); rerun with the"
            " stored options, or roll out into a new store"
        )
    try:
        tiles = TilePlan.from_dict(manifest["plan"])
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(
            f"{path}: the rollout manifest's 'plan' is damaged ({type(err).__name__}: {err});"
            " start a new store"
        ) from None
    if tile is not None:
        wanted = (tile,) * len(tiles.shape) if np.isscalar(tile) else tuple(tile)
        full = [-(-n // tiles.alignment) * tiles.alignment for n in tiles.shape]
        if tuple(min(int(t), f) for t, f in zip(wanted, full, strict=True)) != tiles.tile:
            raise DataError(
                f"{path}: the store was planned with tile {tiles.tile}, got {tile!r}; resume"
                " with that tile (or none: the stored plan is used)"
            )
    if batch is not None and batch != manifest["batch"]:
        raise DataError(
            f"{path}: the store was planned with batch {manifest['batch']}, got {batch}; resume"
            " with that batch (or none: the stored plan is used)"
        )
    return RolloutPlan(tiles, manifest["mode"], int(manifest["batch"]), int(manifest["budget"]),
                       int(manifest["unit_bytes"]), int(manifest["read_bytes"]))  # fmt: skip

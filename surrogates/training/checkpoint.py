"""Training checkpoints: atomic writes, finding the one to resume from, reading them safely.

This module does not import Lightning (loading an artifact must not). Lightning
checkpoints of a run live in ``checkpoint_dir``: ``last.ckpt`` (every
``checkpoint_every`` steps and at the end), ``best.ckpt`` (lowest validation loss) and,
under SLURM auto-requeue, Lightning's ``hpc_ckpt_*.ckpt``. Each is written to a temporary
file in the same directory, flushed to disk and renamed over the target
(:func:`~surrogates.artifact.surrogate.atomic_torch_save`, shared with ``Surrogate.save``;
``AtomicCheckpointIO`` in :mod:`surrogates.training.trainer` plugs it into Lightning), so
a run killed at any moment leaves either the previous or the new checkpoint, never a
truncated one. Our LightningModule adds a JSON string
under :data:`META_KEY` describing the run (task, model spec, crop geometry, statistics),
so a resume with an incompatible configuration is refused with a clear message.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from surrogates.artifact.metadata import differences
from surrogates.artifact.surrogate import atomic_torch_save
from surrogates.errors import ModelError

__all__ = [
    "META_KEY",
    "atomic_torch_save",
    "find_resume_checkpoint",
    "read_checkpoint",
    "check_compatible",
]

META_KEY = "surrogates"
#: Run settings that must not change between a checkpoint and its resume.
RESUME_KEYS = ("task", "model", "crop", "pad", "unroll")


def find_resume_checkpoint(checkpoint_dir: str | os.PathLike) -> Path | None:
    """The most recently written of ``last.ckpt`` and ``hpc_ckpt_*.ckpt``, or None."""
    folder = Path(checkpoint_dir)
    candidates = [p for p in (folder / "last.ckpt", *folder.glob("hpc_ckpt_*.ckpt")) if p.is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: p.stat().st_mtime_ns)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint without unpickling arbitrary objects; ModelError if unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(
            f"{path}: cannot read the training checkpoint ({first}); expected a complete"
            " Lightning checkpoint written by surrogates.fit (last.ckpt, best.ckpt)"
        ) from None


def run_metadata(checkpoint: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """The run description our LightningModule stored in a checkpoint."""
    text = checkpoint.get(META_KEY)
    if not isinstance(text, str):
        raise ModelError(
            f"{path}: not a pde-surrogates training checkpoint (no {META_KEY!r} entry)"
        )
    try:
        meta = json.loads(text)
    except ValueError as err:
        raise ModelError(
            f"{path}: the checkpoint's run description ({META_KEY!r}) is not valid JSON"
            f" ({err}); expected the JSON object written by surrogates.fit: start a new run"
        ) from None
    if not isinstance(meta, dict):
        raise ModelError(
            f"{path}: the checkpoint's run description ({META_KEY!r}) is a"
            f" {type(meta).__name__}, expected a JSON object"
        )
    return meta


def check_compatible(stored: dict[str, Any], current: dict[str, Any], path: str) -> None:
    """Raise ModelError naming the settings that differ between a checkpoint and this run."""
    details = [d for k in RESUME_KEYS if k in current
               for d in differences(stored.get(k), current[k], k)]  # fmt: skip
    if details:
        raise ModelError(
            f"cannot resume from {path}: the run's settings changed ({'; '.join(details)});"
            " resume with the original settings, or start a new run in another out_dir"
        )


def model_state(checkpoint: dict[str, Any], prefix: str = "model.") -> dict[str, torch.Tensor]:
    """The network's state dict from a LightningModule checkpoint (``model.`` entries)."""
    state = checkpoint.get("state_dict", {})
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}

"""Reliability attachments in the artifact file: decode the stored payload by its kind.

A payload is ``{"metadata": "<JSON>", "state_dict": {name: tensor}}``; the metadata's
``kind`` names the attachment (``"error_model"``, ``"ensemble"``). :func:`decode` is
what :func:`surrogates.artifact.load` calls when the file holds a ``reliability`` entry.
"""

from __future__ import annotations

import json
from typing import Any

from surrogates.errors import ModelError
from surrogates.reliability.ensemble import KIND as ENSEMBLE
from surrogates.reliability.ensemble import EnsembleEstimator
from surrogates.reliability.error_model import KIND, ErrorModel

__all__ = ["decode"]

_KINDS = {KIND: ErrorModel, ENSEMBLE: EnsembleEstimator}


def decode(payload: Any) -> ErrorModel | EnsembleEstimator:
    """The attachment stored as ``payload`` (ModelError if malformed or of unknown kind)."""
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("metadata"), str)
        or (not isinstance(payload.get("state_dict"), dict))
    ):
        raise ModelError("corrupt reliability entry (expected 'metadata' JSON and 'state_dict')")
    try:
        meta = json.loads(payload["metadata"])
    except json.JSONDecodeError as err:
        raise ModelError(f"corrupt reliability metadata (invalid JSON: {err})") from None
    kind = meta.get("kind") if isinstance(meta, dict) else None
    if kind not in _KINDS:
        raise ModelError(
            f"reliability attachment of kind {kind!r} is unknown; this version of"
            f" pde-surrogates reads {sorted(_KINDS)} (upgrade pde-surrogates)"
        )
    return _KINDS[kind].from_metadata(meta, payload["state_dict"])

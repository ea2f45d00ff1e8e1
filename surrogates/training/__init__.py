"""Training and the Surrogate artifact.

- :func:`fit` trains any registered model on a canonical dataset (a thin LightningModule,
  :class:`FitConfig` options) and returns a :class:`Surrogate`.
- :class:`Surrogate` / :func:`load`, :class:`SurrogateMetadata`, :class:`GridInfo`,
  :func:`make_metadata`: the artifact, re-exported from :mod:`surrogates.artifact` (the
  room below ``training`` and ``rollout`` that saves, loads and applies it).
- :func:`load_config` / :func:`train_from_config`: TOML run configurations for
  ``surrogates train``.

Lightning is imported only when training starts (:func:`fit`, :func:`train_from_config`):
loading and applying an artifact — the CLI's rollout, Dask workers — stays light.
"""

from typing import Any

from surrogates.artifact import (
    ARTIFACT_NAME,
    FORMAT,
    FORMAT_VERSION,
    GridInfo,
    Surrogate,
    SurrogateMetadata,
    load,
    make_metadata,
)
from surrogates.training.config import FitConfig, load_config

_LIGHTNING = ("fit", "train_from_config")


def __getattr__(name: str) -> Any:
    if name in _LIGHTNING:
        from surrogates.training import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARTIFACT_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "FitConfig",
    "GridInfo",
    "Surrogate",
    "SurrogateMetadata",
    "fit",
    "load",
    "load_config",
    "make_metadata",
    "train_from_config",
]

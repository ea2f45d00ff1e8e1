"""Training and the Surrogate artifact.

- :func:`fit` trains any registered model on a canonical dataset (a thin LightningModule,
  :class:`FitConfig` options) and returns a :class:`Surrogate`.
- :class:`Surrogate` / :func:`load`: one safe-to-load file with the weights, the task, the
  statistics and the provenance; ``apply`` on tensors, ``predict`` on datasets.
- :func:`load_config` / :func:`train_from_config`: TOML run configurations for
  ``surrogates train``.

Lightning is imported only when training starts (:func:`fit`, :func:`train_from_config`):
loading and applying an artifact — the CLI's rollout, Dask workers — stays light.
"""

from typing import Any

from surrogates.training.artifact import ARTIFACT_NAME, FORMAT, FORMAT_VERSION, Surrogate, load
from surrogates.training.config import FitConfig, load_config
from surrogates.training.metadata import GridInfo, SurrogateMetadata

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
    "train_from_config",
]

"""Training and the Surrogate artifact.

- :func:`fit` trains any registered model on a canonical dataset (a thin LightningModule,
  :class:`FitConfig` options) and returns a :class:`Surrogate`.
- :class:`Surrogate` / :func:`load`: one safe-to-load file with the weights, the task, the
  statistics and the provenance; ``apply`` on tensors, ``predict`` on datasets.
- :func:`load_config` / :func:`train_from_config`: TOML run configurations for
  ``surrogates train``.
"""

from surrogates.training.artifact import FORMAT, FORMAT_VERSION, Surrogate, load
from surrogates.training.config import FitConfig, load_config
from surrogates.training.fit import ARTIFACT_NAME, fit, train_from_config
from surrogates.training.metadata import GridInfo, SurrogateMetadata

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

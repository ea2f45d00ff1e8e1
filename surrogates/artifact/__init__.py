"""The Surrogate artifact: the one file a training run leaves, and what applies it.

- :class:`Surrogate` / :func:`load`: one safe-to-load file with the weights, the task, the
  statistics and the provenance; ``apply`` on tensors, ``predict`` on datasets.
- :class:`SurrogateMetadata`, :class:`GridInfo`, :func:`make_metadata`: its JSON metadata.

This room sits below ``training`` and ``rollout`` and imports neither (nor Lightning), so
loading and applying an artifact — the CLI's rollout, Dask workers — stays light.
``surrogates.training`` re-exports these names.
"""

from surrogates.artifact.metadata import GridInfo, SurrogateMetadata, make_metadata
from surrogates.artifact.surrogate import (
    ARTIFACT_NAME,
    FORMAT,
    FORMAT_VERSION,
    PRECISIONS,
    Surrogate,
    load,
)

__all__ = [
    "ARTIFACT_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "PRECISIONS",
    "GridInfo",
    "Surrogate",
    "SurrogateMetadata",
    "load",
    "make_metadata",
]

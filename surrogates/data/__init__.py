"""Training samples: crops with halo padding, cube symmetries, normalisation, loaders.

- :func:`read_window` / :func:`read_windows` with a :class:`PadSpec`: boundary-aware
  windows of lazy fields (shared with the tiled rollout engine).
- :class:`CubeSymmetry`: the 48 (3D) / 8 (2D) axis permutations and flips, acting on
  named fields with vector and tensor components.
- :class:`Normalizer`: per-variable statistics from one streaming pass, JSON-able.
- :func:`coarse_grain`: block means, the state a coarser-grid surrogate sees.
- :class:`CubeDataset` (torch) and :class:`CubeDataModule` (Lightning).
"""

from __future__ import annotations

import importlib
from typing import Any

from surrogates.data.coarse import coarse_grain
from surrogates.data.normalize import Normalizer
from surrogates.data.symmetry import CubeSymmetry
from surrogates.data.task import Task
from surrogates.data.window import PadSpec, read_window, read_windows, window_index

# torch (dataset) and lightning (module) load on first use: `import surrogates` stays light.
_LAZY = {
    "CubeDataset": "surrogates.data.dataset",
    "CropSpec": "surrogates.data.dataset",
    "CubeDataModule": "surrogates.data.module",
    "EpochSampler": "surrogates.data.split",
    "Split": "surrogates.data.split",
    "split_dataset": "surrogates.data.split",
}

__all__ = [
    "Task",
    "coarse_grain",
    "PadSpec",
    "read_window",
    "read_windows",
    "window_index",
    "CubeSymmetry",
    "Normalizer",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'surrogates.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

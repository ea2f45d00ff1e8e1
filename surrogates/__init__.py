"""pde-surrogates: neural surrogates for PDE-governed simulation.

The curated public API (see DESIGN.md): ``open_dataset``, ``Task``, ``fit``, ``load``,
``rollout``, ``compare``, the ``DataError``/``ModelError`` exceptions, and the
subpackages ``io``, ``data``, ``models``, ``artifact``, ``training``, ``rollout``,
``diagnostics``, ``solvers``. Heavy subpackages are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# The functions shadow their packages' names on purpose (``surrogates.rollout(...)``,
# ``surrogates.compare(...)``); the packages stay importable as ``surrogates.rollout.api`` etc.
# They are imported eagerly: a package imported after a lazy ``rollout`` attribute was set
# would replace the function with the module.
from surrogates.compare import compare
from surrogates.data.task import Task
from surrogates.errors import DataError, ModelError
from surrogates.io import open_dataset
from surrogates.rollout import rollout

__version__ = "0.1.0"

# Public names that live in heavier modules, imported on first access.
_LAZY = {
    "fit": "surrogates.training",
    "load": "surrogates.artifact",
    "Surrogate": "surrogates.artifact",
}
_SUBPACKAGES = {
    "io", "data", "ops", "nn", "models", "artifact", "training", "diagnostics", "solvers",
    "plot", "reliability",
}  # fmt: skip

__all__ = [
    "DataError",
    "ModelError",
    "Task",
    "compare",
    "open_dataset",
    "rollout",
    "__version__",
    *sorted(_LAZY),
    *sorted(_SUBPACKAGES),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"surrogates.{name}")
    raise AttributeError(f"module 'surrogates' has no attribute {name!r}")

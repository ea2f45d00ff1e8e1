"""Exception classes raised for bad input data and bad models or configurations."""

from __future__ import annotations

__all__ = ["DataError", "ModelError"]


class DataError(ValueError):
    """Input data is missing, malformed or inconsistent.

    The message names the file, the variable or group, what was found and what was
    expected, e.g. ``"run.h5: variable 'density': got dims ('t', 'x'), expected
    (sample, time, x, y, z)"``.
    """


class ModelError(ValueError):
    """A model, configuration or surrogate artifact is invalid or incompatible."""

"""Registry of reference solvers that dataset recipes can run.

Each solver module registers a :class:`SolverSpec`: a frozen config dataclass (whose
fields are the keys a recipe's ``[params]`` table may set) and a ``simulate`` function
that produces one realisation as a canonical dataset (no ``sample`` dimension).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import xarray as xr

__all__ = ["SolverSpec", "Progress", "register", "get", "names"]


class Progress(Protocol):
    """What a solver may call to report progress: ``progress(done, total)``."""

    def __call__(self, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver.

    Attributes
    ----------
    name : str
        Name used by recipes (``solver = "pm"``).
    config : type
        Frozen dataclass of the solver's parameters, all with defaults.
    simulate : callable
        ``simulate(config, seed, progress=None) -> xarray.Dataset``: one realisation in
        the canonical form of DESIGN.md, without the ``sample`` dimension. Scalar
        parameters (``Omega_m``, ``Re`` ...) are 0-d variables; ``seed`` is stored too.
    formats : tuple of str
        Output formats the solver supports besides ``netcdf`` and ``zarr`` (e.g. ``gadget``).
    write : callable, optional
        ``write(dataset, path, format)`` for the extra formats.
    """

    name: str
    config: type
    simulate: Callable[..., xr.Dataset]
    formats: tuple[str, ...] = ()
    write: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"solver {self.name!r}: config must be a dataclass type")


_REGISTRY: dict[str, SolverSpec] = {}


def register(spec: SolverSpec) -> SolverSpec:
    """Add a solver to the registry (idempotent for the same name and spec)."""
    _REGISTRY[spec.name] = spec
    return spec


# Solver modules that register themselves on import; loaded on first registry lookup so
# that importing the registry (e.g. for the CLI) stays cheap.
BUILTIN = ("surrogates.solvers.pm", "surrogates.solvers.navier_stokes", "surrogates.solvers.lbm")


def _load_builtin() -> None:
    for module in BUILTIN:
        importlib.import_module(module)


def get(name: str) -> SolverSpec:
    """The solver registered as ``name``; raises ``DataError`` listing the known names."""
    from surrogates.errors import DataError

    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown solver {name!r}; known solvers: {', '.join(names())}") from None


def names() -> list[str]:
    """Sorted names of the registered solvers."""
    _load_builtin()
    return sorted(_REGISTRY)

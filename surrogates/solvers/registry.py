"""Registry of reference solvers that dataset recipes can run.

Each solver module registers a :class:`SolverSpec`: a frozen config dataclass (whose
fields are the keys a recipe's ``[params]`` table may set), a ``simulate`` function
that produces one realisation as a canonical dataset (no ``sample`` dimension) and,
optionally, an ``estimate`` of what one realisation costs (a :class:`Footprint`), which
:mod:`.budget` checks before a recipe allocates anything.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import xarray as xr

__all__ = ["Footprint", "SolverSpec", "Progress", "register", "get", "names"]


class Progress(Protocol):
    """What a solver may call to report progress: ``progress(done, total)``."""

    def __call__(self, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class Footprint:
    """What one realisation costs, estimated from its config alone (nothing allocated).

    Attributes
    ----------
    memory : int
        Peak bytes that ``simulate`` allocates (its intermediates and the returned dataset).
    output : int
        Bytes of the returned dataset's variables: the size of its netCDF part file.
    drivers : tuple of str
        Config fields that set these sizes, named in messages (``("n", "mesh_factor")``).
    """

    memory: int
    output: int
    drivers: tuple[str, ...] = ()


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
    estimate : callable, optional
        ``estimate(config) -> Footprint``: arithmetic on the config only (it must not
        allocate the arrays it estimates); without it a recipe's size is not checked.
    outputs : callable, optional
        ``outputs(path, samples, format) -> [(file, is_ours)]``: the files ``write``
        will create for ``samples`` realisations, each with a test that an existing one
        is an earlier output (checked before a recipe runs, so nothing else is replaced).
    """

    name: str
    config: type
    simulate: Callable[..., xr.Dataset]
    formats: tuple[str, ...] = ()
    write: Callable[..., Any] | None = None
    estimate: Callable[[Any], Footprint] | None = None
    outputs: Callable[..., list] | None = None

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
BUILTIN = ("surrogates.solvers.pm", "surrogates.solvers.ns", "surrogates.solvers.lbm")


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

"""Model registry: ``register`` a model class under a name, ``build`` it from a config.

A registered class subclasses :class:`~surrogates.models.base.SurrogateModel` and has a
frozen ``Config`` dataclass whose fields are the model's options (with defaults) and whose
``__post_init__`` validates them. An optional model (a peer from another package) names
the packages it needs in ``register(name, requires=...)``: it is always registered, so
``build`` and saved artifacts find it, and it imports them only when built.
:func:`available` lists the package's own models; ``available(optional=True)`` adds the
optional ones whose packages are installed here. A composite model registered with
``listed=False`` (the ``ensemble`` wrapper, built by ``fit(..., ensemble=K)`` around members
of a listed model) is buildable and loadable but never listed, so it is neither fitted by
name nor covered by the per-model smoke tests (its own tests cover it).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from typing import Any, TypeVar

from surrogates.errors import ModelError
from surrogates.models.base import SurrogateModel

__all__ = ["available", "build", "config_defaults", "register"]

_REGISTRY: dict[str, type[SurrogateModel]] = {}
#: Optional top-level packages each model imports when built (absent: none).
_REQUIRES: dict[str, tuple[str, ...]] = {}
#: Registered composite models that :func:`available` never lists.
_UNLISTED: set[str] = set()

M = TypeVar("M", bound=type[SurrogateModel])


def register(name: str, requires: tuple[str, ...] = (), listed: bool = True) -> Callable[[M], M]:
    """Class decorator adding a model to the registry under ``name``.

    ``requires`` names the optional top-level packages the model imports when it is built
    (never at registration); :func:`available` leaves the model out where one is missing.
    ``listed=False`` registers a composite model that :func:`available` never lists.

    Raises
    ------
    ModelError
        If ``name`` is taken or the class lacks a dataclass ``Config``.
    """

    def decorator(cls: M) -> M:
        if name in _REGISTRY:
            raise ModelError(f"model name {name!r} is already registered")
        if not (isinstance(cls, type) and issubclass(cls, SurrogateModel)):
            raise ModelError(f"register({name!r}): {cls!r} is not a SurrogateModel subclass")
        if not dataclasses.is_dataclass(getattr(cls, "Config", None)):
            raise ModelError(f"register({name!r}): {cls.__name__} has no dataclass Config")
        cls.name = name
        _REGISTRY[name] = cls
        if requires:
            _REQUIRES[name] = tuple(requires)
        if not listed:
            _UNLISTED.add(name)
        return cls

    return decorator


def available(optional: bool = False) -> list[str]:
    """Names of the registered models, sorted.

    Parameters
    ----------
    optional : bool
        Also list the optional models (``register(..., requires=...)``) whose packages are
        installed here. Building one whose packages are missing raises a
        :class:`ModelError` that says how to install them.
    """
    names = [n for n in _REGISTRY if n not in _REQUIRES and n not in _UNLISTED]
    if optional:
        names += [n for n, packages in _REQUIRES.items() if n in _REGISTRY and _installed(packages)]
    return sorted(names)


def _installed(packages: tuple[str, ...]) -> bool:
    """Whether every package can be imported (looked up without importing it)."""
    return all(importlib.util.find_spec(p) is not None for p in packages)


def config_defaults(name: str) -> dict[str, Any]:
    """Config options of model ``name`` with their default values."""
    return {f.name: f.default for f in dataclasses.fields(_lookup(name).Config)}


def _lookup(name: str) -> type[SurrogateModel]:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ModelError(
            f"unknown model {name!r}; available models: {available(optional=True)}"
        ) from None


def build(
    name: str,
    in_channels: int,
    out_channels: int,
    n_params: int = 0,
    ndim: int = 3,
    **config: Any,
) -> SurrogateModel:
    """Build a registered model.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    in_channels, out_channels : int
        Channels of the input and output fields.
    n_params : int
        Number of scalar conditioning parameters (0: unconditioned).
    ndim : int
        Number of spatial dimensions.
    **config
        Model options; see :func:`config_defaults`.

    Returns
    -------
    SurrogateModel
        A freshly initialised model (seed with ``torch.manual_seed`` for reproducibility).

    Raises
    ------
    ModelError
        Unknown model name, unknown config key (the message lists the allowed keys with
        their defaults) or invalid value.
    """
    cls = _lookup(name)
    defaults = config_defaults(name)
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        allowed = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
        raise ModelError(f"model {name!r}: unknown config key(s) {unknown}; allowed: {allowed}")
    return cls(in_channels, out_channels, n_params, ndim, cls.Config(**config))

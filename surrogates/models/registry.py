"""Model registry: ``register`` a model class under a name, ``build`` it from a config.

A registered class subclasses :class:`~surrogates.models.base.SurrogateModel` and has a
frozen ``Config`` dataclass whose fields are the model's options (with defaults) and whose
``__post_init__`` validates them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from surrogates.errors import ModelError
from surrogates.models.base import SurrogateModel

__all__ = ["available", "build", "config_defaults", "register"]

_REGISTRY: dict[str, type[SurrogateModel]] = {}

M = TypeVar("M", bound=type[SurrogateModel])


def register(name: str) -> Callable[[M], M]:
    """Class decorator adding a model to the registry under ``name``.

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
        return cls

    return decorator


def available() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_REGISTRY)


def config_defaults(name: str) -> dict[str, Any]:
    """Config options of model ``name`` with their default values."""
    return {f.name: f.default for f in dataclasses.fields(_lookup(name).Config)}


def _lookup(name: str) -> type[SurrogateModel]:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ModelError(f"unknown model {name!r}; available models: {available()}") from None


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

"""The sections of :class:`~surrogates.training.config.FitConfig`, as in a run configuration.

The options of :func:`surrogates.fit` fall into four sections, which are also the tables of
a ``cli/train-*.toml`` run configuration (beside ``[data]``, ``[task]`` and ``[model]``)::

    [sampling]   crop, pad, pad_mode, batch_size, length, symmetries, normalize,
                 num_workers, unroll, unroll_detach, val_fraction, val_batches
    [optim]      max_steps, max_epochs, max_time, lr, weight_decay, schedule,
                 warmup_steps, clip, seed, ensemble
    [loss]       name (the ``loss`` option), spectral_weight, gauge, loss_weight
    [trainer]    accelerator, devices, num_nodes, strategy, precision, deterministic,
                 out_dir, checkpoint_dir, checkpoint_every, val_every, patience, weights,
                 log_every, progress, resume (and, from Python only, callbacks)

Both spellings work: flat keywords (``fit(..., lr=1e-3, crop=32)``, one ``[train]``
table) and sections (``fit(..., optim={"lr": 1e-3}, sampling={"crop": 32})``,
``[optim]`` and ``[sampling]`` tables). A key in the wrong section, or given twice, is a
one-line :class:`~surrogates.ModelError` naming the section it belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from surrogates.errors import ModelError

__all__ = ["FIT_SECTIONS", "flatten_sections", "split_sections"]

FIT_SECTIONS: dict[str, tuple[str, ...]] = {
    "sampling": ("crop", "pad", "pad_mode", "batch_size", "length", "symmetries", "normalize",
                 "num_workers", "unroll", "unroll_detach", "val_fraction", "val_batches"),
    "optim": ("max_steps", "max_epochs", "max_time", "lr", "weight_decay", "schedule",
              "warmup_steps", "clip", "seed", "ensemble"),
    "loss": ("loss", "spectral_weight", "gauge", "loss_weight"),
    "trainer": ("accelerator", "devices", "num_nodes", "strategy", "precision",
                "deterministic", "out_dir", "checkpoint_dir", "checkpoint_every", "val_every",
                "patience", "weights", "log_every", "progress", "resume", "callbacks"),
}  # fmt: skip
_HOME = {key: section for section, keys in FIT_SECTIONS.items() for key in keys}
# Inside [loss] the loss itself is called ``name`` (as the model is in [model]).
_RENAMED = {"loss": {"name": "loss"}}


def _is_section(key: str, value: Any) -> bool:
    """``key=value`` is a whole section (``loss`` is one only when given as a table)."""
    return key in FIT_SECTIONS and (key != "loss" or isinstance(value, Mapping))


def flatten_sections(options: Mapping[str, Any], source: str = "fit options") -> dict[str, Any]:
    """Flat FitConfig keywords from ``options`` holding flat keys and/or section tables.

    Raises
    ------
    ModelError
        A section that is not a table, a key in the wrong section (naming the right one),
        or a key given twice.
    """
    flat: dict[str, Any] = {}
    where: dict[str, str] = {}
    for key, value in options.items():
        if not _is_section(key, value):
            _put(flat, where, key, value, "flat", source)
            continue
        if not isinstance(value, Mapping):
            raise ModelError(f"{source}: {key} must be a table of options, got {value!r}")
        renames = _RENAMED.get(key, {})
        for name, item in value.items():
            option = renames.get(name, name)
            if option in renames.values() and name not in renames:
                raise ModelError(f"{source}: [{key}] {name}: write it as {key}.name")
            home = _HOME.get(option)
            if home is not None and home != key:
                raise ModelError(
                    f"{source}: [{key}] {name}: belongs in [{home}] (write {home}.{name})"
                )
            _put(flat, where, option, item, f"[{key}]", source)
    return flat


def _put(flat: dict, where: dict, key: str, value: Any, place: str, source: str) -> None:
    if key in flat:
        raise ModelError(f"{source}: {key} given twice ({where[key]} and {place}); keep one")
    flat[key], where[key] = value, place


def split_sections(flat: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat FitConfig keywords grouped into their sections (the inverse of
    :func:`flatten_sections`; keys of no section, such as ``model_config``, are left out)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        section = _HOME.get(key)
        if section is None:
            continue
        name = next((n for n, o in _RENAMED.get(section, {}).items() if o == key), key)
        out.setdefault(section, {})[name] = value
    return {s: out[s] for s in FIT_SECTIONS if s in out}

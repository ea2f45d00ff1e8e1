"""The ``cli/train-*.toml`` run configurations, written from the studies' settings.

Each study's ``train_config(SIZES["full"])`` is the one source of its training settings;
the TOML files beside the CLI are generated from it (a test checks they agree)::

    python -m surrogates.studies.configs          # rewrite cli/train-*.toml
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from surrogates._files import atomic_path
from surrogates.studies import module
from surrogates.training.sections import split_sections

__all__ = ["FILES", "config_text", "sectioned", "toml_text", "write_configs"]

FILES = {
    "cosmology": "train-cosmology.toml",
    "turbulence": "train-turbulence.toml",
    "lift-drag": "train-lift-drag.toml",
}
_CLI = Path(__file__).resolve().parents[2] / "cli"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) as TOML")


def toml_text(config: Mapping[str, Mapping[str, Any]], header: str = "") -> str:
    """``config`` (sections of keys) as TOML, ``header`` as its leading comment."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.insert(
        0, "# Written by `python -m surrogates.studies.configs`: edit the study's settings."
    )
    for section, keys in config.items():
        lines += ["", f"[{section}]"]
        lines += [f"{key} = {_value(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def sectioned(config: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``config`` with its flat ``[train]`` table split into the FitConfig sections
    (``[sampling]``, ``[optim]``, ``[loss]``, ``[trainer]``)."""
    out = {k: dict(v) for k, v in config.items() if k != "train"}
    out.update(split_sections(config.get("train", {})))
    return out


def config_text(name: str) -> str:
    """The TOML text of study ``name``'s training at its ``full`` size."""
    study = module(name)
    return toml_text(sectioned(study.train_config(study.SIZES["full"])), study.TRAIN_HEADER)


def write_configs(folder: Path = _CLI) -> list[Path]:
    """Write every study's ``train-*.toml`` into ``folder``; returns the paths."""
    paths = []
    for name, file in FILES.items():
        path = folder / file
        with atomic_path(path) as tmp:
            tmp.write_text(config_text(name))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_configs():
        print(f"wrote {written}")
    sys.exit(0)

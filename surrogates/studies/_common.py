"""What every study shares: its output folder, settings overrides, timings, results files."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from surrogates._files import atomic_json, atomic_path
from surrogates.errors import DataError
from surrogates.solvers.recipe import parse_value

__all__ = [
    "Stopwatch",
    "apply_changes",
    "best_time",
    "earlier_results",
    "machine",
    "markdown_table",
    "prepare_out",
    "recipe_folder",
    "write_results",
]

_STAMP = "study.json"  # marks a folder as a study's output (and names the study)


def recipe_folder(name: str) -> Path:
    """``datasets/<name>`` of the repository checkout the package was installed from."""
    folder = Path(__file__).resolve().parents[2] / "datasets" / name
    if not (folder / "recipe.toml").is_file():
        raise DataError(
            f"{folder}: no recipe.toml; the studies read the dataset recipes of a"
            " repository checkout (install it with pip install -e .)"
        )
    return folder


def prepare_out(out: Path, study: str) -> Path:
    """Create ``out``, or check that it is empty or an earlier output of ``study``.

    A study reuses the datasets an earlier run left in its folder, and replaces its
    results and figures; a folder of anything else is refused untouched.
    """
    if str(out) in ("", "."):
        raise DataError(f"--out {str(out)!r}: expected a folder of its own for the study")
    stamp = out / _STAMP
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file; expected a folder for the study")
    if out.is_dir() and any(out.iterdir()):
        found = None
        if stamp.is_file():
            try:
                found = json.loads(stamp.read_text()).get("study")
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                found = None
        if found != study:
            what = f"the output of study {found!r}" if found else "files of something else"
            raise DataError(
                f"--out {out}: holds {what}; expected an empty folder or an earlier output"
                f" of study {study!r} (left untouched)"
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").unlink(missing_ok=True)  # only a finished run leaves results
    atomic_json(stamp, {"study": study, "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return out


def earlier_results(out: Path, study: str, settings: Any) -> dict[str, Any] | None:
    """The results in ``out`` of an earlier run of ``study`` with exactly ``settings``."""
    try:
        stamp = json.loads((out / _STAMP).read_text())
        results = json.loads((out / "results.json").read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    mine = json.loads(json.dumps(dataclasses.asdict(settings)))  # tuples -> lists
    same = isinstance(stamp, dict) and stamp.get("study") == study
    return (
        results if same and isinstance(results, dict) and results.get("settings") == mine else None
    )


def _coerce(field: str, value: Any, current: Any, hint: Any) -> Any:
    """``value`` as the type of ``current`` (or of the field's annotation when None)."""
    if current is None:
        return value
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, tuple):
        ok = isinstance(value, list | tuple)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, type(current))
    if not ok:
        raise DataError(
            f"--set {field}={value!r}: expected {type(current).__name__} like {current!r}"
        )
    return value


def apply_changes(settings: Any, changes: Sequence[str]) -> Any:
    """``settings`` with ``FIELD=VALUE`` / ``FIELD.KEY=VALUE`` overrides applied."""
    fields = {f.name: f for f in dataclasses.fields(settings)}
    hints = typing.get_type_hints(type(settings))
    updates: dict[str, Any] = {}
    for item in changes:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DataError(f"--set {item!r}: expected FIELD=VALUE")
        name, _, sub = key.partition(".")
        if name not in fields:
            raise DataError(
                f"--set {item!r}: {type(settings).__name__} has no field {name!r};"
                f" expected one of {sorted(fields)}"
            )
        value = parse_value(text.strip())
        current = updates.get(name, getattr(settings, name))
        if sub:
            if not isinstance(current, Mapping):
                raise DataError(f"--set {item!r}: {name} is not a table; use {name}=VALUE")
            old = current.get(sub)
            value = {**current, sub: _coerce(key, value, old, None) if old is not None else value}
        else:
            value = _coerce(key, value, current, hints.get(name))
        updates[name] = value
    return dataclasses.replace(settings, **updates) if updates else settings


class Stopwatch:
    """Named wall-clock timings: ``with watch("train"): ...``; ``watch.seconds`` holds them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> _Lap:
        return _Lap(self, name)


class _Lap:
    def __init__(self, watch: Stopwatch, name: str) -> None:
        self.watch, self.name = watch, name

    def __enter__(self) -> _Lap:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.watch.seconds[self.name] = time.perf_counter() - self.start


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn``, after one untimed warm-up call
    (allocations, kernel selection, JIT compilation)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def markdown_table(rows: Sequence[Mapping[str, Any]], digits: int = 3) -> str:
    """Rows (dicts with the same keys) as a Markdown table; floats to ``digits`` significant."""
    if not rows:
        return ""
    keys = list(rows[0])

    def cell(v: Any) -> str:
        return f"{v:.{digits}g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    """This machine in words: CPUs, architecture, Python."""
    return f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}"


def write_results(out: Path, results: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` atomically; return both paths."""
    results = {**results, "machine": machine()}
    paths = []
    for name, text in (("results.json", json.dumps(results, indent=2)), ("results.md", markdown)):
        path = out / name
        with atomic_path(path) as tmp:
            tmp.write_text(text + "\n")
        paths.append(path)
    return paths[0], paths[1]

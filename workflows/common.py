"""Shared plumbing of the workflow scripts: arguments, output folder, results files.

Each workflow script (``workflows/<name>.py``) is one command that runs a whole study from
the repository's dataset recipes and writes everything under ``--out``: ``results.json``
(the numbers, machine-readable), ``results.md`` (the same as Markdown tables) and figures.
``--quick`` shrinks every size so that the test suite runs the script in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from surrogates._files import atomic_path

REPO = Path(__file__).resolve().parents[1]

__all__ = [
    "REPO",
    "Stopwatch",
    "generate",
    "markdown_table",
    "parse_args",
    "persistence",
    "write_results",
]


def parse_args(description: str, default_out: str, argv: Sequence[str] | None = None,
               extra: Any = None) -> argparse.Namespace:  # fmt: skip
    """``--quick``, ``--out`` and ``--threads`` (plus ``extra(parser)`` options)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds; for tests)")
    parser.add_argument("--out", default=default_out, help=f"output folder (default {default_out})")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return args


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


def write_results(out: Path, results: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` atomically (tmp + rename); return both paths."""
    machine = f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}"
    results = {**results, "machine": machine}
    paths = []
    for name, text in (("results.json", json.dumps(results, indent=2)), ("results.md", markdown)):
        path = out / name
        with atomic_path(path) as tmp:
            tmp.write_text(text + "\n")
        paths.append(path)
    return paths[0], paths[1]


def generate(recipe: Any, path: Path, resume: bool = True) -> dict[str, Any]:
    """Run ``recipe`` into ``path`` unless an earlier run of the same recipe left it there.

    The solver's wall time is kept in ``PATH.timing.json`` beside the data, so a reused
    dataset still reports the seconds measured when it was generated. With ``resume``,
    realisations an interrupted run of the same recipe finished are kept (partial output
    of another recipe is removed); without it every realisation is run and timed now.

    Returns
    -------
    dict
        ``seconds`` (solver wall time), ``reused`` (the file came from an earlier run) and
        ``resumed_parts`` (realisations an interrupted run had finished: not in ``seconds``).
    """
    from surrogates.solvers.recipe import parts_fingerprint, run_recipe

    stamp = path.with_name(path.name + ".timing.json")
    if path.exists() and stamp.is_file():
        record = json.loads(stamp.read_text())
        if record.get("fingerprint") == recipe.fingerprint:
            return {**record, "reused": True}
    parts = path.with_name(path.name + ".parts")
    found = parts_fingerprint(parts)
    if resume and found is not None and found != recipe.fingerprint:
        shutil.rmtree(parts)  # our partial output of a different recipe: start again
    resumed = len(list(parts.glob("sample-*.nc"))) if resume and parts.is_dir() else 0
    started = time.perf_counter()
    run_recipe(recipe, path, resume=resume, overwrite=True)  # ours: a stale fingerprint
    seconds = time.perf_counter() - started
    record = {"fingerprint": recipe.fingerprint, "seconds": seconds, "resumed_parts": resumed}
    stamp.write_text(json.dumps(record))
    return {**record, "reused": False}


def persistence(truth: Any, names: Sequence[str], times: Any) -> Any:
    """The baseline to beat: the truth's first frame of ``names`` held fixed at ``times``
    (an ``xarray.Dataset`` with dims ``sample, time, ...``)."""
    first = truth[list(names)].isel(time=0, drop=True)
    return first.expand_dims(time=times).transpose("sample", "time", ...)

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
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

__all__ = ["REPO", "Stopwatch", "markdown_table", "parse_args", "write_results"]


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
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, path)
        paths.append(path)
    return paths[0], paths[1]

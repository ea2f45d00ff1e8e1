"""Run a dataset recipe once: reuse the output (and its measured cost) while the recipe holds."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from surrogates._files import atomic_json
from surrogates.solvers.recipe import Recipe, parts_fingerprint, run_recipe

__all__ = ["run_cached"]


def run_cached(recipe: Recipe, path: Path, resume: bool = True) -> dict[str, Any]:
    """Run ``recipe`` into ``path`` unless an earlier run of the same recipe left it there.

    The solver's wall time is kept in ``PATH.timing.json`` beside the data, so a reused
    dataset still reports the seconds measured when it was generated (a study's cost
    figures stay those of the solver, not of reading a file). With ``resume``,
    realisations an interrupted run of the same recipe finished are kept (partial output
    of another recipe is removed); without it every realisation is run and timed now.

    Returns
    -------
    dict
        ``seconds`` (solver wall time), ``reused`` (the file came from an earlier run),
        ``resumed_parts`` (realisations an interrupted run had finished: not in
        ``seconds``) and ``fingerprint`` (of the recipe).
    """
    path = Path(path)
    stamp = path.with_name(path.name + ".timing.json")
    if path.exists() and stamp.is_file():
        try:
            record = json.loads(stamp.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = {}
        if isinstance(record, dict) and record.get("fingerprint") == recipe.fingerprint:
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
    atomic_json(stamp, record)
    return {**record, "reused": False}

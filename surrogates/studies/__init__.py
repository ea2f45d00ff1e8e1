"""The three scientific studies: cosmology, turbulence, lift and drag.

Each study is one module (or sub-package) of this room with

- ``Settings``: a frozen dataclass holding every size and option of the study;
- ``SIZES``: the named settings ``quick`` (seconds: the test suite and the notebooks'
  quick mode), ``laptop`` (minutes on a laptop CPU) and ``full`` (the figures of
  ``docs/results``);
- ``run(settings, out) -> dict``: the whole study, writing ``results.json``,
  ``results.md`` and its figures into ``out``, and returning the results.

Notebooks, ``make`` targets, benchmarks and the ``cli/*.toml`` training configurations
all read these settings; :func:`settings` is the one way to get them::

    from surrogates import studies

    s = studies.settings("turbulence", "quick", seed=1, changes=["budget=5"])
    results = studies.run("turbulence", s, "runs/studies/turbulence")

On the command line: ``surrogates study turbulence --size quick --seed 1 --out DIR``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from surrogates.errors import DataError
from surrogates.studies._common import apply_changes, earlier_results, prepare_out

__all__ = ["SIZES", "STUDIES", "module", "run", "settings"]

STUDIES = {
    "cosmology": "surrogates.studies.cosmology",
    "turbulence": "surrogates.studies.turbulence",
    "lift-drag": "surrogates.studies.lift_drag",
}
SIZES = ("quick", "laptop", "full")


def module(name: str) -> ModuleType:
    """The module of study ``name`` (one of :data:`STUDIES`)."""
    if name not in STUDIES:
        raise DataError(f"study {name!r}: expected one of {sorted(STUDIES)}")
    return importlib.import_module(STUDIES[name])


def settings(
    name: str, size: str = "laptop", *, seed: int | None = None, changes: Sequence[str] = ()
) -> Any:
    """The settings of study ``name`` at ``size``, with ``seed`` and ``changes`` applied.

    Parameters
    ----------
    name : str
        One of :data:`STUDIES`.
    size : {"quick", "laptop", "full"}
        The named sizes.
    seed : int, optional
        Replaces the settings' ``seed`` (what it seeds is said in each ``Settings``).
    changes : sequence of str
        ``FIELD=VALUE`` overrides, the value parsed as a TOML value (``budget=60``,
        ``models=["vnet"]``), a bare word as a string; ``FIELD.KEY=VALUE`` changes one key
        of a dict field (``fit.max_steps=100``).

    Raises
    ------
    DataError
        An unknown study, size or field, or a value of the wrong type.
    """
    study = module(name)
    if size not in SIZES:
        raise DataError(f"--size {size!r}: expected one of {list(SIZES)}")
    chosen = study.SIZES[size]
    if seed is not None:
        changes = [*changes, f"seed={int(seed)}"]
    return apply_changes(chosen, changes)


def run(name: str, chosen: Any, out: str | Path, *, reuse: bool = False) -> dict[str, Any]:
    """Run study ``name`` with settings ``chosen`` (see :func:`settings`) into ``out``.

    ``out`` is created if missing; an existing folder must be empty or an earlier output
    of the same study (it keeps its datasets, which are reused when their recipe is
    unchanged). Returns the study's results, also written to ``out/results.json``.

    With ``reuse``, the results an earlier run with exactly these settings left in
    ``out`` are returned without running anything (a notebook re-executed, say); any
    difference in the settings runs the study again.
    """
    study = module(name)
    folder = Path(out)
    if reuse:
        earlier = earlier_results(folder, name, chosen)
        if earlier is not None:
            return earlier
    folder = prepare_out(folder, name)
    return study.run(chosen, folder)

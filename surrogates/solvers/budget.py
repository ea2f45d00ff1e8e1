"""The memory and disk a dataset recipe needs, checked before anything is allocated.

:func:`~surrogates.solvers.recipe.run_recipe` runs the realisations one at a time, writes
each to ``OUT.parts/sample-NNNNN.nc``, then opens all the parts, concatenates them along
``sample`` and writes ``OUT`` before it removes the parts. So:

- memory: the largest realisation (its solver's :class:`~.registry.Footprint`), or the
  concatenation, which reads every part into memory (``xr.open_dataset`` without chunks
  loads a variable when ``xr.concat`` touches it) and builds the concatenated copy;
  plus the ``(config, seed)`` list of :func:`~.recipe.sample_configs`;
- disk: the parts and the final output at the same time, ``2 x samples x part size``.

:func:`check_recipe_budget` compares these with the available RAM (or an explicit
budget) and the free disk beside ``OUT``, and refuses an impossible recipe with a
one-line :class:`~surrogates.DataError` naming the parameter responsible.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surrogates._bytes import available_memory, format_bytes, parse_bytes
from surrogates.errors import DataError
from surrogates.solvers import registry

__all__ = ["RecipeEstimate", "estimate_recipe", "check_recipe_budget"]

#: Copies of the whole output held while concatenating: the loaded parts and the result.
#: Measured (VmHWM growth of ``run_recipe``, pm n=16, steps=1): 16, 64, 128, 512 samples of
#: 0.21 MB peaked at 32, 134, 270, 467 MB; pm n=48, 16 and 32 samples of 5.75 MB at 212 and
#: 419 MB: 2 x output plus about 1.7 MB per open part file.
CONCAT_COPIES = 2
#: Memory per open part file (netCDF/HDF5 metadata caches), measured 1.6-1.7 MB ...
OPEN_PART_BYTES = 2 * 2**20
#: ... for at most this many files: xarray's ``file_cache_maxsize`` closes the others.
OPEN_PARTS_MAX = 128
#: One entry of the ``sample_configs`` list (a config dataclass and the drawn values):
#: tracemalloc measured 300-430 B per sample for the shipped recipes at 100 000 samples.
CONFIG_BYTES = 512


@dataclass(frozen=True)
class RecipeEstimate:
    """What running a recipe needs.

    Attributes
    ----------
    realisation : Footprint
        The largest realisation (over the values that ``[vary]`` can take).
    config : object
        Its config.
    memory : int
        Peak bytes of the whole run: the largest realisation or the concatenation,
        plus the list of sample configs.
    disk : int
        Bytes on disk at the end of the run: the parts and the final output.
    """

    realisation: registry.Footprint
    config: Any
    memory: int
    disk: int


def _candidates(rule: dict[str, list]) -> list[Any]:
    kind, args = next(iter(rule.items()))
    return list(args) if kind == "values" else [args[0], args[-1]]


def _largest(spec: registry.SolverSpec, recipe: Any) -> tuple[registry.Footprint, Any]:
    """The footprint of the costliest sample: each varied parameter at its costliest value
    (the others at the base config), then all of them together."""
    assert spec.estimate is not None
    base = recipe.config
    picks: dict[str, Any] = {}
    found = [(spec.estimate(base), base)]
    for name, rule in recipe.vary.items():
        best = None
        for value in _candidates(rule):
            try:
                trial = dataclasses.replace(base, **{name: value})
            except (ValueError, TypeError):  # run_recipe reports the bad sample itself
                continue
            cost = spec.estimate(trial)
            found.append((cost, trial))
            if best is None or (cost.memory, cost.output) > (best[0].memory, best[0].output):
                best = (cost, value)
        if best is not None:
            picks[name] = best[1]
    if len(picks) > 1:
        try:
            trial = dataclasses.replace(base, **picks)
            found.append((spec.estimate(trial), trial))
        except (ValueError, TypeError):
            pass
    memory = max(found, key=lambda item: item[0].memory)
    output = max(cost.output for cost, _ in found)
    cost = dataclasses.replace(memory[0], output=output)
    return cost, memory[1]


def estimate_recipe(recipe: Any) -> RecipeEstimate | None:
    """Memory and disk that :func:`~.recipe.run_recipe` needs for ``recipe``.

    Arithmetic on the parameters only: nothing of the size estimated is allocated.

    Returns
    -------
    RecipeEstimate or None
        None when the recipe's solver registers no ``estimate``.
    """
    spec = registry.get(recipe.solver)
    if spec.estimate is None:
        return None
    cost, config = _largest(spec, recipe)
    samples = recipe.samples
    concat = CONCAT_COPIES * samples * cost.output
    concat += OPEN_PART_BYTES * min(samples, OPEN_PARTS_MAX)
    memory = max(cost.memory, concat) + CONFIG_BYTES * samples
    return RecipeEstimate(cost, config, memory, disk=2 * samples * cost.output)


def _show(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _where(out: Path) -> Path:
    """The nearest existing folder that will hold ``out`` (its disk is the one filled)."""
    folder = out.absolute().parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    return folder


def _parts_bytes(out: Path) -> int:
    """Bytes of an earlier run's ``OUT.parts/``: reused on resume, removed on restart."""
    if not out.name:  # an empty --out, refused by run_recipe itself
        return 0
    parts = out.with_name(out.name + ".parts")
    if not parts.is_dir() or parts.is_symlink():
        return 0
    with os.scandir(parts) as entries:
        return sum(e.stat().st_size for e in entries if e.is_file(follow_symlinks=False))


def check_recipe_budget(
    recipe: Any, out: str | os.PathLike[str], memory: int | str | None = None
) -> RecipeEstimate | None:
    """Refuse a recipe whose run cannot fit in memory or on disk, before it starts.

    Parameters
    ----------
    recipe : Recipe
        From :func:`~.recipe.load_recipe`.
    out : path-like
        Output path of the run; the free disk is measured in its folder.
    memory : int or str, optional
        Memory budget in bytes or as ``"4GB"``, ``"512 MiB"``; default the RAM available
        now (MemAvailable: free memory plus reclaimable caches).

    Returns
    -------
    RecipeEstimate or None
        The estimate checked; None when the solver registers no ``estimate``.

    Raises
    ------
    DataError
        One line naming the recipe file, the parameter(s) responsible, the estimate and
        what is available.
    """
    budget = parse_bytes(memory)
    estimate = estimate_recipe(recipe)
    if estimate is None:
        return None
    if budget is None:
        budget = available_memory()
        have, more = f"this machine has {format_bytes(budget)} available", ", or pass --memory"
    else:
        have, more = f"the memory budget is {format_bytes(budget)}", ", or a larger --memory"
    cost, src, samples = estimate.realisation, recipe.source, recipe.samples
    drivers = ", ".join(f"{d}={_show(getattr(estimate.config, d))}" for d in cost.drivers)
    first = cost.drivers[0] if cost.drivers else "params"
    param = f"vary.{first}" if first in recipe.vary else f"params.{first}"
    what = f"solver {recipe.solver!r} with {drivers}" if drivers else f"solver {recipe.solver!r}"
    if cost.memory > budget:
        raise DataError(
            f"{src}: {what} needs about {format_bytes(cost.memory)} of memory per realisation,"
            f" {have} (set a smaller {param}{more})"
        )
    folder = _where(Path(out))
    free = shutil.disk_usage(folder).free + _parts_bytes(Path(out))
    if estimate.disk > free:
        need = f"about {format_bytes(estimate.disk)} of disk for the parts and the output"
        if samples == 1:
            raise DataError(
                f"{src}: {what} needs {need}, {folder} has {format_bytes(free)} free"
                f" (set a smaller {param}, or write elsewhere)"
            )
        raise DataError(
            f"{src}: samples={samples} of about {format_bytes(cost.output)} each need {need},"
            f" {folder} has {format_bytes(free)} free (set a smaller samples, or write elsewhere)"
        )
    if estimate.memory > budget:
        raise DataError(
            f"{src}: samples={samples} of about {format_bytes(cost.output)} each need about"
            f" {format_bytes(estimate.memory)} of memory to be concatenated into one dataset,"
            f" {have} (set a smaller samples{more})"
        )
    return estimate

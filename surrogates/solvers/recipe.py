"""Dataset recipes: a ``recipe.toml`` names a registered solver, its parameters, how many
realisations to run and which parameters vary between them.

Format::

    solver = "pm"            # a name from surrogates.solvers.names()
    samples = 64             # realisation i runs with seed + i
    seed = 0
    format = "netcdf"        # netcdf | zarr | a solver's own format (e.g. gadget)
    description = "..."      # optional

    [params]                 # fields of the solver's config dataclass
    n = 32

    [vary]                   # per-sample values, drawn deterministically from `seed`
    Omega_m = { uniform = [0.2, 0.4] }      # or { values = [...] } (cycled) or
                                            #    { linspace = [lo, hi] } (evenly over samples)

:func:`run_recipe` writes each finished realisation to ``OUT.parts/`` first, so an
interrupted run resumes where it stopped; the final file is written atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tomllib
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from surrogates._files import check_output, output_lock, output_path
from surrogates.errors import DataError
from surrogates.solvers import budget, registry

__all__ = [
    "Recipe",
    "load_recipe",
    "sample_configs",
    "run_recipe",
    "parse_value",
    "parts_fingerprint",
]

_TOP_KEYS = {"solver", "samples", "seed", "format", "description", "params", "vary"}
_BASE_FORMATS = ("netcdf", "zarr")
_DISTRIBUTIONS = ("uniform", "values", "linspace")


@dataclass(frozen=True)
class Recipe:
    """A validated recipe: solver, base config, sample count and per-sample variations."""

    source: str
    solver: str
    samples: int
    seed: int
    format: str
    config: Any
    vary: dict[str, dict[str, list]]
    description: str = ""

    def to_dict(self) -> dict:
        """JSON-able form (records what produced a dataset)."""
        return {
            "solver": self.solver,
            "samples": self.samples,
            "seed": self.seed,
            "format": self.format,
            "params": _jsonable(dataclasses.asdict(self.config)),
            "vary": self.vary,
        }

    @property
    def fingerprint(self) -> str:
        """Hash of everything that determines the output (for resume checks)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def parse_value(text: str) -> Any:
    """A ``--set`` value as TOML (numbers, booleans, arrays, quoted strings), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_override(raw: dict, item: str, source: str) -> None:
    if "=" not in item:
        raise DataError(f"{source}: --set {item!r}: expected key=value")
    key, text = (s.strip() for s in item.split("=", 1))
    value = parse_value(text)
    parts = key.split(".")
    if len(parts) == 1 and key in _TOP_KEYS - {"params", "vary"}:
        raw[key] = value
    elif len(parts) == 2 and parts[0] in ("params", "vary"):
        raw.setdefault(parts[0], {})[parts[1]] = value
    elif len(parts) == 1:
        raw.setdefault("params", {})[key] = value
    else:
        raise DataError(f"{source}: --set {key!r}: expected a top-level key, params.NAME or NAME")


def _check_type(name: str, value: Any, hint: Any, source: str) -> Any:
    """Coerce ints to floats for float fields; reject values of the wrong type."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    allowed = typing.get_args(hint) if union else (hint,)
    if hint is Any:
        return value
    if value is None and type(None) in allowed:
        return value
    for t in allowed:
        base = typing.get_origin(t) or t
        if base is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if base is bool and isinstance(value, bool):
            return value
        if base is str and isinstance(value, str):
            return value
        if base in (tuple, list) and isinstance(value, list | tuple):
            return tuple(value) if base is tuple else list(value)
        if base is Path and isinstance(value, str):
            return Path(value)
    names = " or ".join(getattr(t, "__name__", str(t)) for t in allowed)
    raise DataError(f"{source}: params.{name}: expected {names}, got {value!r}")


def _build_config(spec: registry.SolverSpec, params: dict, source: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(spec.config) if f.init}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise DataError(
            f"{source}: unknown parameter(s) {unknown} for solver {spec.name!r};"
            f" allowed: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(spec.config)
    values = {k: _check_type(k, v, hints.get(k, Any), source) for k, v in params.items()}
    try:
        return spec.config(**values)
    except (ValueError, TypeError) as err:
        raise DataError(f"{source}: invalid parameters for solver {spec.name!r}: {err}") from None


def _check_vary(vary: Any, config: Any, source: str) -> dict[str, dict[str, list]]:
    if not isinstance(vary, dict):
        raise DataError(f"{source}: [vary] must be a table, got {vary!r}")
    fields = {f.name for f in dataclasses.fields(config)}
    out = {}
    for name, rule in vary.items():
        if name not in fields:
            raise DataError(f"{source}: vary.{name}: not a parameter; allowed: {sorted(fields)}")
        if not (isinstance(rule, dict) and len(rule) == 1 and next(iter(rule)) in _DISTRIBUTIONS):
            raise DataError(
                f"{source}: vary.{name}: expected one of {{uniform = [lo, hi]}},"
                f" {{values = [...]}}, {{linspace = [lo, hi]}}; got {rule!r}"
            )
        kind, args = next(iter(rule.items()))
        if not isinstance(args, list) or not args or (kind != "values" and len(args) != 2):
            raise DataError(f"{source}: vary.{name}.{kind}: expected a list, got {args!r}")
        out[name] = {kind: list(args)}
    return out


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read and validate ``recipe.toml`` (or a folder holding one).

    Parameters
    ----------
    path : str or Path
        ``datasets/<name>`` or ``datasets/<name>/recipe.toml``.
    overrides : sequence of str
        ``key=value`` items (``samples=2``, ``n=16``, ``params.n=16``, ``vary.Omega_m=...``).

    Raises
    ------
    DataError
        Missing file, TOML syntax error, unknown key, wrong type or impossible value.
    """
    path = Path(path)
    file = path / "recipe.toml" if path.is_dir() else path
    source = str(file)
    if not file.is_file():
        raise DataError(f"{source}: recipe not found (expected a folder with recipe.toml)")
    try:
        raw = tomllib.loads(file.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{source}: not valid TOML: {err}") from None
    for item in overrides:
        _apply_override(raw, item, source)
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise DataError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    if "solver" not in raw:
        raise DataError(f"{source}: missing key 'solver'; known solvers: {registry.names()}")
    try:
        spec = registry.get(raw["solver"])
    except DataError as err:
        raise DataError(f"{source}: {err}") from None
    samples, seed = raw.get("samples", 1), raw.get("seed", 0)
    for key, value, low in (("samples", samples, 1), ("seed", seed, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise DataError(f"{source}: {key}: expected an integer >= {low}, got {value!r}")
    fmt = raw.get("format", "netcdf")
    if fmt not in _BASE_FORMATS + spec.formats:
        raise DataError(
            f"{source}: format {fmt!r} not supported by solver {spec.name!r};"
            f" choose from {list(_BASE_FORMATS + spec.formats)}"
        )
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise DataError(f"{source}: [params] must be a table, got {params!r}")
    config = _build_config(spec, params, source)
    vary = _check_vary(raw.get("vary", {}), config, source)
    return Recipe(source, spec.name, samples, seed, fmt, config, vary, raw.get("description", ""))


def sample_configs(recipe: Recipe) -> list[tuple[Any, int]]:
    """The ``(config, seed)`` of each realisation, deterministic for the recipe's seed."""
    rng = np.random.default_rng(recipe.seed)
    draws: dict[str, list] = {}
    n = recipe.samples
    for name, rule in recipe.vary.items():
        kind, args = next(iter(rule.items()))
        if kind == "uniform":
            draws[name] = list(rng.uniform(args[0], args[1], size=n))
        elif kind == "linspace":
            draws[name] = list(np.linspace(args[0], args[1], n))
        else:
            draws[name] = [args[i % len(args)] for i in range(n)]
    out = []
    for i in range(n):
        changes = {k: _jsonable(v[i]) for k, v in draws.items()}
        try:
            config = dataclasses.replace(recipe.config, **changes)
        except (ValueError, TypeError) as err:
            raise DataError(f"{recipe.source}: sample {i} with {changes}: {err}") from None
        out.append((config, recipe.seed + i))
    return out


def _part_path(parts: Path, i: int) -> Path:
    return parts / f"sample-{i:05d}.nc"


def parts_fingerprint(parts: Path) -> str | None:
    """The recipe fingerprint stamped on a ``OUT.parts/`` folder, or None when it is not
    a folder :func:`run_recipe` made (which it then refuses to touch)."""
    if not parts.is_dir() or parts.is_symlink():
        return None
    try:
        return json.loads((parts / "recipe.json").read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def _prepare_parts(recipe: Recipe, parts: Path, resume: bool) -> None:
    stamp = parts / "recipe.json"
    if parts.exists() or parts.is_symlink():
        found = parts_fingerprint(parts)
        if found is None:
            raise DataError(
                f"{parts}: exists and is not the partial output of a recipe (no readable"
                " recipe.json); refusing to remove it: move it or choose another --out"
            )
        if resume and found != recipe.fingerprint:
            raise DataError(
                f"{parts}: partial output of a different recipe (fingerprint {found}, this"
                f" recipe {recipe.fingerprint}); pass --restart (resume=False) to discard it"
            )
        if not resume:
            shutil.rmtree(parts)
    parts.mkdir(exist_ok=True)
    stamp.write_text(json.dumps({"fingerprint": recipe.fingerprint, **recipe.to_dict()}))


def run_recipe(
    recipe: Recipe,
    out: str | Path,
    *,
    resume: bool = True,
    overwrite: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
    memory: int | str | None = None,
) -> Path:
    """Run every realisation of ``recipe`` and write the dataset to ``out``.

    Parameters
    ----------
    recipe : Recipe
        From :func:`load_recipe`.
    out : str or Path
        Output path (``.nc`` for netCDF, ``.zarr`` for zarr, a stem for solver formats).
    resume : bool
        Reuse realisations already finished in ``OUT.parts/`` by an interrupted run of
        the same recipe.
    overwrite : bool
        Replace a finished earlier output at ``out`` (a canonical netCDF file or zarr
        store). Any other existing path is refused before a realisation is run.
    progress : callable, optional
        ``progress(sample, done, total)`` called as each realisation advances.
    memory : int or str, optional
        Memory budget (bytes, ``"4GB"``); default the available RAM. A recipe whose
        estimated memory or disk does not fit is refused before anything is allocated
        (:func:`surrogates.solvers.budget.check_recipe_budget`).

    Returns
    -------
    Path
        The written output.
    """
    budget.check_recipe_budget(recipe, out, memory)
    spec = registry.get(recipe.solver)
    out = output_path(out)
    with output_lock(out, f"surrogates generate {recipe.source}"):
        _check_target(spec, recipe, out, overwrite)
        return _run_locked(spec, recipe, out, resume, progress)


def _check_target(spec: registry.SolverSpec, recipe: Recipe, out: Path, overwrite: bool) -> None:
    from surrogates import io

    fmt = recipe.format
    if fmt not in _BASE_FORMATS and spec.outputs is not None:
        for path, is_ours in spec.outputs(out, recipe.samples, fmt):
            check_output(path, overwrite=overwrite, is_ours=is_ours,
                         what=f"a {fmt} output (a snapshot)")  # fmt: skip
    elif fmt == "netcdf":
        check_output(out, overwrite=overwrite, is_ours=io.is_canonical_netcdf,
                     what="a canonical netCDF file")  # fmt: skip
    elif fmt == "zarr":
        check_output(out, overwrite=overwrite, is_ours=io.is_canonical_zarr,
                     what="a canonical zarr store")  # fmt: skip
    elif not out.parent.is_dir():
        raise DataError(f"{out}: parent directory {out.parent} does not exist")


def _run_locked(spec: registry.SolverSpec, recipe: Recipe, out: Path, resume: bool,
                progress: Callable[[int, int, int], None] | None) -> Path:  # fmt: skip
    from surrogates import io

    parts = out.with_name(out.name + ".parts")
    _prepare_parts(recipe, parts, resume)
    for i, (config, seed) in enumerate(sample_configs(recipe)):
        part = _part_path(parts, i)
        if part.is_file():
            continue
        ds = spec.simulate(config, seed, progress=_bind(progress, i))
        ds.attrs.setdefault("source_format", f"surrogates.solvers.{spec.name}")
        ds.attrs["source"] = recipe.source
        ds.attrs["recipe"] = json.dumps(recipe.to_dict())
        io.to_netcdf(ds, part)
    samples = [_open_part(_part_path(parts, i)) for i in range(recipe.samples)]
    try:
        try:
            ds = xr.concat(samples, dim="sample", data_vars="all", coords="minimal", join="exact")
        except ValueError as err:
            raise DataError(f"{recipe.source}: realisations do not share one grid: {err}") from None
        ds = ds.assign_coords(sample=np.arange(recipe.samples))
        ds.attrs["seed"] = recipe.seed
        _write(spec, ds, out, recipe.format, overwrite=True)  # checked before the run
    finally:
        for s in samples:
            s.close()
    shutil.rmtree(parts)
    return out


def _open_part(path: Path) -> xr.Dataset:
    """A part as simulated: lazily, without the CF metadata that ``io.to_netcdf`` added."""
    from surrogates.io import cf

    ds = cf.decode(xr.open_dataset(path, decode_times=False))
    ds.attrs.pop("history", None)  # the part's own write; the final file gets its line
    return ds


def _bind(progress: Callable[[int, int, int], None] | None, i: int):
    if progress is None:
        return None
    return lambda done, total: progress(i, done, total)


def _write(spec: registry.SolverSpec, ds: xr.Dataset, out: Path, fmt: str, overwrite: bool) -> None:
    from surrogates import io

    if fmt == "netcdf":
        io.to_netcdf(ds, out, overwrite=overwrite)
    elif fmt == "zarr":
        io.to_zarr(ds, out, overwrite=overwrite)
    else:
        assert spec.write is not None, f"solver {spec.name} lists format {fmt} without a writer"
        spec.write(ds, out, fmt)

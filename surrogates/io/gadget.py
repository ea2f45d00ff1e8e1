"""Gadget / AREPO / SWIFT HDF5 particle snapshots: read them onto meshes, write Gadget files.

A snapshot is one file ``name.hdf5`` or ``NumFilesPerSnapshot`` files ``name.0.hdf5``,
``name.1.hdf5``, ... with a ``Header`` group and one ``PartType<k>`` group per particle type.
:func:`open` reads headers and HDF5 metadata only; the gridded fields are dask arrays whose
single task streams the particles file by file when computed (``ds.load()`` once: every
compute re-reads the particles).

Conventions of the returned dataset (all configurable through :func:`open` options):

- ``x, y, z``: cell centres ``(i + 0.5) * L / n`` in comoving **Mpc/h** (``length_unit=
  "native"`` keeps the file's unit).
- ``delta``: mass-assignment density contrast ``rho / mean(rho) - 1`` on the Eulerian mesh.
- ``disp_x|y|z`` (same length unit) and ``vel_x|y|z`` (peculiar km/s) on the Lagrangian
  lattice: particle ``ID - id_offset`` is lattice site ``(i, j, k)`` in C order with
  ``q = (i + lattice_offset) * L / n``; ``disp = minimum_image(x - q)``.

Units: what the file declares wins, wherever it declares it, whatever code wrote it.

- Length unit (cm): ``UnitLength_in_cm`` in Header (GADGET-2/3), Parameters (GADGET-4,
  AREPO) or Units; ``Unit length in cgs (U_L)`` in Units (SWIFT, swiftsimio); the
  Coordinates attributes ``to_cgs`` (GADGET-4) and ``Conversion factor to CGS (not
  including cosmological corrections)`` (SWIFT). Power of h: Coordinates ``h_scaling`` /
  ``h-scale exponent``. Velocity unit: ``UnitVelocity_in_cm_per_s``, ``U_L / U_t``, the
  Velocities ``to_cgs`` / conversion factor. Power of a turning stored velocities into
  peculiar ones: Velocities ``a_scaling`` / ``a-scale exponent`` and SWIFT's ratio of its
  physical to comoving conversion factors (``a^p``).
- Declarations of one quantity that disagree (to 1e-5) raise DataError naming the file and
  both, with one documented exception: swiftsimio's ``Writer`` (12.x) writes ``a-scale
  exponent`` 1 for every a^0 quantity (it reads the exponent off the symbolic ``a**0``,
  which is the number 1), while the same dataset's conversion factors say a^0. SWIFT
  defines Velocities as peculiar (``a dx/dt``, a^0 in its own snapshots) and reads
  initial-condition velocities as peculiar, so for Velocities that exponent is set aside
  and a^0 used; the ``snapshot_velocity_unit`` attribute says so. Coordinates declared
  other than comoving (a^1) raise DataError.
- Only what nothing declares is assumed, per family, and the attributes
  ``snapshot_length_unit`` / ``snapshot_velocity_unit`` say what was assumed: Gadget
  (default) lengths in Mpc/h and ``u = v_pec / sqrt(a)``; SWIFT (``Header/Code`` "SWIFT",
  or SWIFT's attributes without it, as swiftsimio writes) h-free lengths and ``v_pec``.
  The options ``snapshot_length_unit`` and ``velocity_a_exponent`` override the file.
- Positions within one box length outside ``[0, L)`` are wrapped periodically (codes write
  ``x == L`` or tiny negatives); NaN/Inf or farther-out positions (a wrong length unit)
  raise DataError when the fields are computed, as do IDs that are not a lattice.

:func:`write_snapshot` writes the Gadget convention (Mpc/h, ``u = v_pec / sqrt(a)``, uint64
IDs, ``UnitLength_in_cm`` of 1 Mpc and the GADGET-4 ``a_scaling``/``h_scaling`` attributes),
which :func:`open` reads back exactly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import dask
import dask.array as da
import h5py
import numpy as np
import xarray as xr

from surrogates.errors import DataError
from surrogates.io.gadget_header import _MULTI, Snapshot, _h5, read_header
from surrogates.io.gadget_write import write_snapshot
from surrogates.ops.mesh import SCHEMES, minimum_image, paint

__all__ = ["NAME", "Snapshot", "sniff", "open", "group_files", "read_header", "write_snapshot"]

NAME = "gadget"
FIELDS = ("delta", "displacement", "velocity")
_WRAP_TOL = 1.0  # positions in [-tol*L, (1+tol)*L) are wrapped; farther out is an error


@dataclass(frozen=True)
class _Options:
    grid: tuple[int, ...] | None = None
    fields: tuple[str, ...] | None = None
    scheme: str = "cic"
    part_type: int = 1
    id_offset: int | None = None
    lattice_offset: float = 0.5
    length_unit: str = "Mpc/h"


# ----------------------------------------------------------------------------- particles


def _read(path: Path, part_type: int, name: str) -> np.ndarray:
    with _h5(path) as f:
        try:
            return f[f"PartType{part_type}/{name}"][...]
        except (OSError, KeyError) as exc:
            raise DataError(
                f"{path}: cannot read PartType{part_type}/{name} ({exc}); expected a complete"
                " snapshot (a corrupt or truncated chunk?): re-copy it"
            ) from None


def _positions(path: Path, snap: Snapshot) -> np.ndarray:
    """Coordinates (N, 3) as float64, wrapped into the box; NaN/Inf or far-away is an error."""
    pos = _read(path, snap.part_type, "Coordinates").astype(np.float64)
    box = np.asarray(snap.box_size)
    where = f"{path}: PartType{snap.part_type}/Coordinates"
    if not np.isfinite(pos).all():
        bad = int(np.count_nonzero(~np.isfinite(pos).all(axis=1)))
        raise DataError(f"{where}: {bad} particle(s) with NaN/Inf coordinates; expected finite")
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    if np.any(lo < -_WRAP_TOL * box) or np.any(hi >= (1 + _WRAP_TOL) * box):
        raise DataError(
            f"{where}: range {lo.tolist()} .. {hi.tolist()} is far outside the box "
            f"[0, {box.tolist()}) (periodic images beyond one box); wrong length unit?"
        )
    return np.mod(pos, box)


def _delta_field(snap: Snapshot, grid: tuple[int, ...], scheme: str) -> np.ndarray:
    """Density contrast (float32, shape ``grid``), painting one file at a time."""
    rho, total = np.zeros(grid), 0.0
    for path, n in zip(snap.files, snap.counts, strict=True):
        if n == 0:
            continue
        mass = 1.0 if snap.mass > 0 else _read(path, snap.part_type, "Masses").astype(float)
        paint(_positions(path, snap), grid, snap.box_size, mass, scheme, out=rho)
        total += n if snap.mass > 0 else float(np.sum(mass))
    if not total > 0:
        raise DataError(
            f"{snap.files[0]}: PartType{snap.part_type}/Masses sum to {total}; expected"
            " positive particle masses"
        )
    return (rho * (rho.size / total) - 1.0).astype(np.float32)


def _id_offset(snap: Snapshot) -> int:
    low = min(
        int(_read(p, snap.part_type, "ParticleIDs").min())
        for p, n in zip(snap.files, snap.counts, strict=True)
        if n
    )
    if low not in (0, 1):
        raise DataError(
            f"{snap.files[0]}: smallest PartType{snap.part_type}/ParticleIDs is {low}; a "
            "lattice needs IDs starting at 0 or 1 (or pass id_offset)"
        )
    return low


def _lattice_index(path: Path, snap: Snapshot, offset: int, grid: tuple[int, ...]) -> np.ndarray:
    ids = _read(path, snap.part_type, "ParticleIDs")
    idx = ids.astype(np.int64) - offset
    bad = (idx < 0) | (idx >= np.prod(grid))
    if bad.any():
        raise DataError(
            f"{path}: PartType{snap.part_type}/ParticleIDs has {int(bad.sum())} ID(s) outside "
            f"[{offset}, {offset + int(np.prod(grid))}) (e.g. {ids[bad][0]}); expected lattice "
            f"IDs of the grid {grid}"
        )
    return idx


def _lagrangian_fields(
    snap: Snapshot,
    grid: tuple[int, ...],
    fields: tuple[str, ...],
    id_offset: int | None,
    lattice_offset: float,
    length: float,
) -> np.ndarray:
    """Displacement and/or velocity on the Lagrangian lattice, shape (3 * len(fields), *grid)."""
    offset = _id_offset(snap) if id_offset is None else int(id_offset)
    size, box = int(np.prod(grid)), np.asarray(snap.box_size)
    out = np.zeros((3 * len(fields), size), np.float32)
    seen = np.zeros(size, bool)
    for path, n in zip(snap.files, snap.counts, strict=True):
        if n == 0:
            continue
        idx = _lattice_index(path, snap, offset, grid)
        seen[idx] = True
        rows = []
        if "displacement" in fields:
            q = (np.stack(np.unravel_index(idx, grid), axis=1) + lattice_offset) * (box / grid)
            rows.append(minimum_image(_positions(path, snap) - q, box) * length)
        if "velocity" in fields:
            rows.append(_read(path, snap.part_type, "Velocities") * snap.velocity_to_km_s)
        out[:, idx] = np.concatenate(rows, axis=1).T
    if not seen.all():
        missing = np.flatnonzero(~seen)
        raise DataError(
            f"{snap.files[0]}: PartType{snap.part_type}/ParticleIDs are not a lattice of {grid}:"
            f" {missing.size} site(s) have no particle (e.g. ID {missing[0] + offset}) so other"
            " IDs are duplicated; expected each ID exactly once"
        )
    return out.reshape(-1, *grid)


# ----------------------------------------------------------------------------- open


def _checked(opts: _Options) -> _Options:
    """Validate and normalise the options of :func:`open`."""
    grid = opts.grid
    if grid is not None:
        grid = (grid,) * 3 if np.ndim(grid) == 0 else tuple(grid)
        if len(grid) != 3 or not all(isinstance(g, int | np.integer) and g > 0 for g in grid):
            raise DataError(f"gadget: grid={opts.grid!r}; expected a positive int or 3 of them")
    fields = (opts.fields,) if isinstance(opts.fields, str) else opts.fields
    fields = None if fields is None else tuple(fields)
    if fields is not None and (not fields or set(fields) - set(FIELDS)):
        raise DataError(f"gadget: fields={opts.fields!r}; expected a subset of {FIELDS}")
    if opts.scheme not in SCHEMES or opts.length_unit not in ("Mpc/h", "native"):
        raise DataError(
            f"gadget: scheme={opts.scheme!r}, length_unit={opts.length_unit!r}; expected "
            f"scheme in {sorted(SCHEMES)} and length_unit 'Mpc/h' or 'native'"
        )
    if not 0.0 <= opts.lattice_offset < 1.0 or not opts.part_type >= 0:
        raise DataError(
            f"gadget: lattice_offset={opts.lattice_offset}, part_type={opts.part_type}; "
            "expected lattice_offset in [0, 1) and part_type >= 0"
        )
    return replace(opts, grid=grid and tuple(int(g) for g in grid), fields=fields)


def _grid(snap: Snapshot, grid: tuple[int, ...] | None) -> tuple[int, ...]:
    if grid is not None:
        return grid
    n = round(snap.n_total ** (1 / 3))
    for side in (n - 1, n, n + 1):
        if side**3 == snap.n_total:
            return (side,) * 3
    raise DataError(
        f"{snap.files[0]}: {snap.n_total} PartType{snap.part_type} particles is not a perfect "
        "cube, so there is no default mesh; pass grid=n or grid=(nx, ny, nz)"
    )


def _fields(snap: Snapshot, requested: tuple[str, ...] | None, grid: tuple[int, ...]):
    """The fields to build: ``requested`` (checked) or the default, in canonical order."""
    sites = int(np.prod(grid))
    lattice = f"{snap.n_total} particles but the grid {grid} has {sites} sites"
    lattice = "" if snap.n_total == sites else lattice
    needs = {"displacement": {"ParticleIDs"}, "velocity": {"ParticleIDs", "Velocities"}}
    missing = {f: sorted(need - snap.datasets) for f, need in needs.items()}
    why = {f: lattice or (f"no dataset {m}" if m else "") for f, m in missing.items()}
    if requested is None:
        return ("delta", *(f for f in needs if not why[f]))
    if bad := [f for f in needs if f in requested and why[f]]:
        raise DataError(
            f"{snap.files[0]}: field {bad[0]!r} needs PartType{snap.part_type} particles on a "
            f"Lagrangian lattice with IDs (and velocities): {why[bad[0]]}"
        )
    return tuple(f for f in FIELDS if f in requested)


def open(  # noqa: A001 (name fixed by the layout contract of surrogates.io.api)
    path: str | os.PathLike,
    *,
    grid: int | Sequence[int] | None = None,
    fields: str | Sequence[str] | None = None,
    scheme: str = "cic",
    part_type: int = 1,
    id_offset: int | None = None,
    lattice_offset: float = 0.5,
    length_unit: str = "Mpc/h",
    snapshot_length_unit: str | None = None,
    velocity_a_exponent: float | None = None,
) -> xr.Dataset:
    """Open a Gadget/AREPO/SWIFT HDF5 snapshot as a lazy canonical dataset on a mesh.

    Parameters
    ----------
    path : path-like
        Any file of the snapshot (``name.hdf5`` or ``name.<i>.hdf5``); siblings are found
        through ``Header/NumFilesPerSnapshot``.
    grid : int or (nx, ny, nz), optional
        Mesh shape; default the cube root of the particle count when it is a perfect cube.
    fields : str or sequence of {"delta", "displacement", "velocity"}, optional
        Default: "delta", plus the Lagrangian fields when the particle count equals the
        number of grid sites and IDs (and velocities) are stored. Requesting a Lagrangian
        field on a snapshot whose count does not fit raises DataError here; IDs that are
        not a lattice raise DataError when the field is computed.
    scheme : {"cic", "ngp", "tsc"}
        Mass assignment for ``delta``.
    part_type : int
        Particle type, the ``k`` of ``PartType<k>`` (1: dark matter).
    id_offset : int, optional
        ID of lattice site (0, 0, 0); default the smallest ID, which must be 0 or 1.
    lattice_offset : float
        Lagrangian positions ``q = (i + lattice_offset) * L / n``: 0.5 puts them at cell
        centres (our convention), 0.0 at cell corners (codes that use ``i * L / n``).
    length_unit : {"Mpc/h", "native"}
        Unit of coordinates, box size and displacements: comoving Mpc/h, or the file's.
    snapshot_length_unit : {"Mpc/h", "kpc/h", "Mpc", "kpc"}, optional
        Overrides the length unit the file declares (or that is assumed when it has none).
    velocity_a_exponent : float, optional
        Overrides the power of ``a`` that turns stored velocities into peculiar ones.

    Returns
    -------
    xarray.Dataset
        Dask-backed float32 ``delta`` and/or ``disp_*``, ``vel_*`` of shape ``grid`` on dims
        ``(x, y, z)``; 0-d ``Omega_m``, ``Omega_lambda``, ``h`` (when known), ``redshift``.
        Attributes ``snapshot_length_unit`` and ``snapshot_velocity_unit`` say what a stored
        length and velocity are and where each part of that was read (or that it was assumed).
    """
    opts = _checked(
        _Options(grid, fields, scheme, part_type, id_offset, lattice_offset, length_unit)
    )
    snap = read_header(
        path,
        part_type,
        snapshot_length_unit=snapshot_length_unit,
        velocity_a_exponent=velocity_a_exponent,
    )
    grid = _grid(snap, opts.grid)
    fields = _fields(snap, opts.fields, grid)
    length = snap.length_to_mpc_h if opts.length_unit == "Mpc/h" else 1.0
    if not np.isfinite(length):
        raise DataError(
            f"{path}: converting {snap.length_unit} to Mpc/h needs the Hubble "
            "parameter, which the file lacks; pass length_unit='native'"
        )
    return _dataset(snap, grid, fields, opts, length)


def _dataset(snap: Snapshot, grid, fields, opts: _Options, length: float) -> xr.Dataset:
    unit = "Mpc/h" if opts.length_unit == "Mpc/h" else snap.length_unit
    box = np.asarray(snap.box_size) * length
    dims = ("x", "y", "z")
    coords = {
        d: (d, (np.arange(n) + 0.5) * (b / n), {"units": unit})
        for d, n, b in zip(dims, grid, box, strict=True)
    }
    data = {}
    if "delta" in fields:
        task = dask.delayed(_delta_field, pure=True)(snap, grid, opts.scheme)
        data["delta"] = (
            dims,
            da.from_delayed(task, grid, np.float32),
            {"units": "1", "long_name": f"{opts.scheme.upper()} density contrast"},
        )
    lagrangian = tuple(f for f in fields if f != "delta")
    if lagrangian:
        task = dask.delayed(_lagrangian_fields, pure=True)(
            snap, grid, lagrangian, opts.id_offset, opts.lattice_offset, length
        )
        stack = da.from_delayed(task, (3 * len(lagrangian), *grid), np.float32)
        names = {"displacement": ("disp", unit), "velocity": ("vel", "km/s")}
        for i, (f, ax) in enumerate((f, ax) for f in lagrangian for ax in "xyz"):
            prefix, units = names[f]
            data[f"{prefix}_{ax}"] = (dims, stack[i], {"units": units, "grid": "Lagrangian"})
    data |= {k: ((), np.float64(v)) for k, v in snap.cosmology}
    data["redshift"] = ((), np.float64(snap.redshift))
    attrs = {f"boundary_{d}": "periodic" for d in dims} | {
        "source_format": NAME,
        "source": str(snap.files[0]),
        "code": snap.code,
        "box_size": float(box[0]) if np.all(box == box[0]) else box.tolist(),
        "redshift": float(snap.redshift),
        "scale_factor": float(snap.scale_factor),
        "length_unit": unit,
        "snapshot_length_unit": snap.length_unit,
        "snapshot_velocity_unit": snap.velocity_unit,
        "n_particles": snap.n_total,
        "n_files": len(snap.files),
        "part_type": snap.part_type,
    }
    return xr.Dataset(data, coords, attrs)


def sniff(path: str | os.PathLike) -> str | None:
    """None if ``path`` is a Gadget/AREPO/SWIFT HDF5 snapshot, else why not (never raises)."""
    path = Path(path)
    try:
        if not path.is_file() or not h5py.is_hdf5(path):
            return "not an HDF5 file"
        with h5py.File(path, "r") as f:
            if "Header" not in f:
                return "no 'Header' group"
            missing = {"NumPart_ThisFile", "NumPart_Total", "BoxSize"} - set(f["Header"].attrs)
    except OSError as exc:
        return f"unreadable HDF5 file ({exc})"
    return f"'Header' lacks {sorted(missing)}" if missing else None


def _n_files(path: Path) -> int:
    try:
        with h5py.File(path, "r") as f:
            return int(np.asarray(f["Header"].attrs["NumFilesPerSnapshot"]).reshape(-1)[0])
    except (OSError, KeyError, ValueError, TypeError):
        return 1


def group_files(paths: Sequence[str | os.PathLike]) -> list[list[Path]]:
    """Group the files of each multi-file snapshot (``name.<i>.hdf5`` whose header says
    ``NumFilesPerSnapshot > 1``), ordered by file index; other files stand alone."""
    groups: dict = {}
    for p in map(Path, paths):
        m = _MULTI.match(p.name)
        key = (p.parent, m["base"], m["ext"]) if m and _n_files(p) > 1 else p
        groups.setdefault(key, []).append(p)
    order = lambda p: int(m["index"]) if (m := _MULTI.match(p.name)) else 0  # noqa: E731
    return [sorted(g, key=order) for g in groups.values()]

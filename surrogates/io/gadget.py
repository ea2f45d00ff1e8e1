"""Gadget / AREPO / SWIFT HDF5 particle snapshots: read them onto meshes, write Gadget files.

A snapshot is one file ``name.hdf5`` or ``NumFilesPerSnapshot`` files ``name.0.hdf5``,
``name.1.hdf5``, ... with a ``Header`` group and one ``PartType<k>`` group per particle type.
:func:`open` reads headers and HDF5 metadata only; the gridded fields are dask arrays whose
single task streams the particles file by file when computed (``ds.load()`` once: every
compute re-reads the particles).

Conventions of the returned dataset (all configurable through :func:`open` options):

- ``x, y, z``: cell centres ``(i + 0.5) * L / n`` in comoving **Mpc/h** (``length_unit=
  "native"`` keeps the file's unit). The file's length unit comes from ``UnitLength_in_cm``
  (Header, Parameters or Units group: Gadget-2/3/4, AREPO) or ``Unit length in cgs (U_L)``
  (SWIFT), with the ``h`` power of the Coordinates attribute ``h_scaling`` / ``h-scale
  exponent`` (default ``h^-1`` for Gadget, ``h^0`` for SWIFT, whose lengths are in Mpc).
  Files without unit metadata are taken as Mpc/h unless ``snapshot_length_unit`` says so.
- ``delta``: mass-assignment density contrast ``rho / mean(rho) - 1`` on the Eulerian mesh.
- ``disp_x|y|z`` (same length unit) and ``vel_x|y|z`` (peculiar km/s) on the Lagrangian
  lattice: particle ``ID - id_offset`` is lattice site ``(i, j, k)`` in C order with
  ``q = (i + lattice_offset) * L / n``; ``disp = minimum_image(x - q)``.
- Velocities: Gadget and AREPO store ``u = v_pec / sqrt(a)``; SWIFT stores ``v_pec = a dx/dt``.
  The power of ``a`` comes from the Velocities attribute ``a_scaling`` / ``a-scale exponent``,
  else 0.5 (Gadget) or 0 (SWIFT), or the ``velocity_a_exponent`` option.
- Positions within one box length outside ``[0, L)`` are wrapped periodically (codes write
  ``x == L`` or tiny negatives); NaN/Inf or farther-out positions (a wrong length unit)
  raise DataError when the fields are computed, as do IDs that are not a lattice.

:func:`write_snapshot` writes the Gadget convention (Mpc/h, ``u = v_pec / sqrt(a)``, uint64
IDs, ``UnitLength_in_cm`` of 1 Mpc and the GADGET-4 ``a_scaling``/``h_scaling`` attributes),
which :func:`open` reads back exactly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import dask
import dask.array as da
import h5py
import numpy as np
import xarray as xr

from surrogates.errors import DataError
from surrogates.io.gadget_write import KM_S_CM, MPC_CM, write_snapshot
from surrogates.ops.mesh import SCHEMES, minimum_image, paint

__all__ = ["NAME", "Snapshot", "sniff", "open", "group_files", "read_header", "write_snapshot"]

NAME = "gadget"
FIELDS = ("delta", "displacement", "velocity")
_UNITS = {"Mpc/h": (MPC_CM, -1.0), "kpc/h": (MPC_CM / 1e3, -1.0), "Mpc": (MPC_CM, 0.0)}
_UNITS["kpc"] = (MPC_CM / 1e3, 0.0)
_MULTI = re.compile(r"^(?P<base>.+)\.(?P<index>\d+)(?P<ext>\.hdf5|\.h5)$")
_WRAP_TOL = 1.0  # positions in [-tol*L, (1+tol)*L) are wrapped; farther out is an error


@dataclass(frozen=True)
class Snapshot:
    """Header summary of one snapshot (all its files); no particle data.

    Lengths are in the file's unit; ``length_to_mpc_h`` and ``velocity_to_km_s`` convert
    file values to comoving Mpc/h and peculiar km/s (``nan`` when undeterminable).
    """

    files: tuple[Path, ...]
    counts: tuple[int, ...]  # particles of ``part_type`` in each file
    part_type: int
    box_size: tuple[float, float, float]
    mass: float  # MassTable entry; 0 means per-particle ``Masses``
    scale_factor: float
    redshift: float
    cosmology: tuple[tuple[str, float], ...]  # (("Omega_m", .3), ("Omega_lambda", .7), ("h", .7))
    code: str  # "gadget" or "swift"
    length_unit: str  # the file's length unit, in words
    length_to_mpc_h: float
    velocity_to_km_s: float
    datasets: frozenset[str]  # datasets present in every file holding particles

    @property
    def n_total(self) -> int:
        return int(sum(self.counts))


@dataclass(frozen=True)
class _Options:
    grid: tuple[int, ...] | None = None
    fields: tuple[str, ...] | None = None
    scheme: str = "cic"
    part_type: int = 1
    id_offset: int | None = None
    lattice_offset: float = 0.5
    length_unit: str = "Mpc/h"


# ----------------------------------------------------------------------------- headers

# Per code family: where the unit system lives, and the attribute (with its default) giving
# the power of h in Coordinates and the power of a turning stored velocities into peculiar.
_GADGET_GROUPS = ("Header", "Parameters", "Units")
_CONVENTIONS = {
    "gadget": {
        "length": [(g, "UnitLength_in_cm") for g in _GADGET_GROUPS]
        + [("Units", "UnitLength_in_cgs")],
        "velocity": [(g, "UnitVelocity_in_cm_per_s") for g in _GADGET_GROUPS],
        "h_power": ("Coordinates", "h_scaling", -1.0),
        "a_power": ("Velocities", "a_scaling", 0.5),
    },
    "swift": {  # velocity unit: U_L / U_t
        "length": [("Units", "Unit length in cgs (U_L)")],
        "time": [("Units", "Unit time in cgs (U_t)")],
        "h_power": ("Coordinates", "h-scale exponent", 0.0),
        "a_power": ("Velocities", "a-scale exponent", 0.0),
    },
}
_COSMOLOGY = {  # canonical name: (Gadget Header/Parameters name, SWIFT Cosmology name)
    "Omega_m": ("Omega0", "Omega_m"),
    "Omega_lambda": ("OmegaLambda", "Omega_lambda"),
    "h": ("HubbleParam", "h"),
}


def _h5(path: Path) -> h5py.File:
    if not path.is_file():
        raise DataError(f"{path}: file not found (Gadget/AREPO/SWIFT HDF5 snapshot)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc}); expected a snapshot") from None


def _file_meta(path: Path, part_type: int) -> dict:
    """Group attributes, dataset (shape, dtype) under "shapes", Coordinates/Velocities attrs."""
    with _h5(path) as f:
        if "Header" not in f:
            raise DataError(f"{path}: no 'Header' group; expected a Gadget/AREPO/SWIFT snapshot")
        meta = {g: dict(f[g].attrs) for g in (*_GADGET_GROUPS, "Cosmology") if g in f}
        group = f.get(f"PartType{part_type}")
        items = group.items() if isinstance(group, h5py.Group) else ()
        datasets = {k: v for k, v in items if isinstance(v, h5py.Dataset)}
        meta["shapes"] = {k: (v.shape, v.dtype) for k, v in datasets.items()}
        meta |= {
            k: dict(v.attrs) for k, v in datasets.items() if k in ("Coordinates", "Velocities")
        }
    return meta


def _lookup(meta: dict, *keys: tuple[str, str], default: float | None = None) -> float | None:
    """The first attribute ``(group, name)`` present, as a float."""
    for group, name in keys:
        if name in meta.get(group, {}):
            return float(np.asarray(meta[group][name]).reshape(-1)[0])
    return default


def _header(meta: dict, path: Path, name: str, part_type: int | None = None) -> float:
    """Header attribute ``name`` (entry ``part_type`` of a per-type array)."""
    if name not in meta["Header"]:
        raise DataError(
            f"{path}: Header lacks attribute {name!r}; expected a Gadget-format Header"
            " (NumPart_ThisFile, NumPart_Total, BoxSize, Time, MassTable, ...)"
        )
    values = np.asarray(meta["Header"][name]).reshape(-1)
    if part_type is not None and part_type >= values.size:
        raise DataError(f"{path}: Header/{name} has {values.size} types, no type {part_type}")
    return values[part_type or 0].item()


def _check_datasets(meta: dict, path: Path, part_type: int, count: int, mass: float) -> set:
    """Check shapes and dtypes (metadata only); returns the names present."""
    group, found = f"PartType{part_type}", meta["shapes"]
    expect = {"Coordinates": ((count, 3), "f"), "Velocities": ((count, 3), "f")}
    expect |= {"ParticleIDs": ((count,), "iu"), "Masses": ((count,), "f")}
    required = {"Coordinates"} | ({"Masses"} if mass == 0 else set())
    for name, (shape, kinds) in expect.items():  # fixed order: deterministic messages
        if name not in found:
            if name in required:
                raise DataError(f"{path}: missing dataset {group}/{name} ({count} particles)")
            continue
        got, dtype = found[name]
        if got != shape or dtype.kind not in kinds:
            raise DataError(
                f"{path}: {group}/{name} has shape {got} dtype {dtype}, expected shape {shape}"
                f" (NumPart_ThisFile[{part_type}]={count}) of kind {kinds!r}"
            )
    return set(found) & set(expect)


def _siblings(path: Path, n_files: int) -> tuple[Path, ...]:
    if n_files == 1:
        return (path,)
    if (m := _MULTI.match(path.name)) is None:
        raise DataError(
            f"{path}: Header/NumFilesPerSnapshot={n_files} but the name is not of the form "
            "'<name>.<i>.hdf5', so its sibling files cannot be found"
        )
    files = tuple(path.with_name(f"{m['base']}.{i}{m['ext']}") for i in range(n_files + 1))
    for f in files[:-1]:
        if not f.is_file():
            raise DataError(
                f"{f}: missing file {f.name} of snapshot {m['base']} "
                f"(NumFilesPerSnapshot={n_files} in {path.name})"
            )
    if files[-1].exists():
        raise DataError(
            f"{files[-1]}: found, but NumFilesPerSnapshot={n_files} in {path.name} "
            f"expects only files 0..{n_files - 1}"
        )
    return files[:-1]


def _scan(path: Path, meta: dict, part_type: int) -> tuple[tuple[Path, ...], list[int], set]:
    """Files of the snapshot, particles per file, datasets present in all; counts checked."""
    n_files = int(_lookup(meta, ("Header", "NumFilesPerSnapshot"), default=1))
    files, counts = _siblings(path, n_files), []
    mass = _header(meta, path, "MassTable", part_type)
    present = {"Coordinates", "Velocities", "ParticleIDs", "Masses"}
    for f in files:
        m = meta if f == path else _file_meta(f, part_type)
        if (nf := int(_header(m, f, "NumFilesPerSnapshot"))) != n_files:
            raise DataError(f"{f}: Header/NumFilesPerSnapshot={nf}, but {path.name} says {n_files}")
        counts.append(int(_header(m, f, "NumPart_ThisFile", part_type)))
        if counts[-1] > 0:
            present &= _check_datasets(m, f, part_type, counts[-1], mass)
    total = int(_header(meta, path, "NumPart_Total", part_type))
    if "NumPart_Total_HighWord" in meta["Header"]:
        total += int(_header(meta, path, "NumPart_Total_HighWord", part_type)) << 32
    if sum(counts) != total or total == 0:
        raise DataError(
            f"{path}: NumPart_ThisFile[{part_type}] sums to {sum(counts)} over {n_files} file(s)"
            f" but Header/NumPart_Total[{part_type}] (with HighWord) is {total}; expected equal"
            " and positive"
        )
    return files, counts, present


def _epoch(meta: dict, path: Path, code: str) -> tuple[float, float]:
    """(scale factor, redshift); SWIFT's Header/Time is cosmic time, not a."""
    a = _lookup(meta, ("Header", "Scale-factor"), ("Cosmology", "Scale-factor"))
    if a is None and code == "gadget":
        a = _lookup(meta, ("Header", "Time"))
    z = _lookup(meta, ("Header", "Redshift"), ("Cosmology", "Redshift"))
    a = 1.0 / (1.0 + z) if a is None and z is not None else a
    if a is None or not a > 0:
        raise DataError(
            f"{path}: no positive scale factor in Header/Time or 'Scale-factor'; expected"
            " a > 0 (Gadget stores a = 1/(1+z) in Header/Time for cosmological runs)"
        )
    return a, 1.0 / a - 1.0 if z is None else z


def _units(meta: dict, code: str, h: float | None, a: float, length_unit, a_power):
    """(file length -> Mpc/h factor, the file's length unit in words, velocity -> km/s)."""
    rules = _CONVENTIONS[code]
    group, name, default = rules["h_power"]
    unit, h_power = _lookup(meta, *rules["length"]), _lookup(meta, (group, name), default=default)
    if length_unit is not None:
        if length_unit not in _UNITS:
            raise DataError(f"snapshot_length_unit={length_unit!r}; expected one of {list(_UNITS)}")
        unit, h_power = _UNITS[length_unit]
        words = f"{length_unit} (snapshot_length_unit option)"
    elif unit is None:
        unit, h_power, words = MPC_CM, -1.0, "Mpc/h (assumed: the file declares no length unit)"
    else:
        words = f"{unit:.6g} cm h^{h_power:g} (from the file)"
    h_factor = 1.0 if h_power == -1.0 else (h ** (h_power + 1.0) if h else float("nan"))
    if code == "swift":
        length, time = _lookup(meta, *rules["length"]), _lookup(meta, *rules["time"])
        v_unit = length / time if length and time else KM_S_CM
    else:
        v_unit = _lookup(meta, *rules["velocity"], default=KM_S_CM)
    group, name, default = rules["a_power"]
    a_power = _lookup(meta, (group, name), default=default) if a_power is None else a_power
    return unit / MPC_CM * h_factor, words, v_unit / KM_S_CM * a ** float(a_power)


def read_header(
    path: str | os.PathLike,
    part_type: int = 1,
    *,
    snapshot_length_unit: str | None = None,
    velocity_a_exponent: float | None = None,
) -> Snapshot:
    """Read and cross-check the headers of all files of the snapshot that ``path`` belongs to.

    Reads attributes and dataset metadata only; the options are those of :func:`open`.
    Raises DataError for a missing or non-HDF5 file, a missing sibling, a missing Header or
    ``PartType<k>/Coordinates``, or particle counts that disagree between headers and datasets.
    """
    path = Path(path)
    meta = _file_meta(path, part_type)
    files, counts, present = _scan(path, meta, part_type)
    code = (
        "swift" if np.asarray(meta["Header"].get("Code", "")).astype(str) == "SWIFT" else "gadget"
    )
    a, z = _epoch(meta, path, code)
    cosmo = {
        k: _lookup(meta, ("Header", g), ("Parameters", g), ("Cosmology", s))
        for k, (g, s) in _COSMOLOGY.items()
    }
    to_mpc_h, words, to_km_s = _units(
        meta, code, cosmo["h"], a, snapshot_length_unit, velocity_a_exponent
    )
    box = np.broadcast_to(np.asarray(meta["Header"].get("BoxSize", 0), float).reshape(-1), (3,))
    if not np.all(box > 0):
        raise DataError(f"{path}: Header/BoxSize is {box.tolist()}; expected > 0")
    return Snapshot(
        files=files,
        counts=tuple(counts),
        part_type=part_type,
        box_size=tuple(box.tolist()),
        mass=_header(meta, path, "MassTable", part_type),
        scale_factor=a,
        redshift=z,
        cosmology=tuple((k, v) for k, v in cosmo.items() if v is not None),
        code=code,
        length_unit=words,
        length_to_mpc_h=to_mpc_h,
        velocity_to_km_s=to_km_s,
        datasets=frozenset(present),
    )


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

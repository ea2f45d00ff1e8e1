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
    velocity_unit: str = ""  # what a stored velocity is, in words (and where that was read)

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

_GADGET_GROUPS = ("Header", "Parameters", "Units")
_COSMOLOGY = {  # canonical name: (Gadget Header/Parameters name, SWIFT Cosmology name)
    "Omega_m": ("Omega0", "Omega_m"),
    "Omega_lambda": ("OmegaLambda", "Omega_lambda"),
    "h": ("HubbleParam", "h"),
}

# Every place a unit can be declared, whatever the code family: GADGET-2/3 (Header), AREPO
# and GADGET-4 (Parameters, per-dataset ``to_cgs``/``a_scaling``/``h_scaling``), SWIFT and
# swiftsimio (``Units`` group and per-dataset conversion factors and exponents). All that a
# file declares must agree; the family only supplies the defaults for what it leaves out.
_CGS = "Conversion factor to CGS (not including cosmological corrections)"
_PHYSICAL_CGS = "Conversion factor to physical CGS (including cosmological corrections)"
_LENGTH_KEYS = [(g, "UnitLength_in_cm") for g in _GADGET_GROUPS] + [
    ("Units", "UnitLength_in_cgs"),
    ("Units", "Unit length in cgs (U_L)"),
    ("Coordinates", "to_cgs"),
    ("Coordinates", _CGS),
]
_VELOCITY_KEYS = [(g, "UnitVelocity_in_cm_per_s") for g in _GADGET_GROUPS] + [
    ("Units", "UnitVelocity_in_cgs"),
    ("Velocities", "to_cgs"),
    ("Velocities", _CGS),
]
_SWIFT_MARKERS = [("Units", "Unit length in cgs (U_L)"), ("Header", "Scale-factor")] + [
    (d, k) for d in ("Coordinates", "Velocities") for k in ("a-scale exponent", _CGS)
]
# Defaults when a file declares nothing: the power of h in lengths and the power of a that
# turns the stored velocity into the peculiar one, each with the convention it comes from.
_DEFAULTS = {
    "gadget": {
        "h": (-1.0, "Gadget convention: lengths in units/h"),
        "a": (0.5, "Gadget convention: Velocities u = v_pec / sqrt(a)"),
    },
    "swift": {
        "h": (0.0, "SWIFT convention: h-free lengths"),
        "a": (0.0, "SWIFT convention: Velocities v_pec = a dx/dt"),
    },
}
_RTOL = 1e-5  # declarations of one quantity agree to this (codes' "Mpc" differ by ~1e-7)


@dataclass(frozen=True)
class _Declared:
    """A value and where it came from (``where`` is 'Group/attribute', or why assumed)."""

    value: float
    where: str
    assumed: bool = False


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


def _code(meta: dict) -> str:
    """'swift' for SWIFT snapshots (``Header/Code``) and for files in SWIFT's format that
    lack it (swiftsimio's Writer: a SWIFT ``Units`` group, SWIFT dataset attributes)."""
    code = np.asarray(meta["Header"].get("Code", "")).astype(str).reshape(-1)
    marked = any(name in meta.get(group, {}) for group, name in _SWIFT_MARKERS)
    return "swift" if marked or (code.size and code[0] == "SWIFT") else "gadget"


def _declared(meta: dict, keys: list[tuple[str, str]]) -> list[_Declared]:
    return [_Declared(_lookup(meta, (g, k)), f"{g}/{k}") for g, k in keys if k in meta.get(g, {})]


def _agreed(path: Path, what: str, found: list[_Declared], close, option: str | None):
    """The first of ``found`` once every other agrees with it (``close``), else DataError."""
    for other in found[1:]:
        if not close(found[0].value, other.value):
            choose = f" (or pass {option} to choose)" if option else ""
            raise DataError(
                f"{path}: conflicting {what}: {found[0].where} = {found[0].value:.9g} but "
                f"{other.where} = {other.value:.9g}; expected the file's declarations to "
                f"agree{choose}"
            )
    return found[0] if found else None


def _said(d: _Declared) -> str:
    return d.where if d.assumed else f"from {d.where}"


def _length(meta: dict, path: Path, code: str, override: str | None):
    """(cm per file length unit, power of h of lengths, the unit in words)."""
    if override is not None:
        if override not in _UNITS:
            raise DataError(f"snapshot_length_unit={override!r}; expected one of {list(_UNITS)}")
        return (*_UNITS[override], f"{override} (snapshot_length_unit option)")
    option, relative = "snapshot_length_unit", lambda x, y: np.isclose(x, y, rtol=_RTOL, atol=0)
    unit = _agreed(path, "length unit (cm)", _declared(meta, _LENGTH_KEYS), relative, option)
    keys = [("Coordinates", "h_scaling"), ("Coordinates", "h-scale exponent")]
    h_power = _agreed(path, "power of h of Coordinates", _declared(meta, keys), np.isclose, option)
    if unit is not None and not (np.isfinite(unit.value) and unit.value > 0):
        raise DataError(f"{path}: {unit.where} = {unit.value}; expected a positive unit in cm")
    default, convention = _DEFAULTS[code]["h"]
    if unit is None and h_power is None:
        name = "Mpc/h" if default == -1.0 else "Mpc"
        return MPC_CM, default, f"{name} (assumed: the file declares no length unit; {convention})"
    unit = unit or _Declared(MPC_CM, "assumed 1 Mpc: the file declares no length unit", True)
    h_power = h_power or _Declared(default, f"assumed ({convention}): none declared", True)
    words = (
        f"{unit.value:.6g} cm h^{h_power.value:g} (unit {_said(unit)}; h power {_said(h_power)})"
    )
    return unit.value, h_power.value, words


def _a_power(meta: dict, path: Path, dataset: str, a: float, option: str | None):
    """Declared power ``p`` of ``a`` that turns stored ``dataset`` values into physical ones.

    Declarations: GADGET-4 ``a_scaling``, SWIFT ``a-scale exponent`` and, where a != 1, the
    ratio of SWIFT's two conversion factors (physical / comoving = a^p). swiftsimio's Writer
    writes ``a-scale exponent`` 1 for every quantity whose factor is a^0 (its exponent is read
    off the symbolic ``a**0``, which is the number 1) while its factors say a^0: for
    Velocities, which SWIFT defines as peculiar (a^0) and reads from initial conditions as
    such, that exponent is set aside and the factors' a^0 is used (said in the words).
    """
    found = _declared(meta, [(dataset, "a_scaling"), (dataset, "a-scale exponent")])
    attrs = meta.get(dataset, {})
    if a != 1.0 and _CGS in attrs and _PHYSICAL_CGS in attrs:
        ratio = _lookup(meta, (dataset, _PHYSICAL_CGS)) / _lookup(meta, (dataset, _CGS))
        if np.isfinite(ratio) and ratio > 0:
            pair = _Declared(float(np.log(ratio) / np.log(a)), f"{dataset}/{_PHYSICAL_CGS}")
            swift = [d for d in found if d.where.endswith("a-scale exponent")]
            if (
                dataset == "Velocities"
                and swift
                and swift[0].value == 1.0
                and abs(pair.value) < 1e-9
            ):
                found.remove(swift[0])
                note = "; its 'a-scale exponent' 1 is what swiftsimio's Writer writes for a^0"
                pair = replace(pair, value=0.0, where=pair.where + note)
            found.append(pair)
    close = lambda x, y: np.isclose(a**x, a**y, rtol=1e-6, atol=0)  # noqa: E731
    return _agreed(path, f"power of a of {dataset}", found, close, option)


def _velocity(meta: dict, path: Path, code: str, a: float, a_power: float | None):
    """(stored velocity -> peculiar km/s factor, in words)."""
    found = _declared(meta, _VELOCITY_KEYS)
    units = meta.get("Units", {})
    if "Unit length in cgs (U_L)" in units and "Unit time in cgs (U_t)" in units:
        length = _lookup(meta, ("Units", "Unit length in cgs (U_L)"))
        time = _lookup(meta, ("Units", "Unit time in cgs (U_t)"))
        found.append(_Declared(length / time, "Units/U_L over U_t"))
    relative = lambda x, y: np.isclose(x, y, rtol=_RTOL, atol=0)  # noqa: E731
    unit = _agreed(path, "velocity unit (cm/s)", found, relative, None)
    unit = unit or _Declared(KM_S_CM, "assumed 1 km/s: the file declares no velocity unit", True)
    if a_power is not None:
        power = _Declared(float(a_power), "the velocity_a_exponent option")
    else:
        default, convention = _DEFAULTS[code]["a"]
        power = _a_power(meta, path, "Velocities", a, "velocity_a_exponent") or _Declared(
            default, f"assumed ({convention}): none declared", True
        )
    words = (
        f"{unit.value:.6g} cm/s x a^{power.value:g} = peculiar velocity (unit {_said(unit)};"
        f" a power {_said(power)})"
    )
    return unit.value / KM_S_CM * a**power.value, words


def _comoving(meta: dict, path: Path, a: float) -> None:
    """Coordinates must be comoving: a declared power of a other than 1 is an error."""
    power = _a_power(meta, path, "Coordinates", a, None)
    if power is not None and not np.isclose(a**power.value, a, rtol=1e-6, atol=0):
        raise DataError(
            f"{path}: {power.where} = {power.value:g}, i.e. physical positions are Coordinates"
            f" x a^{power.value:g}; expected comoving Coordinates (physical = Coordinates x a^1)"
        )


def _units(meta: dict, path: Path, code: str, h: float | None, a: float, length_unit, a_power):
    """(file length -> Mpc/h, length unit in words, velocity -> peculiar km/s, in words)."""
    unit, h_power, words = _length(meta, path, code, length_unit)
    _comoving(meta, path, a)
    h_factor = 1.0 if h_power == -1.0 else (h ** (h_power + 1.0) if h else float("nan"))
    to_km_s, velocity_words = _velocity(meta, path, code, a, a_power)
    return unit / MPC_CM * h_factor, words, to_km_s, velocity_words


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
    code = _code(meta)
    a, z = _epoch(meta, path, code)
    cosmo = {
        k: _lookup(meta, ("Header", g), ("Parameters", g), ("Cosmology", s))
        for k, (g, s) in _COSMOLOGY.items()
    }
    to_mpc_h, words, to_km_s, velocity_words = _units(
        meta, path, code, cosmo["h"], a, snapshot_length_unit, velocity_a_exponent
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
        velocity_unit=velocity_words,
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

"""Gadget / AREPO / SWIFT snapshot headers: one summary of all files, units from every declaration.

Read by :func:`read_header` (no particle data): box, particle counts, scale factor,
cosmology, and the conversion of stored lengths and velocities to comoving Mpc/h and
peculiar km/s, from every place a file declares units (``Header``, ``Parameters``,
``Units``, per-dataset attributes); conflicting declarations are errors and assumptions
are stated (see :mod:`surrogates.io.gadget`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from surrogates.errors import DataError
from surrogates.io.gadget_write import KM_S_CM, MPC_CM

_MULTI = re.compile(r"^(?P<base>.+)\.(?P<index>\d+)(?P<ext>\.hdf5|\.h5)$")
_UNITS = {"Mpc/h": (MPC_CM, -1.0), "kpc/h": (MPC_CM / 1e3, -1.0), "Mpc": (MPC_CM, 0.0)}
_UNITS["kpc"] = (MPC_CM / 1e3, 0.0)


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

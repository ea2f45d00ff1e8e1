"""Write dark-matter particles as a Gadget-format HDF5 snapshot (one or several files).

The convention is the one :mod:`surrogates.io.gadget` reads back exactly: comoving Mpc/h,
``u = v_pec / sqrt(a)``, uint64 IDs, ``UnitLength_in_cm`` of 1 Mpc and the GADGET-4
``a_scaling``/``h_scaling`` attributes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np

from surrogates.errors import DataError

__all__ = ["write_snapshot", "MPC_CM", "KM_S_CM"]

MPC_CM = 3.085678e24  # Gadget's Mpc in cm
KM_S_CM = 1.0e5


def _writer_arrays(positions, velocities, ids, box_size: float):
    pos, vel, ids = np.asarray(positions), np.asarray(velocities), np.asarray(ids)
    n = pos.shape[0] if pos.ndim == 2 else -1
    if pos.shape != (n, 3) or vel.shape != (n, 3) or ids.shape != (n,) or n < 1:
        raise DataError(
            f"write_snapshot: positions {pos.shape}, velocities {vel.shape}, ids "
            f"{ids.shape}; expected (N, 3), (N, 3), (N,) with N >= 1"
        )
    if ids.dtype.kind not in "iu" or ids.min() < 0:
        raise DataError(
            f"write_snapshot: ids of dtype {ids.dtype} (min {ids.min()}); expected "
            "non-negative integers"
        )
    if np.ndim(box_size) != 0 or not box_size > 0:
        raise DataError(f"write_snapshot: box_size={box_size!r}; expected one positive number")
    dtype = pos.dtype if pos.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    wrapped = np.mod(pos.astype(np.float64), box_size).astype(dtype)
    wrapped[wrapped >= box_size] = 0.0  # float32 rounding of values just below L
    return wrapped, vel.astype(dtype), ids.astype(np.uint64)


def _write_file(path: Path, header: dict, pos: np.ndarray, vel: np.ndarray, ids: np.ndarray):
    with h5py.File(path, "w") as f:
        f.create_group("Header").attrs.update(header)
        f["Header"].attrs["NumPart_ThisFile"] = np.array([0, ids.size, 0, 0, 0, 0], np.uint64)
        group = f.create_group("PartType1")
        coords = group.create_dataset("Coordinates", data=pos)
        coords.attrs.update({"a_scaling": 1.0, "h_scaling": -1.0, "to_cgs": MPC_CM})
        v = group.create_dataset("Velocities", data=vel)
        v.attrs.update({"a_scaling": 0.5, "h_scaling": 0.0, "to_cgs": KM_S_CM})
        group.create_dataset("ParticleIDs", data=ids)


def _gadget_header(n: int, n_files: int, mass: float, double: bool) -> dict:
    """Particle counts, mass table, units and flags shared by all files of a snapshot."""
    total = np.array([0, n, 0, 0, 0, 0], np.uint64)
    flags = ("Sfr", "Cooling", "StellarAge", "Metals", "Feedback", "Entropy_ICs")
    return {
        "NumPart_Total": (total & 0xFFFFFFFF).astype(np.uint32),
        "NumPart_Total_HighWord": (total >> 32).astype(np.uint32),
        "MassTable": np.array([0.0, mass, 0, 0, 0, 0]),
        "NumFilesPerSnapshot": n_files,
        "Flag_DoublePrecision": int(double),
        "UnitLength_in_cm": MPC_CM,
        "UnitVelocity_in_cm_per_s": KM_S_CM,
        "UnitMass_in_g": 1.989e43,  # 1e10 Msun
    } | {f"Flag_{k}": 0 for k in flags}


def write_snapshot(
    path: str | os.PathLike,
    positions: np.ndarray,
    velocities: np.ndarray,
    ids: np.ndarray,
    *,
    box_size: float,
    mass: float,
    time: float,
    redshift: float,
    omega0: float,
    omega_lambda: float,
    hubble_param: float,
    n_files: int = 1,
) -> list[Path]:
    """Write dark-matter particles (``PartType1``) as a Gadget HDF5 snapshot.

    Parameters
    ----------
    path : path-like
        Snapshot name; a trailing ``.hdf5`` is dropped. One file ``name.hdf5`` or, for
        ``n_files > 1``, ``name.0.hdf5`` ... (stale higher-numbered siblings are removed).
    positions : ndarray, shape (N, 3)
        Comoving positions in Mpc/h (wrapped into ``[0, box_size)``; dtype kept if float).
    velocities : ndarray, shape (N, 3)
        Peculiar velocities in km/s; stored as Gadget's ``u = v / sqrt(a)`` with ``a = time``.
    ids : ndarray, shape (N,)
        Non-negative integer IDs, stored as uint64.
    box_size, mass, time, redshift, omega0, omega_lambda, hubble_param
        Header ``BoxSize`` (Mpc/h), ``MassTable[1]`` (1e10 Msun/h), ``Time`` (scale factor),
        ``Redshift``, ``Omega0``, ``OmegaLambda``, ``HubbleParam``.
    n_files : int
        Number of files; particles are split in order into near-equal parts.

    Returns
    -------
    list of Path
        The files written, each atomically (temporary file, then rename).
    """
    pos, vel, ids = _writer_arrays(positions, velocities, ids, box_size)
    if not time > 0 or int(n_files) != n_files or n_files < 1:
        raise DataError(f"write_snapshot: time={time}, n_files={n_files}; expected > 0, >= 1")
    header = _gadget_header(ids.size, int(n_files), mass, pos.dtype == np.float64)
    numbers = {"BoxSize": box_size, "Time": time, "Redshift": redshift, "Omega0": omega0}
    numbers |= {"OmegaLambda": omega_lambda, "HubbleParam": hubble_param}
    header |= {key: float(value) for key, value in numbers.items()}
    base = Path(path)
    base = base.with_suffix("") if base.suffix == ".hdf5" else base
    names = [f"{base.name}.{i}.hdf5" for i in range(n_files)] if n_files > 1 else [base.name]
    paths = [base.with_name(name if n_files > 1 else f"{name}.hdf5") for name in names]
    edges = np.linspace(0, ids.size, n_files + 1).round().astype(int)
    temps = [p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in paths]
    try:
        for tmp, lo, hi in zip(temps, edges[:-1], edges[1:], strict=True):
            _write_file(tmp, header, pos[lo:hi], vel[lo:hi] / math.sqrt(time), ids[lo:hi])
        for tmp, p in zip(temps, paths, strict=True):
            os.replace(tmp, p)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    stale = int(n_files)
    while n_files > 1 and (extra := base.with_name(f"{base.name}.{stale}.hdf5")).exists():
        extra.unlink()
        stale += 1
    return paths

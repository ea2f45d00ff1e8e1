"""Write the snapshot fixtures of other people's software, once: the committed files in this
folder come from this script, so the tests need neither swiftsimio nor pynbody.

Run from the repository root, in an environment with the peers installed (they are not
dependencies of the package; versions used: swiftsimio 12.4.0, pynbody 2.8.0, unyt 3.2.0)::

    python -m venv /tmp/peers && /tmp/peers/bin/pip install swiftsimio pynbody h5py numpy
    /tmp/peers/bin/python tests/data/make_peer_snapshots.py

Every file holds the same 4^3 particles of a comoving box of 128 Mpc/h at a = 0.5 (h = 0.7),
in a shuffled order, each code writing them in its own units from the values below, which
``peer_snapshots.npz`` keeps in ID order (ID - 1 is the lattice site, C order, of the
Lagrangian position q = (i + 1/2) L / n):

- ``swiftsimio_ic.hdf5``: swiftsimio's ``Writer`` with its ``cosmo_units`` (Mpc, km/s,
  1e10 Msun), h-free lengths as SWIFT wants them; no ``Header/Code`` (as the Writer
  leaves it); the cosmology in ``extra_header`` (Gadget names), since the Writer has no
  other place for it.
- ``swiftsimio_swift_kpc.hdf5``: the same Writer in a kpc / Msun / Gyr unit system (so
  the velocity unit is kpc/Gyr), with ``Code = "SWIFT"`` in ``extra_header``.
- ``pynbody_gadget2.hdf5``: a GADGET-2 style HDF5 file (units kpc/h and km/s in the Header,
  no per-dataset attributes) whose ``Coordinates`` and ``Velocities`` pynbody wrote from
  comoving Mpc/h and peculiar km/s, converting them with its own reading of the GADGET-2
  convention (positions a h^-1, velocities a^1/2). pynbody cannot create a GADGET HDF5 file,
  only write arrays into one, so the header and the IDs are written here with h5py first.
  pynbody names its ``vel`` array ``Velocity`` when it writes a GADGET HDF5 file; the
  ``Velocity`` alias is removed from its name map (its configuration), so it writes
  ``Velocities`` as GADGET does.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
N = 4  # particles per side
L = 128.0  # Mpc/h
H = L / N
A = 0.5
HUBBLE = 0.7
COSMOLOGY = {"HubbleParam": HUBBLE, "Omega0": 0.3, "OmegaLambda": 0.7}
KPC_CM = 3.085678e21  # GADGET's kpc


def planted(seed: int = 27):
    """Displacements psi (Mpc/h) and peculiar velocities (km/s) in ID order, and a shuffle.

    psi_x, psi_y are plane-wave flows that push the edge layers through x = 0 and y = L;
    psi_z is noise of up to 0.45 cells (a 4^3 lattice leaves little room before the
    minimum image of x - q stops being psi).
    """
    rng = np.random.default_rng(seed)
    axes = (np.arange(N) + 0.5) * H
    q = np.stack([g.reshape(-1) for g in np.meshgrid(axes, axes, axes, indexing="ij")], axis=1)
    psi = np.stack(
        [
            -0.4 * H * np.cos(2 * np.pi * q[:, 0] / L),
            0.4 * H * np.cos(2 * np.pi * q[:, 1] / L),
            rng.uniform(-0.45 * H, 0.45 * H, len(q)),
        ],
        axis=1,
    )
    return q, psi, rng.normal(0.0, 300.0, q.shape), rng.permutation(len(q))


def swiftsimio_file(path: Path, q, psi, vel, order, kpc: bool) -> None:
    import unyt as u
    from swiftsimio import Writer, cosmo_array
    from swiftsimio.metadata.writer.unit_systems import cosmo_units

    system = u.UnitSystem("kpc_msun_gyr", "kpc", "Msun", "Gyr") if kpc else cosmo_units
    header = dict(COSMOLOGY) | ({"Code": "SWIFT"} if kpc else {})
    box = cosmo_array([L / HUBBLE] * 3, u.Mpc, comoving=True, scale_factor=A, scale_exponent=1)
    w = Writer(unit_system=system, boxsize=box, scale_factor=A, extra_header=header, compress=False)
    x = np.mod(q + psi, L)[order] / HUBBLE  # h-free comoving Mpc
    w.dark_matter.coordinates = x * u.Mpc * w.a.comoving  # as swiftsimio's documentation does
    w.dark_matter.velocities = vel[order] * u.km / u.s * w.a.comoving**0
    w.dark_matter.masses = np.ones(len(x)) * 1e10 * u.Msun * w.a.comoving**0
    w.dark_matter.particle_ids = order + 1
    w.write(str(path))


def pynbody_file(path: Path, q, psi, vel, order) -> None:
    import pynbody

    n = len(order)
    with h5py.File(path, "w") as f:
        f.create_group("Header").attrs.update(
            {
                "NumPart_ThisFile": np.array([0, n, 0, 0, 0, 0], np.uint32),
                "NumPart_Total": np.array([0, n, 0, 0, 0, 0], np.uint32),
                "NumPart_Total_HighWord": np.zeros(6, np.uint32),
                "MassTable": np.array([0, 1.0, 0, 0, 0, 0]),
                "BoxSize": L * 1e3,
                "Time": A,
                "Redshift": 1 / A - 1,
                "NumFilesPerSnapshot": 1,
                "Flag_DoublePrecision": 1,
                "UnitLength_in_cm": KPC_CM,
                "UnitVelocity_in_cm_per_s": 1e5,
                "UnitMass_in_g": 1.989e43,
            }
            | COSMOLOGY
        )
        group = f.create_group("PartType1")
        group["Coordinates"] = np.zeros((n, 3))
        group["Velocities"] = np.zeros((n, 3))
        group["ParticleIDs"] = (order + 1).astype(np.uint64)
    pynbody.config_parser.remove_option("gadgethdf-name-mapping", "Velocity")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "unable to find cosmological factors": GADGET-2
        snap = pynbody.load(str(path))
        for name, values, unit in (
            ("pos", np.mod(q + psi, L)[order], "Mpc a h**-1"),
            ("vel", vel[order], "km s**-1"),
        ):
            given = pynbody.array.SimArray(values, unit)
            given.sim = snap  # for its a and h
            snap[name][:] = given.in_units(snap[name].units)
            snap[name].write(overwrite=True)


def main() -> None:
    q, psi, vel, order = planted()
    swiftsimio_file(HERE / "swiftsimio_ic.hdf5", q, psi, vel, order, kpc=False)
    swiftsimio_file(HERE / "swiftsimio_swift_kpc.hdf5", q, psi, vel, order, kpc=True)
    pynbody_file(HERE / "pynbody_gadget2.hdf5", q, psi, vel, order)
    np.savez(
        HERE / "peer_snapshots.npz", n=N, box_size=L, scale_factor=A, h=HUBBLE, psi=psi, vel=vel
    )
    for name in ("swiftsimio_ic", "swiftsimio_swift_kpc", "pynbody_gadget2"):
        print(f"{name}.hdf5: {(HERE / f'{name}.hdf5').stat().st_size} bytes")


if __name__ == "__main__":
    main()

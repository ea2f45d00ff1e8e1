"""Gadget / AREPO / SWIFT HDF5 snapshots: reading onto meshes, the Gadget writer, errors."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import dask.array as da
import h5py
import numpy as np
import pytest

from surrogates.errors import DataError
from surrogates.io import gadget, gadget_header
from surrogates.ops.mesh import lattice

N = 8  # particles per side
L = 64.0  # Mpc/h; L / N = 8 is a power of two, so lattice positions are exact in float32
H = L / N
A = 0.5  # scale factor
COSMO = dict(time=A, redshift=1 / A - 1, omega0=0.3, omega_lambda=0.7, hubble_param=0.7)
MPC_CM = 3.085678e24


def planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lagrangian positions q, a Zel'dovich-like displacement and velocities in ID order.

    psi_x = -1.5 H cos(2 pi q_x / L) is the gradient flow of a plane wave; it moves the first
    layer below x = 0 (it must come back through the periodic boundary); psi_y does the same
    through y = L; psi_z is seeded noise of up to 1.2 cells, crossing both faces.
    """
    rng = np.random.default_rng(seed)
    q = lattice(N, L)
    psi = np.stack(
        [
            -1.5 * H * np.cos(2 * np.pi * q[:, 0] / L),
            1.5 * H * np.cos(2 * np.pi * q[:, 1] / L),
            rng.uniform(-1.2 * H, 1.2 * H, len(q)),
        ],
        axis=1,
    )
    return q, psi, rng.normal(0.0, 300.0, q.shape)


@pytest.fixture
def two_files(tmp_path):
    """A two-file snapshot of the planted particles, stored in a shuffled order, IDs 1..N^3."""
    q, psi, vel = planted()
    order = np.random.default_rng(1).permutation(len(q))
    pos = (q + psi).astype(np.float32)
    paths = gadget.write_snapshot(
        tmp_path / "snap_005",
        pos[order],
        vel[order],
        order + 1,
        box_size=L,
        mass=0.7,
        n_files=2,
        **COSMO,
    )
    return paths, q, psi, vel


def raw_snapshot(path, pos, ids=None, vel=None, header=(), drop=(), n_files=1, total=None):
    """A one-file snapshot written with raw h5py, to build broken files."""
    n = len(pos)
    head = {
        "NumPart_ThisFile": np.array([0, n, 0, 0, 0, 0], np.uint32),
        "NumPart_Total": np.array([0, n if total is None else total, 0, 0, 0, 0], np.uint32),
        "NumPart_Total_HighWord": np.zeros(6, np.uint32),
        "MassTable": np.array([0, 1.0, 0, 0, 0, 0]),
        "BoxSize": L,
        "Time": A,
        "Redshift": 1 / A - 1,
        "NumFilesPerSnapshot": n_files,
        "Omega0": 0.3,
        "OmegaLambda": 0.7,
        "HubbleParam": 0.7,
    } | dict(header)
    data = {"Coordinates": pos, "ParticleIDs": np.arange(n) if ids is None else ids}
    data["Velocities"] = np.zeros((n, 3)) if vel is None else vel
    with h5py.File(path, "w") as f:
        if "Header" not in drop:
            f.create_group("Header").attrs.update(head)
        group = f.create_group("PartType1")
        for name, value in data.items():
            if name not in drop:
                group.create_dataset(name, data=value)
    return path


# ----------------------------------------------------------------------------- physics


def test_two_file_displacement_is_recovered_across_the_periodic_boundary(two_files):
    paths, q, psi, _ = two_files
    assert [p.name for p in paths] == ["snap_005.0.hdf5", "snap_005.1.hdf5"]
    x = q + psi
    crossed = np.any((x < 0) | (x >= L), axis=1)
    assert crossed.sum() > 64  # the test exercises the minimum image
    ds = gadget.open(paths[0])
    assert {"delta", "disp_x", "disp_y", "disp_z", "vel_x", "vel_y", "vel_z"} <= set(ds)
    got = np.stack([ds[f"disp_{a}"].values.reshape(-1) for a in "xyz"], axis=1)
    # Reference: the planted displacement. Positions were stored as float32 near L = 64,
    # where half an ulp is 2**-18 ~ 4e-6 Mpc/h; the result is float32 as well.
    np.testing.assert_allclose(got, psi, rtol=0, atol=1e-5)
    assert ds.disp_x.attrs["units"] == "Mpc/h"
    np.testing.assert_array_equal(ds.x.values, (np.arange(N) + 0.5) * H)


def test_velocities_round_trip_through_the_sqrt_a_convention(two_files):
    paths, _, _, vel = two_files
    ids, stored = [], []
    for p in paths:
        with h5py.File(p) as f:
            ids.append(f["PartType1/ParticleIDs"][...])
            stored.append(f["PartType1/Velocities"][...])
    # Gadget stores u = v_pec / sqrt(a) (GADGET-4 manual, "Snapshot file format"), here in
    # float32 like the positions: two float32 roundings (cast, divide) of 2**-24 each.
    expected = vel[np.concatenate(ids) - 1] / np.sqrt(A)
    np.testing.assert_allclose(np.concatenate(stored), expected, rtol=2.5e-7)
    ds = gadget.open(paths[1], fields="velocity")  # any file of the snapshot opens it all
    assert set(ds.data_vars) == {
        "vel_x",
        "vel_y",
        "vel_z",
        "Omega_m",
        "Omega_lambda",
        "h",
        "redshift",
    }
    got = np.stack([ds[f"vel_{a}"].values.reshape(-1) for a in "xyz"], axis=1)
    np.testing.assert_allclose(got, vel, rtol=1e-6, atol=1e-4)  # float32 storage
    assert ds.vel_x.attrs["units"] == "km/s"


def test_header_becomes_attributes_and_parameters(two_files):
    ds = gadget.open(two_files[0][0])
    assert ds.attrs["box_size"] == L and ds.attrs["scale_factor"] == A
    assert ds.attrs["redshift"] == pytest.approx(1.0) and float(ds.redshift) == pytest.approx(1)
    assert {ds.attrs[f"boundary_{a}"] for a in "xyz"} == {"periodic"}
    assert ds.attrs["source_format"] == "gadget" and ds.attrs["n_files"] == 2
    assert ds.attrs["source"].endswith("snap_005.0.hdf5")
    assert (float(ds.Omega_m), float(ds.Omega_lambda), float(ds.h)) == (0.3, 0.7, 0.7)


def test_uniform_lattice_has_zero_delta_and_zero_displacement(tmp_path):
    q = lattice(N, L)
    paths = gadget.write_snapshot(
        tmp_path / "ic", q, np.zeros_like(q), np.arange(len(q)), box_size=L, mass=1.0, **COSMO
    )
    ds = gadget.open(paths[0]).compute()
    # Every particle sits on a cell centre, so CIC puts its whole mass there: exactly 1 per
    # cell, delta == 0 and x - q == 0 without round-off (dyadic L / N).
    assert np.array_equal(ds.delta.values, np.zeros((N, N, N), np.float32))
    assert all(np.array_equal(ds[f"disp_{a}"].values, np.zeros((N,) * 3)) for a in "xyz")


@pytest.mark.parametrize("scheme", ["cic", "tsc"])
def test_delta_conserves_mass(two_files, scheme):
    ds = gadget.open(two_files[0][0], fields=["delta"], scheme=scheme)
    assert list(ds.data_vars) == ["delta", "Omega_m", "Omega_lambda", "h", "redshift"]
    delta = ds.delta.values.astype(np.float64)
    # The mean is the header's mass over the volume: mean(1 + delta) = 1 to float32 round-off.
    assert abs(np.mean(1 + delta) - 1) < 1e-6
    assert delta.std() > 0.1 and delta.min() >= -1 - 1e-6


def test_ngp_delta_equals_particle_counts(two_files):
    paths, q, psi, _ = two_files
    ds = gadget.open(paths[0], fields="delta", scheme="ngp", grid=4)
    # Independent reference: NGP density is the count in each cell over the mean count.
    x = np.mod((q + psi).astype(np.float32).astype(np.float64), L)
    counts, _ = np.histogramdd(x, bins=4, range=[(0, L)] * 3)
    np.testing.assert_allclose(ds.delta.values, counts / (len(x) / 64) - 1, atol=1e-6)


def test_per_particle_masses_when_the_mass_table_is_zero(tmp_path):
    q, psi, _ = planted()
    x = np.mod(q + psi, L)
    masses = np.random.default_rng(2).uniform(0.5, 2.0, len(x))
    path = raw_snapshot(tmp_path / "m.hdf5", x, header={"MassTable": np.zeros(6)})
    with h5py.File(path, "a") as f:
        f["PartType1/Masses"] = masses
    ds = gadget.open(path, fields="delta", scheme="ngp", grid=4)
    # Reference: the mass-weighted histogram over its mean.
    rho, _ = np.histogramdd(x, bins=4, range=[(0, L)] * 3, weights=masses)
    np.testing.assert_allclose(ds.delta.values, rho / rho.mean() - 1, atol=1e-6)


def test_swift_snapshot_units_and_peculiar_velocities(tmp_path):
    h = 0.5
    q, psi, vel = planted()
    path = tmp_path / "swift.hdf5"
    # SWIFT: lengths in Mpc (no h), BoxSize per axis, Scale-factor, Cosmology and Units
    # groups, and Velocities already peculiar (a dx/dt), not divided by sqrt(a).
    raw_snapshot(
        path,
        np.mod(q + psi, L) / h,
        ids=np.arange(N**3),
        vel=vel,
        header={"Code": "SWIFT", "BoxSize": np.full(3, L / h), "Time": 3.0, "Scale-factor": A},
        drop=(),
    )
    with h5py.File(path, "a") as f:
        for name in ("Omega0", "OmegaLambda", "HubbleParam"):
            del f["Header"].attrs[name]
        f.create_group("Cosmology").attrs.update({"Omega_m": 0.25, "Omega_lambda": 0.75, "h": h})
        f.create_group("Units").attrs.update(
            {"Unit length in cgs (U_L)": MPC_CM, "Unit time in cgs (U_t)": MPC_CM / 1e5}
        )
    ds = gadget.open(path)
    assert ds.attrs["code"] == "swift" and ds.attrs["box_size"] == pytest.approx(L)
    assert float(ds.h) == h and float(ds.Omega_m) == 0.25 and ds.attrs["scale_factor"] == A
    np.testing.assert_allclose(ds.x.values, (np.arange(N) + 0.5) * H)
    got = np.stack([ds[f"disp_{a}"].values.reshape(-1) for a in "xyz"], axis=1)
    np.testing.assert_allclose(got, psi, atol=1e-5)
    np.testing.assert_allclose(ds.vel_x.values.reshape(-1), vel[:, 0], rtol=1e-6, atol=1e-4)
    with h5py.File(path, "a") as f:
        del f["Cosmology"].attrs["h"]
    with pytest.raises(DataError, match="swift.hdf5: converting .* needs the Hubble parameter"):
        gadget.open(path)
    assert gadget.open(path, length_unit="native").attrs["box_size"] == pytest.approx(L / h)


def test_gadget4_kpc_per_h_file_converts_to_mpc_per_h(tmp_path):
    q, psi, vel = planted()
    path = tmp_path / "g4.hdf5"
    # GADGET-4 keeps the cosmology and the unit system in the Parameters group.
    raw_snapshot(
        path,
        np.mod(q + psi, L) * 1e3,
        ids=np.arange(1, N**3 + 1),
        vel=vel,
        header={"BoxSize": L * 1e3},
    )
    with h5py.File(path, "a") as f:
        for name in ("Omega0", "OmegaLambda", "HubbleParam"):
            del f["Header"].attrs[name]
        f.create_group("Parameters").attrs.update(
            {"UnitLength_in_cm": MPC_CM / 1e3, "HubbleParam": 0.6, "Omega0": 0.31}
        )
    ds = gadget.open(path, fields=["displacement", "velocity"])
    assert ds.attrs["box_size"] == pytest.approx(L) and float(ds.h) == 0.6
    got = np.stack([ds[f"disp_{a}"].values.reshape(-1) for a in "xyz"], axis=1)
    np.testing.assert_allclose(got, psi, atol=1e-5)
    np.testing.assert_allclose(ds.vel_y.values.reshape(-1), vel[:, 1] * np.sqrt(A), rtol=1e-6)
    native = gadget.open(path, fields="displacement", length_unit="native")
    assert native.attrs["box_size"] == pytest.approx(L * 1e3)
    np.testing.assert_allclose(native.disp_z.values.reshape(-1), psi[:, 2] * 1e3, atol=1e-2)


def test_unit_and_velocity_overrides_for_files_without_metadata(tmp_path):
    q, psi, vel = planted()
    path = raw_snapshot(
        tmp_path / "bare.hdf5", np.mod(q + psi, L) * 1e3, vel=vel, header={"BoxSize": L * 1e3}
    )
    ds = gadget.open(path, snapshot_length_unit="kpc/h", velocity_a_exponent=0.0)
    assert ds.attrs["box_size"] == pytest.approx(L)
    np.testing.assert_allclose(ds.disp_x.values.reshape(-1), psi[:, 0], atol=1e-5)
    np.testing.assert_allclose(ds.vel_z.values.reshape(-1), vel[:, 2], rtol=1e-6)
    assumed = gadget.open(path, fields="delta")  # no unit metadata: taken as Mpc/h
    assert assumed.attrs["box_size"] == L * 1e3
    assert "assumed" in assumed.attrs["snapshot_length_unit"]


def test_lattice_offset_zero_for_corner_lattices(tmp_path):
    q = lattice(N, L) - H / 2  # i * L / n, the convention of some IC codes
    path = raw_snapshot(tmp_path / "c.hdf5", np.mod(q + 1.0, L))
    ds = gadget.open(path, fields="displacement", lattice_offset=0.0)
    np.testing.assert_allclose(ds.disp_y.values, 1.0, atol=1e-12)


# ----------------------------------------------------------------------------- peers

PEERS = Path(__file__).parent / "data"  # made once by tests/data/make_peer_snapshots.py


@pytest.fixture(scope="module")
def planted_by_peers():
    """What make_peer_snapshots.py gave each peer to write (ID order = lattice order)."""
    with np.load(PEERS / "peer_snapshots.npz") as f:
        return {k: f[k] for k in f.files}


def copied(tmp_path, name):
    """A writable copy of a committed peer file, to break it."""
    target = tmp_path / name
    shutil.copyfile(PEERS / name, target)
    return target


@pytest.mark.parametrize(
    ("name", "code", "unit_from", "velocity_from", "atol"),
    [
        # swiftsimio Writer, no Header/Code: SWIFT's Units group and h-scale exponent 0.
        # Reference: the planted values; unyt's Mpc (3.08567758e24 cm) is GADGET's
        # (3.085678e24) to 1.4e-7, so positions of up to 128 Mpc/h agree to ~2e-5.
        ("swiftsimio_ic.hdf5", "swift", "Units/Unit length in cgs (U_L)", "physical CGS", 3e-5),
        # the same Writer in kpc / Msun / Gyr (velocity unit kpc/Gyr), Code = "SWIFT".
        ("swiftsimio_swift_kpc.hdf5", "swift", "Units/Unit length in cgs (U_L)", "physical", 3e-5),
        # pynbody's arrays in a GADGET-2 file declaring kpc/h in its Header only.
        ("pynbody_gadget2.hdf5", "gadget", "Header/UnitLength_in_cm", "assumed", 3e-5),
    ],
)
def test_peer_files_read_back_what_the_peer_was_given(
    planted_by_peers, name, code, unit_from, velocity_from, atol
):
    truth = planted_by_peers
    n, box = int(truth["n"]), float(truth["box_size"])
    ds = gadget.open(PEERS / name).compute()
    assert ds.attrs["code"] == code and ds.sizes == {"x": n, "y": n, "z": n}
    assert ds.attrs["box_size"] == pytest.approx(box, rel=1e-6)  # 128 Mpc/h, not 128 / h
    assert ds.attrs["scale_factor"] == pytest.approx(float(truth["scale_factor"]))
    np.testing.assert_allclose(ds.x.values, (np.arange(n) + 0.5) * box / n, rtol=1e-6)
    disp = np.stack([ds[f"disp_{a}"].values.reshape(-1) for a in "xyz"], axis=1)
    np.testing.assert_allclose(disp, truth["psi"], rtol=0, atol=atol)
    vel = np.stack([ds[f"vel_{a}"].values.reshape(-1) for a in "xyz"], axis=1)
    # float32 result of float64 files: 2**-24 relative, plus the unit round-off (1e-7).
    np.testing.assert_allclose(vel, truth["vel"], rtol=3e-7, atol=1e-4)
    assert ds.vel_x.attrs["units"] == "km/s" and ds.disp_x.attrs["units"] == "Mpc/h"
    line = ds.attrs["snapshot_length_unit"]
    assert f"unit from {unit_from}" in line
    assert velocity_from in ds.attrs["snapshot_velocity_unit"]
    if code == "swift":  # everything is declared: nothing may be called assumed
        assert "h^0" in line and "assumed" not in line
        assert "assumed" not in ds.attrs["snapshot_velocity_unit"]
    else:  # GADGET-2 declares no h power nor velocity a power: both said to be assumed
        assert "h^-1" in line and "h power assumed (Gadget convention" in line
        assert "a^0.5" in ds.attrs["snapshot_velocity_unit"]


def test_swiftsimio_native_units_and_the_writers_a_exponent(planted_by_peers):
    h = float(planted_by_peers["h"])
    native = gadget.open(PEERS / "swiftsimio_swift_kpc.hdf5", fields="delta", length_unit="native")
    # SWIFT wants h-free lengths: 128 Mpc/h is 128 / 0.7 Mpc = 182857 kpc (unyt's kpc).
    assert native.attrs["box_size"] == pytest.approx(128e3 / h * 3.08567758e21 / 3.085678e21)
    with h5py.File(PEERS / "swiftsimio_ic.hdf5") as f:  # what the test below relies on
        attrs = f["PartType1/Velocities"].attrs
        assert attrs["a-scale exponent"][0] == 1.0
        assert attrs[gadget_header._PHYSICAL_CGS][0] == attrs[gadget_header._CGS][0]  # a^0
    words = gadget.read_header(PEERS / "swiftsimio_ic.hdf5").velocity_unit
    assert "'a-scale exponent' 1 is what swiftsimio's Writer writes for a^0" in words


def test_conflicting_unit_declarations_are_errors(tmp_path):
    path = copied(tmp_path, "swiftsimio_ic.hdf5")
    with h5py.File(path, "a") as f:
        f["Header"].attrs["UnitLength_in_cm"] = MPC_CM / 1e3  # kpc, against the Units group
    with pytest.raises(
        DataError,
        match=r"swiftsimio_ic.hdf5: conflicting length unit \(cm\): Header/UnitLength_in_cm"
        r" = 3.085678e\+21 but Units/Unit length in cgs \(U_L\) = 3.08567758e\+24; expected",
    ):
        gadget.open(path)
    # an explicit option is no assumption: it wins over the file
    ds = gadget.open(path, snapshot_length_unit="Mpc", length_unit="native", fields="delta")
    assert ds.attrs["snapshot_length_unit"] == "Mpc (snapshot_length_unit option)"
    with h5py.File(path, "a") as f:
        del f["Header"].attrs["UnitLength_in_cm"]
        f["PartType1/Coordinates"].attrs["h_scaling"] = -1.0  # against h-scale exponent 0
    with pytest.raises(DataError, match=r"conflicting power of h of Coordinates: .*h_scaling = -1"):
        gadget.open(path)
    with h5py.File(path, "a") as f:
        del f["PartType1/Coordinates"].attrs["h_scaling"]
        f["PartType1/Velocities"].attrs["to_cgs"] = 1.0  # cm/s, against U_L / U_t = km/s
    with pytest.raises(DataError, match=r"conflicting velocity unit \(cm/s\): Velocities/to_cgs"):
        gadget.open(path)


def test_conflicting_velocity_a_powers_are_errors_unless_chosen(tmp_path):
    path = copied(tmp_path, "swiftsimio_ic.hdf5")
    with h5py.File(path, "a") as f:
        v = f["PartType1/Velocities"].attrs
        v[gadget_header._PHYSICAL_CGS] = v[gadget_header._CGS] * np.sqrt(A)  # a^0.5, exponent 1
    with pytest.raises(
        DataError,
        match=r"conflicting power of a of Velocities: Velocities/a-scale exponent = 1 but "
        r"Velocities/Conversion factor to physical CGS .* = 0.5; expected .*velocity_a_exponent",
    ):
        gadget.open(path)
    ds = gadget.open(path, fields="velocity", velocity_a_exponent=0.0)
    assert "a power from the velocity_a_exponent option" in ds.attrs["snapshot_velocity_unit"]
    with h5py.File(path, "a") as f:
        v = f["PartType1/Velocities"].attrs
        v[gadget_header._PHYSICAL_CGS] = v[gadget_header._CGS]
        v["a_scaling"] = 0.5  # a GADGET-4 attribute against the factors' a^0
    with pytest.raises(DataError, match=r"Velocities/a_scaling = 0.5 but .*physical CGS"):
        gadget.open(path)


def test_physical_coordinates_are_refused(tmp_path):
    path = copied(tmp_path, "swiftsimio_ic.hdf5")
    with h5py.File(path, "a") as f:
        c = f["PartType1/Coordinates"].attrs
        c["a-scale exponent"], c[gadget_header._PHYSICAL_CGS] = [0.0], c[gadget_header._CGS]
    with pytest.raises(DataError, match=r"a-scale exponent = 0, .*expected comoving Coordinates"):
        gadget.open(path)


def test_our_writer_declares_everything(two_files):
    snap = gadget.read_header(two_files[0][0])
    assert snap.length_unit == (
        "3.08568e+24 cm h^-1 (unit from Header/UnitLength_in_cm; h power from"
        " Coordinates/h_scaling)"
    )
    assert (
        "a^0.5 = peculiar" in snap.velocity_unit
        and "from Velocities/a_scaling" in snap.velocity_unit
    )
    assert "assumed" not in snap.velocity_unit


# ----------------------------------------------------------------------------- files


def test_group_files_pairs_multi_file_snapshots(tmp_path):
    q, _, vel = planted()
    ids = np.arange(len(q))
    for name, n_files in (("snap_000", 2), ("snap_001", 11), ("run.0", 1)):
        gadget.write_snapshot(
            tmp_path / name, q, vel, ids, box_size=L, mass=1.0, n_files=n_files, **COSMO
        )
    groups = gadget.group_files(sorted(tmp_path.glob("*.hdf5")))
    names = sorted([p.name for p in g] for g in groups)
    assert names[0] == ["run.0.hdf5"]  # a one-file snapshot that merely looks numbered
    assert names[1] == ["snap_000.0.hdf5", "snap_000.1.hdf5"]
    assert [p.name for p in groups[[len(g) for g in groups].index(11)]] == [
        f"snap_001.{i}.hdf5" for i in range(11)
    ]  # numeric, not lexicographic order
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporaries


def test_open_dataset_globs_two_snapshots_of_two_files_into_two_samples(tmp_path):
    from surrogates.io.api import open_dataset

    q, psi, vel = planted()
    for i in range(2):
        gadget.write_snapshot(
            tmp_path / f"snap_{i:03d}",
            q + (i + 1) * psi,
            vel,
            np.arange(len(q)),
            box_size=L,
            mass=1.0,
            n_files=2,
            **COSMO,
        )
    ds = open_dataset(str(tmp_path / "snap_*.hdf5"), fields=["displacement"])
    assert ds.sizes == {"sample": 2, "x": N, "y": N, "z": N}
    for i in range(2):  # minimum image of (i + 1) * psi, which stays below L / 2
        np.testing.assert_allclose(ds.disp_x.values[i].reshape(-1), (i + 1) * psi[:, 0], atol=2e-5)


def test_read_header_and_writer_header(two_files):
    paths = two_files[0]
    snap = gadget.read_header(paths[1])
    assert snap.files == tuple(paths) and snap.counts == (256, 256) and snap.n_total == 512
    assert snap.box_size == (L, L, L) and snap.mass == 0.7 and snap.code == "gadget"
    with h5py.File(paths[1]) as f:
        head = f["Header"].attrs
        assert head["NumPart_ThisFile"][1] == 256 and head["NumPart_Total"][1] == 512
        assert head["NumPart_Total_HighWord"][1] == 0 and head["NumFilesPerSnapshot"] == 2
        assert head["MassTable"][1] == 0.7 and head["Time"] == A and head["BoxSize"] == L
        assert f["PartType1/ParticleIDs"].dtype == np.uint64
        assert f["PartType1/Coordinates"].dtype == f["PartType1/Velocities"].dtype == np.float32


def test_opening_reads_no_particle_data(two_files, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a dataset was read while opening")

    with monkeypatch.context() as patch:
        patch.setattr(h5py.Dataset, "__getitem__", forbidden)
        patch.setattr(h5py.Dataset, "read_direct", forbidden)
        ds = gadget.open(two_files[0][0])
        assert all(isinstance(ds[v].data, da.Array) for v in ds.data_vars if ds[v].ndim == 3)
        with pytest.raises(AssertionError, match="was read"):
            ds.delta.compute()
    clone = pickle.loads(pickle.dumps(ds))  # no open handles are captured
    np.testing.assert_allclose(clone.disp_x.values.reshape(-1), two_files[2][:, 0], atol=1e-5)


def test_huge_declared_snapshot_opens_instantly(tmp_path):
    n = 1024**3  # 12 GiB of float32 coordinates declared, none written
    path = tmp_path / "huge.hdf5"
    with h5py.File(path, "w") as f:
        f.create_group("Header").attrs.update(
            {
                "NumPart_ThisFile": [0, n, 0, 0, 0, 0],
                "NumPart_Total": [0, n, 0, 0, 0, 0],
                "MassTable": [0, 1.0, 0, 0, 0, 0],
                "BoxSize": 1000.0,
                "Time": 1.0,
                "NumFilesPerSnapshot": 1,
            }
        )
        for name, shape, dtype in (("Coordinates", (n, 3), "f4"), ("ParticleIDs", (n,), "u8")):
            f.create_dataset(f"PartType1/{name}", shape=shape, dtype=dtype)
    assert path.stat().st_size < 1_000_000
    ds = gadget.open(path)
    assert ds.delta.shape == (1024,) * 3 and set(ds) >= {"delta", "disp_x"}
    assert "vel_x" not in ds  # no Velocities dataset


# ----------------------------------------------------------------------------- errors


def test_sniff_accepts_snapshots_and_explains_others(two_files, tmp_path):
    assert gadget.sniff(two_files[0][0]) is None
    (tmp_path / "notes.txt").write_text("hello")
    assert "not an HDF5" in gadget.sniff(tmp_path / "notes.txt")
    assert "not an HDF5" in gadget.sniff(tmp_path / "absent.hdf5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["tensor"] = np.zeros(3)
    assert "no 'Header'" in gadget.sniff(tmp_path / "other.h5")


def test_missing_and_non_hdf5_files(two_files, tmp_path):
    with pytest.raises(DataError, match="absent.hdf5: file not found"):
        gadget.open(tmp_path / "absent.hdf5")
    (tmp_path / "text.hdf5").write_text("not hdf5")
    with pytest.raises(DataError, match="text.hdf5: not a readable HDF5 file"):
        gadget.open(tmp_path / "text.hdf5")
    two_files[0][1].unlink()
    with pytest.raises(DataError, match=r"missing file snap_005.1.hdf5 .*NumFilesPerSnapshot=2"):
        gadget.open(two_files[0][0])


def test_file_count_disagreements(two_files):
    paths = two_files[0]
    with h5py.File(paths[1], "a") as f:
        f["Header"].attrs["NumFilesPerSnapshot"] = 3
    with pytest.raises(DataError, match=r"snap_005.1.hdf5: Header/NumFilesPerSnapshot=3, but"):
        gadget.open(paths[0])
    with h5py.File(paths[1], "a") as f:
        f["Header"].attrs["NumFilesPerSnapshot"] = 2
    raw_snapshot(paths[0].with_name("snap_005.2.hdf5"), np.zeros((1, 3)), n_files=2)
    with pytest.raises(DataError, match=r"snap_005.2.hdf5: found, but NumFilesPerSnapshot=2"):
        gadget.open(paths[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(drop=("Header",)), "no 'Header' group"),
        (dict(drop=("Coordinates",)), "missing dataset PartType1/Coordinates"),
        (
            dict(header={"NumPart_ThisFile": [0, 500, 0, 0, 0, 0]}),
            r"PartType1/Coordinates has shape \(512, 3\).*expected shape \(500, 3\)",
        ),
        (dict(total=520), r"sums to 512 over 1 file\(s\) but Header/NumPart_Total\[1\].* is 520"),
        (dict(header={"NumPart_Total_HighWord": [0, 1, 0, 0, 0, 0]}), r"is 4294967808"),
        (dict(coords=2), r"PartType1/Coordinates has shape \(512, 2\).*expected shape \(512, 3\)"),
        (dict(header={"MassTable": np.zeros(6)}), "missing dataset PartType1/Masses"),
    ],
)
def test_header_and_dataset_errors(tmp_path, kwargs, match):
    pos = lattice(N, L)[:, : kwargs.pop("coords", 3)]
    path = raw_snapshot(tmp_path / "bad.hdf5", pos, **kwargs)
    with pytest.raises(DataError, match=match) as info:
        gadget.open(path)
    assert "bad.hdf5" in str(info.value)


def test_positions_wrap_within_one_box_and_fail_when_not_finite_or_far(tmp_path):
    pos = lattice(N, L)
    pos[0] = [-1e-6, L, 2 * L - 1]  # periodic images: wrapped silently
    ds = gadget.open(raw_snapshot(tmp_path / "edge.hdf5", pos), fields="delta")
    assert abs(ds.delta.values.astype(float).mean()) < 1e-6
    pos[1, 2] = np.nan
    ds = gadget.open(raw_snapshot(tmp_path / "nan.hdf5", pos), fields="delta")
    with pytest.raises(DataError, match=r"nan.hdf5: PartType1/Coordinates: 1 particle\(s\)"):
        ds.delta.compute()
    ds = gadget.open(raw_snapshot(tmp_path / "kpc.hdf5", lattice(N, L) * 1e3), fields="delta")
    with pytest.raises(DataError, match="far outside the box .*wrong length unit"):
        ds.delta.compute()


def test_non_lattice_ids(tmp_path):
    pos = lattice(N, L)
    ids = np.arange(N**3)
    ids[5] = 7  # duplicate, so ID 5 is missing
    ds = gadget.open(raw_snapshot(tmp_path / "dup.hdf5", pos, ids=ids), fields="displacement")
    with pytest.raises(DataError, match=r"not a lattice of \(8, 8, 8\): 1 site.*e.g. ID 5"):
        ds.disp_x.compute()
    ds = gadget.open(raw_snapshot(tmp_path / "big.hdf5", pos, ids=ids * 2), fields="velocity")
    with pytest.raises(DataError, match=r"ParticleIDs has 256 ID\(s\) outside \[0, 512\)"):
        ds.vel_x.compute()
    ds = gadget.open(raw_snapshot(tmp_path / "off.hdf5", pos, ids=ids + 5), fields="velocity")
    with pytest.raises(DataError, match="smallest PartType1/ParticleIDs is 5"):
        ds.vel_x.compute()
    few = raw_snapshot(tmp_path / "few.hdf5", pos[:500])
    with pytest.raises(DataError, match="500 PartType1 particles is not a perfect cube"):
        gadget.open(few)
    assert set(gadget.open(few, grid=8)) == {"delta", "Omega_m", "Omega_lambda", "h", "redshift"}
    with pytest.raises(DataError, match=r"'displacement' needs .*500 particles but the grid"):
        gadget.open(few, grid=8, fields=["delta", "displacement"])


def test_bad_options_and_writer_arguments(two_files, tmp_path):
    path = two_files[0][0]
    with pytest.raises(
        DataError, match=r"lattice_offset=1.0, .*expected lattice_offset in \[0, 1\)"
    ):
        gadget.open(path, lattice_offset=1.0)
    with pytest.raises(DataError, match="snapshot_length_unit='pc'; expected one of"):
        gadget.open(path, snapshot_length_unit="pc")
    with pytest.raises(DataError, match="fields=.*expected a subset"):
        gadget.open(path, fields=["density"])
    with pytest.raises(DataError, match="grid=.*expected a positive int"):
        gadget.open(path, grid=(8, 8))
    with pytest.raises(DataError, match="scheme='pcs'"):
        gadget.open(path, scheme="pcs")
    with pytest.raises(DataError, match=r"positions \(4, 2\).*expected \(N, 3\)"):
        gadget.write_snapshot(
            tmp_path / "w",
            np.zeros((4, 2)),
            np.zeros((4, 3)),
            np.arange(4),
            box_size=L,
            mass=1.0,
            **COSMO,
        )

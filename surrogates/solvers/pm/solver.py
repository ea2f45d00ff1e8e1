"""The ``pm`` reference solver: one FastPM-style particle-mesh realisation as a canonical
dataset, registered for dataset recipes (``solver = "pm"``), with a Gadget-HDF5 writer.

Output of :func:`simulate` (no ``sample`` dimension; float32 unless ``dtype = "float64"``):

- ``x, y, z``: cell centres ``(i + 0.5) * L / n`` in Mpc/h. For the particle variables they
  are the Lagrangian positions ``q`` of the ``n^3`` lattice (particle ID = ``i n^2 + j n + k``);
  for ``delta`` they are the centres of the Eulerian ``n^3`` mesh (the same numbers).
- ``disp_za_x|y|z``: Zel'dovich displacement ``D(a_final) Ψ1`` (Mpc/h).
- ``disp_2lpt_x|y|z``: ``D(a_final) Ψ1 + D2(a_final) Ψ2`` (Mpc/h).
- ``disp_x|y|z``: PM displacement ``x - q`` wrapped to ``[-L/2, L/2)`` (Mpc/h).
- ``vel_x|y|z``: PM peculiar velocity ``a dx/dt`` (km/s).
- ``delta``: CIC density contrast of the PM particles on the ``n^3`` mesh.
- 0-d float64 ``Omega_m, Omega_b, h, n_s, sigma8, seed``; attributes listed in :func:`simulate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from surrogates.errors import DataError, ModelError
from surrogates.ops import mesh
from surrogates.ops.constants import RHO_CRIT
from surrogates.solvers.pm import ic
from surrogates.solvers.pm.cosmology import Background
from surrogates.solvers.pm.linear import LinearPower, eisenstein_hu_power, read_power_table
from surrogates.solvers.pm.nbody import ForceMesh, leapfrog, time_stages
from surrogates.solvers.registry import Footprint, SolverSpec, register

__all__ = ["Config", "run", "simulate", "write", "linear_power", "lpt_fields"]

_MAX_MESH = 2048  # force-mesh side beyond which one box needs > 100 GB


@dataclass(frozen=True)
class Config:
    """Parameters of one particle-mesh run (the keys of a recipe's ``[params]``).

    Attributes
    ----------
    n : int
        Particles per side (``n^3`` in all); also the side of the output grids.
    box_size : float
        Comoving box side in Mpc/h.
    a_start, a_final : float
        Scale factors of the 2LPT initial conditions and of the output.
    steps : int
        Kick-drift-kick steps, linear in ``a`` between ``a_start`` and ``a_final``.
    mesh_factor : int
        Force mesh of ``mesh_factor * n`` cells per side.
    Omega_m, Omega_b, h, n_s, sigma8 : float
        Flat ΛCDM parameters (``Omega_Lambda = 1 - Omega_m``) and the normalisation.
    power_table : str
        Path of a two-column table ``k`` [h/Mpc], ``P`` [(Mpc/h)^3] whose shape replaces
        the Eisenstein & Hu no-wiggle spectrum (still normalised to ``sigma8``); "" for EH.
    dtype : str
        "float32" or "float64" for the output variables (the computation is float64).
    """

    n: int = 32
    box_size: float = 128.0
    a_start: float = 0.1
    a_final: float = 1.0
    steps: int = 10
    mesh_factor: int = 2
    Omega_m: float = 0.3
    Omega_b: float = 0.049
    h: float = 0.7
    n_s: float = 0.96
    sigma8: float = 0.8
    power_table: str = ""
    dtype: str = "float32"

    def __post_init__(self) -> None:
        checks = [
            (isinstance(self.n, int) and self.n >= 2, "n must be an integer >= 2"),
            (self.box_size > 0, "box_size must be > 0 (Mpc/h)"),
            (0 < self.a_start < self.a_final <= 4.0, "need 0 < a_start < a_final <= 4"),
            (isinstance(self.steps, int) and self.steps >= 1, "steps must be an integer >= 1"),
            (isinstance(self.mesh_factor, int) and self.mesh_factor >= 1,
             "mesh_factor must be an integer >= 1"),
            (self.n * self.mesh_factor <= _MAX_MESH,
             f"force mesh n * mesh_factor must be <= {_MAX_MESH} cells per side"),
            (0 < self.Omega_b < self.Omega_m <= 1, "need 0 < Omega_b < Omega_m <= 1"),
            (self.h > 0 and self.sigma8 > 0, "h and sigma8 must be > 0"),
            (self.dtype in ("float32", "float64"), "dtype must be 'float32' or 'float64'"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ModelError(f"pm config: {message}; got {self._summary()}")

    def _summary(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in asdict(self).items())

    @property
    def particle_spacing(self) -> float:
        """Lattice spacing ``L / n`` in Mpc/h."""
        return self.box_size / self.n


def linear_power(config: Config) -> LinearPower:
    """The z = 0 linear power spectrum of ``config``, normalised to its ``sigma8``."""
    if config.power_table:
        return read_power_table(config.power_table).normalised(config.sigma8)
    return eisenstein_hu_power(config.Omega_m, config.Omega_b, config.h, config.n_s, config.sigma8)


def lpt_fields(config: Config, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first- and second-order Lagrangian displacement fields of one realisation.

    Parameters
    ----------
    config : Config
    noise : ndarray, shape (n, n, n)
        Unit white noise (:func:`.ic.white_noise`).

    Returns
    -------
    psi1, psi2 : ndarray, shape (3, n, n, n), float64
        ``Ψ1`` (Zel'dovich) and ``Ψ2`` at ``D = D2 = 1`` on the particle lattice (Mpc/h);
        the 2LPT displacement at ``a`` is ``D(a) Ψ1 + D2(a) Ψ2``.
    """
    shape, box = (config.n,) * 3, config.box_size
    delta_k = ic.linear_field_k(noise, box, linear_power(config))
    return ic.zeldovich(delta_k, shape, box), ic.second_order(delta_k, shape, box)


def run(
    config: Config, noise: np.ndarray, progress: Callable[[int, int], None] | None = None
) -> dict[str, np.ndarray]:
    """Evolve one realisation given its white noise; the numerics behind :func:`simulate`.

    Parameters
    ----------
    config : Config
    noise : ndarray, shape (n, n, n)
        Unit white noise (:func:`.ic.white_noise`); it fixes the phases of the field.
    progress : callable, optional
        ``progress(done, total)`` after each step.

    Returns
    -------
    dict of str to ndarray, float64
        ``disp_za``, ``disp_2lpt``, ``disp`` (Mpc/h), ``vel`` (km/s), each shape (n^3, 3)
        in particle-ID order, and ``delta`` of shape (n, n, n).
    """
    n, box = config.n, config.box_size
    if noise.shape != (n, n, n):
        raise ModelError(f"pm run: noise has shape {noise.shape}, expected {(n, n, n)}")
    shape = (n, n, n)
    psi1, psi2 = (psi.reshape(3, -1).T for psi in lpt_fields(config, noise))  # (N, 3), ID order
    bg = Background(config.Omega_m)
    a0, af = config.a_start, config.a_final
    q = mesh.lattice(n, box)
    x = q + bg.D(a0) * psi1 + bg.D2(a0) * psi2
    p = a0**3 * bg.E(a0) * (bg.dD_da(a0) * psi1 + bg.dD2_da(a0) * psi2)
    force = ForceMesh((n * config.mesh_factor,) * 3, box, config.Omega_m)
    leapfrog(x, p, bg, force.accelerations, time_stages(a0, af, config.steps), progress)
    return {
        "disp_za": bg.D(af) * psi1,
        "disp_2lpt": bg.D(af) * psi1 + bg.D2(af) * psi2,
        "disp": mesh.minimum_image(x - q, box),
        "vel": 100.0 * p / af,
        "delta": mesh.paint(x, shape, box) - 1.0,  # one particle per cell on average
    }


def simulate(
    config: Config, seed: int, progress: Callable[[int, int], None] | None = None
) -> xr.Dataset:
    """Run one realisation: 2LPT initial conditions at ``a_start``, FastPM to ``a_final``.

    Parameters
    ----------
    config : Config
    seed : int
        Seed of the white noise (non-negative); the same seed gives the same phases for
        every cosmology.
    progress : callable, optional
        ``progress(done, total)`` after each of the ``config.steps`` steps.

    Returns
    -------
    xarray.Dataset
        Variables of the module docstring on dims ``(x, y, z)``; attributes ``box_size``,
        ``a_start``, ``a_final``, ``redshift``, ``particle_spacing``, ``steps``,
        ``mesh_factor``, ``boundary_x|y|z = "periodic"``, ``source_format``, ``source``,
        ``power_spectrum``.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ModelError(f"pm simulate: seed must be a non-negative integer, got {seed!r}")
    fields = run(config, ic.white_noise(config.n, int(seed)), progress)
    return _dataset(config, int(seed), fields)


_UNITS = {"disp_za": "Mpc/h", "disp_2lpt": "Mpc/h", "disp": "Mpc/h", "vel": "km/s"}
_NAMES = {
    "disp_za": "Zel'dovich displacement",
    "disp_2lpt": "2LPT displacement",
    "disp": "particle-mesh displacement (minimum image)",
    "vel": "particle-mesh peculiar velocity",
}


def _dataset(config: Config, seed: int, fields: dict) -> xr.Dataset:
    n, box, dt = config.n, config.box_size, np.dtype(config.dtype)
    centres = (np.arange(n) + 0.5) * (box / n)
    dims = ("x", "y", "z")
    coords = {
        d: (d, centres, {"units": "Mpc/h", "long_name": f"cell centre {d} (Lagrangian q "
                         "for particle variables, Eulerian for delta)"})
        for d in dims
    }  # fmt: skip
    data = {}
    delta = fields.pop("delta")
    for name, value in fields.items():
        for axis, d in enumerate(dims):
            attrs = {"units": _UNITS[name], "long_name": f"{_NAMES[name]}, {d} component"}
            data[f"{name}_{d}"] = (dims, value[:, axis].reshape(n, n, n).astype(dt), attrs)
    data["delta"] = (dims, delta.astype(dt), {"units": "1", "long_name": "CIC density contrast"})
    for name in ("Omega_m", "Omega_b", "h", "n_s", "sigma8"):
        data[name] = ((), np.float64(getattr(config, name)))
    data["seed"] = ((), np.float64(seed))  # canonical variables are floats (exact < 2**53)
    attrs = {
        "box_size": box,
        "a_start": config.a_start,
        "a_final": config.a_final,
        "redshift": 1.0 / config.a_final - 1.0,
        "particle_spacing": config.particle_spacing,
        "steps": config.steps,
        "mesh_factor": config.mesh_factor,
        "power_spectrum": config.power_table or "Eisenstein-Hu 1998 no-wiggle",
        **{f"boundary_{d}": "periodic" for d in dims},
        "source_format": "surrogates.solvers.pm",
        "source": f"surrogates.solvers.pm seed={seed} (FastPM-style PM: 2LPT ICs, CIC, KDK)",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def write(dataset: xr.Dataset, path: str | Path, format: str) -> list[Path]:
    """Write the particles of each sample as a Gadget HDF5 snapshot.

    ``path`` is a stem: one sample (no ``sample`` dim) goes to ``STEM.hdf5``, sample ``i``
    of many to ``STEM_{i:05d}.hdf5``. Positions ``q + disp`` are wrapped into ``[0, L)``
    (Mpc/h), velocities are peculiar km/s, IDs are the lattice index (``i n^2 + j n + k``),
    the particle mass is ``Omega_m ρ_crit L^3 / n^3`` in 1e10 Msun/h.

    Returns
    -------
    list of Path
        The files written.
    """
    if format != "gadget":
        raise DataError(f"pm solver: cannot write format {format!r}; supported: ['gadget']")
    from surrogates.io.gadget import write_snapshot

    many = "sample" in dataset.dims
    written = []
    targets = _snapshot_paths(path, dataset.sizes["sample"] if many else None)
    for i, target in enumerate(targets):
        ds = dataset.isel(sample=i) if many else dataset
        write_snapshot(target, *_particles(ds), **_header(ds))
        written.append(target)
    return written


def _snapshot_paths(path: str | Path, samples: int | None) -> list[Path]:
    """``STEM.hdf5`` for one sample (``samples=None``), else ``STEM_{i:05d}.hdf5``."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".hdf5", ".h5") else path
    if samples is None:
        return [Path(f"{stem}.hdf5")]
    return [Path(f"{stem}_{i:05d}.hdf5") for i in range(samples)]


def _outputs(path: str | Path, samples: int, format: str) -> list[tuple[Path, Callable]]:
    """The snapshot files a recipe of ``samples`` realisations writes (registry hook)."""
    from surrogates.io import gadget

    def is_snapshot(p: Path) -> bool:
        return gadget.sniff(p) is None

    return [(p, is_snapshot) for p in _snapshot_paths(path, samples)]


def _particles(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axes = ("x", "y", "z")
    q = np.stack(np.meshgrid(*(ds[d].values for d in axes), indexing="ij"), -1).reshape(-1, 3)
    disp = np.stack([ds[f"disp_{d}"].values.reshape(-1) for d in axes], -1)
    vel = np.stack([ds[f"vel_{d}"].values.reshape(-1) for d in axes], -1)
    return q + disp, vel, np.arange(len(q), dtype=np.uint64)


def _header(ds: xr.Dataset) -> dict:
    box, a = float(ds.attrs["box_size"]), float(ds.attrs["a_final"])
    omega_m = float(ds["Omega_m"])
    npart = int(np.prod([ds.sizes[d] for d in ("x", "y", "z")]))
    return {
        "box_size": box,
        "mass": omega_m * RHO_CRIT * box**3 / npart,
        "time": a,
        "redshift": 1.0 / a - 1.0,
        "omega0": omega_m,
        "omega_lambda": 1.0 - omega_m,
        "hubble_param": float(ds["h"]),
    }


# Peak memory of one realisation: per particle and per force-mesh cell. Measured as the
# growth of the resident set's high-water mark (VmHWM after resetting it through
# /proc/self/clear_refs) over a warmed-up process, steps=2, 2 numba threads:
#   n=64:  mesh_factor 1: 75 MB (287 B/particle), 2: 173 MB (661 B/particle)
#   n=96:  mesh_factor 1: 255 MB (288),           2: 552 MB (623)
#   n=128: mesh_factor 1: 587 MB (280),           2: 1205 MB (574)
# Fit: 240 B/particle (positions, momenta, forces, q, Ψ1, Ψ2, the float32 outputs) plus
# 48 B/mesh cell (the potential on the rfft grid, 3 force components, FFT temporaries).
# With 16 numba threads the per-thread CIC buffers add little (n=128, factor 1: 675 MB,
# factor 2 at n=96: 555 MB): each thread only touches its own slab of the mesh.
_BYTES_PER_PARTICLE = 240
_BYTES_PER_MESH_CELL = 48
_OUTPUT_VARIABLES = 13  # disp_za, disp_2lpt, disp, vel (x, y, z each) and delta


def _footprint(config: Config) -> Footprint:
    """Memory and output size of one realisation of ``config`` (arithmetic only)."""
    particles = config.n**3
    cells = (config.n * config.mesh_factor) ** 3
    itemsize = np.dtype(config.dtype).itemsize
    output = _OUTPUT_VARIABLES * itemsize * particles + 3 * 8 * config.n
    memory = _BYTES_PER_PARTICLE * particles + _BYTES_PER_MESH_CELL * cells
    memory += _OUTPUT_VARIABLES * (itemsize - 4) * particles  # float64 outputs
    return Footprint(memory=memory, output=output, drivers=("n", "mesh_factor"))


register(SolverSpec(name="pm", config=Config, simulate=simulate, formats=("gadget",), write=write,
                    estimate=_footprint, outputs=_outputs))  # fmt: skip

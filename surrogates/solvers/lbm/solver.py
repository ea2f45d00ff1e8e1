"""Lattice Boltzmann flow past obstacles: a stepping :class:`Simulation` and the registered
``simulate`` that returns one realisation as a canonical dataset.

Registered as ``"lbm"``. Numerics: D2Q9 / D3Q19, TRT or BGK collision, fused pull
stream-collide (:mod:`.kernels`), half-way bounce-back on obstacles and walls, regularised
or Zou-He velocity inlet, pressure outlet behind a sponge zone (:mod:`.boundaries`),
momentum-exchange forces (:mod:`.forces`), unit conversion in :mod:`.units`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numba
import numpy as np
import xarray as xr

from surrogates.errors import DataError
from surrogates.solvers.lbm import geometry
from surrogates.solvers.lbm.boundaries import Domain, OpenFace, Sponge, inflow_profile
from surrogates.solvers.lbm.config import MAX_U_LATTICE, Config
from surrogates.solvers.lbm.forces import boundary_links, coefficients, momentum_exchange
from surrogates.solvers.lbm.kernels import open_face, sponge, stream_collide
from surrogates.solvers.lbm.lattice import get_lattice
from surrogates.solvers.lbm.units import LatticeUnits, relaxation_rates
from surrogates.solvers.registry import Footprint, SolverSpec, register

__all__ = ["Simulation", "simulate", "make_obstacles", "lattice_units"]

_BLOCK = 512  # cells per vector block of the sweep
_SHAPES = {"cylinder": "cylinder", "sphere": "ball", "box": "box"}


def make_obstacles(config: Config, seed: int) -> list[geometry.Obstacle]:
    """The obstacles of a run: the configured one, or ``obstacle_count`` random ones drawn
    from ``seed`` (none for ``obstacle="none"``)."""
    if config.obstacle == "none":
        return []
    if config.obstacle == "random":
        rng = np.random.default_rng(seed)
        return geometry.random_obstacles(
            config.shape,
            config.size,
            config.obstacle_count,
            config.obstacle_size_range,
            rng,
            config.obstacle_region,
        )
    size = config.obstacle_size
    if config.obstacle == "box" and len(size) == 1:
        size = size * config.dim
    return [geometry.Obstacle(_SHAPES[config.obstacle], config.obstacle_center, size)]


def lattice_units(config: Config) -> tuple[LatticeUnits, int]:
    """Units of a run and the steps per saved frame.

    ``dt`` comes from ``u_lattice`` (or ``tau``) and is then shortened so that
    ``save_every`` is a whole number of steps.
    """
    dx = config.dx
    if config.tau is None:
        units = LatticeUnits.from_velocity(dx, config.inflow_speed, config.u_lattice)
    else:
        units = LatticeUnits.from_tau(dx, config.viscosity, config.tau)
    per_frame = max(1, math.ceil(config.save_every / units.dt - 1e-9))
    units = LatticeUnits(dx, config.save_every / per_frame, config.density)
    u_lat = config.inflow_speed / units.speed
    if u_lat > MAX_U_LATTICE:
        raise DataError(
            f"lbm: tau={config.tau} gives a lattice inflow speed {u_lat:.3g} > {MAX_U_LATTICE}"
            " (Mach number too high); raise tau or refine the grid (shape)"
        )
    if units.tau(config.viscosity) <= 0.5 + 1e-6:
        raise DataError(f"lbm: relaxation time {units.tau(config.viscosity)} is not > 0.5")
    return units, per_frame


class Simulation:
    """A lattice Boltzmann run in progress.

    Parameters
    ----------
    config : Config
        Run parameters.
    seed : int
        Seed of the random obstacles.

    Attributes
    ----------
    f : ndarray, shape (q, n_padded)
        Post-collision populations on the padded grid.
    frontal : ndarray, shape (n_obstacles,)
        Reference length (2D) or frontal area (3D) of each obstacle, lattice units.
    steps : int
        Steps taken.
    """

    def __init__(self, config: Config, seed: int = 0) -> None:
        self.config = config
        self.lattice = lat = get_lattice(config.lattice)
        self.obstacles = make_obstacles(config, seed)
        self.labels = geometry.label_obstacles(config.shape, config.size, self.obstacles)
        self.domain = dom = Domain(config.shape, config.boundary, self.labels > 0)
        self._check_faces()
        self.units, self.per_frame = lattice_units(config)
        self.tau = self.units.tau(config.viscosity)
        self.rates = relaxation_rates(self.tau, config.collision, config.magic)
        self.u_lattice = config.inflow_speed / self.units.speed
        self.flag = dom.flags()
        self.off = dom.offsets(lat)
        self.span = dom.span()
        dtype = np.dtype(config.compute_dtype)
        self.tables = (self.off, lat.opp, lat.c, lat.c3.astype(dtype), lat.w.astype(dtype))
        self.tables += (lat.pairs,)
        # reference length (2D) or frontal area (3D) of each obstacle, lattice units
        reference = [o.frontal(config.size) / config.dx ** (config.dim - 1) for o in self.obstacles]
        self.frontal = np.array(reference, dtype=np.float64)
        self.links = boundary_links(
            dom.fluid_cells(), dom.pad(self.labels), self.off, len(self.obstacles)
        )
        centres = geometry.cell_centres(config.shape, config.size)
        self.profile = self.u_lattice * inflow_profile(
            centres, config.size, config.boundary, config.inflow
        )
        self.f = self._initial(dtype)
        self._g = self.f.copy()
        self._faces = self._open_faces(dtype)
        self._sponge = Sponge.build(dom, config.sponge)
        if self._sponge is not None:
            self._sponge.reset(self.f, lat.c.astype(np.float64))
        self.steps = 0

    def _check_faces(self) -> None:
        if self.config.boundary[0] != "open":
            return
        solid = self.domain.solid
        if solid[:2].any() or solid[-2:].any():
            raise DataError(
                "lbm: an obstacle reaches within two cells of the inlet or outlet (x = 0 or"
                f" x = {self.config.size[0]}); move it (obstacle_center) or lengthen the domain"
            )

    def _initial(self, dtype) -> np.ndarray:
        u = np.zeros((self.lattice.dim,) + self.config.shape)
        u[0] = self.profile[None]
        u[:, self.domain.solid] = 0.0
        f_in = self.lattice.equilibrium(np.ones(self.config.shape), u)
        f = np.empty((self.lattice.q, self.domain.size), dtype=dtype)
        f[:] = self.lattice.w[:, None]
        self.domain.to_interior(f)[...] = f_in
        self.domain.fill_ghosts(f)
        return f

    def _open_faces(self, dtype) -> list[OpenFace]:
        if self.config.boundary[0] != "open":
            return []
        inlet = np.zeros((self.profile.size, 3), dtype=dtype)
        inlet[:, 0] = self.profile.ravel()
        regularized = int(self.config.inlet == "regularized")
        return [
            OpenFace(self.domain.face(False), inlet, (0, 1, 1, regularized)),
            OpenFace(self.domain.face(True), np.ones_like(inlet), (0, -1, 0, regularized)),
        ]

    def step(self, n: int = 1) -> None:
        """Advance ``n`` time steps."""
        incompressible = self.config.equilibrium == "incompressible"
        chunks = 4 * numba.get_num_threads()
        sweep = (self.flag, self.span, _BLOCK, self.tables, *self.rates, incompressible, chunks)
        rest = (self.tables, self.rates, incompressible, chunks)
        z = self._sponge
        for _ in range(n):
            self.domain.fill_ghosts(self.f)
            stream_collide(self.f, self._g, *sweep)
            for face in self._faces:
                open_face(self.f, self._g, self.flag, face.cells, face.values, face.spec, *rest)
            if z is not None:
                sponge(self._g, z.cells, z.strength, z.mean, z.rate, self.tables[4], self.tables[3])
            self.f, self._g = self._g, self.f
        self.steps += n

    @property
    def time(self) -> float:
        """Physical time reached."""
        return self.steps * self.units.dt

    def macroscopic(self) -> tuple[np.ndarray, np.ndarray]:
        """Lattice density, shape (*shape), and velocity, shape (d, *shape), float64."""
        f = self.domain.to_interior(self.f).astype(np.float64)
        return self.lattice.moments(f, self.config.equilibrium == "incompressible")

    def forces(self) -> np.ndarray:
        """Force on each obstacle in lattice units, shape (n_obstacles, d)."""
        return momentum_exchange(self.f, self.links, self.lattice)

    def force_coefficients(self) -> np.ndarray:
        """``C = 2 F / (rho U_mean^2 A)`` per obstacle and axis, shape (n_obstacles, d).

        ``U_mean`` is :attr:`Config.mean_speed`; ``A`` is :attr:`frontal`.
        """
        speed = self.u_lattice * self.config.mean_speed / self.config.inflow_speed
        return coefficients(self.forces(), speed, self.frontal)

    def run_frames(self, progress: Callable[[int, int], None] | None = None):
        """Yield ``(frame_index, rho, u, coefficients)`` at every saved frame time."""
        config = self.config
        frames = config.frame_count()
        first = round(config.spinup / self.units.dt)
        total = first + (frames - 1) * self.per_frame
        tick = max(1, total // 200)
        targets = [first + k * self.per_frame for k in range(frames)]
        for index, target in enumerate(targets):
            while self.steps < target:
                self.step(min(tick, target - self.steps))
                if progress is not None:
                    progress(self.steps, total)
            rho, u = self.macroscopic()
            if not np.isfinite(rho).all():
                raise DataError(
                    f"lbm: the run became unstable (non-finite density) by t = {self.time:.4g};"
                    f" tau = {self.tau:.4f}: lower u_lattice, refine the grid or use 'trt'"
                )
            yield index, rho, u, self.force_coefficients()


def _velocity_names(dim: int) -> tuple[str, ...]:
    return ("u_x", "u_y", "u_z")[:dim]


def _force_variables(config: Config, sim: Simulation, series: np.ndarray) -> dict:
    """Force-coefficient time series from per-obstacle ones, shape (time, n_obstacles, d).

    ``drag_coefficient`` etc. describe the total force on all obstacles, normalised by
    their summed reference lengths (2D) or frontal areas (3D); with several (random)
    obstacles ``drag_coefficient_<k>`` etc. give each one with its own reference.
    """
    d = config.dim
    ref = sim.frontal  # lattice units; the ratio below does not depend on them
    if len(ref):
        total = np.einsum("tkd,k->td", series, ref) / ref.sum()
    else:
        total = np.zeros((len(series), d))  # no obstacle, no force
    where = "per unit depth, A = D (diameter or height)" if d == 2 else "A = frontal area"
    norm = f"C = 2 F / (rho U_mean^2 A), {where}, U_mean = {config.mean_speed:.6g} m/s"
    names = ["drag_coefficient", "lift_coefficient", "side_coefficient"][:d]
    long = ["drag coefficient (x force)", "lift coefficient (y force)", "side-force coefficient"]
    out = {}
    for a, name in enumerate(names):
        attrs = {"long_name": long[a], "normalisation": norm, "units": "1"}
        out[name] = (("time",), total[:, a], attrs)
        if config.obstacle == "random":
            for k in range(len(ref)):
                attrs_k = attrs | {"long_name": f"{long[a]}, obstacle {k}"}
                out[f"{name}_{k}"] = (("time",), series[:, k, a], attrs_k)
    return out


def _dataset(config: Config, sim: Simulation, seed: int, frames: dict, series: np.ndarray):
    d = config.dim
    axes = ("x", "y", "z")[:d]
    spatial = ("time",) + axes
    times = config.spinup + config.save_every * np.arange(len(series))
    units = {"p": "Pa"} | {name: "m/s" for name in _velocity_names(d)}
    data = {
        name: (spatial, array, {"long_name": _LONG[name], "units": units[name]})
        for name, array in frames.items()
    }
    data["mask"] = (axes, sim.domain.solid.astype(config.dtype), {"long_name": "obstacle (1)"})
    data.update(_force_variables(config, sim, series))
    data["Re"] = ((), config.reynolds, {"long_name": "Reynolds number U_mean L_ref / nu"})
    data["U"] = ((), config.inflow_speed, {"long_name": "inflow speed (profile maximum)"})
    data["U"][2]["units"] = "m/s"
    data["seed"] = ((), float(seed), {"long_name": "random seed of this realisation"})
    centres = geometry.cell_centres(config.shape, config.size)
    coords = {"time": ("time", times, {"units": "s"})}
    coords |= {a: (a, c, {"units": "m"}) for a, c in zip(axes, centres, strict=True)}
    attrs = {f"boundary_{a}": kind for a, kind in zip(axes, config.boundary, strict=True)}
    attrs |= {
        "source_format": "surrogates.solvers.lbm",
        "source": f"lattice Boltzmann {config.lattice} {config.collision.upper()}"
        f" ({config.inlet} inlet, pressure outlet, half-way bounce-back)",
        "force_normalisation": data["drag_coefficient"][2]["normalisation"],
        "units_convention": "physical units of the config (SI for the benchmarks);"
        " p is the gauge pressure (rho_lat - 1) c_s^2 rho (dx/dt)^2",
        "dx": config.dx,
        "dt": sim.units.dt,
        "tau": sim.tau,
        "u_lattice": sim.u_lattice,
        "viscosity": config.viscosity,
        "reference_length": config.length,
        "obstacles": json.dumps([o.__dict__ for o in sim.obstacles]),
        "config": json.dumps(config.__dict__),
    }
    if len(sim.obstacles):  # netCDF attributes cannot be empty lists
        attrs["force_reference"] = [float(r) for r in sim.frontal * config.dx ** (d - 1)]
    return xr.Dataset(data, coords=coords, attrs=attrs)


_LONG = {
    "p": "gauge pressure",
    "u_x": "velocity, x component",
    "u_y": "velocity, y component",
    "u_z": "velocity, z component",
}


def simulate(
    config: Config, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> xr.Dataset:
    """Run one realisation and return it as a canonical dataset.

    Parameters
    ----------
    config : Config
        Run parameters.
    seed : int
        Seed of the random obstacles (stored as the variable ``seed``).
    progress : callable, optional
        ``progress(done_steps, total_steps)``.

    Returns
    -------
    xarray.Dataset
        ``p``, ``u_x``, ``u_y`` [, ``u_z``] with dims (time, x, y[, z]) in physical units;
        static ``mask``; ``drag_coefficient``, ``lift_coefficient`` [, ``side_coefficient``]
        over ``time`` (and ``obstacle`` for random obstacles); 0-d ``Re``, ``U``, ``seed``.
    """
    sim = Simulation(config, seed)
    names = ("p",) + _velocity_names(config.dim)
    count = config.frame_count()
    frames = {name: np.empty((count,) + config.shape, config.dtype) for name in names}
    series = np.empty((count, len(sim.obstacles), config.dim))
    previous = None
    for index, rho, u, coeffs in sim.run_frames(progress):
        frames["p"][index] = sim.units.pressure(rho)
        for a, name in enumerate(names[1:]):
            frames[name][index] = sim.units.velocity(u[a])
        series[index] = coeffs
        if config.steady_tol > 0 and previous is not None and _steady(config, previous, u, coeffs):
            frames = {name: array[: index + 1] for name, array in frames.items()}
            series = series[: index + 1]
            break
        previous = (u, coeffs)
    return _dataset(config, sim, seed, frames, series)


def _steady(config: Config, previous, u, coeffs) -> bool:
    """Relative L2 changes of the velocity field and of each obstacle's force-coefficient
    vector since the previous frame both below ``steady_tol``."""
    u_old, c_old = previous
    du = np.linalg.norm(u - u_old) / max(np.linalg.norm(u), 1e-30)
    norm = np.maximum(np.linalg.norm(coeffs, axis=-1), 1e-12)
    dc = np.max(np.linalg.norm(coeffs - c_old, axis=-1) / norm, initial=0.0)
    return du < config.steady_tol and dc < config.steady_tol


# Working memory of one run per cell, besides the saved frames: 32 B per population
# (the populations f and the streaming buffer, the float64 equilibrium of the initial
# state and the float64 copy that moments are taken from) plus 8 B per moment. Measured
# as the growth of the resident set's high-water mark (VmHWM after resetting it through
# /proc/self/clear_refs) over a warmed-up process, 3 frames unless noted:
#   D2Q9 cylinder 880x164: 48 MB (331 B/cell), 1760x328: 188 MB (326 B/cell, 40 of frames)
#   D3Q19 random obstacles 64x32x32: 40 MB (608 B/cell), 96x48x48: 140 MB (632),
#   128x64x64: 338 MB (645, 52 of frames); 96x48x48 with 21 frames: 192 MB (75 of frames)
#   compute_dtype float32: the same (1760x328: 191 MB, 128x64x64: 346 MB): the peak is
#   the float64 initialisation, not the stepping
# so 32 q + 8 (d + 1) B/cell: 312 (D2Q9), 640 (D3Q19).
_BYTES_PER_POPULATION = 32


def _footprint(config: Config) -> Footprint:
    """Memory and output size of one realisation of ``config`` (arithmetic only)."""
    cells = math.prod(config.shape)
    q = get_lattice(config.lattice).q
    itemsize = np.dtype(config.dtype).itemsize
    frames = config.frame_count()  # an upper bound with steady_tol
    forces = frames * 8 * config.dim * (config.obstacle_count + 1)
    output = frames * (config.dim + 1) * cells * itemsize + cells * itemsize + forces
    work = (_BYTES_PER_POPULATION * q + 8 * (config.dim + 1)) * cells
    drivers = ("shape",) if work >= output else ("t_end", "save_every", "shape")
    return Footprint(memory=work + output, output=output, drivers=drivers)


register(SolverSpec(name="lbm", config=Config, simulate=simulate, estimate=_footprint))

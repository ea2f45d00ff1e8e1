"""Pseudo-spectral solver for 3D incompressible Navier-Stokes in a periodic box.

Registered as ``"navier-stokes"``: :func:`simulate` runs one realisation of a
:class:`Config` and returns the canonical dataset of DESIGN.md with a ``time`` dimension.

Numerics (details in :mod:`.spectral` and :mod:`.stepping`): rotational form ``u x omega``, 2/3-rule
dealiasing (or phase-shift dealiasing with a spherical cutoff 1.41x higher), pressure by
Leray projection, viscous term by integrating factor, classical RK4 with a CFL-controlled
step that lands exactly on every output time, float64 internally. Initial fields:
Taylor-Green vortex, ABC flow, or a seeded random isotropic field with spectrum
``E(k) ~ k^4 exp(-2 (k/k_p)^2)``. Forcing: Lundgren's linear forcing ``f = A(t) u``
(optionally only for ``|k| <= k_f``), with ``A`` constant, piecewise constant (seeded
draws, a control input stored as ``forcing_amplitude``), or set at every stage to hold the
kinetic energy constant.

Units are non-dimensional: lengths in the units of ``box_size``, times in the units in
which ``nu`` is given, density 1. ``p`` is the kinematic pressure ``p / rho``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

import numpy as np
import xarray as xr

from surrogates.errors import ModelError
from surrogates.solvers.ns import initial
from surrogates.solvers.ns.config import Config, taylor_green_1600
from surrogates.solvers.ns.spectral import (
    Grid,
    mean_square,
    project,
    to_physical,
    to_spectral,
)
from surrogates.solvers.ns.stepping import Schedule, System, integrate, pressure
from surrogates.solvers.registry import Footprint, SolverSpec, register

__all__ = [
    "Config",
    "simulate",
    "simulate_diagnostics",
    "simulate_from",
    "output_times",
    "forcing_schedule",
    "taylor_green_1600",
    "dissipation_peak",
]


def dissipation_peak(ds: xr.Dataset) -> tuple[float, float]:
    """``(peak, time)`` of ``ds.dissipation``: the vertex of the parabola through the largest
    frame and its two neighbours (the first or last frame is replaced by its neighbour)."""
    eps, times = ds.dissipation.values, ds.time.values
    if eps.size < 3:
        raise ModelError(f"dissipation_peak: {eps.size} frames; a parabola needs at least 3")
    i = int(np.clip(np.argmax(eps), 1, eps.size - 2))
    a, b, c = np.polyfit(times[i - 1 : i + 2] - times[i], eps[i - 1 : i + 2], 2)
    return float(c - b**2 / (4 * a)), float(times[i] - b / (2 * a))


def output_times(config: Config) -> np.ndarray:
    """Saved frame times ``spinup + k save_every <= t_end``, shape ``(frames,)``."""
    count = math.floor((config.t_end - config.spinup) / config.save_every + 1e-9) + 1
    return config.spinup + config.save_every * np.arange(count)


def forcing_schedule(config: Config, seed: int) -> Schedule:
    """The amplitude schedule ``A(t)`` that :func:`simulate` uses for ``(config, seed)``."""
    if config.forcing != "linear":
        return Schedule()
    if config.forcing_schedule == "constant":
        return Schedule((0.0,), (config.forcing_amplitude,))
    low, high = config.forcing_range
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    return Schedule.piecewise(low, high, config.forcing_interval, config.t_end, rng)


def _initial_field(config: Config, grid: Grid, seed: int) -> np.ndarray:
    if config.init == "taylor-green":
        return initial.taylor_green(grid, config.velocity)
    if config.init == "abc":
        return initial.abc_flow(grid, config.velocity)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    return initial.random_isotropic(grid, rng, config.spectrum_peak, config.energy)


class _Recorder:
    """Collects saved frames and diagnostics from :func:`integrate`'s callback."""

    def __init__(self, config: Config, system: System, frames: int, fields: bool = True) -> None:
        self.config, self.system = config, system
        names = ["u_x", "u_y", "u_z"] + (["p"] if config.pressure else [])
        names = names if fields else []
        self.fields = {v: np.empty((frames, *system.grid.shape), config.dtype) for v in names}
        series = ("kinetic_energy", "dissipation", "enstrophy", "forcing_amplitude")
        self.series = {v: np.empty(frames) for v in series}

    def __call__(self, index: int, uk: np.ndarray, amplitude: float) -> None:
        grid = self.system.grid
        if self.fields:
            u = to_physical(grid, uk)
            for c, name in enumerate(("u_x", "u_y", "u_z")):
                self.fields[name][index] = u[c]
        if "p" in self.fields:
            self.fields["p"][index] = pressure(grid, uk)
        omega_sq = mean_square(grid, uk, grid.k2)
        self.series["kinetic_energy"][index] = 0.5 * mean_square(grid, uk)
        self.series["dissipation"][index] = self.system.nu * omega_sq
        self.series["enstrophy"][index] = 0.5 * omega_sq
        self.series["forcing_amplitude"][index] = amplitude


_FIELD_ATTRS = {
    "u_x": ("velocity, x component", "length/time"),
    "u_y": ("velocity, y component", "length/time"),
    "u_z": ("velocity, z component", "length/time"),
    "p": ("kinematic pressure p/rho, zero mean", "length^2/time^2"),
    "kinetic_energy": ("kinetic energy <|u|^2>/2 per unit mass", "length^2/time^2"),
    "dissipation": ("viscous dissipation nu <|omega|^2> = 2 nu <s_ij s_ij>", "length^2/time^3"),
    "enstrophy": ("enstrophy <|omega|^2>/2", "1/time^2"),
    "forcing_amplitude": ("Lundgren forcing amplitude A in f = A u", "1/time"),
}


def _dataset(config: Config, seed: int, recorder: _Recorder, times: np.ndarray, steps: int):
    grid = recorder.system.grid
    spatial = ("time", "x", "y", "z")
    data = {name: (spatial, array) for name, array in recorder.fields.items()}
    data.update({name: ("time", array) for name, array in recorder.series.items()})
    for name, (long_name, units) in _FIELD_ATTRS.items():
        if name in data:
            data[name] = (*data[name], {"long_name": long_name, "units": units})
    data["nu"] = ((), config.nu, {"long_name": "kinematic viscosity", "units": "length^2/time"})
    data["Re"] = ((), config.reynolds, {"long_name": "U (box_size / 2 pi) / nu, U initial speed"})
    data["seed"] = (
        (),
        float(seed),
        {"long_name": "random seed of this realisation (float64, exact)"},
    )
    coord = grid.coordinates()
    coords = {
        "time": ("time", times, {"units": "time"}),
        **{axis: (axis, coord, {"units": "length"}) for axis in ("x", "y", "z")},
    }
    attrs = {f"boundary_{axis}": "periodic" for axis in ("x", "y", "z")}
    attrs.update(
        source_format="surrogates.solvers.ns",
        source=f"pseudo-spectral Navier-Stokes (u x omega, {config.dealiasing} dealiasing,"
        " integrating-factor RK4)",
        box_size=config.box_size,
        units_convention="non-dimensional: lengths in units of box_size, time in the units"
        " of nu, density 1",
        steps=steps,
        config=json.dumps(dataclasses.asdict(config)),
    )
    return xr.Dataset(data, coords=coords, attrs=attrs)


def simulate(
    config: Config, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> xr.Dataset:
    """Run one realisation and return it as a canonical dataset.

    Parameters
    ----------
    config : Config
    seed : int
        Seeds the random initial field and the piecewise forcing schedule.
    progress : callable, optional
        ``progress(done, total)`` after every step; ``total`` is estimated from the
        current step size and exceeds ``done`` until the last call, the only one where
        ``done == total``.

    Returns
    -------
    xarray.Dataset
        ``u_x, u_y, u_z`` (and ``p``) over ``(time, x, y, z)`` in ``config.dtype``;
        ``kinetic_energy, dissipation, enstrophy, forcing_amplitude`` over ``time``;
        0-d ``nu, Re, seed``. Coordinates: frame times and cell centres
        ``(i + 1/2) box_size / n``.
    """
    return _run(config, seed, progress, fields=True)


def simulate_diagnostics(
    config: Config, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> xr.Dataset:
    """Like :func:`simulate` but keep only the time series (no fields): a cheap way to
    follow ``kinetic_energy`` or ``dissipation`` at a fine ``save_every`` on large grids."""
    return _run(config, seed, progress, fields=False)


def simulate_from(
    config: Config,
    velocity: np.ndarray,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Run ``config`` from a given velocity field at ``t = config.spinup``.

    The solver at lower cost of a speedup at matched accuracy: a coarse grid continuing a
    finer run from its filtered state, with the same viscosity and the same forcing
    schedule (that of ``(config, seed)``, as :func:`simulate` draws it).

    Parameters
    ----------
    config : Config
        ``n`` is the grid of ``velocity``; frames at :func:`output_times` (the first is the
        projected initial state).
    velocity : ndarray, shape (3, n, n, n)
        ``u_x, u_y, u_z`` at ``t = spinup`` on the cell centres; projected onto
        divergence-free fields (a box-filtered field is not exactly solenoidal on the
        coarse grid).
    seed : int
        Seed of the forcing schedule (the initial field is ``velocity``).
    progress : callable, optional
        As in :func:`simulate`.

    Returns
    -------
    xarray.Dataset
        As :func:`simulate`.
    """
    shape = (3, config.n, config.n, config.n)
    if np.shape(velocity) != shape:
        raise ModelError(f"navier-stokes: velocity has shape {np.shape(velocity)}, expected"
                         f" {shape} (3 components on the config's n^3 grid)")  # fmt: skip
    if not np.all(np.isfinite(velocity)):
        raise ModelError("navier-stokes: velocity has non-finite values")
    return _run(config, seed, progress, fields=True, start=velocity)


def _shifted(schedule: Schedule, t0: float) -> Schedule:
    """``schedule`` seen from ``t0`` on, with ``t0`` as time zero."""
    later = [(b - t0, v) for b, v in zip(schedule.breaks, schedule.values, strict=True) if b > t0]
    return Schedule((0.0, *(b for b, _ in later)), (schedule(t0), *(v for _, v in later)))


def _run(
    config: Config,
    seed: int,
    progress: Callable[[int, int], None] | None,
    fields: bool,
    start: np.ndarray | None = None,
) -> xr.Dataset:
    if not isinstance(config, Config):
        raise ModelError(f"navier-stokes: expected a Config, got {type(config).__name__}")
    grid = Grid(config.n, config.box_size, config.compute_dtype, config.dealiasing)
    band = None
    if math.isfinite(config.forcing_kmax):
        band = (np.sqrt(grid.k2) <= config.forcing_kmax * grid.k0 * (1 + 1e-12)).astype(grid.dtype)
    system = System(grid, config.nu, config.forcing, band)
    times = output_times(config)
    recorder = _Recorder(config, system, times.size, fields)
    if start is None:
        uk, t0 = _initial_field(config, grid, seed), 0.0
    else:
        uk, t0 = project(grid, to_spectral(grid, start)), config.spinup
    steps = integrate(
        system,
        uk,
        times - t0,
        recorder,
        schedule=_shifted(forcing_schedule(config, seed), t0),
        cfl=config.cfl,
        dt=config.dt,
        progress=progress,
    )
    return _dataset(config, seed, recorder, times, steps)


# Working memory of one run per grid cell, besides the saved frames. Measured as the
# growth of the resident set's high-water mark (VmHWM after resetting it through
# /proc/self/clear_refs) over a warmed-up process, Taylor-Green, 2 frames unless noted:
#   n=64: 110 MB, n=96: 375 MB, n=128: 758 MB (frames 6, 21, 50 MB): 400, 400, 337 B/cell
#   n=96, 21 frames: 576 MB (223 MB of frames; float64 frames: 787 MB, 446 MB of frames)
#   n=96: pressure 379 MB, random forced field 379 MB, phase-shift dealiasing 432 MB,
#   compute_dtype float32 312 MB
# hence 400 B/cell (uk, RK4 stages, u, omega and their products, float64), 330 with
# float32 arithmetic, 15% more for phase-shift dealiasing (the shifted grid's products).
_WORK_BYTES_PER_CELL = {"float64": 400, "float32": 330}
_PHASE_SHIFT_FACTOR = 1.15


def _footprint(config: Config) -> Footprint:
    """Memory and output size of one realisation of ``config`` (arithmetic only)."""
    cells = config.n**3
    # the count of output_times(config), without building the array
    frames = math.floor((config.t_end - config.spinup) / config.save_every + 1e-9) + 1
    fields = 4 if config.pressure else 3
    output = frames * (fields * cells * np.dtype(config.dtype).itemsize + 4 * 8 + 8)
    work = _WORK_BYTES_PER_CELL[config.compute_dtype] * cells
    if config.dealiasing == "phase-shift":
        work = int(work * _PHASE_SHIFT_FACTOR)
    drivers = ("n",) if work >= output else ("t_end", "save_every", "n")
    return Footprint(memory=work + output, output=output, drivers=drivers)


register(SolverSpec(name="navier-stokes", config=Config, simulate=simulate, estimate=_footprint))

"""The parameters of one lattice Boltzmann run and their validation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from surrogates.errors import DataError
from surrogates.solvers.lbm.lattice import LATTICES

__all__ = ["Config"]

_CHOICES = {
    "lattice": LATTICES,
    "collision": ("trt", "bgk"),
    "equilibrium": ("incompressible", "compressible"),
    "inflow": ("parabolic", "uniform"),
    "inlet": ("regularized", "zou-he"),
    "obstacle": ("none", "cylinder", "sphere", "box", "random"),
    "dtype": ("float32", "float64"),
    "compute_dtype": ("float64", "float32"),
}
_TUPLES = ("shape", "size", "boundary", "obstacle_center", "obstacle_size")
_TUPLES_2 = ("obstacle_size_range", "obstacle_region")
MAX_U_LATTICE = 0.3


@dataclass(frozen=True)
class Config:
    """Parameters of one lattice Boltzmann run (all recipe ``[params]`` keys).

    Defaults are the Schafer & Turek (1996) case 2D-1 (Re = 20) with 20 cells across the
    cylinder. Physical quantities are in any consistent units (SI for the benchmark).

    Attributes
    ----------
    lattice : {"D2Q9", "D3Q19"}
        Velocity set; its dimension must match ``shape``.
    collision : {"trt", "bgk"}
        Two-relaxation-time or single-relaxation-time collision.
    equilibrium : {"incompressible", "compressible"}
        He & Luo (1997) incompressible equilibrium (velocity = momentum, no O(Ma^2)
        density error in steady flow), or the standard one.
    magic : float
        TRT magic parameter ``Lambda`` (1/4; 3/16 puts Poiseuille walls exactly half-way).
    shape : tuple of int
        Cells per axis (x streamwise, then y, z).
    size : tuple of float
        Physical extent per axis; ``size[a] / shape[a]`` must be the same on every axis.
    boundary : tuple of str
        Per axis ``"periodic"`` or ``"wall"``; axis x may also be ``"open"`` (inlet at
        ``x = 0``, outlet at ``x = size[0]``).
    inflow : {"parabolic", "uniform"}
        Inlet (and initial) velocity profile: ``U prod_walls 4 s (1 - s)`` or ``U``.
    inflow_speed : float
        ``U``: the maximum (centre-line) speed of the parabolic profile, the speed of the
        uniform one. Its mean is ``U (2/3)^(number of walls)`` or ``U``.
    reynolds : float
        ``Re = U_mean L_ref / nu``; sets the viscosity ``nu``.
    inlet : {"regularized", "zou-he"}
        Completion of the unknown populations on the inlet layer and on the outlet layer
        (a pressure outlet: ``rho = 1``, zero gauge pressure, zero tangential velocity).
    sponge : float
        Length of a damping zone before the outlet, as a fraction of ``size[0]`` (0: none).
        It removes density fluctuations about their running mean (sound waves, which a
        pressure outlet reflects), leaving the steady pressure field unchanged.
    obstacle : {"none", "cylinder", "sphere", "box", "random"}
        Obstacle kind; a cylinder spans the domain along z in 3D.
    obstacle_center : tuple of float
        Centre of a single obstacle (physical units, one value per axis).
    obstacle_size : tuple of float
        Diameter (cylinder, sphere), or box side lengths (one per axis, or one for a cube).
    obstacle_count : int
        Number of random obstacles (balls and cubes).
    obstacle_size_range : tuple of float
        Range of the random obstacles' diameters or sides.
    obstacle_region : tuple of float
        Band of x (fractions of ``size[0]``) that holds the random obstacles.
    reference_length : float or None
        ``L_ref`` of Re; default the obstacle diameter (box: side along y; random: mean of
        ``obstacle_size_range``; none: ``size[1]``).
    u_lattice : float
        ``U`` in lattice units (sets the time step ``dt = dx u_lattice / U``).
    tau : float or None
        Relaxation time instead of ``u_lattice`` (then ``dt = (tau - 1/2) dx^2 / (3 nu)``).
    density : float
        Physical density (scales the pressure).
    t_end, save_every, spinup : float
        Frames at ``spinup + k save_every <= t_end``; ``dt`` is shortened slightly so that
        ``save_every`` is a whole number of steps.
    steady_tol : float
        If > 0, stop once the velocity field and each obstacle's force-coefficient vector
        change by less than this (relative L2 norms) between frames (single runs: the
        samples of a recipe need a common time axis).
    dtype, compute_dtype : {"float32", "float64"}
        Type of the saved fields and of the populations.
    """

    lattice: str = "D2Q9"
    collision: str = "trt"
    equilibrium: str = "incompressible"
    magic: float = 0.25
    shape: tuple[int, ...] = (440, 82)
    size: tuple[float, ...] = (2.2, 0.41)
    boundary: tuple[str, ...] = ("open", "wall")
    inflow: str = "parabolic"
    inflow_speed: float = 0.3
    reynolds: float = 20.0
    inlet: str = "regularized"
    sponge: float = 0.1
    obstacle: str = "cylinder"
    obstacle_center: tuple[float, ...] = (0.2, 0.2)
    obstacle_size: tuple[float, ...] = (0.1,)
    obstacle_count: int = 3
    obstacle_size_range: tuple[float, float] = (0.05, 0.1)
    obstacle_region: tuple[float, float] = (0.1, 0.6)
    reference_length: float | None = None
    u_lattice: float = 0.1
    tau: float | None = None
    density: float = 1.0
    t_end: float = 1.0
    save_every: float = 0.1
    spinup: float = 0.0
    steady_tol: float = 0.0
    dtype: str = "float32"
    compute_dtype: str = "float64"

    def __post_init__(self) -> None:
        for name in _TUPLES + _TUPLES_2:
            value = getattr(self, name)
            if not isinstance(value, list | tuple):
                raise DataError(f"lbm: {name}={value!r}; expected a list of values")
            object.__setattr__(self, name, tuple(value))
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                _fail(name, getattr(self, name), f"one of {allowed}")
        self._check_grid()
        self._check_numbers()

    def _check_grid(self) -> None:
        dim = int(self.lattice[1])
        for name in ("shape", "size", "boundary"):
            if len(getattr(self, name)) != dim:
                _fail(name, getattr(self, name), f"{dim} values for lattice {self.lattice}")
        if any(not isinstance(n, int) or n < 3 for n in self.shape):
            _fail("shape", self.shape, "integers >= 3")
        if any(s <= 0 for s in self.size):
            _fail("size", self.size, "positive extents")
        spacing = [s / n for s, n in zip(self.size, self.shape, strict=True)]
        if max(spacing) - min(spacing) > 1e-9 * max(spacing):
            _fail("size", self.size, f"equal cell sizes size/shape on every axis, got {spacing}")
        for axis, kind in enumerate(self.boundary):
            allowed = ("open", "periodic", "wall") if axis == 0 else ("periodic", "wall")
            if kind not in allowed:
                _fail("boundary", self.boundary, f"axis {axis} in {allowed}")
        if self.obstacle in ("cylinder", "sphere", "box") and len(self.obstacle_center) != dim:
            _fail("obstacle_center", self.obstacle_center, f"{dim} coordinates")
        sizes = (1, dim) if self.obstacle == "box" else (1,)
        if self.obstacle != "none" and len(self.obstacle_size) not in sizes:
            _fail("obstacle_size", self.obstacle_size, f"{' or '.join(map(str, sizes))} values")

    def _check_numbers(self) -> None:
        lo, hi = self.obstacle_size_range
        band = self.obstacle_region
        rules = [
            ("magic", self.magic > 0, "> 0"),
            ("inflow_speed", self.inflow_speed > 0, "> 0"),
            ("reynolds", self.reynolds > 0, "> 0"),
            ("obstacle_size", all(s > 0 for s in self.obstacle_size), "positive sizes"),
            ("obstacle_count", self.obstacle_count >= 1, ">= 1"),
            ("obstacle_size_range", 0 < lo <= hi, "0 < low <= high"),
            ("obstacle_region", 0 <= band[0] < band[1] <= 1, "0 <= start < end <= 1"),
            ("reference_length", (self.reference_length or 1) > 0, "> 0 or None"),
            ("u_lattice", 0 < self.u_lattice <= MAX_U_LATTICE, f"in (0, {MAX_U_LATTICE}]"),
            ("tau", self.tau is None or self.tau > 0.5, "> 0.5 or None"),
            ("density", self.density > 0, "> 0"),
            ("save_every", self.save_every > 0, "> 0"),
            ("spinup", self.spinup >= 0, ">= 0"),
            ("t_end", self.t_end >= self.spinup, f">= spinup ({self.spinup})"),
            ("steady_tol", self.steady_tol >= 0, ">= 0"),
            ("sponge", 0 <= self.sponge < 0.5, "in [0, 0.5)"),
        ]
        for name, ok, expected in rules:
            if not ok:
                _fail(name, getattr(self, name), expected)

    @property
    def dim(self) -> int:
        """Number of spatial dimensions."""
        return len(self.shape)

    @property
    def dx(self) -> float:
        """Cell size."""
        return self.size[0] / self.shape[0]

    @property
    def mean_speed(self) -> float:
        """Mean inflow speed ``U_mean``: ``U (2/3)^walls`` (parabolic) or ``U`` (uniform)."""
        if self.inflow == "uniform":
            return self.inflow_speed
        walls = sum(1 for kind in self.boundary[1:] if kind == "wall")
        return self.inflow_speed * (2.0 / 3.0) ** walls

    @property
    def length(self) -> float:
        """Reference length ``L_ref`` of the Reynolds number."""
        if self.reference_length is not None:
            return self.reference_length
        if self.obstacle in ("cylinder", "sphere"):
            return self.obstacle_size[0]
        if self.obstacle == "box":
            return self.obstacle_size[min(1, len(self.obstacle_size) - 1)]
        if self.obstacle == "random":
            return 0.5 * sum(self.obstacle_size_range)
        return self.size[1]

    @property
    def viscosity(self) -> float:
        """Kinematic viscosity ``nu = U_mean L_ref / Re``."""
        return self.mean_speed * self.length / self.reynolds

    def frame_count(self) -> int:
        """Number of saved frames ``spinup + k save_every <= t_end``."""
        return math.floor((self.t_end - self.spinup) / self.save_every + 1e-9) + 1


def _fail(name: str, value, expected: str) -> None:
    raise DataError(f"lbm: {name}={value!r}; expected {expected}")

"""Lattice Boltzmann reference solver (D2Q9 / D3Q19, TRT or BGK) for flow past obstacles
in channels, with momentum-exchange forces. Importing it registers the solver ``"lbm"``.
"""

from surrogates.solvers.lbm.config import Config
from surrogates.solvers.lbm.forces import strouhal
from surrogates.solvers.lbm.geometry import (
    Obstacle,
    ball,
    box,
    cell_centres,
    cylinder,
    label_obstacles,
    random_obstacles,
)
from surrogates.solvers.lbm.lattice import Lattice, get_lattice
from surrogates.solvers.lbm.solver import Simulation, simulate
from surrogates.solvers.lbm.steady import (
    obstacle_distance,
    steady_state,
    upstream_wake,
    wall_weight,
)
from surrogates.solvers.lbm.units import LatticeUnits

__all__ = [
    "Config",
    "Simulation",
    "simulate",
    "steady_state",
    "obstacle_distance",
    "upstream_wake",
    "wall_weight",
    "strouhal",
    "Obstacle",
    "ball",
    "box",
    "cell_centres",
    "cylinder",
    "label_obstacles",
    "random_obstacles",
    "Lattice",
    "get_lattice",
    "LatticeUnits",
]

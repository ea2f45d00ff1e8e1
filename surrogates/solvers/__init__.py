"""Reference solvers that write the canonical dataset: particle-mesh N-body, spectral
Navier-Stokes, lattice Boltzmann. Each module registers itself in :mod:`.registry`."""

from surrogates.solvers.registry import SolverSpec, get, names, register

__all__ = ["SolverSpec", "get", "names", "register"]

"""Conversion between lattice and physical units.

The lattice has spacing ``dx`` (the physical cell size, equal on every axis) and time
step ``dt``; lattice quantities are dimensionless with ``dx = dt = rho_0 = 1``. Then

=================  ==========================================================
velocity           ``u = u_lat dx / dt``
time               ``t = n dt`` after ``n`` steps
kinematic visc.    ``nu = nu_lat dx^2 / dt``, ``nu_lat = (tau - 1/2) / 3``
pressure (gauge)   ``p = (rho_lat - 1) c_s^2 rho dx^2 / dt^2`` with ``c_s^2 = 1/3``
force (per depth)  ``F = F_lat rho dx^(d+1) / dt^2`` (``d = 2``: per unit depth)
=================  ==========================================================

``rho`` is the physical fluid density. ``dt`` follows either from the lattice velocity
that represents the physical reference speed (``dt = dx u_lat / U``) or from a chosen
relaxation time (``dt = nu_lat dx^2 / nu``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surrogates.solvers.lbm.lattice import CS2

__all__ = ["LatticeUnits", "relaxation_rates"]


@dataclass(frozen=True)
class LatticeUnits:
    """Physical size of one lattice spacing, step and the fluid density.

    Attributes
    ----------
    dx : float
        Cell size (length).
    dt : float
        Time step (time).
    density : float
        Physical density ``rho`` (mass / length^d).
    """

    dx: float
    dt: float
    density: float = 1.0

    @classmethod
    def from_velocity(cls, dx: float, speed: float, speed_lattice: float, density: float = 1.0):
        """Units in which the physical ``speed`` is ``speed_lattice`` on the lattice."""
        return cls(dx, dx * speed_lattice / speed, density)

    @classmethod
    def from_tau(cls, dx: float, nu: float, tau: float, density: float = 1.0):
        """Units in which the physical viscosity ``nu`` gives relaxation time ``tau``."""
        return cls(dx, (tau - 0.5) * CS2 * dx * dx / nu, density)

    @property
    def speed(self) -> float:
        """Physical velocity of one lattice unit, ``dx / dt``."""
        return self.dx / self.dt

    def velocity(self, u_lattice):
        """Physical velocity of a lattice velocity."""
        return np.asarray(u_lattice) * self.speed

    def to_lattice_velocity(self, u):
        """Lattice velocity of a physical velocity."""
        return np.asarray(u) / self.speed

    def pressure(self, rho_lattice):
        """Gauge pressure ``(rho_lat - 1) c_s^2 rho (dx/dt)^2`` of a lattice density."""
        return (np.asarray(rho_lattice) - 1.0) * CS2 * self.density * self.speed**2

    def viscosity_lattice(self, nu: float) -> float:
        """Lattice viscosity ``nu dt / dx^2`` of a physical kinematic viscosity."""
        return nu * self.dt / self.dx**2

    def tau(self, nu: float) -> float:
        """BGK relaxation time ``3 nu_lat + 1/2`` of a physical kinematic viscosity."""
        return self.viscosity_lattice(nu) / CS2 + 0.5

    def force(self, force_lattice, dim: int):
        """Physical force (per unit depth when ``dim = 2``) of a lattice force."""
        return np.asarray(force_lattice) * self.density * self.dx ** (dim + 1) / self.dt**2


def relaxation_rates(tau: float, collision: str, magic: float) -> tuple[float, float]:
    """Rates ``(omega_plus, omega_minus)`` of the even and odd parts.

    ``omega_plus = 1 / tau`` sets the viscosity. BGK uses ``omega_minus = omega_plus``;
    TRT chooses ``omega_minus`` so that ``(1/omega_plus - 1/2)(1/omega_minus - 1/2)``
    equals the magic parameter ``Lambda`` (1/4: best stability; 3/16: bounce-back walls
    exactly half-way for Poiseuille flow).
    """
    omega_plus = 1.0 / tau
    if collision == "bgk":
        return omega_plus, omega_plus
    return omega_plus, 1.0 / (magic / (tau - 0.5) + 0.5)

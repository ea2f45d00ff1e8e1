"""Physical constants shared by the solvers and the comparisons, in the units of the
canonical datasets."""

from __future__ import annotations

__all__ = ["RHO_CRIT"]

# Critical density today, 3 H0^2 / (8 pi G) with H0 = 100 h km/s/Mpc, in
# 1e10 (Msun/h) / (Mpc/h)^3 (the mass and length units of Gadget and of the pm solver).
RHO_CRIT = 27.7536627

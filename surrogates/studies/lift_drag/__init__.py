"""Lift and drag of obstacles along a long 3D channel, from a tiled steady-flow surrogate.

From the recipe ``datasets/obstacles-lbm-3d`` (shrunk as in ``notebooks/04-lift-and-drag``):

1. the lattice Boltzmann solver runs 4 m channel sections with three or four random balls
   and cubes at Re drawn in [10, 40] until their flow is steady, and one 8 m channel with six
   obstacles, none placed as in training (its own seed), at Re = 30, saving every 0.2 s
   from the start until it is steady too;
2. a ``vnet`` surrogate learns the steady flow ``p, u_x, u_y, u_z`` (time averages of the
   last frames, :func:`surrogates.solvers.lbm.steady_state`) from the undisturbed inflow
   ``u_inflow``, the obstacle ``mask``, the signed ``distance`` to the nearest obstacle and
   the obstacles upstream carried down the channel by a linear wake model (``wake_short``,
   ``wake_long``: :func:`surrogates.solvers.lbm.upstream_wake`), conditioned on ``Re``.
   The network sees 0.8 m around each cell; the wakes reach further (a body 1.2 m behind
   another meets fluid 30-40 % slower than the inflow), and without the wake inputs the
   drag of shielded bodies came out 12-23 % too high.
   The pressure is learned up to a constant (``gauge``): its level at a point depends on
   every obstacle down to the outlet, which no crop shows, and the force on a closed body
   does not see it. The loss weighs the fluid next to the obstacles 10x (whose
   pressure and shear are the force) and ignores their inside (``wall_weight``);
3. it is applied tile by tile along the long channel (2 m tiles, exact with the network's
   halo);
4. the drag and lift coefficient of every obstacle are computed with the same diagnostic
   (``surrogates.compare``, ``forces`` set) from the predicted and from the solver's
   steady fields, and from every frame the solver saved on its way there: the solver's
   wall time to get the drag as right as the surrogate does is the speedup at matched
   accuracy.

Why steady: at these Reynolds numbers (on the obstacle size) the flow past the obstacles
settles; before that, the frames carry the sound waves of the impulsive start (C_D
jumps by 10-50 % from frame to frame) which no surrogate of the flow can predict, and after
it, a time-stepping surrogate has nothing left to do but hold the state.

Usage::

    from surrogates import studies

    s = studies.settings("lift-drag", "laptop", changes=["fit.max_steps=300"])
    results = studies.run("lift-drag", s, "runs/studies/lift-drag")

Writes ``results.json``, ``results.md`` and three figures into the folder; the LBM
datasets stay there too and are reused by a later run with the same recipes. Measured
run time of ``full`` on the 2-core machine with 2 threads: 13 minutes (LBM 2½ min,
training 10 min, the surrogate on the long channel 0.3 s); ``quick``: about 10 s.
:func:`train_config` is the same training as a ``surrogates train`` run configuration.
"""

from surrogates.studies.lift_drag.config import TRAIN_HEADER, make_recipes, train_config
from surrogates.studies.lift_drag.settings import SIZES, Settings
from surrogates.studies.lift_drag.study import run

__all__ = ["SIZES", "TRAIN_HEADER", "Settings", "make_recipes", "run", "train_config"]

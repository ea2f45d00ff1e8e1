"""Study 2: a turbulence world model, three networks side by side.

From ``datasets/turbulence-ns``: DNS of forced isotropic turbulence (small periodic training
cubes, and one periodic box 2x larger per side), box-filtered to a ``factor`` x coarser
grid. A lead surrogate advances the coarse velocity by one stored frame (0.5 time units,
many solver steps), conditioned on the forcing amplitude. ``vnet`` and ``fno`` (ours) and
the ``neuraloperator`` package's FNO (``neuralop_fno``, an optional model of the package)
are trained on the same data with the same wall-clock budget, rolled out on the large box
with its true forcing schedule, and compared with the filtered DNS and with persistence:
relative L2 error versus rollout step, E(k) at the last step, the dissipation rate over
time, and the wall-clock speedup over the solver for the same simulated time.

Why 4x at the recipe's viscosity (the ``full`` size): coarse-graining pays where the
coarse grid cannot resolve the flow. At 2x on a nearly resolved DNS (sessions 4-5: nu =
0.04, 32^3; the ``laptop`` size) the solver run on the coarse grid itself was more
accurate than every network at 1.6x the vnet's cost; at 4x on the recipe's nu = 0.02
(k_max eta ~ 1 at 64^3) the coarse grid is under-resolved and the solver there piles up
energy at its smallest scales.

Loss: ``amse`` (amplitude-corrected spectral MSE, :mod:`surrogates.training.losses`) for
every model. A coarse cell spans 4 DNS cells per axis, so the smallest resolved scales
are driven by unresolved ones; a model trained on ``rel_l2`` predicts their mean and drops
their energy (the vnet's dissipation rate stays 24 % low from the first step), and AMSE
does not reward that. It suits the vnet; the FNOs do worse with it than with ``rel_l2``
(``docs/results.md``), but one loss for all keeps the comparison like for like.

The solver at lower cost, for the speedup at matched accuracy: the same Navier-Stokes
solver on a ladder of grids from twice the coarse grid down to half of it
(:func:`~surrogates.studies.turbulence.evaluate.solver_grids`), from the DNS's first frame
truncated to that grid, with the DNS's viscosity and forcing schedule
(``surrogates.solvers.ns.simulate_from``). Each run's frames are coarse-grained exactly
like the truth (Fourier-interpolated to the DNS grid, then the same box filter) and scored
like the models. A model's speedup at matched accuracy (mean dissipation-rate error) lies
between its cost ratio to the costliest run less accurate than it and to the cheapest run
at least as accurate.

Fair budget: :func:`surrogates.training.budget.fit_for_budget` (a calibration fit, then
``max_steps`` from the measured step cost and ``max_time = budget``). Same-size models
(the two FNOs) train on crops with ``fno_pad`` cells of context per side (the loss covers
all but a rim of ``halo`` cells) and are rolled out on tiles of the crop size blended over
that context, so that their windows have the training size (the Fourier modes are per
window, not per physical wavenumber).

Learning rates: each model has its own peak rate (``Settings.lr``), picked from a sweep
(3e-4 to 1e-2, and 3e-2 for our FNO) by the validation rollout's relative L2 error on the
training realisation the fit held out, never on the large box (a sweep's run sets
``lr.NAME=...``). The FNOs want 3-10x the vnet's rate: at the vnet's 1e-3 they were worse
than persistence from step 5 (``docs/results.md`` has the sweep).

Usage::

    from surrogates import studies

    s = studies.settings("turbulence", "full", changes=["models=['vnet']"])
    results = studies.run("turbulence", s, "runs/studies/turbulence")

Writes into the output folder: the DNS files (reused when their recipe matches), the
coarse training set ``coarse-train.nc`` (what :func:`train_config` points to),
``models/<name>/surrogate.pt``, ``results.json``, ``results.md`` and the figures. Sizes:
``quick`` under a minute; ``laptop`` about 6 minutes on 2 CPU cores; ``full`` about 32
minutes, 21 of them the DNS (4 min for the training boxes, 17 for the 128^3 box), which
later runs of the same sizes reuse. Two torch threads on a loaded 2-core machine can be
several times slower.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from surrogates.studies.turbulence.config import TRAIN_HEADER, train_config
from surrogates.studies.turbulence.settings import MODELS, SIZES, Settings

__all__ = ["MODELS", "SIZES", "TRAIN_HEADER", "Settings", "run", "train_config"]


def run(settings: Settings, out: Path) -> dict[str, Any]:
    """The whole study (module docstring) into the folder ``out``.

    Parameters
    ----------
    settings : Settings
        One of :data:`SIZES`, possibly changed (``surrogates.studies.settings``).
    out : pathlib.Path
        Output folder (created if missing); DNS files an earlier run left there are
        reused when their recipe is unchanged.

    Returns
    -------
    dict
        The results, also written to ``out/results.json`` (``out/results.md``: the
        tables): ``settings``, ``models`` (per model: training record, validation
        rollout, per-step scores, rollout seconds, speedup), ``persistence``,
        ``solvers`` (the solver ladder), timings in ``seconds``.

    Raises
    ------
    DataError, ModelError
        Bad settings or data (one line each).
    """
    from surrogates.studies.turbulence.study import run_study  # Lightning: imported here

    return run_study(settings, out)

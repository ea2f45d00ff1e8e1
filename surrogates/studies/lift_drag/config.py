"""What the settings make: the LBM recipes and the ``surrogates train`` run configuration."""

from __future__ import annotations

from typing import Any

from surrogates.solvers.recipe import Recipe, load_recipe
from surrogates.studies._common import recipe_folder
from surrogates.studies.lift_drag.settings import (
    FRAME,
    INPUTS,
    MODEL,
    PARAMS,
    STATE,
    Settings,
    fit_options,
)

__all__ = ["STEADY_SECTIONS", "TRAIN_HEADER", "make_recipes", "train_config"]

RECIPE = "obstacles-lbm-3d"
#: The steady state of the training sections, written by the study into its folder: the
#: training data of :func:`train_config`.
STEADY_SECTIONS = "steady-sections.nc"


#: The leading comment of ``cli/train-lift-drag.toml`` (``train_config(SIZES["full"])``).
TRAIN_HEADER = """\
Steady flow past obstacles in a 3D channel (the lift-and-drag study's surrogate): the
time-averaged p, u_x, u_y, u_z of a lattice Boltzmann run from the undisturbed inflow,
the obstacle mask, the distance to the nearest obstacle and two upstream-wake inputs,
conditioned on Re (surrogates.studies.lift_drag). The study writes the steady state of
its training sections to runs/studies/lift-drag/steady-sections.nc; run it first:

  surrogates study lift-drag --size full --out runs/studies/lift-drag   # ~13 min
  surrogates train cli/train-lift-drag.toml             # -> runs/lift-drag/surrogate.pt

Why steady: at these Reynolds numbers the flow settles, and the frames before it carry
start-up sound waves that no surrogate predicts. A two-level vnet (width 16, halo 20
cells = 0.8 m) sees whole 24-cell cross-sections; the pressure is learned up to a
constant (gauge), the fluid within 2 cells of an obstacle weighs 10x and the solid cells
nothing (loss_weight = "wall_weight"); only mirrors across the channel (y, z)."""


def make_recipes(s: Settings) -> tuple[Recipe, Recipe]:
    """The training sections' and the long channel's recipes (overrides of the dataset's).

    Returns
    -------
    (Recipe, Recipe)
        ``s.sections`` sections of ``(section_length * cells, cells, cells)`` cells run to
        the end of ``section_average``, and one channel of ``(2 * length * cells, cells,
        cells)`` cells (its own seed, 500) run to ``long_end``, saving every frame.
    """
    folder = recipe_folder(RECIPE)
    res = ", ".join(str(r) for r in s.train_re)  # uniform in [lo, hi]
    counts = ", ".join(str(c) for c in s.train_obstacles)
    train = load_recipe(
        folder,
        [f"shape=[{s.section_length * s.cells}, {s.cells}, {s.cells}]",
         f"size=[{float(s.section_length)}, 1.0, 1.0]", f"samples={s.sections}",
         f"sponge={0.2 / s.section_length}",  # 0.2 m before the outlet, as the recipe's
         "obstacle_region=[0.05, 0.85]", f"vary.obstacle_count={{values = [{counts}]}}",
         f"vary.reynolds={{uniform = [{res}]}}",
         f"spinup={s.section_average[0]}", f"t_end={s.section_average[1]}"],
    )  # fmt: skip
    long = load_recipe(
        folder,
        [f"shape=[{2 * s.length * s.cells}, {s.cells}, {s.cells}]",
         f"size=[{2.0 * s.length}, 1.0, 1.0]", "samples=1", "seed=500",
         f"obstacle_count={s.long_obstacles}", "obstacle_region=[0.05, 0.85]",
         f"sponge={0.1 / s.length}",  # the same 0.2 m before the outlet as in a section
         f"vary.reynolds={{values = [{s.re}]}}", f"spinup={FRAME}", f"t_end={s.long_end}"],
    )  # fmt: skip
    return train, long


def train_config(
    settings: Settings,
    study_out: str = "runs/studies/lift-drag",
    out_dir: str = "runs/lift-drag",
) -> dict[str, dict[str, Any]]:
    """The ``surrogates train`` run configuration of the study's surrogate.

    The same task, model and fit options as the study's own fit, on the steady sections
    the study writes (``STUDY_OUT/steady-sections.nc``): run the study first.

    Parameters
    ----------
    settings : Settings
        The study's settings (``SIZES["full"]`` for ``cli/train-lift-drag.toml``).
    study_out : str
        The study's output folder.
    out_dir : str
        Where ``surrogates train`` writes the surrogate.

    Returns
    -------
    dict
        Tables ``data``, ``task``, ``model``, ``train`` (see
        :func:`surrogates.training.load_config`); ``python -m surrogates.studies.configs``
        writes them to ``cli/train-lift-drag.toml``.
    """
    options = fit_options(settings, out_dir=out_dir)
    model = {"name": MODEL, **options.pop("model_config", {})}
    return {
        "data": {"path": f"{study_out}/{STEADY_SECTIONS}"},
        "task": {
            "inputs": list(INPUTS),
            "targets": list(STATE),
            "params": list(PARAMS),
            "residual": False,
        },  # fmt: skip
        "model": model,
        "train": options,
    }

"""Workflow 3: drag and lift of obstacles along a long 3D channel, from a tiled flow surrogate.

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

    .venv/bin/python workflows/lift_drag.py [--quick] [--out DIR] [--threads N]
                                            [--max-steps N]

Writes ``results.json``, ``results.md`` and three figures under ``--out`` (default
``runs/workflows/lift-drag``); the LBM datasets stay there too and are reused by a later run
with the same settings. Measured run time on the 2-core machine with 2 threads: 13
minutes (LBM 2½ min, training 10 min, the surrogate on the long channel 0.3 s); 10 s with
``--quick``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.ndimage
import xarray as xr
from common import (
    REPO,
    Stopwatch,
    generate,
    markdown_table,
    parse_args,
    write_results,
)

import surrogates
from surrogates import plot
from surrogates.diagnostics import (
    approach_velocity,
    force_coefficients,
    matched_frame,
    placement_distance,
)
from surrogates.errors import DataError, ModelError
from surrogates.solvers.lbm import steady_state
from surrogates.solvers.recipe import Recipe, load_recipe

RECIPE = REPO / "datasets" / "obstacles-lbm-3d"
STATE = ["p", "u_x", "u_y", "u_z"]
INPUTS = ["u_inflow", "mask", "distance", "wake_short", "wake_long"]
FRAME = 0.2  # seconds between stored frames (the recipe's save_every)
# coefficients of the field diagnostic -> the solver's names for them (momentum exchange)
COEFFICIENTS = {"C_D": "drag", "C_L": "lift", "C_S": "side"}


@dataclass(frozen=True)
class Settings:
    """Sizes of the study (those of ``notebooks/04-lift-and-drag``).

    Attributes
    ----------
    cells : int
        Cells across the 1 m channel (the recipe has 32).
    section_length : int
        Training sections are ``section_length`` x 1 m x 1 m.
    sections : int
        Training sections.
    train_re : tuple of float
        Range of the sections' Reynolds numbers, drawn uniformly (the recipe's 60 is
        unstable at 24 cells across over the 7 s these runs need).
    length : int
        The long channel is ``length`` x 2 m.
    re : float
        Reynolds number of the long channel (inside the training range, not one of it).
    section_average : tuple of float
        Seconds: the window the sections' steady state is averaged over.
    long_end, long_average : float
        Seconds: the long channel's run and the final stretch of it averaged.
    train_obstacles : tuple of int
        Obstacles per training section (cycled over the sections, in the band 5-85 % of
        their length: about as many per metre as the long channel has).
    long_obstacles : int
        Obstacles in the long channel.
    fit : dict
        Keyword arguments of :func:`surrogates.fit`.
    """

    cells: int
    section_length: int
    sections: int
    train_re: tuple[float, float]
    length: int
    re: float
    section_average: tuple[float, float]
    long_end: float
    long_average: float
    train_obstacles: tuple[int, ...]
    long_obstacles: int
    fit: dict[str, Any] = field(default_factory=dict)

    @property
    def tile(self) -> tuple[int, int, int]:
        """Rollout tile: 2 m of channel, the whole cross-section."""
        return (2 * self.cells, self.cells, self.cells)


def make_settings(quick: bool, max_steps: int | None = None) -> Settings:
    """The notebook's settings (``quick``: its test-suite sizes), with optional overrides."""
    cells = 16 if quick else 24
    fit = dict(
        crop=cells,  # whole cross-sections: the halo (20 cells) is read anyway
        pad_mode="reflect",  # wall and open faces: padded as the rollout pads them
        gauge=["p"],  # pressure up to a constant (module docstring)
        loss_weight="wall_weight",  # 0 in solids, 10x in the 2 cells next to them
        symmetries=["y", "z"],  # mirrors across the channel; never x (the flow direction)
        batch_size=2,
        max_steps=10 if quick else 2000,
        lr=2e-3,
        val_fraction=0.34 if quick else 0.15,
        val_every=5 if quick else 250,
        val_batches=2 if quick else 8,
        model_config=dict(width=4 if quick else 16, levels=2, blocks=1),
        progress=not quick,
    )
    s = Settings(
        cells=cells, section_length=4, sections=3 if quick else 32,
        train_re=(10.0, 40.0), length=4, re=30.0,
        section_average=(0.4, 0.6) if quick else (6.0, 7.0),
        long_end=1.0 if quick else 12.0, long_average=0.4 if quick else 2.0,
        train_obstacles=(3, 4), long_obstacles=3 if quick else 6, fit=fit,
    )  # fmt: skip
    if max_steps is not None:
        if max_steps < 1:
            raise DataError(f"--max-steps: expected a positive number, got {max_steps}")
        s = replace(s, fit={**fit, "max_steps": max_steps})
    return s


def make_recipes(s: Settings) -> tuple[Recipe, Recipe]:
    """The training sections' and the long channel's recipes (overrides of the dataset's)."""
    res = ", ".join(str(r) for r in s.train_re)  # uniform in [lo, hi]
    counts = ", ".join(str(c) for c in s.train_obstacles)
    train = load_recipe(
        RECIPE,
        [f"shape=[{s.section_length * s.cells}, {s.cells}, {s.cells}]",
         f"size=[{float(s.section_length)}, 1.0, 1.0]", f"samples={s.sections}",
         f"sponge={0.2 / s.section_length}",  # 0.2 m before the outlet, as the recipe's
         "obstacle_region=[0.05, 0.85]", f"vary.obstacle_count={{values = [{counts}]}}",
         f"vary.reynolds={{uniform = [{res}]}}",
         f"spinup={s.section_average[0]}", f"t_end={s.section_average[1]}"],
    )  # fmt: skip
    long = load_recipe(
        RECIPE,
        [f"shape=[{2 * s.length * s.cells}, {s.cells}, {s.cells}]",
         f"size=[{2.0 * s.length}, 1.0, 1.0]", "samples=1", "seed=500",
         f"obstacle_count={s.long_obstacles}", "obstacle_region=[0.05, 0.85]",
         f"sponge={0.1 / s.length}",  # the same 0.2 m before the outlet as in a section
         f"vary.reynolds={{values = [{s.re}]}}", f"spinup={FRAME}", f"t_end={s.long_end}"],
    )  # fmt: skip
    return train, long


def training_distance(long_mask: np.ndarray, train_masks: np.ndarray, section: int) -> list[int]:
    """For each body of the long channel, the distance (cells) to the nearest training body
    (:func:`surrogates.diagnostics.placement_distance` with the rollout tile as section)."""
    return placement_distance(long_mask, train_masks, section)


def train(data: xr.Dataset, s: Settings, out: Path) -> surrogates.Surrogate:
    """Fit the steady-flow ``vnet``: (``INPUTS``; Re) -> (p, u_x, u_y, u_z)."""
    task = surrogates.Task(inputs=INPUTS, targets=STATE, params=["Re"])
    if out.exists():  # checkpoints of an earlier run would be mistaken for this one's
        shutil.rmtree(out)
    return surrogates.fit(data, task, model="vnet", out_dir=str(out), **s.fit)


def body_obstacles(truth: xr.Dataset, bodies: np.ndarray) -> dict[int, int]:
    """Which of the solver's obstacles (``attrs["obstacles"]``) each body label is.

    Raises
    ------
    DataError
        If the bodies of the mask and the solver's obstacles do not match one to one.
    """
    obstacles = json.loads(truth.attrs["obstacles"])
    labels, _ = scipy.ndimage.label(truth["mask"].isel(sample=0).values > 0.5)
    dx = float(truth.attrs["dx"])
    found = {
        int(labels[tuple(int(c / dx) for c in o["center"])]): k for k, o in enumerate(obstacles)
    }
    if sorted(found) != sorted(int(b) for b in bodies) or len(found) != len(obstacles):
        raise DataError(
            f"long channel: bodies {sorted(int(b) for b in bodies)} of the mask do not match"
            f" the solver's {len(obstacles)} obstacles (centre labels {sorted(found)})"
        )
    return found


def solver_history(run: xr.Dataset, u_mean: float) -> xr.Dataset:
    """C_D and C_L ``(time, body)`` from every frame the solver saved (the field diagnostic
    that :func:`surrogates.compare` applies to the steady and the predicted fields)."""
    frames = run.isel(sample=0)
    mask = frames["mask"].values > 0.5
    coeffs = force_coefficients(
        *(frames[v] for v in STATE), mask=mask, velocity=u_mean,
        nu=float(run.attrs["viscosity"]),
    )  # fmt: skip
    times = xr.DataArray(frames["time"].values, dims="time", attrs={"units": "s"})
    return coeffs[list(COEFFICIENTS)].assign_coords(time=times).load()


def drag_errors(c_d: xr.DataArray, c_d_true: xr.DataArray) -> dict[str, Any]:
    """Mean and largest magnitude over the bodies of the relative C_D error (per time)."""
    rel = (c_d / c_d_true - 1).transpose(..., "body")
    return {
        "mean": np.abs(rel).mean("body").values.tolist(),
        "max": np.abs(rel).max("body").values.tolist(),
    }


def field_errors(prediction: xr.Dataset, truth: xr.Dataset) -> dict[str, float]:
    """Relative L2 error of each steady field; for the pressure, of its gradient.

    The pressure is learned up to an offset (``gauge``), and what the surrogate cannot
    know, the staircase of pressure drops across the obstacles downstream, dominates its
    level; the gradient is what moves the fluid and loads the bodies.
    """
    out = {}
    for v in STATE:
        a = np.asarray(prediction[v].values, dtype=np.float64)
        b = np.asarray(truth[v].values, dtype=np.float64)
        if v == "p":
            axes = tuple(range(a.ndim - 3, a.ndim))
            a, b = np.stack(np.gradient(a, axis=axes)), np.stack(np.gradient(b, axis=axes))
            v = "grad p"
        out[v] = float(np.linalg.norm(a - b) / np.linalg.norm(b))
    return out


def obstacle_rows(
    result: xr.Dataset, truth: xr.Dataset, prediction: xr.Dataset, distance: list[int], equal: str
) -> list[dict]:
    """One row per obstacle, sorted along the channel: steady coefficients, LBM and models."""
    obstacles = json.loads(truth.attrs["obstacles"])
    r = result.isel(sample=0, time=-1)
    mask = truth["mask"].isel(sample=0).values > 0.5
    ahead = [
        approach_velocity(f["u_x"].isel(sample=0, time=-1).values, mask)
        for f in (truth, prediction)
    ]
    # the solver's momentum-exchange coefficients use the obstacle's nominal frontal area,
    # the field diagnostic the cells' projection: both on the latter, so they compare
    solver_area = np.asarray(truth.attrs["force_reference"], dtype=float)
    rows = []
    for body, k in body_obstacles(truth, result["body"].values).items():
        lbm = {c: float(r[f"{c}_truth"].sel(body=body)) for c in COEFFICIENTS}
        model = {c: float(r[c].sel(model="surrogate", body=body)) for c in COEFFICIENTS}
        cd_lbm, cd, cl_lbm, cl = lbm["C_D"], model["C_D"], lbm["C_L"], model["C_L"]
        to_area = float(solver_area[k] / r["force_reference"].sel(body=body))
        solver = {
            c: float(truth[f"{name}_coefficient_{k}"].isel(sample=0)) * to_area
            for c, name in COEFFICIENTS.items()
        }
        cd_equal = float(r["C_D"].sel(model=equal, body=body))
        rows.append({
            "body": body, "kind": obstacles[k]["kind"],
            "x [m]": round(obstacles[k]["center"][0], 3),
            "y [m]": round(obstacles[k]["center"][1], 3),
            "z [m]": round(obstacles[k]["center"][2], 3),
            "size [m]": round(obstacles[k]["size"][0], 3),
            "C_D LBM": cd_lbm, "C_D surrogate": cd, "C_D rel. error": cd / cd_lbm - 1,
            "C_D rel. error, LBM at equal cost": cd_equal / cd_lbm - 1,
            "C_L LBM": cl_lbm, "C_L surrogate": cl,
            # C_L is near zero for centred bodies: its error relative to the drag instead
            "C_L error / C_D LBM": (cl - cl_lbm) / abs(cd_lbm),
            "C_S LBM": lbm["C_S"], "C_S surrogate": model["C_S"],
            "C_S error / C_D LBM": (model["C_S"] - lbm["C_S"]) / abs(cd_lbm),
            # the flow met 0.25 m ahead: below the inflow's in a wake, what sets the drag
            "u_x ahead LBM": ahead[0][body - 1],
            "u_x ahead surrogate / LBM": ahead[1][body - 1] / ahead[0][body - 1],
            # the same steady LBM flow, force by the solver's momentum exchange: how far
            # two consistent estimates of one field's force lie apart at this resolution
            "C_D LBM (solver)": solver["C_D"], "C_L LBM (solver)": solver["C_L"],
            "C_S LBM (solver)": solver["C_S"],
            "nearest training placement [cells]": distance[body - 1],
        })  # fmt: skip
    return sorted(rows, key=lambda row: row["x [m]"])


def force_spread(rows: list[dict]) -> list[dict]:
    """Mean absolute difference of each coefficient over the bodies, in units of their C_D.

    Two rows: the surrogate against the LBM (the same field diagnostic on both), and the
    field diagnostic against the solver's momentum exchange on the same LBM flow. The
    second is how well one steady field pins a body's force at this resolution (a ball is
    6-8 cells across): a surrogate error below it is below what the field can tell.
    """
    pairs = {
        "surrogate vs LBM (field diagnostic)": ("surrogate", "LBM"),
        "field diagnostic vs momentum exchange (LBM)": ("LBM", "LBM (solver)"),
    }
    out = []
    for what, (a, b) in pairs.items():
        row: dict[str, Any] = {"what": what}
        for c in COEFFICIENTS:
            diff = [abs(r[f"{c} {a}"] - r[f"{c} {b}"]) / abs(r["C_D LBM"]) for r in rows]
            row[f"mean abs. Δ{c} / C_D"] = float(np.mean(diff))
        out.append(row)
    return out


def history_result(history: xr.Dataset, result: xr.Dataset) -> xr.Dataset:
    """The solver's coefficients over its run as the "truth" of a force plot, with the
    surrogate's steady values drawn as flat lines beside them."""
    steady = result.isel(sample=0, time=-1)[list(COEFFICIENTS)].sel(model=["surrogate"])
    out = xr.Dataset({f"{c}_truth": history[c] for c in COEFFICIENTS})
    for c in COEFFICIENTS:
        out[c] = steady[c].drop_vars("time", errors="ignore").broadcast_like(history[c])
    return out


def figures(
    history: xr.Dataset, result: xr.Dataset, truth: xr.Dataset, prediction: xr.Dataset,
    matched: dict, out: Path,
) -> list[Path]:  # fmt: skip
    """Matched accuracy, C_D / C_L / C_S of the solver's run against the surrogate's, a u_x
    slice."""
    paths = [out / "matched_accuracy.png", out / "force_coefficients.png",
             out / "velocity_slice.png"]  # fmt: skip
    drawn = [
        plot.matched_accuracy(
            matched["lbm_seconds"], matched["lbm_error"],
            {"surrogate": (matched["surrogate_seconds"], matched["surrogate_error"])},
            solver="LBM, from its saved frames", quantity="mean abs. C_D error (relative)",
        ),
        plot.force_coefficients(history_result(history, result)),
        plot.slices(truth["u_x"], prediction["u_x"], axis="z", isel={"sample": 0, "time": -1},
                    title="steady u_x [m/s] in the mid-plane z = 0.5 m"),
    ]  # fmt: skip
    for fig, path in zip(drawn, paths, strict=True):
        fig.savefig(path, dpi=110)
    return paths


def extra_args(parser: argparse.ArgumentParser) -> None:
    """``--max-steps``."""
    parser.add_argument("--max-steps", type=int, default=None,
                        help="training steps (2000; quick 10)")  # fmt: skip


def markdown(results: dict) -> str:
    """The results as Markdown: settings, one row per obstacle, fields, speedups, timings."""
    s, t = results["settings"], results["seconds"]
    m = results["matched_accuracy"]
    fields = [{"model": k, **v} for k, v in results["field_errors"].items()]
    drag = [{"model": k, **v} for k, v in results["drag_error"].items()]
    timing = [{"what": k, "seconds": v} for k, v in t.items()]
    clash = results["coinciding_obstacles"]
    matched = (
        f"the LBM's drag stays as close to its steady value as the surrogate's (mean abs."
        f" error {m['surrogate_error']:.3g}) from t = {m['lbm_time']:.3g} s, after"
        f" {m['lbm_seconds_matched']:.3g} s of wall time: **{m['speedup']:.3g}x**"
        if m["speedup"] is not None
        else "the LBM's saved frames never get the drag as close as the surrogate does"
    )
    lines = [
        "# Workflow 3: lift and drag along a long channel (steady flow)",
        "",
        f"Sections {s['section_length'] * s['cells']}x{s['cells']}x{s['cells']} cells"
        f" ({s['sections']}, Re"
        f" {s['train_re'][0]:g}-{s['train_re'][1]:g}, averaged over t ="
        f" {s['section_average'][0]}..{s['section_average'][1]} s, drift"
        f" {results['steady_drift']['sections']:.2g}); long channel {results['long_shape']}"
        f" cells, {len(results['obstacles'])} obstacles, Re {s['re']}, steady state averaged"
        f" over the last {s['long_average']} s of {s['long_end']} s (drift"
        f" {results['steady_drift']['long']:.2g}); model {results['model']}"
        f" ({results['training_steps']} steps), tiles {results['tile']}.",
        "",
        "## Obstacles (steady state)",
        "",
        markdown_table(results["obstacles"]),
        "",
        "Obstacles placed as in training (nearest placement 0 cells):"
        f" {clash if clash else 'none'}.",
        "",
        "## Force estimates: the surrogate's error beside the spread of two LBM estimates",
        "",
        markdown_table(results["force_spread"]),
        "",
        "## Drag error over the obstacles (relative)",
        "",
        markdown_table(drag),
        "",
        "## Relative L2 error of the steady fields (the pressure's gradient)",
        "",
        markdown_table(fields),
        "",
        "## Speedup",
        "",
        f"Surrogate {results['seconds']['rollout']:.3g} s for the whole channel (tiled); LBM"
        f" {results['lbm_seconds']:.3g} s to t = {s['long_end']} s:"
        f" {results['speedup']:.3g}x. At matched accuracy: {matched}. Training (LBM sections"
        f" and fit) is not included: it is paid once for every channel of this family.",
        "",
        markdown_table(timing),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Run the study; return the results written to ``OUT/results.json``."""
    args = parse_args(__doc__.splitlines()[0], "runs/workflows/lift-drag", argv, extra_args)
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)  # the LBM solver runs numba-parallel sweeps
    s = make_settings(args.quick, args.max_steps)
    out, watch = args.out, Stopwatch()
    train_recipe, long_recipe = make_recipes(s)
    with watch("total"):
        print(f"LBM: {s.sections} training sections, then the long channel (to t = {s.long_end} s)")
        lbm_train = generate(train_recipe, out / "sections.nc")
        lbm_long = generate(long_recipe, out / "long.nc")
        sections = steady_state(surrogates.open_dataset(out / "sections.nc"))
        run = surrogates.open_dataset(out / "long.nc")
        truth = steady_state(run, since=s.long_end - s.long_average)
        distance = training_distance(
            truth["mask"].isel(sample=0).values > 0.5,
            sections["mask"].values > 0.5,
            sections.sizes["x"],
        )
        clash = [i + 1 for i, d in enumerate(distance) if d == 0]
        if clash:
            print(f"WARNING: long-channel bodies {clash} are placed as in training")
        with watch("fit"):
            model = train(sections, s, out / "model")
        state = truth[[*INPUTS, "Re"]].load()
        surrogates.rollout(model, state, tile=s.tile, progress=False)  # warm-up, not timed
        with watch("rollout"):  # the time of a second channel: torch's set-up is paid
            prediction = surrogates.rollout(model, state, tile=s.tile, progress=False)
        prediction = prediction.expand_dims(time=truth["time"].values).transpose(
            "sample", "time", ...
        )
        lbm_seconds = lbm_long["seconds"]
        # The solver at the cost of the surrogate: its first saved frame that costs as much
        times = run["time"].values
        cost = lbm_seconds * times / s.long_end  # the LBM's cost grows with simulated time
        frame = int(np.searchsorted(cost, watch.seconds["rollout"]))
        frame = min(frame, len(times) - 1)
        equal = f"LBM at equal cost (t = {times[frame]:.3g} s)"
        early = run[STATE].isel(time=[frame]).assign_coords(time=truth["time"].values)
        u_mean = float(truth["U"].values[0]) * 2 / 3  # mean of the parabolic inflow
        with watch("compare"):
            result = surrogates.compare(
                prediction, truth, diagnostics=["metrics", "forces"], U=u_mean,
                baselines={equal: early},
            )  # fmt: skip
            history = solver_history(run, u_mean)
        rows = obstacle_rows(result, truth, prediction, distance, equal)
        steady = result.isel(sample=0, time=-1)
        drag = {
            name: drag_errors(steady["C_D"].sel(model=name), steady["C_D_truth"])
            for name in ("surrogate", equal)
        }
        lbm_error = drag_errors(history["C_D"], steady["C_D_truth"])["mean"]
        target = drag["surrogate"]["mean"]
        first = matched_frame(lbm_error, target)
        matched = {
            "lbm_seconds": cost.tolist(), "lbm_error": lbm_error,
            "surrogate_seconds": watch.seconds["rollout"], "surrogate_error": target,
            "lbm_seconds_matched": None if first is None else float(cost[first]),
            "lbm_time": None if first is None else float(times[first]),
            "speedup": None if first is None else float(cost[first]) / watch.seconds["rollout"],
        }  # fmt: skip
        paths = figures(history, result, truth, prediction, matched, out)
    provenance = model.metadata.provenance
    results = {
        "quick": args.quick,
        "threads": args.threads,
        "settings": {k: v for k, v in asdict(s).items() if k != "fit"},
        "fit": {k: v for k, v in s.fit.items() if k != "progress"},
        "model": provenance["model"],
        "training_steps": provenance["steps"],
        "tile": list(s.tile),
        "long_shape": list(truth["mask"].shape[1:]),
        "rollout_plan": str(prediction.attrs.get("rollout_plan", "")),
        "steady_drift": {
            "sections": sections.attrs["steady_drift"],
            "long": truth.attrs["steady_drift"],
        },  # fmt: skip
        "obstacles": rows,
        "coinciding_obstacles": clash,
        "drag_error": drag,
        "force_spread": force_spread(rows),
        "field_errors": {
            "surrogate": field_errors(prediction, truth),
            equal: field_errors(early, truth),
        },
        "lbm_seconds": lbm_seconds,
        "speedup": lbm_seconds / watch.seconds["rollout"],
        "matched_accuracy": matched,
        "coefficients_history": {
            "time": history["time"].values.tolist(),
            **{c: history[c].transpose("body", "time").values.tolist() for c in COEFFICIENTS},
        },
        "seconds": {
            "lbm_sections": lbm_train["seconds"],
            "lbm_long": lbm_seconds,
            "fit": watch.seconds["fit"],
            "rollout": watch.seconds["rollout"],
            "compare": watch.seconds["compare"],
            "total": watch.seconds["total"],
        },
        # reused: the dataset (and its timing) came from an earlier run with these settings
        "lbm_runs": {
            name: {k: v for k, v in r.items() if k != "fingerprint"}
            for name, r in (("sections", lbm_train), ("long", lbm_long))
        },
        "figures": [p.name for p in paths],
    }
    json_path, md_path = write_results(out, results, markdown(results))
    print(markdown_table(rows))
    at_matched = "never" if matched["speedup"] is None else f"{matched['speedup']:.3g}x"
    print(f"speedup {results['speedup']:.3g}x, at matched drag accuracy {at_matched};"
          f" total {watch.seconds['total']:.0f} s")  # fmt: skip
    print(f"results: {json_path}, {md_path}")
    print(f"figures: {', '.join(str(p) for p in paths)}")
    print(f"data: {out / 'sections.nc'}, {out / 'long.nc'}; model: {out / 'model'}")
    return results


if __name__ == "__main__":
    try:
        main()
    except (DataError, ModelError) as err:  # bad input: one line, no traceback
        raise SystemExit(f"lift_drag: {err}") from None

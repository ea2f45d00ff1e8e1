"""Workflow 3: drag and lift of obstacles along a long 3D channel, from a tiled flow surrogate.

From the recipe ``datasets/obstacles-lbm-3d`` (shrunk as in ``notebooks/04-lift-and-drag``):

1. the lattice Boltzmann solver simulates short channel sections with random balls and
   cubes at Re = 10, 30, 60, and one channel ``LENGTH`` times longer with more obstacles,
   none placed as in training (its own seed), at Re = 30;
2. a ``vnet`` surrogate learns to advance ``p, u_x, u_y, u_z`` by one stored frame (0.2 s),
   with the obstacle ``mask`` as a static input and ``Re`` as a parameter;
3. it is rolled out tile by tile along the long channel from the solver's state at ``START``;
4. the drag and lift coefficient of every obstacle are computed with the same diagnostic
   (``surrogates.compare``, ``forces`` set) from the predicted and from the solver's fields.

Usage::

    .venv/bin/python workflows/lift_drag.py [--quick] [--out DIR] [--threads N]
                                            [--steps N] [--max-steps N]

Writes ``results.json``, ``results.md`` and three figures under ``--out`` (default
``runs/workflows/lift-drag``); the LBM datasets stay there too and are reused by a later run
with the same settings. Measured run time with ``--threads 1`` on a shared 2-core machine:
about a minute by default (LBM 25 s, training 21 s), 10 s with ``--quick``.
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
    persistence,
    write_results,
)

import surrogates
from surrogates import plot
from surrogates.errors import DataError, ModelError
from surrogates.solvers.recipe import Recipe, load_recipe

RECIPE = REPO / "datasets" / "obstacles-lbm-3d"
STATE = ["p", "u_x", "u_y", "u_z"]
FRAME = 0.2  # seconds between stored frames (the recipe's save_every): one surrogate step


@dataclass(frozen=True)
class Settings:
    """Sizes of the study (those of ``notebooks/04-lift-and-drag``).

    Attributes
    ----------
    cells : int
        Cells across the 1 m channel (the recipe has 32); sections are ``2 cells`` long.
    sections : int
        Training sections (Re cycles through 10, 30, 60).
    length : int
        The long channel is ``length`` x 2 m.
    re : float
        Reynolds number of the long channel (inside the training range).
    spinup, t_train, start : float
        Seconds: first stored frame of the sections, their end, and the long channel's frame
        the rollout starts from (when the start-up pressure waves have mostly left).
    steps : int
        Rollout steps (frames of 0.2 s) along the long channel.
    train_obstacles, long_obstacles : int
        Obstacles per training section and in the long channel.
    fit : dict
        Keyword arguments of :func:`surrogates.fit`.
    """

    cells: int
    sections: int
    length: int
    re: float
    spinup: float
    t_train: float
    start: float
    steps: int
    train_obstacles: int
    long_obstacles: int
    fit: dict[str, Any] = field(default_factory=dict)

    @property
    def t_long(self) -> float:
        """End time of the long channel's LBM run (s)."""
        return round(self.start + FRAME * self.steps, 6)

    @property
    def tile(self) -> tuple[int, int, int]:
        """Rollout tile: one training section's length, the whole cross-section."""
        return (2 * self.cells, self.cells, self.cells)


def make_settings(quick: bool, steps: int | None = None, max_steps: int | None = None) -> Settings:
    """The notebook's settings (``quick``: its test-suite sizes), with optional overrides."""
    fit = dict(
        crop=8,
        pad_mode="reflect",  # wall and open faces: padded as the rollout pads them
        unroll=1,
        batch_size=4,
        max_steps=10 if quick else 400,
        lr=1e-3,
        symmetries=False,  # the inflow direction is fixed
        val_fraction=0.5 if quick else 0.2,
        val_every=5 if quick else 50,
        val_batches=2 if quick else 16,
        model_config=dict(width=4 if quick else 16, levels=1, blocks=1),
        progress=not quick,
    )
    spinup, t_train, start = (0.4, 1.0, 0.4) if quick else (1.0, 3.0, 2.0)
    s = Settings(
        cells=16 if quick else 24, sections=2 if quick else 6, length=4, re=30.0,
        spinup=spinup, t_train=t_train, start=start, steps=3 if quick else 10,
        train_obstacles=2 if quick else 3, long_obstacles=3 if quick else 6, fit=fit,
    )  # fmt: skip
    if steps is not None:
        if steps < 1:
            raise DataError(f"--steps: expected a positive number of rollout steps, got {steps}")
        s = replace(s, steps=steps)
    if max_steps is not None:
        if max_steps < 1:
            raise DataError(f"--max-steps: expected a positive number, got {max_steps}")
        s = replace(s, fit={**fit, "max_steps": max_steps})
    return s


def make_recipes(s: Settings) -> tuple[Recipe, Recipe]:
    """The training sections' and the long channel's recipes (overrides of the dataset's)."""
    train = load_recipe(
        RECIPE,
        [f"shape=[{2 * s.cells}, {s.cells}, {s.cells}]", f"samples={s.sections}",
         f"obstacle_count={s.train_obstacles}", f"spinup={s.spinup}", f"t_end={s.t_train}"],
    )  # fmt: skip
    long = load_recipe(
        RECIPE,
        [f"shape=[{2 * s.length * s.cells}, {s.cells}, {s.cells}]",
         f"size=[{2.0 * s.length}, 1.0, 1.0]", "samples=1", "seed=500",
         f"obstacle_count={s.long_obstacles}", "obstacle_region=[0.05, 0.85]",
         f"sponge={0.1 / s.length}",  # the same 0.2 m before the outlet as in a section
         f"vary.reynolds={{values = [{s.re}]}}", f"spinup={s.start}", f"t_end={s.t_long}"],
    )  # fmt: skip
    return train, long


def body_boxes(mask: np.ndarray) -> list[np.ndarray]:
    """Bounding box ``[[lo, hi] per axis]`` (cells, inclusive) of each body of ``mask``.

    Bodies are the face-connected components, labelled as the force diagnostic labels them.
    """
    labels, _ = scipy.ndimage.label(mask)
    return [
        np.array([[s.start, s.stop - 1] for s in box]) for box in scipy.ndimage.find_objects(labels)
    ]


def training_distance(long_mask: np.ndarray, train_masks: np.ndarray, section: int) -> list[int]:
    """For each body of the long channel, the distance (cells) to the nearest training body.

    A placement is a body's bounding box with its x taken relative to the rollout tile it
    falls in (``x mod section``): the distance is the largest difference of any box corner
    over the three axes, so 0 means the same cells in the same place of a tile as an
    obstacle seen in training (of the same size), and 1 a shift or resize by one cell.
    """
    seen = [b for m in train_masks for b in body_boxes(m)]
    out = []
    for box in body_boxes(long_mask):
        rel = box.copy()
        rel[0] -= (box[0, 0] // section) * section
        out.append(int(min(np.abs(rel - b).max() for b in seen)))
    return out


def train(data: xr.Dataset, s: Settings, out: Path) -> surrogates.training.Surrogate:
    """Fit the lead-1, residual ``vnet`` with the static mask input, conditioned on Re."""
    task = surrogates.Task(
        inputs=[*STATE, "mask"], targets=STATE, params=["Re"], lead=1, residual=True
    )
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


def obstacle_rows(result: xr.Dataset, truth: xr.Dataset, distance: list[int]) -> list[dict]:
    """One row per obstacle, sorted along the channel: coefficients averaged over steps 1..N.

    Step 0 is the common initial state and is left out of the means.
    """
    obstacles = json.loads(truth.attrs["obstacles"])
    mean = result.isel(sample=0, time=slice(1, None)).mean("time")
    times = result["time"].values[1:]
    frames = truth.isel(sample=0).sel(time=times, method="nearest", tolerance=0.1 * FRAME)
    frames = frames.mean("time")
    rows = []
    for body, k in body_obstacles(truth, result["body"].values).items():
        cd = {m: float(mean["C_D"].sel(model=m, body=body)) for m in ("surrogate", "persistence")}
        cd_lbm = float(mean["C_D_truth"].sel(body=body))
        cl_lbm = float(mean["C_L_truth"].sel(body=body))
        cl = float(mean["C_L"].sel(model="surrogate", body=body))
        rows.append({
            "body": body, "kind": obstacles[k]["kind"],
            "x [m]": round(obstacles[k]["center"][0], 3),
            "y [m]": round(obstacles[k]["center"][1], 3),
            "z [m]": round(obstacles[k]["center"][2], 3),
            "size [m]": round(obstacles[k]["size"][0], 3),
            "C_D LBM": cd_lbm, "C_D surrogate": cd["surrogate"],
            "C_D rel. error": cd["surrogate"] / cd_lbm - 1,
            "C_D rel. error persistence": cd["persistence"] / cd_lbm - 1,
            "C_L LBM": cl_lbm, "C_L surrogate": cl,
            # C_L is near zero for centred bodies: its error relative to the drag instead
            "C_L error / C_D LBM": (cl - cl_lbm) / abs(cd_lbm),
            "C_D LBM (solver)": float(frames[f"drag_coefficient_{k}"]),
            "nearest training placement [cells]": distance[body - 1],
        })  # fmt: skip
    return sorted(rows, key=lambda r: r["x [m]"])


def series(result: xr.Dataset) -> dict[str, dict[str, list[float]]]:
    """Per body: C_D and C_L at every saved step, LBM and surrogate (the figure's numbers)."""
    r = result.isel(sample=0)
    out = {}
    for body in r["body"].values:
        b = r.sel(body=body)
        out[str(int(body))] = {
            "C_D LBM": b["C_D_truth"].values.tolist(),
            "C_D surrogate": b["C_D"].sel(model="surrogate").values.tolist(),
            "C_L LBM": b["C_L_truth"].values.tolist(),
            "C_L surrogate": b["C_L"].sel(model="surrogate").values.tolist(),
        }
    return out


def step_errors(result: xr.Dataset) -> dict[str, dict[str, list[float]]]:
    """Relative L2 error of each field per rollout step (index 0: the initial state)."""
    error = result["relative_l2"].isel(sample=0)
    return {
        str(m): {v: error.sel(model=m, variable=v).values.tolist() for v in STATE}
        for m in result["model"].values
    }


def figures(result: xr.Dataset, truth: xr.Dataset, prediction: xr.Dataset, out: Path) -> list:
    """C_D / C_L over time per obstacle, a u_x slice (LBM vs surrogate), errors per step."""
    paths = [out / "force_coefficients.png", out / "velocity_slice.png", out / "errors.png"]
    drawn = [
        plot.force_coefficients(result),
        plot.slices(truth["u_x"], prediction["u_x"], axis="z", isel={"sample": 0, "time": -1},
                    title="u_x [m/s] in the mid-plane z = 0.5 m after the last step"),
        plot.error_vs_step(result, "relative_l2"),
    ]  # fmt: skip
    for fig, path in zip(drawn, paths, strict=True):
        fig.savefig(path, dpi=110)
    return paths


def extra_args(parser: argparse.ArgumentParser) -> None:
    """``--steps`` and ``--max-steps``."""
    parser.add_argument("--steps", type=int, default=None, help="rollout steps (10; quick 3)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="training steps (400; quick 10)")  # fmt: skip


def markdown(results: dict) -> str:
    """The results as Markdown: settings, one row per obstacle, errors per step, timings."""
    s, t = results["settings"], results["seconds"]
    errors = results["relative_l2"]
    steps = [
        {"step": i, **{f"{v} {m}": errors[m][v][i] for m in errors for v in STATE}}
        for i in range(s["steps"] + 1)
    ]
    timing = [{"what": k, "seconds": v} for k, v in t.items()]
    clash = results["coinciding_obstacles"]
    lines = [
        "# Workflow 3: lift and drag along a long channel",
        "",
        f"Sections {2 * s['cells']}x{s['cells']}x{s['cells']} cells ({s['sections']}, Re 10/30/60);"
        f" long channel {results['long_shape']} cells, {len(results['obstacles'])} obstacles,"
        f" Re {s['re']}; rollout from t = {s['start']} s, {s['steps']} steps of {FRAME} s;"
        f" model {results['model']} ({results['training_steps']} steps).",
        "",
        "## Obstacles (means over steps 1..N)",
        "",
        markdown_table(results["obstacles"]),
        "",
        "Obstacles placed as in training (nearest placement 0 cells):"
        f" {clash if clash else 'none'}.",
        "",
        "## Relative L2 error per step",
        "",
        markdown_table(steps),
        "",
        "## Speedup",
        "",
        f"LBM {results['lbm_seconds_per_simulated_second']:.3g} s per simulated second,"
        f" surrogate {results['surrogate_seconds_per_simulated_second']:.3g} s:"
        f" speedup {results['speedup']:.3g}x.",
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
    s = make_settings(args.quick, args.steps, args.max_steps)
    out, watch = args.out, Stopwatch()
    train_recipe, long_recipe = make_recipes(s)
    with watch("total"):
        print(f"LBM: {s.sections} training sections, then the long channel (to t = {s.t_long} s)")
        lbm_train = generate(train_recipe, out / "sections.nc")
        lbm_long = generate(long_recipe, out / "long.nc")
        sections = surrogates.open_dataset(out / "sections.nc")
        truth = surrogates.open_dataset(out / "long.nc")
        distance = training_distance(
            truth["mask"].isel(sample=0).values > 0.5, sections["mask"].values > 0.5, s.tile[0]
        )
        clash = [i + 1 for i, d in enumerate(distance) if d == 0]
        if clash:
            print(f"WARNING: long-channel bodies {clash} are placed as in training")
        with watch("fit"):
            model = train(sections, s, out / "model")
        with watch("rollout"):
            prediction = surrogates.rollout(
                model, truth.isel(time=[0]), steps=s.steps, tile=s.tile, progress=not args.quick
            )
        u_mean = float(truth["U"].values[0]) * 2 / 3  # mean of the parabolic inflow
        with watch("compare"):
            result = surrogates.compare(
                prediction, truth, diagnostics=["metrics", "forces"], U=u_mean,
                baselines={"persistence": persistence(truth, STATE, prediction["time"].values)},
            )  # fmt: skip
        rows = obstacle_rows(result, truth, distance)
        paths = figures(result, truth, prediction, out)
    provenance = model.metadata.provenance
    lbm_rate = lbm_long["seconds"] / s.t_long
    sur_rate = watch.seconds["rollout"] / (FRAME * s.steps)
    results = {
        "quick": args.quick,
        "threads": args.threads,
        "settings": {k: v for k, v in asdict(s).items() if k != "fit"},
        "fit": {k: v for k, v in s.fit.items() if k != "progress"},
        "model": provenance["model"],
        "training_steps": provenance["steps"],
        "long_shape": list(truth["mask"].shape[1:]),
        "rollout_plan": str(prediction.attrs.get("rollout_plan", "")),
        "obstacles": rows,
        "coinciding_obstacles": clash,
        "relative_l2": step_errors(result),
        "coefficients_per_step": {"time": result["time"].values.tolist(), **series(result)},
        "lbm_seconds_per_simulated_second": lbm_rate,
        "surrogate_seconds_per_simulated_second": sur_rate,
        "speedup": lbm_rate / sur_rate,
        "seconds": {
            "lbm_sections": lbm_train["seconds"],
            "lbm_long": lbm_long["seconds"],
            "fit": watch.seconds["fit"],
            "rollout": watch.seconds["rollout"],
            "compare": watch.seconds["compare"],
            "total": watch.seconds["total"],
        },  # fmt: skip
        # reused: the dataset (and its timing) came from an earlier run with these settings
        "lbm_runs": {
            name: {k: v for k, v in run.items() if k != "fingerprint"}
            for name, run in (("sections", lbm_train), ("long", lbm_long))
        },
        "figures": [p.name for p in paths],
    }
    json_path, md_path = write_results(out, results, markdown(results))
    print(markdown_table(rows))
    print(f"speedup {results['speedup']:.3g}x; total {watch.seconds['total']:.0f} s")
    print(f"results: {json_path}, {md_path}")
    print(f"figures: {', '.join(str(p) for p in paths)}")
    print(f"data: {out / 'sections.nc'}, {out / 'long.nc'}; model: {out / 'model'}")
    return results


if __name__ == "__main__":
    try:
        main()
    except (DataError, ModelError) as err:  # bad input: one line, no traceback
        raise SystemExit(f"lift_drag: {err}") from None

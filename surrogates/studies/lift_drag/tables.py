"""The study's tables: one row per obstacle, the spread of force estimates, the Markdown."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from surrogates.diagnostics import approach_velocity, body_at
from surrogates.errors import DataError
from surrogates.studies._common import markdown_table
from surrogates.studies.lift_drag.settings import COEFFICIENTS

__all__ = ["body_obstacles", "force_spread", "markdown", "obstacle_rows"]


def body_obstacles(truth: xr.Dataset, bodies: np.ndarray) -> dict[int, int]:
    """Which of the solver's obstacles (``attrs["obstacles"]``) each body label is.

    Parameters
    ----------
    truth : xarray.Dataset
        The LBM run's steady state: ``mask`` of shape ``(sample, *spatial)``, attributes
        ``obstacles`` (JSON list with each ``center`` in metres) and ``dx``.
    bodies : array of int
        The body labels of the force diagnostic.

    Raises
    ------
    DataError
        If the bodies of the mask and the solver's obstacles do not match one to one.
    """
    obstacles = json.loads(truth.attrs["obstacles"])
    mask = truth["mask"].isel(sample=0).values > 0.5
    centres = [o["center"] for o in obstacles]
    labels = body_at(mask, centres, float(truth.attrs["dx"])) if centres else []
    found = {label: k for k, label in enumerate(labels)}
    if sorted(found) != sorted(int(b) for b in bodies) or len(found) != len(obstacles):
        raise DataError(
            f"long channel: bodies {sorted(int(b) for b in bodies)} of the mask do not match"
            f" the solver's {len(obstacles)} obstacles (centre labels {sorted(found)})"
        )
    return found


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


def _matched_text(m: dict) -> str:
    if m["speedup"] is None:
        return "the LBM's saved frames never get the drag as close as the surrogate does"
    return (
        f"the LBM's drag stays as close to its steady value as the surrogate's (mean abs."
        f" error {m['surrogate_error']:.3g}) from t = {m['lbm_time']:.3g} s, after"
        f" {m['lbm_seconds_matched']:.3g} s of wall time: **{m['speedup']:.3g}x**"
    )


def _summary(results: dict) -> str:
    s = results["settings"]
    return (
        f"Sections {s['section_length'] * s['cells']}x{s['cells']}x{s['cells']} cells"
        f" ({s['sections']}, Re {s['train_re'][0]:g}-{s['train_re'][1]:g}, averaged over t ="
        f" {s['section_average'][0]}..{s['section_average'][1]} s, drift"
        f" {results['steady_drift']['sections']:.2g}); long channel {results['long_shape']}"
        f" cells, {len(results['obstacles'])} obstacles, Re {s['re']}, steady state averaged"
        f" over the last {s['long_average']} s of {s['long_end']} s (drift"
        f" {results['steady_drift']['long']:.2g}); model {results['model']}"
        f" ({results['training_steps']} steps, seed {s['seed']}), tiles {results['tile']}."
    )


def markdown(results: dict) -> str:
    """The results as Markdown: settings, one row per obstacle, fields, speedups, timings."""
    s = results["settings"]
    fields = [{"model": k, **v} for k, v in results["field_errors"].items()]
    drag = [{"model": k, **v} for k, v in results["drag_error"].items()]
    timing = [{"what": k, "seconds": v} for k, v in results["seconds"].items()]
    clash = results["coinciding_obstacles"]
    lines = [
        "# Lift and drag along a long channel (steady flow)",
        "",
        _summary(results),
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
        f" {results['speedup']:.3g}x. At matched accuracy:"
        f" {_matched_text(results['matched_accuracy'])}. Training (LBM sections and fit) is"
        " not included: it is paid once for every channel of this family.",
        "",
        markdown_table(timing),
    ]
    return "\n".join(lines)

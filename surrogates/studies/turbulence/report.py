"""The turbulence study's figures and ``results.md``: tables and the matched-accuracy speedup."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from surrogates import plot
from surrogates.diagnostics import cheapest_matching
from surrogates.studies._common import markdown_table
from surrogates.studies.turbulence.evaluate import mean_eps_error
from surrogates.studies.turbulence.settings import DT

__all__ = ["error_figure", "figures", "markdown", "matched_accuracy", "table_row"]


def error_figure(result: xr.Dataset) -> Any:
    """Relative L2 error (mean over u_x, u_y, u_z) against the rollout step, one line a model.

    ``result`` is a ``surrogates.compare`` result (dims ``model, sample, time, variable``).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 2.8), layout="constrained")
    ax = fig.add_subplot()
    error = result["relative_l2"].mean("variable").isel(sample=0)
    for model in result["model"].values:
        ls = ":" if model == "persistence" else "--" if str(model).startswith("DNS ") else "-"
        ax.plot(np.arange(error.sizes["time"]), error.sel(model=model), ls, marker="o", ms=3,
                label=str(model))  # fmt: skip
    ax.set(xlabel="rollout step", ylabel="relative L2 error of u", ylim=(0, None))
    ax.legend()
    return fig


def figures(result: xr.Dataset, truth: xr.Dataset, out: Path) -> list[Path]:
    """Error vs step, E(k) at the last step, epsilon over time (PNG files under ``out``).

    The models, persistence and two solver runs: on the coarse grid ``n`` and on ``3n/2``
    (the rest of the ladder is in the table; nine lines would hide the models).
    """
    n = truth.sizes["x"]
    shown = (f"DNS {n}^3", f"DNS {3 * n // 2}^3")
    models = map(str, result["model"].values)
    result = result.drop_sel(model=[m for m in models if m.startswith("DNS ") and m not in shown])
    # Shells 1 .. the coarse grid's Nyquist wavenumber: shell 0 is the (zero) mean flow,
    # and the corner shells beyond Nyquist hold almost no energy after the box filter.
    k, box = result["k_shell"], float(result.attrs["box_size"][0])
    resolved = result.isel(k_shell=(k > 0) & (k <= np.pi * n / box))
    paths = []
    for name, fig in (
        ("error_vs_step.png", error_figure(result)),
        ("energy_spectra.png", plot.energy_spectra(resolved)),
        ("dissipation.png", plot.dissipation(result)),
    ):
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=120)
    return paths


def table_row(name: str, rec: dict[str, Any], steps: int) -> dict[str, Any]:
    """One row of the Markdown table (persistence has no training or speedup)."""
    err = rec["relative_l2"]
    val = rec.get("validation", {})
    return {
        "model": name,
        "params": rec.get("params", "-"),
        "lr": rec.get("lr", "-"),
        "steps": rec.get("steps", "-"),
        "train s": rec.get("loop_seconds", "-"),
        "val. rollout L2": val.get("relative_l2", "-"),
        "val. rollout eps err": val.get("eps_error", "-"),
        "L2 step 1": err[1],
        f"L2 step {steps // 2}": err[steps // 2],
        f"L2 step {steps}": err[steps],
        "mean abs eps err": mean_eps_error(rec),
        "speedup": rec.get("speedup", "-"),
    }


def markdown(results: dict[str, Any]) -> str:
    """``results.md``: the side-by-side table and the timings."""
    settings = results["settings"]
    steps = settings["steps"]
    rows = [table_row(n, r, steps) for n, r in results["models"].items()]
    rows.append(table_row("persistence", results["persistence"], steps))
    rows += [table_row(n, r, steps) for n, r in results.get("solvers", {}).items()]
    sec = results["seconds"]
    timed = "reused file, timed when written" if results["dns_large_reused"] else "timed now"
    lines = [
        "# Workflow 2: turbulence world model (vnet, fno, neuraloperator FNO)",
        "",
        f"DNS box-filtered {settings['factor']}x per axis; same data, loss"
        f" ({results['loss']}) and training budget of {results['budget_seconds']:g} s"
        f" (training loop) per model, each at its own peak learning rate (lr, picked by the"
        f" relative L2 of a rollout on the held-out training realisation: val. rollout),"
        f" seed {results['seed']};"
        f" rollout of {steps} steps ({steps * DT:g} time units) on"
        f" the {results['coarse_large']}^3 coarse grid of the 2x larger box.",
        "",
        markdown_table(rows),
        "",
        f"DNS solver: {sec['dns_large']:.1f} s for the large box to t = {results['t_large']:g}"
        f" ({results['solver_steps']} solver steps; {timed}); speedup = solver seconds per"
        f" simulated time unit / the surrogate's ({results['threads']} torch thread(s));"
        f" total wall time {sec['total']:.0f} s.",
    ]
    if results.get("solvers"):
        lines += ["", *matched_accuracy(results)]
    if results["skipped"]:
        lines += ["", f"Skipped: {results['skipped']}"]
    return "\n".join(lines)


def _verdict(match: str | None, below: str | None, costs: dict, seconds: float) -> str:
    if match is not None and below is not None:
        return f"between {costs[below] / seconds:.2g}x and {costs[match] / seconds:.2g}x"
    if match is not None:
        return f"at most {costs[match] / seconds:.2g}x"
    if below is not None:
        return f"at least {costs[below] / seconds:.2g}x (no run as accurate)"
    return "no solver run to compare"


def matched_accuracy(results: dict[str, Any]) -> list[str]:
    """Markdown lines: each model's speedup at matched accuracy (the mean epsilon error,
    the aggregate quantity), bracketed by the solver ladder.

    At most the cost ratio of the cheapest run at least as accurate as the model (a run
    between the two could match it for less); at least that of the costliest cheaper run
    that is less accurate.
    """
    solvers = results["solvers"]
    costs = {name: rec["solver_seconds"] for name, rec in solvers.items()}
    errors = {name: mean_eps_error(rec) for name, rec in solvers.items()}
    lines = [
        "Speedup at matched accuracy (mean abs epsilon error; DNS m^3: the solver on an"
        " m^3 grid from the DNS's first frame, same forcing, coarse-grained like the truth):"
    ]
    for name, rec in results["models"].items():
        mine, seconds = mean_eps_error(rec), rec["rollout_seconds"]
        match = cheapest_matching(costs, errors, mine)
        limit = costs[match] if match is not None else math.inf
        worse = [k for k in costs if errors[k] > mine and costs[k] < limit]
        below = max(worse, key=costs.__getitem__) if worse else None
        parts = []
        if match is not None:
            parts.append(f"{match} ({errors[match]:.3g}, {costs[match]:.2f} s) is as accurate")
        if below is not None:
            parts.append(f"{below} ({errors[below]:.3g}, {costs[below]:.2f} s) is not")
        verdict = _verdict(match, below, costs, seconds)
        lines.append(f"- {name} ({mine:.3g}, rollout {seconds:.2f} s): {'; '.join(parts)}:"
                     f" {verdict}")  # fmt: skip
    return lines

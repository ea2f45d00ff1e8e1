"""The ``surrogates compare PRED TRUTH --out DIR`` report: metrics, figures, summary.

:func:`compare_report` opens both datasets, runs :func:`surrogates.compare.compare` and
writes into ``DIR``:

- ``metrics.nc``: the comparison Dataset (netCDF-4, with the CF metadata of
  :mod:`surrogates.io.cf`);
- ``metrics.json``: the same as JSON (xarray's ``to_dict`` layout, NaN written as
  ``null``; read it back with :func:`read_metrics_json`);
- ``*.png``: the figures of :mod:`surrogates.plot` that the results allow;
- ``summary.md``: Markdown tables of the headline numbers.

Every file is written to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from surrogates import plot
from surrogates._files import atomic_path
from surrogates.compare import compare, density_field
from surrogates.compare._inputs import baseline_models
from surrogates.errors import DataError
from surrogates.io import cf, open_dataset

__all__ = [
    "compare_report", "cosmology_scores", "read_metrics_json", "summary_markdown", "write_metrics"
]  # fmt: skip

PathLike = str | os.PathLike[str]


def compare_report(
    pred_path: PathLike | xr.Dataset,
    truth_path: PathLike | xr.Dataset,
    out_dir: PathLike,
    *,
    baselines: Mapping[str, PathLike | xr.Dataset] | None = None,
    diagnostics: str | list[str] = "auto",
    format: str = "auto",
    figures: bool = True,
    **options: Any,
) -> Path:
    """Compare a prediction with the truth and write the report folder.

    Parameters
    ----------
    pred_path, truth_path : path or xarray.Dataset
        Anything :func:`surrogates.open_dataset` opens.
    out_dir : path
        Created if missing; files of the same name are replaced.
    baselines : mapping of str to path, Dataset or str, optional
        Further models: a path to open, a Dataset, or a variable stem of the truth
        (``{"2LPT": "disp_2lpt"}``, see :func:`surrogates.compare.compare`).
    diagnostics : str or list of str
        As in :func:`surrogates.compare.compare`.
    format : str
        Layout of the input files (``"auto"`` detects it).
    figures : bool
        Write the PNG figures.
    **options
        Options of :func:`surrogates.compare.compare`.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    DataError
        Unreadable inputs, or datasets that do not match (grid, variables, samples, times).
    """
    pred = open_dataset(pred_path, format=format)
    truth = open_dataset(truth_path, format=format)
    base: dict[str, xr.Dataset | str] = {}
    for name, src in (baselines or {}).items():
        base[name] = open_dataset(src, format=format) if _is_path(src) else src
    result = compare(pred, truth, diagnostics, baselines=base, **options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(result, out)
    written = []
    if figures:
        fields = result.attrs["variables"].split(",")
        models = {str(result["model"].values[0]): pred}
        models.update(baseline_models(base, truth, fields, next(iter(models))))
        written = _figures(result, models, truth, fields, out, options)
    sources = {"prediction": _describe(pred_path), "truth": _describe(truth_path)}
    text = summary_markdown(result, sources, written)
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out


def _is_path(src: Any) -> bool:
    """A baseline given as a file (else a Dataset, or a variable stem of the truth)."""
    if isinstance(src, os.PathLike):
        return True
    return isinstance(src, str) and (Path(src).exists() or "/" in src or Path(src).suffix != "")


def _describe(src: Any) -> str:
    if isinstance(src, xr.Dataset):
        return str(src.attrs.get("source", "<in-memory dataset>"))
    return str(src)


# ---------------------------------------------------------------- metrics files


def _jsonable(obj: Any) -> Any:
    """Plain JSON values: NaN/inf as None, numpy scalars and arrays as Python objects."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _netcdf_ready(ds: xr.Dataset) -> xr.Dataset:
    """Attributes netCDF can store: no None, booleans as ints, sequences as arrays."""
    ds = ds.copy()
    for obj in [ds, *ds.variables.values()]:
        clean = {}
        for key, value in obj.attrs.items():
            if value is None:
                continue
            if isinstance(value, bool | np.bool_):
                value = int(value)
            clean[key] = value
        obj.attrs = clean
    return ds


def write_metrics(result: xr.Dataset, out_dir: PathLike) -> tuple[Path, Path]:
    """Write ``metrics.nc`` and ``metrics.json`` (atomically) into ``out_dir``."""
    out = Path(out_dir)
    nc, js = out / "metrics.nc", out / "metrics.json"
    with atomic_path(nc) as tmp:
        try:
            title = "surrogates compare: metrics of a prediction against the truth"
            ready = cf.encode(_netcdf_ready(result), writer="surrogates.report", title=title)
            ready.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
        except (OSError, ValueError, TypeError) as err:
            raise DataError(f"{nc}: cannot write the metrics: {err}") from err
    payload = _jsonable(result.to_dict(data="list"))
    payload["dtypes"] = {str(k): str(v.dtype) for k, v in result.variables.items()}
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, allow_nan=False), encoding="utf-8")
    return nc, js


def read_metrics_json(path: PathLike) -> xr.Dataset:
    """Read ``metrics.json`` back into the Dataset written (``null`` -> NaN)."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    dtypes = payload.pop("dtypes", {})
    for group in ("coords", "data_vars"):
        for name, var in payload.get(group, {}).items():
            dtype = np.dtype(dtypes.get(name, "object"))
            if dtype.kind in "fc":
                var["data"] = np.array(_none_to_nan(var["data"]), dtype=dtype)
    return xr.Dataset.from_dict(payload)


def _none_to_nan(data: Any) -> Any:
    if isinstance(data, list):
        return [_none_to_nan(v) for v in data]
    return math.nan if data is None else data


# ---------------------------------------------------------------- figures


def _snapshot(ds: xr.Dataset | xr.DataArray, time: Any) -> Any:
    """First sample, and the given time (the prediction's last), of a dataset."""
    if "sample" in ds.dims:
        ds = ds.isel(sample=0)
    if "time" in ds.dims:
        ds = ds.sel(time=time, method="nearest")
    return ds


#: Field variables drawn as slices (the first ones compared).
MAX_SLICE_FIGURES = 4


def _save(fig: Any, path: Path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    return path.name


def _figures(result, models, truth, fields, out: Path, options: dict) -> list[str]:
    """Write the figures the result allows; return their file names."""
    sets = result.attrs["diagnostics"].split(",")
    first = next(iter(models.values()))[fields[0]]
    time = first["time"].values[-1] if "time" in first.dims else None
    written = []
    if "time" in result.dims and result.sizes["time"] > 1 and "nrmse" in result:
        written.append(_save(plot.error_vs_step(result, "nrmse"), out / "error_vs_step.png"))
    particles = "cosmology" in sets and "disp_x" in fields
    for var in [] if particles else fields[:MAX_SLICE_FIGURES]:  # particles: density slices
        preds = {n: _snapshot(ds[var], time) for n, ds in models.items()}
        fig = plot.slices(_snapshot(truth[var], time), preds, title=var)
        written.append(_save(fig, out / f"slices_{var}.png"))
    if "cosmology" in sets:
        written += _cosmology_figures(result, models, truth, time, out, options, particles)
    if "turbulence" in sets:
        written.append(_save(plot.energy_spectra(result), out / "energy_spectrum.png"))
        written.append(_save(plot.dissipation(result), out / "dissipation.png"))
    if "forces" in sets:
        written.append(_save(plot.force_coefficients(result), out / "force_coefficients.png"))
    return written


def _cosmology_figures(result, models, truth, time, out: Path, options, particles) -> list[str]:
    written = [_save(plot.power_spectra(result), out / "power_spectrum.png")]
    written.append(_save(plot.correlation(result), out / "correlation.png"))
    if "mass_function_truth" in result:
        written.append(_save(plot.mass_function(result), out / "mass_function.png"))
    if particles:
        kw = {k: options[k] for k in ("mesh", "scheme", "box_size") if k in options}

        def log_density(ds: xr.Dataset) -> xr.DataArray:
            delta = density_field(_snapshot(ds, time), **kw)
            return np.log10(np.maximum(1.0 + delta, 1e-2)).assign_attrs(long_name="log10(1+δ)")

        ref = log_density(truth)
        slab = max(1, ref.sizes.get("z", 1) // 8)
        preds = {n: log_density(ds) for n, ds in models.items()}
        fig = plot.slices(ref, preds, thickness=slab, title=f"density, slab of {slab} cells")
        written.append(_save(fig, out / "density_slices.png"))
    return written


# ---------------------------------------------------------------- summary.md


def _fmt(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:.4g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _curve(da: xr.DataArray) -> xr.DataArray:
    """Mean over samples, last time."""
    if "sample" in da.dims:
        da = da.mean("sample")
    return da.isel(time=-1) if "time" in da.dims else da


def _metrics_rows(result: xr.Dataset) -> list[str]:
    names = {"nrmse": "nRMSE", "vrmse": "VRMSE", "relative_l2": "rel. L2", "crmse": "cRMSE"}
    names = {k: v for k, v in names.items() if k in result}
    timed = "time" in result.dims
    header = ["model", "variable", *names.values()] + (["nRMSE (last step)"] if timed else [])
    rows = []
    for model in result["model"].values:
        for var in result["variable"].values:
            sel = {"model": model, "variable": var}
            row = [str(model), str(var)]
            row += [_fmt(float(result[m].sel(sel).mean())) for m in names]
            if timed and "nrmse" in result:
                last = result["nrmse"].sel(sel).isel(time=-1).mean()
                row.append(_fmt(float(last)))
            rows.append(row)
    title = "## Field errors (mean over samples and times)"
    return [title, "", *_table(header, rows)]


def cosmology_scores(result: xr.Dataset) -> dict[str, dict[str, float]]:
    """Each model's summary scores from the cosmology metrics of :func:`compare_report`.

    Parameters
    ----------
    result : xarray.Dataset
        ``metrics.nc`` of a comparison with the cosmology diagnostics (mean over samples).

    Returns
    -------
    dict
        Per model: ``T_half``, ``r_half`` (T and r at k½ = k_Nyquist / 2), ``max_T_error``
        (max |1 − T| over k ≤ k½), ``min_r`` (over k ≤ k½) and, when halos were found,
        ``halo_ratio`` (FoF halos of the model / of the truth).
    """
    k = result["k"].values
    k_half = 0.5 * float(result.attrs["k_nyquist"])
    upto = k <= k_half
    scores = {}
    for model in result["model"].values:
        t = _curve(result["transfer"].sel(model=model)).values
        r = _curve(result["cross_correlation"].sel(model=model)).values
        row = {"T_half": float(np.interp(k_half, k, t)), "r_half": float(np.interp(k_half, k, r)),
               "max_T_error": float(np.nanmax(np.abs(t[upto] - 1.0))),
               "min_r": float(np.nanmin(r[upto]))}  # fmt: skip
        if "halo_count" in result:
            n_model = float(_curve(result["halo_count"].sel(model=model)).sum())
            n_truth = float(_curve(result["halo_count_truth"]).sum())
            row["halo_ratio"] = n_model / n_truth if n_truth else np.nan
        scores[str(model)] = row
    return scores


def _cosmology_rows(result: xr.Dataset) -> list[str]:
    k = result["k"].values
    k_half = 0.5 * float(result.attrs["k_nyquist"])
    upto = k <= k_half
    header = ["model", "T(k½)", "r(k½)", "max abs(T-1), k ≤ k½", "min r, k ≤ k½"]
    keys = ["T_half", "r_half", "max_T_error", "min_r"]
    if "halo_count" in result:
        header.append("halos model / truth")
        keys.append("halo_ratio")
    rows, curves = [], {}
    for model, score in cosmology_scores(result).items():
        t = _curve(result["transfer"].sel(model=model)).values
        r = _curve(result["cross_correlation"].sel(model=model)).values
        curves[model] = (np.abs(t[upto] - 1.0), 1.0 - r[upto])
        rows.append([model, *(_fmt(score[key]) for key in keys)])
    title = f"## Cosmology (k½ = k_Nyquist / 2 = {k_half:.4g})"
    return [title, "", *_table(header, rows), *_beats(curves)]


def _beats(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """The D3M-style criterion from each model's (|1 - T|, 1 - r) over the k-bins up to k½:
    in how many bins the first model is closer to 1 than each other model, in both."""
    (first, (first_t, first_r)), *others = curves.items()
    lines = []
    for other, (other_t, other_r) in others:
        n = first_t.size
        wins_t, wins_r = int((first_t < other_t).sum()), int((first_r < other_r).sum())
        verdict = "beats" if wins_t == wins_r == n else "does not beat"
        lines.append(
            f"- {first} {verdict} {other} at every k ≤ k½: |1 − T| smaller in"
            f" {wins_t}/{n} k-bins, 1 − r smaller in {wins_r}/{n}"
        )
    return [*lines, ""] if lines else []


def _turbulence_rows(result: xr.Dataset) -> list[str]:
    header = ["model", "mean abs(ε error)", "ε error (last time)", "ε truth (last time)"]
    rows = []
    for model in result["model"].values:
        err = result["dissipation_error"].sel(model=model)
        last = _curve(err).mean()
        truth = _curve(result["dissipation_truth"]).mean()
        rows.append(
            [str(model), _fmt(float(abs(err).mean())), _fmt(float(last)), _fmt(float(truth))]
        )
    return ["## Turbulence (ε = dissipation rate)", "", *_table(header, rows)]


def _forces_rows(result: xr.Dataset) -> list[str]:
    header = [
        "model",
        "body",
        "mean C_D truth",
        "mean C_D model",
        "C_D rel. error",
    ]
    # transverse coefficients: the lift, and in 3D the side force
    transverse = [c for c in ("C_L", "C_S") if {c, f"{c}_truth"} <= set(result)]
    header += [f"mean abs(Δ{c})" for c in transverse]
    rows = []
    for model in result["model"].values:
        for body in result["body"].values:
            cd_t = float(result["C_D_truth"].sel(body=body).mean())
            cd_m = float(result["C_D"].sel(model=model, body=body).mean())
            rel = (cd_m - cd_t) / abs(cd_t) if cd_t else np.nan
            row = [str(model), str(body), _fmt(cd_t), _fmt(cd_m), _fmt(rel)]
            for c in transverse:
                diff = result[c].sel(model=model, body=body) - result[f"{c}_truth"].sel(body=body)
                row.append(_fmt(float(abs(diff).mean())))
            rows.append(row)
    return ["## Forces (means over time)", "", *_table(header, rows)]


def summary_markdown(result: xr.Dataset, sources: Mapping[str, str], figures: list[str]) -> str:
    """Markdown summary of a comparison: sources, then one table per diagnostic set."""
    sets = result.attrs.get("diagnostics", "").split(",")
    lines = ["# Surrogate vs truth", ""]
    lines += [f"- {what}: `{where}`" for what, where in sources.items()]
    lines += [
        f"- models: {result.attrs.get('models', '')}",
        f"- diagnostics: {', '.join(sets)}",
        "",
    ]
    if "metrics" in sets:
        lines += _metrics_rows(result)
    for name, rows in (
        ("cosmology", _cosmology_rows),
        ("turbulence", _turbulence_rows),
        ("forces", _forces_rows),
    ):
        if name in sets:
            lines += rows(result)
    if figures:
        lines += ["## Figures", "", *(f"![{Path(f).stem}]({f})" for f in figures), ""]
    return "\n".join(lines)

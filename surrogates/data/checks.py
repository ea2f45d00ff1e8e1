"""Checks of a dataset against a task before training crops are cut from it: variables,
crop and pad sizes, unrolled lead times, samples, and the parameter table."""

from __future__ import annotations

import numpy as np
import xarray as xr

from surrogates.data.finite import POLICY, Frames, first_bad
from surrogates.data.task import Task
from surrogates.errors import DataError, ModelError

__all__ = [
    "check_params",
    "check_samples",
    "check_unroll",
    "check_variables",
    "input_times",
    "param_table",
    "per_axis",
    "spacing",
]


def spacing(ds: xr.Dataset, axis: str) -> float:
    """Grid spacing along ``axis`` (1 without a coordinate), rounded for comparisons."""
    if axis not in ds.coords or ds.sizes[axis] < 2:
        return 1.0
    c = np.asarray(ds[axis].values[:2], dtype=np.float64)
    return float(f"{abs(c[1] - c[0]):.6g}")


def per_axis(value, axes: tuple[str, ...], what: str, minimum: int) -> tuple[int, ...]:
    values = (value,) * len(axes) if np.ndim(value) == 0 else tuple(value)
    if len(values) != len(axes) or any(int(v) != v or v < minimum for v in values):
        raise ModelError(
            f"CubeDataset: {what} must be an int >= {minimum} or one per axis {axes}, got {value}"
        )
    return tuple(int(v) for v in values)


def check_variables(
    ds: xr.Dataset, task: Task, axes: tuple[str, ...], source: str, weight: str | None = None
) -> None:
    """Every task variable exists, fields span the spatial dims, params do not."""
    available = sorted(map(str, ds.data_vars))
    fields = (*task.inputs, *task.targets, *(() if weight is None else (weight,)))
    missing = [v for v in (*fields, *task.params) if v not in ds.data_vars]
    if missing:
        raise DataError(f"{source}: task variable(s) {missing} not found; available: {available}")
    for name in dict.fromkeys(fields):
        dims = ds[name].dims
        if set(dims) - {"sample", "time", *axes} or not set(axes) <= set(dims):
            raise DataError(
                f"{source}: field {name!r} has dims {dims}, expected (sample, time, "
                f"{', '.join(axes)}) with sample and time optional"
            )
    for name in task.params:
        if set(ds[name].dims) - {"sample", "time"}:
            raise DataError(
                f"{source}: parameter {name!r} has dims {ds[name].dims}, expected a subset of"
                " (sample, time)"
            )
    if task.lead is not None:
        static_targets = [v for v in task.targets if "time" not in ds[v].dims]
        if static_targets:
            raise DataError(f"{source}: lead task targets {static_targets} have no time dimension")


def check_unroll(task: Task, unroll: int) -> int:
    if int(unroll) != unroll or unroll < 1:
        raise ModelError(f"CubeDataset: unroll must be a positive int, got {unroll}")
    if task.lead is None and unroll != 1:
        raise ModelError(f"CubeDataset: unroll={unroll} needs a lead task; this task maps fields")
    return int(unroll)


def check_samples(ds: xr.Dataset, samples, source: str) -> tuple[int | None, ...]:
    if "sample" not in ds.dims:
        if samples is not None and list(samples) not in ([], [0]):
            raise DataError(f"{source}: no sample dimension, but samples={list(samples)} given")
        return (None,)
    n = ds.sizes["sample"]
    chosen = tuple(range(n)) if samples is None else tuple(int(s) for s in samples)
    if not chosen or any(not 0 <= s < n for s in chosen):
        raise DataError(f"{source}: samples {list(chosen)} invalid; the dataset has {n} samples")
    return chosen


def input_times(ds: xr.Dataset, task: Task, unroll: int, times, source: str) -> tuple:
    """Valid input-time indices: every time of an item lies in the ``times`` range."""
    if "time" not in ds.dims:
        if task.lead is not None:
            raise DataError(f"{source}: a lead task needs a time dimension; dims {tuple(ds.dims)}")
        if times is not None:
            raise DataError(f"{source}: no time dimension, but times={times} given")
        return (None,)
    n = ds.sizes["time"]
    lo, hi = (0, n) if times is None else (int(times[0]), int(times[1]))
    span = unroll * (task.lead or 0)
    if not 0 <= lo < hi <= n or hi - lo <= span:
        raise DataError(
            f"{source}: time range [{lo}, {hi}) of {n} steps cannot hold an item spanning"
            f" {span + 1} steps (lead {task.lead}, unroll {unroll})"
        )
    return tuple(range(lo, hi - span))


def param_table(
    ds: xr.Dataset, params: tuple[str, ...], samples: tuple, times: tuple[int, int] | None
) -> np.ndarray:
    """All parameter values, shape (S or 1, T or 1, P) float64 (read once, they are small).

    The values an item can use (``samples``, and times in ``times``) must be finite.
    """
    shape = (ds.sizes.get("sample", 1), ds.sizes.get("time", 1))
    table = np.zeros((*shape, len(params)))
    for k, name in enumerate(params):
        values = ds[name].transpose(*(d for d in ("sample", "time") if d in ds[name].dims))
        values = np.asarray(values.values, dtype=np.float64)
        if "sample" not in ds[name].dims:
            values = values[None]
        if "time" not in ds[name].dims:
            values = values[..., None]
        table[..., k] = values
    if not params:
        return np.zeros((1, 1, 0))
    check_params(ds, table, params, samples, times)
    return table


def check_params(ds: xr.Dataset, table: np.ndarray, params, samples, times) -> None:
    """Raise DataError on the first non-finite parameter value of a used (sample, time)."""
    rows = [0 if s is None else s for s in samples]
    lo, hi = (0, table.shape[1]) if times is None else times
    used = table[rows][:, lo:hi]
    if np.isfinite(used).all():
        return
    frames = Frames.of(ds)
    for k, name in enumerate(params):
        values = used[..., k]
        if np.isfinite(values).all():
            continue
        i, j = first_bad(values)
        sample = samples[i] if "sample" in ds[name].dims else None
        time = lo + j if "time" in ds[name].dims else None
        label = frames.label(sample, time)
        raise DataError(
            f"{frames.file(sample)}: parameter {name!r} has a non-finite value"
            f" ({values[i, j]}){f' at {label}' if label else ''}; {POLICY}"
        )

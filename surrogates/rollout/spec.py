"""What a rollout computes: the initial state checked against the surrogate, and the run.

:func:`make_spec` validates a canonical state against the surrogate's metadata (variables,
axes, boundaries, grid spacing, domain size, parameters) and fixes the *items* (independent
fields: samples, and for a map surrogate also time frames), the steps, the saved frames
with their time coordinate, and the parameter value of every item and step. Every problem
raises :class:`~surrogates.DataError` naming what was found and what was expected.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from surrogates.data.finite import POLICY
from surrogates.data.window import SPATIAL_DIMS
from surrogates.errors import DataError

__all__ = ["RunSpec", "make_spec", "SPACING_RTOL"]

#: Relative tolerance of the grid-spacing check against the training data.
SPACING_RTOL = 1e-5


@dataclass(frozen=True)
class RunSpec:
    """A validated rollout.

    Attributes
    ----------
    axes, shape : tuple
        Spatial dims and domain size.
    periodic : tuple of bool
        Per axis.
    samples, times : int or None
        Sizes of the state's ``sample`` and (map surrogates only) ``time`` dims, None if absent.
    lead : int or None
        The surrogate's lead (None: a map, applied once).
    steps, every : int
        Steps to advance and the saving interval (1 and 1 for a map).
    saved : tuple of int
        Steps whose state is saved, ``0`` (the initial state) first; empty for a map.
    time : tuple of float
        Time coordinate of the saved frames (lead) or of the state's frames (map).
    params : numpy.ndarray, shape (S, K, P)
        Parameter values per sample (S = samples or 1), per step (lead, K = steps) or per
        state frame (map, K = times or 1), in ``task.params`` order.
    schedule : dict
        Names of parameters that vary over steps, with their values (JSON-able).
    """

    axes: tuple[str, ...]
    shape: tuple[int, ...]
    periodic: tuple[bool, ...]
    samples: int | None
    times: int | None
    lead: int | None
    steps: int
    every: int
    saved: tuple[int, ...]
    time: tuple[float, ...]
    params: np.ndarray
    schedule: dict

    @property
    def items(self) -> list[tuple[int | None, int | None]]:
        """Independent fields as ``(sample, time)`` indices (None where the dim is absent)."""
        s = [None] if self.samples is None else range(self.samples)
        t = [None] if self.times is None else range(self.times)
        return list(itertools.product(s, t))

    def frame(self, step: int) -> int | None:
        """Index of ``step`` among the saved frames, or None if it is not saved."""
        return self.saved.index(step) if step in self.saved else None

    def param_rows(self, item: tuple[int | None, int | None], step: int) -> np.ndarray:
        """Parameters of one item at ``step`` (1-based; a map has step 1), shape (P,)."""
        s = item[0] or 0
        k = (item[1] or 0) if self.lead is None else step - 1
        return self.params[s, k]


def _source(ds: xr.Dataset) -> str:
    return str(ds.encoding.get("source") or ds.attrs.get("source") or "state")


def _spacing(ds: xr.Dataset, axis: str) -> float:
    """Cell size along ``axis`` (1.0 without a coordinate), as the training metadata has it."""
    if axis not in ds.coords or ds.sizes[axis] < 2:
        return 1.0
    c = np.asarray(ds[axis].values[:2], dtype=np.float64)
    return float(c[1] - c[0])


def _check_grid(surrogate: Any, state: xr.Dataset, source: str) -> tuple[str, ...]:
    meta = surrogate.metadata
    axes = tuple(d for d in SPATIAL_DIMS if d in state.dims)
    if not axes or axes != SPATIAL_DIMS[: len(axes)]:
        raise DataError(f"{source}: got dims {tuple(state.dims)}, expected spatial dims x[, y, z]")
    if axes != meta.grid.axes:
        raise DataError(
            f"{source}: spatial dims {axes}, the surrogate was trained on {meta.grid.axes}"
        )
    missing = [v for v in surrogate.task.inputs if v not in state.data_vars]
    if missing:
        raise DataError(
            f"{source}: the surrogate needs variable(s) {missing}; the state has"
            f" {sorted(map(str, state.data_vars))}"
        )
    for name in surrogate.task.inputs:
        dims = state[name].dims
        if not set(axes) <= set(dims) or not set(dims) <= {"sample", "time", *axes}:
            raise DataError(
                f"{source}: variable {name!r} has dims {dims}, expected (sample, time,"
                f" {', '.join(axes)}) with sample and time optional"
            )
    boundaries = tuple(state.attrs.get(f"boundary_{a}") for a in axes)
    if boundaries != tuple(meta.grid.boundaries):
        raise DataError(
            f"{source}: boundaries {dict(zip(axes, boundaries, strict=True))}, the"
            f" surrogate was trained with {dict(zip(axes, meta.grid.boundaries, strict=True))}"
        )
    spacing = tuple(_spacing(state, a) for a in axes)
    if not np.allclose(spacing, meta.grid.spacing, rtol=SPACING_RTOL, atol=0):
        raise DataError(
            f"{source}: grid spacing {dict(zip(axes, spacing, strict=True))} differs from"
            f" the surrogate's training data spacing"
            f" {dict(zip(axes, meta.grid.spacing, strict=True))} (relative tolerance"
            f" {SPACING_RTOL:g})"
        )
    return axes


def _check_size(surrogate: Any, axes, shape, source: str) -> None:
    need = int(surrogate.alignment) + 2 * int(surrogate.halo)
    for axis, n, trained in zip(axes, shape, surrogate.metadata.grid.shape, strict=True):
        if n < need and n < trained:
            raise DataError(
                f"{source}: axis {axis!r} has {n} cells, smaller than one window of the"
                f" surrogate ({need} = alignment {surrogate.alignment} + 2 * halo"
                f" {surrogate.halo}) and than its training domain ({trained}): outputs would"
                " depend on padding the model never saw"
            )


def _steps(lead: int | None, steps: Any, every: Any, state: xr.Dataset, source: str):
    for name, value in (("steps", steps), ("every", every)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise DataError(f"rollout: {name}={value!r}, expected a positive integer")
    if lead is None and (steps != 1 or every != 1):
        raise DataError(
            f"rollout: the surrogate maps fields to fields (lead=None) and is applied once;"
            f" got steps={steps}, every={every}"
        )
    if lead is not None and state.sizes.get("time", 1) != 1:
        raise DataError(
            f"{source}: the state has {state.sizes['time']} time frames; a rollout starts from"
            " one: select it, e.g. state.isel(time=[-1])"
        )
    return int(steps), int(every)


def _times(surrogate: Any, state: xr.Dataset, spec_steps: int, every: int):
    lead = surrogate.task.lead
    if lead is None:
        times = state["time"].values if "time" in state.coords else ()
        return (), tuple(float(t) for t in times)
    saved = tuple(k for k in range(spec_steps + 1) if k % every == 0 or k == spec_steps)
    t0 = float(state["time"].values[0]) if "time" in state.coords else 0.0
    dt = surrogate.metadata.grid.dt
    dt = 1.0 if dt is None else float(dt)  # no training time step: time counts frames
    return saved, tuple(t0 + k * lead * dt for k in saved)


def make_spec(
    surrogate: Any,
    state: xr.Dataset,
    steps: int = 1,
    every: int = 1,
    params: Mapping[str, Any] | None = None,
) -> RunSpec:
    """Validate ``state`` (and ``params``) for ``surrogate``; see :class:`RunSpec`.

    Raises
    ------
    DataError
        Naming the variable, axis, spacing, size or parameter that does not fit.
    """
    if not isinstance(state, xr.Dataset):
        raise DataError(f"rollout: state must be an xarray.Dataset, got {type(state).__name__}")
    source = _source(state)
    axes = _check_grid(surrogate, state, source)
    shape = tuple(int(state.sizes[a]) for a in axes)
    _check_size(surrogate, axes, shape, source)
    task = surrogate.task
    steps, every = _steps(task.lead, steps, every, state, source)
    samples = state.sizes.get("sample") if "sample" in state.dims else None
    dims = {d for v in task.inputs for d in state[v].dims}
    times = state.sizes["time"] if task.lead is None and "time" in dims else None
    k_len = steps if task.lead is not None else (times or 1)
    values, schedule = resolve_params(task, state, params, samples or 1, k_len, source)
    saved, time = _times(surrogate, state, steps, every)
    periodic = tuple(b == "periodic" for b in surrogate.metadata.grid.boundaries)
    return RunSpec(axes, shape, periodic, samples, times, task.lead, steps, every, saved,
                   time, values, schedule)  # fmt: skip


def resolve_params(
    task: Any, state: xr.Dataset, params: Mapping[str, Any] | None, s_len: int, k_len: int,
    source: str = "state",
) -> tuple[np.ndarray, dict]:  # fmt: skip
    """Parameter values of shape (S, K, P) and the names that vary over steps (lead tasks).

    ``params`` entries override the state's variables: a scalar (constant), for a lead task
    a sequence of one value per step (a schedule), or an ``xarray.DataArray`` over
    ``sample`` and/or ``step``.
    """
    given = dict(params or {})
    unknown = sorted(set(given) - set(task.params))
    if unknown:
        raise DataError(
            f"rollout: unknown parameter(s) {unknown}; the surrogate takes {list(task.params)}"
        )
    out = np.empty((s_len, k_len, len(task.params)))
    schedule = {}
    for p, name in enumerate(task.params):
        if name in given:
            value = _given(name, given[name], s_len, k_len, task.lead)
        elif name in state.variables:
            value = _from_state(name, state[name], s_len, k_len, task.lead, source)
        else:
            raise DataError(
                f"{source}: parameter {name!r} is neither a variable of the state nor given;"
                f" pass params={{{name!r}: value}}"
            )
        if not np.isfinite(value).all():
            raise _non_finite(name, value, "rollout" if name in given else source, task.lead)
        out[:, :, p] = value
        if task.lead is not None and not np.all(value == value[:, :1]):
            schedule[name] = value.tolist()
    return out, schedule


def _non_finite(name: str, value: np.ndarray, where: str, lead: int | None) -> DataError:
    """Error for a parameter with NaN/Inf, shape (S, K): first sample and step (or time)."""
    bad = ~np.isfinite(value)
    sample, k = (int(i) for i in np.argwhere(bad)[0])
    at = [f"sample {sample}"] * (value.shape[0] > 1)
    if value.shape[1] > 1:
        at.append(f"step {k + 1}" if lead is not None else f"time {k}")
    first = f", first at {', '.join(at)}" if at else ""
    return DataError(
        f"{where}: parameter {name!r} has non-finite values ({int(bad.sum())} of"
        f" {value.size}){first}; {POLICY}"
    )


def _given(name: str, value: Any, s_len: int, k_len: int, lead: int | None) -> np.ndarray:
    if isinstance(value, xr.DataArray):
        extra = set(value.dims) - {"sample", "step"}
        if extra or (lead is None and "step" in value.dims):
            allowed = "sample and step" if lead is not None else "sample"
            raise DataError(f"rollout: params[{name!r}] has dims {value.dims}; allowed: {allowed}")
        arr = value.transpose(*[d for d in ("sample", "step") if d in value.dims])
        arr = arr.expand_dims([d for d in ("sample", "step") if d not in value.dims])
        data = arr.transpose("sample", "step").values.astype(np.float64)
    else:
        data = np.asarray(value, dtype=np.float64)
        if data.ndim == 1 and lead is not None:
            data = data[None, :]
        elif data.ndim != 0:
            what = "a scalar or one value per step" if lead is not None else "a scalar"
            raise DataError(f"rollout: params[{name!r}] has shape {data.shape}; expected {what}")
    return _broadcast(name, np.atleast_2d(data), s_len, k_len)


def _broadcast(name: str, data: np.ndarray, s_len: int, k_len: int) -> np.ndarray:
    try:
        return np.broadcast_to(data, (s_len, k_len)).copy()
    except ValueError:
        raise DataError(
            f"rollout: parameter {name!r} has shape {data.shape} over (sample, step or time),"
            f" expected ({s_len}, {k_len}) or broadcastable to it"
        ) from None


def _from_state(name: str, da: xr.DataArray, s_len: int, k_len: int, lead, source: str):
    if not set(da.dims) <= {"sample", "time"} or any(a in da.dims for a in ("x", "y", "z")):
        raise DataError(
            f"{source}: parameter {name!r} has dims {da.dims}, expected (), (sample,) or"
            " (sample, time)"
        )
    if lead is not None and "time" in da.dims:
        da = da.isel(time=0)
    dims: Sequence[str] = [d for d in ("sample", "time") if d in da.dims]
    data = da.transpose(*dims).values.astype(np.float64)
    if "sample" not in dims:
        data = data[None, ...]
    if data.ndim == 1:
        data = data[:, None]
    return _broadcast(name, data, s_len, k_len)

"""The units of work of a rollout, shared by every backend: read windows, apply, write.

A *unit* is one tile of one item (sample, and for a map surrogate time frame). The units of
a step are split, in a fixed order, into *groups* of ``plan.batch`` units: one group is
one batched model call, one Dask task and one progress record, so a resumed or
distributed run evaluates exactly the same batches as an uninterrupted local one.

Phases of a step: ``apply`` evaluates the surrogate on every group. With exact tiling it
writes each core straight to its destination. With blended tiles it writes each tile's
whole-window output to scratch, and a second phase ``blend`` assembles every core from
the overlapping outputs (:mod:`surrogates.rollout.blend`).

Where the fields of step ``k`` live (lead surrogates): the initial state is read from the
user's dataset at step 1 (whose units also copy the window cores of the state and the
static inputs to the store: frame 0 and the statics); the state after step ``k`` is
written to the saved frame of ``k`` if it is saved, else to scratch slot ``k % 2``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr

from surrogates.data import PadSpec, read_windows
from surrogates.errors import DataError, ModelError
from surrogates.rollout.blend import assemble_core, blend_pieces
from surrogates.rollout.halfwidth import error_arrays, table_coords, table_rows, to_core
from surrogates.rollout.memory import RolloutPlan
from surrogates.rollout.spec import RunSpec
from surrogates.rollout.store import ArraySpec, Layout
from surrogates.rollout.tiling import Tile

__all__ = ["Job", "Context", "make_layout"]


@dataclass(frozen=True)
class Job:
    """One group of units of one phase of one step."""

    step: int
    phase: str
    group: int
    units: tuple[tuple[int, tuple[int, ...]], ...]

    @property
    def key(self) -> str:
        return f"{self.phase}-{self.group:07d}"


@dataclass
class Batch:
    """Windows of a group, shape (B, C_in, *window), and parameters, shape (B, P).

    ``job`` is the job they were read for (named when the model's output is not finite);
    ``error`` the estimator's half-widths of the output (reliability rollouts), set by
    :meth:`Context.compute`, shape (B, C_out, *map).
    """

    x: np.ndarray
    params: np.ndarray | None
    job: Job | None = None
    error: np.ndarray | None = None


class Context:
    """Everything a job needs (picklable: the store pickles as its path).

    Parameters
    ----------
    spec : RunSpec
    plan : RolloutPlan
    task : Task
    pad : PadSpec
        The training pad spec (wall/open faces padded exactly as in training).
    store : MemoryStore or ZarrStore
    state : xarray.Dataset
        The initial state (read by step 1, or by every map unit).
    precision : {"32-true", "bf16-mixed"}
        Arithmetic of the network (``Surrogate.apply``).
    reliability : bool
        Also write the surrogate's calibrated half-widths (:mod:`~.halfwidth`).
    """

    def __init__(self, spec: RunSpec, plan: RolloutPlan, task: Any, pad: PadSpec, store: Any,
                 state: xr.Dataset, precision: str = "32-true",
                 reliability: bool = False) -> None:  # fmt: skip
        self.spec, self.plan, self.task, self.pad = spec, plan, task, pad
        self.store, self.state, self.precision = store, state, precision
        self.reliability = reliability
        self.items = spec.items

    @functools.cached_property
    def pieces(self):
        return blend_pieces(self.plan.tiles, self.spec.periodic)

    def phases(self) -> tuple[str, ...]:
        return ("apply", "blend") if self.plan.mode == "blend" else ("apply",)

    def jobs(self, step: int, phase: str) -> list[Job]:
        """The fixed groups of ``phase`` at ``step``."""
        units = [(i, t.index) for i in range(len(self.items)) for t in self.plan.tiles]
        b = self.plan.batch if phase == "apply" else 1
        return [Job(step, phase, g, tuple(units[k : k + b]))
                for g, k in enumerate(range(0, len(units), b))]  # fmt: skip

    def cells(self, job: Job) -> int:
        """Output cells of a job (for progress rates)."""
        return sum(math.prod(b - a for a, b in self.plan.tiles.tile_at(u[1]).core)
                   for u in job.units)  # fmt: skip

    # -- reading ---------------------------------------------------------------------------

    def _sources(self, step: int, time: int | None) -> list[tuple[xr.Dataset, list[str], Any]]:
        task, spec = self.task, self.spec
        if spec.lead is None:
            return [(self.state, list(task.inputs), time)]
        if step == 1:
            times = {n: 0 if "time" in self.state[n].dims else None for n in task.inputs}
            return [(self.state, list(task.inputs), times)]
        frame = spec.frame(step - 1)
        where = ("", frame) if frame is not None else ("_work", (step - 1) % 2)
        out = [(self.store.dataset(where[0]), list(task.targets), where[1])]
        if task.static:
            out.append((self.store.dataset(""), list(task.static), None))
        return out

    def read(self, job: Job) -> Batch:
        """Read the input windows (and parameters) of an ``apply`` job.

        Every window is checked for NaN/Inf as it is read (:func:`read_windows`); the
        :class:`DataError` names the file, variable, sample, time frame and window, and
        here also the tile and step.
        """
        windows, rows = [], []
        for item, index in job.units:
            sample, time = self.items[item]
            tile = self.plan.tiles.tile_at(index)
            parts: dict[str, np.ndarray] = {}
            for ds, names, times in self._sources(job.step, time):
                try:
                    parts.update(read_windows(ds, names, tile.window_start, tile.window_size,
                                              self.pad, sample=sample, time=times))  # fmt: skip
                except DataError as err:
                    raise DataError(
                        f"{err} (input window of tile {index}, core {_region(self.spec, tile)},"
                        f" rollout step {job.step})"
                    ) from err
            stacked = np.stack([parts[n] for n in self.task.inputs])
            windows.append(stacked.astype(np.float32, copy=False))
            rows.append(self.spec.param_rows(self.items[item], job.step))
        params = np.asarray(rows, dtype=np.float32) if self.task.params else None
        return Batch(np.stack(windows), params, job)

    def compute(self, surrogate: Any, batch: Batch) -> np.ndarray:
        """Apply the surrogate; returns (B, C_out, *output) float32 on the host.

        With ``reliability`` also the estimator's half-widths (float32 whatever the
        precision), into ``batch.error``.

        Raises
        ------
        ModelError
            If an output that would be written (a core, or a whole window when blending)
            is NaN or Inf: the inputs were finite (checked when read), so the network
            diverged; nothing of the batch is written.
        """
        p = None if batch.params is None else torch.from_numpy(batch.params)
        x = torch.from_numpy(batch.x)
        y = surrogate.apply(x, p, self.precision)
        if self.reliability:
            step = batch.job.step if batch.job is not None else 1
            h = surrogate.reliability.halfwidth(x, y, step, p)
            batch.error = h.detach().to("cpu", torch.float32).numpy()
        y = y.detach().to("cpu", torch.float32).numpy()
        if batch.job is not None and not np.isfinite(y).all():
            self._check_output(batch.job, y)
        return y

    def _check_output(self, job: Job, y: np.ndarray) -> None:
        """Raise ModelError on the first unit whose written output is not finite."""
        for b, (item, index) in enumerate(job.units):
            tile = self.plan.tiles.tile_at(index)
            exact = self.plan.mode == "exact"
            out = to_core(y[b], self.plan.tiles, tile) if exact else y[b]
            for c, name in enumerate(self.task.targets):
                bad = ~np.isfinite(out[c])
                if not bad.any():
                    continue
                first = np.unravel_index(int(np.argmax(bad)), bad.shape)
                origin = [a for a, _ in tile.core] if exact else tile.window_start
                cell = _cell(self.spec, [o + int(i) for o, i in zip(origin, first, strict=True)])
                sample, time = self.items[item]
                where = ", ".join(
                    f"{k} {v}" for k, v in (("sample", sample), ("time", time)) if v is not None
                )
                hint = "" if self.precision == "32-true" else ", or precision '32-true'"
                raise ModelError(
                    f"rollout step {job.step}: the surrogate's output {name!r} has"
                    f" {int(bad.sum())} non-finite value(s) ({_kinds(out[c])})"
                    f"{f' for {where}' if where else ''} in tile {index} (core"
                    f" {_region(self.spec, tile)}), first at {cell}, from finite inputs: the"
                    f" network diverged (precision {self.precision!r}); check that the state"
                    f" lies in the range of the training data, or try fewer steps{hint}"
                )

    # -- writing ---------------------------------------------------------------------------

    def write(self, job: Job, batch: Batch, y: np.ndarray) -> None:
        """Write the outputs of an ``apply`` job (cores, or whole windows to scratch)."""
        tiles = self.plan.tiles
        for b, (item, index) in enumerate(job.units):
            tile = tiles.tile_at(index)
            if self.plan.mode == "exact":
                self._write_state(job.step, item, tile, to_core(y[b], tiles, tile))
            else:
                dims = zip(self._blend_dims, y[b].shape, strict=True)
                region = {"item": _one(item), "tile": _one(tiles.flat_index(index))}
                region |= {d: slice(0, n) for d, n in dims}
                self.store.write("_work", region, {"blend": y[b][None, None]})
            if self.reliability:
                self._write_error(job.step, item, tile, to_core(batch.error[b], tiles, tile))
            if self.spec.lead is not None and job.step == 1:
                self._write_initial(item, tile, batch.x[b])

    def blend(self, job: Job) -> None:
        """A ``blend`` job: assemble the cores of its units from the scratch outputs."""
        flat = self.plan.tiles.flat_index
        for item, index in job.units:

            def read(source, src, item=item):
                key = (item, flat(source), slice(None), *src)
                return self.store.read("_work", "blend", key)

            core = assemble_core(index, self.plan.tiles, self.pieces, read)
            self._write_state(job.step, item, self.plan.tiles.tile_at(index), core)

    @property
    def _blend_dims(self) -> tuple[str, ...]:
        return ("channel", *(f"w_{a}" for a in self.spec.axes))

    def _lead_region(self, item: int, tile: Tile, time: int | None) -> dict[str, slice]:
        sample, _ = self.items[item]
        region = dict(zip(self.spec.axes, tile.core_slices, strict=True))
        if sample is not None:
            region["sample"] = _one(sample)
        if time is not None:
            region["time"] = _one(time)
        return region

    def _write_state(self, step: int, item: int, tile: Tile, core: np.ndarray) -> None:
        """Write the targets (C_out, *core) of one unit to where step ``step`` lives."""
        spec = self.spec
        if spec.lead is None:
            group, time = "", self.items[item][1]
        else:
            frame = spec.frame(step)
            group, time = ("", frame) if frame is not None else ("_work", step % 2)
        lead = (1,) * (spec.samples is not None) + (1,) * (time is not None)
        data = {n: core[c].reshape(lead + core.shape[1:]) for c, n in enumerate(self.task.targets)}
        self.store.write(group, self._lead_region(item, tile, time), data)

    def _write_error(self, step: int, item: int, tile: Tile, core: np.ndarray) -> None:
        """Write half-widths (C_out, *core): the field where step ``step`` is saved (if it
        is), and (steps >= 1) the unit's row of the per-tile table."""
        spec, (sample, time) = self.spec, self.items[item]
        names = [f"{n}_error" for n in self.task.targets]
        frame = time if spec.lead is None else spec.frame(step)
        if spec.lead is None or frame is not None:
            lead = (1,) * (sample is not None) + (1,) * (frame is not None)
            data = {n: core[c].reshape(lead + core.shape[1:]) for c, n in enumerate(names)}
            self.store.write("", self._lead_region(item, tile, frame), data)
        if step == 0:
            return
        region = {"tile": _one(self.plan.tiles.flat_index(tile.index))}
        if sample is not None:
            region["sample"] = _one(sample)
        if spec.lead is not None:
            region["step"] = _one(step - 1)
        elif time is not None:
            region["time"] = _one(time)
        rows, shape = table_rows(core), (1,) * len(region)
        data = {f"{n}{suffix}": values[c].reshape(shape) for suffix, values in rows.items()
                for c, n in enumerate(self.task.targets)}  # fmt: skip
        self.store.write("", region, data)

    def _write_initial(self, item: int, tile: Tile, window: np.ndarray) -> None:
        """Copy the window core of the state (frame 0) and of the statics to the store."""
        h = self.plan.tiles.halo
        core = window[(slice(None), *(slice(h, h + b - a) for a, b in tile.core))]
        index = {n: i for i, n in enumerate(self.task.inputs)}
        state = np.stack([core[index[n]] for n in self.task.targets])
        self._write_state(0, item, tile, state)
        if self.reliability:  # the given state is exact
            self._write_error(0, item, tile, np.zeros_like(state))
        sample = self.items[item][0]
        for name in self.task.static:
            region = self._lead_region(item, tile, None)
            if "sample" in self.state[name].dims:
                self.store.write("", region, {name: core[index[name]][None]})
            elif not sample:  # shared by every sample: written once
                region.pop("sample", None)
                self.store.write("", region, {name: core[index[name]]})


def _region(spec: RunSpec, tile: Tile) -> str:
    """``"x 0:16, y 16:32"``: the domain cells a tile's output fills."""
    return ", ".join(f"{a} {lo}:{hi}" for a, (lo, hi) in zip(spec.axes, tile.core, strict=True))


def _cell(spec: RunSpec, index: list[int]) -> str:
    """``"x=3, y=17"``: a domain cell (periodic axes wrapped)."""
    wrapped = [i % n if p else i for i, n, p in zip(index, spec.shape, spec.periodic, strict=True)]
    return ", ".join(f"{a}={i}" for a, i in zip(spec.axes, wrapped, strict=True))


def _kinds(values: np.ndarray) -> str:
    """``"3 NaN, 1 +Inf"``."""
    counts = (np.isnan(values).sum(), np.isposinf(values).sum(), np.isneginf(values).sum())
    return ", ".join(f"{n} {k}" for n, k in zip(counts, ("NaN", "+Inf", "-Inf"), strict=True) if n)


def _one(i: int) -> slice:
    return slice(i, i + 1)


def make_layout(spec: RunSpec, plan: RolloutPlan, task: Any, state: xr.Dataset,
                attrs: dict, estimator: Any = None) -> Layout:  # fmt: skip
    """Arrays, coordinates and constants of the result (and scratch) of a rollout; with an
    ``estimator`` also its ``<var>_error`` fields and per-tile table (:mod:`~.halfwidth`)."""
    core = tuple(min(t, n) for t, n in zip(plan.tiles.tile, spec.shape, strict=True))
    lead_dims = ("sample",) * (spec.samples is not None)
    lead_shape = (spec.samples,) * (spec.samples is not None)
    timed = spec.lead is not None or spec.times is not None
    n_time = len(spec.saved) if spec.lead is not None else spec.times
    arrays = []
    for name in task.targets:
        dims = lead_dims + ("time",) * timed + spec.axes
        shape = lead_shape + (n_time,) * timed + spec.shape
        arrays.append(ArraySpec("", name, dims, shape, (1,) * (len(dims) - len(core)) + core,
                                attrs=_attrs(state, name)))  # fmt: skip
    if estimator is not None:
        arrays += error_arrays(spec, plan, task, estimator, list(arrays))
    constants = _passthrough(state, lead_dims, exclude={a.name for a in arrays})
    for p, name in enumerate(task.params):
        values = spec.params[:, :, p]
        if name not in spec.schedule and np.all(values == values[:, :1]):
            constants[name] = (lead_dims, values[:, 0] if lead_dims else values[0, 0])
        else:  # varies along the rollout: the state's value would mislead
            constants.pop(name, None)
    if spec.lead is not None:
        for name in task.static:
            dims = tuple(d for d in state[name].dims if d != "time")
            shape = tuple(state.sizes[d] for d in dims)
            chunks = (1,) * (len(dims) - len(core)) + core
            arrays.append(ArraySpec("", name, dims, shape, chunks, str(state[name].dtype),
                                    attrs=_attrs(state, name)))  # fmt: skip
        if any(k not in spec.saved for k in range(1, spec.steps + 1)):
            for name in task.targets:
                arrays.append(ArraySpec("_work", name, lead_dims + ("time",) + spec.axes,
                                        lead_shape + (2,) + spec.shape,
                                        (1,) * (len(lead_dims) + 1) + core))  # fmt: skip
    if plan.mode == "blend":
        window = plan.tiles.window
        dims = ("item", "tile", "channel", *(f"w_{a}" for a in spec.axes))
        shape = (len(spec.items), len(plan.tiles), len(task.targets), *window)
        arrays.append(ArraySpec("_work", "blend", dims, shape, (1, 1, shape[2], *window)))
    coords = _coords(spec, state) | (table_coords(spec, plan) if estimator is not None else {})
    return Layout(tuple(arrays), coords, constants, attrs)


def _passthrough(state: xr.Dataset, lead_dims: tuple, exclude: set) -> dict:
    """Per-sample scalars of the state (cosmological parameters, seeds, Reynolds numbers):
    carried into the result so that it describes itself like its source."""
    return {
        name: (var.dims, var.values, dict(var.attrs))
        for name, var in state.data_vars.items()
        if set(var.dims) <= set(lead_dims) and name not in exclude
    }


def _attrs(state: xr.Dataset, name: str) -> tuple:
    if name not in state.variables:
        return ()
    return tuple((k, v) for k, v in state[name].attrs.items() if isinstance(v, (str, int, float)))


def _coords(spec: RunSpec, state: xr.Dataset) -> dict:
    coords = {a: state[a].variable for a in spec.axes if a in state.coords}
    if spec.samples is not None and "sample" in state.coords:
        coords["sample"] = state["sample"].variable
    if len(spec.time) and (spec.lead is not None or spec.times is not None):
        attrs = dict(state["time"].attrs) if "time" in state.coords else {}
        coords["time"] = xr.Variable(("time",), np.asarray(spec.time, np.float64), attrs)
    return coords

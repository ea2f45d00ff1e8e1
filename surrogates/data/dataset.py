"""Random training crops (core + halo) of a canonical dataset, as a torch ``Dataset``.

Item contract
-------------
``dataset[key]`` (any integer ``key >= 0``; ``len(dataset)`` is the nominal epoch
length) is a dict of float32 tensors, ``W = crop + 2 * pad`` per spatial axis:

``"input"``
    shape ``(C_in, *W)``, channels in ``task.inputs`` order: the fields at the input time
    ``t`` (static fields, which have no time dim, as they are).
``"target"``
    map task (``task.lead is None``): shape ``(C_out, *W)``, ``task.targets`` at ``t``
    over the *same* window as the input (the training code centre-crops it to the model
    output). Lead task: shape ``(unroll, C_out, *W)``, the targets at
    ``t + lead, t + 2 lead, ..., t + unroll * lead``.
``"params"``
    map task: shape ``(P,)``; lead task: ``(unroll, P)``, ``task.params`` at the input
    time of each step (``t + k * lead`` for ``k = 0 .. unroll - 1``); parameters may be
    0-d, per sample, or per (sample, time). ``P`` may be 0.
``"weight"`` (only with ``weight=``)
    map task: shape ``(1, *W)``; lead task: ``(unroll, 1, *W)``, at the target times (a
    static weight repeated): cell weights of the loss, never normalised.

Targets are raw states, never residuals (training forms ``target - input`` itself).
The window starts at ``start - pad`` where the core ``start`` is uniform over the axis
(periodic) or over ``[0, n - crop]`` (wall/open: the core lies inside the domain and the
halo is padded per :class:`~surrogates.data.window.PadSpec`). Values are padded raw,
then transformed by one random cube symmetry (the same for input and target, with
vector and tensor components rotated), then normalised when a normalizer is given.
Item ``key`` is a pure function of ``(seed, key)``, so results do not depend on worker
processes or on the order of access; :meth:`CubeDataset.crop_spec` says which crop it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from surrogates.data.finite import POLICY, Frames, first_bad
from surrogates.data.normalize import Normalizer
from surrogates.data.symmetry import CubeSymmetry
from surrogates.data.task import Task
from surrogates.data.window import PadSpec, _source, read_windows, spatial_axes
from surrogates.errors import DataError, ModelError

__all__ = ["CubeDataset", "CropSpec", "symmetry_group"]


@dataclass(frozen=True)
class CropSpec:
    """Which crop an item is: sample and input-time index, core start, symmetry."""

    sample: int | None
    time: int | None
    start: tuple[int, ...]
    symmetry: CubeSymmetry


class CubeDataset(torch.utils.data.Dataset):
    """Random crops with halo from a canonical dataset (see the module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        Canonical dataset, usually lazy; only the needed hyperslabs are read.
    task : Task
        Inputs, targets, parameters and lead.
    crop : int or sequence of int
        Core size per spatial axis (at most the axis length).
    pad : int or sequence of int
        Halo added on each side.
    unroll : int
        Number of lead steps per item (lead tasks only).
    samples : sequence of int, optional
        Sample indices to draw from (a split); all by default.
    times : (int, int), optional
        Half-open range of time indices that every time of an item (inputs and targets)
        lies in; all by default.
    symmetries : bool, sequence of str or sequence of CubeSymmetry
        ``True``: the cube symmetries that keep the window shape and grid spacing; axis
        names (``["y", "z"]``): every combination of mirrors of those axes only (a channel
        flow is symmetric under ``y -> -y`` but not under ``x -> -x``).
    normalizer : Normalizer, optional
        Normalises input, target and params channels.
    pad_mode : str or PadSpec
        Mode of the wall/open axes (see :meth:`PadSpec.from_dataset`) or a full spec.
    length : int, optional
        Epoch length; default samples x input times x max(1, domain cells / crop cells).
    seed : int
        Seed of the crop draws.
    weight : str, optional
        Variable of cell weights of the loss (a field, >= 0, static or not; see
        :mod:`surrogates.training.losses`): read, padded and transformed like the targets.
    """

    def __init__(
        self,
        ds: xr.Dataset,
        task: Task,
        crop: int | Sequence[int],
        pad: int | Sequence[int] = 0,
        unroll: int = 1,
        samples: Sequence[int] | None = None,
        times: tuple[int, int] | None = None,
        symmetries: bool | Sequence[str] | Sequence[CubeSymmetry] = False,
        normalizer: Normalizer | None = None,
        pad_mode: str | PadSpec = "reflect",
        length: int | None = None,
        seed: int = 0,
        weight: str | None = None,
    ) -> None:
        self.source = _source(ds)
        self.task, self.normalizer, self.seed = task, normalizer, int(seed)
        self.weight = weight
        self.axes = spatial_axes(ds)
        if normalizer is not None and normalizer.ndim != len(self.axes):
            raise ModelError(f"CubeDataset: {normalizer.ndim}D normalizer for {self.axes} data")
        _check_variables(ds, task, self.axes, self.source, weight)
        self.pad_spec = (
            pad_mode if isinstance(pad_mode, PadSpec) else PadSpec.from_dataset(ds, mode=pad_mode)
        )
        if self.pad_spec.axes != self.axes:
            raise ModelError(f"CubeDataset: pad spec axes {self.pad_spec.axes} != {self.axes}")
        self.shape = tuple(ds.sizes[a] for a in self.axes)
        self.crop = _per_axis(crop, self.axes, "crop", 1)
        self.pad = _per_axis(pad, self.axes, "pad", 0)
        self.window = tuple(c + 2 * p for c, p in zip(self.crop, self.pad, strict=True))
        self._check_crop()
        self.unroll = _check_unroll(task, unroll)
        self.samples = _check_samples(ds, samples, self.source)
        self.input_times = _input_times(ds, task, self.unroll, times, self.source)
        self.group = symmetry_group(ds, self.window, symmetries)
        self._plan_reads(ds)
        self._params = _param_table(ds, task.params, self.samples, times)
        self.length = int(length) if length is not None else self._default_length()
        self.ds = ds

    def _check_crop(self) -> None:
        for axis, n, c in zip(self.axes, self.shape, self.crop, strict=True):
            if c > n:
                raise DataError(
                    f"{self.source}: crop {c} along {axis!r} is larger than the domain"
                    f" ({n} cells); expected crop <= {n}"
                )

    def _plan_reads(self, ds: xr.Dataset) -> None:
        """Variables to read: the task's fields plus every component a symmetry needs."""
        task, available = self.task, set(map(str, ds.data_vars))
        state = task.targets if task.lead is not None else (*task.inputs, *task.targets)
        static = task.static if task.lead is not None else ()

        def closure(names):
            found = {g.source_of(n, self.axes, available)[0] for g in self.group for n in names}
            return tuple(dict.fromkeys((*names, *sorted(found))))

        self.state_reads = closure(state)
        self.static_reads = tuple(n for n in closure(static) if n not in self.state_reads)

    def _default_length(self) -> int:
        cells = int(np.prod(self.shape)) // int(np.prod(self.crop))
        return len(self.samples) * len(self.input_times) * max(1, cells)

    def __len__(self) -> int:
        return self.length

    def crop_spec(self, key: int) -> CropSpec:
        """The crop of item ``key``: a pure function of ``(seed, key)``."""
        if int(key) < 0:
            raise IndexError(f"CubeDataset: key must be >= 0, got {key}")
        rng = np.random.default_rng([self.seed, int(key)])
        sample = self.samples[rng.integers(len(self.samples))]
        time = self.input_times[rng.integers(len(self.input_times))]
        start = tuple(
            int(rng.integers(n if periodic else n - c + 1))
            for n, c, periodic in zip(self.shape, self.crop, self.pad_spec.periodic, strict=True)
        )
        symmetry = self.group[rng.integers(len(self.group))]
        return CropSpec(sample, time, start, symmetry)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        spec = self.crop_spec(key)
        fields = self.read(spec)
        if not spec.symmetry.is_identity:
            fields = spec.symmetry.apply(fields, self.axes)
        item = self._assemble(fields, spec)
        if self.normalizer is not None:
            item = self._normalize(item)
        return {
            k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in item.items()
        }

    def read(self, spec: CropSpec) -> dict[str, np.ndarray]:
        """Raw padded windows of the crop: state fields (T, *W) for lead tasks, else (*W)."""
        lead = self.task.lead
        if lead is None:
            times = dict.fromkeys(self.state_reads, spec.time)
        else:
            steps = [spec.time + k * lead for k in range(self.unroll + 1)]
            times = {
                **dict.fromkeys(self.state_reads, steps),
                **dict.fromkeys(self.static_reads, spec.time),
            }
        if self.weight is not None and self.weight not in times:
            timed = lead is not None and "time" in self.ds[self.weight].dims
            times[self.weight] = steps if timed else spec.time
        start = tuple(s - p for s, p in zip(spec.start, self.pad, strict=True))
        return read_windows(
            self.ds, list(times), start, self.window, self.pad_spec, sample=spec.sample, time=times
        )

    def _assemble(self, fields: dict[str, np.ndarray], spec: CropSpec) -> dict[str, np.ndarray]:
        task = self.task
        if task.lead is None:
            x = np.stack([fields[n] for n in task.inputs])
            y = np.stack([fields[n] for n in task.targets])
            p = self._param_values(spec, [spec.time])[0]
        else:
            x = np.stack(
                [fields[n][0] if n in self.state_reads else fields[n] for n in task.inputs]
            )
            y = np.stack([fields[n][1:] for n in task.targets], axis=1)
            steps = [spec.time + k * task.lead for k in range(self.unroll)]
            p = self._param_values(spec, steps)
        item = {"input": x, "target": y, "params": p}
        if self.weight is not None:
            item["weight"] = self._weight(fields[self.weight], spec)
        return item

    def _weight(self, w: np.ndarray, spec: CropSpec) -> np.ndarray:
        """Loss weights (1, *W), or (unroll, 1, *W) at a lead task's target times."""
        if (w < 0).any():
            raise DataError(
                f"{self.source}: loss weight {self.weight!r} has negative values (min"
                f" {float(w.min()):.3g}) in sample {spec.sample}, time {spec.time}; expected"
                " weights >= 0"
            )
        if self.task.lead is None:
            return w[None]
        if w.ndim == len(self.axes):  # static: the same weight at every step
            return np.broadcast_to(w, (self.unroll, 1, *w.shape))
        return w[1:, None]

    def _param_values(self, spec: CropSpec, times: list[int | None]) -> np.ndarray:
        """Parameter values, shape (len(times), P)."""
        s = 0 if spec.sample is None or self._params.shape[0] == 1 else spec.sample
        t = [0 if ti is None or self._params.shape[1] == 1 else ti for ti in times]
        return self._params[s, t]

    def _normalize(self, item: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        norm, task = self.normalizer, self.task
        out = {
            "input": norm.normalize(item["input"], task.inputs),
            "target": norm.normalize(item["target"], task.targets),
            "params": item["params"],
            **({"weight": item["weight"]} if "weight" in item else {}),
        }
        if task.params:
            out["params"] = norm.normalize(item["params"], task.params, channel_axis=-1)
        return out


def symmetry_group(
    ds: xr.Dataset, window: Sequence[int], symmetries: bool | Sequence[str] | Sequence[CubeSymmetry]
) -> tuple[CubeSymmetry, ...]:
    """The symmetries to draw from: all that keep the window shape and grid spacing.

    ``False`` gives the identity only; axis names give the mirrors of those axes (all
    combinations, no permutations); an explicit sequence is checked for dimension.
    """
    axes = spatial_axes(ds)
    if symmetries is False:
        return (CubeSymmetry.identity(len(axes)),)
    if symmetries is True:
        labels = [(w, _spacing(ds, a)) for w, a in zip(window, axes, strict=True)]
        return CubeSymmetry.group(len(axes), labels)
    group = tuple(symmetries)
    if group and all(isinstance(g, str) for g in group):
        unknown = sorted(set(group) - set(axes))
        if unknown or len(set(group)) != len(group):
            raise ModelError(
                f"symmetries: mirror axes {list(group)}; expected distinct names of {axes}"
            )
        mirrors = [(False, True) if a in group else (False,) for a in axes]
        return tuple(
            CubeSymmetry(tuple(range(len(axes))), flips) for flips in itertools.product(*mirrors)
        )
    if not group or any(not isinstance(g, CubeSymmetry) or g.ndim != len(axes) for g in group):
        raise ModelError(
            f"symmetries: expected True, False, axis names or {len(axes)}D CubeSymmetry"
            f" elements, got {group}"
        )
    return group


def _spacing(ds: xr.Dataset, axis: str) -> float:
    """Grid spacing along ``axis`` (1 without a coordinate), rounded for comparisons."""
    if axis not in ds.coords or ds.sizes[axis] < 2:
        return 1.0
    c = np.asarray(ds[axis].values[:2], dtype=np.float64)
    return float(f"{abs(c[1] - c[0]):.6g}")


def _per_axis(value, axes: tuple[str, ...], what: str, minimum: int) -> tuple[int, ...]:
    values = (value,) * len(axes) if np.ndim(value) == 0 else tuple(value)
    if len(values) != len(axes) or any(int(v) != v or v < minimum for v in values):
        raise ModelError(
            f"CubeDataset: {what} must be an int >= {minimum} or one per axis {axes}, got {value}"
        )
    return tuple(int(v) for v in values)


def _check_variables(
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


def _check_unroll(task: Task, unroll: int) -> int:
    if int(unroll) != unroll or unroll < 1:
        raise ModelError(f"CubeDataset: unroll must be a positive int, got {unroll}")
    if task.lead is None and unroll != 1:
        raise ModelError(f"CubeDataset: unroll={unroll} needs a lead task; this task maps fields")
    return int(unroll)


def _check_samples(ds: xr.Dataset, samples, source: str) -> tuple[int | None, ...]:
    if "sample" not in ds.dims:
        if samples is not None and list(samples) not in ([], [0]):
            raise DataError(f"{source}: no sample dimension, but samples={list(samples)} given")
        return (None,)
    n = ds.sizes["sample"]
    chosen = tuple(range(n)) if samples is None else tuple(int(s) for s in samples)
    if not chosen or any(not 0 <= s < n for s in chosen):
        raise DataError(f"{source}: samples {list(chosen)} invalid; the dataset has {n} samples")
    return chosen


def _input_times(ds: xr.Dataset, task: Task, unroll: int, times, source: str) -> tuple:
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


def _param_table(
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
    _check_params(ds, table, params, samples, times)
    return table


def _check_params(ds: xr.Dataset, table: np.ndarray, params, samples, times) -> None:
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

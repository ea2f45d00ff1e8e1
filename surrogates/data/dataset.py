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

from surrogates.data.checks import (
    check_samples,
    check_unroll,
    check_variables,
    input_times,
    param_table,
    per_axis,
    spacing,
)
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
        check_variables(ds, task, self.axes, self.source, weight)
        self.pad_spec = (
            pad_mode if isinstance(pad_mode, PadSpec) else PadSpec.from_dataset(ds, mode=pad_mode)
        )
        if self.pad_spec.axes != self.axes:
            raise ModelError(f"CubeDataset: pad spec axes {self.pad_spec.axes} != {self.axes}")
        self.shape = tuple(ds.sizes[a] for a in self.axes)
        self.crop = per_axis(crop, self.axes, "crop", 1)
        self.pad = per_axis(pad, self.axes, "pad", 0)
        self.window = tuple(c + 2 * p for c, p in zip(self.crop, self.pad, strict=True))
        self._check_crop()
        self.unroll = check_unroll(task, unroll)
        self.samples = check_samples(ds, samples, self.source)
        self.input_times = input_times(ds, task, self.unroll, times, self.source)
        self.group = symmetry_group(ds, self.window, symmetries)
        self._plan_reads(ds)
        self._params = param_table(ds, task.params, self.samples, times)
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
        labels = [(w, spacing(ds, a)) for w, a in zip(window, axes, strict=True)]
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

"""Physical units <-> the network's normalised units, with optional residual prediction.

Conventions (per channel, statistics from :class:`~surrogates.data.Normalizer`)
------------------------------------------------------------------------------
- Inputs and parameters are normalised with their own statistics:
  ``x_n = (x - mean_x) / std_x``.
- Without residual, the network output ``y`` is the target in the target's normalised
  units: ``target = y * std_t + mean_t``.
- With residual (``Task.residual``), ``y`` is the *difference* target - paired input in
  the difference's own normalised units, with statistics computed on the differences
  themselves (:func:`residual_statistics`): ``target = base + y * std_r + mean_r`` where
  ``base`` is the paired input channel of the physical window, centre-cropped to the
  output. The paired input is added back in physical units, so denormalisation is exact
  (a zero residual returns the input bit for bit) and the differences are well scaled
  even when they are much smaller than the fields.

Training computes its loss in the network's output space:
``encode(target) = (target - base - mean_out) / std_out``, the inverse of
:meth:`Scaling.decode`. Statistics are kept as float32 buffers (not in the state dict:
the artifact stores them as JSON).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr
from torch import nn

from surrogates.data import Normalizer, Split, Task
from surrogates.errors import ModelError
from surrogates.nn import crop_to

__all__ = ["Scaling", "residual_statistics", "field_statistics"]


def _stats(norm: Normalizer | None, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    if norm is None or not names:
        return np.zeros(len(names)), np.ones(len(names))
    return norm.stats(names)


class Scaling(nn.Module):
    """Per-channel affine maps between physical and normalised units (module docstring).

    Parameters
    ----------
    task : Task
        Channel order of inputs, targets and parameters, and the residual pairing.
    normalizer : Normalizer or None
        Statistics of inputs, targets and parameters (None: identity).
    residual : Normalizer or None
        Statistics of ``target - paired input``, keyed by target name (residual tasks).
    ndim : int
        Number of spatial axes.
    """

    def __init__(
        self, task: Task, normalizer: Normalizer | None, residual: Normalizer | None, ndim: int
    ) -> None:
        super().__init__()
        self.ndim, self.residual = ndim, bool(task.residual)
        shape = (1, -1) + (1,) * ndim
        in_mean, in_std = _stats(normalizer, task.inputs)
        out_mean, out_std = _stats(residual if self.residual else normalizer, task.targets)
        par_mean, par_std = _stats(normalizer, task.params)
        for name, value, view in (
            ("in_mean", in_mean, shape),
            ("in_std", in_std, shape),
            ("out_mean", out_mean, shape),
            ("out_std", out_std, shape),
            ("par_mean", par_mean, (1, -1)),
            ("par_std", par_std, (1, -1)),
        ):
            tensor = torch.as_tensor(value, dtype=torch.float32).reshape(view)
            self.register_buffer(name, tensor, persistent=False)
        pair = torch.as_tensor(task.target_in_input if self.residual else (), dtype=torch.long)
        self.register_buffer("pair", pair, persistent=False)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise a physical window, shape (batch, C_in, *W)."""
        return (x.float() - self.in_mean) / self.in_std

    def params(self, p: torch.Tensor | None) -> torch.Tensor | None:
        """Normalise parameters, shape (batch, P); None (or P = 0) gives None."""
        if p is None or p.shape[-1] == 0:
            return None
        return (p.float() - self.par_mean) / self.par_std

    def base(self, window: torch.Tensor, size: Sequence[int]) -> torch.Tensor | None:
        """Paired input channels of the physical window cropped to ``size`` (residual only)."""
        if not self.residual:
            return None
        return crop_to(window.float().index_select(1, self.pair), tuple(size))

    def decode(self, y: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """Network output (batch, C_out, *O) to the physical target, shape (batch, C_out, *O)."""
        out = y.float() * self.out_std + self.out_mean
        base = self.base(window, y.shape[2:])
        return out if base is None else base + out

    def encode(self, target: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """Physical target (batch, C_out, *O) to the network's output space (inverse of decode)."""
        base = self.base(window, target.shape[2:])
        diff = target.float() if base is None else target.float() - base
        return (diff - self.out_mean) / self.out_std


def field_statistics(ds: xr.Dataset, task: Task, split: Split) -> Normalizer:
    """Statistics of every input, target and parameter over the training split."""
    names = list(dict.fromkeys((*task.inputs, *task.targets, *task.params)))
    return Normalizer.from_dataset(ds, names, samples=split.train_samples, times=split.train_times)


def _lazy(var: xr.Variable) -> xr.Variable:
    """A dask-backed view (arithmetic on lazily indexed arrays would load them)."""
    if var.chunks is not None:
        return var
    return var.chunk({d: 1 for d in var.dims if d in ("sample", "time")})


def residual_statistics(ds: xr.Dataset, task: Task, split: Split) -> Normalizer:
    """Statistics of ``target - paired input`` over the training split, keyed by target.

    For a lead task the pair is the same variable ``lead`` steps apart,
    ``v(t + lead) - v(t)``, over input times whose target also lies in the split.
    """
    if not task.residual:
        raise ModelError("residual_statistics: the task has residual=False")
    diffs, lead = {}, task.lead
    for target, i in zip(task.targets, task.target_in_input, strict=True):
        a, b = _lazy(ds[target].variable), _lazy(ds[task.inputs[i]].variable)
        if lead is not None:
            a, b = a.isel(time=slice(lead, None)), b.isel(time=slice(None, -lead))
        diffs[target] = a - b
    derived = xr.Dataset(diffs, attrs=ds.attrs)
    times = split.train_times
    if lead is not None and times is not None:
        times = (times[0], times[1] - lead)
    return Normalizer.from_dataset(
        derived, list(task.targets), samples=split.train_samples, times=times
    )

"""Per-variable normalisation statistics, computed in one streaming pass and stored as JSON.

:meth:`Normalizer.from_dataset` reads every chunk of the requested variables exactly once
(all variables in one ``dask.compute``): each chunk yields, per ``(sample, time)`` index
it holds, the count, mean and sum of squared deviations in float64, and these are pooled
exactly (``M2 = sum(M2_i + n_i (mean_i - mean)**2)``), which stays accurate when the mean
is large compared with the spread. The same pass finds NaN/Inf values: the error names the
file, the variable, the first sample and time holding them (index and coordinate), how
many values and the first cell (README "Non-finite values").

Fields and parameters share one table: a parameter's statistics run over the samples (and
times) of the split. A variable whose standard deviation is zero or below ``1e-6 |mean|``
(constant to float32 precision) gets ``std = 1`` so normalising it only removes the mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import dask
import dask.array
import numpy as np
import xarray as xr

from surrogates.data.finite import POLICY, Frames, cell_text
from surrogates.data.symmetry import torch_of
from surrogates.data.window import SPATIAL_DIMS, _source
from surrogates.errors import DataError

if TYPE_CHECKING:
    import torch

__all__ = ["Normalizer"]

Array = TypeVar("Array", "np.ndarray", "torch.Tensor")
_FORMAT = "surrogates.Normalizer/1"
_CONSTANT_RTOL = 1e-6


@dataclass(frozen=True)
class Normalizer:
    """Per-variable affine normalisation ``(x - mean) / std``.

    Attributes
    ----------
    names : tuple of str
        Variable (and parameter) names.
    mean, std : tuple of float
        Statistics per name; ``std > 0`` always (guarded, see the module docstring).
    ndim : int
        Number of spatial axes, which fixes the default channel axis ``-(ndim + 1)`` of
        :meth:`normalize`.
    """

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    ndim: int = 3

    def __post_init__(self) -> None:
        for attr in ("names", "mean", "std"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        n = len(self.names)
        if len(set(self.names)) != n or len(self.mean) != n or len(self.std) != n:
            raise DataError(f"Normalizer: inconsistent names/mean/std for {self.names}")
        bad = [
            v
            for v, m, s in zip(self.names, self.mean, self.std, strict=True)
            if not (np.isfinite(m) and np.isfinite(s) and s > 0)
        ]
        if bad:
            raise DataError(f"Normalizer: non-finite mean or non-positive std for {bad}")

    @classmethod
    def from_dataset(
        cls,
        ds: xr.Dataset,
        variables: Sequence[str],
        *,
        samples: Sequence[int] | None = None,
        times: tuple[int, int] | None = None,
    ) -> Normalizer:
        """Statistics of ``variables`` over (a split of) a canonical dataset, in one pass.

        Parameters
        ----------
        ds : xarray.Dataset
            Canonical dataset (dask-backed, lazily indexed or in memory).
        variables : sequence of str
            Fields and parameters to include.
        samples : sequence of int, optional
            Sample indices to use (the training split); all by default.
        times : (int, int), optional
            Half-open range of time indices to use; all by default.
        """
        source = _source(ds)
        frames = Frames.of(ds, source)
        missing = [v for v in variables if v not in ds.data_vars]
        if missing:
            raise DataError(
                f"{source}: no variable(s) {missing}; available: {sorted(map(str, ds.data_vars))}"
            )
        sel = {}
        if samples is not None and "sample" in ds.dims:
            sel["sample"] = np.asarray(samples, dtype=np.int64)
        if times is not None and "time" in ds.dims:
            sel["time"] = slice(*times)
        subset = ds[list(variables)].isel(sel)
        partials = [_partials(subset[v].variable) for v in variables]
        (computed,) = dask.compute(partials)
        mean, std = [], []
        for name, parts in zip(variables, computed, strict=True):
            m, s = _pool(parts, name, frames, sel)
            mean.append(m)
            std.append(s)
        return cls(tuple(variables), tuple(mean), tuple(std), ndim=_spatial_ndim(ds))

    def to_dict(self) -> dict:
        """JSON-able form, inverse of :meth:`from_dict`."""
        return {
            "format": _FORMAT,
            "ndim": self.ndim,
            "mean": dict(zip(self.names, self.mean, strict=True)),
            "std": dict(zip(self.names, self.std, strict=True)),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Normalizer:
        """Rebuild from :meth:`to_dict` output."""
        if data.get("format") != _FORMAT or set(data) != {"format", "ndim", "mean", "std"}:
            raise DataError(
                f"Normalizer.from_dict: expected keys format={_FORMAT!r}, ndim, mean, std;"
                f" got {sorted(data)} with format {data.get('format')!r}"
            )
        mean, std = dict(data["mean"]), dict(data["std"])
        if set(mean) != set(std):
            raise DataError(f"Normalizer.from_dict: mean names {sorted(mean)} != std names")
        names = tuple(mean)
        return cls(
            names,
            tuple(mean[n] for n in names),
            tuple(std[n] for n in names),
            ndim=int(data["ndim"]),
        )

    def stats(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std arrays, shape (len(names),) float64, in the order of ``names``."""
        index = {n: i for i, n in enumerate(self.names)}
        unknown = [n for n in names if n not in index]
        if unknown:
            raise DataError(f"Normalizer: no statistics for {unknown}; known: {list(self.names)}")
        mean = np.array([self.mean[index[n]] for n in names])
        return mean, np.array([self.std[index[n]] for n in names])

    def normalize(self, x: Array, names: Sequence[str], channel_axis: int | None = None) -> Array:
        """``(x - mean) / std`` per channel.

        Parameters
        ----------
        x : numpy.ndarray or torch.Tensor
            Fields of shape ``(..., channel, *spatial)`` (default channel axis
            ``-(ndim + 1)``), or parameters ``(..., P)`` with ``channel_axis=-1``.
        names : sequence of str
            Variable name of each channel, in order.
        channel_axis : int, optional
            Axis holding the channels.

        Returns
        -------
        Same type, shape and dtype as ``x`` (float arrays).
        """
        mean, std = self._broadcast(x, names, channel_axis)
        return (x - mean) / std

    def denormalize(self, x: Array, names: Sequence[str], channel_axis: int | None = None) -> Array:
        """Inverse of :meth:`normalize`: ``x * std + mean``."""
        mean, std = self._broadcast(x, names, channel_axis)
        return x * std + mean

    def _broadcast(self, x, names, channel_axis):
        axis = -(self.ndim + 1) if channel_axis is None else channel_axis
        if x.ndim == 0 or not -x.ndim <= axis < x.ndim or x.shape[axis] != len(names):
            raise DataError(
                f"Normalizer: {len(names)} names {list(names)} for an array of shape"
                f" {tuple(x.shape)} with channel axis {axis}"
            )
        mean, std = self.stats(names)
        shape = [1] * x.ndim
        shape[axis] = len(names)
        torch = torch_of(x)
        if torch is not None:
            kw = {"dtype": x.dtype, "device": x.device}
            return torch.as_tensor(mean, **kw).reshape(shape), torch.as_tensor(std, **kw).reshape(
                shape
            )
        return mean.astype(x.dtype).reshape(shape), std.astype(x.dtype).reshape(shape)


def _spatial_ndim(ds: xr.Dataset) -> int:
    return sum(d in ds.dims for d in SPATIAL_DIMS)


def _partials(var: xr.Variable) -> list:
    """One delayed moment computation per dask chunk of ``var``."""
    if var.chunks is None:  # lazily indexed or numpy: chunk lazily, one (sample, time) each
        var = var.chunk({d: 1 for d in var.dims if d not in SPATIAL_DIMS})
    data = var.data
    spatial = tuple(i for i, d in enumerate(var.dims) if d in SPATIAL_DIMS)
    lead = [i for i in range(var.ndim) if i not in spatial]
    blocks = data.to_delayed()
    out = []
    for pos in np.ndindex(*blocks.shape):
        offset = [int(sum(data.chunks[i][: pos[i]])) for i in range(var.ndim)]
        out.append(dask.delayed(_moments)(blocks[pos], spatial, lead, offset, var.dims))
    return out


def _moments(block: np.ndarray, spatial, lead, offset, dims) -> tuple:
    """Per leading index of one chunk: count, mean, M2, and the non-finite values found.

    The last entry lists, per leading index holding NaN/Inf (in the whole array's
    indices): ``(index, counts (NaN, +Inf, -Inf), first cell)``, the cell in the whole
    array's spatial indices.
    """
    b = np.asarray(block, dtype=np.float64)
    frames = tuple(block.shape[i] for i in lead)
    cells = tuple(block.shape[i] for i in spatial)
    b = np.moveaxis(b, lead, range(len(lead))).reshape(frames + (-1,))
    finite = np.isfinite(b).all(axis=-1)
    bad = []
    for idx in np.argwhere(~finite):  # only on failure: the frames are in memory already
        row = b[tuple(idx)]
        counts = (np.isnan(row).sum(), np.isposinf(row).sum(), np.isneginf(row).sum())
        first = np.unravel_index(int(np.argmax(~np.isfinite(row))), cells) if cells else ()
        bad.append((
            tuple(int(offset[d] + i) for d, i in zip(lead, idx, strict=True)),
            tuple(int(c) for c in counts),
            tuple(int(offset[d] + i) for d, i in zip(spatial, first, strict=True)),
        ))  # fmt: skip
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf are reported via `bad`
        mean = b.mean(axis=-1)
        m2 = ((b - mean[..., None]) ** 2).sum(axis=-1)
    lead_dims = tuple(dims[i] for i in lead)
    spatial_dims = tuple(dims[i] for i in spatial)
    return b.shape[-1], mean.ravel(), m2.ravel(), bad, lead_dims, spatial_dims


def _pool(parts: list, name: str, frames: Frames, sel: Mapping) -> tuple[float, float]:
    """Pool chunk moments into the mean and (guarded) std; raise on NaN/Inf."""
    bad = [record for p in parts for record in p[3]]
    if bad:
        raise _non_finite(bad, name, parts[0][4], parts[0][5], frames, sel)
    counts = np.concatenate([np.full(p[1].size, p[0], dtype=np.float64) for p in parts])
    means = np.concatenate([p[1] for p in parts])
    m2s = np.concatenate([p[2] for p in parts])
    total = counts.sum()
    mean = float((counts * means).sum() / total)
    var = float((m2s + counts * (means - mean) ** 2).sum() / total)
    std = float(np.sqrt(var))
    if std == 0.0 or std < _CONSTANT_RTOL * abs(mean):
        std = 1.0
    return mean, std


def _non_finite(bad: list, name: str, lead_dims, spatial_dims, frames: Frames, sel) -> DataError:
    """The error for the first frame (in sample, time order) holding NaN/Inf.

    A frame split over several chunks has one record per chunk: counts are summed and the
    first cell is the smallest.
    """
    index = min(record[0] for record in bad)
    records = [r for r in bad if r[0] == index]
    counts = np.sum([r[1] for r in records], axis=0)
    kinds = ", ".join(
        f"{n} {kind}" for n, kind in zip(counts, ("NaN", "+Inf", "-Inf"), strict=True) if n
    )
    original = _original(index, lead_dims, sel)
    sample, time = original.get("sample"), original.get("time")
    label = frames.label(sample, time) or "(scalar)"
    first = min(r[2] for r in records)
    cell = f", first at {cell_text(spatial_dims, first)}" if spatial_dims else ""
    return DataError(
        f"{frames.file(sample)}: variable {name!r} has non-finite values (NaN or Inf) at"
        f" {label}: {int(counts.sum())} value(s) ({kinds}){cell}; {POLICY}"
    )


def _original(index: tuple[int, ...], lead_dims: tuple[str, ...], sel: Mapping) -> dict:
    """Leading indices of a subset mapped back to those of the original dataset."""
    out = {}
    for dim, i in zip(lead_dims, index, strict=True):
        chosen = sel.get(dim)
        if isinstance(chosen, np.ndarray):
            i = int(chosen[i])
        elif isinstance(chosen, slice):
            i = (chosen.start or 0) + i
        out[dim] = i
    return out

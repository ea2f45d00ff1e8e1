"""Train/validation splits and the epoch sampler (no Lightning: artifacts use them too).

Splitting
---------
With two or more samples the split is by sample: a seeded permutation puts
``max(1, round(val_fraction * n))`` samples in validation (at least one stays in
training). With a single realisation (no ``sample`` dim or one sample) the split is by
time instead: the last ``round(val_fraction * T)`` steps (at least one item span) are the
validation range, the rest the training range, so no item of one set shares a time step
with the other (neighbouring steps remain correlated; prefer several samples). A single
static field cannot be split: pass ``val_fraction=0`` to train without validation.

Epochs
------
Training crops are drawn afresh each epoch: :class:`EpochSampler` yields keys
``epoch * length + i``, and an item is a pure function of its key, so the result is the
same with any number of worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch
import xarray as xr

from surrogates.data.task import Task
from surrogates.data.window import _source
from surrogates.errors import DataError, ModelError

__all__ = ["EpochSampler", "Split", "split_dataset"]


@dataclass(frozen=True)
class Split:
    """Train/validation split: sample indices (by-sample) or time ranges (by-time).

    ``None`` means all samples / all times; ``val_samples == ()`` and ``val_times is
    None`` mean no validation set.
    """

    train_samples: tuple[int, ...] | None
    val_samples: tuple[int, ...] | None
    train_times: tuple[int, int] | None = None
    val_times: tuple[int, int] | None = None

    @property
    def has_validation(self) -> bool:
        return self.val_samples != () or self.val_times is not None

    def to_dict(self) -> dict:
        """JSON-able form, inverse of :meth:`from_dict`."""
        return {k: (list(v) if v is not None else None) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping) -> Split:
        return cls(**{k: (tuple(v) if v is not None else None) for k, v in data.items()})


def split_dataset(
    ds: xr.Dataset, task: Task, unroll: int = 1, val_fraction: float = 0.2, seed: int = 0
) -> Split:
    """Split by sample, or by time for a single realisation (see the module docstring)."""
    if not 0 <= val_fraction < 1:
        raise ModelError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = ds.sizes.get("sample", 0)
    if val_fraction == 0:
        return Split(None, ())
    if n >= 2:
        order = np.random.default_rng(seed).permutation(n)
        n_val = min(n - 1, max(1, round(val_fraction * n)))
        return Split(tuple(sorted(order[n_val:].tolist())), tuple(sorted(order[:n_val].tolist())))
    span = 1 + unroll * (task.lead or 0)
    n_t = ds.sizes.get("time", 0)
    n_val = max(span, round(val_fraction * n_t))
    if n_t - n_val < span:
        raise DataError(
            f"{_source(ds)}: cannot split a single realisation with {n_t} time steps into"
            f" training and validation items of {span} steps each; add samples or time steps,"
            " or pass val_fraction=0"
        )
    return Split(None, None, (0, n_t - n_val), (n_t - n_val, n_t))


class EpochSampler(torch.utils.data.Sampler[int]):
    """Keys ``epoch * length + i`` for ``i < length``: fresh crops every epoch.

    Lightning calls :meth:`set_epoch` before each epoch; without it (e.g. inside a
    distributed wrapper) each iteration advances the epoch by one.
    """

    def __init__(self, length: int, epoch: int = 0) -> None:
        self.length, self.epoch = int(length), int(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        base = self.epoch * self.length
        self.epoch += 1
        return iter(range(base, base + self.length))

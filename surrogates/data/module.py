"""Lightning data module: train/validation split, normalisation and loaders of crops.

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
Training crops are drawn afresh each epoch: the training loader's :class:`EpochSampler`
yields keys ``epoch * length + i``, and an item is a pure function of its key, so the
result is the same with any number of worker processes. Validation uses fixed keys
``0 .. len - 1`` without symmetries.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import lightning
import numpy as np
import torch
import xarray as xr

from surrogates.data.dataset import CubeDataset
from surrogates.data.normalize import Normalizer
from surrogates.data.task import Task
from surrogates.data.window import PadSpec, _source
from surrogates.errors import DataError, ModelError

__all__ = ["CubeDataModule", "EpochSampler", "Split", "split_dataset"]


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


def _open(data: xr.Dataset | str | os.PathLike) -> xr.Dataset:
    if isinstance(data, xr.Dataset):
        return data
    from surrogates.io import open_dataset  # imported here: data does not need io to import

    return open_dataset(data)


class CubeDataModule(lightning.LightningDataModule):
    """Crops of a canonical dataset for Lightning training (see the module docstring).

    Parameters
    ----------
    data : xarray.Dataset or path
        Canonical dataset, or a file/store opened with ``surrogates.io.open_dataset``.
    task : Task
        What to learn.
    crop, pad, unroll : int
        As in :class:`CubeDataset`.
    batch_size : int
        Items per batch.
    val_fraction : float
        Fraction of samples (or of time steps, for one realisation) used for validation.
    num_workers : int
        Loader worker processes.
    seed : int
        Seed of the split and of the crops.
    symmetries : bool
        Random cube symmetries on training crops.
    normalizer : Normalizer or bool
        ``True``: computed on the training split on first use of :attr:`normalizer`;
        ``False``: no normalisation; or given statistics (e.g. from a checkpoint).
    pad_mode : str or PadSpec
        Padding of wall/open axes (:meth:`PadSpec.from_dataset`).
    length : int, optional
        Training items per epoch (default: see :class:`CubeDataset`).
    **loader_options
        Passed to both ``torch.utils.data.DataLoader`` (``pin_memory``, ...).
    """

    def __init__(
        self,
        data: xr.Dataset | str | os.PathLike,
        task: Task,
        crop: int | Sequence[int],
        pad: int | Sequence[int] = 0,
        unroll: int = 1,
        batch_size: int = 8,
        val_fraction: float = 0.2,
        num_workers: int = 0,
        seed: int = 0,
        symmetries: bool = True,
        normalizer: Normalizer | bool = True,
        pad_mode: str | PadSpec = "reflect",
        length: int | None = None,
        **loader_options,
    ) -> None:
        super().__init__()
        self.ds, self.task = _open(data), task
        self.crop, self.pad, self.unroll, self.length = crop, pad, unroll, length
        self.batch_size, self.num_workers, self.seed = int(batch_size), int(num_workers), seed
        self.symmetries, self.loader_options = symmetries, loader_options
        self.pad_spec = (
            pad_mode
            if isinstance(pad_mode, PadSpec)
            else PadSpec.from_dataset(self.ds, mode=pad_mode)
        )
        self.split = split_dataset(self.ds, task, unroll, val_fraction, seed)
        self._normalizer = normalizer if isinstance(normalizer, Normalizer) else None
        self._normalize = normalizer is not False
        self.train_set: CubeDataset | None = None
        self.val_set: CubeDataset | None = None

    @property
    def normalizer(self) -> Normalizer | None:
        """Statistics of the training split (computed once, in one pass, on first use)."""
        if self._normalize and self._normalizer is None:
            names = dict.fromkeys((*self.task.inputs, *self.task.targets, *self.task.params))
            self._normalizer = Normalizer.from_dataset(
                self.ds, list(names), samples=self.split.train_samples, times=self.split.train_times
            )
        return self._normalizer

    def _dataset(self, train: bool) -> CubeDataset:
        split = self.split
        return CubeDataset(
            self.ds,
            self.task,
            self.crop,
            self.pad,
            self.unroll,
            samples=split.train_samples if train else split.val_samples,
            times=split.train_times if train else split.val_times,
            symmetries=self.symmetries if train else False,
            normalizer=self.normalizer,
            pad_mode=self.pad_spec,
            length=self.length if train else None,
            seed=self.seed if train else self.seed + 1,
        )

    def setup(self, stage: str | None = None) -> None:
        """Build the training and validation datasets (idempotent)."""
        if self.train_set is None:
            self.train_set = self._dataset(train=True)
        if self.val_set is None and self.split.has_validation:
            self.val_set = self._dataset(train=False)

    def _loader(self, dataset: CubeDataset, sampler) -> torch.utils.data.DataLoader:
        options = {"persistent_workers": self.num_workers > 0, **self.loader_options}
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            **options,
        )

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        self.setup("fit")
        return self._loader(self.train_set, EpochSampler(len(self.train_set)))

    def val_dataloader(self) -> torch.utils.data.DataLoader | list:
        """Validation loader, or ``[]`` when ``val_fraction=0``."""
        self.setup("validate")
        if self.val_set is None:
            return []
        return self._loader(self.val_set, torch.utils.data.SequentialSampler(self.val_set))

    def state_dict(self) -> dict:
        """Split, pad spec and normalizer (JSON-able), saved in Lightning checkpoints."""
        norm = self.normalizer
        return {
            "split": self.split.to_dict(),
            "pad_spec": self.pad_spec.to_dict(),
            "normalizer": norm.to_dict() if norm is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (a resumed run keeps its split and statistics)."""
        self.split = Split.from_dict(state["split"])
        self.pad_spec = PadSpec.from_dict(state["pad_spec"])
        norm = state["normalizer"]
        self._normalizer = Normalizer.from_dict(norm) if norm is not None else None
        self._normalize = norm is not None
        self.train_set = self.val_set = None

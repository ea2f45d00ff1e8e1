"""Lightning data module: train/validation split, normalisation and loaders of crops.

The split (by sample, or by time for a single realisation) and the epoch sampler live
in :mod:`surrogates.data.split`. Validation uses fixed keys ``0 .. len - 1`` without
symmetries.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import lightning
import torch
import xarray as xr

from surrogates.data.dataset import CubeDataset
from surrogates.data.normalize import Normalizer
from surrogates.data.split import EpochSampler, Split, split_dataset
from surrogates.data.task import Task
from surrogates.data.window import PadSpec

__all__ = ["CubeDataModule", "EpochSampler", "Split", "split_dataset"]  # re-exported


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
    split_seed : int, optional
        Seed of the split alone (default ``seed``): the members of an ensemble draw their
        own crops on one shared split.
    symmetries : bool or sequence of str
        Random cube symmetries on training crops, or the axes whose mirrors are drawn
        (:class:`CubeDataset`).
    normalizer : Normalizer or bool
        ``True``: computed on the training split on first use of :attr:`normalizer`;
        ``False``: no normalisation; or given statistics (e.g. from a checkpoint).
    pad_mode : str or PadSpec
        Padding of wall/open axes (:meth:`PadSpec.from_dataset`).
    length : int, optional
        Training items per epoch (default: see :class:`CubeDataset`).
    weight : str, optional
        Variable of cell weights of the loss (:class:`CubeDataset`).
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
        symmetries: bool | Sequence[str] = True,
        normalizer: Normalizer | bool = True,
        pad_mode: str | PadSpec = "reflect",
        length: int | None = None,
        weight: str | None = None,
        split_seed: int | None = None,
        **loader_options,
    ) -> None:
        super().__init__()
        self.ds, self.task, self.weight = _open(data), task, weight
        self.crop, self.pad, self.unroll, self.length = crop, pad, unroll, length
        self.batch_size, self.num_workers, self.seed = int(batch_size), int(num_workers), seed
        self.symmetries, self.loader_options = symmetries, loader_options
        self.pad_spec = (
            pad_mode
            if isinstance(pad_mode, PadSpec)
            else PadSpec.from_dataset(self.ds, mode=pad_mode)
        )
        split_seed = seed if split_seed is None else split_seed
        self.split = split_dataset(self.ds, task, unroll, val_fraction, split_seed)
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
            weight=self.weight,
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

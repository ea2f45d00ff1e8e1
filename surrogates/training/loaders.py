"""Data loaders whose batches are a pure function of the global step: exact resume, any rank.

A :class:`~surrogates.data.CubeDataset` item is a pure function of its integer key, so
the training batch of global step ``g`` on rank ``r`` of ``R`` is fixed as the keys

    (g * R + r) * batch_size + i,    i = 0 .. batch_size - 1

(no two ranks or steps share a key; ranks draw different crops, as with a distributed
sampler). An epoch is ``batches_per_epoch`` steps. When an epoch's iterator is created,
the sampler reads the trainer's ``global_step`` and yields the steps left in the current
epoch: a run restored from a checkpoint in the middle of an epoch continues with exactly
the batches an uninterrupted run would have seen, whatever the number of loader
workers. The loader exposes ``state_dict``/``load_state_dict`` (Lightning's resumable
loader protocol); its state records the batch layout so that a resume with a different
batch size or world size is reported.

Validation uses the fixed keys ``0 .. n - 1`` (sharded round-robin over ranks, padded
by wrapping so every rank runs the same number of batches).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator

import torch

from surrogates.data import CubeDataset

__all__ = [
    "StepBatchSampler",
    "ShardedBatchSampler",
    "ResumableLoader",
    "train_loader",
    "val_loader",
]

Position = Callable[[], tuple[int, int, int]]  # (global_step, rank, world_size)


class StepBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of keys fixed by the global step (see the module docstring)."""

    def __init__(self, batches_per_epoch: int, batch_size: int, position: Position) -> None:
        self.batches_per_epoch, self.batch_size = int(batches_per_epoch), int(batch_size)
        self.position = position

    def __len__(self) -> int:
        return self.batches_per_epoch

    def keys(self, step: int, rank: int, world: int) -> list[int]:
        """Item keys of global step ``step`` on ``rank`` of ``world``."""
        first = (step * world + rank) * self.batch_size
        return list(range(first, first + self.batch_size))

    def __iter__(self) -> Iterator[list[int]]:
        step, rank, world = self.position()
        end = (step // self.batches_per_epoch + 1) * self.batches_per_epoch
        for g in range(step, end):
            yield self.keys(g, rank, world)


class ShardedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Fixed keys ``0 .. n - 1`` split round-robin over ranks, in batches."""

    def __init__(self, n: int, batch_size: int, position: Position) -> None:
        self.n, self.batch_size, self.position = int(n), int(batch_size), position

    def _keys(self) -> list[int]:
        _, rank, world = self.position()
        per_rank = math.ceil(self.n / world)
        return [(rank + world * i) % self.n for i in range(per_rank)]

    def __len__(self) -> int:
        return math.ceil(len(self._keys()) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        keys = self._keys()
        for i in range(0, len(keys), self.batch_size):
            yield keys[i : i + self.batch_size]


class ResumableLoader(torch.utils.data.DataLoader):
    """A DataLoader over a :class:`StepBatchSampler`; its position comes from the trainer."""

    def state_dict(self) -> dict:
        sampler = self.batch_sampler
        _, _, world = sampler.position()
        return {"batch_size": sampler.batch_size, "world_size": world}

    def load_state_dict(self, state: dict) -> None:
        sampler = self.batch_sampler
        _, _, world = sampler.position()
        if state != {"batch_size": sampler.batch_size, "world_size": world}:
            warnings.warn(
                f"resuming with batch size {sampler.batch_size} on {world} ranks, the checkpoint"
                f" was written with {state}: the remaining batches differ from the original run's",
                stacklevel=2,
            )


def _options(num_workers: int, pin_memory: bool) -> dict:
    return {
        "num_workers": num_workers,
        "persistent_workers": num_workers > 0,
        "pin_memory": pin_memory,
    }


def train_loader(
    dataset: CubeDataset,
    batch_size: int,
    position: Position,
    world_size: int,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> ResumableLoader:
    """Training loader; an epoch is ``len(dataset) // (batch_size * world_size)`` steps."""
    batches = max(1, len(dataset) // (batch_size * world_size))
    sampler = StepBatchSampler(batches, batch_size, position)
    return ResumableLoader(dataset, batch_sampler=sampler, **_options(num_workers, pin_memory))


def val_loader(
    dataset: CubeDataset,
    batch_size: int,
    position: Position,
    max_batches: int | None,
    world_size: int,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader:
    """Validation loader over at most ``max_batches`` batches per rank."""
    n = len(dataset)
    if max_batches is not None:
        n = min(n, max_batches * batch_size * world_size)
    sampler = ShardedBatchSampler(n, batch_size, position)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, **_options(num_workers, pin_memory)
    )

"""Tests of surrogates.data.module: splits, normalisation on the training split, loaders."""

from __future__ import annotations

import json

import lightning
import numpy as np
import pytest
import torch
import xarray as xr

import surrogates.io
from surrogates.data import CubeDataModule, EpochSampler, Normalizer, Task, split_dataset
from surrogates.errors import DataError

AXES = ("x", "y", "z")


def make_dataset(samples=5, times=6) -> xr.Dataset:
    rng = np.random.default_rng(0)
    lead = ("sample", "time") if samples else ("time",)
    shape = ((samples,) if samples else ()) + (times, 6, 6, 4)
    ds = xr.Dataset(
        {
            "rho": ((*lead, *AXES), rng.normal(1.0, 0.1, size=shape).astype(np.float32)),
            "mask": (AXES, (rng.random((6, 6, 4)) > 0.5).astype(np.float32)),
        },
        attrs={"boundary_x": "periodic", "boundary_y": "periodic", "boundary_z": "wall"},
    )
    if samples:
        ds["re"] = (("sample",), np.arange(samples) * 10.0)
    return ds


TASK = Task(inputs=["rho", "mask"], targets=["rho"], params=["re"], lead=1)


def test_split_by_sample_is_disjoint_and_seeded():
    ds = make_dataset(samples=10)
    split = split_dataset(ds, TASK, val_fraction=0.3, seed=4)
    assert len(split.val_samples) == 3 and len(split.train_samples) == 7
    assert set(split.train_samples).isdisjoint(split.val_samples)
    assert set(split.train_samples) | set(split.val_samples) == set(range(10))
    assert split_dataset(ds, TASK, val_fraction=0.3, seed=4) == split
    assert split_dataset(ds, TASK, val_fraction=0.3, seed=5) != split
    dm = CubeDataModule(ds, TASK, crop=4, val_fraction=0.3, seed=4, batch_size=2)
    dm.setup()
    train = {dm.train_set.crop_spec(k).sample for k in range(200)}
    val = {dm.val_set.crop_spec(k).sample for k in range(len(dm.val_set))}
    assert train == set(split.train_samples) and val == set(split.val_samples)


def test_single_realisation_splits_by_time_or_says_why():
    ds = make_dataset(samples=0, times=10)
    task = Task(inputs=["rho"], targets=["rho"], lead=2)
    split = split_dataset(ds, task, unroll=1, val_fraction=0.2)
    assert split.train_times == (0, 7) and split.val_times == (7, 10)  # val holds 3 = 1 + 2 steps
    dm = CubeDataModule(ds, task, crop=4, val_fraction=0.2, normalizer=False)
    dm.setup()
    assert max(dm.train_set.input_times) + 2 < 7 and min(dm.val_set.input_times) == 7
    static = make_dataset(samples=0).isel(time=0)
    with pytest.raises(DataError, match="cannot split a single realisation with 0 time steps"):
        split_dataset(static, Task(inputs=["rho"], targets=["mask"]))
    assert (
        CubeDataModule(
            static, Task(inputs=["rho"], targets=["mask"]), crop=4, val_fraction=0
        ).val_dataloader()
        == []
    )


def test_normalizer_from_training_split_and_state_dict():
    ds = make_dataset()
    dm = CubeDataModule(ds, TASK, crop=4, pad=1, seed=1)
    expected = Normalizer.from_dataset(ds, ["rho", "mask", "re"], samples=dm.split.train_samples)
    assert dm.normalizer == expected
    state = json.loads(json.dumps(dm.state_dict()))  # JSON-able, as in a checkpoint
    other = CubeDataModule(ds, TASK, crop=4, pad=1, seed=99)
    other.load_state_dict(state)
    assert other.split == dm.split and other.normalizer == dm.normalizer
    assert other.pad_spec == dm.pad_spec and dm.task is TASK
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape == (8, 2, 6, 6, 6) and batch["target"].shape == (8, 1, 1, 6, 6, 6)
    assert batch["params"].shape == (8, 1, 1)


def test_path_is_opened_with_io(monkeypatch, tmp_path):
    opened = []

    def fake_open(source, **options):
        opened.append(source)
        return make_dataset()

    monkeypatch.setattr(surrogates.io, "open_dataset", fake_open, raising=False)
    dm = CubeDataModule(tmp_path / "run.nc", TASK, crop=4, normalizer=False)
    assert opened == [tmp_path / "run.nc"] and dm.ds.sizes["sample"] == 5


def test_epoch_sampler_draws_fresh_crops_each_epoch():
    sampler = EpochSampler(4)
    assert list(sampler) == [0, 1, 2, 3] and list(sampler) == [4, 5, 6, 7]
    sampler.set_epoch(5)
    assert list(sampler) == [20, 21, 22, 23]


class Recorder(lightning.LightningModule):
    """Minimal module: one scalar weight, records the crops it is fed."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.seen: list[tuple[int, torch.Tensor]] = []
        self.val_batches = 0

    def training_step(self, batch, index):
        self.seen.append((self.current_epoch, batch["input"].clone()))
        return ((batch["target"][:, 0] - self.w) ** 2).mean()

    def validation_step(self, batch, index):
        self.val_batches += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_lightning_fit_sees_new_crops_every_epoch():
    dm = CubeDataModule(make_dataset(), TASK, crop=4, batch_size=2, length=4)
    model = Recorder()
    trainer = lightning.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        accelerator="cpu",
    )
    trainer.fit(model, datamodule=dm)
    epochs = [e for e, _ in model.seen]
    assert epochs == [0, 0, 1, 1] and model.val_batches == 2
    first = torch.cat([x for e, x in model.seen if e == 0])
    second = torch.cat([x for e, x in model.seen if e == 1])
    assert not torch.equal(first, second)

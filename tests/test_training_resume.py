"""Checkpoints: kill-and-resume is bit-identical, writes are atomic, incompatible resumes fail."""

from __future__ import annotations

import csv

import lightning
import pytest
import torch
from test_training_fixtures import map_dataset

from surrogates.data import Task
from surrogates.errors import ModelError
from surrogates.training import fit, load
from surrogates.training.checkpoint import (
    atomic_torch_save,
    find_resume_checkpoint,
    model_state,
    read_checkpoint,
)

pytestmark = pytest.mark.usefixtures("one_thread")

TASK = Task(["a"], ["b"], params=["omega"])
# 3 samples (2 train, 1 validation), 5 batches per epoch: the checkpoint at step 4 is
# mid-epoch, validation and checkpoints every 4 steps, cosine schedule over 12 steps.
COMMON = dict(
    crop=8, batch_size=4, length=20, max_steps=12, checkpoint_every=4, val_batches=2,
    weights="last", progress=False, log_every=2, model_config={"width": 4, "levels": 1},
)  # fmt: skip


class Killed(Exception):
    """Stands for SIGKILL: the run dies with whatever is on disk."""


class KillAt(lightning.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            raise Killed(f"killed at step {self.step}")


def _equal_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_kill_and_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    ds = map_dataset(3)
    full = fit(ds, TASK, "vnet", out_dir=str(tmp_path / "full"), **COMMON)
    with pytest.raises(Killed):
        fit(ds, TASK, "vnet", out_dir=str(tmp_path / "run"), callbacks=[KillAt(6)], **COMMON)
    last = find_resume_checkpoint(tmp_path / "run" / "checkpoints")
    assert last is not None and read_checkpoint(last)["global_step"] == 4
    resumed = fit(ds, TASK, "vnet", out_dir=str(tmp_path / "run"), resume=True, **COMMON)
    assert resumed.metadata.provenance["steps"] == full.metadata.provenance["steps"] == 12
    assert _equal_weights(resumed.model, full.model)  # bit for bit: CPU, same seed
    # deterministic for a seed: a third run from scratch agrees as well
    again = fit(ds, TASK, "vnet", **{**COMMON, "checkpoint_every": 100})
    assert _equal_weights(again.model, full.model)
    # the artifact, the logs (loss and throughput) and the final checkpoint are on disk
    assert _equal_weights(load(tmp_path / "run" / "surrogate.pt").model, full.model)
    with open(next((tmp_path / "full" / "logs").rglob("metrics.csv"))) as f:
        columns = set(csv.DictReader(f).fieldnames)
    assert {"loss", "samples_per_s", "val_loss"} <= columns
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 12


def test_weights_best_returns_the_best_validation_checkpoint(tmp_path):
    out = tmp_path / "run"
    surrogate = fit(map_dataset(3), TASK, "vnet", out_dir=str(out), **{**COMMON, "weights": "best"})
    best = model_state(read_checkpoint(out / "checkpoints" / "best.ckpt"))
    assert all(torch.equal(best[k], v) for k, v in surrogate.model.state_dict().items())
    assert surrogate.metadata.provenance["weights"].startswith("best (val_loss")


def test_resume_refuses_a_changed_configuration(tmp_path):
    ds = map_dataset(3)
    out = str(tmp_path / "run")
    fit(ds, TASK, "vnet", out_dir=out, **{**COMMON, "max_steps": 4})
    changed = {**COMMON, "model_config": {"width": 6, "levels": 1}}
    with pytest.raises(ModelError, match=r"cannot resume from .*last.ckpt.*model"):
        fit(ds, TASK, "vnet", out_dir=out, resume=True, **changed)
    with pytest.raises(ModelError, match="resume=True needs out_dir or checkpoint_dir"):
        fit(ds, TASK, "vnet", resume=True, **COMMON)


def test_atomic_save_keeps_the_old_file_when_a_write_dies(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"step": torch.tensor(1)}, path)

    def dying_save(obj, f):
        f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt  # killed in the middle of writing

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"step": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert int(torch.load(path, weights_only=True)["step"]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary left over


def test_read_checkpoint_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hook": Killed("payload")}, path)
    with pytest.raises(ModelError, match="cannot read the training checkpoint"):
        read_checkpoint(path)


def test_early_stopping_ends_a_run_that_stopped_improving():
    # lr = 1e-30 leaves the weights unchanged in float32, so the validation loss never
    # improves after the first check: with patience 2 the run stops at the third check.
    options = {**COMMON, "lr": 1e-30, "val_every": 1, "max_steps": 50, "patience": 2}
    surrogate = fit(map_dataset(3), TASK, "vnet", **options)
    assert surrogate.metadata.provenance["steps"] == 3

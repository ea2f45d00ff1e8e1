"""A thin LightningModule around any registered model: unrolled loss, AdamW, LR schedule.

A batch holds physical (un-normalised) windows from :class:`~surrogates.data.CubeDataset`:
``input`` (B, C_in, *W), ``target`` (B, C_out, *W) for map tasks or (B, k, C_out, *W)
for lead tasks, ``params`` (B, P) or (B, k, P). Step ``j`` of an item normalises the
current window with :class:`~surrogates.artifact.scaling.Scaling`, applies the network,
and compares its output with the target encoded in the network's output space over the
centred loss region of the :class:`~surrogates.training.geometry.UnrollPlan`. For lead
tasks the decoded (physical) prediction, centre-cropped, becomes the state of the next
step, and static inputs (masks) are re-cropped from the original window; with
``detach=True`` gradients do not flow between steps (pushforward-style training).
A batch may also hold ``weight`` (B, 1, *W) or (B, k, 1, *W): cell weights of the loss
(the ``loss_weight`` option), cropped to each step's loss region. A network trained by a
probabilistic loss outputs means then ``log σ`` (2 C_out channels); the means are decoded.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import lightning
import torch

from surrogates.artifact.scaling import Scaling
from surrogates.data import Task
from surrogates.errors import ModelError
from surrogates.models import SurrogateModel
from surrogates.nn import crop_to
from surrogates.training.checkpoint import META_KEY
from surrogates.training.config import SCHEDULES
from surrogates.training.geometry import UnrollPlan
from surrogates.training.losses import Loss

__all__ = ["Optimization", "SurrogateModule", "Throughput"]


@dataclass(frozen=True)
class Optimization:
    """AdamW settings and the learning-rate schedule (stepped every optimizer step)."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ModelError(f"schedule: got {self.schedule!r}, expected one of {SCHEDULES}")


def _cosine(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


class SurrogateModule(lightning.LightningModule):
    """Training wrapper (see the module docstring); ``model`` stays a plain ``nn.Module``.

    Parameters
    ----------
    model : SurrogateModel
        The network.
    task : Task
        Inputs, targets, parameters and lead.
    scaling : Scaling
        Normalisation and residual maps.
    plan : UnrollPlan
        Window, output and loss-region sizes of each step.
    loss : Loss
        Training objective.
    optimization : Optimization
        Optimiser and schedule.
    detach : bool
        Stop gradients between unrolled steps.
    run_metadata : str
        JSON description of the run, stored in every checkpoint.
    """

    def __init__(
        self,
        model: SurrogateModel,
        task: Task,
        scaling: Scaling,
        plan: UnrollPlan,
        loss: Loss,
        optimization: Optimization,
        detach: bool = False,
        run_metadata: str = "{}",
    ) -> None:
        super().__init__()
        self.model, self.task, self.scaling, self.plan = model, task, scaling, plan
        self.loss_fn, self.optimization, self.detach = loss, optimization, detach
        self.run_metadata = run_metadata
        # input channel -> target channel carrying its new value (-1: static input)
        self._state_of = [task.targets.index(n) if n in task.targets else -1 for n in task.inputs]
        self.history: dict[str, float] = {}

    def forward(self, window: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """One physical step: window (B, C_in, *W) -> target (B, C_out, *output_size(W))
        (a Gaussian head's means: its first C_out channels)."""
        y = self.model(self.scaling.inputs(window), self.scaling.params(params))
        return self.scaling.decode(y[:, : len(self.task.targets)], window)

    def _next_state(self, pred: torch.Tensor, first: torch.Tensor, size) -> torch.Tensor:
        """Input window of the next step: predicted state channels, re-cropped statics."""
        pred, first = crop_to(pred, size), crop_to(first, size)
        channels = [
            pred[:, j : j + 1] if j >= 0 else first[:, i : i + 1]
            for i, j in enumerate(self._state_of)
        ]
        return torch.cat(channels, dim=1)

    def unrolled_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Mean loss over the unrolled steps of a batch, and logged components."""
        window, target, params = batch["input"], batch["target"], batch["params"]
        weight = batch.get("weight")
        if self.task.lead is None:
            target, params = target.unsqueeze(1), params.unsqueeze(1)
            weight = None if weight is None else weight.unsqueeze(1)
        total, parts, state = 0.0, {}, window
        for j in range(self.plan.unroll):
            y = self.model(self.scaling.inputs(state), self.scaling.params(params[:, j]))
            region = self.plan.losses[j]
            encoded = self.scaling.encode(crop_to(target[:, j], region), crop_to(state, region))
            w = None if weight is None else crop_to(weight[:, j], region)
            loss, components = self.loss_fn(crop_to(y, region), encoded, w)
            total = total + loss
            for k, v in components.items():
                parts[k] = parts.get(k, 0.0) + v / self.plan.unroll
            if j + 1 < self.plan.unroll:
                pred = self.scaling.decode(y[:, : len(self.task.targets)], state)
                pred = pred.detach() if self.detach else pred
                state = self._next_state(pred, window, self.plan.inputs[j + 1])
        return total / self.plan.unroll, parts

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, parts = self.unrolled_loss(batch)
        size = batch["input"].shape[0]
        self.log("loss", loss, prog_bar=True, batch_size=size)
        for k, v in parts.items():
            self.log(f"train_{k}", v, batch_size=size)
        value = float(loss.detach())
        self.history.setdefault("train_loss_first", value)
        self.history["train_loss_last"] = value
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss, _ = self.unrolled_loss(batch)
        self.log(
            "val_loss", loss, prog_bar=True, sync_dist=True, batch_size=batch["input"].shape[0]
        )

    def on_validation_epoch_end(self) -> None:
        val = self.trainer.callback_metrics.get("val_loss")
        if val is not None and not self.trainer.sanity_checking:
            best = self.history.get("val_loss_best", math.inf)
            self.history["val_loss_best"] = min(best, float(val))
            self.history["val_loss_last"] = float(val)

    def configure_optimizers(self):
        opt = self.optimization
        optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=opt.lr, weight_decay=opt.weight_decay
        )
        if opt.schedule == "constant":
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)
        if opt.schedule == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, opt.lr, total_steps=total)
        else:
            factor = _cosine(opt.warmup_steps, total)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[META_KEY] = self.run_metadata
        checkpoint[f"{META_KEY}_history"] = dict(self.history)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = dict(checkpoint.get(f"{META_KEY}_history", {}))


class Throughput(lightning.Callback):
    """Logs ``samples_per_s`` (all ranks together, smoothed) to the progress bar and logs."""

    def __init__(self, smoothing: float = 0.9) -> None:
        self.smoothing, self._last, self._rate = smoothing, None, None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None and now > self._last:
            rate = batch["input"].shape[0] * trainer.world_size / (now - self._last)
            s = self.smoothing
            self._rate = rate if self._rate is None else s * self._rate + (1 - s) * rate
            pl_module.log("samples_per_s", self._rate, prog_bar=True, batch_size=1)
        self._last = now

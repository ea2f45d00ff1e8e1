"""Window geometry of training crops and unrolled steps.

Per spatial axis, from the model contract and the shared size helpers of
:mod:`surrogates.artifact.geometry` (a model's ``trim``, its valid sizes).

Unrolled training (``unroll = k`` steps of a lead task)
-------------------------------------------------------
Step ``j`` (1-based) maps an input of ``in_j`` cells to ``out_j = output_size(in_j)``.
With a shrinking model each step eats ``halo`` cells per side, so the default pad is
derived backwards from the core ``crop``: ``out_k = crop``, ``in_j = input_size(out_j)``
and ``out_{j-1}`` is the smallest valid output size ``>= in_j`` of the same parity (equal
to ``in_j`` unless the halo is not a multiple of ``alignment``); the window is
``W = in_1 = crop + 2 pad``, i.e. ``pad ~ unroll * halo``. Between steps the prediction is
centre-cropped to ``in_{j+1}`` and static inputs (masks) are re-cropped from the original
window to the same size.

The loss of step ``j`` covers the centre ``loss_j`` cells: the whole output for a
shrinking model (every output cell saw its full receptive field), and for a same-size
model the core plus what is left of the pad after ``j`` halos,
``min(out_j, crop + 2 max(0, pad - j halo))`` (cells near the window's faces saw an
artificial boundary). Same-size models default to ``pad = 0``: crops are then treated as
the model's whole domain, which is exact when ``crop`` equals a periodic axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from surrogates.artifact.geometry import input_at_most, output_at_least, trim
from surrogates.errors import ModelError
from surrogates.models import SurrogateModel

__all__ = ["UnrollPlan", "plan_unroll"]


@dataclass(frozen=True)
class UnrollPlan:
    """Sizes of an unrolled training item, per spatial axis.

    Attributes
    ----------
    crop, pad : tuple of int
        Core and halo pad per axis; the window is ``crop + 2 * pad``.
    inputs, outputs, losses : tuple of tuple of int
        Per step ``j`` (outer) and axis (inner): model input size, output size and size
        of the centred region the loss is computed on.
    """

    crop: tuple[int, ...]
    pad: tuple[int, ...]
    inputs: tuple[tuple[int, ...], ...]
    outputs: tuple[tuple[int, ...], ...]
    losses: tuple[tuple[int, ...], ...]

    @property
    def window(self) -> tuple[int, ...]:
        return tuple(c + 2 * p for c, p in zip(self.crop, self.pad, strict=True))

    @property
    def unroll(self) -> int:
        return len(self.inputs)


def _default_pad(model: SurrogateModel, crop: int, unroll: int) -> int:
    size = _checked(model.input_size, crop, f"crop {crop}")
    for _ in range(unroll - 1):
        size = model.input_size(output_at_least(model, size, 2))
    return (size - crop) // 2


def _checked(fn, n: int, what: str) -> int:
    try:
        return fn(n)
    except ModelError as err:
        raise ModelError(f"{what}: {err}") from None


def _too_small(model: SurrogateModel, crop: int, pad: int, unroll: int, j: int, out: int):
    return ModelError(
        f"pad {pad} is too small for unroll={unroll}: step {j} of {model.name} (halo"
        f" {model.halo}) predicts {out} cells for a core of {crop}, too few to go on; leave"
        f" pad unset to derive it ({_default_pad(model, crop, unroll)} here)"
    )


def _axis_steps(model: SurrogateModel, crop: int, pad: int, unroll: int) -> list[tuple]:
    size, steps, shrink = crop + 2 * pad, [], trim(model)
    for j in range(1, unroll + 1):
        out = _checked(model.output_size, size, f"crop {crop} + 2 * pad {pad}, step {j}")
        loss = out if shrink else min(out, crop + 2 * max(0, pad - j * model.halo))
        if loss < crop:
            raise _too_small(model, crop, pad, unroll, j, out)
        steps.append((size, out, loss))
        if j < unroll:
            try:
                size = input_at_most(model, out)
            except ModelError:
                raise _too_small(model, crop, pad, unroll, j, out) from None
    return steps


def plan_unroll(
    model: SurrogateModel, crop: Sequence[int], pad: Sequence[int] | None, unroll: int = 1
) -> UnrollPlan:
    """Sizes of every step of an unrolled item (see the module docstring).

    Parameters
    ----------
    model : SurrogateModel
        The network (its ``output_size`` / ``input_size`` define valid sizes).
    crop : sequence of int
        Core size per spatial axis.
    pad : sequence of int or None
        Halo pad per axis; None derives the smallest pad that makes every step valid.
    unroll : int
        Number of steps (1 for map tasks).

    Raises
    ------
    ModelError
        If a size is invalid for the model or the pad cannot cover ``unroll`` steps.
    """
    crop = tuple(int(c) for c in crop)
    if pad is None:
        pad = tuple(_default_pad(model, c, unroll) for c in crop)
    pad = tuple(int(p) for p in pad)
    per_axis = [_axis_steps(model, c, p, unroll) for c, p in zip(crop, pad, strict=True)]
    steps = list(zip(*per_axis, strict=True))  # per step: per axis (in, out, loss)
    return UnrollPlan(
        crop=crop,
        pad=pad,
        inputs=tuple(tuple(a[0] for a in s) for s in steps),
        outputs=tuple(tuple(a[1] for a in s) for s in steps),
        losses=tuple(tuple(a[2] for a in s) for s in steps),
    )

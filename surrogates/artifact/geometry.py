"""Window geometry shared by training and prediction: a model's shrink and valid sizes.

Models either *shrink* their input (``vnet``: valid convolutions, output = input - 2 halo)
or keep its size (``fno``, padded ``unet``). Everything here is per spatial axis and uses
only the model contract (``output_size``, ``input_size``, ``halo``, ``alignment``). The
sizes of unrolled training items are planned in :mod:`surrogates.training.geometry`.

Prediction
----------
To cover an axis of ``n`` cells, the model is applied to the window starting at
``-(trim + context)`` of ``input_size(o)`` cells, where ``trim`` is the model's shrink
per side, ``context`` the pad a same-size model was trained with (0 for shrinking
models) and ``o`` the smallest valid output size ``>= n + 2 context``; the output cells
``context .. context + n`` are the domain. Cells past the domain are padded by the
boundary rule and discarded.
"""

from __future__ import annotations

from surrogates.errors import ModelError
from surrogates.models import SurrogateModel

__all__ = ["input_at_most", "output_at_least", "predict_window", "trim"]


def _valid(fn, n: int) -> bool:
    try:
        fn(n)
    except ModelError:
        return False
    return True


def trim(model: SurrogateModel) -> int:
    """Cells a model removes per side and per application (``halo`` for vnet, else 0)."""
    m = next((m for m in range(1, 4 * model.alignment + 1) if _valid(model.input_size, m)), None)
    if m is None:
        raise ModelError(f"{model.name}: no valid output size up to {4 * model.alignment}")
    shrink = model.input_size(m) - m
    assert shrink >= 0 and shrink % 2 == 0, f"model grows its input: {m} -> {shrink}"
    return shrink // 2


def output_at_least(model: SurrogateModel, n: int, step: int) -> int:
    """Smallest valid output size ``>= n`` (``step=2``: of the same parity as ``n``)."""
    for m in range(max(n, 1), max(n, 1) + 2 * model.alignment + 2, step):
        if _valid(model.input_size, m):
            return m
    raise ModelError(f"{model.name}: no valid output size at or above {n}")


def input_at_most(model: SurrogateModel, n: int) -> int:
    """Largest valid input size ``<= n`` of the same parity as ``n``."""
    for s in range(n, max(n - 2 * model.alignment - 2, 0), -2):
        if _valid(model.output_size, s):
            return s
    raise ModelError(f"{model.name}: no valid input size at or below {n} of the same parity")


def predict_window(model: SurrogateModel, n: int, context: int) -> tuple[int, int, int]:
    """``(start, size, offset)`` of the window that predicts an axis of ``n`` cells.

    The model applied to cells ``start .. start + size`` (padded outside the domain)
    gives an output whose cells ``offset .. offset + n`` are the domain's.
    """
    shrink = trim(model)
    out = output_at_least(model, n + 2 * context, 1)
    return -(shrink + context), model.input_size(out), context

"""Reliability in the tiled rollout: calibrated half-widths per tile, stitched exactly.

The estimator is the surrogate's reliability attachment (an error model or an ensemble):
``kind``, ``calibration``, ``halo`` (cells per side by which its half-width map is
smaller than the surrogate's output), ``halfwidth(x, y, step, params)`` and ``to``. With
``reliability=True`` the tiles get :func:`extra_margin` more cells per side (the halo
rounded up to the model's alignment, so every window stays on the whole-domain grid):
the surrogate's output then covers the core plus that margin, the estimator's map covers
at least the core, and the stitched ``<var>_error`` fields equal a whole-field estimate
(:func:`surrogates.reliability.predict_error` on periodic axes; at a wall or open face
the tiled estimate sees the surrogate's own prediction past the face, the whole-field
one the padded prediction).

Store layout added (root group)
-------------------------------
``<var>_error``
    Per target, on the target's dims and chunks: the half-width ``h`` such that
    ``[ŷ - h, ŷ + h]`` covers the truth with probability ``level`` (per cell or per
    tile of ``tile`` cells, attribute ``per``). A lead rollout's frame 0 (the given
    state) has ``h = 0``; saved frame ``i`` holds step ``steps[i]`` (attribute).
``<var>_error_tile_max``, ``<var>_error_tile_mean``
    The per-tile table: max and mean of ``h`` over each tile's core, dims
    ``(sample, step | time, tile)`` (``step`` 1..K for a lead rollout: every step, saved
    or not; ``time`` for timed map inputs), with coordinates ``tile`` and the core
    bounds ``tile_start_<axis>``, ``tile_stop_<axis>`` (cells).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from surrogates.errors import ModelError
from surrogates.reliability.error_model import attachment
from surrogates.rollout.store import ArraySpec
from surrogates.rollout.tiling import Tile, TilePlan

__all__ = [
    "TABLE", "error_arrays", "estimator", "extra_margin", "fingerprint_estimator", "table_coords",
    "table_rows", "to_core",
]  # fmt: skip

#: Suffixes of the per-tile table's variables and their reductions over a tile's core.
TABLE = {"_error_tile_max": np.max, "_error_tile_mean": np.mean}


def estimator(surrogate: Any, steps: int, name: str | None = None) -> Any:
    """The surrogate's reliability attachment, checked for a rollout of ``steps`` steps.

    Raises
    ------
    ModelError
        No attachment (naming the artifact, and how to attach one), or more steps than
        were calibrated.
    """
    est = attachment(surrogate, name)
    what = name or f"the {surrogate.model.name} surrogate"
    calibrated = est.calibration.steps
    if steps > calibrated:
        raise ModelError(
            f"{what}: reliability for {steps} rollout steps, but its {est.kind} is calibrated"
            f" for {calibrated} step(s); roll out at most {calibrated} steps or refit with"
            f" fit_error_model(..., steps={steps})"
        )
    return est


def extra_margin(est: Any, alignment: int) -> int:
    """Extra cells per tile side: the estimator's halo rounded up to ``alignment``."""
    return -(-int(est.halo) // alignment) * alignment


def fingerprint_estimator(est: Any) -> str:
    """``"<kind>:<sha>"`` of the estimator's calibration (refitting changes it)."""
    record = json.dumps(est.calibration.to_dict(), sort_keys=True).encode()
    return f"{est.kind}:{hashlib.sha256(record).hexdigest()[:16]}"


def to_core(values: np.ndarray, tiles: TilePlan, tile: Tile) -> np.ndarray:
    """The domain cells of a tile's output map, shape (C, *core).

    Parameters
    ----------
    values : numpy.ndarray, shape (C, *S)
        A map centred on the tile, at least the padded core (``tiles.tile``) per axis;
        each axis larger by an even number of cells.
    """
    crop = [(s - t) // 2 for s, t in zip(values.shape[1:], tiles.tile, strict=True)]
    assert all(c >= 0 for c in crop), (values.shape, tiles.tile)
    return values[
        (slice(None), *(slice(c, c + b - a) for c, (a, b) in zip(crop, tile.core, strict=True)))
    ]


def _table_dims(spec: Any) -> tuple[tuple[str, ...], tuple[int, ...]]:
    dims = ("sample",) * (spec.samples is not None)
    shape = (spec.samples,) * (spec.samples is not None)
    if spec.lead is not None:
        return dims + ("step", "tile"), shape + (spec.steps,)
    if spec.times is not None:
        return dims + ("time", "tile"), shape + (spec.times,)
    return dims + ("tile",), shape


def error_arrays(spec: Any, plan: Any, task: Any, est: Any, targets: list[ArraySpec]):
    """The ``<var>_error`` fields (like the ``targets``' specs) and the per-tile table."""
    cal = est.calibration
    attrs = {"level": cal.level, "per": cal.per, "reliability": est.kind}
    if cal.tile is not None:
        attrs["tile"] = cal.tile
    if spec.lead is not None:
        attrs["steps"] = list(spec.saved)
        attrs["step"] = "frame i holds rollout step steps[i] (q of that step); frame 0 is 0"
    else:
        attrs["step"] = 1
    out = []
    for t in targets:
        units = dict(t.attrs).get("units")
        long = f"calibrated {cal.level:g} interval half-width of {t.name}"
        extra = {"long_name": long} | ({"units": units} if units is not None else {})
        out.append(ArraySpec("", f"{t.name}_error", t.dims, t.shape, t.chunks,
                             attrs=tuple((attrs | extra).items())))  # fmt: skip
    dims, shape = _table_dims(spec)
    n = len(plan.tiles)
    for name in task.targets:
        for suffix, reduce in TABLE.items():
            long = f"{reduce.__name__} over each tile's core of {name}_error"
            out.append(ArraySpec("", name + suffix, dims, (*shape, n), (1,) * len(dims),
                                 attrs=tuple((attrs | {"long_name": long}).items())))  # fmt: skip
    return out


def table_coords(spec: Any, plan: Any) -> dict:
    """Coordinates of the table: ``tile``, core bounds per axis, ``step`` (lead)."""
    import xarray as xr

    tiles = list(plan.tiles)
    coords = {"tile": xr.Variable(("tile",), np.arange(len(tiles)))}
    for k, axis in enumerate(spec.axes):
        for j, bound in enumerate(("start", "stop")):
            values = np.asarray([t.core[k][j] for t in tiles], dtype=np.int64)
            attrs = {"long_name": f"{bound} cell of the tile's core along {axis}"}
            coords[f"tile_{bound}_{axis}"] = xr.Variable(("tile",), values, attrs)
    if spec.lead is not None:
        coords["step"] = xr.Variable(("step",), np.arange(1, spec.steps + 1))
    return coords


def table_rows(core: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel reductions of one tile's half-widths (C, *core): suffix -> shape (C,)."""
    flat = core.reshape(core.shape[0], -1).astype(np.float64)
    return {suffix: reduce(flat, axis=1).astype(np.float32) for suffix, reduce in TABLE.items()}

"""Split-conformal calibration of error scales: finite-sample coverage at a chosen level.

Scores and quantile
-------------------
A calibration unit's nonconformity score is ``|y - ŷ| / σ̂`` with ``σ̂`` the predicted error
scale (an error model's or an ensemble's; ``σ̂ ≡ 1`` gives plain absolute-residual
conformal). With ``n`` exchangeable calibration units the interval half-width is ``σ̂ q``
where ``q`` is the ``⌈(n + 1) level⌉``-th smallest score; a fresh exchangeable unit is then
covered with probability at least ``level`` (and below ``level + 1 / (n + 1)``; Vovk et
al. 2005, Lei et al. 2018). That needs ``⌈(n + 1) level⌉ <= n``, i.e.
``n >= ⌈level / (1 - level)⌉`` units (9 at level 0.9).

Units
-----
- ``per="cell"``: a unit is one cell of one calibration sample, pooled over samples and
  cells into **one** ``q`` per variable (and step). The guarantee is marginal over a
  random cell of a random sample. Gopakumar et al. (2024, arXiv 2408.09881) instead take
  a quantile per cell over samples; that ties ``q`` to a cell's position in the training
  domain, which a tiled rollout over a larger domain does not have, and needs
  ``⌈level / (1 - level)⌉`` samples per cell. Here the spatial variation comes from
  ``σ̂``, so the pooled ``q`` transfers to any domain and tile.
- ``per="tile"``: each calibration field is cut into non-overlapping blocks of ``tile``
  cells per axis (trailing cells that do not fill a block are dropped); a unit's score is
  the **max** of its cells' scores, so a fresh tile is covered *everywhere* with
  probability at least ``level`` (a simultaneous band over the tile).
- Lead surrogates calibrate **per step**: one ``q`` per step of the rollout, because
  errors grow along it (index ``step - 1`` of :attr:`Calibration.q`).

Variables are calibrated separately (one ``q`` per target variable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from surrogates.errors import ModelError

__all__ = [
    "PER", "Calibration", "calibrate", "check_level", "conformal_quantile", "coverage",
    "min_calibration", "scores", "tile_scores",
]  # fmt: skip

PER = ("cell", "tile")
"""Calibration units: single cells, or whole tiles (a tile's score is its maximum)."""


def check_level(level: float) -> float:
    """Return ``level`` as a float if it lies strictly between 0 and 1 (else ModelError)."""
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ModelError(f"conformal level: got {level!r}, expected a number in (0, 1)")
    return float(level)


def min_calibration(level: float) -> int:
    """The fewest calibration units that give a finite quantile: ``⌈level / (1 - level)⌉``."""
    level = check_level(level)
    return max(1, math.ceil(level / (1 - level) - 1e-9))


def conformal_quantile(values: np.ndarray, level: float) -> float:
    """The ``⌈(n + 1) level⌉``-th smallest of ``n`` scores (the split-conformal quantile).

    Parameters
    ----------
    values : numpy.ndarray, shape (n,)
        Calibration scores (any shape; flattened).
    level : float
        Target coverage in (0, 1).

    Raises
    ------
    ModelError
        Bad level, or fewer than :func:`min_calibration` scores (the message says how many
        are needed).
    """
    level = check_level(level)
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    need = min_calibration(level)
    if v.size < need:
        raise ModelError(
            f"conformal calibration: {v.size} calibration units are too few for level"
            f" {level}; need at least {need} (more calibration samples, or a lower level)"
        )
    if not np.all(np.isfinite(v)):
        raise ModelError("conformal calibration: scores are not all finite (σ̂ = 0 somewhere?)")
    rank = min(v.size, math.ceil((v.size + 1) * level - 1e-9))
    return float(v[rank - 1])


def scores(
    truth: np.ndarray, prediction: np.ndarray, sigma: np.ndarray | None = None
) -> np.ndarray:
    """Cell scores ``|truth - prediction| / sigma`` (``sigma`` None: absolute residuals).

    Parameters
    ----------
    truth, prediction : numpy.ndarray, shape (n, C, *spatial)
    sigma : numpy.ndarray, shape (n, C, *spatial), optional
        Predicted error scale, > 0.

    Returns
    -------
    numpy.ndarray, shape (n, C, *spatial), float64
    """
    truth, prediction = np.asarray(truth, np.float64), np.asarray(prediction, np.float64)
    if truth.shape != prediction.shape or (sigma is not None and np.shape(sigma) != truth.shape):
        got = (truth.shape, prediction.shape, None if sigma is None else np.shape(sigma))
        raise ModelError(f"conformal scores: shapes (truth, prediction, sigma) {got} differ")
    r = np.abs(truth - prediction)
    return r if sigma is None else r / np.asarray(sigma, np.float64)


def tile_scores(cell: np.ndarray, tile: int) -> np.ndarray:
    """Per-tile scores: the max over non-overlapping ``tile``-cell blocks of each field.

    Parameters
    ----------
    cell : numpy.ndarray, shape (n, C, *spatial)
        Cell scores.
    tile : int
        Block edge in cells (every spatial axis); trailing cells that fill no block drop.

    Returns
    -------
    numpy.ndarray, shape (n * blocks, C)
    """
    spatial = cell.shape[2:]
    if not isinstance(tile, int) or tile < 1 or tile > min(spatial):
        raise ModelError(
            f"conformal per='tile': tile={tile!r}, expected an int in [1, {min(spatial)}]"
            f" for fields of {tuple(spatial)} cells"
        )
    blocks = [n // tile for n in spatial]
    x = cell[(slice(None), slice(None), *(slice(0, b * tile) for b in blocks))]
    shape = [cell.shape[0], cell.shape[1]]
    for b in blocks:
        shape += [b, tile]
    x = x.reshape(shape).max(axis=tuple(range(3, len(shape), 2)))  # (n, C, *blocks)
    return np.moveaxis(x, 1, -1).reshape(-1, cell.shape[1])


def _units(cell: np.ndarray, per: str, tile: int | None) -> np.ndarray:
    """Calibration units of cell scores (n, C, *spatial) as shape (units, C)."""
    if per == "cell":
        return np.moveaxis(cell, 1, -1).reshape(-1, cell.shape[1])
    if per == "tile":
        return tile_scores(cell, tile)
    raise ModelError(f"conformal calibration: per={per!r}, expected one of {list(PER)}")


@dataclass(frozen=True)
class Calibration:
    """A split-conformal calibration: the level, the units, and ``q`` per step and variable.

    Attributes
    ----------
    level : float
        Target coverage in (0, 1).
    per : {"cell", "tile"}
        Calibration unit (see the module docstring).
    tile : int or None
        Block edge in cells for ``per="tile"``.
    variables : tuple of str
        Target variables, the order of the inner axis of ``q``.
    n : int
        Calibration units per step and variable.
    q : tuple of tuple of float
        ``q[step - 1][c]``: the score quantile (interval half-width is ``σ̂ q``).
    summary : tuple of dict
        Per step, per-variable score statistics (``mean``, ``median``, ``max``) as lists.
    calibration_set : dict
        JSON-able record of the held-out data used (sample indices, source, ...).
    """

    level: float
    per: str
    tile: int | None
    variables: tuple[str, ...]
    n: int
    q: tuple[tuple[float, ...], ...]
    summary: tuple[dict, ...] = ()
    calibration_set: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.q)

    def quantile(self, step: int = 1) -> np.ndarray:
        """``q`` of every variable at rollout ``step`` (1-based), shape (C,)."""
        if not isinstance(step, int) or not 1 <= step <= self.steps:
            raise ModelError(
                f"calibration: step {step!r} is not calibrated; calibrated steps 1..{self.steps}"
            )
        return np.asarray(self.q[step - 1], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, inverse of :meth:`from_dict`."""
        return {
            "level": self.level, "per": self.per, "tile": self.tile,
            "variables": list(self.variables), "n": self.n,
            "q": [list(row) for row in self.q], "summary": [dict(s) for s in self.summary],
            "calibration_set": dict(self.calibration_set),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        try:
            return cls(
                level=check_level(data["level"]), per=str(data["per"]),
                tile=None if data["tile"] is None else int(data["tile"]),
                variables=tuple(data["variables"]), n=int(data["n"]),
                q=tuple(tuple(float(v) for v in row) for row in data["q"]),
                summary=tuple(dict(s) for s in data.get("summary", ())),
                calibration_set=dict(data.get("calibration_set", {})),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise ModelError(
                f"calibration record is corrupt ({type(err).__name__}: {err})"
            ) from None


def calibrate(
    truth: np.ndarray | Sequence[np.ndarray],
    prediction: np.ndarray | Sequence[np.ndarray],
    sigma: np.ndarray | Sequence[np.ndarray] | None = None,
    *,
    level: float = 0.9,
    per: str = "cell",
    tile: int | None = None,
    variables: Sequence[str] | None = None,
    calibration_set: Mapping[str, Any] | None = None,
) -> Calibration:
    """Split-conformal calibration of held-out predictions (one or several rollout steps).

    Parameters
    ----------
    truth, prediction : numpy.ndarray, shape (n, C, *spatial), or a list of them
        Held-out truth and prediction; a list holds one array per rollout step (steps
        1, 2, ...), each with its own ``n``.
    sigma : numpy.ndarray or list, same shapes, optional
        Predicted error scale ``σ̂ > 0``; None calibrates absolute residuals.
    level : float
        Target coverage in (0, 1).
    per : {"cell", "tile"}
    tile : int, optional
        Block edge for ``per="tile"``.
    variables : sequence of str, optional
        Names of the C channels (default ``c0, c1, ...``).
    calibration_set : mapping, optional
        JSON-able description of the calibration data, stored in the record.

    Raises
    ------
    ModelError
        Level outside (0, 1), unknown ``per``, bad tile, mismatched shapes, or too few
        units for the level (the message says how many are needed).
    """
    level = check_level(level)
    if per not in PER:
        raise ModelError(f"conformal calibration: per={per!r}, expected one of {list(PER)}")
    steps = isinstance(truth, list | tuple)
    truth_s, pred_s = (truth, prediction) if steps else ([truth], [prediction])
    sigma_s = [None] * len(truth_s) if sigma is None else (sigma if steps else [sigma])
    q, summary, n = [], [], None
    for y, p, s in zip(truth_s, pred_s, sigma_s, strict=True):
        units = _units(scores(y, p, s), per, tile)  # (units, C)
        q.append(tuple(conformal_quantile(units[:, c], level) for c in range(units.shape[1])))
        summary.append({"mean": units.mean(0).tolist(), "median": np.median(units, 0).tolist(),
                        "max": units.max(0).tolist()})  # fmt: skip
        n = units.shape[0] if n is None else min(n, units.shape[0])
    names = tuple(variables) if variables is not None else tuple(f"c{c}" for c in range(len(q[0])))
    if len(names) != len(q[0]):
        raise ModelError(f"calibration: {len(names)} variable names for {len(q[0])} channels")
    return Calibration(level, per, tile if per == "tile" else None, names, int(n), tuple(q),
                       tuple(summary), dict(calibration_set or {}))  # fmt: skip


def coverage(
    truth: np.ndarray,
    prediction: np.ndarray,
    halfwidth: np.ndarray,
    *,
    per: str = "cell",
    tile: int | None = None,
) -> np.ndarray:
    """Empirical coverage of the intervals ``prediction ± halfwidth`` per variable.

    Parameters
    ----------
    truth, prediction, halfwidth : numpy.ndarray, shape (n, C, *spatial)
    per : {"cell", "tile"}
        Fraction of cells inside, or of tiles (blocks of ``tile`` cells) entirely inside.
    tile : int, optional

    Returns
    -------
    numpy.ndarray, shape (C,)
        Covered fraction of the units, per variable.
    """
    units = _units(scores(truth, prediction, halfwidth), per, tile)
    return np.mean(units <= 1.0, axis=0)

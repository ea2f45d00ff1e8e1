"""A solver's convergence against a surrogate: where its error stays within the surrogate's.

The speedup at matched accuracy compares the surrogate's cost with the solver's cost to
reach a saved frame from which on the aggregate quantity (a drag coefficient, a power
spectrum) is at least as accurate as the surrogate's, for good: an early frame that is
right by chance (a sound wave passing through the converged value) does not count.
When the solver at lower cost is a set of separate runs (fewer time steps, a coarser
grid), it is the cheapest run at least as accurate as the surrogate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from surrogates.errors import DataError

__all__ = ["matched_frame", "cheapest_matching"]


def matched_frame(error: Sequence[float] | np.ndarray, target: float) -> int | None:
    """Index of the first frame after the last one whose error exceeds ``target``.

    Parameters
    ----------
    error : array-like, shape (n_frames,)
        The solver's error of the aggregate quantity at each saved frame, in time order;
        NaN counts as exceeding the target.
    target : float
        The surrogate's error.

    Returns
    -------
    int or None
        ``i`` such that ``error[j] <= target`` for every ``j >= i`` and ``error[i - 1]``
        does not; None if even the last frame misses the target.
    """
    e = np.asarray(error, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise DataError(f"matched_frame: expected a non-empty error series, got shape {e.shape}")
    above = np.nonzero(~(e <= target))[0]
    first = int(above[-1]) + 1 if above.size else 0
    return first if first < e.size else None


def cheapest_matching(
    costs: Mapping[str, float], errors: Mapping[str, float], target: float
) -> str | None:
    """The cheapest run whose error is at most ``target``.

    Parameters
    ----------
    costs : mapping of str to float
        Each run's cost (seconds).
    errors : mapping of str to float
        Each run's error of the aggregate quantity (smaller is better; NaN never matches),
        for the same runs as ``costs``.
    target : float
        The surrogate's error.

    Returns
    -------
    str or None
        The name of that run; None if no run is as accurate.
    """
    if set(costs) != set(errors):
        raise DataError(f"cheapest_matching: costs and errors name different runs"
                        f" ({sorted(costs)} vs {sorted(errors)})")  # fmt: skip
    good = [name for name in costs if errors[name] <= target]
    return min(good, key=costs.__getitem__) if good else None

"""Pure tiling: plans cover the domain once, stitch inverts split, tiled == whole domain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogates.rollout.tiling import plan_tiles, split, stitch


def box_filter_valid(x: np.ndarray, halo: int) -> np.ndarray:
    """A 'valid' box filter of radius ``halo`` over the trailing axes: an exactly tileable
    stand-in for an unpadded convolution network (output = input - 2*halo per axis)."""
    out = x.astype(np.float64)
    for axis in range(1, x.ndim):
        n = out.shape[axis] - 2 * halo
        out = sum(np.take(out, np.arange(k, k + n), axis=axis) for k in range(2 * halo + 1))
    return out


def whole_domain(x: np.ndarray, halo: int, mode: str) -> np.ndarray:
    widths = [(0, 0)] + [(halo, halo)] * (x.ndim - 1)
    return box_filter_valid(np.pad(x, widths, mode=mode), halo)


shapes = st.lists(st.integers(1, 13), min_size=2, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    shape=shapes,
    halo=st.integers(0, 3),
    alignment=st.sampled_from([1, 2, 4]),
    tile=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_stitch_of_split_cores_is_identity(shape, halo, alignment, tile, seed):
    plan = plan_tiles(shape, halo=halo, alignment=alignment, tile=tile * alignment)
    x = np.random.default_rng(seed).normal(size=(2, *shape))
    cores = [w[(Ellipsis, *[slice(halo, halo + t) for t in plan.tile])] for w in split(x, plan)]
    np.testing.assert_array_equal(stitch(cores, plan), x)


@settings(max_examples=40, deadline=None)
@given(
    shape=shapes,
    halo=st.integers(0, 2),
    tile=st.integers(1, 6),
    mode=st.sampled_from(["wrap", "symmetric", "constant"]),
    seed=st.integers(0, 2**16),
)
def test_tiled_equals_whole_domain(shape, halo, tile, mode, seed):
    x = np.random.default_rng(seed).normal(size=(1, *shape))
    plan = plan_tiles(shape, halo=halo, tile=tile)
    tiled = stitch([box_filter_valid(w, halo) for w in split(x, plan, mode=mode)], plan)
    np.testing.assert_allclose(tiled, whole_domain(x, halo, mode), rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    shape=shapes,
    halo=st.integers(0, 4),
    alignment=st.sampled_from([1, 2, 8]),
    budget=st.integers(1, 5000),
)
def test_planner_fits_budget_and_covers_domain_once(shape, halo, alignment, budget):
    try:
        plan = plan_tiles(shape, halo=halo, alignment=alignment, max_window_cells=budget)
    except ValueError:
        assert (alignment + 2 * halo) ** len(shape) > budget
        return
    assert math.prod(plan.window) <= budget
    assert all(t % alignment == 0 for t in plan.tile)
    count = np.zeros(shape, dtype=int)
    for tile in plan:
        count[tile.core_slices] += 1
        assert all(s % alignment == 0 for s, _ in tile.core)
    assert (count == 1).all()


def test_planner_prefers_large_near_cubic_tiles():
    plan = plan_tiles((256, 256, 256), halo=8, alignment=4, max_window_cells=96**3)
    assert plan.tile == (80, 80, 80)
    assert plan.ideal_overhead == pytest.approx((96 / 80) ** 3)
    small = plan_tiles((256, 256, 256), halo=8, alignment=4, tile=16)
    assert small.ideal_overhead > plan.ideal_overhead


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="multiples of 4"):
        plan_tiles((16, 16), halo=1, alignment=4, tile=6)
    with pytest.raises(ValueError, match="exceeds the budget"):
        plan_tiles((16, 16), halo=4, alignment=4, max_window_cells=100)

"""Pure tiling: plans cover the domain once, stitch inverts split, tiled == whole domain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from surrogates.rollout.blend import axis_pieces, blend_stitch, ramp
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
    # The largest aligned cube with a window of at most 96^3 cells is 80^3; 256 needs
    # ceil(256 / 80) = 4 tiles per axis either way, and 64^3 tiles cover it without padding.
    plan = plan_tiles((256, 256, 256), halo=8, alignment=4, max_window_cells=96**3)
    assert plan.tile == (64, 64, 64)
    assert plan.ideal_overhead == pytest.approx((80 / 64) ** 3)
    assert plan.overhead == pytest.approx(plan.ideal_overhead)  # no padded last tile
    small = plan_tiles((256, 256, 256), halo=8, alignment=4, tile=16)
    assert small.ideal_overhead > plan.ideal_overhead
    # A flat domain gets flat tiles: the short axis is covered whole, the others grow.
    flat = plan_tiles((512, 512, 8), halo=2, alignment=4, max_window_cells=100 * 100 * 12)
    assert flat.tile[2] == 8 and flat.tile[0] == flat.tile[1] > 64


def test_planner_with_a_fits_predicate_matches_the_cell_budget():
    budget = 40**3

    def fits(tile):
        return math.prod(t + 2 * 3 for t in tile) <= budget

    for shape in [(100, 100, 100), (37, 90, 12), (5, 200, 64)]:
        a = plan_tiles(shape, halo=3, alignment=2, max_window_cells=budget)
        b = plan_tiles(shape, halo=3, alignment=2, fits=fits)
        assert a == b
        assert fits(b.tile)


def test_plan_round_trips_through_json():
    plan = plan_tiles((33, 20), halo=5, alignment=4, tile=8)
    assert plan_tiles((33, 20), halo=5, alignment=4, tile=(8, 8)) == plan
    assert type(plan).from_dict(plan.to_dict()) == plan
    assert [plan.flat_index(t.index) for t in plan] == list(range(len(plan)))
    assert "15 tiles (5x3) of core 8x8, window 18x18" in plan.describe()


@settings(max_examples=60, deadline=None)
@given(
    shape=shapes,
    overlap=st.integers(0, 4),
    tile=st.integers(1, 6),
    periodic=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_blend_of_identity_windows_is_identity(shape, overlap, tile, periodic, seed):
    # Each tile "predicts" its own window: a partition of unity must give the field back.
    x = np.random.default_rng(seed).normal(size=(2, *shape))
    plan = plan_tiles(shape, halo=overlap, tile=tile)
    assume(len(plan) <= 64)  # keeps the pure-Python reference quick
    windows = split(x, plan, mode="wrap" if periodic else "constant")
    blended = blend_stitch(windows, plan, [periodic] * len(shape))
    np.testing.assert_allclose(blended, x, rtol=1e-6, atol=1e-6)  # float32 result


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    overlap=st.integers(0, 5),
    tile=st.integers(1, 9),
    periodic=st.booleans(),
)
def test_blend_weights_are_a_partition_of_unity(n, overlap, tile, periodic):
    count = math.ceil(n / tile)
    total = np.zeros(n)
    for i, pieces in enumerate(axis_pieces(n, tile, overlap, count, periodic)):
        for p in pieces:
            assert np.all(p.weight > 0) and np.all(p.weight <= 1 + 1e-12)
            total[i * tile + p.dst.start : i * tile + p.dst.stop] += p.weight
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)


def test_ramp_is_smooth_and_complementary():
    r = ramp(16, 4)  # window = core 8 + 2 * overlap 4: ramps of 2 * overlap cells meet
    assert r[0] < 0.01 and r[7] > 0.99
    assert np.all(np.diff(r[:8]) > 0) and np.array_equal(r, r[::-1])
    assert np.array_equal(ramp(20, 4)[8:12], np.ones(4))
    np.testing.assert_allclose(r[:8] + r[:8][::-1], 1.0, atol=1e-15)  # neighbours sum to one
    assert np.array_equal(ramp(5, 0), np.ones(5))


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="multiples of 4"):
        plan_tiles((16, 16), halo=1, alignment=4, tile=6)
    with pytest.raises(ValueError, match="exceeds the budget"):
        plan_tiles((16, 16), halo=4, alignment=4, max_window_cells=100)

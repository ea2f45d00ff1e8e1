"""Body geometry of a mask: boxes, the body at a point, the flow ahead, placement distance
(references: hand-built masks)."""

from __future__ import annotations

import numpy as np
import pytest

from surrogates.diagnostics import approach_velocity, body_at, body_boxes, placement_distance
from surrogates.errors import DataError


def test_boxes_in_label_order():
    mask = np.zeros((12, 6), bool)
    mask[2:4, 1:3] = True
    mask[8, 4:6] = True
    boxes = body_boxes(mask)
    assert [b.tolist() for b in boxes] == [[[2, 3], [1, 2]], [[8, 8], [4, 5]]]


def test_placement_distance_is_relative_to_the_section():
    seen = np.zeros((1, 6, 6), bool)
    seen[0, 2:4, 1:3] = True  # a training body at x 2..3 of its section
    long = np.zeros((18, 6), bool)
    long[8:10, 1:3] = True  # x 8..9 = 2..3 of the second section: seen exactly
    long[14:16, 2:4] = True  # 2..3 of the third section, shifted by one cell in y
    assert placement_distance(long, seen, section=6) == [0, 1]


def test_body_at_numbers_bodies_in_label_order():
    # Reference: the hand-built mask of test_boxes_in_label_order, cells of 0.5 m; a point
    # at (x, y) m lies in cell (floor(2x), floor(2y)).
    mask = np.zeros((12, 6), bool)
    mask[2:4, 1:3] = True  # body 1: x in [1, 2) m, y in [0.5, 1.5) m
    mask[8, 4:6] = True  # body 2: x in [4, 4.5) m, y in [2, 3) m
    assert body_at(mask, [[4.2, 2.9], [1.1, 0.5], [0.2, 0.2]], spacing=0.5) == [2, 1, 0]
    assert body_at(mask, [1.9, 1.4], spacing=[0.5, 0.5]) == [1]
    with pytest.raises(DataError, match=r"body_at: points \[\[6.0, 1.0\]\] at spacing 0.5"):
        body_at(mask, [[6.0, 1.0]], spacing=0.5)  # x = 6 m is past the last cell


def test_approach_velocity_reads_the_plane_ahead_of_each_body():
    # Reference: u_x = x (cell index) + 10 * y; a body's value is the mean over the cells
    # of its frontal footprint on the plane `gap` cells upstream of its first cell.
    mask = np.zeros((20, 6, 4), bool)
    mask[8:10, 1:3, 1] = True  # body 1: rows y = 1, 2
    mask[15, 4, 0:2] = True  # body 2: row y = 4
    x, y, _ = np.meshgrid(np.arange(20), np.arange(6), np.arange(4), indexing="ij")
    u = (x + 10.0 * y).astype(np.float32)
    assert approach_velocity(u, mask, gap=3) == pytest.approx([5 + 15.0, 12 + 40.0])
    assert approach_velocity(u, mask, gap=12)[0] == pytest.approx(0 + 15.0)  # clipped at x = 0

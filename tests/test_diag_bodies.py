"""Body geometry of a mask: boxes and placement distance (references: hand-built masks)."""

from __future__ import annotations

import numpy as np

from surrogates.diagnostics import body_boxes, placement_distance


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

"""Geometry of the solid bodies in a mask: boxes, which body holds a point, the flow ahead
of each, placement distance.

Bodies are the face-connected components of a boolean mask, labelled in the order
:func:`scipy.ndimage.label` gives them, which is the order :func:`force_coefficients`
numbers them in. The flow runs along the first axis.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from surrogates.errors import DataError

__all__ = ["approach_velocity", "body_at", "body_boxes", "placement_distance"]


def body_boxes(mask: np.ndarray) -> list[np.ndarray]:
    """Bounding box of each body of ``mask``.

    Parameters
    ----------
    mask : ndarray of bool, shape (*spatial)
        Solid cells.

    Returns
    -------
    list of ndarray, each of shape (ndim, 2)
        ``[[lo, hi] per axis]``, cell indices, inclusive.
    """
    labels, _ = scipy.ndimage.label(mask)
    return [
        np.array([[s.start, s.stop - 1] for s in box]) for box in scipy.ndimage.find_objects(labels)
    ]


def body_at(mask: np.ndarray, points: np.ndarray, spacing: float | np.ndarray = 1.0) -> list[int]:
    """The body (label, from 1) of ``mask`` holding each point; 0 for a point in the fluid.

    Matches bodies known by position (a solver's list of obstacle centres) with the
    bodies of its mask, numbered as :func:`force_coefficients` numbers them.

    Parameters
    ----------
    mask : ndarray of bool, shape (*spatial)
        Solid cells, the first cell spanning ``[0, spacing)`` on every axis.
    points : array-like, shape (n, ndim)
        Positions, in units of ``spacing``.
    spacing : float or array-like of shape (ndim,)
        Cell size (per axis).

    Raises
    ------
    DataError
        If a point lies outside the mask.
    """
    labels, _ = scipy.ndimage.label(mask)
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    cells = np.floor(pts / np.asarray(spacing, dtype=np.float64)).astype(int)
    if cells.shape[1] != labels.ndim or (cells < 0).any() or (cells >= labels.shape).any():
        raise DataError(
            f"body_at: points {pts.tolist()} at spacing {spacing}; expected positions"
            f" inside the mask's {labels.shape} cells"
        )
    return [int(labels[tuple(c)]) for c in cells]


def approach_velocity(u_x: np.ndarray, mask: np.ndarray, gap: int = 6) -> list[float]:
    """Mean ``u_x`` over each body's frontal footprint, ``gap`` cells upstream of it.

    The speed at which the flow meets a body sets its drag; behind another body (in its
    wake) it is lower than the inflow's. The plane is clipped at the inlet (index 0).

    Parameters
    ----------
    u_x : ndarray, shape (*spatial)
        Streamwise velocity.
    mask : ndarray of bool, shape (*spatial)
        Solid cells.
    gap : int
        Cells between the plane and the body's first cell.

    Returns
    -------
    list of float
        One value per body, in label order.
    """
    labels, _ = scipy.ndimage.label(mask)
    out = []
    for b, box in enumerate(scipy.ndimage.find_objects(labels), 1):
        front = (labels[box] == b).any(axis=0)
        plane = (max(box[0].start - gap, 0), *box[1:])
        out.append(float(u_x[plane][front].mean()))
    return out


def placement_distance(mask: np.ndarray, seen: np.ndarray, section: int) -> list[int]:
    """For each body of ``mask``, the distance (cells) to the nearest body of ``seen``.

    A placement is a body's bounding box with its streamwise position taken relative to
    the section of length ``section`` it falls in (``x mod section``, e.g. the rollout
    tile): the distance is the largest difference of any box corner over the axes, so 0
    means the same cells in the same place of a section as a body seen (of the same
    size), and 1 a shift or resize by one cell.

    Parameters
    ----------
    mask : ndarray of bool, shape (*spatial)
        The long domain's bodies.
    seen : ndarray of bool, shape (n, *spatial_section)
        The masks of the training sections.
    section : int
        Length of a section along the first axis.
    """
    known = [b for m in seen for b in body_boxes(m)]
    out = []
    for box in body_boxes(mask):
        rel = box.copy()
        rel[0] -= (box[0, 0] // section) * section
        out.append(int(min(np.abs(rel - b).max() for b in known)))
    return out

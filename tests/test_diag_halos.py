"""Tests of surrogates.diagnostics.halos: periodic friends-of-friends and mass function."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from surrogates import DataError
from surrogates.diagnostics import fof_halos, mass_function
from surrogates.diagnostics._fof import friends


def _groups(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == h).tolist()) for h in range(labels.max() + 1)}


def _reference_groups(pos, box, b, min_members) -> set[frozenset[int]]:
    """Brute-force reference: all pairs within b (periodic k-d tree), connected components."""
    pairs = cKDTree(pos, boxsize=box).query_pairs(b, output_type="ndarray")
    n = len(pos)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp)
    return {
        frozenset(np.flatnonzero(comp == c).tolist()) for c in np.flatnonzero(sizes >= min_members)
    }


def _planted(rng, box, centres, sizes, n_background, d=3):
    """Compact clusters (all members within b/2 of the centre, so each is one FoF group)
    plus uniform background particles kept > 3 b away from every cluster centre."""
    box = np.broadcast_to(np.asarray(box, float), (d,))
    n_total = sum(sizes) + n_background
    b = 0.2 * (np.prod(box) / n_total) ** (1 / d)
    members = []
    for c, m in zip(centres, sizes, strict=True):
        direction = rng.normal(size=(m, d))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        radius = 0.45 * b * rng.uniform(0, 1, size=(m, 1)) ** (1 / d)
        members.append(np.mod(c + direction * radius, box))
    background = []
    while len(background) < n_background:
        x = rng.uniform(0, box)
        dx = np.abs(x - np.asarray(centres))
        dx = np.minimum(dx, box - dx)
        if np.all(np.linalg.norm(dx, axis=1) > 3 * b):
            background.append(x)
    return np.concatenate(members + [np.array(background)]), b


def test_planted_clusters_recovered_exactly_across_the_boundary():
    # Exact: each planted cluster (diameter < b) is one halo with exactly its members,
    # including one straddling the corner of the box (members wrapped to both sides of
    # every axis); background particles (a Poisson set far below the percolation density,
    # n b^3 = 0.008, and isolated from the clusters) form no halo of >= 20 members.
    rng = np.random.default_rng(42)
    box = (10.0, 12.0, 8.0)
    centres = [(0.0, 0.0, 0.0), (5.0, 6.0, 4.0), (9.99, 3.0, 0.01), (2.0, 11.0, 6.0)]
    sizes = [60, 45, 30, 25]
    pos, b = _planted(rng, box, centres, sizes, 4000)
    cat = fof_halos(pos, box, linking_length=0.2, min_members=20, particle_mass=2.5)
    assert cat.linking_length == pytest.approx(b)
    starts = np.cumsum([0] + sizes)
    planted = {frozenset(range(s, e)) for s, e in zip(starts[:-1], starts[1:], strict=True)}
    assert _groups(cat.labels) == planted
    np.testing.assert_array_equal(cat.n_members, sorted(sizes, reverse=True))
    np.testing.assert_allclose(cat.masses, 2.5 * np.array(sorted(sizes, reverse=True)))
    assert np.all(cat.labels[starts[-1] :] == -1)
    # Periodic centre of mass: the corner cluster's centre is the corner (within its
    # radius / sqrt(m) scatter), not the box centre a naive mean would give.
    corner = cat.labels[0]
    offset = np.abs(cat.centres[corner] - 0.0)
    offset = np.minimum(offset, np.array(box) - offset)
    assert np.all(offset < 0.45 * b)
    expected = np.mod(
        np.mean(np.mod(pos[:60] + 5.0, box), axis=0) - 5.0, box
    )  # members shifted away from the boundary, averaged, shifted back
    np.testing.assert_allclose(cat.centres[corner], expected, atol=1e-9)


@pytest.mark.parametrize("d, box", [(3, (1.0, 2.0, 0.5)), (2, (1.0, 1.5))])
def test_same_partition_as_brute_force(d, box):
    # Exact: on a clumpy random set the halos equal the connected components (>= 10
    # members) of the "distance <= b" graph from scipy's periodic k-d tree.
    rng = np.random.default_rng(d)
    box = np.asarray(box)
    clumps = [
        rng.uniform(0, box) + rng.normal(scale=0.02 * box.min(), size=(rng.integers(5, 150), d))
        for _ in range(40)
    ]
    pos = np.mod(np.concatenate([rng.uniform(0, box, size=(3000, d))] + clumps), box)
    cat = fof_halos(pos, box, linking_length=0.25, min_members=10)
    assert _groups(cat.labels) == _reference_groups(pos, box, cat.linking_length, 10)
    assert len(cat) == len(cat.to_dataset().halo)


@pytest.mark.parametrize("d, linking", [(3, 0.8), (3, 0.6), (2, 1.2)])
def test_coarse_cell_grids_match_brute_force(d, linking):
    # Exact: with b close to L/2 there are only 1-3 cells per axis, where the periodic
    # neighbour offsets -1, 0, +1 coincide; each pair must still be tested once.
    # Two clumps (one around the corner, one at the centre) and scattered particles.
    rng = np.random.default_rng(7)
    clumps = [c + rng.normal(scale=0.03, size=(5, d)) for c in (0.0, 0.5)]
    pos = np.mod(np.concatenate(clumps + [rng.uniform(0, 1.0, size=(2, d))]), 1.0)
    cat = fof_halos(pos, 1.0, linking_length=linking, min_members=2)
    assert len(cat) >= 2
    assert _groups(cat.labels) == _reference_groups(pos, np.ones(d), cat.linking_length, 2)


def test_coarse_column_budget_tests_every_pair():
    # Internal path: with a tiny column budget the cells are wider than b / sqrt(3), not
    # fully linked, and every pair in neighbouring cells is tested. The partition must
    # equal the brute-force one (and so the default fully-linked-cell path).
    rng = np.random.default_rng(3)
    box = np.array([1.0, 1.0, 1.0])
    clumps = [rng.uniform(0, 1, 3) + rng.normal(scale=0.01, size=(60, 3)) for _ in range(15)]
    pos = np.mod(np.concatenate([rng.uniform(0, 1, size=(2000, 3))] + clumps), 1.0)
    b = 0.25 * (1.0 / len(pos)) ** (1 / 3)
    roots = friends(pos, box, b, max_columns=16)
    reference = _reference_groups(pos, box, b, 1)
    assert {frozenset(np.flatnonzero(roots == r).tolist()) for r in np.unique(roots)} == reference


def test_fof_errors():
    with pytest.raises(DataError, match=r"got shape \(10,\), expected \(N, 2\|3\)"):
        fof_halos(np.zeros(10), 1.0)
    with pytest.raises(DataError, match="NaN"):
        fof_halos(np.full((4, 3), np.nan), 1.0)
    with pytest.raises(DataError, match="must be in"):
        fof_halos(np.zeros((4, 3)), 1.0, linking_length=1.0)
    with pytest.raises(
        DataError, match=r"particle_mass: got shape \(3,\), expected \(\) or \(4,\)"
    ):
        fof_halos(np.zeros((4, 3)), 1.0, particle_mass=np.ones(3))


def test_mass_function_hand_computed():
    # Hand computation: masses 1, 2, 3, 5 in a 2^3 box with edges [1, 2, 4, 8]:
    # counts (1, 2, 1), dlnM = ln 2 each, dn/dlnM = count / (8 ln 2), Poisson error
    # sqrt(count) / (8 ln 2); n(>M) at the lower edges 4/8, 3/8, 1/8.
    ds = mass_function(np.array([1.0, 2.0, 3.0, 5.0]), 2.0, bins=[1.0, 2.0, 4.0, 8.0])
    np.testing.assert_array_equal(ds["count"], [1, 2, 1])
    np.testing.assert_allclose(ds.dn_dlnm, np.array([1, 2, 1]) / (8 * np.log(2)))
    np.testing.assert_allclose(ds.dn_dlnm_err, np.sqrt([1, 2, 1]) / (8 * np.log(2)))
    np.testing.assert_allclose(ds.n_above, [0.5, 0.375, 0.125])
    np.testing.assert_allclose(ds.mass, np.sqrt([2.0, 8.0, 32.0]))
    auto = mass_function(np.geomspace(1, 100, 50), (2.0, 2.0, 2.0), bins=5)
    assert int(auto["count"].sum()) == 50
    with pytest.raises(DataError, match="positive halo masses"):
        mass_function(np.array([1.0, -1.0]), 1.0)

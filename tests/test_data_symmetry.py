"""Tests of surrogates.data.symmetry: the cube symmetry group acting on named fields."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogates.data.symmetry import CubeSymmetry, component
from surrogates.errors import DataError

AXES = ("x", "y", "z")
G3 = CubeSymmetry.group(3)


def central_gradient(phi: np.ndarray) -> list[np.ndarray]:
    """Periodic central differences, one array per axis (unit spacing)."""
    return [(np.roll(phi, -1, a) - np.roll(phi, 1, a)) / 2 for a in range(phi.ndim)]


@pytest.mark.parametrize(("ndim", "order"), [(1, 2), (2, 8), (3, 48)])
def test_group_order_identity_and_closure(ndim, order):
    # |group| = 2^d d! (hyperoctahedral group); identity first; closed under @ and inverse.
    group = CubeSymmetry.group(ndim)
    assert len(group) == len(set(group)) == order
    assert group[0].is_identity
    members = set(group)
    assert all(a @ b in members for a in group for b in group)
    assert all((g.inverse() @ g).is_identity and (g @ g.inverse()).is_identity for g in group)


def test_composition_matches_sequential_application():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 3))
    for a in G3:
        ax = a.apply_array(x)
        for b in G3[::5]:
            np.testing.assert_array_equal((a @ b).apply_array(x), a.apply_array(b.apply_array(x)))
        np.testing.assert_array_equal(a.inverse().apply_array(ax), x)


@settings(max_examples=40, deadline=None)
@given(
    index=st.integers(0, 47),
    edge=st.integers(1, 5),
    lead=st.lists(st.integers(1, 3), max_size=2),
)
def test_inverse_undoes_apply_numpy_and_torch(index, edge, lead):
    # Property: for any element and any leading dims, inverse(apply(f)) == f, and numpy and
    # torch give identical results.
    g = G3[index]
    x = np.random.default_rng(index).normal(size=(*lead, edge, edge, edge))
    y = g.apply_array(x)
    np.testing.assert_array_equal(g.inverse().apply_array(y), x)
    yt = g.apply_array(torch.from_numpy(x))
    np.testing.assert_array_equal(yt.numpy(), y)


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 47))
def test_vector_components_transform_as_a_vector(index):
    # Property: u'_a = s_a g u_{perm[a]}, and inverse(apply) restores every component.
    g = G3[index]
    rng = np.random.default_rng(index)
    fields = {f"u_{ax}": rng.normal(size=(4, 4, 4)) for ax in AXES}
    fields["rho"] = rng.normal(size=(4, 4, 4))
    out = g.apply(fields)
    for a, ax in enumerate(AXES):
        expected = g.signs[a] * g.apply_array(fields[f"u_{AXES[g.perm[a]]}"])
        np.testing.assert_array_equal(out[f"u_{ax}"], expected)
    back = g.inverse().apply(out)
    for name, value in fields.items():
        np.testing.assert_array_equal(back[name], value)


def test_flip_negates_and_swap_permutes_components():
    rng = np.random.default_rng(1)
    f = {
        "u_x": rng.normal(size=(3, 4)),
        "u_y": rng.normal(size=(3, 4)),
        "p": rng.normal(size=(3, 4)),
    }
    flip_x = CubeSymmetry((0, 1), (True, False))
    out = flip_x.apply(f)
    np.testing.assert_array_equal(out["u_x"], -f["u_x"][::-1])
    np.testing.assert_array_equal(out["u_y"], f["u_y"][::-1])
    np.testing.assert_array_equal(out["p"], f["p"][::-1])
    square = {k: v[:3, :3] for k, v in f.items()}
    swap = CubeSymmetry((1, 0), (False, False))
    out = swap.apply(square)
    np.testing.assert_array_equal(out["u_x"], square["u_y"].T)
    np.testing.assert_array_equal(out["u_y"], square["u_x"].T)


def test_gradient_and_divergence_commute_with_every_symmetry():
    # Physics: a symmetry maps a gradient field to the gradient of the mapped potential,
    # u = grad(phi) => g u = grad(g phi), and preserves divergence: div(g u) = g div(u).
    # Central differences on a periodic grid are exactly equivariant, so the match is to
    # float64 round-off (atol 1e-12).
    rng = np.random.default_rng(2)
    phi = rng.normal(size=(6, 6, 6))
    grad = central_gradient(phi)
    fields = {"phi": phi, **{f"u_{ax}": grad[a] for a, ax in enumerate(AXES)}}
    div = sum(central_gradient(grad[a])[a] for a in range(3))
    for g in G3:
        out = g.apply(fields)
        for a, grad_a in enumerate(central_gradient(out["phi"])):
            np.testing.assert_allclose(out[f"u_{AXES[a]}"], grad_a, atol=1e-12)
        div_out = sum(central_gradient(out[f"u_{ax}"])[a] for a, ax in enumerate(AXES))
        np.testing.assert_allclose(div_out, g.apply_array(div), atol=1e-12)


def test_rank2_tensor_is_the_hessian_of_the_mapped_potential():
    # Physics: T_ab = d_a d_b phi transforms as T'_ab = s_a s_b g T_{p(a)p(b)}; check it
    # against the Hessian of g phi, storing only T_xy etc. (symmetric tensor, 6 components).
    rng = np.random.default_rng(3)
    phi = rng.normal(size=(5, 5, 5))
    grad = central_gradient(phi)
    hess = [[central_gradient(grad[a])[b] for b in range(3)] for a in range(3)]
    names = {f"T_{AXES[a]}{AXES[b]}": (a, b) for a in range(3) for b in range(a, 3)}
    fields = {"phi": phi, **{n: hess[a][b] for n, (a, b) in names.items()}}
    for g in G3:
        out = g.apply(fields)
        grad_g = central_gradient(out["phi"])
        for n, (a, b) in names.items():
            np.testing.assert_allclose(out[n], central_gradient(grad_g[a])[b], atol=1e-12)


def test_restricted_group_and_component_parsing():
    # Axes labelled (0, 0, 1): only x<->y swaps are allowed, 2 permutations x 8 flips.
    group = CubeSymmetry.group(3, classes=(0, 0, 1))
    assert len(group) == 16 and all(g.perm[2] == 2 for g in group)
    assert component("disp_za_x", AXES) == ("disp_za", (0,))
    assert component("T_yz", AXES) == ("T", (1, 2))
    assert component("mask", AXES) is None and component("u_z", ("x", "y")) is None


def test_missing_component_is_a_data_error():
    swap = CubeSymmetry((1, 0), (False, False))
    with pytest.raises(DataError, match=r"'u_x' is built from u_y, which is missing"):
        swap.apply({"u_x": np.zeros((2, 2))})

"""Parts of the lattice Boltzmann solver: velocity sets, geometry helpers, units, momentum
exchange, the Strouhal number, config validation and the dataset recipes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from surrogates import DataError
from surrogates.solvers.lbm import (
    Config,
    LatticeUnits,
    Obstacle,
    ball,
    box,
    cylinder,
    get_lattice,
    label_obstacles,
    random_obstacles,
    strouhal,
)
from surrogates.solvers.lbm.boundaries import Domain
from surrogates.solvers.lbm.forces import boundary_links, momentum_exchange
from surrogates.solvers.lbm.units import relaxation_rates

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["D2Q9", "D3Q19"])
def test_velocity_set_is_isotropic_to_fourth_order(name):
    # Standard lattice moments (Kruger et al. 2017, eqs. 3.60): sum w = 1, odd moments 0,
    # sum w c_a c_b = cs^2 delta_ab, sum w c_a c_b c_c c_d = cs^4 (dd + dd + dd).
    lat = get_lattice(name)
    c, w, d = lat.c.astype(float), lat.w, lat.dim
    eye = np.eye(d)
    assert lat.q == {"D2Q9": 9, "D3Q19": 19}[name]
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(np.einsum("i,ia->a", w, c), 0, atol=1e-15)
    np.testing.assert_allclose(np.einsum("i,ia,ib->ab", w, c, c), eye / 3, atol=1e-15)
    fourth = np.einsum("i,ia,ib,ic,id->abcd", w, c, c, c, c)
    iso = (
        np.einsum("ab,cd->abcd", eye, eye)
        + np.einsum("ac,bd->abcd", eye, eye)
        + np.einsum("ad,bc->abcd", eye, eye)
    ) / 9
    np.testing.assert_allclose(fourth, iso, atol=1e-15)
    assert np.all(lat.c[lat.opp] == -lat.c) and np.all(lat.c[0] == 0)


def test_equilibrium_has_the_prescribed_moments():
    lat = get_lattice("D3Q19")
    rng = np.random.default_rng(0)
    rho = 1 + 0.01 * rng.normal(size=(4, 5, 6))
    u = 0.05 * rng.normal(size=(3, 4, 5, 6))
    r, v = lat.moments(lat.equilibrium(rho, u))
    np.testing.assert_allclose(r, rho, rtol=1e-14)
    np.testing.assert_allclose(v, u, atol=1e-15)


def test_unknown_lattice_is_rejected():
    with pytest.raises(DataError, match="lattice='D3Q27'"):
        get_lattice("D3Q27")


def test_disc_and_sphere_masks_approach_their_area_and_volume():
    # Cells whose centres lie inside: the count differs from the area by O(perimeter * dx)
    # at worst, and by far less on average (Gauss circle problem); 1% at 40 cells across.
    dx = 0.025
    disc = ball((64, 64), (1.6, 1.6), (0.8, 0.8), 1.0)
    assert disc.sum() * dx**2 == pytest.approx(math.pi / 4, rel=0.01)
    sphere = ball((40, 40, 40), (1.0, 1.0, 1.0), (0.5, 0.5, 0.5), 0.8)
    assert sphere.sum() * dx**3 == pytest.approx(math.pi * 0.8**3 / 6, rel=0.01)
    rod = cylinder((10, 40, 40), (0.25, 1.0, 1.0), (0.1, 0.5, 0.5), 0.8, axis=0)
    assert rod.sum() * dx**3 == pytest.approx(math.pi * 0.4**2 * 0.25, rel=0.01)
    assert np.array_equal(rod[0], rod[-1])  # spans the whole axis


def test_box_mask_is_exact_on_cell_faces():
    mask = box((20, 10), (2.0, 1.0), (1.0, 0.5), (0.6, 0.4))  # edges on cell faces
    assert mask.sum() == 6 * 4
    assert mask[7:13, 3:7].all()


def test_random_obstacles_are_seeded_separate_and_inside_the_band():
    shape, size = (120, 40), (3.0, 1.0)
    a = random_obstacles(shape, size, 4, (0.15, 0.3), np.random.default_rng(3), (0.2, 0.7))
    b = random_obstacles(shape, size, 4, (0.15, 0.3), np.random.default_rng(3), (0.2, 0.7))
    c = random_obstacles(shape, size, 4, (0.15, 0.3), np.random.default_rng(4), (0.2, 0.7))
    assert a == b and a != c and len(a) == 4
    labels = label_obstacles(shape, size, a)  # raises on overlap
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4}
    xs = (np.flatnonzero(labels.any(axis=1)) + 0.5) * 0.025
    assert xs.min() >= 0.2 * 3.0 and xs.max() <= 0.7 * 3.0
    for o in a:
        assert o.kind in ("ball", "box") and 0.15 <= max(o.size) <= 0.3


def test_random_obstacles_report_when_they_do_not_fit():
    with pytest.raises(DataError, match="obstacle_count=8"):
        random_obstacles((40, 20), (2.0, 1.0), 8, (0.4, 0.5), np.random.default_rng(0))


def test_overlapping_obstacles_are_rejected():
    pair = [Obstacle("ball", (0.5, 0.5), (0.4,)), Obstacle("box", (0.6, 0.5), (0.3, 0.3))]
    with pytest.raises(DataError, match="overlaps"):
        label_obstacles((20, 20), (1.0, 1.0), pair)


def test_frontal_reference_lengths_and_areas():
    assert Obstacle("cylinder", (0.2, 0.2), (0.1,)).frontal((2.2, 0.41)) == 0.1
    assert Obstacle("ball", (0, 0, 0), (0.2,)).frontal((1, 1, 1)) == pytest.approx(math.pi / 100)
    assert Obstacle("box", (0, 0, 0), (0.1, 0.2, 0.3)).frontal((1, 1, 1)) == pytest.approx(0.06)
    assert Obstacle("cylinder", (0, 0, 0), (0.1,)).frontal((1, 1, 0.41)) == pytest.approx(0.041)


def test_momentum_exchange_vanishes_for_fluid_at_rest():
    # A uniform rest state pushes equally on every face of any closed body: along each
    # lattice line, links into a body and out of it pair up, so sum_links w_i c_i = 0.
    lat = get_lattice("D3Q19")
    shape, size = (40, 24, 24), (1.0, 0.6, 0.6)
    obstacles = random_obstacles(shape, size, 3, (0.1, 0.2), np.random.default_rng(1))
    labels = label_obstacles(shape, size, obstacles)
    dom = Domain(shape, ("periodic", "wall", "periodic"), labels > 0)
    links = boundary_links(dom.fluid_cells(), dom.pad(labels), dom.offsets(lat), 3)
    assert len(links) > 100
    f = np.repeat(lat.w[:, None], dom.size, axis=1)
    force = momentum_exchange(f, links, lat)
    np.testing.assert_allclose(force, 0.0, atol=1e-13)
    # and a population of unit excess along +x on every link pushes each body downstream
    f[1 + np.argmax(lat.c[1:, 0])] += 1.0
    assert np.all(momentum_exchange(f, links, lat)[:, 0] > 0)


def test_units_round_trip():
    units = LatticeUnits.from_velocity(dx=0.005, speed=0.3, speed_lattice=0.1, density=2.0)
    assert units.dt == pytest.approx(0.005 * 0.1 / 0.3)
    assert units.to_lattice_velocity(units.velocity(0.07)) == pytest.approx(0.07)
    # nu = 1e-3 with dx = 0.005, dt = 1/600: nu_lat = 1e-3 / 600 / 2.5e-5 = 1/15
    assert units.tau(1e-3) == pytest.approx(3 / 15 + 0.5)
    again = LatticeUnits.from_tau(0.005, 1e-3, units.tau(1e-3), density=2.0)
    assert again.dt == pytest.approx(units.dt)
    # p = (rho - 1) cs^2 rho_phys (dx/dt)^2 = 0.03 / 3 * 2 * 3^2
    assert units.pressure(1.03) == pytest.approx(0.18)


def test_trt_rates_satisfy_the_magic_parameter():
    plus, minus = relaxation_rates(0.8, "trt", 0.25)
    assert (1 / plus - 0.5) * (1 / minus - 0.5) == pytest.approx(0.25)
    assert relaxation_rates(0.8, "bgk", 0.25) == (1.25, 1.25)


def test_strouhal_of_a_sampled_sine():
    # f = 3 Hz sampled at 200 Hz with an offset and a phase: St = f D / U = 3 * 0.1 / 1
    t = np.arange(0, 2.0, 0.005)
    lift = 0.4 + np.sin(2 * np.pi * 3.0 * t + 0.3)
    assert strouhal(lift, 0.005, 0.1, 1.0) == pytest.approx(0.3, rel=1e-3)
    with pytest.raises(DataError, match="full periods"):
        strouhal(lift[:60], 0.005, 0.1, 1.0)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"lattice": "D2Q7"}, "lattice='D2Q7'"),
        ({"collision": "mrt"}, "collision='mrt'"),
        ({"shape": (440, 82, 10)}, "shape="),
        ({"size": (2.2, 0.5)}, "equal cell sizes"),
        ({"boundary": ("wall", "open")}, "boundary="),
        ({"u_lattice": 0.5}, "u_lattice=0.5"),
        ({"tau": 0.5}, "tau=0.5"),
        ({"reynolds": 0.0}, "reynolds=0.0"),
        ({"obstacle": "torus"}, "obstacle='torus'"),
        ({"obstacle_center": (0.2,)}, "obstacle_center="),
        ({"obstacle_size_range": (0.2, 0.1)}, "obstacle_size_range="),
        ({"t_end": -1.0}, "t_end=-1.0"),
        ({"sponge": 0.7}, "sponge=0.7"),
    ],
)
def test_bad_config_values_name_the_field(changes, match):
    with pytest.raises(DataError, match=match):
        Config(**changes)


def test_config_accepts_lists_from_toml():
    config = Config(shape=[220, 41], size=[2.2, 0.41], obstacle_size=[0.1])
    assert config.shape == (220, 41) and config.obstacle_size == (0.1,)
    assert config.viscosity == pytest.approx(1e-3)  # Schafer-Turek 2D-1: U_mean 0.2, D 0.1


@pytest.mark.parametrize("name", ["cylinder-lbm", "obstacles-lbm-3d"])
def test_recipes_load_and_build_their_configs(name):
    import surrogates.solvers.lbm  # noqa: F401  (registers "lbm")
    from surrogates.solvers.recipe import load_recipe, sample_configs

    recipe = load_recipe(ROOT / "datasets" / name)
    assert recipe.solver == "lbm"
    configs = sample_configs(recipe)
    assert len(configs) == recipe.samples
    assert all(isinstance(c, Config) for c, _ in configs)
    assert (ROOT / "datasets" / name / "README.md").is_file()

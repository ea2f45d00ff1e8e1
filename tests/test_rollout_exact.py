"""Tiled rollouts of an exactly tileable model equal whole-domain evaluation.

Reference: ``Surrogate.predict``, which evaluates the model once on a window covering the
whole domain (padded by the training pad spec). For ``vnet`` (valid convolutions, tiles on
its down-sampling grid) tiled evaluation must agree to float32 round-off: we require a
relative max error <= 1e-5 (issue 6), for any valid tile size, in 2D and 3D, on periodic,
wall and open axes with every pad mode.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rollout_fixtures import advance, make_state, make_surrogate, rel_max_err, whole_domain

from surrogates.rollout import rollout

TOL = 1e-5  # float32 round-off (issue 6)


pytestmark = pytest.mark.usefixtures("one_thread_module")


CASES = {
    "2d-periodic": dict(ndim=2, boundaries=("periodic", "periodic")),
    "2d-wall-reflect": dict(ndim=2, boundaries=("wall", "wall"), pad_mode="reflect"),
    "2d-open-edge-mixed": dict(ndim=2, boundaries=("open", "periodic"), pad_mode="edge"),
    "2d-wall-constant": dict(ndim=2, boundaries=("periodic", "wall"), pad_mode="constant"),
    "2d-levels2": dict(ndim=2, boundaries=("periodic", "wall"), levels=2),
    "3d-periodic": dict(ndim=3, boundaries=("periodic",) * 3),
    "3d-mixed": dict(ndim=3, boundaries=("wall", "periodic", "open"), pad_mode="reflect"),
}


@functools.cache
def map_surrogate(case: str):
    options = dict(CASES[case])
    ndim, levels = options.pop("ndim"), options.pop("levels", 1)
    return make_surrogate("vnet", ndim, lead=None, width=4, levels=levels, train_shape=4,
                          seed=len(case), **options)  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(case=st.sampled_from(sorted(CASES)), data=st.data())
def test_tiled_vnet_equals_whole_domain(case, data):
    surrogate = map_surrogate(case)
    ndim, align = surrogate.model.ndim, surrogate.alignment
    top = 13 if ndim == 3 else 29
    shape = data.draw(st.tuples(*[st.integers(4, top)] * ndim), label="shape")
    tile = data.draw(st.integers(1, 12 // align), label="tile") * align
    state = make_state(surrogate, shape, time=False, seed=data.draw(st.integers(0, 99)))
    out = rollout(surrogate, state, tile=tile, progress=False)
    tiled = np.stack([out[n].values for n in surrogate.task.targets])
    assert rel_max_err(tiled, whole_domain(surrogate, state)) <= TOL


def test_lead_rollout_equals_repeated_whole_domain_application():
    # 3 steps of a lead surrogate with a static mask, a per-sample parameter given a
    # schedule over steps, two samples, saving every 2nd step (frames 0, 2, 3).
    surrogate = make_surrogate("vnet", 2, static=("mask",), params=("amp",), width=4,
                               levels=1, boundaries=("periodic", "wall"))  # fmt: skip
    state = make_state(surrogate, (22, 19), samples=2, params={"amp": [0.5, 1.5]})
    schedule = [0.5, 1.0, 2.0]
    out = rollout(surrogate, state, steps=3, every=2, tile=6, params={"amp": schedule},
                  progress=False)  # fmt: skip
    frames = advance(surrogate, state, 3, schedule={"amp": schedule})
    got = np.stack([out[n].values for n in surrogate.task.targets])  # (C, sample, time, x, y)
    assert out.sizes["time"] == 3
    np.testing.assert_allclose(out["time"], [2.0, 2.5, 2.75])  # t0 + k * lead * dt, dt 0.25
    np.testing.assert_array_equal(got[:, :, 0], np.stack([state[n].values[:, 0]
                                                          for n in ("u", "v")]))  # fmt: skip
    for k, frame in ((1, 2), (2, 3)):
        assert rel_max_err(got[:, :, k], frames[frame - 1][:, :, 0]) <= TOL
    np.testing.assert_array_equal(out["mask"].values, state["mask"].values)
    assert "amp" not in out.data_vars and "rollout_params_schedule" in out.attrs


def test_lead_rollout_3d_keeps_constant_parameters():
    surrogate = make_surrogate("vnet", 3, params=("omega",), width=2, levels=1, train_shape=8)
    state = make_state(surrogate, (10, 8, 9), time=False, params={"omega": 0.3})
    out = rollout(surrogate, state, steps=2, tile=4, progress=False)
    frames = advance(surrogate, state.expand_dims(time=[0.0]), 2)
    got = np.stack([out[n].values for n in surrogate.task.targets])
    assert rel_max_err(got[:, 2], frames[1][:, 0]) <= TOL
    assert float(out["omega"]) == pytest.approx(0.3)
    np.testing.assert_allclose(out["time"], [0.0, 0.25, 0.5])

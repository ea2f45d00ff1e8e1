"""Blended tiles (fno, padded unet): what is exact, and that the engine blends as specified.

Models that pad inside (``unet``) or act globally (``fno``) cannot tile exactly; the
engine overlaps tiles and blends them with a partition of unity. The seam error itself
is a property of the model and is measured by ``benchmarks/bench_rollout.py``. Here:

- the engine computes exactly the pure reference ``blend_stitch`` of the per-window
  outputs (the store, scratch and assembly path adds nothing but float32 round-off);
- cells deeper than the overlap inside a core see only their own window, at least twice
  the overlap from its faces, so for a circular-padded ``unet`` whose receptive radius is
  at most twice the overlap they equal whole-domain evaluation to round-off;
- a domain that fits one tile is evaluated whole: identical to ``Surrogate.predict``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_rollout_fixtures import make_state, make_surrogate, rel_max_err, whole_domain

from surrogates.rollout import blend_stitch, plan_rollout, rollout

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread_module")


def _targets(ds, surrogate):
    return np.stack([ds[n].values for n in surrogate.task.targets])


@pytest.mark.parametrize("boundaries", [("periodic", "periodic"), ("wall", "periodic")])
def test_engine_equals_the_pure_blend_reference(tmp_path, boundaries):
    surrogate = make_surrogate("fno", 2, lead=None, modes=4, width=8, layers=2, halo=3,
                               boundaries=boundaries)  # fmt: skip
    state = make_state(surrogate, (26, 20), time=False)
    plan = plan_rollout(surrogate, (26, 20), tile=8, device=CPU).tiles
    assert plan.halo == 3 and len(plan) == 12
    x = np.stack([state[n].values for n in surrogate.task.inputs]).astype(np.float32)
    modes = ["wrap" if b == "periodic" else "symmetric" for b in boundaries]  # reflect pad
    windows = _windows(x, plan, modes)
    outputs = [surrogate.apply(torch.from_numpy(w[None]))[0].numpy() for w in windows]
    reference = blend_stitch(outputs, plan, [b == "periodic" for b in boundaries])
    for store in (None, tmp_path / "blend.zarr"):
        out = rollout(surrogate, state, tile=8, store=store, progress=False)
        np.testing.assert_allclose(_targets(out, surrogate), reference, rtol=1e-5, atol=1e-6)


def _windows(x: np.ndarray, plan, modes) -> list[np.ndarray]:
    """Input windows of every tile: pad each axis with its numpy mode, then cut (reference)."""
    h, lead = plan.halo, x.ndim - len(modes)
    for axis, mode in enumerate(modes):
        widths = [(0, 0)] * x.ndim
        widths[lead + axis] = (h, h + plan.padded_shape[axis] - plan.shape[axis])
        x = np.pad(x, widths, mode=mode)
    out = []
    for tile in plan:
        starts = [s + h for s in tile.window_start]
        out.append(
            x[(Ellipsis, *(slice(s, s + w) for s, w in zip(starts, plan.window, strict=True)))]
        )
    return out


def test_unet_core_interiors_are_exact():
    surrogate = make_surrogate("unet", 2, lead=None, width=4, levels=1)  # radius 9, align 2
    state = make_state(surrogate, (48, 48), time=False)
    out = rollout(surrogate, state, tile=24, progress=False)
    plan = plan_rollout(surrogate, (48, 48), tile=24, device=CPU).tiles
    o = plan.halo
    assert o == 10 and 2 * o >= surrogate.halo
    tiled, whole = _targets(out, surrogate), whole_domain(surrogate, state)
    inner = np.r_[o : 24 - o, 24 + o : 48 - o]  # cells at least o from every core face
    core = np.ix_(range(tiled.shape[0]), inner, inner)
    assert rel_max_err(tiled[core], whole[core]) <= 1e-5
    assert rel_max_err(tiled, whole) > 1e-4  # the seams do differ: blending is not exact


@pytest.mark.parametrize("name", ["fno", "unet"])
def test_a_domain_in_one_tile_is_evaluated_whole(name):
    config = dict(modes=4, width=8, layers=2) if name == "fno" else dict(width=4, levels=1)
    surrogate = make_surrogate(name, 2, lead=None, **config)
    state = make_state(surrogate, (24, 20), time=False)
    out = rollout(surrogate, state, progress=False)
    assert len(plan_rollout(surrogate, (24, 20), device=CPU).tiles) == 1
    assert rel_max_err(_targets(out, surrogate), whole_domain(surrogate, state)) <= 1e-6

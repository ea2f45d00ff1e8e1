"""Reliability in the tiled rollout: ``<var>_error`` fields and the per-tile table."""

from __future__ import annotations

import numpy as np
import pytest
from test_rollout_fixtures import make_state, make_surrogate

from surrogates.cli import main
from surrogates.errors import DataError, ModelError
from surrogates.reliability import Calibration, ErrorModel, ErrorNet, predict_error
from surrogates.rollout import rollout
from surrogates.rollout import work as rollout_work
from surrogates.rollout.memory import plan_rollout

pytestmark = pytest.mark.usefixtures("one_thread_module")


def _attach(surrogate, steps: int = 1, convs: int = 2, seed: int = 0):
    """A seeded (untrained) error net with random weights, calibrated q = 1, 2, ... per step."""
    import torch

    torch.manual_seed(seed)
    c_in, c_out = len(surrogate.task.inputs), len(surrogate.task.targets)
    net = ErrorNet(surrogate.model.ndim, c_in + c_out, c_out, width=4, convs=convs)
    with torch.no_grad():
        net.head.weight.normal_(0, 0.3)
    q = tuple(tuple(float(k) + 0.1 * c for c in range(c_out)) for k in range(1, steps + 1))
    cal = Calibration(0.9, "cell", None, tuple(surrogate.task.targets), 100, q)
    surrogate.reliability = ErrorModel(net.eval(), cal, {})
    return surrogate


def _map_surrogate():
    return _attach(make_surrogate("vnet", 2, lead=None, width=4, levels=1))


def test_tiled_error_equals_the_whole_field_estimate():
    surrogate = _map_surrogate()
    state = make_state(surrogate, (24, 20), samples=2, time=False)
    out = rollout(surrogate, state, tile=8, progress=False, reliability=True)
    whole = predict_error(surrogate, state)
    for name in surrogate.task.targets:
        np.testing.assert_allclose(out[f"{name}_error"].values, whole[f"{name}_error"].values,
                                   rtol=1e-5, atol=1e-6)  # fmt: skip
        attrs = out[f"{name}_error"].attrs
        assert attrs.get("units") == out[name].attrs.get("units") and attrs["level"] == 0.9
    plain = rollout(surrogate, state, tile=8, progress=False)
    # larger windows (by the estimator's margin): the same prediction to float32 round-off
    np.testing.assert_allclose(plain["u_out"].values, out["u_out"].values, rtol=1e-6, atol=1e-7)


def test_tile_table_matches_the_field():
    surrogate = _map_surrogate()
    state = make_state(surrogate, (24, 20), samples=2, time=False)
    out = rollout(surrogate, state, tile=8, progress=False, reliability=True)
    assert out["u_out_error_tile_max"].dims == ("sample", "tile")
    for t in out.tile.values:
        cells = out.u_out_error.isel(
            x=slice(int(out.tile_start_x[t]), int(out.tile_stop_x[t])),
            y=slice(int(out.tile_start_y[t]), int(out.tile_stop_y[t])),
        )
        np.testing.assert_allclose(out.u_out_error_tile_max.isel(tile=t), cells.max(("x", "y")))
        np.testing.assert_allclose(out.u_out_error_tile_mean.isel(tile=t),
                                   cells.mean(("x", "y")), rtol=1e-5)  # fmt: skip


def test_lead_rollout_uses_the_quantile_of_each_step(tmp_path):
    surrogate = _attach(make_surrogate("vnet", 2, width=4, levels=1), steps=3)
    state = make_state(surrogate, (16, 16))
    out = rollout(surrogate, state, steps=3, tile=8, progress=False, reliability=True)
    assert out.u_error.dims == ("time", "x", "y") and out.u_error_tile_max.dims == ("step", "tile")
    assert np.all(out.u_error.isel(time=0).values == 0)  # the given state
    assert out.u_error.attrs["units"] == "m/s" and out.u_error.attrs["steps"] == [0, 1, 2, 3]
    cal = surrogate.reliability.calibration
    # frame k: σ̂ of (state k-1 -> state k) times q_k; recompute step 2 on whole fields
    prev = out.isel(time=[1]).drop_vars([v for v in out.data_vars if "error" in v])
    whole = predict_error(surrogate, prev, step=2)
    np.testing.assert_allclose(out.u_error.isel(time=[2]).values, whole.u_error.values,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    assert cal.quantile(2)[0] == 2.0
    with pytest.raises(ModelError, match="calibrated for 3 step"):
        rollout(surrogate, state, steps=4, tile=8, progress=False, reliability=True)


def test_no_attachment_is_a_one_line_model_error(tmp_path, capsys):
    surrogate = make_surrogate("vnet", 2, lead=None, width=4, levels=1)
    state = make_state(surrogate, (16, 16), time=False)
    with pytest.raises(ModelError, match="no reliability attachment.*fit_error_model"):
        rollout(surrogate, state, progress=False, reliability=True)
    path = surrogate.save(tmp_path / "plain.pt")
    state.to_zarr(tmp_path / "state.zarr", consolidated=False)
    argv = ["rollout", str(path), str(tmp_path / "state.zarr"), "--out",
            str(tmp_path / "o.zarr"), "--reliability"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "plain.pt: reliability requested" in err, err
    ok = _attach(surrogate).save(tmp_path / "rel.pt")
    argv[1] = str(ok)
    assert main(argv) == 0
    from surrogates.rollout.store import ZarrStore

    ds = ZarrStore(tmp_path / "o.zarr").result()
    assert {"u_out_error", "v_out_error_tile_mean", "tile_start_x"} <= set(ds.variables)


def test_store_round_trip_resume_and_mismatch(tmp_path, monkeypatch):
    surrogate = _attach(make_surrogate("vnet", 2, width=4, levels=1), steps=2)
    state = make_state(surrogate, (16, 16), samples=2)
    kw = dict(steps=2, tile=8, progress=False, reliability=True)
    memory = rollout(surrogate, state, **kw)
    calls = {"n": 0}
    real = rollout_work.Context.write

    def flaky(self, job, batch, y):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("killed")
        real(self, job, batch, y)

    monkeypatch.setattr(rollout_work.Context, "write", flaky)
    with pytest.raises(RuntimeError, match="killed"):
        rollout(surrogate, state, store=tmp_path / "a.zarr", **kw)
    monkeypatch.setattr(rollout_work.Context, "write", real)
    with pytest.raises(DataError, match="reliability: stored"):
        rollout(surrogate, state, store=tmp_path / "a.zarr", resume=True,
                **(kw | {"reliability": False}))  # fmt: skip
    out = rollout(surrogate, state, store=tmp_path / "a.zarr", resume=True, **kw)
    for name in ("u", "u_error", "v_error_tile_max", "u_error_tile_mean"):
        np.testing.assert_array_equal(out[name].values, memory[name].values)
    assert out.attrs["rollout_reliability"] == "error_model"


def test_dask_equals_local(tmp_path):
    from distributed import Client, LocalCluster

    from surrogates.rollout import dask_ as rollout_dask

    surrogate = _attach(make_surrogate("vnet", 2, width=4, levels=1), steps=2)
    state = make_state(surrogate, (16, 16))
    kw = dict(steps=2, tile=8, progress=False, reliability=True)
    local = rollout(surrogate, state, store=tmp_path / "l.zarr", **kw)
    rollout_dask._SURROGATES.clear()
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        dask = rollout(surrogate, state, store=tmp_path / "d.zarr", backend="dask",
                       scheduler=client, **kw)  # fmt: skip
    for name in ("u", "u_error", "u_error_tile_max"):
        np.testing.assert_array_equal(dask[name].values, local[name].values)


def test_memory_estimate_grows_with_reliability():
    import torch

    surrogate = _map_surrogate()
    kw = dict(tile=8, memory="4GB", device=torch.device("cpu"))
    plain = plan_rollout(surrogate, (32, 32), **kw)
    rel = plan_rollout(surrogate, (32, 32), estimator=surrogate.reliability, **kw)
    assert rel.unit_bytes > plain.unit_bytes
    assert rel.tiles.halo == plain.tiles.halo + 2  # convs 2, alignment 2 (vnet levels 1)


@pytest.mark.parametrize("name", ["vnet", "fno"])
def test_bf16_and_blended_tiles_write_finite_errors(name):
    config = dict(width=4, levels=1) if name == "vnet" else dict(modes=4, width=8, layers=2)
    surrogate = _attach(make_surrogate(name, 2, lead=None, **config))
    state = make_state(surrogate, (24, 24), time=False)
    out = rollout(surrogate, state, tile=8, progress=False, reliability=True,
                  precision="bf16-mixed")  # fmt: skip
    err = out.u_out_error.values
    assert np.isfinite(err).all() and (err > 0).all()
    np.testing.assert_allclose(out.u_out_error_tile_max.max(), err.max(), rtol=1e-6)

"""Reliability: split-conformal calibration and the learned error model in the artifact."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from test_training_fixtures import centres, lead_dataset, map_dataset, smooth_fields

from surrogates.artifact import Surrogate, load, make_metadata
from surrogates.data import PadSpec, Task
from surrogates.errors import ModelError
from surrogates.models import build
from surrogates.reliability import (
    Calibration,
    ErrorModelConfig,
    calibrate,
    conformal_quantile,
    coverage,
    fit_error_model,
    min_calibration,
    predict_error,
)

pytestmark = pytest.mark.usefixtures("one_thread_module")

ROOT = Path(__file__).resolve().parents[1]
PERIODIC = PadSpec(("x", "y"), ("periodic", "periodic"))


def _tolerance(level: float, n_test: int, n_cal: int) -> float:
    """3σ of the test coverage: Binomial(n_test, level) plus the spread of the calibrated
    quantile (coverage given q is Beta-distributed with variance ~ level (1 - level) / n_cal),
    plus the 1 / (n_cal + 1) finite-sample excess above the level."""
    return 3 * math.sqrt(level * (1 - level) * (1 / n_test + 1 / n_cal)) + 1 / (n_cal + 1)


# --- conformal core ---------------------------------------------------------------------


def test_quantile_is_the_finite_sample_rank():
    # n = 9 at level 0.8: rank ceil(10 * 0.8) = 8 -> the 8th smallest; at level 0.9 the 9th.
    values = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0])
    assert conformal_quantile(values, 0.8) == 8.0
    assert conformal_quantile(values, 0.9) == 9.0
    # n = 4 at level 0.5: rank ceil(5 * 0.5) = 3.
    assert conformal_quantile(np.array([0.4, 0.1, 0.3, 0.2]), 0.5) == 0.3
    assert min_calibration(0.9) == 9 and min_calibration(0.8) == 4 and min_calibration(0.5) == 1


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5, True])
def test_level_outside_the_open_interval_is_refused(level):
    with pytest.raises(ModelError, match=r"level: got .*expected a number in \(0, 1\)"):
        conformal_quantile(np.ones(100), level)


def test_too_few_calibration_units_say_how_many_are_needed():
    with pytest.raises(
        ModelError, match="8 calibration units are too few for level 0.9; need at least 9"
    ):
        conformal_quantile(np.ones(8), 0.9)
    y = np.zeros((3, 1, 4, 4))  # 3 samples x 1 tile of 4 cells: 3 tile units < 19 at 0.95
    with pytest.raises(ModelError, match="need at least 19"):
        calibrate(y, y + 1, level=0.95, per="tile", tile=4)


def _gaussian(rng, n, sigma):
    """Truth, prediction and a known σ per cell: residuals N(0, σ²), σ varying in space."""
    pred = rng.normal(size=(n, 2, 16, 16))
    return pred + sigma * rng.normal(size=pred.shape), pred, np.broadcast_to(sigma, pred.shape)


@pytest.mark.parametrize("level", [0.8, 0.9])
@pytest.mark.parametrize("per", ["cell", "tile"])
def test_coverage_of_fresh_exchangeable_data_is_the_level(level, per):
    rng = np.random.default_rng(0)
    sigma = np.exp(np.linspace(-1, 1, 16))[None, None, :, None] * np.ones((1, 1, 16, 16))
    tile = 4 if per == "tile" else None
    y, p, s = _gaussian(rng, 40, sigma)
    cal = calibrate(y, p, s, level=level, per=per, tile=tile, variables=["u", "v"])
    y2, p2, s2 = _gaussian(rng, 40, sigma)
    got = coverage(y2, p2, s2 * cal.quantile(1)[None, :, None, None], per=per, tile=tile)
    n_units = 40 * (16 * 16 if per == "cell" else 16)
    assert cal.n == n_units
    assert np.all(np.abs(got - level) <= _tolerance(level, n_units, n_units)), got
    plain = calibrate(y, p, level=level, per=per, tile=tile)  # σ̂ ≡ 1: absolute residuals
    got = coverage(y2, p2, np.broadcast_to(plain.quantile()[None, :, None, None], y2.shape),
                   per=per, tile=tile)  # fmt: skip
    assert np.all(np.abs(got - level) <= _tolerance(level, n_units, n_units)), got


def test_per_step_quantiles_and_json_round_trip():
    rng = np.random.default_rng(1)
    steps = [_gaussian(rng, 10, k) for k in (1.0, 2.0, 4.0)]  # errors grow along a rollout
    cal = calibrate([s[0] for s in steps], [s[1] for s in steps], level=0.9,
                    calibration_set={"samples": [1, 2]})  # fmt: skip
    q = [cal.quantile(k)[0] for k in (1, 2, 3)]
    assert cal.steps == 3 and q[0] < q[1] < q[2]
    np.testing.assert_allclose(np.array(q) / q[0], [1, 2, 4], rtol=0.1)
    assert Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    with pytest.raises(ModelError, match=r"step 4 is not calibrated; calibrated steps 1..3"):
        cal.quantile(4)


# --- the learned error model ------------------------------------------------------------


def _noisy_dataset(n: int, seed: int) -> xr.Dataset:
    """Map data ``b = amp(a) * eps``: the error of a zero predictor is heteroscedastic, with
    a known amplitude ``amp = 0.2 + |a|`` set by the local input."""
    a = smooth_fields((n,), seed)
    amp = 0.2 + np.abs(a)
    b = amp * np.random.default_rng(seed).normal(size=a.shape)
    dims = ("sample", "x", "y")
    return xr.Dataset(
        {"a": (dims, a.astype(np.float32)), "b": (dims, b.astype(np.float32)),
         "amp": (dims, amp.astype(np.float32))},
        coords={"sample": np.arange(n), "x": centres(), "y": centres()},
        attrs={"boundary_x": "periodic", "boundary_y": "periodic", "source": "<noisy fixture>"},
    )  # fmt: skip


def _zero_surrogate(ds: xr.Dataset) -> Surrogate:
    """A vnet whose weights are all zero: it predicts b = 0, so its error is b itself."""
    net = build("vnet", 1, 1, 0, 2, width=4, levels=1)
    with torch.no_grad():
        for param in net.parameters():
            param.zero_()
    return Surrogate(net, make_metadata(net, Task(["a"], ["b"]), ds, PERIODIC, (0, 0), None,
                                        None, {}))  # fmt: skip


@pytest.fixture(scope="module")
def with_error_model(one_thread_module) -> Surrogate:
    held_out = _noisy_dataset(24, seed=3)
    cfg = ErrorModelConfig(width=8, convs=1, steps=150, lr=1e-2)
    return fit_error_model(_zero_surrogate(held_out), held_out, calibration_fraction=0.5,
                           level=0.9, config=cfg)  # fmt: skip


def test_learned_sigma_tracks_the_true_noise_and_intervals_cover(with_error_model):
    test = _noisy_dataset(16, seed=11)  # fresh samples, never seen by the fit
    err = predict_error(with_error_model, test)
    assert set(err.data_vars) == {"b_error"} and err.b_error.dims == ("sample", "x", "y")
    half = err.b_error.values
    # Spearman rank correlation of σ̂ with the true amplitude (= the |error| scale); a
    # 3x3-stencil net on 12 training fields reaches 0.99 (seeds 0-2); 0.8 leaves room.
    rank = lambda v: np.argsort(np.argsort(v.ravel()))  # noqa: E731
    rho = np.corrcoef(rank(half), rank(test.amp.values))[0, 1]
    assert rho >= 0.8, rho
    cal = with_error_model.reliability.calibration
    assert (cal.level, cal.per, cal.variables, cal.n) == (0.9, "cell", ("b",), 12 * 16 * 16)
    assert cal.calibration_set["samples"] and cal.calibration_set["source"] == "<noisy fixture>"
    got = coverage(test.b.values[:, None], np.zeros_like(half)[:, None], half[:, None])[0]
    # The noise is independent per cell and σ̂ a function of the local input, so cells are
    # exchangeable units: 3σ with n_test = 16 x 256 and n_cal = 12 x 256 cells (±0.022;
    # seeds 0-2 give 0.896-0.903).
    assert abs(got - 0.9) <= _tolerance(0.9, 16 * 256, 12 * 256), got


def test_artifact_round_trip_keeps_the_error_model(with_error_model, tmp_path):
    path = with_error_model.save(tmp_path / "surrogate.pt")
    raw = torch.load(path, weights_only=True)
    assert isinstance(raw["reliability"]["metadata"], str)
    assert all(isinstance(v, torch.Tensor) for v in raw["reliability"]["state_dict"].values())
    loaded = load(path)
    assert loaded.reliability.calibration == with_error_model.reliability.calibration
    test = _noisy_dataset(2, seed=5)
    a, b = predict_error(with_error_model, test), predict_error(loaded, test)
    assert np.array_equal(a.b_error.values, b.b_error.values)
    assert a.b_error.attrs["level"] == 0.9


def test_an_unknown_or_corrupt_reliability_entry_is_a_clear_error(with_error_model, tmp_path):
    raw = torch.load(with_error_model.save(tmp_path / "a.pt"), weights_only=True)
    meta = json.loads(raw["reliability"]["metadata"])
    raw["reliability"]["metadata"] = json.dumps({**meta, "kind": "oracle"})
    torch.save(raw, tmp_path / "b.pt")
    with pytest.raises(
        ModelError, match=r"b.pt: reliability attachment of kind 'oracle' is unknown"
    ):
        load(tmp_path / "b.pt")
    raw["reliability"] = {"metadata": json.dumps(meta), "state_dict": {}}
    torch.save(raw, tmp_path / "c.pt")
    with pytest.raises(ModelError, match=r"c.pt: error model: weights do not match its spec"):
        load(tmp_path / "c.pt")


def test_artifacts_without_reliability_load_and_refuse_error_requests(tmp_path):
    ds = map_dataset(2)
    net = build("vnet", 1, 1, 0, 2, width=4, levels=1)
    plain = Surrogate(net, make_metadata(net, Task(["a"], ["b"]), ds, PERIODIC, (0, 0), None,
                                         None, {}))  # fmt: skip
    loaded = load(plain.save(tmp_path / "plain.pt"))
    assert loaded.reliability is None and "reliability" not in torch.load(
        tmp_path / "plain.pt", weights_only=True
    )
    with pytest.raises(ModelError, match="has no reliability attachment"):
        predict_error(loaded, ds)


def test_shipped_artifact_still_loads_without_reliability():
    path = ROOT / "pretrained" / "cosmology" / "surrogate.pt"
    if not path.is_file():
        pytest.skip("no shipped cosmology artifact")
    raw = torch.load(path, weights_only=True)
    loaded = load(path)
    assert loaded.reliability is None
    state = loaded.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in raw["state_dict"].items())


def test_lead_surrogates_calibrate_every_rollout_step():
    # A zero residual net predicts persistence; the fixture advects u by one cell per frame,
    # so the persistence error, hence q at fixed σ̂, grows along the rollout.
    ds = lead_dataset(n_sample=4, n_time=6)
    task = Task(["u", "mask"], ["u"], params=["f"], lead=1, residual=True)
    net = build("vnet", 2, 1, 1, 2, width=4, levels=1)
    with torch.no_grad():
        for param in net.parameters():
            param.zero_()
    persist = Surrogate(net, make_metadata(net, task, ds, PERIODIC, (0, 0), None, None, {}))
    cfg = ErrorModelConfig(width=4, convs=1, steps=20)
    out = fit_error_model(persist, ds, steps=3, level=0.8, per="tile", tile=8, config=cfg)
    cal = out.reliability.calibration
    q = [cal.quantile(k)[0] for k in (1, 2, 3)]
    assert cal.steps == 3 and cal.n == 2 * 3 * 4 and q[0] < q[1] < q[2], q
    state = ds.isel(sample=[0], time=[0])
    state2 = out.predict(state).assign(f=ds.f.isel(sample=[0], time=[1]))  # the control
    err2 = predict_error(out, state2, out.predict(state2), step=2)
    assert err2.u_error.dims == ("sample", "time", "x", "y") and err2.attrs["step"] == 2
    with pytest.raises(ModelError, match="step 4 is not calibrated"):
        predict_error(out, state, step=4)


def test_fit_error_model_rejects_bad_input(with_error_model):
    ds = _noisy_dataset(4, seed=0)
    zero = _zero_surrogate(ds)
    with pytest.raises(ModelError, match=r"level: got 1.2, expected a number in \(0, 1\)"):
        fit_error_model(zero, ds, level=1.2)
    with pytest.raises(ModelError, match="too few for level 0.99; need at least 99"):
        fit_error_model(zero, ds, level=0.99, per="tile", tile=16,
                        config=ErrorModelConfig(steps=1))  # fmt: skip


# --- probabilistic losses (for the ensemble) --------------------------------------------


def test_gaussian_nll_is_the_exact_negative_log_density():
    from surrogates.training.losses import gaussian_nll

    g = torch.Generator().manual_seed(0)
    mean, log_sigma, y = (torch.randn(2, 3, 4, 4, generator=g) for _ in range(3))
    expected = -torch.distributions.Normal(mean, log_sigma.exp()).log_prob(y).mean()
    torch.testing.assert_close(gaussian_nll(mean, log_sigma, y), expected)
    weight = torch.zeros(2, 1, 4, 4)
    weight[0] = 1.0  # only the first sample counts
    torch.testing.assert_close(gaussian_nll(mean, log_sigma, y, weight),
                               gaussian_nll(mean[:1], log_sigma[:1], y[:1]))  # fmt: skip


def test_crps_matches_its_closed_form_and_a_monte_carlo_estimate():
    from surrogates.training.losses import crps_gaussian

    # z = 0: CRPS = σ (2 φ(0) - 1 / sqrt(π)) = σ (sqrt(2) - 1) / sqrt(π) (Gneiting & Raftery).
    sigma = torch.tensor(2.0)
    got = crps_gaussian(torch.zeros(1, 1, 1), sigma.log().view(1, 1, 1), torch.zeros(1, 1, 1))
    torch.testing.assert_close(got, sigma * (math.sqrt(2) - 1) / math.sqrt(math.pi))
    # CRPS = E|X - y| - E|X - X'| / 2 with X, X' ~ N(μ, σ²); 4e5 draws: standard error
    # ~ σ / sqrt(4e5) ~ 0.2% of the score, so rtol 1% is > 4 standard errors.
    g = torch.Generator().manual_seed(1)
    mu, ls, y = torch.tensor([0.3, -1.0]), torch.tensor([0.0, -0.5]), torch.tensor([1.5, -1.2])
    x, x2 = (mu + ls.exp() * torch.randn(400_000, 2, generator=g, dtype=torch.float64)
             for _ in range(2))  # fmt: skip
    mc = (x - y).abs().mean(0) - 0.5 * (x - x2).abs().mean(0)
    for c in range(2):
        one = crps_gaussian(mu[c].view(1, 1, 1), ls[c].view(1, 1, 1), y[c].view(1, 1, 1))
        assert abs(float(one) - float(mc[c])) <= 0.01 * float(mc[c]), (float(one), float(mc[c]))

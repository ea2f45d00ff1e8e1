"""Deep ensembles: the mean wrapper, fit(..., ensemble=K), proper scoring losses, the
conformal-calibrated spread in the artifact, and the probabilistic scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from test_reliability import _tolerance
from test_training_fixtures import lead_dataset, map_dataset

import surrogates
from surrogates.artifact import Surrogate, load, make_metadata
from surrogates.data import PadSpec, Task
from surrogates.diagnostics import crps_ensemble, crps_gaussian, spread_skill
from surrogates.errors import ModelError
from surrogates.models import Ensemble, available, build, ensemble_of
from surrogates.reliability import (
    EnsembleEstimator,
    calibrate_ensemble,
    coverage,
    field_spread,
    members,
    predict_error,
)
from surrogates.training import FitConfig

pytestmark = pytest.mark.usefixtures("one_thread_module")

TASK = Task(["a"], ["b"], params=["omega"])
TINY = {
    "vnet": {"width": 4, "levels": 1, "blocks": 1, "embed_dim": 4},
    "fno": {"width": 6, "modes": 3, "layers": 1, "embed_dim": 4},
}
FIT = dict(crop=8, batch_size=4, max_steps=40, lr=1e-2, progress=False, val_fraction=0.25,
           symmetries=False)  # fmt: skip


@pytest.fixture(scope="module")
def ensemble(one_thread_module) -> Surrogate:
    return surrogates.fit(map_dataset(8), TASK, "vnet", ensemble=3, model_config=TINY["vnet"],
                          **FIT)  # fmt: skip


@pytest.fixture(scope="module")
def calibrated(ensemble) -> Surrogate:
    return calibrate_ensemble(ensemble, map_dataset(12, seed=5), level=0.9)


# --- the wrapper model ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["vnet", "fno"])
@pytest.mark.parametrize("head", ["mean", "gaussian"])
def test_ensemble_forward_is_the_member_mean_and_tiles_like_a_member(name, head):
    torch.manual_seed(0)
    net = build("ensemble", 2, 3, 1, 2, member={"name": name, **TINY[name]}, members=3, head=head)
    one = build(name, 2, 3, 1, 2, **TINY[name])
    assert (net.halo, net.alignment, net.exact_tiling) == (one.halo, one.alignment,
                                                           type(one).exact_tiling)  # fmt: skip
    assert type(net).exact_tiling == type(one).exact_tiling  # what Surrogate reads
    assert name not in ("vnet",) or type(net).__name__ == "ExactEnsemble"
    x, p = torch.randn(2, 2, net.input_size(8), net.input_size(8)), torch.randn(2, 1)
    with torch.no_grad():
        outs = torch.stack([m(x, p) for m in net.members])
        y, s = net(x, p), net.spread_of(x, p)
    assert outs.shape[2] == (6 if head == "gaussian" else 3)
    torch.testing.assert_close(y, outs[:, :, :3].mean(0))
    expected = (
        (outs[:, :, 3:].exp().pow(2).mean(0) + outs[:, :, :3].var(0, correction=0)).sqrt()
        if head == "gaussian" else outs.std(0, correction=1)
    )  # fmt: skip
    torch.testing.assert_close(s, expected)
    assert s is net._last[2]  # kept from the forward pass: no second member pass
    torch.testing.assert_close(net.spread_of(x + 1, p), net.spread(net.member_outputs(x + 1, p)))


def test_the_wrapper_is_registered_but_not_listed_and_needs_a_member_spec():
    assert "ensemble" not in available() and "ensemble" not in available(optional=True)
    with pytest.raises(ModelError, match="expected a member spec dict"):
        build("ensemble", 1, 1, ndim=2)
    with pytest.raises(ModelError, match="must name a plain model"):
        build("ensemble", 1, 1, ndim=2, member={"name": "ensemble"})
    with pytest.raises(ModelError, match="ensemble members: got 0"):
        build("ensemble", 1, 1, ndim=2, member={"name": "fno"}, members=0)


# --- fit(..., ensemble=K) -------------------------------------------------------------


def test_fit_trains_distinct_members_on_one_split_and_predicts_their_mean(ensemble):
    assert isinstance(ensemble.model, Ensemble) and ensemble.model.config.members == 3
    prov = ensemble.metadata.provenance
    assert [m["seed"] for m in prov["members"]] == [0, 1, 2] and prov["ensemble"] == 3
    assert all(m["metrics"]["train_loss_last"] < m["metrics"]["train_loss_first"]
               for m in prov["members"])  # fmt: skip
    ds = map_dataset(3, seed=7)
    parts = [m.predict(ds).b.values for m in members(ensemble)]
    assert not np.allclose(parts[0], parts[1])  # different seeds, different members
    np.testing.assert_allclose(ensemble.predict(ds).b.values, np.mean(parts, 0), atol=1e-5)
    spread = field_spread(ensemble, ds)[:, 0]
    np.testing.assert_allclose(spread, np.std(parts, 0, ddof=1), rtol=1e-3, atol=1e-6)


def test_bad_ensemble_sizes_are_one_line_errors():
    for k in (0, -1, True, 1.5):
        with pytest.raises(ModelError, match=r"FitConfig.ensemble: got .*expected an int >= 1"):
            FitConfig(ensemble=k)
    assert FitConfig.from_kwargs({"optim": {"ensemble": 2}}).ensemble == 2


# --- calibration and the artifact -----------------------------------------------------


def test_halfwidth_follows_the_estimator_interface(calibrated):
    est = calibrated.reliability
    assert isinstance(est, EnsembleEstimator) and est.kind == "ensemble" and est.halo == 0
    x, p = torch.randn(2, 1, 24, 24), torch.full((2, 1), 1.0)
    y = calibrated.apply(x, p)
    h = est.halfwidth(x, y, 1, p)
    assert h.shape == y.shape == (2, 1, 8, 8) and bool((h > 0).all())
    q = est.calibration.quantile(1)[0]
    calibrated.model._last = None  # recompute: the same numbers as the kept spread
    torch.testing.assert_close(h, q * est.spread(x, p))
    assert est.to("cpu") is est


def test_calibrated_intervals_cover_fresh_samples_at_the_level(calibrated):
    cal = calibrated.reliability.calibration
    assert cal.level == 0.9 and cal.per == "cell" and cal.calibration_set["items"] == 12
    assert cal.calibration_set["samples"] == list(range(12)) and cal.n == 12 * 16 * 16
    test = map_dataset(12, seed=11)
    err = predict_error(calibrated, test)
    assert err.b_error.dims == ("sample", "x", "y") and err.attrs["reliability"] == "ensemble"
    truth, pred = test.b.values, calibrated.predict(test).b.values
    (got,) = coverage(truth[:, None], pred[:, None], err.b_error.values[:, None])
    # cells of one sample are correlated: the tolerance counts samples, not cells
    assert abs(got - 0.9) < _tolerance(0.9, 12, 12), got


def test_artifact_round_trip_keeps_members_and_calibration(calibrated, tmp_path):
    path = calibrated.save(tmp_path / "ens.pt")
    back = load(path)  # weights_only=True inside load
    assert isinstance(back.model, Ensemble) and back.reliability.model is back.model
    assert back.reliability.calibration == calibrated.reliability.calibration
    ds = map_dataset(2, seed=9)
    np.testing.assert_array_equal(back.predict(ds).b.values, calibrated.predict(ds).b.values)
    np.testing.assert_allclose(predict_error(back, ds).b_error.values,
                               predict_error(calibrated, ds).b_error.values)  # fmt: skip
    raw = torch.load(path, weights_only=True)
    assert "members.2." in " ".join(raw["state_dict"]) and raw["reliability"]["state_dict"] == {}


def test_calibration_rejects_bad_input(ensemble):
    held = map_dataset(3, seed=5)
    with pytest.raises(ModelError, match=r"level: got 1.0, expected a number in \(0, 1\)"):
        calibrate_ensemble(ensemble, held, level=1.0)
    with pytest.raises(ModelError, match="3 calibration units are too few .* need at least 19"):
        calibrate_ensemble(ensemble, held, level=0.95, per="tile", tile=16)
    with pytest.raises(ModelError, match="steps=2, but a map surrogate has 1 step"):
        calibrate_ensemble(ensemble, held, steps=2)
    single = members(ensemble)[0]
    with pytest.raises(ModelError, match="not an ensemble"):
        calibrate_ensemble(single, held)
    with pytest.raises(ModelError, match="no reliability attachment"):
        predict_error(ensemble, held)


def test_lead_ensembles_calibrate_every_step_along_the_mean_trajectory():
    ds = lead_dataset(n_sample=3, n_time=5)
    task = Task(["u", "mask"], ["u"], params=["f"], lead=1, residual=True)
    torch.manual_seed(0)
    parts = [build("vnet", 2, 1, 1, 2, **TINY["vnet"]) for _ in range(2)]
    net = ensemble_of(parts, 1)
    pad = PadSpec(("x", "y"), ("periodic", "periodic"))
    ens = Surrogate(net, make_metadata(net, task, ds, pad, (0, 0), None, None, {}))
    out = calibrate_ensemble(ens, ds, steps=2, level=0.8, per="tile", tile=8)
    cal = out.reliability.calibration
    assert cal.steps == 2 and cal.n == 3 * 3 * 4  # samples x start times (5 - 2) x tiles
    with pytest.raises(ModelError, match="step 3 is not calibrated"):
        out.reliability.halfwidth(torch.zeros(1, 2, 24, 24), torch.zeros(1, 1, 8, 8), 3,
                                  torch.zeros(1, 1))  # fmt: skip


# --- proper scoring losses ------------------------------------------------------------


@pytest.mark.parametrize(("name", "loss", "k"), [("fno", "gaussian_nll", 2), ("vnet", "crps", 1)])
def test_scoring_rule_training_lowers_its_loss_and_gives_a_gaussian_head(name, loss, k):
    fitted = surrogates.fit(map_dataset(4), TASK, name, ensemble=k, loss=loss,
                            model_config=TINY[name], **{**FIT, "max_steps": 25})  # fmt: skip
    net = fitted.model
    assert isinstance(net, Ensemble) and net.config.head == "gaussian"
    assert net.members[0].out_channels == 2 and net.config.members == k
    for m in fitted.metadata.provenance["members"]:
        assert m["metrics"]["train_loss_last"] < m["metrics"]["train_loss_first"]
    ds = map_dataset(2, seed=3)
    assert fitted.predict(ds).b.shape == (2, 16, 16)
    assert bool((field_spread(fitted, ds) > 0).all())  # σ of even a single member


# --- probabilistic scores -------------------------------------------------------------


def test_crps_of_ensembles_and_gaussians_against_closed_forms_and_monte_carlo():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    x1 = rng.normal(size=(1, 50))
    np.testing.assert_allclose(crps_ensemble(x1, y), np.abs(x1[0] - y))  # one member
    # N(0, σ²) at y = μ: σ (2 φ(0) - 1 / sqrt(π)) = σ (sqrt(2) - 1) / sqrt(π)
    sigma = np.array([0.5, 2.0])
    np.testing.assert_allclose(crps_gaussian(0.0, sigma, 0.0),
                               sigma * (math.sqrt(2) - 1) / math.sqrt(math.pi))  # fmt: skip
    # Monte Carlo: many members drawn from N(μ, σ²) approach the closed form; the fair
    # estimate is unbiased even for small K (mean over many cells; 1e-2 is ~5 standard errors)
    mu, s = rng.normal(size=200), rng.uniform(0.5, 2, size=200)
    truth = mu + s * rng.normal(size=200)
    exact = crps_gaussian(mu, s, truth)
    big = mu + s * rng.normal(size=(4000, 200))
    # the estimate's leading term mean|x_i - y| has sd <= sqrt(σ² + (μ - y)²) / sqrt(K)
    bound = 5 * np.sqrt(s**2 + (mu - truth) ** 2) / math.sqrt(4000)
    assert np.all(np.abs(crps_ensemble(big, truth, fair=True) - exact) < bound)
    small = mu + s * rng.normal(size=(500, 4, 200))  # 500 ensembles of 4 members
    fair = np.mean([crps_ensemble(m, truth, fair=True) for m in small], 0)
    assert abs(np.mean(fair - exact)) < 1e-2
    with pytest.raises(ValueError, match="at least 2 members"):
        crps_ensemble(x1, y, fair=True)


def test_spread_skill_is_one_for_a_calibrated_ensemble():
    rng = np.random.default_rng(1)
    k, n = 5, 200_000
    centre = rng.normal(size=n)  # truth and members exchangeable around a common centre
    truth, ens = centre + rng.normal(size=n), centre + rng.normal(size=(k, n))
    ratio = spread_skill(ens.std(0, ddof=1), ens.mean(0) - truth, members=k)
    assert abs(ratio - 1) < 0.01
    assert spread_skill(np.ones(4), 2 * np.ones(4)) == 0.5

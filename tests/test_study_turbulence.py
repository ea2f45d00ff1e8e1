"""The turbulence study (``surrogates.studies.turbulence``) at its quick size end to end,
its settings, its ``surrogates train`` configuration, and the neuraloperator FNO adapter
(:mod:`surrogates.models.neuralop_`).

The tests that need ``neuraloperator`` (the ``bench`` extra, not installed in CI) skip
without it; the quick study then trains ``vnet`` and ``fno`` and reports the peer skipped.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from test_training_fixtures import lead_dataset

from surrogates import studies
from surrogates.data import Task
from surrogates.data.split import split_dataset
from surrogates.errors import DataError, ModelError
from surrogates.models import build
from surrogates.rollout import rollout
from surrogates.studies.turbulence import SIZES, train_config
from surrogates.studies.turbulence.config import TASK
from surrogates.studies.turbulence.report import matched_accuracy
from surrogates.studies.turbulence.settings import fit_options, usable_models
from surrogates.training import FitConfig, fit, load, load_config

HAS_NEUROP = importlib.util.find_spec("neuralop") is not None
MODELS = ["vnet", "fno", "neuralop_fno"] if HAS_NEUROP else ["vnet", "fno"]
SEED = SIZES["quick"].seed
LR = SIZES["quick"].lr


@pytest.fixture
def neuralop():
    return pytest.importorskip("neuralop")


def held_out(seed: int) -> list[int]:
    """The realisation ``fit`` holds out of the quick size's two at ``seed``."""
    two = xr.Dataset({"u": (("sample", "time", "x"), np.zeros((2, 3, 4)))})
    task = Task(inputs=["u"], targets=["u"], lead=1)
    return list(split_dataset(two, task, 1, 0.5, seed=seed).val_samples)


@pytest.fixture(scope="module")
def quick(quick_study) -> tuple[dict, Path]:
    """The quick study with its default settings, run once per session (conftest; the
    notebook 03 reuses it; overrides of seed and rates are tested on the settings)."""
    results, out = quick_study("turbulence")
    assert list(json.loads((out / "results.json").read_text())["models"]) == MODELS
    return results, out


def test_quick_study_scores_every_model_persistence_and_the_solver_ladder(quick):
    results, out = quick
    assert list(results["models"]) == MODELS
    assert list(results["skipped"]) == ([] if HAS_NEUROP else ["neuralop_fno"])
    assert {name: rec["lr"] for name, rec in results["models"].items()} == {
        m: LR[m] for m in MODELS
    }
    steps = results["settings"]["steps"]
    for name, rec in [*results["models"].items(), ("persistence", results["persistence"])]:
        err = rec["relative_l2"]
        assert len(err) == steps + 1 and all(math.isfinite(e) for e in err), name
        assert err[0] < 1e-6, f"{name}: the rollout starts from the truth"
        assert all(math.isfinite(e) for e in rec["dissipation_error"]), name
    budget = results["budget_seconds"]
    for name, rec in results["models"].items():
        assert rec["speedup"] > 0 and math.isfinite(rec["speedup"]), name
        assert rec["budget_seconds"] == budget, name  # the same budget for every model
        assert 1 <= rec["steps"] <= rec["max_steps"] and rec["params"] > 0, name
        # the training loop stops at the budget (plus at most a step and a validation)
        assert 0 < rec["loop_seconds"] <= 1.5 * budget + 5, (name, rec["loop_seconds"])
        assert (out / "models" / name / "surrogate.pt").is_file()
        # scored on the realisation the fit held out (quick: 2 samples, val_fraction 0.5)
        val = rec["validation"]
        assert len(val["samples"]) == 1 and val["steps"] == steps, (name, val)
        assert 0 < val["relative_l2"] < 10 and 0 <= val["eps_error"] < 100, (name, val)
    # The solver at lower cost: a ladder of grids from twice the coarse one to half of it,
    # each from the DNS's first frame, coarse-grained like the truth: with the quick
    # factor of 2, 2n is the DNS's own grid, whose run starts from the truth exactly.
    n = results["coarse_large"]
    solvers = results["solvers"]
    assert list(solvers) == [f"DNS {m}^3" for m in (2 * n, 3 * n // 2, 5 * n // 4, n, n // 2)]
    for name, rec in solvers.items():
        assert all(math.isfinite(e) for e in rec["relative_l2"]), name
        assert rec["solver_seconds"] > 0 and rec["speedup"] > 0, name
    assert solvers[f"DNS {2 * n}^3"]["relative_l2"][0] < 1e-5
    table = (out / "results.md").read_text()
    assert all(f"| {name} |" in table for name in [*MODELS, "persistence", *solvers])
    assert "Speedup at matched accuracy" in table
    assert len(results["figures"]) == 3
    assert all((out / name).is_file() for name in results["figures"])


def test_quick_study_seeds_every_fit_and_records_its_settings(quick):
    results, out = quick
    assert results["settings"]["seed"] == results["seed"] == SEED
    for name, rec in results["models"].items():
        provenance = load(out / "models" / name / "surrogate.pt").metadata.provenance
        assert rec["seed"] == provenance["seed"] == SEED, name
        # the validation rollout scores the realisation this fit held out
        assert rec["validation"]["samples"] == held_out(SEED), name
    assert f"seed {SEED};" in (out / "results.md").read_text()
    # the coarse training set the train configuration points to
    assert (out / "coarse-train.nc").is_file()


@pytest.mark.usefixtures("neuralop")
def test_quick_study_configures_both_fnos_alike(quick):
    # like-for-like architectures: the parameter counts differ only by the conditioning
    # (our FiLM embedding versus one extra input channel)
    models = quick[0]["models"]
    assert models["fno"]["config"] == models["neuralop_fno"]["config"]


def test_a_missing_neuraloperator_skips_the_peer(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "neuralop" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    names, skipped = usable_models(SIZES["quick"])
    assert names == ["vnet", "fno"] and "pip install -e '.[bench]'" in skipped["neuralop_fno"]
    only = studies.settings("turbulence", "quick", changes=['models=["neuralop_fno"]'])
    with pytest.raises(ModelError, match="nothing left to train"):
        usable_models(only)


def test_sizes_keep_the_published_settings():
    full = SIZES["full"]  # the settings of the figures in docs/results.md
    assert (full.n_dns, full.nu, full.factor, full.samples, full.steps) == (64, 0.02, 4, 3, 12)
    assert (full.budget, full.loss, full.seed) == (180.0, "amse", 0)
    assert full.lr == {"vnet": 1e-3, "fno": 1e-2, "neuralop_fno": 3e-3}
    assert SIZES["quick"].lr == {"vnet": 1e-3, "fno": 1e-3, "neuralop_fno": 1e-3}
    assert set(SIZES) == set(studies.SIZES)
    assert SIZES["quick"].budget < SIZES["laptop"].budget < full.budget


@pytest.mark.parametrize(
    "change, error, message",
    [
        ("budget=0", ModelError, r"Settings.budget: got 0.0, expected a positive number"),
        ('models=["vnet", "x"]', ModelError, r"Settings.models: got \['vnet', 'x'\], expected"),
        ("models=[]", ModelError, r"Settings.models: got \[\], expected distinct names"),
        ("lr.vnet=-1e-3", ModelError, r"Settings.lr\['vnet'\]: got -0.001, expected a positive"),
        ("lr.fno=nan", ModelError, r"Settings.lr\['fno'\]: got nan, expected a positive"),
        ("seed=-1", ModelError, r"Settings.seed: got -1, expected an int >= 0"),
        ('loss="l1"', ModelError, r"FitConfig.loss: got 'l1', expected one of"),
        ("n_dns=18", DataError, r"Settings.n_dns: got 18, expected a multiple of 2 \* factor"),
        ("budget=fast", DataError, r"--set budget='fast': expected float"),
    ],
)
def test_bad_settings_are_one_line_errors(change, error, message):
    with pytest.raises(error, match=message) as info:
        studies.settings("turbulence", "quick", changes=[change])
    assert "\n" not in str(info.value)


def _toml(config: dict) -> str:
    """A run configuration as TOML (tables of strings, numbers, booleans and lists)."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v) if isinstance(v, str) else repr(v)

    return "\n".join(
        f"[{section}]\n" + "\n".join(f"{k} = {value(v)}" for k, v in table.items())
        for section, table in config.items()
    )


@pytest.mark.parametrize("size", ["full", "quick"])
@pytest.mark.parametrize("model", ["vnet", "fno"])
def test_train_config_trains_like_the_study(tmp_path, size, model):
    settings = SIZES[size]
    path = tmp_path / "run.toml"
    path.write_text(_toml(train_config(settings, model)))
    data, task, name, config = load_config(path)
    assert data.startswith(("data/", "runs/")) and config.out_dir.startswith("runs/")
    assert name == model and task == Task(**TASK) and task.lead == 1 and task.residual
    assert config.unroll == 1 and config.loss == "amse" and config.max_steps > 1
    # every option the study fits with, only the budget's step count and out_dir aside
    study = FitConfig.from_kwargs(fit_options(settings, model)).to_dict()
    ours = config.to_dict()
    for key in ("max_steps", "val_every", "out_dir", "open_options"):
        study.pop(key), ours.pop(key)
    assert ours == study
    assert (config.pad == settings.fno_pad) == (model == "fno")


def test_train_config_refuses_unknown_models():
    with pytest.raises(ModelError, match=r"train_config: model 'unet', expected one of"):
        train_config(SIZES["full"], "unet")


def test_matched_accuracy_is_bracketed_by_the_solver_ladder():
    # The speedup at matched accuracy lies between the cost ratios to the costliest run
    # less accurate than the model and to the cheapest run at least as accurate.
    def run(error: float, **cost: float) -> dict:
        return {"dissipation_error": [0.0, error, -error], **cost}

    results = {
        "solvers": {
            "DNS 64^3": run(0.02, solver_seconds=20.0),
            "DNS 40^3": run(0.12, solver_seconds=2.5),
            "DNS 32^3": run(0.37, solver_seconds=1.0),
        },
        "models": {
            "mid": run(0.1, rollout_seconds=0.5),
            "best": run(0.01, rollout_seconds=0.5),
            "poor": run(0.5, rollout_seconds=0.5),
            "worst": run(9.0, rollout_seconds=0.5),
        },
    }
    lines = matched_accuracy(results)[1:]
    assert lines[0].endswith("DNS 40^3 (0.12, 2.50 s) is not: between 5x and 40x")
    assert lines[1].endswith("DNS 64^3 (0.02, 20.00 s) is not: at least 40x (no run as accurate)")
    assert lines[2].endswith("DNS 32^3 (0.37, 1.00 s) is as accurate: at most 2x")
    assert lines[3].endswith("at most 2x")  # the cheapest run is the match


# --- the neuraloperator FNO adapter (surrogates.models.neuralop_) -----------------------


@pytest.mark.usefixtures("neuralop", "one_thread")
@pytest.mark.parametrize("ndim", [2, 3])
def test_adapter_shapes_conditioning_and_size_of_our_fno(ndim):
    torch.manual_seed(0)
    config = dict(modes=3, width=6, layers=2, halo=2)
    model = build("neuralop_fno", 3, 2, n_params=1, ndim=ndim, **config)
    assert (model.halo, model.alignment, model.exact_tiling, model.embedding) == (2, 1, False, None)
    x = torch.randn(2, 3, *[10] * ndim)
    y = model(x, torch.tensor([[0.2], [0.2]]))
    assert y.shape == (2, 2, *[10] * ndim)
    y2 = model(x, torch.tensor([[0.2], [0.9]]))
    assert torch.equal(y[0], y2[0]) and not torch.allclose(y[1], y2[1])  # params matter
    with pytest.raises(
        ModelError, match=r"neuralop_fno: params: got shape None, expected \(2, 1\)"
    ):
        model(x)
    with pytest.raises(ModelError, match=r"neuralop_fno: input has shape"):
        model(torch.randn(2, 4, *[10] * ndim), torch.zeros(2, 1))
    ours = build("fno", 3, 2, ndim=ndim, **config)
    theirs = build("neuralop_fno", 3, 2, ndim=ndim, **config)

    def count(m):
        return sum(p.numel() * (2 if p.is_complex() else 1) for p in m.parameters())

    assert count(theirs) == count(ours)  # the same retained modes, widths and layers
    assert "_metadata" not in model.state_dict()  # tensors only


@pytest.mark.usefixtures("neuralop", "one_thread")
def test_adapter_trains_saves_loads_and_rolls_out_by_blended_tiles(tmp_path):
    ds = lead_dataset()
    task = Task(inputs=["u", "mask"], targets=["u"], params=["f"], lead=1, residual=True)
    model = fit(ds, task, "neuralop_fno", crop=8, pad=2, batch_size=2, max_steps=2,
                val_fraction=0, progress=False,
                model_config=dict(modes=2, width=4, layers=1, halo=2))  # fmt: skip
    loaded = load(model.save(tmp_path / "surrogate.pt"))
    assert loaded.model.spec == model.model.spec
    state = ds.isel(time=[0])
    before, after = model.predict(state), loaded.predict(state)
    assert np.array_equal(before.u.values, after.u.values)
    out = rollout(loaded, state, steps=2, tile=8, progress=False)
    assert out.attrs["rollout_plan"].startswith("blend tiling, 4 tiles")
    assert out.u.shape == (2, 3, 16, 16) and np.isfinite(out.u.values).all()


def test_adapter_without_neuraloperator_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "neuralop", None)
    monkeypatch.setitem(sys.modules, "neuralop.models", None)
    with pytest.raises(ModelError, match=r"pip install -e '\.\[bench\]'"):
        build("neuralop_fno", 3, 3)

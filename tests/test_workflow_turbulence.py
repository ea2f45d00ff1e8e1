"""``workflows/turbulence.py --quick`` end to end, and the neuraloperator FNO adapter
(``workflows/peers.py``).

The tests that need ``neuraloperator`` (the ``bench`` extra, not installed in CI) skip
without it; ``--models vnet,fno`` still runs the whole workflow there.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import xarray as xr
from test_training_fixtures import lead_dataset

from surrogates.data import Task
from surrogates.data.split import split_dataset
from surrogates.errors import ModelError
from surrogates.models import build, registry
from surrogates.rollout import rollout
from surrogates.training import fit, load

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
QUICK_LR = {"vnet": 1e-3, "fno": 1e-3, "neuralop_fno": 1e-3}  # --quick's own rates
SCRIPT = WORKFLOWS / "turbulence.py"


@pytest.fixture
def neuralop() -> ModuleType:
    return pytest.importorskip("neuralop")


@pytest.fixture
def peers(monkeypatch) -> ModuleType:
    """``workflows/peers.py`` executed afresh into a copy of the registry (undone after)."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    spec = importlib.util.spec_from_file_location("peers_under_test", WORKFLOWS / "peers.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run_quick(tmp_path: Path, *extra: str) -> tuple[dict, Path]:
    out = tmp_path / "out"
    cmd = [sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--out", str(out), *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    # < 90 s on a loaded 2-core machine; the timeout only guards against a hang
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "results.json").read_text()), out


def check_results(results: dict, out: Path, models: list[str], lr: dict[str, float]) -> None:
    assert list(results["models"]) == models
    assert {name: rec["lr"] for name, rec in results["models"].items()} == lr
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
    # each from the DNS's first frame, coarse-grained like the truth: with --quick's factor
    # of 2, 2n is the DNS's own grid, whose run starts from the truth exactly.
    n = results["settings"]["coarse_large"]
    solvers = results["solvers"]
    assert list(solvers) == [f"DNS {m}^3" for m in (2 * n, 3 * n // 2, 5 * n // 4, n, n // 2)]
    for name, rec in solvers.items():
        assert all(math.isfinite(e) for e in rec["relative_l2"]), name
        assert rec["solver_seconds"] > 0 and rec["speedup"] > 0, name
    assert solvers[f"DNS {2 * n}^3"]["relative_l2"][0] < 1e-5
    table = (out / "results.md").read_text()
    assert all(f"| {name} |" in table for name in [*models, "persistence", *solvers])
    assert "Speedup at matched accuracy" in table
    assert all((out / name).is_file() for name in results["figures"])
    assert len(results["figures"]) == 3


def held_out(seed: int) -> list[int]:
    """The realisation ``fit`` holds out of --quick's two at ``seed`` (val_fraction 0.5)."""
    two = xr.Dataset({"u": (("sample", "time", "x"), np.zeros((2, 3, 4)))})
    task = Task(inputs=["u"], targets=["u"], lead=1)
    return list(split_dataset(two, task, 1, 0.5, seed=seed).val_samples)


def test_quick_workflow_without_the_peer(tmp_path):
    seed = 3  # holds out the other realisation than the default seed 0
    assert held_out(seed) != held_out(0)
    results, out = run_quick(tmp_path, "--models", "vnet,fno", "--lr", "2e-3", "--seed", "3")
    check_results(results, out, ["vnet", "fno"], {"vnet": 2e-3, "fno": 2e-3})
    assert results["skipped"] == {}
    for name, rec in results["models"].items():
        provenance = load(out / "models" / name / "surrogate.pt").metadata.provenance
        assert rec["seed"] == provenance["seed"] == seed, name
        # the validation rollout scores the realisation this fit held out
        assert rec["validation"]["samples"] == held_out(seed), name
    assert f"seed {seed};" in (out / "results.md").read_text()


def test_quick_workflow_with_all_three_models(tmp_path, neuralop):
    results, out = run_quick(tmp_path)
    check_results(results, out, ["vnet", "fno", "neuralop_fno"], QUICK_LR)
    # like-for-like architectures: the parameter counts differ only by the conditioning
    # (our FiLM embedding versus one extra input channel)
    assert results["models"]["fno"]["config"] == results["models"]["neuralop_fno"]["config"]


@pytest.fixture
def turbulence(monkeypatch) -> ModuleType:
    """``workflows/turbulence.py`` imported afresh (its ``peers`` registers into a copy)."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.syspath_prepend(str(WORKFLOWS))
    for name in ("turbulence", "peers", "common"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module("turbulence")


def test_learning_rates_per_model_or_one_override(turbulence):
    sizes = turbulence.DEFAULT
    names = ["vnet", "fno", "neuralop_fno"]
    assert turbulence.learning_rates(sizes, names, None) == sizes.lr
    assert turbulence.learning_rates(sizes, ["fno"], 3e-3) == {"fno": 3e-3}
    assert turbulence.QUICK.lr == QUICK_LR
    for bad in (0.0, -1e-3, float("nan")):
        with pytest.raises(ModelError, match="--lr: got"):
            turbulence.learning_rates(sizes, names, bad)
    with pytest.raises(ModelError, match="--seed: got -1"):
        turbulence.fit_options(sizes, "vnet", 1e-3, seed=-1)


def test_matched_accuracy_is_bracketed_by_the_solver_ladder(turbulence):
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
    lines = turbulence.matched_accuracy(results)[1:]
    assert lines[0].endswith("DNS 40^3 (0.12, 2.50 s) is not: between 5x and 40x")
    assert lines[1].endswith("DNS 64^3 (0.02, 20.00 s) is not: at least 40x (no run as accurate)")
    assert lines[2].endswith("DNS 32^3 (0.37, 1.00 s) is as accurate: at most 2x")
    assert lines[3].endswith("at most 2x")  # the cheapest run is the match


def test_unknown_model_is_a_one_line_error(tmp_path):
    cmd = [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path), "--models", "vnet,x"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --models: got 'vnet,x', expected a comma-separated subset of"
        " ('vnet', 'fno', 'neuralop_fno')"
    ]


@pytest.mark.usefixtures("neuralop", "one_thread")
@pytest.mark.parametrize("ndim", [2, 3])
def test_adapter_shapes_conditioning_and_size_of_our_fno(peers, ndim):
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
def test_adapter_trains_saves_loads_and_rolls_out_by_blended_tiles(peers, tmp_path):
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


def test_adapter_without_neuraloperator_names_the_extra(peers, monkeypatch):
    monkeypatch.setitem(sys.modules, "neuralop", None)
    monkeypatch.setitem(sys.modules, "neuralop.models", None)
    with pytest.raises(ModelError, match=r"pip install -e '\.\[bench\]'"):
        build("neuralop_fno", 3, 3)

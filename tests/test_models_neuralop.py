"""The optional ``neuralop_fno`` model (neuraloperator's FNO, the ``bench`` extra).

Registered by :mod:`surrogates.models` without importing ``neuralop``; building it without
the package is a :class:`ModelError` naming the extra. The tests that need the package skip
without it (CI installs only ``dev``). ``available()`` lists only our own models, so the
smoke tests run here for it, less the two that check FiLM conditioning (its parameters are
input channels instead).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import test_models_smoke as smoke
import torch
from test_rollout_fixtures import make_state, make_surrogate

from surrogates import ModelError
from surrogates.io import open_dataset, to_netcdf
from surrogates.models import available, build, config_defaults
from surrogates.rollout import rollout

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(modes=2, width=4, layers=1, halo=2)


def run_python(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that sees the installed package only."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)  # the installed (editable) package only
    cmd = [sys.executable, *(["-c", textwrap.dedent(code)] if code else []), *args]
    # a few seconds (torch import); the timeout only guards against a hang
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.fixture
def without_neuralop(monkeypatch):
    """Make ``import neuralop`` fail, as where the ``bench`` extra is not installed."""
    monkeypatch.setitem(sys.modules, "neuralop", None)
    monkeypatch.setitem(sys.modules, "neuralop.models", None)


@pytest.fixture
def neuralop():
    return pytest.importorskip("neuralop")


def test_registered_at_import_without_importing_neuralop(tmp_path):
    proc = run_python(
        """
        import sys
        import surrogates
        from surrogates.models import config_defaults, registry
        assert "neuralop_fno" in registry._REGISTRY
        print(sorted(config_defaults("neuralop_fno")), "neuralop" in sys.modules)
        """,
        tmp_path,
    )
    fields = "['activation', 'embed_dim', 'halo', 'layers', 'modes', 'width']"
    assert proc.stdout.split() == [*fields.split(), "False"]


@pytest.mark.usefixtures("without_neuralop")
def test_without_neuraloperator_build_names_the_bench_extra():
    assert "neuralop_fno" not in available(optional=True)  # not buildable here
    assert {"vnet", "unet", "fno"} <= set(available(optional=True))
    assert config_defaults("neuralop_fno")["modes"] == 8  # still registered
    match = (
        r"neuralop_fno needs the optional neuraloperator package \(.*neuralop.*\); install"
        r" the bench extra: pip install 'pde-surrogates\[bench\]' \(or pip install -e"
        r" '\.\[bench\]' in a checkout\)"
    )
    with pytest.raises(ModelError, match=match):
        build("neuralop_fno", 3, 3)
    with pytest.raises(ModelError, match=r"modes: got 0, expected an int >= 1"):
        build("neuralop_fno", 3, 3, modes=0)  # the config is checked first, as for any model


def test_listed_only_as_an_optional_model():
    assert "neuralop_fno" not in available()  # our own models: what the smoke tests cover
    installed = importlib.util.find_spec("neuralop") is not None
    assert ("neuralop_fno" in available(optional=True)) == installed
    assert set(available()) <= set(available(optional=True))


@pytest.mark.usefixtures("neuralop")
@pytest.mark.parametrize(
    "check",
    [
        smoke.test_output_shape,
        smoke.test_gradients_reach_every_parameter,
        smoke.test_determinism,
        smoke.test_spec_rebuilds_identical_architecture,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
@pytest.mark.parametrize("ndim", [2, 3])
def test_smoke(check, ndim):
    check("neuralop_fno", ndim)


@pytest.mark.usefixtures("neuralop")
@pytest.mark.parametrize("ndim", [2, 3])
def test_build_forward_and_conditioning_by_input_channels(ndim):
    torch.manual_seed(0)
    model = build("neuralop_fno", 3, 2, n_params=1, ndim=ndim, **TINY)
    assert (model.halo, model.alignment, model.exact_tiling, model.embedding) == (2, 1, False, None)
    sizes = [6, 8, 10][:ndim]
    x = torch.randn(2, 3, *sizes)
    y = model(x, torch.tensor([[0.2], [0.2]]))
    assert y.shape == (2, 2, *sizes) and torch.isfinite(y).all()
    y2 = model(x, torch.tensor([[0.2], [0.9]]))
    assert torch.equal(y[0], y2[0]) and not torch.allclose(y[1], y2[1])  # at init already
    with pytest.raises(ModelError, match=r"neuralop_fno: params: got shape None, expected"):
        model(x)
    plain = build("neuralop_fno", 3, 2, ndim=ndim, **TINY)
    with pytest.raises(ModelError, match=r"unconditioned \(n_params=0\) but params of shape"):
        plain(x, torch.zeros(2, 1))
    assert model.output_size(7) == 7 == model.input_size(7)
    assert "_metadata" not in model.state_dict()  # tensors only


@pytest.mark.usefixtures("neuralop")
def test_artifact_loads_and_rolls_out_in_a_fresh_process(tmp_path):
    surrogate = make_surrogate("neuralop_fno", params=("f",), **TINY)
    path = surrogate.save(tmp_path / "surrogate.pt")
    state = make_state(surrogate, (16, 16), params={"f": 0.3})
    state_path = to_netcdf(state.assign_attrs(source_format="xarray"), tmp_path / "state.nc")
    expected = surrogate.predict(state)
    np.save(tmp_path / "expected.npy", expected.u.values)
    # surrogates.load in a fresh process that never imports this test's modules
    run_python(
        """
        import sys
        import numpy as np
        from surrogates.io import open_dataset
        from surrogates.artifact import load
        surrogate = load("surrogate.pt")
        assert surrogate.model.spec["name"] == "neuralop_fno", surrogate.model.spec
        pred = surrogate.predict(open_dataset("state.nc"))
        np.testing.assert_array_equal(pred.u.values, np.load("expected.npy"))
        assert not any(m.startswith("test_") for m in sys.modules), sorted(sys.modules)
        """,
        tmp_path,
    )
    # ... and the CLI, tile by tile (blended: the operator is global)
    args = ["rollout", str(path), str(state_path), "--out", "out.zarr", "--steps", "2"]
    run_python("", tmp_path, "-m", "surrogates", *args, "--tile", "8", "--device", "cpu")
    out = open_dataset(tmp_path / "out.zarr")
    assert out.attrs["rollout_plan"].startswith("blend tiling, 4 tiles (2x2) of core 8x8")
    here = rollout(surrogate, state, steps=2, tile=8, progress=False)  # the saved weights
    assert out.u.shape == here.u.shape == (3, 16, 16)
    np.testing.assert_allclose(out.u.values, here.u.values, rtol=1e-5, atol=1e-6)
    assert not np.allclose(out.u.values[2], out.u.values[0])  # it did step

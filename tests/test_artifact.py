"""The Surrogate artifact: exact round trip, safe loading, clear errors, correct predict()."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from test_training_fixtures import lead_dataset, map_dataset

from surrogates.artifact import FORMAT, FORMAT_VERSION, Surrogate, load, make_metadata
from surrogates.artifact.scaling import field_statistics, residual_statistics
from surrogates.data import Normalizer, PadSpec, Split, Task
from surrogates.errors import DataError, ModelError
from surrogates.models import build
from surrogates.training import fit

pytestmark = pytest.mark.usefixtures("one_thread")

PERIODIC = PadSpec(("x", "y"), ("periodic", "periodic"))


def _vnet(n_in: int, n_out: int, n_params: int = 0, **config) -> torch.nn.Module:
    torch.manual_seed(0)
    return build("vnet", n_in, n_out, n_params, 2, width=4, levels=1, **config)


def _surrogate(net, task, ds, norm=None, res=None, pad_spec=PERIODIC) -> Surrogate:
    return Surrogate(net, make_metadata(net, task, ds, pad_spec, (0, 0), norm, res, {}))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread_module) -> Surrogate:
    task = Task(["a"], ["b"], params=["omega"])
    return fit(map_dataset(2), task, "vnet", crop=8, batch_size=2, max_steps=3, val_fraction=0,
               progress=False, model_config={"width": 4, "levels": 1})  # fmt: skip


def test_save_load_round_trip_gives_bit_identical_predictions(trained, tmp_path):
    path = trained.save(tmp_path / "model.pt")
    loaded = load(path)
    assert loaded.metadata.to_dict() == trained.metadata.to_dict()
    ds = map_dataset(2, seed=5)
    before, after = trained.predict(ds), loaded.predict(ds)
    assert np.array_equal(before.b.values, after.b.values)
    assert (loaded.halo, loaded.alignment, loaded.task) == (trained.halo, 2, trained.task)
    meta = loaded.metadata
    assert meta.grid.spacing == (1 / 16, 1 / 16) and meta.grid.boundaries == ("periodic",) * 2
    assert meta.provenance["steps"] == 3 and meta.provenance["source"] == "<training fixture>"
    assert meta.versions["torch"] == torch.__version__ and meta.params == ("omega",)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # atomic: no temporary left


def test_the_file_holds_only_tensors_and_json(trained, tmp_path):
    path = trained.save(tmp_path / "model.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == FORMAT and raw["format_version"] == FORMAT_VERSION
    assert all(isinstance(v, torch.Tensor) for v in raw["state_dict"].values())
    assert json.loads(raw["metadata"])["model"]["name"] == "vnet"


def test_predict_on_a_periodic_field_equals_the_model_on_the_wrapped_field():
    ds = map_dataset(2)
    task = Task(["a"], ["b"], params=["omega"])
    net = _vnet(1, 1, 1)
    norm = field_statistics(ds, task, Split(None, None))
    pred = _surrogate(net, task, ds, norm).predict(ds).b.values
    # reference: wrap-pad by the halo (numpy), normalise, network, denormalise
    h = net.halo
    for s in range(2):
        a = np.pad(ds.a.values[s], h, mode="wrap")
        x = (a - norm.stats(["a"])[0][0]) / norm.stats(["a"])[1][0]
        p = (ds.omega.values[s] - norm.stats(["omega"])[0]) / norm.stats(["omega"])[1]
        with torch.no_grad():
            y = net(torch.tensor(x, dtype=torch.float32)[None, None], torch.tensor(p)[None])
        b = y[0, 0].numpy() * norm.stats(["b"])[1][0] + norm.stats(["b"])[0][0]
        np.testing.assert_allclose(pred[s], b, rtol=1e-5, atol=1e-6)


def test_predict_pads_wall_axes_as_in_training():
    ds = map_dataset(1, boundary="wall")
    task = Task(["a"], ["b"])
    net = _vnet(1, 1)
    spec = PadSpec.from_dataset(ds, mode="reflect")
    pred = _surrogate(net, task, ds, pad_spec=spec).predict(ds).b.values[0]
    a = np.pad(ds.a.values[0], net.halo, mode="symmetric")  # the "reflect" pad contract
    with torch.no_grad():
        ref = net(torch.tensor(a, dtype=torch.float32)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(pred, ref, rtol=1e-5, atol=1e-6)


def _zero_head(net) -> None:
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()


def test_a_zero_residual_returns_the_input_exactly():
    # Residual: target = input + (y * std_r + mean_r) with y = 0 and mean_r = 0: the
    # paired input comes back bit for bit, with the time shifted by lead * dt.
    ds = lead_dataset()
    task = Task(["u", "mask"], ["u"], lead=1, residual=True)
    net = _vnet(2, 1)
    _zero_head(net)
    norm = field_statistics(ds, task, Split(None, None))
    res = Normalizer(("u",), (0.0,), (0.37,), ndim=2)
    pred = _surrogate(net, task, ds, norm, res).predict(ds)
    np.testing.assert_array_equal(pred.u.values, ds.u.values)
    np.testing.assert_allclose(pred.time.values, ds.time.values + 0.5)


def test_residual_statistics_are_those_of_the_differences():
    ds = lead_dataset(n_sample=2, n_time=6)
    task = Task(["u", "mask"], ["u"], lead=2, residual=True)
    res = residual_statistics(ds, task, Split(None, None, (0, 5), (5, 6)))
    diff = ds.u.values[:, 2:5] - ds.u.values[:, 0:3]  # inputs 0..2, targets 2..4 < 5
    assert res.mean[0] == pytest.approx(diff.mean(), rel=1e-6)
    assert res.std[0] == pytest.approx(diff.std(), rel=1e-6)


def test_normalisation_is_undone_with_the_target_statistics():
    # A network that returns its (normalised) input: with b = 3 a + 2 the prediction is
    # (a - mean_a) / std_a * std_b + mean_b = b, since std_b = 3 std_a, mean_b = 3 mean_a + 2.
    ds = map_dataset(2)
    ds["b"] = 3 * ds.a + 2
    task = Task(["a"], ["b"])
    net = _vnet(1, 1, residual=True)  # the model adds its cropped input
    _zero_head(net)
    norm = field_statistics(ds, task, Split(None, None))
    pred = _surrogate(net, task, ds, norm).predict(ds)
    np.testing.assert_allclose(pred.b.values, ds.b.values, rtol=1e-5, atol=1e-5)


def test_apply_returns_physical_outputs_of_the_documented_shape(trained):
    window = torch.randn(3, 1, 24, 24)
    out = trained.apply(window, torch.full((3, 1), 1.0))
    assert out.shape == (3, 1, 24 - 2 * trained.trim, 24 - 2 * trained.trim)
    assert trained.trim == trained.halo and trained.output_size(24) == 8
    with pytest.raises(ModelError, match=r"window has shape \(3, 2, 24, 24\), expected"):
        trained.apply(torch.randn(3, 2, 24, 24), torch.ones(3, 1))
    with pytest.raises(ModelError, match=r"params \['omega'\]: got shape None"):
        trained.apply(window)


def test_bf16_autocast_is_close_to_float32_and_still_returns_float32():
    """bfloat16 keeps 8 bits of mantissa: the network's output moves by ~2^-8 relative."""
    ds = map_dataset(2)
    task = Task(["a"], ["b"], params=["omega"])
    surrogate = _surrogate(_vnet(1, 1, 1), task, ds, field_statistics(ds, task,
                           Split(None, None)))  # fmt: skip
    window, params = torch.randn(2, 1, 24, 24), torch.full((2, 1), 0.5)
    exact = surrogate.apply(window, params)
    fast = surrogate.apply(window, params, "bf16-mixed")
    assert fast.dtype == torch.float32 and fast.shape == exact.shape
    error = float((fast - exact).norm() / exact.norm())
    assert 1e-4 < error < 0.03  # autocast did run in bfloat16, and stayed close
    with pytest.raises(ModelError, match=r"precision='16-mixed', expected one of"):
        surrogate.apply(window, params, "16-mixed")


def test_cpu_channels_last_layout_gives_the_same_numbers_and_saves_contiguous(trained, tmp_path):
    """apply() re-lays the weights channels-last on a CPU (oneDNN's fast layout): float32
    rounding aside the outputs are those of the default layout, and save() and to() undo
    it."""
    net = _vnet(1, 1, 1)
    reference = _vnet(1, 1, 1)  # the same weights (same seed), never re-laid
    surrogate = _surrogate(net, trained.task, map_dataset(2), trained.normalizer)
    window, params = torch.randn(2, 1, 24, 24), torch.full((2, 1), 1.0)
    out = surrogate.apply(window, params)
    assert net.head.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        raw = reference(surrogate.scaling.inputs(window), surrogate.scaling.params(params))
    expected = surrogate.scaling.decode(raw, window)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert out.is_contiguous()
    raw_file = torch.load(surrogate.save(tmp_path / "m.pt"), weights_only=True)
    assert all(t.is_contiguous() for t in raw_file["state_dict"].values())
    surrogate.to("cpu")
    assert net.head.weight.is_contiguous()


def test_to_moves_the_surrogate(trained):
    assert trained.to("cpu") is trained and trained.device.type == "cpu"
    assert "vnet" in repr(trained)


def test_predict_refuses_data_that_does_not_match_the_training_grid(trained):
    ds = map_dataset(2)
    with pytest.raises(DataError, match=r"needs variable\(s\) \['omega'\]"):
        trained.predict(ds.drop_vars("omega"))
    with pytest.raises(DataError, match="grid spacing"):
        trained.predict(ds.assign_coords(x=ds.x * 2))
    with pytest.raises(DataError, match="boundaries"):
        trained.predict(ds.assign_attrs(boundary_x="wall"))


def _saved(trained, tmp_path) -> bytes:
    return trained.save(tmp_path / "good.pt").read_bytes()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("random", r"not a surrogate artifact \(not a PyTorch zip archive"),
        ("truncated", "truncated or corrupt surrogate file"),
        ("version", "format version 99 is incompatible; .* reads version 1 \\(upgrade"),
        ("plain", r"not a surrogate artifact \(no format tag .*plain torch checkpoint"),
        ("json", "corrupt surrogate metadata"),
        ("missing", "no such file; expected a surrogate artifact"),
    ],
)
def test_bad_artifacts_raise_model_error_saying_which(trained, tmp_path, kind, message):
    path = tmp_path / "bad.pt"
    good = _saved(trained, tmp_path)
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "version":
        obj = torch.load(tmp_path / "good.pt", weights_only=True)
        torch.save({**obj, "format_version": 99}, path)
    elif kind == "plain":
        torch.save(trained.model.state_dict(), path)
    elif kind == "json":
        obj = torch.load(tmp_path / "good.pt", weights_only=True)
        torch.save({**obj, "metadata": "{not json"}, path)
    with pytest.raises(ModelError, match=message):
        load(path)


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_is_refused_without_running_it(trained, tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.pt"
    obj = torch.load(trained.save(tmp_path / "good.pt"), weights_only=True)
    torch.save({**obj, "extra": _Payload(str(marker))}, path)
    with pytest.raises(ModelError, match="refused to load: the file holds pickled objects"):
        load(path)
    assert not marker.exists()
    # the payload is real: an unsafe load would have run it
    torch.load(path, weights_only=False)
    assert marker.exists()
    os.remove(marker)

"""fit(): every registered model overfits one sample; lead tasks unroll; geometry; losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from test_training_fixtures import lead_dataset, map_dataset, vector_dataset

from surrogates.artifact import Surrogate, make_metadata
from surrogates.artifact.geometry import predict_window, trim
from surrogates.artifact.scaling import Scaling, field_statistics, residual_statistics
from surrogates.data import PadSpec, Split, Task
from surrogates.errors import DataError, ModelError
from surrogates.models import available, build
from surrogates.nn import crop_to
from surrogates.training import fit
from surrogates.training.geometry import plan_unroll
from surrogates.training.losses import Loss, amse, relative_l2, spectral_error
from surrogates.training.module import Optimization, SurrogateModule

pytestmark = pytest.mark.usefixtures("one_thread")

# Small configurations of every registered model (unknown future models: their defaults).
TINY = {
    "vnet": {"width": 8, "levels": 1},
    "unet": {"width": 8, "levels": 1},
    "fno": {"modes": 6, "width": 12, "layers": 2},
}


def _relative_mse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean((pred - truth) ** 2) / np.mean(truth**2))


@pytest.mark.parametrize("model", available())
def test_every_model_overfits_one_sample(model):
    # One periodic 16^2 sample, target = a local linear stencil of the input (plus a
    # parameter-scaled term), which every model can represent exactly. The loss must fall
    # by at least two orders of magnitude from its initial value (~1 in normalised units).
    ds = map_dataset(1)
    task = Task(["a"], ["b"], params=["omega"])
    surrogate = fit(
        ds, task, model, crop=16, batch_size=2, max_steps=120, lr=1e-2, val_fraction=0,
        symmetries=False, progress=False, model_config=TINY.get(model, {}),
    )  # fmt: skip
    metrics = surrogate.metadata.provenance["metrics"]
    assert metrics["train_loss_last"] < 1e-2 * metrics["train_loss_first"], metrics
    pred = surrogate.predict(ds)
    assert pred.b.dims == ds.b.dims and pred.b.shape == ds.b.shape
    assert _relative_mse(pred.b.values, ds.b.values) < 1e-2


def test_lead_task_unrolls_with_a_static_mask_and_time_varying_params():
    # u advects one cell along x per frame except under the mask: a residual, two-step
    # unrolled vnet learns it to well below the persistence baseline (u(t+1) = u(t)).
    ds = lead_dataset()
    task = Task(["u", "mask"], ["u"], params=["f"], lead=1, residual=True)
    surrogate = fit(
        ds, task, "vnet", crop=8, unroll=2, batch_size=2, max_steps=100, lr=1e-2,
        val_fraction=0, symmetries=False, progress=False, model_config=TINY["vnet"],
    )  # fmt: skip
    halo = surrogate.halo
    assert surrogate.metadata.provenance["pad"] == [2 * halo, 2 * halo]  # unroll * halo
    frames = ds.isel(time=slice(0, 5))
    pred = surrogate.predict(frames)
    np.testing.assert_allclose(pred.time.values, frames.time.values + 0.5)  # lead * dt
    assert set(pred.data_vars) == {"u", "mask"}  # the state, plus the static input
    np.testing.assert_array_equal(pred.mask.values, ds.mask.values)
    truth = ds.u.isel(time=slice(1, 6)).values
    persistence = _relative_mse(frames.u.values, truth)
    assert _relative_mse(pred.u.values, truth) < 0.1 * persistence


def test_3d_residual_vector_task_from_a_file_with_symmetries(tmp_path):
    # ZA -> "PM" displacement in 3D, read lazily from netCDF, residual on the ZA input
    # (statistics of the differences), all 48 cube symmetries (vector components rotate
    # and flip with the crops): the surrogate trains and predicts the whole box.
    path = tmp_path / "vectors.nc"
    ds = vector_dataset()
    ds.to_netcdf(path)
    task = Task(
        [f"disp_za_{a}" for a in "xyz"], [f"disp_{a}" for a in "xyz"], ["Omega_m"], residual=True
    )
    surrogate = fit(
        str(path), task, "vnet", crop=4, batch_size=2, max_steps=8, val_fraction=0,
        progress=False, model_config={"width": 4, "levels": 1},
    )  # fmt: skip
    assert surrogate.metadata.provenance["source"] == str(path)
    residual = surrogate.metadata.residual  # of disp - disp_za = 0.2 disp_za
    za_std = float(ds.disp_za_y.std())
    assert residual.std[1] == pytest.approx(0.2 * za_std, rel=1e-4)
    pred = surrogate.predict(ds)
    assert set(pred.data_vars) == set(task.targets) and pred.disp_z.shape == (3, 8, 8, 8)


def test_max_time_stops_training_by_wall_clock():
    # A budget of 1 s against 100 000 steps: Lightning stops at the budget (it checks the
    # clock every step), the artifact records the steps done and the time taken.
    ds = map_dataset(1)
    task = Task(["a"], ["b"], params=["omega"])
    surrogate = fit(
        ds, task, "vnet", crop=8, batch_size=2, max_steps=100_000, max_time=1.0,
        val_fraction=0, progress=False, model_config={"width": 4, "levels": 1},
    )  # fmt: skip
    provenance = surrogate.metadata.provenance
    assert 0 < provenance["steps"] < 100_000
    assert 0.9 < provenance["train_seconds"] < 30
    with pytest.raises(ModelError, match="max_time"):
        fit(ds, task, "vnet", max_time=-1)


def test_unrolled_training_loss_matches_repeated_application():
    # Training and inference share one code path: the unrolled loss equals the loss of
    # applying the Surrogate twice, the second time to its own prediction (cropped) with
    # the mask re-cropped from the original window; errors compared in output space.
    ds = lead_dataset()
    task = Task(["u", "mask"], ["u"], params=["f"], lead=1, residual=True)
    split = Split(None, None)
    norm, res = field_statistics(ds, task, split), residual_statistics(ds, task, split)
    torch.manual_seed(0)
    net = build("vnet", 2, 1, 1, 2, **TINY["vnet"])
    plan = plan_unroll(net, (8, 8), None, 2)
    scaling = Scaling(task, norm, res, 2)
    module = SurrogateModule(net, task, scaling, plan, Loss(), Optimization())
    pad_spec = PadSpec(("x", "y"), ("periodic", "periodic"))
    surrogate = Surrogate(net, make_metadata(net, task, ds, pad_spec, (0, 0), norm, res, {}))
    gen = torch.Generator().manual_seed(1)
    window = torch.randn(3, 2, *plan.window, generator=gen)
    window[:, 1] = (window[:, 1] > 0).float()
    target = torch.randn(3, 2, 1, *plan.window, generator=gen)
    params = 0.2 + 0.2 * torch.rand(3, 2, 1, generator=gen)
    with torch.no_grad():
        loss, _ = module.unrolled_loss({"input": window, "target": target, "params": params})
        first = surrogate.apply(window, params[:, 0])
        size = plan.inputs[1]
        state = torch.cat([crop_to(first, size), crop_to(window[:, 1:], size)], dim=1)
        second = surrogate.apply(state, params[:, 1])
        expected = 0.0
        for j, (pred, inp) in enumerate(((first, window), (second, state))):
            region = plan.losses[j]
            y = scaling.encode(crop_to(pred, region), crop_to(inp, region))
            t = scaling.encode(crop_to(target[:, j], region), crop_to(inp, region))
            expected += float(torch.mean((y - t) ** 2)) / 2
    assert tuple(second.shape[2:]) == plan.crop
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_plan_unroll_derives_the_pad_from_the_halo():
    vnet = build("vnet", 1, 1, 0, 2, width=4, levels=1)  # halo 8, alignment 2
    plan = plan_unroll(vnet, (8, 8), None, unroll=3)
    assert plan.pad == (24, 24) and plan.window == (56, 56)
    assert [s[0] for s in plan.inputs] == [56, 40, 24]
    assert [s[0] for s in plan.outputs] == [40, 24, 8]
    assert plan.losses == plan.outputs  # a valid-conv output saw its whole receptive field


def test_plan_unroll_when_the_halo_is_not_a_multiple_of_the_alignment():
    # levels=3, blocks=1: halo 46, alignment 8. Step 1's output (crop + 2 * 46 = 108 for
    # crop 16) is not a valid size, so step 1 predicts 112 cells, cropped to 108.
    vnet = build("vnet", 1, 1, 0, 1, width=2, levels=3)
    assert (vnet.halo, vnet.alignment) == (46, 8)
    plan = plan_unroll(vnet, (16,), None, unroll=2)
    assert plan.inputs == ((204,), (108,)) and plan.outputs == ((112,), (16,))
    assert plan.pad == (94,)


def test_plan_unroll_same_size_models():
    fno = build("fno", 1, 1, 0, 2, modes=4, width=4, layers=1, halo=3)
    assert trim(fno) == 0
    assert plan_unroll(fno, (16, 16), None, 2).pad == (0, 0)
    plan = plan_unroll(fno, (16, 16), (4, 4), 2)
    assert plan.outputs == ((24, 24), (24, 24))
    assert plan.losses == ((18, 18), (16, 16))  # core + what is left of the pad after j halos


def test_plan_unroll_rejects_a_pad_that_cannot_cover_the_steps():
    vnet = build("vnet", 1, 1, 0, 2, width=4, levels=1)
    with pytest.raises(ModelError, match="pad 8 is too small for unroll=2"):
        plan_unroll(vnet, (8, 8), (8, 8), unroll=2)
    with pytest.raises(ModelError, match="crop 7"):
        plan_unroll(vnet, (7, 8), None, unroll=1)


def test_predict_window_covers_the_domain():
    vnet = build("vnet", 1, 1, 0, 2, width=4, levels=1)  # output sizes: multiples of 2
    assert predict_window(vnet, 16, 0) == (-8, 32, 0)
    assert predict_window(vnet, 15, 0) == (-8, 32, 0)  # 16 outputs, the last discarded
    fno = build("fno", 1, 1, 0, 2, modes=4, width=4, layers=1)
    assert predict_window(fno, 15, 3) == (-3, 21, 3)


def test_relative_l2_and_mse():
    target = torch.randn(2, 3, 8, 8)
    assert float(relative_l2(2 * target, target)) == pytest.approx(1.0, rel=1e-6)
    loss, parts = Loss("mse")(target + 0.5, target)
    assert float(loss) == pytest.approx(0.25, rel=1e-6) and set(parts) == {"mse"}


def test_spectral_error_weights_high_wavenumbers():
    n = 8
    zero = torch.zeros(1, 1, n, n)
    # A constant error lives at k = 0 (weight 0).
    assert float(spectral_error(zero + 1.0, zero)) == pytest.approx(0.0, abs=1e-12)
    # A checkerboard (-1)^(i+j) lives at the Nyquist mode of both axes (weight 1 + 1) and,
    # with the orthonormal FFT, |E|^2 = n^2 there; the mean runs over the n x (n/2 + 1)
    # rfft grid: 2 n^2 / (n (n/2 + 1)).
    i = torch.arange(n)
    board = ((-1.0) ** (i[:, None] + i[None, :]))[None, None]
    expected = 2 * n**2 / (n * (n // 2 + 1))
    assert float(spectral_error(board, zero)) == pytest.approx(expected, rel=1e-6)
    loss, parts = Loss("mse", spectral_weight=0.5)(board, zero)
    assert float(loss) == pytest.approx(1.0 + 0.5 * expected, rel=1e-6)
    assert set(parts) == {"mse", "spectral"}


def test_amse_against_its_shell_decomposition():
    # Reference: Subich et al. (2025), per shell AMSE = (sqrt(Px) - sqrt(Py))^2
    # + 2 max(Px, Py) (1 - coherence); here the loss is sqrt(sum AMSE / sum Py).
    n = 16
    x = (torch.arange(n) + 0.5) / n
    cos = torch.cos(2 * np.pi * 3 * x)[:, None].expand(n, n)[None, None]
    sin = torch.sin(2 * np.pi * 3 * x)[:, None].expand(n, n)[None, None]
    assert float(amse(cos, cos)) == pytest.approx(0.0, abs=1e-5)
    # coherent, amplitude a: |1 - a|, as rel_l2
    assert float(amse(0.25 * cos, cos)) == pytest.approx(0.75, rel=1e-5)
    # same power, quarter-period shift (coherence 0): sqrt(2); nothing at all: sqrt(1 + 2).
    # rel_l2 ranks these the other way round (sqrt(2) against 1): it rewards the smooth
    # prediction that drops a scale it cannot place.
    assert float(amse(sin, cos)) == pytest.approx(np.sqrt(2), rel=1e-5)
    assert float(amse(0 * cos, cos)) == pytest.approx(np.sqrt(3), rel=1e-5)
    assert float(relative_l2(0 * cos, cos)) < float(relative_l2(sin, cos))
    # half the power out of phase: (1/2 - 1)^2 + 2 max(1/4, 1) = 2.25
    assert float(amse(0.5 * sin, cos)) == pytest.approx(1.5, rel=1e-5)


def test_amse_equals_rel_l2_when_every_shell_is_coherent():
    # Each isotropic shell scaled by its own factor: coherence 1 in every shell, so AMSE
    # is MSE, and the shell sums (rfft modes counted twice off the edge planes) must add
    # up to the cell-space norm (Parseval) for the two losses to agree.
    torch.manual_seed(0)
    target = torch.randn(2, 3, 8, 8, 10)
    f = [torch.fft.fftfreq(8) * 10, torch.fft.fftfreq(8) * 10, torch.fft.rfftfreq(10) * 10]
    k = torch.sqrt(sum(g**2 for g in torch.meshgrid(*f, indexing="ij")))
    scale = 1.0 / (1.0 + torch.round(k))
    pred = torch.fft.irfftn(torch.fft.rfftn(target, dim=(2, 3, 4)) * scale, s=(8, 8, 10),
                            dim=(2, 3, 4))  # fmt: skip
    assert float(amse(pred, target)) == pytest.approx(float(relative_l2(pred, target)), rel=1e-4)
    noisy = pred + torch.randn_like(pred)  # max(Px, Py) >= sqrt(Px Py): never below rel_l2
    assert float(amse(noisy, target)) > float(relative_l2(noisy, target))
    # shells without power (the k = 0 shell of a gauge channel; a zero prediction) keep
    # the gradient finite
    for start, gauge in ((torch.randn_like(target), (0,)), (torch.zeros_like(target), ())):
        guess = start.requires_grad_()
        Loss("amse", gauge=gauge)(guess, target)[0].backward()
        assert torch.isfinite(guess.grad).all() and guess.grad.abs().sum() > 0
    with pytest.raises(ModelError, match="'amse' takes no cell weights"):
        Loss("amse")(pred, target, torch.ones(2, 1, 8, 8, 10))
    with pytest.raises(ModelError, match="loss_weight"):
        fit(map_dataset(1), Task(["a"], ["b"]), "vnet", loss="amse", loss_weight="a",
            model_config=TINY["vnet"])  # fmt: skip


def test_gauge_channels_ignore_a_constant_offset_per_sample():
    # A pressure known up to a constant: an offset (different per sample) in the gauge
    # channel costs nothing, the same offset in another channel costs offset^2 (MSE).
    target = torch.randn(2, 2, 6, 6)
    offset = torch.tensor([3.0, -1.0]).view(2, 1, 1)
    shifted = target.clone()
    shifted[:, 0] += offset
    assert float(Loss("mse", gauge=(0,))(shifted, target)[0]) == pytest.approx(0.0, abs=1e-10)
    assert float(Loss("mse")(shifted, target)[0]) == pytest.approx((9 + 1) / 2 / 2, rel=1e-6)
    moved = target.clone()
    moved[:, 1] += 0.5
    assert float(Loss("mse", gauge=(0,))(moved, target)[0]) == pytest.approx(0.125, rel=1e-6)
    with pytest.raises(ModelError, match="gauge"):
        Loss("mse", gauge=(1, 1))
    with pytest.raises(ModelError, match="not targets"):
        fit(map_dataset(1), Task(["a"], ["b"]), "vnet", gauge=["a"], model_config=TINY["vnet"])


def test_cell_weights_of_the_loss():
    # Reference: the weighted means written out by hand on a 2-sample batch.
    target = torch.randn(2, 2, 4, 4)
    ones = torch.ones(2, 1, 4, 4)
    pred = target + torch.randn(2, 2, 4, 4)
    for kind in ("mse", "rel_l2"):  # equal weights: the unweighted loss
        for gauge in ((), (0,)):
            weighted = Loss(kind, gauge=gauge)(pred, target, 3 * ones)[0]
            assert float(weighted) == pytest.approx(float(Loss(kind, gauge=gauge)(pred, target)[0]))
    # an error of 2 in one cell of each channel of sample 0, weight 5 there, 1 elsewhere:
    # sum w e^2 / sum w over (batch, channel, cells) = (2 channels * 5 * 4) / (2 * (5 + 31))
    weight = ones.clone()
    weight[0, 0, 1, 2] = 5.0
    moved = target.clone()
    moved[0, :, 1, 2] += 2.0
    assert float(Loss("mse")(moved, target, weight)[0]) == pytest.approx(40 / 72, rel=1e-6)
    # zero weight takes cells out: errors there, and a gauge offset, cost nothing
    weight[0, 0, 1, 2] = 0.0
    moved[:, 1] += torch.tensor([1.0, -2.0]).view(2, 1, 1)
    for kind in ("mse", "rel_l2"):
        assert float(Loss(kind, gauge=(1,))(moved, target, weight)[0]) == pytest.approx(0, abs=1e-6)
    assert float(relative_l2(moved, target, weight)) > 0.1  # the offset, without the gauge
    with pytest.raises(ModelError, match="loss weight: shape"):
        Loss("mse")(pred, target, torch.ones(2, 2, 4, 4))


def test_fit_with_a_loss_weight_variable_learns_where_the_weight_is(tmp_path):
    # Targets are corrupted (b + 5) in half the domain and given weight 0 there: a vnet fit
    # with loss_weight follows the clean half; the corrupted half does not pull it away.
    ds = map_dataset(1)
    half = ds["x"] > 0.5
    ds["b"] = ds["b"].where(~half, ds["b"] + 5.0)
    ds["w"] = xr.where(half, 0.0, 1.0).broadcast_like(ds["a"]).astype(np.float32)
    options = dict(crop=8, max_steps=60, lr=5e-3, val_fraction=0.0, batch_size=4,
                   symmetries=False, model_config=TINY["vnet"], progress=False)  # fmt: skip
    weighted = fit(ds, Task(["a"], ["b"]), "vnet", loss_weight="w", **options)
    plain = fit(ds, Task(["a"], ["b"]), "vnet", **options)
    clean = ~half.values
    truth = ds["b"].values[0][clean]
    errors = [
        float(np.abs(m.predict(ds)["b"].values[0][clean] - truth).mean()) for m in (weighted, plain)
    ]
    assert errors[0] < 0.5 * errors[1], errors
    with pytest.raises(DataError, match=r"\['nope'\] not found"):
        fit(ds, Task(["a"], ["b"]), "vnet", loss_weight="nope", **options)
    ds["w"] = -ds["w"]
    with pytest.raises(DataError, match="loss weight 'w' has negative values"):
        fit(ds, Task(["a"], ["b"]), "vnet", loss_weight="w", **options)


def test_fit_rejects_unknown_options_before_doing_any_work():
    with pytest.raises(ModelError, match=r"'lerning_rate'.*allowed: crop, pad"):
        fit("no-such-file.nc", Task(["a"], ["b"]), lerning_rate=1e-3)
    with pytest.raises(ModelError, match="did you mean 'batch_size'"):
        fit("no-such-file.nc", Task(["a"], ["b"]), batchsize=4)
    with pytest.raises(ModelError, match="unroll=2 needs a lead task"):
        fit(map_dataset(1), Task(["a"], ["b"]), "vnet", unroll=2, model_config=TINY["vnet"])


@pytest.mark.parametrize("model", ["vnet", "fno"])
def test_bf16_mixed_precision_trains_and_saves_float32_weights(model):
    # Lightning's bf16-mixed autocast runs on CPU too: the loss stays finite through the
    # FFTs (upcast inside SpectralConv) and the artifact keeps float32 weights.
    ds = map_dataset(1)
    task = Task(["a"], ["b"], params=["omega"])
    surrogate = fit(
        ds, task, model, crop=16, batch_size=2, max_steps=5, val_fraction=0,
        precision="bf16-mixed", progress=False, model_config=TINY[model],
    )  # fmt: skip
    metrics = surrogate.metadata.provenance["metrics"]
    assert np.isfinite(metrics["train_loss_last"])
    assert surrogate.metadata.provenance["precision"] == "bf16-mixed"
    assert all(p.dtype == torch.float32 for p in surrogate.model.parameters())
    pred = surrogate.predict(ds)
    assert np.isfinite(pred.b.values).all()

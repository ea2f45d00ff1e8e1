"""The fit-options schema, TOML run configurations, overrides and train_from_config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_training_fixtures import map_dataset

from surrogates.data import Task
from surrogates.errors import ModelError
from surrogates.training import FitConfig, load, load_config, train_from_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "cli").glob("train-*.toml"))


def test_unknown_fit_options_list_the_allowed_keys_and_suggest_the_closest():
    with pytest.raises(ModelError, match=r"'batchsize' \(did you mean 'batch_size'\?\)"):
        FitConfig.from_kwargs({"batchsize": 4})
    with pytest.raises(ModelError, match="allowed: crop, pad, pad_mode, batch_size"):
        FitConfig.from_kwargs({"nonsense": 1})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"lr": -1.0}, r"FitConfig.lr: got -1.0, expected a positive number"),
        ({"schedule": "linear"}, r"FitConfig.schedule: got 'linear', expected one of"),
        ({"crop": [16, "a"]}, r"FitConfig.crop: got \[16, 'a'\]"),
        ({"val_fraction": 1.0}, r"FitConfig.val_fraction: got 1.0"),
        ({"max_steps": None}, r"FitConfig.max_steps: got None, expected an int when"),
        ({"symmetries": "yes"}, r"FitConfig.symmetries: got 'yes', expected true/false"),
        (
            {"loss": "l1"},
            r"FitConfig.loss: got 'l1', expected one of \('amse', 'crps',"
            r" 'gaussian_nll', 'mse', 'rel_l2'\)",
        ),
    ],
)
def test_invalid_fit_option_values(options, message):
    with pytest.raises(ModelError, match=message):
        FitConfig.from_kwargs(options)


def test_crop_and_pad_per_axis():
    config = FitConfig(crop=[32, 32, 16], pad=4)
    assert config.crop == (32, 32, 16) and config.per_axis("pad", 3) == (4, 4, 4)
    with pytest.raises(ModelError, match=r"FitConfig.crop: got \[32, 32, 16\] for 2 spatial"):
        config.per_axis("crop", 2)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    data, task, model, config = load_config(path)
    assert data.startswith(("data/", "runs/")) and model in ("vnet", "fno", "unet")
    assert isinstance(task, Task) and config.out_dir.startswith("runs/")


def test_shipped_configs_describe_the_three_studies():
    cosmo = load_config(ROOT / "cli" / "train-cosmology.toml")
    assert cosmo[1] == Task([f"disp_2lpt_{a}" for a in "xyz"], [f"disp_{a}" for a in "xyz"],
                            params=["Omega_m"], residual=True)  # fmt: skip
    turb = load_config(ROOT / "cli" / "train-turbulence.toml")
    assert turb[1].lead == 1 and turb[1].residual and turb[1].params == ("forcing_amplitude",)
    assert turb[3].unroll == 1 and turb[3].loss == "amse"
    lbm = load_config(ROOT / "cli" / "train-lift-drag.toml")
    assert lbm[1].lead is None and lbm[1].params == ("Re",) and "mask" in lbm[1].inputs
    assert lbm[3].gauge == ("p",) and lbm[3].loss_weight == "wall_weight"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


BASE = """
[data]
path = "train.nc"
format = "netcdf"
[task]
inputs = ["a"]
targets = ["b"]
params = ["omega"]
[model]
name = "vnet"
width = 4
levels = 1
[train]
crop = 8
max_steps = 3
"""


def test_overrides_are_parsed_as_toml_values(tmp_path):
    path = _write(tmp_path, BASE)
    data, task, model, config = load_config(
        path, ["train.lr=3e-4", "batch_size=2", "model.width=6", "data.path=other.nc",
               "task.residual=true", "train.crop=[8, 8]"],
    )  # fmt: skip
    assert (data, model, config.lr, config.batch_size) == ("other.nc", "vnet", 3e-4, 2)
    assert config.model_config == {"width": 6, "levels": 1} and task.residual
    assert config.crop == (8, 8) and config.open_options == {"format": "netcdf"}


@pytest.mark.parametrize(
    "text, overrides, message",
    [
        (BASE + "lerning_rate = 1e-3\n", [], r"\[train\]: unknown key\(s\) 'lerning_rate'"),
        (BASE, ["model.widht=8"], r"\[model\] 'vnet' config: unknown key\(s\) 'widht' \(did you"),
        (BASE, ["model.name=resnet"], r"\[model\] name: unknown model 'resnet'; available models"),
        (BASE, ["trian.lr=1"], r"section: unknown key\(s\) 'trian' \(did you mean 'train'\?\)"),
        (BASE, ["lr"], r"--set 'lr': expected key=value"),
        (BASE, ["task.lead=0"], r"Task.lead: expected None or a positive integer"),
        (BASE + "[extra]\n", [], r"section: unknown key\(s\) 'extra'.*; allowed: data, task"),
        (BASE.replace('path = "train.nc"', ""), [], r"\[data\] needs path"),
        (BASE + "callbacks = []\n", [], r"unknown key\(s\) 'callbacks'"),
        ("[data\n", [], "invalid TOML"),
    ],
)
def test_bad_run_configurations(tmp_path, text, overrides, message):
    with pytest.raises(ModelError, match=message):
        load_config(_write(tmp_path, text), overrides)


@pytest.mark.usefixtures("one_thread")
def test_train_from_config_writes_the_artifact(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    map_dataset(2).to_netcdf(tmp_path / "train.nc")
    path = _write(tmp_path, BASE + "progress = false\nval_fraction = 0\n")
    artifact = train_from_config(path, ["train.checkpoint_every=2"])
    assert artifact == Path("runs") / "run" / "surrogate.pt"
    surrogate = load(artifact)
    assert surrogate.metadata.provenance["steps"] == 3
    assert surrogate.metadata.provenance["source"] == "train.nc"
    assert (tmp_path / "runs" / "run" / "checkpoints" / "last.ckpt").is_file()
    # resuming a finished run trains no further and gives the same weights
    again = load(train_from_config(path, ["train.checkpoint_every=2"], resume=True))
    state = surrogate.model.state_dict()
    assert all(np.array_equal(v, state[k]) for k, v in again.model.state_dict().items())


def test_shipped_cosmology_surrogate_matches_its_configuration():
    """pretrained/cosmology/ holds what `make demo-train` produces: the artifact loads safely and
    records exactly the task, model and training options of cli/train-cosmology.toml."""
    import json

    data, task, model, config = load_config(ROOT / "cli" / "train-cosmology.toml")
    surrogate = load(ROOT / "pretrained" / "cosmology" / "surrogate.pt")
    assert surrogate.task == task and surrogate.metadata.model["name"] == model
    recorded = json.loads((ROOT / "pretrained" / "cosmology" / "fit_config.json").read_text())
    expected = {**config.to_dict(), "resume": True}  # `make demo-train` passes --resume
    # options added to FitConfig after the run are absent from its record: at their default
    later = set(expected) - set(recorded["train"])
    defaults = FitConfig().to_dict()
    assert all(expected[k] == defaults[k] for k in later), later
    expected = {k: v for k, v in expected.items() if k not in later}
    assert recorded["data"] == data and recorded["train"] == expected
    assert surrogate.metadata.provenance["fit_config"] == expected
    assert surrogate.metadata.provenance["steps"] == config.max_steps


def test_mirror_symmetries_and_gauge_options_are_checked():
    config = FitConfig(symmetries=["y", "z"], gauge=["p"])
    assert config.symmetries == ("y", "z") and config.gauge == ("p",)
    assert config.to_dict()["symmetries"] == ["y", "z"]  # TOML/JSON round trip as lists
    with pytest.raises(ModelError, match="symmetries.*true/false or a list of axis names"):
        FitConfig(symmetries="y")
    with pytest.raises(ModelError, match="gauge"):
        FitConfig(gauge=[1])
    with pytest.raises(ModelError, match="gauge"):
        FitConfig(gauge="p")


def test_sections_and_flat_keywords_give_the_same_config():
    flat = FitConfig.from_kwargs(dict(crop=16, lr=2e-3, loss="rel_l2", gauge=["p"], patience=3))
    sectioned = FitConfig.from_kwargs(
        dict(
            sampling={"crop": 16},
            optim={"lr": 2e-3},
            loss={"name": "rel_l2", "gauge": ["p"]},
            trainer={"patience": 3},
        )
    )
    assert flat == sectioned
    mixed = FitConfig.from_kwargs(dict(crop=16, optim={"lr": 2e-3}, loss="rel_l2", gauge=["p"],
                                       patience=3))  # fmt: skip
    assert mixed == flat


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(optim={"crop": 16}), r"\[optim\] crop: belongs in \[sampling\]"),
        (dict(lr=1e-3, optim={"lr": 1e-4}), r"lr given twice \(flat and \[optim\]\)"),
        (dict(loss={"loss": "mse"}), r"\[loss\] loss: write it as loss.name"),
        (dict(sampling=16), "sampling must be a table"),
    ],
)
def test_misplaced_section_keys_are_one_line_errors(options, message):
    with pytest.raises(ModelError, match=message):
        FitConfig.from_kwargs(options)


def test_sectioned_toml_and_overrides(tmp_path):
    path = _write(tmp_path, BASE.split("[train]")[0] + SECTIONED)
    _, _, _, config = load_config(path)
    assert config.lr == 1e-3 and config.crop == 8 and config.loss == "rel_l2"
    # a bare key, train.key or the section's own name all reach the key's table
    for item in ("lr=5e-4", "train.lr=5e-4", "optim.lr=5e-4"):
        assert load_config(path, [item])[3].lr == 5e-4
    assert load_config(path, ["loss.name=mse"])[3].loss == "mse"
    assert load_config(path, ["loss=mse"])[3].loss == "mse"
    both = _write(tmp_path, BASE.split("[train]")[0] + SECTIONED + "\n[train]\nlr = 1e-2\n")
    with pytest.raises(ModelError, match="lr given twice"):
        load_config(both)


SECTIONED = """
[sampling]
crop = 8

[optim]
lr = 1e-3
max_steps = 5

[loss]
name = "rel_l2"
"""

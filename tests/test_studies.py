"""The studies' room: named settings, overrides, output folders, the ``surrogates study``
command, and the cosmology study end to end at its quick size."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from surrogates import studies
from surrogates.cli import main
from surrogates.errors import DataError
from surrogates.studies._common import apply_changes, prepare_out
from surrogates.studies.configs import FILES, config_text, sectioned
from surrogates.training.config import FitConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Toy:
    seed: int = 0
    budget: float = 1.0
    models: tuple[str, ...] = ("a",)
    name: str = "x"
    flag: bool = False
    fit: dict = dataclasses.field(default_factory=lambda: {"max_steps": 10, "lr": 1e-3})


def test_every_study_has_three_frozen_sizes():
    for name in studies.STUDIES:
        module = studies.module(name)
        assert set(module.SIZES) == set(studies.SIZES), name
        for size, chosen in module.SIZES.items():
            assert dataclasses.is_dataclass(chosen), (name, size)
            with pytest.raises(dataclasses.FrozenInstanceError):
                chosen.seed = 1
            assert hasattr(chosen, "seed") and callable(module.run)


def test_changes_are_typed_like_the_field():
    toy = apply_changes(
        Toy(), ["budget=5", "models=['a', 'b']", "name=word", "flag=true", "fit.max_steps=3"]
    )
    assert toy.budget == 5.0 and isinstance(toy.budget, float)
    assert toy.models == ("a", "b") and toy.name == "word" and toy.flag is True
    assert toy.fit == {"max_steps": 3, "lr": 1e-3}
    assert Toy().fit["max_steps"] == 10  # the named settings are not changed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("nope=1", "has no field 'nope'"),
        ("seed=1.5", "expected int"),
        ("flag=1", "expected bool"),
        ("budget", "expected FIELD=VALUE"),
        ("seed.x=1", "seed is not a table"),
        ("fit.max_steps='ten'", "expected int"),
    ],
)
def test_bad_changes_are_one_line_errors(change, message):
    with pytest.raises(DataError, match=message):
        apply_changes(Toy(), [change])


def test_seed_and_size_reach_the_settings():
    chosen = studies.settings("cosmology", "quick", seed=7)
    assert chosen.seed == 7 and chosen.n == studies.module("cosmology").SIZES["quick"].n
    with pytest.raises(DataError, match="expected one of"):
        studies.settings("cosmology", "huge")
    with pytest.raises(DataError, match="study 'astro'"):
        studies.settings("astro")


def test_out_must_be_empty_or_the_same_study(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="files of something else"):
        prepare_out(mine, "turbulence")
    assert (mine / "notes.txt").read_text() == "keep me"
    out = prepare_out(tmp_path / "run", "turbulence")
    (out / "results.json").write_text("{}")
    assert prepare_out(out, "turbulence") == out  # an earlier output of the same study
    with pytest.raises(DataError, match="the output of study 'turbulence'"):
        prepare_out(out, "cosmology")
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="is a file"):
        prepare_out(tmp_path / "file", "cosmology")


def test_study_command_bad_input_exits_2(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["study", "cosmology", "--size", "quick", "--set", "tile=big", "--out", out]) == 2
    assert "expected int" in capsys.readouterr().err
    code = main(["study", "cosmology", "--set", "model=nothing.pt", "--out", out])
    assert code == 2 and "no such artifact" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cosmology(quick_study) -> tuple[dict, Path]:
    """The quick study, run once per session (conftest; the notebook 02 reuses it)."""
    return quick_study("cosmology")


def test_study_command_runs_and_reuses_nothing_it_should_not(tmp_path, capsys, one_thread):
    """``surrogates study`` end to end at a size smaller than quick (no ladder, no bf16)."""
    out = tmp_path / "out"
    args = [
        "study",
        "cosmology",
        "--size",
        "quick",
        "--set",
        "ladder=[]",
        "--set",
        "bf16=false",
        "--set",
        "n=32",
        "--set",
        "box_size=128.0",
        "--set",
        "tile=16",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert "# Cosmology large-volume emulation" in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text())["settings"]["n"] == 32


def test_cosmology_quick_beats_2lpt_and_tabulates_the_speedup(cosmology):
    """The shipped surrogate on a 256 Mpc/h box (2x the training side): T and r at k½
    within 2 % of PM (the demo's 512 Mpc/h box reaches 0.6 % and 0.8 %), and closer to PM
    than 2LPT, whose T(k½) is ~0.68 (it misses the non-linear growth)."""
    results, out = cosmology
    scores = results["scores"]
    assert abs(scores["surrogate"]["T_half"] - 1) < 0.02
    assert abs(scores["surrogate"]["r_half"] - 1) < 0.02
    assert scores["surrogate"]["max_T_error"] < scores["2LPT"]["max_T_error"] / 5
    assert {"surrogate", "surrogate-bf16", "2LPT", "ZA", "PM-2-steps"} <= set(scores)
    matched = results["matched_accuracy"]["surrogate"]
    assert set(matched) == {"max_T_error", "min_r", "halo_ratio"}
    for cell in matched.values():
        assert cell["match"] in (None, "PM-2-steps")
        assert cell["speedup"] is None or cell["speedup"] > 0
    assert results["warm_seconds"]["PM (truth)"] > results["warm_seconds"]["PM-2-steps"]
    assert "Speedup at matched accuracy" in (out / "results.md").read_text()
    assert (out / "report" / "metrics.nc").is_file()


def test_cosmology_rerun_reuses_its_datasets(cosmology, tmp_path):
    results, first = cosmology
    out = tmp_path / "out"
    out.mkdir()
    for name in ("study.json", "large.nc", "large.nc.timing.json"):
        shutil.copy(first / name, out / name)
    stamp = json.loads((out / "large.nc.timing.json").read_text())
    same = studies.settings("cosmology", "quick")
    stored = json.loads((first / "results.json").read_text())
    assert studies.run("cosmology", same, first, reuse=True) == stored  # nothing rerun
    cheaper = studies.settings("cosmology", "quick", changes=["ladder=[]", "bf16=false"])
    again = studies.run("cosmology", cheaper, out, reuse=True)  # other settings: runs
    assert again["solver_seconds"]["PM (truth)"] == stamp["seconds"]  # reused, not rerun
    # the same box and network (float32 round-off apart: thread counts may differ)
    assert again["scores"]["surrogate"] == pytest.approx(results["scores"]["surrogate"], rel=1e-4)


@pytest.mark.parametrize("name", sorted(FILES))
def test_shipped_training_configs_are_written_from_the_settings(name):
    """``cli/train-*.toml`` is ``train_config(SIZES["full"])`` of its study, and the TOML
    writer round-trips it (tomllib reads back what the settings say)."""
    study = studies.module(name)
    text = (ROOT / "cli" / FILES[name]).read_text()
    assert text == config_text(name), "stale: run python -m surrogates.studies.configs"
    config = study.train_config(study.SIZES["full"])
    assert tomllib.loads(text) == json.loads(json.dumps(sectioned(config)))  # tuples -> lists
    flat = load_config(ROOT / "cli" / FILES[name])
    assert (
        flat[3].to_dict()
        == FitConfig.from_kwargs(
            {
                **config["train"],
                "model_config": {k: v for k, v in config["model"].items() if k != "name"},
            }  # fmt: skip
        ).to_dict()
    )

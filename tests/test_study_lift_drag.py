"""The lift-and-drag study at its ``quick`` size end to end: LBM sections and long channel,
steady-flow training, tiled application, drag and lift of every obstacle, the solver's
convergence and the speedup at matched accuracy, the results files; its settings and its
``surrogates train`` run configuration."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

import surrogates
from surrogates import studies
from surrogates.errors import DataError, ModelError
from surrogates.studies.configs import toml_text
from surrogates.studies.lift_drag import SIZES, TRAIN_HEADER, Settings, train_config
from surrogates.training import load_config


@pytest.fixture(scope="module")
def quick(quick_study) -> tuple[Path, dict]:
    """The output folder and results of the quick study with its default settings, run
    once per session (conftest; the notebook 04 reuses it)."""
    results, out = quick_study("lift-drag")
    return out, results


def test_results_json_holds_the_returned_results(quick: tuple[Path, dict]) -> None:
    out, results = quick
    stored = json.loads((out / "results.json").read_text())
    assert set(stored) == {*results, "machine"}
    assert stored["obstacles"] == results["obstacles"]
    assert stored["settings"] == json.loads(json.dumps(results["settings"]))
    assert stored["settings"]["seed"] == 0 and stored["fit"]["seed"] == 0
    assert stored["settings"]["fit"]["max_steps"] == 10


def test_one_row_per_obstacle_with_finite_coefficients(quick: tuple[Path, dict]) -> None:
    _, results = quick
    rows = results["obstacles"]
    assert len(rows) == results["settings"]["long_obstacles"] == 3
    assert sorted(r["body"] for r in rows) == [1, 2, 3]
    assert [r["x [m]"] for r in rows] == sorted(r["x [m]"] for r in rows)
    for row in rows:
        for key in ("C_D LBM", "C_D surrogate", "C_L LBM", "C_L surrogate", "C_D rel. error"):
            assert math.isfinite(row[key]), (key, row)
        assert row["C_D LBM"] > 0
        assert row["C_D LBM (solver)"] > 0
        assert row["C_D rel. error"] == pytest.approx(row["C_D surrogate"] / row["C_D LBM"] - 1)
        assert row["u_x ahead LBM"] > 0 and math.isfinite(row["u_x ahead surrogate / LBM"])


def test_long_channel_obstacles_not_placed_as_in_training(quick: tuple[Path, dict]) -> None:
    _, results = quick
    assert results["coinciding_obstacles"] == []
    assert all(r["nearest training placement [cells]"] > 0 for r in results["obstacles"])


def test_drag_errors_summarise_the_rows(quick: tuple[Path, dict]) -> None:
    _, results = quick
    errors = [abs(r["C_D rel. error"]) for r in results["obstacles"]]
    drag = results["drag_error"]["surrogate"]
    assert drag["mean"] == pytest.approx(sum(errors) / len(errors))
    assert drag["max"] == pytest.approx(max(errors))
    for model, fields in results["field_errors"].items():
        assert set(fields) == {"grad p", "u_x", "u_y", "u_z"}, model
        assert all(math.isfinite(e) and e > 0 for e in fields.values()), model


def test_force_spread_summarises_the_rows(quick: tuple[Path, dict]) -> None:
    _, results = quick
    rows = results["obstacles"]
    model, estimates = results["force_spread"]
    for c in ("C_D", "C_L", "C_S"):  # 3D: lift across the walls (y), side force along z
        dc = [abs(r[f"{c} surrogate"] - r[f"{c} LBM"]) / abs(r["C_D LBM"]) for r in rows]
        assert model[f"mean abs. Δ{c} / C_D"] == pytest.approx(sum(dc) / len(dc))
        solver = [abs(r[f"{c} LBM"] - r[f"{c} LBM (solver)"]) / abs(r["C_D LBM"]) for r in rows]
        assert estimates[f"mean abs. Δ{c} / C_D"] == pytest.approx(sum(solver) / len(solver))
    for r in rows:
        assert r["C_L error / C_D LBM"] == pytest.approx(
            (r["C_L surrogate"] - r["C_L LBM"]) / abs(r["C_D LBM"])
        )
        assert r["C_S error / C_D LBM"] == pytest.approx(
            (r["C_S surrogate"] - r["C_S LBM"]) / abs(r["C_D LBM"])
        )
    assert len(results["coefficients_history"]["C_S"]) == len(rows)


def test_solver_history_and_matched_accuracy(quick: tuple[Path, dict]) -> None:
    _, results = quick
    history = results["coefficients_history"]
    frames = len(history["time"])
    assert frames == round(results["settings"]["long_end"] / 0.2)  # every frame from 0.2 s
    assert len(history["C_D"]) == 3 and all(len(c) == frames for c in history["C_D"])
    m = results["matched_accuracy"]
    assert len(m["lbm_seconds"]) == len(m["lbm_error"]) == frames
    assert m["lbm_seconds"][-1] == pytest.approx(results["lbm_seconds"])
    assert m["surrogate_error"] == pytest.approx(results["drag_error"]["surrogate"]["mean"])
    # the steady state is the mean of the last frames: the last frame is close to it
    assert m["lbm_error"][-1] < max(m["lbm_error"])
    if m["speedup"] is not None:
        assert m["lbm_seconds_matched"] in m["lbm_seconds"]
        i = m["lbm_seconds"].index(m["lbm_seconds_matched"])
        assert all(e <= m["surrogate_error"] for e in m["lbm_error"][i:])
        assert i == 0 or m["lbm_error"][i - 1] > m["surrogate_error"]


def test_speedup_timings_and_files(quick: tuple[Path, dict]) -> None:
    out, results = quick
    assert results["speedup"] == pytest.approx(
        results["lbm_seconds"] / results["seconds"]["rollout"]
    )
    assert all(v > 0 for v in results["seconds"].values())
    assert results["training_steps"] == 10
    assert results["figures"] and all((out / n).stat().st_size > 0 for n in results["figures"])
    text = (out / "results.md").read_text()
    assert "| body | kind |" in text and "Speedup" in text


def test_second_run_reuses_the_lbm_data(quick: tuple[Path, dict], tmp_path: Path) -> None:
    first_out, first = quick
    assert first["lbm_runs"]["long"]["reused"] is False
    out = tmp_path / "out"
    out.mkdir()
    for name in ("study.json", *(n + s for n in ("sections.nc", "long.nc")
                                 for s in ("", ".timing.json"))):  # fmt: skip
        shutil.copy(first_out / name, out / name)
    s = studies.settings("lift-drag", "quick", changes=["fit.max_steps=2"])
    again = studies.run("lift-drag", s, out)
    assert again["lbm_runs"]["long"]["reused"] is True
    assert again["seconds"]["lbm_long"] == first["seconds"]["lbm_long"]  # measured once
    assert again["training_steps"] == 2
    # the same LBM fields: the truth's coefficients do not change with the model
    assert [r["C_D LBM"] for r in again["obstacles"]] == [r["C_D LBM"] for r in first["obstacles"]]


def test_train_config_trains_on_the_steady_sections_the_study_writes(
    quick: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = quick
    s = studies.settings("lift-drag", "quick", seed=3, changes=["fit.max_steps=100"])
    path = tmp_path / "train-lift-drag.toml"
    path.write_text(toml_text(train_config(s, study_out=str(out)), "generated"))
    data, task, model, config = load_config(path)
    assert Path(data) == out / "steady-sections.nc" and data.endswith("steady-sections.nc")
    assert model == "vnet" and task.lead is None and task.params == ("Re",)
    assert task.targets == ("p", "u_x", "u_y", "u_z")
    assert task.static == ("u_inflow", "mask", "distance", "wake_short", "wake_long")
    assert config.max_steps == 100 and config.seed == 3 and config.gauge == ("p",)
    assert config.model_config == s.fit["model_config"] and config.crop == s.fit["crop"]
    assert config.loss_weight == "wall_weight" and config.symmetries == ("y", "z")
    ds = surrogates.open_dataset(data)  # the file is there, with what the task reads
    assert {*task.inputs, *task.targets, *task.params, "wall_weight"} <= set(ds.data_vars)
    assert ds.sizes["y"] == s.cells and ds.sizes["sample"] == s.sections


def test_full_train_config_loads_as_toml(tmp_path: Path) -> None:
    path = tmp_path / "full.toml"
    path.write_text(toml_text(train_config(SIZES["full"]), TRAIN_HEADER))
    data, task, _, config = load_config(path)
    assert data.startswith("runs/") and config.out_dir.startswith("runs/")
    assert task.params == ("Re",) and config.max_steps == 2000 and config.lr == 2e-3


def test_sizes_and_seed() -> None:
    assert set(SIZES) == set(studies.SIZES)
    full, laptop, quick = SIZES["full"], SIZES["laptop"], SIZES["quick"]
    # full: the settings of docs/results.md
    assert (full.cells, full.sections, full.long_obstacles, full.long_end) == (24, 32, 6, 12.0)
    assert full.fit["max_steps"] == 2000 and full.tile == (48, 24, 24)
    assert quick.sections < laptop.sections < full.sections
    assert quick.fit["max_steps"] < laptop.fit["max_steps"] < full.fit["max_steps"]
    assert studies.settings("lift-drag", "quick", seed=7).seed == 7


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (["fit.max_steps=0"], ModelError, r"FitConfig.max_steps: got 0, expected an int >= 1"),
        (["fit.seed=1"], DataError, r"fit.seed: set by the study \(seed: the settings' seed"),
        (["fit.batchsize=4"], ModelError, r"'batchsize' \(did you mean 'batch_size'\?\)"),
        (["sections=0"], DataError, r"sections 0: expected an int >= 1"),
        (["long_average=2.0"], DataError, r"long_average 2.0, long_end 1.0: expected"),
        (["train_re=[40.0, 10.0]"], DataError, r"train_re \[40.0, 10.0\]: expected 0 < low"),
        (["steps=3"], DataError, r"Settings has no field 'steps'"),
    ],
)
def test_bad_settings_are_one_line_errors(changes: list, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        studies.settings("lift-drag", "quick", changes=changes)


def test_run_refuses_other_settings(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="lift-drag: settings of type dict; expected"):
        studies.run("lift-drag", {"cells": 16}, tmp_path / "out")
    assert isinstance(SIZES["quick"], Settings)

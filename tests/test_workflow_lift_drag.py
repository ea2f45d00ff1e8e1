"""``workflows/lift_drag.py --quick`` end to end: LBM sections and long channel, steady-flow
training, tiled application, drag and lift of every obstacle, the solver's convergence and
the speedup at matched accuracy, and the results files it writes."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "workflows" / "lift_drag.py"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The script in a subprocess, working directory ``tmp_path``."""
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The output folder and results.json of one ``--quick --threads 1`` run."""
    tmp = tmp_path_factory.mktemp("lift-drag")
    done = run(tmp, "--quick", "--threads", "1", "--out", str(tmp / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "out", json.loads((tmp / "out" / "results.json").read_text())


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


def test_approach_velocity_reads_the_plane_ahead_of_each_body() -> None:
    # Reference: u_x = x (cell index) + 10 * y; a body's value is the mean over the cells
    # of its frontal footprint on the plane `gap` cells upstream of its first cell.
    import numpy as np

    from surrogates.diagnostics import approach_velocity

    mask = np.zeros((20, 6, 4), bool)
    mask[8:10, 1:3, 1] = True  # body 1: rows y = 1, 2
    mask[15, 4, 0:2] = True  # body 2: row y = 4
    x, y, _ = np.meshgrid(np.arange(20), np.arange(6), np.arange(4), indexing="ij")
    u = (x + 10.0 * y).astype(np.float32)
    assert approach_velocity(u, mask, gap=3) == pytest.approx([5 + 15.0, 12 + 40.0])
    assert approach_velocity(u, mask, gap=12)[0] == pytest.approx(0 + 15.0)  # clipped at x = 0


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
    for name in results["figures"]:
        assert (out / name).stat().st_size > 0
    text = (out / "results.md").read_text()
    assert "| body | kind |" in text and "Speedup" in text


def test_second_run_reuses_the_lbm_data(quick: tuple[Path, dict], tmp_path: Path) -> None:
    first_out, first = quick
    assert first["lbm_runs"]["long"]["reused"] is False
    out = tmp_path / "out"
    out.mkdir()
    for name in ("sections.nc", "long.nc"):
        for suffix in ("", ".timing.json"):
            shutil.copy(first_out / (name + suffix), out / (name + suffix))
    done = run(tmp_path, "--quick", "--threads", "1", "--max-steps", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads((out / "results.json").read_text())
    assert again["lbm_runs"]["long"]["reused"] is True
    assert again["seconds"]["lbm_long"] == first["seconds"]["lbm_long"]  # measured once
    assert again["training_steps"] == 2
    # the same LBM fields: the truth's coefficients do not change with the model
    assert [r["C_D LBM"] for r in again["obstacles"]] == [r["C_D LBM"] for r in first["obstacles"]]


def test_bad_max_steps_is_one_line_error(tmp_path: Path) -> None:
    done = run(tmp_path, "--quick", "--max-steps", "0", "--out", str(tmp_path / "out"))
    assert done.returncode != 0
    assert "--max-steps: expected a positive number" in done.stderr
    assert "Traceback" not in done.stderr

"""The command line: exit codes and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from surrogates.cli import main


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("inspect", "convert", "generate"):
        assert command in out


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


def test_module_entry_point_bad_input_exits_2_without_traceback(tmp_path):
    missing = tmp_path / "nope.nc"
    proc = subprocess.run(
        [sys.executable, "-m", "surrogates", "inspect", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and "nope.nc" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

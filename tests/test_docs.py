"""The documentation site builds with no warning: API pages from the numpydoc docstrings
(griffe reports parameters missing from a signature, malformed sections) and the results
pages (broken links and anchors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_build_strict(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert proc.returncode == 0 and not warnings, log[-4000:]
    assert (tmp_path / "api" / "io" / "index.html").exists()
    assert (tmp_path / "results" / "cosmology" / "index.html").exists()

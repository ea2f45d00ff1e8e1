"""Project-level contracts: packaging metadata agrees, and the package layers depend one way."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# conda-forge name -> PyPI name where they differ; extras become separate conda packages.
CONDA_TO_PYPI = {"pytorch": "torch", "netcdf4": "netCDF4", "distributed": "dask"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].strip()


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pypi = {_name(d).lower() for d in deps}
    conda = set()
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    for line in text.splitlines():
        item = line.strip()
        if not item.startswith("- ") or item.startswith("- -") or item.endswith(":"):
            continue
        name = _name(item[2:])
        if name in ("python", "pip"):
            continue
        conda.add(CONDA_TO_PYPI.get(name, name).lower())
    assert conda == pypi, (
        f"only in environment.yml: {conda - pypi}; only in pyproject: {pypi - conda}"
    )


def test_constraints_pin_cpu_torch():
    text = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==2\.13\.0$", text, flags=re.M)


# DESIGN.md: diagnostics, ops and nn never import training, rollout, io or cli; only cli,
# compare and plot sit on top of everything, and compare never imports the reference
# solvers (what both need, such as physical constants, lives in ops). The Surrogate
# artifact sits below training and rollout, so rollout (and its Dask workers) never
# imports training, hence never Lightning.
FORBIDDEN = {
    "ops": {
        "io",
        "data",
        "nn",
        "models",
        "training",
        "rollout",
        "diagnostics",
        "solvers",
        "cli",
        "compare",
        "plot",
    },
    "nn": {"io", "data", "training", "rollout", "diagnostics", "solvers", "cli", "compare", "plot"},
    "diagnostics": {"io", "data", "nn", "models", "training", "rollout", "cli", "compare", "plot"},
    "io": {"data", "nn", "models", "training", "rollout", "diagnostics", "cli", "compare", "plot"},
    "models": {"io", "training", "rollout", "cli", "compare", "plot"},
    "artifact": {
        "training",
        "rollout",
        "diagnostics",
        "solvers",
        "studies",
        "cli",
        "compare",
        "plot",
        "report",
    },
    "rollout": {"training", "cli", "compare", "plot", "report"},
    "reliability": {"training", "rollout", "studies", "cli", "compare", "plot", "report"},
    "compare": {"solvers"},
}


def _imported_subpackages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "surrogates" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_depend_one_way(layer):
    files = sorted((ROOT / "surrogates" / layer).rglob("*.py"))
    assert files, f"layer {layer} has no modules"
    bad = {
        str(f.relative_to(ROOT)): sorted(_imported_subpackages(f) & FORBIDDEN[layer]) for f in files
    }
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"layer {layer!r} imports layers above it: {bad}"


def test_loading_and_rolling_out_do_not_import_lightning():
    """Lightning costs seconds and hundreds of MB per process (CLI, Dask workers): only
    training imports it."""
    import subprocess
    import sys

    code = (
        "import sys, surrogates, surrogates.artifact, surrogates.rollout, surrogates.compare;"
        "assert 'surrogates.training' not in sys.modules, 'rollout imported training';"
        "from surrogates.training import Surrogate, load, load_config;"
        "from surrogates.data import CubeDataset, Split;"
        "assert 'lightning' not in sys.modules, 'lightning imported';"
        "from surrogates.training import fit;"
        "assert 'lightning' in sys.modules and callable(fit)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_public_api_names():
    """DESIGN.md's curated API: the functions, not the packages of the same name."""
    import inspect

    import surrogates
    from surrogates.compare import compare as compare_function
    from surrogates.rollout.api import rollout as rollout_function

    assert surrogates.rollout is rollout_function
    assert surrogates.compare is compare_function
    assert list(inspect.signature(surrogates.rollout).parameters)[:3] == [
        "surrogate",
        "state",
        "steps",
    ]
    for name in ("open_dataset", "fit", "load", "Task", "Surrogate"):
        assert callable(getattr(surrogates, name)), name
    assert issubclass(surrogates.DataError, Exception)
    assert issubclass(surrogates.ModelError, Exception)


def test_training_reexports_the_artifact():
    """The artifact moved below training; users' ``surrogates.training`` imports still work."""
    import surrogates
    import surrogates.artifact as artifact
    import surrogates.training as training

    for name in ("Surrogate", "load", "GridInfo", "SurrogateMetadata", "make_metadata",
                 "ARTIFACT_NAME", "FORMAT", "FORMAT_VERSION"):  # fmt: skip
        assert getattr(training, name) is getattr(artifact, name), name
    assert surrogates.load is artifact.load and surrogates.Surrogate is artifact.Surrogate


@pytest.fixture
def run_all():
    """``benchmarks/run_all.py`` as a module (it is a script, not part of the package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"
    spec = importlib.util.spec_from_file_location("run_all_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_all_only_replaces_the_rerun_sections(run_all):
    generated = (
        "\n\n## Latest run (generated)\n\nGenerated on then.\n\n"
        "### A\n\nCommand: `a` (1 s)\n\nold a\n#### inner heading\n\n"
        "### B\n\nCommand: `b` (2 s)\n\nold b\n"
    )
    fresh = ["### B\n\nCommand: `b` (3 s)\n\nnew b\n", "### C\n\nCommand: `c` (4 s)\n\nc\n"]
    merged = run_all._merge(generated, fresh, "today, commit abc")
    assert [m.split("\n", 1)[0] for m in merged] == ["### A", "### B", "### C"]
    assert "old a\n#### inner heading" in merged[0]
    assert "Regenerated on today, commit abc" in merged[1] and "new b" in merged[1]
    assert "old b" not in "".join(merged)


def test_run_all_partial_rerun_replaces_only_its_subsections(run_all):
    generated = (
        "\n\n## Latest run (generated)\n\nGenerated on then.\n\n"
        "### W\n\nCommand: `w` (9 s)\n\n#### One\n\nold one\n\n#### Two\n\nold two\n"
    )
    fresh = ["### W\n\nCommand: `w --only two` (3 s)\n\n#### Two\n\nnew two\n"]
    (merged,) = run_all._merge(generated, fresh, "today, commit abc")
    assert "Command: `w --only two` (3 s)" in merged and "Command: `w` (9 s)" not in merged
    assert merged.index("#### One") < merged.index("#### Two")  # the old order
    assert "old one" in merged and "new two" in merged and "old two" not in merged
    one = merged.split("#### One", 1)[1].split("#### Two", 1)[0]
    assert "Kept from the earlier run" in one
    # A section rerun before names that run in what it keeps.
    again = generated.replace("Command: `w` (9 s)", "Regenerated on day 1, commit x1 (`--only`).")
    (merged,) = run_all._merge(again, fresh, "today, commit abc")
    assert "(Kept from the run of day 1, commit x1: not part of this rerun.)" in merged
    # Kept again by a later rerun: it still names the run it came from, once.
    later = generated.split("### W")[0] + merged.replace("day 1, commit x1 (", "day 2, commit x2 (")
    (merged,) = run_all._merge(later, fresh, "day 3, commit x3")
    assert merged.count("(Kept from ") == 1 and "day 1, commit x1: not part" in merged
    # A full rerun (every subsection printed) replaces the section as before.
    full = ["### W\n\nCommand: `w` (9 s)\n\n#### One\n\nnew one\n\n#### Two\n\nnew two\n"]
    (merged,) = run_all._merge(generated, full, "today, commit abc")
    assert "old" not in merged and "Kept" not in merged


def test_run_all_writes_each_benchmark_into_its_page(run_all, tmp_path, monkeypatch):
    page = tmp_path / "solvers.md"
    page.write_text(
        "# Solvers\n\nHand-written.\n\n" + run_all.MARKER + "\n\n## Latest run (generated)\n\n"
        "Generated by `make bench` (`benchmarks/run_all.py`) on then, commit 0.\n\n"
        "### Particle-mesh N-body\n\nold pm\n\n### Fluid solvers\n\nold fluids\n"
    )
    calls = []

    def fake_run(script, title, quick, extra):
        calls.append((script, quick))
        return f"### {title}\n\nCommand: `x` (1 s)\n\nnew {script[0]}\n"

    monkeypatch.setattr(run_all, "run", fake_run)
    monkeypatch.setattr(run_all, "BENCHMARKS", [
        ("solvers", "Particle-mesh N-body", ["bench_pm.py"]),
        ("solvers", "Fluid solvers", ["bench_fluids.py"]),
        ("turbulence", "Turbulence study", ["bench_workflows.py", "--only", "turbulence"]),
    ])  # fmt: skip
    assert run_all.main(["--only", "bench_pm", "--pages", str(tmp_path)]) == 0
    assert calls == [(["bench_pm.py"], False)]
    text = page.read_text()
    assert text.startswith("# Solvers\n\nHand-written.\n\n" + run_all.MARKER)
    assert text.count(run_all.MARKER) == 1 and "Generated by `make bench`" in text
    assert "new bench_pm.py" in text and "old pm" not in text and "old fluids" in text
    assert "Regenerated on " in text.split("### Particle-mesh", 1)[1].split("### Fluid", 1)[0]
    # A page name selects its benchmarks; a page without a generated part gets one.
    assert run_all.main(["--only", "turbulence", "--quick", "--pages", str(tmp_path)]) == 0
    assert calls[-1] == (["bench_workflows.py", "--only", "turbulence"], True)
    fresh = (tmp_path / "turbulence.md").read_text()
    assert run_all.MARKER in fresh and "## Latest run (generated)" in fresh
    assert "new bench_workflows.py" in fresh
    # A benchmark's headings nest under its section's ### title, whatever level it used.
    assert run_all.nest("# Top\ntext\n## Sub") == "#### Top\ntext\n##### Sub"

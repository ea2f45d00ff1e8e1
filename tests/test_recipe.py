"""The recipe runner: validation of recipe.toml, per-sample variations, resume, CLI errors."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pytest
import xarray as xr

from surrogates import DataError
from surrogates.cli import main
from surrogates.solvers import registry
from surrogates.solvers.recipe import load_recipe, run_recipe, sample_configs

CALLS: list[tuple[float, int]] = []


@dataclasses.dataclass(frozen=True)
class WaveConfig:
    n: int = 8
    amplitude: float = 1.0
    steps: int = 3

    def __post_init__(self):
        if self.n < 2:
            raise ValueError(f"n must be >= 2, got {self.n}")


def simulate_wave(config: WaveConfig, seed: int, progress=None) -> xr.Dataset:
    """A decaying sine wave plus seeded noise: cheap, deterministic, canonical."""
    CALLS.append((config.amplitude, seed))
    x = (np.arange(config.n) + 0.5) / config.n
    t = np.arange(config.steps, dtype=float)
    noise = np.random.default_rng(seed).normal(size=(config.steps, config.n, config.n))
    field = config.amplitude * np.exp(-t)[:, None, None] * np.sin(2 * np.pi * x)[:, None] + noise
    for step in range(config.steps):
        if progress:
            progress(step + 1, config.steps)
    return xr.Dataset(
        {"u": (("time", "x", "y"), field.astype("float32")), "amplitude": config.amplitude},
        coords={"time": t, "x": x, "y": x},
        attrs={"boundary_x": "periodic", "boundary_y": "periodic"},
    )


registry.register(registry.SolverSpec("test-wave", WaveConfig, simulate_wave))


@pytest.fixture
def recipe_dir(tmp_path):
    folder = tmp_path / "wave"
    folder.mkdir()
    (folder / "recipe.toml").write_text(
        textwrap.dedent(
            """
            solver = "test-wave"
            samples = 3
            seed = 7
            [params]
            n = 8
            [vary]
            amplitude = { uniform = [1.0, 2.0] }
            """
        )
    )
    return folder


def test_samples_vary_deterministically(recipe_dir):
    a = sample_configs(load_recipe(recipe_dir))
    b = sample_configs(load_recipe(recipe_dir))
    assert [c for c, _ in a] == [c for c, _ in b]
    assert [s for _, s in a] == [7, 8, 9]
    amplitudes = [c.amplitude for c, _ in a]
    assert all(1.0 <= v <= 2.0 for v in amplitudes) and len(set(amplitudes)) == 3


def test_run_writes_canonical_samples(recipe_dir, tmp_path):
    recipe = load_recipe(recipe_dir)
    out = tmp_path / "wave.nc"
    CALLS.clear()
    run_recipe(recipe, out)
    assert len(CALLS) == 3
    assert not out.with_name("wave.nc.parts").exists()
    with xr.open_dataset(out) as ds:
        assert ds["u"].dims == ("sample", "time", "x", "y")
        assert ds["amplitude"].dims == ("sample",)
        expected = [c.amplitude for c, _ in sample_configs(recipe)]
        np.testing.assert_allclose(ds["amplitude"], expected)
        # realisation 1 is exactly what the solver gives for its own config and seed
        config, seed = sample_configs(recipe)[1]
        np.testing.assert_array_equal(ds["u"][1], simulate_wave(config, seed)["u"])


def test_resume_skips_finished_realisations(recipe_dir, tmp_path):
    recipe = load_recipe(recipe_dir)
    out = tmp_path / "wave.nc"

    def crash_on_third(config, seed, progress=None):
        if seed == 9:
            raise KeyboardInterrupt
        return simulate_wave(config, seed, progress)

    CALLS.clear()
    registry.register(registry.SolverSpec("test-wave", WaveConfig, crash_on_third))
    try:
        with pytest.raises(KeyboardInterrupt):
            run_recipe(recipe, out)
    finally:
        registry.register(registry.SolverSpec("test-wave", WaveConfig, simulate_wave))
    assert not out.exists() and [seed for _, seed in CALLS] == [7, 8]
    CALLS.clear()
    run_recipe(recipe, out)
    assert [seed for _, seed in CALLS] == [9]
    with xr.open_dataset(out) as ds:
        assert ds.sizes["sample"] == 3


def test_resume_refuses_parts_of_another_recipe(recipe_dir, tmp_path):
    out = tmp_path / "wave.nc"
    parts = out.with_name("wave.nc.parts")
    parts.mkdir()
    (parts / "recipe.json").write_text('{"fingerprint": "0000"}')
    with pytest.raises(DataError, match="partial output of a different recipe"):
        run_recipe(load_recipe(recipe_dir), out)


def test_overrides_and_types(recipe_dir):
    recipe = load_recipe(recipe_dir, ["samples=2", "n=16", "params.amplitude=3"])
    assert recipe.samples == 2 and recipe.config.n == 16
    assert recipe.config.amplitude == 3.0 and isinstance(recipe.config.amplitude, float)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('solver = "nope"', "unknown solver 'nope'; known solvers:"),
        ('solver = "test-wave"\nsamplez = 2', r"unknown key\(s\) \['samplez'\]"),
        (
            'solver = "test-wave"\n[params]\nwidth = 3',
            r"unknown parameter\(s\) \['width'\].*allowed: amplitude, n, steps",
        ),
        ('solver = "test-wave"\n[params]\nn = "big"', "params.n: expected int, got 'big'"),
        ('solver = "test-wave"\n[params]\nn = 1', "n must be >= 2, got 1"),
        ('solver = "test-wave"\nsamples = 0', "samples: expected an integer >= 1"),
        ('solver = "test-wave"\nformat = "gadget"', "format 'gadget' not supported"),
        ('solver = "test-wave"\n[vary]\nn = { normal = [1, 2] }', "vary.n: expected one of"),
        ('solver = "test-wave"\n[vary]\nsize = { values = [1] }', "vary.size: not a parameter"),
        ('solver = "test-wave"\nsamples = [', "not valid TOML"),
    ],
)
def test_bad_recipes_raise_clear_errors(tmp_path, text, match):
    (tmp_path / "recipe.toml").write_text(text)
    with pytest.raises(DataError, match=match):
        load_recipe(tmp_path)


def test_generate_cli(recipe_dir, tmp_path, capsys):
    out = tmp_path / "wave.nc"
    assert main(["generate", str(recipe_dir), "--out", str(out), "--set", "samples=2"]) == 0
    assert "wrote" in capsys.readouterr().out
    with xr.open_dataset(out) as ds:
        assert ds.sizes["sample"] == 2


def test_generate_cli_bad_recipe_exits_2(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "missing"), "--out", str(tmp_path / "x.nc")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "recipe not found" in err and "Traceback" not in err

"""Out-of-core rollouts in a zarr store: same results as in memory, resume after SIGKILL.

The kill test runs a rollout in a subprocess, SIGKILLs it in the middle of its second step
and resumes it here: the result must equal (bit for bit) an uninterrupted run, and the
resumed run must evaluate only the tiles that were not recorded as done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_rollout_fixtures import make_state, make_surrogate

import surrogates
from surrogates.artifact import load
from surrogates.errors import DataError
from surrogates.io import open_dataset, to_netcdf
from surrogates.rollout import plan_rollout, read_manifest, rollout
from surrogates.rollout.store import ZarrStore

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.mark.parametrize("name", ["vnet", "fno"])
def test_store_equals_memory_and_is_canonical(tmp_path, name):
    config = dict(width=4, levels=1) if name == "vnet" else dict(modes=4, width=8, layers=2)
    surrogate = make_surrogate(name, 2, static=("mask",), **config)
    state = make_state(surrogate, (24, 20), samples=2)
    kwargs = dict(steps=3, every=2, tile=8, progress=False)
    memory = rollout(surrogate, state, **kwargs)
    stored = rollout(surrogate, state, store=tmp_path / "out.zarr", **kwargs)
    assert stored["u"].chunks is not None  # dask-backed, lazily read from the store
    for var in ("u", "v", "mask"):
        np.testing.assert_array_equal(stored[var].values, memory[var].values)
    assert not (tmp_path / "out.zarr" / "_work").exists()  # scratch dropped when complete
    again = open_dataset(tmp_path / "out.zarr")  # canonical: validates
    assert again["u"].dims == ("sample", "time", "x", "y")
    assert again["u"].encoding["chunks"] == (1, 1, 8, 8)  # one tile core per chunk
    manifest = read_manifest(tmp_path / "out.zarr")
    assert manifest["complete"] and manifest["steps_done"] == 3
    assert manifest["mode"] == ("exact" if name == "vnet" else "blend")


def test_existing_store_needs_resume_and_must_match(tmp_path):
    surrogate = make_surrogate("vnet", 2, width=4, levels=1)
    state = make_state(surrogate, (20, 18))
    store = tmp_path / "run.zarr"
    first = rollout(surrogate, state, steps=2, tile=4, store=store, progress=False)
    with pytest.raises(DataError, match=r"exists \(a rollout store\); pass resume=True"):
        rollout(surrogate, state, steps=2, store=store, progress=False)
    other = make_surrogate("vnet", 2, width=4, levels=1, seed=5)
    with pytest.raises(DataError, match="different surrogate"):
        rollout(other, state, steps=2, store=store, resume=True, progress=False)
    with pytest.raises(DataError, match="different state"):
        rollout(surrogate, make_state(surrogate, (20, 18), seed=9), steps=2, store=store,
                resume=True, progress=False)  # fmt: skip
    with pytest.raises(DataError, match="other options .*steps: stored 2, now 3"):
        rollout(surrogate, state, steps=3, store=store, resume=True, progress=False)
    with pytest.raises(DataError, match=r"planned with tile \(4, 4\)"):
        rollout(surrogate, state, steps=2, tile=8, store=store, resume=True, progress=False)
    with pytest.raises(DataError, match="planned with batch 1, got 3"):
        rollout(surrogate, state, steps=2, batch=3, store=store, resume=True, progress=False)
    with pytest.raises(DataError, match="precision: stored '32-true', now 'bf16-mixed'"):
        rollout(surrogate, state, steps=2, store=store, resume=True, precision="bf16-mixed",
                progress=False)  # fmt: skip
    # A store from before the precision option was recorded resumes as float32.
    manifest = read_manifest(store)
    del manifest["options"]["precision"]
    ZarrStore(store).update_manifest(options=manifest["options"])
    with pytest.raises(DataError, match="precision: stored '32-true', now 'bf16-mixed'"):
        rollout(surrogate, state, steps=2, store=store, resume=True, precision="bf16-mixed",
                progress=False)  # fmt: skip
    # Resuming a complete run recomputes nothing and returns the same fields.
    again = rollout(surrogate, state, steps=2, store=store, resume=True, progress=False)
    np.testing.assert_array_equal(again["u"].values, first["u"].values)
    assert read_manifest(store)["runs"][-1]["tiles"] == 0
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="not a rollout store"):
        rollout(surrogate, state, store=tmp_path / "plain", resume=True, progress=False)


def test_bf16_rollout_is_recorded_and_close_to_float32(tmp_path):
    surrogate = make_surrogate("vnet", 2, width=4, levels=1)
    state = make_state(surrogate, (20, 18))
    exact = rollout(surrogate, state, steps=2, tile=4, progress=False)
    fast = rollout(surrogate, state, steps=2, tile=4, store=tmp_path / "bf16.zarr",
                   precision="bf16-mixed", progress=False)  # fmt: skip
    assert fast.attrs["rollout_precision"] == "bf16-mixed"
    assert read_manifest(tmp_path / "bf16.zarr")["options"]["precision"] == "bf16-mixed"
    u, v = exact["u"].values[:, -1], fast["u"].values[:, -1]
    assert 1e-5 < np.linalg.norm(v - u) / np.linalg.norm(u) < 0.03


def test_map_rollout_keeps_per_sample_scalars_and_variable_order(tmp_path):
    """The result describes itself like its source: the surrogate's parameters and the
    state's other per-sample scalars come along, and the fields keep the task's order
    (zarr lists arrays in directory order)."""
    fields = ("c", "a", "b")
    surrogate = make_surrogate("vnet", 2, fields=fields, params=("Omega_m",), lead=None,
                               width=4, levels=1)  # fmt: skip
    state = make_state(surrogate, (16, 16), samples=2, time=False,
                       params={"Omega_m": [0.25, 0.35], "seed": [7, 8]})  # fmt: skip
    for store in (None, tmp_path / "out.zarr"):
        result = rollout(surrogate, state, store=store, progress=False)
        assert list(result.data_vars)[:3] == ["c_out", "a_out", "b_out"]
        np.testing.assert_array_equal(result["Omega_m"].values, [0.25, 0.35])
        np.testing.assert_array_equal(result["seed"].values, [7, 8])
    # An overriding parameter replaces the state's value in the result.
    result = rollout(surrogate, state, params={"Omega_m": 0.3}, progress=False)
    np.testing.assert_array_equal(result["Omega_m"].values, [0.3, 0.3])


CHILD = """
import sys, time
from surrogates.io import open_dataset
from surrogates.rollout import rollout
from surrogates.artifact import load

model, state, store = sys.argv[1:]
surrogate = load(model)
apply = surrogate.apply

def slow(*args, **kwargs):  # slow enough to be killed mid-step
    time.sleep(0.1)
    return apply(*args, **kwargs)

surrogate.apply = slow
rollout(surrogate, open_dataset(state), steps=3, tile=4, batch=2, store=store, progress=False)
"""


def _markers(store: Path, step: int) -> int:
    folder = store / "_rollout" / "done" / f"step-{step:06d}"
    return len(list(folder.glob("apply-*"))) if folder.is_dir() else 0


def test_sigkill_mid_run_then_resume_gives_identical_output(tmp_path):
    surrogate = make_surrogate("vnet", 2, static=("mask",), width=4, levels=1)
    model = surrogate.save(tmp_path / "model.pt")
    state_path = to_netcdf(make_state(surrogate, (24, 20)), tmp_path / "state.nc")
    shape, device = (24, 20), torch.device("cpu")
    probe = plan_rollout(surrogate, shape, tile=4, device=device)
    store = tmp_path / "killed.zarr"
    env = {**os.environ, "PYTHONPATH": str(Path(surrogates.__file__).parents[1]),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    args = [str(model), str(state_path), str(store)]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env)
    kwargs = dict(steps=3, tile=4, batch=2, progress=False)
    try:  # the uninterrupted reference, computed while the child starts
        reference = rollout(load(model), open_dataset(state_path), store=tmp_path / "ref.zarr",
                            **kwargs)  # fmt: skip
        deadline = time.monotonic() + 180
        while _markers(store, 2) < 3 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL, "the child finished before it was killed"
    manifest = read_manifest(store)
    assert manifest["steps_done"] == 1 and not manifest["complete"]
    done = _markers(store, 2)  # groups of 2 tiles recorded in step 2 before the kill
    tiles = len(probe.tiles)
    assert manifest["batch"] == 2 and 3 <= done < tiles // 2

    resumed = rollout(load(model), open_dataset(state_path), store=store, resume=True, **kwargs)
    for name in ("u", "v", "mask"):
        np.testing.assert_array_equal(resumed[name].values, reference[name].values)
    runs = read_manifest(store)["runs"]
    assert len(runs) == 2 and runs[1]["tiles"] == 2 * tiles - 2 * done

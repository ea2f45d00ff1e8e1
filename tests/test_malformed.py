"""Malformed and adversarial input: every class gets a clear DataError/ModelError, loses nothing.

Classes (the robustness issue): existing output paths, concurrent writers of one output,
corrupt compressed chunks (netCDF-4, zarr, HDF5), missing zarr chunks, non-regular files
(FIFOs, devices), unavailable devices, damaged rollout manifests and training checkpoints,
empty output names. Impossible sizes are in ``test_recipe_budget.py``, non-finite values
in ``test_nonfinite.py``. Each test checks the message names the file or option, what was
found and what was expected, and that the user's files are untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import xarray as xr
from io_fixtures import canonical_dataset, write_pdebench_tensor
from test_rollout_fixtures import make_state, make_surrogate
from test_training_fixtures import map_dataset

from surrogates._files import output_lock
from surrogates.cli import main
from surrogates.data import Task
from surrogates.errors import DataError, ModelError
from surrogates.io import open_dataset, to_netcdf, to_zarr
from surrogates.rollout import read_manifest, rollout
from surrogates.solvers.recipe import load_recipe, run_recipe
from surrogates.training import fit

ROOT = Path(__file__).resolve().parents[1]


def _surrogate():
    return make_surrogate("vnet", 2, width=4, levels=1)


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail instead of hanging forever (a FIFO read blocks until a writer appears)."""

    def expired(*_):
        raise TimeoutError(f"blocked for {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _user_folder(path: Path) -> dict[str, bytes]:
    path.mkdir()
    (path / "notes.txt").write_text("my thesis")
    (path / "sub").mkdir()
    (path / "sub" / "data.bin").write_bytes(b"\x00\x01")
    return _snapshot(path)


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.fixture
def source(tmp_path) -> Path:
    return to_netcdf(canonical_dataset(2), tmp_path / "in.nc")


# ----------------------------------------------------------------- existing output paths


@pytest.mark.parametrize("name", ["x.zarr", "x.nc", "folder"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_convert_never_replaces_a_folder_that_is_not_its_output(
    tmp_path, source, capsys, name, overwrite
):
    target = tmp_path / name
    before = _user_folder(target)
    flags = ["--overwrite"] if overwrite else []
    code, err = _cli(capsys, "convert", source, "--out", target, *flags)
    assert code == 2
    assert f"{target}: exists and is not a canonical" in err or "unknown output format" in err
    assert _snapshot(target) == before


def test_convert_replaces_its_earlier_output_only_when_asked(tmp_path, source, capsys):
    out = tmp_path / "out.zarr"
    assert _cli(capsys, "convert", source, "--out", out)[0] == 0
    code, err = _cli(capsys, "convert", source, "--out", out)
    assert code == 2 and "earlier run); pass --overwrite" in err
    assert _cli(capsys, "convert", source, "--out", out, "--overwrite")[0] == 0
    assert open_dataset(out).sizes["sample"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nc", "out.zarr"]  # no lock left


def test_writers_refuse_a_file_of_another_kind(tmp_path):
    text = tmp_path / "report.nc"
    text.write_text("not netCDF")
    with pytest.raises(DataError, match=r"report\.nc: exists and is not a canonical netCDF file"):
        to_netcdf(canonical_dataset(1), text, overwrite=True)
    assert text.read_text() == "not netCDF"
    plain = tmp_path / "plain.zarr"  # a zarr store, but not a canonical dataset
    xr.Dataset({"a": ("q", np.arange(3.0))}).to_zarr(plain, zarr_format=3, consolidated=False)
    with pytest.raises(DataError, match="is not a canonical zarr store"):
        to_zarr(canonical_dataset(1), plain, overwrite=True)
    link = tmp_path / "link.nc"
    link.symlink_to(text)
    with pytest.raises(DataError, match="symbolic link"):
        to_netcdf(canonical_dataset(1), link, overwrite=True)


@pytest.fixture
def recipe_dir(tmp_path) -> Path:
    folder = tmp_path / "recipe"
    folder.mkdir()
    (folder / "recipe.toml").write_text(
        'solver = "navier-stokes"\nsamples = 1\n[params]\nn = 8\nt_end = 0.02\nsave_every = 0.01\n'
    )
    return folder


@pytest.mark.parametrize("name", ["x.nc", "x.zarr"])
def test_generate_never_replaces_a_folder_and_keeps_a_users_parts_folder(
    tmp_path, recipe_dir, capsys, name
):
    target = tmp_path / name
    before = _user_folder(target)
    fmt = ["--set", 'format="zarr"'] if name.endswith("zarr") else []
    code, err = _cli(capsys, "generate", recipe_dir, "--out", target, "--overwrite", *fmt)
    assert code == 2 and "exists and is not a canonical" in err
    assert _snapshot(target) == before
    parts = tmp_path / f"new{Path(name).suffix}.parts"  # a user's folder under the parts name
    kept = _user_folder(parts)
    for flags in ([], ["--restart"]):
        out = tmp_path / f"new{Path(name).suffix}"
        code, err = _cli(capsys, "generate", recipe_dir, "--out", out, *flags, *fmt)
        assert code == 2 and "is not the partial output of a recipe" in err
        assert _snapshot(parts) == kept


def test_generate_refuses_its_finished_output_without_overwrite(tmp_path, recipe_dir, capsys):
    out = tmp_path / "ns.nc"
    assert _cli(capsys, "generate", recipe_dir, "--out", out)[0] == 0
    stamp = out.stat().st_mtime_ns
    code, err = _cli(capsys, "generate", recipe_dir, "--out", out)
    assert code == 2 and "pass --overwrite" in err and out.stat().st_mtime_ns == stamp
    assert _cli(capsys, "generate", recipe_dir, "--out", out, "--overwrite")[0] == 0


@pytest.mark.parametrize("command", ["convert", "generate", "rollout", "compare"])
def test_empty_output_name_is_refused(tmp_path, source, recipe_dir, capsys, command):
    first = {"convert": [source], "generate": [recipe_dir], "compare": [source, source]}
    args = first.get(command, [tmp_path / "model.pt", source])
    if command == "rollout":
        _surrogate().save(tmp_path / "model.pt")
    code, err = _cli(capsys, command, *args, "--out", "")
    assert code == 2 and "--out '': expected a file or store path" in err


# ----------------------------------------------------------- concurrent writers of one path

_HOLD = """
import sys, time
from surrogates._files import output_lock
with output_lock(sys.argv[1], "the other writer"):
    print("holding", flush=True)
    time.sleep(60)
"""


@contextlib.contextmanager
def _held(path: Path):
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "holding"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_is_refused_naming_the_first(tmp_path, recipe_dir):
    surrogate = _surrogate()
    state = make_state(surrogate, (20, 18))
    store = tmp_path / "run.zarr"
    with _held(store) as pid:
        with pytest.raises(DataError, match=rf"run\.zarr: being written by process {pid} on .*"
                                            r"\(the other writer, started"):  # fmt: skip
            rollout(surrogate, state, steps=1, tile=4, store=store, progress=False)
    with _held(tmp_path / "ns.nc") as pid:
        with pytest.raises(DataError, match=f"ns.nc: being written by process {pid}"):
            run_recipe(load_recipe(recipe_dir), tmp_path / "ns.nc")
    assert not store.exists()  # nothing was started
    # the killed holder's lock is free at once (the kernel drops it with the process)
    rollout(surrogate, state, steps=1, tile=4, store=store, progress=False)
    with output_lock(store):  # re-entrant within one process
        with output_lock(store):
            pass
    assert not (tmp_path / ".run.zarr.lock").exists()


def test_two_rollouts_started_together_on_one_store(tmp_path):
    surrogate = _surrogate()
    surrogate.save(tmp_path / "model.pt")
    state = to_netcdf(make_state(surrogate, (24, 24)).assign_attrs(source_format="xarray"),
                      tmp_path / "state.nc")  # fmt: skip
    cmd = [sys.executable, "-m", "surrogates", "rollout", str(tmp_path / "model.pt"), str(state),
           "--out", str(tmp_path / "out.zarr"), "--steps", "3", "--tile", "8"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "being written by process" in loser or "exists (a rollout store)" in loser
    assert read_manifest(tmp_path / "out.zarr")["complete"]


# ------------------------------------------------------------------- corrupt chunks


def _corrupt_hdf5_chunk(path: Path, name: str) -> None:
    with h5py.File(path, "r") as f:
        info = f[name].id.get_chunk_info(1)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset + info.size // 3)
        f.write(np.random.default_rng(0).bytes(max(info.size // 3, 8)))


def test_corrupt_netcdf_chunk(tmp_path, capsys):
    path = tmp_path / "run.nc"
    ds = canonical_dataset(2, sizes=(32, 32))
    ds.to_netcdf(path, engine="netcdf4",
                 encoding={"density": {"zlib": True, "chunksizes": (1, 1, 32, 32)}})  # fmt: skip
    _corrupt_hdf5_chunk(path, "density")
    opened = open_dataset(path)  # lazy: opening reads no chunk
    with pytest.raises(DataError, match=r"run\.nc: variable 'density': cannot read values at "
                                        r".*damaged .*expected every chunk to decode"):  # fmt: skip
        _ = opened["density"].values
    code, err = _cli(capsys, "convert", path, "--out", tmp_path / "out.zarr")
    assert code == 2 and "variable 'density'" in err
    assert not (tmp_path / "out.zarr").exists()


def test_corrupt_hdf5_chunk(tmp_path):
    path = tmp_path / "pde.h5"
    tensor = write_pdebench_tensor(path, 2, sizes=(32, 32))
    with h5py.File(path, "r+") as f:
        del f["tensor"]
        f.create_dataset("tensor", data=tensor, chunks=(1, 1, 32, 32), compression="gzip")
    _corrupt_hdf5_chunk(path, "tensor")
    with pytest.raises(DataError, match=r"pde\.h5: reading dataset 'tensor' failed .*expected a"
                                        " complete HDF5 file"):  # fmt: skip
        open_dataset(path).load()


def test_corrupt_and_missing_zarr_chunks(tmp_path, capsys):
    path = to_zarr(canonical_dataset(2, sizes=(8, 8)), tmp_path / "run.zarr")
    chunk = sorted((path / "density" / "c").rglob("*"))[-1]
    chunk.write_bytes(np.random.default_rng(1).bytes(64))
    with pytest.raises(DataError, match=r"run\.zarr: variable 'density': cannot read values"):
        _ = open_dataset(path)["density"].values
    chunk.unlink()  # now missing: zarr would read it as the fill value
    with pytest.raises(DataError, match=r"variable 'density' has 1 of its 6 chunks missing .*"
                                        "expected a complete store"):  # fmt: skip
        open_dataset(path)
    code, err = _cli(capsys, "convert", path, "--out", tmp_path / "out.nc")
    assert code == 2 and "chunks missing" in err and not (tmp_path / "out.nc").exists()
    sparse = open_dataset(path, allow_missing_chunks=True)  # the writer's choice, made explicit
    assert np.isnan(sparse["density"].values).sum() == 8 * 8


def test_corrupt_gadget_snapshot_chunk(tmp_path):
    from surrogates.io import gadget

    n = 8
    q = (np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * 8.0
    (path,) = gadget.write_snapshot(tmp_path / "snap", q.astype(np.float32), np.zeros_like(q),
                                    np.arange(n**3), box_size=64.0, mass=1.0, time=1.0,
                                    redshift=0.0, omega0=0.3, omega_lambda=0.7,
                                    hubble_param=0.7)  # fmt: skip
    with h5py.File(path, "r+") as f:
        pos = f["PartType1/Coordinates"][...]
        attrs = dict(f["PartType1/Coordinates"].attrs)
        del f["PartType1/Coordinates"]
        dset = f.create_dataset("PartType1/Coordinates", data=pos, chunks=(64, 3),
                                compression="gzip")  # fmt: skip
        dset.attrs.update(attrs)
    _corrupt_hdf5_chunk(path, "PartType1/Coordinates")
    with pytest.raises(DataError, match=r"snap\.hdf5: cannot read PartType1/Coordinates .*expected"
                                        " a complete snapshot"):  # fmt: skip
        open_dataset(path).load()


# ---------------------------------------------------------------- non-regular files


def test_fifo_and_devices_are_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "pipe.nc"
    os.mkfifo(fifo)
    with deadline(20):
        for argv in (["inspect", fifo], ["convert", fifo, "--out", tmp_path / "o.nc"]):
            code, err = _cli(capsys, *argv)
            assert code == 2 and "is a named pipe (FIFO); expected a regular file" in err
        with pytest.raises(DataError, match="is a character device"):
            open_dataset("/dev/null")
        code, err = _cli(capsys, "train", fifo)
        assert code == 2 and "run configuration not a regular file" in err
        code, err = _cli(capsys, "rollout", fifo, fifo, "--out", tmp_path / "r.zarr")
        assert code == 2 and "not a regular file; expected a surrogate artifact" in err


# ------------------------------------------------------------------------- devices


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_devices(tmp_path, source, capsys):
    surrogate = _surrogate()
    state = make_state(surrogate, (20, 18))
    with pytest.raises(ModelError, match="device='cuda': no CUDA device available"):
        rollout(surrogate, state, device="cuda", progress=False)
    with pytest.raises(ModelError, match="device='tpu9': not a torch device"):
        surrogate.to("tpu9")
    surrogate.save(tmp_path / "model.pt")
    to_netcdf(state.assign_attrs(source_format="xarray"), tmp_path / "s.nc")
    code, err = _cli(capsys, "rollout", tmp_path / "model.pt", tmp_path / "s.nc", "--out",
                     tmp_path / "r.zarr", "--device", "cuda")  # fmt: skip
    assert code == 2 and "no CUDA device available" in err and not (tmp_path / "r.zarr").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_training_on_an_absent_gpu(one_thread):
    with pytest.raises(ModelError, match="accelerator='cuda': no CUDA device available"):
        fit(map_dataset(2), Task(["a"], ["b"], params=["omega"]), "vnet", accelerator="gpu",
            crop=8, batch_size=2, max_steps=1, progress=False,
            model_config={"width": 4, "levels": 1})  # fmt: skip


# ------------------------------------------------------ damaged manifests and checkpoints


@pytest.fixture
def finished_store(tmp_path):
    surrogate = _surrogate()
    state = make_state(surrogate, (20, 18))
    store = tmp_path / "run.zarr"
    rollout(surrogate, state, steps=1, tile=4, store=store, progress=False)
    return surrogate, state, store


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda m: m.pop("plan"), r"manifest lacks 'plan' \(expected keys: \["),
        (lambda m: m.update(batch="two"), r"manifest 'batch' is 'two', expected int"),
        (lambda m: m["fingerprints"].pop("state"), r"'fingerprints' lacks \['state'\]"),
        (lambda m: m["plan"].pop("halo"), r"manifest's 'plan' is damaged \(KeyError"),
        (lambda m: [m.clear(), m.update(format="pde-surrogates/rollout")], "version None"),
    ],
)
def test_resume_from_a_damaged_manifest(finished_store, capsys, damage, message):
    surrogate, state, store = finished_store
    file = store / "_rollout" / "manifest.json"
    manifest = json.loads(file.read_text())
    damage(manifest)
    file.write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=message):
        rollout(surrogate, state, steps=1, tile=4, store=store, resume=True, progress=False)


def test_resume_refusal_names_the_one_changed_key(finished_store):
    surrogate, state, store = finished_store
    file = store / "_rollout" / "manifest.json"
    manifest = json.loads(file.read_text())
    manifest["options"]["pad_spec"]["modes"] = ["reflect", "periodic"]
    file.write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"pad_spec\.modes: stored \['reflect', 'periodic'\], now"
                                        r" \['periodic', 'periodic'\]\); rerun"):  # fmt: skip
        rollout(surrogate, state, steps=1, tile=4, store=store, resume=True, progress=False)
    file.write_text("[1, 2]")
    with pytest.raises(DataError, match="manifest is a JSON list, expected an object"):
        read_manifest(store)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"run description \('surrogates'\) is not valid JSON .*start a new run"),
        ("[1, 2]", r"run description \('surrogates'\) is a list, expected a JSON object"),
    ],
)
def test_resume_from_a_damaged_training_checkpoint(tmp_path, one_thread, text, message):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    torch.save({"surrogates": text, "state_dict": {}}, ckpt / "last.ckpt")
    with pytest.raises(ModelError, match=message):
        fit(map_dataset(2), Task(["a"], ["b"], params=["omega"]), "vnet", checkpoint_dir=ckpt,
            resume=True, crop=8, batch_size=2, max_steps=1, progress=False,
            model_config={"width": 4, "levels": 1})  # fmt: skip


def test_cli_paths_for_damaged_inputs_exit_2(tmp_path, capsys):
    bad = tmp_path / "cfg.toml"
    bad.write_text(
        textwrap.dedent("""
        [data]
        path = "missing.nc"
    """)
    )
    code, err = _cli(capsys, "train", bad)
    assert code == 2 and "cfg.toml: [task] needs inputs and targets" in err
    code, err = _cli(capsys, "convert", tmp_path / "none.nc", "--out", tmp_path / "o.nc")
    assert code == 2 and "file not found" in err


# ---------------------------------------------------------------- impossible rollouts


def _lazy_state(surrogate, n: int) -> xr.Dataset:
    import dask.array

    small = make_state(surrogate, (20, 18))
    data = {name: (small[name].dims, dask.array.zeros((1, n, n), dtype="float32",
                                                      chunks=(1, 4096, 4096)))
            for name in surrogate.task.inputs}  # fmt: skip
    coords = {"x": (np.arange(n) + 0.5) * 0.5, "y": (np.arange(n) + 0.5) * 0.5, "time": [2.0]}
    return xr.Dataset(data, coords, small.attrs)


def test_a_result_that_cannot_fit_is_refused_before_allocation(tmp_path):
    surrogate = _surrogate()
    with pytest.raises(DataError, match=r"rollout: the result needs .* in memory, .* available;"
                                        " give store="):  # fmt: skip
        rollout(surrogate, _lazy_state(surrogate, 200_000), steps=1, tile=64, progress=False)
    with pytest.raises(DataError, match=r"big\.zarr: the store needs up to .* TB .* free on its"):
        rollout(surrogate, _lazy_state(surrogate, 2_000_000), steps=1, tile=4096,
                store=tmp_path / "big.zarr", progress=False)  # fmt: skip
    assert not (tmp_path / "big.zarr").exists()


def test_worker_tracebacks_are_cut_to_the_message():
    from surrogates.cli import _one_line

    wrapped = DataError("Caught DataError in DataLoader worker process 0.\nOriginal Traceback"
                        " (most recent call last):\n  File ...\nsurrogates.errors.DataError:"
                        " train.nc: variable 'u' has a non-finite value")  # fmt: skip
    assert _one_line(wrapped) == "train.nc: variable 'u' has a non-finite value"


def test_generate_gadget_snapshots_never_replace_other_files(tmp_path, capsys):
    folder = tmp_path / "recipe"
    folder.mkdir()
    (folder / "recipe.toml").write_text(
        'solver = "pm"\nsamples = 2\nformat = "gadget"\n[params]\nn = 8\nsteps = 2\n'
    )
    stem = tmp_path / "snap"
    victim = tmp_path / "snap_00001.hdf5"  # a user's file under a name the writer would use
    victim.write_text("not a snapshot")
    code, err = _cli(capsys, "generate", folder, "--out", stem, "--overwrite")
    assert code == 2 and "snap_00001.hdf5: exists and is not a gadget output" in err
    assert victim.read_text() == "not a snapshot" and not (tmp_path / "snap_00000.hdf5").exists()
    victim.unlink()
    assert _cli(capsys, "generate", folder, "--out", stem)[0] == 0
    code, err = _cli(capsys, "generate", folder, "--out", stem)
    assert code == 2 and "snap_00000.hdf5: exists (a gadget output" in err
    assert _cli(capsys, "generate", folder, "--out", stem, "--overwrite")[0] == 0

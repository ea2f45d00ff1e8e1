"""Two-process DDP on CPU (gloo), launched with torchrun: both ranks end with equal weights."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Each rank trains (ranks draw different crops, so equal final weights mean the gradients
# were averaged) and writes a hash of its final weights, its step count and world size.
SCRIPT = textwrap.dedent(
    """
    import hashlib, os, sys
    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    from test_training_fixtures import map_dataset
    from surrogates.data import Task
    from surrogates.training import fit

    out = sys.argv[1]
    surrogate = fit(
        map_dataset(3), Task(["a"], ["b"], params=["omega"]), "vnet", crop=8, batch_size=2,
        max_steps=6, accelerator="cpu", devices=2, strategy="ddp", progress=False,
        weights="last", model_config={"width": 4, "levels": 1}, out_dir=os.path.join(out, "run"),
    )
    digest = hashlib.sha256()
    for key, value in sorted(surrogate.model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.numpy().tobytes())
    meta = surrogate.metadata.provenance
    rank = int(os.environ["RANK"])
    with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:
        f.write(f"{digest.hexdigest()} {meta['steps']} {meta['world_size']}")
    dist.barrier()
    sys.stdout.flush()
    os._exit(0)  # skip the slow interpreter teardown of both ranks
    """
)


def test_two_rank_ddp_ends_with_identical_weights(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        "OMP_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", str(script), str(tmp_path)]  # fmt: skip
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [(tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    assert ranks[0] == ranks[1], ranks
    digest, steps, world = ranks[0]
    assert (steps, world) == ("6", "2")
    assert (tmp_path / "run" / "surrogate.pt").is_file()  # written by rank 0

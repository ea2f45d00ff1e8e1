#!/usr/bin/env bash
# DDP training launched with torchrun (one process per GPU, or per CPU "device" with gloo).
#
#   cli/torchrun-example.sh cli/train-turbulence.toml 4      # 4 GPUs on this machine
#   cli/torchrun-example.sh cli/train-turbulence.toml 2 --set train.max_steps=100
#
# Several machines: run the same command on each with
#   TORCHRUN_ARGS="--nnodes=2 --node-rank=R --rdzv-backend=c10d --rdzv-endpoint=HOST:29500"
# and add --set train.num_nodes=2. Lightning picks up the ranks torchrun sets. A killed run
# continues where it stopped with --resume (appended to the command below).

set -euo pipefail

CONFIG=${1:?usage: cli/torchrun-example.sh CONFIG.toml [NPROC] [--set key=value ...]}
shift
PYTHON=${PYTHON:-.venv/bin/python}
GPUS=$("$PYTHON" -c "import torch; print(torch.cuda.device_count())")
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    NPROC=$1
    shift
else
    NPROC=$(( GPUS > 0 ? GPUS : 2 ))
fi
ACCELERATOR=$([ "$GPUS" -gt 0 ] && echo gpu || echo cpu)

# shellcheck disable=SC2086  # TORCHRUN_ARGS holds several options
"$PYTHON" -m torch.distributed.run ${TORCHRUN_ARGS:---standalone} --nproc_per_node="$NPROC" \
    -m surrogates train "$CONFIG" \
    --set train.accelerator="$ACCELERATOR" \
    --set train.strategy=ddp \
    --set train.devices="$NPROC" \
    "$@"

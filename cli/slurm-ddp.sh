#!/usr/bin/env bash
# Multi-node DDP training on a SLURM cluster: one task per GPU, Lightning reads the SLURM
# environment (ranks, master address) set by srun.
#
#   sbatch cli/slurm-ddp.sh cli/train-cosmology.toml [--set train.lr=1e-4 ...]
#
# Edit the #SBATCH lines for your cluster (nodes, GPUs per node, partition, account).
# The job always passes --resume: the first run starts from scratch (no checkpoint yet),
# a requeued or resubmitted job continues from the newest checkpoint in the run's
# checkpoint folder, with the same weights, optimizer, schedule and data order as an
# uninterrupted run. With --signal, SLURM warns Lightning 120 s before the time limit;
# Lightning then writes hpc_ckpt_N.ckpt there and requeues the job (--requeue).
#
#SBATCH --job-name=surrogates-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=SIGUSR1@120
#SBATCH --requeue
#SBATCH --output=slurm-%x-%j.out

set -euo pipefail

CONFIG=${1:?usage: sbatch cli/slurm-ddp.sh CONFIG.toml [--set key=value ...]}
shift

cd "${SLURM_SUBMIT_DIR:-.}"
# The project environment: `make venv` (or `conda env create -f environment.yml`).
PYTHON=${PYTHON:-.venv/bin/python}

NODES=${SLURM_NNODES:-1}
TASKS_PER_NODE=${SLURM_NTASKS_PER_NODE:-1}
# Loader workers per rank: the CPUs of the task, minus one for the training process.
WORKERS=$(( ${SLURM_CPUS_PER_TASK:-2} > 1 ? ${SLURM_CPUS_PER_TASK:-2} - 1 : 0 ))

srun --kill-on-bad-exit=1 "$PYTHON" -m surrogates train "$CONFIG" \
    --set train.accelerator=gpu \
    --set train.strategy=ddp \
    --set train.devices="$TASKS_PER_NODE" \
    --set train.num_nodes="$NODES" \
    --set train.num_workers="$WORKERS" \
    --resume "$@"

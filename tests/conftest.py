"""Shared pytest configuration: quiet, deterministic, no writing outside tmp_path."""

from __future__ import annotations

import os

# Keep numba/torch/FFT thread pools small and deterministic on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Idle OpenMP threads sleep instead of spinning (spinning halves numba kernels on 2 busy cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""Shared pytest configuration: quiet, deterministic, no writing outside tmp_path."""

from __future__ import annotations

import os

import pytest

# Keep numba/torch/FFT thread pools small and deterministic on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Idle OpenMP threads sleep instead of spinning (spinning halves numba kernels on 2 busy cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _single_torch_thread():
    # torch is imported here, not at the top, so tests that never use it stay quick to collect.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def one_thread():
    """Run a test on one torch thread: tiny tensors and short trainings only contend for
    the OpenMP pool on the shared 2-core machine (two threads per process thrash)."""
    yield from _single_torch_thread()


@pytest.fixture(scope="module")
def one_thread_module():
    """:func:`one_thread` for a whole module, module-scoped fixtures included (request it
    from them, or ``pytestmark = pytest.mark.usefixtures("one_thread_module")``)."""
    yield from _single_torch_thread()


@pytest.fixture(scope="session")
def quick_study(tmp_path_factory):
    """``quick_study(name) -> (results, out)``: the study at its quick size with default
    settings, run once per test session (on one torch and one numba thread) and shared by
    the study tests and the notebooks, which reuse its results. Tests must not write into
    ``out``; copy it first."""
    runs = {}

    def get(name: str):
        if name not in runs:
            import numba
            import torch

            from surrogates import studies

            out = tmp_path_factory.mktemp(name) / "out"
            threads = torch.get_num_threads(), numba.get_num_threads()
            torch.set_num_threads(1)
            numba.set_num_threads(1)
            try:
                runs[name] = studies.run(name, studies.settings(name, "quick"), out), out
            finally:
                torch.set_num_threads(threads[0])
                numba.set_num_threads(threads[1])
        return runs[name]

    return get

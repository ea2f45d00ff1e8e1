"""Fluid solvers side by side: spectral Navier-Stokes steps/s and lattice-Boltzmann MLUPS.

Runs the two halves (``bench_fluids_ns.py``, ``bench_fluids_lbm.py``) in one process, one
after the other, and prints both Markdown tables.

Usage: ``python benchmarks/bench_fluids.py [--quick]``
"""

from __future__ import annotations

import argparse

import bench_fluids_lbm
import bench_fluids_ns

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grids, short timings")
    quick = parser.parse_args().quick
    print("### Spectral Navier-Stokes\n")
    print(bench_fluids_ns.markdown(bench_fluids_ns.run(quick)))
    print("\n### Lattice Boltzmann\n")
    print(bench_fluids_lbm._markdown(bench_fluids_lbm.run(quick=quick)))

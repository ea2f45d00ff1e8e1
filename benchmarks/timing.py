"""Timing shared by the benchmarks (imported as a sibling module of the scripts)."""

from surrogates.studies._common import best_time

__all__ = ["best_time"]

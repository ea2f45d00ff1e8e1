"""Tiled rollout: plan tiles over large domains, evaluate them, stitch the outputs.

- :func:`rollout`: apply (map surrogates) or advance (lead surrogates) a surrogate over a
  domain of any size, in memory or out of core in a resumable zarr store, with the local
  backend or Dask; :func:`rollout_cli` backs ``surrogates rollout``.
- Pure tiling: :func:`plan_tiles` / :class:`TilePlan` / :func:`split` / :func:`stitch`
  (exact tiling) and :func:`blend_stitch` (partition-of-unity blending of overlapping tiles).
- :func:`plan_rollout` (tiles and batch from a memory budget), :func:`parse_bytes`,
  :func:`read_manifest` (progress record of a store).
"""

from surrogates.rollout.api import BACKENDS, rollout, rollout_cli
from surrogates.rollout.blend import blend_stitch
from surrogates.rollout.memory import RolloutPlan, parse_bytes, plan_rollout
from surrogates.rollout.store import read_manifest
from surrogates.rollout.tiling import Tile, TilePlan, plan_tiles, split, stitch

__all__ = [
    "BACKENDS",
    "RolloutPlan",
    "Tile",
    "TilePlan",
    "blend_stitch",
    "parse_bytes",
    "plan_rollout",
    "plan_tiles",
    "read_manifest",
    "rollout",
    "rollout_cli",
    "split",
    "stitch",
]

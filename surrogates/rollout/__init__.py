"""Tiled rollout: plan tiles over large domains, evaluate them, stitch the outputs."""

from surrogates.rollout.tiling import Tile, TilePlan, plan_tiles, split, stitch

__all__ = ["Tile", "TilePlan", "plan_tiles", "split", "stitch"]

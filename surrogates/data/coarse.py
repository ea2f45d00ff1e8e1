"""Coarse-graining: the state a surrogate on a coarser grid sees."""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from surrogates.data.window import SPATIAL_DIMS
from surrogates.errors import DataError

__all__ = ["coarse_grain"]


def coarse_grain(ds: xr.Dataset, factor: int, drop: Sequence[str] = ()) -> xr.Dataset:
    """Box filter of ``factor`` cells per spatial axis, subsampled (block means).

    Parameters
    ----------
    ds : xarray.Dataset
        Canonical dataset; every spatial size a multiple of ``factor``.
    factor : int
        Cells per coarse cell along each axis.
    drop : sequence of str
        Variables not to carry over (e.g. derived diagnostics whose block mean means
        nothing, such as a dissipation rate computed on the fine grid).

    Returns
    -------
    xarray.Dataset
        In memory; coordinates are the coarse cell centres, variable attributes kept,
        ``source`` records the filter.
    """
    axes = [d for d in SPATIAL_DIMS if d in ds.dims]
    if not isinstance(factor, int) or isinstance(factor, bool) or factor < 1:
        raise DataError(f"coarse_grain: factor={factor!r}, expected an integer >= 1")
    bad = {a: ds.sizes[a] for a in axes if ds.sizes[a] % factor}
    if bad:
        raise DataError(
            f"{ds.attrs.get('source', 'dataset')}: sizes {bad} are not multiples of the"
            f" coarse-graining factor {factor}"
        )
    kept = ds.drop_vars(list(drop), errors="ignore")
    coarse = kept.coarsen({a: factor for a in axes}).mean(keep_attrs=True).compute()
    for name in coarse.variables:
        coarse[name].attrs = dict(kept[name].attrs)
    shape = "x".join([str(factor)] * len(axes))
    coarse.attrs = dict(ds.attrs)
    coarse.attrs["source"] = f"{ds.attrs.get('source', 'dataset')} (box filter {shape}, subsampled)"
    return coarse

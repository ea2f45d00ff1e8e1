"""Messages for NaN/Inf met in values just read (crops, tile windows, statistics).

Opening a dataset is lazy, so non-finite values are found where values are read: every
crop and tile window (:func:`surrogates.data.read_windows`), the normalisation pass
(:class:`~surrogates.data.Normalizer`) and the parameter table. The checks work on
arrays already in memory, never on a second pass over the data. The
:class:`~surrogates.DataError` names the file (of the sample, when several files were
concatenated), the variable, the sample and time index with the time coordinate, how
many cells are affected and the first one; the policy is in the README section
"Non-finite values" (:data:`POLICY`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["POLICY", "Frames", "count_text", "cell_text", "first_bad"]

#: Appended to every non-finite error: what the user is expected to do.
POLICY = "expected finite values (mask cells explicitly; see README 'Non-finite values')"


@dataclass(frozen=True)
class Frames:
    """How to name the (sample, time) frames of a dataset in messages.

    Attributes
    ----------
    source : str
        The dataset's file(s), its ``source`` attribute.
    files : tuple of str or None
        Per sample, the file it came from (``source_file`` coordinate of concatenated
        datasets).
    time : numpy.ndarray or None
        The time coordinate.
    """

    source: str
    files: tuple[str, ...] | None = None
    time: np.ndarray | None = None

    @classmethod
    def of(cls, ds: xr.Dataset | xr.DataArray, source: str | None = None) -> Frames:
        """Labels of ``ds`` (reads only its small coordinates)."""
        if source is None:
            source = str(ds.encoding.get("source") or ds.attrs.get("source") or "dataset")
        files = time = None
        if "source_file" in ds.coords and ds["source_file"].dims == ("sample",):
            files = tuple(str(f) for f in ds["source_file"].values)
        if "time" in ds.coords and ds["time"].ndim == 1:
            time = np.asarray(ds["time"].values)
        return cls(source, files, time)

    def file(self, sample: int | None) -> str:
        """The file of ``sample`` (the dataset's source when not known per sample)."""
        if self.files is not None and sample is not None and 0 <= sample < len(self.files):
            return self.files[sample]
        return self.source

    def label(self, sample: int | None, time: int | None) -> str:
        """``"sample 2, time 5 (t = 0.25)"``; the parts whose index is None are left out."""
        words = [] if sample is None else [f"sample {sample}"]
        if time is not None:
            words.append(f"time {time}")
            if self.time is not None and 0 <= time < self.time.size:
                words[-1] += f" (t = {_number(self.time[time])})"
        return ", ".join(words)


def count_text(values: np.ndarray) -> str:
    """``"3 NaN, 1 +Inf"``: the non-finite values of ``values`` by kind."""
    nan = int(np.count_nonzero(np.isnan(values)))
    pos = int(np.count_nonzero(np.isposinf(values)))
    neg = int(np.count_nonzero(np.isneginf(values)))
    parts = [f"{n} {kind}" for n, kind in ((nan, "NaN"), (pos, "+Inf"), (neg, "-Inf")) if n]
    return ", ".join(parts)


def first_bad(values: np.ndarray) -> tuple[int, ...]:
    """Index of the first non-finite value of ``values`` in C order."""
    flat = int(np.argmax(~np.isfinite(values)))
    return tuple(int(i) for i in np.unravel_index(flat, values.shape))


def cell_text(axes: Sequence[str], index: Sequence[int]) -> str:
    """``"x=4, y=0, z=7"``."""
    return ", ".join(f"{a}={int(i)}" for a, i in zip(axes, index, strict=True))


def _number(value) -> str:
    return f"{value:.6g}" if np.issubdtype(np.asarray(value).dtype, np.number) else str(value)

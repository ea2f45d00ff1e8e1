"""Windows of lazily read fields with boundary-aware halo padding.

A *window* is the block of cells ``start[a] <= i_a < start[a] + size[a]`` along every
spatial axis ``a``; ``start`` may be negative and the window may run past the end of the
domain. Training crops (core + halo) and the rollout engine's tile windows are both read
with :func:`read_window` / :func:`read_windows`, so a model sees identical padding in
training and in a tiled rollout.

Padding contract
----------------
Each spatial axis of length ``n`` has one mode, recorded in a :class:`PadSpec`:

``"periodic"``
    index ``i`` reads cell ``i mod n`` (any distance outside, also beyond ``n``).
``"reflect"``
    mirror symmetric about the domain face, as suits cell-centred data: the ghost cell at
    distance ``d`` outside the face copies the cell at distance ``d`` inside
    (``-1 -> 0``, ``-2 -> 1``, ``n -> n - 1``), i.e. ``numpy.pad(mode="symmetric")``;
    repeated mirroring (period ``2 n``) when the pad exceeds ``n``.
``"edge"``
    the nearest face cell is repeated (``numpy.pad(mode="edge")``).
``"constant"``
    cells outside the domain take :attr:`PadSpec.value`.

Padding is applied to the raw (physical) values as stored, before any symmetry transform
or normalisation. Axes whose ``boundary_<axis>`` attribute is ``"periodic"`` always wrap;
``"wall"`` and ``"open"`` axes use the configured non-periodic mode.

Reading
-------
Only the cells a window needs are read: along each axis the needed source indices are
merged into contiguous intervals (two for a window wrapping a periodic face, one
otherwise), one hyperslab is read per combination of intervals, and the window is
assembled from them by index arithmetic (:mod:`surrogates.data.hyperslab`). The full
volume is never read or copied unless the window itself covers it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from surrogates.data.finite import POLICY, Frames, cell_text, count_text
from surrogates.data.hyperslab import HyperslabRead, fetch
from surrogates.errors import DataError, ModelError

__all__ = ["PadSpec", "SPATIAL_DIMS", "window_index", "read_window", "read_windows"]

SPATIAL_DIMS = ("x", "y", "z")
PAD_MODES = ("periodic", "reflect", "edge", "constant")
_BOUNDARIES = ("periodic", "wall", "open")

TimeIndex = int | Sequence[int] | None


@dataclass(frozen=True)
class PadSpec:
    """How a window is padded outside the domain, one mode per spatial axis.

    Attributes
    ----------
    axes : tuple of str
        Spatial dimension names in array order, e.g. ``("x", "y", "z")``.
    modes : tuple of str
        Per axis, one of ``"periodic"``, ``"reflect"``, ``"edge"``, ``"constant"``
        (see the module docstring for the exact index rule of each).
    value : float
        Fill value of ``"constant"`` axes, in the variables' physical units.
    """

    axes: tuple[str, ...]
    modes: tuple[str, ...]
    value: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", tuple(self.axes))
        object.__setattr__(self, "modes", tuple(self.modes))
        if len(self.axes) != len(self.modes) or not self.axes:
            raise ModelError(f"PadSpec: got axes {self.axes} and modes {self.modes}")
        bad = [m for m in self.modes if m not in PAD_MODES]
        if bad:
            raise ModelError(f"PadSpec: unknown pad modes {bad}, expected one of {PAD_MODES}")
        if not np.isfinite(self.value):
            raise ModelError(f"PadSpec: constant value must be finite, got {self.value}")
        object.__setattr__(self, "value", float(self.value))

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.axes)

    @property
    def periodic(self) -> tuple[bool, ...]:
        """Per axis, whether it wraps."""
        return tuple(m == "periodic" for m in self.modes)

    @classmethod
    def from_dataset(
        cls, ds: xr.Dataset, mode: str | Mapping[str, str] = "reflect", value: float = 0.0
    ) -> PadSpec:
        """Pad spec of a canonical dataset from its ``boundary_<axis>`` attributes.

        Parameters
        ----------
        ds : xarray.Dataset
            Canonical dataset with spatial dims among ``x, y, z``.
        mode : str or mapping of axis name to str
            Mode of the non-periodic (``wall``/``open``) axes: ``"reflect"``, ``"edge"``
            or ``"constant"``; a mapping sets it per axis (missing axes: ``"reflect"``).
        value : float
            Fill value for ``"constant"``.
        """
        axes = spatial_axes(ds)
        modes = dict.fromkeys(axes, mode) if isinstance(mode, str) else dict(mode)
        unknown = set(modes) - set(axes)
        if unknown:
            raise ModelError(f"PadSpec: pad modes for unknown axes {sorted(unknown)}; {axes=}")
        result = []
        for axis in axes:
            boundary = ds.attrs.get(f"boundary_{axis}")
            if boundary not in _BOUNDARIES:
                raise DataError(
                    f"{_source(ds)}: attribute 'boundary_{axis}' is {boundary!r},"
                    f" expected one of {_BOUNDARIES}"
                )
            wanted = modes.get(axis, "reflect")
            if wanted not in PAD_MODES[1:]:
                raise ModelError(
                    f"PadSpec: pad mode {wanted!r} for axis {axis!r}, expected one of"
                    f" {PAD_MODES[1:]} (periodic axes always wrap)"
                )
            result.append("periodic" if boundary == "periodic" else wanted)
        return cls(axes, tuple(result), value)

    def to_dict(self) -> dict:
        """JSON-able form, inverse of :meth:`from_dict`."""
        return {"axes": list(self.axes), "modes": list(self.modes), "value": self.value}

    @classmethod
    def from_dict(cls, data: Mapping) -> PadSpec:
        """Rebuild from :meth:`to_dict` output."""
        if set(data) != {"axes", "modes", "value"}:
            raise ModelError(f"PadSpec: expected keys axes, modes, value, got {sorted(data)}")
        return cls(tuple(data["axes"]), tuple(data["modes"]), float(data["value"]))


def spatial_axes(ds: xr.Dataset | xr.DataArray) -> tuple[str, ...]:
    """Spatial dimension names of a canonical dataset, in canonical order."""
    axes = tuple(d for d in SPATIAL_DIMS if d in ds.dims)
    if not axes or axes != SPATIAL_DIMS[: len(axes)]:
        raise DataError(
            f"{_source(ds)}: got dims {tuple(ds.dims)}, expected spatial dims"
            f" ('x',), ('x', 'y') or ('x', 'y', 'z')"
        )
    return axes


def window_index(start: int, size: int, length: int, mode: str) -> np.ndarray:
    """Source index along one axis of each window cell.

    Parameters
    ----------
    start, size : int
        Window ``start <= i < start + size`` (``start`` may be negative).
    length : int
        Axis length ``n``.
    mode : str
        Pad mode (see :class:`PadSpec`).

    Returns
    -------
    numpy.ndarray of int64, shape (size,)
        Index into ``[0, n)``; ``-1`` marks cells filled with the constant value.
    """
    i = np.arange(start, start + size, dtype=np.int64)
    if mode == "periodic":
        return i % length
    if mode == "edge":
        return np.clip(i, 0, length - 1)
    if mode == "reflect":
        m = i % (2 * length)
        return np.where(m < length, m, 2 * length - 1 - m)
    if mode == "constant":
        return np.where((i >= 0) & (i < length), i, -1)
    raise ModelError(f"window_index: unknown pad mode {mode!r}, expected one of {PAD_MODES}")


def _source(ds: xr.Dataset | xr.DataArray) -> str:
    """Name of the file a dataset came from, for error messages."""
    return str(ds.encoding.get("source") or ds.attrs.get("source") or "dataset")


def _selection(var: xr.Variable, name: str, axes, sample, time, source: str) -> dict:
    """Indices of the non-spatial dims of ``var`` (a regular time list becomes a slice)."""
    extra = [d for d in var.dims if d not in (*axes, "sample", "time")]
    missing = [a for a in axes if a not in var.dims]
    if extra or missing:
        raise DataError(
            f"{source}: variable {name!r} has dims {var.dims}, expected (sample, time,"
            f" {', '.join(axes)}) with sample and time optional"
        )
    sel = {}
    if "sample" in var.dims:
        if sample is None:
            raise DataError(f"{source}: variable {name!r} has a sample dim; give sample=")
        sel["sample"] = int(sample)
    if "time" in var.dims:
        if time is None:
            raise DataError(f"{source}: variable {name!r} has a time dim; give time=")
        sel["time"] = _time_selector(time)
    return sel


def _time_selector(time: int | Sequence[int]) -> int | slice | list[int]:
    if np.ndim(time) == 0:
        return int(time)
    times = [int(t) for t in time]
    step = times[1] - times[0] if len(times) > 1 else 1
    if step > 0 and times == list(range(times[0], times[0] + step * len(times), step)):
        return slice(times[0], times[-1] + 1, step)
    return times


def _check_finite(window, name, owner, source, sample, time, index, start, size, axes) -> None:
    """Raise DataError if ``window`` holds NaN/Inf: variable, file, sample, time, cells.

    Costs one ``isfinite`` pass over the window when it is clean; the message is built
    only on failure (see :mod:`surrogates.data.finite`).
    """
    bad = ~np.isfinite(window)
    if not bad.any():
        return
    if np.ndim(time) == 1:  # (T, *W): report the first time with a non-finite cell
        k = int(np.argmax(bad.reshape(len(time), -1).any(axis=1)))
        window, bad, time = window[k], bad[k], int(np.asarray(time)[k])
    frames = Frames.of(owner, source)
    positions = np.nonzero(bad)
    cells = np.stack([ix[p] for ix, p in zip(index, positions, strict=True)], axis=-1)
    cells, where = np.unique(cells, axis=0, return_index=True)  # distinct domain cells
    values = window[positions][where]
    region = ", ".join(f"{a} {s}:{s + w}" for a, s, w in zip(axes, start, size, strict=True))
    label = frames.label(sample, time)
    raise DataError(
        f"{frames.file(sample)}: variable {name!r} has a non-finite value ({float(values[0])})"
        f"{f' at {label}' if label else ''}: {len(cells)} cell(s) ({count_text(values)}) in"
        f" the window {region}, first at {cell_text(axes, cells[0])}; {POLICY}"
    )


def read_window(
    da: xr.DataArray,
    start: int | Sequence[int],
    size: int | Sequence[int],
    pad: PadSpec,
    *,
    sample: int | None = None,
    time: TimeIndex = None,
    check_finite: bool = True,
) -> np.ndarray:
    """Read one window of one (lazy) variable, padded per ``pad``.

    Parameters
    ----------
    da : xarray.DataArray
        Canonical variable, dims ``(sample, time, *pad.axes)`` with sample/time optional;
        dask-backed, lazily indexed or in memory.
    start : int or sequence of int
        First window cell per spatial axis (an int applies to every axis); may be
        negative or beyond the domain.
    size : int or sequence of int
        Window size per spatial axis.
    pad : PadSpec
        Per-axis padding (see the module docstring for the exact contract).
    sample : int, optional
        Sample index; required when ``da`` has a ``sample`` dim, ignored otherwise.
    time : int or sequence of int, optional
        Time index, or several (then the result has a leading time axis). Ignored for
        static variables (no ``time`` dim), which are broadcast over a time sequence.
    check_finite : bool
        Raise :class:`DataError` if the window holds NaN or Inf, naming the file, the
        variable, the sample and time (index and coordinate), the window, how many cells
        and the first one (README "Non-finite values"). Cheap: the window is in memory.

    Returns
    -------
    numpy.ndarray, shape (*size,) or (len(time), *size)
        The window in the variable's dtype: a fresh array (a read-only broadcast view for
        a static variable read with a time sequence).
    """
    name = str(da.name) if da.name is not None else "variable"
    windows = _read_variables(
        {name: da.variable}, da, start, size, pad, sample, {name: time}, check_finite
    )
    return windows[name]


def read_windows(
    ds: xr.Dataset,
    names: Sequence[str],
    start: int | Sequence[int],
    size: int | Sequence[int],
    pad: PadSpec,
    *,
    sample: int | None = None,
    time: TimeIndex | Mapping[str, TimeIndex] = None,
    check_finite: bool = True,
) -> dict[str, np.ndarray]:
    """Read the same window of several variables in one pass (see :func:`read_window`).

    ``time`` may also map each name to its own time index (or sequence, or None). Static
    variables read with a time sequence are broadcast (read-only view) to
    ``(len(time), *size)``.

    Returns
    -------
    dict of str to numpy.ndarray
        Per name, shape ``(*size,)`` or ``(len(time), *size)``.
    """
    source = _source(ds)
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise DataError(
            f"{source}: no variable(s) {missing}; available: {sorted(map(str, ds.data_vars))}"
        )
    times = time if isinstance(time, Mapping) else dict.fromkeys(names, time)
    variables = {n: ds.variables[n] for n in names}
    return _read_variables(variables, ds, start, size, pad, sample, times, check_finite)


def _read_variables(variables, owner, start, size, pad, sample, times, check_finite):
    """Windows of ``variables`` (of the dataset or array ``owner``), checked if asked."""
    axes, source = pad.axes, _source(owner)
    start = _per_axis(start, pad.ndim, "start")
    size = _per_axis(size, pad.ndim, "size")
    if any(s < 1 for s in size):
        raise ModelError(f"read_windows: window size must be positive, got {size}")
    reads, indices = [], []
    for name, var in variables.items():
        lead = _selection(var, name, axes, sample, times.get(name), source)
        index = [
            window_index(s, w, var.sizes[a], m)
            for s, w, a, m in zip(start, size, axes, pad.modes, strict=True)
        ]
        reads.append(HyperslabRead(var, axes, index, lead, pad.value))
        indices.append(index)
    out = {}
    for (name, var), window, index in zip(variables.items(), fetch(reads), indices, strict=True):
        t = times.get(name) if "time" in var.dims else None
        where = sample if "sample" in var.dims else None
        if check_finite:
            _check_finite(window, name, owner, source, where, t, index, start, size, axes)
        n_times = np.ndim(times.get(name)) == 1 and len(times[name])
        if n_times and "time" not in var.dims:
            window = np.broadcast_to(window, (n_times, *window.shape))
        out[name] = window
    return out


def _per_axis(value: int | Sequence[int], ndim: int, what: str) -> tuple[int, ...]:
    values = (int(value),) * ndim if np.ndim(value) == 0 else tuple(int(v) for v in value)
    if len(values) != ndim:
        raise ModelError(f"read_windows: {what} has {len(values)} entries for {ndim} axes")
    return values

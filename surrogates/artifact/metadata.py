"""JSON metadata of a Surrogate artifact: what it learned, on which grid, and how it was made."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import xarray as xr

import surrogates
from surrogates.data import Normalizer, PadSpec, Task
from surrogates.data.window import SPATIAL_DIMS
from surrogates.errors import DataError, ModelError

if TYPE_CHECKING:
    from surrogates.models import SurrogateModel

__all__ = [
    "GridInfo", "SurrogateMetadata", "dataset_source", "differences", "make_metadata",
    "spatial_dims", "versions",
]  # fmt: skip


def dataset_source(ds: xr.Dataset) -> str:
    """Where a dataset came from (file name or ``source`` attribute), for messages."""
    return str(ds.encoding.get("source") or ds.attrs.get("source") or "dataset")


def spatial_dims(ds: xr.Dataset) -> tuple[str, ...]:
    """Spatial dims of a canonical dataset: ``("x",)``, ``("x", "y")`` or ``("x", "y", "z")``."""
    axes = tuple(d for d in SPATIAL_DIMS if d in ds.dims)
    if not axes or axes != SPATIAL_DIMS[: len(axes)]:
        raise DataError(
            f"{dataset_source(ds)}: got dims {tuple(ds.dims)}, expected spatial dims x, y, z"
            " (the first one, two or three of them)"
        )
    return axes


def versions() -> dict[str, str]:
    """Versions of the libraries an artifact was written with."""
    return {
        "pde-surrogates": surrogates.__version__,
        "torch": torch.__version__,
        "lightning": importlib.metadata.version("lightning"),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


@dataclass(frozen=True)
class GridInfo:
    """Grid of the training data.

    Attributes
    ----------
    axes : tuple of str
        Spatial dims, e.g. ``("x", "y", "z")``.
    spacing : tuple of float
        Cell size per axis (1.0 where the data has no coordinate).
    boundaries : tuple of str
        ``boundary_<axis>`` per axis: periodic, wall or open.
    shape : tuple of int
        Domain size per axis.
    dt : float or None
        Time step between stored frames (None without a time coordinate).
    """

    axes: tuple[str, ...]
    spacing: tuple[float, ...]
    boundaries: tuple[str, ...]
    shape: tuple[int, ...]
    dt: float | None = None

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> GridInfo:
        axes = spatial_dims(ds)
        return cls(
            axes=axes,
            spacing=tuple(_spacing(ds, a) for a in axes),
            boundaries=tuple(str(ds.attrs.get(f"boundary_{a}")) for a in axes),
            shape=tuple(int(ds.sizes[a]) for a in axes),
            dt=_spacing(ds, "time") if "time" in ds.coords and ds.sizes["time"] > 1 else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "axes": list(self.axes),
            "spacing": list(self.spacing),
            "boundaries": list(self.boundaries),
            "shape": list(self.shape),
            "dt": self.dt,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GridInfo:
        return cls(
            tuple(data["axes"]),
            tuple(float(s) for s in data["spacing"]),
            tuple(data["boundaries"]),
            tuple(int(n) for n in data["shape"]),
            None if data["dt"] is None else float(data["dt"]),
        )


def _spacing(ds: xr.Dataset, dim: str) -> float:
    if dim not in ds.coords or ds.sizes[dim] < 2:
        return 1.0
    c = np.asarray(ds[dim].values[:2], dtype=np.float64)
    return float(c[1] - c[0])


@dataclass(frozen=True)
class SurrogateMetadata:
    """Everything about a surrogate except its weights (stored as JSON in the artifact).

    Attributes
    ----------
    task : Task
    model : dict
        The model's ``spec``: ``surrogates.models.build(**model)`` rebuilds it.
    normalizer : Normalizer or None
        Statistics of inputs, targets and parameters.
    residual : Normalizer or None
        Statistics of ``target - paired input`` (residual tasks).
    grid : GridInfo
        Grid of the training data.
    pad_spec : PadSpec
        How windows were padded outside the domain in training (rollouts pad the same).
    context : tuple of int
        Cells of input per side beyond what the model trims that a prediction window
        gets (the training pad of same-size models; 0 for valid-convolution models).
    halo, alignment : int
        The model's (recorded for tools that plan tiles without building the model).
    exact_tiling : bool
    provenance : dict
        Dataset source, steps, seed, final metrics, fit options.
    versions : dict
        Library versions at training time.
    """

    task: Task
    model: dict
    normalizer: Normalizer | None
    residual: Normalizer | None
    grid: GridInfo
    pad_spec: PadSpec
    context: tuple[int, ...]
    halo: int
    alignment: int
    exact_tiling: bool
    provenance: dict = field(default_factory=dict)
    versions: dict = field(default_factory=versions)

    @property
    def params(self) -> tuple[str, ...]:
        """Names of the conditioning parameters."""
        return self.task.params

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, inverse of :meth:`from_dict`."""
        return {
            "task": self.task.to_dict(),
            "model": dict(self.model),
            "normalizer": None if self.normalizer is None else self.normalizer.to_dict(),
            "residual": None if self.residual is None else self.residual.to_dict(),
            "grid": self.grid.to_dict(),
            "pad_spec": self.pad_spec.to_dict(),
            "context": list(self.context),
            "halo": self.halo,
            "alignment": self.alignment,
            "exact_tiling": self.exact_tiling,
            "provenance": dict(self.provenance),
            "versions": dict(self.versions),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurrogateMetadata:
        """Rebuild from :meth:`to_dict` output; ModelError naming a missing or bad entry."""
        try:
            norm, res = data["normalizer"], data["residual"]
            return cls(
                task=Task.from_dict(data["task"]),
                model=dict(data["model"]),
                normalizer=None if norm is None else Normalizer.from_dict(norm),
                residual=None if res is None else Normalizer.from_dict(res),
                grid=GridInfo.from_dict(data["grid"]),
                pad_spec=PadSpec.from_dict(data["pad_spec"]),
                context=tuple(int(c) for c in data["context"]),
                halo=int(data["halo"]),
                alignment=int(data["alignment"]),
                exact_tiling=bool(data["exact_tiling"]),
                provenance=dict(data["provenance"]),
                versions=dict(data["versions"]),
            )
        except KeyError as err:
            raise ModelError(f"surrogate metadata: missing entry {err}") from None
        except (TypeError, ValueError, DataError) as err:
            raise ModelError(f"surrogate metadata: invalid entry ({err})") from None


def make_metadata(
    model: SurrogateModel,
    task: Task,
    ds: xr.Dataset,
    pad_spec: PadSpec,
    context: Sequence[int],
    normalizer: Normalizer | None,
    residual: Normalizer | None,
    provenance: dict,
) -> SurrogateMetadata:
    """Metadata of a surrogate trained on ``ds`` (grid read from the dataset)."""
    grid = GridInfo.from_dataset(ds)
    if grid.axes != pad_spec.axes:
        raise DataError(f"make_metadata: pad spec axes {pad_spec.axes} != data axes {grid.axes}")
    return SurrogateMetadata(
        task=task,
        model=model.spec,
        normalizer=normalizer,
        residual=residual,
        grid=grid,
        pad_spec=pad_spec,
        context=tuple(int(c) for c in context),
        halo=int(model.halo),
        alignment=int(model.alignment),
        exact_tiling=bool(type(model).exact_tiling),
        provenance=provenance,
    )


def differences(stored: Any, current: Any, prefix: str) -> list[str]:
    """``"key.sub: stored A, now B"`` for each leaf that differs between two JSON values."""
    if isinstance(stored, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(stored) | set(current), key=str):
            out += differences(stored.get(key), current.get(key), f"{prefix}.{key}")
        return out
    if stored != current:
        return [f"{prefix}: stored {stored!r}, now {current!r}"]
    return []

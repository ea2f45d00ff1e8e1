"""The Surrogate artifact: a trained network with its task, statistics and provenance.

File format (one file, ``FORMAT`` version ``FORMAT_VERSION``)
------------------------------------------------------------
A ``torch.save`` zip archive of a plain dict, read back with
``torch.load(weights_only=True)`` (no arbitrary object is ever unpickled)::

    {"format": "pde-surrogates/surrogate",    # identifies our artifacts
     "format_version": 1,                     # incremented on incompatible changes
     "metadata": "<JSON>",                    # SurrogateMetadata.to_dict()
     "state_dict": {name: tensor},            # the network's weights (CPU, contiguous)
     "reliability": {"metadata": "<JSON>",    # optional: a calibrated error estimate
                     "state_dict": {name: tensor}}}

The ``reliability`` entry (absent in artifacts without one, which load with
``Surrogate.reliability is None``) is written and read by :mod:`surrogates.reliability`:
its JSON names its kind (an error model, an ensemble) and holds the conformal
calibration (level, units, calibration set, score quantiles). It is an optional addition,
so the format version is unchanged; a reader that predates it ignores the entry.

The metadata holds the task, the model spec, normalisation and residual statistics,
the training grid (spacing, boundaries, shape, dt), the pad spec, halo, alignment,
provenance and library versions. Files are written atomically (temporary file + rename).
A file that is missing, not a PyTorch archive, truncated, refused by the safe loader,
not ours, or of another format version raises :class:`ModelError` saying which.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
import xarray as xr

from surrogates.artifact.device import check_device
from surrogates.artifact.geometry import trim
from surrogates.artifact.metadata import SurrogateMetadata
from surrogates.artifact.scaling import Scaling
from surrogates.data import Normalizer, PadSpec, Task
from surrogates.errors import ModelError
from surrogates.models import SurrogateModel, build

__all__ = [
    "ARTIFACT_NAME", "FORMAT", "FORMAT_VERSION", "PRECISIONS", "Surrogate", "atomic_torch_save",
    "load",
]  # fmt: skip

FORMAT = "pde-surrogates/surrogate"
FORMAT_VERSION = 1
#: File name of the artifact inside a training run's ``out_dir``.
ARTIFACT_NAME = "surrogate.pt"
_ZIP_MAGIC = b"PK\x03\x04"
#: Inference precisions of :meth:`Surrogate.apply` (Lightning's names): float32, or the
#: network under bfloat16 autocast (normalisation, residual and outputs stay float32).
PRECISIONS = ("32-true", "bf16-mixed")
# On a CPU, windows and weights go through the network channels-last: oneDNN's fast
# convolution layout (the same numbers to float32 rounding; 1.4-1.75x faster for 3D
# vnets, no change for the fno: benchmarks/bench_rollout.py).
_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


class Surrogate:
    """A trained surrogate: ``apply`` on tensors, ``predict`` on canonical datasets.

    Parameters
    ----------
    model : SurrogateModel
        The trained network (put in eval mode).
    metadata : SurrogateMetadata
        Task, statistics, grid, pad spec and provenance.

    Attributes
    ----------
    task, model, normalizer, metadata, halo, alignment, exact_tiling, pad_spec
        As in :class:`SurrogateMetadata`; ``normalizer`` may be None.
    trim : int
        Cells the model removes per side and application (``halo`` for ``vnet``, 0 for
        same-size models); :meth:`apply` returns ``W - 2 * trim`` cells per axis.
    scaling : Scaling
        The normalisation and residual maps (float32, on the surrogate's device).
    reliability : object or None
        A calibrated error estimate (:class:`surrogates.reliability.ErrorModel` or
        :class:`~surrogates.reliability.EnsembleEstimator`, bound here to ``model``), or None.
    """

    def __init__(
        self, model: SurrogateModel, metadata: SurrogateMetadata, reliability: Any = None
    ) -> None:
        if not isinstance(model, SurrogateModel):
            raise ModelError(f"Surrogate: expected a SurrogateModel, got {type(model).__name__}")
        self.model = model.eval()
        self.metadata = metadata
        self.trim = trim(model)
        self.scaling = Scaling(
            metadata.task, metadata.normalizer, metadata.residual, len(metadata.grid.axes)
        )
        self.scaling.to(next(model.parameters()).device)
        self._layout: torch.memory_format | None = None  # the weights' layout when not default
        bind = getattr(reliability, "bind", None)  # an ensemble estimate reads this network
        self.reliability = reliability if bind is None else bind(self)

    @property
    def task(self) -> Task:
        return self.metadata.task

    @property
    def normalizer(self) -> Normalizer | None:
        return self.metadata.normalizer

    @property
    def pad_spec(self) -> PadSpec:
        return self.metadata.pad_spec

    @property
    def halo(self) -> int:
        return self.model.halo

    @property
    def alignment(self) -> int:
        return self.model.alignment

    @property
    def exact_tiling(self) -> bool:
        return type(self.model).exact_tiling

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        t = self.task
        return (
            f"Surrogate({self.model.name}: {list(t.inputs)} -> {list(t.targets)}, params"
            f" {list(t.params)}, lead {t.lead}, residual {t.residual}, halo {self.halo},"
            f" alignment {self.alignment})"
        )

    def to(self, device: str | torch.device) -> Surrogate:
        """Move the network (statistics, reliability attachment) to ``device``; returns self.

        Raises :class:`~surrogates.ModelError` for a device this machine does not have.
        """
        device = check_device(device)
        if self._layout is not None:  # the channels-last weights are a CPU choice
            _set_layout(self.model, torch.contiguous_format)
            self._layout = None
        self.model.to(device)
        self.scaling.to(device)
        if self.reliability is not None:  # the error estimate runs beside the network
            self.reliability.to(device)
        return self

    def _channels_last(self, window: torch.Tensor) -> torch.Tensor:
        """On a CPU, ``window`` and the weights in the channels-last layout (else as is)."""
        layout = _CHANNELS_LAST.get(window.ndim) if window.device.type == "cpu" else None
        if layout is None:
            return window
        if self._layout != layout:
            _set_layout(self.model, layout, window.ndim)
            self._layout = layout
        return window.contiguous(memory_format=layout)

    def output_size(self, n: int) -> int:
        """Output cells per axis of :meth:`apply` for ``n`` window cells (ModelError if invalid)."""
        return self.model.output_size(n)

    def input_size(self, m: int) -> int:
        """Window cells per axis that :meth:`apply` needs for ``m`` output cells."""
        return self.model.input_size(m)

    @torch.inference_mode()
    def apply(
        self, window: torch.Tensor, params: torch.Tensor | None = None, precision: str = "32-true"
    ) -> torch.Tensor:
        """Apply the surrogate once to physical windows; the single code path of predictions.

        Normalise -> network -> (residual add) -> denormalise on the surrogate's device, in
        float32; with ``precision="bf16-mixed"`` the network runs under bfloat16 autocast
        (about 2x faster on CPUs with AVX512-BF16 and on GPUs; measure its accuracy on
        your aggregate quantity: ``docs/results/cosmology.md`` does for the cosmology emulator).

        Parameters
        ----------
        window : torch.Tensor, shape (batch, C_in, *W)
            Input variables in ``task.inputs`` order, physical units, padded windows.
        params : torch.Tensor, shape (batch, P), optional
            Parameters in ``task.params`` order, physical units (required iff P > 0).
        precision : {"32-true", "bf16-mixed"}
            Arithmetic of the network (:data:`PRECISIONS`).

        Returns
        -------
        torch.Tensor, shape (batch, C_out, *(W - 2 * trim)), float32
            The targets (``task.targets`` order) in physical units; for a lead task the
            state ``lead`` steps later.
        """
        n_in, n_par = len(self.task.inputs), len(self.task.params)
        if precision not in PRECISIONS:
            raise ModelError(f"Surrogate.apply: precision={precision!r}, expected one of"
                             f" {PRECISIONS}")  # fmt: skip
        if window.ndim != self.model.ndim + 2 or window.shape[1] != n_in:
            raise ModelError(
                f"Surrogate.apply: window has shape {tuple(window.shape)}, expected (batch,"
                f" {n_in}, {', '.join(['n'] * self.model.ndim)}) for inputs"
                f" {list(self.task.inputs)}"
            )
        if n_par and (params is None or tuple(params.shape) != (window.shape[0], n_par)):
            got = None if params is None else tuple(params.shape)
            raise ModelError(f"Surrogate.apply: params {list(self.task.params)}: got shape {got},"
                             f" expected {(window.shape[0], n_par)}")  # fmt: skip
        device = self.device
        window = self._channels_last(window.to(device=device, dtype=torch.float32))
        params = params.to(device=device, dtype=torch.float32) if n_par else None
        x, p = self.scaling.inputs(window), self.scaling.params(params)
        bf16 = precision == "bf16-mixed"
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            y = self.model(x, p)
        return self.scaling.decode(y, window).contiguous()

    def predict(self, ds: xr.Dataset, batch_size: int = 8) -> xr.Dataset:
        """Apply the surrogate once to every sample and time of a (small) canonical dataset.

        Windows cover the whole domain, padded per the training pad spec (periodic axes
        wrap), so the output is on the input grid. Map tasks return the target variables;
        lead tasks return the state advanced by ``lead`` steps (time coordinate shifted by
        ``lead * dt``) with the static inputs and time-independent parameters carried.

        Parameters
        ----------
        ds : xarray.Dataset
            Canonical dataset holding the task's inputs and parameters on a grid with the
            training data's spacing and boundaries.
        batch_size : int
            Windows per network call.
        """
        from surrogates.artifact.predict import predict_dataset

        return predict_dataset(self, ds, batch_size)

    def check_dataset(self, ds: xr.Dataset) -> None:
        """Raise DataError if ``ds`` lacks variables or differs in grid from the training data."""
        from surrogates.artifact.predict import check_dataset

        check_dataset(self, ds)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the artifact atomically (see the module docstring); returns the path."""
        path = Path(path)
        state = {
            k: v.detach().cpu().contiguous().clone() for k, v in self.model.state_dict().items()
        }
        obj = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "metadata": json.dumps(self.metadata.to_dict()),
            "state_dict": state,
        }
        if self.reliability is not None:
            obj["reliability"] = self.reliability.to_payload()
        atomic_torch_save(obj, path)
        return path


def _set_layout(
    model: torch.nn.Module, layout: torch.memory_format, ndim: int | None = None
) -> None:
    """Re-lay the ``ndim``-dimensional weights (all when None) in place.

    Assigns ``.data`` rather than calling ``Module.to``, which cannot swap the fake
    parameters of :mod:`surrogates.rollout.trace`.
    """
    for param in model.parameters():
        if ndim is None or param.ndim == ndim:
            param.data = param.data.contiguous(memory_format=layout)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _read(path: Path) -> dict:
    if not path.is_file():
        found = "not a regular file" if path.exists() else "no such file"
        raise ModelError(f"{path}: {found}; expected a surrogate artifact (surrogate.pt)")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != _ZIP_MAGIC:
        raise ModelError(
            f"{path}: not a surrogate artifact (not a PyTorch zip archive; starts with {head!r})"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0]
        raise ModelError(
            f"{path}: refused to load: the file holds pickled objects other than tensors and"
            f" plain containers, which are never unpickled ({first})"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError) as err:
        raise ModelError(
            f"{path}: truncated or corrupt surrogate file ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else 'no detail'}); expected"
            " the complete zip archive Surrogate.save writes (re-copy it, or retrain)"
        ) from None


def _check_format(obj: object, path: Path) -> None:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise ModelError(
            f"{path}: not a surrogate artifact (no format tag {FORMAT!r}; a plain torch"
            f" checkpoint or state dict? found {keys if isinstance(keys, str) else keys[:8]})"
        )
    version = obj.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = "upgrade pde-surrogates" if newer else "retrain"
        raise ModelError(
            f"{path}: surrogate format version {version!r} is incompatible; this version of"
            f" pde-surrogates reads version {FORMAT_VERSION} ({hint})"
        )
    if not isinstance(obj.get("metadata"), str) or not isinstance(obj.get("state_dict"), dict):
        raise ModelError(
            f"{path}: corrupt surrogate file (metadata or state_dict missing); expected the"
            " 'format', 'metadata' and 'state_dict' entries Surrogate.save writes"
        )


def _reliability(obj: dict, path: Path) -> Any:
    """The decoded ``reliability`` entry, or None when the file has none."""
    if "reliability" not in obj:
        return None
    # The one upward import of this room, taken only for files that hold an attachment:
    # the reliability room owns its payload (and never imports training or Lightning).
    from surrogates.reliability.store import decode

    try:
        return decode(obj["reliability"])
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None


def load(path: str | os.PathLike, device: str | torch.device | None = None) -> Surrogate:
    """Load a surrogate artifact safely (``weights_only``); see the module docstring.

    Parameters
    ----------
    path : path
        File written by :meth:`Surrogate.save`.
    device : str or torch.device, optional
        Where to put the network (CPU by default).

    Raises
    ------
    ModelError
        Missing, not a surrogate, truncated/corrupt, unsafe, or incompatible version.
    """
    path = Path(path)
    obj = _read(path)
    _check_format(obj, path)
    try:
        meta = SurrogateMetadata.from_dict(json.loads(obj["metadata"]))
    except json.JSONDecodeError as err:
        raise ModelError(f"{path}: corrupt surrogate metadata (invalid JSON: {err})") from None
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None
    spec = dict(meta.model)
    try:
        model = build(spec.pop("name"), **spec)
        model.load_state_dict(obj["state_dict"], strict=True)
    except (ModelError, KeyError, TypeError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0]
        raise ModelError(f"{path}: weights do not match the stored model spec ({first})") from None
    surrogate = Surrogate(model, meta, _reliability(obj, path))
    return surrogate.to(device) if device is not None else surrogate

"""The training configuration schema and TOML run configurations for ``surrogates train``.

:class:`FitConfig` holds every option of :func:`surrogates.fit` besides the data, the
task and the model name. Unknown or misspelt keys raise :class:`ModelError` naming the
closest allowed keys and listing them all.

A run configuration (``cli/train-*.toml``) has these tables::

    [data]     path = "data/train.nc"  (+ options of surrogates.open_dataset: format, boundary, ...)
    [task]     inputs, targets, params, lead, residual          (surrogates.Task)
    [model]    name = "vnet"  (+ the model's config keys: width, levels, ...)
    [sampling] [optim] [loss] [trainer]   FitConfig keys by section (:mod:`.sections`)

or, instead of the four sections, one flat ``[train]`` table of FitConfig keys.
``--set section.key=value`` overrides a key (a bare ``key=value``, or ``train.key``, finds
the table the key is in);
the value is parsed as a TOML value (``1e-3``, ``true``, ``[16, 16]``, ``"text"``) and
falls back to a plain string (``data.path=runs/x.nc``). Relative paths are taken from the
current directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surrogates.data import Task
from surrogates.errors import ModelError
from surrogates.models import config_defaults
from surrogates.training.losses import LOSSES
from surrogates.training.sections import FIT_SECTIONS, flatten_sections

__all__ = ["FitConfig", "load_config", "unknown_keys_error"]

PAD_MODES = ("reflect", "edge", "constant")
SCHEDULES = ("cosine", "onecycle", "constant")
WEIGHTS = ("best", "last")
SECTIONS = ("data", "task", "model", "train", *FIT_SECTIONS)
TASK_KEYS = ("inputs", "targets", "params", "lead", "residual")
# FitConfig keys filled from other tables of a run configuration, or Python-only.
_NOT_IN_TRAIN_TABLE = ("model_config", "open_options", "callbacks")


def unknown_keys_error(what: str, unknown: Iterable[str], allowed: Sequence[str]) -> ModelError:
    """ModelError naming unknown keys, the closest allowed ones, and all allowed keys."""
    hints = []
    for key in sorted(unknown):
        close = difflib.get_close_matches(key, allowed, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return ModelError(f"{what}: unknown key(s) {', '.join(hints)}; allowed: {', '.join(allowed)}")


def _check(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ModelError(f"FitConfig.{name}: got {value!r}, expected {expected}")


def _is_int(v: Any, minimum: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _sizes(name: str, value: Any, minimum: int, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    values = list(value) if isinstance(value, list | tuple) else [value]
    _check(
        bool(values) and all(_is_int(v, minimum) for v in values),
        name,
        value,
        f"an int >= {minimum} or one per spatial axis" + (" (or None)" if optional else ""),
    )
    return tuple(values) if isinstance(value, list | tuple) else value


@dataclass(frozen=True)
class FitConfig:
    """Options of :func:`surrogates.fit` (all keyword arguments besides data, task, model).

    The options fall into four sections, ``sampling``, ``optim``, ``loss`` and
    ``trainer`` (:data:`~surrogates.training.sections.FIT_SECTIONS`), the tables of a run
    configuration; they may be given flat or by section (:meth:`from_kwargs`).

    Attributes
    ----------
    crop : int or tuple of int
        Core cells per spatial axis of a training item.
    pad : int, tuple of int or None
        Halo cells per side; None derives it from the model and ``unroll``
        (:mod:`surrogates.training.geometry`).
    pad_mode : {"reflect", "edge", "constant"}
        Padding of wall/open axes (periodic axes always wrap).
    batch_size : int
        Items per step and rank.
    length : int or None
        Training items per epoch (None: samples x times x domain cells / crop cells).
    val_fraction, val_batches : float, int or None
        Validation split; validation batches per rank and check (None: all).
    symmetries : bool or sequence of str
        Random cube symmetries of training crops; axis names (``["y", "z"]``): only mirrors
        of those axes (a channel flow keeps its streamwise direction).
    normalize : bool
        Per-variable normalisation statistics.
    num_workers : int
        Loader worker processes.
    open_options, model_config : dict
        Options of ``open_dataset`` (data given as a path) and of the model.
    max_steps, max_epochs : int or None
        Training ends at whichever comes first (None: no limit; not both None).
    max_time : float or None
        Wall-clock limit of the training run in seconds (validation included), on top of
        ``max_steps``/``max_epochs``. The learning-rate schedule still spans ``max_steps``:
        for a fair fixed-budget comparison, set ``max_steps`` to what fits the budget.
    lr, weight_decay : float
        AdamW.
    schedule : {"cosine", "onecycle", "constant"}
        Learning-rate schedule, stepped every step; ``warmup_steps`` (int) for cosine.
    clip : float or None
        Gradient-norm clipping (None: off).
    loss : {"mse", "rel_l2", "amse", "gaussian_nll", "crps"}
        Base loss (``amse``: amplitude-corrected spectral MSE, for chaotic flows whose
        small scales an MSE-trained model smooths away; no ``loss_weight``;
        ``gaussian_nll``/``crps``: proper scoring rules of a predicted mean and ``log σ``
        per target, the surrogate then an ensemble with a Gaussian head, any ``ensemble``);
        ``spectral_weight`` (float) adds the high-k spectral term.
    gauge : sequence of str
        Targets defined up to an additive constant (pressure in incompressible flow): the
        loss compares them with their crop mean removed (:mod:`surrogates.training.losses`).
    loss_weight : str or None
        A data variable of cell weights (>= 0) of the loss, cropped with the targets: 0 takes
        cells out (inside solids), more than 1 stresses them (the fluid next to a wall,
        whose fields set the wall forces). None: every cell weighs the same.
    unroll : int
        Lead tasks: steps per item; ``unroll_detach`` (bool) stops gradients between them.
    seed : int
        Seeds the model, the split and the crops.
    ensemble : int
        Members of a deep ensemble (:mod:`surrogates.training.ensemble`): K >= 2 trains K
        networks with seeds ``seed, seed + 1, ...`` on one train/validation split (that of
        ``seed``) and returns their mean as one surrogate; 1: a single network.
    accelerator, devices, num_nodes, strategy, deterministic
        Passed to ``lightning.Trainer``.
    precision : str
        Lightning's names, or ``"auto"``: bf16-mixed on a CUDA GPU that supports it,
        else 32-true.
    out_dir, checkpoint_dir : str or None
        Where the artifact ``surrogate.pt``, ``fit_config.json`` and ``logs/`` go (None:
        nothing is written); checkpoints (default ``out_dir/checkpoints``).
    checkpoint_every, val_every : int, int or None
        Steps between checkpoints and between validations (default: every
        ``checkpoint_every`` steps, or once per epoch without ``max_steps``).
    patience : int or None
        Early stopping after this many validations without improvement (None: off).
    weights : {"best", "last"}
        Return the best-validation weights (when validated) or the last ones.
    log_every, progress : int, bool
        Logging interval in steps; progress bar (loss, samples/s).
    resume : bool
        Continue from the newest checkpoint in ``checkpoint_dir``.
    callbacks : tuple
        Extra Lightning callbacks (Python only).
    """

    crop: int | tuple[int, ...] = 32
    pad: int | tuple[int, ...] | None = None
    pad_mode: str = "reflect"
    batch_size: int = 8
    length: int | None = None
    val_fraction: float = 0.2
    val_batches: int | None = 16
    symmetries: bool | tuple[str, ...] = True
    normalize: bool = True
    num_workers: int = 0
    open_options: dict = field(default_factory=dict)
    model_config: dict = field(default_factory=dict)
    max_steps: int | None = 1000
    max_epochs: int | None = None
    max_time: float | None = None
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_steps: int = 0
    clip: float | None = 1.0
    loss: str = "mse"
    spectral_weight: float = 0.0
    gauge: tuple[str, ...] = ()
    loss_weight: str | None = None
    unroll: int = 1
    unroll_detach: bool = False
    seed: int = 0
    ensemble: int = 1
    accelerator: str = "auto"
    devices: int | str | tuple[int, ...] = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "auto"
    deterministic: bool | None = None
    out_dir: str | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int = 500
    val_every: int | None = None
    patience: int | None = None
    weights: str = "best"
    log_every: int = 50
    progress: bool = True
    resume: bool = False
    callbacks: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "crop", _sizes("crop", self.crop, 1))
        object.__setattr__(self, "pad", _sizes("pad", self.pad, 0, optional=True))
        for name in ("batch_size", "unroll", "num_nodes", "checkpoint_every", "log_every",
                     "ensemble"):  # fmt: skip
            _check(_is_int(getattr(self, name), 1), name, getattr(self, name), "an int >= 1")
        for name in ("max_steps", "max_epochs", "length", "val_batches", "val_every", "patience"):
            v = getattr(self, name)
            _check(v is None or _is_int(v, 1), name, v, "an int >= 1 or None")
        for name in ("num_workers", "warmup_steps", "seed"):
            _check(_is_int(getattr(self, name), 0), name, getattr(self, name), "an int >= 0")
        _check(_is_number(self.lr) and self.lr > 0, "lr", self.lr, "a positive number")
        _check(self.max_time is None or (_is_number(self.max_time) and self.max_time > 0),
               "max_time", self.max_time, "a positive number of seconds or None")  # fmt: skip
        for name in ("weight_decay", "spectral_weight"):
            v = getattr(self, name)
            _check(_is_number(v) and v >= 0, name, v, "a number >= 0")
        _check(self.clip is None or (_is_number(self.clip) and self.clip > 0), "clip", self.clip,
               "a positive number or None")  # fmt: skip
        _check(_is_number(self.val_fraction) and 0 <= self.val_fraction < 1, "val_fraction",
               self.val_fraction, "a number in [0, 1)")  # fmt: skip
        for name, choices in (("pad_mode", PAD_MODES), ("schedule", SCHEDULES),
                              ("loss", tuple(LOSSES)), ("weights", WEIGHTS)):  # fmt: skip
            _check(getattr(self, name) in choices, name, getattr(self, name), f"one of {choices}")
        for name in ("symmetries", "gauge"):
            v = getattr(self, name)
            if isinstance(v, list | tuple):
                object.__setattr__(self, name, tuple(v))
                _check(all(isinstance(x, str) and x for x in v), name, v, "a list of names")
        _check(isinstance(self.gauge, tuple), "gauge", self.gauge, "a list of target names")
        _check(self.loss_weight is None or (isinstance(self.loss_weight, str) and self.loss_weight),
               "loss_weight", self.loss_weight, "a variable name or None")  # fmt: skip
        _check(self.loss_weight is None or self.loss != "amse", "loss_weight", self.loss_weight,
               "None with loss 'amse' (a Fourier mode has no cell)")  # fmt: skip
        for name in ("normalize", "unroll_detach", "progress", "resume"):
            _check(isinstance(getattr(self, name), bool), name, getattr(self, name), "true/false")
        _check(isinstance(self.symmetries, bool | tuple), "symmetries", self.symmetries,
               "true/false or a list of axis names")  # fmt: skip
        for name in ("open_options", "model_config"):
            _check(isinstance(getattr(self, name), Mapping), name, getattr(self, name), "a table")
        _check(self.max_steps is not None or self.max_epochs is not None, "max_steps",
               self.max_steps, "an int when max_epochs is None")  # fmt: skip
        for name in ("accelerator", "strategy", "precision"):
            _check(isinstance(getattr(self, name), str), name, getattr(self, name), "a string")
        if isinstance(self.devices, list):
            object.__setattr__(self, "devices", tuple(self.devices))
        ok = _is_int(self.devices, 0) or isinstance(self.devices, str)
        ok = ok or (isinstance(self.devices, tuple) and all(_is_int(d, 0) for d in self.devices))
        _check(ok, "devices", self.devices, "a count, a list of device indices, or 'auto'")
        object.__setattr__(self, "callbacks", tuple(self.callbacks))

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """All option names."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_kwargs(cls, options: Mapping[str, Any]) -> FitConfig:
        """Validated config from keyword options, flat or by section (``optim={...}``,
        :mod:`surrogates.training.sections`); unknown keys raise ModelError."""
        options = flatten_sections(options)
        unknown = set(options) - set(cls.keys())
        if unknown:
            raise unknown_keys_error("fit options", unknown, cls.keys())
        return cls(**options)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able options (``callbacks`` are left out)."""
        out = {k: getattr(self, k) for k in self.keys() if k != "callbacks"}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def per_axis(self, name: str, ndim: int) -> tuple[int, ...] | None:
        """``crop`` or ``pad`` as one int per spatial axis."""
        value = getattr(self, name)
        if value is None or isinstance(value, int):
            return None if value is None else (value,) * ndim
        if len(value) != ndim:
            raise ModelError(f"FitConfig.{name}: got {list(value)} for {ndim} spatial axes")
        return tuple(value)


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(table: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides to a parsed run configuration (a copy)."""
    table = {k: dict(v) if isinstance(v, dict) else v for k, v in table.items()}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ModelError(f"--set {item!r}: expected key=value, e.g. train.lr=1e-3")
        section, dot, name = key.strip().partition(".")
        section, name = ("train", section) if not dot else (section, name)
        if section not in SECTIONS:
            raise unknown_keys_error(f"--set {item!r}: section", [section], SECTIONS)
        section, name = _home_table(table, section, name)
        table.setdefault(section, {})[name] = _parse_value(value.strip())
    return table


def _home_table(table: Mapping[str, Any], section: str, name: str) -> tuple[str, str]:
    """Where ``--set train.NAME`` (or ``optim.NAME`` ...) goes: the table that holds the
    key already, [train] for a flat configuration, else the key's own section."""
    if section != "train" and section not in FIT_SECTIONS:
        return section, name
    option = "loss" if (section, name) == ("loss", "name") else name
    home = next((s for s, keys in FIT_SECTIONS.items() if option in keys), None)
    if home is None or option in table.get("train", {}):
        return section, name
    sectioned = any(s in table for s in FIT_SECTIONS) or "train" not in table
    if section == "train" and not sectioned:
        return section, name
    return home, ("name" if (home, option) == ("loss", "loss") else option)


def _task(table: Mapping[str, Any], source: str) -> Task:
    unknown = set(table) - set(TASK_KEYS)
    if unknown:
        raise unknown_keys_error(f"{source}: [task]", unknown, TASK_KEYS)
    if "inputs" not in table or "targets" not in table:
        raise ModelError(f"{source}: [task] needs inputs and targets")
    return Task(**table)


def _model(table: Mapping[str, Any], source: str) -> tuple[str, dict]:
    table = dict(table)
    name = table.pop("name", "vnet")
    try:  # any registered name, optional ones too (building names a missing package)
        allowed = tuple(config_defaults(name))
    except ModelError as err:
        raise ModelError(f"{source}: [model] name: {err}") from None
    unknown = set(table) - set(allowed)
    if unknown:
        raise unknown_keys_error(f"{source}: [model] {name!r} config", unknown, allowed)
    return name, table


def load_config(
    path: str | os.PathLike, overrides: Sequence[str] = ()
) -> tuple[str, Task, str, FitConfig]:
    """Read a run configuration (module docstring): ``(data_path, task, model, config)``.

    The ``[data]`` options other than ``path`` end up in ``config.open_options``, the
    ``[model]`` keys other than ``name`` in ``config.model_config``.

    Raises
    ------
    ModelError
        Unreadable TOML, unknown sections or keys (with the allowed ones), invalid values.
    """
    source = str(path)
    if not Path(path).is_file():  # also refuses a FIFO, which would block the read
        found = "not a regular file" if Path(path).exists() else "not found"
        raise ModelError(
            f"{source}: run configuration {found}; expected a TOML file such as"
            " cli/train-cosmology.toml"
        )
    try:
        table = tomllib.loads(Path(path).read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{source}: invalid TOML: {err}") from None
    table = apply_overrides(table, overrides)
    unknown = set(table) - set(SECTIONS)
    if unknown:
        raise unknown_keys_error(f"{source}: section", unknown, SECTIONS)
    data = dict(table.get("data", {}))
    if not isinstance(data.get("path"), str):
        raise ModelError(f'{source}: [data] needs path = "FILE" (the training dataset)')
    data_path = data.pop("path")
    task = _task(table.get("task", {}), source)
    model, model_config = _model(table.get("model", {}), source)
    train = dict(table.get("train", {}))
    train.update({s: table[s] for s in FIT_SECTIONS if s in table})
    train = flatten_sections(train, source)
    allowed = tuple(k for k in FitConfig.keys() if k not in _NOT_IN_TRAIN_TABLE)
    unknown = set(train) - set(allowed)
    if unknown:
        raise unknown_keys_error(f"{source}: [train]", unknown, allowed)
    config = FitConfig(**train, model_config=model_config, open_options=data)
    return data_path, task, model, config

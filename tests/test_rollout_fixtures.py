"""Tiny seeded surrogates and states for the rollout tests (helpers only, no tests here).

Surrogates are built with the real :class:`surrogates.artifact.Surrogate` constructor from a
freshly initialised registered model (no training: the tests check the tiling machinery,
not the physics), with non-trivial normalisation statistics so that the scaling path runs.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from surrogates.artifact import GridInfo, Surrogate, SurrogateMetadata
from surrogates.data import Normalizer, PadSpec, Task
from surrogates.models import build

AXES = ("x", "y", "z")


def make_surrogate(
    name: str = "vnet",
    ndim: int = 2,
    *,
    fields: tuple[str, ...] = ("u", "v"),
    static: tuple[str, ...] = (),
    params: tuple[str, ...] = (),
    lead: int | None = 1,
    boundaries: tuple[str, ...] | None = None,
    pad_mode: str = "reflect",
    spacing: float = 0.5,
    train_shape: int = 16,
    seed: int = 0,
    **config,
) -> Surrogate:
    """A seeded, untrained surrogate; ``config`` goes to :func:`surrogates.models.build`."""
    axes = AXES[:ndim]
    boundaries = boundaries or ("periodic",) * ndim
    inputs = (*fields, *static)
    targets = fields if lead is not None else tuple(f"{f}_out" for f in fields)
    task = Task(inputs=inputs, targets=targets, params=params, lead=lead)
    torch.manual_seed(seed)
    model = build(name, len(inputs), len(targets), n_params=len(params), ndim=ndim, **config)
    names = list(dict.fromkeys((*inputs, *targets, *params)))
    rng = np.random.default_rng(seed)
    norm = Normalizer(
        tuple(names),
        tuple(float(m) for m in rng.normal(0, 0.3, len(names))),
        tuple(float(s) for s in rng.uniform(0.5, 2.0, len(names))),
        ndim,
    )
    modes = tuple("periodic" if b == "periodic" else pad_mode for b in boundaries)
    meta = SurrogateMetadata(
        task=task,
        model=model.spec,
        normalizer=norm,
        residual=None,
        grid=GridInfo(axes, (spacing,) * ndim, tuple(boundaries), (train_shape,) * ndim, 0.25),
        pad_spec=PadSpec(axes, modes),
        context=(0,) * ndim,
        halo=int(model.halo),
        alignment=int(model.alignment),
        exact_tiling=bool(type(model).exact_tiling),
    )
    return Surrogate(model, meta)


def make_state(
    surrogate: Surrogate,
    shape: tuple[int, ...],
    *,
    samples: int | None = None,
    time: bool = True,
    params: dict | None = None,
    seed: int = 1,
) -> xr.Dataset:
    """A random canonical state holding the surrogate's inputs (one frame if ``time``)."""
    meta, task = surrogate.metadata, surrogate.task
    axes = meta.grid.axes
    rng = np.random.default_rng(seed)
    lead_dims = ("sample",) * (samples is not None) + ("time",) * time
    lead_shape = (samples,) * (samples is not None) + (1,) * time
    data = {}
    for name in task.inputs:
        is_static = task.lead is not None and name in task.static
        dims = lead_dims if not is_static else ("sample",) * (samples is not None)
        sizes = lead_shape if not is_static else (samples,) * (samples is not None)
        values = rng.normal(size=(*sizes, *shape)).astype(np.float32)
        data[name] = ((*dims, *axes), values, {"units": "m/s"})
    for name, value in (params or {}).items():
        data[name] = (("sample",), np.asarray(value)) if np.ndim(value) else ((), value)
    h = meta.grid.spacing[0]
    coords = {a: (np.arange(n) + 0.5) * h for a, n in zip(axes, shape, strict=True)}
    if time:
        coords["time"] = np.array([2.0])
    attrs = {f"boundary_{a}": b for a, b in zip(axes, meta.grid.boundaries, strict=True)}
    attrs |= {"source": "test-state", "source_format": "test"}
    return xr.Dataset(data, coords, attrs)


def whole_domain(surrogate: Surrogate, state: xr.Dataset) -> np.ndarray:
    """Surrogate.predict on the whole domain: targets stacked on a leading channel axis."""
    out = surrogate.predict(state, batch_size=4)
    return np.stack([out[n].values for n in surrogate.task.targets])


def advance(
    surrogate: Surrogate, state: xr.Dataset, steps: int, schedule: dict | None = None
) -> list[np.ndarray]:
    """Repeated whole-domain application; per step the targets, shape (C, *lead, *domain).

    ``schedule`` maps parameter names to one value per step.
    """
    frames, current = [], state
    for k in range(steps):
        for name, values in (schedule or {}).items():
            current = current.assign({name: current[name] * 0 + values[k]})
        out = surrogate.predict(current, batch_size=4)
        frames.append(np.stack([out[n].values for n in surrogate.task.targets]))
        current = current.assign_coords(time=out["time"].values)
        current = current.assign(
            {n: current[n].copy(data=out[n].values) for n in surrogate.task.targets}
        )
    return frames


def rel_max_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b|."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

"""The symmetry group of the cube (axis permutations and flips) acting on named fields.

An element ``g = (perm, flips)`` of the hyperoctahedral group (48 elements in 3D, 8 in
2D) maps an array ``f`` over the spatial axes to ``g f = flip(transpose(f, perm), flips)``:
output axis ``a`` is input axis ``perm[a]``, reversed when ``flips[a]``. Writing
``s_a = -1`` if ``flips[a]`` else ``+1``, named fields transform as tensors:

- scalars: ``f' = g f``;
- vector components ``u_<a>`` (suffix one axis letter): ``u'_a = s_a g u_{perm[a]}``;
- rank-2 components ``T_<ab>``: ``T'_ab = s_a s_b g T_{perm[a] perm[b]}`` (so a swap of x
  and y maps ``T_xy`` to ``T_yx``; when only one of ``T_xy``/``T_yx`` is stored the
  tensor is taken as symmetric).

so that, e.g., the transform of ``grad(phi)`` is ``grad`` of the transformed ``phi``.
Composition follows function composition: ``(a @ b).apply(f) == a.apply(b.apply(f))``.
Works on numpy arrays and torch tensors of shape ``(..., *spatial)``.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from surrogates.errors import DataError, ModelError

if TYPE_CHECKING:
    import torch

__all__ = ["CubeSymmetry", "component"]

Array = TypeVar("Array", "np.ndarray", "torch.Tensor")
_AXES = ("x", "y", "z")


@dataclass(frozen=True)
class CubeSymmetry:
    """One element of the cube symmetry group in ``ndim`` dimensions.

    Attributes
    ----------
    perm : tuple of int
        Output axis ``a`` is input axis ``perm[a]`` (a permutation of ``range(ndim)``).
    flips : tuple of bool
        Output axis ``a`` is reversed.
    """

    perm: tuple[int, ...]
    flips: tuple[bool, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "perm", tuple(int(p) for p in self.perm))
        object.__setattr__(self, "flips", tuple(bool(f) for f in self.flips))
        if sorted(self.perm) != list(range(len(self.perm))) or len(self.flips) != len(self.perm):
            raise ModelError(f"CubeSymmetry: invalid perm {self.perm} / flips {self.flips}")

    @property
    def ndim(self) -> int:
        """Number of spatial axes acted on."""
        return len(self.perm)

    @property
    def signs(self) -> tuple[int, ...]:
        """``s_a``: ``-1`` for flipped output axes, ``+1`` otherwise."""
        return tuple(-1 if f else 1 for f in self.flips)

    @property
    def is_identity(self) -> bool:
        return self.perm == tuple(range(self.ndim)) and not any(self.flips)

    @classmethod
    def identity(cls, ndim: int) -> CubeSymmetry:
        return cls(tuple(range(ndim)), (False,) * ndim)

    @classmethod
    def group(cls, ndim: int, classes: Sequence[object] | None = None) -> tuple[CubeSymmetry, ...]:
        """All elements (identity first), optionally only those permuting axes within classes.

        Parameters
        ----------
        ndim : int
            Number of spatial axes (``2**ndim * ndim!`` elements).
        classes : sequence, optional
            One label per axis; only permutations mapping each axis to an axis with the
            same label are kept (e.g. labels ``(crop size, spacing)`` keep crops cubic
            and grids isotropic where they are not).
        """
        labels = tuple(classes) if classes is not None else (0,) * ndim
        if len(labels) != ndim:
            raise ModelError(f"CubeSymmetry.group: {len(labels)} class labels for {ndim} axes")
        return tuple(
            cls(perm, flips)
            for perm in itertools.permutations(range(ndim))
            if all(labels[p] == labels[a] for a, p in enumerate(perm))
            for flips in itertools.product((False, True), repeat=ndim)
        )

    def __matmul__(self, other: CubeSymmetry) -> CubeSymmetry:
        """Composition: ``(self @ other).apply(f) == self.apply(other.apply(f))``."""
        if other.ndim != self.ndim:
            raise ModelError(f"CubeSymmetry: cannot compose {self.ndim}D with {other.ndim}D")
        perm = tuple(other.perm[p] for p in self.perm)
        flips = tuple(f != other.flips[p] for f, p in zip(self.flips, self.perm, strict=True))
        return CubeSymmetry(perm, flips)

    def inverse(self) -> CubeSymmetry:
        """The element ``h`` with ``h @ self`` and ``self @ h`` the identity."""
        inv = tuple(int(i) for i in np.argsort(self.perm))
        return CubeSymmetry(inv, tuple(self.flips[i] for i in inv))

    def apply_array(self, x: Array) -> Array:
        """Transform the last ``ndim`` axes of one array, shape ``(..., *spatial)``.

        Returns a view for numpy input (use ``numpy.ascontiguousarray`` before
        ``torch.from_numpy``) and a new tensor for torch input.
        """
        lead = x.ndim - self.ndim
        if lead < 0:
            raise ModelError(f"CubeSymmetry: array of rank {x.ndim} for a {self.ndim}D symmetry")
        order = (*range(lead), *(lead + p for p in self.perm))
        flipped = tuple(lead + a for a, f in enumerate(self.flips) if f)
        torch = torch_of(x)
        if torch is not None:
            y = x.permute(order)
            return torch.flip(y, flipped) if flipped else y
        y = np.transpose(x, order)
        return np.flip(y, flipped) if flipped else y

    def apply(self, fields: Mapping[str, Array], axes: Sequence[str] | None = None) -> dict:
        """Transform a dict of named fields consistently (see the module docstring).

        Parameters
        ----------
        fields : mapping of str to array, each shape (..., *spatial)
            Must contain every component the transform maps into the requested names.
        axes : sequence of str, optional
            Names of the spatial axes (default ``("x", "y", "z")[:ndim]``).

        Returns
        -------
        dict
            Same keys, transformed values.
        """
        axes = tuple(axes or _AXES[: self.ndim])
        out = {}
        for name in fields:
            source, sign = self.source_of(name, axes, fields)
            y = self.apply_array(fields[source])
            out[name] = -y if sign < 0 else y
        return out

    def source_of(
        self, name: str, axes: Sequence[str], available: Iterable[str]
    ) -> tuple[str, int]:
        """Name of the field that ``name`` is built from under this transform, and the sign.

        Raises :class:`DataError` when that field is not among ``available``.
        """
        axes, fields = tuple(axes), set(available)
        comp = component(name, axes)
        if comp is None:
            return name, 1
        base, idx = comp
        src = [self.perm[i] for i in idx]
        sign = int(np.prod([self.signs[i] for i in idx]))
        candidates = [src] if len(src) == 1 else [src, src[::-1]]
        for c in candidates:
            source = f"{base}_{''.join(axes[i] for i in c)}"
            if source in fields:
                return source, sign
        raise DataError(
            f"symmetry {self}: field {name!r} is built from {base}_"
            f"{''.join(axes[i] for i in src)}, which is missing; given {sorted(fields)}"
        )


def component(name: str, axes: Sequence[str]) -> tuple[str, tuple[int, ...]] | None:
    """Split ``'u_x'`` into ``('u', (0,))``, ``'T_xy'`` into ``('T', (0, 1))``; else None.

    A name is a component when its suffix after the last ``_`` is one or two letters,
    each the name of a spatial axis.
    """
    base, sep, suffix = name.rpartition("_")
    if not sep or not base or not 1 <= len(suffix) <= 2 or any(c not in axes for c in suffix):
        return None
    return base, tuple(axes.index(c) for c in suffix)


def torch_of(x: object):
    """The ``torch`` module if ``x`` is a tensor, else None (never imports torch itself)."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(x, torch.Tensor) else None

"""Training losses on batches of fields, shape (batch, channel, *spatial).

- ``mse``: mean squared error over batch, channels and cells.
- ``rel_l2``: relative L2 error ``||pred - target|| / ||target||`` per sample and channel,
  averaged (scale-free; channels of very different magnitude weigh the same).
- ``amse``: the relative *amplitude-corrected* spectral MSE of Subich et al. (2025, "Fixing
  the double penalty in data-driven weather forecasting through a modified spherical
  harmonic loss function"), here on isotropic wavenumber shells of the crop's FFT. Per
  shell ``l``, MSE splits into ``(sqrt(P_x) - sqrt(P_y))^2 + 2 sqrt(P_x P_y) (1 - c)``
  (``P`` the shell powers, ``c`` the coherence ``Re sum X Y* / sqrt(P_x P_y)``); AMSE
  replaces ``sqrt(P_x P_y)`` by ``max(P_x, P_y)``. Where a scale cannot be predicted
  (``c`` near 0, the sub-grid-driven end of a chaotic flow) MSE is smallest for a
  prediction without that scale (the smooth, energy-losing mean); AMSE is smallest for one
  with the right power. The loss is ``sqrt(sum_l AMSE_l / sum_l P_y)`` per sample and
  channel, averaged (``rel_l2``'s scale: equal to it when every shell is coherent, never
  below it). No cell weights (a Fourier mode has no cell).
- spectral term (``spectral_weight > 0``): a high-wavenumber weighted squared error in
  Fourier space, ``mean_k w(k) |FFT(pred - target)(k)|^2`` with an orthonormal FFT over
  the spatial axes and ``w(k) = sum_a (m_a / (n_a / 2))^2`` (``m_a`` the integer mode
  number along axis ``a`` of ``n_a`` cells, so each axis' Nyquist mode has weight 1).
  Small-scale structure that MSE under-weights (its power is small) is penalised
  explicitly. Crops are not periodic, so the term also sees some edge leakage; it is a
  regulariser, not a diagnostic.

Probabilistic losses (for ensembles and error models): ``gaussian_nll`` and ``crps_gaussian``
score a predicted Gaussian ``N(mean, exp(log_sigma)^2)`` per cell against the target, averaged over
batch, channels and cells (weighted mean over cells with ``weight``). ``gaussian_nll`` is the
exact negative log density, ``log σ + z^2 / 2 + log(2π) / 2`` with ``z = (y - μ) / σ``;
``crps_gaussian`` the closed-form continuous ranked probability score (Gneiting & Raftery
2007, eq. 21), ``σ (z (2 Φ(z) - 1) + 2 φ(z) - 1 / sqrt(π))``, in the target's units and
less sensitive than the NLL to a few large residuals. As :class:`Loss` kinds
(``"gaussian_nll"``, ``"crps"``: :data:`PROBABILISTIC`) the prediction holds ``2 C``
channels, the means then ``log σ`` (the ``fit`` option ``loss``; gauge channels and the
spectral term see the means).

The total is ``base + spectral_weight * spectral``; :meth:`Loss.__call__` also returns
the components for logging.

Cell weights (``weight``, shape ``(batch, 1, *spatial)``, >= 0; the ``loss_weight`` option
of :func:`surrogates.fit`): the base loss becomes a weighted mean over cells,
``sum w e^2 / sum w`` (``mse``, pooled over the batch) or ``||sqrt(w) e|| / ||sqrt(w) y||``
(``rel_l2``, per sample and channel), and gauge means are weighted means. Zero weight takes
cells out of the loss (the inside of a solid body, land in an ocean model); large weight
near walls makes the fields that set wall forces count. With all weights equal the loss is
the unweighted one. The spectral term stays unweighted (a Fourier mode has no cell).

Gauge channels (``Loss.gauge``): fields defined up to an additive constant, such as the
pressure of incompressible flow, whose level at a point is set by everything downstream to
the outlet and cannot be inferred from a crop. Both prediction and target have their mean
over the crop removed before either term, so only differences within a crop are learned;
over many overlapping crops that pins the predicted field up to one smooth offset, which
pressure forces on closed bodies do not see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from surrogates.errors import ModelError

__all__ = [
    "LOSSES", "PROBABILISTIC", "Loss", "amse", "crps_gaussian", "gaussian_nll", "mse",
    "relative_l2", "remove_mean", "spectral_error",
]  # fmt: skip

_EPS = 1e-12


def _cell_mean(x: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``x`` over every element; with ``weight`` (B, 1, *S), weighted over cells."""
    if weight is None:
        return x.mean()
    w = weight.expand_as(x)
    return torch.sum(w * x) / torch.sum(w).clamp_min(_EPS)


def mse(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared error over every element; with ``weight`` (B, 1, *S), weighted over cells."""
    return _cell_mean((pred - target) ** 2, weight)


def relative_l2(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over (batch, channel) of ``||pred - target||_2 / ||target||_2`` over cells.

    With ``weight`` (B, 1, *S), both norms weigh each cell's square by ``weight``.
    """
    root = 1.0 if weight is None else weight.sqrt()
    err = (root * (pred - target)).flatten(2).norm(dim=-1)
    ref = (root * target).flatten(2).norm(dim=-1)
    return torch.mean(err / (ref + _EPS))


def amse(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over (batch, channel) of the relative amplitude-corrected spectral MSE.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (batch, channel, *spatial)
    weight : None
        Cell weights are not defined for this loss (a :class:`ModelError` if given).

    Returns
    -------
    torch.Tensor, scalar
        ``mean_{b,c} sqrt(sum_l AMSE_l / sum_l P_y,l)`` (module docstring).
    """
    if weight is not None:
        raise ModelError("loss 'amse' takes no cell weights (loss_weight): a Fourier mode has"
                         " no cell; use 'mse' or 'rel_l2' with loss_weight")  # fmt: skip
    dims = tuple(range(2, pred.ndim))
    x = torch.fft.rfftn(pred.float(), dim=dims, norm="ortho").flatten(2)
    y = torch.fft.rfftn(target.float(), dim=dims, norm="ortho").flatten(2)
    shell, count, shells = _shells(tuple(pred.shape[2:]), pred.device)

    def per_shell(values: torch.Tensor) -> torch.Tensor:  # (B, C, modes) -> (B, C, shells)
        out = values.new_zeros(*values.shape[:2], shells)
        return out.index_add_(2, shell, values * count)

    p_x = per_shell(x.real**2 + x.imag**2)
    p_y = per_shell(y.real**2 + y.imag**2)
    p_xy = per_shell(x.real * y.real + x.imag * y.imag)
    # clamp before the root: a shell without power (the k = 0 shell of a gauge channel, a
    # zero prediction) must give a zero gradient, not 0 / 0
    coherence = p_xy / torch.sqrt((p_x * p_y).clamp_min(_EPS**2))
    amplitude = (torch.sqrt(p_x + _EPS) - torch.sqrt(p_y + _EPS)) ** 2
    decorrelation = 2 * torch.maximum(p_x, p_y) * (1 - coherence)
    total = (amplitude + decorrelation).sum(dim=-1) / p_y.sum(dim=-1).clamp_min(_EPS)
    return torch.mean(torch.sqrt(total.clamp_min(0) + _EPS))


def _shells(shape: tuple[int, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Isotropic shells of the rfft grid of a field of spatial ``shape``.

    Returns the shell index of every (flattened) mode, ``round(|k| / k_min)`` with ``k_a``
    the physical wavenumber of axis ``a`` in units of the largest axis' fundamental; each
    mode's count in the full spectrum (2 for the rfft half's interior, else 1: the power
    sums obey Parseval); and the number of shells.
    """
    longest = max(shape)
    mesh = _rfft_frequencies(shape, device)
    k = torch.sqrt(sum((longest * g) ** 2 for g in mesh))
    shell = torch.round(k).long().flatten()
    n_last, m_last = shape[-1], mesh[-1] * shape[-1]
    edge = (m_last == 0) | ((n_last % 2 == 0) & (m_last == n_last // 2))
    count = torch.where(edge, 1.0, 2.0).flatten()
    return shell, count, int(shell.max()) + 1


def _rfft_frequencies(shape: tuple[int, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    """``m_a / n_a`` of every mode of the rfft grid of a field of spatial ``shape``, one
    broadcast grid per axis (``fftfreq``; ``rfftfreq`` along the last axis)."""
    last = len(shape) - 1
    grids = [
        (torch.fft.rfftfreq if a == last else torch.fft.fftfreq)(n, device=device)
        for a, n in enumerate(shape)
    ]
    return torch.meshgrid(*grids, indexing="ij")


def _weights(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``w(k)`` on the rfft grid of a field of spatial ``shape``."""
    return sum((2 * m) ** 2 for m in _rfft_frequencies(shape, device))  # Nyquist -> 1


def spectral_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """High-k weighted squared error in Fourier space (see the module docstring)."""
    dims = tuple(range(2, pred.ndim))
    err = torch.fft.rfftn((pred - target).float(), dim=dims, norm="ortho")
    w = _weights(tuple(pred.shape[2:]), pred.device)
    return torch.mean(w * err.abs() ** 2)


def remove_mean(
    x: torch.Tensor, channels: tuple[int, ...], weight: torch.Tensor | None = None
) -> torch.Tensor:
    """``x`` with the spatial mean of each listed channel removed, per sample.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, channel, *spatial)
    channels : tuple of int
        Channel indices (each must be below ``channel``).
    weight : torch.Tensor, shape (batch, 1, *spatial), optional
        Cell weights of the mean (``sum w x / sum w``).

    Returns
    -------
    torch.Tensor, shape (batch, channel, *spatial)
        A new tensor; the other channels unchanged.
    """
    if max(channels) >= x.shape[1]:
        raise ModelError(f"gauge: channel {max(channels)} of a {x.shape[1]}-channel output")
    index = list(channels)
    dims = tuple(range(2, x.ndim))
    out = x.clone()
    if weight is None:
        mean = x[:, index].mean(dim=dims, keepdim=True)
    else:
        total = weight.sum(dim=dims, keepdim=True).clamp_min(_EPS)
        mean = (weight * x[:, index]).sum(dim=dims, keepdim=True) / total
    out[:, index] = x[:, index] - mean
    return out


def gaussian_nll(
    mean: torch.Tensor,
    log_sigma: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean negative log density of ``target`` under ``N(mean, exp(log_sigma)^2)``.

    Parameters
    ----------
    mean, log_sigma, target : Tensor, shape (batch, channel, *spatial)
    weight : Tensor, shape (batch, 1, *spatial), optional
        Cell weights >= 0 (a weighted mean over cells).
    """
    z = (target - mean) * torch.exp(-log_sigma)
    return _cell_mean(log_sigma + 0.5 * z**2 + 0.5 * math.log(2 * math.pi), weight)


def crps_gaussian(
    mean: torch.Tensor,
    log_sigma: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean closed-form CRPS of ``N(mean, exp(log_sigma)^2)`` at ``target`` (target units).

    Parameters
    ----------
    mean, log_sigma, target : Tensor, shape (batch, channel, *spatial)
    weight : Tensor, shape (batch, 1, *spatial), optional
        Cell weights >= 0 (a weighted mean over cells).
    """
    sigma = torch.exp(log_sigma)
    z = (target - mean) / sigma
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    pdf = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return _cell_mean(sigma * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi)), weight)


def _head(score):
    """A base loss on a two-part prediction ``(mean, log σ)`` stacked along channels."""

    def loss(
        pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if pred.shape[1] != 2 * target.shape[1]:
            raise ModelError(
                f"loss {name!r}: prediction has {pred.shape[1]} channels, expected"
                f" {2 * target.shape[1]} (a mean and a log σ per target)"
            )
        mean, log_sigma = pred.chunk(2, dim=1)
        return score(mean, log_sigma, target, weight)

    name = {gaussian_nll: "gaussian_nll", crps_gaussian: "crps"}[score]
    loss.__name__ = name
    return loss


LOSSES = {
    "amse": amse, "crps": _head(crps_gaussian), "gaussian_nll": _head(gaussian_nll),
    "mse": mse, "rel_l2": relative_l2,
}  # fmt: skip
#: Proper scoring rules of a predicted Gaussian: the network predicts ``2 C`` channels
#: (``C`` means, then ``C`` values of ``log σ``, in the network's output space) and the
#: surrogate wraps it in an :class:`~surrogates.models.Ensemble` with head "gaussian".
PROBABILISTIC = ("crps", "gaussian_nll")


@dataclass(frozen=True)
class Loss:
    """A base loss (``"mse"``, ``"rel_l2"``, ``"amse"``, ``"gaussian_nll"`` or ``"crps"``) plus
    an optional weighted spectral term.

    Attributes
    ----------
    kind : {"mse", "rel_l2", "amse", "gaussian_nll", "crps"}
        Base loss (the last two: a ``2 C``-channel prediction, module docstring).
    spectral_weight : float
        Weight of the high-k spectral term (0: none).
    gauge : tuple of int
        Target channels compared with their crop mean removed (see the module docstring).
    """

    kind: str = "mse"
    spectral_weight: float = 0.0
    gauge: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in LOSSES:
            raise ModelError(f"loss: got {self.kind!r}, expected one of {sorted(LOSSES)}")
        if not self.spectral_weight >= 0:
            raise ModelError(f"spectral_weight: got {self.spectral_weight!r}, expected >= 0")
        object.__setattr__(self, "gauge", tuple(int(c) for c in self.gauge))
        if any(c < 0 for c in self.gauge) or len(set(self.gauge)) != len(self.gauge):
            raise ModelError(f"gauge: got channels {self.gauge}, expected distinct indices >= 0")

    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and its components, for (batch, channel, *spatial) tensors.

        ``weight``: optional cell weights, shape (batch, 1, *spatial), >= 0 (module docstring).
        """
        pred, target = pred.float(), target.float()
        if weight is not None:
            weight = weight.float()
            if weight.shape[1] != 1 or weight.shape[2:] != pred.shape[2:]:
                raise ModelError(
                    f"loss weight: shape {tuple(weight.shape)}, expected"
                    f" ({pred.shape[0]}, 1, {', '.join(map(str, pred.shape[2:]))})"
                )
        if self.gauge:
            pred = remove_mean(pred, self.gauge, weight)
            target = remove_mean(target, self.gauge, weight)
        base = LOSSES[self.kind](pred, target, weight)
        parts = {self.kind: base.detach()}
        if self.spectral_weight == 0:
            return base, parts
        spectral = spectral_error(pred[:, : target.shape[1]], target)  # the means
        parts["spectral"] = spectral.detach()
        return base + self.spectral_weight * spectral, parts

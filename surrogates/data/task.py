"""The learning task: which variables go in, which come out, and how far ahead."""

from __future__ import annotations

from dataclasses import dataclass, field

from surrogates.errors import ModelError

__all__ = ["Task"]


def _names(value: str | tuple[str, ...] | list[str], what: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(n, str) and n for n in names):
        raise ModelError(f"Task.{what}: expected variable names, got {value!r}")
    if len(set(names)) != len(names):
        raise ModelError(f"Task.{what}: duplicate names in {names}")
    return names


@dataclass(frozen=True)
class Task:
    """What a surrogate learns.

    Parameters
    ----------
    inputs : sequence of str
        Data variables fed to the model, in channel order. Static fields (an obstacle
        mask) may be inputs without being targets.
    targets : sequence of str
        Data variables the model predicts, in channel order.
    params : sequence of str
        Scalar parameters (variables over ``sample`` or ``(sample, time)``, or 0-d) used
        as conditioning inputs.
    lead : int or None
        ``None``: map fields to fields at the same time (e.g. ZA displacement to N-body
        displacement). ``k``: advance the state by ``k`` stored time steps; then every
        target must also be an input (the state), and the remaining inputs are static.
    residual : bool
        Predict ``target - input``. Each target is paired with the input of the same name,
        or, when it has none, with the input at the same position (``disp_x`` with
        ``disp_za_x`` when inputs are ``disp_za_*`` and targets ``disp_*``).
    """

    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    params: tuple[str, ...] = ()
    lead: int | None = None
    residual: bool = False
    # Derived: index of the input paired with each target (-1: none), for residuals and rollouts.
    target_in_input: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", _names(self.inputs, "inputs"))
        object.__setattr__(self, "targets", _names(self.targets, "targets"))
        object.__setattr__(self, "params", _names(self.params, "params"))
        if not self.inputs or not self.targets:
            raise ModelError("Task: needs at least one input and one target")
        if self.lead is not None and (not isinstance(self.lead, int) or self.lead < 1):
            raise ModelError(f"Task.lead: expected None or a positive integer, got {self.lead!r}")
        by_name = [self.inputs.index(t) if t in self.inputs else -1 for t in self.targets]
        missing = [t for t, i in zip(self.targets, by_name, strict=True) if i < 0]
        if missing and self.lead is not None:
            raise ModelError(
                f"Task: targets {missing} are not inputs, but a lead task advances its state"
                f" so every target must be an input; inputs are {list(self.inputs)}"
            )
        if self.residual:
            positional = [i if i >= 0 else j for j, i in enumerate(by_name)]
            if any(i >= len(self.inputs) for i in positional) or len(set(positional)) != len(
                positional
            ):
                raise ModelError(
                    f"Task: residual=True cannot pair targets {list(self.targets)} with inputs"
                    f" {list(self.inputs)} (by name, else by position)"
                )
            by_name = positional
        object.__setattr__(self, "target_in_input", tuple(by_name))

    @property
    def static(self) -> tuple[str, ...]:
        """Inputs that are not targets (kept fixed during a rollout)."""
        return tuple(v for v in self.inputs if v not in self.targets)

    def to_dict(self) -> dict:
        """JSON-able form, inverse of :meth:`from_dict`."""
        return {
            "inputs": list(self.inputs),
            "targets": list(self.targets),
            "params": list(self.params),
            "lead": self.lead,
            "residual": self.residual,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        """Rebuild a task from :meth:`to_dict` output."""
        unknown = set(data) - {"inputs", "targets", "params", "lead", "residual"}
        if unknown:
            raise ModelError(f"Task: unknown keys {sorted(unknown)}")
        return cls(**data)

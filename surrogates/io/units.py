"""Units on disk: the UDUNITS strings written for the units the code uses in memory.

In memory (solvers, diagnostics, plots) lengths of cosmological boxes are ``"Mpc/h"``
and a nondimensional solver writes ``"length"``, ``"length/time"``, ``"1/time^2"``...
Neither is a UDUNITS string, which CF requires of ``units``. :func:`to_disk` maps them;
:mod:`surrogates.io.cf` applies it in the writers and undoes it in the readers, so the
in-memory form is unchanged and files written before still read identically.

The on-disk convention (CF practice, and the ``h_scaling`` of GADGET-4's HDF5 output):

- h-scaled units: ``"Mpc/h"`` is written ``units = "megaparsec"``, ``h_scaling = -1.0``
  (``value * h**h_scaling`` is in ``units``; ``(Mpc/h)^3`` gives ``h_scaling = -3``).
  ``kpc/h`` is ``kiloparsec``; ``1e10 Msun/h`` is ``1.989e40 kg`` (Gadget's mass unit,
  UDUNITS has no solar mass).
- Nondimensional quantities (units naming ``length``, ``time`` or ``mass`` scales, or
  "particle mass units"): ``units = "1"`` and ``nondimensional_units`` keeps the
  in-memory string, e.g. ``"length/time"`` (a velocity in units of L/T).
- A ``time`` coordinate must be ``"<unit> since <epoch>"`` in CF: time without a reference
  is written ``"s since 1970-01-01 00:00:00"`` (an arbitrary origin: the values are the
  elapsed simulation time), nondimensional time likewise with ``nondimensional_units =
  "time"`` (the second then stands for the time scale T).
"""

from __future__ import annotations

import re

__all__ = ["EPOCH", "H_UNITS", "NONDIMENSIONAL_WORDS", "h_exponent", "to_disk"]

#: In-memory h-scaled unit -> UDUNITS unit of the same quantity at h = 1.
H_UNITS = {"1e10 Msun/h": "1.989e40 kg", "Mpc/h": "megaparsec", "kpc/h": "kiloparsec"}

#: Words that make a units string a nondimensional one (scales of a nondimensional solver).
NONDIMENSIONAL_WORDS = frozenset({"length", "time", "mass", "particle", "particles", "masses"})

#: Reference time written on time coordinates that have none.
EPOCH = "1970-01-01 00:00:00"

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|([A-Za-z_]+)|(\^-?\d+)|(.))")


def to_disk(units: str | None, *, is_time: bool = False) -> dict[str, object]:
    """The CF attributes written for the in-memory ``units`` (empty: write it unchanged).

    Parameters
    ----------
    units : str or None
        The ``units`` attribute in memory (None: the variable has none).
    is_time : bool
        The variable is the ``time`` coordinate (CF wants ``"<unit> since <epoch>"``).

    Returns
    -------
    dict
        ``units`` and the attributes that keep its meaning (``h_scaling``,
        ``nondimensional_units``); empty when ``units`` is fine as it is.
    """
    words = set(re.findall(r"[A-Za-z_]+", units or ""))
    if is_time and "since" not in words:
        base = "s" if units is None or words & NONDIMENSIONAL_WORDS else units
        nondim = {"nondimensional_units": units} if units and base != units else {}
        return {"units": f"{base} since {EPOCH}", **nondim}
    if units is None:
        return {}
    if words & NONDIMENSIONAL_WORDS:
        return {"units": "1", "nondimensional_units": units}
    if not any(name in units for name in H_UNITS):
        return {}
    new = units
    for name, udunits in H_UNITS.items():
        new = new.replace(name, udunits)
    return {"units": new, "h_scaling": float(h_exponent(units))}


def h_exponent(units: str) -> int:
    """The power of the symbol ``h`` in a units product, e.g. -3 for ``"(Mpc/h)^3"``.

    Accepts products of names and numbers with ``*``, ``.``, ``/``, spaces, parentheses
    and integer powers ``^n`` (the UDUNITS product syntax).
    """
    tokens = [t for t in _TOKEN.findall(units) if any(t)]
    powers, pos = _product(tokens, 0, units)
    if pos != len(tokens):
        raise ValueError(f"units {units!r}: unexpected {''.join(tokens[pos])!r}")
    return powers.get("h", 0)


def _product(tokens: list, pos: int, text: str) -> tuple[dict[str, int], int]:
    total: dict[str, int] = {}
    sign = 1
    while pos < len(tokens):
        op = tokens[pos][3]
        if op == ")":
            break
        if op in ("*", ".", "/"):
            sign = -1 if op == "/" else 1
            pos += 1
            continue
        factor, pos = _power(tokens, pos, text)
        for name, p in factor.items():
            total[name] = total.get(name, 0) + sign * p
        sign = 1
    return total, pos


def _power(tokens: list, pos: int, text: str) -> tuple[dict[str, int], int]:
    number, name, _, op = tokens[pos]
    if op == "(":
        inner, pos = _product(tokens, pos + 1, text)
        if pos >= len(tokens) or tokens[pos][3] != ")":
            raise ValueError(f"units {text!r}: unbalanced parentheses")
        factor = inner
    elif name or number:
        factor = {name: 1} if name else {}
    else:
        raise ValueError(f"units {text!r}: unexpected {op!r}")
    pos += 1
    if pos < len(tokens) and tokens[pos][2]:
        exponent = int(tokens[pos][2][1:])
        factor = {k: v * exponent for k, v in factor.items()}
        pos += 1
    return factor, pos

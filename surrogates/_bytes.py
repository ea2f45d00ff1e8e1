"""Sizes in bytes: parse ``"4GB"`` / ``"512 MiB"``, print ``"190 GiB"``, read the free RAM.

Shared by layers that must not import each other (``rollout`` budgets tiles,
``solvers`` budgets dataset recipes).
"""

from __future__ import annotations

import math
import os
import re

from surrogates.errors import DataError

__all__ = ["available_memory", "format_bytes", "parse_bytes"]

_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_IUNITS = {"ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_BINARY = (("EiB", 2**60), ("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20),
           ("KiB", 2**10))  # fmt: skip


def parse_bytes(value: int | float | str | None) -> int | None:
    """Bytes from ``4000000000``, ``"4GB"``, ``"4 GiB"``, ``"512MB"``, ``"1.5e9"`` (None passes).

    Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB) of 1024.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, scale = float(value), 1
    else:
        match = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([kmgt]i?)?b?\s*", str(value).lower())
        if match is None:
            raise DataError(f"memory: got {value!r}, expected bytes such as 4GB, 512MiB or 1e9")
        unit = match.group(2) or ""
        number, scale = float(match.group(1)), _IUNITS.get(unit) or _UNITS[unit]
    if not math.isfinite(number) or number <= 0:
        raise DataError(f"memory: got {value!r}, expected a positive size")
    return int(number * scale)


def format_bytes(n: float) -> str:
    """Bytes as a short binary size: ``"190 GiB"``, ``"1.5 MiB"``, ``"512 B"``."""
    for unit, scale in _BINARY:
        if n >= scale:
            value = n / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    return f"{int(n)} B"


def available_memory() -> int:
    """RAM that new allocations can use without swapping, in bytes.

    ``psutil.virtual_memory().available`` where psutil is installed, else Linux's
    ``MemAvailable`` (free memory plus reclaimable caches), else the free pages.
    """
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")

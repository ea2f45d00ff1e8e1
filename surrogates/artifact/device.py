"""Checking a requested torch device before anything is moved there."""

from __future__ import annotations

import torch

from surrogates.errors import ModelError

__all__ = ["check_device"]


def check_device(device: str | torch.device, option: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine.

    Raises
    ------
    ModelError
        Not a device name, or a CUDA/MPS device this machine does not have (instead of
        torch's ``AssertionError: Torch not compiled with CUDA enabled``).
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ModelError(
            f"{option}={device!r}: not a torch device ({err}); expected cpu, cuda or cuda:N"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no GPU visible"
            raise ModelError(f"{option}={device!r}: no CUDA device available ({why}); use cpu")
        if dev.index is not None and dev.index >= count:
            raise ModelError(
                f"{option}={device!r}: this machine has {count} CUDA device(s),"
                f" cuda:0..cuda:{count - 1}"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ModelError(f"{option}={device!r}: MPS is not available on this machine; use cpu")
    return dev

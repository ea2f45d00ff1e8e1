"""Shim: ``neuralop_fno`` lives in :mod:`surrogates.models.neuralop_` now.

Importing :mod:`surrogates.models` registers it (``neuraloperator`` itself is imported only
when the model is built), so nothing needs to import this module any more; it stays for
scripts and notebooks that still ``import peers``.
"""

from surrogates.models.neuralop_ import (  # noqa: F401  (re-exports)
    FUNCTIONS,
    INSTALL_HINT,
    NeuralopFNO,
    NeuralopFNOConfig,
)

__all__ = ["NeuralopFNO", "NeuralopFNOConfig"]

"""Surrogate networks and their registry: ``vnet``, ``unet``, ``fno``, and the optional
``neuralop_fno`` (neuraloperator's FNO; needs the ``bench`` extra, imported when built), and
the unlisted ``ensemble`` wrapper (K members of one of them, mean output; built by
``fit(..., ensemble=K)``).

Build models by name with :func:`build`; every model follows the contract of
:class:`~surrogates.models.base.SurrogateModel` (``forward(x, params=None)``, ``halo``,
``alignment``, ``exact_tiling``, ``spec``, ``output_size`` / ``input_size``). Add a model with
the :func:`register` decorator; the smoke tests then cover it automatically.
"""

from surrogates.models import ensemble, fno, neuralop_, unet, vnet  # noqa: F401  (register)
from surrogates.models.base import SurrogateModel
from surrogates.models.ensemble import Ensemble, EnsembleConfig, ensemble_of
from surrogates.models.fno import FNO, FNOConfig
from surrogates.models.neuralop_ import NeuralopFNO, NeuralopFNOConfig
from surrogates.models.registry import available, build, config_defaults, register
from surrogates.models.unet import UNet, UNetConfig, receptive_radius
from surrogates.models.vnet import VNet, VNetConfig, vnet_geometry

__all__ = [
    "FNO",
    "Ensemble",
    "EnsembleConfig",
    "FNOConfig",
    "NeuralopFNO",
    "NeuralopFNOConfig",
    "SurrogateModel",
    "UNet",
    "UNetConfig",
    "VNet",
    "VNetConfig",
    "available",
    "build",
    "config_defaults",
    "ensemble_of",
    "receptive_radius",
    "register",
    "vnet_geometry",
]

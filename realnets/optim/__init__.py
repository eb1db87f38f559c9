"""The optimizer room: torch's SGD family and Adam, and the layer-wise optimizers, registered as data.

>>> from realnets.optim import build_optimizer, list_optimizers
>>> list_optimizers()
['adam', 'cblr', 'lamb', 'lars', 'mclr', 'momentum', 'nesterov', 'percent-delta', 'sgd']

* ``sgd``, ``momentum``, ``nesterov``, ``adam``: ``torch.optim.SGD`` / ``Adam`` (seeds 000, 004).
* ``lars``: :class:`LARS` (You et al. 2017; seed 001, eq. 23), optional LARC clipping.
* ``lamb``: :class:`LAMB` (You et al. 2019).
* ``percent-delta``: :class:`PercentDelta` (Abu-El-Haija 2017; seed 001, eq. 24).
* ``cblr``: :class:`CBLR` (seed 001, eq. 9-11), Hessian diagonal by Hutchinson inside ``step(closure)``.
* ``mclr``: :class:`MCLR` (seed 001, eq. 20-22).

Adding an optimizer is one :func:`register_optimizer` call (see :mod:`realnets.optim.registry`).
"""

from realnets.optim import sgd  # noqa: F401  (registers sgd, momentum, nesterov, adam)
from realnets.optim.cblr import CBLR
from realnets.optim.lamb import LAMB
from realnets.optim.lars import LARS
from realnets.optim.mclr import MCLR
from realnets.optim.percent_delta import PercentDelta
from realnets.optim.registry import (
    OptimizerInfo,
    build_optimizer,
    default_exclude,
    get_optimizer,
    has_momentum_buffer,
    list_optimizers,
    momentum_buffer,
    param_groups,
    register_optimizer,
)

__all__ = [
    "CBLR",
    "LAMB",
    "LARS",
    "MCLR",
    "OptimizerInfo",
    "PercentDelta",
    "build_optimizer",
    "default_exclude",
    "get_optimizer",
    "has_momentum_buffer",
    "list_optimizers",
    "momentum_buffer",
    "param_groups",
    "register_optimizer",
]

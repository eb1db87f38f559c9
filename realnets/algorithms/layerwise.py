"""Fixed batch and learning rate with a layer-wise optimizer: LARS, LAMB, PercentDelta, CBLR, MCLR.

The policy is :class:`~realnets.algorithms.base.ScheduledPolicy` with a constant batch size and ``lr`` (the
global rate: LARS's gamma_t, LAMB's eta_t, seed 001's gamma for PercentDelta, CBLR and MCLR); the optimizer
comes from the room :mod:`realnets.optim`. The hyperparameters are those of every algorithm (``batch_size``,
``lr``, ``weight_decay``, ``momentum``) and the optimizer's own
(:attr:`realnets.optim.OptimizerInfo.defaults`, prefixed where a name would be ambiguous: ``lars_eps``,
``lamb_eps``, ``hessian_seed``, ...).

``cblr`` needs ``optimizer.step(closure)`` on its Hessian refresh steps (see :class:`realnets.optim.CBLR`).
"""

from __future__ import annotations

from functools import partial

from realnets.algorithms.base import ScheduledPolicy, check_number
from realnets.optim import build_optimizer, get_optimizer
from realnets.registry import register_algorithm

__all__ = ["LAYERWISE"]


def _constant(value, *_):
    return value


def _make_factory(optimizer_name):
    def factory(params, hp):
        batch = check_number("batch_size", hp["batch_size"], low=1, integer=True)
        optimizer = build_optimizer(optimizer_name, params, hp)
        policy = ScheduledPolicy(
            optimizer_name, partial(_constant, batch), partial(_constant, float(hp["lr"]))
        )
        return policy, optimizer

    factory.__qualname__ = factory.__name__ = f"layerwise_{optimizer_name.replace('-', '_')}"
    return factory


#: algorithm name -> (optimizer name, default lr, default momentum, default weight decay, description).
LAYERWISE = {
    "lars": (
        "lars",
        1.0,
        0.9,
        0.0,
        "Fixed batch, LARS layer-wise trust ratio (You et al. 2017; seed 001, eq. 23)",
    ),
    "lamb": (
        "lamb",
        0.01,
        0.0,
        0.01,
        "Fixed batch, LAMB: Adam moments with a layer-wise trust ratio (You et al. 2019)",
    ),
    "percent-delta": (
        "percent-delta",
        0.001,
        0.0,
        0.0,
        "Fixed batch, PercentDelta layer rate gamma size(w)/||g/w||_1 (seed 001, eq. 24)",
    ),
    "cblr": (
        "cblr",
        0.1,
        0.0,
        0.0,
        "Fixed batch, curvature-based per-parameter rate, Hutchinson Hessian diagonal (seed 001, eq. 9-11)",
    ),
    "mclr": ("mclr", 0.001, 0.0, 0.0, "Fixed batch, median-curvature layer rate (seed 001, eq. 20-22)"),
}

for _name, (_optimizer, _lr, _momentum, _wd, _description) in LAYERWISE.items():
    _info = get_optimizer(_optimizer)
    _defaults = {"lr": _lr, "batch_size": 32, "momentum": _momentum, "weight_decay": _wd, **_info.defaults}
    register_algorithm(_name, description=_description, defaults=_defaults, source=_info.source)(
        _make_factory(_optimizer)
    )

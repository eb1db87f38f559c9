"""Fixed batch with a layer-wise optimizer: LARS, LAMB, PercentDelta, CBLR, MCLR.

The policy is a :class:`~realnets.algorithms.base.ScheduledPolicy` with a constant batch size and the global
rate ``lr`` (LARS's gamma_t, LAMB's eta_t, seed 001's gamma for PercentDelta, CBLR and MCLR) under the usual
schedule: a linear warm-up from ``warmup_from * lr`` over ``warmup_epochs`` (Goyal et al.; You et al. use
it with LARS), then a step decay by ``lr_decay`` at each of ``milestones`` (comma-separated epochs, empty: none). The optimizer
comes from the room :mod:`realnets.optim`. The hyperparameters are those of every algorithm (``batch_size``,
``lr``, ``weight_decay``, ``momentum``), ``exclude_bias_norm`` (True: biases and normalisation weights get
neither weight decay nor a layer-wise rate, the timm/NVIDIA convention; False: every tensor gets the rule)
and the optimizer's own (:attr:`realnets.optim.OptimizerInfo.defaults`, prefixed where a name would be
ambiguous: ``lars_eps``, ``lamb_eps``, ``hessian_seed``, ...).

``log_layer_rates = k > 0`` adds the effective per-layer rates of the last update (``lr * ratio``, the
optimizer's :meth:`last_rates`) to every k-th step record of ``metrics.jsonl`` as ``"rate/<parameter
name>"`` numbers (each logged step reads them back from the device once; 0, the default, logs none).

``cblr`` needs ``optimizer.step(closure)`` on its Hessian refresh steps (see :class:`realnets.optim.CBLR`).
"""

from __future__ import annotations

from functools import partial

from realnets.algorithms.base import ScheduledPolicy, check_number
from realnets.algorithms.common import parse_milestones
from realnets.algorithms.schedules import milestones_passed, warmup_lr
from realnets.optim import build_optimizer, get_optimizer
from realnets.registry import register_algorithm

__all__ = ["LAYERWISE", "LayerwisePolicy", "layerwise_lr"]


def _constant(value, *_):
    return value


def layerwise_lr(
    epoch: float,
    _batch: int = 0,
    *,
    lr: float,
    warmup_epochs: float,
    milestones: tuple[float, ...],
    decay: float,
    warmup_from: float = 0.1,
) -> float:
    r"""The global rate at ``epoch``: :math:`\gamma\,(s + (1 - s)\min(1, e/W))\, d^{k(e)}`, with s =
    ``warmup_from`` and k the number of milestones passed."""
    warm = warmup_lr(epoch, lr_start=warmup_from * lr, lr_target=lr, warmup_epochs=warmup_epochs)
    return warm * decay ** milestones_passed(epoch, milestones)


class LayerwisePolicy(ScheduledPolicy):
    """:class:`ScheduledPolicy` that may log the optimizer's per-layer rates every ``log_every`` updates."""

    def __init__(self, name, batch_size_at, lr_at, optimizer, log_every: int = 0) -> None:
        super().__init__(name, batch_size_at, lr_at)
        self.optimizer, self.log_every = optimizer, log_every

    def init_state(self):
        return {"updates": 0}

    def after_update(self, state, info, record):
        return {**state, "updates": state.get("updates", 0) + 1}

    def log_fields(self, state):
        if not self.log_every or state.get("updates", 0) % self.log_every:
            return {}
        return {f"rate/{name}": rate for name, rate in self.optimizer.last_rates().items()}


def _milestones(value) -> tuple[float, ...]:
    if value in ("", None) or value == ():
        return ()
    return parse_milestones(value)


def _make_factory(optimizer_name):
    def factory(params, hp):
        batch = check_number("batch_size", hp["batch_size"], low=1, integer=True)
        warmup = check_number("warmup_epochs", hp["warmup_epochs"], low=0.0)
        warmup_from = check_number("warmup_from", hp["warmup_from"], low=0.0, low_open=True, high=1.0)
        decay = check_number("lr_decay", hp["lr_decay"], low=0.0, low_open=True, high=1.0)
        log_every = check_number("log_layer_rates", hp["log_layer_rates"], low=0, integer=True)
        milestones = _milestones(hp["milestones"])
        optimizer = build_optimizer(optimizer_name, params, hp)
        lr_at = partial(
            layerwise_lr,
            lr=float(hp["lr"]),
            warmup_epochs=warmup,
            milestones=milestones,
            decay=decay,
            warmup_from=warmup_from,
        )
        policy = LayerwisePolicy(optimizer_name, partial(_constant, batch), lr_at, optimizer, int(log_every))
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
#: The schedule and logging hyperparameters every layer-wise algorithm accepts.
SCHEDULE_DEFAULTS = {
    "warmup_epochs": 0.0,
    "warmup_from": 0.1,
    "milestones": "",
    "lr_decay": 0.1,
    "exclude_bias_norm": True,
    "log_layer_rates": 0,
}

for _name, (_optimizer, _lr, _momentum, _wd, _description) in LAYERWISE.items():
    _info = get_optimizer(_optimizer)
    _defaults = {
        "lr": _lr,
        "batch_size": 32,
        "momentum": _momentum,
        "weight_decay": _wd,
        **SCHEDULE_DEFAULTS,
        **_info.defaults,
    }
    register_algorithm(_name, description=_description, defaults=_defaults, source=_info.source)(
        _make_factory(_optimizer)
    )

"""Fixed and hand-scheduled mini-batch baselines (seeds 000 and 001).

* ``sgd``, ``momentum``, ``nesterov``, ``adam``: a fixed batch size B and learning rate eps, seed 000's
  Mini-32 ... Mini-256 baselines (sec. 4.2) and the optimizers of seed 004's fig. 3-4.
* ``manual``: seed 000's "Manual" baseline, B doubled every k epochs up to a maximum.
* ``small-first-epoch``: seed 001, sec. 3.2, a small batch and learning rate in the first epoch(s).
* ``discard-small-loss``: seed 001, sec. 3.1, the p% smallest-loss samples of each batch left out of the
  gradient during the first k epochs.
"""

from __future__ import annotations

from functools import partial

from realnets.algorithms.base import ScheduledPolicy, check_number
from realnets.algorithms.common import build_optimizer, common_defaults, positive_int
from realnets.algorithms.schedules import manual_batch_size
from realnets.registry import register_algorithm

__all__: list[str] = []


def _constant(value, *_):
    return value


def _fixed(params, hp):
    batch = positive_int("batch_size", hp["batch_size"])
    optimizer = build_optimizer(params, hp)
    policy = ScheduledPolicy("fixed", partial(_constant, batch), partial(_constant, float(hp["lr"])))
    return policy, optimizer


_FIXED = {
    "sgd": ("sgd", 0.05, "Mini-B-SGD: fixed batch size and learning rate, plain SGD (seed 000)"),
    "momentum": ("momentum", 0.01, "Mini-B-Momentum: fixed batch, heavy-ball momentum m (seed 000, 004)"),
    "nesterov": ("nesterov", 0.01, "Fixed batch, Nesterov momentum (seed 004, fig. 3b)"),
    "adam": ("adam", 0.001, "Fixed batch, Adam (seed 004, fig. 4b)"),
}
for _name, (_optimizer, _lr, _description) in _FIXED.items():
    register_algorithm(
        _name,
        description=_description,
        defaults=common_defaults(_optimizer, _lr, 32),
        source="seed 000, sec. 4.2",
    )(_fixed)


def _manual_batch(epoch, *, batch0, every_epochs, max_batch):
    return manual_batch_size(epoch, batch0=batch0, every_epochs=every_epochs, max_batch=max_batch)


@register_algorithm(
    "manual",
    description="Manual: double the batch every k epochs up to a maximum, fixed lr (seed 000, after Smith et al.)",
    defaults={**common_defaults("momentum", 0.01, 32), "every_epochs": 5.0, "max_batch_size": 256},
    source="seed 000, sec. 4.2",
)
def _manual(params, hp):
    batch0 = positive_int("batch_size", hp["batch_size"])
    max_batch = positive_int("max_batch_size", hp["max_batch_size"])
    if max_batch < batch0:
        raise ValueError(f"Invalid max_batch_size: {max_batch} (expected >= batch_size {batch0})")
    every = check_number("every_epochs", hp["every_epochs"], low=0.0, low_open=True)
    batch_at = partial(_manual_batch, batch0=batch0, every_epochs=every, max_batch=max_batch)
    return ScheduledPolicy("manual", batch_at, partial(_constant, float(hp["lr"]))), build_optimizer(
        params, hp
    )


def _phase_value(epoch, *, first, later, until):
    return first if epoch < until else later


@register_algorithm(
    "small-first-epoch",
    description="Small batch and lr in the first epoch(s), then the large batch (seed 001, sec. 3.2)",
    defaults={
        **common_defaults("sgd", 0.05, 256),
        "small_batch_size": 16,
        "small_lr": 0.005,
        "small_epochs": 1.0,
    },
    source="seed 001, sec. 3.2",
)
def _small_first_epoch(params, hp):
    batch = positive_int("batch_size", hp["batch_size"])
    small = positive_int("small_batch_size", hp["small_batch_size"])
    small_lr = check_number("small_lr", hp["small_lr"], low=0.0, low_open=True)
    until = check_number("small_epochs", hp["small_epochs"], low=0.0)
    optimizer = build_optimizer(params, hp)
    batch_at = partial(_phase_value, first=small, later=batch, until=until)
    lr_at = partial(_phase_value_lr, first=small_lr, later=float(hp["lr"]), until=until)
    return ScheduledPolicy("small-first-epoch", batch_at, lr_at), optimizer


def _phase_value_lr(epoch, _batch, *, first, later, until):
    return first if epoch < until else later


@register_algorithm(
    "discard-small-loss",
    description="Leave the p% smallest-loss samples of each batch out of the gradient for k epochs (seed 001, sec. 3.1)",
    defaults={**common_defaults("sgd", 0.05, 256), "drop_fraction": 0.3, "drop_epochs": 5.0},
    source="seed 001, sec. 3.1",
)
def _discard_small_loss(params, hp):
    batch = positive_int("batch_size", hp["batch_size"])
    fraction = check_number("drop_fraction", hp["drop_fraction"], low=0.0, high=0.99)
    until = check_number("drop_epochs", hp["drop_epochs"], low=0.0)
    optimizer = build_optimizer(params, hp)
    drop_at = partial(_phase_value, first=fraction, later=0.0, until=until)
    policy = ScheduledPolicy(
        "discard-small-loss", partial(_constant, batch), partial(_constant, float(hp["lr"])), drop_at=drop_at
    )
    return policy, optimizer

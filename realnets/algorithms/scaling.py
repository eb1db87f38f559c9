"""Learning-rate scaling rules (seeds 002 and 003) and noise-scale schedules (seed 004).

Seed 002 (sec. 2 and Table 1) compares, for a batch B against a small base batch B_0:

* ``blr``: the base learning rate eps_0 for every batch size;
* ``lsr``: linear scaling eps = eps_0 B / B_0 with a gradual warm-up over W epochs (seed 003's "FB");
* ``srsr``: square-root scaling eps = eps_0 sqrt(B / B_0);
* ``train-longer``: more epochs (Hoffer et al.), here B / B_0 times the budget so that the number of
  updates matches the base batch.

Seed 004 (sec. 5.1-5.2) lowers the noise scale g = eps/(1-m) (N/B - 1) by a factor f at each milestone:

* ``decay-lr``: eps / f, B constant;
* ``increase-batch``: B * f, eps constant;
* ``hybrid``: B * f until B_max, then eps / f;
* ``increase-eff-lr``: a larger eps and m with the initial batch B ∝ eps/(1-m), then as ``hybrid``
  (seed 004, sec. 5.2; use ``--ghost-batch-size`` with a batch-norm model, as the paper does).
"""

from __future__ import annotations

from functools import partial

from realnets.algorithms.base import ScheduledPolicy, check_number
from realnets.algorithms.common import build_optimizer, common_defaults, parse_milestones, positive_int
from realnets.algorithms.schedules import batch_for_effective_lr, noise_decay_schedule, scaled_lr, warmup_lr
from realnets.registry import register_algorithm

__all__: list[str] = []

_SCALING_DEFAULTS = {**common_defaults("momentum", 0.01, 256), "base_batch_size": 32}


def _constant(value, *_):
    return value


def _scaled_lr_at(epoch, batch, *, base_lr, base_batch, rule, warmup_epochs):
    target = scaled_lr(base_lr, batch, base_batch, rule)
    return warmup_lr(epoch, lr_start=base_lr, lr_target=target, warmup_epochs=warmup_epochs)


def _scaling_policy(name, params, hp, rule, warmup_epochs=0.0, budget_factor=1.0):
    batch = positive_int("batch_size", hp["batch_size"])
    base_batch = positive_int("base_batch_size", hp["base_batch_size"])
    optimizer = build_optimizer(params, hp)
    lr_at = partial(
        _scaled_lr_at, base_lr=float(hp["lr"]), base_batch=base_batch, rule=rule, warmup_epochs=warmup_epochs
    )
    policy = ScheduledPolicy(name, partial(_constant, batch), lr_at, budget_factor=budget_factor)
    return policy, optimizer


@register_algorithm(
    "blr",
    description="Base LR: the small-batch learning rate at any batch size (seed 002)",
    defaults=dict(_SCALING_DEFAULTS),
    source="seed 002, sec. 3",
)
def _blr(params, hp):
    return _scaling_policy("blr", params, hp, "none")


@register_algorithm(
    "lsr",
    description="Linear scaling eps0*B/B0 with gradual warm-up (seed 002 LSR, seed 003 FB)",
    defaults={**_SCALING_DEFAULTS, "warmup_epochs": 2.0},
    source="seed 002, Table 1",
)
def _lsr(params, hp):
    warmup = check_number("warmup_epochs", hp["warmup_epochs"], low=0.0)
    return _scaling_policy("lsr", params, hp, "linear", warmup_epochs=warmup)


@register_algorithm(
    "srsr",
    description="Square-root scaling eps0*sqrt(B/B0) (seed 002)",
    defaults={**_SCALING_DEFAULTS, "warmup_epochs": 0.0},
    source="seed 002, sec. 2",
)
def _srsr(params, hp):
    warmup = check_number("warmup_epochs", hp["warmup_epochs"], low=0.0)
    return _scaling_policy("srsr", params, hp, "sqrt", warmup_epochs=warmup)


@register_algorithm(
    "train-longer",
    description="Training longer: B/B0 times the sample budget, lr scaled by a rule (seed 002)",
    defaults={**_SCALING_DEFAULTS, "lr_scaling": "none"},
    source="seed 002, sec. 2",
)
def _train_longer(params, hp):
    batch = positive_int("batch_size", hp["batch_size"])
    base_batch = positive_int("base_batch_size", hp["base_batch_size"])
    scaled_lr(1.0, 1, 1, hp["lr_scaling"])  # validates the rule name before any training
    return _scaling_policy("train-longer", params, hp, hp["lr_scaling"], budget_factor=batch / base_batch)


def _noise_schedule_parts(hp, max_batch):
    batch0 = positive_int("batch_size", hp["batch_size"])
    factor = check_number("factor", hp["factor"], low=1.0, low_open=True)
    milestones = parse_milestones(hp["milestones"])
    if max_batch < batch0:
        raise ValueError(f"Invalid max_batch_size: {max_batch} (expected >= batch_size {batch0})")
    return partial(
        noise_decay_schedule,
        lr0=float(hp["lr"]),
        batch0=batch0,
        milestones=milestones,
        factor=factor,
        max_batch=max_batch,
    )


def _noise_policy(name, params, hp, max_batch):
    optimizer = build_optimizer(params, hp)
    schedule = _noise_schedule_parts(hp, max_batch)
    policy = ScheduledPolicy(name, lambda epoch: schedule(epoch)[0], lambda epoch, _b: schedule(epoch)[1])
    return policy, optimizer


# Smith et al. decay at 60/120/160 of 200 epochs; the defaults keep those fractions of a 20-epoch budget.
_NOISE_DEFAULTS = {**common_defaults("momentum", 0.05, 10), "factor": 5.0, "milestones": "6,12,16"}


@register_algorithm(
    "decay-lr",
    description="Decay the lr by a factor at each milestone, B constant (seed 004)",
    defaults=dict(_NOISE_DEFAULTS),
    source="seed 004, sec. 5.1",
)
def _decay_lr(params, hp):
    return _noise_policy("decay-lr", params, hp, positive_int("batch_size", hp["batch_size"]))


@register_algorithm(
    "increase-batch",
    description="Grow B by a factor at each milestone, lr constant (seed 004)",
    defaults={**_NOISE_DEFAULTS, "max_batch_size": 100_000},
    source="seed 004, sec. 5.1",
)
def _increase_batch(params, hp):
    return _noise_policy("increase-batch", params, hp, positive_int("max_batch_size", hp["max_batch_size"]))


@register_algorithm(
    "hybrid",
    description="Grow B up to B_max, then decay the lr (seed 004)",
    defaults={**_NOISE_DEFAULTS, "max_batch_size": 50},
    source="seed 004, sec. 5.1",
)
def _hybrid(params, hp):
    return _noise_policy("hybrid", params, hp, positive_int("max_batch_size", hp["max_batch_size"]))


@register_algorithm(
    "increase-eff-lr",
    description="Raise eps/(1-m) with B0 ∝ eps/(1-m), grow B to B_max, then decay the lr (seed 004, sec. 5.2)",
    defaults={
        **_NOISE_DEFAULTS,
        "lr": 0.25,
        "batch_size": 0,
        "ref_lr": 0.05,
        "ref_momentum": 0.9,
        "ref_batch_size": 10,
        "max_batch_size": 250,
    },
    source="seed 004, sec. 5.2",
)
def _increase_eff_lr(params, hp):
    """``batch_size = 0`` (the default) means: derive B0 = B_ref (eps/(1-m)) / (eps_ref/(1-m_ref))."""
    hp = dict(hp)
    if hp["batch_size"] == 0:
        lr = check_number("lr", hp["lr"], low=0.0, low_open=True)
        momentum = check_number("momentum", hp["momentum"], low=0.0, high=0.999)
        ref_lr = check_number("ref_lr", hp["ref_lr"], low=0.0, low_open=True)
        ref_momentum = check_number("ref_momentum", hp["ref_momentum"], low=0.0, high=0.999)
        ref_batch = positive_int("ref_batch_size", hp["ref_batch_size"])
        hp["batch_size"] = max(
            1,
            batch_for_effective_lr(
                lr, momentum, ref_lr=ref_lr, ref_momentum=ref_momentum, ref_batch=ref_batch
            ),
        )
    return _noise_policy("increase-eff-lr", params, hp, positive_int("max_batch_size", hp["max_batch_size"]))

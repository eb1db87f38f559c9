"""Batch-size and learning-rate schedules as plain functions of the epochs done.

Each schedule has a closed form (a function of the epoch) and, where the paper states it as a rule applied
at each milestone, the recursive one-step form too; ``tests/test_schedules.py`` checks that they agree.

Symbols (seed 004): eps = learning rate, B = batch size, N = training-set size, m = momentum. The SGD noise
scale is g = eps/(1-m) (N/B - 1) ~ eps N / (B (1-m)) (seed 004, sec. 2-3). Decaying eps by a factor f and
growing B by f lower g by the same factor, which is why the three schedules of seed 004, sec. 5.1 are
expected to give the same loss against epochs.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

__all__ = [
    "batch_for_effective_lr",
    "effective_lr",
    "manual_batch_size",
    "manual_batch_step",
    "milestones_passed",
    "noise_decay_schedule",
    "noise_decay_step",
    "noise_scale",
    "scaled_lr",
    "warmup_lr",
    "warmup_lr_step",
]


def milestones_passed(epoch: float, milestones: Sequence[float]) -> int:
    """Number k of milestones (epochs, sorted) at or before ``epoch``."""
    return bisect.bisect_right(list(milestones), epoch)


def noise_decay_schedule(
    epoch: float, *, lr0: float, batch0: int, milestones: Sequence[float], factor: float, max_batch: int
) -> tuple[int, float]:
    """Closed form of seed 004's schedules: the noise scale falls by ``factor`` at each milestone.

    .. math::
        B_k = \\min(\\mathrm{round}(B_0 f^k), B_{max}), \\qquad \\epsilon_k = \\epsilon_0 \\frac{B_k}{B_0 f^k}

    so that eps_k / B_k = eps_0 / (B_0 f^k) for every k (seed 004, sec. 5.1, "decaying learning rate",
    "increasing batch size" and "hybrid" schedules; sec. 5.2 with B_max = 5120). The batch grows first and
    the learning rate takes the rest of the decay once the batch reaches ``max_batch``:
    ``max_batch = batch0`` gives "decaying learning rate", ``max_batch >= batch0 f^K`` "increasing batch
    size", ``max_batch = batch0 f`` the paper's hybrid.

    Returns:
        ``(B_k, eps_k)`` where k is the number of milestones passed.
    """
    k = milestones_passed(epoch, milestones)
    wanted = batch0 * factor**k
    batch = min(round(wanted), max_batch)
    return batch, lr0 * batch / wanted


def noise_decay_step(batch: int, lr: float, *, factor: float, max_batch: int) -> tuple[int, float]:
    """One milestone of :func:`noise_decay_schedule`, written as the paper states it.

    Grow the batch by ``factor``; if that would pass ``max_batch``, grow it to ``max_batch`` and decay the
    learning rate by what is left of the factor.

    Note:
        Applied repeatedly from ``(B_0, eps_0)`` this equals the closed form when every ``B_0 f^k`` below
        ``max_batch`` is an integer (always the case for the paper's integer factors).
    """
    wanted = batch * factor
    if wanted <= max_batch:
        return round(wanted), lr
    return max_batch, lr * max_batch / wanted


def manual_batch_size(
    epoch: float, *, batch0: int, every_epochs: float, max_batch: int, factor: int = 2
) -> int:
    """Seed 000's "Manual" baseline (after Smith et al.): B = min(B_0 f^floor(e / k), B_max).

    Seed 000, sec. 4.2: start at 32 and double every 25 epochs (100-epoch budget) until 256.
    """
    return min(batch0 * factor ** math.floor(epoch / every_epochs), max_batch)


def manual_batch_step(batch: int, *, max_batch: int, factor: int = 2) -> int:
    """One doubling of :func:`manual_batch_size`: B <- min(f B, B_max)."""
    return min(batch * factor, max_batch)


def warmup_lr(epoch: float, *, lr_start: float, lr_target: float, warmup_epochs: float) -> float:
    """Gradual warm-up (Goyal et al., used by seed 002's LSR and seed 003's FB).

    .. math::
        \\epsilon(e) = \\epsilon_{start} + (\\epsilon_{target} - \\epsilon_{start}) \\min(1, e / W)

    Seed 002, Table 1: W = 10 epochs (3 for the LSTM). ``warmup_epochs = 0`` means no warm-up.
    """
    if warmup_epochs <= 0:
        return lr_target
    return lr_start + (lr_target - lr_start) * min(1.0, epoch / warmup_epochs)


def warmup_lr_step(
    lr: float, *, delta_epochs: float, lr_start: float, lr_target: float, warmup_epochs: float
) -> float:
    """Recursive form of :func:`warmup_lr`: add a constant increment per epoch, stop at the target."""
    if warmup_epochs <= 0:
        return lr_target
    increment = (lr_target - lr_start) * delta_epochs / warmup_epochs
    return min(lr + increment, lr_target) if lr_target >= lr_start else max(lr + increment, lr_target)


def scaled_lr(base_lr: float, batch: int, base_batch: int, rule: str) -> float:
    """Learning rate scaled with the batch size (seed 002, sec. 2).

    ``rule``: ``"none"`` (BLR: eps = eps_0), ``"linear"`` (LSR: eps = eps_0 B / B_0) or ``"sqrt"``
    (SRSR: eps = eps_0 sqrt(B / B_0)).
    """
    ratio = batch / base_batch
    factors = {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}
    if rule not in factors:
        raise ValueError(f"Invalid lr_scaling: {rule!r} (expected one of {sorted(factors)})")
    return base_lr * factors[rule]


def effective_lr(*, lr: float, momentum: float) -> float:
    """eps_eff = eps / (1 - m) (seed 004, sec. 3)."""
    return lr / (1.0 - momentum)


def batch_for_effective_lr(
    lr: float, momentum: float, *, ref_lr: float, ref_momentum: float, ref_batch: int
) -> int:
    """The batch that keeps the noise scale of a reference run: B ∝ eps / (1 - m) (seed 004, sec. 5.2).

    .. math::
        B = B_{ref} \\frac{\\epsilon / (1 - m)}{\\epsilon_{ref} / (1 - m_{ref})}

    Seed 004's rows: (0.1, 0.9, 128) -> 128; eps 0.5 -> 640; eps 0.5 with m 0.98 -> 3200.
    """
    return round(
        ref_batch * effective_lr(lr=lr, momentum=momentum) / effective_lr(lr=ref_lr, momentum=ref_momentum)
    )


def noise_scale(*, lr: float, n_train: int, batch_size: int, momentum: float = 0.0) -> float:
    """SGD noise scale g = eps/(1-m) (N/B - 1) (seed 004, eq. for g with momentum, sec. 3).

    Note:
        Written here in plain Python on purpose; ``theory`` derives the same expression symbolically and a
        test pins the two together.
    """
    return lr / (1.0 - momentum) * (n_train / batch_size - 1.0)


# ------------------------------------------------------------------------ schedules relative to the budget ---
#: Hyperparameters that may be given as fractions of the budget (``"30%"``, ``"30%,60%,80%"``), in epochs.
BUDGET_RELATIVE_HPARAMS = ("milestones", "warmup_epochs", "every_epochs", "small_epochs")


def _percent(item: str, name: str, budget_epochs: float) -> float:
    text = item.strip()
    try:
        value = float(text[:-1])
    except ValueError:
        raise ValueError(
            f"Invalid {name}: {item!r} (expected a percentage of the budget, e.g. 30%)"
        ) from None
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise ValueError(f"Invalid {name}: {item!r} (expected a percentage of the budget within 0%..100%)")
    return value / 100 * budget_epochs


def resolve_budget_fractions(hp: dict, budget_epochs: float) -> dict:
    """Replace budget fractions by epochs: ``milestones="30%,60%,80%"`` at a 10-epoch budget gives
    ``"3,6,8"``; ``warmup_epochs="25%"`` gives 2.5. Entries without ``%`` are returned unchanged (plain epochs).

    Applies to :data:`BUDGET_RELATIVE_HPARAMS`; a milestone list may mix the two (``"2,50%"``). ``budget_epochs``
    is the run's budget (before "train-longer"'s factor, which no scheduled algorithm has).
    """
    out = dict(hp)
    for name in BUDGET_RELATIVE_HPARAMS:
        value = out.get(name)
        if not isinstance(value, str) or "%" not in value:
            continue
        if name == "milestones":
            epochs = [
                _percent(item, name, budget_epochs) if "%" in item else float(item)
                for item in value.split(",")
                if item.strip()
            ]
            out[name] = ",".join(f"{e:.12g}" for e in epochs)
        else:
            out[name] = _percent(value, name, budget_epochs)
    return out


def schedule_collapse_note(algo: str, hp: dict, budget_epochs: float) -> str | None:
    """A one-line note when a schedule does nothing within the budget, or ``None``.

    ``hp`` holds the resolved hyperparameters (defaults included, fractions resolved). At ``--budget-epochs 2``
    the default milestones 6,12,16 are never reached, so ``decay-lr``, ``increase-batch`` and ``hybrid`` are
    the same constant run; a warm-up or doubling period at least as long as the budget never completes.
    """
    hint = "give it as a fraction of the budget, e.g. --milestones 30%,60%,80%"
    milestones = hp.get("milestones")
    if milestones is not None and algo not in ("sgd", "momentum"):
        try:
            points = [
                float(v) for v in (milestones.split(",") if isinstance(milestones, str) else milestones)
            ]
        except (TypeError, ValueError):
            points = []
        if points and all(p >= budget_epochs for p in points):
            return (
                f"no milestone of {algo} ({', '.join(f'{p:g}' for p in points)} epochs) falls within the "
                f"{budget_epochs:g}-epoch budget: the schedule never changes the batch size or the learning "
                f"rate (decay-lr, increase-batch and hybrid are then the same run); {hint}"
            )
    every = hp.get("every_epochs")
    if isinstance(every, (int, float)) and not isinstance(every, bool) and every >= budget_epochs:
        return (
            f"every_epochs = {every:g} of {algo} is not shorter than the {budget_epochs:g}-epoch budget: the batch "
            "never grows; give it as a fraction of the budget, e.g. --hp every_epochs=25%"
        )
    warmup = hp.get("warmup_epochs")
    if isinstance(warmup, (int, float)) and not isinstance(warmup, bool) and warmup >= budget_epochs > 0:
        return (
            f"warmup_epochs = {warmup:g} of {algo} is not shorter than the {budget_epochs:g}-epoch budget: the "
            "warm-up never reaches the scaled learning rate; give it as a fraction, e.g. --hp warmup_epochs=10%"
        )
    return None

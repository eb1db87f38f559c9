"""The policy protocol: what the training engine tells a batch-size/learning-rate policy, and what it hears back.

A policy is a plain object with explicit state (pure rules, thin stateful shell). Each parameter update
("step") goes like this::

    n, state = policy.first_draw(state, info)          # draw n fresh samples into an empty batch
    loop:
        stats = compute_statistics(policy.needs, ctx)  # on the batch drawn so far
        decision, state = policy.decide(state, info, stats)
        Grow(n)   -> draw n more fresh samples, ask again
        Update(lr) -> one parameter update with the whole batch, leave the loop
    state = policy.after_update(state, info, record)

The state is a ``dict`` of numbers, strings, lists and tensors so that it round-trips through a checkpoint
loaded with ``torch.load(weights_only=True)``; on resume its tensors are moved to the run's device. A policy
never touches the sampler, the model or the optimizer; it only sees :class:`StepInfo` and the statistics it
asked for.

Budget rule: a :class:`Grow` is capped at ``info.budget_left``; when nothing is left to draw
(``info.budget_left == 0``) the policy must return an :class:`Update`, and the engine raises
``RuntimeError`` if it asks to grow again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from realnets.objectives import MEAN, DropSmallest, InputTransform, Objective

__all__ = ["Grow", "Policy", "ScheduledPolicy", "StepInfo", "Update", "check_number"]


@dataclass(frozen=True)
class StepInfo:
    """What the engine tells the policy at each call.

    Attributes:
        step: parameter updates done so far.
        samples_seen: samples consumed so far (the budget counter), not counting the current batch.
        epoch: ``samples_seen / n_train`` (fractional epochs done when the step began).
        n_train: size of the training set.
        budget_left: samples that may still be drawn (budget minus samples seen minus ``batch_so_far``).
        epoch_left: fresh samples left in the current epoch's permutation.
        batch_so_far: samples already drawn into the current (not yet applied) batch.
        step_room: fresh samples this update may still draw without repeating one (to the end of the
            epoch's permutation under ``sampling = "epoch"``, the rest of X under ``"fresh"``); None when
            the caller does not know (then a policy falls back to ``epoch_left``-style arithmetic).
    """

    step: int
    samples_seen: int
    epoch: float
    n_train: int
    budget_left: int
    epoch_left: int
    batch_so_far: int = 0
    step_room: int | None = None


@dataclass(frozen=True)
class Grow:
    """Draw ``n`` more fresh samples into the current batch, recompute the statistics, ask again."""

    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"Invalid n: {self.n!r} (expected an integer >= 1)")


@dataclass(frozen=True)
class Update:
    """Apply one parameter update with the batch drawn so far.

    Attributes:
        lr: the global learning rate of this update; each optimizer group gets ``lr * group["lr_scale"]``.
        drop_smallest_fraction: shorthand for ``objective=DropSmallest(p)``: the fraction p of the batch's
            samples with the smallest loss left out of the gradient (seed 001, sec. 3.1); the dropped samples
            still count against the budget.
        objective: how the batch becomes the differentiated loss (:mod:`realnets.objectives`; default mean).
        transform: an input transform applied to the batch before the update's forward pass (FGSM), or None.
    """

    lr: float
    drop_smallest_fraction: float = 0.0
    objective: Objective = MEAN
    transform: InputTransform | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"Invalid lr: {self.lr!r} (expected a finite number > 0)")
        if not (0.0 <= self.drop_smallest_fraction < 1.0):
            raise ValueError(
                f"Invalid drop_smallest_fraction: {self.drop_smallest_fraction!r} (expected 0 <= p < 1)"
            )
        if self.drop_smallest_fraction > 0.0 and self.objective is MEAN:
            object.__setattr__(self, "objective", DropSmallest(self.drop_smallest_fraction))


class Policy:
    """Base class of batch-size and learning-rate policies.

    Subclasses override :meth:`first_draw` and :meth:`decide` (and, when they keep statistics across
    steps, :meth:`init_state` and :meth:`after_update`).

    Attributes:
        name: the registered algorithm name.
        needs: statistic names (see :mod:`realnets.probes`) computed on the current batch before each
            :meth:`decide` call.
        budget_factor: multiplies the sample budget of the run (1 except for "training longer").
        probes: :class:`~realnets.probes.scheduled.ScheduledProbe` instances the engine runs on their
            schedule; their latest results arrive in the statistics under their names.

    ``needs`` and ``probes`` are declared once, by the policy instance (the registry asks the instance).
    """

    name: str = "policy"
    needs: tuple[str, ...] = ()
    budget_factor: float = 1.0
    probes: tuple[Any, ...] = ()

    def init_state(self) -> dict[str, Any]:
        """The state before the first step."""
        return {}

    def first_draw(self, state: dict[str, Any], info: StepInfo) -> tuple[int, dict[str, Any]]:
        """How many fresh samples to draw first in this step."""
        raise NotImplementedError

    def decide(
        self, state: dict[str, Any], info: StepInfo, stats: Mapping[str, Any]
    ) -> tuple[Grow | Update, dict[str, Any]]:
        """Grow the batch or apply the update, given the statistics of the batch drawn so far."""
        raise NotImplementedError

    def lookahead(self, state: dict[str, Any], info: StepInfo) -> int:
        """Rows the statistics may process ahead of the batch in this step (0: none, the default).

        A hint, never a decision: when every statistic in :attr:`needs` supports it, the engine peeks this many
        rows from its sampler (see :mod:`realnets.probes`), still asks :meth:`decide` after every ``Grow`` on
        the rows drawn so far, and returns the rows the update does not take to the sampler. A good hint is
        the batch the previous update ended with.
        """
        return 0

    def after_update(
        self, state: dict[str, Any], info: StepInfo, record: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Bookkeeping after the update. ``record`` holds ``batch_size``, ``lr`` and ``loss`` (a 0-d tensor)."""
        return state

    def log_fields(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Extra per-step fields for ``metrics.jsonl`` (numbers), read after :meth:`after_update`."""
        return {}


class ScheduledPolicy(Policy):
    """A policy whose batch size and learning rate are plain functions of the epochs done.

    Args:
        name: algorithm name.
        batch_size_at: ``epoch -> B`` (``epoch`` is the fractional epoch when the step begins).
        lr_at: ``(epoch, B) -> eps``.
        drop_at: ``epoch -> p``, the fraction of smallest-loss samples left out (default: none).
        budget_factor: multiplies the sample budget.

    The batch is drawn in one go and the update applied at once (no statistics needed). The last batch
    of a run is cut to the samples left in the budget, so the budget is exact.
    """

    def __init__(self, name, batch_size_at, lr_at, drop_at=None, budget_factor: float = 1.0) -> None:
        self.name = name
        self.batch_size_at = batch_size_at
        self.lr_at = lr_at
        self.drop_at = drop_at
        self.budget_factor = budget_factor
        self._last_update: Update | None = None

    def first_draw(self, state, info):
        return min(self.batch_size_at(info.epoch), info.budget_left), state

    def decide(self, state, info, stats):
        # The learning rate follows the scheduled batch size, not a budget-truncated last batch.
        lr = self.lr_at(info.epoch, self.batch_size_at(info.epoch))
        drop = self.drop_at(info.epoch) if self.drop_at is not None else 0.0
        last = self._last_update
        if last is None or last.lr != lr or last.drop_smallest_fraction != drop:
            # Decisions are immutable values; reusing the last one spares a validation per step.
            self._last_update = last = Update(lr=lr, drop_smallest_fraction=drop)
        return last, state


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
) -> float:
    """Validate a user-facing number, raising ``ValueError("Invalid <name>: <value> (expected ...)")``.

    Args:
        name: the hyperparameter name used in the message.
        value: the value to check (bools are rejected).
        low, high: inclusive bounds (``low`` exclusive when ``low_open``).
        integer: require an integer value.
    """
    kind = "an integer" if integer else "a finite number"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"<= {high:g}")
    expected = f"{kind} {' and '.join(bounds)}".strip()
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = is_number and math.isfinite(value) and (not integer or float(value).is_integer())
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        raise ValueError(f"Invalid {name}: {value!r} (expected {expected})")
    return int(value) if integer else float(value)

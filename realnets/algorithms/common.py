"""Helpers shared by the algorithm factories: the torch optimizer and hyperparameter parsing.

The optimizer families are those of seed 000 (SGD, momentum) and seed 004 (momentum, Nesterov, Adam).
Learning rates set here are placeholders: the engine sets the policy's learning rate on every parameter
group before each update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from realnets.algorithms.base import check_number

__all__ = ["OPTIMIZERS", "build_optimizer", "common_defaults", "parse_milestones", "positive_int"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")  # the families of seeds 000 and 004 (see realnets.optim)


def common_defaults(optimizer: str, lr: float, batch_size: int, momentum: float = 0.9) -> dict[str, Any]:
    """The hyperparameters every algorithm accepts."""
    return {
        "optimizer": optimizer,
        "lr": lr,
        "batch_size": batch_size,
        "momentum": momentum,
        "weight_decay": 0.0,
    }


def build_optimizer(
    named_params: Iterable[tuple[str, torch.nn.Parameter]], hp: Mapping[str, Any]
) -> torch.optim.Optimizer:
    """The optimizer ``hp["optimizer"]`` from the optimizer room (:func:`realnets.optim.build_optimizer`).

    Note:
        torch's momentum applies the learning rate outside the buffer (v <- m v + g; w <- w - eps v), which
        equals seed 004's form Delta w = -eps A only while eps is constant; after a learning-rate drop the
        two differ for about 1/(1-m) steps. Seed 004's equivalence argument does not depend on this.
    """
    from realnets.optim import build_optimizer as room_build

    return room_build(hp["optimizer"], named_params, hp)


def positive_int(name: str, value: Any) -> int:
    """An integer >= 1, or ValueError naming the hyperparameter."""
    return check_number(name, value, low=1, integer=True)


def parse_milestones(value: Any) -> tuple[float, ...]:
    """Milestone epochs from a list or a comma-separated string (``"6,12,16"``), increasing and >= 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]  # a single milestone, e.g. from ``--hp milestones=30``
    items = value.split(",") if isinstance(value, str) else value
    try:
        milestones = tuple(float(item) for item in items)
    except (TypeError, ValueError):
        raise ValueError(
            f"Invalid milestones: {value!r} (expected increasing epochs, e.g. 6,12,16)"
        ) from None
    valid = all(m >= 0 for m in milestones) and all(a < b for a, b in zip(milestones, milestones[1:]))
    if not valid or not all(float("-inf") < m < float("inf") for m in milestones):
        raise ValueError(f"Invalid milestones: {value!r} (expected increasing epochs >= 0, e.g. 6,12,16)")
    return milestones

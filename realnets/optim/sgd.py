"""Torch's SGD family and Adam, registered as data (seed 000: SGD, momentum; seed 004: Nesterov, Adam).

These are ``torch.optim.SGD`` and ``torch.optim.Adam`` themselves, built exactly as the algorithm factories
built them before the room existed: ``sgd`` = SGD(momentum=0), ``momentum`` = SGD(momentum=m, dampening 0),
``nesterov`` = SGD(momentum=m, nesterov=True), ``adam`` = Adam(default betas and eps).

Note:
    torch's momentum applies the learning rate outside the buffer (v <- m v + g; w <- w - eps v), which
    equals seed 004's form Delta w = -eps A only while eps is constant; after a learning-rate drop the two
    differ for about 1/(1-m) steps. Seed 004's equivalence argument does not depend on this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from realnets.optim.registry import register_optimizer

__all__: list[str] = []


def _sgd_kwargs(hp: Mapping[str, Any]) -> dict[str, Any]:
    return {"lr": hp["lr"], "momentum": 0.0, "nesterov": False, "weight_decay": hp["weight_decay"]}


def _momentum_kwargs(hp: Mapping[str, Any]) -> dict[str, Any]:
    return {"lr": hp["lr"], "momentum": hp["momentum"], "nesterov": False, "weight_decay": hp["weight_decay"]}


def _nesterov_kwargs(hp: Mapping[str, Any]) -> dict[str, Any]:
    # torch rejects nesterov=True with momentum 0; momentum 0 is plain SGD, as before the room existed.
    return {
        "lr": hp["lr"],
        "momentum": hp["momentum"],
        "nesterov": hp["momentum"] > 0,
        "weight_decay": hp["weight_decay"],
    }


def _adam_kwargs(hp: Mapping[str, Any]) -> dict[str, Any]:
    return {"lr": hp["lr"], "weight_decay": hp["weight_decay"]}


register_optimizer(
    "sgd",
    torch.optim.SGD,
    description="Plain SGD, torch.optim.SGD(momentum=0) (seed 000)",
    kwargs=_sgd_kwargs,
    source="torch.optim.SGD; seed 000, sec. 4.2",
    uses_momentum=False,
)
register_optimizer(
    "momentum",
    torch.optim.SGD,
    description="Heavy-ball momentum, torch.optim.SGD(momentum=m, dampening=0) (seed 000, 004)",
    kwargs=_momentum_kwargs,
    has_momentum_buffer=True,
    source="torch.optim.SGD; seed 000, 004",
)
register_optimizer(
    "nesterov",
    torch.optim.SGD,
    description="Nesterov momentum, torch.optim.SGD(momentum=m, nesterov=True) (seed 004, fig. 3b)",
    kwargs=_nesterov_kwargs,
    has_momentum_buffer=True,
    source="torch.optim.SGD; seed 004, fig. 3b",
)
register_optimizer(
    "adam",
    torch.optim.Adam,
    description="Adam, torch.optim.Adam defaults (seed 004, fig. 4b)",
    kwargs=_adam_kwargs,
    source="torch.optim.Adam; seed 004, fig. 4b",
    uses_momentum=False,
)

r"""Per-update objectives and input transforms: the extension points of the training step.

An :class:`~realnets.algorithms.base.Update` carries an *objective* (how the batch's per-sample losses
become the loss that is differentiated) and optionally an *input transform* (applied to the batch before
the update's forward pass, e.g. FGSM on part of it, seed 003's ABSA). Both are registered as data, so the
engine has no per-algorithm branch: a new one is a class and a registration.

Objectives:

* ``mean``: :math:`\frac1{|B|}\sum_{j\in B}\ell_j`, the plain mini-batch loss;
* ``drop-smallest``: the mean over the :math:`|B| - \lfloor p|B|\rfloor` largest losses (seed 001, sec. 3.1:
  the smallest-loss samples are left out of the gradient; they still count against the sample budget).

Input transforms implement :class:`InputTransform` (``apply(model, loss_fn, x, y) -> x'`` and the passes it
spent); :mod:`realnets.adversarial` registers FGSM.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "MEAN",
    "DropSmallest",
    "InputTransform",
    "MeanObjective",
    "Objective",
    "get_objective",
    "get_transform",
    "list_objectives",
    "list_transforms",
    "register_objective",
    "register_transform",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Objective:
    """How one update turns the batch's outputs into the loss that is differentiated.

    Attributes:
        name: the registered name.
        reuses_prepared: True when the loss is the plain batch mean, so a gradient that a statistic
            already left in ``p.grad`` for exactly this batch (a :class:`~realnets.probes.PreparedGradient`)
            can be used without another forward and backward pass.
    """

    name = "objective"
    reuses_prepared = False

    def loss(
        self, outputs: torch.Tensor, y: torch.Tensor, per_sample: LossFn, mean: LossFn
    ) -> tuple[torch.Tensor, int]:
        """``(loss, kept)``: the scalar to differentiate and how many samples it averages."""
        raise NotImplementedError


@dataclass(frozen=True)
class MeanObjective(Objective):
    """The plain mini-batch mean loss (the fused mean loss of the task: its backward is the cheapest)."""

    name = "mean"
    reuses_prepared = True

    def loss(self, outputs, y, per_sample, mean):
        return mean(outputs, y), int(outputs.shape[0])


@dataclass(frozen=True)
class DropSmallest(Objective):
    r"""Mean over the largest losses, leaving out the fraction ``p`` with the smallest (seed 001, sec. 3.1).

    Keeps :math:`\max(1, |B| - \lfloor p|B|\rfloor)` samples.
    """

    fraction: float
    name = "drop-smallest"

    def __post_init__(self) -> None:
        if not (isinstance(self.fraction, (int, float)) and 0.0 <= self.fraction < 1.0):
            raise ValueError(f"Invalid drop_smallest_fraction: {self.fraction!r} (expected 0 <= p < 1)")

    @property
    def reuses_prepared(self) -> bool:  # type: ignore[override]
        return self.fraction == 0.0

    def loss(self, outputs, y, per_sample, mean):
        n = int(outputs.shape[0])
        if self.fraction == 0.0:
            return mean(outputs, y), n
        kept = max(1, n - math.floor(self.fraction * n))
        return torch.topk(per_sample(outputs, y), kept, sorted=False).values.mean(), kept


MEAN = MeanObjective()


class InputTransform:
    """Changes the batch before the update's forward pass (the statistics saw the clean batch).

    Subclasses set ``name`` and implement :meth:`apply`; they count the passes they spend in ``fwd`` and
    ``bwd`` of the returned dict so the engine logs them with the step.
    """

    name = "transform"

    def apply(
        self, model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, int]]:
        """``(x_new, {"fwd": .., "bwd": ..})``."""
        raise NotImplementedError


_OBJECTIVES: dict[str, Callable[..., Objective]] = {"mean": lambda: MEAN, "drop-smallest": DropSmallest}
_TRANSFORMS: dict[str, Callable[..., InputTransform]] = {}


def register_objective(name: str, factory: Callable[..., Objective]) -> None:
    """Register ``factory(**options) -> Objective`` under ``name``."""
    if name in _OBJECTIVES and _OBJECTIVES[name] is not factory:
        raise ValueError(f"Duplicate objective name: {name!r}")
    _OBJECTIVES[name] = factory


def register_transform(name: str, factory: Callable[..., InputTransform]) -> None:
    """Register ``factory(**options) -> InputTransform`` under ``name``."""
    if name in _TRANSFORMS and _TRANSFORMS[name] is not factory:
        raise ValueError(f"Duplicate transform name: {name!r}")
    _TRANSFORMS[name] = factory


def list_objectives() -> list[str]:
    """Names of the registered objectives."""
    return sorted(_OBJECTIVES)


def list_transforms() -> list[str]:
    """Names of the registered input transforms."""
    _import_transform_modules()
    return sorted(_TRANSFORMS)


def get_objective(name: str, **options: Any) -> Objective:
    """The objective ``name`` built with ``options``; ValueError listing the valid names otherwise."""
    if name not in _OBJECTIVES:
        raise ValueError(f"Invalid objective: {name!r} (expected one of {', '.join(sorted(_OBJECTIVES))})")
    return _OBJECTIVES[name](**options)


def get_transform(name: str, **options: Any) -> InputTransform:
    """The input transform ``name`` built with ``options``; ValueError listing the valid names otherwise."""
    _import_transform_modules()
    if name not in _TRANSFORMS:
        valid = ", ".join(sorted(_TRANSFORMS)) or "none registered"
        raise ValueError(f"Invalid transform: {name!r} (expected one of {valid})")
    return _TRANSFORMS[name](**options)


def _import_transform_modules() -> None:
    import importlib

    try:
        importlib.import_module("realnets.adversarial")
    except ImportError:  # pragma: no cover - the module ships with the package
        pass

"""Algorithm registry: every training algorithm is registered as data (after timm's ``OptimInfo``).

>>> from realnets.registry import get_algorithm, list_algorithms
>>> info = get_algorithm("momentum")
>>> policy, optimizer = info.build(model, {"lr": 0.05})   # doctest: +SKIP

Modules under :mod:`realnets.algorithms` register their algorithms when imported; the lookup functions
import them all first, so a new module (e.g. ``algorithms/ba.py``) only has to call
:func:`register_algorithm`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from realnets.algorithms.base import Policy

__all__ = [
    "AlgoInfo",
    "get_algorithm",
    "list_algorithms",
    "named_parameters",
    "register_algorithm",
    "resolve_hparams",
]

NamedParams = list[tuple[str, torch.nn.Parameter]]
Factory = Callable[[NamedParams, Mapping[str, Any]], tuple[Policy, torch.optim.Optimizer]]
ParamSource = torch.nn.Module | Iterable[torch.nn.Parameter] | Iterable[tuple[str, torch.nn.Parameter]]


def named_parameters(source: ParamSource) -> NamedParams:
    """``[(name, parameter), ...]`` from a module, ``named_parameters()`` or plain parameters.

    Plain parameters get the names ``"0"``, ``"1"``, ...; names let optimizer factories treat biases and
    normalisation parameters apart (no weight decay, no trust ratio).
    """
    if isinstance(source, torch.nn.Module):
        return list(source.named_parameters())
    items = list(source)
    if all(isinstance(item, tuple) and len(item) == 2 for item in items):
        return [(str(name), param) for name, param in items]
    return [(str(i), param) for i, param in enumerate(items)]


@dataclass(frozen=True)
class AlgoInfo:
    """One registered algorithm.

    Attributes:
        name: the name used on the command line (``--algo``).
        factory: ``(named_params, hparams) -> (policy, optimizer)``; ``named_params`` is a list of
            ``(name, parameter)``, ``hparams`` is complete (defaults merged).
        description: one line for ``realnets list``.
        defaults: every hyperparameter the algorithm accepts, with its default value.
        source: where the algorithm comes from (seed number and section).
    """

    name: str
    factory: Factory
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def needs(self) -> tuple[str, ...]:
        """The statistics the policy built with the defaults requests (declared once, by the policy instance).

        A policy built with other hyperparameters may need others (``ba-sgd`` with ``stat=diag``): ask
        ``build(...)[0].needs``.
        """
        policy, _ = self.build([torch.nn.Parameter(torch.zeros(1))])
        return tuple(policy.needs)

    def build(
        self, params: ParamSource, overrides: Mapping[str, Any] | None = None
    ) -> tuple[Policy, torch.optim.Optimizer]:
        """Build the policy and the optimizer from the defaults updated with ``overrides``.

        ``params``: a module, its ``named_parameters()``, or plain parameters.
        """
        policy, optimizer = self.factory(named_parameters(params), resolve_hparams(self, overrides or {}))
        policy.name = self.name
        return policy, optimizer


_ALGORITHMS: dict[str, AlgoInfo] = {}


def register_algorithm(
    name: str, *, description: str, defaults: Mapping[str, Any], source: str = ""
) -> Callable[[Factory], Factory]:
    """Register ``factory`` under ``name`` (decorator). Raises ValueError on a duplicate name."""

    def register(factory: Factory) -> Factory:
        if name in _ALGORITHMS and _ALGORITHMS[name].factory.__qualname__ != factory.__qualname__:
            raise ValueError(f"Duplicate algorithm name: {name!r}")
        _ALGORITHMS[name] = AlgoInfo(name, factory, description, dict(defaults), source)
        return factory

    return register


def _import_algorithm_modules() -> None:
    import realnets.algorithms as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"realnets.algorithms.{module.name}")


def list_algorithms() -> list[AlgoInfo]:
    """Every registered algorithm, sorted by name."""
    _import_algorithm_modules()
    return [_ALGORITHMS[name] for name in sorted(_ALGORITHMS)]


def get_algorithm(name: str) -> AlgoInfo:
    """The algorithm registered as ``name``; ValueError listing the valid names otherwise."""
    _import_algorithm_modules()
    if name not in _ALGORITHMS:
        raise ValueError(f"Invalid algo: {name!r} (expected one of {', '.join(sorted(_ALGORITHMS))})")
    return _ALGORITHMS[name]


def resolve_hparams(info: AlgoInfo, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults of ``info`` updated with ``overrides``; unknown names raise ValueError."""
    unknown = sorted(set(overrides) - set(info.defaults))
    if unknown:
        raise ValueError(
            f"Invalid hyperparameter for {info.name}: {unknown[0]!r} "
            f"(expected one of {', '.join(sorted(info.defaults))})"
        )
    return {**info.defaults, **overrides}

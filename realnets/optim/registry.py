r"""The optimizer registry: every optimizer is registered as data (after timm's ``OptimInfo``).

>>> from realnets.optim import build_optimizer, get_optimizer
>>> get_optimizer("lars").defaults["trust_coefficient"]
0.001
>>> opt = build_optimizer("momentum", list(model.named_parameters()), hp)  # doctest: +SKIP

``build_optimizer(name, named_params, hp)`` validates the hyperparameters every optimizer shares (``lr``,
``weight_decay``, ``momentum``), splits the parameters into groups with :func:`param_groups` and calls the
registered class. ``hp`` may hold any other keys (an algorithm's whole hyperparameter dict): only the
optimizer's own keys (:attr:`OptimizerInfo.defaults`) are read, with the registered defaults for those
missing.

Parameter groups carry three keys besides torch's: ``"param_names"`` (torch's own key for named
parameters; the layer names of :meth:`last_rates`), ``"trust"`` (``False``: no trust ratio / layer-wise
rate for this group) and ``"lr_scale"`` (the engine sets ``group["lr"] = global_lr * group["lr_scale"]``
before every step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "OptimizerInfo",
    "build_optimizer",
    "check_hparam",
    "default_exclude",
    "get_optimizer",
    "has_momentum_buffer",
    "list_optimizers",
    "momentum_buffer",
    "param_groups",
    "register_optimizer",
]

NamedParams = list[tuple[str, torch.nn.Parameter]]
#: ``(validated hp with the optimizer's own keys merged) -> constructor keyword arguments``.
KwargsFn = Callable[[Mapping[str, Any]], dict[str, Any]]


def check_hparam(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> float:
    """A finite number within bounds, or ``ValueError("Invalid <name>: <value> (expected ...)")``.

    Args:
        name: the hyperparameter name used in the message.
        value: the value to check (bools and non-numbers are rejected).
        low, high: the bounds, inclusive unless ``low_open`` / ``high_open``.
        integer: require an integer value (returned as ``int``).
    """
    kind = "an integer" if integer else "a finite number"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    expected = f"{kind} {' and '.join(bounds)}".strip()
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not integer or float(value).is_integer())
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ValueError(f"Invalid {name}: {value!r} (expected {expected})")
    return int(value) if integer else float(value)


def check_flag(name: str, value: Any) -> bool:
    """A bool, or ``ValueError`` naming the hyperparameter."""
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected True or False)")
    return value


@dataclass(frozen=True)
class OptimizerInfo:
    """One registered optimizer.

    Attributes:
        name: the registry name (``hp["optimizer"]`` of the algorithms, ``--optimizer``).
        cls: the ``torch.optim.Optimizer`` subclass.
        description: one line for listings.
        defaults: the optimizer's own hyperparameters (besides ``lr``, ``weight_decay``, ``momentum``) with
            their default values; the keys are the ``hp`` keys :func:`build_optimizer` reads.
        has_momentum_buffer: whether :func:`momentum_buffer` returns a heavy-ball buffer.
        needs_closure: whether ``step`` needs a closure (CBLR's Hessian diagonal).
        source: the paper and equation, or the library.
        kwargs: ``hp -> constructor keyword arguments`` (``hp`` validated, defaults merged).
        uses_momentum: whether ``hp["momentum"]`` is used (validated in any case).
    """

    name: str
    cls: type[torch.optim.Optimizer]
    description: str
    kwargs: KwargsFn = field(repr=False)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    has_momentum_buffer: bool = False
    needs_closure: bool = False
    source: str = ""
    uses_momentum: bool = True


_OPTIMIZERS: dict[str, OptimizerInfo] = {}


def register_optimizer(
    name: str,
    cls: type[torch.optim.Optimizer],
    *,
    description: str,
    kwargs: KwargsFn,
    defaults: Mapping[str, Any] | None = None,
    has_momentum_buffer: bool = False,
    needs_closure: bool = False,
    source: str = "",
    uses_momentum: bool = True,
) -> OptimizerInfo:
    """Register an optimizer under ``name``; ValueError on a duplicate name with another class."""
    if name in _OPTIMIZERS and _OPTIMIZERS[name].cls is not cls:
        raise ValueError(f"Duplicate optimizer name: {name!r}")
    info = OptimizerInfo(
        name,
        cls,
        description,
        kwargs,
        dict(defaults or {}),
        has_momentum_buffer,
        needs_closure,
        source,
        uses_momentum,
    )
    _OPTIMIZERS[name] = info
    return info


def list_optimizers() -> list[str]:
    """Every registered optimizer name, sorted."""
    return sorted(_OPTIMIZERS)


def get_optimizer(name: str) -> OptimizerInfo:
    """The optimizer registered as ``name``; ValueError listing the valid names otherwise."""
    if name not in _OPTIMIZERS:
        raise ValueError(f"Invalid optimizer: {name!r} (expected one of {', '.join(list_optimizers())})")
    return _OPTIMIZERS[name]


def default_exclude(name: str, param: torch.Tensor) -> bool:
    """Biases and normalisation parameters: the name ends with ``"bias"`` or the tensor has ndim <= 1.

    With names only, BatchNorm/LayerNorm/GroupNorm weights are recognised by their shape (1-D), as in timm
    (``timm/optim/_param_groups.py``, ``param_groups_weight_decay``).
    """
    return name.endswith("bias") or param.ndim <= 1


def param_groups(
    named_params: Iterable[tuple[str, torch.nn.Parameter]],
    weight_decay: float,
    *,
    exclude: Callable[[str, torch.Tensor], bool] | None = default_exclude,
) -> list[dict[str, Any]]:
    """Parameter groups: weight decay and trust ratio for the weights, neither for the excluded ones.

    Args:
        named_params: ``[(name, parameter), ...]``.
        weight_decay: the weight decay of the non-excluded group.
        exclude: ``(name, parameter) -> bool`` for parameters with no weight decay and ``"trust": False``
            (default :func:`default_exclude`); ``None`` keeps every parameter in one group.

    Returns:
        Up to two groups (empty ones left out), each ``{"params": [(name, p), ...], "weight_decay",
        "trust", "lr_scale": 1.0}``, parameters in their original order within a group. Torch stores the
        names under ``"param_names"``.
    """
    items = [(str(name), param) for name, param in named_params]
    if exclude is None:
        return [{"params": items, "weight_decay": weight_decay, "trust": True, "lr_scale": 1.0}]
    kept = [(n, p) for n, p in items if not exclude(n, p)]
    excluded = [(n, p) for n, p in items if exclude(n, p)]
    groups = [
        {"params": kept, "weight_decay": weight_decay, "trust": True, "lr_scale": 1.0},
        {"params": excluded, "weight_decay": 0.0, "trust": False, "lr_scale": 1.0},
    ]
    groups = [g for g in groups if g["params"]]
    return groups or [{"params": [], "weight_decay": weight_decay, "trust": True, "lr_scale": 1.0}]


def _check_common(hp: Mapping[str, Any]) -> tuple[float, float, float]:
    lr = check_hparam("lr", hp["lr"], low=0.0, low_open=True)
    weight_decay = check_hparam("weight_decay", hp.get("weight_decay", 0.0), low=0.0)
    momentum = hp.get("momentum", 0.0)
    check_hparam("momentum", momentum, low=0.0, high=1.0)
    if not momentum < 1.0:
        raise ValueError(f"Invalid momentum: {momentum!r} (expected 0 <= momentum < 1)")
    return lr, weight_decay, float(momentum)


def build_optimizer(
    name: str, named_params: Iterable[tuple[str, torch.nn.Parameter]], hp: Mapping[str, Any]
) -> torch.optim.Optimizer:
    """The optimizer ``name`` on ``named_params`` with hyperparameters from ``hp``.

    Args:
        name: a registered optimizer (:func:`list_optimizers`).
        named_params: ``[(name, parameter), ...]``.
        hp: at least ``lr``; ``weight_decay`` and ``momentum`` (default 0) and the optimizer's own keys
            (:attr:`OptimizerInfo.defaults`) are read, other keys ignored. ``momentum`` is validated
            (0 <= m < 1) for every optimizer and ignored by those without momentum (``sgd``, ``adam``,
            ``lamb``). ``exclude_bias_norm`` (default True): False puts every parameter in one group
            with weight decay and trust ratio.

    Raises:
        ValueError: one line naming the first invalid hyperparameter.
    """
    info = get_optimizer(name)
    lr, weight_decay, momentum = _check_common(hp)
    own = {key: hp.get(key, default) for key, default in info.defaults.items()}
    exclude = default_exclude if check_flag("exclude_bias_norm", hp.get("exclude_bias_norm", True)) else None
    if weight_decay == 0.0 and info.cls.__module__.startswith("torch."):
        # torch's own optimizers ignore "trust": with no weight decay the two groups would be identical,
        # and one group saves a per-group pass of the optimizer's step on every update (same numbers).
        exclude = None
    resolved = {**own, "lr": lr, "weight_decay": weight_decay, "momentum": momentum}
    kwargs = info.kwargs(resolved)
    return info.cls(param_groups(named_params, weight_decay, exclude=exclude), **kwargs)


def momentum_buffer(optimizer: torch.optim.Optimizer, param: torch.Tensor) -> torch.Tensor | None:
    """The heavy-ball buffer of ``param`` (``None`` before the first step).

    Dispatches to ``optimizer.momentum_buffer(param)`` where the optimizer has that method (the layer-wise
    optimizers of this room), and to ``optimizer.state[param]["momentum_buffer"]`` for ``torch.optim.SGD``.

    Raises:
        ValueError: the optimizer (or ``param``'s group) has no momentum buffer.
    """
    method = getattr(optimizer, "momentum_buffer", None)
    if callable(method):
        return method(param)
    if isinstance(optimizer, torch.optim.SGD):
        group = next((g for g in optimizer.param_groups if any(p is param for p in g["params"])), None)
        if group is None:
            raise ValueError(
                "Invalid param: not optimized by this optimizer (expected one of its parameters)"
            )
        if group["momentum"] == 0:
            raise ValueError(
                "Invalid optimizer: SGD with momentum 0 has no momentum buffer (expected momentum > 0)"
            )
        return optimizer.state[param].get("momentum_buffer") if param in optimizer.state else None
    raise ValueError(
        f"Invalid optimizer: {type(optimizer).__name__} has no momentum buffer "
        "(expected SGD with momentum or a layer-wise optimizer with momentum)"
    )


def has_momentum_buffer(optimizer: torch.optim.Optimizer) -> bool:
    """Whether :func:`momentum_buffer` can answer for ``optimizer`` (some group has momentum > 0)."""
    if not (callable(getattr(optimizer, "momentum_buffer", None)) or isinstance(optimizer, torch.optim.SGD)):
        return False
    return any(group.get("momentum", 0) > 0 for group in optimizer.param_groups)

"""The model registry behind :func:`realnets.models.build_model`.

A model factory is called as ``factory(input_shape=..., num_outputs=..., **options)`` and returns a
``torch.nn.Module`` mapping a batch ``(B, *input_shape)`` to logits (classification) or predictions
(regression) of shape ``(B, num_outputs)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

__all__ = ["ModelSpec", "build_model", "list_models", "register_model"]

Factory = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    factory: Factory


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, description: str) -> Callable[[Factory], Factory]:
    """Decorator adding a model factory to the registry under ``name``."""

    def add(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"Invalid model name: {name!r} (already registered)")
        _REGISTRY[name] = ModelSpec(name=name, description=description, factory=factory)
        return factory

    return add


def list_models() -> list[tuple[str, str]]:
    """All registered models as ``(name, one-line description)``, sorted by name."""
    return sorted((spec.name, spec.description) for spec in _REGISTRY.values())


def build_model(name: str, *, input_shape: Sequence[int], num_outputs: int, **options: Any) -> nn.Module:
    """Build a registered model.

    Args:
        name: One of :func:`list_models`.
        input_shape: Shape of one sample, e.g. ``(1, 28, 28)``, ``(3, 32, 32)``, ``(64,)`` or, for
            sequence models, ``(seq_len,)`` of token ids.
        num_outputs: Number of classes (logits) or regression outputs.
        **options: Model-specific options (``width``, ``norm``, ``ghost_batch_size``, ...).

    Initialisation draws from torch's global generator: call ``torch.manual_seed`` first for a
    deterministic model.

    Raises:
        ValueError: Unknown name (the message lists the valid ones), an input shape the model cannot
            handle, a bad ``num_outputs`` or an unknown option.
    """
    spec = _REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        valid = ", ".join(n for n, _ in list_models())
        raise ValueError(f"Invalid model name: {name!r} (expected one of: {valid})")
    shape = _checked_shape(input_shape)
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
        raise ValueError(f"Invalid num_outputs: {num_outputs!r} (expected an integer >= 1)")
    _check_options(spec, options)
    return spec.factory(input_shape=shape, num_outputs=num_outputs, **options)


def _checked_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"Invalid input_shape: {input_shape!r} (expected a tuple of positive ints)"
        ) from None
    if not shape or any(d < 1 for d in shape) or shape != tuple(input_shape):
        raise ValueError(f"Invalid input_shape: {input_shape!r} (expected a tuple of positive ints)")
    return shape


def _check_options(spec: ModelSpec, options: dict[str, Any]) -> None:
    accepted = [
        p for p in inspect.signature(spec.factory).parameters if p not in ("input_shape", "num_outputs")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"Invalid option for model {spec.name!r}: {', '.join(unknown)} (expected one of: {', '.join(accepted)})"
        )

"""Shared validation of model options and input shapes (one-line ``ValueError`` messages)."""

from __future__ import annotations

import math

__all__ = ["image_shape", "positive_int", "probability"]


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= 1)")
    return value


def probability(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value < 1
    ):
        raise ValueError(f"Invalid {name}: {value!r} (expected a number in [0, 1))")
    return float(value)


def image_shape(model: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(channels, height, width)`` of an image input, or a ValueError naming the model."""
    if len(input_shape) != 3:
        raise ValueError(
            f"Invalid input_shape for {model}: {input_shape} (expected (channels, height, width), "
            f"e.g. (1, 28, 28) or (3, 32, 32))"
        )
    return input_shape[0], input_shape[1], input_shape[2]

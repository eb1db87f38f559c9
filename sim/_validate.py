"""Input validation shared by every ``sim`` module.

Every helper raises ``ValueError("Invalid <name>: <value> (expected ...)")`` on bad input, non-finite
numbers included, and returns the value converted to the type the simulators work with.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "as_schedule",
    "finite_array",
    "finite_float",
    "int_at_least",
    "momentum_coefficient",
    "positive_float",
    "positive_int",
    "start_state",
]


def _as_float(name: str, value, expected: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {name}: {value!r} (expected {expected})") from None
    if not math.isfinite(out):
        raise ValueError(f"Invalid {name}: {value!r} (expected {expected})")
    return out


def _as_int(name: str, value, minimum: int, expected: str) -> int:
    # bool is an int subclass, but True as a sample count is always a caller's mistake
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (expected {expected})")
    return int(value)


def finite_float(name: str, value, *, positive: bool = False, nonnegative: bool = False) -> float:
    """A finite float, optionally required to be > 0 (``positive``) or >= 0 (``nonnegative``)."""
    out = _as_float(name, value, "a finite number")
    if positive and out <= 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected > 0)")
    if nonnegative and out < 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected >= 0)")
    return out


def positive_float(name: str, value) -> float:
    """A finite float > 0."""
    out = _as_float(name, value, "a positive finite number")
    if out <= 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a positive finite number)")
    return out


def int_at_least(name: str, value, *, minimum: int = 1) -> int:
    """A Python or NumPy integer (not a bool, not a float) that is at least ``minimum``."""
    return _as_int(name, value, minimum, f"an integer >= {minimum}")


def positive_int(name: str, value) -> int:
    """A Python or NumPy integer >= 1 (not a bool, not a float)."""
    return _as_int(name, value, 1, "a positive integer")


def momentum_coefficient(value) -> float:
    """A heavy-ball coefficient m in [0, 1)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid momentum: {value!r} (expected a number in [0, 1))") from None
    # the chained comparison is False for nan, so nan is rejected here too
    if not (0.0 <= out < 1.0):
        raise ValueError(f"Invalid momentum: {value!r} (expected a number in [0, 1))")
    return out


def finite_array(name: str, value, *, ndim: int | None = None, positive: bool = False,
                 nonnegative: bool = False) -> np.ndarray:
    """A fresh non-empty float array of finite entries, optionally of a given ``ndim`` and sign."""
    arr = np.array(value, dtype=float)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"Invalid {name}: shape {arr.shape} (expected a {ndim}-d array)")
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"Invalid {name}: {value!r} (expected a non-empty array of finite numbers)")
    if positive and np.any(arr <= 0):
        raise ValueError(f"Invalid {name}: {value!r} (expected all entries > 0)")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"Invalid {name}: {value!r} (expected all entries >= 0)")
    return arr


def start_state(name: str, value, runs: int, dim: int) -> np.ndarray:
    """Broadcast a scalar, (d,) or (runs, d) start point to a fresh (runs, d) array."""
    arr = finite_array(name, value)
    try:
        return np.array(np.broadcast_to(arr, (runs, dim)), dtype=float)
    except ValueError:
        raise ValueError(f"Invalid {name}: shape {arr.shape} (expected a scalar, ({dim},) or "
                         f"({runs}, {dim}))") from None


def as_schedule(name: str, value) -> Callable:
    """A constant or a callable, returned as a callable (a callable's values are validated when used)."""
    if callable(value):
        return value
    positive_float(name, value)
    return lambda *_: value

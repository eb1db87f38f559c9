"""Input validation shared by every ``sim`` module.

Every helper raises ``ValueError("Invalid <name>: <value> (expected ...)")`` on bad input, non-finite
numbers included, and returns the value converted to the type the simulators work with.

**Size guards.** A simulator asked for ``steps=10**12`` (or ``dt=1e-12``, or ``10**6`` batches of ``10**6``
samples) would run for days or exhaust memory before saying anything. :func:`check_size` refuses such a
call up front, with one line giving the estimate and the limit. Work is counted in element updates
(roughly 10^9 per second on one core, so the default :data:`MAX_WORK` of 10^11 is minutes), each
Python-level step adding :data:`STEP_OVERHEAD`; array memory is capped at :data:`MAX_MEMORY`. Every
guarded function takes ``max_work=``: a larger number raises the work limit for that call, ``None``
switches both checks off.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "MAX_MEMORY",
    "MAX_WORK",
    "STEP_OVERHEAD",
    "as_schedule",
    "brief",
    "check_size",
    "finite_array",
    "finite_float",
    "int_at_least",
    "momentum_coefficient",
    "positive_float",
    "positive_int",
    "start_state",
]


#: Default cap on the estimated work of one call, in element updates (~10^9 per second on one core).
MAX_WORK = 1e11
#: The Python-level cost of one simulated step, counted as this many element updates (about 10 microseconds).
STEP_OVERHEAD = 10_000
#: Largest estimated array memory of one call, in bytes (8 GiB), unless ``max_work=None``.
MAX_MEMORY = 8 * 2**30


def check_size(what: str, *, work: float, max_work=MAX_WORK, memory: float = 0.0, detail: str = "") -> None:
    """Refuse a call whose estimated work or memory is absurd, before any of it is done.

    Args:
        what: the parameter the size comes from (``"steps"``, ``"dt"``, ``"batches"``), named in the error.
        work: the estimated number of element updates (see the module docstring).
        max_work: the work limit (default :data:`MAX_WORK`); ``None`` switches every size check off.
        memory: the estimated array memory in bytes, checked against :data:`MAX_MEMORY`.
        detail: how the estimate was made (e.g. ``"steps=10**12 x (runs*d=1000 + 10000)"``), for the message.

    Raises:
        ValueError: ``Invalid <what>: ...`` naming the estimate and the limit, on one line.
    """
    if max_work is None:
        return
    limit = positive_float("max_work", max_work)
    how = f" ({detail})" if detail else ""
    if work > limit:
        raise ValueError(
            f"Invalid {what}: about {work:.3g} element updates{how} (expected at most max_work={limit:.3g};"
            " pass a larger max_work=, or max_work=None for no limit)"
        )
    if memory > MAX_MEMORY:
        raise ValueError(
            f"Invalid {what}: about {memory / 2**30:.3g} GiB of arrays{how} (expected at most "
            f"{MAX_MEMORY / 2**30:g} GiB; pass max_work=None for no limit)"
        )


def brief(value, limit: int = 80) -> str:
    """``repr(value)`` on one line, shortened to about ``limit`` characters (arrays print over many lines)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 5] + " ...)"


def _not_a_number(value) -> bool:
    # float("0.1") and float(True) succeed, but a string or a bool for a rate or a size is a caller's mistake
    return isinstance(value, (bool, np.bool_, str, bytes))


def _as_float(name: str, value, expected: str) -> float:
    if _not_a_number(value):
        raise ValueError(f"Invalid {name}: {value!r} (expected {expected})")
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"Invalid {name}: {brief(value)} (expected {expected})") from None
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
        out = _as_float("momentum", value, "a number in [0, 1)")
    except ValueError:
        raise ValueError(f"Invalid momentum: {brief(value)} (expected a number in [0, 1))") from None
    # the chained comparison is False for nan, so nan is rejected here too
    if not (0.0 <= out < 1.0):
        raise ValueError(f"Invalid momentum: {value!r} (expected a number in [0, 1))")
    return out


def finite_array(
    name: str, value, *, ndim: int | None = None, positive: bool = False, nonnegative: bool = False
) -> np.ndarray:
    """A fresh non-empty float array of finite entries, optionally of a given ``ndim`` and sign."""
    expected = "a non-empty array of finite numbers"
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "iuf":  # bools, strings, ragged lists (object arrays)
            raise TypeError
        if not isinstance(value, np.ndarray) and raw.dtype.kind in "iu" and raw.size:
            # a list that mixes bools into integers ([True, 2]) becomes an int array
            if any(isinstance(v, (bool, np.bool_)) for v in np.asarray(value, dtype=object).ravel()):
                raise TypeError
        arr = np.array(raw, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"Invalid {name}: {brief(value)} (expected {expected})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"Invalid {name}: shape {arr.shape} (expected a {ndim}-d array)")
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"Invalid {name}: {brief(value)} (expected {expected})")
    if positive and np.any(arr <= 0):
        raise ValueError(f"Invalid {name}: {brief(value)} (expected all entries > 0)")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"Invalid {name}: {brief(value)} (expected all entries >= 0)")
    return arr


def start_state(name: str, value, runs: int, dim: int) -> np.ndarray:
    """Broadcast a scalar, (d,) or (runs, d) start point to a fresh (runs, d) array."""
    arr = finite_array(name, value)
    try:
        return np.array(np.broadcast_to(arr, (runs, dim)), dtype=float)
    except ValueError:
        raise ValueError(
            f"Invalid {name}: shape {arr.shape} (expected a scalar, ({dim},) or ({runs}, {dim}))"
        ) from None


def as_schedule(name: str, value) -> Callable:
    """A constant or a callable, returned as a callable (a callable's values are validated when used)."""
    if callable(value):
        return value
    positive_float(name, value)
    return lambda *_: value

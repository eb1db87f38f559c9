"""Input validation shared by every public ``theory`` function (the boundary between users and sympy/NumPy).

Every helper raises ``ValueError("Invalid <name>: <value> (expected ...)")``: one line naming the parameter,
the value it got and what it expected. Booleans are refused wherever a number is expected (``n=True`` is
always a caller's mistake, although ``bool`` is an ``int`` subclass), and so are strings, ``None`` and
other non-numeric objects, which NumPy would otherwise reject with a message that names no parameter.
"""

from __future__ import annotations

import numpy as np

__all__ = ["count_array", "number_array", "whole_number"]


def _brief(value, limit: int = 80) -> str:
    """``repr(value)`` on one line, shortened (an array's repr spans several lines)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 5] + " ...)"


def _not_numeric(name: str, value) -> ValueError:
    return ValueError(f"Invalid {name}: {_brief(value)} (expected a finite number or an array of numbers)")


def _bad_item(v) -> bool:
    return v is None or isinstance(v, (str, bytes, bool, np.bool_))


def number_array(
    name: str, value, *, positive: bool = False, nonnegative: bool = False, at_least: float | None = None
) -> np.ndarray:
    """Validate a numeric argument (scalar or array) and return it as a float array.

    Args:
        name: the parameter's name, used in the error message.
        value: a number, a sequence or an array of numbers (not bools, not strings).
        positive: require every entry > 0.
        nonnegative: require every entry >= 0.
        at_least: require every entry >= this bound.

    Raises:
        ValueError: ``Invalid <name>: <value> (expected ...)`` for non-numeric, non-finite or out-of-range input.
    """
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise _not_numeric(name, value)
    try:
        raw = np.asarray(value)
        # Python sequences may mix bools or strings into numbers (``[True, 2]`` becomes an int array)
        items = raw if isinstance(value, np.ndarray) else np.asarray(value, dtype=object)
    except (TypeError, ValueError):  # ragged nesting
        raise _not_numeric(name, value) from None
    if raw.dtype.kind in "bUSVMm" or (items.dtype.kind == "O" and any(_bad_item(v) for v in items.ravel())):
        raise _not_numeric(name, value)
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float, e.g. 10**400
        raise ValueError(f"Invalid {name}: {_brief(value)} (expected finite numbers)") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Invalid {name}: {_brief(value)} (expected finite numbers)")
    if positive and np.any(arr <= 0):
        raise ValueError(f"Invalid {name}: {_brief(value)} (expected > 0)")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"Invalid {name}: {_brief(value)} (expected >= 0)")
    if at_least is not None and np.any(arr < at_least):
        raise ValueError(f"Invalid {name}: {_brief(value)} (expected >= {at_least})")
    return arr


def count_array(name: str, value, *, at_least: int = 1) -> np.ndarray:
    """Validate whole-number input (a count: a batch size, a number of samples), scalar or array.

    Args:
        name: the parameter's name, used in the error message.
        value: whole numbers (floats such as ``4.0`` are accepted; ``4.5`` and bools are not).
        at_least: the smallest allowed count.

    Returns:
        The counts as a float array (so that they broadcast with the other float inputs).
    """
    arr = number_array(name, value, at_least=at_least)
    if np.any(arr != np.round(arr)):
        raise ValueError(f"Invalid {name}: {_brief(value)} (expected whole numbers >= {at_least})")
    return arr


def whole_number(name: str, value, *, at_least: int = 0) -> int:
    """A Python or NumPy integer (not a bool, not a float) that is at least ``at_least``, as an ``int``.

    Args:
        name: the parameter's name, used in the error message.
        value: the integer to check.
        at_least: the smallest allowed value.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < at_least:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= {at_least})")
    return int(value)

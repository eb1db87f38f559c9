"""Turning sympy expressions into fast NumPy functions, and validating numeric input at the boundary."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import sympy as sp


@cache
def _lambdify_cached(args: tuple[sp.Symbol, ...], expr: sp.Expr) -> Callable[..., np.ndarray]:
    return sp.lambdify(args, expr, modules=["scipy", "numpy"])


def lambdify(args: Sequence[sp.Symbol], expr: sp.Expr) -> Callable[..., np.ndarray]:
    """A cached NumPy function of ``expr`` with the fixed argument order ``args``."""
    return _lambdify_cached(tuple(args), expr)


def as_float_array(name: str, value, *, positive: bool = False, nonnegative: bool = False,
                   at_least: float | None = None) -> np.ndarray:
    """Validate a numeric argument (scalar or array) and return it as a float array.

    Raises:
        ValueError: ``Invalid <name>: <value> (expected ...)`` for non-finite or out-of-range input.
    """
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Invalid {name}: {value!r} (expected finite numbers)")
    if positive and np.any(arr <= 0):
        raise ValueError(f"Invalid {name}: {value!r} (expected > 0)")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"Invalid {name}: {value!r} (expected >= 0)")
    if at_least is not None and np.any(arr < at_least):
        raise ValueError(f"Invalid {name}: {value!r} (expected >= {at_least})")
    return arr


def scalar_or_array(arr: np.ndarray):
    """Return a Python float for 0-d results and the array otherwise."""
    arr = np.asarray(arr, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def is_zero(expr: sp.Expr) -> bool:
    """True when sympy proves ``expr`` identically zero."""
    return sp.simplify(expr) == 0


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)

"""Turning sympy expressions into fast NumPy functions, and validating numeric input at the boundary."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import sympy as sp

from theory._validate import number_array

__all__ = ["as_float_array", "close", "is_zero", "lambdify", "scalar_or_array"]


@cache
def _lambdify_cached(args: tuple[sp.Symbol, ...], expr: sp.Expr) -> Callable[..., np.ndarray]:
    return sp.lambdify(args, expr, modules=["scipy", "numpy"])


def lambdify(args: Sequence[sp.Symbol], expr: sp.Expr) -> Callable[..., np.ndarray]:
    """A cached NumPy function of ``expr`` with the fixed argument order ``args``.

    Args:
        args: the symbols, in the order the NumPy function takes them.
        expr: the sympy expression.
    """
    return _lambdify_cached(tuple(args), expr)


def as_float_array(
    name: str, value, *, positive: bool = False, nonnegative: bool = False, at_least: float | None = None
) -> np.ndarray:
    """Validate a numeric argument (scalar or array) and return it as a float array.

    The same as :func:`theory._validate.number_array` (kept here for the modules that import it from here).

    Args:
        name: the parameter's name, used in the error message.
        value: a number, a sequence or an array of numbers (bools and strings are refused).
        positive: require every entry > 0.
        nonnegative: require every entry >= 0.
        at_least: require every entry >= this bound.

    Raises:
        ValueError: ``Invalid <name>: <value> (expected ...)`` for non-numeric, non-finite or out-of-range input.
    """
    return number_array(name, value, positive=positive, nonnegative=nonnegative, at_least=at_least)


def scalar_or_array(arr: np.ndarray):
    """Return a Python float for 0-d results and the array otherwise."""
    arr = np.asarray(arr, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def is_zero(expr: sp.Expr) -> bool:
    """True when sympy proves ``expr`` identically zero."""
    return sp.simplify(expr) == 0


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    """``math.isclose(a, b)`` with relative tolerance ``rel`` and absolute tolerance ``abs_``."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)

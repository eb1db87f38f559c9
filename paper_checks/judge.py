r"""Reusable verdict functions: measured numbers in, a verdict out, by the criteria a claim states.

Measurement and judgement are kept apart: a check computes its numbers, then calls one of these with
them and the claim's criterion (a z threshold, a band, a ranking). Each function is unit-tested on
synthetic evidence that reaches every verdict it can return (``tests/test_paper_checks_judge.py``).

Conventions: ``z`` is a number of standard errors; a ``band`` is a ratio ``(low, high)`` with
``0 < low <= 1 <= high``; every function returns one of :data:`paper_checks.registry.VERDICTS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = [
    "z_score",
    "within_z",
    "agreement",
    "ratio_in_band",
    "ranking",
    "all_or_some",
    "exact_match",
    "holds",
    "graded",
    "p_value",
]


def z_score(measured: float, target: float, stderr: float) -> float:
    r"""z = (measured - target) / stderr; infinite when stderr is 0 and the two differ."""
    if not stderr > 0:
        if measured == target:
            return 0.0
        return math.copysign(math.inf, measured - target)
    return (measured - target) / stderr


def within_z(measured: float, target: float, stderr: float, z: float) -> bool:
    r"""|measured - target| <= z · stderr."""
    return abs(z_score(measured, target, stderr)) <= z


def agreement(
    measured: float, stderr: float, paper: float, alternative: float | None, z: float, *, scale: bool = False
) -> str:
    r"""Compare a measurement with the paper's value, and with our derived alternative if there is one.

    ``confirmed`` when within z standard errors of the paper's value; otherwise ``refuted`` (or
    ``refuted at this scale`` with ``scale=True``, for measurements at a reduced scale) when within z of
    the alternative or when no alternative is given; ``partly`` when it matches neither.
    """
    if within_z(measured, paper, stderr, z):
        return "confirmed"
    wrong = "refuted at this scale" if scale else "refuted"
    if alternative is None or within_z(measured, alternative, stderr, z):
        return wrong
    return "partly"


def ratio_in_band(
    ratio: float,
    band: tuple[float, float],
    *,
    partial_band: tuple[float, float] | None = None,
    scale: bool = False,
) -> str:
    r"""``confirmed`` when low <= ratio <= high; ``partly`` when inside the wider ``partial_band``;
    otherwise ``refuted`` (``refuted at this scale`` with ``scale=True``). A non-finite ratio is refuted."""
    low, high = band
    if not 0 < low <= high:
        raise ValueError(f"Invalid band: {band!r} (expected 0 < low <= high)")
    wrong = "refuted at this scale" if scale else "refuted"
    if not math.isfinite(ratio):
        return wrong
    if low <= ratio <= high:
        return "confirmed"
    if partial_band is not None and partial_band[0] <= ratio <= partial_band[1]:
        return "partly"
    return wrong


def ranking(
    values: Mapping[str, float],
    stderrs: Mapping[str, float],
    subject: str,
    z: float,
    *,
    lower_is_better: bool = True,
    scale: bool = False,
) -> str:
    r"""Is ``subject`` the best of ``values``, beyond noise?

    ``confirmed``: best, and ahead of the runner-up by more than z combined standard errors.
    ``partly``: not clearly separated from the best (within z of it, whether ahead or behind).
    ``refuted`` (``refuted at this scale`` with ``scale=True``): some other entry is better by more than z.
    """
    if subject not in values or len(values) < 2:
        raise ValueError(f"Invalid ranking: {subject!r} among {sorted(values)} (expected it among 2 or more)")
    sign = 1.0 if lower_is_better else -1.0
    others = [k for k in values if k != subject]
    best_other = min(others, key=lambda k: sign * values[k])
    gap = sign * (values[best_other] - values[subject])  # > 0: subject ahead
    se = math.hypot(stderrs[subject], stderrs[best_other])
    z_gap = z_score(gap, 0.0, se)
    if z_gap > z:
        return "confirmed"
    if z_gap >= -z:
        return "partly"
    return "refuted at this scale" if scale else "refuted"


def all_or_some(results: Sequence[bool], *, scale: bool = False) -> str:
    r"""``confirmed`` when every part holds, ``partly`` when some do, ``refuted`` when none does."""
    if not results:
        raise ValueError("Invalid results: [] (expected at least one part of the claim)")
    if all(results):
        return "confirmed"
    if any(results):
        return "partly"
    return "refuted at this scale" if scale else "refuted"


def exact_match(ours: object, printed: object) -> str:
    r"""A transcription or arithmetic check: ``confirmed`` when equal, else ``refuted``."""
    return "confirmed" if ours == printed else "refuted"


def holds(ok: bool, *, scale: bool = False) -> str:
    r"""A single criterion: ``confirmed`` when it holds, else ``refuted`` (``refuted at this scale`` with
    ``scale=True``)."""
    if ok:
        return "confirmed"
    return "refuted at this scale" if scale else "refuted"


def graded(full: bool, part: bool, *, scale: bool = False, powerless: bool = False) -> str:
    r"""A claim with a whole and a part: ``confirmed`` when the whole holds, ``partly`` when only the part
    does, else ``refuted`` (``refuted at this scale`` with ``scale=True``).

    ``powerless=True`` (the measurement cannot tell the alternatives apart, e.g. two runs that are identical
    because the quantity compared never enters them) overrides both: ``not reproducible at this scale``.
    """
    if powerless:
        return "not reproducible at this scale"
    if full:
        return "confirmed"
    if part:
        return "partly"
    return "refuted at this scale" if scale else "refuted"


def p_value(p: float, alpha: float, *, scale: bool = False) -> str:
    r"""A goodness-of-fit claim ("the law is Gaussian"): ``confirmed`` when the test's p >= alpha, else
    ``refuted`` (``refuted at this scale`` with ``scale=True``). A NaN p-value is refuted."""
    if not 0 < alpha < 1:
        raise ValueError(f"Invalid alpha: {alpha!r} (expected 0 < alpha < 1)")
    return holds(p >= alpha, scale=scale)

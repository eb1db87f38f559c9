"""Speed-up curves with a tuned learning rate, shared by :mod:`sim.quadratic` and :mod:`sim.least_squares`.

:math:`k(m)` is the first step at which a Monte-Carlo mean loss curve reaches a target (linearly
interpolated, delta-method standard error); the speed-up is :math:`s(m;m_0)=k(m_0)/k(m)` with the learning
rate tuned separately for every batch size (seed 002, Sec. 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim._validate import brief, finite_array, positive_float
from sim.estimate import Estimate

__all__ = [
    "LR_GRID_SIZE",
    "STABLE_FRACTION",
    "SpeedupCurve",
    "assemble_curve",
    "batch_grid",
    "critical_batch_from_speedup",
    "first_crossing",
    "tuned_crossing",
]

LR_GRID_SIZE = 16  # geometric learning-rate grid per tuning round
STABLE_FRACTION = 0.999  # the grid ends just below the stability edge 2/h_max (or 2(1+m)/h_max)


def first_crossing(mean: np.ndarray, stderr: np.ndarray, target: float, runs: int) -> Estimate:
    """First time the mean curve reaches ``target``, linearly interpolated, with a delta-method error.

    If :math:`\\hat L_k` crosses :math:`L_\\star` between steps k-1 and k, the crossing time is
    :math:`k^\\ast = k-1+(\\hat L_{k-1}-L_\\star)/(\\hat L_{k-1}-\\hat L_k)` and its standard error is
    :math:`\\mathrm{se}(\\hat L_k)/|\\hat L_{k-1}-\\hat L_k|` (first-order error propagation).
    """
    below = np.flatnonzero(mean <= target)
    if below.size == 0:
        return Estimate(math.inf, math.inf, runs)
    k = int(below[0])
    if k == 0:
        return Estimate(0.0, 0.0, runs)
    drop = mean[k - 1] - mean[k]
    k_star = k - 1 + (mean[k - 1] - target) / drop
    return Estimate(float(k_star), float(stderr[k] / drop), runs)


@dataclass(frozen=True)
class SpeedupCurve:
    """Steps to target against batch size, each at its own tuned learning rate.

    Attributes:
        batch_sizes: (K,) batch sizes :math:`m`.
        steps: (K,) :math:`k(m)` at the best learning rate.
        steps_stderr: (K,) its standard error (delta method at the best learning rate).
        best_lr: (K,) the tuned learning rate.
        speedup: (K,) :math:`s(m;m_0)=k(m_0)/k(m)`.
        speedup_stderr: (K,) its standard error (independent errors of the two k's).
        efficiency: (K,) :math:`s(m;m_0)\\,m_0/m` (1 on the ideal linear-scaling line).
        m0: the reference batch size.
        critical_batch: the batch at which the efficiency first drops to 1/2, interpolated in log m;
            ``nan`` when it never does on the grid.
    """

    batch_sizes: np.ndarray
    steps: np.ndarray
    steps_stderr: np.ndarray
    best_lr: np.ndarray
    speedup: np.ndarray
    speedup_stderr: np.ndarray
    efficiency: np.ndarray
    m0: float
    critical_batch: float


def critical_batch_from_speedup(batch_sizes, speedup, m0: float, level: float = 0.5) -> float:
    """The batch at which the scaling efficiency :math:`s(m;m_0)m_0/m` first falls to ``level``.

    With McCandlish's model :math:`s=(1+B_{noise}/m_0)/(1+B_{noise}/m)` the efficiency is
    :math:`(m_0+B_{noise})/(m+B_{noise})`, which equals 1/2 at :math:`m=B_{noise}+2m_0`, so for
    :math:`m_0\\ll B_{noise}` this definition recovers :math:`B_{noise}`.

    Args:
        batch_sizes: (K,) the batch sizes m, increasing.
        speedup: (K,) the speed-ups s(m; m0).
        m0: the reference batch size.
        level: the efficiency that defines the critical batch (1/2 by default).

    Returns:
        The crossing, log-linearly interpolated between grid points; ``nan`` if it never falls that low.
    """
    m = finite_array("batch_sizes", batch_sizes, ndim=1, positive=True)
    if np.any(np.diff(m) < 0):
        raise ValueError(f"Invalid batch_sizes: {brief(batch_sizes)} (expected increasing batch sizes)")
    try:  # a speed-up may be inf or nan (a batch size that never reached the target), so not finite_array
        s = np.asarray(speedup, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"Invalid speedup: {brief(speedup)} (expected numbers, one per batch size)"
        ) from None
    if s.shape != m.shape:
        raise ValueError(f"Invalid speedup: shape {s.shape} (expected {m.shape}, one per batch size)")
    m0 = positive_float("m0", m0)
    level = positive_float("level", level)
    if level > 1:
        raise ValueError(f"Invalid level: {level!r} (expected an efficiency in (0, 1])")
    eff = s * m0 / m
    below = np.flatnonzero(eff <= level)
    if below.size == 0:
        return math.nan
    i = int(below[0])
    if i == 0:
        return float(m[0])
    lo, hi = math.log(m[i - 1]), math.log(m[i])
    frac = (eff[i - 1] - level) / (eff[i - 1] - eff[i])
    return float(math.exp(lo + frac * (hi - lo)))


def _best_over_lrs(curve_fn, lrs: np.ndarray, target: float, runs: int) -> tuple[Estimate, float]:
    """Run a learning-rate sweep and return the fastest crossing and its learning rate."""
    means, stderrs = curve_fn(lrs)
    crossings = [first_crossing(means[:, g], stderrs[:, g], target, runs) for g in range(lrs.size)]
    g = int(np.argmin([c.mean for c in crossings]))
    return crossings[g], float(lrs[g])


def tuned_crossing(curve_fn, lr_max: float, target: float, runs: int, lrs=None):
    """Two rounds of geometric grid search: a coarse grid over (lr_max/1e3, lr_max), then a fine one."""
    if lrs is not None:
        return _best_over_lrs(curve_fn, finite_array("lrs", lrs, ndim=1, positive=True), target, runs)
    coarse = lr_max * np.geomspace(1e-3, 1.0, LR_GRID_SIZE)
    best, lr = _best_over_lrs(curve_fn, coarse, target, runs)
    ratio = coarse[1] / coarse[0]
    fine = np.geomspace(lr / ratio, min(lr * ratio, lr_max), LR_GRID_SIZE)
    best_fine, lr_fine = _best_over_lrs(curve_fn, fine, target, runs)
    return (best_fine, lr_fine) if best_fine.mean <= best.mean else (best, lr)


def assemble_curve(batch_sizes: np.ndarray, m0: float, results) -> SpeedupCurve:
    """A :class:`SpeedupCurve` from one ``(Estimate of k(m), best lr)`` pair per batch size."""
    steps = np.array([r[0].mean for r in results])
    steps_se = np.array([r[0].stderr for r in results])
    best_lr = np.array([r[1] for r in results])
    i0 = int(np.flatnonzero(batch_sizes == m0)[0])
    speedup = steps[i0] / steps
    rel = np.hypot(steps_se / steps, steps_se[i0] / steps[i0])
    speedup_se = speedup * rel
    speedup_se[i0] = 0.0
    efficiency = speedup * m0 / batch_sizes
    critical = critical_batch_from_speedup(batch_sizes, speedup, m0)
    return SpeedupCurve(
        batch_sizes, steps, steps_se, best_lr, speedup, speedup_se, efficiency, float(m0), critical
    )


def batch_grid(batch_sizes, m0) -> tuple[np.ndarray, float]:
    """The sorted, validated batch-size sweep and its reference ``m0`` (default: the smallest)."""
    grid = np.sort(finite_array("batch_sizes", batch_sizes, ndim=1))
    if np.any(grid < 1):
        raise ValueError(f"Invalid batch_sizes: {brief(batch_sizes)} (expected all >= 1)")
    m0 = float(grid[0]) if m0 is None else float(m0)
    if m0 not in grid:
        raise ValueError(f"Invalid m0: {m0!r} (expected one of batch_sizes)")
    return grid, m0

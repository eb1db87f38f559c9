"""Noisy quadratic model (NQM): many independent SGD runs at once, and its speed-up curves.

Vectorised over ``runs`` independent replicas (and, internally, over a grid of learning rates sharing the
same random numbers, so that tuning compares like with like).

**NQM** (McCandlish et al. 2018; Zhang et al. 2019). Loss :math:`L(x)=\\tfrac12\\sum_i h_i x_i^2`,
batch-``B`` gradient :math:`g=h\\odot x+\\sqrt{\\Sigma/B}\\odot\\xi`, :math:`\\xi\\sim\\mathcal N(0,I)`,
diagonal :math:`\\Sigma` (default :math:`\\Sigma=h`, the usual NQM choice). SGD
:math:`x\\leftarrow x-\\eta g`; heavy ball :math:`v\\leftarrow mv-\\eta g,\\;x\\leftarrow x+v`.

From these, :func:`simulated_steps_to_target` gives :math:`k(m)` (seed 002, Sec. 3) with a delta-method standard
error, and :func:`speedup_curve` gives the speed-up :math:`s(m;m_0)=k(m_0)/k(m)` with the learning rate
tuned separately for every batch size.

Note:
    The finite least-squares half (Ma, Bassily & Belkin 2018) now lives in :mod:`sim.least_squares`;
    its names are re-exported here so that ``from sim.quadratic import make_least_squares`` keeps working.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim._rng import as_generator
from sim._speedup import (
    LR_GRID_SIZE,
    STABLE_FRACTION,
    SpeedupCurve,
    assemble_curve,
    batch_grid,
    critical_batch_from_speedup,
    first_crossing,
    tuned_crossing,
)
from sim._validate import (
    MAX_WORK,
    STEP_OVERHEAD,
    as_schedule,
    check_size,
    finite_array,
    momentum_coefficient,
    positive_float,
    positive_int,
    start_state,
)
from sim.estimate import Estimate

# re-exported: the least-squares half moved to sim.least_squares (see the module Note)
from sim.least_squares import (
    LeastSquaresRun,
    epoch_batches,
    least_squares_solution,
    least_squares_speedup_curve,
    make_least_squares,
    simulate_least_squares,
    subset_batches,
)

__all__ = [
    "QuadraticRun",
    "LeastSquaresRun",
    "SpeedupCurve",
    "simulate",
    "simulated_steps_to_target",
    "speedup_curve",
    "critical_batch_from_speedup",
    "make_least_squares",
    "least_squares_solution",
    "simulate_least_squares",
    "least_squares_speedup_curve",
    "epoch_batches",
    "subset_batches",
]


# ----------------------------------------------------------------------------------------------------------
# noisy quadratic model


def _batch_value(value, runs: int) -> np.ndarray | float:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 1) or arr.shape not in ((), (runs,)):
        raise ValueError(f"Invalid batch_size: {value!r} (expected >= 1, a scalar or one per run)")
    return float(arr) if arr.ndim == 0 else arr[:, None]


# ----------------------------------------------------------------------------------------------------------
# noisy quadratic model


@dataclass(frozen=True)
class QuadraticRun:
    """Loss curves of many independent runs.

    Attributes:
        steps: (T,) step index of each record (0 is the start).
        mean_loss: (T,) Monte-Carlo mean of :math:`L(x_t)` over runs.
        stderr_loss: (T,) its standard error.
        samples: (T,) mean number of samples used up to each record.
        x: (runs, d) final states.
        runs: number of runs.
    """

    steps: np.ndarray
    mean_loss: np.ndarray
    stderr_loss: np.ndarray
    samples: np.ndarray
    x: np.ndarray
    runs: int

    def loss_at(self, i: int) -> Estimate:
        """The loss of record ``i`` as an :class:`~sim.estimate.Estimate`."""
        return Estimate(float(self.mean_loss[i]), float(self.stderr_loss[i]), self.runs)


def _loss_stats(x: np.ndarray, half_h: np.ndarray, runs: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the runs axis (-2) of ``sum(half_h * x**2)``."""
    loss = np.square(x) @ half_h
    mean = loss.mean(axis=-1)
    stderr = loss.std(axis=-1, ddof=1) / math.sqrt(runs) if runs > 1 else np.zeros_like(mean)
    return mean, stderr


class _NQMSweep:
    """SGD / heavy ball on the NQM for G learning rates at once, sharing every random number.

    State ``x`` has shape (G, runs, d). The constant-batch, constant-lr step is written with in-place
    operations on preallocated buffers because its throughput is what ``sim.bench`` measures.
    """

    def __init__(self, h, noise, lrs, momentum, x0, runs, rng):
        self.h, self.runs, self.rng = h, runs, rng
        self.half_h = 0.5 * h
        self.noise_std = np.sqrt(noise)
        self.lrs = lrs[:, None, None]
        self.momentum = momentum
        # a single learning rate reuses the caller's fresh (runs, d) start array instead of copying it
        shape = (lrs.size, runs, h.size)
        self.x = x0[None] if lrs.size == 1 and x0.shape == shape[1:] else np.array(np.broadcast_to(x0, shape))
        self.v = np.zeros_like(self.x) if momentum > 0 else None
        self.xi = np.empty((runs, h.size))
        self.kick = np.empty_like(self.x)
        self.drift = np.empty_like(self.x) if momentum > 0 else None

    def step(self, batch) -> None:
        # kick = lr * sqrt(Sigma / B) * xi ; one draw shared by all G learning rates
        self.rng.standard_normal(out=self.xi)
        np.multiply(self.xi, self.lrs * (self.noise_std / np.sqrt(batch)), out=self.kick)
        if self.v is None:
            self.x *= 1.0 - self.lrs * self.h
            self.x -= self.kick
            return
        np.multiply(self.x, self.lrs * self.h, out=self.drift)
        self.v *= self.momentum
        self.v -= self.drift
        self.v -= self.kick
        self.x += self.v

    def loss_stats(self):
        return _loss_stats(self.x, self.half_h, self.runs)

    def loss_per_run(self):
        return np.square(self.x[0]) @ self.half_h


def _nqm_inputs(h, noise, x0, momentum, runs):
    h = finite_array("h", h, ndim=1, positive=True)
    noise = h.copy() if noise is None else finite_array("noise", noise, ndim=1, nonnegative=True)
    if noise.shape != h.shape:
        raise ValueError(f"Invalid noise: shape {noise.shape} (expected {h.shape}, like h)")
    runs = positive_int("runs", runs)
    x0 = start_state("x0", x0, runs, h.size)
    return h, noise, x0, momentum_coefficient(momentum), runs


def simulate(
    h,
    noise=None,
    *,
    lr,
    batch_size,
    steps: int,
    momentum: float = 0.0,
    x0=1.0,
    runs: int = 1000,
    seed=None,
    record_every: int = 1,
    target: float | None = None,
    max_work=MAX_WORK,
) -> QuadraticRun:
    """Simulate SGD (or heavy-ball momentum) on the noisy quadratic model.

    .. math::
        g_t = h\\odot x_t + \\sqrt{\\Sigma / B_t}\\odot\\xi_t,\\qquad
        v_{t+1} = m v_t - \\eta_t g_t,\\qquad x_{t+1} = x_t + v_{t+1}

    (plain SGD for :math:`m=0`). Loss :math:`L(x)=\\frac12\\sum_i h_i x_i^2`.

    Args:
        h: (d,) positive Hessian eigenvalues.
        noise: (d,) per-sample gradient-noise variances :math:`\\Sigma_{ii}`; ``None`` means
            :math:`\\Sigma=h` (the NQM of Zhang et al. 2019).
        lr: learning rate :math:`\\eta`, or a callable ``lr(step) -> float``.
        batch_size: :math:`B`, or a callable ``batch_size(step, loss) -> B`` where ``loss`` is the (runs,)
            array of current per-run losses; it may return one batch size per run (adaptive policies).
        steps: number of updates.
        momentum: heavy-ball coefficient :math:`m\\in[0,1)`.
        x0: start point: scalar, (d,) or (runs, d).
        runs: number of independent runs.
        seed: int, ``numpy.random.Generator`` or None.
        record_every: record the loss every this many steps (the last step is always recorded).
        target: stop early once the mean loss is at or below this value.
        max_work: refuse runs whose estimated work, ``steps * (runs * d + STEP_OVERHEAD)`` element updates,
            exceeds this (default ``sim._validate.MAX_WORK``); ``None`` for no limit.

    Returns:
        A :class:`QuadraticRun`.

    Raises:
        ValueError: on invalid input (non-finite, non-positive, wrong shapes) or an absurd size.

    Note:
        Batch sizes need not be integers here: the model only uses :math:`\\Sigma/B`.
    """
    h, noise, x0, momentum, runs = _nqm_inputs(h, noise, x0, momentum, runs)
    steps = positive_int("steps", steps)
    record_every = positive_int("record_every", record_every)
    _check_nqm_size(
        "steps", steps, 1, runs, h.size, steps if target is not None else steps // record_every, max_work
    )
    lr_fn, batch_fn = as_schedule("lr", lr), as_schedule("batch_size", batch_size)
    sweep = _NQMSweep(h, noise, np.array([1.0]), momentum, x0, runs, as_generator(seed))
    constant = not (callable(lr) or callable(batch_size))
    records, samples_seen = [], 0.0
    _record_nqm(records, sweep, 0, samples_seen)
    if constant:
        batch = _batch_value(batch_size, runs)
        sweep.lrs[...] = positive_float("lr", lr)
    for t in range(steps):
        if not constant:
            batch = _batch_value(batch_fn(t, sweep.loss_per_run()), runs)
            sweep.lrs[...] = positive_float("lr", lr_fn(t))
        sweep.step(batch)
        samples_seen += float(np.mean(batch))
        last = t + 1 == steps
        if (t + 1) % record_every == 0 or last or target is not None:
            mean = _record_nqm(records, sweep, t + 1, samples_seen)
            if target is not None and mean <= target:
                break
    return _quadratic_run(records, sweep.x[0], runs)


def _check_nqm_size(what: str, steps: int, lrs: int, runs: int, dim: int, records: int, max_work) -> None:
    """Refuse an NQM loop of ``steps`` steps over (lrs, runs, dim) states whose cost is absurd."""
    width = lrs * runs * dim
    # five (lrs, runs, dim) float64 buffers, and about 200 bytes per recorded row
    check_size(
        what,
        work=steps * (width + STEP_OVERHEAD),
        max_work=max_work,
        memory=40.0 * width + 200.0 * (records + 1),
        detail=f"{steps} steps x ({lrs} lr x {runs} runs x {dim} dims + {STEP_OVERHEAD} per step)",
    )


def _record_nqm(records: list, sweep: _NQMSweep, step: int, samples: float) -> float:
    mean, stderr = sweep.loss_stats()
    records.append((step, float(mean[0]), float(stderr[0]), samples))
    return float(mean[0])


def _quadratic_run(records: list, x: np.ndarray, runs: int) -> QuadraticRun:
    arr = np.array(records, dtype=float)
    return QuadraticRun(arr[:, 0].astype(int), arr[:, 1], arr[:, 2], arr[:, 3], x, runs)


def simulated_steps_to_target(
    h,
    noise=None,
    *,
    lr,
    batch_size,
    target: float,
    max_steps: int,
    momentum: float = 0.0,
    x0=1.0,
    runs: int = 1000,
    seed=None,
    max_work=MAX_WORK,
) -> Estimate:
    r"""Monte-Carlo :math:`k(m)`: updates until the mean NQM loss first reaches ``target`` (seed 002, Sec. 3).

    The expected loss is estimated by the mean over ``runs``; the crossing step is interpolated
    linearly and its standard error propagated from the loss standard error (see ``sim._speedup.first_crossing``).
    (Called ``steps_to_target`` before; :func:`theory.critical_batch.steps_to_target` is McCandlish's closed
    form :math:`S_{min}(1+\mathcal B_{noise}/B)`.)

    Args:
        h: (d,) positive Hessian eigenvalues.
        noise: (d,) per-sample noise variances; ``None`` means :math:`\Sigma=h`.
        lr: learning rate :math:`\eta` (or a callable ``lr(step)``).
        batch_size: :math:`B` (or a callable, as in :func:`simulate`).
        target: the loss threshold.
        max_steps: give up after this many updates.
        momentum: heavy-ball coefficient in [0, 1).
        x0: start point: scalar, (d,) or (runs, d).
        runs: number of independent runs.
        seed: int, ``numpy.random.Generator`` or None.
        max_work: the size guard of :func:`simulate`.

    Returns:
        An Estimate of the crossing step; ``mean = inf`` if the target is not reached in ``max_steps``.
    """
    target = positive_float("target", target)
    run = simulate(
        h,
        noise,
        lr=lr,
        batch_size=batch_size,
        steps=max_steps,
        momentum=momentum,
        x0=x0,
        runs=runs,
        seed=seed,
        target=target,
        max_work=max_work,
    )
    return first_crossing(run.mean_loss, run.stderr_loss, target, runs)


def _nqm_sweep_curves(h, noise, x0, momentum, runs, seed, batch, max_steps, target):
    """A function lrs -> (mean, stderr) loss curves of shape (T, G) for one batch size."""

    def curves(lrs):
        sweep = _NQMSweep(h, noise, lrs, momentum, x0.copy(), runs, as_generator(seed))
        means, stderrs = [], []
        for t in range(max_steps + 1):
            mean, stderr = sweep.loss_stats()
            means.append(mean)
            stderrs.append(stderr)
            # the first learning rate to reach the target is the tuned one; later crossings cannot win
            if np.any(mean <= target) or t == max_steps:
                break
            sweep.step(batch)
        return np.array(means), np.array(stderrs)

    return curves


def speedup_curve(
    h,
    noise=None,
    *,
    batch_sizes,
    target: float,
    max_steps: int,
    m0=None,
    momentum: float = 0.0,
    x0=1.0,
    runs: int = 200,
    seed=None,
    lrs=None,
    max_work=MAX_WORK,
) -> SpeedupCurve:
    """Speed-up :math:`s(m;m_0)=k(m_0)/k(m)` on the NQM with the learning rate tuned per batch size.

    For every :math:`m`, :math:`k(m)=\\min_\\eta k(m,\\eta)` over a geometric grid below the stability
    edge :math:`2(1+m_{mom})/h_{max}` (two rounds: coarse, then fine around the best), every learning rate
    seeing the same random numbers. Seed 002, Sec. 3 (speed-up ratio); critical batch as in
    :func:`critical_batch_from_speedup`.

    Args:
        h: (d,) positive Hessian eigenvalues.
        noise: (d,) per-sample noise variances; ``None`` means :math:`\\Sigma=h`.
        batch_sizes: the sweep; ``m0`` (default: the smallest) must be one of them.
        target: the loss threshold defining :math:`k`.
        max_steps: the cap on :math:`k`.
        m0: the reference batch size of the speed-up.
        momentum: heavy-ball coefficient in [0, 1).
        x0: start point: scalar, (d,) or (runs, d).
        runs: independent runs per (batch size, learning rate).
        seed: int or None; every batch size and learning rate replays the same random numbers.
        lrs: optional explicit learning-rate grid (skips the two-round search).
        max_work: refuse sweeps whose worst-case work (every batch size, every grid learning rate, all
            ``max_steps``) exceeds this many element updates; ``None`` for no limit.
    """
    h, noise, x0, momentum, runs = _nqm_inputs(h, noise, x0, momentum, runs)
    target = positive_float("target", target)
    max_steps = positive_int("max_steps", max_steps)
    grid, m0 = batch_grid(batch_sizes, m0)
    n_lrs, rounds = (LR_GRID_SIZE, 2) if lrs is None else (np.size(lrs), 1)
    _check_nqm_size("max_steps", grid.size * rounds * max_steps, n_lrs, runs, h.size, max_steps, max_work)
    lr_max = STABLE_FRACTION * 2.0 * (1.0 + momentum) / float(h.max())
    results = []
    for batch in grid:
        curve_fn = _nqm_sweep_curves(h, noise, x0, momentum, runs, seed, float(batch), max_steps, target)
        results.append(tuned_crossing(curve_fn, lr_max, target, runs, lrs))
    return assemble_curve(grid, m0, results)

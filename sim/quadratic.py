"""Noisy quadratic model (NQM) and finite least squares: many independent SGD runs at once.

Two problems, both vectorised over ``runs`` independent replicas (and, internally, over a grid of
learning rates sharing the same random numbers, so that tuning compares like with like):

* **NQM** (McCandlish et al. 2018; Zhang et al. 2019). Loss :math:`L(x)=\\tfrac12\\sum_i h_i x_i^2`,
  batch-``B`` gradient :math:`g=h\\odot x+\\sqrt{\\Sigma/B}\\odot\\xi`, :math:`\\xi\\sim\\mathcal N(0,I)`,
  diagonal :math:`\\Sigma` (default :math:`\\Sigma=h`, the usual NQM choice). SGD
  :math:`x\\leftarrow x-\\eta g`; heavy ball :math:`v\\leftarrow mv-\\eta g,\\;x\\leftarrow x+v`.
* **Finite least squares** (Ma, Bassily & Belkin 2018). Rows :math:`x_j` of ``X`` (N, d), targets ``y``,
  :math:`L(w)=\\frac1{2N}\\|Xw-y\\|^2`; each epoch every run draws its own permutation and walks through it
  in batches of ``B`` (the last one smaller when ``B`` does not divide ``N``), so every sample is used
  exactly once per epoch.

From these, :func:`steps_to_target` gives :math:`k(m)` (seed 002, Sec. 3) with a delta-method standard
error, and :func:`speedup_curve` / :func:`least_squares_speedup_curve` give the speed-up
:math:`s(m;m_0)=k(m_0)/k(m)` with the learning rate tuned separately for every batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim._rng import as_generator
from sim.estimate import Estimate

__all__ = [
    "QuadraticRun",
    "LeastSquaresRun",
    "SpeedupCurve",
    "simulate",
    "steps_to_target",
    "speedup_curve",
    "critical_batch_from_speedup",
    "make_least_squares",
    "least_squares_solution",
    "simulate_least_squares",
    "least_squares_speedup_curve",
    "epoch_batches",
    "subset_batches",
]

LR_GRID_SIZE = 16  # geometric learning-rate grid per tuning round
STABLE_FRACTION = 0.999  # the grid ends just below the stability edge 2/h_max (or 2(1+m)/h_max)


# ----------------------------------------------------------------------------------------------------------
# validation helpers (shared by sim.sde and sim.convex)


def _positive_float(name: str, value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {name}: {value!r} (expected a positive finite number)") from None
    if not math.isfinite(out) or out <= 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a positive finite number)")
    return out


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Invalid {name}: {value!r} (expected a positive integer)")
    return int(value)


def _momentum(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid momentum: {value!r} (expected a number in [0, 1))") from None
    if not (0.0 <= out < 1.0):
        raise ValueError(f"Invalid momentum: {value!r} (expected a number in [0, 1))")
    return out


def _finite_array(name: str, value, *, ndim: int | None = None, positive: bool = False,
                  nonnegative: bool = False) -> np.ndarray:
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


def _start_state(name: str, value, runs: int, dim: int) -> np.ndarray:
    """Broadcast a scalar, (d,) or (runs, d) start point to a fresh (runs, d) array."""
    arr = _finite_array(name, value)
    try:
        return np.array(np.broadcast_to(arr, (runs, dim)), dtype=float)
    except ValueError:
        raise ValueError(f"Invalid {name}: shape {arr.shape} (expected a scalar, ({dim},) or "
                         f"({runs}, {dim}))") from None


def _schedule(name: str, value) -> Callable:
    """A constant or a callable, returned as a callable (validated when called)."""
    if callable(value):
        return value
    _positive_float(name, value)
    return lambda *_: value


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
    h = _finite_array("h", h, ndim=1, positive=True)
    noise = h.copy() if noise is None else _finite_array("noise", noise, ndim=1, nonnegative=True)
    if noise.shape != h.shape:
        raise ValueError(f"Invalid noise: shape {noise.shape} (expected {h.shape}, like h)")
    runs = _positive_int("runs", runs)
    x0 = _start_state("x0", x0, runs, h.size)
    return h, noise, x0, _momentum(momentum), runs


def simulate(h, noise=None, *, lr, batch_size, steps: int, momentum: float = 0.0, x0=1.0,
             runs: int = 1000, seed=None, record_every: int = 1, target: float | None = None
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

    Returns:
        A :class:`QuadraticRun`.

    Raises:
        ValueError: on invalid input (non-finite, non-positive, wrong shapes).

    Note:
        Batch sizes need not be integers here: the model only uses :math:`\\Sigma/B`.
    """
    h, noise, x0, momentum, runs = _nqm_inputs(h, noise, x0, momentum, runs)
    steps = _positive_int("steps", steps)
    record_every = _positive_int("record_every", record_every)
    lr_fn, batch_fn = _schedule("lr", lr), _schedule("batch_size", batch_size)
    sweep = _NQMSweep(h, noise, np.array([1.0]), momentum, x0, runs, as_generator(seed))
    constant = not (callable(lr) or callable(batch_size))
    records, samples_seen = [], 0.0
    _record_nqm(records, sweep, 0, samples_seen)
    if constant:
        batch = _batch_value(batch_size, runs)
        sweep.lrs[...] = _positive_float("lr", lr)
    for t in range(steps):
        if not constant:
            batch = _batch_value(batch_fn(t, sweep.loss_per_run()), runs)
            sweep.lrs[...] = _positive_float("lr", lr_fn(t))
        sweep.step(batch)
        samples_seen += float(np.mean(batch))
        last = t + 1 == steps
        if (t + 1) % record_every == 0 or last or target is not None:
            mean = _record_nqm(records, sweep, t + 1, samples_seen)
            if target is not None and mean <= target:
                break
    return _quadratic_run(records, sweep.x[0], runs)


def _record_nqm(records: list, sweep: _NQMSweep, step: int, samples: float) -> float:
    mean, stderr = sweep.loss_stats()
    records.append((step, float(mean[0]), float(stderr[0]), samples))
    return float(mean[0])


def _quadratic_run(records: list, x: np.ndarray, runs: int) -> QuadraticRun:
    arr = np.array(records, dtype=float)
    return QuadraticRun(arr[:, 0].astype(int), arr[:, 1], arr[:, 2], arr[:, 3], x, runs)


def _crossing(mean: np.ndarray, stderr: np.ndarray, target: float, runs: int) -> Estimate:
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


def steps_to_target(h, noise=None, *, lr, batch_size, target: float, max_steps: int,
                    momentum: float = 0.0, x0=1.0, runs: int = 1000, seed=None) -> Estimate:
    """:math:`k(m)`: updates until the expected NQM loss first reaches ``target`` (seed 002, Sec. 3).

    The expected loss is estimated by the mean over ``runs``; the crossing step is interpolated
    linearly and its standard error propagated from the loss standard error (see ``_crossing``).

    Returns:
        An Estimate of the crossing step; ``mean = inf`` if the target is not reached in ``max_steps``.
    """
    target = _positive_float("target", target)
    run = simulate(h, noise, lr=lr, batch_size=batch_size, steps=max_steps, momentum=momentum, x0=x0,
                   runs=runs, seed=seed, target=target)
    return _crossing(run.mean_loss, run.stderr_loss, target, runs)


# ----------------------------------------------------------------------------------------------------------
# speed-up curves with a tuned learning rate


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

    Returns:
        The crossing, log-linearly interpolated between grid points; ``nan`` if it never falls that low.
    """
    m = _finite_array("batch_sizes", batch_sizes, ndim=1, positive=True)
    s = np.asarray(speedup, dtype=float)
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
    crossings = [_crossing(means[:, g], stderrs[:, g], target, runs) for g in range(lrs.size)]
    g = int(np.argmin([c.mean for c in crossings]))
    return crossings[g], float(lrs[g])


def _tuned_crossing(curve_fn, lr_max: float, target: float, runs: int, lrs=None):
    """Two rounds of geometric grid search: a coarse grid over (lr_max/1e3, lr_max), then a fine one."""
    if lrs is not None:
        return _best_over_lrs(curve_fn, _finite_array("lrs", lrs, ndim=1, positive=True), target, runs)
    coarse = lr_max * np.geomspace(1e-3, 1.0, LR_GRID_SIZE)
    best, lr = _best_over_lrs(curve_fn, coarse, target, runs)
    ratio = coarse[1] / coarse[0]
    fine = np.geomspace(lr / ratio, min(lr * ratio, lr_max), LR_GRID_SIZE)
    best_fine, lr_fine = _best_over_lrs(curve_fn, fine, target, runs)
    return (best_fine, lr_fine) if best_fine.mean <= best.mean else (best, lr)


def _assemble_curve(batch_sizes: np.ndarray, m0: float, results) -> SpeedupCurve:
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
    return SpeedupCurve(batch_sizes, steps, steps_se, best_lr, speedup, speedup_se, efficiency, float(m0),
                        critical)


def _batch_grid(batch_sizes, m0):
    grid = np.sort(_finite_array("batch_sizes", batch_sizes, ndim=1))
    if np.any(grid < 1):
        raise ValueError(f"Invalid batch_sizes: {batch_sizes!r} (expected all >= 1)")
    m0 = float(grid[0]) if m0 is None else float(m0)
    if m0 not in grid:
        raise ValueError(f"Invalid m0: {m0!r} (expected one of batch_sizes)")
    return grid, m0


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


def speedup_curve(h, noise=None, *, batch_sizes, target: float, max_steps: int, m0=None,
                  momentum: float = 0.0, x0=1.0, runs: int = 200, seed=None, lrs=None) -> SpeedupCurve:
    """Speed-up :math:`s(m;m_0)=k(m_0)/k(m)` on the NQM with the learning rate tuned per batch size.

    For every :math:`m`, :math:`k(m)=\\min_\\eta k(m,\\eta)` over a geometric grid below the stability
    edge :math:`2(1+m_{mom})/h_{max}` (two rounds: coarse, then fine around the best), every learning rate
    seeing the same random numbers. Seed 002, Sec. 3 (speed-up ratio); critical batch as in
    :func:`critical_batch_from_speedup`.

    Args:
        batch_sizes: the sweep; ``m0`` (default: the smallest) must be one of them.
        target: the loss threshold defining :math:`k`.
        max_steps: the cap on :math:`k`.
        lrs: optional explicit learning-rate grid (skips the two-round search).
    """
    h, noise, x0, momentum, runs = _nqm_inputs(h, noise, x0, momentum, runs)
    target = _positive_float("target", target)
    max_steps = _positive_int("max_steps", max_steps)
    grid, m0 = _batch_grid(batch_sizes, m0)
    lr_max = STABLE_FRACTION * 2.0 * (1.0 + momentum) / float(h.max())
    results = []
    for batch in grid:
        curve_fn = _nqm_sweep_curves(h, noise, x0, momentum, runs, seed, float(batch), max_steps, target)
        results.append(_tuned_crossing(curve_fn, lr_max, target, runs, lrs))
    return _assemble_curve(grid, m0, results)


# ----------------------------------------------------------------------------------------------------------
# finite least squares, batches without replacement


def make_least_squares(n_samples: int, spectrum, *, label_noise: float = 0.0, seed=None):
    """A synthetic least-squares data set: rows :math:`x_j\\sim\\mathcal N(0,\\mathrm{diag}(\\lambda))`.

    Targets :math:`y=Xw^\\ast+\\sigma\\zeta` with :math:`w^\\ast\\sim\\mathcal N(0,I/d)`; ``label_noise = 0``
    gives the interpolation regime of Ma et al. (every per-sample gradient vanishes at :math:`w^\\ast`).
    Data sets of different ``n_samples`` drawn this way share one distribution.

    Returns:
        ``(X, y, w_star)``.
    """
    n_samples = _positive_int("n_samples", n_samples)
    spectrum = _finite_array("spectrum", spectrum, ndim=1, positive=True)
    label_noise = float(label_noise)
    if not math.isfinite(label_noise) or label_noise < 0:
        raise ValueError(f"Invalid label_noise: {label_noise!r} (expected a finite number >= 0)")
    rng = as_generator(seed)
    d = spectrum.size
    w_star = rng.standard_normal(d) / math.sqrt(d)
    X = rng.standard_normal((n_samples, d)) * np.sqrt(spectrum)
    y = X @ w_star + label_noise * rng.standard_normal(n_samples)
    return X, y, w_star


def least_squares_solution(X, y) -> tuple[np.ndarray, np.ndarray, float]:
    """The minimiser :math:`\\hat w`, Hessian :math:`H=X^\\top X/N` and minimum :math:`L^\\ast`.

    The loss is :math:`L(w)=\\frac1{2N}\\|Xw-y\\|^2`, so :math:`L(w)-L^\\ast=\\frac12(w-\\hat w)^\\top
    H(w-\\hat w)` exactly; the simulators use this form to evaluate the loss of many runs in
    :math:`O(d^2)` each.
    """
    X = _finite_array("X", X, ndim=2)
    y = _finite_array("y", y, ndim=1)
    if y.size != X.shape[0]:
        raise ValueError(f"Invalid y: length {y.size} (expected {X.shape[0]}, the rows of X)")
    w_hat, *_ = np.linalg.lstsq(X, y, rcond=None)
    H = X.T @ X / X.shape[0]
    residual = X @ w_hat - y
    return w_hat, H, float(0.5 * np.mean(residual**2))


def epoch_batches(n_samples: int, batch_size: int, runs: int, rng) -> list[np.ndarray]:
    """One epoch of without-replacement batches for every run: a list of (runs, b) index arrays.

    Each run gets its own permutation of ``range(n_samples)``; the batches are consecutive slices of
    it, the last one shorter when ``batch_size`` does not divide ``n_samples``.
    """
    perm = rng.permuted(np.tile(np.arange(n_samples), (runs, 1)), axis=1)
    return [perm[:, s:s + batch_size] for s in range(0, n_samples, batch_size)]


@dataclass(frozen=True)
class LeastSquaresRun:
    """Excess-loss curves of finite least-squares SGD.

    Attributes:
        epochs: (T,) epochs completed at each record (fractional inside an epoch).
        updates: (T,) parameter updates made up to each record.
        mean_excess: (T,) Monte-Carlo mean of :math:`L(w_t)-L^\\ast`.
        stderr_excess: (T,) its standard error.
        w: (runs, d) final parameters.
        runs: number of runs.
    """

    epochs: np.ndarray
    updates: np.ndarray
    mean_excess: np.ndarray
    stderr_excess: np.ndarray
    w: np.ndarray
    runs: int


class _LeastSquaresSweep:
    """Finite least-squares SGD/heavy ball for G learning rates at once; w has shape (G, runs, d)."""

    def __init__(self, X, y, lrs, momentum, w0, runs, rng):
        self.X, self.y, self.rng, self.runs = X, y, rng, runs
        self.w_hat, self.H, _ = least_squares_solution(X, y)
        self.lrs = np.asarray(lrs, dtype=float)[:, None, None]
        self.momentum = momentum
        self.w = np.array(np.broadcast_to(w0, (self.lrs.shape[0], runs, X.shape[1])))
        self.v = np.zeros_like(self.w)

    def batch_gradient(self, idx: np.ndarray) -> np.ndarray:
        """(G, runs, d) mean gradient over the rows ``idx`` (runs, b) of each run."""
        Xb = self.X[idx]
        residual = np.einsum("rbd,grd->grb", Xb, self.w) - self.y[idx]
        return np.einsum("rbd,grb->grd", Xb, residual) / idx.shape[1]

    def step(self, idx: np.ndarray, lr_scale: float = 1.0) -> None:
        grad = self.batch_gradient(idx)
        self.v *= self.momentum
        self.v -= (lr_scale * self.lrs) * grad
        self.w += self.v

    def excess_stats(self):
        e = self.w - self.w_hat
        excess = 0.5 * np.einsum("grd,de,gre->gr", e, self.H, e)
        mean = excess.mean(axis=-1)
        stderr = excess.std(axis=-1, ddof=1) / math.sqrt(self.runs) if self.runs > 1 else 0.0 * mean
        return mean, stderr


def _ls_inputs(X, y, w0, momentum, runs):
    X = _finite_array("X", X, ndim=2)
    y = _finite_array("y", y, ndim=1)
    if y.size != X.shape[0]:
        raise ValueError(f"Invalid y: length {y.size} (expected {X.shape[0]}, the rows of X)")
    runs = _positive_int("runs", runs)
    w0 = np.zeros(X.shape[1]) if w0 is None else w0
    return X, y, _start_state("w0", w0, runs, X.shape[1]), _momentum(momentum), runs


def _epoch_int(name: str, value, n_samples: int) -> int:
    out = _positive_int(name, value)
    if out > n_samples:
        raise ValueError(f"Invalid {name}: {value!r} (expected at most the {n_samples} training samples)")
    return out


def subset_batches(n_samples: int, batch_size: int, runs: int, rng) -> list[np.ndarray]:
    """One "epoch" of ceil(N/B) independent batches, each a fresh without-replacement draw.

    Unlike :func:`epoch_batches`, successive batches are independent (a sample may appear in several or
    none); this is the sampling that the SDE's per-step covariance :math:`\\Sigma(1/B-1/N)` describes.
    """
    steps = math.ceil(n_samples / batch_size)
    return [_uniform_subsets(n_samples, batch_size, runs, rng) for _ in range(steps)]


def _uniform_subsets(n_samples: int, batch_size: int, runs: int, rng) -> np.ndarray:
    """(runs, B) uniformly random B-subsets of range(N), one per run."""
    if batch_size * batch_size > n_samples:  # duplicates would be common: shuffle instead
        return rng.permuted(np.tile(np.arange(n_samples), (runs, 1)), axis=1)[:, :batch_size]
    # B^2 <= N: draw with replacement and redraw the rows that hit a duplicate (at most ~40% of rows);
    # accepted rows are uniform over ordered distinct tuples, hence uniform subsets
    out = rng.integers(0, n_samples, size=(runs, batch_size))
    while True:
        ordered = np.sort(out, axis=1)
        bad = np.flatnonzero(np.any(ordered[:, 1:] == ordered[:, :-1], axis=1))
        if bad.size == 0:
            return out
        out[bad] = rng.integers(0, n_samples, size=(bad.size, batch_size))


def simulate_least_squares(X, y, *, lr, batch_size, epochs: int, momentum=0.0, w0=None,
                           runs: int = 100, seed=None, record: str = "epoch", sampling: str = "epoch"
                           ) -> LeastSquaresRun:
    """SGD (or heavy ball) on finite least squares with without-replacement batches.

    .. math::
        g_t=\\frac1{B_e}\\sum_{j\\in\\mathcal B_t}x_j(x_j^\\top w_t-y_j),\\qquad
        v_{t+1}=m_e v_t-\\epsilon_e g_t,\\qquad w_{t+1}=w_t+v_{t+1}

    where the learning rate :math:`\\epsilon_e`, batch :math:`B_e` and momentum :math:`m_e` are constant
    within epoch :math:`e` (the schedules of seed 004, Sec. 5: step changes at given epochs).

    Args:
        X, y: the training set (N, d) and (N,).
        lr: :math:`\\epsilon`, or a callable ``lr(epoch) -> float``.
        batch_size: :math:`B`, or a callable ``batch_size(epoch) -> int`` (at most N).
        epochs: number of epochs.
        momentum: :math:`m`, or a callable ``momentum(epoch) -> float``.
        w0: start point (scalar, (d,) or (runs, d)); default zeros.
        runs, seed: number of independent runs and the randomness.
        record: ``"epoch"`` (at every epoch end) or ``"step"`` (after every update).
        sampling: ``"epoch"`` (reshuffle once per epoch, :func:`epoch_batches`) or ``"subset"`` (a fresh
            without-replacement batch at every update, :func:`subset_batches`).

    Returns:
        A :class:`LeastSquaresRun` (excess loss over :math:`L^\\ast` of the finite training set).
    """
    mom0 = momentum(0) if callable(momentum) else momentum
    X, y, w0, _, runs = _ls_inputs(X, y, w0, mom0, runs)
    epochs = _positive_int("epochs", epochs)
    if record not in ("epoch", "step"):
        raise ValueError(f"Invalid record: {record!r} (expected 'epoch' or 'step')")
    if sampling not in _SAMPLERS:
        raise ValueError(f"Invalid sampling: {sampling!r} (expected one of {sorted(_SAMPLERS)})")
    draw_epoch = _SAMPLERS[sampling]
    lr_fn, batch_fn = _schedule("lr", lr), _schedule("batch_size", batch_size)
    mom_fn = momentum if callable(momentum) else (lambda _e: momentum)
    rng = as_generator(seed)
    sweep = _LeastSquaresSweep(X, y, [1.0], 0.0, w0, runs, rng)
    n = X.shape[0]
    records, updates = [], 0
    _record_ls(records, sweep, 0.0, 0)
    for epoch in range(epochs):
        lr_e = _positive_float("lr", lr_fn(epoch))
        batch = _epoch_int("batch_size", batch_fn(epoch), n)
        sweep.momentum = _momentum(mom_fn(epoch))
        seen = 0
        for idx in draw_epoch(n, batch, runs, rng):
            sweep.step(idx, lr_e)
            updates += 1
            seen += idx.shape[1]
            if record == "step":
                _record_ls(records, sweep, epoch + seen / n, updates)
        if record == "epoch":
            _record_ls(records, sweep, float(epoch + 1), updates)
    arr = np.array(records, dtype=float)
    return LeastSquaresRun(arr[:, 0], arr[:, 1].astype(int), arr[:, 2], arr[:, 3], sweep.w[0], runs)


_SAMPLERS = {"epoch": epoch_batches, "subset": subset_batches}


def _record_ls(records: list, sweep: _LeastSquaresSweep, epoch: float, updates: int) -> None:
    mean, stderr = sweep.excess_stats()
    records.append((epoch, updates, float(mean[0]), float(np.asarray(stderr)[0])))


def _ls_sweep_curves(X, y, w0, runs, seed, batch, max_steps, target):
    """A function lrs -> (mean, stderr) excess-loss curves (T, G) for one batch size, per update."""
    n = X.shape[0]

    def curves(lrs):
        rng = as_generator(seed)
        sweep = _LeastSquaresSweep(X, y, lrs, 0.0, w0, runs, rng)
        mean, stderr = sweep.excess_stats()
        means, stderrs = [mean], [stderr]
        while len(means) <= max_steps and not np.any(means[-1] <= target):
            for idx in epoch_batches(n, batch, runs, rng):
                sweep.step(idx)
                mean, stderr = sweep.excess_stats()
                means.append(mean)
                stderrs.append(stderr)
                if len(means) > max_steps or np.any(mean <= target):
                    break
        return np.array(means), np.array(stderrs)

    return curves


def least_squares_speedup_curve(X, y, *, batch_sizes, target: float, max_steps: int, m0=None, w0=None,
                                runs: int = 64, seed=None, lrs=None) -> SpeedupCurve:
    """Speed-up curve of finite least-squares SGD with a tuned learning rate per batch size.

    :math:`k(m)` counts updates until the mean excess loss reaches ``target``; batches are drawn without
    replacement (epochs), and the learning rate is searched below :math:`2/\\lambda_1(H)` as in
    :func:`speedup_curve`. With ``y = X w*`` (interpolation) this is the setting of Ma et al. (2018),
    whose critical batch :math:`m^\\ast=\\beta/(\\lambda_1-\\lambda_d)+1` seed 002 (Sec. 3, Sec. 4.3) cites.

    Note:
        The stability edge of mini-batch SGD lies below :math:`2/\\lambda_1` for small batches; unstable
        learning rates simply never reach the target and lose the search.
    """
    X, y, w0, _, runs = _ls_inputs(X, y, w0, 0.0, runs)
    target = _positive_float("target", target)
    max_steps = _positive_int("max_steps", max_steps)
    grid, m0 = _batch_grid(batch_sizes, m0)
    if grid[-1] > X.shape[0]:
        raise ValueError(f"Invalid batch_sizes: {batch_sizes!r} (expected at most N = {X.shape[0]})")
    _, H, _ = least_squares_solution(X, y)
    lr_max = STABLE_FRACTION * 2.0 / float(np.linalg.eigvalsh(H)[-1])
    results = []
    with np.errstate(over="ignore", invalid="ignore"):
        for batch in grid:
            curve_fn = _ls_sweep_curves(X, y, w0, runs, seed, int(batch), max_steps, target)
            results.append(_tuned_crossing(curve_fn, lr_max, target, runs, lrs))
    return _assemble_curve(grid, m0, results)

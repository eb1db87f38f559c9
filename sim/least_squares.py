"""Finite least squares: many independent SGD runs over one data set, batches without replacement.

Ma, Bassily & Belkin (2018), cited by seed 002 (Sec. 3, Sec. 4.3). Rows :math:`x_j` of ``X`` (N, d),
targets ``y``, :math:`L(w)=\\frac1{2N}\\|Xw-y\\|^2`; each epoch every run draws its own permutation and
walks through it in batches of ``B`` (the last one smaller when ``B`` does not divide ``N``), so every
sample is used exactly once per epoch. Runs are vectorised (and, inside
:func:`least_squares_speedup_curve`, so is a grid of learning rates sharing the same random numbers).
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
    tuned_crossing,
)
from sim._validate import (
    MAX_WORK,
    STEP_OVERHEAD,
    as_schedule,
    check_size,
    finite_array,
    finite_float,
    momentum_coefficient,
    positive_float,
    positive_int,
    start_state,
)

__all__ = [
    "LeastSquaresRun",
    "epoch_batches",
    "least_squares_solution",
    "least_squares_speedup_curve",
    "make_least_squares",
    "simulate_least_squares",
    "subset_batches",
]


def make_least_squares(n_samples: int, spectrum, *, label_noise: float = 0.0, seed=None, max_work=MAX_WORK):
    """A synthetic least-squares data set: rows :math:`x_j\\sim\\mathcal N(0,\\mathrm{diag}(\\lambda))`.

    Targets :math:`y=Xw^\\ast+\\sigma\\zeta` with :math:`w^\\ast\\sim\\mathcal N(0,I/d)`; ``label_noise = 0``
    gives the interpolation regime of Ma et al. (every per-sample gradient vanishes at :math:`w^\\ast`).
    Data sets of different ``n_samples`` drawn this way share one distribution.

    Args:
        n_samples: N, the number of rows.
        spectrum: (d,) the eigenvalues lambda of the row covariance.
        label_noise: standard deviation of the Gaussian noise added to ``y = X w*``.
        seed: int, ``numpy.random.Generator`` or None.
        max_work: refuse data sets of more than this many entries (``n_samples * d``); ``None`` for no limit.

    Returns:
        ``(X, y, w_star)``.
    """
    n_samples = positive_int("n_samples", n_samples)
    spectrum = finite_array("spectrum", spectrum, ndim=1, positive=True)
    label_noise = finite_float("label_noise", label_noise, nonnegative=True)
    rng = as_generator(seed)
    d = spectrum.size
    cells = float(n_samples) * d
    check_size(
        "n_samples", work=cells, max_work=max_work, memory=16.0 * cells, detail=f"{n_samples} rows x {d}"
    )
    w_star = rng.standard_normal(d) / math.sqrt(d)
    X = rng.standard_normal((n_samples, d)) * np.sqrt(spectrum)
    y = X @ w_star + label_noise * rng.standard_normal(n_samples)
    return X, y, w_star


def least_squares_solution(X, y) -> tuple[np.ndarray, np.ndarray, float]:
    """The minimiser :math:`\\hat w`, Hessian :math:`H=X^\\top X/N` and minimum :math:`L^\\ast`.

    The loss is :math:`L(w)=\\frac1{2N}\\|Xw-y\\|^2`, so :math:`L(w)-L^\\ast=\\frac12(w-\\hat w)^\\top
    H(w-\\hat w)` exactly; the simulators use this form to evaluate the loss of many runs in
    :math:`O(d^2)` each.

    Args:
        X: (N, d) features.
        y: (N,) targets.
    """
    X = finite_array("X", X, ndim=2)
    y = finite_array("y", y, ndim=1)
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

    Args:
        n_samples: N.
        batch_size: B (the last batch holds the remainder when B does not divide N).
        runs: the number of runs, each with its own permutation.
        rng: a ``numpy.random.Generator``.
    """
    perm = rng.permuted(np.tile(np.arange(n_samples), (runs, 1)), axis=1)
    return [perm[:, s : s + batch_size] for s in range(0, n_samples, batch_size)]


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
    X = finite_array("X", X, ndim=2)
    y = finite_array("y", y, ndim=1)
    if y.size != X.shape[0]:
        raise ValueError(f"Invalid y: length {y.size} (expected {X.shape[0]}, the rows of X)")
    runs = positive_int("runs", runs)
    w0 = np.zeros(X.shape[1]) if w0 is None else w0
    return X, y, start_state("w0", w0, runs, X.shape[1]), momentum_coefficient(momentum), runs


def _epoch_int(name: str, value, n_samples: int) -> int:
    out = positive_int(name, value)
    if out > n_samples:
        raise ValueError(f"Invalid {name}: {value!r} (expected at most the {n_samples} training samples)")
    return out


def subset_batches(n_samples: int, batch_size: int, runs: int, rng) -> list[np.ndarray]:
    """One "epoch" of ceil(N/B) independent batches, each a fresh without-replacement draw.

    Unlike :func:`epoch_batches`, successive batches are independent (a sample may appear in several or
    none); this is the sampling that the SDE's per-step covariance :math:`\\Sigma(1/B-1/N)` describes.

    Args:
        n_samples: N.
        batch_size: B.
        runs: the number of runs.
        rng: a ``numpy.random.Generator``.
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


def simulate_least_squares(
    X,
    y,
    *,
    lr,
    batch_size,
    epochs: int,
    momentum=0.0,
    w0=None,
    runs: int = 100,
    seed=None,
    record: str = "epoch",
    sampling: str = "epoch",
    max_work=MAX_WORK,
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
        max_work: refuse runs whose estimated work, ``epochs * (runs * N * d + STEP_OVERHEAD)`` element
            updates (every sample touched once per epoch), exceeds this; ``None`` for no limit.

    Returns:
        A :class:`LeastSquaresRun` (excess loss over :math:`L^\\ast` of the finite training set).
    """
    mom0 = momentum(0) if callable(momentum) else momentum
    X, y, w0, _, runs = _ls_inputs(X, y, w0, mom0, runs)
    epochs = positive_int("epochs", epochs)
    n_rows, dim = X.shape
    check_size(
        "epochs",
        work=epochs * (runs * n_rows * dim + STEP_OVERHEAD),
        max_work=max_work,
        memory=8.0 * runs * n_rows * dim + 200.0 * epochs * (n_rows if record == "step" else 1),
        detail=f"{epochs} epochs x ({runs} runs x {n_rows} rows x {dim} dims + {STEP_OVERHEAD})",
    )
    if record not in ("epoch", "step"):
        raise ValueError(f"Invalid record: {record!r} (expected 'epoch' or 'step')")
    if sampling not in _SAMPLERS:
        raise ValueError(f"Invalid sampling: {sampling!r} (expected one of {sorted(_SAMPLERS)})")
    draw_epoch = _SAMPLERS[sampling]
    lr_fn, batch_fn = as_schedule("lr", lr), as_schedule("batch_size", batch_size)
    mom_fn = momentum if callable(momentum) else (lambda _e: momentum)
    rng = as_generator(seed)
    sweep = _LeastSquaresSweep(X, y, [1.0], 0.0, w0, runs, rng)
    n = X.shape[0]
    records, updates = [], 0
    _record_ls(records, sweep, 0.0, 0)
    for epoch in range(epochs):
        lr_e = positive_float("lr", lr_fn(epoch))
        batch = _epoch_int("batch_size", batch_fn(epoch), n)
        sweep.momentum = momentum_coefficient(mom_fn(epoch))
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


def least_squares_speedup_curve(
    X,
    y,
    *,
    batch_sizes,
    target: float,
    max_steps: int,
    m0=None,
    w0=None,
    runs: int = 64,
    seed=None,
    lrs=None,
    max_work=MAX_WORK,
) -> SpeedupCurve:
    """Speed-up curve of finite least-squares SGD with a tuned learning rate per batch size.

    :math:`k(m)` counts updates until the mean excess loss reaches ``target``; batches are drawn without
    replacement (epochs), and the learning rate is searched below :math:`2/\\lambda_1(H)` as in
    :func:`speedup_curve`. With ``y = X w*`` (interpolation) this is the setting of Ma et al. (2018),
    whose critical batch :math:`m^\\ast=\\beta/(\\lambda_1-\\lambda_d)+1` seed 002 (Sec. 3, Sec. 4.3) cites.

    Args:
        X: (N, d) features.
        y: (N,) targets.
        batch_sizes: the sweep (at most N); ``m0`` (default: the smallest) must be one of them.
        target: the excess-loss threshold defining :math:`k`.
        max_steps: the cap on :math:`k`.
        m0: the reference batch size of the speed-up.
        w0: start point (scalar, (d,) or (runs, d)); default zeros.
        runs: independent runs per (batch size, learning rate).
        seed: int or None; every batch size and learning rate replays the same random numbers.
        lrs: optional explicit learning-rate grid (skips the two-round search).
        max_work: refuse sweeps whose work, at least ``len(batch_sizes) * rounds * max_steps * (lrs * runs
            * d + STEP_OVERHEAD)`` element updates, exceeds this; ``None`` for no limit.

    Note:
        The stability edge of mini-batch SGD lies below :math:`2/\\lambda_1` for small batches; unstable
        learning rates simply never reach the target and lose the search.
    """
    X, y, w0, _, runs = _ls_inputs(X, y, w0, 0.0, runs)
    target = positive_float("target", target)
    max_steps = positive_int("max_steps", max_steps)
    grid, m0 = batch_grid(batch_sizes, m0)
    if grid[-1] > X.shape[0]:
        raise ValueError(f"Invalid batch_sizes: {batch_sizes!r} (expected at most N = {X.shape[0]})")
    n_lrs, rounds = (LR_GRID_SIZE, 2) if lrs is None else (np.size(lrs), 1)
    dim = X.shape[1]
    # a lower bound (batch gradients cost B times more): only sweeps absurd even so are refused
    check_size(
        "max_steps",
        work=grid.size * rounds * max_steps * (n_lrs * runs * dim + STEP_OVERHEAD),
        max_work=max_work,
        memory=40.0 * n_lrs * runs * dim + 16.0 * n_lrs * max_steps,
        detail=f"{grid.size} batch sizes x {rounds} rounds x {max_steps} steps x ({n_lrs} lrs x {runs} runs "
        f"x {dim} dims + {STEP_OVERHEAD})",
    )
    _, H, _ = least_squares_solution(X, y)
    lr_max = STABLE_FRACTION * 2.0 / float(np.linalg.eigvalsh(H)[-1])
    results = []
    with np.errstate(over="ignore", invalid="ignore"):
        for batch in grid:
            curve_fn = _ls_sweep_curves(X, y, w0, runs, seed, int(batch), max_steps, target)
            results.append(tuned_crossing(curve_fn, lr_max, target, runs, lrs))
    return assemble_curve(grid, m0, results)

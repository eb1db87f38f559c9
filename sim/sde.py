"""The SGD stochastic differential equation: Euler-Maruyama, schedule equivalence, momentum rule, SVAG.

The SDE (Smith & Le 2018; seed 004, Sec. 2). SGD with learning rate :math:`\\epsilon`, momentum
:math:`m` and batches of :math:`B` drawn without replacement from :math:`N` training samples is, to first
order in :math:`\\epsilon`, the Euler scheme of

.. math::
    dw = -\\nabla L(w)\\,dt + \\sqrt{\\tfrac{g}{N}\\,\\Sigma(w)}\\,dW,\\qquad
    g = \\frac{\\epsilon}{1-m}\\Big(\\frac NB-1\\Big),\\qquad t = \\frac{\\epsilon\\,k}{1-m},

with :math:`k` the number of updates and :math:`\\Sigma(w)=\\frac1{N-1}\\sum_j(\\nabla\\ell_j-\\nabla L)
(\\nabla\\ell_j-\\nabla L)^\\top` the per-sample gradient covariance of the finite training set. The
factor :math:`(N/B-1)/N = 1/B-1/N` is exact: it is the variance of a without-replacement batch mean,
:math:`\\mathrm{Var}[\\bar g_B]=\\Sigma\\,(1/B-1/N)`. For the noisy quadratic model (infinite data,
Gaussian noise of covariance :math:`\\Sigma/B` per batch) the same SDE holds with :math:`N\\to\\infty`.

Everything here is vectorised over ``runs`` and returns Monte-Carlo estimates with standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from sim._rng import as_generator, spawn
from sim._validate import (
    MAX_WORK,
    STEP_OVERHEAD,
    brief,
    check_size,
    finite_array,
    momentum_coefficient,
    positive_float,
    positive_int,
    start_state,
)
from sim.least_squares import (
    LeastSquaresRun,
    _LeastSquaresSweep,
    least_squares_solution,
    simulate_least_squares,
)
from sim.quadratic import QuadraticRun, _nqm_inputs

__all__ = [
    "noise_scale",
    "diffusion_coefficient",
    "simulate_quadratic_sde",
    "simulate_least_squares_sde",
    "step_schedule",
    "smith_schedules",
    "momentum_scaled_batch",
    "ScheduleComparison",
    "compare_schedules",
    "updates_per_schedule",
    "svag_quadratic",
    "svag_least_squares",
]


def noise_scale(*, lr: float, n_train: float, batch_size: float, momentum: float = 0.0) -> float:
    """Smith & Le's SGD noise scale :math:`g=\\frac{\\epsilon}{1-m}(N/B-1)` (seed 004, Sec. 2 and Sec. 4).

    Written here independently of ``theory.noise_scale`` on purpose; a test pins the two together.

    Args:
        lr: the learning rate epsilon (> 0).
        n_train: the training-set size N (> 0).
        batch_size: B, at most N.
        momentum: m in [0, 1).
    """
    lr = positive_float("lr", lr)
    n_train = positive_float("n_train", n_train)
    batch_size = positive_float("batch_size", batch_size)
    if batch_size > n_train:
        raise ValueError(f"Invalid batch_size: {batch_size!r} (expected at most n_train = {n_train})")
    return lr / (1.0 - momentum_coefficient(momentum)) * (n_train / batch_size - 1.0)


def diffusion_coefficient(
    lr: float, batch_size: float, n_train: float = math.inf, momentum: float = 0.0
) -> float:
    """The factor :math:`g/N=\\frac{\\epsilon}{1-m}(1/B-1/N)` multiplying :math:`\\Sigma` in the SDE.

    ``n_train = inf`` gives the infinite-data (NQM) value :math:`\\epsilon/(B(1-m))`.

    Args:
        lr: the learning rate epsilon.
        batch_size: B.
        n_train: N (``inf``: sampling with replacement, g/N = epsilon/B).
        momentum: m in [0, 1).
    """
    lr = positive_float("lr", lr)
    batch_size = positive_float("batch_size", batch_size)
    n_train = float(n_train)
    if not (n_train >= batch_size):
        raise ValueError(f"Invalid n_train: {n_train!r} (expected >= batch_size = {batch_size})")
    inv_n = 0.0 if math.isinf(n_train) else 1.0 / n_train
    return lr / (1.0 - momentum_coefficient(momentum)) * (1.0 / batch_size - inv_n)


# ----------------------------------------------------------------------------------------------------------
# Euler-Maruyama


def _check_dt(dt: float, time: float) -> None:
    if dt > time:  # one Euler step of length dt would simulate past the horizon
        raise ValueError(f"Invalid dt: {dt!r} (expected at most time = {time!r})")


def simulate_quadratic_sde(
    h,
    noise=None,
    *,
    coefficient: float,
    time: float,
    dt: float,
    x0=1.0,
    runs: int = 1000,
    seed=None,
    record_every: int = 1,
    max_work=MAX_WORK,
) -> QuadraticRun:
    """Euler-Maruyama for the NQM's SDE :math:`dx=-h\\odot x\\,dt+\\sqrt{c\\,\\Sigma}\\,dW`.

    Here :math:`c` is :func:`diffusion_coefficient` (e.g. :math:`\\epsilon/B` for SGD on the NQM). The
    returned ``steps`` count Euler steps; the SDE time of record ``i`` is ``steps[i] * dt``.

    Args:
        h, noise: as in :func:`sim.quadratic.simulate` (``noise=None`` means :math:`\\Sigma=h`).
        coefficient: :math:`c\\ge0`.
        time: horizon :math:`T`; ``round(T/dt)`` Euler steps are taken.
        dt: Euler step.
        x0: start point: scalar, (d,) or (runs, d).
        runs: number of independent paths.
        seed: int, ``numpy.random.Generator`` or None.
        record_every: record every this many Euler steps (the last one is always recorded).
        max_work: refuse calls whose estimated work, ``round(T/dt) * (runs * d + STEP_OVERHEAD)`` element
            updates, exceeds this; ``None`` for no limit.
    """
    h, noise, x, _, runs = _nqm_inputs(h, noise, x0, 0.0, runs)
    coefficient = float(coefficient)
    if not math.isfinite(coefficient) or coefficient < 0:
        raise ValueError(f"Invalid coefficient: {coefficient!r} (expected a finite number >= 0)")
    dt, time = positive_float("dt", dt), positive_float("time", time)
    _check_dt(dt, time)
    steps = positive_int("steps", max(1, round(time / dt)))
    record_every = positive_int("record_every", record_every)
    _check_loop("dt", steps, runs * h.size, steps // record_every, max_work, "time/dt")
    rng = as_generator(seed)
    decay = 1.0 - dt * h
    kick_std = np.sqrt(dt * coefficient * noise)
    half_h = 0.5 * h
    xi = np.empty_like(x)
    records = [_nqm_record(0, x, half_h)]
    for k in range(1, steps + 1):
        rng.standard_normal(out=xi)
        xi *= kick_std
        x *= decay
        x += xi
        if k % record_every == 0 or k == steps:
            records.append(_nqm_record(k, x, half_h))
    arr = np.array(records)
    return QuadraticRun(arr[:, 0].astype(int), arr[:, 1], arr[:, 2], np.zeros(len(records)), x, runs)


def _check_loop(what: str, steps: int, width: int, records: int, max_work, how: str) -> None:
    """Refuse a loop of ``steps`` vectorised steps over ``width`` values whose cost is absurd."""
    check_size(
        what,
        work=steps * (width + STEP_OVERHEAD),
        max_work=max_work,
        memory=32.0 * width + 200.0 * (records + 1),
        detail=f"{steps:.3g} steps ({how}) x ({width} values + {STEP_OVERHEAD} per step)",
    )


def _nqm_record(step: int, x: np.ndarray, half_h: np.ndarray) -> tuple[float, float, float]:
    loss = np.square(x) @ half_h
    return step, float(loss.mean()), _stderr(loss)


def _stderr(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0


def simulate_least_squares_sde(
    X,
    y,
    *,
    coefficient: float,
    time: float,
    dt: float,
    w0=None,
    runs: int = 100,
    seed=None,
    record_every: int = 1,
    max_work=MAX_WORK,
) -> LeastSquaresRun:
    """Euler-Maruyama for :math:`dw=-\\nabla L\\,dt+\\sqrt{c\\,\\Sigma(w)}\\,dW` on finite least squares.

    :math:`\\Sigma(w)` is the unbiased per-sample gradient covariance of the training set at the current
    state. Its square root is never formed: with :math:`z\\sim\\mathcal N(0,I_N)`,
    :math:`\\frac1{\\sqrt{N-1}}\\sum_j(\\nabla\\ell_j-\\nabla L)z_j` has covariance exactly :math:`\\Sigma(w)`,
    at the cost of one full-batch gradient per step.

    Args:
        X: (N, d) features.
        y: (N,) targets.
        coefficient: :math:`c\\ge0` (:func:`diffusion_coefficient`).
        time: horizon :math:`T`; ``round(T/dt)`` Euler steps are taken.
        dt: Euler step.
        w0: start point (scalar, (d,) or (runs, d)); default zeros.
        runs: number of independent paths.
        seed: int, ``numpy.random.Generator`` or None.
        record_every: record every this many Euler steps (the last one is always recorded).
        max_work: refuse calls whose estimated work, ``round(T/dt) * (runs * N * d + STEP_OVERHEAD)``
            element updates, exceeds this; ``None`` for no limit.

    Returns:
        A :class:`~sim.quadratic.LeastSquaresRun` whose ``epochs`` field holds the SDE time of each record
        and ``updates`` the Euler step index.
    """
    X = finite_array("X", X, ndim=2)
    y = finite_array("y", y, ndim=1)
    runs = positive_int("runs", runs)
    n, d = X.shape
    w = start_state("w0", np.zeros(d) if w0 is None else w0, runs, d)
    coefficient = float(coefficient)
    if not math.isfinite(coefficient) or coefficient < 0:
        raise ValueError(f"Invalid coefficient: {coefficient!r} (expected a finite number >= 0)")
    dt, time = positive_float("dt", dt), positive_float("time", time)
    _check_dt(dt, time)
    steps = max(1, round(time / dt))
    record_every = positive_int("record_every", record_every)
    _check_loop("dt", steps, runs * n * d, steps // record_every, max_work, "time/dt")
    rng = as_generator(seed)
    w_hat, H, _ = least_squares_solution(X, y)
    kick_scale = math.sqrt(dt * coefficient / (n - 1)) if n > 1 else 0.0
    records = [_ls_record(0.0, 0, w, w_hat, H)]
    for k in range(1, steps + 1):
        residual = w @ X.T - y  # per-sample gradient j of run r is residual[r, j] * X[j]
        grad = residual @ X / n
        z = rng.standard_normal((runs, n))
        # sum_j (g_j - mean g) z_j without forming the (runs, N, d) per-sample gradients
        kick = (z * residual) @ X - grad * z.sum(axis=1, keepdims=True)
        w += -dt * grad + kick_scale * kick
        if k % record_every == 0 or k == steps:
            records.append(_ls_record(k * dt, k, w, w_hat, H))
    arr = np.array(records)
    return LeastSquaresRun(arr[:, 0], arr[:, 1].astype(int), arr[:, 2], arr[:, 3], w, runs)


def _ls_record(time: float, step: int, w, w_hat, H) -> tuple[float, float, float, float]:
    e = w - w_hat
    excess = 0.5 * np.einsum("rd,de,re->r", e, H, e)
    return time, step, float(excess.mean()), _stderr(excess)


# ----------------------------------------------------------------------------------------------------------
# schedules of seed 004


def _milestones(milestones) -> np.ndarray:
    marks = finite_array("milestones", milestones, ndim=1, nonnegative=True)
    if np.any(np.diff(marks) <= 0):  # [30, 6] for [30, 60], or a repeat that would apply the factor twice
        raise ValueError(f"Invalid milestones: {brief(milestones)} (expected increasing epochs)")
    return marks


def step_schedule(base: float, factor: float, milestones) -> Callable[[int], float]:
    """Piecewise-constant schedule ``epoch -> base * factor**(number of milestones <= epoch)``.

    Args:
        base: the value before the first milestone.
        factor: the multiplier applied at each milestone.
        milestones: the epochs at which it is applied.
    """
    base, factor = positive_float("base", base), positive_float("factor", factor)
    marks = _milestones(milestones)
    return lambda epoch: base * factor ** int(np.searchsorted(marks, epoch, side="right"))


def smith_schedules(
    lr: float, batch_size: int, *, factor: float = 5.0, milestones, max_batch: int | None = None
) -> dict[str, tuple[Callable, Callable]]:
    """The three schedules of seed 004, Sec. 5.1 (Fig. 1): each divides the noise scale by ``factor``
    at every milestone.

    * ``"decay_lr"``: :math:`B` fixed, :math:`\\epsilon\\to\\epsilon/\\text{factor}`;
    * ``"increase_batch"``: :math:`\\epsilon` fixed, :math:`B\\to B\\cdot\\text{factor}`;
    * ``"hybrid"``: grow :math:`B` while it stays at most ``max_batch`` (default: one growth step,
      as in the paper), then decay :math:`\\epsilon`.

    Args:
        lr: the initial learning rate epsilon.
        batch_size: the initial batch B.
        factor: the noise-scale reduction at each milestone.
        milestones: the epochs at which it is applied.
        max_batch: the largest batch the hybrid schedule may use (default ``B * factor``).

    Returns:
        ``name -> (lr(epoch), batch_size(epoch))``.
    """
    lr, factor = positive_float("lr", lr), positive_float("factor", factor)
    batch_size = positive_int("batch_size", batch_size)
    marks = _milestones(milestones)
    max_batch = round(batch_size * factor) if max_batch is None else positive_int("max_batch", max_batch)
    if max_batch < batch_size:
        raise ValueError(f"Invalid max_batch: {max_batch!r} (expected >= batch_size = {batch_size})")
    growths = int(math.floor(math.log(max_batch / batch_size) / math.log(factor) + 1e-9))

    def stage(epoch: int) -> int:
        return int(np.searchsorted(marks, epoch, side="right"))

    def hybrid_lr(epoch):
        return lr / factor ** max(0, stage(epoch) - growths)

    def hybrid_batch(epoch):
        return round(batch_size * factor ** min(stage(epoch), growths))

    return {
        "decay_lr": (lambda e: lr / factor ** stage(e), lambda e: batch_size),
        "increase_batch": (lambda e: lr, lambda e: round(batch_size * factor ** stage(e))),
        "hybrid": (hybrid_lr, hybrid_batch),
    }


def momentum_scaled_batch(
    batch_size: float, momentum: float, *, lr: float = 1.0, base_lr: float = 1.0, base_momentum: float = 0.0
) -> float:
    """The batch that keeps :math:`g=\\frac{\\epsilon}{1-m}(N/B-1)` fixed for :math:`B\\ll N`:
    :math:`B\\propto\\epsilon/(1-m)` (seed 004, Sec. 4 and Sec. 5.3).

    .. math:: B = B_0\\,\\frac{\\epsilon/(1-m)}{\\epsilon_0/(1-m_0)}

    Args:
        batch_size: the reference batch B0.
        momentum: the new momentum m.
        lr: the new learning rate epsilon.
        base_lr: the reference learning rate epsilon0.
        base_momentum: the reference momentum m0.
    """
    scale = (positive_float("lr", lr) / (1.0 - momentum_coefficient(momentum))) / (
        positive_float("base_lr", base_lr) / (1.0 - momentum_coefficient(base_momentum))
    )
    return positive_float("batch_size", batch_size) * scale


def updates_per_schedule(
    n_train: int, batch_size: Callable[[int], int], epochs: int, *, max_work=MAX_WORK
) -> int:
    """Parameter updates of a batch schedule: :math:`\\sum_e\\lceil N/B_e\\rceil`.

    Args:
        n_train: N.
        batch_size: the schedule, a callable ``epoch -> B_e``.
        epochs: the number of epochs.
        max_work: refuse more than ``max_work / STEP_OVERHEAD`` epochs (one Python call each); ``None`` for
            no limit.
    """
    n_train, epochs = positive_int("n_train", n_train), positive_int("epochs", epochs)
    if not callable(batch_size):
        raise ValueError(f"Invalid batch_size: {brief(batch_size)} (expected a callable epoch -> batch size)")
    check_size("epochs", work=float(epochs) * STEP_OVERHEAD, max_work=max_work, detail=f"{epochs} epochs")
    return int(
        sum(math.ceil(n_train / positive_float(f"batch_size({e})", batch_size(e))) for e in range(epochs))
    )


@dataclass(frozen=True)
class ScheduleComparison:
    """Loss against epochs for several schedules, and the largest pairwise disagreement.

    Attributes:
        runs: schedule name -> :class:`~sim.quadratic.LeastSquaresRun` (records at every epoch end).
        updates: schedule name -> number of parameter updates.
        max_abs_z: the largest :math:`|\\bar L_a-\\bar L_b|/\\sqrt{se_a^2+se_b^2}` over epochs and pairs
            (schedules use independent random numbers, so the errors add in quadrature).
        max_rel_diff: the largest relative difference of the mean losses over epochs and pairs.
    """

    runs: Mapping[str, LeastSquaresRun]
    updates: Mapping[str, int]
    max_abs_z: float
    max_rel_diff: float


def compare_schedules(
    X,
    y,
    schedules: Mapping[str, tuple],
    *,
    epochs: int,
    w0=None,
    runs: int = 100,
    seed=None,
    max_work=MAX_WORK,
) -> ScheduleComparison:
    """Run SGD on finite least squares under each schedule and compare loss against epochs.

    Args:
        schedules: name -> ``(lr, batch_size)`` or ``(lr, batch_size, momentum)``, each a constant or a
            callable of the epoch (as in :func:`sim.quadratic.simulate_least_squares`).
        X: (N, d) features.
        y: (N,) targets.
        epochs: number of epochs.
        w0: start point (scalar, (d,) or (runs, d)); default zeros.
        runs: independent runs per schedule.
        seed: every schedule gets an independent stream spawned from it.
        max_work: the size guard of :func:`sim.least_squares.simulate_least_squares`, per schedule.
    """
    if not schedules:
        raise ValueError("Invalid schedules: {} (expected at least one schedule)")
    rngs = spawn(seed, len(schedules))
    results: dict[str, LeastSquaresRun] = {}
    for rng, (name, spec) in zip(rngs, schedules.items()):
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
            raise ValueError(
                f"Invalid schedules[{name!r}]: {brief(spec)} (expected (lr, batch_size) or (lr, batch_size, momentum))"
            )
        lr, batch, *rest = spec
        results[name] = simulate_least_squares(
            X,
            y,
            lr=lr,
            batch_size=batch,
            epochs=epochs,
            momentum=rest[0] if rest else 0.0,
            w0=w0,
            runs=runs,
            seed=rng,
            max_work=max_work,
        )
    updates = {name: int(run.updates[-1]) for name, run in results.items()}
    max_z, max_rel = _max_disagreement(list(results.values()))
    return ScheduleComparison(results, updates, max_z, max_rel)


def _max_disagreement(runs: list[LeastSquaresRun]) -> tuple[float, float]:
    max_z = max_rel = 0.0
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            diff = np.abs(a.mean_excess - b.mean_excess)[1:]
            se = np.hypot(a.stderr_excess, b.stderr_excess)[1:]
            max_z = max(max_z, float(np.max(diff / se)))
            max_rel = max(max_rel, float(np.max(diff / np.minimum(a.mean_excess, b.mean_excess)[1:])))
    return max_z, max_rel


# ----------------------------------------------------------------------------------------------------------
# SVAG (Li, Malladi & Arora 2021)


def svag_quadratic(
    h,
    noise=None,
    *,
    lr: float,
    batch_size: float,
    amplification: int,
    time: float,
    x0=1.0,
    runs: int = 10000,
    seed=None,
    max_work=MAX_WORK,
) -> QuadraticRun:
    """Stochastic variance amplified gradient (SVAG) on the NQM.

    With two independent batch gradients :math:`g_1,g_2` and
    :math:`\\hat g=\\frac{1+\\sqrt{2l-1}}2g_1+\\frac{1-\\sqrt{2l-1}}2g_2` (mean :math:`\\nabla L`, noise
    covariance :math:`l\\,\\Sigma/B`), SVAG takes :math:`x\\leftarrow x-\\frac{\\eta}{l}\\hat g` for
    :math:`lT/\\eta` steps. Each step lasts :math:`dt=\\eta/l` of SDE time and injects noise covariance
    :math:`dt\\cdot\\eta\\Sigma/B`, so as :math:`l\\to\\infty` it converges weakly (order 1 in :math:`1/l`)
    to :math:`dx=-\\nabla L\\,dt+\\sqrt{\\eta\\Sigma/B}\\,dW`; :math:`l=1` is plain SGD.

    Args:
        h: (d,) positive Hessian eigenvalues.
        noise: (d,) per-sample noise variances; ``None`` means :math:`\\Sigma=h`.
        lr: learning rate :math:`\\eta`.
        batch_size: :math:`B`.
        amplification: :math:`l\\ge1`.
        time: SDE horizon :math:`T`; ``round(l T/eta)`` steps are taken.
        x0: start point: scalar, (d,) or (runs, d).
        runs: number of independent runs.
        seed: int, ``numpy.random.Generator`` or None.
        max_work: refuse calls whose estimated work, ``steps * (runs * d + STEP_OVERHEAD)`` element updates,
            exceeds this; ``None`` for no limit.

    Returns:
        A :class:`~sim.quadratic.QuadraticRun` with records at the start and at time ``time`` only.
    """
    h, noise, x, _, runs = _nqm_inputs(h, noise, x0, 0.0, runs)
    lr, batch_size = positive_float("lr", lr), positive_float("batch_size", batch_size)
    l = positive_int("amplification", amplification)  # noqa: E741 (Li et al. call it l)
    steps = max(1, round(l * positive_float("time", time) / lr))
    _check_loop("time", steps, runs * h.size, 1, max_work, "amplification*time/lr")
    rng = as_generator(seed)
    a, b = _svag_weights(l)
    step = lr / l
    noise_std = np.sqrt(noise / batch_size)
    half_h = 0.5 * h
    records = [_nqm_record(0, x, half_h)]
    xi1, xi2 = np.empty_like(x), np.empty_like(x)
    for _ in range(steps):
        rng.standard_normal(out=xi1)
        rng.standard_normal(out=xi2)
        g_hat = h * x + noise_std * (a * xi1 + b * xi2)
        x -= step * g_hat
    records.append(_nqm_record(steps, x, half_h))
    arr = np.array(records)
    return QuadraticRun(arr[:, 0].astype(int), arr[:, 1], arr[:, 2], np.zeros(2), x, runs)


def _svag_weights(amplification: int) -> tuple[float, float]:
    root = math.sqrt(2 * amplification - 1)
    return (1 + root) / 2, (1 - root) / 2


def svag_least_squares(
    X,
    y,
    *,
    lr: float,
    batch_size: int,
    amplification: int,
    time: float,
    w0=None,
    runs: int = 1000,
    seed=None,
    max_work=MAX_WORK,
) -> LeastSquaresRun:
    """SVAG on finite least squares with real batches: two independent without-replacement batches a step.

    Same update as :func:`svag_quadratic`, :math:`w\\leftarrow w-\\frac{\\eta}{l}\\big(a\\,g_{\\mathcal B_1}
    +b\\,g_{\\mathcal B_2}\\big)`, :math:`a,b=(1\\pm\\sqrt{2l-1})/2`, but the noise is the true,
    state-dependent and non-Gaussian batch noise of the training set. The limit :math:`l\\to\\infty` is the
    SDE of :func:`simulate_least_squares_sde` with ``coefficient`` :math:`=\\eta(1/B-1/N)`.

    Args:
        X: (N, d) features.
        y: (N,) targets.
        lr: learning rate :math:`\\eta`.
        batch_size: :math:`B\\le N`.
        amplification: :math:`l\\ge1`.
        time: SDE horizon :math:`T`; ``round(l T/eta)`` steps are taken.
        w0: start point (scalar, (d,) or (runs, d)); default zeros.
        runs: number of independent runs.
        seed: int, ``numpy.random.Generator`` or None.
        max_work: refuse calls whose estimated work, ``steps * (runs * (N + 2 B d) + STEP_OVERHEAD)`` element
            updates, exceeds this; ``None`` for no limit.

    Returns:
        A :class:`~sim.quadratic.LeastSquaresRun` with records at the start and at SDE time ``time``
        (``epochs`` holds the time, ``updates`` the number of SVAG steps).
    """
    X = finite_array("X", X, ndim=2)
    y = finite_array("y", y, ndim=1)
    n, d = X.shape
    runs = positive_int("runs", runs)
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"Invalid batch_size: {batch_size!r} (expected at most the {n} training samples)")
    l = positive_int("amplification", amplification)  # noqa: E741 (Li et al. call it l)
    steps = max(1, round(l * positive_float("time", time) / lr))
    _check_loop("time", steps, runs * (n + 2 * batch_size * d), 1, max_work, "amplification*time/lr")
    rng = as_generator(seed)
    w = start_state("w0", np.zeros(d) if w0 is None else w0, runs, d)
    sweep = _LeastSquaresSweep(X, y, [1.0], 0.0, w, runs, rng)
    a, b = _svag_weights(l)
    records = [_ls_record(0.0, 0, sweep.w[0], sweep.w_hat, sweep.H)]
    order = np.tile(np.arange(n), (runs, 1))
    for _ in range(steps):
        first = rng.permuted(order, axis=1)[:, :batch_size]
        second = rng.permuted(order, axis=1)[:, :batch_size]
        g_hat = a * sweep.batch_gradient(first) + b * sweep.batch_gradient(second)
        sweep.w -= (lr / l) * g_hat
    records.append(_ls_record(steps * lr / l, steps, sweep.w[0], sweep.w_hat, sweep.H))
    arr = np.array(records)
    return LeastSquaresRun(arr[:, 0], arr[:, 1].astype(int), arr[:, 2], arr[:, 3], sweep.w[0].copy(), runs)

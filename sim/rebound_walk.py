"""Monte-Carlo of the Gaussian walk with rebound and of whole batch-adaptive games (seed 000).

The game of seed 000 (Sec. 2.2, eq. 5-9; the model of Yin et al. 2017) treats the objective as a state
:math:`s_t \\in [S^*, \\infty)` that moves by a Gaussian die whose spread shrinks with the batch size:

.. math::

    \\Delta s_t \\sim \\mathcal N(\\mu_t, \\sigma_t^2 / m), \\qquad
    s_{t+1} = |s_t - S^* - \\eta\\,\\Delta s_t| + S^*.

A batch-adaptive (BA) player picks :math:`m^* = \\arg\\max_m u(m)` with
:math:`u(m) = (s_t - \\mathbb E_m[s_{t+1}]) / m` (eq. 8-9); a fixed player always uses the same ``m``.
Both spend one shared data budget counted in samples, so their final states compare like for like.

Everything here is written independently of ``theory``: the BA policy has its own folded-normal mean
and its own vectorised maximisers: the reference (a log-spaced grid refined by golden-section search) and a
fast one that solves the stationary condition of u in closed form (see :func:`maximise_utility`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx, ndtr

from sim._rng import as_generator
from sim._validate import MAX_WORK, check_size, finite_float, int_at_least
from sim.estimate import Estimate, estimate
from sim.grad_shrinkage import Population, batch_means

__all__ = [
    "Comparison",
    "ConstantDice",
    "Dice",
    "FIXED_SIZES",
    "QuadraticDice",
    "REGIMES",
    "GameResult",
    "Policy",
    "PolicyRow",
    "ba_policy",
    "ba_regime_table",
    "compare_policies",
    "constant_dice",
    "fixed_policy",
    "folded_normal_mean",
    "maximise_utility",
    "next_state_samples",
    "objective_decrease_samples",
    "one_step",
    "play",
    "quadratic_dice",
    "sim_utility",
]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
# Past this many standard deviations a rebound has probability Phi(-8) ~ 6e-16: for mu > 0, u(m) <= eta*mu/m
# then holds to double precision, so m* = 1 exactly and the search can be skipped.
_NO_REBOUND_A = 8.0
_GRID_POINTS = 25
_GOLDEN_ITERATIONS = 40
_DEFAULT_M_MAX = 1e9


def _check_state(s: float, s_star: float) -> None:
    if s < s_star:
        raise ValueError(f"Invalid s: {s!r} (expected >= s_star = {s_star})")


# --------------------------------------------------------------------------------------------------
# One step
# --------------------------------------------------------------------------------------------------


def next_state_samples(
    *, m, s, mu, sigma, eta, s_star=0.0, n=100_000, seed=None, max_work=MAX_WORK
) -> np.ndarray:
    """``n`` independent draws of the next state of the walk with rebound (seed 000, eq. 6).

    .. math:: s_{t+1} = |s_t - S^* - \\eta X| + S^*, \\qquad X \\sim \\mathcal N(\\mu, \\sigma^2/m).

    Args:
        m: batch size (> 0; non-integers are allowed for smooth studies).
        s: current state :math:`s_t \\ge S^*`.
        mu: mean of the die :math:`\\mu_t`.
        sigma: per-sample standard deviation :math:`\\sigma_t \\ge 0` (not the variance).
        eta: learning rate :math:`\\eta > 0`.
        s_star: the floor :math:`S^*`.
        n: number of draws.
        seed: int, numpy Generator or None.
        max_work: refuse ``n`` above this many draws (or arrays over 8 GiB); ``None`` for no limit.

    Returns:
        Array of shape ``(n,)``.
    """
    s, mu = finite_float("s", s), finite_float("mu", mu)
    sigma = finite_float("sigma", sigma, nonnegative=True)
    m, eta = finite_float("m", m, positive=True), finite_float("eta", eta, positive=True)
    s_star = finite_float("s_star", s_star)
    _check_state(s, s_star)
    n = int_at_least("n", n, minimum=2)
    check_size("n", work=n, max_work=max_work, memory=8.0 * n, detail=f"n={n} draws of 8 bytes")
    z = as_generator(seed).standard_normal(n)
    z *= -eta * sigma / math.sqrt(m)
    z += s - s_star - eta * mu
    np.abs(z, out=z)
    z += s_star
    return z


def one_step(*, m, s, mu, sigma, eta, s_star=0.0, n=100_000, seed=None, max_work=MAX_WORK) -> Estimate:
    """Monte-Carlo estimate of :math:`\\mathbb E_m[s_{t+1}]` for the walk with rebound (seed 000, eq. 6-7).

    Returns the mean of ``n`` draws of :func:`next_state_samples` with its standard error.

    Args:
        m: batch size (> 0).
        s: current state :math:`s_t \\ge S^*`.
        mu: mean of the die :math:`\\mu_t`.
        sigma: per-sample standard deviation :math:`\\sigma_t \\ge 0` (not the variance).
        eta: learning rate :math:`\\eta > 0`.
        s_star: the floor :math:`S^*`.
        n: number of draws.
        seed: int, numpy Generator or None.
        max_work: refuse ``n`` above this many draws (or arrays over 8 GiB); ``None`` for no limit.
    """
    draws = next_state_samples(
        m=m, s=s, mu=mu, sigma=sigma, eta=eta, s_star=s_star, n=n, seed=seed, max_work=max_work
    )
    return estimate(draws)


def objective_decrease_samples(
    grad, curvature, noise: Population, m: int, eta: float, *, draws: int = 20_000, seed=None
) -> np.ndarray:
    """Exact one-step change of a quadratic objective under SGD with batch ``m`` (seed 000 eq. 3, App. B).

    The objective is :math:`F(\\theta) = \\tfrac12\\sum_i h_i\\theta_i^2`, placed where its gradient is
    :math:`\\mathbf f` (so :math:`\\theta = \\mathbf f / h`); per-sample gradients are :math:`\\mathbf f + \\xi_j` with
    :math:`\\xi_j` drawn from ``noise``; the batch gradient is :math:`\\hat{\\mathbf f} = \\mathbf f + \\tfrac1m\\sum_j\\xi_j`. Then

    .. math::

        \\Delta F = F(\\theta - \\eta\\hat{\\mathbf f}) - F(\\theta)
        = -\\eta\\,\\mathbf f^\\top\\hat{\\mathbf f} + \\tfrac12\\eta^2\\sum_i h_i\\hat f_i^2 .

    Seed 000 keeps only the first term, which gives the Gaussian
    :math:`\\mathcal N(-\\eta\\mathbf f^\\top\\mathbf f, \\eta^2\\mathbf f^\\top\\Sigma\\mathbf f/m)` of eq. 3 when the
    noise is Gaussian or m is large (CLT); the second term skews the law when :math:`\\eta h` is not small.

    Args:
        grad: the full gradient :math:`\\mathbf f` (shape ``(d,)``).
        curvature: the diagonal Hessian :math:`h` (shape ``(d,)`` or scalar, > 0).
        noise: a zero-mean :class:`sim.grad_shrinkage.Population` with ``dims == d``.
        m: batch size.
        eta: learning rate.
        draws: number of independent batches.
        seed: int, numpy Generator or None.

    Returns:
        Array of shape ``(draws,)`` of :math:`\\Delta F` (negative: the objective went down).
    """
    f = np.atleast_1d(np.asarray(grad, dtype=float))
    h = np.broadcast_to(np.asarray(curvature, dtype=float), f.shape)
    if f.ndim != 1 or not (np.all(np.isfinite(f)) and np.all(np.isfinite(h))):
        raise ValueError(f"Invalid grad: {grad!r} (expected a finite 1-d array)")
    if np.any(h <= 0):
        raise ValueError(f"Invalid curvature: {curvature!r} (expected > 0)")
    if not isinstance(noise, Population) or noise.dims != f.size:
        raise ValueError(f"Invalid noise: {noise!r} (expected a Population with dims = {f.size})")
    eta = finite_float("eta", eta, positive=True)
    batch_grad = f + batch_means(
        noise, int_at_least("m", m), int_at_least("draws", draws, minimum=2), seed=seed
    )
    return -eta * batch_grad @ f + 0.5 * eta**2 * (batch_grad**2) @ h


# --------------------------------------------------------------------------------------------------
# The BA policy's own utility and maximiser
# --------------------------------------------------------------------------------------------------


def folded_normal_mean(nu, tau):
    """:math:`\\mathbb E|Y|` for :math:`Y \\sim \\mathcal N(\\nu, \\tau^2)`, elementwise (``tau > 0``).

    .. math:: \\mathbb E|Y| = \\tau\\sqrt{2/\\pi}\\,e^{-\\nu^2/(2\\tau^2)} + \\nu\\,(1 - 2\\Phi(-\\nu/\\tau)).

    This is seed 000 eq. 7 written for the distance to the floor: with
    :math:`\\nu = s - S^* - \\eta\\mu` and :math:`\\tau = \\eta\\sigma/\\sqrt m` it is
    :math:`\\mathbb E_m[s_{t+1}] - S^*`.

    Args:
        nu: the mean :math:`\\nu` of ``Y`` (array or scalar).
        tau: the standard deviation :math:`\\tau > 0` of ``Y`` (broadcast against ``nu``).
    """
    ratio = nu / tau
    return tau * _SQRT_2_OVER_PI * np.exp(-0.5 * ratio * ratio) + nu * (1.0 - 2.0 * ndtr(-ratio))


def _rebound_excess(nu, tau):
    """:math:`\\mathbb E|Y| - \\nu = 2\\tau\\,[\\varphi(a) - a\\Phi(-a)]` with :math:`a = \\nu/\\tau`: what the rebound adds.

    Written with the scaled complementary error function so that it stays accurate (and positive) far in the
    tail, where :math:`\\mathbb E|Y| - \\nu` would cancel to zero in floating point.
    """
    # A tau so small (sigma ~ 1e-180) that nu / tau overflows: the overflowing entries are replaced below by
    # the tau -> 0 limit, so the floating-point warnings of the intermediate steps carry no information.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        a = nu / tau
        phi = np.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
        # Phi(-a)/phi(a) = sqrt(pi/2) erfcx(a/sqrt 2) for a >= 0; for a < 0 the plain form does not cancel.
        # Each branch is evaluated only where it is needed (the same values as np.where over both, at less cost).
        nonnegative = a >= 0
        if np.all(nonnegative):
            tail = phi * (1.0 - a * (math.sqrt(math.pi / 2.0) * erfcx(a / math.sqrt(2.0))))
        elif not np.any(nonnegative):
            tail = phi - a * ndtr(-a)
        else:
            mills = math.sqrt(math.pi / 2.0) * erfcx(np.maximum(a, 0.0) / math.sqrt(2.0))
            tail = np.where(nonnegative, phi * (1.0 - a * mills), phi - a * ndtr(-a))
        excess = 2.0 * tau * tail
    overflowed = ~np.isfinite(excess)
    if np.any(overflowed):  # the deterministic limit: E|Y| - nu -> |nu| - nu as tau -> 0
        excess = np.where(overflowed, np.abs(nu) - nu, excess)
    return excess


def _utility(m, r, mu, sigma, eta):
    tau = eta * sigma / np.sqrt(m)
    return (eta * mu - _rebound_excess(r - eta * mu, tau)) / m


def _walk_arrays(s, mu, sigma, eta, s_star) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Validated ``(r, mu, sigma, eta)`` with ``r = s - s_star``, the distance to the floor."""
    arrays = []
    for name, value in (("s", s), ("mu", mu), ("sigma", sigma), ("s_star", s_star)):
        arr = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"Invalid {name}: {value!r} (expected finite numbers)")
        arrays.append(arr)
    r = arrays[0] - arrays[3]
    if np.any(r < 0):
        raise ValueError(f"Invalid s: {s!r} (expected s >= s_star = {s_star!r})")
    if np.any(arrays[2] < 0):
        raise ValueError(f"Invalid sigma: {sigma!r} (expected >= 0)")
    return r, arrays[1], arrays[2], finite_float("eta", eta, positive=True)


def sim_utility(*, m, s, mu, sigma, eta, s_star=0.0):
    """The utility :math:`u(m) = (s - \\mathbb E_m[s_{t+1}])/m` of seed 000 eq. 8, vectorised.

    Computed as :math:`u = (\\eta\\mu - (\\mathbb E|Y| - \\nu))/m` with :math:`\\nu = s - S^* - \\eta\\mu`, which equals
    :math:`(s - S^* - \\mathbb E|Y|)/m` but keeps the tiny rebound term instead of rounding it away.

    Args:
        m: batch size(s) > 0.
        s: current state(s) :math:`s_t \\ge S^*`.
        mu: die mean(s) :math:`\\mu`.
        sigma: per-sample standard deviation(s) :math:`\\sigma > 0` (not the variance).
        eta: learning rate :math:`\\eta > 0`.
        s_star: the floor :math:`S^*`.
    """
    m = np.asarray(m, dtype=float)
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"Invalid m: {m!r} (expected finite batch sizes > 0)")
    r, mu, sigma, eta = _walk_arrays(s, mu, sigma, eta, s_star)
    if np.any(sigma == 0):
        raise ValueError(f"Invalid sigma: {sigma!r} (expected > 0)")
    return _utility(m, r, mu, sigma, eta)


def _golden_refine(lo, hi, r, mu, sigma, eta):
    """Golden-section search for the maximum of ``u(exp(x))`` on ``[lo, hi]``, elementwise."""
    g = (math.sqrt(5.0) - 1.0) / 2.0

    def u_of(x):
        return _utility(np.exp(x), r, mu, sigma, eta)

    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    u1, u2 = u_of(x1), u_of(x2)
    for _ in range(_GOLDEN_ITERATIONS):
        # Keep the sub-bracket that holds the larger value; one new evaluation per iteration.
        left = u1 > u2
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        new_x1 = np.where(left, hi - g * (hi - lo), x2)
        new_x2 = np.where(left, x1, lo + g * (hi - lo))
        u_new = u_of(np.where(left, new_x1, new_x2))
        u1, u2 = np.where(left, u_new, u2), np.where(left, u1, u_new)
        x1, x2 = new_x1, new_x2
    return 0.5 * (lo + hi)


def _best_integer(m_cont, r, mu, sigma, eta, m_max):
    lo = np.clip(np.floor(m_cont), 1.0, m_max)
    hi = np.clip(lo + 1.0, 1.0, m_max)
    u_lo, u_hi = _utility(np.stack([lo, hi]), r, mu, sigma, eta)  # one pass over both candidates
    return np.where(u_hi >= u_lo, hi, lo)


def _search(r, mu, sigma, eta, m_max):
    """Integer argmax of u on [1, m_max] for walkers that may rebound (1-d arrays, one per walker)."""
    log_max = math.log(m_max)
    grid = np.linspace(0.0, log_max, _GRID_POINTS)
    values = np.stack([_utility(math.exp(x), r, mu, sigma, eta) for x in grid])
    # Ties go to the larger batch: flat stretches only occur where u creeps up to 0 from below.
    best = grid.size - 1 - np.argmax(values[::-1], axis=0)
    step = grid[1] - grid[0]
    lo = np.maximum(grid[best] - step, 0.0)
    hi = np.minimum(grid[best] + step, log_max)
    m_cont = np.exp(_golden_refine(lo, hi, r, mu, sigma, eta))
    return _best_integer(m_cont, r, mu, sigma, eta, m_max)


# The fast solver. With t = sqrt(m), x = r/(eta sigma), y = mu/sigma and d = x - y, seed 000 eq. 7-8 give
# u(m) = eta sigma [y - 2 g(d t)/t] / t^2 with g(a) = phi(a) - a Phi(-a), g'(a) = -Phi(-a), so
#     du/dt = (2 eta sigma / t^3) [3 phi(d t)/t - 2 d Phi(-d t) - y].
# The bracket falls strictly with t (its t-derivative is -phi(d t)(d^2 + 3/t^2)), so u is unimodal in m. For
# mu > 0 and 2 r > eta mu it changes sign once: with tau = t y and p = d/y = r/(eta mu) - 1 > -1/2 the
# stationary point solves H(tau) = 3 phi(p tau)/tau - 2 p Phi(-p tau) - 1 = 0, a function of p alone, and
#     m_c = (tau*(p) sigma / mu)^2.
# tau*(p) is tabulated once on a uniform grid in log(p + 1/2), interpolated linearly as a start and polished
# by Newton steps on H; the integer is then chosen exactly as the reference solver chooses it.
_FAST_LOG_P_RANGE = (math.log(1e-6), math.log(1e6))  # log(p + 1/2) covered by the table; outside: reference
_FAST_TABLE_POINTS = 16385  # grid step 1.7e-3 in log(p + 1/2): linear interpolation of log tau* to ~1e-7
_FAST_NEWTON_STEPS = 1
# Largest relative Newton step accepted. Newton converges quadratically, so the error left after the step is
# of order step^2 (~1e-12 here); a larger step sends the walker to the reference solver.
_FAST_TOLERANCE = 1e-6
#: Fast results are compared with the reference solver's up to this m*: above it the reference golden-section
#: search itself is only accurate to about 1e-8 * m (see tests/test_sim_rebound_walk.py).
FAST_AGREES_UP_TO = 1e6
_FAST_TINY = 1e-100
_fast_table_cache: list[np.ndarray] = []


def _stationarity(tau, p):
    """``H(tau)`` and ``dH/dtau`` of the stationary condition above, elementwise."""
    a = p * tau
    phi = np.exp(-0.5 * a * a) * (1.0 / math.sqrt(2.0 * math.pi))
    h = 3.0 * phi / tau - 2.0 * p * ndtr(-a) - 1.0
    return h, -phi * (p * p + 3.0 / (tau * tau))


def _fast_table() -> tuple[np.ndarray, np.ndarray]:
    """``log tau*(p)`` on the uniform grid of ``log(p + 1/2)`` and its increments (bisection, built once)."""
    if not _fast_table_cache:
        p = np.exp(np.linspace(*_FAST_LOG_P_RANGE, _FAST_TABLE_POINTS)) - 0.5
        lo, hi = np.full_like(p, math.log(1e-12)), np.full_like(p, math.log(1e6))
        for _ in range(64):  # H falls with tau: keep the half where it changes sign (2^-64 of the bracket)
            mid = 0.5 * (lo + hi)
            positive = _stationarity(np.exp(mid), p)[0] > 0
            lo, hi = np.where(positive, mid, lo), np.where(positive, hi, mid)
        log_tau = 0.5 * (lo + hi)
        _fast_table_cache.extend([log_tau, np.diff(log_tau)])
    return _fast_table_cache[0], _fast_table_cache[1]


def _fast_continuous(r, mu, sigma, eta):
    """Continuous maximiser ``m_c`` per walker, a mask of the walkers it is trusted for, their table positions."""
    table, increments = _fast_table()
    z0, z1 = _FAST_LOG_P_RANGE
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        p = r / (eta * mu)
        p -= 1.0
        position = np.log(p + 0.5)
        position -= z0
        position *= (_FAST_TABLE_POINTS - 1) / (z1 - z0)
        # Scales below 1e-100 leave the utilities to underflow, where only the reference's own rounding decides.
        ok = (mu > _FAST_TINY / eta) & (sigma > _FAST_TINY / eta) & (position >= 0)
        ok &= position < _FAST_TABLE_POINTS - 1
        if not np.all(ok):
            position[~ok] = 0.0
        index = position.astype(np.intp)
        where = position.copy()  # the walker's place in the table, for the rounding step
        position -= index
        position *= increments[index]
        position += table[index]
        tau = np.exp(position)
        for _ in range(_FAST_NEWTON_STEPS):
            h, slope = _stationarity(tau, p)
            step = h / slope
            tau -= step
        ok &= np.abs(step) <= _FAST_TOLERANCE * tau
        ok &= tau > 0
        tau *= sigma
        tau /= mu
        tau *= tau
    return tau, ok, where


#: Relative accuracy assumed for the fast ``m_c`` when rounding without evaluating u (Newton leaves ~1e-12).
_FAST_M_ACCURACY = 1e-9
_BREAK_K = 16  # break-even points tabulated for k = 1..16; beyond, the asymptotic window below
_BREAK_STRIDE = 16  # every 16th point of the tau* table
_break_cache: list = []


def _break_even(k, p, tau):
    """``b_k - k``: where ``u(k) = u(k+1)`` for the walker shape ``p`` (bisection on the sign of the difference)."""
    lo, hi = np.zeros_like(p), np.ones_like(p)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        y = tau / np.sqrt(k + mid)  # mu/sigma that puts m_c at k + mid (sigma = eta = 1, r = mu (p + 1))
        u_k, u_next = _utility(np.array([[k], [k + 1.0]]), y * (p + 1.0), y, 1.0, 1.0)
        above = u_next >= u_k
        lo, hi = np.where(above, lo, mid), np.where(above, mid, hi)
    return 0.5 * (lo + hi)


def _tau_star(p):
    """``tau*(p)`` to rounding: the table's interpolation polished by three Newton steps (tests and tables)."""
    fine = np.linspace(*_FAST_LOG_P_RANGE, _FAST_TABLE_POINTS)
    tau = np.exp(np.interp(np.log(p + 0.5), fine, _fast_table()[0]))
    for _ in range(3):
        h, slope = _stationarity(tau, p)
        tau = tau - h / slope
    return tau


def _break_table() -> tuple[np.ndarray, float]:
    """Break-even offsets ``b_k - k`` on the coarse grid (flattened, ``k`` major) and the interpolation bound.

    The bound is measured: twice the largest error of linear interpolation at every coarse midpoint.
    """
    if not _break_cache:
        log_tau = _fast_table()[0]
        fine = np.linspace(*_FAST_LOG_P_RANGE, _FAST_TABLE_POINTS)
        nodes = fine[::_BREAK_STRIDE]
        mids = 0.5 * (nodes[1:] + nodes[:-1])
        rows, error = [], 0.0
        for k in range(1, _BREAK_K + 1):
            at_nodes = _break_even(float(k), np.exp(nodes) - 0.5, np.exp(log_tau[::_BREAK_STRIDE]))
            at_mids = _break_even(float(k), np.exp(mids) - 0.5, _tau_star(np.exp(mids) - 0.5))
            error = max(error, float(np.max(np.abs(0.5 * (at_nodes[1:] + at_nodes[:-1]) - at_mids))))
            rows.append(at_nodes)
        _break_cache.extend([np.concatenate(rows), 2.0 * error + 1e-9])
    return _break_cache[0], _break_cache[1]


def _round_fast(m_cont, where, r, mu, sigma, eta, m_max):
    """The integer :func:`_best_integer` returns, evaluating u only near the break-even point.

    With ``k = floor(m_c)``, u(k) = u(k+1) at a break-even ``m_c = b_k`` that depends on ``p`` and ``k`` only
    (u is unimodal, so the answer is ``k`` below ``b_k`` and ``k + 1`` above). For ``k <= 16``, ``b_k`` is
    tabulated over ``p`` and interpolated, with a measured error bound; beyond, ``b_k`` lies in
    ``[sqrt(k(k+1)) - 1/k, sqrt(k(k+1))]`` (``b_k = sqrt(k(k+1)) - c/k`` with ``0.068 <= c <= 0.55`` over the
    table's range of ``p`` for 16 <= k <= 1e3, ``c -> 1/8 + O(skew)`` beyond; re-checked by
    ``tests/test_sim_rebound_walk.py``). Walkers inside the window widened by the error of ``m_c``, and the ends
    (``m_c < 1``, ``k + 1 > m_max``), are decided by evaluating u as :func:`_best_integer` does.
    """
    offsets, error = _break_table()
    columns = (_FAST_TABLE_POINTS - 1) // _BREAK_STRIDE + 1
    k = np.floor(m_cont)
    frac = m_cont - k
    where = where * (1.0 / _BREAK_STRIDE)
    index = where.astype(np.intp)  # <= columns - 2: positions stop short of the table's last point
    where -= index
    index += (np.clip(k, 1.0, _BREAK_K).astype(np.intp) - 1) * columns
    left = offsets[index]
    index += 1
    frac -= left
    frac -= where * (offsets[index] - left)  # now m_c - b_k, b_k interpolated in p
    slack = _FAST_M_ACCURACY * m_cont
    slack += error
    take_hi = frac > slack
    out = k + take_hi
    slack = -slack
    doubt = frac >= slack
    doubt ^= take_hi  # neither clearly above nor clearly below b_k
    doubt |= k < 1.0
    doubt |= k + 1.0 > m_max
    big = k > _BREAK_K
    if np.any(big):  # the asymptotic window [sqrt(k(k+1)) - 1/k, sqrt(k(k+1))] around b_k
        kb, fb = k[big], m_cont[big] - k[big]
        upper = np.sqrt(kb * (kb + 1.0)) - kb
        pad = _FAST_M_ACCURACY * m_cont[big] + 1e-12
        hi_b, lo_b = fb > upper + pad, fb < upper - 1.0 / kb - pad
        out[big] = kb + hi_b
        doubt[big] = ~(hi_b | lo_b) | (kb + 1.0 > m_max)
    if np.any(doubt):
        out[doubt] = _best_integer(m_cont[doubt], r[doubt], mu[doubt], sigma[doubt], eta, m_max)
    return out


def _search_fast(r, mu, sigma, eta, m_max):
    """Integer argmax of u on [1, m_max] like :func:`_search`, from the closed-form stationary condition.

    Walkers outside the fast solver's domain (``mu <= 0``, ``2 r <= eta mu``, ``p`` outside the table, Newton not
    converged) go to the reference :func:`_search`.
    """
    m_cont, ok, where = _fast_continuous(r, mu, sigma, eta)
    if np.all(ok):
        return _round_fast(np.minimum(m_cont, m_max), where, r, mu, sigma, eta, m_max)
    out = np.empty_like(r)
    if np.any(ok):
        out[ok] = _round_fast(np.minimum(m_cont[ok], m_max), where[ok], r[ok], mu[ok], sigma[ok], eta, m_max)
    rest = ~ok
    out[rest] = _search(r[rest], mu[rest], sigma[rest], eta, m_max)
    return out


_SOLVERS = {"exact": _search, "fast": _search_fast}


def maximise_utility(*, s, mu, sigma, eta, s_star=0.0, m_max=None, solver="fast"):
    """The BA batch size :math:`m^* = \\arg\\max_{1 \\le m \\le m_{max}} u(m)` (seed 000 eq. 9), per walker.

    A log-spaced grid of ``u`` over ``[1, m_max]`` brackets the maximum, golden-section search refines it
    (relative tolerance about 1e-7 in ``m``), and the better of the two neighbouring integers is returned.

    Args:
        s: current state(s) :math:`s_t \\ge S^*` (array or scalar).
        mu: die mean(s) :math:`\\mu` (broadcast against ``s``).
        sigma: die per-sample standard deviation(s) :math:`\\sigma \\ge 0` (not the variance).
        eta: learning rate.
        s_star: the floor :math:`S^*` (broadcast against ``s``).
        m_max: largest batch allowed (default 1e9).
        solver: ``"fast"`` (default) solves the closed-form stationary condition of u (a function of
            ``p = (s - S*)/(eta mu) - 1`` alone, tabulated and polished by Newton steps) and rounds like the
            reference; ``"exact"`` is the reference grid + golden-section search. Both give the same integer
            (tested up to ``m* = 1e6``); walkers outside the fast solver's domain always use the reference.

    Returns:
        Float array of integer batch sizes, shaped like the broadcast inputs.

    Note:
        The search looks for the global maximum on the grid and refines it locally; seed 000 and its
        reference code use bisection on the sign of du/dm, which assumes u is unimodal. Where every batch
        expects the state to rise (``mu <= 0`` or ``eta*mu >= 2(s - S*)``), u < 0 creeps up to 0 as m grows
        and ``m* = m_max``; ties (u flat to rounding) go to the larger batch. Without noise (``sigma == 0``)
        ``u = (r - |r - eta*mu|)/m``, so ``m* = 1`` unless that decrease is negative.

    Raises:
        ValueError: for non-finite input, ``s < s_star``, ``sigma < 0``, ``eta <= 0`` or ``m_max < 1``.
    """
    search = _SOLVERS.get(solver) if isinstance(solver, str) else None
    if search is None:
        raise ValueError(f"Invalid solver: {solver!r} (expected 'fast' or 'exact')")
    m_max = _DEFAULT_M_MAX if m_max is None else finite_float("m_max", m_max, positive=True)
    if m_max < 1:
        raise ValueError(f"Invalid m_max: {m_max!r} (expected >= 1)")
    r, mu, sigma, eta = _walk_arrays(s, mu, sigma, eta, s_star)
    r, mu, sigma = np.broadcast_arrays(r, mu, sigma)
    shape = r.shape
    r, mu, sigma = r.ravel(), mu.ravel(), sigma.ravel()
    m_star = np.ones_like(r)
    # Without noise u(m) = (r - |r - eta*mu|)/m: m* = 1 if that decrease is >= 0, else the largest batch.
    m_star[(sigma == 0) & (r - np.abs(r - eta * mu) < 0)] = np.floor(m_max)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # sigma = 0 or ~1e-180: a = +-inf
        a_at_one = (r - eta * mu) / (eta * sigma)
    # The shortcut m* = 1 needs a rebound-free walk AND a positive expected decrease (mu > 0).
    needs_search = (sigma > 0) & ((a_at_one <= _NO_REBOUND_A) | (mu <= 0)) & (m_max > 1)
    if np.all(needs_search):  # the usual case in a game: no copies
        m_star = search(r, mu, sigma, eta, float(np.floor(m_max)))
    elif np.any(needs_search):
        m_star[needs_search] = search(
            r[needs_search], mu[needs_search], sigma[needs_search], eta, float(np.floor(m_max))
        )
    return m_star.reshape(shape)


# --------------------------------------------------------------------------------------------------
# Dice: how the die depends on the state
# --------------------------------------------------------------------------------------------------

Dice = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""A die model: distances to the floor ``r = s - S*`` (array) -> ``(mu, sigma)`` arrays of the same shape."""


@dataclass(frozen=True)
class ConstantDice:
    """The die of seed 000 eq. 6 with fixed :math:`\\mu` and :math:`\\sigma` (the paper's one-step view)."""

    mu: float
    sigma: float

    def __call__(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.full_like(r, self.mu), np.full_like(r, self.sigma)


@dataclass(frozen=True)
class QuadraticDice:
    """The die of a one-parameter quadratic loss, so that the walk converges to :math:`S^*`.

    For :math:`F(\\theta) = S^* + \\tfrac12 h\\theta^2` with per-sample gradients :math:`h\\theta + \\xi`,
    :math:`\\operatorname{Var}\\xi = c^2`, seed 000's die has :math:`\\mu = f^\\top f = h^2\\theta^2 = 2h r` and
    :math:`\\sigma^2 = f^\\top\\Sigma f = h^2\\theta^2 c^2 = 2hc^2 r` with :math:`r = s - S^*`.
    """

    curvature: float
    noise: float

    def __call__(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu = 2.0 * self.curvature * r
        return mu, self.noise * np.sqrt(mu)


def constant_dice(mu: float, sigma: float) -> ConstantDice:
    """A state-independent die :math:`\\mathcal N(\\mu, \\sigma^2/m)` (seed 000 eq. 6).

    Args:
        mu: the die mean :math:`\\mu` (finite).
        sigma: the per-sample standard deviation :math:`\\sigma \\ge 0`.
    """
    return ConstantDice(finite_float("mu", mu), finite_float("sigma", sigma, nonnegative=True))


def quadratic_dice(curvature: float, noise: float) -> QuadraticDice:
    """The converging die :math:`\\mu = 2hr`, :math:`\\sigma = c\\sqrt{2hr}` (see :class:`QuadraticDice`).

    Args:
        curvature: the curvature :math:`h > 0` of the quadratic loss.
        noise: the per-sample gradient-noise standard deviation :math:`c \\ge 0`.
    """
    return QuadraticDice(
        finite_float("curvature", curvature, positive=True), finite_float("noise", noise, nonnegative=True)
    )


# --------------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A batch-size rule of the walk game: ``fixed`` (always ``m``) or ``ba`` (seed 000 eq. 9).

    Build with :func:`fixed_policy` or :func:`ba_policy`.
    """

    kind: str
    m: int = 1
    m0: int = 1
    m_max: float | None = None
    solver: str = "fast"

    @property
    def name(self) -> str:
        if self.kind == "fixed":
            return f"fixed-{self.m}"
        return "BA" if self.m0 == 1 else f"BA(m0={self.m0})"

    def batch_sizes(self, r: np.ndarray, mu: np.ndarray, sigma: np.ndarray, eta: float) -> np.ndarray:
        """The batch each walker asks for at distances ``r`` with die ``(mu, sigma)``."""
        if self.kind == "fixed":
            return np.full(r.shape, float(self.m))
        m_star = maximise_utility(s=r, mu=mu, sigma=sigma, eta=eta, m_max=self.m_max, solver=self.solver)
        # Algorithm 1 grows the batch by m0 until it reaches m*, so the batch is m* rounded up to m0.
        batch = self.m0 * np.ceil(m_star / self.m0)
        return batch if self.m_max is None else np.minimum(batch, self.m0 * max(1, self.m_max // self.m0))


def fixed_policy(m: int) -> Policy:
    """Always use batch size ``m`` (the mini-batch baselines of seed 000 Sec. 4.2).

    Args:
        m: the batch size (integer >= 1).
    """
    return Policy("fixed", m=int_at_least("m", m))


def ba_policy(m_max: float | None = None, m0: int = 1, solver: str = "fast") -> Policy:
    """The batch-adaptive rule :math:`m^* = \\arg\\max_m u(m)` (seed 000 eq. 8-9, Algorithm 1).

    Args:
        m_max: largest batch (default: unbounded apart from the remaining budget).
        m0: sampling step; the batch is :math:`m^*` rounded up to a multiple of ``m0`` (Algorithm 1, line 4-11).
        solver: ``"fast"`` or ``"exact"``, the maximiser of :func:`maximise_utility` (the same batches).
    """
    m0 = int_at_least("m0", m0)
    if not isinstance(solver, str) or solver not in _SOLVERS:
        raise ValueError(f"Invalid solver: {solver!r} (expected 'fast' or 'exact')")
    if m_max is not None:
        m_max = finite_float("m_max", m_max, positive=True)
        if m_max < m0:
            raise ValueError(f"Invalid m_max: {m_max!r} (expected >= m0 = {m0})")
    return Policy("ba", m0=m0, m_max=m_max, solver=solver)


# --------------------------------------------------------------------------------------------------
# Whole games under a data budget
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GameResult:
    """The outcome of :func:`play` for many independent walkers.

    Attributes:
        policy: the policy's name.
        final: the final state :math:`s` (mean over walkers with its standard error).
        final_states: every walker's final state.
        updates: number of parameter updates per walker.
        mean_batch: samples spent per update, averaged over walkers (budget / updates).
        path_states: states of the first ``record`` walkers after each round, shape ``(rounds+1, record)``.
        path_used: samples those walkers had spent after each round, same shape.
    """

    policy: str
    final: Estimate
    final_states: np.ndarray
    updates: Estimate
    mean_batch: float
    path_states: np.ndarray | None = None
    path_used: np.ndarray | None = None


def _resolve_dice(mu, sigma, dice) -> Dice:
    if dice is not None:
        if mu is not None or sigma is not None:
            raise ValueError("Invalid dice: give either dice or (mu, sigma), not both (expected one of them)")
        if not callable(dice):
            raise ValueError(f"Invalid dice: {dice!r} (expected a callable r -> (mu, sigma))")
        return dice
    if mu is None or sigma is None:
        raise ValueError("Invalid mu/sigma: None (expected both mu and sigma, or a dice model)")
    return constant_dice(mu, sigma)


def _play_fixed_constant(r, rng, m, budget, dice, eta):
    """Fast path: every walker takes the same steps, done in place on preallocated float64 buffers."""
    z = np.empty_like(r)
    sizes = [m] * (budget // m) + ([budget % m] if budget % m else [])
    drift = eta * dice.mu
    for size in sizes:
        rng.standard_normal(out=z)
        z *= -eta * dice.sigma / math.sqrt(size)
        z += r
        if drift:
            z -= drift
        np.abs(z, out=r)
    return len(sizes)


def _play_rounds(r, rng, policy, budget, dice, eta, momentum, recorder):
    """General path: each round, every walker with budget left draws its own batch and takes one step."""
    used = np.zeros(r.shape, dtype=np.int64)
    updates = np.zeros(r.shape, dtype=np.int64)
    velocity = np.zeros_like(r)
    active = np.arange(r.size)
    while active.size:
        # While every walker is still playing, a slice (a view) replaces fancy-index copies.
        idx = slice(None) if active.size == r.size else active
        ra = r[idx]
        mu, sigma = dice(ra)
        # BA-Momentum (seed 000 eq. 14-15): the die's mean carries the momentum of earlier rounds.
        mu_eff = mu + momentum * velocity[idx] if momentum else mu
        batch = np.minimum(policy.batch_sizes(ra, mu_eff, sigma, eta), budget - used[idx])
        step = rng.standard_normal(active.size)
        step *= sigma / np.sqrt(batch)
        step += mu_eff
        moved = ra - eta * step
        if momentum:
            # Crossing the floor flips the sign of the gradient, so the carried momentum now points uphill.
            velocity[idx] = np.copysign(step, moved)
        r[idx] = np.abs(moved)
        used[idx] += batch.astype(np.int64)
        updates[idx] += 1
        recorder(used)
        active = active[used[active] < budget]
    return updates


def play(
    policy: Policy,
    *,
    budget: int,
    s0: float,
    eta: float,
    mu: float | None = None,
    sigma: float | None = None,
    dice: Dice | None = None,
    s_star: float = 0.0,
    momentum: float = 0.0,
    walkers: int = 10_000,
    record: int = 0,
    seed=None,
    max_work=MAX_WORK,
) -> GameResult:
    """Play the walk-with-rebound game (seed 000 Sec. 2.2 and 3) until each walker has spent ``budget`` samples.

    Each update draws a batch of ``m`` samples (the policy's choice, clipped to the budget left),
    :math:`p_t = \\mu_t + \\rho\\,p_{t-1} + (\\sigma_t/\\sqrt m) Z` and
    :math:`s_{t+1} = |s_t - S^* - \\eta p_t| + S^*`; without momentum (:math:`\\rho = 0`) this is eq. 6.

    Args:
        policy: :func:`fixed_policy` or :func:`ba_policy`.
        budget: total samples per walker (the paper's :math:`M`).
        s0: initial state (>= ``s_star``).
        eta: learning rate.
        mu, sigma: a constant die (seed 000 eq. 6); or give ``dice`` instead.
        dice: a state-dependent die, e.g. :func:`quadratic_dice`.
        s_star: the floor :math:`S^*`.
        momentum: :math:`\\rho \\in [0, 1)` for BA-Momentum / momentum SGD (Sec. 3).
        walkers: independent walkers (vectorised; 10^6 is fine for fixed batches).
        record: how many walkers' paths to keep (0: none).
        seed: int, numpy Generator or None.
        max_work: refuse games whose estimated work, ``walkers x updates`` (updates: ``budget / m`` for a
            fixed batch, at most ``budget`` for BA), exceeds this, or whose arrays exceed 8 GiB; ``None`` for
            no limit.

    Returns:
        A :class:`GameResult`.

    Note:
        The paper's Algorithm 1 lets the last batch overshoot the budget; here it is clipped so that every
        policy spends exactly ``budget`` samples. In the momentum game the scalar momentum :math:`p` stands
        for :math:`f_t^\\top\\mathcal P_t` (eq. 14-15): earlier noise is frozen, only the current batch is random.
        A rebound (crossing :math:`S^*`) flips the sign of :math:`p`, as crossing the minimum of a 1-d
        quadratic flips the sign of the gradient; the paper's scalar game does not say what happens there.
    """
    if not isinstance(policy, Policy):
        raise ValueError(f"Invalid policy: {policy!r} (expected fixed_policy(m) or ba_policy())")
    budget, walkers = int_at_least("budget", budget), int_at_least("walkers", walkers, minimum=2)
    record = int_at_least("record", record, minimum=0)
    s0, s_star = finite_float("s0", s0), finite_float("s_star", s_star)
    eta, momentum = (
        finite_float("eta", eta, positive=True),
        finite_float("momentum", momentum, nonnegative=True),
    )
    if momentum >= 1:
        raise ValueError(f"Invalid momentum: {momentum!r} (expected 0 <= momentum < 1)")
    _check_state(s0, s_star)
    rounds = math.ceil(budget / policy.m) if policy.kind == "fixed" else budget
    check_size(
        "walkers",
        work=float(walkers) * rounds,
        max_work=max_work,
        memory=64.0 * walkers + 24.0 * min(record, walkers) * rounds,
        detail=f"walkers={walkers} x {rounds} updates",
    )
    dice = _resolve_dice(mu, sigma, dice)
    rng = as_generator(seed)
    r = np.full(walkers, s0 - s_star)
    states, spent = [r[:record].copy()], [np.zeros(record, dtype=np.int64)]

    def recorder(used):
        if record:
            states.append(r[:record].copy())
            spent.append(used[:record].copy())

    fast = policy.kind == "fixed" and isinstance(dice, ConstantDice) and momentum == 0 and not record
    if fast:
        n_updates = _play_fixed_constant(r, rng, policy.m, budget, dice, eta)
        updates = np.full(walkers, float(n_updates))
    else:
        updates = _play_rounds(r, rng, policy, budget, dice, eta, momentum, recorder).astype(float)
    final_states = r + s_star
    return GameResult(
        policy=policy.name,
        final=estimate(final_states),
        final_states=final_states,
        updates=estimate(updates),
        mean_batch=float(budget / updates.mean()),
        path_states=np.array(states) + s_star if record else None,
        path_used=np.array(spent) if record else None,
    )


# --------------------------------------------------------------------------------------------------
# BA against fixed batches
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    """One policy's result in a comparison: final state (mean ± stderr), updates and samples per update."""

    name: str
    final: Estimate
    updates: float
    mean_batch: float


@dataclass(frozen=True)
class Comparison:
    """BA against a set of fixed batch sizes for one game and one budget.

    Attributes:
        regime: a short name for the game.
        rows: one :class:`PolicyRow` per policy, BA last.
        z: how many standard errors BA's mean final state lies below the best fixed batch's
            (negative when BA ends higher).
    """

    regime: str
    rows: tuple[PolicyRow, ...]
    z: float

    @property
    def ba(self) -> PolicyRow:
        return self.rows[-1]

    @property
    def best_fixed(self) -> PolicyRow:
        return min(self.rows[:-1], key=lambda row: row.final.mean)

    def ba_wins(self, z_crit: float = 5.0) -> bool:
        """True when BA ends lower than every fixed batch by more than ``z_crit`` standard errors."""
        return self.z > z_crit


def compare_policies(
    fixed_sizes: Sequence[int],
    *,
    ba: Policy | None = None,
    regime: str = "custom",
    walkers: int = 4000,
    seed=None,
    **game,
) -> Comparison:
    """Play BA and each fixed batch size on the same game and budget (seed 000 Sec. 4.2, Fig. 1-2).

    Args:
        fixed_sizes: the fixed batch sizes to compare with (the paper uses 32, 64, 128, 256).
        ba: the BA policy (default :func:`ba_policy`).
        regime: a name for the table.
        walkers: walkers per policy.
        seed: int, Generator or None; each policy gets an independent child stream (``Generator.spawn``).
        **game: keyword arguments of :func:`play` (``budget``, ``s0``, ``eta``, ``mu``/``sigma`` or ``dice``, ...).
    """
    if len(fixed_sizes) == 0:
        raise ValueError(f"Invalid fixed_sizes: {fixed_sizes!r} (expected at least one batch size)")
    policies = [fixed_policy(m) for m in fixed_sizes] + [ba if ba is not None else ba_policy()]
    rows = []
    for policy, child in zip(policies, as_generator(seed).spawn(len(policies))):
        result = play(policy, walkers=walkers, seed=child, **game)
        rows.append(PolicyRow(result.policy, result.final, result.updates.mean, result.mean_batch))
    best = min(rows[:-1], key=lambda row: row.final.mean)
    spread = math.hypot(best.final.stderr, rows[-1].final.stderr)
    z = (best.final.mean - rows[-1].final.mean) / spread if spread > 0 else 0.0
    return Comparison(regime, tuple(rows), float(z))


FIXED_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Games found by scanning (see ba_regime_table): BA wins on the consistent quadratic die and loses when the
# die does not shrink near S* or when momentum carries the walker past S*.
REGIMES = {
    "quadratic die, SGD": dict(budget=4096, s0=1.0, eta=0.2, dice=QuadraticDice(1.0, 3.0)),
    "constant die, SGD": dict(budget=2048, s0=1.0, eta=0.1, mu=1.0, sigma=3.0),
    "quadratic die, momentum 0.5": dict(
        budget=4096, s0=1.0, eta=0.1, dice=QuadraticDice(1.0, 3.0), momentum=0.5
    ),
}


def ba_regime_table(*, walkers: int = 4000, seed=0, regimes: dict | None = None) -> list[Comparison]:
    """BA against fixed batches 1...1024 in the regimes where it wins and where it loses.

    * **quadratic die, SGD** (:func:`quadratic_dice`, :math:`\\mu` and :math:`\\sigma^2` proportional to
      :math:`s - S^*`): BA takes small batches far from :math:`S^*` and grows them near it, and ends an order of
      magnitude below the best fixed batch for the same budget.
    * **constant die, SGD**: near :math:`S^*` the expected step overshoots (:math:`\\eta\\mu > s - S^*`), every
      :math:`u(m)` is negative and tends to 0 from below as :math:`m` grows, so the argmax of eq. 9 is the
      largest batch allowed; BA spends the budget on a few huge batches and ends above the best fixed batch.
    * **quadratic die, momentum 0.5**: the carried momentum makes the step overshoot whatever the batch, and BA
      again answers with the largest batch.

    Args:
        walkers: walkers per policy and regime.
        seed: int, Generator or None; each regime gets an independent child stream.
        regimes: ``{name: keyword arguments of play}`` (default :data:`REGIMES`).

    Returns:
        One :class:`Comparison` per regime.
    """
    regimes = REGIMES if regimes is None else regimes
    children = as_generator(seed).spawn(len(regimes))
    return [
        compare_policies(FIXED_SIZES, regime=name, walkers=walkers, seed=child, **game)
        for (name, game), child in zip(regimes.items(), children)
    ]

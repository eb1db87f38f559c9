"""Gaussian walk with rebound and the batch-size utility of BA-SGD (seed 000, Sec. 2.2, eqs. 6-9).

The model (Yin et al. 2017, restated in seed 000): the state is the loss ``s_t`` on ``[S*, inf)``, a batch of
size ``m`` draws a step ``Δs ~ N(mu, sigma^2 / m)`` and the next state is

    s_{t+1} = |s_t - S* - eta * Δs| + S*                                  (eq. 6)

so a step that would overshoot the floor ``S*`` rebounds off it. Everything here is derived with sympy:
the expected next state by integrating the folded normal (eq. 7), the utility ``u(m) = (s - E_m)/m`` (eq. 8),
its derivative, and the maximiser ``m*`` (eq. 9).

Two facts proved below organise the numerics. Write ``d = s - S*``, ``nu = d - eta*mu`` (where the mean step
lands, relative to the floor), ``tau = eta*sigma/sqrt(m)`` (the step's spread) and ``a = nu/tau``. Then

    du/dm = N(m) / m^2,   N(m) = 3 tau phi(a) + nu (2 Phi(a) - 1) - d,   dN/dtau = phi(a) (3 + a^2) > 0,

so ``N`` falls strictly as ``m`` grows: ``u`` is unimodal, ``m* = 1`` exactly when ``N(1) <= 0``, and ``u``
increases for ever exactly when ``lim_{m->inf} N = |nu| - d >= 0``, i.e. when ``mu <= 0`` or
``eta*mu >= 2 (s - S*)`` (every batch expects to land at least as high as it started). Implicit
differentiation of ``N(m*) = 0`` shows that ``m*`` grows with ``eta`` and shrinks with ``s - S*`` (see
:func:`optimal_batch_size_sensitivity`). ``N`` depends on ``sigma`` only through ``tau``, so an interior
optimum is ``m* = (eta sigma / tau*)^2`` with ``tau*(nu, s - S*)`` free of ``sigma``: m* scales exactly as ``sigma^2``.

Numerically, ``E_m``, ``u`` and ``du/dm`` are evaluated in the cancellation-free forms
``E_m = S* + |nu| + X(|nu|, tau)`` and ``N = T(|nu|, tau) - g`` with the noiseless gain
``g = s - S* - |nu| = min(eta mu, 2(s - S*) - eta mu)`` (:func:`rebound_excess_expr`,
:func:`derivative_tail_expr`; sympy proves them equal to the integrated forms), so m* stays accurate right up to
the boundary ``eta mu = 2 (s - S*)``.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import sympy as sp
from scipy.optimize import brentq
from scipy.special import ndtr

from theory._numeric import as_float_array, lambdify, scalar_or_array
from theory.symbols import eta, m, mu, s, s_star, sigma

__all__ = [
    "folded_normal_mean_expr",
    "expected_next_state_expr",
    "expected_next_state_paper_expr",
    "expected_next_state_limit_expr",
    "utility_expr",
    "utility_derivative_expr",
    "utility_derivative_numerator_expr",
    "rebound_excess_expr",
    "derivative_tail_expr",
    "step_size_sensitivity_expr",
    "expected_next_state",
    "expected_next_state_limit",
    "utility",
    "utility_derivative",
    "unit_batch_is_optimal",
    "utility_increases_forever",
    "optimal_batch_size",
    "optimal_batch_size_int",
    "optimal_batch_size_sensitivity",
]

# Standardised variables of the folded normal: the step lands at nu - tau*Z with Z ~ N(0, 1).
nu = sp.Symbol("nu", real=True)
tau = sp.Symbol("tau", positive=True)
a_sym = sp.Symbol("a", real=True)
d_sym = sp.Symbol("d", nonnegative=True)
k_sym = sp.Symbol("k", positive=True)
_z = sp.Symbol("z", real=True)


def _std_normal_pdf(z: sp.Expr) -> sp.Expr:
    return sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)


def _std_normal_cdf(z: sp.Expr) -> sp.Expr:
    return (1 + sp.erf(z / sp.sqrt(2))) / 2


def _walk_substitutions() -> dict[sp.Symbol, sp.Expr]:
    return {nu: s - s_star - eta * mu, tau: eta * sigma / sp.sqrt(m)}


# ---------------------------------------------------------------------------------------------------------
# Symbolic derivations
# ---------------------------------------------------------------------------------------------------------


@cache
def folded_normal_mean_expr() -> sp.Expr:
    """E|nu - tau Z| for Z ~ N(0, 1), obtained by integrating each side of the kink ``z = nu/tau``.

    Returns:
        ``nu * erf(nu / (sqrt(2) tau)) + tau * sqrt(2/pi) * exp(-nu^2 / (2 tau^2))`` (as sympy writes it).
    """
    kink = nu / tau
    below = sp.integrate((nu - tau * _z) * _std_normal_pdf(_z), (_z, -sp.oo, kink))
    above = sp.integrate((tau * _z - nu) * _std_normal_pdf(_z), (_z, kink, sp.oo))
    # erfc -> erf so that identities with the paper's Phi(a) - Phi(-a) = erf(a/sqrt 2) simplify directly.
    return sp.expand((below + above).rewrite(sp.erf))


@cache
def expected_next_state_expr() -> sp.Expr:
    """E_m[s_{t+1}] of the walk with rebound, seed 000 eq. 7, derived by integration.

    ``E_m[s_{t+1}] = ∫ P_m(Δs) (|s - S* - eta Δs| + S*) dΔs`` with ``Δs ~ N(mu, sigma^2/m)``. Substituting
    ``Δs = mu + (sigma/sqrt(m)) Z`` turns the integrand into ``|nu - tau Z|`` with ``nu = s - S* - eta mu``
    and ``tau = eta sigma / sqrt(m)``, whose mean :func:`folded_normal_mean_expr` integrates.
    """
    return s_star + folded_normal_mean_expr().subs(_walk_substitutions())


def expected_next_state_paper_expr() -> sp.Expr:
    """The paper's printed eq. 7 (seed 000):

    ``(s - S* - eta mu) {Phi(a) - Phi(-a)} + eta sigma sqrt(2/(m pi)) exp(-a^2/2) + S*``,
    ``a = (s - S* - eta mu) sqrt(m) / (eta sigma)``.

    Note:
        The extracted text garbles the middle term; read as above it equals the derivation exactly
        (``tests/test_theory_rebound_walk.py`` and claim ``000.eq7-expected-next-state`` prove it).
    """
    a = (s - s_star - eta * mu) * sp.sqrt(m) / (eta * sigma)
    spread = eta * sigma * sp.sqrt(2 / (m * sp.pi)) * sp.exp(-(a**2) / 2)
    return (s - s_star - eta * mu) * (_std_normal_cdf(a) - _std_normal_cdf(-a)) + spread + s_star


def expected_next_state_limit_expr() -> sp.Expr:
    """lim_{m->inf} E_m[s_{t+1}] = |s - S* - eta mu| + S*: with no noise only the deterministic rebound is left."""
    return sp.Abs(s - s_star - eta * mu) + s_star


def utility_expr() -> sp.Expr:
    """u(m, s_t) = (s_t - E_m[s_{t+1}]) / m, seed 000 eq. 8: expected decrease per sample."""
    return (s - expected_next_state_expr()) / m


def utility_derivative_numerator_expr() -> sp.Expr:
    """N = m^2 du/dm in standardised variables: ``3 tau phi(a) + nu (2 Phi(a) - 1) - d`` with ``a = nu/tau``.

    Derived in the module docstring from ``dE|nu - tau Z| / dtau = 2 phi(nu/tau)``; sympy checks the identity
    ``m^2 du/dm == N`` against the raw derivative of :func:`utility_expr` (see the tests).
    """
    a = nu / tau
    return 3 * tau * _std_normal_pdf(a) + nu * (2 * _std_normal_cdf(a) - 1) - d_sym


def utility_derivative_expr() -> sp.Expr:
    """du/dm of eq. 8 in simplified form, ``N(m) / m^2`` with ``N`` from :func:`utility_derivative_numerator_expr`."""
    subs = _walk_substitutions() | {d_sym: s - s_star}
    return utility_derivative_numerator_expr().subs(subs) / m**2


@cache
def rebound_excess_expr() -> sp.Expr:
    """E|nu - tau Z| - |nu| in terms of ``k = |nu|``: ``2 tau phi(k/tau) - k erfc(k/(sqrt(2) tau))``.

    What the noise adds to the noiseless landing point ``|nu|``. Obtained from :func:`folded_normal_mean_expr`
    at ``nu = k`` (the folded mean is even in ``nu``). The numeric functions use this form: it keeps the tiny
    excess exact where ``E_m`` and ``|nu|`` agree to many digits (``a >> 1``).
    """
    return sp.expand((folded_normal_mean_expr().subs(nu, k_sym) - k_sym).rewrite(sp.erfc))


@cache
def derivative_tail_expr() -> sp.Expr:
    """T = N + (s - S* - |nu|) in terms of ``k = |nu|``: ``3 tau phi(k/tau) - k erfc(k/(sqrt(2) tau))``.

    ``N = T - g`` with the noiseless gain ``g = s - S* - |nu| = min(eta mu, 2(s - S*) - eta mu)``; ``T`` rises
    from 0 at ``tau = 0``, so the optimum solves ``T(tau) = g``, a root free of cancellation.
    """
    at_k = utility_derivative_numerator_expr().subs({nu: k_sym, d_sym: k_sym})
    return sp.expand(at_k.rewrite(sp.erfc))


def step_size_sensitivity_expr() -> sp.Expr:
    """h(a) = (eta / tau) dN/deta at an interior optimum, as a function of ``a = nu/tau`` there.

    At ``N(m*) = 0`` one has ``eta mu = tau (3 phi(a) - 2 a Phi(-a))``, so
    ``h(a) = phi(a)(3 + a^2) - (3 phi(a) - 2 a Phi(-a)) (2 Phi(a) - 1 - a phi(a))``. Since ``dN/dm < 0``,
    ``dm*/deta`` has the sign of ``h``; ``h > 0`` for every real ``a`` (checked on a grid and in both tails
    in the tests), so a larger step size always gives a larger optimal batch.
    """
    a = a_sym
    pdf, cdf = _std_normal_pdf(a), _std_normal_cdf
    drift = 3 * pdf - 2 * a * cdf(-a)
    return pdf * (3 + a**2) - drift * (2 * cdf(a) - 1 - a * pdf)


# ---------------------------------------------------------------------------------------------------------
# Numeric functions (NumPy, broadcasting)
# ---------------------------------------------------------------------------------------------------------


def _homogeneous(expr_fn, k_v: np.ndarray, tau_v: np.ndarray) -> np.ndarray:
    """Evaluate a degree-1 homogeneous expression of (k, tau) at unit scale; its tau -> 0 limit is 0."""
    fn = lambdify((k_sym, tau), expr_fn())
    # Scaling to max(k, tau) = 1 keeps k^2 / tau^2 from becoming 0/0 when tau^2 underflows (k = 0, tau ~ 1e-200).
    scale = np.maximum(k_v, tau_v)
    scale = np.where(scale > 0, scale, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        value = scale * np.asarray(fn(k_v / scale, tau_v / scale), dtype=float)
    return np.where(tau_v > 0, value, 0.0)


def _excess(k_v: np.ndarray, tau_v: np.ndarray) -> np.ndarray:
    return _homogeneous(rebound_excess_expr, k_v, tau_v)


def _tail(k_v: np.ndarray, tau_v: np.ndarray) -> np.ndarray:
    return _homogeneous(derivative_tail_expr, k_v, tau_v)


def _gain(d: np.ndarray, mu_v: np.ndarray, eta_v: np.ndarray) -> np.ndarray:
    # s - S* - |s - S* - eta mu| written without the cancellation: the noiseless decrease of the state.
    step = eta_v * mu_v
    return np.minimum(step, 2 * d - step)


def _increases_forever(d, mu_v, sigma_v, eta_v):
    gain = _gain(d, mu_v, eta_v)
    # gain == 0 with no noise makes u identically 0: flat, not increasing.
    return (gain <= 0) & ~((gain == 0) & (sigma_v == 0))


def _validate_walk(s_v, mu_v, sigma_v, eta_v, s_star_v) -> tuple[np.ndarray, ...]:
    s_arr = as_float_array("s", s_v)
    mu_arr = as_float_array("mu", mu_v)
    sigma_arr = as_float_array("sigma", sigma_v, nonnegative=True)
    eta_arr = as_float_array("eta", eta_v, positive=True)
    s_star_arr = as_float_array("s_star", s_star_v)
    if np.any(s_arr < s_star_arr):
        raise ValueError(
            f"Invalid s: {s_v!r} (expected s >= s_star = {s_star_v!r}; the walk lives on [S*, inf))"
        )
    return s_arr, mu_arr, sigma_arr, eta_arr, s_star_arr


def _walk_terms(s_v, mu_v, sigma_v, m_v, eta_v, s_star_v):
    """(gain, k, tau, m, S*): noiseless decrease, |nu| = noiseless distance to the floor after the step, spread."""
    s_arr, mu_arr, sigma_arr, eta_arr, s_star_arr = _validate_walk(s_v, mu_v, sigma_v, eta_v, s_star_v)
    m_arr = as_float_array("m", m_v, at_least=1.0)
    d = s_arr - s_star_arr
    k_v = np.abs(d - eta_arr * mu_arr)
    return _gain(d, mu_arr, eta_arr), k_v, eta_arr * sigma_arr / np.sqrt(m_arr), m_arr, s_star_arr


def expected_next_state(*, m, s, mu, sigma, eta, s_star=0.0):
    """E_m[s_{t+1}] of the Gaussian walk with rebound, seed 000 eq. 7.

    ``E_m = (s - S* - eta mu)(Phi(a) - Phi(-a)) + eta sigma sqrt(2/(m pi)) exp(-a^2/2) + S*``,
    ``a = (s - S* - eta mu) sqrt(m)/(eta sigma)``: the folded-normal mean of ``s - S* - eta Δs`` plus ``S*``.

    Args:
        m: batch size, ``>= 1`` (real values allowed: the paper optimises over a continuous ``m``).
        s: current state (loss) ``s_t``, ``>= s_star``.
        mu: mean of the step ``Δs ~ N(mu, sigma^2/m)``.
        sigma: per-sample standard deviation of the step, ``>= 0`` (a standard deviation, not the variance).
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*`` of the state.

    Returns:
        A float for scalar input, else an array of the broadcast shape.

    Raises:
        ValueError: for non-finite input, ``sigma < 0``, ``m < 1``, ``eta <= 0`` or ``s < s_star``.
    """
    _, k_v, tau_v, _, s_star_v = _walk_terms(s, mu, sigma, m, eta, s_star)
    return scalar_or_array(s_star_v + k_v + _excess(k_v, tau_v))


def expected_next_state_limit(*, s, mu, eta, s_star=0.0):
    """lim_{m->inf} E_m[s_{t+1}] = |s - S* - eta mu| + S* (seed 000 eq. 7 as the noise vanishes).

    Args:
        s: current state, ``>= s_star``.
        mu: mean of the step.
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*``.
    """
    s_arr, mu_arr, _, eta_arr, s_star_arr = _validate_walk(s, mu, 0.0, eta, s_star)
    return scalar_or_array(np.abs(s_arr - s_star_arr - eta_arr * mu_arr) + s_star_arr)


def utility(*, m, s, mu, sigma, eta, s_star=0.0):
    """u(m) = (s - E_m[s_{t+1}]) / m, seed 000 eq. 8: the expected decrease of the state per sample.

    Args:
        m: batch size, ``>= 1`` (real values allowed: the paper optimises over a continuous ``m``).
        s: current state (loss) ``s_t``, ``>= s_star``.
        mu: mean of the step ``Δs ~ N(mu, sigma^2/m)``.
        sigma: per-sample standard deviation of the step, ``>= 0`` (a standard deviation, not the variance).
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*`` of the state.

    Raises:
        ValueError: as :func:`expected_next_state`.
    """
    gain, k_v, tau_v, m_arr, _ = _walk_terms(s, mu, sigma, m, eta, s_star)
    return scalar_or_array((gain - _excess(k_v, tau_v)) / m_arr)


def utility_derivative(*, m, s, mu, sigma, eta, s_star=0.0):
    """du/dm of eq. 8 (seed 000), derived with sympy and simplified.

    ``du/dm = [3 tau phi(a) + nu (2 Phi(a) - 1) - (s - S*)] / m^2`` with ``nu = s - S* - eta mu``,
    ``tau = eta sigma / sqrt(m)``, ``a = nu / tau``.

    Note:
        The paper differentiates numerically (a binary search on ``u``); the reference code writes two terms
        by hand and autodiffs the third. This closed form replaces both.

    Args:
        m: batch size, ``>= 1`` (real values allowed: the paper optimises over a continuous ``m``).
        s: current state (loss) ``s_t``, ``>= s_star``.
        mu: mean of the step ``Δs ~ N(mu, sigma^2/m)``.
        sigma: per-sample standard deviation of the step, ``>= 0`` (a standard deviation, not the variance).
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*`` of the state.
    """
    gain, k_v, tau_v, m_arr, _ = _walk_terms(s, mu, sigma, m, eta, s_star)
    return scalar_or_array((_tail(k_v, tau_v) - gain) / m_arr**2)


def unit_batch_is_optimal(*, s, mu, sigma, eta, s_star=0.0):
    """True where m* = 1, i.e. where ``du/dm <= 0`` at ``m = 1``: ``3 eta sigma phi(a1) + nu (2 Phi(a1) - 1) <= s - S*``.

    ``a1 = nu / (eta sigma)``; evaluated as ``T(|nu|, eta sigma) <= min(eta mu, 2(s - S*) - eta mu)``
    (:func:`derivative_tail_expr`). Because ``N(m)`` falls strictly in ``m`` (module docstring), this is exact,
    not a local test. In the regime ``a1 >> 1`` (rebound negligible) ``N(1) ~ -eta mu < 0`` and ``m* = 1``.
    Where u increases for ever but is flat to double precision (``N(1)`` rounds to 0), the exact answer
    (False) is returned.

    Args:
        s: current state (loss) ``s_t``, ``>= s_star``.
        mu: mean of the step ``Δs ~ N(mu, sigma^2/m)``.
        sigma: per-sample standard deviation of the step, ``>= 0`` (a standard deviation, not the variance).
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*`` of the state.
    """
    s_arr, mu_arr, sigma_arr, eta_arr, s_star_arr = _validate_walk(s, mu, sigma, eta, s_star)
    d = s_arr - s_star_arr
    tail_at_1 = _tail(np.abs(d - eta_arr * mu_arr), eta_arr * sigma_arr)
    result = (tail_at_1 <= _gain(d, mu_arr, eta_arr)) & ~_increases_forever(d, mu_arr, sigma_arr, eta_arr)
    return bool(result) if result.ndim == 0 else result


def utility_increases_forever(*, s, mu, sigma, eta, s_star=0.0):
    """True where u has no finite maximiser on ``[1, inf)``.

    Exactly when ``lim_{m->inf} N = |s - S* - eta mu| - (s - S*) >= 0``, i.e. ``mu <= 0`` or
    ``eta mu >= 2 (s - S*)`` (the noiseless step lands at least as high as it started), excluding the flat case
    ``u == 0`` (``sigma = 0`` on the boundary), where ``m* = 1`` is returned.

    Args:
        s: current state (loss) ``s_t``, ``>= s_star``.
        mu: mean of the step ``Δs ~ N(mu, sigma^2/m)``.
        sigma: per-sample standard deviation of the step, ``>= 0`` (a standard deviation, not the variance).
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*`` of the state.
    """
    s_arr, mu_arr, sigma_arr, eta_arr, s_star_arr = _validate_walk(s, mu, sigma, eta, s_star)
    result = _increases_forever(s_arr - s_star_arr, mu_arr, sigma_arr, eta_arr)
    return bool(result) if result.ndim == 0 else result


def _validate_m_max(m_max) -> float:
    if m_max is None:
        return math.inf
    return float(as_float_array("m_max", m_max, at_least=1.0))


def _optimal_scalar(
    s_v: float, mu_v: float, sigma_v: float, eta_v: float, s_star_v: float, m_max: float
) -> float:
    d = s_v - s_star_v
    if _increases_forever(d, mu_v, sigma_v, eta_v):
        return m_max
    gain = float(_gain(np.asarray(d), np.asarray(mu_v), np.asarray(eta_v)))
    k_v = np.asarray(abs(d - eta_v * mu_v))
    tau_1 = eta_v * sigma_v

    def numerator_at(tau_v: float) -> float:
        return float(_tail(k_v, np.asarray(tau_v))) - gain

    if numerator_at(tau_1) <= 0:
        return 1.0
    # N = T(tau) - gain rises strictly in tau = eta sigma / sqrt(m), from -gain < 0 at tau = 0 to N(1) > 0.
    tau_root = brentq(numerator_at, 0.0, tau_1, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    if tau_root <= 0:
        return m_max
    # Python float arithmetic: an m* beyond the double range (a gain of a few ulps) becomes inf, silently.
    ratio = tau_1 / tau_root
    return min(ratio * ratio, m_max)


def optimal_batch_size(*, s, mu, sigma, eta, s_star=0.0, m_max=None):
    """The continuous maximiser m* = argmax_{1 <= m <= m_max} u(m, s), seed 000 eq. 9.

    ``u`` is unimodal in ``m`` (module docstring), so m* is the unique root of ``du/dm``, found by Brent's
    method on the bracket ``tau in (0, eta sigma]`` (``tau = eta sigma / sqrt(m)``), clipped to
    ``[1, m_max]``.

    Degenerate cases:
        * ``du/dm <= 0`` at ``m = 1`` (includes ``sigma = 0`` with ``|s - S* - eta mu| <= s - S*``): 1.0.
        * u increases for ever (``mu <= 0``, ``s = S*`` or ``eta mu >= 2 (s - S*)``; see
          :func:`utility_increases_forever`): ``m_max``, or ``inf`` when ``m_max`` is None. Then every batch
          has a non-positive expected decrease and the utility only approaches 0 from below.
        * a finite m* too large for a double (a noiseless gain ``min(eta mu, 2(s - S*) - eta mu)`` of a few
          ulps of ``eta sigma``): ``m_max`` or ``inf``.

    Args:
        s: current state, ``>= s_star``.
        mu: mean of the step.
        sigma: per-sample standard deviation of the step, ``>= 0``.
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*``.
        m_max: largest allowed batch (``>= 1``) or None for no bound.

    Returns:
        A float for scalar input, else an array.

    Note:
        The paper searches integers by bisection; :func:`optimal_batch_size_int` gives the best integer.
        The original code (github.com/thomasyao3096/Batch_Adaptive_Framework, cited by seed 000) uses a
        step variance ``sigma^2 / (m_alpha m)`` (an extra ``1/m_alpha``); pass ``sigma / sqrt(m_alpha)`` to
        reproduce it. Since interior ``m* = (eta sigma / tau*)^2`` with ``tau*`` independent of ``sigma``, that
        shrinks m* by ``m_alpha``.
    """
    s_arr, mu_arr, sigma_arr, eta_arr, s_star_arr = _validate_walk(s, mu, sigma, eta, s_star)
    bound = _validate_m_max(m_max)
    solve = np.vectorize(_optimal_scalar, otypes=[float])
    return scalar_or_array(solve(s_arr, mu_arr, sigma_arr, eta_arr, s_star_arr, bound))


def optimal_batch_size_int(*, s, mu, sigma, eta, s_star=0.0, m_max=None):
    """The best integer batch size: ``floor(m*)`` or ``ceil(m*)``, whichever has the larger utility.

    Unimodality of ``u`` makes the two neighbours of the continuous m* the only candidates. Ties go to the
    smaller batch. ``m_max`` is floored to an integer.

    Args:
        s: current state, ``>= s_star``.
        mu: mean of the step.
        sigma: per-sample standard deviation of the step, ``>= 0``.
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*``.
        m_max: largest allowed batch (``>= 1``, floored) or None for no bound.

    Returns:
        An ``int`` for scalar input (``math.inf`` when u increases for ever and ``m_max`` is None); for array
        input a float array of integral values (``inf`` likewise).
    """
    bound = math.floor(_validate_m_max(m_max)) if m_max is not None else None
    walk = {"s": s, "mu": mu, "sigma": sigma, "eta": eta, "s_star": s_star}
    m_cont = np.asarray(optimal_batch_size(**walk, m_max=bound), dtype=float)
    finite = np.isfinite(m_cont)
    low = np.where(finite, np.floor(m_cont), 1.0)
    high = np.where(finite, np.ceil(m_cont), 1.0)
    better_high = utility(m=high, **walk) > utility(m=low, **walk)
    best = np.where(finite, np.where(better_high, high, low), np.inf)
    if best.ndim == 0:
        return int(best) if np.isfinite(best) else math.inf
    return best


def optimal_batch_size_sensitivity(*, s, mu, sigma, eta, s_star=0.0):
    """Partial derivatives of an interior m* by implicit differentiation of ``N(m*) = 0``.

    ``dm*/dx = -(dN/dx) / (dN/dm)`` with ``dN/dm = -phi(a)(3 + a^2) tau / (2m) < 0`` and

    * ``dN/deta = -mu (2 Phi(a) - 1 - a phi(a)) + (tau/eta) phi(a)(3 + a^2)``  (> 0 at the optimum, so m*
      grows with the step size; see :func:`step_size_sensitivity_expr`),
    * ``dN/ds = -2 Phi(-a) - a phi(a) < 0``  (m* grows as the state approaches S*),
    * ``dN/dsigma = (tau/sigma) phi(a)(3 + a^2) > 0``  (m* grows with the noise).

    Args:
        s: current state, ``>= s_star``.
        mu: mean of the step.
        sigma: per-sample standard deviation of the step, ``>= 0``.
        eta: learning rate, ``> 0``.
        s_star: the floor ``S*``.

    Returns:
        A dict with keys ``"m_star"``, ``"eta"``, ``"s"``, ``"sigma"``, ``"mu"`` (floats or arrays). Entries
        are NaN where m* is not interior (m* = 1 or u increases for ever).
    """
    m_star = np.asarray(optimal_batch_size(s=s, mu=mu, sigma=sigma, eta=eta, s_star=s_star), dtype=float)
    interior = np.isfinite(m_star) & (m_star > 1.0)
    m_safe = np.where(interior, m_star, 2.0)
    s_arr, mu_arr, sigma_arr, eta_arr, s_star_arr = _validate_walk(s, mu, sigma, eta, s_star)
    tau_v = eta_arr * sigma_arr / np.sqrt(m_safe)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (s_arr - s_star_arr - eta_arr * mu_arr) / tau_v
    pdf = np.exp(-(a**2) / 2) / math.sqrt(2 * math.pi)
    curvature = pdf * (3 + a**2)
    dn_dm = -curvature * tau_v / (2 * m_safe)
    partials = {
        "eta": -mu_arr * (2 * ndtr(a) - 1 - a * pdf) + tau_v / eta_arr * curvature,
        "s": -2 * ndtr(-a) - a * pdf,
        "sigma": tau_v / np.where(sigma_arr > 0, sigma_arr, 1.0) * curvature,
        "mu": -eta_arr * (2 * ndtr(a) - 1 - a * pdf),
    }
    result = {"m_star": scalar_or_array(m_star)}
    for name, dn in partials.items():
        result[name] = scalar_or_array(np.where(interior, -dn / dn_dm, np.nan))
    return result

"""Gaussian walk with rebound and BA-Momentum (seed 000): symbolic identities, independent numerics, properties.

The expected next state is compared with scipy quadrature and with ``scipy.stats.foldnorm`` (code that shares
nothing with the sympy derivation); the derivative with finite differences; m* with a grid search; the
momentum moments with a seeded Monte Carlo whose tolerance is z = 5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from theory import ba_momentum as bm
from theory import rebound_walk as rw
from theory._numeric import is_zero, lambdify
from theory.symbols import eta, m, mu, rho, s, s_star, sigma

# Bounded strategies: states above the floor, steps of either sign, learning rates over three decades.
floors = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)
# Gaps and means at least 1e-6 (or exactly 0): below that m* leaves the double range, which is documented.
gaps = st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=10.0, allow_nan=False))
means = st.one_of(
    st.just(0.0), st.floats(min_value=-5.0, max_value=-1e-6), st.floats(min_value=1e-6, max_value=5.0)
)
positive_means = st.floats(min_value=1e-2, max_value=5.0, allow_nan=False)
noises = st.floats(min_value=1e-2, max_value=20.0, allow_nan=False)
rates = st.floats(min_value=1e-3, max_value=2.0, allow_nan=False)
batches = st.floats(min_value=1.0, max_value=1e4, allow_nan=False)

Z_MC = 5.0  # Monte-Carlo tolerance: 5 standard errors, false-positive rate ~6e-7 per comparison.


def _pdf(z):
    return sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)


def _cdf(z):
    return (1 + sp.erf(z / sp.sqrt(2))) / 2


def _rounding(floor, gap, mean, noise, rate, batch):
    """Double-precision error of u(m) = (s - E_m) / m: a few ulps of the largest term subtracted, over m."""
    return 1e-15 * (abs(floor) + gap + rate * abs(mean) + rate * noise) / batch


# ---------------------------------------------------------------------------------------------------------
# Symbolic identities
# ---------------------------------------------------------------------------------------------------------


def test_derived_expected_next_state_equals_paper_form():
    assert is_zero(rw.expected_next_state_expr() - rw.expected_next_state_paper_expr())


def test_folded_normal_mean_has_the_textbook_form():
    textbook = rw.nu * sp.erf(rw.nu / (sp.sqrt(2) * rw.tau)) + rw.tau * sp.sqrt(2 / sp.pi) * sp.exp(
        -(rw.nu**2) / (2 * rw.tau**2)
    )
    assert is_zero(rw.folded_normal_mean_expr() - textbook)


def test_folded_mean_grows_with_spread_at_rate_two_phi():
    slope = sp.diff(rw.folded_normal_mean_expr(), rw.tau)
    assert is_zero(slope - 2 * _pdf(rw.nu / rw.tau))


def test_simplified_derivative_equals_raw_derivative():
    raw = sp.diff(rw.utility_expr(), m)
    assert is_zero(raw - rw.utility_derivative_expr())


@pytest.mark.parametrize("sign", [1, -1])
def test_stable_forms_equal_the_derivation_on_both_sides_of_the_floor(sign):
    k = rw.k_sym
    folded = rw.folded_normal_mean_expr().subs(rw.nu, sign * k)
    assert is_zero((folded - k - rw.rebound_excess_expr()).rewrite(sp.erf))
    # N = T - gain with gain = d - |nu|; take d = |nu| + gain for a free symbol gain.
    gain = sp.Symbol("gain", real=True)
    numerator = rw.utility_derivative_numerator_expr().subs({rw.nu: sign * k, rw.d_sym: k + gain})
    assert is_zero((numerator - (rw.derivative_tail_expr() - gain)).rewrite(sp.erf))


def test_derivative_numerator_rises_with_spread():
    numerator = rw.utility_derivative_numerator_expr()
    a = rw.nu / rw.tau
    assert is_zero(sp.diff(numerator, rw.tau) - _pdf(a) * (3 + a**2))


def test_expected_next_state_limit_is_deterministic_rebound():
    # The folded normal of a point mass: with tau -> 0+ the expression tends to |nu| on both sides.
    folded = rw.folded_normal_mean_expr()
    for value in (sp.Rational(3, 2), -sp.Rational(7, 3)):
        assert sp.limit(folded.subs(rw.nu, value), rw.tau, 0, "+") == abs(value)
    limit_form = rw.expected_next_state_limit_expr()
    assert limit_form.subs({s: 3, s_star: 1, eta: 1, mu: 5}) == 4


@pytest.mark.slow
def test_direct_integral_over_the_step_equals_derivation():
    """Integrate over the raw step Δs (no standardisation) and compare with the module's expression."""
    x = sp.Symbol("x", real=True)
    d = s - s_star
    pdf = sp.sqrt(m) / (sigma * sp.sqrt(2 * sp.pi)) * sp.exp(-m * (x - mu) ** 2 / (2 * sigma**2))
    below = sp.integrate((d - eta * x) * pdf, (x, -sp.oo, d / eta))
    above = sp.integrate((eta * x - d) * pdf, (x, d / eta, sp.oo))
    assert is_zero(below + above + s_star - rw.expected_next_state_expr())


# ---------------------------------------------------------------------------------------------------------
# Expected next state against independent numerics
# ---------------------------------------------------------------------------------------------------------


@given(floors, gaps, means, noises, batches, rates)
def test_expected_next_state_matches_quadrature(floor, gap, mean, noise, batch, rate):
    state = floor + gap
    spread = noise / math.sqrt(batch)
    kink = gap / rate

    def integrand(step):
        return (abs(gap - rate * step) + floor) * stats.norm.pdf(step, mean, spread)

    lo, hi = mean - 40 * spread, mean + 40 * spread
    points = [kink] if lo < kink < hi else None
    quad, err = integrate.quad(integrand, lo, hi, points=points, epsabs=1e-13, epsrel=1e-11, limit=200)
    ours = rw.expected_next_state(m=batch, s=state, mu=mean, sigma=noise, eta=rate, s_star=floor)
    assert ours == pytest.approx(quad, rel=1e-8, abs=1e-9 + 10 * err)


@given(floors, gaps, means, noises, batches, rates)
def test_expected_next_state_matches_scipy_foldnorm(floor, gap, mean, noise, batch, rate):
    centre, spread = gap - rate * mean, rate * noise / math.sqrt(batch)
    reference = stats.foldnorm(abs(centre) / spread, scale=spread).mean() + floor
    ours = rw.expected_next_state(m=batch, s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    assert ours == pytest.approx(reference, rel=1e-9, abs=1e-12 * (1 + abs(floor)))


def test_expected_next_state_broadcasts_and_returns_float():
    scalar = rw.expected_next_state(m=4.0, s=1.0, mu=0.5, sigma=2.0, eta=0.1)
    assert isinstance(scalar, float)
    array = rw.expected_next_state(
        m=np.array([[1.0], [4.0]]), s=np.array([1.0, 2.0]), mu=0.5, sigma=2.0, eta=0.1
    )
    assert array.shape == (2, 2)
    assert array[1, 0] == pytest.approx(
        rw.expected_next_state(m=4.0, s=1.0, mu=0.5, sigma=2.0, eta=0.1), rel=1e-15
    )


def test_noiseless_walk_is_the_deterministic_rebound():
    assert rw.expected_next_state(m=3.0, s=1.0, mu=15.0, sigma=0.0, eta=0.1, s_star=0.0) == pytest.approx(
        0.5, abs=1e-15
    )
    assert rw.expected_next_state(m=3.0, s=1.0, mu=10.0, sigma=0.0, eta=0.1, s_star=0.0) == 0.0


@given(floors, gaps, means, noises, rates)
def test_expected_next_state_tends_to_its_limit(floor, gap, mean, noise, rate):
    limit = rw.expected_next_state_limit(s=floor + gap, mu=mean, eta=rate, s_star=floor)
    far = rw.expected_next_state(m=1e16, s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    # The excess over the limit is at most tau * sqrt(2/pi) = rate * noise * 1e-8 * 0.8.
    assert 0.0 <= far - limit + 1e-12 * (1 + abs(floor)) <= rate * noise * 1e-8 + 1e-11 * (1 + abs(floor))


@given(floors, gaps, means, noises, rates)
def test_expected_next_state_falls_with_batch_and_utility_vanishes(floor, gap, mean, noise, rate):
    sizes = np.geomspace(1.0, 1e8, 33)
    values = rw.expected_next_state(m=sizes, s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    assert np.all(np.diff(values) <= 1e-12 * (1 + abs(floor)))
    utilities = rw.utility(m=sizes, s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    assert abs(utilities[-1]) <= (gap + abs(rate * mean) + rate * noise) / sizes[-1] * 1.01


def test_large_a_regime_has_no_rebound_and_unit_batch():
    # a = (s - eta mu) sqrt(m) / (eta sigma) = (10 - 0.1) / 0.1 = 99 at m = 1.
    sizes = np.array([1.0, 2.0, 10.0, 1000.0])
    values = rw.expected_next_state(m=sizes, s=10.0, mu=1.0, sigma=1.0, eta=0.1)
    np.testing.assert_allclose(values, 10.0 - 0.1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        rw.utility(m=sizes, s=10.0, mu=1.0, sigma=1.0, eta=0.1), 0.1 / sizes, rtol=1e-9
    )
    assert rw.optimal_batch_size(s=10.0, mu=1.0, sigma=1.0, eta=0.1) == 1.0
    assert rw.unit_batch_is_optimal(s=10.0, mu=1.0, sigma=1.0, eta=0.1)


# ---------------------------------------------------------------------------------------------------------
# Utility, its derivative and the optimal batch
# ---------------------------------------------------------------------------------------------------------


@given(floors, gaps, means, noises, st.floats(min_value=1.5, max_value=1e4), rates)
def test_utility_derivative_matches_finite_difference(floor, gap, mean, noise, batch, rate):
    step = 1e-4 * batch
    walk = dict(s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    central = (rw.utility(m=batch + step, **walk) - rw.utility(m=batch - step, **walk)) / (2 * step)
    exact = rw.utility_derivative(m=batch, **walk)
    # Truncation ~ step^2 |u'''| ~ 1e-8 |u| / m; rounding ~ 1e-16 |u| / step.
    scale = (gap + abs(rate * mean) + rate * noise) / batch**2
    assert exact == pytest.approx(central, rel=1e-5, abs=1e-7 * scale)


@given(floors, gaps, positive_means, noises, rates)
def test_optimal_batch_size_is_the_maximiser(floor, gap, mean, noise, rate):
    walk = dict(s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    best = rw.optimal_batch_size(**walk)
    grid = np.geomspace(1.0, 1e7, 400)
    values = rw.utility(m=grid, **walk)
    if math.isinf(best):
        assert rw.utility_increases_forever(**walk)
        assert np.all(np.diff(values) >= -_rounding(floor, gap, mean, noise, rate, grid[:-1]))
        return
    top = rw.utility(m=best, **walk)
    assert top >= values.max() - 1e-12 * abs(top) - _rounding(floor, gap, mean, noise, rate, best)
    if best > 1.0:
        slope_scale = abs(top) / best
        assert abs(rw.utility_derivative(m=best, **walk)) <= 1e-8 * slope_scale


@given(floors, gaps, positive_means, noises, rates, st.floats(min_value=1.0, max_value=500.0))
def test_bounded_optimum_is_clipped_maximiser(floor, gap, mean, noise, rate, bound):
    walk = dict(s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    clipped = rw.optimal_batch_size(**walk, m_max=bound)
    assert clipped == pytest.approx(min(rw.optimal_batch_size(**walk), bound), rel=1e-12)
    grid_best = rw.utility(m=np.linspace(1.0, bound, 200), **walk).max()
    rounding = _rounding(floor, gap, mean, noise, rate, clipped)
    assert rw.utility(m=clipped, **walk) >= grid_best - 1e-10 * abs(grid_best) - rounding


@given(floors, gaps, positive_means, noises, rates)
def test_integer_optimum_beats_its_neighbours(floor, gap, mean, noise, rate):
    walk = dict(s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    best = rw.optimal_batch_size_int(**walk, m_max=10**6)
    assert isinstance(best, int) and 1 <= best <= 10**6
    neighbours = [k for k in (best - 1, best + 1) if 1 <= k <= 10**6]
    top = rw.utility(m=best, **walk)
    for k in neighbours:
        assert top >= rw.utility(m=k, **walk) - 1e-13 * abs(top) - _rounding(
            floor, gap, mean, noise, rate, best
        )


def test_reference_example_from_the_notes():
    # Seed 000, eq. 7-9 (the paper's step variance sigma^2/m): s = 0.05, eta = 0.02, mu = 1, sigma = 20 gives m* = 113.
    assert rw.optimal_batch_size_int(s=0.05, mu=1.0, sigma=20.0, eta=0.02) == 113


@given(floors, gaps, positive_means, noises, rates)
def test_unit_batch_condition_agrees_with_the_optimiser(floor, gap, mean, noise, rate):
    walk = dict(s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    assert rw.unit_batch_is_optimal(**walk) == (rw.optimal_batch_size(**walk) == 1.0)


@given(floors, gaps, means, noises, rates)
def test_unbounded_utility_iff_mean_step_lands_no_lower(floor, gap, mean, noise, rate):
    walk = dict(s=floor + gap, mu=mean, sigma=noise, eta=rate, s_star=floor)
    effective_gap = (floor + gap) - floor
    lands_no_lower = mean <= 0 or rate * mean >= 2 * effective_gap
    assert rw.utility_increases_forever(**walk) == lands_no_lower
    assert math.isinf(rw.optimal_batch_size(**walk)) == lands_no_lower


def test_degenerate_cases():
    assert math.isinf(
        rw.optimal_batch_size(s=1.0, mu=-1.0, sigma=2.0, eta=0.1)
    )  # mu < 0: every step expects to climb
    assert math.isinf(
        rw.optimal_batch_size(s=1.0, mu=0.0, sigma=2.0, eta=0.1)
    )  # mu = 0: only the rebound is left
    assert math.isinf(rw.optimal_batch_size(s=0.0, mu=1.0, sigma=2.0, eta=0.1))  # s = S*: can only go up
    assert rw.optimal_batch_size(s=0.0, mu=1.0, sigma=2.0, eta=0.1, m_max=64) == 64.0
    assert rw.optimal_batch_size_int(s=0.0, mu=1.0, sigma=2.0, eta=0.1) == math.inf
    assert rw.optimal_batch_size(s=1.0, mu=1.0, sigma=0.0, eta=0.1) == 1.0  # no noise, no overshoot
    assert (
        rw.optimal_batch_size(s=1.0, mu=0.0, sigma=0.0, eta=0.1) == 1.0
    )  # u == 0 everywhere: the cheapest batch
    assert math.isinf(
        rw.optimal_batch_size(s=1.0, mu=30.0, sigma=0.0, eta=0.1)
    )  # noiseless overshoot past 2(s - S*)


@given(gaps, positive_means, noises, rates, st.floats(min_value=1.01, max_value=10.0))
def test_larger_step_size_never_shrinks_m_star(gap, mean, noise, rate, factor):
    small = rw.optimal_batch_size(s=gap, mu=mean, sigma=noise, eta=rate)
    large = rw.optimal_batch_size(s=gap, mu=mean, sigma=noise, eta=rate * factor)
    assert large >= small * (1 - 1e-9)


@given(gaps, gaps, positive_means, noises, rates)
def test_m_star_grows_as_the_state_approaches_the_floor(gap_a, gap_b, mean, noise, rate):
    near, far = sorted((gap_a, gap_b))
    assert rw.optimal_batch_size(s=near, mu=mean, sigma=noise, eta=rate) >= rw.optimal_batch_size(
        s=far, mu=mean, sigma=noise, eta=rate
    ) * (1 - 1e-9)


# Most draws put m* at 1 (filtered by the assume below); with a random seed Hypothesis's filter health check
# can trip on a test that is otherwise sound, so it is off here (the ci profile is derandomized anyway).
@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(gaps, positive_means, noises, rates, st.floats(min_value=1.1, max_value=10.0))
def test_interior_m_star_scales_with_noise_squared(gap, mean, noise, rate, factor):
    base = rw.optimal_batch_size(s=gap, mu=mean, sigma=noise, eta=rate)
    assume(1.0 < base < 1e12)
    assert rw.optimal_batch_size(s=gap, mu=mean, sigma=noise * factor, eta=rate) == pytest.approx(
        base * factor**2, rel=1e-8
    )


def test_step_size_sensitivity_is_positive_everywhere():
    h = lambdify((rw.a_sym,), rw.step_size_sensitivity_expr())
    grid = np.linspace(-12.0, 12.0, 48001)
    assert np.all(h(grid) > 0)
    a = rw.a_sym
    # Tails: h ~ -2a as a -> -inf, and h / phi(a) -> +inf as a -> +inf.
    assert sp.limit(rw.step_size_sensitivity_expr() / (-a), a, -sp.oo) == 2
    assert sp.limit(rw.step_size_sensitivity_expr() / _pdf(a), a, sp.oo) == sp.oo


@pytest.mark.parametrize("params", [(0.05, 1.0, 20.0, 0.02), (1.0, 2.0, 5.0, 0.6), (0.3, 0.5, 1.0, 0.5)])
def test_sensitivities_match_finite_differences(params):
    gap, mean, noise, rate = params
    sens = rw.optimal_batch_size_sensitivity(s=gap, mu=mean, sigma=noise, eta=rate)
    h = 1e-6
    checks = {
        "eta": (lambda v: rw.optimal_batch_size(s=gap, mu=mean, sigma=noise, eta=v), rate),
        "s": (lambda v: rw.optimal_batch_size(s=v, mu=mean, sigma=noise, eta=rate), gap),
        "sigma": (lambda v: rw.optimal_batch_size(s=gap, mu=mean, sigma=v, eta=rate), noise),
        "mu": (lambda v: rw.optimal_batch_size(s=gap, mu=v, sigma=noise, eta=rate), mean),
    }
    assert sens["eta"] > 0 and sens["s"] < 0 and sens["sigma"] > 0
    for name, (fn, at) in checks.items():
        fd = (fn(at * (1 + h)) - fn(at * (1 - h))) / (2 * at * h)
        assert sens[name] == pytest.approx(fd, rel=1e-5), name


# ---------------------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"sigma": -1.0}, "sigma"),
        ({"m": 0.5}, "m"),
        ({"eta": 0.0}, "eta"),
        ({"eta": -0.1}, "eta"),
        ({"s": float("nan")}, "s"),
        ({"mu": float("inf")}, "mu"),
        ({"s": -1.0}, "s"),
        ({"s_star": float("-inf")}, "s_star"),
    ],
)
def test_invalid_input_raises_naming_the_value(kwargs, name):
    args = {"s": 1.0, "mu": 1.0, "sigma": 1.0, "m": 2.0, "eta": 0.1, "s_star": 0.0} | kwargs
    with pytest.raises(ValueError, match=f"Invalid {name}: "):
        rw.expected_next_state(**args)
    with pytest.raises(ValueError, match=f"Invalid {name}: "):
        rw.utility_derivative(**args)
    if name != "m":
        del args["m"]
        with pytest.raises(ValueError, match=f"Invalid {name}: "):
            rw.optimal_batch_size(**args)


def test_invalid_m_max_raises():
    with pytest.raises(ValueError, match="Invalid m_max: 0.5"):
        rw.optimal_batch_size(s=1.0, mu=1.0, sigma=1.0, eta=0.1, m_max=0.5)


# ---------------------------------------------------------------------------------------------------------
# BA-Momentum
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [0, 1, 2, 5])
def test_momentum_closed_form_equals_recurrence_symbolically(steps):
    recurrence, closed = bm.buffer_recurrence_exprs(steps), bm.buffer_closed_form_exprs(steps)
    assert all(sp.expand(r - c) == 0 for r, c in zip(recurrence, closed, strict=True))


def test_momentum_closed_form_step_identity_for_symbolic_t():
    assert bm.closed_form_step_identity() == 0


@given(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=1, max_value=5),
    st.floats(min_value=0.0, max_value=0.99),
)
def test_momentum_closed_form_equals_recurrence_numerically(seed, steps, dim, rho):
    grads = np.random.default_rng(seed).normal(size=(steps, dim))
    np.testing.assert_allclose(
        bm.momentum_buffer_closed_form(grads, rho),
        bm.momentum_buffer_recurrence(grads, rho),
        rtol=1e-12,
        atol=1e-12,
    )


def test_paper_mean_recursion_misses_the_fixed_past_noise():
    gap = bm.mean_recursion_gap_expr(2)
    e0, e1 = sp.symbols("e0 e1", real=True)
    assert sp.expand(gap - (rho**2 * e0 + rho * e1)) == 0
    assert bm.mean_recursion_gap_expr(0) == 0


@pytest.mark.parametrize("dim", [1, 3])
def test_momentum_moments_derivation(dim):
    mean, var_per_sample = bm.momentum_decrease_moments_expr(dim)
    f = sp.Matrix(sp.symbols(f"f0:{dim}", real=True))
    p = sp.Matrix(sp.symbols(f"P0:{dim}", real=True))
    chol = sp.Matrix(dim, dim, lambda i, j: sp.Symbol(f"L{i}{j}", real=True) if j <= i else 0)
    assert sp.expand(mean - eta * (f.T * (f + rho * p))[0]) == 0
    assert sp.expand(var_per_sample - eta**2 * (f.T * chol * chol.T * f)[0]) == 0


@given(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=1, max_value=4),
    st.floats(min_value=0.0, max_value=0.95),
    st.floats(min_value=1e-3, max_value=1.0),
    st.integers(min_value=1, max_value=64),
)
def test_momentum_moments_against_monte_carlo(seed, dim, rho, rate, batch):
    rng = np.random.default_rng(seed)
    f, p_prev = rng.normal(size=dim), rng.normal(size=dim)
    root = rng.normal(size=(dim, dim))
    cov = root @ root.T
    mean, var_per_sample = bm.momentum_decrease_moments(f, cov, p_prev, rho, rate)
    draws = 20_000
    grads = rng.multivariate_normal(f, cov / batch, size=draws)
    decrease = rate * (grads + rho * p_prev) @ f
    var = var_per_sample / batch
    stderr_mean = math.sqrt(var / draws)
    # Var of the sample variance of a normal is 2 var^2 / (n - 1).
    stderr_var = var * math.sqrt(2 / (draws - 1))
    assert abs(decrease.mean() - mean) <= Z_MC * stderr_mean + 1e-12 * abs(mean)
    assert abs(decrease.var(ddof=1) - var) <= Z_MC * stderr_var + 1e-15


def test_momentum_dice_feeds_the_walk():
    f, cov, p_prev = np.array([1.0, 2.0]), np.diag([1.0, 2.0]), np.array([0.5, 0.5])
    mu_t, sigma_t = bm.momentum_dice(f, cov, p_prev, 0.9)
    mean, var_per_sample = bm.momentum_decrease_moments(f, cov, p_prev, 0.9, 0.1)
    assert mean == pytest.approx(0.1 * mu_t, rel=1e-15)
    assert var_per_sample == pytest.approx(0.01 * sigma_t**2, rel=1e-15)
    assert rw.optimal_batch_size(s=0.05, mu=mu_t, sigma=sigma_t, eta=0.1) >= 1.0


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], 1.0, 0.1), "rho"),
        (([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], -0.1, 0.1), "rho"),
        (([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], 0.9, 0.0), "eta"),
        (([1.0, 2.0], [[1.0, 0.5], [0.0, 1.0]], [0.0, 0.0], 0.9, 0.1), "Sigma"),
        (([1.0, 2.0], [[1.0, 0.0], [0.0, -1.0]], [0.0, 0.0], 0.9, 0.1), "Sigma"),
        (([1.0, float("nan")], [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], 0.9, 0.1), "f"),
        (([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]], [0.0], 0.9, 0.1), "P_prev"),
    ],
)
def test_momentum_invalid_input_raises(args, name):
    with pytest.raises(ValueError, match=f"Invalid {name}: "):
        bm.momentum_decrease_moments(*args)


def test_momentum_buffer_rejects_bad_shapes():
    with pytest.raises(ValueError, match="Invalid grads: "):
        bm.momentum_buffer_recurrence(np.ones(3), 0.9)
    with pytest.raises(ValueError, match="Invalid steps: "):
        bm.buffer_recurrence_exprs(-1)

"""theory.grad_shrinkage against independent routes: scipy quadrature, scipy.stats.foldnorm, exhaustive
enumeration of without-replacement batches, and sympy identities (seed 001, eq. 1-8 and 25-28)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from theory import grad_shrinkage as G
from theory import symbols as S

SIGMAS = st.floats(min_value=0.05, max_value=20.0, allow_nan=False, allow_infinity=False)
BATCHES = st.integers(min_value=1, max_value=100_000)
MEANS = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False, allow_infinity=False)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
QUAD_REL = 1e-8  # quad reaches ~1e-12 relative on these smooth integrands; 1e-8 leaves room for rounding
WINDOW = 12.0  # the normal mass beyond 12 standard deviations is below 1e-32


# ---------------------------------------------------------------- symbolic identities


def test_abs_mean_expr_reduces_to_sigma_sqrt_2_over_pi_n_at_zero_mean():
    expr = G.expected_abs_mean_expr().subs(S.mu, 0)
    assert sp.simplify(expr - S.sigma * sp.sqrt(2 / (sp.pi * S.n))) == 0


def test_paper_constant_is_sqrt2_times_ours_and_equals_difference_of_two_means():
    ours = G.expected_abs_mean_expr().subs(S.mu, 0)
    assert sp.simplify(G.paper_expected_abs_mean_expr() / ours - sp.sqrt(2)) == 0
    assert sp.simplify(G.paper_expected_abs_mean_expr() - G.expected_abs_difference_of_means_expr()) == 0


def test_sq_mean_expr_is_mu_squared_plus_sigma_squared_over_n():
    assert sp.simplify(G.expected_sq_mean_expr() - (S.mu**2 + S.sigma**2 / S.n)) == 0


def test_finite_population_variance_expr_has_the_textbook_factor():
    target = S.sigma**2 / S.n * (S.N - S.n) / (S.N - 1)
    assert sp.simplify(G.batch_mean_variance_finite_expr() - target) == 0


def test_finite_population_variance_expr_tends_to_iid_for_large_population():
    limit = sp.limit(G.batch_mean_variance_finite_expr(), S.N, sp.oo)
    assert sp.simplify(limit - S.sigma**2 / S.n) == 0


def test_finite_population_variance_by_symbolic_enumeration_of_all_subsets():
    """Third route: exact variance of the subset mean over every 2-subset of a symbolic population of 4."""
    xs = sp.symbols("x1:5", real=True)
    size, batch = len(xs), 2
    means = [sum(c) / batch for c in itertools.combinations(xs, batch)]
    exact_var = sum(m**2 for m in means) / len(means) - (sum(means) / len(means)) ** 2
    centre = sum(xs) / size
    population_var = sum((x - centre) ** 2 for x in xs) / size
    formula = G.batch_mean_variance_finite_expr().subs({S.sigma**2: population_var, S.n: batch, S.N: size})
    assert sp.expand(exact_var - formula) == 0


def test_eq3_density_as_printed_integrates_to_n_not_one():
    mass = sp.integrate(G.paper_density_expr(), (sp.Symbol("g", real=True), -sp.oo, sp.oo))
    assert sp.simplify(mass - S.n) == 0


# ---------------------------------------------------------------- numbers against scipy


@given(sigma=SIGMAS, n=BATCHES, mu=MEANS)
def test_abs_mean_matches_scipy_foldnorm(sigma, n, mu):
    scale = sigma / math.sqrt(n)
    reference = stats.foldnorm(c=abs(mu) / scale, scale=scale).mean()
    assert G.expected_abs_mean(sigma, n, mu) == pytest.approx(reference, rel=1e-9, abs=1e-12)


def _normal_pdf(g, mu: float, scale: float):
    return np.exp(-0.5 * ((g - mu) / scale) ** 2) / (scale * math.sqrt(2 * math.pi))


def _quad_expectation(fn, mu: float, scale: float) -> float:
    """E fn(X), X ~ N(mu, scale²), by quad over mu ± 12 scale, split at 0 where |x| has its kink."""
    lo, hi = mu - WINDOW * scale, mu + WINDOW * scale
    pieces = [(lo, min(hi, 0.0)), (max(lo, 0.0), hi)]
    total = 0.0
    for a, b in pieces:
        if b > a:
            total += integrate.quad(
                lambda g: fn(g) * _normal_pdf(g, mu, scale), a, b, epsabs=0, epsrel=1e-12
            )[0]
    return total


@given(sigma=SIGMAS, n=st.integers(min_value=1, max_value=500), mu=MEANS)
def test_abs_mean_matches_quadrature(sigma, n, mu):
    reference = _quad_expectation(abs, mu, sigma / math.sqrt(n))
    assert G.expected_abs_mean(sigma, n, mu) == pytest.approx(reference, rel=QUAD_REL, abs=1e-12)


@given(sigma=SIGMAS, n=st.integers(min_value=1, max_value=500), mu=MEANS)
def test_sq_mean_matches_quadrature(sigma, n, mu):
    reference = _quad_expectation(lambda g: g * g, mu, sigma / math.sqrt(n))
    assert G.expected_sq_mean(sigma, n, mu) == pytest.approx(reference, rel=QUAD_REL, abs=1e-12)


def test_difference_of_two_means_matches_quadrature_over_the_second_mean():
    """E|ḡ₁ - ḡ₂| = E_b[ E|ḡ₁ - b| ], the inner mean from scipy's folded normal, the outer by quad."""
    sigma, n = 3.0, 7
    scale = sigma / math.sqrt(n)

    def inner(b: float) -> float:
        return stats.foldnorm(c=abs(b) / scale, scale=scale).mean()

    value = _quad_expectation(inner, 0.0, scale)
    assert G.expected_abs_difference_of_means(sigma, n) == pytest.approx(value, rel=1e-9)
    assert G.paper_expected_abs_mean(sigma, n) == pytest.approx(value, rel=1e-9)


def test_eq3_density_numeric_mass_is_n():
    n = 9
    mass, _ = integrate.quad(lambda g: G.paper_density(g, 1.5, n), -np.inf, np.inf)
    assert mass == pytest.approx(n, rel=1e-9)


@given(sigma=SIGMAS, n=BATCHES)
def test_abs_mean_follows_inverse_sqrt_n(sigma, n):
    ratio = G.expected_abs_mean(sigma, n) / G.expected_abs_mean(sigma, 4 * n)
    assert ratio == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize(("sigma", "n"), [(1.7, 37), (0.3, 4), (5.0, 1000)])
def test_only_the_variance_two_sigma_squared_over_n_readings_give_the_printed_constant(sigma, n):
    paper = G.paper_expected_abs_mean(sigma, n)
    rescuing = {
        "two independent batch means": G.expected_abs_difference_of_means(sigma, n),
        "per-sample variance 2σ²": G.expected_abs_mean(math.sqrt(2) * sigma, n),
    }
    failing = {
        "eq. 1-2 as stated": G.expected_abs_mean(sigma, n),
        "eq. 2's second argument as a variance σ/√n": G.expected_abs_mean(math.sqrt(sigma / math.sqrt(n)), 1),
        "eq. 3's exponent, normalised: N(0, nσ²)": G.expected_abs_mean(sigma * math.sqrt(n), 1),
    }
    for name, value in rescuing.items():
        assert value == pytest.approx(paper, rel=1e-12), name
    for name, value in failing.items():
        assert abs(value / paper - 1) > 0.05, name


# ---------------------------------------------------------------- finite population


def _enumerated_variance(population: np.ndarray, n: int) -> float:
    means = np.array([np.mean(c) for c in itertools.combinations(population, n)])
    return float(np.mean((means - means.mean()) ** 2))


@given(seed=SEEDS, size=st.integers(min_value=2, max_value=8), data=st.data())
def test_finite_variance_matches_enumeration_of_all_batches(seed, size, data):
    n = data.draw(st.integers(min_value=1, max_value=size))
    population = np.random.default_rng(seed).normal(size=size)
    sigma_pop = float(np.std(population))  # divide by N, the convention of batch_mean_variance
    expected = _enumerated_variance(population, n)
    assert G.batch_mean_variance(sigma_pop, n, size) == pytest.approx(expected, rel=1e-9, abs=1e-13)


@given(sigma=SIGMAS, size=st.integers(min_value=1, max_value=10_000))
def test_full_batch_has_zero_variance_and_single_sample_has_sigma_squared(sigma, size):
    assert G.batch_mean_variance(sigma, size, size) == 0.0
    assert G.expected_abs_mean_finite(sigma, size, size, mu=0.7) == pytest.approx(0.7, rel=1e-12)
    assert G.batch_mean_variance(sigma, 1, size) == pytest.approx(sigma**2 if size > 1 else 0.0, rel=1e-12)


@given(sigma=SIGMAS, n=st.integers(min_value=1, max_value=64))
def test_large_population_recovers_iid(sigma, n):
    big = 10**12
    assert G.batch_mean_variance(sigma, n, big) == pytest.approx(G.batch_mean_variance(sigma, n), rel=1e-9)
    assert G.expected_abs_mean_finite(sigma, n, big) == pytest.approx(G.expected_abs_mean(sigma, n), rel=1e-9)


def test_finite_abs_mean_is_folded_normal_with_finite_variance():
    sigma, n, size, mu = 2.0, 30, 100, 0.2
    scale = math.sqrt(sigma**2 / n * (size - n) / (size - 1))
    reference = stats.foldnorm(c=mu / scale, scale=scale).mean()
    assert G.expected_abs_mean_finite(sigma, n, size, mu) == pytest.approx(reference, rel=1e-10)


# ---------------------------------------------------------------- strides and distance


@given(lr=st.floats(min_value=1e-4, max_value=10.0), sigma=SIGMAS, n=BATCHES, mu=MEANS)
def test_strides_are_lr_times_moments(lr, sigma, n, mu):
    assert G.parameter_stride(lr, sigma, n, mu) == pytest.approx(
        lr * G.expected_abs_mean(sigma, n, mu), rel=1e-12
    )
    assert G.loss_stride(lr, sigma, n, mu) == pytest.approx(lr * (mu**2 + sigma**2 / n), rel=1e-12)
    assert G.paper_parameter_stride(lr, sigma, n) / G.parameter_stride(lr, sigma, n) == pytest.approx(
        math.sqrt(2)
    )


def test_one_step_on_the_parabola_decreases_loss_by_lr_g2_times_one_minus_a_lr():
    w, b, c, a, lr = sp.symbols("w b c a lr", real=True)
    loss = a * (w - b) ** 2 + c
    slope = sp.diff(loss, w)
    decrease = loss - loss.subs(w, w - lr * slope)
    assert sp.expand(decrease - lr * slope**2 * (1 - a * lr)) == 0
    assert G.loss_stride_on_parabola(0.1, 2.0, 4, a=3.0) == pytest.approx(0.1 * 0.7 * 1.0)


@given(sigma=SIGMAS, n=st.integers(min_value=1, max_value=500), a=st.floats(min_value=0.01, max_value=100.0))
def test_distance_to_minimum_matches_quadrature_of_g_over_2a(sigma, n, a):
    reference = _quad_expectation(lambda g: abs(g) / (2 * a), 0.0, sigma / math.sqrt(n))
    assert G.distance_to_minimum(sigma, n, a) == pytest.approx(reference, rel=QUAD_REL, abs=1e-13)
    assert G.paper_distance_to_minimum(sigma, n, a) / G.distance_to_minimum(sigma, n, a) == pytest.approx(
        math.sqrt(2)
    )


# ---------------------------------------------------------------- API contract


def test_broadcasting_and_scalar_return_types():
    assert isinstance(G.expected_abs_mean(1.0, 4), float)
    out = G.expected_abs_mean(np.array([[1.0], [2.0]]), np.array([1, 4, 16]))
    assert out.shape == (2, 3)
    assert G.batch_mean_variance(1.0, np.array([1, 2, 5]), 5).shape == (3,)
    assert G.expected_abs_mean(0.0, 3, -1.5) == 1.5  # σ = 0: a point mass at μ


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: G.expected_abs_mean(-1.0, 4), "sigma"),
        (lambda: G.expected_abs_mean(1.0, 0.5), "n"),
        (lambda: G.expected_abs_mean(1.0, 4, float("nan")), "mu"),
        (lambda: G.expected_sq_mean(float("inf"), 4), "sigma"),
        (lambda: G.batch_mean_variance(1.0, 11, 10), "n"),
        (lambda: G.batch_mean_variance(1.0, 2.5, 10), "n"),
        (lambda: G.batch_mean_variance(1.0, 2, 0), "population_size"),
        (lambda: G.expected_abs_mean_finite(1.0, 3, 9.5), "population_size"),
        (lambda: G.parameter_stride(-0.1, 1.0, 4), "lr"),
        (lambda: G.distance_to_minimum(1.0, 4, 0.0), "a"),
        (lambda: G.paper_density(0.0, 0.0, 4), "sigma"),
    ],
)
def test_invalid_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        call()

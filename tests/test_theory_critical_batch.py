"""theory.critical_batch: McCandlish's noise scale and speed-up model, Ma et al.'s critical batch.

Independent routes: exact expectations over every ordered batch of a tiny data set (sampling with
replacement), direct numeric optimisation of the step with scipy, and sympy identities.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from theory import critical_batch as cb
from theory.symbols import B

seeds = st.integers(0, 2**32 - 1)
batches = st.floats(min_value=1.0, max_value=1e5, allow_nan=False)
noise_scales = st.floats(min_value=0.1, max_value=1e5, allow_nan=False)


def _random_problem(seed: int, n: int = 5, d: int = 3):
    """A quadratic's Hessian H and n per-sample gradients at the current point (their mean is G)."""
    rng = np.random.default_rng(seed)
    root = rng.normal(size=(d, d))
    hessian = root @ root.T + 0.5 * np.eye(d)
    grads = rng.normal(size=(n, d)) + rng.normal(size=d)
    return hessian, grads


def _equal_norm_data(seed: int, n: int = 4, d: int = 3, beta: float = 2.0) -> np.ndarray:
    X = np.random.default_rng(seed).normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True) * np.sqrt(beta)


# ------------------------------------------------------------------ symbolic derivations


def test_optimal_step_and_decrease_have_the_noise_scale_form():
    g2, ghg, trhs = cb.GRAD_SQ, cb.CURVATURE_ALONG_GRAD, cb.TRACE_H_SIGMA
    lr_max, decrease_max, noise = g2 / ghg, g2**2 / (2 * ghg), trhs / ghg
    assert sp.simplify(cb.optimal_lr_expr() - lr_max / (1 + noise / B)) == 0
    assert sp.simplify(cb.optimal_loss_decrease_expr() - decrease_max / (1 + noise / B)) == 0


def test_steps_examples_tradeoff_is_exactly_one():
    assert cb.tradeoff_expr() == 1


@given(batch=batches, s_min=st.floats(min_value=1.0, max_value=1e6, allow_nan=False), noise=noise_scales)
def test_tradeoff_identity_numerically(batch, s_min, noise):
    steps = cb.steps_to_target(batch, s_min, noise)
    examples = cb.examples_to_target(batch, s_min * noise, noise)
    assert examples == pytest.approx(steps * batch, rel=1e-12)
    assert (steps / s_min - 1) * (examples / (s_min * noise) - 1) == pytest.approx(1.0, rel=1e-9)


# ------------------------------------------------------------------ noise scales against brute force


@given(seed=seeds, batch_size=st.integers(1, 3))
def test_optimal_step_matches_exact_expectation_over_all_batches(seed, batch_size):
    hessian, grads = _random_problem(seed)
    mean = grads.mean(axis=0)
    sigma = np.cov(grads.T, bias=True)  # sampling with replacement: Var(batch mean) = Sigma / B exactly
    batch_grads = np.array(
        [grads[list(idx)].mean(axis=0) for idx in itertools.product(range(len(grads)), repeat=batch_size)]
    )

    def expected_loss_change(lr):
        # L(theta - lr g) - L(theta) for L quadratic with gradient `mean` at theta.
        steps = lr * batch_grads
        return np.mean(-steps @ mean + 0.5 * np.einsum("ij,jk,ik->i", steps, hessian, steps))

    lr_max = mean @ mean / (mean @ hessian @ mean)
    best = minimize_scalar(
        expected_loss_change, bounds=(0.0, 2 * lr_max), method="bounded", options={"xatol": 1e-12}
    )
    predicted = cb.optimal_lr(batch_size, lr_max, cb.b_noise(hessian, sigma, mean))
    assert best.x == pytest.approx(predicted, rel=1e-6)


@given(seed=seeds, scale=st.floats(min_value=0.1, max_value=10.0, allow_nan=False))
def test_b_noise_reduces_to_b_simple_for_isotropic_hessian(seed, scale):
    _, grads = _random_problem(seed)
    mean, sigma = grads.mean(axis=0), np.cov(grads.T, bias=True)
    expected = cb.b_simple(np.trace(sigma), mean @ mean)
    assert cb.b_noise(scale * np.eye(3), sigma, mean) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ speed-up model


@given(
    m0=st.floats(min_value=1.0, max_value=1e3, allow_nan=False),
    noise=noise_scales,
    factor=st.floats(min_value=1.0, max_value=1e6, allow_nan=False),
)
def test_speedup_is_monotone_bounded_and_linear_well_below_b_noise(m0, noise, factor):
    m = m0 * factor
    s = cb.speedup(m, m0, noise)
    limit = cb.speedup_limit(m0, noise)
    assert 1.0 <= s <= limit * (1 + 1e-12)
    assert cb.speedup(m * 2, m0, noise) >= s
    assert s / (m / m0) == pytest.approx((m0 + noise) / (m + noise), rel=1e-12)  # the departure from linear
    assert cb.speedup(m0, m0, noise) == pytest.approx(1.0)
    assert cb.speedup(1e15, m0, noise) == pytest.approx(limit, rel=1e-9)


@given(
    m0=st.floats(min_value=1.0, max_value=100.0, allow_nan=False),
    noise=noise_scales,
    fraction=st.floats(min_value=0.01, max_value=0.99, allow_nan=False),
)
def test_speedup_fraction_is_reached_at_the_stated_batch_for_any_base(m0, noise, fraction):
    m = cb.batch_for_speedup_fraction(fraction, noise)
    limit = cb.speedup_limit(m0, noise)
    assert cb.speedup(m, m0, noise) == pytest.approx(fraction * limit, rel=1e-9)


@given(noise=noise_scales, s_min=st.floats(min_value=1.0, max_value=1e6, allow_nan=False))
def test_three_critical_batch_definitions_coincide_at_b_noise(noise, s_min):
    crit = cb.critical_batch_size(noise)
    assert cb.steps_to_target(crit, s_min, noise) == pytest.approx(2 * s_min)
    assert cb.examples_to_target(crit, s_min * noise, noise) == pytest.approx(2 * s_min * noise)
    assert cb.critical_batch_from_minima(s_min, s_min * noise) == pytest.approx(crit)
    assert cb.batch_for_speedup_fraction(0.5, noise) == pytest.approx(crit)
    assert cb.scaling_exponent(crit, noise) == pytest.approx(0.5)


@given(m=batches, noise=noise_scales)
def test_scaling_exponent_is_the_log_derivative_of_the_speedup(m, noise):
    step = 1e-5
    numeric = (
        np.log(cb.speedup(m * np.exp(step), 1.0, noise)) - np.log(cb.speedup(m * np.exp(-step), 1.0, noise))
    ) / (2 * step)
    assert cb.scaling_exponent(m, noise) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_learning_rate_rules_in_the_noisy_quadratic_model():
    m0, noise = 64.0, 2048.0
    x0 = 1 / (1 + noise / m0)
    for rule in cb.LR_RULES:
        assert cb.rule_speedup(m0, m0, noise, rule) == pytest.approx(1.0)
    # BLR saturates at (2 x0 - x0^2) / x0 = 2 - x0; LSR stops descending at m = 2 m0 + B_noise.
    assert cb.rule_speedup(1e12, m0, noise, "blr") == pytest.approx(2 - x0, rel=1e-6)
    assert cb.rule_speedup(2 * m0 + noise - 1, m0, noise, "lsr") > 0
    assert cb.rule_speedup(2 * m0 + noise + 1, m0, noise, "lsr") == 0.0
    # The step tuned at every batch gives the speed-up model; no fixed rule beats it.
    tuned = cb.loss_decrease(cb.optimal_lr(1024.0, 1.0, noise), 1024.0, 1.0, noise) / x0
    assert tuned == pytest.approx(cb.speedup(1024.0, m0, noise), rel=1e-12)
    for rule in cb.LR_RULES:
        assert cb.rule_speedup(1024.0, m0, noise, rule) <= tuned * (1 + 1e-12)


# ------------------------------------------------------------------ Ma, Bassily & Belkin


def test_ma_step_and_critical_batch_follow_from_the_contraction_symbolically():
    phi = cb.least_squares_step_contraction_expr()
    eta, lam, beta, m = sp.symbols("eta lambda beta m", positive=True)
    lambda_1, lambda_min = sp.symbols("lambda_1 lambda_min", positive=True)
    (top_optimum,) = sp.solve(sp.diff(phi.subs(lam, lambda_1), eta), eta)
    assert sp.simplify(top_optimum - m / (beta + (m - 1) * lambda_1)) == 0
    # The regimes meet where the lambda_min optimum equals the step that equalises both ends.
    own_optimum = m / (beta + (m - 1) * lambda_min)
    equalising = 2 * m / (beta + (m - 1) * (lambda_1 + lambda_min))
    (boundary,) = sp.solve(sp.Eq(own_optimum, equalising), m)
    assert sp.simplify(boundary - (beta / (lambda_1 - lambda_min) + 1)) == 0
    ends_equal = sp.simplify((phi.subs(lam, lambda_1) - phi.subs(lam, lambda_min)).subs(eta, equalising))
    assert ends_equal == 0


@given(seed=seeds, m=st.integers(1, 3), lr=st.floats(min_value=0.01, max_value=1.0, allow_nan=False))
def test_contraction_matches_exact_expectation_over_all_batches(seed, m, lr):
    X = _equal_norm_data(seed)
    n, d = X.shape
    second_moment = np.zeros((d, d))
    for idx in itertools.product(range(n), repeat=m):
        step = np.eye(d) - lr * X[list(idx)].T @ X[list(idx)] / m
        second_moment += step.T @ step
    second_moment /= n**m
    consts = cb.least_squares_constants(X)
    eigenvalues = np.linalg.eigvalsh(X.T @ X / n)
    worst = np.linalg.eigvalsh(second_moment)[-1]
    assert cb.least_squares_contraction(m, lr, consts.beta, eigenvalues) == pytest.approx(worst, rel=1e-10)


@given(
    beta=st.floats(min_value=1.0, max_value=100.0, allow_nan=False),
    ratio=st.floats(min_value=0.01, max_value=1.0, allow_nan=False),
    m=st.integers(1, 10_000),
)
def test_optimal_lr_minimises_the_top_direction_contraction(beta, ratio, m):
    lambda_1 = ratio * beta
    best = minimize_scalar(
        lambda lr: cb.least_squares_contraction(m, lr, beta, [lambda_1]),
        bounds=(1e-9, 2 * m / beta),
        method="bounded",
        options={"xatol": 1e-13},
    )
    assert cb.least_squares_optimal_lr(m, beta, lambda_1) == pytest.approx(best.x, rel=1e-5)


@given(
    beta=st.floats(min_value=1.0, max_value=100.0, allow_nan=False),
    top=st.floats(min_value=0.01, max_value=1.0, allow_nan=False),
    bottom=st.floats(min_value=0.01, max_value=0.99, allow_nan=False),
    m=st.integers(1, 2_000),
)
def test_two_sided_optimal_lr_minimises_the_worst_case_contraction(beta, top, bottom, m):
    lambda_1 = top * beta
    lambda_min = bottom * lambda_1
    spectrum = [lambda_min, lambda_1]
    best = minimize_scalar(
        lambda lr: cb.least_squares_contraction(m, lr, beta, spectrum),
        bounds=(1e-9, 2 * m / beta),
        method="bounded",
        options={"xatol": 1e-13},
    )
    ours = cb.least_squares_optimal_lr_two_sided(m, beta, lambda_1, lambda_min)
    # Compare contraction values: near m* the minimum is flat on one side, the argmin is not sharp.
    assert cb.least_squares_contraction(m, ours, beta, spectrum) <= best.fun + 1e-10


def test_critical_batch_is_where_the_regimes_meet():
    beta, lambda_1, lambda_min = 20.0, 2.0, 0.5
    m_star = cb.least_squares_critical_batch(beta, lambda_1, lambda_min)
    assert m_star == pytest.approx(beta / (lambda_1 - lambda_min) + 1)
    linear = m_star / (beta + (m_star - 1) * lambda_min)
    saturated = 2 * m_star / (beta + (m_star - 1) * (lambda_1 + lambda_min))
    assert linear == pytest.approx(saturated, rel=1e-12)
    assert cb.least_squares_critical_batch(beta, lambda_1, lambda_1) == np.inf


@given(
    beta=st.floats(min_value=1.0, max_value=1e3, allow_nan=False),
    ratio=st.floats(min_value=1e-3, max_value=1.0, allow_nan=False),
)
def test_one_sided_critical_batch_halves_the_linear_extrapolation(beta, ratio):
    lambda_1 = ratio * beta
    m_star = cb.least_squares_critical_batch(beta, lambda_1)
    assert m_star == pytest.approx(beta / lambda_1 + 1)
    eta_one = cb.least_squares_optimal_lr(1, beta, lambda_1)
    assert cb.least_squares_optimal_lr(m_star, beta, lambda_1) == pytest.approx(
        m_star * eta_one / 2, rel=1e-12
    )
    assert cb.least_squares_optimal_lr(1e12, beta, lambda_1) == pytest.approx(1 / lambda_1, rel=1e-6)


def test_least_squares_constants_of_a_rank_deficient_matrix():
    X = np.array([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    consts = cb.least_squares_constants(X)
    assert consts.beta == pytest.approx(9.0)
    assert consts.lambda_1 == pytest.approx(9.0 / 4)
    assert consts.lambda_min == pytest.approx(2.0 / 4)
    assert consts.trace == pytest.approx(11.0 / 4)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: cb.b_simple(1.0, 0.0), "grad_sq_norm"),
        (lambda: cb.b_simple(-1.0, 1.0), "trace_sigma"),
        (lambda: cb.b_noise(np.eye(2), np.eye(3), np.ones(2)), "sigma"),
        (lambda: cb.b_noise(np.zeros((2, 2)), np.eye(2), np.ones(2)), "hessian"),
        (lambda: cb.b_noise(np.eye(2), np.eye(2), np.array([np.nan, 1.0])), "grad"),
        (lambda: cb.steps_to_target(0.0, 1.0, 1.0), "batch_size"),
        (lambda: cb.speedup(10.0, 1.0, -1.0), "b_noise"),
        (lambda: cb.batch_for_speedup_fraction(1.0, 10.0), "fraction"),
        (lambda: cb.scaled_lr(10.0, 1.0, 0.1, "cosine"), "rule"),
        (lambda: cb.rule_speedup(10.0, 1.0, 10.0, "blr", lr0_fraction=5.0), "lr0_fraction"),
        (lambda: cb.least_squares_optimal_lr(0.5, 1.0, 0.5), "m"),
        (lambda: cb.least_squares_optimal_lr(2.0, 1.0, 2.0), "lambda_1"),
        (lambda: cb.least_squares_optimal_lr_two_sided(2.0, 4.0, 1.0, 2.0), "lambda_min"),
        (lambda: cb.least_squares_constants(np.ones(3)), "X"),
        (lambda: cb.least_squares_constants(np.zeros((3, 2))), "X"),
    ],
)
def test_invalid_input_raises_a_named_value_error(call, name):
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        call()

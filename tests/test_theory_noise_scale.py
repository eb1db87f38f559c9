"""theory.noise_scale: the without-replacement variance, the noise scale g and SGD's stationary variance.

Independent routes: enumeration of every subset of a tiny population, scipy's discrete Lyapunov solver,
and iterating the second-moment recursion of heavy-ball SGD until it stops changing.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theory import noise_scale as ns
from theory.symbols import B, N, eps, rho, sigma

seeds = st.integers(0, 2**32 - 1)
momenta = st.floats(min_value=0.0, max_value=0.95, allow_nan=False)
# lr * h as a fraction of the stability bound 2 (1 + m): keeps the recursion's spectral radius below 1.
stable_fractions = st.floats(min_value=0.05, max_value=0.9, allow_nan=False)
curvatures = st.floats(min_value=0.1, max_value=10.0, allow_nan=False)
variances = st.floats(min_value=0.01, max_value=10.0, allow_nan=False)


def _heavy_ball_matrices(lr, h, m, step_noise):
    A = np.array([[1 - lr * h, m], [-lr * h, m]])
    q = np.array([[-lr], [-lr]])
    return A, step_noise * (q @ q.T)


# ------------------------------------------------------------------ finite-population variance


@given(n_train=st.integers(2, 8), data=st.data(), seed=seeds)
def test_batch_variance_matches_enumeration_of_all_subsets(n_train, data, seed):
    batch_size = data.draw(st.integers(1, n_train))
    grads = np.random.default_rng(seed).normal(size=n_train)
    means = np.array([grads[list(c)].mean() for c in itertools.combinations(range(n_train), batch_size)])
    exact = np.mean((means - grads.mean()) ** 2)
    per_sample_var = np.var(grads)  # 1/N convention
    assert ns.batch_gradient_variance(n_train, batch_size, per_sample_var) == pytest.approx(
        exact, rel=1e-10, abs=1e-14
    )


def test_batch_variance_expression_is_the_finite_population_formula():
    expected = (1 / B - 1 / N) * N / (N - 1) * sigma**2
    assert sp.simplify(ns.batch_mean_variance_expr() - expected) == 0
    assert ns.batch_mean_variance_expr().subs(B, N) == 0


def test_batch_variance_broadcasts_and_vanishes_for_the_full_batch():
    out = ns.batch_gradient_variance(10, np.array([1, 5, 10]), 2.0)
    # One sample has the population variance; (N - B) / (B (N - 1)) otherwise.
    np.testing.assert_allclose(out, [2.0, 2.0 * 5 / (5 * 9), 0.0])


# ------------------------------------------------------------------ noise scale


def test_noise_scale_expression_is_derived_as_eps_over_one_minus_m_times_n_over_b_minus_one():
    assert sp.simplify(ns.noise_scale_expr() - eps / (1 - rho) * (N / B - 1)) == 0
    small = sp.limit(ns.noise_scale_expr() / ns.noise_scale_small_batch_expr(), N, sp.oo)
    assert small == 1


@given(
    lr=st.floats(min_value=1e-4, max_value=10.0, allow_nan=False),
    n_train=st.integers(2, 10**6),
    fraction=st.floats(min_value=1e-4, max_value=1.0, allow_nan=False),
    momentum=momenta,
)
def test_noise_scale_and_its_inverse(lr, n_train, fraction, momentum):
    batch = max(1.0, fraction * n_train)
    g = ns.noise_scale(lr=lr, n_train=n_train, batch_size=batch, momentum=momentum)
    assert g == pytest.approx(lr / (1 - momentum) * (n_train / batch - 1), rel=1e-12)
    if g > 0:
        assert ns.batch_size_for_noise_scale(g, lr, n_train, momentum) == pytest.approx(batch, rel=1e-9)
        linear = ns.linear_scaling_batch_size(g, lr, n_train, momentum)
        assert batch == pytest.approx(linear / (1 + linear / n_train), rel=1e-9)


def test_linear_scaling_rule_is_proportional_to_lr_and_to_one_over_one_minus_m():
    base = ns.linear_scaling_batch_size(100.0, 0.1, 50_000, 0.9)
    assert ns.linear_scaling_batch_size(100.0, 0.5, 50_000, 0.9) == pytest.approx(5 * base)
    assert ns.linear_scaling_batch_size(100.0, 0.1, 50_000, 0.98) == pytest.approx(5 * base)
    assert ns.effective_learning_rate(lr=0.1, momentum=0.9) == pytest.approx(1.0)


def test_small_batch_approximation_error_is_b_over_n_minus_b():
    n_train, batch = 50_000, 5120
    exact = ns.noise_scale(lr=0.1, n_train=n_train, batch_size=batch)
    approx = 0.1 * n_train / batch
    assert approx / exact - 1 == pytest.approx(batch / (n_train - batch), rel=1e-12)


# ------------------------------------------------------------------ stationary variance


@given(h=curvatures, fraction=stable_fractions, momentum=momenta, batch=st.integers(1, 512), var=variances)
def test_stationary_variance_matches_scipy_lyapunov_solver(h, fraction, momentum, batch, var):
    lr = fraction * 2 * (1 + momentum) / h
    A, Q = _heavy_ball_matrices(lr, h, momentum, var / batch)
    reference = scipy.linalg.solve_discrete_lyapunov(A, Q)[0, 0]
    assert ns.stationary_variance(h, lr, batch, var, momentum) == pytest.approx(reference, rel=1e-8)


@given(
    h=curvatures,
    fraction=st.floats(min_value=0.1, max_value=0.8, allow_nan=False),
    momentum=st.floats(min_value=0.0, max_value=0.8, allow_nan=False),
    var=variances,
)
def test_stationary_variance_is_the_fixed_point_of_the_second_moment_recursion(h, fraction, momentum, var):
    lr = fraction * 2 * (1 + momentum) / h
    A, Q = _heavy_ball_matrices(lr, h, momentum, var)
    moments = np.zeros((2, 2))
    for _ in range(20_000):
        updated = A @ moments @ A.T + Q
        if np.allclose(updated, moments, rtol=1e-14, atol=0.0):
            break
        moments = updated
    assert ns.stationary_variance(h, lr, 1, var, momentum) == pytest.approx(moments[0, 0], rel=1e-10)


def test_lyapunov_solution_reduces_to_plain_sgd_without_momentum():
    plain = ns.heavy_ball_lyapunov_solution()["xx"].subs(rho, 0)
    s, h = ns.STEP_NOISE, sp.Symbol("h", positive=True)
    assert sp.simplify(plain - eps * s / (h * (2 - eps * h))) == 0


@given(h=curvatures, fraction=stable_fractions, momentum=momenta, batch=st.integers(1, 512), var=variances)
def test_exact_over_small_lr_variance_is_the_stated_correction(h, fraction, momentum, batch, var):
    lr = fraction * 2 * (1 + momentum) / h
    exact = ns.stationary_variance(h, lr, batch, var, momentum)
    small = ns.stationary_variance_small_lr(h, lr, batch, var, momentum)
    assert exact / small == pytest.approx(1 / (1 - lr * h / (2 * (1 + momentum))), rel=1e-10)


@given(
    h=curvatures,
    # Keeps lr * scale * h and lr * h / (1 - m) below 2, inside the stable region: 0.004 * 8 * 10 = 0.32.
    lr=st.floats(min_value=1e-4, max_value=0.004, allow_nan=False),
    batch=st.integers(1, 64),
    scale=st.integers(2, 8),
    momentum=st.floats(min_value=0.0, max_value=0.8, allow_nan=False),
)
def test_small_lr_variance_depends_only_on_lr_over_batch_times_one_minus_m(h, lr, batch, scale, momentum):
    # Scaling lr and B together leaves lr / (B (1 - m)) and hence the small-step variance unchanged.
    base = ns.stationary_variance_small_lr(h, lr, batch, 1.0, momentum)
    scaled = ns.stationary_variance_small_lr(h, lr * scale, batch * scale, 1.0, momentum)
    plain = ns.stationary_variance_small_lr(h, lr / (1 - momentum), batch, 1.0, 0.0)
    assert scaled == pytest.approx(base, rel=1e-12)
    assert plain == pytest.approx(base, rel=1e-12)


@given(
    lr=st.floats(min_value=1e-4, max_value=0.05, allow_nan=False),
    n_train=st.integers(10, 10_000),
    momentum=momenta,
    h=curvatures,
)
def test_small_lr_variance_with_finite_training_set_is_proportional_to_g(lr, n_train, momentum, h):
    batch = max(1, n_train // 7)
    g = ns.noise_scale(lr=lr, n_train=n_train, batch_size=batch, momentum=momentum)
    small = ns.stationary_variance_small_lr(h, lr, batch, 1.0, momentum, n_train=n_train)
    assert small == pytest.approx(g * 1.0 / (2 * h * (n_train - 1)), rel=1e-12)


def test_finite_training_set_uses_the_without_replacement_noise():
    with_n = ns.stationary_variance(2.0, 0.1, 8, 3.0, 0.5, n_train=20)
    s = ns.batch_gradient_variance(20, 8, 3.0)
    assert with_n == pytest.approx(ns.stationary_variance(2.0, 0.1, 1, s, 0.5), rel=1e-12)
    assert ns.stationary_variance(2.0, 0.1, 20, 3.0, n_train=20) == 0.0


def test_diagonal_hessian_and_stationary_loss():
    h = np.array([0.5, 1.0, 4.0])
    per_coordinate = ns.stationary_variance(h, 0.2, 4, 1.0, 0.3)
    singles = [ns.stationary_variance(hi, 0.2, 4, 1.0, 0.3) for hi in h]
    np.testing.assert_allclose(per_coordinate, singles, rtol=1e-12)
    assert ns.stationary_loss(h, 0.2, 4, 1.0, 0.3) == pytest.approx(0.5 * np.sum(h * per_coordinate))
    assert ns.stationary_loss(2.0, 0.2, 4, 1.0) == pytest.approx(ns.stationary_variance(2.0, 0.2, 4, 1.0))


def test_max_stable_lr_is_the_edge_of_stability():
    assert ns.max_stable_lr(4.0, 0.5) == pytest.approx(0.75)
    ns.stationary_variance(4.0, 0.7499, 1, 1.0, 0.5)
    with pytest.raises(ValueError, match="Invalid lr"):
        ns.stationary_variance(4.0, 0.75, 1, 1.0, 0.5)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: ns.noise_scale(lr=-0.1, n_train=100, batch_size=10), "lr"),
        (lambda: ns.noise_scale(lr=0.1, n_train=100, batch_size=200), "batch_size"),
        (lambda: ns.noise_scale(lr=0.1, n_train=100, batch_size=0.5), "batch_size"),
        (lambda: ns.noise_scale(lr=0.1, n_train=1, batch_size=1), "n_train"),
        (lambda: ns.noise_scale(lr=0.1, n_train=100, batch_size=10, momentum=1.0), "momentum"),
        (lambda: ns.noise_scale(lr=float("nan"), n_train=100, batch_size=10), "lr"),
        (lambda: ns.batch_gradient_variance(10, 2, -1.0), "per_sample_var"),
        (lambda: ns.batch_size_for_noise_scale(0.0, 0.1, 100), "g"),
        (lambda: ns.stationary_variance(0.0, 0.1, 1, 1.0), "h"),
        (lambda: ns.stationary_variance(1.0, 0.1, 1, float("inf")), "noise_var"),
        (lambda: ns.stationary_variance(1.0, 0.1, 1, 1.0, momentum=-0.1), "momentum"),
        (lambda: ns.stationary_variance(1.0, 0.1, 50, 1.0, n_train=10), "batch_size"),
    ],
)
def test_invalid_input_raises_a_named_value_error(call, name):
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        call()

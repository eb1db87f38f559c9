"""Unit tests of sim.convex: problem constants, gradients, minimisers, the adaptive-batch simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.convex import (
    fixed_batches_for_samples,
    geometric_batches,
    logistic_problem,
    ridge_problem,
    simulate_adaptive_sgd,
)
from sim.least_squares import make_least_squares

Z = 5.0
seeds = st.integers(0, 2**32 - 1)


def _ridge(seed=0):
    X, y, _ = make_least_squares(60, [1.0, 0.6, 0.3], label_noise=0.5, seed=seed)
    return ridge_problem(X, y, reg=0.05)


def _logistic(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((80, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + rng.standard_normal(80) > 0).astype(float)
    return logistic_problem(X, y, reg=0.1)


def _per_sample_second_moment(problem, theta):
    n = problem.X.shape[0]
    grads = np.stack([problem.batch_gradient(theta[None], np.array([[j]]))[0] for j in range(n)])
    full = problem.batch_gradient(theta[None], np.arange(n)[None])[0]
    return float(np.mean(np.sum(grads**2, axis=1))), float(full @ full)


@pytest.mark.parametrize("make", [_ridge, _logistic])
def test_minimiser_has_zero_gradient_and_gap(make):
    problem = make()
    n = problem.X.shape[0]
    grad = problem.batch_gradient(problem.theta_star[None], np.arange(n)[None])[0]
    assert np.linalg.norm(grad) < 1e-10
    assert abs(problem.gap(problem.theta_star)) < 1e-12
    assert 0 < problem.c <= problem.L and problem.M >= 0 and problem.M_G >= 1


@pytest.mark.parametrize("make", [_ridge, _logistic])
@settings(max_examples=10)
@given(seed=seeds)
def test_batch_gradient_matches_finite_differences(make, seed):
    problem = make()
    theta = np.random.default_rng(seed).standard_normal(problem.X.shape[1])
    n = problem.X.shape[0]
    grad = problem.batch_gradient(theta[None], np.arange(n)[None])[0]
    step = 1e-6
    numeric = [
        (problem.loss(theta + step * e) - problem.loss(theta - step * e)) / (2 * step)
        for e in np.eye(theta.size)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make", [_ridge, _logistic])
@settings(max_examples=15)
@given(seed=seeds, scale=st.floats(0.01, 100.0))
def test_second_moment_assumption_holds(make, seed, scale):
    problem = make()
    theta = problem.theta_star + scale * np.random.default_rng(seed).standard_normal(problem.X.shape[1])
    second, grad_sq = _per_sample_second_moment(problem, theta)
    assert second <= (problem.M + problem.M_G * grad_sq) * (1 + 1e-9) + 1e-12


def test_ridge_constants_are_exact():
    problem = _ridge()
    X, reg = problem.X, problem.reg
    H = X.T @ X / X.shape[0] + reg * np.eye(X.shape[1])
    eigs = np.linalg.eigvalsh(H)
    assert problem.L == pytest.approx(eigs[-1]) and problem.c == pytest.approx(eigs[0])
    # M is attained: at e* = D^{-1} q the slack E||g_j||^2 - M_G ||grad L||^2 equals M
    n = X.shape[0]
    u = (X @ problem.theta_star - problem.y)[:, None] * X + reg * problem.theta_star
    A = np.einsum("ni,nj->nij", X, X) + reg * np.eye(X.shape[1])
    Q = np.einsum("nij,njk->ik", A, A) / n
    q = np.einsum("nij,nj->i", A, u) / n
    e_star = np.linalg.solve(problem.M_G * H @ H - Q, q)
    second, grad_sq = _per_sample_second_moment(problem, problem.theta_star + e_star)
    assert second - problem.M_G * grad_sq == pytest.approx(problem.M, rel=1e-8)


def test_ridge_gap_is_the_loss_difference():
    problem = _ridge()
    theta = np.random.default_rng(1).standard_normal((5, 3))
    np.testing.assert_allclose(
        problem.gap(theta), problem.loss(theta) - problem.loss_star, rtol=1e-9, atol=1e-14
    )


def test_identical_samples_make_sgd_deterministic():
    # All rows equal: every batch gradient is the full gradient, so SGD is gradient descent with eta_t = b_t eta0.
    X = np.tile([[1.0, 2.0]], (10, 1))
    y = np.full(10, 3.0)
    problem = ridge_problem(X, y, reg=0.5)
    sizes = [1, 2, 4]
    run = simulate_adaptive_sgd(problem, sizes, eta0=0.02, runs=3, seed=0)
    H = X.T @ X / 10 + 0.5 * np.eye(2)
    theta = np.zeros(2)
    for b in sizes:
        theta = theta - b * 0.02 * (H @ theta - X.T @ y / 10)
    assert run.mean_gap[-1] == pytest.approx(float(problem.gap(theta)), rel=1e-10)
    np.testing.assert_array_equal(run.samples, [0, 1, 3, 7])
    assert np.all(run.stderr_gap < 1e-12)


def test_single_step_mean_matches_expectation():
    # One step from theta0 with batch b: E[theta1] = theta0 - b eta0 grad L(theta0); check the mean gap
    # against the exact E[gap] = gap(E theta1) + 0.5 tr(H Cov) with Cov = (b eta0)^2 Var_j(g_j) / b.
    problem = _ridge(seed=3)
    runs, b, eta0 = 20_000, 4, 0.05
    theta0 = problem.theta_star + 1.0
    run = simulate_adaptive_sgd(problem, [b], eta0=eta0, theta0=theta0, runs=runs, seed=9)
    n = problem.X.shape[0]
    grads = np.stack([problem.batch_gradient(theta0[None], np.array([[j]]))[0] for j in range(n)])
    full = grads.mean(axis=0)
    cov = (b * eta0) ** 2 * np.cov(grads.T, bias=True) / b
    H = problem.X.T @ problem.X / n + problem.reg * np.eye(3)
    expected = float(problem.gap(theta0 - b * eta0 * full)) + 0.5 * np.trace(H @ cov)
    assert abs(run.mean_gap[-1] - expected) <= Z * run.stderr_gap[-1]


def test_batch_schedules():
    np.testing.assert_array_equal(geometric_batches(2, 2.0, 6, 20), [2, 4, 8, 16, 20, 20])
    fixed = fixed_batches_for_samples(3, 10)
    assert fixed.sum() >= 10 and fixed.size == math.ceil(10 / 3)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda p: simulate_adaptive_sgd(p, [1, 0], eta0=0.1), "batch_sizes"),
        (lambda p: simulate_adaptive_sgd(p, [1.5], eta0=0.1), "batch_sizes"),
        (lambda p: simulate_adaptive_sgd(p, [1], eta0=-0.1), "eta0"),
        (lambda p: simulate_adaptive_sgd(p, [1], eta0=0.1, runs=0), "runs"),
        (lambda p: ridge_problem(p.X, p.y, reg=0.0), "reg"),
        (lambda p: logistic_problem(p.X, p.y + 0.5, reg=0.1), "y"),
        (lambda p: ridge_problem(p.X, p.y[:-1], reg=0.1), "y"),
    ],
)
def test_invalid_input_raises(call, name):
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        call(_ridge())

"""Unit tests of sim.least_squares: batching without replacement, exact special cases, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.least_squares import (
    _uniform_subsets,
    epoch_batches,
    least_squares_solution,
    least_squares_speedup_curve,
    make_least_squares,
    simulate_least_squares,
    subset_batches,
)

seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=25)
@given(n=st.integers(1, 60), batch=st.integers(1, 60), runs=st.integers(1, 4), seed=seeds)
def test_epoch_batches_cover_each_sample_once(n, batch, runs, seed):
    batch = min(batch, n)
    batches = epoch_batches(n, batch, runs, np.random.default_rng(seed))
    assert len(batches) == math.ceil(n / batch)
    assert all(b.shape[1] == batch for b in batches[:-1])
    stacked = np.concatenate(batches, axis=1)
    np.testing.assert_array_equal(np.sort(stacked, axis=1), np.tile(np.arange(n), (runs, 1)))


@settings(max_examples=10)
@given(seed=seeds, epochs=st.integers(1, 5), momentum=st.sampled_from([0.0, 0.7]))
def test_full_batch_least_squares_is_gradient_descent(seed, epochs, momentum):
    X, y, _ = make_least_squares(30, [1.0, 0.5, 0.2], label_noise=0.3, seed=seed)
    w_hat, H, loss_star = least_squares_solution(X, y)
    lr = 0.5
    run = simulate_least_squares(
        X, y, lr=lr, batch_size=30, epochs=epochs, momentum=momentum, runs=2, seed=seed
    )
    w, v = np.zeros(3), np.zeros(3)
    for _ in range(epochs):
        v = momentum * v - lr * X.T @ (X @ w - y) / 30
        w = w + v
    np.testing.assert_allclose(run.w[0], w, rtol=1e-9, atol=1e-12)
    excess = 0.5 * np.mean((X @ w - y) ** 2) - loss_star
    assert run.mean_excess[-1] == pytest.approx(excess, rel=1e-8, abs=1e-13)
    np.testing.assert_array_equal(run.updates, np.arange(epochs + 1))


def test_least_squares_records_per_step_and_schedules():
    X, y, _ = make_least_squares(20, [1.0, 0.3], seed=1)
    run = simulate_least_squares(
        X,
        y,
        lr=lambda e: 0.1 / (e + 1),
        batch_size=lambda e: 6 if e == 0 else 20,
        epochs=2,
        runs=3,
        seed=2,
        record="step",
    )
    # epoch 0: ceil(20/6) = 4 updates, epoch 1: 1 update
    np.testing.assert_array_equal(run.updates, np.arange(6))
    np.testing.assert_allclose(run.epochs, [0, 6 / 20, 12 / 20, 18 / 20, 1.0, 2.0])


def test_interpolation_regime_has_zero_excess_at_the_solution():
    X, y, w_star = make_least_squares(50, [1.0, 0.5], seed=5)
    run = simulate_least_squares(X, y, lr=0.3, batch_size=1, epochs=2, w0=w_star, runs=3, seed=0)
    assert np.all(run.mean_excess < 1e-20)


def test_least_squares_speedup_rejects_batches_above_n():
    X, y, _ = make_least_squares(10, [1.0], seed=0)
    with pytest.raises(ValueError, match="batch_sizes"):
        least_squares_speedup_curve(X, y, batch_sizes=[1, 20], target=1e-3, max_steps=10)


@settings(max_examples=20)
@given(n=st.integers(1, 400), batch=st.integers(1, 40), seed=seeds)
def test_subset_batches_are_distinct_and_uniform(n, batch, seed):
    batch = min(batch, n)
    rng = np.random.default_rng(seed)
    batches = subset_batches(n, batch, 3, rng)
    assert len(batches) == math.ceil(n / batch) and all(b.shape == (3, batch) for b in batches)
    runs = 20_000  # runs * B/N >= 50: the inclusion counts are close to normal
    first = _uniform_subsets(n, batch, runs, rng)  # the draw behind every subset batch
    assert np.all(np.diff(np.sort(first, axis=1), axis=1) > 0)
    # each index is included with probability B/N; up to 400 indices x 20 examples are compared, so
    # 6 sigma keeps the family-wise false-positive rate near 1e-5
    counts = np.bincount(first.ravel(), minlength=n)
    p = batch / n
    stderr = math.sqrt(p * (1 - p) / runs)
    assert np.all(np.abs(counts / runs - p) <= 6.0 * stderr + 1e-12)

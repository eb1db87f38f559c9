"""Unit tests of sim.quadratic (the NQM): exact special cases, stationary variance, speed-up, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.quadratic import critical_batch_from_speedup, simulate, simulated_steps_to_target, speedup_curve

Z = 5.0  # many Monte-Carlo comparisons below: a 5-sigma budget keeps the family-wise false-positive rate < 1e-4
seeds = st.integers(0, 2**32 - 1)
curvatures = st.lists(st.floats(0.05, 5.0, allow_nan=False), min_size=1, max_size=4)


@settings(max_examples=20)
@given(
    h=curvatures,
    lr_fraction=st.floats(0.01, 0.99),
    steps=st.integers(1, 60),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    seed=seeds,
)
def test_zero_noise_is_gradient_descent(h, lr_fraction, steps, momentum, seed):
    h = np.array(h)
    lr = lr_fraction * 2.0 / h.max()
    run = simulate(
        h, np.zeros_like(h), lr=lr, batch_size=3, steps=steps, momentum=momentum, x0=1.0, runs=3, seed=seed
    )
    x, v = np.ones_like(h), np.zeros_like(h)
    for _ in range(steps):
        v = momentum * v - lr * h * x
        x = x + v
    np.testing.assert_allclose(run.x, np.broadcast_to(x, run.x.shape), rtol=1e-10, atol=1e-12)
    assert run.mean_loss[-1] == pytest.approx(0.5 * np.sum(h * x**2), rel=1e-10, abs=1e-14)
    assert np.all(run.stderr_loss <= 1e-12 * (1 + run.mean_loss))


@pytest.mark.parametrize("lr_h, batch, noise", [(0.2, 1.0, 1.0), (1.5, 4.0, 0.3), (0.05, 2.0, 2.0)])
def test_stationary_variance_of_1d_sgd(lr_h, batch, noise):
    h, runs = 1.0, 40_000
    lr = lr_h / h
    # x' = (1 - lr h) x - lr sqrt(noise/B) xi  =>  v = lr^2 (noise/B) / (1 - (1 - lr h)^2)
    expected = lr**2 * noise / batch / (1.0 - (1.0 - lr * h) ** 2)
    burn_in = math.ceil(40 / min(lr_h, 2 - lr_h))  # (1 - lr h)^(2k) < e^-40 of the start
    run = simulate(
        [h], [noise], lr=lr, batch_size=batch, steps=burn_in, x0=0.0, runs=runs, seed=7, record_every=burn_in
    )
    second = run.x[:, 0] ** 2
    stderr = second.std(ddof=1) / math.sqrt(runs)
    assert abs(second.mean() - expected) <= Z * stderr + 1e-12


def test_same_seed_same_result_and_different_seed_differs():
    kwargs = dict(lr=0.1, batch_size=2, steps=20, runs=50, momentum=0.3)
    a = simulate([1.0, 0.5], seed=3, **kwargs)
    b = simulate([1.0, 0.5], seed=3, **kwargs)
    c = simulate([1.0, 0.5], seed=4, **kwargs)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_callable_schedules_match_constants():
    const = simulate([1.0, 0.2], lr=0.3, batch_size=5, steps=30, runs=20, seed=11)
    sched = simulate([1.0, 0.2], lr=lambda t: 0.3, batch_size=lambda t, loss: 5, steps=30, runs=20, seed=11)
    np.testing.assert_allclose(sched.x, const.x, rtol=1e-12)
    np.testing.assert_allclose(sched.samples, 5.0 * sched.steps)


def test_per_run_adaptive_batch_uses_the_state():
    # Runs whose loss is above 1e-4 get a huge batch (noise std 0.5e-15 per step) and follow GD; runs that
    # start at the optimum get batch 1 and must move.
    def batch(step, loss):
        return np.where(loss > 1e-4, 1e30, 1.0)

    x0 = np.array([[1.0], [1.0], [0.0], [0.0]])
    run = simulate([1.0], lr=0.5, batch_size=batch, steps=5, x0=x0, runs=4, seed=0)
    np.testing.assert_allclose(run.x[:2], 0.5**5, rtol=1e-10)
    assert np.all(np.abs(run.x[2:]) > 0)


def test_steps_to_target_without_noise_is_the_deterministic_crossing():
    h, lr, target = 1.0, 0.1, 1e-3
    est = simulated_steps_to_target(
        [h], [0.0], lr=lr, batch_size=1, target=target, max_steps=500, x0=1.0, runs=2, seed=0
    )
    losses = 0.5 * (1 - lr * h) ** (2 * np.arange(200))
    first = int(np.flatnonzero(losses <= target)[0])
    assert first - 1 < est.mean <= first
    assert est.stderr == 0.0


def test_steps_to_target_unreached_is_infinite():
    est = simulated_steps_to_target([1.0], lr=1e-4, batch_size=1, target=1e-6, max_steps=5, runs=4, seed=0)
    assert math.isinf(est.mean)


def test_critical_batch_of_the_model_curve():
    b_noise, m0 = 200.0, 1.0
    m = np.geomspace(1, 1e5, 2001)
    s = (1 + b_noise / m0) / (1 + b_noise / m)
    # efficiency (m0 + B)/(m + B) = 1/2 at m = B + 2 m0
    assert critical_batch_from_speedup(m, s, m0) == pytest.approx(b_noise + 2 * m0, rel=1e-3)
    assert math.isnan(critical_batch_from_speedup(m[:5], s[:5], m0))


def test_speedup_curve_shapes_and_reference():
    curve = speedup_curve(
        [1.0, 0.5], batch_sizes=[4, 1, 16], target=0.02, max_steps=400, x0=0.3, runs=20, seed=0
    )
    np.testing.assert_array_equal(curve.batch_sizes, [1, 4, 16])
    assert curve.speedup[0] == 1.0 and curve.m0 == 1.0
    assert np.all(curve.best_lr < 2.0)
    assert np.all(np.isfinite(curve.steps))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(lr=-1.0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(momentum=1.0), "momentum"),
        (dict(runs=0), "runs"),
        (dict(steps=0), "steps"),
        (dict(x0=[1.0, 2.0, 3.0]), "x0"),
        (dict(batch_size=0.5), "batch_size"),
        (dict(noise=[1.0]), "noise"),
    ],
)
def test_invalid_input_raises(kwargs, name):
    base = dict(lr=0.1, batch_size=1, steps=2, runs=2, seed=0)
    base.update(kwargs)
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        simulate([1.0, 2.0], **base)


def test_invalid_h_and_speedup_reference():
    with pytest.raises(ValueError, match="Invalid h"):
        simulate([1.0, float("inf")], lr=0.1, batch_size=1, steps=1)
    with pytest.raises(ValueError, match="Invalid m0"):
        speedup_curve([1.0], batch_sizes=[1, 2], m0=3, target=0.1, max_steps=2)

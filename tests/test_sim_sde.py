"""Unit tests of sim.sde: noise scale, Euler-Maruyama, SGD against its SDE, schedules, SVAG."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.least_squares import least_squares_solution, make_least_squares, simulate_least_squares
from sim.quadratic import simulate
from sim.sde import (
    compare_schedules,
    diffusion_coefficient,
    momentum_scaled_batch,
    noise_scale,
    simulate_least_squares_sde,
    simulate_quadratic_sde,
    smith_schedules,
    step_schedule,
    svag_least_squares,
    svag_quadratic,
    updates_per_schedule,
)

Z = 5.0  # 5-sigma budget for every Monte-Carlo comparison in this file
seeds = st.integers(0, 2**32 - 1)


@given(
    lr=st.floats(1e-4, 10.0), n=st.integers(2, 10**6), frac=st.floats(0.0, 1.0), momentum=st.floats(0.0, 0.99)
)
def test_noise_scale_and_diffusion_coefficient(lr, n, frac, momentum):
    batch = 1 + frac * (n - 1)
    g = noise_scale(lr=lr, n_train=n, batch_size=batch, momentum=momentum)
    assert g == pytest.approx(lr / (1 - momentum) * (n / batch - 1), rel=1e-12, abs=1e-300)
    # near B = N both forms cancel; the float error is relative to the terms, lr/((1 - m) B)
    scale = lr / ((1 - momentum) * batch)
    assert diffusion_coefficient(lr, batch, n, momentum) == pytest.approx(g / n, rel=1e-9, abs=1e-12 * scale)
    assert diffusion_coefficient(lr, batch, math.inf, momentum) == pytest.approx(
        lr / (batch * (1 - momentum))
    )


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: noise_scale(lr=-0.1, n_train=10, batch_size=2), "lr"),
        (lambda: noise_scale(lr=0.1, n_train=10, batch_size=20), "batch_size"),
        (lambda: noise_scale(lr=0.1, n_train=10, batch_size=2, momentum=1.0), "momentum"),
        (lambda: diffusion_coefficient(0.1, 4, 2), "n_train"),
        (lambda: simulate_quadratic_sde([1.0], coefficient=-1.0, time=1.0, dt=0.1), "coefficient"),
        (lambda: simulate_quadratic_sde([1.0], coefficient=1.0, time=1.0, dt=float("nan")), "dt"),
        (lambda: svag_quadratic([1.0], lr=0.1, batch_size=1, amplification=0, time=1.0), "amplification"),
        (lambda: smith_schedules(0.1, 128, milestones=[1], max_batch=64), "max_batch"),
        (lambda: step_schedule(0.1, 0.2, [float("inf")]), "milestones"),
    ],
)
def test_invalid_input_raises(call, name):
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        call()


@settings(max_examples=15)
@given(h=st.floats(0.1, 3.0), dt=st.floats(0.01, 0.5), steps=st.integers(1, 50), seed=seeds)
def test_zero_diffusion_is_the_euler_scheme(h, dt, steps, seed):
    run = simulate_quadratic_sde([h], coefficient=0.0, time=steps * dt, dt=dt, x0=1.0, runs=2, seed=seed)
    np.testing.assert_allclose(run.x, (1 - dt * h) ** steps, rtol=1e-10)


def test_euler_maruyama_stationary_variance():
    h, c, sigma2, dt, runs = 2.0, 0.05, 1.5, 0.1, 40_000
    # x' = (1 - dt h) x + sqrt(dt c sigma2) xi  =>  v = dt c sigma2 / (1 - (1 - dt h)^2) = c sigma2 / (h (2 - dt h))
    expected = c * sigma2 / (h * (2 - dt * h))
    run = simulate_quadratic_sde(
        [h], [sigma2], coefficient=c, time=12.0, dt=dt, x0=0.0, runs=runs, seed=3, record_every=1000
    )
    second = run.x[:, 0] ** 2
    assert abs(second.mean() - expected) <= Z * second.std(ddof=1) / math.sqrt(runs) + 1e-12


def test_sgd_matches_its_sde_on_the_nqm_for_small_lr():
    h, lr, batch, runs = np.array([1.0, 0.3]), 0.02, 4.0, 4000
    sgd = simulate(h, lr=lr, batch_size=batch, steps=500, x0=0.5, runs=runs, seed=1, record_every=50)
    sde = simulate_quadratic_sde(
        h,
        coefficient=diffusion_coefficient(lr, batch),
        time=500 * lr,
        dt=lr / 4,
        x0=0.5,
        runs=runs,
        seed=2,
        record_every=200,
    )
    np.testing.assert_array_equal(sgd.steps * lr, sde.steps * lr / 4)
    diff = np.abs(sgd.mean_loss - sde.mean_loss)
    # the Euler scheme and SGD share the same O(lr h) discretisation bias: 2% of the loss is a generous cap
    tol = Z * np.hypot(sgd.stderr_loss, sde.stderr_loss) + 0.02 * sde.mean_loss
    assert np.all(diff <= tol)


def test_finite_set_sde_needs_the_n_over_b_minus_one_factor():
    """B = N/2 with fresh batches: the SDE with g = eps(N/B - 1) matches SGD; g = eps N/B is twice too noisy."""
    X, y, _ = make_least_squares(40, [1.0, 0.5], label_noise=1.0, seed=2)
    w_hat, _, _ = least_squares_solution(X, y)
    lr, batch, n, runs, epochs = 0.02, 20, 40, 1000, 150
    sgd = simulate_least_squares(
        X, y, lr=lr, batch_size=batch, epochs=epochs, w0=w_hat, runs=runs, seed=0, sampling="subset"
    )
    time = lr * epochs * (n // batch)
    right = simulate_least_squares_sde(
        X,
        y,
        coefficient=diffusion_coefficient(lr, batch, n),
        time=time,
        dt=lr,
        w0=w_hat,
        runs=runs,
        seed=1,
        record_every=1000,
    )
    wrong = simulate_least_squares_sde(
        X, y, coefficient=lr / batch, time=time, dt=lr, w0=w_hat, runs=runs, seed=2, record_every=1000
    )
    se = np.hypot(sgd.stderr_excess[-1], right.stderr_excess[-1])
    assert abs(sgd.mean_excess[-1] - right.mean_excess[-1]) <= Z * se + 0.05 * right.mean_excess[-1]
    assert wrong.mean_excess[-1] - sgd.mean_excess[-1] > Z * np.hypot(
        sgd.stderr_excess[-1], wrong.stderr_excess[-1]
    )


def test_step_schedule_and_smith_schedules():
    sched = step_schedule(0.1, 0.2, [60, 120, 160])
    assert [sched(e) for e in (0, 59, 60, 119, 120, 160, 199)] == pytest.approx(
        [0.1, 0.1, 0.02, 0.02, 0.004, 0.0008, 0.0008]
    )
    schedules = smith_schedules(0.1, 128, factor=5, milestones=[60, 120, 160])
    lr, batch = schedules["hybrid"]
    assert [batch(e) for e in (0, 60, 120, 160)] == [128, 640, 640, 640]
    assert [lr(e) for e in (0, 60, 120, 160)] == pytest.approx([0.1, 0.1, 0.02, 0.004])
    lr, batch = schedules["increase_batch"]
    assert [batch(e) for e in (0, 60, 120, 160)] == [128, 640, 3200, 16000]
    # every schedule divides eps/B by the same factor at each milestone
    for lr, batch in schedules.values():
        ratios = [lr(e) / batch(e) for e in (0, 60, 120, 160)]
        assert np.allclose(np.array(ratios[1:]) / ratios[:-1], 0.2)


def test_update_counts_of_the_cifar_schedules():
    # Arithmetic check of the counts quoted for seed 004 (Smith et al. 2018, Sec. 5.1, Fig. 2): N = 50000,
    # B = 128, 200 epochs, steps at 60/120/160: sum of ceil(N/B_e).
    schedules = smith_schedules(0.1, 128, factor=5, milestones=[60, 120, 160])
    counts = {name: updates_per_schedule(50_000, batch, 200) for name, (_, batch) in schedules.items()}
    assert counts["decay_lr"] == 200 * math.ceil(50_000 / 128)
    assert counts["increase_batch"] == 60 * 391 + 60 * 79 + 40 * 16 + 40 * 4


def test_momentum_scaled_batch():
    assert momentum_scaled_batch(128, 0.9, base_momentum=0.9) == pytest.approx(128)
    assert momentum_scaled_batch(128, 0.98, base_momentum=0.9) == pytest.approx(640)
    assert momentum_scaled_batch(100, 0.0, lr=0.5, base_lr=0.1) == pytest.approx(500)


def test_compare_schedules_counts_updates_and_reports_disagreement():
    X, y, _ = make_least_squares(100, [1.0, 0.5], label_noise=0.5, seed=0)
    schedules = {"small": (0.05, 10), "large": (0.05, 50, 0.0)}
    cmp = compare_schedules(X, y, schedules, epochs=3, runs=20, seed=0)
    assert cmp.updates == {"small": 30, "large": 6}
    assert cmp.max_abs_z >= 0 and cmp.max_rel_diff >= 0
    assert set(cmp.runs) == {"small", "large"}
    with pytest.raises(ValueError, match="schedules"):
        compare_schedules(X, y, {}, epochs=1)


def test_svag_with_l_one_is_sgd_in_law():
    h, lr, batch, runs = 1.0, 0.5, 2.0, 40_000
    svag = svag_quadratic(
        [h], lr=lr, batch_size=batch, amplification=1, time=10 * lr, x0=1.0, runs=runs, seed=0
    )
    # exact second moment of SGD after 10 steps: m' = (1 - lr h)^2 m + lr^2 / B
    m2 = 1.0
    for _ in range(10):
        m2 = (1 - lr * h) ** 2 * m2 + lr**2 / batch
    second = svag.x[:, 0] ** 2
    assert abs(second.mean() - m2) <= Z * second.std(ddof=1) / math.sqrt(runs) + 1e-12
    assert svag.steps[-1] == 10


@settings(max_examples=10)
@given(amplification=st.integers(1, 8), seed=seeds)
def test_full_batch_svag_is_gradient_descent_with_step_lr_over_l(amplification, seed):
    X, y, _ = make_least_squares(12, [1.0, 0.4], label_noise=0.3, seed=seed)
    lr, time = 0.3, 0.9
    run = svag_least_squares(
        X, y, lr=lr, batch_size=12, amplification=amplification, time=time, runs=2, seed=seed
    )
    w = np.zeros(2)
    steps = round(amplification * time / lr)
    for _ in range(steps):
        w = w - lr / amplification * X.T @ (X @ w - y) / 12
    np.testing.assert_allclose(run.w, np.broadcast_to(w, run.w.shape), rtol=1e-9, atol=1e-12)
    assert run.updates[-1] == steps and run.epochs[-1] == pytest.approx(steps * lr / amplification)

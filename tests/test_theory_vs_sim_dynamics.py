"""theory against sim for SGD dynamics: stationary variance, noise scale, speed-up, Ma et al., the ABS bound.

Every Monte-Carlo comparison uses ``Z * stderr`` with ``Z = 5`` (about 40 comparisons in this file: a
family-wise false-positive rate below 1e-4) plus a tiny absolute floor for float error; seeds are fixed
or drawn by Hypothesis and turned into generators inside the test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from sim import convex, least_squares, quadratic, sde
from sim.estimate import estimate
from theory import convergence, critical_batch, noise_scale

Z = 5.0
FLOOR = 1e-12


# ---------------------------------------------------------------------------------------------------------
# stationary variance and loss of (heavy-ball) SGD on the NQM


@pytest.mark.parametrize(
    "lr, batch, momentum", [(0.5, 2.0, 0.0), (1.6, 1.0, 0.0), (0.5, 4.0, 0.9), (0.5, 1.0, 0.5)]
)
def test_stationary_loss_matches_simulation(lr, batch, momentum):
    h = np.array([1.0, 0.5, 0.2])
    noise = np.array([1.0, 0.3, 2.0])
    runs = 20_000
    # slowest mode: the largest root of z^2 - (1 + m - lr h) z + m = 0; burn in until it is below e^-30
    rate = max(np.max(np.abs(np.roots([1.0, -(1 + momentum - lr * hi), momentum]))) for hi in h)
    steps = math.ceil(30 / -math.log(rate))
    run = quadratic.simulate(
        h,
        noise,
        lr=lr,
        batch_size=batch,
        steps=steps,
        momentum=momentum,
        x0=0.0,
        runs=runs,
        seed=5,
        record_every=steps,
    )
    expected_var = noise_scale.stationary_variance(h, lr, batch, noise, momentum=momentum)
    for i in range(h.size):
        est = estimate(run.x[:, i] ** 2)
        assert abs(est.mean - expected_var[i]) <= Z * est.stderr + FLOOR
    loss = estimate(np.square(run.x) @ (0.5 * h))
    expected_loss = noise_scale.stationary_loss(h, lr, batch, noise, momentum=momentum)
    assert abs(loss.mean - expected_loss) <= Z * loss.stderr + FLOOR


# ---------------------------------------------------------------------------------------------------------
# noise scale and without-replacement batch variance


@given(
    lr=st.floats(1e-3, 1.0),
    n=st.integers(2, 100_000),
    frac=st.floats(0.0, 1.0),
    momentum=st.floats(0.0, 0.95),
)
def test_transcription_noise_scale_typed_twice_agrees(lr, n, frac, momentum):
    """TRANSCRIPTION check, not a cross-check: the same formula g = eps/(1-m)(N/B-1) typed in sim and in theory
    (DESIGN.md sec. 2: a formula written twice on purpose is pinned by a test). The independent route is
    ``test_without_replacement_batch_variance`` below (Monte-Carlo of the batch variance the formula rests on)
    and the stationary-variance test above."""
    batch = 1 + frac * (n - 1)
    args = dict(lr=lr, n_train=n, batch_size=batch, momentum=momentum)
    ours = sde.noise_scale(**args)
    assert ours == pytest.approx(noise_scale.noise_scale(**args), rel=1e-12, abs=1e-300)


@settings(max_examples=10)
@given(n=st.integers(2, 40), frac=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_without_replacement_batch_variance(n, frac, seed):
    rng = np.random.default_rng(seed)
    batch = 1 + int(frac * (n - 1))
    values = rng.standard_normal(n) ** 3  # skewed per-sample "gradients"
    population_var = values.var()  # the 1/N convention of theory.noise_scale
    draws = least_squares.subset_batches(n, batch, 10_000, rng)[0]
    deviation_sq = (values[draws].mean(axis=1) - values.mean()) ** 2
    est = estimate(deviation_sq)
    expected = noise_scale.batch_gradient_variance(n, batch, population_var)
    assert abs(est.mean - expected) <= Z * est.stderr + FLOOR * (1 + expected)


# ---------------------------------------------------------------------------------------------------------
# speed-up curve against McCandlish's model (theory.critical_batch.speedup)


def _nqm_b_noise_range(h, x0, target):
    """B_noise at the start and where gradient descent (lr = 1/h_max) reaches the target."""
    H = np.diag(h)
    x = np.full(h.size, x0)
    start = critical_batch.b_noise(H, H, h * x)
    while 0.5 * np.sum(h * x**2) > target:
        x = x - h * x / h.max()
    return start, critical_batch.b_noise(H, H, h * x)


#: Fitted B_noise of the NQM speed-up curve: mean 476 over seeds 0-2, sd 38; ± 40% is about 5 sd.
B_FIT_BAND = (476 * 0.6, 476 * 1.4)
#: Simulated critical batch / Ma et al.'s m*: seeds 0, 1, 2 give 1.43, 1.55, 1.46 (mean 1.48, sd 0.06);
#: the band is about 4.5 sd of that spread on each side.
MA_RATIO_BAND = (1.2, 1.8)


def test_speedup_curve_has_the_model_shape():
    """Monotone, saturating, and fitted by (1 + B/m0)/(1 + B/m) to within 15% everywhere.

    The model freezes the noise scale, while on this NQM B_noise grows about 1000-fold between the start
    and the target (15 to 14,600); so we compare shapes. Three assertions on the fitted B: (1) it lies inside
    that range (a physical sanity bound only); (2) it is pinned statistically: seeds 0, 1, 2 give 448, 520,
    461 (mean 476, seed-to-seed sd 38, 8%), so B_FIT_BAND = 476 ± 40% is about 5 sd of the Monte-Carlo
    spread and any change of the simulation or of the fit beyond noise fails; (3) the simulated critical
    batch (efficiency 1/2) sits within 25% of the model's B + 2 m0 (seeds 0, 1 give 4% and 11%).
    """
    h, x0 = 1.0 / np.arange(1, 21), 0.3
    target = 0.05 * 0.5 * np.sum(h * x0**2)
    curve = quadratic.speedup_curve(
        h, batch_sizes=2.0 ** np.arange(1, 13), target=target, max_steps=2000, x0=x0, runs=100, seed=0
    )
    s, se = curve.speedup, curve.speedup_stderr
    assert np.all(np.diff(s) >= -Z * np.hypot(se[1:], se[:-1]))
    assert s[1] / s[0] > 1.7 and s[-1] / s[-2] < 1.15

    def misfit(log_b):
        return np.sum(
            (np.log(s) - np.log(critical_batch.speedup(curve.batch_sizes, curve.m0, np.exp(log_b)))) ** 2
        )

    fit = minimize_scalar(misfit, bounds=(0.0, 15.0), method="bounded")
    b_fit = math.exp(fit.x)
    rms = math.sqrt(fit.fun / s.size)
    low, high = _nqm_b_noise_range(h, x0, target)
    assert rms < math.log(1.15)
    assert low < b_fit < high
    assert B_FIT_BAND[0] < b_fit < B_FIT_BAND[1], b_fit
    assert curve.critical_batch == pytest.approx(b_fit + 2 * curve.m0, rel=0.25)


# ---------------------------------------------------------------------------------------------------------
# Ma, Bassily & Belkin: optimal step and critical batch of interpolating least squares


def test_least_squares_optimal_lr_and_critical_batch():
    """The tuned step scales linearly, then saturates; the steps agree as derived below; the simulated
    critical batch stands in a fixed ratio to Ma et al.'s m*.

    Ma et al.'s step minimises a worst-case bound that uses beta = max ||x||^2, while the simulation
    tunes for a mean-loss target, which feels tr(H) <= beta; here beta/tr(H) is about 2. The two critical
    batches are defined differently (Ma's worst-case m* against the batch where the simulated efficiency
    halves), so their ratio is not derived: it is pinned statistically (MA_RATIO_BAND, about 4.5 sd of the
    seed-to-seed spread), which replaces the earlier factor-3 window.
    """
    spectrum = np.linspace(1.0, 0.1, 32)
    X, y, _ = least_squares.make_least_squares(512, spectrum, seed=1)
    w_hat, H, _ = least_squares.least_squares_solution(X, y)
    target = 1e-2 * 0.5 * w_hat @ H @ w_hat
    curve = least_squares.least_squares_speedup_curve(
        X, y, batch_sizes=2 ** np.arange(0, 10), target=target, max_steps=4000, runs=32, seed=0
    )
    consts = critical_batch.least_squares_constants(X)
    ma_lr = critical_batch.least_squares_optimal_lr_two_sided(
        curve.batch_sizes, consts.beta, consts.lambda_1, consts.lambda_min
    )
    ratio = curve.best_lr / ma_lr
    # Ma et al.'s step at m = 1 is 1/beta (worst case over samples); the mean-loss-optimal SGD step at m = 1 on
    # Gaussian rows is about 1/(tr H + 2 lambda_1) (E||x||^2 x x^T = tr(H) H + 2H^2), so the ratio at small m is
    # about beta/tr(H) and falls to about 1 where both saturate near the same curvature limit. 25% allows the
    # 2 lambda_1/tr(H) term (13% here) and the learning-rate search resolution.
    assert ratio[0] == pytest.approx(consts.beta / consts.trace, rel=0.25)
    assert ratio[-1] == pytest.approx(1.0, rel=0.25)
    assert np.all(np.diff(ratio) <= 0.05 * ratio[:-1])  # the worst-case penalty fades as m grows
    assert 1.6 < curve.best_lr[1] / curve.best_lr[0] < 2.4  # linear scaling at small m
    assert curve.best_lr[-1] / curve.best_lr[-2] < 1.15  # saturation at large m
    m_star = critical_batch.least_squares_critical_batch(consts.beta, consts.lambda_1, consts.lambda_min)
    assert MA_RATIO_BAND[0] < curve.critical_batch / m_star < MA_RATIO_BAND[1], curve.critical_batch / m_star


# ---------------------------------------------------------------------------------------------------------
# the ABS bound of seed 003 against adaptive-batch SGD


def _digits_logistic():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data[:600] / 16.0
    X = X - X.mean(axis=0)
    X = X / math.sqrt(np.mean(np.sum(X**2, axis=1)))
    return convex.logistic_problem(X, (digits.target[:600] < 5).astype(float), reg=0.05)


def _ridge():
    X, y, _ = least_squares.make_least_squares(500, np.linspace(1.0, 0.5, 5), label_noise=0.5, seed=0)
    return convex.ridge_problem(X, y, reg=0.01)


@pytest.mark.parametrize("make, b_max, steps", [(_ridge, 32, 120), (_digits_logistic, 64, 40)])
def test_abs_bound_holds_at_every_step(make, b_max, steps):
    problem = make()
    eta0 = 1.0 / (problem.L * problem.M_G * b_max)
    sizes = convex.geometric_batches(2, 1.25, steps, b_max)
    theta0 = problem.theta_star + 3.0 / math.sqrt(problem.X.shape[1])
    run = convex.simulate_adaptive_sgd(problem, sizes, eta0=eta0, theta0=theta0, runs=200, seed=1)
    bound = convergence.abs_bound(
        sizes, eta0=eta0, L=problem.L, c=problem.c, M=problem.M, M_G=problem.M_G, initial_gap=run.mean_gap[0]
    )
    assert np.all(run.mean_gap <= bound + Z * run.stderr_gap + 1e-12 * (1 + bound))

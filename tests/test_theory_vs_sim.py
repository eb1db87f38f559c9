"""Theory against simulation for seeds 000 and 001: closed forms (theory/) against Monte-Carlo (sim/).

The two rooms share no code, so agreement here means two independent routes reach the same number.
Comparisons use z = 5 standard errors (two-sided false-positive rate 6e-7 per comparison; about 300
comparisons per run keep the suite's false-alarm rate below 2e-4) and an absolute floor of 1e-12 for float
error. Hypothesis draws the parameters; each example builds its generator from a drawn integer seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import grad_shrinkage as sim_gs
from sim import rebound_walk as sim_rw
from sim.estimate import estimate
from theory import grad_shrinkage as th_gs
from theory import rebound_walk as th_rw

Z = 5.0
FLOOR = 1e-12
SEEDS = st.integers(0, 2**32 - 1)
NEXT_STATE_DRAWS = 40_000
BATCHES = 4000


def _within(est, value, z=Z, floor=FLOOR):
    return abs(est.mean - value) <= z * est.stderr + floor


# --------------------------------------------------------------------------------------------------
# Seed 000: the walk with rebound and the BA batch size
# --------------------------------------------------------------------------------------------------

WALK = dict(
    s=st.floats(0.0, 3.0),
    mu=st.floats(-2.0, 4.0),
    sigma=st.floats(0.05, 20.0),
    m=st.integers(1, 512),
    eta=st.floats(0.01, 1.0),
    s_star=st.floats(-1.0, 1.0),
)


@settings(max_examples=25)
@given(**WALK, seed=SEEDS)
def test_expected_next_state_matches_the_simulated_walk(s, mu, sigma, m, eta, s_star, seed):
    state = s + s_star
    sim = sim_rw.one_step(
        m=m, s=state, mu=mu, sigma=sigma, eta=eta, s_star=s_star, n=NEXT_STATE_DRAWS, seed=seed
    )
    exact = th_rw.expected_next_state(s=state, mu=mu, sigma=sigma, m=m, eta=eta, s_star=s_star)
    assert _within(sim, exact), (sim, exact)


@settings(max_examples=25)
@given(
    r=st.floats(0.0, 2.0, allow_subnormal=False),
    mu=st.floats(-1.0, 4.0, allow_subnormal=False),
    sigma=st.floats(0.1, 40.0),
    eta=st.floats(0.005, 1.0),
)
def test_transcription_ba_policy_maximiser_agrees_with_theory_optimal_batch_size(r, mu, sigma, eta):
    """TRANSCRIPTION check, not a cross-check: sim's maximiser evaluates its own copy of eq. 7's closed form,
    so this pins the two typed copies (and the two searches) together. The independent route is the
    Monte-Carlo utility of ``test_monte_carlo_utility_on_a_grid_peaks_at_theory_m_star`` below."""
    m_max = 100_000
    ours = float(sim_rw.maximise_utility(s=r, mu=mu, sigma=sigma, eta=eta, m_max=m_max))
    theirs = float(th_rw.optimal_batch_size_int(s=r, mu=mu, sigma=sigma, eta=eta, m_max=m_max))
    if ours == theirs:
        return
    # Two integers can only differ where u is flat to rounding: their utilities must then agree to a few
    # ulps of the scale eta*(|mu| + sigma) of the expected decrease.
    u_ours = th_rw.utility(m=ours, s=r, mu=mu, sigma=sigma, eta=eta)
    u_theirs = th_rw.utility(m=theirs, s=r, mu=mu, sigma=sigma, eta=eta)
    assert abs(u_ours - u_theirs) <= 1e-13 * eta * (abs(mu) + sigma), (ours, theirs)


@settings(max_examples=8)
@given(r=st.floats(0.02, 0.5), sigma=st.floats(2.0, 30.0), eta=st.floats(0.01, 0.1), seed=SEEDS)
def test_monte_carlo_utility_on_a_grid_peaks_at_theory_m_star(r, sigma, eta, seed):
    mu = 1.0
    m_star = th_rw.optimal_batch_size_int(s=r, mu=mu, sigma=sigma, eta=eta, m_max=10**6)
    grid = sorted({1, 2, 4, 16, 64, 256, 1024, 4096, int(m_star)})
    rng = np.random.default_rng(seed)
    for m in grid:
        next_state = sim_rw.one_step(m=m, s=r, mu=mu, sigma=sigma, eta=eta, n=NEXT_STATE_DRAWS, seed=rng)
        u_mc, u_se = (r - next_state.mean) / m, next_state.stderr / m
        u_theory = th_rw.utility(m=m, s=r, mu=mu, sigma=sigma, eta=eta)
        assert abs(u_mc - u_theory) <= Z * u_se + FLOOR
        # No grid point beats the theoretical maximiser beyond Monte-Carlo noise.
        assert u_mc <= th_rw.utility(m=m_star, s=r, mu=mu, sigma=sigma, eta=eta) + Z * u_se + FLOOR


# --------------------------------------------------------------------------------------------------
# Seed 001: batch-mean moments, finite populations and strides
# --------------------------------------------------------------------------------------------------

SHRINK = dict(sigma=st.floats(0.1, 10.0), n=st.integers(1, 256), mu=st.floats(-2.0, 2.0))


@settings(max_examples=20)
@given(**SHRINK, seed=SEEDS)
def test_expected_abs_and_square_of_gaussian_batch_means(sigma, n, mu, seed):
    pop = sim_gs.gaussian_population(sigma, mu)
    rng = np.random.default_rng(seed)
    assert _within(sim_gs.abs_mean(pop, n, batches=BATCHES, seed=rng), th_gs.expected_abs_mean(sigma, n, mu))
    assert _within(sim_gs.sq_mean(pop, n, batches=BATCHES, seed=rng), th_gs.expected_sq_mean(sigma, n, mu))


@settings(max_examples=15)
@given(size=st.integers(2, 400), fraction=st.floats(0.0, 1.0), sigma=st.floats(0.1, 5.0), seed=SEEDS)
def test_finite_population_variance_of_batch_means(size, fraction, sigma, seed):
    n = max(1, min(size, round(fraction * size)))
    rng = np.random.default_rng(seed)
    pop = sim_gs.sample_finite_population(size, sigma, mu=1.0, seed=rng)
    means = sim_gs.batch_means(pop, n, BATCHES, replace=False, seed=rng)[:, 0]
    # The population mean is exactly 1.0, so (g - 1)^2 is an unbiased draw of Var(g).
    squared = estimate((means - 1.0) ** 2)
    assert _within(squared, th_gs.batch_mean_variance(sigma, n, population_size=size))
    replaced = sim_gs.batch_means(pop, n, BATCHES, replace=True, seed=rng)[:, 0]
    assert _within(estimate((replaced - 1.0) ** 2), th_gs.batch_mean_variance(sigma, n))


# The finite-population E|g| of theory is the central-limit approximation; for a Gaussian-drawn population
# and n >= 10 its error is far below 1% (checked at 10^6 batches), which is the model floor allowed here.
CLT_REL_FLOOR = 0.01


@settings(max_examples=10)
@given(size=st.integers(100, 2000), fraction=st.floats(0.0, 1.0), sigma=st.floats(0.1, 5.0), seed=SEEDS)
def test_expected_abs_mean_finite_population(size, fraction, sigma, seed):
    n = max(10, min(size, round(fraction * size)))
    rng = np.random.default_rng(seed)
    pop = sim_gs.sample_finite_population(size, sigma, seed=rng)
    sim = sim_gs.abs_mean(pop, n, batches=BATCHES, replace=False, seed=rng)
    exact = th_gs.expected_abs_mean_finite(sigma, n, size)
    assert _within(sim, exact, floor=FLOOR + CLT_REL_FLOOR * exact)


@settings(max_examples=10)
@given(**SHRINK, lr=st.floats(0.001, 1.0), a=st.floats(0.1, 5.0), seed=SEEDS)
def test_strides_and_distance_to_minimum(sigma, n, mu, lr, a, seed):
    pop = sim_gs.gaussian_population(sigma, mu)
    rng = np.random.default_rng(seed)
    pairs = [
        (
            sim_gs.parameter_stride(pop, n, lr, batches=BATCHES, seed=rng),
            th_gs.parameter_stride(lr, sigma, n, mu),
        ),
        (sim_gs.loss_stride(pop, n, lr, batches=BATCHES, seed=rng), th_gs.loss_stride(lr, sigma, n, mu)),
        (
            sim_gs.loss_stride_on_parabola(pop, n, lr, a, batches=BATCHES, seed=rng),
            th_gs.loss_stride_on_parabola(lr, sigma, n, a, mu),
        ),
        (
            sim_gs.distance_to_minimum(pop, n, a, batches=BATCHES, seed=rng),
            th_gs.distance_to_minimum(sigma, n, a, mu),
        ),
    ]
    for sim, exact in pairs:
        assert _within(sim, exact), (sim, exact)


def test_paper_constant_is_outside_the_simulated_interval():
    sim = sim_gs.abs_mean(sim_gs.gaussian_population(1.0), 16, batches=20_000, seed=0)
    assert _within(sim, th_gs.expected_abs_mean(1.0, 16))
    assert not _within(sim, th_gs.paper_expected_abs_mean(1.0, 16))
    assert th_gs.paper_expected_abs_mean(1.0, 16) / sim.mean == pytest.approx(math.sqrt(2), rel=0.05)


def test_paper_constant_is_the_mean_absolute_difference_of_two_batch_means():
    pop = sim_gs.gaussian_population(2.0)
    rng = np.random.default_rng(1)
    g1, g2 = (sim_gs.batch_means(pop, 9, 20_000, seed=rng)[:, 0] for _ in range(2))
    assert _within(estimate(np.abs(g1 - g2)), th_gs.paper_expected_abs_mean(2.0, 9))

"""Unit tests of sim.grad_shrinkage: populations, batch means with and without replacement, strides, fit.

Monte-Carlo comparisons use z = 5 standard errors (two-sided false-positive rate 6e-7 each) with fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.estimate import Estimate, estimate
from sim.grad_shrinkage import (
    abs_mean,
    abs_mean_curve,
    batch_means,
    distance_to_minimum,
    finite_population,
    fit_power_law,
    gaussian_population,
    loss_stride,
    loss_stride_on_parabola,
    parameter_stride,
    sample_finite_population,
    sq_mean,
    student_t_population,
)

Z = 5.0
SEEDS = st.integers(0, 2**32 - 1)


def test_batch_means_have_the_requested_shape_and_are_reproducible():
    pop = gaussian_population(2.0, mu=1.0, dims=3)
    a = batch_means(pop, 7, 11, seed=4)
    assert a.shape == (11, 3)
    np.testing.assert_array_equal(a, batch_means(pop, 7, 11, seed=4))


def test_chunking_does_not_change_the_law(monkeypatch):
    import sim.grad_shrinkage as gs

    pop = gaussian_population(1.0, dims=2)
    monkeypatch.setattr(gs, "_CHUNK_VALUES", 64)  # forces many chunks
    chunked = batch_means(pop, 16, 5000, seed=1)
    assert chunked.shape == (5000, 2)
    assert abs(estimate(chunked[:, 0] ** 2).mean - 1 / 16) <= Z * estimate(chunked[:, 0] ** 2).stderr


def test_without_replacement_draws_distinct_rows():
    # Rows 2**j: a batch sum of n distinct rows has exactly n one-bits; a repeated row would carry.
    pop = finite_population(2.0 ** np.arange(40))
    sums = np.rint(batch_means(pop, 10, 2000, replace=False, seed=0)[:, 0] * 10).astype(np.int64)
    assert all(bin(int(total)).count("1") == 10 for total in sums)


@pytest.mark.parametrize("n", [3, 27])  # below and above N/2 (the complement path)
def test_without_replacement_includes_every_row_with_probability_n_over_N(n):
    size, batches = 30, 20_000
    pop = finite_population(np.eye(size))
    counts = batch_means(pop, n, batches, replace=False, seed=n).sum(axis=0) * n
    p = n / size
    assert np.all(np.abs(counts - batches * p) <= Z * math.sqrt(batches * p * (1 - p)))


def test_full_population_batch_is_the_population_mean():
    pop = sample_finite_population(50, 2.0, mu=0.5, dims=2, seed=0)
    np.testing.assert_allclose(batch_means(pop, 50, 3, replace=False, seed=1), [[0.5, 0.5]] * 3, atol=1e-12)


def test_sample_finite_population_has_exact_moments():
    pop = sample_finite_population(100, 3.0, mu=-1.0, dims=4, dof=5.0, seed=2)
    np.testing.assert_allclose(pop.mean, -1.0, atol=1e-12)
    np.testing.assert_allclose(pop.std, 3.0, rtol=1e-12)
    assert pop.size == 100 and pop.dims == 4


@settings(max_examples=10)
@given(sigma=st.floats(0.1, 5.0), dof=st.floats(9.0, 30.0), seed=SEEDS)
def test_student_t_population_has_standard_deviation_sigma(sigma, dof, seed):
    draws = student_t_population(sigma, dof).draw((200_000,), np.random.default_rng(seed))[:, 0]
    second = estimate(draws**2)  # dof > 8: the 8th moment exists, so the standard error is itself reliable
    assert abs(second.mean - sigma**2) <= Z * second.stderr


def test_strides_are_the_documented_rescalings_of_the_batch_mean_moments():
    pop = student_t_population(1.5, 5.0, dims=3)
    base_abs = abs_mean(pop, 8, batches=500, seed=3)
    base_sq = sq_mean(pop, 8, batches=500, seed=3)
    assert parameter_stride(pop, 8, 0.1, batches=500, seed=3).mean == pytest.approx(0.1 * base_abs.mean)
    assert loss_stride(pop, 8, 0.1, batches=500, seed=3).mean == pytest.approx(0.1 * base_sq.mean)
    assert distance_to_minimum(pop, 8, 2.0, batches=500, seed=3).mean == pytest.approx(base_abs.mean / 4.0)
    # On the parabola, L(w) - L(w - lr g) = lr (1 - a lr) g^2 sample by sample.
    exact = loss_stride_on_parabola(pop, 8, 0.1, 2.0, batches=500, seed=3)
    assert exact.mean == pytest.approx(0.1 * (1 - 0.2) * base_sq.mean, rel=1e-12)


@given(slope=st.floats(-2.0, 2.0), constant=st.floats(0.01, 100.0))
def test_power_law_fit_recovers_an_exact_power_law(slope, constant):
    ns = [1, 3, 10, 30, 100]
    estimates = [Estimate(constant * n**slope, 1e-3 * constant * n**slope, 1000) for n in ns]
    fit = fit_power_law(ns, estimates)
    assert fit.slope == pytest.approx(slope, abs=1e-9)
    assert fit.constant == pytest.approx(constant, rel=1e-9)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-12)
    assert fit.dof == 3


def test_power_law_fit_standard_errors_are_calibrated():
    # Repeat a noisy fit many times: the spread of the fitted slopes must match the reported standard error.
    rng = np.random.default_rng(0)
    ns = np.array([1, 4, 16, 64, 256])
    truth = 2.0 * ns**-0.5
    errors = 0.01 * truth
    slopes, reported = [], []
    for _ in range(400):
        noisy = truth * np.exp(rng.standard_normal(ns.size) * 0.01)
        fit = fit_power_law(ns, [Estimate(v, e, 1000) for v, e in zip(noisy, errors)])
        slopes.append(fit.slope)
        reported.append(fit.slope_stderr)
    # The sample sd of 400 draws is within 20% of the truth with probability > 0.999 (chi-square, 399 dof).
    assert np.std(slopes, ddof=1) == pytest.approx(np.mean(reported), rel=0.2)


def test_curve_of_gaussian_batch_means_halves_per_fourfold_batch():
    curve = abs_mean_curve(gaussian_population(1.0), [1, 4, 16, 64], batches=4000, seed=0)
    assert curve.ns == (1, 4, 16, 64) and len(curve.estimates) == 4
    assert abs(curve.fit.slope + 0.5) <= Z * curve.fit.slope_stderr


@pytest.mark.parametrize(
    "call",
    [
        lambda: gaussian_population(-1.0),
        lambda: gaussian_population(float("inf")),
        lambda: student_t_population(1.0, 2.0),
        lambda: finite_population([[1.0, float("nan")]]),
        lambda: finite_population(np.zeros((2, 2, 2))),
        lambda: batch_means(finite_population([1.0, 2.0]), 3, 4, replace=False),
        lambda: batch_means(gaussian_population(1.0), 0, 4),
        lambda: batch_means("gaussian", 2, 4),
        lambda: fit_power_law([1, 2], [Estimate(1.0, 0.1, 10)] * 2),
        lambda: parameter_stride(gaussian_population(1.0), 2, -0.1),
        lambda: loss_stride_on_parabola(gaussian_population(1.0), 2, 0.1, 0.0),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError, match="Invalid"):
        call()

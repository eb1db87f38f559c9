"""Input guards of the research libraries (issue 13, library part): absurd sizes, degenerate batch
schedules, bools and strings in theory, honest population moments, gradient-statistics edge cases.

Every test here fails on the code before the guards: the size tests would run for hours (or exhaust
memory), the others returned a wrong value or raised an unhelpful error.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from sim import convex, grad_shrinkage, least_squares, quadratic, rebound_walk, sde
from sim._validate import MAX_WORK, check_size
from theory import comm, convergence, critical_batch, curvature
from theory import grad_shrinkage as theory_shrinkage

REFUSED = r"Invalid {}: about .* \(expected at most .*max_work"


def _refused_fast(fn, what: str):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=REFUSED.format(what)) as info:
        fn()
    assert time.perf_counter() - start < 1.0  # refused up front, not after running
    message = str(info.value)
    assert "\n" not in message and "max_work" in message
    return message


# --------------------------------------------------------------------------------------------------
# Absurd sizes in sim


@pytest.mark.parametrize(
    ("what", "call"),
    [
        ("steps", lambda: quadratic.simulate([1.0], lr=0.1, batch_size=1, steps=10**12, runs=2, seed=0)),
        (
            "steps",
            lambda: quadratic.simulated_steps_to_target(
                [1.0], lr=0.1, batch_size=1, target=1e-300, max_steps=10**12, runs=2, seed=0
            ),
        ),
        (
            "max_steps",
            lambda: quadratic.speedup_curve(
                [1.0], batch_sizes=[1, 2], target=1e-3, max_steps=10**12, runs=2, seed=0
            ),
        ),
        (
            "dt",
            lambda: sde.simulate_quadratic_sde([1.0], coefficient=0.1, time=1.0, dt=1e-12, runs=2, seed=0),
        ),
        (
            "dt",
            lambda: sde.simulate_least_squares_sde(
                np.eye(3), np.ones(3), coefficient=0.1, time=1.0, dt=1e-12, runs=2, seed=0
            ),
        ),
        (
            "time",
            lambda: sde.svag_quadratic(
                [1.0], lr=1.0, batch_size=1.0, amplification=10**6, time=10**6, runs=2, seed=0
            ),
        ),
        (
            "time",
            lambda: sde.svag_least_squares(
                np.eye(3), np.ones(3), lr=1.0, batch_size=1, amplification=10**6, time=10**6, runs=2, seed=0
            ),
        ),
        (
            "epochs",
            lambda: least_squares.simulate_least_squares(
                np.eye(3), np.ones(3), lr=0.1, batch_size=1, epochs=10**12, runs=2, seed=0
            ),
        ),
        (
            "epochs",
            lambda: sde.compare_schedules(
                np.eye(3), np.ones(3), {"a": (0.1, 1)}, epochs=10**12, runs=2, seed=0
            ),
        ),
        (
            "max_steps",
            lambda: least_squares.least_squares_speedup_curve(
                np.eye(3), np.ones(3), batch_sizes=[1, 2], target=1e-3, max_steps=10**12, runs=2
            ),
        ),
        (
            "batches",
            lambda: grad_shrinkage.batch_means(grad_shrinkage.gaussian_population(1.0), 10**6, 10**6),
        ),
        (
            "batches",
            lambda: grad_shrinkage.abs_mean(grad_shrinkage.gaussian_population(1.0), 10**6, batches=10**6),
        ),
        (
            "batches",
            lambda: grad_shrinkage.abs_mean_curve(
                grad_shrinkage.gaussian_population(1.0), [10**6, 2 * 10**6, 4 * 10**6], batches=10**6
            ),
        ),
        ("steps", lambda: convex.geometric_batches(1, 1.1, 10**12, 100)),
        ("samples", lambda: convex.fixed_batches_for_samples(1, 10**15)),
    ],
)
def test_absurd_sizes_are_refused_up_front_with_the_estimate_and_the_limit(what, call):
    _refused_fast(call, what)


def test_adaptive_sgd_refuses_an_absurd_schedule():
    problem = convex.ridge_problem(np.eye(2), np.ones(2), reg=0.1)
    sizes = np.full(10, 10**11)  # 10^12 samples per run
    _refused_fast(
        lambda: convex.simulate_adaptive_sgd(problem, sizes, eta0=1e-3, runs=2, seed=0), "batch_sizes"
    )


def test_max_work_overrides_the_limit_both_ways():
    kwargs = dict(lr=0.1, batch_size=1, steps=50, runs=4, seed=0)
    # a tiny limit refuses a small job ...
    message = _refused_fast(lambda: quadratic.simulate([1.0], max_work=10.0, **kwargs), "steps")
    assert "50 steps" in message
    # ... and a larger one (or None) lets it run, with the same result as the default
    default = quadratic.simulate([1.0], **kwargs)
    unlimited = quadratic.simulate([1.0], max_work=None, **kwargs)
    np.testing.assert_array_equal(default.mean_loss, unlimited.mean_loss)
    means = grad_shrinkage.batch_means(grad_shrinkage.gaussian_population(1.0), 4, 3, seed=0, max_work=12)
    assert means.shape == (3, 1)
    with pytest.raises(ValueError, match="Invalid max_work"):
        quadratic.simulate([1.0], max_work=-1.0, **kwargs)


def test_check_size_reports_memory_separately():
    with pytest.raises(ValueError, match=r"Invalid runs: about .* GiB of arrays .*max_work=None"):
        check_size("runs", work=1.0, memory=1e15)
    check_size("runs", work=10 * MAX_WORK, memory=1e15, max_work=None)  # None switches both off


def test_fixed_batch_bound_refuses_absurd_step_counts():
    params = dict(eta0=1e-3, L=1.0, c=0.5, M=1.0, M_G=1.0, initial_gap=1.0)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"Invalid steps: 1000000000000 \(expected at most"):
        convergence.fixed_batch_bound(4, 10**12, **params)
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------------------------------
# Degenerate schedules and populations


def test_geometric_batches_never_round_down_to_an_empty_batch():
    sizes = convex.geometric_batches(4, 0.5, 6, 100)
    np.testing.assert_array_equal(sizes, [4, 2, 1, 1, 1, 1])
    assert sizes.dtype.kind == "i"
    # growing schedules are unchanged: capped at b_max
    np.testing.assert_array_equal(convex.geometric_batches(2, 2.0, 5, 10), [2, 4, 8, 10, 10])


def test_finite_population_reports_its_real_moments():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 2.0, size=(500, 2)) * np.array([1.0, 0.5])
    pop = grad_shrinkage.finite_population(values)
    assert pop.mu == pytest.approx(values.mean())
    assert pop.sigma == pytest.approx(np.sqrt(np.mean(values.var(axis=0))))
    one_d = grad_shrinkage.finite_population([1.0, 2.0, 3.0, 6.0])
    assert one_d.mu == pytest.approx(3.0) and one_d.sigma == pytest.approx(np.sqrt(3.5))
    frozen = grad_shrinkage.sample_finite_population(64, 0.7, mu=-1.5, dims=3, seed=1)
    assert frozen.mu == pytest.approx(-1.5) and frozen.sigma == pytest.approx(0.7)


# --------------------------------------------------------------------------------------------------
# theory: bools and strings are refused, naming the parameter

THEORY_CALLS = [
    ("n", lambda v: theory_shrinkage.expected_abs_mean(1.0, v)),
    ("sigma", lambda v: theory_shrinkage.batch_mean_variance(v, 4)),
    ("lr", lambda v: theory_shrinkage.parameter_stride(v, 1.0, 4)),
    ("m", lambda v: critical_batch.speedup(v, 1.0, 2.0)),
    ("batch_size", lambda v: critical_batch.steps_to_target(v, 1.0, 2.0)),
    ("b_noise", lambda v: critical_batch.critical_batch_size(v)),
    ("workers", lambda v: comm.ring_allreduce_time(workers=v, n_bytes=1e6, alpha=1e-6, beta=1e-9)),
    ("iterations", lambda v: comm.training_time(v, 0.1, 0.1)),
    ("milestones", lambda v: comm.step_schedule_phases(32, 10.0, [v], 90)),
    (
        "batch_sizes",
        lambda v: convergence.abs_bound([v, 2], eta0=1e-3, L=1.0, c=0.5, M=1.0, M_G=1.0, initial_gap=1.0),
    ),
    ("eta0", lambda v: convergence.noise_floor(eta0=v, L=1.0, c=0.5, M=1.0)),
    ("gamma", lambda v: curvature.curvature_based_lr(v, 1.0, 2.0)),
    ("weight_decay", lambda v: curvature.lars_trust_ratio([1.0, 2.0], [0.5, 0.5], v)),
]


@pytest.mark.parametrize("bad", [True, np.bool_(False), "4", None, [1.0, "x"]])
@pytest.mark.parametrize(("name", "call"), THEORY_CALLS)
def test_theory_refuses_bools_and_strings_naming_the_parameter(name, call, bad):
    with pytest.raises(ValueError, match=rf"^Invalid {name}: .*\(expected"):
        call(bad)


def test_theory_still_accepts_numbers_and_arrays():
    assert theory_shrinkage.expected_abs_mean(1.0, 4) == pytest.approx(np.sqrt(2 / (np.pi * 4)))
    np.testing.assert_allclose(critical_batch.speedup(np.array([1.0, 4.0]), 1.0, 2.0), [1.0, 2.0])
    assert comm.ring_allreduce_time(workers=np.int64(1), n_bytes=1e6, alpha=1e-6, beta=1e-9) == 0.0


# --------------------------------------------------------------------------------------------------
# realnets.probes.gradstats edge cases


@pytest.fixture
def tiny():
    torch = pytest.importorskip("torch")
    from torch import nn
    from torch.nn import functional as F

    gen = torch.Generator().manual_seed(0)
    model = nn.Linear(3, 2)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    x = torch.randn(6, 3, generator=gen)
    y = torch.randint(0, 2, (6,), generator=gen)
    return model, (lambda out, target: F.cross_entropy(out, target, reduction="none")), x, y


def test_gradient_stats_on_an_empty_batch_names_the_samples_not_chunk_size(tiny):
    from realnets.probes.gradstats import gradient_stats

    model, loss, x, y = tiny
    with pytest.raises(ValueError, match=r"^Invalid x: 0 samples \(expected at least 2"):
        gradient_stats(model, loss, x[:0], y[:0])
    with pytest.raises(ValueError, match=r"^Invalid x: 1 samples \(expected at least 2"):
        gradient_stats(model, loss, x[:1], y[:1])
    with pytest.raises(ValueError, match=r"^Invalid y: 5 targets \(expected 6"):
        gradient_stats(model, loss, x, y[:5])


def test_a_wrongly_shaped_mean_gradient_is_a_value_error(tiny):
    import torch

    from realnets.probes.gradstats import GradStatsAccumulator

    model, loss, x, y = tiny
    acc = GradStatsAccumulator(model, loss, mode="exact")
    acc.add(x, y)
    good = acc.stats(acc.mean_grad())
    assert good.n == 6
    with pytest.raises(
        ValueError, match=r"^Invalid mean_grad: shapes .* \(expected one tensor per trainable"
    ):
        acc.stats([torch.zeros(3)])
    with pytest.raises(ValueError, match=r"^Invalid mean_grad: shapes"):
        acc.stats([torch.zeros(2, 3), torch.zeros(3)])
    with pytest.raises(ValueError, match=r"^Invalid direction: shapes"):
        acc.directional([torch.zeros(5)])


def test_reference_statistics_refuse_one_sample_and_mismatched_losses():
    torch = pytest.importorskip("torch")
    from realnets.probes.gradstats import stats_from_per_sample_gradients

    per_sample = torch.arange(12.0).reshape(4, 3)
    ok = stats_from_per_sample_gradients(per_sample, torch.ones(4))
    assert ok.n == 4 and np.isfinite(ok.sigma2)
    with pytest.raises(ValueError, match=r"^Invalid per_sample: 1 samples \(expected at least 2"):
        stats_from_per_sample_gradients(per_sample[:1], torch.ones(1))
    with pytest.raises(ValueError, match=r"^Invalid losses: shape \(3,\) \(expected \(4,\)"):
        stats_from_per_sample_gradients(per_sample, torch.ones(3))
    with pytest.raises(ValueError, match=r"^Invalid losses: shape \(4, 1\)"):
        stats_from_per_sample_gradients(per_sample, torch.ones(4, 1))
    with pytest.raises(ValueError, match=r"^Invalid per_sample: shape \(12,\)"):
        stats_from_per_sample_gradients(per_sample.reshape(-1), torch.ones(12))


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("rule", lambda: curvature.layer_rate_statistic([1.0], [1.0], ["lars"])),
        ("rule", lambda: critical_batch.scaled_lr(2.0, 1.0, 0.1, ["lsr"])),
        ("phases", lambda: comm.iterations_for_schedule(5, 100)),
        ("batch_size", lambda: comm.iterations_for_schedule([(1, "a")], 100)),
    ],
)
def test_theory_names_the_parameter_for_non_numeric_options(name, call):
    with pytest.raises(ValueError, match=rf"^Invalid {name}: "):
        call()


# --------------------------------------------------------------------------------------------------
# Leftovers of the bad-input sweep: the walk simulator's sizes and the schedule helpers of theory.comm


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: rebound_walk.one_step(m=1, s=1.0, mu=1.0, sigma=1.0, eta=0.1, n=2 * 10**9), "Invalid n"),
        (
            lambda: rebound_walk.play(
                rebound_walk.fixed_policy(1), budget=10**12, s0=1.0, eta=0.1, mu=1, sigma=1
            ),
            "Invalid walkers",
        ),
        (
            lambda: rebound_walk.play(
                rebound_walk.fixed_policy(8), budget=64, s0=1.0, eta=0.1, mu=1, sigma=1, walkers=10**10
            ),
            "Invalid walkers",
        ),
    ],
)
def test_the_walk_simulator_refuses_absurd_sizes_at_once(call, named):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=named) as err:
        call()
    assert "max_work" in str(err.value) and "\n" not in str(err.value)
    assert time.perf_counter() - start < 1.0  # refused before any allocation


def test_the_walk_simulator_size_guard_can_be_lifted():
    est = rebound_walk.one_step(m=4, s=1.0, mu=1.0, sigma=1.0, eta=0.1, n=1000, seed=0, max_work=None)
    assert est.n == 1000


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: comm.iterations_for_schedule([], 100), "Invalid phases"),
        (lambda: comm.step_schedule_phases(32, 1e308, [1, 2, 3], 4), "Invalid factor"),
        (lambda: comm.step_schedule_phases(32, 2, [1], 4, max_batch=16), "Invalid max_batch"),
        (
            lambda: curvature.paper_median_curvature_radius([1.0, 2.0], [0.1, 0.2], magnitudes="yes"),
            "magnitudes",
        ),
    ],
)
def test_theory_schedule_and_radius_helpers_refuse_bad_input(call, named):
    with pytest.raises(ValueError, match=named):
        call()


def test_a_capped_huge_factor_is_a_finite_schedule():
    assert comm.step_schedule_phases(32, 1e308, [1, 2, 3], 4, max_batch=1024) == [
        (1, 32),
        (1, 1024),
        (1, 1024),
        (1, 1024),
    ]

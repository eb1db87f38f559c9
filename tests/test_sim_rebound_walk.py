"""Unit tests of sim.rebound_walk: the one-step walk, the BA policy's maximiser and whole games.

Monte-Carlo comparisons use z = 5 standard errors (two-sided false-positive rate 6e-7 per comparison) with
fixed seeds, plus an absolute floor of 1e-12 for float error.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import bench
from sim import rebound_walk as walk_module
from sim.grad_shrinkage import gaussian_population
from sim.rebound_walk import (
    ba_policy,
    compare_policies,
    constant_dice,
    fixed_policy,
    folded_normal_mean,
    maximise_utility,
    next_state_samples,
    objective_decrease_samples,
    one_step,
    play,
    quadratic_dice,
    sim_utility,
)

Z = 5.0
FLOOR = 1e-12
SEEDS = st.integers(0, 2**32 - 1)


def _agree(est, value, z=Z):
    return abs(est.mean - value) <= z * est.stderr + FLOOR


def _agree_two(a, b, z=Z):
    return abs(a.mean - b.mean) <= z * math.hypot(a.stderr, b.stderr) + FLOOR


def test_next_state_never_below_floor_and_is_reproducible():
    a = next_state_samples(m=3, s=0.3, mu=2.0, sigma=5.0, eta=0.4, s_star=-1.0, n=10_000, seed=7)
    b = next_state_samples(m=3, s=0.3, mu=2.0, sigma=5.0, eta=0.4, s_star=-1.0, n=10_000, seed=7)
    assert np.all(a >= -1.0)
    np.testing.assert_array_equal(a, b)


@given(s=st.floats(0.0, 5.0), mu=st.floats(-3.0, 3.0), eta=st.floats(0.01, 2.0), s_star=st.floats(-2.0, 2.0))
def test_one_step_without_noise_is_the_deterministic_rebound(s, mu, eta, s_star):
    result = one_step(m=4, s=s + s_star, mu=mu, sigma=0.0, eta=eta, s_star=s_star, n=100, seed=0)
    assert result.stderr <= 1e-12
    assert result.mean == pytest.approx(abs(s - eta * mu) + s_star, rel=1e-12, abs=1e-12)


@settings(max_examples=15)
@given(nu=st.floats(-3.0, 3.0), tau=st.floats(0.05, 3.0), seed=SEEDS)
def test_folded_normal_mean_matches_sampled_absolute_values(nu, tau, seed):
    rng = np.random.default_rng(seed)
    samples = np.abs(nu + tau * rng.standard_normal(50_000))
    est_mean, est_se = samples.mean(), samples.std(ddof=1) / math.sqrt(samples.size)
    assert abs(folded_normal_mean(nu, tau) - est_mean) <= Z * est_se + FLOOR


@settings(max_examples=20)
@given(r=st.floats(0.0, 2.0), mu=st.floats(-1.0, 3.0), sigma=st.floats(0.1, 30.0), eta=st.floats(0.01, 1.0))
def test_maximiser_matches_a_brute_force_integer_scan(r, mu, sigma, eta):
    m_max = 3000
    grid = np.arange(1, m_max + 1, dtype=float)
    values = sim_utility(m=grid, s=r, mu=mu, sigma=sigma, eta=eta)
    found = float(maximise_utility(s=r, mu=mu, sigma=sigma, eta=eta, m_max=m_max))
    # Near a flat maximum two integers can tie to rounding; compare utilities, not indices.
    best = values.max()
    assert sim_utility(m=found, s=r, mu=mu, sigma=sigma, eta=eta) >= best - 1e-12 * max(1.0, abs(best))
    assert 1 <= found <= m_max and found == round(found)


def test_maximiser_is_vectorised_and_handles_the_no_rebound_shortcut():
    r = np.array([0.05, 10.0, 0.0])
    m_star = maximise_utility(s=r, mu=1.0, sigma=20.0, eta=0.02, m_max=10_000)
    # Seed 000, eq. 7-9 (the paper's formula): s=0.05, eta=0.02, mu=1, sigma=20 gives m* = 113.
    assert m_star[0] == 113
    assert m_star[1] == 1  # a(1) = (10 - 0.02)/0.4 >> 8: no rebound, u = eta*mu/m
    assert m_star[2] == 10_000  # at the floor every batch expects a rise; u -> 0 from below


def test_maximiser_without_noise_returns_one():
    assert float(maximise_utility(s=0.5, mu=1.0, sigma=0.0, eta=0.1)) == 1.0


def test_fast_path_and_round_by_round_path_agree():
    game = dict(budget=96, s0=1.0, eta=0.1, mu=1.0, sigma=3.0, walkers=20_000)
    fast = play(fixed_policy(8), seed=1, **game)
    rounds = play(fixed_policy(8), seed=2, record=1, **game)  # recording forces the general path
    assert fast.updates.mean == rounds.updates.mean == 12
    assert _agree_two(fast.final, rounds.final)


def test_noiseless_game_matches_a_plain_loop():
    s, eta, mu = 1.0, 0.3, 1.7
    result = play(fixed_policy(5), budget=50, s0=s, eta=eta, mu=mu, sigma=0.0, walkers=3, seed=0)
    for _ in range(10):
        s = abs(s - eta * mu)
    np.testing.assert_allclose(result.final_states, s, rtol=1e-12)


def test_budget_is_spent_exactly_and_ba_batches_are_multiples_of_m0():
    result = play(
        ba_policy(m0=8),
        budget=1000,
        s0=1.0,
        eta=0.2,
        dice=quadratic_dice(1.0, 3.0),
        walkers=50,
        record=50,
        seed=3,
    )
    assert np.all(result.path_used[-1] == 1000)
    for column in result.path_used.T:
        batches = np.diff(column)
        batches = batches[batches > 0]
        assert np.all(batches[:-1] % 8 == 0)  # only the last batch is clipped to the budget left


def test_quadratic_dice_is_consistent_with_its_quadratic():
    dice = quadratic_dice(2.0, 0.5)
    mu, sigma = dice(np.array([0.0, 1.0, 4.0]))
    np.testing.assert_allclose(mu, [0.0, 4.0, 16.0])
    np.testing.assert_allclose(sigma, 0.5 * np.sqrt([0.0, 4.0, 16.0]))


def test_ba_prefers_the_smallest_batch_far_from_the_floor():
    result = play(ba_policy(), budget=4, s0=100.0, eta=0.1, mu=1.0, sigma=1.0, walkers=10, seed=0)
    assert result.updates.mean == 4  # m* = 1 while a(1) >> 1


def test_compare_policies_reports_ba_last_and_a_signed_margin():
    table = compare_policies(
        [4, 16], budget=256, s0=1.0, eta=0.2, dice=quadratic_dice(1.0, 3.0), walkers=2000, seed=0
    )
    assert [row.name for row in table.rows] == ["fixed-4", "fixed-16", "BA"]
    assert table.best_fixed.final.mean <= max(row.final.mean for row in table.rows[:-1])
    spread = math.hypot(table.best_fixed.final.stderr, table.ba.final.stderr)
    assert table.z == pytest.approx((table.best_fixed.final.mean - table.ba.final.mean) / spread)


def test_momentum_changes_the_game():
    game = dict(budget=64, s0=1.0, eta=0.1, dice=quadratic_dice(1.0, 1.0), walkers=4000)
    plain = play(fixed_policy(8), seed=5, **game)
    heavy = play(fixed_policy(8), momentum=0.9, seed=6, **game)
    assert not _agree_two(plain.final, heavy.final)


def test_noiseless_momentum_game_matches_a_plain_loop_with_the_sign_flip():
    s, eta, mu, rho = 1.0, 0.2, 1.5, 0.6
    result = play(
        fixed_policy(2), budget=40, s0=s, eta=eta, mu=mu, sigma=0.0, momentum=rho, walkers=2, seed=0
    )
    velocity = 0.0
    for _ in range(20):
        step = mu + rho * velocity
        moved = s - eta * step
        velocity = math.copysign(step, moved)  # crossing the floor turns the momentum around
        s = abs(moved)
    np.testing.assert_allclose(result.final_states, s, rtol=1e-12)


@settings(max_examples=20)
@given(mu=st.floats(0.1, 3.0), sigma=st.floats(0.5, 30.0), eta=st.floats(0.01, 0.5))
def test_ba_batch_shrinks_as_the_state_moves_away_from_the_floor(mu, sigma, eta):
    # Seed 000 Sec. 4.2: BA starts with small batches and grows them as the loss falls.
    r = np.linspace(eta * mu / 2 + 1e-3, 5.0, 40)  # above eta*mu/2, so every u(m) has a finite argmax
    m_star = maximise_utility(s=r, mu=mu, sigma=sigma, eta=eta, m_max=10**7)
    assert np.all(np.diff(m_star) <= 0)


def test_objective_decrease_mean_matches_its_second_order_expansion():
    # E dF = -eta f.f + eta^2/2 * sum h (f^2 + sigma^2/m) exactly for a quadratic.
    f, h, sigma, m, eta = np.array([1.0, -0.5, 0.2]), np.array([1.0, 3.0, 0.5]), 2.0, 10, 0.3
    noise = gaussian_population(sigma, dims=3)
    samples = objective_decrease_samples(f, h, noise, m, eta, draws=40_000, seed=11)
    exact = -eta * f @ f + 0.5 * eta**2 * np.sum(h * (f**2 + sigma**2 / m))
    assert abs(samples.mean() - exact) <= Z * samples.std(ddof=1) / math.sqrt(samples.size) + FLOOR


@pytest.mark.parametrize(
    "call",
    [
        lambda: one_step(m=1, s=float("nan"), mu=1.0, sigma=1.0, eta=0.1),
        lambda: one_step(m=1, s=-1.0, mu=1.0, sigma=1.0, eta=0.1),
        lambda: one_step(m=1, s=1.0, mu=1.0, sigma=-1.0, eta=0.1),
        lambda: one_step(m=0, s=1.0, mu=1.0, sigma=1.0, eta=0.1),
        lambda: one_step(m=1, s=1.0, mu=1.0, sigma=1.0, eta=0.0),
        lambda: fixed_policy(0),
        lambda: ba_policy(m_max=4, m0=8),
        lambda: play(fixed_policy(1), budget=0, s0=1.0, eta=0.1, mu=1.0, sigma=1.0),
        lambda: play(fixed_policy(1), budget=4, s0=1.0, eta=0.1, mu=1.0),
        lambda: play(fixed_policy(1), budget=4, s0=1.0, eta=0.1, mu=1.0, sigma=1.0, dice=constant_dice(1, 1)),
        lambda: play(fixed_policy(1), budget=4, s0=1.0, eta=0.1, mu=1.0, sigma=1.0, momentum=1.0),
        lambda: play("fixed", budget=4, s0=1.0, eta=0.1, mu=1.0, sigma=1.0),
        lambda: quadratic_dice(0.0, 1.0),
        lambda: maximise_utility(s=1.0, mu=1.0, sigma=1.0, eta=0.1, m_max=0.5),
        lambda: maximise_utility(s=-1.0, mu=1.0, sigma=1.0, eta=0.1),
        lambda: maximise_utility(s=0.5, mu=1.0, sigma=1.0, eta=0.1, s_star=1.0),
        lambda: maximise_utility(s=1.0, mu=float("inf"), sigma=1.0, eta=0.1),
        lambda: maximise_utility(s=1.0, mu=1.0, sigma=1.0, eta=0.0),
        lambda: sim_utility(m=4.0, s=1.0, mu=1.0, sigma=0.0, eta=0.1),
        lambda: sim_utility(m=0.0, s=1.0, mu=1.0, sigma=1.0, eta=0.1),
        lambda: maximise_utility(s=1.0, mu=1.0, sigma=1.0, eta=0.1, solver="newton"),
        lambda: ba_policy(solver="slow"),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError, match="Invalid"):
        call()


def test_bench_cli_writes_a_json_table(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert (
        bench.main(["--walkers", "2000", "--steps", "3", "--case", "rebound_walk.fixed", "--json", str(out)])
        == 0
    )
    payload = json.loads(out.read_text())
    (row,) = payload["rows"]
    assert row["case"] == "rebound_walk.fixed" and row["work"] == 6000
    assert row["ratio"] == pytest.approx(row["rate"] / row["bare_rate"])
    assert "rebound_walk.fixed" in capsys.readouterr().out


# ------------------------------------------------------------------------- the fast solver against the reference
def _both_solvers(**walk):
    return (
        maximise_utility(solver="fast", **walk),
        maximise_utility(solver="exact", **walk),
    )


@settings(max_examples=150, deadline=None)
@given(
    r=st.floats(0.0, 5.0),
    mu=st.floats(-1.0, 5.0),
    sigma=st.floats(0.0, 50.0),
    eta=st.floats(0.001, 2.0),
    m_max=st.floats(1.0, walk_module.FAST_AGREES_UP_TO),
)
def test_fast_solver_returns_the_reference_integer(r, mu, sigma, eta, m_max):
    fast, exact = _both_solvers(s=r, mu=mu, sigma=sigma, eta=eta, m_max=m_max)
    assert fast == exact


def test_fast_solver_returns_the_reference_integer_over_many_regimes():
    # 20000 walkers at once: every branch (table, Newton, break-even table, asymptotic window, fallbacks).
    rng = np.random.default_rng(12)
    n = 20_000
    r = rng.uniform(0.0, 2.0, n) ** 3
    mu = rng.uniform(-0.5, 3.0, n)
    sigma = np.exp(rng.uniform(-4.0, 4.0, n))
    for eta, m_max in ((0.05, 64.0), (0.3, 5000.0), (1.0, walk_module.FAST_AGREES_UP_TO)):
        fast, exact = _both_solvers(s=r, mu=mu, sigma=sigma, eta=eta, m_max=m_max)
        np.testing.assert_array_equal(fast, exact)
        interior = (exact > 1) & (exact < m_max)
        assert interior.mean() > 0.05  # over a thousand draws need a real search, not the ends 1 or m_max


def test_fast_continuous_maximiser_solves_the_stationary_condition():
    # du/dm = 0 at m_c: compare with a central difference of the utility in log m.
    rng = np.random.default_rng(5)
    r, mu, sigma = rng.uniform(0.05, 1.0, 500), rng.uniform(0.1, 2.0, 500), rng.uniform(0.5, 20.0, 500)
    m_c, ok, _ = walk_module._fast_continuous(r, mu, sigma, 0.1)
    assert np.all(ok == (2 * r > 0.1 * mu))
    h = 1e-4
    up = sim_utility(m=m_c[ok] * math.exp(h), s=r[ok], mu=mu[ok], sigma=sigma[ok], eta=0.1)
    down = sim_utility(m=m_c[ok] * math.exp(-h), s=r[ok], mu=mu[ok], sigma=sigma[ok], eta=0.1)
    centre = sim_utility(m=m_c[ok], s=r[ok], mu=mu[ok], sigma=sigma[ok], eta=0.1)
    assert np.all(centre >= np.maximum(up, down))  # a maximum, to within h = 1e-4 in log m
    # The derivative vanishes: |u(+h) - u(-h)| is second order in h relative to the curvature term.
    assert np.all(np.abs(up - down) <= 1e-3 * np.abs(2 * centre - up - down) + 1e-15)


@pytest.mark.parametrize("k", [17.0, 40.0, 300.0, 1000.0])
def test_break_even_lies_in_the_asymptotic_window_used_beyond_the_table(k):
    # The fast rounding step trusts b_k in [sqrt(k(k+1)) - 1/k, sqrt(k(k+1))] for k > 16 over the table's p range.
    fine = np.linspace(*walk_module._FAST_LOG_P_RANGE, walk_module._FAST_TABLE_POINTS)[::64]
    tau = np.exp(walk_module._fast_table()[0][::64])
    offset = walk_module._break_even(k, np.exp(fine) - 0.5, tau)
    upper = math.sqrt(k * (k + 1)) - k
    assert np.all(offset <= upper) and np.all(offset >= upper - 1.0 / k)


def test_break_even_table_error_bound_holds_between_its_points():
    offsets, error = walk_module._break_table()
    columns = (walk_module._FAST_TABLE_POINTS - 1) // walk_module._BREAK_STRIDE + 1
    rng = np.random.default_rng(3)
    z = rng.uniform(*walk_module._FAST_LOG_P_RANGE, 200)
    fine = np.linspace(*walk_module._FAST_LOG_P_RANGE, walk_module._FAST_TABLE_POINTS)
    tau = walk_module._tau_star(np.exp(z) - 0.5)
    coarse = fine[:: walk_module._BREAK_STRIDE]
    for k in (1, 2, 5, 16):
        row = offsets[(k - 1) * columns : k * columns]
        assert np.all(
            np.abs(np.interp(z, coarse, row) - walk_module._break_even(float(k), np.exp(z) - 0.5, tau))
            <= error
        )
    assert error < 1e-4


@pytest.mark.parametrize(
    "game",
    [
        dict(budget=600, s0=1.0, eta=0.2, dice=quadratic_dice(1.0, 3.0)),
        dict(budget=300, s0=1.0, eta=0.1, mu=1.0, sigma=3.0),
        dict(budget=400, s0=1.0, eta=0.1, dice=quadratic_dice(1.0, 3.0), momentum=0.5),
    ],
)
@pytest.mark.parametrize("m0", [1, 8])
def test_play_gives_the_same_batches_with_either_solver(game, m0):
    runs = [
        play(ba_policy(m0=m0, solver=solver), walkers=300, record=300, seed=9, **game)
        for solver in ("fast", "exact")
    ]
    np.testing.assert_array_equal(runs[0].path_used, runs[1].path_used)
    np.testing.assert_array_equal(runs[0].final_states, runs[1].final_states)
    assert runs[0].mean_batch > m0  # the games do grow the batch

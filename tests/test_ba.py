"""BA-SGD / BA-Momentum (seed 000, Algorithm 1): the m* search, the policy's decisions, the statistic, and
end-to-end runs through the engine.

The rule is checked against an independent brute force (eq. 7 written with the normal CDF, every integer
of the range) and against ``theory.rebound_walk`` (a different derivation: Brent's method on du/dm).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.stats import norm
from torch import nn
from torch_problems import ce, tiny_mlp_problem

from realnets.algorithms.ba import (
    BatchAdaptivePolicy,
    expected_next_state,
    optimal_batch_size,
    utility,
)
from realnets.algorithms.base import Grow, StepInfo, Update
from realnets.config import make_config
from realnets.engine import train
from realnets.probes import StatContext, compute_statistics
from realnets.probes.ba_stats import statistic_name
from realnets.probes.gradstats import per_sample_gradients, stats_from_per_sample_gradients
from realnets.registry import get_algorithm
from theory import rebound_walk as theory_walk

states = st.floats(0.01, 5.0, allow_nan=False)
means = st.floats(1e-3, 10.0, allow_nan=False)
sigmas = st.floats(1e-2, 100.0, allow_nan=False)
etas = st.floats(1e-3, 0.5, allow_nan=False)


def brute_utilities(m_max, s, mu, sigma2, eta, s_star=0.0):
    """u(m) for m = 1..m_max from eq. 7 as printed (Phi form), vectorised: the independent oracle."""
    m = np.arange(1, m_max + 1, dtype=float)
    nu = s - s_star - eta * mu
    tau = eta * np.sqrt(sigma2 / m)
    a = nu / tau
    nxt = nu * (norm.cdf(a) - norm.cdf(-a)) + tau * math.sqrt(2 / math.pi) * np.exp(-a * a / 2) + s_star
    return (s - nxt) / m


# -- the rule -------------------------------------------------------------------------------------------
@given(s=states, mu=means, sigma=sigmas, eta=etas, m_max=st.integers(1, 3000))
def test_m_star_is_the_integer_argmax_of_u(s, mu, sigma, eta, m_max):
    u = brute_utilities(m_max, s, mu, sigma * sigma, eta)
    m_star = optimal_batch_size(s=s, mu=mu, sigma=sigma, eta=eta, m_max=m_max)
    # float rounding of the two formulas of eq. 7 only: relative 1e-12 of the scale of the decrease
    tol = 1e-12 * (s + eta * mu)
    assert 1 <= m_star <= m_max
    assert u[m_star - 1] >= u.max() - tol


@given(s=states, mu=means, sigma=sigmas, eta=etas)
def test_m_star_agrees_with_theory(s, mu, sigma, eta):
    ours = optimal_batch_size(s=s, mu=mu, sigma=sigma, eta=eta, m_max=10**6)
    ref = theory_walk.optimal_batch_size_int(s=s, mu=mu, sigma=sigma, eta=eta, m_max=10**6)
    u_ours = utility(m=ours, s=s, mu=mu, sigma=sigma, eta=eta)
    u_ref = utility(m=ref, s=s, mu=mu, sigma=sigma, eta=eta)
    assert u_ours >= u_ref - 1e-12 * (s + eta * mu)


@given(s=states, mu=means, sigma=sigmas, eta=etas, m=st.integers(1, 500), seed=st.integers(0, 2**32 - 1))
def test_expected_next_state_matches_monte_carlo(s, mu, sigma, eta, m, seed):
    rng = np.random.default_rng(seed)
    step = rng.normal(mu, sigma / math.sqrt(m), size=20_000)
    nxt = np.abs(s - eta * step)
    stderr = nxt.std(ddof=1) / math.sqrt(nxt.size)
    # z = 5: a false alarm once in ~3.5 million examples
    assert (
        abs(expected_next_state(m=m, s=s, mu=mu, sigma=sigma, eta=eta) - nxt.mean()) <= 5 * stderr + 1e-12 * s
    )


@given(s=states, mu=means, eta=etas, margin=st.floats(5.01, 50.0))
def test_unit_batch_when_a1_exceeds_five(s, mu, eta, margin):
    assume(s - eta * mu > 0)
    sigma = (s - eta * mu) / (eta * margin)  # a(1) = margin > 5
    assert optimal_batch_size(s=s, mu=mu, sigma=sigma, eta=eta, m_max=5000) == 1
    assert optimal_batch_size(s=s, mu=mu, sigma=sigma, eta=eta, m_max=5000, shortcut=None) == 1


@given(s=states, mu=means, eta=etas, margin=st.floats(5.01, 50.0), m_max=st.integers(2, 5000))
def test_no_unit_shortcut_when_the_mean_is_negative(s, mu, eta, margin, m_max):
    # mu < 0 (momentum against the gradient): u = eta mu / m < 0 rises towards 0, so m* = m_max even though
    # a(1) > 5 (the original code's shortcut would return 1 here)
    sigma = (s + eta * mu) / (eta * margin)
    assert optimal_batch_size(s=s, mu=-mu, sigma=sigma, eta=eta, m_max=m_max) == m_max


def test_largest_batch_when_every_utility_is_negative():
    # eta * mu > 2 s: the mean step overshoots S*; also mu < 0 (momentum against the gradient)
    assert optimal_batch_size(s=0.1, mu=10.0, sigma=2.0, eta=0.1, m_max=777) == 777
    assert optimal_batch_size(s=0.1, mu=-1.0, sigma=2.0, eta=0.1, m_max=777) == 777
    assert optimal_batch_size(s=0.1, mu=1.0, sigma=0.0, eta=0.05, m_max=777) == 1  # no noise, useful step
    assert optimal_batch_size(s=0.1, mu=10.0, sigma=0.0, eta=0.05, m_max=777) == 777  # no noise, overshoot


def test_reference_example_and_the_code_variance_factor():
    # seed 000 eq. 7-9 at s=0.05, eta=0.02, mu=1, sigma=20 -> m* = 113; with the public code's extra 1/32: 4
    assert optimal_batch_size(s=0.05, mu=1.0, sigma=20.0, eta=0.02, m_max=60000) == 113
    assert optimal_batch_size(s=0.05, mu=1.0, sigma=math.sqrt(400.0 / 32), eta=0.02, m_max=60000) == 4


@given(
    s=states, eta=etas, overshoot=st.floats(0.01, 1.5), a1=st.floats(0.002, 0.05), m_alpha=st.integers(2, 64)
)
def test_code_variance_shrinks_m_star_by_m_alpha(s, eta, overshoot, a1, m_alpha):
    # built inside the regime with a finite maximiser (eta mu = overshoot * s < 2 s) and a large m*
    # (a(1) = a1 small); near eta mu = 2 s, u is flat to double precision
    mu = overshoot * s / eta
    sigma = (s - eta * mu) / (eta * a1)
    policy = BatchAdaptivePolicy(lr=eta, m0=16, code_variance=True)
    paper = BatchAdaptivePolicy(lr=eta, m0=16)
    batch = {"n": m_alpha, "loss": s, "grad_sq_norm": mu, "grad_dot_buffer": 0.0, "sigma2": sigma * sigma}
    info = StepInfo(0, 0, 0.0, 10**7, 10**7, 10**7, m_alpha)
    m_code, _, sigma2_code = policy.target(batch, info)
    m_paper, _, _ = paper.target(batch, info)
    assert sigma2_code == pytest.approx(sigma * sigma / m_alpha, rel=1e-15)
    assume(m_code >= 2 and m_paper < 10**7)
    # the continuous m* is proportional to sigma^2, so the integer ones differ by rounding only
    assert abs(m_paper - m_alpha * m_code) <= m_alpha + 1


def test_rule_rejects_bad_input():
    with pytest.raises(ValueError, match="Invalid sigma"):
        optimal_batch_size(s=1.0, mu=1.0, sigma=-1.0, eta=0.1, m_max=10)
    with pytest.raises(ValueError, match="Invalid eta"):
        optimal_batch_size(s=1.0, mu=1.0, sigma=1.0, eta=float("nan"), m_max=10)
    with pytest.raises(ValueError, match="Invalid m_max"):
        optimal_batch_size(s=1.0, mu=1.0, sigma=1.0, eta=0.1, m_max=0)


# -- the policy's decisions ------------------------------------------------------------------------------
def info(batch_so_far, *, n_train=1000, samples_seen=0, budget_left=10_000):
    return StepInfo(
        step=3,
        samples_seen=samples_seen,
        epoch=samples_seen / n_train,
        n_train=n_train,
        budget_left=budget_left,
        epoch_left=n_train - samples_seen % n_train,
        batch_so_far=batch_so_far,
    )


def stats_for(policy, n, *, s=0.05, mu=1.0, sigma2=400.0, buf=0.0):
    return {
        policy.needs[0]: {
            "n": n,
            "loss": s,
            "grad_sq_norm": mu,
            "grad_dot_buffer": buf,
            "sigma2": sigma2,
            "mode": "exact",
        }
    }


def decide(policy, n, **kw):
    split = {k: kw.pop(k) for k in ("n_train", "samples_seen", "budget_left") if k in kw}
    decision, _ = policy.decide(policy.init_state(), info(n, **split), stats_for(policy, n, **kw))
    return decision


def test_grows_by_m0_until_m_star_then_updates():
    policy = BatchAdaptivePolicy(lr=0.02, m0=32)  # m* = 113 for these statistics
    assert decide(policy, 32) == Grow(32)
    assert decide(policy, 96) == Grow(32)
    assert decide(policy, 128) == Update(lr=0.02)


def test_jump_growth_goes_to_the_next_multiple_of_m0():
    policy = BatchAdaptivePolicy(lr=0.02, m0=32, growth="jump")
    assert decide(policy, 32) == Grow(96)  # 113 - 32 rounded up to a multiple of 32
    assert decide(policy, 128) == Update(lr=0.02)


def test_caps_max_batch_budget_and_epoch_boundary():
    policy = BatchAdaptivePolicy(lr=0.02, m0=32, max_batch_size=64)
    assert decide(policy, 64) == Update(lr=0.02)
    free = BatchAdaptivePolicy(lr=0.02, m0=32)
    assert decide(free, 32, budget_left=10) == Grow(10)
    assert decide(free, 32, budget_left=0) == Update(lr=0.02)
    # the batch started 32 samples before the end of the epoch: it may not cross it ...
    assert decide(free, 32, samples_seen=968) == Update(lr=0.02)
    assert decide(free, 32, samples_seen=950) == Grow(18)
    # ... unless asked to
    crossing = BatchAdaptivePolicy(lr=0.02, m0=32, epoch_boundary="cross")
    assert decide(crossing, 32, samples_seen=968) == Grow(32)
    # the training-set size caps the batch even when m* is larger
    assert decide(free, 100, n_train=100, sigma2=1e6) == Update(lr=0.02)


def test_first_draw_and_one_sample_batches():
    policy = BatchAdaptivePolicy(lr=0.02, m0=32, first=48)
    n, state = policy.first_draw(policy.init_state(), info(0))
    assert n == 48 and state["rounds"] == 0
    n, _ = policy.first_draw(policy.init_state(), info(0, samples_seen=990))
    assert n == 10  # the epoch's last 10 samples
    lone = {
        policy.needs[0]: {"n": 1, "loss": 1.0, "grad_sq_norm": 1.0, "grad_dot_buffer": 0.0, "sigma2": None}
    }
    assert policy.decide(policy.init_state(), info(1), lone)[0] == Grow(32)
    assert policy.decide(policy.init_state(), info(1, budget_left=0), lone)[0] == Update(lr=0.02)


def test_non_finite_statistics_update_at_once():
    policy = BatchAdaptivePolicy(lr=0.02, m0=32)
    assert decide(policy, 32, s=float("nan")) == Update(lr=0.02)
    assert decide(policy, 32, sigma2=float("inf")) == Update(lr=0.02)


def test_momentum_mean_uses_the_buffer():
    policy = BatchAdaptivePolicy(lr=0.02, rho=0.9, m0=32)
    batch = stats_for(policy, 64, mu=2.0, buf=-3.0)[policy.needs[0]]
    mu, sigma2 = policy.dice(batch)
    assert mu == pytest.approx(2.0 + 0.9 * -3.0) and sigma2 == 400.0


def test_state_round_trips_through_a_checkpoint(tmp_path):
    policy = BatchAdaptivePolicy(lr=0.02, m0=32)
    _, state = policy.decide(policy.init_state(), info(32), stats_for(policy, 32))
    torch.save(state, tmp_path / "state.pt")
    assert torch.load(tmp_path / "state.pt", weights_only=True) == state
    assert state["m_star"] == 113 and state["rounds"] == 1
    assert set(policy.log_fields(state)) == {"m_star", "mu", "sigma2", "s_t", "rounds"}


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"stat": "bogus"}, "Invalid stat"),
        ({"growth": "fast"}, "Invalid growth"),
        ({"code_variance": "yes"}, "Invalid code_variance"),
        ({"epoch_boundary": "x"}, "Invalid epoch_boundary"),
        ({"m0": 0}, "Invalid m0"),
        ({"s_star": float("inf")}, "Invalid s_star"),
        ({"max_batch_size": -1}, "Invalid max_batch_size"),
        ({"momentum": 1.0}, "Invalid momentum"),
    ],
)
def test_bad_hyperparameters(bad, match):
    with pytest.raises(ValueError, match=match):
        get_algorithm("ba-momentum").build(nn.Linear(3, 2).parameters(), bad)


# -- the statistic ---------------------------------------------------------------------------------------
def tiny_problem(seed, n=48, d=5, classes=3, hidden=6):
    return tiny_mlp_problem(seed, n=n, d=d, classes=classes, hidden=hidden)


@pytest.mark.parametrize("mode", ["exact", "diag", "full"])
def test_statistic_grows_incrementally_and_matches_the_oracle(mode):
    model, x, y = tiny_problem(0)
    ctx = StatContext(model, ce, x[:16], y[:16], None, None)
    name = statistic_name(mode)
    for rows in (16, 32, 48):
        ctx.x, ctx.y = x[:rows], y[:rows]
        got = compute_statistics([name], ctx)[name]
    g = per_sample_gradients(model, ce, x, y)
    flat = torch.cat([g[k].reshape(len(x), -1) for k, _ in model.named_parameters()], dim=1)
    ref = stats_from_per_sample_gradients(flat, ce(model(x), y).detach(), diag=mode == "diag")
    assert got["n"] == 48 and ctx.counts["bwd"] == 3  # one backward per chunk, never the whole batch again
    assert got["loss"] == pytest.approx(ref.loss, rel=1e-12)
    assert got["grad_sq_norm"] == pytest.approx(ref.grad_sq_norm, rel=1e-10)
    assert got["sigma2"] == pytest.approx(ref.sigma2, rel=1e-8)
    assert ctx.prepared is not None and ctx.prepared.loss == got["loss"] and ctx.prepared.n == got["n"]
    mean = flat.mean(0)
    written = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert torch.allclose(written, mean, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("gram_max", [10_000, 40])
def test_exact_gram_route_matches_the_oracle(monkeypatch, gram_max):
    # wide Linear layers and chunks of 8 make the Gram route of the exact mode pay off (8 * (20 + 40) < 20 * 40);
    # a cap of 40 samples forces the switch back to layer evaluation half way through
    from realnets.probes import gradstats

    monkeypatch.setattr(gradstats, "_GRAM_MAX_SAMPLES", gram_max)
    model, x, y = tiny_problem(2, n=64, d=20, hidden=40)
    acc = gradstats.GradStatsAccumulator(model, ce, mode="exact")
    for start in range(0, 64, 8):
        acc.add(x[start : start + 8], y[start : start + 8])
        ref = stats_from_per_sample_gradients(
            torch.cat(
                [
                    g.reshape(acc.n, -1)
                    for g in per_sample_gradients(model, ce, x[: acc.n], y[: acc.n]).values()
                ],
                dim=1,
            ),
            ce(model(x[: acc.n]), y[: acc.n]).detach(),
        )
        if acc.n >= 2:
            assert acc.stats().sigma2 == pytest.approx(ref.sigma2, rel=1e-9)
    assert (acc._gram is not None) == (gram_max > 64)


def test_statistic_refuses_batchnorm_in_training_mode():
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))
    ctx = StatContext(model, ce, torch.randn(8, 4), torch.zeros(8, dtype=torch.long), None, None)
    with pytest.raises(ValueError, match="BatchNorm"):
        compute_statistics([statistic_name("exact")], ctx)


def test_momentum_buffer_is_mu_p_and_feeds_the_dice():
    model, x, y = tiny_problem(1, n=96)
    policy, optimizer = get_algorithm("ba-momentum").build(model.parameters(), {"lr": 0.1, "momentum": 0.8})
    name = policy.needs[0]
    mu_p = None
    for t in range(4):
        rows = slice(24 * t, 24 * t + 24)
        ctx = StatContext(model, ce, x[rows], y[rows], optimizer, None)
        batch = compute_statistics([name], ctx)[name]
        f = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).clone()
        prev = torch.zeros_like(f) if mu_p is None else mu_p
        mu_p = 0.8 * prev + f  # eq. 15
        assert batch["grad_dot_buffer"] == pytest.approx(float(f @ prev), rel=1e-10, abs=1e-15)
        assert policy.dice(batch)[0] == pytest.approx(float(f @ mu_p), rel=1e-10)
        optimizer.step()
        buf = torch.cat([optimizer.state[p]["momentum_buffer"].reshape(-1) for p in model.parameters()])
        assert torch.allclose(buf, mu_p, rtol=1e-12, atol=1e-15)


# -- end to end through the engine ------------------------------------------------------------------------
TINY = {
    "dataset": "synthetic-classification",
    "dataset_options": {"num_train": 160, "num_test": 40},
    "model": "logreg",
    "progress": False,
    "budget_epochs": 1.55,
    "device": "cpu",
}


@pytest.mark.parametrize("lookahead", [True, False])
@pytest.mark.parametrize("algo", ["ba-sgd", "ba-momentum"])
@pytest.mark.parametrize("mode", ["exact", "diag", "full"])
def test_engine_runs_with_exact_budget_and_logs(tmp_path, algo, mode, lookahead):
    # lr 2 on this easy problem makes m* exceed m0, so the batch grows
    config = make_config(
        TINY,
        {
            "algo": algo,
            "out_dir": str(tmp_path / "run"),
            "hp": {"m0": 16, "lr": 2.0, "stat": mode, "max_batch_size": 96, "lookahead": lookahead},
        },
    )
    result = train(config, plots=False)
    assert result.status == "finished"
    lines = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in lines if r["kind"] == "step"]
    sizes = [r["batch_size"] for r in steps]
    assert sum(sizes) == result.summary["budget_samples"] == 248
    assert all(b % 16 == 0 for b in sizes[:-1]) and max(sizes) <= 96 and max(sizes) > 16
    for r in steps:
        assert {"m_star", "mu", "sigma2", "s_t", "rounds", "fwd", "bwd"} <= set(r)
        if lookahead and mode != "full":  # one backward per look-ahead block (and per row taken beyond it)
            assert 1 <= r["bwd"] <= r["rounds"]
        else:  # one backward per increment, none for the update
            assert r["bwd"] == r["rounds"] and r["rounds"] >= 1
    for r in steps[:-1]:  # the update comes once the batch reaches min(m*, cap) or the end of the epoch
        assert r["batch_size"] >= min(r["m_star"], 96) or r["samples"] % 160 == 0


def test_jump_growth_and_code_variance_through_the_engine(tmp_path):
    runs = {}
    for name, hp in {"step": {}, "jump": {"growth": "jump"}, "code": {"code_variance": True}}.items():
        config = make_config(
            TINY, {"algo": "ba-sgd", "out_dir": str(tmp_path / name), "hp": {"m0": 16, "lr": 2.0, **hp}}
        )
        result = train(config, plots=False)
        lines = (result.run_dir / "metrics.jsonl").read_text().splitlines()
        runs[name] = [r for r in map(json.loads, lines) if r["kind"] == "step"]
        assert sum(r["batch_size"] for r in runs[name]) == 248
    # jump growth needs fewer statistic rounds per sample than the paper's m0-at-a-time growth
    rounds = {k: sum(r["rounds"] for r in v) / 248 for k, v in runs.items()}
    assert rounds["jump"] < rounds["step"]
    # the code's extra 1/m_alpha shrinks m* (outside the overshoot regime, where m* = N whatever sigma^2)
    interior = {k: [r["m_star"] for r in v if r["m_star"] < 160] for k, v in runs.items()}
    assert interior["code"] and interior["step"]
    assert sum(interior["code"]) / len(interior["code"]) < 0.5 * sum(interior["step"]) / len(interior["step"])


def test_a_diverging_run_stops_cleanly(tmp_path):
    config = make_config(
        TINY,
        {
            "algo": "ba-momentum",
            "model": "mlp",
            "budget_epochs": 3.0,
            "out_dir": str(tmp_path / "run"),
            "hp": {"m0": 16, "lr": 1e8},
        },
    )
    result = train(config, plots=False)
    assert result.status == "diverged" and "loss nan" in result.message


def test_seed000_compare_preset_lists_the_twelve_algorithms():
    from realnets.compare import parse_algo_spec, preset_algos

    specs = preset_algos("seed000", budget_epochs=100.0)
    parsed = [parse_algo_spec(s) for s in specs]
    assert len(specs) == 12 and len(set(specs)) == 12
    assert sorted(b["batch_size"] for name, b in parsed if name == "momentum") == [32, 64, 128, 256]
    manual = [hp for name, hp in parsed if name == "manual"]
    assert {hp["optimizer"] for hp in manual} == {"sgd", "momentum"}
    assert all(hp["every_epochs"] == 25 and hp["max_batch_size"] == 256 for hp in manual)  # sec. 4.2
    for name, hp in parsed:  # every spec builds
        get_algorithm(name).build(nn.Linear(3, 2).parameters(), hp)

"""BA-Cost (realnets.algorithms.cost_aware): its per-second argmax against a brute force with scipy's folded
normal (an independent route to seed 000 eq. 7), where it picks larger batches than BA, and the registry entry.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from realnets import comm
from realnets.algorithms import cost_aware as CA

RESNET18_BYTES = 11_689_512 * 4
T_S = 0.022 / 16  # seed 003 Table 3: T_comp for 16 images per V100


def _decrease_scipy(m, s, mu, sigma2, eta, s_star=0.0):
    """s - E|N(c - eta mu, eta^2 sigma^2 / m)| - S*, c = s - S*: the folded normal's mean from scipy."""
    c = s - s_star
    nu = c - eta * mu
    tau = eta * math.sqrt(sigma2 / m)
    if tau == 0.0:
        return c - abs(nu)
    return c - stats.foldnorm(abs(nu) / tau, scale=tau).mean()


def _brute_force(sizes, s, mu, sigma2, eta, time_of):
    rates = [_decrease_scipy(m, s, mu, sigma2, eta) / time_of(m) for m in sizes]
    best = int(np.argmax(rates))
    return sizes[best], rates[best]


states = st.tuples(
    st.floats(min_value=0.05, max_value=3.0),  # s
    st.floats(min_value=1e-3, max_value=1.0),  # mu
    st.floats(min_value=1e-2, max_value=200.0),  # sigma^2
    st.floats(min_value=1e-2, max_value=0.5),  # eta
)


@given(
    states,
    st.sampled_from([1, 8, 64, 512]),
    st.floats(min_value=0.0, max_value=0.05),
    st.sampled_from(["step", "jump"]),
)
def test_search_matches_a_brute_force_over_reachable_batches(state, p, t_ar, growth):
    s, mu, sigma2, eta = state
    m_max, m0 = 700, 32
    sizes = CA.reachable_batches(m_max, m0=m0, first=m0)

    def time_of(m):
        return CA.update_time(
            m, workers=p, time_per_sample=1e-3, allreduce_s=t_ar, m0=m0, first=m0, growth=growth
        )

    chosen = CA.cost_aware_optimal_batch_size(
        s=s, mu=mu, sigma=math.sqrt(sigma2), eta=eta, m_max=m_max, time_of=time_of, candidates=sizes
    )
    _, best_rate = _brute_force(sizes, s, mu, sigma2, eta, time_of)
    rate = _decrease_scipy(chosen, s, mu, sigma2, eta) / time_of(chosen)
    assert chosen in sizes
    assert rate >= best_rate - 1e-9 * abs(best_rate) - 1e-15


def test_exhaustive_search_and_the_thinned_search_agree_with_brute_force():
    s, mu, sigma2, eta = 0.05, 0.002, 100.0, 0.1

    def time_of(m):
        return CA.update_time(
            m, workers=512, time_per_sample=T_S, allreduce_s=0.0144, m0=32, first=32, growth="jump"
        )

    exhaustive = CA.cost_aware_optimal_batch_size(s=s, mu=mu, sigma=10.0, eta=eta, m_max=300, time_of=time_of)
    expected, _ = _brute_force(list(range(1, 301)), s, mu, sigma2, eta, time_of)
    assert exhaustive == expected
    # More candidates than EXACT_CANDIDATES: the geometric thinning plus a bracket scan.
    sizes = CA.reachable_batches(300_000, m0=32, first=32)
    assert len(sizes) > CA.EXACT_CANDIDATES
    thinned = CA.cost_aware_optimal_batch_size(
        s=s, mu=mu, sigma=10.0, eta=eta, m_max=300_000, time_of=time_of, candidates=sizes
    )
    coarse = sizes[::7] + [sizes[-1]]
    near, _ = _brute_force(coarse, s, mu, sigma2, eta, time_of)
    window = [m for m in sizes if abs(m - near) <= 7 * 32]
    best, best_rate = _brute_force(window, s, mu, sigma2, eta, time_of)
    assert _decrease_scipy(thinned, s, mu, sigma2, eta) / time_of(thinned) == pytest.approx(
        best_rate, rel=1e-9
    )
    assert abs(thinned - best) <= 32


def test_rounds_and_reachable_sizes():
    assert CA.reachable_batches(100, m0=32, first=32) == [32, 64, 96, 100]
    assert [CA.rounds_for(m, m0=32, first=32) for m in (1, 32, 33, 64, 65)] == [1, 1, 2, 2, 3]
    assert CA.rounds_for(1000, m0=32, first=32, growth="jump") == 2
    assert [CA.realised_batch(m, m_max=100, m0=32, first=32) for m in (1, 33, 96, 97)] == [32, 64, 96, 100]


@given(states, st.sampled_from(["step", "jump"]))
def test_ba_cost_never_loses_to_ba_in_its_own_model(state, growth):
    s, mu, sigma2, eta = state
    rows = CA.compare_with_ba(
        s=s,
        mu=mu,
        sigma2=sigma2,
        eta=eta,
        alpha=5e-6,
        beta=1e-10,
        params_bytes=RESNET18_BYTES,
        time_per_sample=T_S,
        growth=growth,
        m_max=4000,
    )
    for row in rows:
        assert row["gain"] >= 1 - 1e-9
        assert row["allreduce_s"] == pytest.approx(
            comm.ring_allreduce_time(workers=row["workers"], n_bytes=RESNET18_BYTES, alpha=5e-6, beta=1e-10)
        )


def test_where_ba_cost_picks_larger_batches():
    # A late-training state (small loss, noisy gradient) where BA's m* is a few hundred samples.
    kwargs = dict(
        s=0.1,
        mu=0.005,
        sigma2=50.0,
        eta=0.1,
        alpha=5e-6,
        beta=1e-10,
        params_bytes=RESNET18_BYTES,
        time_per_sample=T_S,
        m_max=50_000,
    )
    jump = {r["workers"]: r for r in CA.compare_with_ba(growth="jump", **kwargs)}
    step = {r["workers"]: r for r in CA.compare_with_ba(growth="step", **kwargs)}
    # jump growth: the all-reduces are a fixed cost per update, so larger batches pay off, the more the larger P
    assert jump[512]["batch_cost"] > jump[512]["batch_ba"]
    assert jump[64]["batch_cost"] > jump[64]["batch_ba"]
    assert jump[512]["batch_cost"] >= jump[64]["batch_cost"] >= jump[8]["batch_cost"]
    assert jump[512]["gain"] > 1.05
    # step growth: one all-reduce per round makes T(m) nearly proportional to m, so the two rules nearly agree
    for p in (8, 64, 512):
        assert abs(step[p]["batch_cost"] - step[p]["batch_ba"]) <= 32
        assert step[p]["gain"] < 1.01


def test_step_growth_with_p_dividing_m0_is_the_per_sample_rule_on_the_reachable_grid():
    s, mu, sigma2, eta = 0.1, 0.005, 50.0, 0.1
    sizes = CA.reachable_batches(2000, m0=32, first=32)

    def time_of(m):
        return CA.update_time(m, workers=8, time_per_sample=T_S, allreduce_s=0.0083, m0=32, first=32)

    chosen = CA.cost_aware_optimal_batch_size(
        s=s, mu=mu, sigma=math.sqrt(sigma2), eta=eta, m_max=2000, time_of=time_of, candidates=sizes
    )
    per_sample, _ = _brute_force(sizes, s, mu, sigma2, eta, lambda m: m)
    assert chosen == per_sample


def _model():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def test_registered_and_sized_from_the_model():
    from realnets.registry import get_algorithm

    policy, optimizer = get_algorithm("ba-cost").build(_model(), {"workers": 64})
    assert isinstance(policy, CA.CostAwareBatchAdaptivePolicy)
    assert policy.params_bytes == 4 * (4 * 3 + 3 + 3 * 2 + 2)
    assert policy.allreduce_s == pytest.approx(
        comm.ring_allreduce_time(workers=64, n_bytes=policy.params_bytes, alpha=5e-6, beta=1e-10)
    )
    assert isinstance(optimizer, torch.optim.SGD)
    with pytest.raises(ValueError, match=r"Invalid workers: 0 \(expected"):
        get_algorithm("ba-cost").build(_model(), {"workers": 0})
    with pytest.raises(ValueError, match=r"Invalid algorithm: 'mesh' \(expected"):
        get_algorithm("ba-cost").build(_model(), {"allreduce": "mesh"})


def test_policy_target_uses_the_per_second_rule():
    from realnets.algorithms.base import StepInfo
    from realnets.registry import get_algorithm

    policy, _ = get_algorithm("ba-cost").build(
        _model(),
        {"workers": 512, "growth": "jump", "lr": 0.1, "time_per_sample": T_S, "params_bytes": RESNET18_BYTES},
    )
    info = StepInfo(
        step=0,
        samples_seen=0,
        epoch=0.0,
        n_train=50_000,
        budget_left=50_000,
        epoch_left=50_000,
        batch_so_far=32,
    )
    batch = {"loss": 0.1, "grad_sq_norm": 0.005, "grad_dot_buffer": 0.0, "sigma2": 50.0, "n": 32}
    m_star, mu, sigma2 = policy.target(batch, info)
    assert (mu, sigma2) == (0.005, 50.0)
    row = CA.compare_with_ba(
        s=0.1,
        mu=0.005,
        sigma2=50.0,
        eta=0.1,
        workers=[512],
        alpha=5e-6,
        beta=1e-10,
        params_bytes=RESNET18_BYTES,
        time_per_sample=T_S,
        growth="jump",
        m_max=50_000,
    )[0]
    assert m_star == row["batch_cost"] > row["batch_ba"]


def test_digits_run_finishes(tmp_path):
    import json

    from realnets.cli import main as cli_main

    out = tmp_path / "run"
    assert (
        cli_main(
            [
                "train",
                "--algo",
                "ba-cost",
                "--budget-epochs",
                "0.2",
                "--out-dir",
                str(out),
                "--no-progress",
                "--no-plots",
                "--device",
                "cpu",
                "--hp",
                "workers=64",
            ]
        )
        == 0
    )
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if r["kind"] == "step"]
    assert steps and all("rounds" in r and r["batch_size"] >= 1 for r in steps)
    assert sum(r["batch_size"] for r in steps) == json.loads((out / "summary.json").read_text())["samples"]


def test_adapter_calls_the_keyword_only_sigma_form(monkeypatch):
    # The lead is moving ba.expected_decrease to expected_decrease(*, m, s, mu, sigma, eta, s_star=0.0) with
    # sigma the standard deviation; the adapter must call that form by keyword with sigma = sqrt(sigma2).
    from realnets.algorithms import ba

    calls = []

    def keyword_only(*, m, s, mu, sigma, eta, s_star=0.0):
        calls.append(sigma)
        return _decrease_scipy(m, s, mu, sigma * sigma, eta, s_star)

    monkeypatch.setattr(ba, "expected_decrease", keyword_only)
    value = CA._decrease(64, 0.1, 0.005, math.sqrt(50.0), 0.1, 0.0)
    assert calls == [pytest.approx(math.sqrt(50.0))]
    assert value == pytest.approx(_decrease_scipy(64, 0.1, 0.005, 50.0, 0.1), rel=1e-12)

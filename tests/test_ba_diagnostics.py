"""Appendix B/C diagnostics of seed 000 (``realnets.ba_diagnostics``) on tiny float64 problems.

In the small-step limit the decrease of the full objective is exactly linear in the batch gradient,
dF = -eta f_Y^T f + O(eta^2), whose mean over batches is -eta f^T f and whose variance is
eta^2 f^T Sigma f / m * (N - m)/(N - 1) for batches drawn without replacement: the population prediction
must then match the measured moments within Monte-Carlo error.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_problems import ce, tiny_mlp_problem

from realnets.algorithms.ba import expected_next_state
from realnets.ba_diagnostics import (
    ba_trace,
    full_loss,
    loss_decrease_distribution,
    plot_decrease_distribution,
    plot_trace,
)


def problem(seed, n=120, d=4, classes=3, hidden=5):
    return tiny_mlp_problem(seed, n=n, d=d, classes=classes, hidden=hidden)


@settings(max_examples=5)
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(5, 40))
def test_population_prediction_matches_the_measured_moments_for_small_steps(seed, batch):
    model, x, y = problem(seed % 1000)
    repeats = 300
    r = loss_decrease_distribution(model, ce, x, y, lr=1e-6, batch_size=batch, repeats=repeats, seed=seed)
    # z = 5 for the mean (Gaussian stderr); the sample std of 300 draws has relative spread ~ 1/sqrt(2*300)
    # for Gaussian data, inflated by the excess kurtosis of the batch means: 6 of those as the bound
    assert (
        abs(r["empirical_mean"] - r["population_mean"])
        <= 5 * r["population_std"] / math.sqrt(repeats) + 1e-15
    )
    assert r["empirical_std"] / r["population_std"] == pytest.approx(1.0, abs=6 / math.sqrt(2 * repeats))


def test_variants_are_the_stated_rescalings():
    model, x, y = problem(3)
    before = full_loss(model, ce, x, y)
    r = loss_decrease_distribution(model, ce, x, y, lr=0.01, batch_size=16, repeats=20, seed=0)
    for exact, code in zip(r["predicted_std_exact"], r["predicted_std_code"]):
        assert code == pytest.approx(exact / 4.0, rel=1e-12)  # the original code's extra 1/m_alpha, m = 16
    for diag, code in zip(r["predicted_std_diag"], r["predicted_std_code_diag"]):
        assert code == pytest.approx(diag / 4.0, rel=1e-12)
    assert len(r["decreases"]) == 20 and r["empirical_std"] > 0
    # the parameters are untouched: the decreases were measured on copies
    assert full_loss(model, ce, x, y) == before


def test_momentum_buffer_enters_the_step_and_the_mean():
    model, x, y = problem(4)
    buffer = [torch.full_like(p, 0.1) for p in model.parameters()]
    plain = loss_decrease_distribution(model, ce, x, y, lr=1e-6, batch_size=20, repeats=30, seed=2)
    moved = loss_decrease_distribution(
        model, ce, x, y, lr=1e-6, batch_size=20, repeats=30, seed=2, buffer=buffer, rho=0.9
    )
    shift = [m - p for m, p in zip(moved["predicted_mean"], plain["predicted_mean"])]
    assert max(shift) - min(shift) > 0  # f^T buf differs batch to batch
    assert moved["population_mean"] != plain["population_mean"]


@pytest.mark.parametrize("algo", ["ba-sgd", "ba-momentum"])
def test_trace_records_the_rule_and_consistent_losses(algo):
    model, x, y = problem(5, n=96)
    trace = ba_trace(model, ce, x, y, algo=algo, hp={"lr": 0.5, "m0": 8}, budget_samples=150, seed=1)
    steps = trace["steps"]
    assert sum(s["batch_size"] for s in steps) == 150
    for s in steps:
        assert {
            "s_t",
            "m_star",
            "sigma2",
            "predicted_next",
            "sigma2_diag",
            "m_star_diag",
            "batch_after",
        } <= set(s)
        assert s["predicted_next"] == pytest.approx(
            expected_next_state(
                m=s["batch_size"], s=s["s_t"], mu=s["mu"], sigma=math.sqrt(s["sigma2"]), eta=0.5
            ),
            rel=1e-12,
        )
    for before, after in zip(steps, steps[1:]):  # the objective after one update is the one before the next
        assert after["full_before"] == pytest.approx(before["full_after"], rel=1e-12)


def test_bad_input_is_rejected():
    model, x, y = problem(6)
    with pytest.raises(ValueError, match="Invalid lr"):
        loss_decrease_distribution(model, ce, x, y, lr=0.0)
    with pytest.raises(ValueError, match="Invalid batch_size"):
        loss_decrease_distribution(model, ce, x, y, lr=0.1, batch_size=10_000)
    with pytest.raises(ValueError, match="Invalid algo"):
        ba_trace(model, ce, x, y, algo="sgd", budget_samples=10)


def test_figures_are_written(tmp_path):
    model, x, y = problem(7)
    r = loss_decrease_distribution(model, ce, x, y, lr=0.01, batch_size=10, repeats=10, seed=0)
    trace = ba_trace(model, ce, x, y, hp={"lr": 0.5, "m0": 8}, budget_samples=60, seed=0)
    assert plot_decrease_distribution(r, tmp_path / "b.png").stat().st_size > 0
    assert plot_trace(trace, tmp_path / "t.png").stat().st_size > 0


def test_entry_point_refuses_a_file_as_out_dir(tmp_path, capsys):
    import pytest

    from realnets.ba_diagnostics import main

    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(SystemExit) as exit_:
        main([str(target)])
    assert exit_.value.code == 2
    assert "it is a file" in capsys.readouterr().err

"""paper_checks/seed002_sweep.py: the Fig. 3 verdict on synthetic evidence (every verdict it can return), the
critical-batch and per-seed speed-up helpers on hand-made sweep groups, and the sweep command the claims run
(planned, not trained: the claims themselves run in tests/test_paper_checks.py)."""

from __future__ import annotations

import math

import pytest

from paper_checks import seed002_sweep as s
from realnets.sweep import plan_sweep


@pytest.mark.parametrize(
    ("diff", "se", "censored", "verdict"),
    [
        (2.0, 0.3, False, "confirmed"),  # 6.7 se apart
        (-1.5, 0.2, False, "confirmed"),
        (2.0, 0.3, True, "confirmed"),  # a censored m_c only bounds the difference: still apart
        (0.1, 0.2, False, "refuted at this scale"),  # |0.1| + 3 * 0.2 = 0.7 <= 1: same within a factor 2
        (0.1, 0.2, True, "not reproducible at this scale"),  # but censored: the agreement is not shown
        (0.5, 0.3, False, "not reproducible at this scale"),  # neither apart nor shown equal
        (None, math.nan, False, "not reproducible at this scale"),
        (math.inf, 0.1, False, "not reproducible at this scale"),
    ],
)
def test_architectures_judge_reaches_every_verdict(diff, se, censored, verdict):
    assert s.judge_architectures_differ(diff, se, censored=censored) == verdict


def test_critical_log2_found_above_below():
    sizes = [8, 16, 32, 64]
    # efficiency 1, 1, 0.75, 0.25: falls through 1/2 half-way between 32 and 64 in log2
    assert s.critical_log2(sizes, [1, 2, 3, 2]) == (pytest.approx(5.5), "found")
    assert s.critical_log2(sizes, [1, 2, 4, 8]) == (6.0, "above")  # linear throughout: a lower bound
    assert s.critical_log2(sizes, [1, 0.5, 0.5, 0.5]) == (pytest.approx(3 + 0.5 / 0.75), "found")
    assert s.critical_log2(sizes, [0.0, 0.0, 0.0, 0.0])[1] == "undefined"  # m0 never reached the threshold
    assert s.critical_log2(sizes, [1, 2, 0.0, 0.0])[1] == "found"  # never reached counts as efficiency 0


def test_per_seed_speedups_from_a_sweep_group():
    group = {"rows": [{"k": [40.0, 20.0]}, {"k": [20.0, None]}, {"k": [0.5, 10.0]}]}
    # seed 0: 40/20, 40/max(0.5, 1); seed 1: never reached -> 0, 20/10
    assert s.per_seed_speedups(group, 2) == [[1.0, 2.0, 40.0], [1.0, 0.0, 2.0]]
    assert s.per_seed_speedups({"rows": [{"k": [None]}, {"k": [3.0]}]}, 1) == [[0.0, 0.0]]


@pytest.mark.parametrize("model", ["mlp", "logreg"])
def test_the_claims_sweep_command_is_valid(tmp_path, model):
    config = tmp_path / "settings.json"
    config.write_text('{"threads": 1, "checkpoint_every": 0}')
    plan = plan_sweep(s.sweep_argv(s.QUICK, model, tmp_path / "grid", config))
    assert plan.batch_sizes == list(s.QUICK["sizes"]) and plan.seeds == list(s.QUICK["seeds"])
    assert [c.split(":")[0] for c in plan.strategies] == ["blr", "lsr", "srsr"]
    assert len(plan.cells) == 3 * len(s.QUICK["sizes"]) * len(s.QUICK["seeds"])
    lsr = next(c for c in plan.cells if c.strategy.startswith("lsr"))
    assert lsr.config["hp"]["warmup_epochs"] == "5%"  # resolved to 5% of the budget by the engine
    first = plan.cells[0].config
    assert first["model"] == model and first["threads"] == 1 and first["budget_epochs"] == s.QUICK["epochs"]
    if model == "mlp":
        assert first["model_options"] == {"width": s.QUICK["width"]}
    # about 20 full-loss evaluations per cell: every updates // 20 updates
    for cell in plan.cells[: len(s.QUICK["sizes"]) * len(s.QUICK["seeds"])]:
        updates = math.ceil(s.QUICK["epochs"] * 1437 / cell.batch_size)
        assert cell.config["eval_every"] == max(1, updates // s.QUICK["points"])

"""Verdict functions of paper_checks/seed001_measured.py and seed002_measured.py on synthetic evidence: every
verdict each can return, and the protocol helpers (critical batch, speed-up table) on hand-made curves."""

from __future__ import annotations

import math

import pytest

from paper_checks import seed001_measured as s1
from paper_checks import seed002_measured as s2


@pytest.mark.parametrize(
    ("slope", "se", "chi2", "verdict"),
    [
        (-0.49, 0.02, 1.0, "confirmed"),
        (-0.49, 0.02, math.nan, "confirmed"),  # no goodness of fit given
        (-0.49, 0.02, 30.0, "partly"),  # right slope, but the points bend
        (-0.25, 0.02, 1.0, "partly"),  # falls, another exponent
        (-0.01, 0.02, 1.0, "refuted at this scale"),  # does not fall
        (0.30, 0.02, 1.0, "refuted at this scale"),
    ],
)
def test_power_law_judge(slope, se, chi2, verdict):
    assert s1.judge_power_law(slope, se, -0.5, chi2_per_dof=chi2) == verdict


def test_eq4_constant_judge_reaches_every_verdict():
    paper = s1.PAPER_CONSTANT / s1.HALF_NORMAL_CONSTANT
    assert paper == pytest.approx(math.sqrt(2))
    assert s1.judge_eq4_constant(paper + 0.01, 0.01) == "confirmed"
    assert s1.judge_eq4_constant(1.0 + 0.01, 0.01) == "refuted"
    assert s1.judge_eq4_constant(1.2, 0.01) == "partly"


@pytest.mark.parametrize(
    ("labels", "verdict"),
    [
        (["base", "linear", "linear", "diminishing", "plateau", "plateau"], "confirmed"),
        (["base", "linear", "plateau", "plateau"], "partly"),  # no sublinear stage
        (["base", "linear", "plateau", "diminishing"], "partly"),  # out of order
        (["base", "plateau", "plateau", "plateau"], "refuted at this scale"),
        (["base", "linear", "linear", "linear"], "refuted at this scale"),
        (["base", "linear", "not reached", "not reached"], "not reproducible at this scale"),
    ],
)
def test_three_regimes_judge(labels, verdict):
    assert s2.judge_three_regimes(labels) == verdict


def test_three_regimes_judge_rejects_empty():
    with pytest.raises(ValueError, match="Invalid labels"):
        s2.judge_three_regimes(["base"])


def test_rule_comparison_judge():
    good, bad = (0.5, 0.1), (-0.5, 0.1)
    assert s2.judge_rule_comparison({"a": good, "b": good}) == "confirmed"
    assert s2.judge_rule_comparison({"a": good, "b": bad}) == "partly"
    assert s2.judge_rule_comparison({"a": bad, "b": (0.1, 0.1)}) == "refuted at this scale"
    with pytest.raises(ValueError):
        s2.judge_rule_comparison({})


def test_same_critical_batch_judge():
    assert s2.judge_same_critical_batch(0.1, 0.2) == "confirmed"
    assert s2.judge_same_critical_batch(2.1, 0.2) == "refuted at this scale"
    assert s2.judge_same_critical_batch(1.0, 0.1) == "partly"  # between: neither 0 nor proportional
    assert s2.judge_same_critical_batch(1.0, 0.5) == "partly"  # within z of both: cannot tell
    assert s2.judge_same_critical_batch(None, math.nan) == "not reproducible at this scale"


def test_test_loss_judge():
    assert s2.judge_test_no_better(-0.5, 0.2) == "confirmed"
    assert s2.judge_test_no_better(0.3, 0.2) == "confirmed"  # not significantly better on the test loss
    assert s2.judge_test_no_better(1.5, 0.2) == "refuted at this scale"
    assert s2.judge_test_no_better(None, math.nan) == "not reproducible at this scale"


def test_critical_batch_interpolates_the_half_efficiency_point():
    sizes = [8, 16, 32, 64]
    # efficiency 1, 1, 0.75, 0.25: falls through 1/2 half-way between 32 and 64 in log2
    assert s2.critical_batch(sizes, [1, 2, 3, 2]) == pytest.approx(2**5.5)
    assert s2.critical_batch(sizes, [1, 2, 4, 8]) is None  # linear throughout
    assert s2.critical_batch(sizes, [1, 2, 1, 0.5]) == pytest.approx(2 ** (4 + 0.5 / 0.75))
    assert s2.critical_batch(sizes, [1, 2, None, None]) == pytest.approx(2 ** (4 + 0.5))  # not reached: 0


def test_speedup_table_on_synthetic_curves():
    # k(m) = 100 * 8 / m updates to reach 0.5 for m <= 16, then no faster: s = m/8 up to 16, flat beyond
    sizes, seeds = [8, 16, 32, 64], [0, 1]

    def curve(m):
        k_half = 100 * 8 / min(m, 16)
        return [(float(k), 1 - 0.5 * k / k_half) for k in range(0, 400)]

    curves = {("blr", m, s): curve(m) for m in sizes for s in seeds}
    table = s2.speedup_table(curves, "blr", sizes, seeds, threshold=0.5)
    assert table["speedup"] == pytest.approx([1, 2, 2, 2], rel=1e-9)
    assert table["regimes"] == ["base", "linear", "plateau", "plateau"]
    assert table["critical"] == [pytest.approx(32.0)] * 2  # efficiency 1, 1, 0.5, 0.25
    # the quantile rule: the lower quartile of the largest batch's losses, pooled over seeds
    auto = s2.speedup_table(curves, "blr", sizes, seeds)
    losses = sorted(v for _, v in curve(64))
    assert auto["threshold"] == pytest.approx(losses[0] + 0.25 * (losses[-1] - losses[0]), rel=1e-2)

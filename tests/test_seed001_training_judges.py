"""The verdict functions of ``paper_checks/seed001_training.py`` on synthetic evidence: every verdict each can
return is reached, and the boundaries fall where the criteria put them."""

from __future__ import annotations

import math

import pytest

from paper_checks import seed001_training as s
from paper_checks.registry import VERDICTS

CONFIRMED, PARTLY = "confirmed", "partly"
REFUTED, NOISY = "refuted at this scale", "not reproducible at this scale"


@pytest.mark.parametrize(
    ("diff", "se", "verdict"),
    [
        (0.0, 0.005, CONFIRMED),  # interval (-0.015, 0.015) inside +-0.03
        (-0.01, 0.006, CONFIRMED),
        (-0.19, 0.047, REFUTED),  # interval (-0.33, -0.05): wholly below -0.03
        (0.10, 0.01, REFUTED),  # wholly above +0.03
        (0.0, 0.02, NOISY),  # interval (-0.06, 0.06) straddles the band
        (-0.05, 0.01, NOISY),  # (-0.08, -0.02) straddles -0.03
    ],
)
def test_judge_close(diff, se, verdict):
    assert s.judge_close(diff, se, delta=0.03, z=3.0) == verdict


def test_judge_close_boundaries_use_delta_and_z():
    assert s.judge_close(0.0, 0.0099, delta=0.03, z=3.0) == CONFIRMED
    assert s.judge_close(0.0, 0.0101, delta=0.03, z=3.0) == NOISY
    assert s.judge_close(0.0, 0.0101, delta=0.03, z=2.0) == CONFIRMED


@pytest.mark.parametrize(
    ("diff", "se", "verdict"),
    [
        (0.05, 0.01, CONFIRMED),  # 0.05 - 0.03 > 0
        (0.001, 0.0001, CONFIRMED),  # small but certain
        (-0.045, 0.013, REFUTED),  # reversed: upper end -0.006 < 0.03
        (0.0, 0.005, REFUTED),  # no advantage as large as delta
        (0.05, 0.03, NOISY),  # (-0.04, 0.14)
        (-0.366, 0.167, NOISY),  # the opposite sign, but too noisy to rule out delta
        (math.nan, 0.01, NOISY),
        (0.1, math.inf, NOISY),
    ],
)
def test_judge_advantage(diff, se, verdict):
    assert s.judge_advantage(diff, se, delta=0.03, z=3.0) == verdict


def test_judge_degrades_faster_is_an_advantage_of_the_drop():
    assert s.judge_degrades_faster(0.2, 0.02) == CONFIRMED
    assert s.judge_degrades_faster(-0.2, 0.02) == REFUTED
    assert s.judge_degrades_faster(0.0, 0.1) == NOISY


@pytest.mark.parametrize(
    ("verdicts", "verdict"),
    [
        ([CONFIRMED, CONFIRMED], CONFIRMED),
        ([CONFIRMED, NOISY], PARTLY),
        ([REFUTED, CONFIRMED], PARTLY),
        ([REFUTED, NOISY], REFUTED),
        ([NOISY, NOISY], NOISY),
    ],
)
def test_judge_parts(verdicts, verdict):
    assert s.judge_parts(verdicts) == verdict


def test_judge_parts_needs_a_setting():
    with pytest.raises(ValueError, match=r"^Invalid verdicts: \[\]"):
        s.judge_parts([])


@pytest.mark.parametrize(
    ("means", "diff", "se", "verdict"),
    [
        ([1.0, 1.2, 1.5, 4.0], 3.0, 0.5, CONFIRMED),
        ([1.0, 0.9, 1.5, 4.0], 3.0, 0.5, PARTLY),  # rises overall, dips once
        ([1.0, 1.2, 1.5, 1.6], 0.6, 0.5, REFUTED),  # monotone but within noise
        ([1.0, 0.8, 0.7, 0.5], -0.5, 0.1, REFUTED),  # falls
    ],
)
def test_judge_increasing(means, diff, se, verdict):
    assert s.judge_increasing(means, diff, se, z=3.0) == verdict


def test_judge_increasing_needs_two_fractions():
    with pytest.raises(ValueError, match="Invalid means"):
        s.judge_increasing([1.0], 0.0, 1.0)


@pytest.mark.parametrize(
    ("advantage", "ratio", "verdict"),
    [
        (CONFIRMED, 0.5, CONFIRMED),
        (CONFIRMED, 1.2, PARTLY),
        (REFUTED, 0.5, REFUTED),
        (NOISY, 0.5, NOISY),
        (NOISY, 1.5, NOISY),
    ],
)
def test_judge_first_epoch(advantage, ratio, verdict):
    assert s.judge_first_epoch(advantage, ratio) == verdict


def test_every_judge_returns_a_registered_verdict():
    outputs = {
        s.judge_close(0.0, 0.0),
        s.judge_advantage(0.0, 0.0),
        s.judge_parts([NOISY]),
        s.judge_increasing([0.0, 1.0], 1.0, 0.0),
        s.judge_first_epoch(CONFIRMED, 0.5),
    }
    assert outputs <= set(VERDICTS)


def test_difference_uses_the_welch_standard_error():
    diff, se = s.difference([1.0, 2.0, 3.0], [0.0, 0.0, 3.0])
    assert diff == pytest.approx(1.0)
    assert se == pytest.approx(math.hypot(1.0 / math.sqrt(3), math.sqrt(3.0) / math.sqrt(3)))
    assert s.mean_se([2.0]) == (2.0, 0.0)


def test_the_claims_are_registered_with_their_tiers():
    from paper_checks.registry import all_claims

    claims = {c.id: c for c in all_claims() if c.id.startswith("001.")}
    mine = {
        "001.fig16-mclr-vs-lars": "quick",
        "001.sec42-mclr-degrades-faster": "full",
        "001.abstract-cblr-benefit": "quick",
        "001.fig10-discard-small-loss": "quick",
        "001.fig9-discard-gradient": "quick",
        "001.fig11-14-small-first-epoch": "quick",
    }
    assert {cid: claims[cid].tier for cid in mine} == mine
    assert claims["001.sec42-mclr-degrades-faster"].miniature is not None
    replaced = {
        "001.fig9-10-discard-small-loss",
        "001.fig13-14-first-epoch-batch",
        "001.fig16-median-curvature-vs-lars",
    }
    assert not replaced & set(claims)


def test_fig9_gradient_measurement_rises_on_one_seed():
    # The measurement itself (no judge): on one seed and three fractions, the kept-loss gradient grows.
    values = s.layer_mean_abs_grad(0, fractions=(0.0, 0.5, 0.9), batch=128)
    assert len(values) == 3 and all(v > 0 for v in values)
    assert values[2] > values[0]

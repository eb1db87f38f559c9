"""The verdict functions of ``paper_checks.judge`` and of the checks, on synthetic evidence that reaches
every verdict each can return (measurement and judgement are separate, so judgement is testable alone)."""

from __future__ import annotations

import math

import pytest

from paper_checks import judge
from paper_checks.seed000_training import boom_verdict, diagonal_verdict, lowest_loss_verdict
from paper_checks.seed001_simulations import vanishing_verdict


def test_z_score_and_within_z():
    assert judge.z_score(3.0, 1.0, 0.5) == 4.0
    assert judge.z_score(1.0, 1.0, 0.0) == 0.0
    assert judge.z_score(2.0, 1.0, 0.0) == math.inf
    assert judge.within_z(1.9, 1.0, 0.5, 2.0) and not judge.within_z(2.1, 1.0, 0.5, 2.0)


@pytest.mark.parametrize(
    "measured, alternative, scale, expected",
    [
        (1.02, 2.0, False, "confirmed"),  # within 5 se of the paper's 1.0
        (2.01, 2.0, False, "refuted"),  # at our alternative
        (2.01, 2.0, True, "refuted at this scale"),
        (1.5, 2.0, False, "partly"),  # neither
        (1.5, None, False, "refuted"),  # off the paper, no alternative
    ],
)
def test_agreement_reaches_every_verdict(measured, alternative, scale, expected):
    assert judge.agreement(measured, 0.01, 1.0, alternative, 5.0, scale=scale) == expected


@pytest.mark.parametrize(
    "ratio, partial, scale, expected",
    [
        (1.1, None, False, "confirmed"),
        (1.6, (0.5, 2.0), False, "partly"),
        (3.0, (0.5, 2.0), False, "refuted"),
        (3.0, None, True, "refuted at this scale"),
        (math.inf, None, False, "refuted"),
    ],
)
def test_ratio_in_band_reaches_every_verdict(ratio, partial, scale, expected):
    assert judge.ratio_in_band(ratio, (0.8, 1.25), partial_band=partial, scale=scale) == expected


def test_ratio_in_band_rejects_a_bad_band():
    with pytest.raises(ValueError, match="Invalid band"):
        judge.ratio_in_band(1.0, (2.0, 1.0))


@pytest.mark.parametrize(
    "subject_value, scale, expected",
    [
        (0.5, False, "confirmed"),
        (0.98, False, "partly"),
        (1.02, False, "partly"),
        (1.5, False, "refuted"),
        (1.5, True, "refuted at this scale"),
    ],
)
def test_ranking_reaches_every_verdict(subject_value, scale, expected):
    values = {"BA": subject_value, "Mini-32": 1.0, "Mini-64": 2.0}
    stderrs = dict.fromkeys(values, 0.05)
    assert judge.ranking(values, stderrs, "BA", 2.0, scale=scale) == expected


def test_ranking_higher_is_better_and_bad_input():
    assert (
        judge.ranking({"a": 2.0, "b": 1.0}, {"a": 0.1, "b": 0.1}, "a", 2.0, lower_is_better=False)
        == "confirmed"
    )
    with pytest.raises(ValueError, match="Invalid ranking"):
        judge.ranking({"a": 1.0}, {"a": 0.1}, "a", 2.0)


def test_all_or_some_and_exact_match():
    assert judge.all_or_some([True, True]) == "confirmed"
    assert judge.all_or_some([True, False]) == "partly"
    assert judge.all_or_some([False, False]) == "refuted"
    assert judge.all_or_some([False], scale=True) == "refuted at this scale"
    with pytest.raises(ValueError, match="Invalid results"):
        judge.all_or_some([])
    assert judge.exact_match(82989, 82989) == "confirmed" and judge.exact_match(81986, 82989) == "refuted"


@pytest.mark.parametrize(
    "diffs, expected",
    [
        ([-0.10, -0.12, -0.11], "confirmed"),
        ([0.05, 0.06, 0.064], "refuted at this scale"),
        ([0.05, -0.04, 0.01], "partly"),
    ],
)
def test_lowest_loss_verdict(diffs, expected):
    mean = sum(diffs) / len(diffs)
    se = (sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)) ** 0.5 / len(diffs) ** 0.5
    assert lowest_loss_verdict(mean, se, 2.0) == expected


@pytest.mark.parametrize(
    "early, late, big_early, big_late, expected",
    [
        ([32, 33, 32], [60, 70, 65], [64, 64, 96], [400, 500, 450], "confirmed"),
        ([60, 70, 65], [32, 33, 32], [400, 500, 450], [64, 64, 96], "refuted at this scale"),
        (
            [47.1, 32.0, 45.6],
            [48.9, 51.7, 56.0],
            [893, 32, 861],
            [96, 128, 416],
            "partly",
        ),  # the quick run's seeds
        (
            [32, 32, 32],
            [40, 50, 45],
            [900, 800, 700],
            [100, 100, 100],
            "refuted at this scale",
        ),  # largest falls
    ],
)
def test_boom_verdict(early, late, big_early, big_late, expected):
    assert boom_verdict(early, late, big_early, big_late, 2.0) == expected


def test_holds_and_p_value():
    assert judge.holds(True) == "confirmed"
    assert judge.holds(False) == "refuted"
    assert judge.holds(False, scale=True) == "refuted at this scale"
    assert judge.p_value(0.2, 0.01) == "confirmed"
    assert judge.p_value(0.001, 0.01) == "refuted"
    assert judge.p_value(math.nan, 0.01) == "refuted"
    assert judge.p_value(0.001, 0.01, scale=True) == "refuted at this scale"
    with pytest.raises(ValueError, match="Invalid alpha"):
        judge.p_value(0.5, 1.5)


@pytest.mark.parametrize(
    "full, part, scale, powerless, expected",
    [
        (True, True, False, False, "confirmed"),
        (False, True, False, False, "partly"),
        (False, False, False, False, "refuted"),
        (False, False, True, False, "refuted at this scale"),
        (True, True, False, True, "not reproducible at this scale"),
    ],
)
def test_graded_reaches_every_verdict(full, part, scale, powerless, expected):
    assert judge.graded(full, part, scale=scale, powerless=powerless) == expected


@pytest.mark.parametrize(
    "identical, batch_ratios, loss_ratio, sigma2_ratio, expected",
    [
        (False, (1.05, 0.95), 1.1, 0.9, "confirmed"),  # same runs, σ² close
        (False, (1.05, 0.95), 1.1, 0.002, "partly"),  # same runs although σ² is far off
        (False, (0.88, 0.36), 1.42, 0.0025, "refuted at this scale"),  # the quick run: boom suppressed
        (True, (1.0, 1.0), 1.0, 0.0014, "not reproducible at this scale"),  # σ² never entered a decision
    ],
)
def test_diagonal_verdict(identical, batch_ratios, loss_ratio, sigma2_ratio, expected):
    assert diagonal_verdict(identical, batch_ratios, loss_ratio, sigma2_ratio) == expected


@pytest.mark.parametrize("off_law, expected", [(0, "confirmed"), (3, "partly"), (7, "refuted")])
def test_vanishing_verdict(off_law, expected):
    assert vanishing_verdict(off_law, 7) == expected


#: The check modules whose verdicts go through ``judge`` or through a verdict function tested above.
JUDGED_MODULES = (
    "seed000_derivations",
    "seed000_simulations",
    "seed000_tables",
    "seed000_training",
    "seed001_derivations",
    "seed001_simulations",
    "seed003_derivations",
    "seed003_simulations",
    "seed004_derivations",
    "seed004_schedules",
    "seed004_simulations",
    "seed004_training",
)


@pytest.mark.parametrize("module", JUDGED_MODULES)
def test_checks_do_not_decide_verdicts_inline(module):
    """No ``"confirmed" if ...`` or literal verdict assignment: every verdict is computed by a function that
    this file tests on synthetic evidence for each verdict it can return."""
    import re
    from pathlib import Path

    import paper_checks

    source = (Path(paper_checks.__file__).parent / f"{module}.py").read_text()
    inline = re.findall(r'"confirmed" if |verdict\s*=\s*"(?:confirmed|refuted|partly)', source)
    assert not inline, (module, inline)

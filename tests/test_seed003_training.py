"""Verdict functions of paper_checks.seed003_training on synthetic evidence reaching every verdict they return."""

from __future__ import annotations

import pytest

from paper_checks.seed003_training import (
    METHODS,
    _increases,
    _relative_jitter,
    _spearman,
    comparable,
    degrades,
    verdict_absa_better,
    verdict_block,
    verdict_convex,
    verdict_fewer_updates,
    verdict_large_batch,
)


def table(**overrides):
    """A summary where the paper's pattern holds; ``overrides`` replace (acc, se, updates) of some methods."""
    base = {
        "BL(b0)": (96.0, 0.2, 1000),
        "BL": (40.0, 5.0, 60),
        "FB": (85.0, 1.0, 60),
        "GG": (96.2, 0.3, 400),
        "ABS": (95.8, 0.3, 200),
        "ABSA": (96.1, 0.3, 200),
    }
    base.update(overrides)
    assert set(base) == set(METHODS)
    return {m: {"acc": a, "acc_se": se, "updates": u} for m, (a, se, u) in base.items()}


def test_comparable_and_degrades():
    assert comparable(95.1, 0.1, 96.0, 0.1)  # 0.9 point below: within the tolerance
    assert comparable(94.0, 1.0, 96.0, 1.0)  # 2 points below but within 2 se (2.83)
    assert not comparable(94.0, 0.1, 96.0, 0.1)
    assert degrades(90.0, 0.5, 96.0, 0.5) and not degrades(95.5, 0.1, 96.0, 0.1)
    assert not degrades(93.0, 3.0, 96.0, 3.0)  # 3 points below, but within the noise


@pytest.mark.parametrize(
    "overrides, verdict",
    [
        ({}, "confirmed"),  # 5x fewer, comparable
        ({"ABS": (95.8, 0.3, 500)}, "partly"),  # 2x fewer
        ({"ABS": (95.8, 0.3, 50)}, "partly"),  # 20x fewer: outside 3-10x
        ({"ABS": (90.0, 0.3, 200)}, "refuted at this scale"),  # accuracy lost
        ({"ABS": (95.8, 0.3, 1200)}, "refuted at this scale"),  # more updates
    ],
)
def test_verdict_fewer_updates(overrides, verdict):
    assert verdict_fewer_updates(table(**overrides))[0] == verdict


@pytest.mark.parametrize(
    "overrides, verdict",
    [
        ({}, "confirmed"),
        ({"FB": (95.9, 0.2, 60)}, "partly"),
        ({"ABS": (96.0, 0.3, 500)}, "partly"),  # more updates than GG
        (
            {
                "BL": (96.0, 0.1, 60),
                "FB": (96.0, 0.1, 60),
                "GG": (80.0, 0.1, 400),
                "ABS": (80.0, 0.1, 500),
                "ABSA": (80.0, 0.1, 500),
            },
            "refuted at this scale",
        ),
    ],
)
def test_verdict_large_batch(overrides, verdict):
    assert verdict_large_batch(table(**overrides))[0] == verdict


@pytest.mark.parametrize(
    "absa, verdict",
    [
        ((97.5, 0.2, 200), "confirmed"),
        ((94.0, 0.2, 200), "refuted at this scale"),
        ((96.0, 0.3, 200), "not reproducible at this scale"),
    ],
)
def test_verdict_absa_better(absa, verdict):
    assert verdict_absa_better(table(ABSA=absa))[0] == verdict


def test_increases_split_by_trigger():
    steps = [
        {"r": 1},
        {"r": 1, "lambda": 9.0, "lambda_ref": 9.0},  # first check: sets the reference, no increase
        {"r": 2, "lambda": 4.0, "lambda_ref": 4.0},  # halving
        {"r": 2},
        {"r": 4, "lambda": 5.0, "lambda_ref": 4.0},  # duration
        {"batch_size": 8},  # records of other policies carry no r
    ]
    assert _increases(steps) == (1, 1)


@pytest.mark.parametrize(
    "abs_gaps, sgd_gaps, converged, verdict",
    [
        ([1e-3, 2e-3], [2e-3, 3e-3], [True, True], "confirmed"),
        ([1e-3, 4e-3], [2e-3, 3e-3], [True, True], "partly"),
        ([3e-3, 4e-3], [2e-3, 3e-3], [False, False], "refuted at this scale"),
    ],
)
def test_verdict_convex(abs_gaps, sgd_gaps, converged, verdict):
    assert verdict_convex(abs_gaps, sgd_gaps, converged) == verdict


@pytest.mark.parametrize(
    "rho, full, block, verdict",
    [
        ([0.9, 0.8], [0.1, 0.2], [0.3, 0.4], "confirmed"),
        ([0.9, 0.8], [0.3, 0.4], [0.1, 0.2], "partly"),
        ([0.1, -0.2], [0.1, 0.2], [0.3, 0.4], "partly"),
        ([0.1, -0.2], [0.3, 0.4], [0.1, 0.2], "refuted at this scale"),
    ],
)
def test_verdict_block(rho, full, block, verdict):
    assert verdict_block(rho, full, block)[0] == verdict


def test_spearman_and_jitter():
    assert _spearman([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 25.0, 40.0]) == pytest.approx(1.0)
    assert _spearman([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert _relative_jitter([1.0, 2.0, 3.0]) == 0.0  # constant steps
    assert _relative_jitter([1.0, 3.0, 1.0]) > _relative_jitter([1.0, 1.5, 1.0])

"""Every quick paper claim runs under pytest and returns the verdict recorded at registration; every full
claim with a miniature configuration runs that miniature (its code path, not its verdict).

A change in our numbers that flips a verdict fails here, so the table that ``python -m paper_checks``
prints cannot drift silently. The verdict functions themselves are tested on synthetic evidence in
``tests/test_paper_checks_judge.py``.
"""

from __future__ import annotations

import pytest

from paper_checks.registry import KINDS, VERDICTS, Outcome, all_claims

QUICK = all_claims(("quick",))
MINIATURES = [c for c in all_claims(("full", "gpu")) if c.miniature is not None]


@pytest.mark.paper
@pytest.mark.parametrize("claim", QUICK, ids=[c.id for c in QUICK])
def test_claim_gives_recorded_verdict(claim):
    outcome = claim.run()
    assert outcome.verdict == claim.expect, f"{claim.id}: {outcome.ours} ({outcome.evidence})"
    if outcome.verdict == "needs":
        assert outcome.needs and outcome.command and "Command:" in outcome.evidence, claim.id
    elif claim.kind in ("simulation", "training"):
        assert outcome.data, f"{claim.id}: a {claim.kind} verdict must say which data it rests on"


@pytest.mark.paper
@pytest.mark.parametrize("claim", MINIATURES, ids=[c.id for c in MINIATURES])
def test_full_claim_miniature_runs(claim):
    outcome = claim.miniature()
    assert isinstance(outcome, Outcome) and outcome.verdict in VERDICTS, claim.id
    assert outcome.ours and outcome.evidence and outcome.data, claim.id


def test_registry_is_well_formed():
    claims = all_claims()
    assert len({c.id for c in claims}) == len(claims)
    assert {c.kind for c in claims} <= set(KINDS)
    for c in claims:
        assert c.statement and c.paper_value and c.where, c.id


def test_every_full_tier_claim_has_a_miniature():
    missing = [c.id for c in all_claims(("full", "gpu")) if c.miniature is None]
    assert not missing, missing


def test_coverage_target():
    claims = all_claims()
    assert len(claims) >= 105
    assert {c.seed for c in claims if c.expect == "needs"} == {"000", "001", "002", "003", "004"}


def test_outcome_rejects_inconsistent_needs():
    with pytest.raises(ValueError, match="needs"):
        Outcome(ours="x", verdict="needs", evidence="e")
    with pytest.raises(ValueError, match="Invalid needs"):
        Outcome(ours="x", verdict="confirmed", evidence="e", needs="a GPU")
    assert Outcome(ours="x", verdict="needs", evidence="e", needs="a GPU").label == "needs a GPU"

"""Every quick paper claim runs under pytest and returns the verdict recorded at registration.

A change in our numbers that flips a verdict fails here, so the table that ``python -m paper_checks``
prints cannot drift silently.
"""

from __future__ import annotations

import pytest

from paper_checks.registry import KINDS, all_claims

QUICK = all_claims(("quick",))


@pytest.mark.paper
@pytest.mark.parametrize("claim", QUICK, ids=[c.id for c in QUICK])
def test_claim_gives_recorded_verdict(claim):
    outcome = claim.run()
    assert outcome.verdict == claim.expect, f"{claim.id}: {outcome.ours} ({outcome.evidence})"
    if claim.kind != "derivation":
        assert outcome.data, f"{claim.id}: a {claim.kind} verdict must say which data it rests on"


def test_registry_is_well_formed():
    claims = all_claims()
    assert len({c.id for c in claims}) == len(claims)
    assert {c.kind for c in claims} <= set(KINDS)
    for c in claims:
        assert c.statement and c.paper_value and c.where, c.id

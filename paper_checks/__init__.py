"""Paper checks: one verdict per claim of the five seed papers.

Run ``python -m paper_checks`` for the verdict table (``--help`` for options).
"""

from paper_checks.registry import (
    CITATIONS,
    KINDS,
    LEGEND,
    VERDICTS,
    Claim,
    Outcome,
    all_claims,
    claim,
    register_needs,
)

__all__ = [
    "CITATIONS",
    "KINDS",
    "LEGEND",
    "VERDICTS",
    "Claim",
    "Outcome",
    "all_claims",
    "claim",
    "register_needs",
]

"""Paper checks: one verdict per claim of the five seed papers.

Run ``python -m paper_checks`` for the verdict table (``--help`` for options). The claims run in one worker
process per usable core (``--jobs N``; ``--jobs 1``: in the calling process), one torch thread each
(``--threads N``), and the lines come out in the registry order.
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

"""Paper checks: one verdict per claim of the five seed papers.

Run ``python -m paper_checks`` for the verdict table (``--help`` for options).
"""

from paper_checks.registry import KINDS, VERDICTS, Claim, Outcome, all_claims, claim

__all__ = ["KINDS", "VERDICTS", "Claim", "Outcome", "all_claims", "claim"]

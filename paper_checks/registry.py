"""Claim registry: every checked statement of the five papers, with its source and our verdict.

A check is a plain function that computes our result and returns an :class:`Outcome`. It is registered
with :func:`claim`, which records where the statement comes from (seed file, equation, table or figure),
what kind of evidence backs it (derivation, simulation or training), and the verdict we expect, which
``tests/test_paper_checks.py`` asserts so that a change in our numbers cannot slip by unnoticed.

Modules named ``seedNNN_*.py`` in this package are imported by :func:`all_claims`; registering a claim
is all a module has to do.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("confirmed", "refuted", "partly", "not reproducible at this scale")
KINDS = ("derivation", "simulation", "training")
TIERS = ("quick", "full", "gpu")

SEED_FILES = {
    "000": "000_640dacf60e9a8091.txt",
    "001": "001_1f09063a38803504.txt",
    "002": "002_aee1aabff3e7e903.txt",
    "003": "003_0b4fc1240e5e2018.txt",
    "004": "004_66798a0b3d93cec0.txt",
}
PAPERS = {
    "000": "Batch adaptive training (BA-SGD / BA-Momentum), ICLR 2018 submission",
    "001": "Gao & Zhong, large batch training via the second-order gradient",
    "002": "Golmant et al., computational inefficiency of large batch sizes",
    "003": "Yao et al., ABS/ABSA: adversarial training and second-order information",
    "004": "Smith et al., don't decay the learning rate, increase the batch size",
}


@dataclass(frozen=True)
class Outcome:
    """What a check found.

    Attributes:
        ours: our value or statement, short enough for one table cell.
        verdict: one of :data:`VERDICTS`.
        evidence: how we know (numbers with standard errors, the symbolic identity, the run).
        corrected: the corrected statement, required when the verdict is not ``confirmed``.
        data: which data the verdict rests on (required for simulation and training claims).
        numbers: machine-readable figures for the JSON report.
    """

    ours: str
    verdict: str
    evidence: str
    corrected: str = ""
    data: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"Invalid verdict: {self.verdict!r} (expected one of {VERDICTS})")
        if self.verdict != "confirmed" and not self.corrected:
            raise ValueError(f"A {self.verdict!r} outcome needs the corrected statement")


@dataclass(frozen=True)
class Claim:
    """One statement of one paper, and the function that checks it."""

    id: str
    seed: str
    where: str
    kind: str
    statement: str
    paper_value: str
    expect: str
    tier: str
    run: Callable[[], Outcome]

    @property
    def seed_file(self) -> str:
        return SEED_FILES[self.seed]

    @property
    def source(self) -> str:
        return f"seed {self.seed}, {self.where}"


_REGISTRY: dict[str, Claim] = {}


def claim(
    *,
    id: str,
    seed: str,
    where: str,
    kind: str,
    statement: str,
    paper_value: str,
    expect: str,
    tier: str = "quick",
) -> Callable[[Callable[[], Outcome]], Callable[[], Outcome]]:
    """Register a check function as the check of one paper claim.

    Args:
        id: unique id, ``"<seed>.<short-name>"``, e.g. ``"001.eq4-constant"``.
        seed: ``"000"`` ... ``"004"``.
        where: the location in the paper: ``"eq. 6"``, ``"Table 3"``, ``"Fig. 1"``, ``"Sec. 3.2"``.
        kind: ``"derivation"``, ``"simulation"`` or ``"training"``.
        statement: the paper's claim in one sentence.
        paper_value: the value or form the paper prints.
        expect: the verdict we currently find; the test suite asserts that the check returns it.
        tier: ``"quick"`` (default run, under 3 minutes for all on 2 cores), ``"full"`` or ``"gpu"``.
    """
    if seed not in SEED_FILES:
        raise ValueError(f"Invalid seed: {seed!r} (expected one of {sorted(SEED_FILES)})")
    if kind not in KINDS:
        raise ValueError(f"Invalid kind: {kind!r} (expected one of {KINDS})")
    if expect not in VERDICTS:
        raise ValueError(f"Invalid expect: {expect!r} (expected one of {VERDICTS})")
    if tier not in TIERS:
        raise ValueError(f"Invalid tier: {tier!r} (expected one of {TIERS})")
    if not id.startswith(seed + "."):
        raise ValueError(f"Invalid id: {id!r} (expected it to start with '{seed}.')")

    def register(fn: Callable[[], Outcome]) -> Callable[[], Outcome]:
        if id in _REGISTRY and _REGISTRY[id].run.__qualname__ != fn.__qualname__:
            raise ValueError(f"Duplicate claim id: {id!r}")
        _REGISTRY[id] = Claim(id, seed, where, kind, statement, paper_value, expect, tier, fn)
        return fn

    return register


def _import_check_modules() -> None:
    import paper_checks

    for info in pkgutil.iter_modules(paper_checks.__path__):
        if info.name.startswith("seed"):
            importlib.import_module(f"paper_checks.{info.name}")


def all_claims(tiers: tuple[str, ...] = TIERS) -> list[Claim]:
    """Every registered claim of the given tiers, ordered by seed then id."""
    _import_check_modules()
    claims = [c for c in _REGISTRY.values() if c.tier in tiers]
    return sorted(claims, key=lambda c: (c.seed, c.id))

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

#: "refuted at this scale": the measurement at the scale this package can run contradicts the claim (the
#: paper's scale may differ). "not reproducible at this scale": the check cannot run or has no power here.
#: "needs": the claim needs data or compute this package cannot have here; the outcome says what, why, and
#: the command that would run it (see :func:`register_needs`).
VERDICTS = (
    "confirmed",
    "refuted",
    "partly",
    "refuted at this scale",
    "not reproducible at this scale",
    "needs",
)
#: One line per verdict, printed as the report's legend.
LEGEND = {
    "confirmed": "the claim holds by our derivation, transcription or measurement, with the criteria stated",
    "refuted": "the claim is wrong: our derivation or the paper's own numbers contradict it",
    "partly": "part of the claim holds; the corrected statement says which part",
    "refuted at this scale": "our measurement contradicts the claim at the scale we can run (smaller data, "
    "fewer epochs); the paper's scale may differ",
    "not reproducible at this scale": "the check cannot be run, or has no statistical power, at this scale",
    "needs": "not checked here: needs data or compute the package cannot have here (what, why, and the "
    "command that would run it are listed)",
}
#: "transcription": a check of the paper's own printed numbers against each other or against its text.
KINDS = ("derivation", "simulation", "training", "transcription")
TIERS = ("quick", "full", "gpu")

SEED_FILES = {
    "000": "000_640dacf60e9a8091.txt",
    "001": "001_1f09063a38803504.txt",
    "002": "002_aee1aabff3e7e903.txt",
    "003": "003_0b4fc1240e5e2018.txt",
    "004": "004_66798a0b3d93cec0.txt",
}
#: Short names, for headings.
PAPERS = {
    "000": "Batch adaptive training (BA-SGD / BA-Momentum), ICLR 2018 submission",
    "001": "Gao & Zhong, large batch training via the second-order gradient",
    "002": "Golmant et al., computational inefficiency of large batch sizes",
    "003": "Yao et al., ABS/ABSA: adversarial training and second-order information",
    "004": "Smith et al., don't decay the learning rate, increase the batch size",
}
#: Full citations, as far as the seed texts give them (authors, title, venue/year).
CITATIONS = {
    "000": 'Anonymous authors, "On Batch Adaptive Training for Deep Learning: Lower Loss and Larger Step '
    'Size", under review as a conference paper at ICLR 2018 (OpenReview submission).',
    "001": 'Fengli Gao and Huicai Zhong, "Study on the Large Batch Size Training of Neural Networks Based on '
    'the Second Order Gradient", preprint (no venue printed; cites work of 2019).',
    "002": 'Anonymous authors (Golmant et al.), "On the Computational Inefficiency of Large Batch Sizes for '
    'Stochastic Gradient Descent", under review as a conference paper at ICLR 2019.',
    "003": 'Zhewei Yao, Amir Gholami, Kurt Keutzer and Michael W. Mahoney, "Large Batch Size Training of '
    'Neural Networks with Adversarial Training and Second-Order Information", arXiv preprint (2018).',
    "004": "Samuel L. Smith, Pieter-Jan Kindermans, Chris Ying and Quoc V. Le, \"Don't Decay the Learning "
    'Rate, Increase the Batch Size", ICLR 2018 (seed text: the summary by Ahmed Afify).',
}


@dataclass(frozen=True)
class Outcome:
    """What a check found.

    Attributes:
        ours: our value or statement, short enough for one table cell.
        verdict: one of :data:`VERDICTS`.
        evidence: how we know (numbers with standard errors, the symbolic identity, the run).
        corrected: the corrected statement, required when the verdict is not ``confirmed`` or ``needs``.
        data: which data the verdict rests on (required for simulation and training claims).
        numbers: machine-readable figures for the JSON report.
        needs: what a ``needs`` outcome is missing ("ImageNet and a GPU"); required for it, empty otherwise.
        command: the command that would run a ``needs`` claim.
    """

    ours: str
    verdict: str
    evidence: str
    corrected: str = ""
    data: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    needs: str = ""
    command: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"Invalid verdict: {self.verdict!r} (expected one of {VERDICTS})")
        if self.verdict == "needs":
            if not self.needs:
                raise ValueError("A 'needs' outcome must say what it needs")
        elif self.needs:
            raise ValueError(f"Invalid needs: {self.needs!r} (only a 'needs' outcome lists what it needs)")
        elif self.verdict != "confirmed" and not self.corrected:
            raise ValueError(f"A {self.verdict!r} outcome needs the corrected statement")

    @property
    def label(self) -> str:
        """The verdict as printed: ``needs <what>`` for a claim not checked here."""
        return f"needs {self.needs}" if self.verdict == "needs" else self.verdict


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
    #: a miniature configuration of a slow check (same code path, tiny sizes), run by the test suite
    miniature: Callable[[], Outcome] | None = None

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
    miniature: Callable[[], Outcome] | None = None,
) -> Callable[[Callable[[], Outcome]], Callable[[], Outcome]]:
    """Register a check function as the check of one paper claim.

    Args:
        id: unique id, ``"<seed>.<short-name>"``, e.g. ``"001.eq4-constant"``.
        seed: ``"000"`` ... ``"004"``.
        where: the location in the paper: ``"eq. 6"``, ``"Table 3"``, ``"Fig. 1"``, ``"Sec. 3.2"``.
        kind: ``"derivation"``, ``"simulation"``, ``"training"`` or ``"transcription"``.
        statement: the paper's claim in one sentence.
        paper_value: the value or form the paper prints.
        expect: the verdict we currently find; the test suite asserts that the check returns it.
        tier: ``"quick"`` (default run, under a minute for all on 2 cores), ``"full"`` or ``"gpu"``.
        miniature: for a full or gpu claim, the same check in a tiny configuration (seconds), which the
            test suite runs so that the slow code path is exercised; its verdict is not asserted.
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
        _REGISTRY[id] = Claim(id, seed, where, kind, statement, paper_value, expect, tier, fn, miniature)
        return fn

    return register


def register_needs(
    *,
    id: str,
    seed: str,
    where: str,
    kind: str,
    statement: str,
    paper_value: str,
    needs: str,
    reason: str,
    command: str,
) -> None:
    """Register a claim this package cannot check here, with what it needs, why, and the command.

    Args:
        needs: what is missing, short ("ImageNet and a GPU", "the relation-extraction data").
        reason: why the claim cannot be checked with what the package has here.
        command: the command that would run the check where the data or compute is available.
    """

    def run() -> Outcome:
        return Outcome(
            ours="not run here",
            verdict="needs",
            needs=needs,
            evidence=f"{reason}. Command: {command}",
            data=f"needs {needs}",
            command=command,
        )

    run.__qualname__ = f"needs:{id}"
    claim(
        id=id, seed=seed, where=where, kind=kind, statement=statement, paper_value=paper_value, expect="needs"
    )(run)


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

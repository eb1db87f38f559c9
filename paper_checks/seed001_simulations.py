"""Seed 001 (Gao & Zhong): the gradient-shrinkage claims of eq. 2-4, checked by Monte-Carlo with ``sim``.

Per-sample gradients are drawn for real (Gaussian as in eq. 1, Student-t for heavy tails, or a finite
population sampled without replacement as in an epoch), averaged into batch gradients, and
:math:`\\mathbb E|\\bar g|` is estimated with its standard error at each batch size and fitted with a power law
by weighted least squares (:mod:`sim.grad_shrinkage`). Verdicts compare the fit with the paper's values at
Z standard errors; all seeds are fixed.
"""

from __future__ import annotations

import math
from functools import cache

from paper_checks import judge
from paper_checks.registry import Outcome, claim
from sim.grad_shrinkage import (
    ShrinkageCurve,
    abs_mean,
    abs_mean_curve,
    gaussian_population,
    sample_finite_population,
    student_t_population,
)

#: Agreement means within Z standard errors (two-sided false-positive rate 6e-7 per comparison).
Z = 5.0
SIGMA = 1.0
NS = (1, 4, 16, 64, 256, 1024, 4096)
BATCHES = 2000
HEAVY_DOF = 5.0
#: Finite population: N rows drawn from N(0, σ²) with exact population moments; n from N/200 to N.
POP_SIZE = 2000
POP_NS = (10, 50, 200, 1000, 1500, 1900, 2000)
#: Model floor for the central-limit approximation of a without-replacement mean (see test_theory_vs_sim.py).
CLT_REL_FLOOR = 0.01


@cache
def _gaussian_curve() -> ShrinkageCurve:
    return abs_mean_curve(gaussian_population(SIGMA), NS, batches=BATCHES, seed=0)


@cache
def _heavy_curve() -> ShrinkageCurve:
    return abs_mean_curve(student_t_population(SIGMA, HEAVY_DOF), NS, batches=BATCHES, seed=1)


def _z(value: float, target: float, stderr: float) -> float:
    return (value - target) / stderr


@claim(
    id="001.eq4-slope-sim",
    seed="001",
    where="eq. 4, Fig. 3",
    kind="simulation",
    statement="The mean absolute batch gradient shrinks as 1/√n with the batch size n.",
    paper_value="E|g| ∝ n^(-1/2)",
    expect="confirmed",
)
def check_slope() -> Outcome:
    gauss, heavy = _gaussian_curve().fit, _heavy_curve().fit
    z_gauss = _z(gauss.slope, -0.5, gauss.slope_stderr)
    z_heavy = _z(heavy.slope, -0.5, heavy.slope_stderr)
    # Gaussian per-sample gradients are eq. 1's setting (the claim); heavy tails are the part beyond it
    verdict = judge.graded(abs(z_gauss) <= Z and abs(z_heavy) <= Z, abs(z_gauss) <= Z)
    return Outcome(
        ours=f"slope {gauss.slope:.4f} ± {gauss.slope_stderr:.4f} (Gaussian)",
        verdict=verdict,
        evidence=(
            f"WLS fit of log E|ḡ| on log n, n = {NS[0]}..{NS[-1]}, {BATCHES} batches per n: Gaussian "
            f"slope {gauss.slope:.4f}±{gauss.slope_stderr:.4f} (z={z_gauss:+.1f}, χ²={gauss.chi2:.1f} on "
            f"{gauss.dof} dof); Student-t({HEAVY_DOF:g}) slope {heavy.slope:.4f}±{heavy.slope_stderr:.4f} "
            f"(z={z_heavy:+.1f}); agreement at |z| ≤ {Z}"
        ),
        corrected={
            "confirmed": "",
            "partly": "E|ḡ| ∝ n^(-1/2) holds for Gaussian per-sample gradients; with Student-t"
            f"({HEAVY_DOF:g}) tails the fitted slope is {heavy.slope:.3f} (z = {z_heavy:+.1f})",
            "refuted": f"the fitted slope is {gauss.slope:.3f}, not -1/2 (z = {z_gauss:+.1f})",
        }[verdict],
        data=f"synthetic i.i.d. per-sample gradients (Gaussian, Student-t({HEAVY_DOF:g})), {BATCHES} batches per n, seeds 0-1",
        numbers={
            "gaussian_slope": gauss.slope,
            "gaussian_slope_stderr": gauss.slope_stderr,
            "heavy_slope": heavy.slope,
            "heavy_slope_stderr": heavy.slope_stderr,
        },
    )


@claim(
    id="001.eq4-constant-sim",
    seed="001",
    where="eq. 4 (and eq. 6, 28)",
    kind="simulation",
    statement="E|g_i| = 2σ/√(πn) for the mean of n i.i.d. N(0, σ²) per-sample gradients.",
    paper_value="2σ/√π ≈ 1.128σ (times n^(-1/2))",
    expect="refuted",
)
def check_constant() -> Outcome:
    fit = _gaussian_curve().fit
    ours_value, paper_value = math.sqrt(2.0 / math.pi) * SIGMA, 2.0 * SIGMA / math.sqrt(math.pi)
    z_ours = _z(fit.constant_at_half, ours_value, fit.constant_at_half_stderr)
    z_paper = _z(fit.constant_at_half, paper_value, fit.constant_at_half_stderr)
    # confirmed at the paper's constant, refuted at our derived one, partly at neither
    verdict = judge.agreement(fit.constant_at_half, fit.constant_at_half_stderr, paper_value, ours_value, Z)
    return Outcome(
        ours=f"C = {fit.constant_at_half:.4f} ± {fit.constant_at_half_stderr:.4f} ≈ √(2/π)σ",
        verdict=verdict,
        evidence=(
            f"Fitted constant with the slope held at -1/2: {fit.constant_at_half:.4f}±"
            f"{fit.constant_at_half_stderr:.4f} (free fit {fit.constant:.4f}±{fit.constant_stderr:.4f}); "
            f"√(2/π)σ = {ours_value:.4f} at z={z_ours:+.1f}; paper 2σ/√π = {paper_value:.4f} at z={z_paper:+.1f}; "
            f"ratio paper/simulated = {paper_value / fit.constant_at_half:.4f} (√2 = {math.sqrt(2):.4f})"
        ),
        corrected=""
        if verdict == "confirmed"
        else f"E|ḡ| = C/√n with C = {fit.constant_at_half:.4f}σ ± {fit.constant_at_half_stderr:.4f}"
        + (
            f", i.e. σ√(2/(πn)) (z = {z_ours:+.1f}); the printed constant is "
            f"{paper_value / fit.constant_at_half:.3f}x (√2 = {math.sqrt(2):.3f}) too large"
            if verdict == "refuted"
            else f": neither 2σ/√π (z = {z_paper:+.1f}) nor √(2/π)σ (z = {z_ours:+.1f})"
        ),
        data=f"synthetic Gaussian per-sample gradients, σ={SIGMA:g}, n = {NS[0]}..{NS[-1]}, {BATCHES} batches per n, seed 0",
        numbers={
            "constant": fit.constant_at_half,
            "stderr": fit.constant_at_half_stderr,
            "z_ours": z_ours,
            "z_paper": z_paper,
        },
    )


@claim(
    id="001.finite-population-sim",
    seed="001",
    where="eq. 2-4, Fig. 3 (batch sizes up to the data set)",
    kind="simulation",
    statement="E|g| = 2σ/√(πn) up to batches as large as the training set (Fig. 3 goes from 32 to 60000).",
    paper_value="∝ n^(-1/2) for all n",
    expect="partly",
)
def check_finite_population() -> Outcome:
    pop = sample_finite_population(POP_SIZE, SIGMA, seed=2)
    rows, iid_fails, finite_fails = [], [], []
    for i, n in enumerate(POP_NS):
        est = abs_mean(pop, n, batches=BATCHES, replace=False, seed=10 + i)
        iid = SIGMA * math.sqrt(2.0 / (math.pi * n))
        finite = iid * math.sqrt((POP_SIZE - n) / (POP_SIZE - 1))
        floor = CLT_REL_FLOOR * iid + 1e-12
        if abs(est.mean - iid) > Z * est.stderr + floor:
            iid_fails.append(n)
        if abs(est.mean - finite) > Z * est.stderr + floor:
            finite_fails.append(n)
        rows.append(f"n={n}: {est.mean:.4g}±{est.stderr:.1g} (iid {iid:.4g}, finite {finite:.4g})")
    verdict = judge.all_or_some([n not in iid_fails for n in POP_NS])
    return Outcome(
        ours=f"1/√n law fails for n ≥ {min(iid_fails) if iid_fails else '-'} of N={POP_SIZE}",
        verdict=verdict,
        evidence=(
            "Batches drawn without replacement from a fixed population (the epoch sampler); "
            + "; ".join(rows)
            + f". i.i.d. law off at n ∈ {iid_fails}; finite-population law off at n ∈ {finite_fails or 'none'}."
        ),
        corrected=(
            "Without replacement from N samples, E|ḡ| ≈ σ√(2/(πn))·√((N-n)/(N-1)): the i.i.d. law holds for "
            "n ≪ N, falls below it as n nears N and reaches |μ| (0 here) at n = N; batches beyond N "
            "(Fig. 3's 60000 > CIFAR-10's 50000) are not defined without reuse"
        ),
        data=f"synthetic finite population of {POP_SIZE} Gaussian per-sample gradients, {BATCHES} batches per n, seeds 2-{10 + len(POP_NS) - 1}",
        numbers={"iid_fails": iid_fails, "finite_fails": finite_fails},
    )


@claim(
    id="001.gradient-vanishes-sim",
    seed="001",
    where="Sec. 2.1 after eq. 4, eq. 28",
    kind="simulation",
    statement="Under eq. 1 (per-sample gradients of mean 0), gradients fall to zero as the batch size grows "
    "(E|g| → 0).",
    paper_value="E|g| → 0 as n → ∞",
    expect="confirmed",
)
def check_gradient_vanishes() -> Outcome:
    r"""Eq. 1's setting as the paper states it: per-sample gradients N(μ = 0, σ²).

    "Falls to zero": at every batch size the estimate stays within Z standard errors of the zero-mean law
    σ√(2/(πn)), which goes to 0; a plateau (a non-zero full-batch gradient) fails this once it is many
    standard errors above the law. The case μ ≠ 0, outside the paper's assumption, is derived in
    001.large-batch-limit (E|ḡ| → |μ|) and is not part of this verdict.
    """
    curve = abs_mean_curve(gaussian_population(SIGMA, mu=0.0), NS, batches=BATCHES, seed=3)
    rows = [
        (n, e.mean, e.stderr, SIGMA * math.sqrt(2.0 / (math.pi * n))) for n, e in zip(NS, curve.estimates)
    ]
    off = [n for n, mean, se, law in rows if not judge.within_z(mean, law, se, Z)]
    verdict = vanishing_verdict(len(off), len(rows))
    listing = ", ".join(f"n={n}: {mean:.4g}±{se:.1g} (law {law:.4g})" for n, mean, se, law in rows)
    return Outcome(
        ours=f"E|ḡ| = {rows[0][1]:.3g} at n = {NS[0]} → {rows[-1][1]:.3g} at n = {NS[-1]}; off the law at "
        f"{len(off)}/{len(rows)} sizes",
        verdict=verdict,
        evidence=f"Per-sample gradients N(0, σ² = {SIGMA**2:g}) as in eq. 1, {BATCHES} batches per n: {listing}. "
        f"Criterion: within {Z:g} se of σ√(2/(πn)) → 0 at every n: confirmed; at some: partly; at none: refuted. "
        "With a non-zero mean gradient (outside eq. 1) the limit is |μ| instead: see 001.large-batch-limit.",
        corrected={
            "confirmed": "",
            "partly": f"E|ḡ| leaves the shrinking law at n ∈ {off}",
            "refuted": "E|ḡ| does not follow σ√(2/(πn)) at any batch size simulated",
        }[verdict],
        data=f"synthetic Gaussian per-sample gradients, mean 0 (eq. 1), {BATCHES} batches per n, seed 3",
        numbers={"n": list(NS), "mean": [r[1] for r in rows], "stderr": [r[2] for r in rows], "off_law": off},
    )


def vanishing_verdict(off_law: int, sizes: int) -> str:
    """Following the zero-mean law at every batch size: confirmed; at some: partly; at none: refuted."""
    return judge.all_or_some([True] * (sizes - off_law) + [False] * off_law)

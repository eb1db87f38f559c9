"""Seed 000 (batch-adaptive training): the walk-game claims, checked by Monte-Carlo with ``sim``.

* BA against fixed batches for the same data budget (Sec. 4.2, Fig. 1-2; the model of Sec. 2.2 and 3), played
  in the Gaussian walk with rebound by :mod:`sim.rebound_walk` in three regimes.
* BA's robustness to larger step sizes (Sec. 4.3, Fig. 4), in the same game.
* The Gaussian law of the one-step decrease of the objective (eq. 3, eq. 13, App. B, Fig. 6), sampled exactly
  on a quadratic with heavy-tailed per-sample gradients and tested with Kolmogorov-Smirnov.

Verdicts are computed from z-scores and p-values against thresholds stated below; the seeds are fixed.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from paper_checks import judge
from paper_checks.registry import Outcome, claim
from sim.grad_shrinkage import student_t_population
from sim.rebound_walk import (
    QuadraticDice,
    ba_policy,
    ba_regime_table,
    fixed_policy,
    objective_decrease_samples,
    play,
)

#: BA "wins" a regime when its mean final state is more than Z_WIN standard errors below the best fixed batch,
#: and "loses" when it is more than Z_WIN above; in between is a tie. z = 5 keeps the false-call rate < 1e-6.
Z_WIN = 5.0
#: Kolmogorov-Smirnov false-rejection budget for the Gaussian-shape test.
KS_ALPHA = 1e-3
#: Appendix B of seed 000: measured mean and sd of the decrease, and the paper's first-order estimates.
APPENDIX_B = {"mean": -7.94253e-10, "sd": 3.48414e-11, "est_mean": -8.58165e-10, "est_sd": 4.58062e-12}

# The quadratic of the decrease check: gradient f, diagonal Hessian h, Student-t(5) per-sample noise of sd 2,
# batch m = 100 as in App. B. ETA_SMALL keeps eta*h*|g|^2 negligible; ETA_LARGE is a bold but stable step.
GRAD = np.array([1.0, 0.5, -0.3, 0.2])
HESS = np.array([1.0, 2.0, 0.5, 1.0])
NOISE_SD, NOISE_DOF, BATCH = 2.0, 5.0, 100
ETA_SMALL, ETA_LARGE = 1e-3, 0.5
#: "close" estimates: within 25 % (as in seed000_training's CLOSE_RATIO)
CLOSE = 1.25


def _regime_outcomes(walkers: int, seed: int):
    table = ba_regime_table(walkers=walkers, seed=seed)
    wins = [c for c in table if c.z > Z_WIN]
    losses = [c for c in table if c.z < -Z_WIN]
    return table, wins, losses


def _ba_verdict(table, wins, losses) -> str:
    """Every regime won: confirmed; some: partly; none: refuted."""
    return judge.all_or_some([c in wins for c in table])


def _regime_evidence(table) -> str:
    parts = []
    for c in table:
        parts.append(
            f"{c.regime}: BA {c.ba.final.mean:.3g}±{c.ba.final.stderr:.1g} "
            f"({c.ba.updates:.0f} updates, {c.ba.mean_batch:.0f}/update) vs best fixed "
            f"{c.best_fixed.name} {c.best_fixed.final.mean:.3g}±{c.best_fixed.final.stderr:.1g}, z={c.z:+.1f}"
        )
    return "; ".join(parts)


def _check_ba_against_fixed(walkers: int, seed: int) -> Outcome:
    table, wins, losses = _regime_outcomes(walkers, seed)
    verdict = _ba_verdict(table, wins, losses)
    return Outcome(
        ours=f"BA wins {len(wins)}/{len(table)} walk regimes, loses {len(losses)}",
        verdict=verdict,
        evidence=(
            f"Same budget, fixed m in 1..1024 vs BA (own argmax of u(m)); win/loss at |z| > {Z_WIN}. "
            + _regime_evidence(table)
        ),
        corrected=(
            f"BA wins in {[c.regime for c in wins] or 'no regime'}, loses in {[c.regime for c in losses] or 'none'} "
            f"(|z| > {Z_WIN:g}). "
            "In the walk game BA beats every fixed batch when the die shrinks with the loss (μ = 2h(s-S*), "
            "σ² ∝ s-S*, a consistent quadratic): small batches far from S*, larger ones near it. It loses "
            "when the expected step overshoots (ημ ≥ 2(s-S*): a die that does not shrink near S*, or carried "
            "momentum): then u(m) < 0 for every m, eq. 9's argmax is the largest batch allowed, and BA spends "
            "its budget on a few huge batches"
        ),
        data=f"synthetic Gaussian walk with rebound, {walkers} walkers per policy, 3 regimes, seed {seed}",
        numbers={
            c.regime: {
                "z": c.z,
                "ba": c.ba.final.mean,
                "best_fixed": c.best_fixed.final.mean,
                "best_fixed_policy": c.best_fixed.name,
            }
            for c in table
        },
    )


@claim(
    id="000.ba-beats-fixed-walk",
    seed="000",
    where="Sec. 4.2, Fig. 1-2 (walk game of Sec. 2.2, eq. 6-9)",
    kind="simulation",
    statement="For the same data budget, batch-adaptive SGD reaches a lower loss than every fixed batch size.",
    paper_value="BA lowest after the same epochs",
    expect="partly",
)
def check_ba_beats_fixed() -> Outcome:
    return _check_ba_against_fixed(walkers=1000, seed=0)


@claim(
    id="000.ba-beats-fixed-walk-full",
    seed="000",
    where="Sec. 4.2, Fig. 1-2 (walk game of Sec. 2.2, eq. 6-9)",
    kind="simulation",
    tier="full",
    miniature=lambda: _check_ba_against_fixed(walkers=50, seed=1),
    statement="For the same data budget, batch-adaptive SGD reaches a lower loss than every fixed batch size.",
    paper_value="BA lowest after the same epochs",
    expect="partly",
)
def check_ba_beats_fixed_full() -> Outcome:
    return _check_ba_against_fixed(walkers=20_000, seed=1)


def _ks_against(samples: np.ndarray, mean: float, sd: float) -> float:
    return float(stats.kstest((samples - mean) / sd, "norm").pvalue)


def _decrease_summary(eta: float, seed: int, draws: int) -> dict:
    noise = student_t_population(NOISE_SD, NOISE_DOF, dims=GRAD.size)
    samples = objective_decrease_samples(GRAD, HESS, noise, BATCH, eta, draws=draws, seed=seed)
    # Eq. 3: dF ~ N(-eta f.f, eta^2 f.Sigma.f / m), Sigma = NOISE_SD^2 I.
    paper_mean = -eta * GRAD @ GRAD
    paper_sd = eta * NOISE_SD * math.sqrt(GRAD @ GRAD / BATCH)
    half = draws // 2
    # Shape: standardise the second half with the first half's mean and sd, so the KS null is (nearly) exact.
    shape_p = _ks_against(samples[half:], samples[:half].mean(), samples[:half].std(ddof=1))
    return {
        "eta": eta,
        "shape_p": shape_p,
        "paper_p": _ks_against(samples, paper_mean, paper_sd),
        "mean": float(samples.mean()),
        "paper_mean": float(paper_mean),
        "sd": float(samples.std(ddof=1)),
        "paper_sd": float(paper_sd),
        "skew": float(stats.skew(samples)),
    }


def _decrease_text(r: dict) -> str:
    return (
        f"η={r['eta']:g}: KS p (shape)={r['shape_p']:.2g}, KS p vs eq. 3={r['paper_p']:.2g}, "
        f"mean {r['mean']:.4g} vs {r['paper_mean']:.4g}, sd {r['sd']:.3g} vs {r['paper_sd']:.3g}, "
        f"skew {r['skew']:+.2f}"
    )


@claim(
    id="000.appB-gaussian-decrease",
    seed="000",
    where="eq. 3, eq. 13, App. B (Fig. 6)",
    kind="simulation",
    statement=(
        "The one-step decrease of the objective is Gaussian, N(-η fᵀf, η² fᵀΣf/m), which the paper "
        "calls close to the measured mean and sd."
    ),
    paper_value="Gaussian; measured sd 3.48e-11 vs estimated 4.58e-12",
    expect="partly",
)
def check_gaussian_decrease() -> Outcome:
    draws = 20_000
    small, large = _decrease_summary(ETA_SMALL, 0, draws), _decrease_summary(ETA_LARGE, 1, draws)
    # App. B's regime is a small step ("after 10 iterations" of training at a small rate): the Gaussian part is
    # judged at ETA_SMALL only; ETA_LARGE is reported to show where the first-order law stops, not judged.
    small_ok = small["shape_p"] > KS_ALPHA and small["paper_p"] > KS_ALPHA
    sd_ratio = APPENDIX_B["sd"] / APPENDIX_B["est_sd"]
    # the second part, "close to the measured mean and sd", is judged on the paper's own App. B numbers
    paper_close = (
        judge.ratio_in_band(sd_ratio, (1 / CLOSE, CLOSE)) == "confirmed"
        and judge.ratio_in_band(APPENDIX_B["mean"] / APPENDIX_B["est_mean"], (1 / CLOSE, CLOSE))
        == "confirmed"
    )
    verdict = judge.all_or_some([small_ok, paper_close])
    return Outcome(
        ours=f"Gaussian at η={ETA_SMALL:g} (p={small['paper_p']:.2g}); not at η={ETA_LARGE:g} (p={large['paper_p']:.1g})",
        verdict=verdict,
        evidence=(
            f"Exact ΔF of SGD on a 4-d quadratic, m={BATCH}, Student-t({NOISE_DOF:g}) per-sample noise, "
            f"{draws} batches, KS at α={KS_ALPHA:g}. "
            + _decrease_text(small)
            + "; "
            + _decrease_text(large)
            + f". The paper's own App. B numbers put the measured sd {sd_ratio:.1f}× above its estimate."
        ),
        corrected=(
            ""
            if verdict == "confirmed"
            else (
                f"In the small-step regime of App. B ΔF is Gaussian with eq. 3's moments (KS p = {small['paper_p']:.2g})"
                if small_ok
                else f"Even at η = {ETA_SMALL:g} ΔF departs from eq. 3's Gaussian (KS p = {small['paper_p']:.2g})"
            )
            + (
                "; the paper's own App. B estimate of the sd is within its band"
                if paper_close
                else f"; the paper's own App. B estimate of the sd is {sd_ratio:.1f}× too small, not close"
            )
            + (
                f". At η = {ETA_LARGE:g} (beyond first order, not App. B's regime) the dropped term ½η² ĝᵀHĝ "
                f"shifts the mean ({large['mean']:.3g} vs {large['paper_mean']:.3g}) and skews the law (skew "
                f"{large['skew']:+.2f}, KS p = {large['paper_p']:.1g})"
                if large["paper_p"] <= KS_ALPHA
                else ""
            )
        ),
        data=f"synthetic quadratic, Student-t({NOISE_DOF:g}) per-sample gradients, {draws} batches of {BATCH}, seeds 0-1",
        numbers={"small": small, "large": large, "appendix_b_sd_ratio": sd_ratio},
    )


#: Step sizes of the robustness check (a factor 8, as 0.005 -> 0.04 spans seed 000's Fig. 4) and its game.
ROBUST_ETAS = (0.05, 0.1, 0.2, 0.4)
ROBUST_GAME = dict(budget=4096, s0=1.0, dice=QuadraticDice(1.0, 3.0))
ROBUST_M0 = 32


def _robustness_rows(walkers: int, seed: int) -> list[dict]:
    rows = []
    children = np.random.default_rng(seed).spawn(2 * len(ROBUST_ETAS))
    for i, eta in enumerate(ROBUST_ETAS):
        ba = play(
            ba_policy(m0=ROBUST_M0, m_max=ROBUST_GAME["budget"]),
            eta=eta,
            walkers=walkers,
            seed=children[2 * i],
            **ROBUST_GAME,
        )
        fixed = play(
            fixed_policy(ROBUST_M0), eta=eta, walkers=walkers, seed=children[2 * i + 1], **ROBUST_GAME
        )
        rows.append({"eta": eta, "ba": ba.final, "fixed": fixed.final, "ba_batch": ba.mean_batch})
    return rows


def _rises(a, b) -> bool:
    """True when estimate ``b`` lies above ``a`` by more than Z_WIN combined standard errors."""
    return b.mean - a.mean > Z_WIN * math.hypot(a.stderr, b.stderr)


@claim(
    id="000.lr-robustness-walk",
    seed="000",
    where="Sec. 4.3, Fig. 4",
    kind="simulation",
    statement=(
        "As the step size grows, BA enlarges its batch and reaches the same or a lower loss, while "
        "mini-batch 32 ends higher."
    ),
    paper_value="BA loss 1.13e-4 → 1.69e-5 → 5.77e-6 as η doubles",
    expect="partly",
)
def check_lr_robustness() -> Outcome:
    walkers = 1000
    rows = _robustness_rows(walkers, seed=3)
    batches = [r["ba_batch"] for r in rows]
    batch_grows = all(b2 > b1 for b1, b2 in zip(batches, batches[1:]))
    ba_rises = [r2["eta"] for r1, r2 in zip(rows, rows[1:]) if _rises(r1["ba"], r2["ba"])]
    ba_growth = rows[-1]["ba"].mean / rows[0]["ba"].mean
    fixed_growth = rows[-1]["fixed"].mean / rows[0]["fixed"].mean
    # the claim's three parts: the batch grows with η, BA's loss does not rise, and fixed-32 ends higher
    fixed_higher = rows[-1]["fixed"].mean - rows[-1]["ba"].mean > Z_WIN * math.hypot(
        rows[-1]["fixed"].stderr, rows[-1]["ba"].stderr
    )
    verdict = judge.graded(batch_grows and not ba_rises and fixed_higher, batch_grows)
    table = "; ".join(
        f"η={r['eta']:g}: BA {r['ba'].mean:.3g}±{r['ba'].stderr:.1g} (batch {r['ba_batch']:.0f}), "
        f"fixed-32 {r['fixed'].mean:.3g}±{r['fixed'].stderr:.1g}"
        for r in rows
    )
    return Outcome(
        ours=f"BA batch grows {batches[0]:.0f}→{batches[-1]:.0f}; BA loss ×{ba_growth:.1f}, fixed-32 ×{fixed_growth:.1f}",
        verdict=verdict,
        evidence=(
            f"Walk game, quadratic die, budget {ROBUST_GAME['budget']}, BA with m0={ROBUST_M0}, {walkers} walkers "
            f"each. {table}. BA's loss rises significantly (z > {Z_WIN}) at η ∈ {ba_rises or 'none'}."
        ),
        corrected={
            "confirmed": "",
            "partly": f"BA does enlarge its batch with η ({batches[0]:.0f} → {batches[-1]:.0f}), but its loss "
            f"rises significantly at η ∈ {ba_rises or 'none'} (×{ba_growth:.1f} over the range, fixed-32 "
            f"×{fixed_growth:.1f}); fixed-32 ends above BA at the largest η: {fixed_higher}",
            "refuted": f"BA's mean batch does not grow at every step of η ({', '.join(f'{b:.0f}' for b in batches)})",
        }[verdict],
        data=f"synthetic Gaussian walk with rebound (quadratic die), {walkers} walkers per policy and η, seed 3",
        numbers={
            "etas": list(ROBUST_ETAS),
            "ba_batch": batches,
            "ba": [r["ba"].mean for r in rows],
            "fixed32": [r["fixed"].mean for r in rows],
        },
    )

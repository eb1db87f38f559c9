"""Seed 004 (Smith, Kindermans & Le, "Don't decay the learning rate, increase the batch size"): derivations.

The noise scale g = eps (N/B - 1), its momentum form, the small-step stationary variance that makes
decaying eps and growing B equivalent, the scaling rules B ∝ eps and B ∝ 1/(1-m), the CIFAR-10
schedules of Sec. 5.2 and the momentum accumulation time. Every verdict is computed with
``theory.noise_scale`` (sympy identities, plus brute-force or closed-form numbers where stated).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import sympy as sp

from paper_checks import judge
from paper_checks.registry import Outcome, claim
from theory import noise_scale as ns
from theory._numeric import is_zero
from theory.symbols import B, N, eps, rho, sigma

# Seed 004, Sec. 5.1-5.2 (CIFAR-10, 16-4 wide ResNet): training-set size and maximum batch size.
CIFAR10_TRAIN = 50_000
CIFAR10_MAX_BATCH = 5120
# Seed 004, Sec. 5.2: initial (lr, momentum, batch) of the "original", "increased initial learning rate"
# and "increased momentum coefficient" schedules (the "increasing batch size" one starts as "original").
CIFAR10_SCHEDULES = {
    "original": (0.1, 0.9, 128),
    "increased lr": (0.5, 0.9, 640),
    "increased momentum": (0.5, 0.98, 3200),
}
# Seed 004, Sec. 5.3: ImageNet (1.28 million images), batch increased to 81920.
IMAGENET_TRAIN = 1_280_000
IMAGENET_MAX_BATCH = 81_920
# Two noise scales count as "the same" when they agree to 1%: far inside the factor-5 steps the paper
# compares, and far outside float error.
SAME_NOISE_RTOL = 0.01


def _enumerated_batch_variance(n_train: int, batch_size: int, seed: int = 0) -> tuple[float, float]:
    grads = np.random.default_rng(seed).normal(size=n_train)
    means = [grads[list(c)].mean() for c in itertools.combinations(range(n_train), batch_size)]
    exact = float(np.mean((np.asarray(means) - grads.mean()) ** 2))
    return exact, float(ns.batch_gradient_variance(n_train, batch_size, np.var(grads)))


@claim(
    id="004.g-without-replacement",
    seed="004",
    where="Sec. 2 (after Smith & Le 2017)",
    kind="derivation",
    statement="SGD with learning rate eps and batch B drawn from N samples has noise scale g = eps (N/B - 1), "
    "≈ eps N/B for B << N.",
    paper_value="g = ε(N/B − 1) ≈ εN/B",
    expect="confirmed",
)
def check_noise_scale_from_without_replacement_variance() -> Outcome:
    variance = ns.batch_mean_variance_expr()
    # Temperature: eps^2 Var per step = eps * g * F/(N-1), i.e. g is eps Var in units of F/(N-1).
    g = sp.simplify(eps * variance * (N - 1) / sigma**2)
    identity = is_zero(g - eps * (N / B - 1))
    exact, formula = _enumerated_batch_variance(7, 3)
    enumeration_ok = math.isclose(exact, formula, rel_tol=1e-12)
    small_batch_error = {
        "CIFAR-10 B=5120": CIFAR10_MAX_BATCH / (CIFAR10_TRAIN - CIFAR10_MAX_BATCH),
        "ImageNet B=81920": IMAGENET_MAX_BATCH / (IMAGENET_TRAIN - IMAGENET_MAX_BATCH),
    }
    verdict = judge.holds(identity and enumeration_ok)
    return Outcome(
        ours="ε·Var[ĝ] = ε(N/B − 1)·F/(N−1), Var[ĝ] = (1/B − 1/N)·N/(N−1)·F",
        verdict=verdict,
        evidence="sympy: inclusion-indicator covariance gives Var[ĝ] = (N−B)/(B(N−1))·F; g = ε(N/B−1) "
        f"exactly when the per-sample covariance is normalised by N−1 (the paper's 1/N form drops N/(N−1)). "
        f"Enumerating all C(7,3) batches: {exact:.12g} vs formula {formula:.12g}. The B≪N form εN/B "
        f"overstates g by B/(N−B): {small_batch_error['CIFAR-10 B=5120']:.1%} at the paper's CIFAR-10 cap "
        f"B=5120, {small_batch_error['ImageNet B=81920']:.1%} at ImageNet B=81920.",
        corrected="" if verdict == "confirmed" else "see evidence",
        numbers={"enumerated": exact, "formula": formula, "small_batch_rel_error": small_batch_error},
    )


@claim(
    id="004.g-momentum",
    seed="004",
    where="Sec. 4 (effective learning rate)",
    kind="derivation",
    statement="With momentum m the noise scale is g = eps/(1-m) (N/B - 1) ≈ eps N/(B(1-m)).",
    paper_value="g = ε/(1−m)·(N/B − 1)",
    expect="confirmed",
)
def check_momentum_noise_scale() -> Outcome:
    derived = ns.noise_scale_expr()
    identity = is_zero(derived - eps / (1 - rho) * (N / B - 1))
    # Numerically: heavy-ball (eps, m) against plain SGD at eps/(1-m), exact Lyapunov solutions, eps h -> 0.
    ratios = {}
    for lr_h in (1e-1, 1e-2, 1e-3):
        heavy = ns.stationary_variance(1.0, lr_h, 1, 1.0, momentum=0.9)
        plain = ns.stationary_variance(1.0, lr_h / 0.1, 1, 1.0)
        ratios[lr_h] = heavy / plain
    converges = (
        abs(ratios[1e-3] - 1) < abs(ratios[1e-2] - 1) < abs(ratios[1e-1] - 1) and abs(ratios[1e-3] - 1) < 1e-2
    )
    verdict = judge.holds(identity and converges)
    return Outcome(
        ours="small-step E[x²] = g·F/(2h(N−1)), g = ε(N/B−1)/(1−m)",
        verdict=verdict,
        evidence="sympy solves the 2×2 discrete Lyapunov equation of v←mv−εĝ, x←x+v on L=hx²/2: "
        "E[x²] = εs(1+m)/(h(1−m)(2(1+m)−εh)); its ε→0 limit εs/(2h(1−m)) with the without-replacement s "
        "gives g = ε(N/B−1)/(1−m) (sympy identity). Exact heavy-ball (m=0.9) over plain SGD at ε/(1−m): "
        + ", ".join(f"heavy-ball εh={k:g}: {v:.5f}" for k, v in ratios.items())
        + " (→ 1; at equal effective rate momentum is closer to the SDE limit, correction "
        "εh/(2(1+m)) instead of ε_eff·h/2).",
        corrected="" if verdict == "confirmed" else "see evidence",
        numbers={"heavy_over_plain": ratios},
    )


@claim(
    id="004.schedule-equivalence",
    seed="004",
    where="Sec. 3 and 5.1 (Fig. 2-4)",
    kind="derivation",
    statement="Decaying the learning rate and increasing the batch size by the same factor are equivalent: "
    "the fluctuations depend only on the noise scale g.",
    paper_value="equal curves vs epochs for ε/5 and 5B",
    expect="confirmed",
)
def check_small_step_stationary_variance_depends_only_on_g() -> Outcome:
    h = sp.Symbol("h", positive=True)
    small = ns.stationary_variance_small_lr_expr().subs(ns.STEP_NOISE, ns.batch_mean_variance_expr())
    only_g = is_zero(small - ns.noise_scale_expr() * sigma**2 / (2 * h * (N - 1)))
    # Decay eps by 5 at B=128 vs grow B to 640 at eps = 0.1 (m = 0.9, N = 50000): small-step and exact.
    lr, m, batch = 0.1, 0.9, 128
    g_ratio = ns.noise_scale(lr=lr, n_train=CIFAR10_TRAIN, batch_size=5 * batch, momentum=m) / ns.noise_scale(
        lr=lr / 5, n_train=CIFAR10_TRAIN, batch_size=batch, momentum=m
    )
    exact_ratio = {}
    for curvature in (0.1, 1.0, 10.0):
        decay = ns.stationary_variance(curvature, lr / 5, batch, 1.0, m, n_train=CIFAR10_TRAIN)
        grow = ns.stationary_variance(curvature, lr, 5 * batch, 1.0, m, n_train=CIFAR10_TRAIN)
        exact_ratio[lr * curvature] = grow / decay
    verdict = judge.holds(only_g)
    return Outcome(
        ours="ε→0: E[x²] = g·F/(2h(N−1)) exactly; O(εh) and O(B/N) corrections",
        verdict=verdict,
        evidence="sympy: the small-step stationary variance of heavy-ball SGD with without-replacement noise is "
        "g·F/(2h(N−1)), a function of (ε, m, B, N) through g alone, which is the paper's premise. The two "
        f"schedules do not have exactly equal g: growing B 128→640 at ε=0.1 gives {g_ratio:.4f} times the g "
        "of decaying ε to 0.02 (ratio (N/B−5)/(N/B−1)). Exact (Lyapunov) variance ratio grow/decay, m=0.9: "
        + ", ".join(f"εh={k:g}: {v:.4f}" for k, v in exact_ratio.items())
        + " = g ratio × (2(1+m)−εh/5)/(2(1+m)−εh): sharp directions see more noise when B grows.",
        corrected="" if verdict == "confirmed" else "see evidence",
        numbers={"g_ratio": g_ratio, "exact_variance_ratio": exact_ratio},
    )


@claim(
    id="004.linear-scaling",
    seed="004",
    where="Sec. 1 and 5.2",
    kind="derivation",
    statement="At constant noise scale the batch size scales as B ∝ eps and B ∝ 1/(1-m) (for B << N).",
    paper_value="B ∝ ε/(1−m)",
    expect="confirmed",
)
def check_linear_scaling_rule() -> Outcome:
    g = sp.Symbol("g", positive=True)
    (exact,) = sp.solve(sp.Eq(ns.noise_scale_expr(), g), B)
    linear = eps * N / (g * (1 - rho))
    # B << N at fixed B_lin = eps N/(g(1-m)): substitute g and let N grow.
    b_lin = sp.Symbol("B_lin", positive=True)
    leading = sp.limit(sp.simplify((exact / linear).subs(g, eps * N / (b_lin * (1 - rho)))), N, sp.oo)
    identity = is_zero(exact - linear / (1 + linear / N))
    proportional = is_zero(sp.diff(sp.log(linear), eps) - 1 / eps) and is_zero(
        sp.diff(sp.log(linear), rho) - 1 / (1 - rho)
    )
    verdict = judge.holds(leading == 1 and identity and proportional)
    return Outcome(
        ours="B = εN/(ε + g(1−m)) = B_lin/(1 + B_lin/N), B_lin = εN/(g(1−m))",
        verdict=verdict,
        evidence=f"sympy inverts g = ε(N/B−1)/(1−m): B = εN/(ε + g(1−m)); B/B_lin → {leading} as B_lin/N → 0, "
        "B_lin ∝ ε, ∝ 1/(1−m) exactly; the exact batch falls short of the rule by the factor 1/(1 + B_lin/N).",
        corrected="" if verdict == "confirmed" else "see evidence",
    )


@claim(
    id="004.cifar-schedules-same-g",
    seed="004",
    where="Sec. 5.2 (Fig. 5, schedules of the 'increasing the effective learning rate' experiment)",
    kind="derivation",
    statement="Scaling B ∝ eps/(1-m) gives (eps, m, B) = (0.1, 0.9, 128), (0.5, 0.9, 640) and (0.5, 0.98, 3200) "
    "the same noise scale, and each x5 batch step decays it by 5.",
    paper_value="equal g; ÷5 per step",
    expect="partly",
)
def check_cifar_schedules_share_the_noise_scale() -> Outcome:
    exact = {
        name: ns.noise_scale(lr=lr, n_train=CIFAR10_TRAIN, batch_size=b, momentum=m)
        for name, (lr, m, b) in CIFAR10_SCHEDULES.items()
    }
    leading = {name: lr * CIFAR10_TRAIN / (b * (1 - m)) for name, (lr, m, b) in CIFAR10_SCHEDULES.items()}
    reference = exact["original"]
    spread = max(abs(v / reference - 1) for v in exact.values())
    needed = {
        name: ns.batch_size_for_noise_scale(reference, lr, CIFAR10_TRAIN, m)
        for name, (lr, m, _) in CIFAR10_SCHEDULES.items()
    }
    step_decay = [
        ns.noise_scale(lr=0.1, n_train=CIFAR10_TRAIN, batch_size=b)
        / ns.noise_scale(lr=0.1, n_train=CIFAR10_TRAIN, batch_size=5 * b)
        for b in (128, 640)
    ]
    leading_spread = max(abs(v / leading["original"] - 1) for v in leading.values())
    steps_by_five = all(abs(d / 5 - 1) <= SAME_NOISE_RTOL for d in step_decay)
    # whole claim: equal exact g and ÷5 per step; the part that can hold alone: equal to leading order in B/N
    verdict = judge.graded(spread <= SAME_NOISE_RTOL and steps_by_five, leading_spread <= SAME_NOISE_RTOL)
    return Outcome(
        ours=", ".join(f"{v:.1f}" for v in exact.values()) + f" (spread {spread:.1%})",
        verdict=verdict,
        evidence="exact g = ε(N/B−1)/(1−m) with N=50000: "
        + ", ".join(f"{k} {v:.2f}" for k, v in exact.items())
        + "; leading-order εN/(B(1−m)): "
        + ", ".join(f"{v:.2f}" for v in leading.values())
        + f" (spread {leading_spread:.1%}). ×5 batch steps 128→640→3200 lower g by {step_decay[0]:.3f} and {step_decay[1]:.3f}. "
        f"Tolerance for 'same': {SAME_NOISE_RTOL:.0%}.",
        corrected="Equal only to leading order in B/N: the exact noise scale of the original schedule needs "
        f"B = {needed['increased lr']:.0f} (not 640) and B = {needed['increased momentum']:.0f} (not 3200); "
        f"each ×5 batch step lowers g by {step_decay[0]:.2f}, then {step_decay[1]:.2f}, not 5.",
        numbers={
            "exact_g": exact,
            "leading_g": leading,
            "batch_for_equal_g": needed,
            "step_decay": step_decay,
        },
    )


@claim(
    id="004.accumulation-time",
    seed="004",
    where="Sec. 4 (the accumulation variable)",
    kind="derivation",
    statement="The momentum accumulation A, starting at 0, reaches its steady state within about "
    "B/(N(1-m)) epochs.",
    paper_value="B/(N(1−m)) epochs",
    expect="confirmed",
)
def check_accumulation_time() -> Outcome:
    k, j, delta = (
        sp.Symbol("k", positive=True),
        sp.Symbol("j", integer=True),
        sp.Symbol("delta", positive=True),
    )
    # A_k = sum_{j<k} m^j G for a constant gradient G, with m = 1 - delta < 1: the gap to the steady state
    # G/(1-m) decays as m^k.
    accumulated = sp.summation((1 - delta) ** j, (j, 0, k - 1))
    closed = is_zero(accumulated - (1 - (1 - delta) ** k) / delta)
    # e-folding time of m^k in steps, -1/ln m, expanded in delta = 1 - m.
    efold = -1 / sp.log(1 - delta)
    leading = sp.limit(efold * delta, delta, 0)
    offset = sp.limit(efold - 1 / delta, delta, 0)
    rel_error = {m: abs((-1 / math.log(m)) * (1 - m) - 1) for m in (0.9, 0.98)}
    epochs = {m: 1 / (1 - m) * b / CIFAR10_TRAIN for m, b in ((0.9, 128), (0.98, 3200))}
    verdict = judge.holds(closed and leading == 1)
    return Outcome(
        ours="A_k = (1−m^k)/(1−m)·G; e-folding −1/ln m = 1/(1−m) − ½ + O(1−m) steps",
        verdict=verdict,
        evidence="sympy sums the geometric series (gap to G/(1−m) shrinks as m^k) and expands the e-folding "
        f"time −1/ln m = 1/(1−m) {'+' if offset >= 0 else '−'} {abs(offset)} + O(1−m) steps, i.e. "
        "B/(N(1−m)) epochs to leading order; relative error "
        + ", ".join(f"{err:.1%} (m={m})" for m, err in rel_error.items())
        + ". In epochs: "
        + ", ".join(f"m={m}: {e:.4f}" for m, e in epochs.items())
        + " (N=50000, B=128 and 3200).",
        corrected="" if verdict == "confirmed" else "the e-folding time is −B/(N ln m) epochs",
        numbers={"relative_error": rel_error, "epochs": epochs, "offset_steps": float(offset)},
    )

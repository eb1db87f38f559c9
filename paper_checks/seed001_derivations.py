"""Seed 001 (Gao & Zhong): the derivations of eq. 2-28, checked with sympy through ``theory``.

Each check derives our form with :mod:`theory.grad_shrinkage` or :mod:`theory.curvature`, compares it
with the form the paper prints, and computes its verdict from that comparison (a symbolic identity, or
a relative difference against a stated tolerance).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from paper_checks import judge
from paper_checks.registry import Outcome, claim
from theory import curvature as C
from theory import grad_shrinkage as G
from theory import symbols as S

#: CIFAR-10 has 50,000 training images (Krizhevsky 2009); seed 001 trains AlexNet on it with batch
#: sizes from 32 to 49,152 (Fig. 5 and Fig. 8 captions).
CIFAR10_TRAIN_SIZE = 50_000
PAPER_BATCH_SIZES = (32, 512, 2000, 8192, 49_152)
#: A population correction below 1 % of the standard deviation is invisible on the paper's log plots.
FINITE_POPULATION_TOLERANCE = 0.01
#: The ratio rules count as "the same" when they agree to this relative tolerance.
RULE_REL_TOL = 1e-9


def _same(a: sp.Expr, b: sp.Expr) -> bool:
    return sp.simplify(a - b) == 0


def _rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


# ---------------------------------------------------------------------------------- eq. 2-4


@claim(
    id="001.eq4-constant",
    seed="001",
    where="eq. 4 (and eq. 1-2)",
    kind="derivation",
    statement="For the batch mean g_i of n i.i.d. N(0, σ) per-sample gradients, E|g_i| = 2σ/√(πn).",
    paper_value="2σ/√(πn) ≈ 1.128σ/√n",
    expect="refuted",
)
def check_eq4_constant() -> Outcome:
    ours = G.expected_abs_mean_expr().subs(S.mu, 0)
    paper = G.paper_expected_abs_mean_expr()
    ratio = sp.simplify(paper / ours)
    # The readings that could make the printed constant right, each integrated by theory:
    difference_reading = G.expected_abs_difference_of_means_expr()
    # Eq. 2's N(0, σ/√n) with the second argument a variance: one draw of standard deviation √(σ/√n).
    variance_reading = ours.subs({S.sigma: sp.sqrt(S.sigma / sp.sqrt(S.n)), S.n: 1}, simultaneous=True)
    rescued_by_double_variance = _same(ours.subs(S.sigma, sp.sqrt(2) * S.sigma), paper)
    rescued_by_difference = _same(difference_reading, paper)
    rescued_by_variance = _same(variance_reading, paper)
    verdict = judge.holds(_same(ratio, 1))
    return Outcome(
        ours="σ·√(2/(πn)) ≈ 0.798σ/√n",
        verdict=verdict,
        evidence=(
            f"sympy integrates ∫|g| φ(g; 0, σ²/n) dg = {sp.simplify(ours)}; paper/ours = {ratio} "
            f"(≈{float(ratio):.4f}). Readings tried: E|ḡ₁-ḡ₂| of two independent batch means = "
            f"{difference_reading} (rescues the constant: {rescued_by_difference}); eq. 2's second "
            f"argument as a variance gives {sp.simplify(variance_reading)} (rescues: {rescued_by_variance}, "
            f"and scales as n^(-1/4)); per-sample variance 2σ² instead of σ² rescues it: "
            f"{rescued_by_double_variance}. The printed value is also 2s/√(2π) with the √2 of √(2π) dropped."
        ),
        corrected=(
            "E|ḡ| = σ√(2/(πn)); the printed 2σ/√(πn) is E|ḡ₁ - ḡ₂| for two independent batch means "
            "(equivalently E|ḡ| with per-sample variance 2σ²), a reading the paper does not define"
        ),
        numbers={
            "paper_over_ours": float(ratio),
            "difference_reading_matches": rescued_by_difference,
            "variance_reading_matches": rescued_by_variance,
            "double_variance_reading_matches": rescued_by_double_variance,
        },
    )


@claim(
    id="001.eq3-density",
    seed="001",
    where="eq. 3",
    kind="derivation",
    statement="The density of g_i ~ N(0, σ/√n) is f(g) = √n/(σ√(2π)) exp(-½ (g/(σ√n))²).",
    paper_value="√n/(σ√(2π))·exp(-½(g/(σ√n))²)",
    expect="refuted",
)
def check_eq3_density() -> Outcome:
    g = sp.Symbol("g", real=True)
    mass = sp.simplify(sp.integrate(G.paper_density_expr(), (g, -sp.oo, sp.oo)))
    verdict = judge.holds(_same(mass, 1))
    return Outcome(
        ours="not a density: it integrates to n",
        verdict=verdict,
        evidence=(
            f"sympy: ∫ f dg = {mass}. The prefactor √n/(σ√(2π)) is that of standard deviation σ/√n, the "
            "exponent that of standard deviation σ√n; normalised, the exponent alone would describe "
            "N(0, nσ²), whose E|g| = σ√(2n/π) grows with n."
        ),
        corrected="f(g) = √n/(σ√(2π)) · exp(-n g²/(2σ²)), the N(0, σ²/n) density",
        numbers={"total_mass": str(mass)},
    )


@claim(
    id="001.eq4-scaling",
    seed="001",
    where="eq. 4, Sec. 2.1, Fig. 3",
    kind="derivation",
    statement="The mean absolute batch gradient shrinks as 1/√n with batch size n (μ = 0).",
    paper_value="E|g_i| ∝ n^(-1/2)",
    expect="confirmed",
)
def check_eq4_scaling() -> Outcome:
    ours = G.expected_abs_mean_expr().subs(S.mu, 0)
    exponent = sp.simplify(S.n * sp.diff(ours, S.n) / ours)  # d log E|ḡ| / d log n
    verdict = judge.holds(_same(exponent, sp.Rational(-1, 2)))
    return Outcome(
        ours=f"d log E|ḡ| / d log n = {exponent}",
        verdict=verdict,
        evidence=(
            "sympy differentiates the folded-normal mean at μ = 0 exactly; the exponent is -1/2 at every n. "
            "Only the constant in front is wrong (see 001.eq4-constant); with μ ≠ 0 see 001.large-batch-limit."
        ),
        corrected="" if verdict == "confirmed" else f"exponent {exponent}",
        numbers={"log_log_slope": str(exponent)},
    )


@claim(
    id="001.large-batch-limit",
    seed="001",
    where="Sec. 2.1 and eq. 28",
    kind="derivation",
    statement="As n grows the batch gradient falls to zero, so very large batches leave every parameter "
    "at its minimum.",
    paper_value="E|g_i| → 0 as n → ∞",
    expect="partly",
)
def check_large_batch_limit() -> Outcome:
    expr = G.expected_abs_mean_expr()
    # erf(μ·∞) is sign(μ), so sympy needs the sign of μ: take the limit for μ > 0, μ < 0 and μ = 0.
    magnitude = sp.Symbol("m", positive=True)
    limits = {sign: sp.limit(expr.subs(S.mu, sign * magnitude), S.n, sp.oo) for sign in (1, -1)}
    limit_at_zero = sp.limit(expr.subs(S.mu, 0), S.n, sp.oo)
    limit_is_abs_mu = all(_same(value, magnitude) for value in limits.values())
    vanishes_for_every_mu = all(_same(value, 0) for value in limits.values())
    verdict = judge.graded(vanishes_for_every_mu, limit_at_zero == 0)
    limit = "|μ|" if limit_is_abs_mu else str(limits)
    return Outcome(
        ours=f"E|ḡ| → {limit}",
        verdict=verdict,
        evidence=(
            "sympy: lim_{n→∞} of the folded-normal mean with per-sample mean μ is |μ|, the magnitude of "
            "the full-batch gradient. The shrinkage to 0 is the assumption μ = 0 of eq. 1 (a parameter "
            "already at a stationary point of the full loss), not a consequence of large batches."
        ),
        corrected="E|ḡ| → |μ| (the full-batch gradient); it vanishes only where the full gradient does",
        numbers={"limit": limit, "limit_at_zero_mean": str(limit_at_zero)},
    )


@claim(
    id="001.finite-population",
    seed="001",
    where="eq. 2, Fig. 3-5 (batch sizes 32-49152 on CIFAR-10)",
    kind="derivation",
    statement="The batch gradient of n samples has standard deviation σ/√n at every batch size used.",
    paper_value="Var(g_i) = σ²/n",
    expect="partly",
)
def check_finite_population() -> Outcome:
    derived = G.batch_mean_variance_finite_expr()
    textbook = S.sigma**2 / S.n * (S.N - S.n) / (S.N - 1)
    factors = {
        n: float(np.sqrt(G.batch_mean_variance(1.0, n, CIFAR10_TRAIN_SIZE) / G.batch_mean_variance(1.0, n)))
        for n in PAPER_BATCH_SIZES
    }
    # the claim is "at every batch size used": confirmed if the i.i.d. form holds (within the tolerance) at all
    # of them, partly at some, refuted at none
    verdict = judge.all_or_some([1.0 - f < FINITE_POPULATION_TOLERANCE for f in factors.values()])
    listing = ", ".join(f"n={n}: {f:.3f}" for n, f in factors.items())
    return Outcome(
        ours="std σ/√n · √((N-n)/(N-1)) without replacement",
        verdict=verdict,
        evidence=(
            f"indicator-covariance derivation gives {derived} (equal to σ²/n·(N-n)/(N-1): "
            f"{_same(derived, textbook)}); exhaustive enumeration in the tests agrees. With N = "
            f"{CIFAR10_TRAIN_SIZE}, std(finite)/std(i.i.d.) is {listing}; tolerance "
            f"{FINITE_POPULATION_TOLERANCE:.0%}."
        ),
        corrected=""
        if verdict == "confirmed"
        else (
            "σ/√n holds for i.i.d. draws or n ≪ N; an epoch sampler (without replacement) gives "
            f"σ/√n·√((N-n)/(N-1)), {1 / min(factors.values()):.1f}x smaller at n = "
            f"{min(factors, key=factors.get)} of {CIFAR10_TRAIN_SIZE} and 0 at n = N; within "
            f"{FINITE_POPULATION_TOLERANCE:.0%} of σ/√n only at n ∈ "
            f"{[n for n, f in factors.items() if 1.0 - f < FINITE_POPULATION_TOLERANCE] or 'none'}"
        ),
        numbers={"std_ratio_finite_over_iid": factors},
    )


# ---------------------------------------------------------------------------------- eq. 5-8, 25-28


@claim(
    id="001.eq6-parameter-stride",
    seed="001",
    where="eq. 5-6",
    kind="derivation",
    statement="The average parameter update step is E|Δw_i| = lr(n)·2σ/√(πn).",
    paper_value="2σ·lr/√(πn)",
    expect="refuted",
)
def check_eq6_parameter_stride() -> Outcome:
    lr, sigma, n = 0.1, 1.0, 256.0
    ours, paper = G.parameter_stride(lr, sigma, n), G.paper_parameter_stride(lr, sigma, n)
    ratio = paper / ours
    verdict = judge.holds(abs(ratio - 1) < 1e-9)
    return Outcome(
        ours="lr·σ·√(2/(πn))",
        verdict=verdict,
        evidence=(
            f"E|Δw| = lr·E|ḡ| (eq. 5, linearity); at lr={lr}, σ={sigma}, n={n:.0f}: ours {ours:.6g}, "
            f"paper {paper:.6g}, ratio {ratio:.6f} = √2 inherited from eq. 4. The lr/√n scaling is right."
        ),
        corrected="E|Δw_i| = lr(n)·σ·√(2/(πn))",
        numbers={"ours": ours, "paper": paper, "ratio": ratio},
    )


@claim(
    id="001.eq8-loss-stride",
    seed="001",
    where="eq. 7-8",
    kind="derivation",
    statement="The average loss decrement per step is E(ΔL_i) = σ²·lr(n)/n.",
    paper_value="σ²·lr/n",
    expect="confirmed",
)
def check_eq8_loss_stride() -> Outcome:
    lr = sp.Symbol("lr", positive=True)
    ours = lr * G.expected_sq_mean_expr().subs(S.mu, 0)
    paper = S.sigma**2 * lr / S.n
    verdict = judge.holds(_same(ours, paper))
    exact = G.loss_stride_on_parabola(0.1, 1.0, 256, a=1.0)
    first_order = G.loss_stride(0.1, 1.0, 256)
    return Outcome(
        ours="lr·E ḡ² = lr(μ² + σ²/n) → σ²·lr/n at μ = 0",
        verdict=verdict,
        evidence=(
            f"sympy: lr·∫g² φ(g; 0, σ²/n) dg = {sp.simplify(ours)}. Eq. 7 is the first-order change; on "
            f"the parabola of eq. 12 the exact decrease is lr(1 - a·lr)σ²/n (e.g. a=1, lr=0.1, σ=1, "
            f"n=256: {exact:.6g} vs {first_order:.6g}), and E ḡ² carries μ² when μ ≠ 0."
        ),
        corrected="" if verdict == "confirmed" else f"E ΔL = {ours}",
        numbers={"exact_parabola": exact, "first_order": first_order},
    )


@claim(
    id="001.eq28-distance",
    seed="001",
    where="eq. 25-28",
    kind="derivation",
    statement="A parameter's mean distance to its nearest minimum is E|d_i| = σ/(a√(πn)).",
    paper_value="σ/(a√(πn))",
    expect="refuted",
)
def check_eq28_distance() -> Outcome:
    w, b, c, a = sp.symbols("w b c a", real=True)
    loss = a * (w - b) ** 2 + c
    eq26_holds = _same(w - b, sp.diff(loss, w) / (2 * a))
    sigma, n, a_value = 1.0, 256.0, 2.0
    ours, paper = G.distance_to_minimum(sigma, n, a_value), G.paper_distance_to_minimum(sigma, n, a_value)
    ratio = paper / ours
    verdict = judge.holds(abs(ratio - 1) < 1e-9)
    return Outcome(
        ours="σ/(a√(2πn))",
        verdict=verdict,
        evidence=(
            f"eq. 26 d = g/(2a) holds on the parabola (sympy: {eq26_holds}); E|d| = E|ḡ|/(2a). At σ={sigma}, "
            f"n={n:.0f}, a={a_value}: ours {ours:.6g}, paper {paper:.6g}, ratio {ratio:.6f} (√2, from eq. 4)."
        ),
        corrected="E|d_i| = σ/(a√(2πn)); like E|ḡ| it tends to |μ|/(2a), not 0, when μ ≠ 0",
        numbers={"ours": ours, "paper": paper, "ratio": ratio, "eq26_holds": eq26_holds},
    )


# ---------------------------------------------------------------------------------- eq. 9-24


@claim(
    id="001.eq16-parabola-radius",
    seed="001",
    where="eq. 9 and 12-16",
    kind="derivation",
    statement="On the parabola L = a(w-b)² + c the curvature radius (eq. 9) is |(w-b)(1+g²)^{3/2}/g|.",
    paper_value="R = |(w-b)(1+g²)^{3/2}/g|",
    expect="confirmed",
)
def check_eq16_parabola_radius() -> Outcome:
    steps = C.parabola_radius_exprs()
    general = C.curvature_radius_expr()
    eq9_ok = _same(
        general,
        (1 + sp.Derivative(sp.Function("L")(C.w), C.w) ** 2) ** sp.Rational(3, 2)
        / sp.Abs(sp.Derivative(sp.Function("L")(C.w), (C.w, 2))),
    )
    eq16_ok = _same(steps["exact"], steps["eq16"])
    verdict = judge.holds(eq9_ok and eq16_ok)
    return Outcome(
        ours="R = (1 + 4a²(w-b)²)^{3/2} / (2a) = eq. 16",
        verdict=verdict,
        evidence=(
            f"R = 1/κ with κ = |dφ/ds|, φ = atan L': eq. 9 reproduced ({eq9_ok}); substituting "
            f"g = 2a(w-b) into eq. 16 gives eq. 9 on the parabola ({eq16_ok}). The tests check eq. 9 against "
            "the circle through three nearby points."
        ),
        corrected="" if verdict == "confirmed" else "R = (1 + 4a²(w-b)²)^{3/2}/(2a)",
    )


@claim(
    id="001.eq17-ratio",
    seed="001",
    where="eq. 16-17",
    kind="derivation",
    statement="With b_i = 0 and (dL/dw)² ≪ 1 the curvature radius reduces to R_i ≈ |w_i/g_i|.",
    paper_value="R_i ≈ |w_i / g_i|",
    expect="confirmed",
)
def check_eq17_ratio() -> Outcome:
    steps = C.parabola_radius_exprs()
    b, g = sp.Symbol("b", real=True), sp.Symbol("g", real=True)
    at_b0 = sp.simplify(steps["eq17"].subs(b, 0) - steps["vertex"])
    dropped_factor = (1 + g**2) ** sp.Rational(3, 2)
    small_slope_limit = sp.limit(dropped_factor, g, 0)
    verdict = judge.holds(at_b0 == 0 and small_slope_limit == 1)
    error_at = {s: float(dropped_factor.subs(g, s)) - 1 for s in (0.1, 0.3, 1.0)}
    return Outcome(
        ours="|w/g| = 1/(2a) = 1/|L''| when b = 0",
        verdict=verdict,
        evidence=(
            "sympy: with b = 0, |w/g| on the parabola is 1/(2a), the radius at the vertex; the exact "
            f"radius is (1+g²)^(3/2) times it, relative error {error_at[0.1]:.3%} at |g|=0.1, "
            f"{error_at[0.3]:.1%} at 0.3, {error_at[1.0]:.0%} at 1. With b ≠ 0 the ratio is off by |w/(w-b)|. "
            "So eq. 17 is the secant estimate of 1/L'': η = γ|w/g| is a diagonal Newton step."
        ),
        corrected="",
        numbers={"relative_error_by_slope": error_at},
    )


@claim(
    id="001.eq20-median",
    seed="001",
    where="eq. 20-22",
    kind="derivation",
    statement="The median of the R_i of a group is |w_m / g_m| with w_m, g_m the medians of the "
    "parameters and gradients (β w_m added for weight decay).",
    paper_value="R_m ≈ |w_m / (g_m + β w_m)|",
    expect="partly",
)
def check_eq20_median() -> Outcome:
    constant_w, constant_g = np.array([0.5, -1.0, 1.5]), np.array([1.0, 2.0, -3.0])  # R_i = 1/2 for all i
    varying_w, varying_g = np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0])  # R_i = 1/3, 2, 3/2
    equal_when_constant = (
        _rel_diff(
            C.median_curvature_radius(constant_w, constant_g),
            C.paper_median_curvature_radius(constant_w, constant_g),
        )
        < RULE_REL_TOL
    )
    median_of_ratios = C.median_curvature_radius(varying_w, varying_g)
    ratio_of_medians = C.paper_median_curvature_radius(varying_w, varying_g)
    equal_in_general = _rel_diff(median_of_ratios, ratio_of_medians) < RULE_REL_TOL
    centred = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    signed = C.paper_median_curvature_radius(centred, np.full(5, 0.1), magnitudes=False)
    verdict = judge.graded(equal_when_constant and equal_in_general, equal_when_constant)
    return Outcome(
        ours="median(|w/g|) ≠ median|w| / median|g| in general",
        verdict=verdict,
        evidence=(
            f"equal when R_i is constant over the layer ({equal_when_constant}); for w=(1,2,3), g=(3,1,2) the "
            f"median of ratios is {median_of_ratios:g} but the ratio of medians {ratio_of_medians:g}. For "
            "independent centred normal w and g both tend to σ_w/σ_g (|w/g| is σ_w/σ_g times a Cauchy "
            f"magnitude, median 1). Signed medians as printed give {signed:g} for centred weights (eq. 18)."
        ),
        corrected=(
            "use the median of the per-element ratios |w_i/(g_i + β w_i)|; the ratio of medians (of "
            "magnitudes) agrees only for constant ratios or independent centred normal w and g"
        ),
        numbers={
            "median_of_ratios": median_of_ratios,
            "ratio_of_medians": ratio_of_medians,
            "signed_medians": signed,
        },
    )


@claim(
    id="001.eq23-24-lars-percentdelta",
    seed="001",
    where="eq. 17, 23-24, Sec. 4.3",
    kind="derivation",
    statement="LARS (eq. 23) and PercentDelta (eq. 24) are statistics of the same curvature ratio |w_i/g_i|.",
    paper_value="‖w‖/‖g‖ and size(w)/‖g/w‖₁ as 'transformers' of eq. 17",
    expect="confirmed",
)
def check_lars_percent_delta() -> Outcome:
    identities = {name: _same(*pair) for name, pair in C.ratio_statistic_identities().items()}
    varying_w, varying_g = np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0])
    values = {
        rule: C.layer_rate_statistic(varying_w, varying_g, rule)
        for rule in ("lars", "percent_delta", "median")
    }
    constant = {rule: C.layer_rate_statistic(2.0 * varying_g, varying_g, rule) for rule in values}
    agree_when_constant = all(abs(v - 2.0) < RULE_REL_TOL * 2.0 for v in constant.values())
    verdict = judge.holds(all(identities.values()) and agree_when_constant)
    listing = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
    return Outcome(
        ours="LARS = √(Σg²R²/Σg²), PercentDelta = harmonic mean of R",
        verdict=verdict,
        evidence=(
            f"sympy identities with R_i = w_i/g_i: {identities}; LARS with weight decay is x/(1+βx) of LARS, "
            "the same map eq. 22 applies per element (for g_i w_i > 0). All rules give c when R_i = c for "
            f"every element ({agree_when_constant}); they are different statistics otherwise: R = (1/3, 2, 3/2) "
            f"gives {listing}."
        ),
        corrected="",
        numbers={"identities": identities, "varying_ratio_values": values},
    )


@claim(
    id="001.sec43-failure-conditions",
    seed="001",
    where="Sec. 4.3 with eq. 18-19",
    kind="derivation",
    statement="LARS and PercentDelta share the failure conditions of eq. 17: w_i → 0 (eq. 18) and "
    "dL/dw_i → 0 (eq. 19).",
    paper_value="same failure conditions as eq. 17",
    expect="partly",
)
def check_failure_conditions() -> Outcome:
    w_values = np.array([0.0, 1.0, -2.0, 0.5])
    grad = np.array([0.3, -0.1, 0.2, 0.4])
    one_zero_weight = {
        "lars": C.lars_trust_ratio(w_values, grad),
        "percent_delta": C.percent_delta_ratio(w_values, grad),
    }
    nonzero_w = np.array([1.0, 1.0, -2.0, 0.5])
    grad_with_a_zero = np.array([0.0, -0.1, 0.2, 0.4])
    one_zero_grad = {
        "lars": C.lars_trust_ratio(nonzero_w, grad_with_a_zero),
        "percent_delta": C.percent_delta_ratio(nonzero_w, grad_with_a_zero),
    }
    whole_layer = {
        "lars": C.lars_trust_ratio(nonzero_w, np.zeros(4)),
        "percent_delta": C.percent_delta_ratio(nonzero_w, np.zeros(4)),
    }
    pd_fails_on_one_weight = one_zero_weight["percent_delta"] == 0.0
    lars_survives_one_weight = 0.0 < one_zero_weight["lars"] < np.inf
    both_fail_whole_layer = all(np.isinf(v) for v in whole_layer.values())
    one_grad_harmless = all(0.0 < v < np.inf for v in one_zero_grad.values())
    same = pd_fails_on_one_weight == (not lars_survives_one_weight)
    verdict = judge.graded(same, both_fail_whole_layer and one_grad_harmless)
    return Outcome(
        ours="LARS fails only layer-wide; PercentDelta fails on a single w_i = 0",
        verdict=verdict,
        evidence=(
            f"one zero weight: LARS {one_zero_weight['lars']:.4g}, PercentDelta "
            f"{one_zero_weight['percent_delta']:g} (the harmonic mean is 0 as soon as one R_i is 0). "
            f"A single zero gradient leaves both finite (LARS {one_zero_grad['lars']:.4g}, PercentDelta "
            f"{one_zero_grad['percent_delta']:.4g}). "
            f"An all-zero layer gradient gives {whole_layer} (eq. 19 for the layer)."
        ),
        corrected=(
            "eq. 18-19 hit LARS only when the whole layer's ‖w‖ or ‖g‖ vanishes; PercentDelta collapses "
            "to 0 when any single w_i = 0 and is infinite only when the whole gradient is 0"
        ),
        numbers={"one_zero_weight": one_zero_weight, "whole_layer_zero_grad": whole_layer},
    )

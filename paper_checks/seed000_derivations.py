"""Seed 000 (BA-SGD / BA-Momentum): the walk with rebound, the utility and m*, and the momentum moments, derived.

Every verdict below is computed: a sympy identity is proved (or shown non-zero), or a sign is established on a
grid with its tails taken as symbolic limits. All checks use :mod:`theory.rebound_walk` and
:mod:`theory.ba_momentum`; the Monte-Carlo side lives in ``seed000_simulations.py``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from paper_checks import judge
from paper_checks.registry import Outcome, claim
from theory import ba_momentum as bm
from theory import rebound_walk as rw
from theory._numeric import lambdify
from theory.symbols import eta, m, mu, s, s_star, sigma

# A late-training state (loss 0.05, S* = 0, mu = 1, sigma = 20): at eta = 0.02 eq. 7-9 give m* = 113 (the paper's
# public code, GitHub thomasyao3096/Batch_Adaptive_Framework, divides sigma^2 again by m_alpha and gets 4).
EXAMPLE = {"s": 0.05, "mu": 1.0, "sigma": 20.0}
PAPER_RATES = (0.005, 0.01, 0.02, 0.05)  # Sec. 4.3: the four learning rates of Fig. 4
A_GRID = np.linspace(-12.0, 12.0, 24001)


def _pdf(z: sp.Expr) -> sp.Expr:
    return sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)


def _cdf(z: sp.Expr) -> sp.Expr:
    return (1 + sp.erf(z / sp.sqrt(2))) / 2


def _vanishes(expr: sp.Expr) -> bool:
    # expand settles most identities at once; simplify is the slower fallback.
    expr = expr.rewrite(sp.erf)
    return sp.expand(expr) == 0 or sp.simplify(expr) == 0


def _verdict(ok: bool, partial: bool = False) -> str:
    return judge.graded(ok, partial)


@claim(
    id="000.eq7-expected-next-state",
    seed="000",
    where="Sec. 2.2, eq. 7",
    kind="derivation",
    statement="The expected next state of the Gaussian walk with rebound is "
    "(s-S*-ημ){Φ(a)-Φ(-a)} + ησ√(2/(mπ)) e^{-a²/2} + S*, a = (s-S*-ημ)√m/(ησ).",
    paper_value="(s-S*-ημ){Φ(a)-Φ(-a)} + ησ√(2/(mπ))e^{-a²/2} + S*",
    expect="confirmed",
)
def check_expected_next_state() -> Outcome:
    derived = rw.expected_next_state_expr()
    identical = _vanishes(derived - rw.expected_next_state_paper_expr())
    paper_fn = lambdify((s, s_star, mu, sigma, m, eta), rw.expected_next_state_paper_expr())
    # Independent spot check at the paper's Fig. 4 rates: S* = 0, m = 32 (the paper's m0).
    values = [rw.expected_next_state(m=32, eta=rate, **EXAMPLE) for rate in PAPER_RATES]
    printed = [
        float(paper_fn(EXAMPLE["s"], 0.0, EXAMPLE["mu"], EXAMPLE["sigma"], 32, rate)) for rate in PAPER_RATES
    ]
    agree = np.allclose(values, printed, rtol=1e-12, atol=0)
    return Outcome(
        ours="∫|s-S*-ηx|+S* dN(μ,σ²/m) = the printed form",
        verdict=_verdict(identical and agree),
        evidence="sympy integrates the folded normal E|ν-τZ| (ν = s-S*-ημ, τ = ησ/√m) to "
        "ν·erf(ν/(√2τ)) + τ√(2/π)e^{-ν²/2τ²}; minus the printed eq. 7 simplifies to 0 "
        f"(identity {'proved' if identical else 'FAILED'}); numeric agreement at η ∈ {PAPER_RATES}, "
        f"s = 0.05, μ = 1, σ = 20, m = 32 to 1e-12 ({'yes' if agree else 'no'}).",
        corrected="" if identical and agree else "see evidence",
        numbers={"E_m32": dict(zip(map(str, PAPER_RATES), values, strict=True))},
    )


@claim(
    id="000.eq8-9-unimodal-utility",
    seed="000",
    where="eqs. 8-9 and App. C",
    kind="derivation",
    statement="m* = argmax_m u(m, s_t) with u = (s_t - E_m[s_{t+1}])/m, found by a binary search "
    "(App. C), which presumes u has a single peak.",
    paper_value="m* by binary search on u(m)",
    expect="confirmed",
)
def check_unimodal_utility() -> Outcome:
    numerator = rw.utility_derivative_numerator_expr()
    a = rw.nu / rw.tau
    derivative_ok = _vanishes(sp.diff(rw.utility_expr(), m) - rw.utility_derivative_expr())
    monotone_ok = _vanishes(sp.diff(numerator, rw.tau) - _pdf(a) * (3 + a**2))
    m_star = rw.optimal_batch_size(**EXAMPLE, eta=0.02)
    m_int = rw.optimal_batch_size_int(**EXAMPLE, eta=0.02)
    return Outcome(
        ours=f"m²u' = N, dN/dτ = φ(a)(3+a²) > 0: unimodal; m* = {m_star:.2f} (int {m_int})",
        verdict=_verdict(derivative_ok and monotone_ok),
        evidence="du/dm = [3τφ(a) + ν(2Φ(a)-1) - (s-S*)]/m² (sympy: equals the raw derivative "
        f"{'yes' if derivative_ok else 'no'}); its numerator rises strictly in τ = ησ/√m, hence falls "
        f"strictly in m (sympy: {'yes' if monotone_ok else 'no'}), so du/dm changes sign at most once and "
        "bisection on its sign finds the global maximiser. Example s=0.05, μ=1, σ=20, η=0.02, S*=0: "
        f"m* = {m_star:.3f}, best integer {m_int} (the eq. 7-9 optimum of this state is 113).",
        corrected="" if derivative_ok and monotone_ok else "see evidence",
        numbers={"m_star": m_star, "m_star_int": m_int},
    )


@claim(
    id="000.eq9-m-star-exists",
    seed="000",
    where="eq. 9 and Algorithm 1 line 11",
    kind="derivation",
    statement="Eq. 9 gives the best batch size m* = argmax_m u(m, s_t) for the next iteration.",
    paper_value="a finite m* for every state",
    expect="partly",
)
def check_m_star_exists() -> Outcome:
    q = sp.Symbol("q", positive=True)
    numerator = rw.utility_derivative_numerator_expr()
    # lim_{tau -> 0+} N = |nu| - d on both sides of the floor: u has a peak iff this limit is negative.
    limit_ok = all(
        sp.simplify(sp.limit(numerator.subs(rw.nu, sign * q), rw.tau, 0, "+") - (q - rw.d_sym)) == 0
        for sign in (1, -1)
    )
    rates = np.array([0.05, 0.099, 0.1, 0.2])
    unbounded = [bool(rw.utility_increases_forever(eta=rate, **EXAMPLE)) for rate in rates]
    finite_everywhere = not any(unbounded)
    return Outcome(
        ours="m* finite iff μ > 0 and ημ < 2(s-S*)",
        verdict=_verdict(finite_everywhere, partial=limit_ok),
        evidence="m²du/dm = N falls strictly in m to the limit |s-S*-ημ| - (s-S*); when that limit is ≥ 0 "
        "(μ ≤ 0, or ημ ≥ 2(s-S*): the noiseless step lands at least as high as it started) u < 0 rises "
        f"towards 0 for ever and has no maximiser (sympy: lim_(τ→0) N = |ν| - (s-S*): {limit_ok}). "
        f"s = 0.05, μ = 1, σ = 20, S* = 0: u unbounded-increasing at η = {rates.tolist()}: {unbounded}. "
        "Algorithm 1's min{m*, |X|} then uses the whole data set.",
        corrected="m* = argmax u exists iff μ > 0 and ημ < 2(s - S*); otherwise u increases towards 0 and the "
        "batch is capped only by |X| (Algorithm 1, line 11)",
        numbers={"rates": rates.tolist(), "unbounded": unbounded},
    )


@claim(
    id="000.sec4.3-larger-eta-larger-batch",
    seed="000",
    where="Sec. 4.3, Fig. 4b",
    kind="derivation",
    statement="The higher the learning rate, the larger the batch BA-Momentum chooses, to counteract the "
    "larger uncertainty of the update.",
    paper_value="batch size grows with η",
    expect="confirmed",
)
def check_larger_eta_larger_batch() -> Outcome:
    h_expr = rw.step_size_sensitivity_expr()
    h_min = float(np.min(lambdify((rw.a_sym,), h_expr)(A_GRID)))
    a = rw.a_sym
    left_tail = sp.limit(h_expr / (-a), a, -sp.oo)  # h ~ -2a: positive for a -> -inf
    right_tail = sp.limit(h_expr / _pdf(a), a, sp.oo)  # h/phi -> +inf: positive for a -> +inf
    tails_ok = left_tail == 2 and right_tail == sp.oo
    m_stars = [rw.optimal_batch_size(**EXAMPLE, eta=eta) for eta in PAPER_RATES]
    monotone = bool(np.all(np.diff(m_stars) > 0))
    ok = h_min > 0 and tails_ok and monotone
    return Outcome(
        ours="dm*/dη > 0 at every interior optimum; m* = 1 below a threshold η, ∞ once ημ ≥ 2(s-S*)",
        verdict=_verdict(ok),
        evidence="Implicit differentiation of N(m*) = 0 gives sign(dm*/dη) = sign h(a), "
        "h = φ(3+a²) - (3φ - 2aΦ(-a))(2Φ(a)-1-aφ); min h on a ∈ [-12, 12] = "
        f"{h_min:.3e} > 0, tails h ~ -2a (a→-∞) and h/φ → ∞ (a→+∞) by sympy limits ({tails_ok}). "
        f"At the paper's rates η = {PAPER_RATES} (s = 0.05, μ = 1, σ = 20, S* = 0): m* = "
        + ", ".join(f"{v:.1f}" for v in m_stars)
        + ". Within the walk model, at a fixed state.",
        corrected="" if ok else "see evidence",
        numbers={
            "h_min": h_min,
            "m_star_at_paper_rates": dict(zip(map(str, PAPER_RATES), m_stars, strict=True)),
        },
    )


@claim(
    id="000.sec4.2-batch-grows-late",
    seed="000",
    where="Sec. 4.2, Fig. 3",
    kind="derivation",
    statement="BA methods keep a small batch early and enlarge it in later training, because the noise "
    "matters more as the loss approaches its minimum.",
    paper_value="m* grows as s_t → S*",
    expect="confirmed",
)
def check_batch_grows_late() -> Outcome:
    a = rw.a_sym
    # dN/ds = -q(a) with q = 2Phi(-a) + a phi(a); q' = -phi(1 + a^2) < 0 and q(+inf) = 0, so q > 0 everywhere.
    q = 2 * _cdf(-a) + a * _pdf(a)
    slope_ok = _vanishes(sp.diff(q, a) + _pdf(a) * (1 + a**2))
    limit_ok = sp.limit(q, a, sp.oo) == 0
    states = np.array([1.0, 0.3, 0.1, 0.05, 0.03])
    m_stars = rw.optimal_batch_size(s=states, mu=EXAMPLE["mu"], sigma=EXAMPLE["sigma"], eta=0.02)
    monotone = bool(np.all(np.diff(m_stars) >= 0))
    ok = slope_ok and limit_ok and monotone
    return Outcome(
        ours="dm*/ds < 0 for every interior optimum (μ, σ, η fixed)",
        verdict=_verdict(ok),
        evidence="∂N/∂s = -(2Φ(-a) + aφ(a)) < 0 (sympy: derivative -φ(1+a²), limit 0 at +∞: "
        f"{slope_ok and limit_ok}) and ∂N/∂m < 0, so m* falls as s - S* grows. η = 0.02, μ = 1, σ = 20, "
        f"S* = 0, s = {states.tolist()}: m* = "
        + ", ".join(f"{v:.1f}" for v in m_stars)
        + ". In training μ = |f|² and σ² = fᵀΣf also change; the model's own mechanism is what is shown.",
        corrected="" if ok else "see evidence",
        numbers={"states": states.tolist(), "m_star": np.asarray(m_stars).tolist()},
    )


@claim(
    id="000.eq12-momentum-closed-form",
    seed="000",
    where="Sec. 3.1, eqs. 11-12 and eq. 14",
    kind="derivation",
    statement="The momentum recurrence m_t = ρm_{t-1} + ηf_t unrolls to m_t = η Σ_{τ≤t} ρ^{t-τ} f_τ "
    "(and P_t = g_t + ρP_{t-1} likewise).",
    paper_value="m_t = η Σ_{τ=0}^{t} ρ^{t-τ} f_τ",
    expect="confirmed",
)
def check_momentum_closed_form() -> Outcome:
    induction_ok = bm.closed_form_step_identity() == 0
    steps = 5
    unrolled_ok = all(
        sp.expand(r - c) == 0
        for r, c in zip(bm.buffer_recurrence_exprs(steps), bm.buffer_closed_form_exprs(steps), strict=True)
    )
    grads = np.random.default_rng(0).normal(size=(40, 3))
    gap = float(
        np.max(np.abs(bm.momentum_buffer_recurrence(grads, 0.9) - bm.momentum_buffer_closed_form(grads, 0.9)))
    )
    ok = induction_ok and unrolled_ok and gap < 1e-12
    return Outcome(
        ours="closed form = recurrence (symbolic t)",
        verdict=_verdict(ok),
        evidence=f"sympy: P_t - ρP_{{t-1}} - g_t = 0 for symbolic t ≥ 1 ({induction_ok}), P_0 = g_0; unrolled "
        f"t = 0..{steps} agree ({unrolled_ok}); 40 steps of Gaussian gradients (d = 3, ρ = 0.9, seed 0): "
        f"max difference {gap:.1e}.",
        corrected="" if ok else "see evidence",
    )


@claim(
    id="000.eq15-16-momentum-moments",
    seed="000",
    where="Sec. 3.2, eqs. 13-16",
    kind="derivation",
    statement="With earlier batches fixed, μ_{P_t} = ρμ_{P_{t-1}} + f_t (eq. 15), Σ_{P_t} = Σ_t/|Y_t| (eq. 16), "
    "so ΔF_t ~ N(-η fᵀμ_{P_t}, η² fᵀΣ_{P_t} f).",
    paper_value="μ_P = ρμ_{P,t-1} + f_t; Σ_P = Σ_t/|Y_t|",
    expect="partly",
)
def check_momentum_moments() -> Outcome:
    mean, var_per_sample = bm.momentum_decrease_moments_expr(2)
    f = sp.Matrix(sp.symbols("f0:2", real=True))
    p_prev = sp.Matrix(sp.symbols("P0:2", real=True))
    chol = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"L{i}{j}", real=True) if j <= i else 0)
    rho = sp.Symbol("rho", nonnegative=True)
    mean_ok = sp.expand(mean - eta * (f.T * (f + rho * p_prev))[0]) == 0
    variance_ok = sp.expand(var_per_sample - eta**2 * (f.T * chol * chol.T * f)[0]) == 0
    gap = bm.mean_recursion_gap_expr(2)
    printed_mean_exact = gap == 0
    ok = mean_ok and variance_ok and printed_mean_exact
    return Outcome(
        ours="Var right; eq. 15 exact only with the realised past buffer",
        verdict=_verdict(ok, partial=mean_ok and variance_ok),
        evidence="With g_t = f + Lz/√m, D = ηfᵀ(g_t + ρP_{t-1}) has mean ηfᵀ(f + ρP_{t-1}) "
        f"({mean_ok}) and variance η²fᵀΣf/m ({variance_ok}) by sympy. But eq. 15 iterated on the true "
        f"gradients misses the past noise the paper itself fixes: at t = 2 the gap is {gap} "
        "(e_τ = batch noise of step τ). Algorithm 1 line 8 feeds the batch estimates f̂_τ, which restores it.",
        corrected="E[P_t | past] = f_t + ρP_{t-1} with P_{t-1} = Σ_{τ<t} ρ^{t-1-τ} f̂_τ the realised buffer "
        "(not ρμ_{P_{t-1}} over true gradients); Var[P_t | past] = Σ_t/|Y_t| as printed",
    )


@claim(
    id="000.sec4.2-momentum-smaller-batches",
    seed="000",
    where="Sec. 4.2, Fig. 3",
    kind="derivation",
    statement="BA-SGD picks much larger batches than BA-Momentum, since momentum already reduces the "
    "uncertainty of updates by using previous updates.",
    paper_value="m*_momentum < m*_SGD",
    expect="partly",
)
def check_momentum_smaller_batches() -> Outcome:
    rho, rate = 0.9, 0.02
    f = np.array([0.6, 0.8])  # |f|^2 = 1: the example's mu for SGD
    cov = 400.0 * np.eye(2)  # f^T Sigma f = 400: the example's sigma = 20
    sigma_sgd = float(np.sqrt(f @ cov @ f))
    mu_mom, sigma_mom = bm.momentum_dice(f, cov, f / (1 - rho), rho)  # steady aligned buffer P = f/(1-rho)
    states = np.array([2.0, 0.5, 0.2, 0.1, 0.05])
    sgd = rw.optimal_batch_size(s=states, mu=float(f @ f), sigma=sigma_sgd, eta=rate)
    mom = rw.optimal_batch_size(s=states, mu=mu_mom, sigma=sigma_mom, eta=rate)
    smaller = mom <= sgd
    return Outcome(
        ours=f"smaller only far from S*: {int(smaller.sum())}/{len(states)} states",
        verdict=_verdict(bool(np.all(smaller)), partial=bool(np.any(smaller))),
        evidence=f"Same f, Σ, η = {rate}, ρ = {rho}, buffer in steady state P = f/(1-ρ): momentum's dice mean is "
        f"fᵀ(f+ρP) = {mu_mom:.1f} vs {float(f @ f):.1f} for SGD, same σ = {sigma_sgd:.1f}. s = "
        f"{states.tolist()}: m*_SGD = "
        + ", ".join(f"{v:.1f}" for v in sgd)
        + "; m*_Mom = "
        + ", ".join(f"{v:.1f}" for v in mom)
        + ". The larger mean step overshoots S* sooner, so near the "
        "floor the momentum walk wants larger (even unbounded) batches.",
        corrected="In the walk model momentum gives smaller m* only while η fᵀ(f+ρP) is small against s - S*; "
        "near the floor (η fᵀ(f+ρP) ≳ s - S*) it gives larger m*",
        numbers={"states": states.tolist(), "m_star_sgd": sgd.tolist(), "m_star_momentum": mom.tolist()},
    )

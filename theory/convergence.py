"""Convergence of adaptive-batch SGD on a strongly convex loss: the ABS bound (seed 003, Theorem 1, App. A).

Setting (seed 003, Assumption 2 and Theorem 1; the formulas were lost in the text extraction and are
derived here from the stated setting, following Bottou, Curtis & Nocedal 2018, Sec. 4):

1. ``L`` is differentiable and L-smooth: ‖∇L(θ₁) − ∇L(θ₂)‖ ≤ L‖θ₁ − θ₂‖.
2. ``L`` is c-strongly convex: L(θ₂) ≥ L(θ₁) + ∇L(θ₁)ᵀ(θ₂ − θ₁) + (c/2)‖θ₂ − θ₁‖², with minimum L* at θ*.
   Smoothness and strong convexity together force c ≤ L.
3. The per-sample stochastic gradient g_i is unbiased, E g_i = ∇L(θ), with second moment
   E‖g_i‖² ≤ M + M_G‖∇L(θ)‖², M ≥ 0. Since E‖g_i‖² ≥ ‖∇L‖² and ‖∇L‖ is unbounded on a strongly convex
   loss, M_G ≥ 1 necessarily. (This is the paper's M_G = M_V + 1, where M_V bounds the variance:
   Var(g_i) ≤ M + M_V‖∇L‖².)
4. Step t uses the mean g_B of b_t independent samples and the step size η_t = b_t·η₀ (linear scaling)
   with 0 < η₀ ≤ 1/(L·M_G·b_max), b_max = max_t b_t, so that η_t ≤ 1/(L·M_G) at every step.

Derivation (each step is checked with sympy in :func:`verify_derivation`):

* Batch second moment. With independent samples the cross terms give E g_iᵀg_j = ‖∇L‖² (i ≠ j), so
  E‖g_B‖² = ‖∇L‖² + (E‖g_i‖² − ‖∇L‖²)/b ≤ ‖∇L‖² + (M + (M_G − 1)‖∇L‖²)/b ≤ M/b + M_G‖∇L‖².
  The last step drops (M_G − 1)(1 − 1/b)‖∇L‖² ≥ 0. M_G is therefore the *per-sample* constant, and
  it also bounds the batch: the noise term shrinks as M/b while the M_G term does not, which is what
  makes the step-size condition η_t ≤ 1/(L·M_G) independent of b_t.
* Descent lemma (L-smoothness): E L(θ_{t+1}) − L(θ_t) ≤ −η_t‖∇L‖² + (L·η_t²/2)·E‖g_B‖²
  ≤ −η_t(1 − L·η_t·M_G/2)‖∇L‖² + L·η_t²·M/(2b_t) ≤ −(η_t/2)‖∇L‖² + L·η_t²·M/(2b_t).
* Polyak-Łojasiewicz from strong convexity: minimising the quadratic lower bound over θ₂ gives
  L* ≥ L(θ) − ‖∇L‖²/(2c), i.e. ‖∇L(θ)‖² ≥ 2c(L(θ) − L*).
* One-step recursion, with Δ_t = E[L(θ_t) − L*] and η_t = b_t·η₀:

  .. math::

      Δ_{t+1} ≤ (1 − b_t η_0 c)\\,Δ_t + \\frac{L M η_0^2 b_t}{2}.

* Its fixed point is the noise floor F = η₀·L·M/(2c), the same for every b_t, and unrolling gives the
  bound of Theorem 1:

  .. math::

      Δ_T ≤ F + \\prod_{k=0}^{T-1}(1 − b_k η_0 c)\\,\\bigl(Δ_0 − F\\bigr).

Comparisons (made precise in :func:`same_samples_fixed_contraction` and :func:`verify_derivation`):

* Same number of steps: if b_k ≥ b₀ for all k, every factor 1 − b_k η₀ c lies in [0, 1 − b₀η₀c], so the
  growing-batch contraction is at most the fixed-batch one (1 − b₀η₀c)^T.
* Same number of samples S = Σ b_k: log(1 − x)/x is decreasing on (0, 1), so
  ∏(1 − b_k η₀ c) ≤ (1 − b₀η₀c)^{S/b₀}: the growing batch contracts at least as much per sample, with
  fewer steps. The gain per sample is second order in b·η₀·c, so it is small when b·η₀·c ≪ 1.
* Neither lowers the floor: with η scaled with b the floor is η₀LM/(2c) for any batch sequence.

Note:
    The proof needs only E‖g_B‖² ≤ M/b + M_G‖∇L‖². Drawing the batch without replacement from a finite
    training set of N samples multiplies the variance part by (N − b)/(N − 1) ≤ 1, so the bound also
    holds for the epoch-permutation sampler of the training engine (it is then slightly loose).

Numeric functions return NumPy arrays; validation raises ``ValueError("Invalid <name>: ...")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import sympy as sp

from theory import symbols as S
from theory._numeric import as_float_array, is_zero, lambdify
from theory._validate import number_array

__all__ = [
    "abs_bound",
    "abs_bound_recursive",
    "batch_second_moment_bound_expr",
    "batch_second_moment_expr",
    "contraction_factors",
    "descent_lemma_expr",
    "fixed_batch_bound",
    "fixed_point_expr",
    "noise_floor",
    "one_step_bound",
    "one_step_recursion_expr",
    "pl_gap_bound_expr",
    "quadratic_exact_one_step_expr",
    "same_samples_fixed_contraction",
    "theorem1_bound_expr",
    "verify_derivation",
]

# Symbols local to this derivation (suffix _sym: the numeric functions take arguments of the plain names);
# the smoothness L and strong convexity c are the shared S.L and S.c.
eta0_sym = sp.Symbol("eta_0", positive=True)
b_sym = sp.Symbol("b", positive=True)
M_sym = sp.Symbol("M", nonnegative=True)
M_G_sym = sp.Symbol("M_G", positive=True)
gap_sym = sp.Symbol("Delta", nonnegative=True)  # E[L(θ_t) − L*]
gap0_sym = sp.Symbol("Delta_0", nonnegative=True)
grad_sq_sym = sp.Symbol("G", nonnegative=True)  # ‖∇L(θ_t)‖²
sample_sq_sym = sp.Symbol("m_2", nonnegative=True)  # E‖g_i‖², the per-sample second moment
step_sym = sp.Symbol("eta_t", positive=True)
prod_sym = sp.Symbol("P", nonnegative=True)  # stands for ∏_{k<t}(1 − b_k η₀ c)


# --------------------------------------------------------------------------------------------------
# Symbolic derivation
# --------------------------------------------------------------------------------------------------


@cache
def batch_second_moment_expr() -> sp.Expr:
    """E‖g_B‖² for the mean of b independent unbiased samples, from the cross terms (seed 003, Lemma 5).

    .. math::

        E\\|g_B\\|^2 = \\frac{1}{b^2}\\bigl(b\\,E\\|g_i\\|^2 + b(b-1)\\|∇L\\|^2\\bigr)

    Returns:
        The right-hand side in ``m_2`` (= E‖g_i‖²), ``G`` (= ‖∇L‖²) and ``b``.
    """
    b = b_sym
    return (b * sample_sq_sym + b * (b - 1) * grad_sq_sym) / b**2


@cache
def batch_second_moment_bound_expr() -> sp.Expr:
    """The bound E‖g_B‖² ≤ M/b + M_G‖∇L‖² used in the proof (seed 003, Lemma 5 with Assumption 2)."""
    return M_sym / b_sym + M_G_sym * grad_sq_sym


@cache
def descent_lemma_expr() -> sp.Expr:
    """Bound on E L(θ_{t+1}) − L(θ_t) after one step of size η_t (seed 003, Lemma 3).

    .. math::

        E L(θ_{t+1}) - L(θ_t) ≤ -η_t \\|∇L\\|^2 + \\frac{L η_t^2}{2}\\Bigl(\\frac{M}{b} + M_G\\|∇L\\|^2\\Bigr)
    """
    return -step_sym * grad_sq_sym + S.L * step_sym**2 / 2 * batch_second_moment_bound_expr()


@cache
def pl_gap_bound_expr() -> sp.Expr:
    """The Polyak-Łojasiewicz bound L(θ) − L* ≤ ‖∇L‖²/(2c) implied by strong convexity (seed 003, Lemma 4).

    Derived by minimising the strong-convexity lower bound L(θ) + ∇Lᵀd + (c/2)‖d‖² over the displacement
    d; the minimiser lies along −∇L, so a scalar d along that direction suffices.
    """
    d = sp.Symbol("d", real=True)
    lower_minus_loss = sp.sqrt(grad_sq_sym) * d + S.c / 2 * d**2
    d_star = sp.solve(sp.diff(lower_minus_loss, d), d)[0]
    return sp.simplify(-lower_minus_loss.subs(d, d_star))


@cache
def one_step_recursion_expr() -> sp.Expr:
    """Right-hand side of Δ_{t+1} ≤ (1 − b η₀ c) Δ_t + L M η₀² b / 2 (seed 003, proof of Theorem 1).

    Built from the lemmas: the descent lemma with η_t = b η₀ relaxed to −(η_t/2)‖∇L‖² + Lη_t²M/(2b)
    (needs L η_t M_G ≤ 1), then ‖∇L‖² ≥ 2cΔ_t.
    """
    eta_t = b_sym * eta0_sym
    gradient_term = -(eta_t / 2) * (2 * S.c * gap_sym)
    noise_term = S.L * eta_t**2 * M_sym / (2 * b_sym)
    return sp.expand(gap_sym + gradient_term + noise_term)


@cache
def fixed_point_expr() -> sp.Expr:
    """The fixed point of the one-step recursion: the noise floor F = η₀ L M / (2c), free of b.

    The recursion is affine, Δ ↦ qΔ + r, so F = r/(1 − q).
    """
    affine = sp.Poly(one_step_recursion_expr(), gap_sym)
    q, r = affine.nth(1), affine.nth(0)
    return sp.factor(sp.cancel(r / (1 - q)))


@cache
def theorem1_bound_expr() -> sp.Expr:
    """Theorem 1 of seed 003 with ``P`` standing for ∏_{k<t}(1 − b_k η₀ c): F + P (Δ₀ − F)."""
    floor = fixed_point_expr()
    return floor + prod_sym * (gap0_sym - floor)


@cache
def quadratic_exact_one_step_expr() -> sp.Expr:
    """Exact E[L(θ_{t+1}) − L*] for one SGD step on a 1-D quadratic: the test case of the assumptions.

    L(θ) = λθ²/2 (so L = c = λ), per-sample gradient g_i = (1 + ζ_i)λθ + ξ_i with E ζ = E ξ = 0,
    Var ζ = M_G − 1, Var ξ = M, independent: E g_i² = M + M_G (λθ)², Assumption 2 with equality. With
    Δ = λθ²/2 and step η_t on the mean of b samples,

    .. math::

        E Δ_{t+1} = \\Bigl[(1 − η_t λ)^2 + \\frac{η_t^2 λ^2 (M_G − 1)}{b}\\Bigr] Δ + \\frac{λ η_t^2 M}{2b}.

    Returns:
        The expression in ``Delta``, ``eta_t``, ``b``, ``M``, ``M_G`` and ``c`` (playing λ).
    """
    lam, eta_t = S.c, step_sym
    theta_sq = 2 * gap_sym / lam
    mean_factor_sq = (1 - eta_t * lam) ** 2 + eta_t**2 * lam**2 * (M_G_sym - 1) / b_sym
    return sp.expand(lam / 2 * mean_factor_sq * theta_sq + lam * eta_t**2 * M_sym / (2 * b_sym))


def _has_nonnegative_coefficients(expr: sp.Expr) -> bool:
    # A polynomial in nonnegative symbols with nonnegative coefficients is nonnegative.
    poly = sp.Poly(sp.expand(expr), *sorted(expr.free_symbols, key=str))
    return all(coeff >= 0 for coeff in poly.coeffs())


def _descent_relaxation_is_valid() -> bool:
    # Write M_G = (1 − u)/(L η_t) with u ∈ [0, 1) (the step-size condition). The relaxed bound minus
    # the lemma's bound is then (η_t/2) u ‖∇L‖² ≥ 0.
    u = sp.Symbol("u", nonnegative=True)
    relaxed = -(step_sym / 2) * grad_sq_sym + S.L * step_sym**2 * M_sym / (2 * b_sym)
    surplus = (relaxed - descent_lemma_expr()).subs(M_G_sym, (1 - u) / (S.L * step_sym))
    return is_zero(surplus - step_sym * u * grad_sq_sym / 2)


def _second_moment_relaxation_is_valid() -> bool:
    # b = 1 + β, M_G = 1 + v with β, v ≥ 0: the dropped term b(bound − exact) = v β ‖∇L‖² ≥ 0.
    beta, v = sp.symbols("beta v", nonnegative=True)
    exact = batch_second_moment_expr().subs(sample_sq_sym, M_sym + M_G_sym * grad_sq_sym)
    dropped = (batch_second_moment_bound_expr() - exact).subs({b_sym: 1 + beta, M_G_sym: 1 + v})
    return _has_nonnegative_coefficients(sp.cancel(dropped * (1 + beta)))


def _contraction_is_in_unit_interval() -> bool:
    # Worst case b = b_max: b η₀ c = θ κ / M_G with η₀ = θ/(L M_G b_max), c = κ L, θ, κ ∈ (0, 1], M_G ≥ 1.
    # Writing θ = 1/(1+r), κ = 1/(1+s), M_G = 1+v (r, s, v ≥ 0): 1 − bη₀c = 1 − 1/((1+r)(1+s)(1+v)).
    r, s, v = sp.symbols("r s v", nonnegative=True)
    theta, kappa, bmax = 1 / (1 + r), 1 / (1 + s), sp.Symbol("b_max", positive=True)
    q = (
        (1 - b_sym * eta0_sym * S.c)
        .subs({eta0_sym: theta / (S.L * M_G_sym * bmax), S.c: kappa * S.L, b_sym: bmax})
        .subs(M_G_sym, 1 + v)
    )
    denominator = (1 + r) * (1 + s) * (1 + v)
    return _has_nonnegative_coefficients(sp.cancel(q * denominator)) and bool(sp.cancel(1 - q).is_positive)


def _per_sample_contraction_decreases() -> bool:
    # h(x) = log(1 − x)/x decreases on (0, 1): x² h'(x) = k(x) := −x/(1 − x) − log(1 − x), with k(0) = 0
    # and k'(x) = −x/(1 − x)² < 0, so k < 0 on (0, 1).
    x = sp.Symbol("x", positive=True)
    k = -x / (1 - x) - sp.log(1 - x)
    # cancel(expand(.)) decides these rational-plus-log identities, and much faster than simplify.
    return (
        sp.cancel(sp.expand(sp.diff(sp.log(1 - x) / x, x) * x**2 - k)) == 0
        and k.subs(x, 0) == 0
        and sp.cancel(sp.diff(k, x) + x / (1 - x) ** 2) == 0
    )


@cache
def verify_derivation() -> dict[str, bool]:
    """Check every algebraic step of the proof of Theorem 1 (seed 003, App. A) with sympy.

    Returns:
        Step name -> ``True`` when sympy proves it:

        * ``batch_second_moment``: E‖g_B‖² = ‖∇L‖² + (E‖g_i‖² − ‖∇L‖²)/b.
        * ``second_moment_relaxation``: with E‖g_i‖² ≤ M + M_G‖∇L‖², E‖g_B‖² ≤ M/b + M_G‖∇L‖² (b, M_G ≥ 1).
        * ``descent_relaxation``: with L η_t M_G ≤ 1 the descent lemma is ≤ −(η_t/2)‖∇L‖² + Lη_t²M/(2b).
        * ``pl_inequality``: strong convexity gives L(θ) − L* ≤ ‖∇L‖²/(2c).
        * ``one_step_recursion``: the lemmas combine to (1 − bη₀c)Δ + L M η₀² b/2.
        * ``floor_independent_of_b``: the fixed point is η₀ L M/(2c) for every b.
        * ``closed_form_solves_recursion``: one step maps F + P(Δ₀ − F) to F + (1 − bη₀c) P (Δ₀ − F).
        * ``contraction_in_unit_interval``: 0 ≤ 1 − b η₀ c < 1 for b ≤ b_max under the step-size condition.
        * ``per_sample_contraction_decreasing``: log(1 − x)/x decreases on (0, 1).
    """
    b, eta0, gap, floor = b_sym, eta0_sym, gap_sym, fixed_point_expr()
    exact_moment = grad_sq_sym + (sample_sq_sym - grad_sq_sym) / b
    lemmas_combined = gap - (b * eta0 / 2) * (2 * S.c * gap) + S.L * (b * eta0) ** 2 * M_sym / (2 * b)
    q = 1 - b * eta0 * S.c
    one_step_of_bound = one_step_recursion_expr().subs(gap, theorem1_bound_expr())
    return {
        "batch_second_moment": is_zero(batch_second_moment_expr() - exact_moment),
        "second_moment_relaxation": _second_moment_relaxation_is_valid(),
        "descent_relaxation": _descent_relaxation_is_valid(),
        "pl_inequality": is_zero(pl_gap_bound_expr() - grad_sq_sym / (2 * S.c)),
        "one_step_recursion": is_zero(one_step_recursion_expr() - lemmas_combined),
        "floor_independent_of_b": is_zero(sp.diff(floor, b))
        and is_zero(floor - eta0 * S.L * M_sym / (2 * S.c)),
        "closed_form_solves_recursion": is_zero(
            one_step_of_bound - (floor + q * prod_sym * (gap0_sym - floor))
        ),
        "contraction_in_unit_interval": _contraction_is_in_unit_interval(),
        "per_sample_contraction_decreasing": _per_sample_contraction_decreases(),
    }


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _validate_batch_sizes(batch_sizes: Sequence[int]) -> np.ndarray:
    arr = number_array("batch_sizes", batch_sizes)
    if arr.ndim != 1:
        raise ValueError(f"Invalid batch_sizes: {batch_sizes!r} (expected a 1-D sequence of integers >= 1)")
    if not np.all(np.isfinite(arr)) or np.any(arr < 1) or np.any(arr != np.round(arr)):
        raise ValueError(f"Invalid batch_sizes: {batch_sizes!r} (expected integers >= 1)")
    return arr


# 10**8 steps is an 800 MB array of bounds; fixed_batch_bound returns one value per step
_MAX_BOUND_STEPS = 10**8


def _validate_constants(eta0: float, L: float, c: float, M: float, M_G: float) -> tuple[float, ...]:
    eta0_, L_, c_ = (
        float(as_float_array(n, v, positive=True)) for n, v in (("eta0", eta0), ("L", L), ("c", c))
    )
    M_ = float(as_float_array("M", M, nonnegative=True))
    M_G_ = float(as_float_array("M_G", M_G, at_least=1.0))
    if c_ > L_:
        raise ValueError(
            f"Invalid c: {c!r} (expected c <= L = {L!r}: strong convexity cannot exceed smoothness)"
        )
    return eta0_, L_, c_, M_, M_G_


def _validate_step_size(eta0: float, L: float, M_G: float, b_max: float) -> None:
    # A relative slack of 1e-12 lets eta0 = 1/(L*M_G*b_max) computed in floating point pass.
    if eta0 * L * M_G * b_max > 1.0 + 1e-12:
        limit = 1.0 / (L * M_G * b_max)
        raise ValueError(
            f"Invalid eta0: {eta0!r} (expected eta0 <= 1/(L*M_G*b_max) = {limit!r} with b_max = {b_max:g})"
        )


def _validated(batch_sizes, eta0, L, c, M, M_G, initial_gap):
    sizes = _validate_batch_sizes(batch_sizes)
    eta0_, L_, c_, M_, M_G_ = _validate_constants(eta0, L, c, M, M_G)
    if sizes.size:
        _validate_step_size(eta0_, L_, M_G_, float(sizes.max()))
    gap0_ = float(as_float_array("initial_gap", initial_gap, nonnegative=True))
    return sizes, eta0_, L_, c_, M_, gap0_


# --------------------------------------------------------------------------------------------------
# Numeric functions
# --------------------------------------------------------------------------------------------------


def noise_floor(*, eta0: float, L: float, c: float, M: float) -> float:
    """The limit of the bound for any batch sequence with η_t = b_t·η₀: F = η₀·L·M/(2c).

    In terms of the step size of a fixed batch b (η = b·η₀) this is η·L·M/(2c·b).

    Args:
        eta0: base step size per sample (> 0).
        L: smoothness constant (> 0).
        c: strong-convexity constant (> 0).
        M: additive second-moment constant (>= 0).
    """
    eta0_ = float(as_float_array("eta0", eta0, positive=True))
    L_ = float(as_float_array("L", L, positive=True))
    c_ = float(as_float_array("c", c, positive=True))
    M_ = float(as_float_array("M", M, nonnegative=True))
    return float(lambdify((eta0_sym, S.L, S.c, M_sym), fixed_point_expr())(eta0_, L_, c_, M_))


def contraction_factors(batch_sizes: Sequence[int], *, eta0: float, c: float) -> np.ndarray:
    """The per-step factors q_t = 1 − b_t·η₀·c of the one-step recursion (no step-size check).

    Args:
        batch_sizes: b_0..b_{T-1}, integers >= 1.
        eta0: base step size per sample (> 0).
        c: strong-convexity constant (> 0).
    """
    sizes = _validate_batch_sizes(batch_sizes)
    eta0_ = float(as_float_array("eta0", eta0, positive=True))
    c_ = float(as_float_array("c", c, positive=True))
    return 1.0 - sizes * eta0_ * c_


def _one_step_numeric():
    return lambdify((gap_sym, b_sym, eta0_sym, S.L, S.c, M_sym), one_step_recursion_expr())


def one_step_bound(gap: float, batch_size: int, *, eta0: float, L: float, c: float, M: float) -> float:
    """One application of the recursion, (1 − b η₀ c) Δ + L M η₀² b / 2, lambdified from the sympy form.

    No step-size check: this is the map itself, for callers who iterate it on their own schedule.

    Args:
        gap: the current bound Delta_t >= 0.
        batch_size: the batch b_t (an integer >= 1).
        eta0: base step size per sample (> 0).
        L: smoothness constant (> 0).
        c: strong-convexity constant (> 0).
        M: additive second-moment constant (>= 0).
    """
    args = [as_float_array(n, v, nonnegative=True) for n, v in (("gap", gap), ("M", M))]
    size = _validate_batch_sizes([batch_size])[0]
    positives = [float(as_float_array(n, v, positive=True)) for n, v in (("eta0", eta0), ("L", L), ("c", c))]
    return float(_one_step_numeric()(float(args[0]), size, *positives, float(args[1])))


def abs_bound(
    batch_sizes: Sequence[int],
    *,
    eta0: float,
    L: float,
    c: float,
    M: float,
    M_G: float,
    initial_gap: float,
) -> np.ndarray:
    """Theorem 1 of seed 003: the bound on E[L(θ_t) − L*] for t = 0..T, in closed form.

    .. math::

        Δ_t ≤ F + \\prod_{k=0}^{t-1}(1 − b_k η_0 c)\\,(Δ_0 − F),\\qquad F = \\frac{η_0 L M}{2c}.

    Args:
        batch_sizes: b_0..b_{T-1}, integers ≥ 1 (the step size of step t is b_t·η₀).
        eta0: base step size per sample, 0 < η₀ ≤ 1/(L·M_G·max b_t).
        L: smoothness constant. c: strong-convexity constant, 0 < c ≤ L.
        M: additive second-moment constant, M ≥ 0. M_G: multiplicative one, M_G ≥ 1 (per sample).
        initial_gap: L(θ₀) − L* ≥ 0.

    Returns:
        Array of length T + 1; entry t bounds E[L(θ_t) − L*].

    Raises:
        ValueError: for non-integer or < 1 batch sizes, non-positive or non-finite constants, c > L,
            M_G < 1, or η₀ above 1/(L·M_G·b_max).

    Note:
        When Δ₀ < F the bound rises towards F: the theorem bounds, it does not promise descent.
    """
    sizes, eta0_, L_, c_, M_, gap0_ = _validated(batch_sizes, eta0, L, c, M, M_G, initial_gap)
    floor = eta0_ * L_ * M_ / (2.0 * c_)
    products = np.concatenate(([1.0], np.cumprod(1.0 - sizes * eta0_ * c_)))
    return floor + products * (gap0_ - floor)


def abs_bound_recursive(
    batch_sizes: Sequence[int],
    *,
    eta0: float,
    L: float,
    c: float,
    M: float,
    M_G: float,
    initial_gap: float,
) -> np.ndarray:
    """The same bound as :func:`abs_bound`, by iterating the one-step recursion of the proof.

    .. math::

        Δ_{t+1} = (1 − b_t η_0 c)\\,Δ_t + \\frac{L M η_0^2 b_t}{2}.

    Arguments, return value and errors are those of :func:`abs_bound`.

    Args:
        batch_sizes: b_0..b_{T-1}, integers >= 1.
        eta0: base step size per sample (as in :func:`abs_bound`).
        L: smoothness constant.
        c: strong-convexity constant, 0 < c <= L.
        M: additive second-moment constant, M >= 0.
        M_G: multiplicative second-moment constant, M_G >= 1.
        initial_gap: L(theta_0) - L* >= 0.
    """
    sizes, eta0_, L_, c_, M_, gap0_ = _validated(batch_sizes, eta0, L, c, M, M_G, initial_gap)
    step_fn = _one_step_numeric()
    gaps = [gap0_]
    for size in sizes:
        gaps.append(float(step_fn(gaps[-1], size, eta0_, L_, c_, M_)))
    return np.asarray(gaps)


def fixed_batch_bound(
    batch_size: int,
    steps: int,
    *,
    eta0: float,
    L: float,
    c: float,
    M: float,
    M_G: float,
    initial_gap: float,
) -> np.ndarray:
    """The fixed-batch special case of Theorem 1: Δ_t ≤ F + (1 − bη₀c)^t (Δ₀ − F), t = 0..steps.

    As t → ∞ it tends to the noise floor F = η₀LM/(2c) = ηLM/(2cb) with η = bη₀ (see :func:`noise_floor`).

    Args:
        batch_size: the fixed batch b (an integer >= 1).
        steps: the number of steps (an integer >= 0, at most 10**8).
        eta0: base step size per sample, 0 < eta0 <= 1/(L M_G b).
        L: smoothness constant.
        c: strong-convexity constant, 0 < c <= L.
        M: additive second-moment constant, M >= 0.
        M_G: multiplicative second-moment constant, M_G >= 1.
        initial_gap: L(theta_0) - L* >= 0.
    """
    steps_ = as_float_array("steps", steps, nonnegative=True)
    if steps_.ndim != 0 or steps_ != np.round(steps_):
        raise ValueError(f"Invalid steps: {steps!r} (expected an integer >= 0)")
    _validate_batch_sizes([batch_size])
    if steps_ > _MAX_BOUND_STEPS:
        raise ValueError(
            f"Invalid steps: {steps!r} (expected at most {_MAX_BOUND_STEPS}: the bound is returned "
            "for every step)"
        )
    sizes = [batch_size] * int(steps_)
    return abs_bound(sizes, eta0=eta0, L=L, c=c, M=M, M_G=M_G, initial_gap=initial_gap)


def same_samples_fixed_contraction(
    batch_sizes: Sequence[int], base_batch: int, *, eta0: float, c: float
) -> float:
    """The contraction a fixed batch ``base_batch`` reaches on the same number of samples Σ b_t.

    .. math::

        (1 − b_0 η_0 c)^{\\sum_t b_t / b_0} \\;\\ge\\; \\prod_t (1 − b_t η_0 c) \\quad\\text{when } b_t ≥ b_0,

    because log(1 − x)/x is decreasing on (0, 1) (checked in :func:`verify_derivation`). The exponent
    may be fractional: the comparison is on the sample budget, not on a whole number of steps.

    Args:
        batch_sizes: the growing schedule b_0..b_{T-1} (integers >= 1).
        base_batch: the fixed batch b_0 it is compared with (base_batch * eta0 * c < 1).
        eta0: base step size per sample (> 0).
        c: strong-convexity constant (> 0).
    """
    sizes = _validate_batch_sizes(batch_sizes)
    base = _validate_batch_sizes([base_batch])[0]
    q0 = contraction_factors([base], eta0=eta0, c=c)[0]
    if q0 <= 0:
        raise ValueError(f"Invalid base_batch: {base_batch!r} (expected base_batch*eta0*c < 1)")
    return float(q0 ** (sizes.sum() / base))

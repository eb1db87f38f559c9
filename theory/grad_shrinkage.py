"""Gradient shrinkage with batch size: E|ḡ| ~ 1/√n and the strides built on it (seed 001, eq. 1-8, 25-28).

Model (Gao & Zhong, seed 001, eq. 1-2): in one layer the per-sample gradient components g_i^k are i.i.d.
N(μ, σ²) (σ a standard deviation), and the batch gradient is their mean over a batch of n samples,

.. math::

    \\bar g_i = \\frac1n \\sum_{k=1}^{n} g_i^k \\sim \\mathcal N(\\mu, \\sigma^2 / n).

Everything here is derived with sympy from that model: the folded-normal mean E|ḡ| (eq. 4), the second
moment E ḡ² (eq. 8), the finite-population variance when the batch is drawn without replacement from N
samples, and the parameter stride (eq. 6), loss stride (eq. 8) and distance to the minimum (eq. 28).

What we find (see ``paper_checks/seed001_derivations.py``):

* The 1/√n law is right, but the printed constant of eq. 4, 2σ/√(πn), is √2 too large: the model of
  eq. 1-2 gives E|ḡ| = σ√(2/(πn)). The printed constant is exactly E|ḡ₁ - ḡ₂| for two *independent*
  batch means (variance 2σ²/n), or E|ḡ| when the per-sample variance is 2σ²; nothing in the paper
  defines either. Eq. 6 and eq. 28 inherit the same factor √2.
* Eq. 3 as printed is not the density of eq. 2: its prefactor √n/(σ√(2π)) belongs to standard deviation
  σ/√n, its exponent to standard deviation σ√n, and it integrates to n instead of 1.
* Eq. 2 writes N(0, σ/√n) with the standard deviation as second argument (the convention of eq. 1);
  reading it as a variance gives E|ḡ| = √(2σ/π)·n^(-1/4), which matches neither eq. 4 nor Fig. 3.

Numeric functions broadcast over their arguments and return a Python float for scalar input.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from theory import symbols as S
from theory._numeric import as_float_array, lambdify, scalar_or_array

__all__ = [
    "batch_mean_variance",
    "batch_mean_variance_finite_expr",
    "distance_to_minimum",
    "expected_abs_difference_of_means",
    "expected_abs_difference_of_means_expr",
    "expected_abs_mean",
    "expected_abs_mean_expr",
    "expected_abs_mean_finite",
    "expected_sq_mean",
    "expected_sq_mean_expr",
    "folded_normal_mean_expr",
    "loss_stride",
    "loss_stride_on_parabola",
    "paper_density",
    "paper_density_expr",
    "paper_distance_to_minimum",
    "paper_expected_abs_mean",
    "paper_expected_abs_mean_expr",
    "paper_parameter_stride",
    "parameter_stride",
]

_g = sp.Symbol("g", real=True)  # integration variable: one batch-gradient component
_s = sp.Symbol("s", positive=True)  # standard deviation of the batch mean
_a = sp.Symbol("a", positive=True)  # parabola coefficient of eq. 12: L = a (w - b)^2 + c
_lr = sp.Symbol("lr", positive=True)


def _normal_pdf(var: sp.Symbol, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    return sp.exp(-((var - mean) ** 2) / (2 * std**2)) / (std * sp.sqrt(2 * sp.pi))


# --------------------------------------------------------------------------------------------------
# Symbolic derivations
# --------------------------------------------------------------------------------------------------


@cache
def folded_normal_mean_expr() -> sp.Expr:
    """E|X| for X ~ N(μ, s²), integrated with sympy.

    .. math::

        \\mathbb E|X| = \\int_{-\\infty}^{\\infty} |x|\\, \\varphi_{\\mu,s}(x)\\,dx
        = s\\sqrt{2/\\pi}\\, e^{-\\mu^2/(2s^2)} + \\mu\\, \\mathrm{erf}\\big(\\mu/(\\sqrt2 s)\\big).

    Returns:
        A sympy expression in ``mu`` (:data:`theory.symbols.mu`) and ``s`` (the standard deviation).
    """
    density = _normal_pdf(_g, S.mu, _s)
    # |g| is split at 0 so that sympy integrates two smooth pieces instead of an Abs. Both converge for
    # every real μ and s > 0, so the convergence conditions sympy would attach are dropped (2x faster).
    positive_part = sp.integrate(_g * density, (_g, 0, sp.oo), conds="none")
    negative_part = sp.integrate(_g * density, (_g, -sp.oo, 0), conds="none")
    return sp.simplify((positive_part - negative_part).rewrite(sp.erf))


@cache
def expected_abs_mean_expr() -> sp.Expr:
    """E|ḡ| for the mean ḡ of n i.i.d. N(μ, σ²) per-sample gradients (seed 001, eq. 4 corrected).

    .. math::

        \\mathbb E|\\bar g| = \\sigma\\sqrt{\\tfrac{2}{\\pi n}}\\, e^{-n\\mu^2/(2\\sigma^2)}
        + \\mu\\,\\mathrm{erf}\\Big(\\mu\\sqrt{\\tfrac{n}{2\\sigma^2}}\\Big)
        \\;\\xrightarrow{\\mu=0}\\; \\sigma\\sqrt{\\tfrac{2}{\\pi n}}.

    Note:
        The paper prints 2σ/√(πn) (eq. 4), √2 times our value; see :func:`paper_expected_abs_mean`.

    Returns:
        A sympy expression in ``sigma``, ``n`` and ``mu`` of :mod:`theory.symbols`.
    """
    return sp.simplify(folded_normal_mean_expr().subs(_s, S.sigma / sp.sqrt(S.n)))


@cache
def expected_sq_mean_expr() -> sp.Expr:
    """E ḡ² = μ² + σ²/n, integrated with sympy against the N(μ, σ²/n) density (seed 001, eq. 8)."""
    density = _normal_pdf(_g, S.mu, S.sigma / sp.sqrt(S.n))
    return sp.simplify(sp.integrate(_g**2 * density, (_g, -sp.oo, sp.oo), conds="none"))


@cache
def expected_abs_difference_of_means_expr() -> sp.Expr:
    """E|ḡ₁ - ḡ₂| for two independent batch means of n N(μ, σ²) samples each: 2σ/√(πn).

    The difference is N(0, 2σ²/n) whatever μ is, so this is the folded-normal mean at μ = 0 and
    s = σ√(2/n). It equals the paper's printed constant of eq. 4 exactly: it is the one reading we
    found that rescues that constant.
    """
    return sp.simplify(folded_normal_mean_expr().subs({S.mu: 0, _s: S.sigma * sp.sqrt(2 / S.n)}))


def paper_expected_abs_mean_expr() -> sp.Expr:
    """The paper's printed E|g_i| = 2σ/√(πn) (seed 001, eq. 4; eq. 28 uses the same constant)."""
    return 2 * S.sigma / sp.sqrt(sp.pi * S.n)


def paper_density_expr() -> sp.Expr:
    """Eq. 3 of seed 001 exactly as printed: f(g) = √n/(σ√(2π)) · exp(-½ (g/(σ√n))²).

    Note:
        This is not the density of N(0, σ²/n): the prefactor belongs to standard deviation σ/√n and the
        exponent to standard deviation σ√n. It integrates to n, not 1. The density eq. 2 needs is
        √n/(σ√(2π)) · exp(-½ (g√n/σ)²).
    """
    return sp.sqrt(S.n) / (S.sigma * sp.sqrt(2 * sp.pi)) * sp.exp(-((_g / (S.sigma * sp.sqrt(S.n))) ** 2) / 2)


@cache
def batch_mean_variance_finite_expr() -> sp.Expr:
    """Var(ḡ) for n of N values drawn without replacement, derived from indicator covariances.

    Write ḡ = (1/n) Σ_j I_j x_j over the population x_1..x_N, where I_j = 1 when x_j is drawn. Then
    P(I_j = 1) = n/N and P(I_j = I_k = 1) = n(n-1)/(N(N-1)) for j ≠ k, so

    .. math::

        \\mathrm{Var}(\\bar g) = \\frac{1}{n^2}\\Big[\\mathrm{Var}(I)\\sum_j x_j^2
        + \\mathrm{Cov}(I_j, I_k)\\sum_{j\\ne k} x_j x_k\\Big]
        = \\frac{\\sigma^2}{n}\\,\\frac{N-n}{N-1},

    with the population centred (the variance does not depend on its mean), so Σ_j x_j² = Nσ² and
    Σ_{j≠k} x_j x_k = (Σ_j x_j)² - Σ_j x_j² = -Nσ², where σ² is the population variance (divide by N).

    Note:
        Seed 001 treats ḡ as the mean of i.i.d. draws (eq. 2); an epoch-permutation sampler draws
        without replacement, which shrinks the variance by the factor (N-n)/(N-1) and makes it 0 at n = N.
    """
    p_one = S.n / S.N
    p_pair = S.n * (S.n - 1) / (S.N * (S.N - 1))
    var_indicator = p_one * (1 - p_one)
    cov_indicators = p_pair - p_one**2
    sum_squares = S.N * S.sigma**2
    sum_cross_products = -sum_squares
    variance = (var_indicator * sum_squares + cov_indicators * sum_cross_products) / S.n**2
    return sp.factor(sp.simplify(variance))


# --------------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------------


def _as_count(name: str, value, *, at_least: int) -> np.ndarray:
    arr = as_float_array(name, value, at_least=at_least)
    if np.any(arr != np.round(arr)):
        raise ValueError(f"Invalid {name}: {value!r} (expected whole numbers >= {at_least})")
    return arr


def _population_sizes(n, population_size) -> tuple[np.ndarray, np.ndarray]:
    n_arr = _as_count("n", n, at_least=1)
    big_n = _as_count("population_size", population_size, at_least=1)
    if np.any(np.broadcast_to(n_arr, np.broadcast_shapes(n_arr.shape, big_n.shape)) > big_n):
        raise ValueError(f"Invalid n: {n!r} (expected n <= population_size = {population_size!r})")
    return n_arr, big_n


# --------------------------------------------------------------------------------------------------
# Numeric functions
# --------------------------------------------------------------------------------------------------


def _folded_normal_mean(mu: np.ndarray, std: np.ndarray) -> np.ndarray:
    fn = lambdify((S.mu, _s), folded_normal_mean_expr())
    safe_std = np.where(std > 0, std, 1.0)
    # A zero standard deviation is a point mass at μ; the closed form would divide by zero there.
    return np.where(std > 0, fn(mu, safe_std), np.abs(mu))


def expected_abs_mean(sigma, n, mu=0.0):
    """E|ḡ| of the mean of n i.i.d. N(μ, σ²) per-sample gradients (seed 001, eq. 4, corrected).

    .. math::

        \\mathbb E|\\bar g| = \\sigma\\sqrt{2/(\\pi n)} \\quad (\\mu = 0),

    and the folded-normal mean of :func:`expected_abs_mean_expr` for general μ.

    Examples:
        >>> round(expected_abs_mean(3.0, 7), 4)
        0.9047

    Args:
        sigma: per-sample standard deviation σ >= 0.
        n: batch size n >= 1 (real values allowed: the formula is smooth in n).
        mu: per-sample mean μ.

    Returns:
        E|ḡ| (float for scalar input, else an array of the broadcast shape).

    Raises:
        ValueError: for non-finite input, σ < 0 or n < 1.

    Note:
        The paper prints 2σ/√(πn), √2 times this; see :func:`paper_expected_abs_mean`.
    """
    sigma_arr = as_float_array("sigma", sigma, nonnegative=True)
    n_arr = as_float_array("n", n, at_least=1)
    mu_arr = as_float_array("mu", mu)
    return scalar_or_array(_folded_normal_mean(mu_arr, sigma_arr / np.sqrt(n_arr)))


def expected_sq_mean(sigma, n, mu=0.0):
    """E ḡ² = μ² + σ²/n for the mean of n i.i.d. N(μ, σ²) samples (seed 001, eq. 8 with μ = 0).

    Args:
        sigma: per-sample standard deviation σ >= 0.
        n: batch size n >= 1.
        mu: per-sample mean μ.

    Returns:
        E ḡ² (float for scalar input, else an array of the broadcast shape).

    Raises:
        ValueError: for non-finite input, σ < 0 or n < 1.
    """
    sigma_arr = as_float_array("sigma", sigma, nonnegative=True)
    n_arr = as_float_array("n", n, at_least=1)
    mu_arr = as_float_array("mu", mu)
    fn = lambdify((S.sigma, S.n, S.mu), expected_sq_mean_expr())
    return scalar_or_array(fn(sigma_arr, n_arr, mu_arr))


def batch_mean_variance(sigma, n, population_size=None):
    """Var(ḡ) of a batch mean: σ²/n i.i.d., σ²/n · (N-n)/(N-1) without replacement from N values.

    Args:
        sigma: standard deviation σ >= 0 of one sample; for a finite population, its population standard
            deviation (divide by N).
        n: batch size n >= 1 (a whole number when ``population_size`` is given).
        population_size: N, or None for i.i.d. draws (sampling with replacement, or an infinite population).

    Returns:
        The variance of the batch mean (float for scalar input).

    Raises:
        ValueError: for non-finite input, σ < 0, n < 1, non-integer n or N, or n > N.

    Note:
        With the sample-variance convention S² = Nσ²/(N-1) the same result reads S²/n · (1 - n/N).
    """
    sigma_arr = as_float_array("sigma", sigma, nonnegative=True)
    if population_size is None:
        n_arr = as_float_array("n", n, at_least=1)
        return scalar_or_array(sigma_arr**2 / n_arr)
    n_arr, big_n = _population_sizes(n, population_size)
    fn = lambdify((S.sigma, S.n, S.N), batch_mean_variance_finite_expr())
    # N = 1 forces n = 1 = N: the batch is the whole population and the 0/0 of the formula means 0.
    safe_big_n = np.where(big_n > 1, big_n, 2.0)
    variance = np.where(n_arr == big_n, 0.0, fn(sigma_arr, n_arr, safe_big_n))
    return scalar_or_array(variance)


def expected_abs_mean_finite(sigma, n, population_size, mu=0.0):
    """E|ḡ| for a batch of n drawn without replacement from N samples, in the normal (CLT) approximation.

    .. math::

        \\mathbb E|\\bar g| \\approx \\mathbb E|X|,\\quad
        X \\sim \\mathcal N\\Big(\\mu, \\frac{\\sigma^2}{n}\\frac{N-n}{N-1}\\Big),
        \\quad = \\sigma\\sqrt{\\frac{2}{\\pi n}\\frac{N-n}{N-1}} \\text{ at } \\mu = 0.

    Note:
        This is the central-limit approximation: the exact law of a without-replacement mean depends on
        the whole population, not only on its mean and variance. Seed 001 (eq. 2-4) has no finite
        population; at n = N the batch gradient is the full gradient and E|ḡ| = |μ|.

    Args:
        sigma: population standard deviation σ >= 0 (divide by N).
        n: batch size, a whole number 1 <= n <= N.
        population_size: N, a whole number >= 1.
        mu: population mean μ.

    Returns:
        The approximate E|ḡ| (float for scalar input).

    Raises:
        ValueError: for non-finite input, σ < 0, non-integer n or N, n < 1 or n > N.
    """
    variance = batch_mean_variance(sigma, n, population_size)
    mu_arr = as_float_array("mu", mu)
    return scalar_or_array(_folded_normal_mean(mu_arr, np.sqrt(np.asarray(variance, dtype=float))))


def expected_abs_difference_of_means(sigma, n):
    """E|ḡ₁ - ḡ₂| = 2σ/√(πn) for two independent batch means (the reading that rescues eq. 4's constant).

    Args:
        sigma: per-sample standard deviation σ >= 0.
        n: batch size n >= 1 of each of the two batches.

    Returns:
        E|ḡ₁ - ḡ₂|, whatever the common mean μ (float for scalar input).
    """
    sigma_arr = as_float_array("sigma", sigma, nonnegative=True)
    n_arr = as_float_array("n", n, at_least=1)
    fn = lambdify((S.sigma, S.n), expected_abs_difference_of_means_expr())
    return scalar_or_array(fn(sigma_arr, n_arr))


def paper_expected_abs_mean(sigma, n):
    """The paper's printed E|g_i| = 2σ/√(πn) (seed 001, eq. 4 and, divided by 2a, eq. 28).

    Note:
        √2 times the E|ḡ| that eq. 1-2 imply (:func:`expected_abs_mean`); it equals
        :func:`expected_abs_difference_of_means` exactly.

    Args:
        sigma: σ >= 0 as in eq. 1.
        n: batch size n >= 1.

    Returns:
        2σ/√(πn) (float for scalar input).
    """
    sigma_arr = as_float_array("sigma", sigma, nonnegative=True)
    n_arr = as_float_array("n", n, at_least=1)
    return scalar_or_array(2 * sigma_arr / np.sqrt(np.pi * n_arr))


def paper_density(g, sigma, n):
    """Eq. 3 of seed 001 evaluated as printed (see :func:`paper_density_expr`: it integrates to n).

    Args:
        g: the batch-gradient value(s).
        sigma: σ > 0.
        n: batch size n >= 1.

    Returns:
        f(g) as printed (float for scalar input).
    """
    g_arr = as_float_array("g", g)
    sigma_arr = as_float_array("sigma", sigma, positive=True)
    n_arr = as_float_array("n", n, at_least=1)
    fn = lambdify((_g, S.sigma, S.n), paper_density_expr())
    return scalar_or_array(fn(g_arr, sigma_arr, n_arr))


def parameter_stride(lr, sigma, n, mu=0.0):
    """Parameter update stride E|Δw_i| = lr · E|ḡ_i| (seed 001, eq. 5-6, corrected constant).

    Δw_i = lr(n) ḡ_i (eq. 5) is one SGD step of one parameter; its expected magnitude is the same for
    every parameter of a layer under eq. 1, so it also equals the layer's L1 norm of Δw divided by the
    number of parameters (the quantity of the paper's Fig. 4-5). At μ = 0 this is lr·σ·√(2/(πn)).
    The paper's "normalized parameter stride" E|Δw_i|/lr is :func:`expected_abs_mean`.

    Note:
        The paper prints 2σ·lr/√(πn) (eq. 6), √2 too large; see :func:`paper_parameter_stride`.

    Args:
        lr: learning rate lr(n) >= 0.
        sigma: per-sample standard deviation σ >= 0.
        n: batch size n >= 1.
        mu: per-sample mean μ.

    Returns:
        E|Δw_i| (float for scalar input).
    """
    lr_arr = as_float_array("lr", lr, nonnegative=True)
    return scalar_or_array(lr_arr * np.asarray(expected_abs_mean(sigma, n, mu)))


def paper_parameter_stride(lr, sigma, n):
    """The paper's printed E|Δw_i| = 2σ·lr/√(πn) (seed 001, eq. 6).

    Args:
        lr: learning rate (>= 0).
        sigma: per-sample gradient standard deviation (>= 0).
        n: batch size (>= 1).
    """
    lr_arr = as_float_array("lr", lr, nonnegative=True)
    return scalar_or_array(lr_arr * np.asarray(paper_expected_abs_mean(sigma, n)))


def loss_stride(lr, sigma, n, mu=0.0):
    """First-order loss decrement per step E ΔL_i = lr · E ḡ_i² = lr(μ² + σ²/n) (seed 001, eq. 7-8).

    Eq. 7 takes ΔL_i = Δw_i · g_i = lr·g_i², the linear (first-order Taylor) change of the loss along one
    coordinate; eq. 8 with μ = 0 gives σ²·lr/n, which this reproduces exactly.

    Note:
        On the parabola of eq. 12, L = a(w-b)² + c, the exact decrease is lr·g²·(1 - a·lr): see
        :func:`loss_stride_on_parabola`. Eq. 8 is its small-lr limit.

    Args:
        lr: learning rate lr(n) >= 0.
        sigma: per-sample standard deviation σ >= 0.
        n: batch size n >= 1.
        mu: per-sample mean μ.

    Returns:
        E ΔL_i to first order (float for scalar input).
    """
    lr_arr = as_float_array("lr", lr, nonnegative=True)
    return scalar_or_array(lr_arr * np.asarray(expected_sq_mean(sigma, n, mu)))


def loss_stride_on_parabola(lr, sigma, n, a, mu=0.0):
    """Exact expected loss decrease E[L(w) - L(w - lr·ḡ)] on L = a(w-b)² + c when ḡ is the true slope.

    With ḡ = L'(w) = 2a(w - b), one step gives L(w) - L(w - lr ḡ) = lr ḡ² (1 - a lr) (expanded with sympy
    in the tests), so E ΔL = lr(1 - a·lr)(μ² + σ²/n). It is the model of seed 001 eq. 12-13 combined with
    eq. 1-2; eq. 8 drops the a·lr² term.

    Args:
        lr: learning rate >= 0.
        sigma: per-sample standard deviation σ >= 0.
        n: batch size n >= 1.
        a: parabola coefficient a > 0 (L'' = 2a).
        mu: per-sample mean μ of the slope.

    Returns:
        The expected exact decrease (negative when a·lr > 1: the step overshoots the minimum).
    """
    lr_arr = as_float_array("lr", lr, nonnegative=True)
    a_arr = as_float_array("a", a, positive=True)
    return scalar_or_array(lr_arr * (1 - a_arr * lr_arr) * np.asarray(expected_sq_mean(sigma, n, mu)))


def distance_to_minimum(sigma, n, a, mu=0.0):
    """E|d_i| = E|w_i - b_i| = E|ḡ_i|/(2a) on the parabola L = a(w-b)² + c (seed 001, eq. 25-28).

    Eq. 13 gives ḡ = 2a(w - b), so d = ḡ/(2a) (eq. 26) and, with a common a for the layer (eq. 27),
    E|d| = σ/(a√(2πn)) at μ = 0.

    Note:
        The paper prints σ/(a√(πn)) (eq. 28), √2 too large, the factor inherited from eq. 4; see
        :func:`paper_distance_to_minimum`.

    Args:
        sigma: per-sample standard deviation σ >= 0.
        n: batch size n >= 1.
        a: parabola coefficient a > 0, common to the layer (eq. 27).
        mu: per-sample mean μ.

    Returns:
        E|d_i| (float for scalar input).
    """
    a_arr = as_float_array("a", a, positive=True)
    return scalar_or_array(np.asarray(expected_abs_mean(sigma, n, mu)) / (2 * a_arr))


def paper_distance_to_minimum(sigma, n, a):
    """The paper's printed E|d_i| = σ/(a√(πn)) (seed 001, eq. 28).

    Args:
        sigma: per-sample gradient standard deviation (>= 0).
        n: batch size (>= 1).
        a: the parabola's curvature (> 0).
    """
    a_arr = as_float_array("a", a, positive=True)
    sigma_arr = as_float_array("sigma", sigma, nonnegative=True)
    n_arr = as_float_array("n", n, at_least=1)
    return scalar_or_array(sigma_arr / (a_arr * np.sqrt(np.pi * n_arr)))

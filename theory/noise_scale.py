r"""The SGD noise scale g = eps (N/B - 1) and the stationary variance of SGD on a quadratic (seed 004).

Smith, Kindermans & Le (seed 004, Sec. 2-4, building on Smith & Le 2017) read SGD as the discretisation of
an SDE whose temperature, the noise scale, is

.. math::

    g = \frac{\epsilon}{1-m}\Big(\frac{N}{B} - 1\Big) \approx \frac{\epsilon N}{B(1-m)} \quad (B \ll N),

with learning rate :math:`\epsilon`, momentum :math:`m`, training-set size :math:`N` and batch size :math:`B`.
This module derives that formula twice:

1. from the variance of a batch mean drawn *without replacement* (covariance of the inclusion
   indicators), which gives the factor :math:`N/B - 1` exactly;
2. from the exact stationary variance of plain and heavy-ball SGD on a quadratic
   :math:`L = h x^2/2` with additive gradient noise (the discrete Lyapunov equation), whose small-step
   limit depends on :math:`\epsilon`, :math:`m` and :math:`B` only through :math:`g`. That limit is the
   basis of the paper's schedule equivalence (decay :math:`\epsilon` or grow :math:`B`) and of the scaling
   rules :math:`B \propto \epsilon` and :math:`B \propto 1/(1-m)`.

Conventions: ``per_sample_var`` / ``noise_var`` is the per-sample gradient variance with the 1/N
normalisation, :math:`F = \frac1N\sum_i (g_i - \bar g)^2` (one coordinate; a diagonal Hessian is handled
coordinate by coordinate). Heavy-ball is ``v <- m v - eps g; x <- x + v`` (the PyTorch form up to the
scaling of v), momentum :math:`0 \le m < 1`. Each SGD step draws an independent batch.

Symbols: ``eps`` learning rate, ``rho`` momentum (the paper's :math:`m`), ``B``, ``N``, ``h`` curvature,
``sigma`` per-sample gradient standard deviation (from :mod:`theory.symbols`).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from theory._numeric import as_float_array, lambdify, scalar_or_array
from theory.symbols import B, N, eps, rho, sigma
from theory.symbols import h as h_sym

__all__ = [
    "STEP_NOISE",
    "batch_mean_variance_expr",
    "noise_scale_expr",
    "noise_scale_small_batch_expr",
    "heavy_ball_lyapunov_solution",
    "stationary_variance_expr",
    "stationary_variance_small_lr_expr",
    "batch_gradient_variance",
    "noise_scale",
    "effective_learning_rate",
    "batch_size_for_noise_scale",
    "linear_scaling_batch_size",
    "max_stable_lr",
    "step_noise_variance",
    "stationary_variance",
    "stationary_variance_small_lr",
    "stationary_loss",
]

#: Variance of the gradient noise added at one SGD step (per coordinate).
STEP_NOISE = sp.Symbol("s", positive=True)

_F = sigma**2  # per-sample gradient variance, 1/N convention


# ---------------------------------------------------------------------------------------------------------
# Symbolic derivations
# ---------------------------------------------------------------------------------------------------------


@cache
def batch_mean_variance_expr() -> sp.Expr:
    r"""Variance of the mean of B of N per-sample gradients drawn without replacement.

    With inclusion indicators :math:`\alpha_i` (``P(alpha_i=1) = B/N``, ``P(alpha_i alpha_j = 1) =
    B(B-1)/(N(N-1))``) and centred gradients (:math:`\sum_i g_i = 0`, so
    :math:`\sum_{i\ne j} g_i g_j = -N F`):

    .. math::

        \mathrm{Var}\Big[\frac1B\sum_i \alpha_i g_i\Big]
        = \frac{1}{B^2}\big(\mathrm{Var}\,\alpha - \mathrm{Cov}(\alpha_i,\alpha_j)\big) N F
        = \Big(\frac1B - \frac1N\Big)\frac{N}{N-1} F .

    Returns:
        The expression in ``B``, ``N`` and ``sigma**2`` (= F, the 1/N-normalised per-sample variance).

    References:
        Seed 004, Sec. 2 (via Smith & Le 2017, who drop the factor N/(N-1)).
    """
    inclusion = B / N
    pair_inclusion = B * (B - 1) / (N * (N - 1))
    var_indicator = inclusion - inclusion**2
    cov_indicators = pair_inclusion - inclusion**2
    sum_of_squares = N * _F
    var_of_sum = var_indicator * sum_of_squares - cov_indicators * sum_of_squares
    return sp.factor(sp.cancel(var_of_sum / B**2))


@cache
def heavy_ball_lyapunov_solution() -> dict[str, sp.Expr]:
    r"""Stationary second moments of heavy-ball SGD on ``L = h x^2 / 2`` with step noise of variance ``s``.

    The state :math:`z = (x, v)` evolves as :math:`z' = A z + q\,\xi` with

    .. math::

        A = \begin{pmatrix} 1-\epsilon h & m \\ -\epsilon h & m \end{pmatrix},\quad
        q = \begin{pmatrix} -\epsilon \\ -\epsilon \end{pmatrix},\quad \mathrm{Var}\,\xi = s,

    and its stationary covariance solves the discrete Lyapunov equation :math:`P = A P A^\top + s\,q q^\top`.
    Plain SGD is the case :math:`m = 0`.

    Returns:
        ``{"xx": E[x^2], "xv": E[x v], "vv": E[v^2]}`` in ``eps``, ``h``, ``rho`` and :data:`STEP_NOISE`.
    """
    p_xx, p_xv, p_vv = sp.symbols("p_xx p_xv p_vv")
    A = sp.Matrix([[1 - eps * h_sym, rho], [-eps * h_sym, rho]])
    q = sp.Matrix([-eps, -eps])
    P = sp.Matrix([[p_xx, p_xv], [p_xv, p_vv]])
    residual = P - A * P * A.T - STEP_NOISE * q * q.T
    sol = sp.solve([residual[0, 0], residual[0, 1], residual[1, 1]], [p_xx, p_xv, p_vv], dict=True)[0]
    return {"xx": sp.factor(sol[p_xx]), "xv": sp.factor(sol[p_xv]), "vv": sp.factor(sol[p_vv])}


def stationary_variance_expr() -> sp.Expr:
    r"""Exact stationary :math:`E[x^2]` of heavy-ball SGD on a quadratic (plain SGD at ``rho = 0``).

    .. math::

        E[x^2] = \frac{\epsilon s (1+m)}{h (1-m) \big(2(1+m) - \epsilon h\big)},
        \qquad 0 < \epsilon h < 2(1+m),\ 0 \le m < 1 .

    ``s`` (:data:`STEP_NOISE`) is the per-step gradient-noise variance: ``sigma**2 / B`` for batches drawn
    with replacement (or from an infinite population), :func:`batch_mean_variance_expr` without replacement.
    """
    return heavy_ball_lyapunov_solution()["xx"]


@cache
def stationary_variance_small_lr_expr() -> sp.Expr:
    """Leading order of :func:`stationary_variance_expr` as ``eps -> 0``: ``eps s / (2 h (1 - m))``."""
    # E[x^2]/eps is rational in eps and finite at eps = 0, so the limit is a substitution.
    exact_over_lr = sp.cancel(stationary_variance_expr() / eps)
    return sp.factor(exact_over_lr.subs(eps, 0) * eps)


@cache
def noise_scale_expr() -> sp.Expr:
    r"""The noise scale g, derived from the small-step stationary variance with finite-N batch noise.

    Substituting the without-replacement variance into the small-step stationary variance gives

    .. math::

        E[x^2] \to \frac{\epsilon}{2h(1-m)}\Big(\frac1B - \frac1N\Big)\frac{N}{N-1}F
        = g\,\frac{F}{2h(N-1)}, \qquad g = \frac{\epsilon}{1-m}\Big(\frac NB - 1\Big),

    so the fluctuations depend on :math:`(\epsilon, m, B, N)` only through :math:`g` (exactly, at this
    order). Returns :math:`g` in ``eps``, ``rho``, ``N``, ``B``.

    References:
        Seed 004, Sec. 2 and Sec. 4 (momentum form); Smith & Le (2017).
    """
    small = stationary_variance_small_lr_expr().subs(STEP_NOISE, batch_mean_variance_expr())
    return sp.factor(sp.cancel(small * 2 * h_sym * (N - 1) / _F))


def noise_scale_small_batch_expr() -> sp.Expr:
    """The B << N form of the noise scale, ``eps N / (B (1 - m))`` (seed 004, Sec. 2)."""
    return eps * N / (B * (1 - rho))


# ---------------------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------------------


def _momentum(value) -> np.ndarray:
    arr = as_float_array("momentum", value, nonnegative=True)
    if np.any(arr >= 1):
        raise ValueError(f"Invalid momentum: {value!r} (expected 0 <= momentum < 1)")
    return arr


def _batch_and_population(batch_size, n_train) -> tuple[np.ndarray, np.ndarray]:
    batch = as_float_array("batch_size", batch_size, at_least=1.0)
    population = as_float_array("n_train", n_train, at_least=2.0)
    if np.any(batch > population):
        raise ValueError(f"Invalid batch_size: {batch_size!r} (expected <= n_train = {n_train!r})")
    return batch, population


# ---------------------------------------------------------------------------------------------------------
# Numeric functions
# ---------------------------------------------------------------------------------------------------------


def batch_gradient_variance(n_train, batch_size, per_sample_var):
    r"""Variance of a batch-mean gradient drawn without replacement from a finite training set.

    .. math::

        \mathrm{Var}[\hat g] = \Big(\frac1B - \frac1N\Big)\frac{N}{N-1} F
        = \frac{N - B}{B(N-1)} F,

    where :math:`F` is the per-sample variance with the 1/N normalisation (for the 1/(N-1) sample
    variance :math:`S^2` the factor is just :math:`1/B - 1/N`).

    Args:
        n_train: training-set size N (>= 2).
        batch_size: batch size B, 1 <= B <= N.
        per_sample_var: F >= 0.

    Returns:
        The variance (float for scalar input, array otherwise); 0 at B = N.

    References:
        Seed 004, Sec. 2 (via Smith & Le 2017). See :func:`batch_mean_variance_expr` for the derivation.
    """
    batch, population = _batch_and_population(batch_size, n_train)
    variance = as_float_array("per_sample_var", per_sample_var, nonnegative=True)
    return scalar_or_array((population - batch) / (batch * (population - 1)) * variance)


def noise_scale(*, lr, n_train, batch_size, momentum=0.0):
    r"""The SGD noise scale :math:`g = \frac{\epsilon}{1-m}(N/B - 1)` (seed 004, Sec. 2 and 4).

    Args:
        lr: learning rate eps > 0.
        n_train: training-set size N (>= 2).
        batch_size: batch size B, 1 <= B <= N.
        momentum: heavy-ball coefficient m, 0 <= m < 1.

    Returns:
        g (float for scalar input, array otherwise).

    Note:
        The paper usually quotes :math:`g \approx \epsilon N/(B(1-m))`, whose relative error is
        :math:`B/(N-B)`: 11% at the paper's cap B = 5120 on CIFAR-10 (N = 50000).
    """
    epsilon = as_float_array("lr", lr, positive=True)
    m = _momentum(momentum)
    batch, population = _batch_and_population(batch_size, n_train)
    return scalar_or_array(epsilon / (1 - m) * (population / batch - 1))


def effective_learning_rate(*, lr, momentum=0.0):
    r"""The effective learning rate :math:`\epsilon_{eff} = \epsilon/(1-m)` (seed 004, Sec. 4).

    Args:
        lr: learning rate eps > 0.
        momentum: heavy-ball coefficient m, 0 <= m < 1.
    """
    epsilon = as_float_array("lr", lr, positive=True)
    return scalar_or_array(epsilon / (1 - _momentum(momentum)))


def batch_size_for_noise_scale(g, lr, n_train, momentum=0.0):
    r"""The batch size that gives noise scale g: the exact inverse of :func:`noise_scale`.

    .. math::

        B = \frac{N}{1 + g(1-m)/\epsilon} = \frac{\epsilon N}{\epsilon + g(1-m)} .

    Not a whole number in general; round it as the application requires.

    Args:
        g: the target noise scale, > 0.
        lr: learning rate eps > 0.
        n_train: training-set size N (>= 2).
        momentum: heavy-ball coefficient m, 0 <= m < 1.
    """
    noise = as_float_array("g", g, positive=True)
    epsilon = as_float_array("lr", lr, positive=True)
    population = as_float_array("n_train", n_train, at_least=2.0)
    m = _momentum(momentum)
    return scalar_or_array(epsilon * population / (epsilon + noise * (1 - m)))


def linear_scaling_batch_size(g, lr, n_train, momentum=0.0):
    r"""The B << N scaling rule :math:`B = \epsilon N / (g (1-m))`, i.e. B ∝ eps and B ∝ 1/(1-m).

    This is :func:`batch_size_for_noise_scale` to leading order in B/N: the exact batch is
    :math:`B_{lin}/(1 + B_{lin}/N)`.

    Args:
        g: the target noise scale, > 0.
        lr: learning rate eps > 0.
        n_train: training-set size N (>= 2).
        momentum: heavy-ball coefficient m, 0 <= m < 1.

    References:
        Seed 004, Sec. 1 and 5.2 (":math:`B \propto \epsilon`", ":math:`B \propto 1/(1-m)`").
    """
    noise = as_float_array("g", g, positive=True)
    epsilon = as_float_array("lr", lr, positive=True)
    population = as_float_array("n_train", n_train, at_least=2.0)
    m = _momentum(momentum)
    return scalar_or_array(epsilon * population / (noise * (1 - m)))


def max_stable_lr(h, momentum=0.0):
    r"""Largest stable step on curvature h: plain and heavy-ball SGD need :math:`\epsilon h < 2(1+m)`.

    Args:
        h: curvature(s) > 0.
        momentum: heavy-ball coefficient m, 0 <= m < 1.
    """
    curvature = as_float_array("h", h, positive=True)
    return scalar_or_array(2 * (1 + _momentum(momentum)) / curvature)


def step_noise_variance(batch_size, noise_var, n_train=None):
    """Per-step gradient-noise variance: ``noise_var / B``, or the without-replacement form if N is given.

    With ``n_train`` the batch is a without-replacement draw from N samples whose per-sample variance is
    ``noise_var`` in the 1/N convention: :math:`F (1/B - 1/N) N/(N-1)` (:func:`batch_gradient_variance`).

    Args:
        batch_size: B >= 1.
        noise_var: per-sample gradient variance F >= 0.
        n_train: training-set size N for without-replacement batches, or None for independent samples.
    """
    if n_train is not None:
        return batch_gradient_variance(n_train, batch_size, noise_var)
    batch = as_float_array("batch_size", batch_size, at_least=1.0)
    variance = as_float_array("noise_var", noise_var, nonnegative=True)
    return scalar_or_array(variance / batch)


def _checked_inputs(h, lr, momentum):
    curvature = as_float_array("h", h, positive=True)
    epsilon = as_float_array("lr", lr, positive=True)
    m = _momentum(momentum)
    if np.any(epsilon * curvature >= 2 * (1 + m)):
        raise ValueError(
            f"Invalid lr: {lr!r} (expected lr * h < 2 (1 + momentum) for a stationary distribution; "
            f"max h is {np.max(curvature)!r})"
        )
    return curvature, epsilon, m


def stationary_variance(h, lr, batch_size, noise_var, momentum=0.0, n_train=None):
    r"""Exact stationary :math:`E[x^2]` of (heavy-ball) SGD on :math:`L = \sum_i h_i x_i^2/2`.

    .. math::

        E[x_i^2] = \frac{\epsilon s (1+m)}{h_i (1-m) \big(2(1+m) - \epsilon h_i\big)},
        \qquad s = \frac{F}{B}\ \text{or}\ F\Big(\frac1B-\frac1N\Big)\frac{N}{N-1},

    from the discrete Lyapunov equation (:func:`heavy_ball_lyapunov_solution`). Each coordinate of a
    diagonal Hessian is independent.

    Args:
        h: curvature(s) h_i > 0 (the Hessian eigenvalues; arrays broadcast).
        lr: learning rate eps > 0.
        batch_size: B >= 1.
        noise_var: per-sample gradient variance F >= 0 (per coordinate, 1/N convention).
        momentum: m, 0 <= m < 1.
        n_train: training-set size N for without-replacement batches, or None for independent samples.

    Raises:
        ValueError: on invalid input, or outside the stability region :math:`0 < \epsilon h < 2(1+m)`.

    Note:
        The additive-noise model is exact for per-sample losses :math:`h(x-a_j)^2/2` with a common
        curvature (then F = h² Var(a)). The without-replacement form assumes a fresh batch per step, not
        the epoch-wise reshuffling of real training, whose successive batches are (weakly) correlated.
    """
    curvature, epsilon, m = _checked_inputs(h, lr, momentum)
    s = np.asarray(step_noise_variance(batch_size, noise_var, n_train))
    fn = lambdify((eps, h_sym, rho, STEP_NOISE), stationary_variance_expr())
    return scalar_or_array(fn(epsilon, curvature, m, s))


def stationary_variance_small_lr(h, lr, batch_size, noise_var, momentum=0.0, n_train=None):
    r"""Small-step limit of :func:`stationary_variance`: :math:`E[x^2] \approx \epsilon s/(2h(1-m))`.

    Without ``n_train`` this is :math:`\frac{\epsilon}{B(1-m)}\frac{F}{2h}`: it depends on lr, B and m
    only through :math:`\epsilon/(B(1-m))`. With ``n_train`` it is exactly :math:`g F/(2h(N-1))` with
    :math:`g` from :func:`noise_scale`. The exact value exceeds it by the factor
    :math:`1/(1 - \epsilon h/(2(1+m)))`.

    Args:
        h: curvature(s) h_i > 0 (the Hessian eigenvalues; arrays broadcast).
        lr: learning rate eps > 0.
        batch_size: B >= 1.
        noise_var: per-sample gradient variance F >= 0 (per coordinate, 1/N convention).
        momentum: m, 0 <= m < 1.
        n_train: training-set size N for without-replacement batches, or None for independent samples.

    References:
        Seed 004, Sec. 2 and 4: the basis of the equivalence of decaying eps and growing B.
    """
    curvature, epsilon, m = _checked_inputs(h, lr, momentum)
    s = np.asarray(step_noise_variance(batch_size, noise_var, n_train))
    fn = lambdify((eps, h_sym, rho, STEP_NOISE), stationary_variance_small_lr_expr())
    return scalar_or_array(fn(epsilon, curvature, m, s))


def stationary_loss(h, lr, batch_size, noise_var, momentum=0.0, n_train=None):
    r"""Stationary expected loss :math:`E[L] = \sum_i h_i E[x_i^2] / 2` (sum over the last axis of h).

    For scalar h it is :math:`h E[x^2]/2`.

    Args:
        h: curvature(s) h_i > 0 (the Hessian eigenvalues; arrays broadcast).
        lr: learning rate eps > 0.
        batch_size: B >= 1.
        noise_var: per-sample gradient variance F >= 0 (per coordinate, 1/N convention).
        momentum: m, 0 <= m < 1.
        n_train: training-set size N for without-replacement batches, or None for independent samples.
    """
    variance = np.asarray(stationary_variance(h, lr, batch_size, noise_var, momentum, n_train))
    curvature = np.broadcast_to(np.asarray(h, dtype=float), variance.shape)
    per_coordinate = 0.5 * curvature * variance
    if np.ndim(h) == 0:
        return scalar_or_array(per_coordinate)
    return scalar_or_array(np.sum(per_coordinate, axis=-1))

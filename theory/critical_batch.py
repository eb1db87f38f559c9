r"""Critical batch sizes: McCandlish et al.'s gradient noise scale and Ma, Bassily & Belkin's m* (seed 002).

Golmant et al. (seed 002, Sec. 3) measure the speed-up ratio :math:`s(m; m_0) = k(m_0)/k(m)` (iterations to
a target loss at batch :math:`m_0` over those at batch :math:`m`) and see three regimes: linear, sublinear,
flat. Two theories predict that shape.

**McCandlish et al. (2018), noisy quadratic model.** One SGD step with step :math:`\epsilon` and a batch of
:math:`B` samples (true gradient :math:`G`, Hessian :math:`H`, per-sample covariance :math:`\Sigma`) lowers
the loss in expectation by

.. math::

    \Delta L(\epsilon, B) = \epsilon |G|^2 - \frac{\epsilon^2}{2}\Big(G^\top H G + \frac{\mathrm{tr}(H\Sigma)}{B}\Big),

maximised by :math:`\epsilon_{opt} = \epsilon_{max}/(1 + \mathcal B_{noise}/B)` with
:math:`\epsilon_{max} = |G|^2/G^\top H G` and :math:`\mathcal B_{noise} = \mathrm{tr}(H\Sigma)/G^\top H G`, giving
:math:`\Delta L_{opt} = \Delta L_{max}/(1 + \mathcal B_{noise}/B)`. Steps and examples to a target follow:
:math:`S = S_{min}(1 + \mathcal B_{noise}/B)`, :math:`E = S B = E_{min}(1 + B/\mathcal B_{noise})` with
:math:`E_{min} = S_{min}\mathcal B_{noise}`, hence :math:`(S/S_{min} - 1)(E/E_{min} - 1) = 1`, and the
speed-up :math:`s(m; m_0) = (1 + \mathcal B_{noise}/m_0)/(1 + \mathcal B_{noise}/m)`.

**Ma, Bassily & Belkin (2018), interpolating least squares.** With :math:`H = E[x x^\top]` (largest
eigenvalue :math:`\lambda_1`, smallest non-zero :math:`\lambda_{min}`) and :math:`\beta = \max\|x\|^2`,
batch-:math:`m` SGD contracts :math:`E\|w - w^*\|^2` per step by at most
:math:`\max_\lambda \phi(\lambda)`, :math:`\phi(\lambda) = 1 - 2\eta\lambda + \eta^2\lambda(\beta + (m-1)\lambda)/m`
(from :math:`E[H_m^2] \preceq \frac{\beta}{m}H + \frac{m-1}{m}H^2`; equality when all :math:`\|x\|^2 = \beta`).

The sympy derivations are exposed as ``*_expr`` functions; the numeric functions broadcast and return
floats for scalar input.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np
import sympy as sp

from theory._numeric import as_float_array, scalar_or_array
from theory.symbols import B

__all__ = [
    "GRAD_SQ",
    "CURVATURE_ALONG_GRAD",
    "TRACE_H_SIGMA",
    "loss_decrease_expr",
    "optimal_lr_expr",
    "optimal_loss_decrease_expr",
    "tradeoff_expr",
    "least_squares_step_contraction_expr",
    "b_simple",
    "b_noise",
    "optimal_lr",
    "loss_decrease",
    "steps_to_target",
    "examples_to_target",
    "critical_batch_size",
    "critical_batch_from_minima",
    "speedup",
    "speedup_limit",
    "batch_for_speedup_fraction",
    "scaling_exponent",
    "LR_RULES",
    "scaled_lr",
    "rule_speedup",
    "LeastSquaresConstants",
    "least_squares_constants",
    "least_squares_contraction",
    "least_squares_optimal_lr",
    "least_squares_optimal_lr_two_sided",
    "least_squares_critical_batch",
]

#: :math:`|G|^2`, the squared norm of the true gradient.
GRAD_SQ = sp.Symbol("G2", positive=True)
#: :math:`G^\top H G`, the curvature along the gradient.
CURVATURE_ALONG_GRAD = sp.Symbol("GHG", positive=True)
#: :math:`\mathrm{tr}(H\Sigma)`.
TRACE_H_SIGMA = sp.Symbol("trHSigma", positive=True)

_lr = sp.Symbol("epsilon", positive=True)
_s_min, _e_min = sp.symbols("S_min E_min", positive=True)
_eta, _lam, _beta = sp.symbols("eta lambda beta", positive=True)
_m = sp.Symbol("m", positive=True)


# ---------------------------------------------------------------------------------------------------------
# Symbolic derivations
# ---------------------------------------------------------------------------------------------------------


def loss_decrease_expr() -> sp.Expr:
    r"""Expected one-step decrease of a quadratic loss, :math:`\epsilon|G|^2 - \frac{\epsilon^2}{2}(G^\top HG + \mathrm{tr}(H\Sigma)/B)`.

    From :math:`E[\hat G] = G` and :math:`E[\hat G\hat G^\top] = GG^\top + \Sigma/B` (McCandlish et al. 2018, Sec. 2).

    Note:
        :math:`\Sigma/B` is the covariance of a batch drawn with replacement (or from unlimited data).
        Without replacement from N samples it is :math:`\Sigma(1/B - 1/N)N/(N-1)` (see
        ``theory.noise_scale.batch_gradient_variance``), which only matters when B is a sizeable part of N.
    """
    return _lr * GRAD_SQ - _lr**2 / 2 * (CURVATURE_ALONG_GRAD + TRACE_H_SIGMA / B)


@cache
def optimal_lr_expr() -> sp.Expr:
    r"""The step maximising :func:`loss_decrease_expr`: :math:`\epsilon_{opt} = |G|^2/(G^\top HG + \mathrm{tr}(H\Sigma)/B)`."""
    decrease = loss_decrease_expr()
    (solution,) = sp.solve(sp.diff(decrease, _lr), _lr)
    return sp.simplify(solution)


@cache
def optimal_loss_decrease_expr() -> sp.Expr:
    r"""The decrease at :math:`\epsilon_{opt}`: :math:`|G|^4/(2(G^\top HG + \mathrm{tr}(H\Sigma)/B))`."""
    return sp.simplify(loss_decrease_expr().subs(_lr, optimal_lr_expr()))


@cache
def tradeoff_expr() -> sp.Expr:
    r""":math:`(S/S_{min} - 1)(E/E_{min} - 1)` with :math:`S = S_{min}(1 + \mathcal B/B)`, :math:`E = S B`; simplifies to 1.

    :math:`E_{min}` is the limit of :math:`E` as :math:`B \to 0`, :math:`S_{min}\mathcal B`.
    """
    b_noise_sym = sp.Symbol("B_noise", positive=True)
    steps = _s_min * (1 + b_noise_sym / B)
    examples = steps * B
    e_min = sp.limit(examples, B, 0)
    return sp.simplify((steps / _s_min - 1) * (examples / e_min - 1))


def least_squares_step_contraction_expr() -> sp.Expr:
    r"""Contraction of :math:`E\|w-w^*\|^2` along an eigendirection of :math:`H` with eigenvalue :math:`\lambda`.

    .. math:: \phi(\lambda) = 1 - 2\eta\lambda + \frac{\eta^2\lambda(\beta + (m-1)\lambda)}{m}

    Symbols ``eta``, ``lambda``, ``beta``, ``m`` (Ma, Bassily & Belkin 2018, quadratic loss).
    """
    return 1 - 2 * _eta * _lam + _eta**2 * _lam * (_beta + (_m - 1) * _lam) / _m


# ---------------------------------------------------------------------------------------------------------
# McCandlish et al.: noise scales, optimal step, steps and examples
# ---------------------------------------------------------------------------------------------------------


def b_simple(trace_sigma, grad_sq_norm):
    r"""The simple noise scale :math:`\mathcal B_{simple} = \mathrm{tr}(\Sigma)/|G|^2` (:math:`= \mathcal B_{noise}` if :math:`H \propto I`).

    References:
        McCandlish et al. (2018), Sec. 2; used by seed 002's critical-batch discussion.

    Args:
        trace_sigma: tr(Sigma), the trace of the per-sample gradient covariance (>= 0).
        grad_sq_norm: |G|^2, the squared norm of the true gradient (> 0).
    """
    trace = as_float_array("trace_sigma", trace_sigma, nonnegative=True)
    grad = as_float_array("grad_sq_norm", grad_sq_norm, positive=True)
    return scalar_or_array(trace / grad)


def _square_matrix(name: str, value, dim: int) -> np.ndarray:
    arr = as_float_array(name, value)
    if arr.shape != (dim, dim):
        raise ValueError(f"Invalid {name}: shape {arr.shape} (expected ({dim}, {dim}) to match grad)")
    return arr


def b_noise(hessian, sigma, grad):
    r"""The noise scale :math:`\mathcal B_{noise} = \mathrm{tr}(H\Sigma)/(G^\top H G)`.

    Args:
        hessian: H, shape (d, d).
        sigma: per-sample gradient covariance :math:`\Sigma`, shape (d, d).
        grad: true gradient G, shape (d,).

    Raises:
        ValueError: for mismatched shapes, non-finite entries or :math:`G^\top H G \le 0`.

    References:
        McCandlish et al. (2018), Sec. 2.
    """
    g = as_float_array("grad", grad)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"Invalid grad: shape {g.shape} (expected a non-empty vector)")
    h = _square_matrix("hessian", hessian, g.size)
    cov = _square_matrix("sigma", sigma, g.size)
    curvature = float(g @ h @ g)
    if curvature <= 0:
        raise ValueError(f"Invalid hessian: G^T H G = {curvature!r} (expected > 0)")
    return float(np.trace(h @ cov)) / curvature


def _noise_and_batch(batch_size, b_noise_value) -> tuple[np.ndarray, np.ndarray]:
    batch = as_float_array("batch_size", batch_size, positive=True)
    noise = as_float_array("b_noise", b_noise_value, nonnegative=True)
    return batch, noise


def optimal_lr(batch_size, lr_max, b_noise):
    r""":math:`\epsilon_{opt}(B) = \epsilon_{max}/(1 + \mathcal B_{noise}/B)` (McCandlish et al. 2018, Sec. 2).

    Args:
        batch_size: B (> 0).
        lr_max: epsilon_max = |G|^2/(G^T H G) (> 0).
        b_noise: the noise scale B_noise (>= 0).
    """
    batch, noise = _noise_and_batch(batch_size, b_noise)
    top = as_float_array("lr_max", lr_max, positive=True)
    return scalar_or_array(top / (1 + noise / batch))


def loss_decrease(lr, batch_size, lr_max, b_noise):
    r"""One-step decrease in units of :math:`\Delta L_{max}`: :math:`2x - x^2(1 + \mathcal B_{noise}/B)`, :math:`x = \epsilon/\epsilon_{max}`.

    This is :func:`loss_decrease_expr` divided by :math:`\Delta L_{max} = |G|^4/(2G^\top HG)`. It is 1/(1 +
    B_noise/B) at the optimal step and negative (the loss grows) for :math:`x > 2/(1 + \mathcal B_{noise}/B)`.

    Args:
        lr: the step size epsilon (> 0).
        batch_size: B (> 0).
        lr_max: epsilon_max = |G|^2/(G^T H G), the best step without noise (> 0).
        b_noise: the noise scale B_noise (>= 0).
    """
    step = as_float_array("lr", lr, positive=True)
    batch, noise = _noise_and_batch(batch_size, b_noise)
    x = step / as_float_array("lr_max", lr_max, positive=True)
    return scalar_or_array(2 * x - x**2 * (1 + noise / batch))


def steps_to_target(batch_size, s_min, b_noise):
    r"""Steps to a target loss, :math:`S = S_{min}(1 + \mathcal B_{noise}/B)` (McCandlish et al. 2018, Sec. 2).

    Each step at the optimal step size makes :math:`1/(1 + \mathcal B_{noise}/B)` of the noiseless progress,
    so with :math:`\mathcal B_{noise}` taken constant along the way the step count scales by the inverse.

    Args:
        batch_size: B (> 0).
        s_min: S_min, the steps needed with B -> infinity (> 0).
        b_noise: the noise scale B_noise (>= 0).
    """
    batch, noise = _noise_and_batch(batch_size, b_noise)
    fewest = as_float_array("s_min", s_min, positive=True)
    return scalar_or_array(fewest * (1 + noise / batch))


def examples_to_target(batch_size, e_min, b_noise):
    r"""Examples to a target loss, :math:`E = E_{min}(1 + B/\mathcal B_{noise})` (McCandlish et al. 2018, Sec. 2).

    Requires :math:`\mathcal B_{noise} > 0` (with no noise, :math:`E_{min} = 0` and E = S B is not of this form).

    Args:
        batch_size: B (> 0).
        e_min: E_min, the examples needed with B -> 0 (> 0).
        b_noise: the noise scale B_noise (> 0).
    """
    batch = as_float_array("batch_size", batch_size, positive=True)
    noise = as_float_array("b_noise", b_noise, positive=True)
    fewest = as_float_array("e_min", e_min, positive=True)
    return scalar_or_array(fewest * (1 + batch / noise))


def critical_batch_size(b_noise):
    r"""The critical batch :math:`\mathcal B_{crit} = E_{min}/S_{min} = \mathcal B_{noise}` of the noisy quadratic model.

    Three definitions coincide at :math:`B = \mathcal B_{noise}` in this model: (i) :math:`S = 2S_{min}` and
    :math:`E = 2E_{min}` (the balanced point of the steps/examples trade-off); (ii) the speed-up
    :math:`s(B; m_0)` reaches half of its limit :math:`1 + \mathcal B_{noise}/m_0`, for every :math:`m_0`;
    (iii) the scaling exponent :math:`d\log s/d\log B` (1 = linear scaling) has fallen to 1/2.
    A fourth reading, the batch where the efficiency :math:`s/(B/m_0)` halves, is
    :math:`\mathcal B_{noise} + 2m_0` and so depends on the base batch.

    References:
        McCandlish et al. (2018), Sec. 2.2; the notion seed 002 (Sec. 3) borrows from Ma et al.

    Args:
        b_noise: the noise scale B_noise (>= 0).
    """
    return scalar_or_array(as_float_array("b_noise", b_noise, positive=True))


def critical_batch_from_minima(s_min, e_min):
    r""":math:`\mathcal B_{crit} = E_{min}/S_{min}`, from measured minimal steps and examples (McCandlish et al. 2018).

    Args:
        s_min: S_min, the fewest steps to the target (> 0).
        e_min: E_min, the fewest examples to the target (> 0).
    """
    steps = as_float_array("s_min", s_min, positive=True)
    examples = as_float_array("e_min", e_min, positive=True)
    return scalar_or_array(examples / steps)


# ---------------------------------------------------------------------------------------------------------
# Seed 002's speed-up ratio as the model predicts it
# ---------------------------------------------------------------------------------------------------------


def speedup(m, m0, b_noise):
    r"""Speed-up ratio :math:`s(m; m_0) = S(m_0)/S(m) = (1 + \mathcal B_{noise}/m_0)/(1 + \mathcal B_{noise}/m)`.

    Seed 002 (Sec. 3) defines :math:`s(m; m_0) = k(m_0)/k(m)`; this is its value under the noisy
    quadratic model with the optimal step at every batch size. It is :math:`\approx m/m_0` for
    :math:`m_0 \le m \ll \mathcal B_{noise}` and saturates at :func:`speedup_limit`.

    Args:
        m: the batch size (> 0).
        m0: the reference batch size (> 0).
        b_noise: the noise scale B_noise (>= 0).
    """
    batch = as_float_array("m", m, positive=True)
    base = as_float_array("m0", m0, positive=True)
    noise = as_float_array("b_noise", b_noise, nonnegative=True)
    return scalar_or_array((1 + noise / base) / (1 + noise / batch))


def speedup_limit(m0, b_noise):
    r""":math:`\lim_{m\to\infty} s(m; m_0) = 1 + \mathcal B_{noise}/m_0`: no batch size gives more.

    Args:
        m0: the reference batch size (> 0).
        b_noise: the noise scale B_noise (>= 0).
    """
    base = as_float_array("m0", m0, positive=True)
    noise = as_float_array("b_noise", b_noise, nonnegative=True)
    return scalar_or_array(1 + noise / base)


def batch_for_speedup_fraction(fraction, b_noise):
    r"""The batch at which :math:`s(m; m_0)` reaches ``fraction`` of its limit: :math:`m = \mathcal B_{noise} f/(1-f)`.

    Independent of :math:`m_0` (valid when the result is :math:`\ge m_0`); half the limit at :math:`\mathcal B_{noise}`.

    Args:
        fraction: the fraction f in (0, 1) of the limiting speed-up.
        b_noise: the noise scale B_noise (> 0).
    """
    f = as_float_array("fraction", fraction, positive=True)
    if np.any(f >= 1):
        raise ValueError(f"Invalid fraction: {fraction!r} (expected 0 < fraction < 1)")
    noise = as_float_array("b_noise", b_noise, positive=True)
    return scalar_or_array(noise * f / (1 - f))


def scaling_exponent(m, b_noise):
    r"""Local scaling exponent :math:`d\log s/d\log m = \mathcal B_{noise}/(m + \mathcal B_{noise})`.

    1 is perfect linear scaling (seed 002's regime 1), 0 is stagnation (regime 3).

    Args:
        m: the batch size (> 0).
        b_noise: the noise scale B_noise (>= 0).
    """
    batch = as_float_array("m", m, positive=True)
    noise = as_float_array("b_noise", b_noise, nonnegative=True)
    return scalar_or_array(noise / (batch + noise))


LR_RULES = ("blr", "lsr", "srsr")


def scaled_lr(m, m0, lr0, rule):
    r"""Seed 002's learning-rate strategies: BLR :math:`\epsilon_0`, LSR :math:`\epsilon_0 m/m_0`, SRSR :math:`\epsilon_0\sqrt{m/m_0}`.

    References:
        Seed 002, Sec. 2 and Table 1 (warm-up of LSR is not modelled: it does not change the stationary
        step).

    Args:
        m: the batch size (> 0).
        m0: the reference batch size (> 0).
        lr0: the learning rate at m0 (> 0).
        rule: one of :data:`LR_RULES`: ``"blr"``, ``"lsr"`` or ``"srsr"``.
    """
    if rule not in LR_RULES:
        raise ValueError(f"Invalid rule: {rule!r} (expected one of {LR_RULES})")
    ratio = as_float_array("m", m, positive=True) / as_float_array("m0", m0, positive=True)
    base = as_float_array("lr0", lr0, positive=True)
    exponent = {"blr": 0.0, "lsr": 1.0, "srsr": 0.5}[rule]
    return scalar_or_array(base * ratio**exponent)


def rule_speedup(m, m0, b_noise, rule, lr0_fraction=None):
    r"""Speed-up :math:`s(m; m_0)` of a learning-rate rule in the noisy quadratic model.

    Steps to a target are taken inversely proportional to the one-step decrease (:func:`loss_decrease`),
    so :math:`s = \Delta L(\epsilon(m), m)/\Delta L(\epsilon_0, m_0)`. A rule whose step makes the loss grow
    gets speed-up 0 (it never reaches the target).

    Args:
        m: batch size(s).
        m0: base batch size.
        b_noise: :math:`\mathcal B_{noise}`.
        rule: ``"blr"``, ``"lsr"`` or ``"srsr"``.
        lr0_fraction: :math:`\epsilon_0/\epsilon_{max}`; default the optimum at :math:`m_0`,
            :math:`1/(1 + \mathcal B_{noise}/m_0)` (seed 002 tunes :math:`\epsilon_0` on a small batch).

    Note:
        A local, one-step model: the curvature and noise are frozen, so "plateau" appears as the
        speed-up limit of BLR and "instability" as the zero of LSR/SRSR.
    """
    noise = as_float_array("b_noise", b_noise, nonnegative=True)
    base = as_float_array("m0", m0, positive=True)
    x0 = (
        1 / (1 + noise / base)
        if lr0_fraction is None
        else as_float_array("lr0_fraction", lr0_fraction, positive=True)
    )
    reference = loss_decrease(x0, base, 1.0, noise)
    if np.any(np.asarray(reference) <= 0):
        raise ValueError(
            f"Invalid lr0_fraction: {lr0_fraction!r} (expected a step that decreases the loss at m0)"
        )
    decrease = loss_decrease(scaled_lr(m, base, x0, rule), m, 1.0, noise)
    return scalar_or_array(np.maximum(decrease, 0.0) / reference)


# ---------------------------------------------------------------------------------------------------------
# Ma, Bassily & Belkin: interpolating least squares
# ---------------------------------------------------------------------------------------------------------


class LeastSquaresConstants(NamedTuple):
    """Data constants of Ma, Bassily & Belkin for :math:`H = \\frac1n X^\\top X`."""

    beta: float  # max_i ||x_i||^2
    lambda_1: float  # largest eigenvalue of H
    lambda_min: float  # smallest non-zero eigenvalue of H
    trace: float  # tr H = mean ||x_i||^2 <= beta


def least_squares_constants(X) -> LeastSquaresConstants:
    r"""β, λ₁, the smallest non-zero eigenvalue and tr H for a data matrix X of shape (n, d).

    :math:`H = \frac1n\sum_i x_i x_i^\top`, :math:`\beta = \max_i\|x_i\|^2` (Ma, Bassily & Belkin use a bound
    :math:`\|x\|^2 \le \beta`; the max over the data is the tightest one). Eigenvalues below
    :math:`\max(n, d)\,\epsilon_{mach}\lambda_1` count as zero. Note :math:`\lambda_1 \le \mathrm{tr}H \le \beta`.

    Args:
        X: (n, d) data matrix, one sample per row.
    """
    data = as_float_array("X", X)
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"Invalid X: shape {data.shape} (expected a non-empty (n, d) matrix)")
    norms = np.einsum("ij,ij->i", data, data)
    if np.max(norms) == 0:
        raise ValueError("Invalid X: all rows are zero (expected at least one non-zero row)")
    eigenvalues = np.linalg.eigvalsh(data.T @ data / data.shape[0])
    top = float(eigenvalues[-1])
    nonzero = eigenvalues[eigenvalues > max(data.shape) * np.finfo(float).eps * top]
    return LeastSquaresConstants(float(np.max(norms)), top, float(nonzero[0]), float(np.mean(norms)))


def _least_squares_inputs(m, beta, lambda_1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    batch = as_float_array("m", m, at_least=1.0)
    bound = as_float_array("beta", beta, positive=True)
    top = as_float_array("lambda_1", lambda_1, positive=True)
    if np.any(top > bound):
        raise ValueError(
            f"Invalid lambda_1: {lambda_1!r} (expected <= beta = {beta!r}, since lambda_1 <= tr H <= beta)"
        )
    return batch, bound, top


def least_squares_contraction(m, lr, beta, eigenvalues):
    r"""Worst one-step contraction :math:`\max_\lambda \phi(\lambda)` of :math:`E\|w-w^*\|^2` over the given eigenvalues.

    :math:`\phi(\lambda) = 1 - 2\eta\lambda + \eta^2\lambda(\beta + (m-1)\lambda)/m` is exact when every
    :math:`\|x_i\|^2 = \beta` (then :math:`E[\|x\|^2 x x^\top] = \beta H`) and an upper bound otherwise.
    ``eigenvalues`` is a 1-D array (the contraction is taken over its last axis); ``m`` and ``lr`` scalars.
    The m samples of a batch are drawn independently and uniformly (with replacement), as in Ma et al.

    References:
        Ma, Bassily & Belkin (2018), the section on the quadratic loss.

    Args:
        m: batch size (>= 1).
        lr: step size eta (> 0).
        beta: max_j |x_j|^2 (> 0).
        eigenvalues: the eigenvalues lambda of H = E[x x^T] at which phi is evaluated.
    """
    spectrum = as_float_array("eigenvalues", eigenvalues, positive=True)
    batch = as_float_array("m", m, at_least=1.0)
    bound = as_float_array("beta", beta, positive=True)
    if np.any(spectrum > bound):
        raise ValueError(f"Invalid eigenvalues: {eigenvalues!r} (expected <= beta = {beta!r})")
    eta = as_float_array("lr", lr, positive=True)
    phi = 1 - 2 * eta * spectrum + eta**2 * spectrum * (bound + (batch - 1) * spectrum) / batch
    return scalar_or_array(np.max(phi, axis=-1))


def least_squares_optimal_lr(m, beta, lambda_1):
    r"""Ma et al.'s optimal step :math:`\eta^*(m) = m/(\beta + (m-1)\lambda_1)`.

    It minimises the contraction :math:`\phi(\lambda_1)` of the top eigendirection, and also the bound
    obtained by replacing :math:`(m-1)\lambda^2` with :math:`(m-1)\lambda_1\lambda` in :math:`\phi`, which
    is then :math:`1 - m\lambda_{min}/(\beta + (m-1)\lambda_1)` for every m. Linear scaling
    :math:`\eta^* \approx m/\beta` for :math:`m - 1 \ll \beta/\lambda_1`; saturation
    :math:`\eta^* \to 1/\lambda_1` above.

    Args:
        m: batch size (>= 1).
        beta: max_j |x_j|^2 (> 0).
        lambda_1: the largest eigenvalue of H (> 0).

    Note:
        :math:`\eta^*(m) = \epsilon_{max}/(1 + \mathcal B/m)` with :math:`\epsilon_{max} = 1/\lambda_1` and
        :math:`\mathcal B = \beta/\lambda_1 - 1`: exactly McCandlish's form.
    """
    batch, bound, top = _least_squares_inputs(m, beta, lambda_1)
    return scalar_or_array(batch / (bound + (batch - 1) * top))


def least_squares_optimal_lr_two_sided(m, beta, lambda_1, lambda_min):
    r"""The step minimising :math:`\max(\phi(\lambda_{min}), \phi(\lambda_1))`, the exact worst-case contraction.

    .. math::

        \eta^*(m) = \begin{cases} \dfrac{m}{\beta + (m-1)\lambda_{min}} & m \le m^*\\[1ex]
        \dfrac{2m}{\beta + (m-1)(\lambda_1 + \lambda_{min})} & m > m^* \end{cases},
        \qquad m^* = \frac{\beta}{\lambda_1 - \lambda_{min}} + 1 .

    Since :math:`\phi` is convex in :math:`\lambda`, the maximum over the spectrum sits at an end. Below
    :math:`m^*` the :math:`\lambda_{min}` direction's own optimum keeps :math:`\phi(\lambda_1)` smaller;
    above it the optimum is where the two ends are equal.

    Args:
        m: batch size (>= 1).
        beta: max_j |x_j|^2 (> 0).
        lambda_1: the largest eigenvalue of H (> 0).
        lambda_min: the smallest non-zero eigenvalue of H (> 0, <= lambda_1).
    """
    batch, bound, top = _least_squares_inputs(m, beta, lambda_1)
    bottom = as_float_array("lambda_min", lambda_min, positive=True)
    if np.any(bottom > top):
        raise ValueError(f"Invalid lambda_min: {lambda_min!r} (expected <= lambda_1 = {lambda_1!r})")
    linear = batch / (bound + (batch - 1) * bottom)
    saturated = 2 * batch / (bound + (batch - 1) * (top + bottom))
    in_linear_regime = (batch - 1) * (top - bottom) <= bound
    return scalar_or_array(np.where(in_linear_regime, linear, saturated))


def least_squares_critical_batch(beta, lambda_1, lambda_min=0.0):
    r"""Ma et al.'s critical batch :math:`m^* = \beta/(\lambda_1 - \lambda_{min}) + 1`, :math:`\beta/\lambda_1 + 1` by default.

    With :math:`\lambda_{min} = 0` (the default) this is the batch at which the two terms of
    :math:`\beta + (m-1)\lambda_1` are equal, i.e. :math:`\eta^*(m^*) = \tfrac12\, m^*\eta^*(1)`: the optimal
    step is half the linear-scaling extrapolation. With :math:`\lambda_{min} > 0` it is the exact end of
    the linear regime of :func:`least_squares_optimal_lr_two_sided` (infinite when :math:`\lambda_{min} = \lambda_1`).

    Args:
        beta: max_j |x_j|^2 (> 0).
        lambda_1: the largest eigenvalue of H (> 0).
        lambda_min: the smallest non-zero eigenvalue of H (0 for Ma et al.'s beta/lambda_1 + 1).

    Note:
        The ``+1`` is exact here. McCandlish's critical batch for the same :math:`\eta^*(m)` is
        :math:`\mathcal B = \beta/\lambda_1 - 1` (half of the *saturated* step), two samples fewer.
    """
    _, bound, top = _least_squares_inputs(1.0, beta, lambda_1)
    bottom = as_float_array("lambda_min", lambda_min, nonnegative=True)
    if np.any(bottom > top):
        raise ValueError(f"Invalid lambda_min: {lambda_min!r} (expected <= lambda_1 = {lambda_1!r})")
    gap = top - bottom
    with np.errstate(divide="ignore"):
        return scalar_or_array(np.where(gap > 0, bound / np.where(gap > 0, gap, 1.0) + 1, np.inf))

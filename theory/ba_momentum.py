"""Batch-adaptive momentum (seed 000, Sec. 3, eqs. 10-16): the momentum buffer and the decrease it causes.

Momentum (eqs. 10-11): ``theta_{t+1} = theta_t - v_t`` with ``v_t = rho v_{t-1} + eta g_t`` (the paper calls the
velocity ``m_t``; here ``v_t`` so as not to clash with the batch size ``m``). Unrolled from ``v_{-1} = 0``:
``v_t = eta sum_{tau=0}^t rho^{t-tau} g_tau`` (eq. 12). The buffer ``P_t = v_t / eta`` obeys
``P_t = g_t + rho P_{t-1}`` (eq. 14).

The decrease of the loss over one step, to first order (eq. 13 with the sign flipped so that a positive value
means the loss goes down), is ``D_t = F(theta_t) - F(theta_{t+1}) = f_t^T v_t = eta f_t^T (g_t + rho P_{t-1})``.
When the earlier batches are already drawn, ``P_{t-1}`` is a constant and only ``g_t ~ N(f_t, Sigma_t/m)`` is
random, so ``D_t ~ N(eta f^T (f + rho P_{t-1}), eta^2 f^T Sigma f / m)``: the walk of
:mod:`theory.rebound_walk` with dice ``mu_t = f^T (f + rho P_{t-1})`` and ``sigma_t^2 = f^T Sigma f``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from theory._numeric import as_float_array
from theory.symbols import eta, m, rho

__all__ = [
    "buffer_recurrence_exprs",
    "buffer_closed_form_exprs",
    "closed_form_step_identity",
    "mean_recursion_gap_expr",
    "momentum_decrease_moments_expr",
    "momentum_buffer_recurrence",
    "momentum_buffer_closed_form",
    "momentum_decrease_moments",
    "momentum_dice",
]

_g = sp.IndexedBase("g")
_tau = sp.Symbol("tau", integer=True, nonnegative=True)


def _gradient_symbols(steps: int, name: str = "g") -> list[sp.Symbol]:
    return list(sp.symbols(f"{name}0:{steps + 1}", real=True))


# The symbolic derivations grow quadratically: 50 steps take ~3 s, 100 steps ~30 s, 10**6 never end; a
# 32-dimensional moment derivation takes ~10 s. Beyond these a call is a typo, refused at once.
MAX_SYMBOLIC_STEPS = 50
MAX_SYMBOLIC_DIM = 32


def _validate_steps(steps) -> int:
    if (
        isinstance(steps, bool)
        or not isinstance(steps, (int, np.integer))
        or not 0 <= steps <= MAX_SYMBOLIC_STEPS
    ):
        raise ValueError(f"Invalid steps: {steps!r} (expected an integer in [0, {MAX_SYMBOLIC_STEPS}])")
    return int(steps)


# ---------------------------------------------------------------------------------------------------------
# Symbolic derivations
# ---------------------------------------------------------------------------------------------------------


def buffer_recurrence_exprs(steps: int) -> list[sp.Expr]:
    """P_0 ... P_steps from the recurrence ``P_t = g_t + rho P_{t-1}``, ``P_{-1} = 0`` (seed 000 eq. 14).

    Args:
        steps: the last index t (an integer >= 0).
    """
    grads = _gradient_symbols(_validate_steps(steps))
    buffers, previous = [], sp.Integer(0)
    for grad in grads:
        previous = grad + rho * previous
        buffers.append(sp.expand(previous))
    return buffers


def buffer_closed_form_exprs(steps: int) -> list[sp.Expr]:
    """P_0 ... P_steps from the closed form ``P_t = sum_{tau=0}^t rho^{t-tau} g_tau`` (seed 000 eq. 12, over eta).

    Args:
        steps: the last index t (an integer >= 0).
    """
    grads = _gradient_symbols(_validate_steps(steps))
    return [sp.expand(sum(rho ** (k - j) * grads[j] for j in range(k + 1))) for k in range(len(grads))]


def closed_form_step_identity() -> sp.Expr:
    """``P_t - rho P_{t-1} - g_t`` for the closed form at symbolic ``t >= 1``; simplifies to 0.

    The sum to ``t`` is split into the sum to ``t - 1`` plus its last term ``g_t``; the remaining sums agree term
    by term, which sympy shows. This proves eq. 12 from eq. 11 for every ``t`` by induction (the base case
    ``P_0 = g_0`` is the ``steps = 0`` entry of :func:`buffer_closed_form_exprs`).
    """
    t_pos = sp.Symbol("t", integer=True, positive=True)
    head = sp.Sum(rho ** (t_pos - _tau) * _g[_tau], (_tau, 0, t_pos - 1))
    closed_t = head + _g[t_pos]
    closed_prev = sp.Sum(rho ** (t_pos - 1 - _tau) * _g[_tau], (_tau, 0, t_pos - 1))
    return sp.simplify((closed_t - rho * closed_prev - _g[t_pos]).doit())


def mean_recursion_gap_expr(steps: int) -> sp.Expr:
    """E[P_t | past batches] minus the paper's eq. 15 mean ``mu_{P_t} = rho mu_{P_{t-1}} + f_t`` read with true f.

    With ``g_tau = f_tau + e_tau`` and the earlier noises ``e_0 ... e_{t-1}`` fixed (as Sec. 3.2 says), the
    conditional mean is ``f_t + rho P_{t-1}``, while eq. 15 iterated on the true gradients gives
    ``sum rho^{t-tau} f_tau``. The gap is ``sum_{tau<t} rho^{t-tau} e_tau``, which vanishes only if the past
    ``f_tau`` are read as the batch estimates ``f_tau + e_tau`` (what Algorithm 1 line 8 computes).

    Args:
        steps: the index t at which the gap is formed (an integer >= 0).
    """
    steps = _validate_steps(steps)
    true_grads = _gradient_symbols(steps, "f")
    noises = _gradient_symbols(steps, "e")
    realised_prev = sum(rho ** (steps - 1 - j) * (true_grads[j] + noises[j]) for j in range(steps))
    conditional_mean = true_grads[steps] + rho * realised_prev
    paper_mean = sum(rho ** (steps - j) * true_grads[j] for j in range(steps + 1))
    return sp.expand(conditional_mean - paper_mean)


def momentum_decrease_moments_expr(dim: int = 2) -> tuple[sp.Expr, sp.Expr]:
    """Mean and per-sample variance of ``D = eta f^T (g + rho P)`` with ``g = f + L z / sqrt(m)``, ``z ~ N(0, I)``.

    ``Sigma = L L^T`` (``L`` lower triangular, symbols). ``D`` is affine in the independent standard normals
    ``z``, so ``E[D] = D(z = 0)`` and ``Var[D] = sum_i (dD/dz_i)^2``.

    Args:
        dim: the dimension d of the parameter vector (an integer >= 1).

    Returns:
        ``(mean, m * variance)``; sympy shows them equal to ``eta f^T (f + rho P)`` and ``eta^2 f^T Sigma f``.
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 1 <= dim <= MAX_SYMBOLIC_DIM:
        raise ValueError(f"Invalid dim: {dim!r} (expected an integer in [1, {MAX_SYMBOLIC_DIM}])")
    f = sp.Matrix(sp.symbols(f"f0:{dim}", real=True))
    p_prev = sp.Matrix(sp.symbols(f"P0:{dim}", real=True))
    z = sp.Matrix(sp.symbols(f"z0:{dim}", real=True))
    chol = sp.Matrix(dim, dim, lambda i, j: sp.Symbol(f"L{i}{j}", real=True) if j <= i else 0)
    grad = f + chol * z / sp.sqrt(m)
    decrease = eta * (f.T * (grad + rho * p_prev))[0]
    mean = sp.expand(decrease.subs(dict.fromkeys(z, 0)))
    variance = sp.expand(sum(sp.diff(decrease, zi) ** 2 for zi in z))
    return mean, sp.expand(m * variance)


# ---------------------------------------------------------------------------------------------------------
# Numeric functions
# ---------------------------------------------------------------------------------------------------------


def _validate_rho(value) -> float:
    rho_v = float(as_float_array("rho", value, nonnegative=True))
    if rho_v >= 1:
        raise ValueError(f"Invalid rho: {value!r} (expected 0 <= rho < 1)")
    return rho_v


def _validate_grads(grads) -> np.ndarray:
    arr = as_float_array("grads", grads)
    if arr.ndim != 2:
        raise ValueError(f"Invalid grads: shape {arr.shape} (expected (T, d): one gradient per step)")
    return arr


def momentum_buffer_recurrence(grads, rho):
    """Buffers ``P_t = g_t + rho P_{t-1}`` (``P_{-1} = 0``) for gradients ``grads`` of shape (T, d), eq. 14.

    Args:
        grads: (T, d) gradients g_0..g_{T-1}.
        rho: the momentum coefficient in [0, 1).
    """
    arr, rho_v = _validate_grads(grads), _validate_rho(rho)
    buffers = np.empty_like(arr)
    previous = np.zeros(arr.shape[1])
    for step, grad in enumerate(arr):
        previous = grad + rho_v * previous
        buffers[step] = previous
    return buffers


def momentum_buffer_closed_form(grads, rho):
    """Buffers ``P_t = sum_{tau<=t} rho^{t-tau} g_tau`` for ``grads`` of shape (T, d), seed 000 eq. 12 over eta.

    Args:
        grads: (T, d) gradients g_0..g_{T-1}.
        rho: the momentum coefficient in [0, 1).
    """
    arr, rho_v = _validate_grads(grads), _validate_rho(rho)
    steps = np.arange(arr.shape[0])
    lag = steps[:, None] - steps[None, :]
    # 0.0 ** 0 == 1 keeps the current gradient when rho = 0; future steps (negative lag) get weight 0.
    weights = np.where(lag >= 0, rho_v ** np.maximum(lag, 0), 0.0)
    return weights @ arr


def _validate_moments_input(f, Sigma, P_prev):
    f_arr = as_float_array("f", f)
    if f_arr.ndim != 1:
        raise ValueError(f"Invalid f: shape {f_arr.shape} (expected a vector (d,))")
    dim = f_arr.shape[0]
    sigma_arr = as_float_array("Sigma", Sigma)
    if sigma_arr.shape != (dim, dim):
        raise ValueError(f"Invalid Sigma: shape {sigma_arr.shape} (expected ({dim}, {dim}))")
    scale = max(float(np.max(np.abs(sigma_arr))), 1e-300)
    if not np.allclose(sigma_arr, sigma_arr.T, rtol=1e-10, atol=1e-12 * scale):
        raise ValueError("Invalid Sigma: not symmetric (expected a covariance matrix)")
    if np.min(np.linalg.eigvalsh(sigma_arr)) < -1e-10 * scale:
        raise ValueError("Invalid Sigma: has a negative eigenvalue (expected positive semi-definite)")
    p_arr = as_float_array("P_prev", P_prev)
    if p_arr.shape != (dim,):
        raise ValueError(f"Invalid P_prev: shape {p_arr.shape} (expected ({dim},))")
    return f_arr, sigma_arr, p_arr


def momentum_dice(f, Sigma, P_prev, rho):
    """The walk's dice for BA-Momentum (seed 000 Sec. 3.2): ``mu_t = f^T (f + rho P_{t-1})``, ``sigma_t = sqrt(f^T Sigma f)``.

    Feed them to :func:`theory.rebound_walk.optimal_batch_size`; the step is ``Δs ~ N(mu_t, sigma_t^2 / m)``.

    Args:
        f: (d,) the true gradient.
        Sigma: (d, d) the per-sample gradient covariance (symmetric, positive semi-definite).
        P_prev: (d,) the previous momentum buffer P_{t-1}.
        rho: the momentum coefficient in [0, 1).

    Note:
        The paper writes ``mu_t = f^T mu_{P_t}`` with ``mu_{P_t} = rho mu_{P_{t-1}} + f_t`` (eq. 15); here the
        earlier buffer enters as the realised ``P_{t-1}`` (see :func:`mean_recursion_gap_expr`).
    """
    f_arr, sigma_arr, p_arr = _validate_moments_input(f, Sigma, P_prev)
    rho_v = _validate_rho(rho)
    mean = float(f_arr @ (f_arr + rho_v * p_arr))
    return mean, float(np.sqrt(max(float(f_arr @ sigma_arr @ f_arr), 0.0)))


def momentum_decrease_moments(f, Sigma, P_prev, rho, eta):
    """Mean and per-sample variance of the one-step decrease ``D_t = F(theta_t) - F(theta_{t+1})`` under momentum.

    ``D_t = eta f^T (g_t + rho P_{t-1})`` with ``g_t ~ N(f, Sigma/m)`` and ``P_{t-1}`` fixed (seed 000 eq. 13-16):
    ``E[D_t] = eta f^T (f + rho P_{t-1})`` and ``Var[D_t] = eta^2 f^T Sigma f / m``.

    Args:
        f: the gradient at ``theta_t``, shape (d,).
        Sigma: per-sample gradient covariance, shape (d, d), symmetric positive semi-definite.
        P_prev: the momentum buffer ``P_{t-1}`` (velocity over eta), shape (d,).
        rho: momentum, ``0 <= rho < 1``.
        eta: learning rate, ``> 0``.

    Returns:
        ``(mean, variance_per_sample)``: the variance of ``D_t`` with a batch of ``m`` is
        ``variance_per_sample / m``. Positive mean means the loss is expected to go down.

    Note:
        The paper's ``ΔF_t = -D_t`` (eq. 13) is negative for a decrease. Its eq. 15 iterates the mean over true
        gradients; here the earlier buffer is the realised ``P_{t-1}``, as the paper's own conditioning requires
        (:func:`mean_recursion_gap_expr`).
    """
    f_arr, sigma_arr, p_arr = _validate_moments_input(f, Sigma, P_prev)
    rho_v = _validate_rho(rho)
    eta_v = float(as_float_array("eta", eta, positive=True))
    mean = eta_v * float(f_arr @ (f_arr + rho_v * p_arr))
    return mean, eta_v**2 * float(f_arr @ sigma_arr @ f_arr)

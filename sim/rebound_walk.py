"""Monte-Carlo of the Gaussian walk with rebound and of whole batch-adaptive games (seed 000).

The game of seed 000 (Sec. 2.2, eq. 5-9; the model of Yin et al. 2017) treats the objective as a state
:math:`s_t \\in [S^*, \\infty)` that moves by a Gaussian die whose spread shrinks with the batch size:

.. math::

    \\Delta s_t \\sim \\mathcal N(\\mu_t, \\sigma_t^2 / m), \\qquad
    s_{t+1} = |s_t - S^* - \\eta\\,\\Delta s_t| + S^*.

A batch-adaptive (BA) player picks :math:`m^* = \\arg\\max_m u(m)` with
:math:`u(m) = (s_t - \\mathbb E_m[s_{t+1}]) / m` (eq. 8-9); a fixed player always uses the same ``m``.
Both spend one shared data budget counted in samples, so their final states compare like for like.

Everything here is written independently of ``theory``: the BA policy has its own folded-normal mean
and its own vectorised maximiser (a log-spaced grid refined by golden-section search).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx, ndtr

from sim._rng import as_generator
from sim._validate import finite_float, int_at_least
from sim.estimate import Estimate, estimate
from sim.grad_shrinkage import Population, batch_means

__all__ = [
    "Comparison",
    "ConstantDice",
    "Dice",
    "FIXED_SIZES",
    "QuadraticDice",
    "REGIMES",
    "GameResult",
    "Policy",
    "PolicyRow",
    "ba_policy",
    "ba_regime_table",
    "compare_policies",
    "constant_dice",
    "fixed_policy",
    "folded_normal_mean",
    "maximise_utility",
    "next_state_samples",
    "objective_decrease_samples",
    "one_step",
    "play",
    "quadratic_dice",
    "sim_utility",
]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
# Past this many standard deviations a rebound has probability Phi(-8) ~ 6e-16: for mu > 0, u(m) <= eta*mu/m
# then holds to double precision, so m* = 1 exactly and the search can be skipped.
_NO_REBOUND_A = 8.0
_GRID_POINTS = 25
_GOLDEN_ITERATIONS = 40
_DEFAULT_M_MAX = 1e9


def _check_state(s: float, s_star: float) -> None:
    if s < s_star:
        raise ValueError(f"Invalid s: {s!r} (expected >= s_star = {s_star})")


# --------------------------------------------------------------------------------------------------
# One step
# --------------------------------------------------------------------------------------------------


def next_state_samples(s, mu, sigma, m, eta, s_star=0.0, *, n=100_000, seed=None) -> np.ndarray:
    """``n`` independent draws of the next state of the walk with rebound (seed 000, eq. 6).

    .. math:: s_{t+1} = |s_t - S^* - \\eta X| + S^*, \\qquad X \\sim \\mathcal N(\\mu, \\sigma^2/m).

    Args:
        s: current state :math:`s_t \\ge S^*`.
        mu: mean of the die :math:`\\mu_t`.
        sigma: per-sample spread :math:`\\sigma_t \\ge 0`.
        m: batch size (> 0; non-integers are allowed for smooth studies).
        eta: learning rate :math:`\\eta > 0`.
        s_star: the floor :math:`S^*`.
        n: number of draws.
        seed: int, numpy Generator or None.

    Returns:
        Array of shape ``(n,)``.
    """
    s, mu = finite_float("s", s), finite_float("mu", mu)
    sigma = finite_float("sigma", sigma, nonnegative=True)
    m, eta = finite_float("m", m, positive=True), finite_float("eta", eta, positive=True)
    s_star = finite_float("s_star", s_star)
    _check_state(s, s_star)
    n = int_at_least("n", n, minimum=2)
    z = as_generator(seed).standard_normal(n)
    z *= -eta * sigma / math.sqrt(m)
    z += s - s_star - eta * mu
    np.abs(z, out=z)
    z += s_star
    return z


def one_step(s, mu, sigma, m, eta, s_star=0.0, *, n=100_000, seed=None) -> Estimate:
    """Monte-Carlo estimate of :math:`\\mathbb E_m[s_{t+1}]` for the walk with rebound (seed 000, eq. 6-7).

    Same arguments as :func:`next_state_samples`; returns the mean of ``n`` draws with its standard error.
    """
    return estimate(next_state_samples(s, mu, sigma, m, eta, s_star, n=n, seed=seed))


def objective_decrease_samples(
    grad, curvature, noise: Population, m: int, eta: float, *, draws: int = 20_000, seed=None
) -> np.ndarray:
    """Exact one-step change of a quadratic objective under SGD with batch ``m`` (seed 000 eq. 3, App. B).

    The objective is :math:`F(\\theta) = \\tfrac12\\sum_i h_i\\theta_i^2`, placed where its gradient is
    :math:`\\mathbf f` (so :math:`\\theta = \\mathbf f / h`); per-sample gradients are :math:`\\mathbf f + \\xi_j` with
    :math:`\\xi_j` drawn from ``noise``; the batch gradient is :math:`\\hat{\\mathbf f} = \\mathbf f + \\tfrac1m\\sum_j\\xi_j`. Then

    .. math::

        \\Delta F = F(\\theta - \\eta\\hat{\\mathbf f}) - F(\\theta)
        = -\\eta\\,\\mathbf f^\\top\\hat{\\mathbf f} + \\tfrac12\\eta^2\\sum_i h_i\\hat f_i^2 .

    Seed 000 keeps only the first term, which gives the Gaussian
    :math:`\\mathcal N(-\\eta\\mathbf f^\\top\\mathbf f, \\eta^2\\mathbf f^\\top\\Sigma\\mathbf f/m)` of eq. 3 when the
    noise is Gaussian or m is large (CLT); the second term skews the law when :math:`\\eta h` is not small.

    Args:
        grad: the full gradient :math:`\\mathbf f` (shape ``(d,)``).
        curvature: the diagonal Hessian :math:`h` (shape ``(d,)`` or scalar, > 0).
        noise: a zero-mean :class:`sim.grad_shrinkage.Population` with ``dims == d``.
        m: batch size.
        eta: learning rate.
        draws: number of independent batches.
        seed: int, numpy Generator or None.

    Returns:
        Array of shape ``(draws,)`` of :math:`\\Delta F` (negative: the objective went down).
    """
    f = np.atleast_1d(np.asarray(grad, dtype=float))
    h = np.broadcast_to(np.asarray(curvature, dtype=float), f.shape)
    if f.ndim != 1 or not (np.all(np.isfinite(f)) and np.all(np.isfinite(h))):
        raise ValueError(f"Invalid grad: {grad!r} (expected a finite 1-d array)")
    if np.any(h <= 0):
        raise ValueError(f"Invalid curvature: {curvature!r} (expected > 0)")
    if not isinstance(noise, Population) or noise.dims != f.size:
        raise ValueError(f"Invalid noise: {noise!r} (expected a Population with dims = {f.size})")
    eta = finite_float("eta", eta, positive=True)
    batch_grad = f + batch_means(
        noise, int_at_least("m", m), int_at_least("draws", draws, minimum=2), seed=seed
    )
    return -eta * batch_grad @ f + 0.5 * eta**2 * (batch_grad**2) @ h


# --------------------------------------------------------------------------------------------------
# The BA policy's own utility and maximiser
# --------------------------------------------------------------------------------------------------


def folded_normal_mean(nu, tau):
    """:math:`\\mathbb E|Y|` for :math:`Y \\sim \\mathcal N(\\nu, \\tau^2)`, elementwise (``tau > 0``).

    .. math:: \\mathbb E|Y| = \\tau\\sqrt{2/\\pi}\\,e^{-\\nu^2/(2\\tau^2)} + \\nu\\,(1 - 2\\Phi(-\\nu/\\tau)).

    This is seed 000 eq. 7 written for the distance to the floor: with
    :math:`\\nu = s - S^* - \\eta\\mu` and :math:`\\tau = \\eta\\sigma/\\sqrt m` it is
    :math:`\\mathbb E_m[s_{t+1}] - S^*`.
    """
    ratio = nu / tau
    return tau * _SQRT_2_OVER_PI * np.exp(-0.5 * ratio * ratio) + nu * (1.0 - 2.0 * ndtr(-ratio))


def _rebound_excess(nu, tau):
    """:math:`\\mathbb E|Y| - \\nu = 2\\tau\\,[\\varphi(a) - a\\Phi(-a)]` with :math:`a = \\nu/\\tau`: what the rebound adds.

    Written with the scaled complementary error function so that it stays accurate (and positive) far in the
    tail, where :math:`\\mathbb E|Y| - \\nu` would cancel to zero in floating point.
    """
    a = nu / tau
    phi = np.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
    # Phi(-a)/phi(a) = sqrt(pi/2) erfcx(a/sqrt 2) for a >= 0; for a < 0 the plain form does not cancel.
    mills = math.sqrt(math.pi / 2.0) * erfcx(np.maximum(a, 0.0) / math.sqrt(2.0))
    tail = np.where(a >= 0, phi * (1.0 - a * mills), phi - a * ndtr(-a))
    return 2.0 * tau * tail


def _utility(m, r, mu, sigma, eta):
    tau = eta * sigma / np.sqrt(m)
    return (eta * mu - _rebound_excess(r - eta * mu, tau)) / m


def _walk_arrays(r, mu, sigma, eta) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    arrays = []
    for name, value in (("r", r), ("mu", mu), ("sigma", sigma)):
        arr = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"Invalid {name}: {value!r} (expected finite numbers)")
        arrays.append(arr)
    if np.any(arrays[0] < 0):
        raise ValueError(f"Invalid r: {r!r} (expected s - s_star >= 0)")
    if np.any(arrays[2] < 0):
        raise ValueError(f"Invalid sigma: {sigma!r} (expected >= 0)")
    return arrays[0], arrays[1], arrays[2], finite_float("eta", eta, positive=True)


def sim_utility(m, r, mu, sigma, eta):
    """The utility :math:`u(m) = (s - \\mathbb E_m[s_{t+1}])/m` of seed 000 eq. 8, vectorised.

    Computed as :math:`u = (\\eta\\mu - (\\mathbb E|Y| - \\nu))/m` with :math:`\\nu = s - S^* - \\eta\\mu`, which equals
    :math:`(s - S^* - \\mathbb E|Y|)/m` but keeps the tiny rebound term instead of rounding it away.

    Args:
        m: batch size(s) > 0.
        r: distance to the floor :math:`s - S^* \\ge 0`.
        mu, sigma, eta: the die and the learning rate (``sigma > 0``).
    """
    m = np.asarray(m, dtype=float)
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"Invalid m: {m!r} (expected finite batch sizes > 0)")
    r, mu, sigma, eta = _walk_arrays(r, mu, sigma, eta)
    if np.any(sigma == 0):
        raise ValueError(f"Invalid sigma: {sigma!r} (expected > 0)")
    return _utility(m, r, mu, sigma, eta)


def _golden_refine(lo, hi, r, mu, sigma, eta):
    """Golden-section search for the maximum of ``u(exp(x))`` on ``[lo, hi]``, elementwise."""
    g = (math.sqrt(5.0) - 1.0) / 2.0

    def u_of(x):
        return _utility(np.exp(x), r, mu, sigma, eta)

    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    u1, u2 = u_of(x1), u_of(x2)
    for _ in range(_GOLDEN_ITERATIONS):
        # Keep the sub-bracket that holds the larger value; one new evaluation per iteration.
        left = u1 > u2
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        new_x1 = np.where(left, hi - g * (hi - lo), x2)
        new_x2 = np.where(left, x1, lo + g * (hi - lo))
        u_new = u_of(np.where(left, new_x1, new_x2))
        u1, u2 = np.where(left, u_new, u2), np.where(left, u1, u_new)
        x1, x2 = new_x1, new_x2
    return 0.5 * (lo + hi)


def _best_integer(m_cont, r, mu, sigma, eta, m_max):
    lo = np.clip(np.floor(m_cont), 1.0, m_max)
    hi = np.clip(lo + 1.0, 1.0, m_max)
    u_lo = _utility(lo, r, mu, sigma, eta)
    u_hi = _utility(hi, r, mu, sigma, eta)
    return np.where(u_hi >= u_lo, hi, lo)


def _search(r, mu, sigma, eta, m_max):
    """Integer argmax of u on [1, m_max] for walkers that may rebound (1-d arrays, one per walker)."""
    log_max = math.log(m_max)
    grid = np.linspace(0.0, log_max, _GRID_POINTS)
    values = np.stack([_utility(math.exp(x), r, mu, sigma, eta) for x in grid])
    # Ties go to the larger batch: flat stretches only occur where u creeps up to 0 from below.
    best = grid.size - 1 - np.argmax(values[::-1], axis=0)
    step = grid[1] - grid[0]
    lo = np.maximum(grid[best] - step, 0.0)
    hi = np.minimum(grid[best] + step, log_max)
    m_cont = np.exp(_golden_refine(lo, hi, r, mu, sigma, eta))
    return _best_integer(m_cont, r, mu, sigma, eta, m_max)


def maximise_utility(r, mu, sigma, eta, m_max=None):
    """The BA batch size :math:`m^* = \\arg\\max_{1 \\le m \\le m_{max}} u(m)` (seed 000 eq. 9), per walker.

    A log-spaced grid of ``u`` over ``[1, m_max]`` brackets the maximum, golden-section search refines it
    (relative tolerance about 1e-7 in ``m``), and the better of the two neighbouring integers is returned.

    Args:
        r: distance(s) to the floor :math:`s - S^*` (array or scalar, >= 0).
        mu: die mean(s) :math:`\\mu` (broadcast against ``r``).
        sigma: die spread(s) :math:`\\sigma \\ge 0`.
        eta: learning rate.
        m_max: largest batch allowed (default 1e9).

    Returns:
        Float array of integer batch sizes, shaped like the broadcast inputs.

    Note:
        The search looks for the global maximum on the grid and refines it locally; seed 000 and its
        reference code use bisection on the sign of du/dm, which assumes u is unimodal. Where every batch
        expects the state to rise (``mu <= 0`` or ``eta*mu >= 2(s - S*)``), u < 0 creeps up to 0 as m grows
        and ``m* = m_max``; ties (u flat to rounding) go to the larger batch. Without noise (``sigma == 0``)
        ``u = (r - |r - eta*mu|)/m``, so ``m* = 1`` unless that decrease is negative.

    Raises:
        ValueError: for non-finite input, ``r < 0``, ``sigma < 0``, ``eta <= 0`` or ``m_max < 1``.
    """
    m_max = _DEFAULT_M_MAX if m_max is None else finite_float("m_max", m_max, positive=True)
    if m_max < 1:
        raise ValueError(f"Invalid m_max: {m_max!r} (expected >= 1)")
    r, mu, sigma, eta = _walk_arrays(r, mu, sigma, eta)
    r, mu, sigma = np.broadcast_arrays(r, mu, sigma)
    shape = r.shape
    r, mu, sigma = r.ravel(), mu.ravel(), sigma.ravel()
    m_star = np.ones_like(r)
    # Without noise u(m) = (r - |r - eta*mu|)/m: m* = 1 if that decrease is >= 0, else the largest batch.
    m_star[(sigma == 0) & (r - np.abs(r - eta * mu) < 0)] = np.floor(m_max)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_at_one = (r - eta * mu) / (eta * sigma)
    # The shortcut m* = 1 needs a rebound-free walk AND a positive expected decrease (mu > 0).
    needs_search = (sigma > 0) & ((a_at_one <= _NO_REBOUND_A) | (mu <= 0)) & (m_max > 1)
    if np.any(needs_search):
        m_star[needs_search] = _search(
            r[needs_search], mu[needs_search], sigma[needs_search], eta, float(np.floor(m_max))
        )
    return m_star.reshape(shape)


# --------------------------------------------------------------------------------------------------
# Dice: how the die depends on the state
# --------------------------------------------------------------------------------------------------

Dice = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""A die model: distances to the floor ``r = s - S*`` (array) -> ``(mu, sigma)`` arrays of the same shape."""


@dataclass(frozen=True)
class ConstantDice:
    """The die of seed 000 eq. 6 with fixed :math:`\\mu` and :math:`\\sigma` (the paper's one-step view)."""

    mu: float
    sigma: float

    def __call__(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.full_like(r, self.mu), np.full_like(r, self.sigma)


@dataclass(frozen=True)
class QuadraticDice:
    """The die of a one-parameter quadratic loss, so that the walk converges to :math:`S^*`.

    For :math:`F(\\theta) = S^* + \\tfrac12 h\\theta^2` with per-sample gradients :math:`h\\theta + \\xi`,
    :math:`\\operatorname{Var}\\xi = c^2`, seed 000's die has :math:`\\mu = f^\\top f = h^2\\theta^2 = 2h r` and
    :math:`\\sigma^2 = f^\\top\\Sigma f = h^2\\theta^2 c^2 = 2hc^2 r` with :math:`r = s - S^*`.
    """

    curvature: float
    noise: float

    def __call__(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu = 2.0 * self.curvature * r
        return mu, self.noise * np.sqrt(mu)


def constant_dice(mu: float, sigma: float) -> ConstantDice:
    """A state-independent die :math:`\\mathcal N(\\mu, \\sigma^2/m)` (seed 000 eq. 6)."""
    return ConstantDice(finite_float("mu", mu), finite_float("sigma", sigma, nonnegative=True))


def quadratic_dice(curvature: float, noise: float) -> QuadraticDice:
    """The converging die :math:`\\mu = 2hr`, :math:`\\sigma = c\\sqrt{2hr}` (see :class:`QuadraticDice`)."""
    return QuadraticDice(
        finite_float("curvature", curvature, positive=True), finite_float("noise", noise, nonnegative=True)
    )


# --------------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A batch-size rule of the walk game: ``fixed`` (always ``m``) or ``ba`` (seed 000 eq. 9).

    Build with :func:`fixed_policy` or :func:`ba_policy`.
    """

    kind: str
    m: int = 1
    m0: int = 1
    m_max: float | None = None

    @property
    def name(self) -> str:
        if self.kind == "fixed":
            return f"fixed-{self.m}"
        return "BA" if self.m0 == 1 else f"BA(m0={self.m0})"

    def batch_sizes(self, r: np.ndarray, mu: np.ndarray, sigma: np.ndarray, eta: float) -> np.ndarray:
        """The batch each walker asks for at distances ``r`` with die ``(mu, sigma)``."""
        if self.kind == "fixed":
            return np.full(r.shape, float(self.m))
        m_star = maximise_utility(r, mu, sigma, eta, self.m_max)
        # Algorithm 1 grows the batch by m0 until it reaches m*, so the batch is m* rounded up to m0.
        batch = self.m0 * np.ceil(m_star / self.m0)
        return batch if self.m_max is None else np.minimum(batch, self.m0 * max(1, self.m_max // self.m0))


def fixed_policy(m: int) -> Policy:
    """Always use batch size ``m`` (the mini-batch baselines of seed 000 Sec. 4.2)."""
    return Policy("fixed", m=int_at_least("m", m))


def ba_policy(m_max: float | None = None, m0: int = 1) -> Policy:
    """The batch-adaptive rule :math:`m^* = \\arg\\max_m u(m)` (seed 000 eq. 8-9, Algorithm 1).

    Args:
        m_max: largest batch (default: unbounded apart from the remaining budget).
        m0: sampling step; the batch is :math:`m^*` rounded up to a multiple of ``m0`` (Algorithm 1, line 4-11).
    """
    m0 = int_at_least("m0", m0)
    if m_max is not None:
        m_max = finite_float("m_max", m_max, positive=True)
        if m_max < m0:
            raise ValueError(f"Invalid m_max: {m_max!r} (expected >= m0 = {m0})")
    return Policy("ba", m0=m0, m_max=m_max)


# --------------------------------------------------------------------------------------------------
# Whole games under a data budget
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GameResult:
    """The outcome of :func:`play` for many independent walkers.

    Attributes:
        policy: the policy's name.
        final: the final state :math:`s` (mean over walkers with its standard error).
        final_states: every walker's final state.
        updates: number of parameter updates per walker.
        mean_batch: samples spent per update, averaged over walkers (budget / updates).
        path_states: states of the first ``record`` walkers after each round, shape ``(rounds+1, record)``.
        path_used: samples those walkers had spent after each round, same shape.
    """

    policy: str
    final: Estimate
    final_states: np.ndarray
    updates: Estimate
    mean_batch: float
    path_states: np.ndarray | None = None
    path_used: np.ndarray | None = None


def _resolve_dice(mu, sigma, dice) -> Dice:
    if dice is not None:
        if mu is not None or sigma is not None:
            raise ValueError("Invalid dice: give either dice or (mu, sigma), not both (expected one of them)")
        if not callable(dice):
            raise ValueError(f"Invalid dice: {dice!r} (expected a callable r -> (mu, sigma))")
        return dice
    if mu is None or sigma is None:
        raise ValueError("Invalid mu/sigma: None (expected both mu and sigma, or a dice model)")
    return constant_dice(mu, sigma)


def _play_fixed_constant(r, rng, m, budget, dice, eta):
    """Fast path: every walker takes the same steps, done in place on preallocated float64 buffers."""
    z = np.empty_like(r)
    sizes = [m] * (budget // m) + ([budget % m] if budget % m else [])
    drift = eta * dice.mu
    for size in sizes:
        rng.standard_normal(out=z)
        z *= -eta * dice.sigma / math.sqrt(size)
        z += r
        if drift:
            z -= drift
        np.abs(z, out=r)
    return len(sizes)


def _play_rounds(r, rng, policy, budget, dice, eta, momentum, recorder):
    """General path: each round, every walker with budget left draws its own batch and takes one step."""
    used = np.zeros(r.shape, dtype=np.int64)
    updates = np.zeros(r.shape, dtype=np.int64)
    velocity = np.zeros_like(r)
    active = np.arange(r.size)
    while active.size:
        # While every walker is still playing, a slice (a view) replaces fancy-index copies.
        idx = slice(None) if active.size == r.size else active
        ra = r[idx]
        mu, sigma = dice(ra)
        # BA-Momentum (seed 000 eq. 14-15): the die's mean carries the momentum of earlier rounds.
        mu_eff = mu + momentum * velocity[idx] if momentum else mu
        batch = np.minimum(policy.batch_sizes(ra, mu_eff, sigma, eta), budget - used[idx])
        step = rng.standard_normal(active.size)
        step *= sigma / np.sqrt(batch)
        step += mu_eff
        moved = ra - eta * step
        if momentum:
            # Crossing the floor flips the sign of the gradient, so the carried momentum now points uphill.
            velocity[idx] = np.copysign(step, moved)
        r[idx] = np.abs(moved)
        used[idx] += batch.astype(np.int64)
        updates[idx] += 1
        recorder(used)
        active = active[used[active] < budget]
    return updates


def play(
    policy: Policy,
    *,
    budget: int,
    s0: float,
    eta: float,
    mu: float | None = None,
    sigma: float | None = None,
    dice: Dice | None = None,
    s_star: float = 0.0,
    momentum: float = 0.0,
    walkers: int = 10_000,
    record: int = 0,
    seed=None,
) -> GameResult:
    """Play the walk-with-rebound game (seed 000 Sec. 2.2 and 3) until each walker has spent ``budget`` samples.

    Each update draws a batch of ``m`` samples (the policy's choice, clipped to the budget left),
    :math:`p_t = \\mu_t + \\rho\\,p_{t-1} + (\\sigma_t/\\sqrt m) Z` and
    :math:`s_{t+1} = |s_t - S^* - \\eta p_t| + S^*`; without momentum (:math:`\\rho = 0`) this is eq. 6.

    Args:
        policy: :func:`fixed_policy` or :func:`ba_policy`.
        budget: total samples per walker (the paper's :math:`M`).
        s0: initial state (>= ``s_star``).
        eta: learning rate.
        mu, sigma: a constant die (seed 000 eq. 6); or give ``dice`` instead.
        dice: a state-dependent die, e.g. :func:`quadratic_dice`.
        s_star: the floor :math:`S^*`.
        momentum: :math:`\\rho \\in [0, 1)` for BA-Momentum / momentum SGD (Sec. 3).
        walkers: independent walkers (vectorised; 10^6 is fine for fixed batches).
        record: how many walkers' paths to keep (0: none).
        seed: int, numpy Generator or None.

    Returns:
        A :class:`GameResult`.

    Note:
        The paper's Algorithm 1 lets the last batch overshoot the budget; here it is clipped so that every
        policy spends exactly ``budget`` samples. In the momentum game the scalar momentum :math:`p` stands
        for :math:`f_t^\\top\\mathcal P_t` (eq. 14-15): earlier noise is frozen, only the current batch is random.
        A rebound (crossing :math:`S^*`) flips the sign of :math:`p`, as crossing the minimum of a 1-d
        quadratic flips the sign of the gradient; the paper's scalar game does not say what happens there.
    """
    if not isinstance(policy, Policy):
        raise ValueError(f"Invalid policy: {policy!r} (expected fixed_policy(m) or ba_policy())")
    budget, walkers = int_at_least("budget", budget), int_at_least("walkers", walkers, minimum=2)
    record = int_at_least("record", record, minimum=0)
    s0, s_star = finite_float("s0", s0), finite_float("s_star", s_star)
    eta, momentum = (
        finite_float("eta", eta, positive=True),
        finite_float("momentum", momentum, nonnegative=True),
    )
    if momentum >= 1:
        raise ValueError(f"Invalid momentum: {momentum!r} (expected 0 <= momentum < 1)")
    _check_state(s0, s_star)
    dice = _resolve_dice(mu, sigma, dice)
    rng = as_generator(seed)
    r = np.full(walkers, s0 - s_star)
    states, spent = [r[:record].copy()], [np.zeros(record, dtype=np.int64)]

    def recorder(used):
        if record:
            states.append(r[:record].copy())
            spent.append(used[:record].copy())

    fast = policy.kind == "fixed" and isinstance(dice, ConstantDice) and momentum == 0 and not record
    if fast:
        n_updates = _play_fixed_constant(r, rng, policy.m, budget, dice, eta)
        updates = np.full(walkers, float(n_updates))
    else:
        updates = _play_rounds(r, rng, policy, budget, dice, eta, momentum, recorder).astype(float)
    final_states = r + s_star
    return GameResult(
        policy=policy.name,
        final=estimate(final_states),
        final_states=final_states,
        updates=estimate(updates),
        mean_batch=float(budget / updates.mean()),
        path_states=np.array(states) + s_star if record else None,
        path_used=np.array(spent) if record else None,
    )


# --------------------------------------------------------------------------------------------------
# BA against fixed batches
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    """One policy's result in a comparison: final state (mean ± stderr), updates and samples per update."""

    name: str
    final: Estimate
    updates: float
    mean_batch: float


@dataclass(frozen=True)
class Comparison:
    """BA against a set of fixed batch sizes for one game and one budget.

    Attributes:
        regime: a short name for the game.
        rows: one :class:`PolicyRow` per policy, BA last.
        z: how many standard errors BA's mean final state lies below the best fixed batch's
            (negative when BA ends higher).
    """

    regime: str
    rows: tuple[PolicyRow, ...]
    z: float

    @property
    def ba(self) -> PolicyRow:
        return self.rows[-1]

    @property
    def best_fixed(self) -> PolicyRow:
        return min(self.rows[:-1], key=lambda row: row.final.mean)

    def ba_wins(self, z_crit: float = 5.0) -> bool:
        """True when BA ends lower than every fixed batch by more than ``z_crit`` standard errors."""
        return self.z > z_crit


def compare_policies(
    fixed_sizes: Sequence[int],
    *,
    ba: Policy | None = None,
    regime: str = "custom",
    walkers: int = 4000,
    seed=None,
    **game,
) -> Comparison:
    """Play BA and each fixed batch size on the same game and budget (seed 000 Sec. 4.2, Fig. 1-2).

    Args:
        fixed_sizes: the fixed batch sizes to compare with (the paper uses 32, 64, 128, 256).
        ba: the BA policy (default :func:`ba_policy`).
        regime: a name for the table.
        walkers: walkers per policy.
        seed: int, Generator or None; each policy gets an independent child stream (``Generator.spawn``).
        **game: keyword arguments of :func:`play` (``budget``, ``s0``, ``eta``, ``mu``/``sigma`` or ``dice``, ...).
    """
    if len(fixed_sizes) == 0:
        raise ValueError(f"Invalid fixed_sizes: {fixed_sizes!r} (expected at least one batch size)")
    policies = [fixed_policy(m) for m in fixed_sizes] + [ba if ba is not None else ba_policy()]
    rows = []
    for policy, child in zip(policies, as_generator(seed).spawn(len(policies))):
        result = play(policy, walkers=walkers, seed=child, **game)
        rows.append(PolicyRow(result.policy, result.final, result.updates.mean, result.mean_batch))
    best = min(rows[:-1], key=lambda row: row.final.mean)
    spread = math.hypot(best.final.stderr, rows[-1].final.stderr)
    z = (best.final.mean - rows[-1].final.mean) / spread if spread > 0 else 0.0
    return Comparison(regime, tuple(rows), float(z))


FIXED_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Games found by scanning (see ba_regime_table): BA wins on the consistent quadratic die and loses when the
# die does not shrink near S* or when momentum carries the walker past S*.
REGIMES = {
    "quadratic die, SGD": dict(budget=4096, s0=1.0, eta=0.2, dice=QuadraticDice(1.0, 3.0)),
    "constant die, SGD": dict(budget=2048, s0=1.0, eta=0.1, mu=1.0, sigma=3.0),
    "quadratic die, momentum 0.5": dict(
        budget=4096, s0=1.0, eta=0.1, dice=QuadraticDice(1.0, 3.0), momentum=0.5
    ),
}


def ba_regime_table(*, walkers: int = 4000, seed=0, regimes: dict | None = None) -> list[Comparison]:
    """BA against fixed batches 1...1024 in the regimes where it wins and where it loses.

    * **quadratic die, SGD** (:func:`quadratic_dice`, :math:`\\mu` and :math:`\\sigma^2` proportional to
      :math:`s - S^*`): BA takes small batches far from :math:`S^*` and grows them near it, and ends an order of
      magnitude below the best fixed batch for the same budget.
    * **constant die, SGD**: near :math:`S^*` the expected step overshoots (:math:`\\eta\\mu > s - S^*`), every
      :math:`u(m)` is negative and tends to 0 from below as :math:`m` grows, so the argmax of eq. 9 is the
      largest batch allowed; BA spends the budget on a few huge batches and ends above the best fixed batch.
    * **quadratic die, momentum 0.5**: the carried momentum makes the step overshoot whatever the batch, and BA
      again answers with the largest batch.

    Returns:
        One :class:`Comparison` per regime.
    """
    regimes = REGIMES if regimes is None else regimes
    children = as_generator(seed).spawn(len(regimes))
    return [
        compare_policies(FIXED_SIZES, regime=name, walkers=walkers, seed=child, **game)
        for (name, game), child in zip(regimes.items(), children)
    ]

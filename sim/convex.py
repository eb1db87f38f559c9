"""Adaptive-batch SGD on strongly convex finite sums, measured against the ABS bound (seed 003, Thm. 1).

Two problems on data the caller passes:

* **ridge** (a quadratic): :math:`\\ell_j(\\theta)=\\tfrac12(x_j^\\top\\theta-y_j)^2+\\tfrac\\lambda2\\|\\theta\\|^2`;
* **logistic**: :math:`\\ell_j(\\theta)=\\log(1+e^{-s_jx_j^\\top\\theta})+\\tfrac\\lambda2\\|\\theta\\|^2`,
  :math:`s_j=2y_j-1\\in\\{\\pm1\\}`,

with :math:`L(\\theta)=\\frac1N\\sum_j\\ell_j(\\theta)`. Step :math:`t` uses the mean gradient of :math:`b_t`
samples drawn independently and uniformly (with replacement, the i.i.d. setting of the theorem) and the
step size :math:`\\eta_t=b_t\\eta_0` (linear scaling, seed 003 Alg. 1). Many runs advance at once.

The problem constants of seed 003, Assumption 2 (conventions of ``theory.convergence``): :math:`L`-smooth,
:math:`c`-strongly convex, and per-sample :math:`E_j\\|\\nabla\\ell_j\\|^2\\le M+M_G\\|\\nabla L\\|^2` for all
:math:`\\theta` (see :func:`ridge_problem` and :func:`logistic_problem` for how each is obtained).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from sim._rng import as_generator
from sim._validate import (
    MAX_WORK,
    STEP_OVERHEAD,
    brief,
    check_size,
    finite_array,
    positive_float,
    positive_int,
    start_state,
)

__all__ = [
    "ConvexProblem",
    "ConvexRun",
    "ridge_problem",
    "logistic_problem",
    "simulate_adaptive_sgd",
    "geometric_batches",
    "fixed_batches_for_samples",
]

MG_SLACK = 0.5  # ridge: M_G = (1 + MG_SLACK) * its smallest admissible value (M grows without bound there)


@dataclass(frozen=True)
class ConvexProblem:
    """A strongly convex finite-sum problem with its minimiser and the constants of seed 003's theorem.

    Attributes:
        kind: ``"ridge"`` or ``"logistic"``.
        X: (N, d) features. y: (N,) targets (ridge) or labels in {0, 1} (logistic).
        reg: the L2 coefficient :math:`\\lambda`.
        theta_star: the minimiser. loss_star: :math:`L^\\ast`.
        L, c: smoothness and strong-convexity constants of :math:`L(\\theta)`.
        M, M_G: the second-moment constants, :math:`E_j\\|\\nabla\\ell_j\\|^2\\le M+M_G\\|\\nabla L\\|^2`.
    """

    kind: str
    X: np.ndarray
    y: np.ndarray
    reg: float
    theta_star: np.ndarray
    loss_star: float
    L: float
    c: float
    M: float
    M_G: float

    def loss(self, theta: np.ndarray) -> np.ndarray:
        """:math:`L(\\theta)` for parameters of shape (..., d)."""
        z = theta @ self.X.T
        penalty = 0.5 * self.reg * np.sum(theta**2, axis=-1)
        if self.kind == "ridge":
            return 0.5 * np.mean((z - self.y) ** 2, axis=-1) + penalty
        return np.mean(np.logaddexp(0.0, -(2 * self.y - 1) * z), axis=-1) + penalty

    def gap(self, theta: np.ndarray) -> np.ndarray:
        """:math:`L(\\theta)-L^\\ast`; for ridge the exact quadratic form :math:`\\tfrac12e^\\top He` (cheap)."""
        if self.kind == "ridge":
            e = theta - self.theta_star
            H = self.X.T @ self.X / self.X.shape[0] + self.reg * np.eye(self.X.shape[1])
            return 0.5 * np.einsum("...i,ij,...j->...", e, H, e)
        return self.loss(theta) - self.loss_star

    def batch_gradient(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Mean gradient over the rows ``idx`` (runs, b) for parameters ``theta`` (runs, d)."""
        Xb = self.X[idx]
        z = np.einsum("rbd,rd->rb", Xb, theta)
        if self.kind == "ridge":
            weight = z - self.y[idx]
        else:
            signs = 2 * self.y[idx] - 1
            weight = -signs * special.expit(-signs * z)
        return np.einsum("rbd,rb->rd", Xb, weight) / idx.shape[1] + self.reg * theta


def _data(X, y, reg) -> tuple[np.ndarray, np.ndarray, float]:
    X = finite_array("X", X, ndim=2)
    y = finite_array("y", y, ndim=1)
    if y.size != X.shape[0]:
        raise ValueError(f"Invalid y: length {y.size} (expected {X.shape[0]}, the rows of X)")
    return X, y, positive_float("reg", reg)


def ridge_problem(X, y, *, reg: float) -> ConvexProblem:
    """Ridge regression as a :class:`ConvexProblem`, with exact constants.

    With :math:`e=\\theta-\\theta^\\ast`, :math:`A_j=x_jx_j^\\top+\\lambda I` and :math:`u_j=\\nabla\\ell_j(\\theta^\\ast)`,
    every per-sample gradient is affine, :math:`\\nabla\\ell_j=A_je+u_j`, and
    :math:`H=\\frac1N\\sum_jA_j`. Hence :math:`L=\\lambda_{max}(H)`, :math:`c=\\lambda_{min}(H)` exactly, and

    .. math::
        E_j\\|\\nabla\\ell_j\\|^2 = e^\\top Qe+2e^\\top q+E\\|u\\|^2,\\quad Q=E[A_j^2],\\ q=E[A_ju_j].

    The bound :math:`\\le M+M_G\\,e^\\top H^2e` holds for all :math:`e` iff :math:`D=M_GH^2-Q\\succeq0` and
    :math:`M\\ge E\\|u\\|^2+q^\\top D^{-1}q` (the supremum of the difference). The smallest admissible
    :math:`M_G` is :math:`\\lambda_{max}(H^{-1}QH^{-1})`, where :math:`M` blows up; we take
    :math:`M_G=(1+\\text{MG\\_SLACK})` times it and the exact :math:`M` that goes with it.

    Args:
        X: (N, d) features.
        y: (N,) targets.
        reg: the L2 coefficient lambda >= 0 (the problem must still be strongly convex).
    """
    X, y, reg = _data(X, y, reg)
    n, d = X.shape
    H = X.T @ X / n + reg * np.eye(d)
    theta_star = np.linalg.solve(H, X.T @ y / n)
    eigs = np.linalg.eigvalsh(H)
    A = np.einsum("ni,nj->nij", X, X) + reg * np.eye(d)
    u = (X @ theta_star - y)[:, None] * X + reg * theta_star
    Q = np.einsum("nij,njk->ik", A, A) / n
    q = np.einsum("nij,nj->i", A, u) / n
    h_inv = np.linalg.inv(H)
    mg_min = max(1.0, float(np.linalg.eigvalsh(h_inv @ Q @ h_inv)[-1]))
    M_G = (1.0 + MG_SLACK) * mg_min
    D = M_G * H @ H - Q
    M = float(np.mean(np.sum(u**2, axis=1)) + q @ np.linalg.solve(D, q))
    loss_star = float(0.5 * np.mean((X @ theta_star - y) ** 2) + 0.5 * reg * theta_star @ theta_star)
    return ConvexProblem("ridge", X, y, reg, theta_star, loss_star, float(eigs[-1]), float(eigs[0]), M, M_G)


def _logistic_minimiser(X, y, reg) -> np.ndarray:
    signs = 2 * y - 1
    n, d = X.shape

    def fun(theta):
        z = signs * (X @ theta)
        loss = np.mean(np.logaddexp(0.0, -z)) + 0.5 * reg * theta @ theta
        grad = -(X.T @ (signs * special.expit(-z))) / n + reg * theta
        return loss, grad

    def hess(theta):
        p = special.expit(X @ theta)
        return (X.T * (p * (1 - p))) @ X / n + reg * np.eye(d)

    result = optimize.minimize(
        fun, np.zeros(d), jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-13}
    )
    theta = result.x
    for _ in range(3):  # Newton polish: the loss is smooth and strongly convex near the optimum
        theta = theta - np.linalg.solve(hess(theta), fun(theta)[1])
    return theta


def logistic_problem(X, y, *, reg: float) -> ConvexProblem:
    """L2-regularised logistic regression as a :class:`ConvexProblem`.

    :math:`\\theta^\\ast` and :math:`L^\\ast` come from a trust-region Newton solve polished by Newton steps.
    Constants, valid for every :math:`\\theta`:

    * :math:`L=\\lambda_{max}(X^\\top X)/(4N)+\\lambda`, since :math:`\\sigma'\\le1/4`;
    * :math:`c=\\lambda` (the data term's curvature vanishes far from the data, so no larger global
      constant exists);
    * :math:`M_G=1`, :math:`M=\\frac1N\\sum_j\\|x_j\\|^2`: the per-sample gradients differ from each other
      only by :math:`(p_j-y_j)x_j` with :math:`|p_j-y_j|\\le1`, so
      :math:`E\\|\\nabla\\ell_j\\|^2=\\|\\nabla L\\|^2+\\mathrm{Var}_j\\le\\|\\nabla L\\|^2+E\\|x_j\\|^2`.

    Args:
        X: (N, d) features.
        y: (N,) labels in {0, 1}.
        reg: the L2 coefficient lambda > 0 (it supplies the strong convexity).

    Raises:
        ValueError: if ``y`` is not in {0, 1}.
    """
    X, y, reg = _data(X, y, reg)
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"Invalid y: values {np.unique(y)[:5]!r} (expected labels in {{0, 1}})")
    n = X.shape[0]
    theta_star = _logistic_minimiser(X, y, reg)
    L = float(np.linalg.eigvalsh(X.T @ X)[-1] / (4 * n) + reg)
    M = float(np.mean(np.sum(X**2, axis=1)))
    problem = ConvexProblem("logistic", X, y, reg, theta_star, 0.0, L, reg, M, 1.0)
    loss_star = float(problem.loss(theta_star))
    return ConvexProblem("logistic", X, y, reg, theta_star, loss_star, L, reg, M, 1.0)


@dataclass(frozen=True)
class ConvexRun:
    """Optimality gaps of many adaptive-batch SGD runs.

    Attributes:
        steps: (T+1,) step index. samples: (T+1,) samples used before each record.
        batch_sizes: (T,) the batch of each step.
        mean_gap: (T+1,) Monte-Carlo mean of :math:`L(\\theta_t)-L^\\ast`. stderr_gap: its standard error.
        runs: number of runs.
    """

    steps: np.ndarray
    samples: np.ndarray
    batch_sizes: np.ndarray
    mean_gap: np.ndarray
    stderr_gap: np.ndarray
    runs: int


def _batch_sequence(batch_sizes) -> np.ndarray:
    sizes = finite_array("batch_sizes", batch_sizes, ndim=1)
    if np.any(sizes < 1) or np.any(sizes != np.round(sizes)):
        raise ValueError(f"Invalid batch_sizes: {brief(batch_sizes)} (expected integers >= 1)")
    return sizes.astype(int)


def simulate_adaptive_sgd(
    problem: ConvexProblem,
    batch_sizes,
    *,
    eta0: float,
    theta0=None,
    runs: int = 200,
    seed=None,
    max_work=MAX_WORK,
) -> ConvexRun:
    """SGD with :math:`\\eta_t=b_t\\eta_0` on ``problem``: the empirical :math:`E[L(\\theta_t)-L^\\ast]`.

    .. math:: \\theta_{t+1}=\\theta_t-b_t\\eta_0\\,\\frac1{b_t}\\sum_{j\\in\\mathcal B_t}\\nabla\\ell_j(\\theta_t)

    Args:
        problem: from :func:`ridge_problem` or :func:`logistic_problem`.
        batch_sizes: :math:`b_0,\\dots,b_{T-1}` (integers >= 1).
        eta0: :math:`\\eta_0>0`; the theorem needs :math:`\\eta_0\\le1/(LM_Gb_{max})`, which is not
            enforced here so that larger steps can be explored.
        theta0: start (scalar, (d,) or (runs, d)); default zeros.
        runs: number of independent runs.
        seed: int, ``numpy.random.Generator`` or None.
        max_work: refuse calls whose estimated work, ``sum_t b_t * runs * d + T * STEP_OVERHEAD`` element
            updates, exceeds this; ``None`` for no limit.

    Returns:
        A :class:`ConvexRun` with the gap at every step.
    """
    if not isinstance(problem, ConvexProblem):
        raise ValueError(
            f"Invalid problem: {problem!r} (expected a ConvexProblem from ridge_problem or logistic_problem)"
        )
    sizes = _batch_sequence(batch_sizes)
    eta0 = positive_float("eta0", eta0)
    runs = positive_int("runs", runs)
    n, d = problem.X.shape
    total = float(sizes.sum())
    check_size(
        "batch_sizes",
        work=total * runs * d + sizes.size * STEP_OVERHEAD,
        max_work=max_work,
        memory=16.0 * runs * (float(sizes.max()) * (d + 1) + d) + 32.0 * sizes.size,
        detail=f"{sizes.size} steps, {total:.3g} samples x {runs} runs x {d} dims",
    )
    theta = start_state("theta0", np.zeros(d) if theta0 is None else theta0, runs, d)
    rng = as_generator(seed)
    means, stderrs = [], []
    for t in range(sizes.size + 1):
        gap = problem.gap(theta)
        means.append(float(gap.mean()))
        stderrs.append(float(gap.std(ddof=1) / math.sqrt(runs)) if runs > 1 else 0.0)
        if t == sizes.size:
            break
        idx = rng.integers(0, n, size=(runs, sizes[t]))
        theta -= (sizes[t] * eta0) * problem.batch_gradient(theta, idx)
    samples = np.concatenate(([0], np.cumsum(sizes)))
    return ConvexRun(np.arange(sizes.size + 1), samples, sizes, np.array(means), np.array(stderrs), runs)


def geometric_batches(b0: int, growth: float, steps: int, b_max: int, *, max_work=MAX_WORK) -> np.ndarray:
    r"""A geometric batch schedule :math:`b_t=\min(b_{max},\max(1,\lfloor b_0\,\rho^t\rceil))`, t = 0..steps-1.

    A batch holds at least one sample: with ``growth < 1`` (a shrinking batch) the schedule stops at 1
    instead of rounding down to 0.

    Args:
        b0: the first batch size :math:`b_0\ge1`.
        growth: the factor :math:`\rho>0` per step (``> 1`` grows, ``< 1`` shrinks down to 1).
        steps: the number of steps T.
        b_max: the cap :math:`b_{max}\ge1`.
        max_work: refuse ``steps`` above this (the schedule is an array of ``steps`` integers); ``None`` for
            no limit.
    """
    b0, steps, b_max = positive_int("b0", b0), positive_int("steps", steps), positive_int("b_max", b_max)
    growth = positive_float("growth", growth)
    if b0 > b_max:  # the first batch would silently be cut to the cap
        raise ValueError(f"Invalid b0: {b0} (expected at most b_max = {b_max})")
    check_size("steps", work=steps, max_work=max_work, memory=24.0 * steps, detail=f"{steps} batch sizes")
    with np.errstate(over="ignore"):
        raw = np.round(b0 * growth ** np.arange(steps))
    return np.clip(raw, 1, b_max).astype(int)


def fixed_batches_for_samples(batch_size: int, samples: int, *, max_work=MAX_WORK) -> np.ndarray:
    """A fixed batch repeated until at least ``samples`` samples are used.

    Args:
        batch_size: the batch size b >= 1.
        samples: the sample budget; the schedule has ``ceil(samples / b)`` steps.
        max_work: refuse schedules longer than this many steps; ``None`` for no limit.
    """
    batch_size, samples = positive_int("batch_size", batch_size), positive_int("samples", samples)
    steps = math.ceil(samples / batch_size)
    check_size("samples", work=steps, max_work=max_work, memory=8.0 * steps, detail=f"{steps} batch sizes")
    return np.full(math.ceil(samples / batch_size), batch_size, dtype=int)

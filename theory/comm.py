"""Ring all-reduce time and the simulated training time of a batch-size schedule (seed 003, App. C, Table 3).

Cost model (latency-bandwidth, Thakur, Rabenseifner & Gropp 2005, as cited by seed 003 App. C): sending
a message of m units between two neighbours costs α + m β; reducing m units costs m γ. The ring
all-reduce of an n-unit vector over p processes cuts it into p chunks of n/p units and runs

* reduce-scatter: p − 1 steps; in each, every process sends one chunk to its right neighbour and adds
  the chunk it receives into its own copy, costing α + (n/p)β + (n/p)γ per step;
* all-gather: p − 1 steps; every process forwards one fully reduced chunk, costing α + (n/p)β.

Summing the 2(p − 1) steps with sympy (:func:`ring_allreduce_expr`) gives

.. math::

    T_{comm} = 2(p-1)\\,α + 2\\frac{p-1}{p}\\,n β + \\frac{p-1}{p}\\,n γ,

and for many processes T_comm ≈ 2pα + 2nβ (+ nγ) (:func:`ring_allreduce_large_p_expr`). The unit of n
is whatever β and γ are per: seed 003 measures n in bits; the argument is called ``n_bytes`` here and β
must then be seconds per byte.

Training time (seed 003, App. C): a schedule of I parameter updates, each costing T_comp (forward and
backward) plus T_comm (one all-reduce), and n_H top-eigenvalue computations of cost T_Hess each, takes

.. math::

    T_{total} = I\\,(T_{comp} + T_{comm}) + n_H\\,T_{Hess}.

Note:
    The model charges the same T_comp to every update whatever its batch size: a growing-batch schedule
    saves time only through fewer updates. Iterations per epoch are ⌊N/b⌋ by default (the last partial
    batch is dropped, as HessianFlow's ABSA loop does). Seed 003's Table 5 counts BL updates as the
    exact budget floored once, ⌊E·N/b⌋ (90·50000/128 = 35156.25 → 35156): use ``rounding="exact"`` and
    floor the total for that. For Table 3 (N = 1.28M, batches 256·10^k) all conventions agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import numpy as np
import sympy as sp

from theory import symbols as S
from theory._numeric import as_float_array, lambdify
from theory._validate import number_array

__all__ = [
    "implied_iterations",
    "iterations_for_schedule",
    "ring_allreduce_expr",
    "ring_allreduce_large_p_expr",
    "ring_allreduce_step_cost_expr",
    "ring_allreduce_time",
    "ring_allreduce_time_large_p",
    "step_schedule_phases",
    "training_time",
]

alpha_sym = sp.Symbol("alpha", nonnegative=True)  # latency per message, seconds
beta_sym = sp.Symbol("beta", nonnegative=True)  # inverse bandwidth, seconds per unit of n
gamma_sym = sp.Symbol("gamma", nonnegative=True)  # reduction cost, seconds per unit of n
n_sym = sp.Symbol("n", positive=True)  # size of the all-reduced vector
_k = sp.Symbol("k", positive=True, integer=True)  # step index

ROUNDINGS = ("floor", "ceil", "exact")


# --------------------------------------------------------------------------------------------------
# Symbolic derivation
# --------------------------------------------------------------------------------------------------


@cache
def ring_allreduce_step_cost_expr(phase: str) -> sp.Expr:
    """Cost of one synchronous ring step: α + (n/p)β, plus (n/p)γ in the reduce-scatter phase.

    Args:
        phase: ``"reduce_scatter"`` or ``"all_gather"``.
    """
    chunk = n_sym / S.p
    if phase == "reduce_scatter":
        return alpha_sym + chunk * beta_sym + chunk * gamma_sym
    if phase == "all_gather":
        return alpha_sym + chunk * beta_sym
    raise ValueError(f"Invalid phase: {phase!r} (expected 'reduce_scatter' or 'all_gather')")


@cache
def ring_allreduce_expr() -> sp.Expr:
    """T_comm of the ring all-reduce, summed over its p − 1 reduce-scatter and p − 1 all-gather steps.

    .. math::

        T_{comm} = \\sum_{k=1}^{p-1} c_{RS} + \\sum_{k=1}^{p-1} c_{AG}
                 = 2(p-1)α + 2\\frac{p-1}{p} n β + \\frac{p-1}{p} n γ

    (seed 003, App. C; the printed formula was lost in extraction, γ = 0 there).
    """
    reduce_scatter = sp.summation(ring_allreduce_step_cost_expr("reduce_scatter"), (_k, 1, S.p - 1))
    all_gather = sp.summation(ring_allreduce_step_cost_expr("all_gather"), (_k, 1, S.p - 1))
    return sp.simplify(reduce_scatter + all_gather)


@cache
def ring_allreduce_large_p_expr() -> sp.Expr:
    """The many-process form 2pα + 2nβ + nγ of :func:`ring_allreduce_expr` (seed 003, App. C).

    Built as p·lim T/p (the latency term, which grows with p) plus lim T at α = 0 (the bandwidth and
    reduction terms, which saturate). The exact time is below it by 2α + (2nβ + nγ)/p.
    """
    exact = ring_allreduce_expr()
    latency = S.p * sp.limit(exact / S.p, S.p, sp.oo)
    bandwidth = sp.limit(exact.subs(alpha_sym, 0), S.p, sp.oo)
    return sp.expand(latency + bandwidth)


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _processes(workers) -> np.ndarray:
    arr = as_float_array("workers", workers, at_least=1.0)
    if np.any(arr != np.round(arr)):
        raise ValueError(f"Invalid workers: {workers!r} (expected an integer number of processes >= 1)")
    return arr


def _costs(n_bytes, alpha, beta, gamma) -> tuple[np.ndarray, ...]:
    return (
        as_float_array("n_bytes", n_bytes, nonnegative=True),
        as_float_array("alpha", alpha, nonnegative=True),
        as_float_array("beta", beta, nonnegative=True),
        as_float_array("gamma", gamma, nonnegative=True),
    )


def _result(value) -> float | np.ndarray:
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------------------------------
# Numeric functions
# --------------------------------------------------------------------------------------------------


def ring_allreduce_time(*, workers, n_bytes, alpha, beta, gamma=0.0) -> float | np.ndarray:
    """Time of one ring all-reduce: 2(p − 1)α + 2(p − 1)/p·nβ + (p − 1)/p·nγ (seed 003, App. C).

    Args:
        workers: number of processes p (integer ≥ 1; p = 1 costs nothing).
        n_bytes: size of the reduced vector, in the unit β and γ are per (seed 003 uses bits).
        alpha: latency per message (s). beta: inverse bandwidth (s per unit).
        gamma: reduction cost (s per unit); 0 as in seed 003.

    Returns:
        Seconds; broadcasts over array arguments.
    """
    p_ = _processes(workers)
    args = _costs(n_bytes, alpha, beta, gamma)
    fn = lambdify((S.p, n_sym, alpha_sym, beta_sym, gamma_sym), ring_allreduce_expr())
    return _result(fn(p_, *args))


def ring_allreduce_time_large_p(*, workers, n_bytes, alpha, beta, gamma=0.0) -> float | np.ndarray:
    """The many-process approximation 2pα + 2nβ + nγ of :func:`ring_allreduce_time` (seed 003, App. C).

    Args:
        workers: number of processes p (integer >= 1).
        n_bytes: size of the reduced vector, in the unit beta and gamma are per.
        alpha: latency per message (s).
        beta: inverse bandwidth (s per unit).
        gamma: reduction cost (s per unit).
    """
    p_ = _processes(workers)
    args = _costs(n_bytes, alpha, beta, gamma)
    fn = lambdify((S.p, n_sym, alpha_sym, beta_sym, gamma_sym), ring_allreduce_large_p_expr())
    return _result(fn(p_, *args))


def training_time(iterations, t_comp, t_comm, n_hessian=0, t_hessian=0.0) -> float | np.ndarray:
    """Total simulated training time I (T_comp + T_comm) + n_H T_Hess (seed 003, App. C, Table 3).

    Args:
        iterations: number of parameter updates I (≥ 0; may be fractional for an exact sample budget).
        t_comp: forward and backward time of one update (s). t_comm: all-reduce time of one update (s).
        n_hessian: number of top-eigenvalue computations. t_hessian: time of one of them (s).
    """
    iters = as_float_array("iterations", iterations, nonnegative=True)
    comp = as_float_array("t_comp", t_comp, nonnegative=True)
    comm = as_float_array("t_comm", t_comm, nonnegative=True)
    n_h = as_float_array("n_hessian", n_hessian, nonnegative=True)
    t_h = as_float_array("t_hessian", t_hessian, nonnegative=True)
    return _result(iters * (comp + comm) + n_h * t_h)


def implied_iterations(total_time, t_comp, t_comm, n_hessian=0, t_hessian=0.0) -> float | np.ndarray:
    """The update count I that makes :func:`training_time` equal ``total_time``: (T − n_H T_Hess)/(T_comp + T_comm).

    Args:
        total_time: the training time T (s).
        t_comp: forward and backward time of one update (s).
        t_comm: all-reduce time of one update (s).
        n_hessian: number of top-eigenvalue computations.
        t_hessian: time of one of them (s).
    """
    total = as_float_array("total_time", total_time, nonnegative=True)
    per_update = as_float_array("t_comp", t_comp, nonnegative=True) + as_float_array(
        "t_comm", t_comm, nonnegative=True
    )
    if np.any(per_update <= 0):
        raise ValueError(f"Invalid t_comp + t_comm: {per_update!r} (expected > 0)")
    hessian = as_float_array("n_hessian", n_hessian, nonnegative=True) * as_float_array(
        "t_hessian", t_hessian, nonnegative=True
    )
    return _result((total - hessian) / per_update)


def _iterations_per_epoch(n_samples: float, batch_size: float, rounding: str) -> float:
    ratio = n_samples / batch_size
    return {"floor": math.floor(ratio), "ceil": math.ceil(ratio), "exact": ratio}[rounding]


def iterations_for_schedule(
    phases: Sequence[tuple[float, int]], n_samples: int, *, rounding: str = "floor"
) -> float:
    """Parameter updates of a piecewise-constant batch schedule: Σ_phases epochs · iters_per_epoch(N/b).

    Args:
        phases: ``(epochs, batch_size)`` pairs, in order.
        n_samples: training-set size N.
        rounding: ``"floor"`` (drop the last partial batch, the default), ``"ceil"`` (keep it) or
            ``"exact"`` (N/b per epoch, a pure sample budget).

    Returns:
        The update count (an integer-valued float unless ``rounding="exact"``).
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"Invalid rounding: {rounding!r} (expected one of {ROUNDINGS})")
    n = float(as_float_array("n_samples", n_samples, positive=True))
    total = 0.0
    try:
        pairs = [(epochs, batch_size) for epochs, batch_size in phases]
    except (TypeError, ValueError):
        raise ValueError(f"Invalid phases: {phases!r} (expected (epochs, batch_size) pairs)") from None
    if not pairs:
        raise ValueError(f"Invalid phases: {phases!r} (expected at least one (epochs, batch_size) pair)")
    for epochs, batch_size in pairs:
        e = float(as_float_array("epochs", epochs, nonnegative=True))
        bs = float(_batch_size(batch_size))
        total += e * _iterations_per_epoch(n, bs, rounding)
    return total


def _batch_size(batch_size) -> float:
    arr = as_float_array("batch_size", batch_size, at_least=1.0)
    if arr.ndim != 0 or arr != np.round(arr):
        raise ValueError(f"Invalid batch_size: {batch_size!r} (expected an integer >= 1)")
    return float(arr)


def step_schedule_phases(
    initial_batch: int,
    factor: float,
    milestones: Sequence[int],
    total_epochs: int,
    *,
    max_batch: int | None = None,
) -> list[tuple[float, int]]:
    """Phases of a step schedule that multiplies the batch by ``factor`` at each milestone epoch.

    This is seed 003's GG schedule for Table 3 ("increases batch size by a factor of 10 at epoch 30,
    60 and 80", after Smith et al.), optionally capped at ``max_batch``.

    Args:
        initial_batch: the first batch size (an integer >= 1).
        factor: the multiplier at each milestone (> 0).
        milestones: the epochs at which the batch changes, increasing, within 0..total_epochs.
        total_epochs: the length of the schedule in epochs.
        max_batch: an optional cap on the batch size.

    Returns:
        ``(epochs, batch_size)`` pairs covering epochs 0..total_epochs (epochs are ints when whole).
    """
    batch = _batch_size(initial_batch)
    factor_ = float(as_float_array("factor", factor, positive=True))
    total = float(as_float_array("total_epochs", total_epochs, nonnegative=True))
    cap = math.inf if max_batch is None else _batch_size(max_batch)
    if cap < batch:
        raise ValueError(f"Invalid max_batch: {max_batch!r} (expected >= initial_batch = {initial_batch!r})")
    marks = number_array("milestones", milestones, nonnegative=True)
    if marks.ndim != 1:
        raise ValueError(f"Invalid milestones: {milestones!r} (expected a sequence of epochs)")
    bounds = [0.0, *(float(m) for m in marks), total]
    if any(hi < lo for lo, hi in zip(bounds, bounds[1:])):
        raise ValueError(
            f"Invalid milestones: {milestones!r} (expected increasing epochs within 0..{total_epochs})"
        )
    phases = []
    for lo, hi in zip(bounds, bounds[1:]):
        epochs = hi - lo
        size = min(batch, cap)
        if not math.isfinite(size):
            raise ValueError(
                f"Invalid factor: {factor!r} (the batch size overflows after {len(phases)} milestones;"
                " expected a finite schedule, or pass max_batch)"
            )
        phases.append((int(epochs) if epochs.is_integer() else epochs, int(round(size))))
        batch = min(batch * factor_, cap)
    return phases

r"""BA-Cost: batch adaptation that maximises the expected decrease per *second* (seed 000, future work).

Seed 000 (sec. 2.2, eq. 8-9) picks the batch that maximises the expected decrease of the Gaussian walk
with rebound per *sample*, :math:`u(m) = (s_t - \mathbb E_m[s_{t+1}])/m`. Its conclusion names a cost-aware
rule as future work; on P data-parallel workers a sample is not the unit of cost. This variant maximises

.. math::

    u_t(m) = \frac{s_t - \mathbb E_m[s_{t+1}]}{T(m)},\qquad
    T(m) = \lceil m/P\rceil\,t_s + R(m)\,T_{AR}(n),

with :math:`\mathbb E_m[s_{t+1}]` of seed 000 eq. 7 (``realnets.algorithms.ba.expected_decrease``),
:math:`t_s` the forward+backward time of one sample, :math:`T_{AR}(n)` one all-reduce of the n-byte
gradient (:mod:`realnets.comm`, ring by default) and :math:`R(m)` the statistic rounds needed to reach m
(``growth = step``: :math:`1 + \lceil (m - m_{first})^+/m_0\rceil`; ``jump``: 1 or 2), each of which all-reduces
the batch sums. This is :func:`realnets.comm.simulate_run`'s price of one update.

Search: BA applies the smallest reachable batch :math:`m_{first} + k m_0` that is :math:`\ge m^*`, so BA-Cost
chooses among those sizes (:func:`reachable_batches`): all of them up to :data:`EXACT_CANDIDATES`, a
geometric thinning with a full scan of the best bracket beyond; ties go to the smallest batch.

Where it differs from BA (:func:`compare_with_ba`): with ``growth = step`` every round costs an all-reduce,
so :math:`T(m)` is nearly proportional to m (exactly, :math:`(1+k)(m_0 t_s/P + T_{AR})`, when P divides
:math:`m_0 = m_{first}`) and the per-second rule is the per-sample rule up to the rounding of
:math:`\lceil m/P\rceil`: BA-Cost then picks the same batch or the reachable size just below or above. With
``growth = jump`` the all-reduces are a fixed cost per update (two rounds), :math:`T(m)` is affine with an
intercept that grows with P, and BA-Cost picks larger batches than BA, the more so the larger P.

Hyperparameters: those of ``ba-sgd`` plus ``workers`` (P), ``alpha`` (s), ``beta`` (s/byte), ``gamma``
(s/byte), ``allreduce`` (``ring``, ``tree``, ``recursive-doubling``, ``rabenseifner``), ``time_per_sample``
(s) and ``params_bytes`` (0: the model's parameters, their element sizes). ``shortcut`` is accepted but
unused (the per-second search is exact).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from realnets import comm
from realnets.algorithms import ba
from realnets.algorithms.base import StepInfo, check_number
from realnets.registry import register_algorithm

__all__ = [
    "CostAwareBatchAdaptivePolicy",
    "compare_with_ba",
    "cost_aware_optimal_batch_size",
    "reachable_batches",
    "realised_batch",
    "rounds_for",
    "update_time",
]

#: Candidate batch sizes evaluated one by one; beyond this the search thins them geometrically.
EXACT_CANDIDATES = 4096
_THIN_RATIO = 1.02


# ------------------------------------------------------------------------- adapters to ba.py's formulas
@functools.lru_cache(maxsize=16)
def _takes_sigma(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` takes the standard deviation ``sigma`` (the keyword-only form), not ``sigma2``."""
    return "sigma" in inspect.signature(fn).parameters


def _decrease(m: float, s: float, mu: float, sigma: float, eta: float, s_star: float) -> float:
    r""":math:`s_t - \mathbb E_m[s_{t+1}]` from ``ba.expected_decrease`` (eq. 7), always called by keyword."""
    if _takes_sigma(ba.expected_decrease):
        return ba.expected_decrease(m=m, s=s, mu=mu, sigma=sigma, eta=eta, s_star=s_star)
    return ba.expected_decrease(m=m, s=s, mu=mu, sigma2=sigma * sigma, eta=eta, s_star=s_star)


def _ba_optimal(s: float, mu: float, sigma: float, eta: float, m_max: int, s_star: float) -> int:
    """BA's per-sample :math:`m^*` (eq. 9) from ``ba.optimal_batch_size``, by keyword."""
    if _takes_sigma(ba.optimal_batch_size):
        return ba.optimal_batch_size(s=s, mu=mu, sigma=sigma, eta=eta, m_max=m_max, s_star=s_star)
    return ba.optimal_batch_size(s=s, mu=mu, sigma2=sigma * sigma, eta=eta, m_max=m_max, s_star=s_star)


# ------------------------------------------------------------------------------------------- the price
def rounds_for(m: int, *, m0: int, first: int, growth: str = "step") -> int:
    r"""Statistic rounds :math:`R(m)` to grow a batch to m: step: :math:`1 + \lceil (m - m_{first})^+/m_0\rceil`; jump: 1 or 2."""
    if m <= first:
        return 1
    return 2 if growth == "jump" else 1 + math.ceil((m - first) / m0)


def update_time(
    m: int,
    *,
    workers: int,
    time_per_sample: float,
    allreduce_s: float,
    m0: int,
    first: int,
    growth: str = "step",
) -> float:
    r""":math:`T(m) = \lceil m/P\rceil t_s + R(m)\,T_{AR}` (s), the modelled time of one update of batch m."""
    return (
        math.ceil(m / workers) * time_per_sample
        + rounds_for(m, m0=m0, first=first, growth=growth) * allreduce_s
    )


def reachable_batches(m_max: int, *, m0: int, first: int) -> list[int]:
    r"""The batch sizes an update can end with: :math:`m_{first} + k m_0` up to :math:`m_{\max}`, and :math:`m_{\max}`.

    BA grows the batch by :math:`m_0` (or, with ``jump``, by a multiple of :math:`m_0`) until it reaches the
    goal, so the batch it applies is the smallest of these that is :math:`\ge m^*`.
    """
    sizes = list(range(min(first, m_max), m_max + 1, m0))
    if sizes[-1] != m_max:
        sizes.append(m_max)
    return sizes


def realised_batch(m_star: int, *, m_max: int, m0: int, first: int) -> int:
    """The batch BA applies for a goal of ``m_star``: the smallest reachable size >= ``m_star``."""
    if m_star <= first:
        return min(first, m_max)
    return min(m_max, first + m0 * math.ceil((m_star - first) / m0))


def cost_aware_optimal_batch_size(
    *,
    s: float,
    mu: float,
    sigma: float,
    eta: float,
    m_max: int,
    time_of: Callable[[int], float],
    candidates: Sequence[int] | None = None,
    s_star: float = 0.0,
) -> int:
    r""":math:`\arg\max_m (s_t - \mathbb E_m[s_{t+1}])/T(m)` over ``candidates`` (smallest m among equal maxima).

    Args:
        s, mu, sigma, eta, s_star: the state, the dice's mean and standard deviation, the learning rate and
            :math:`S^*` (seed 000 eq. 7; ``sigma`` is :math:`\sqrt{\sigma^2}`).
        m_max: upper end of the search. time_of: :math:`T(m)` in seconds (> 0).
        candidates: the batch sizes to choose from, increasing (default: every integer 1..m_max, an
            exhaustive scan; the policy passes :func:`reachable_batches`). More than
            :data:`EXACT_CANDIDATES` are thinned geometrically (ratio 1.02) and the best bracket is then
            scanned in full, which is exact when the rate is unimodal over the candidates.
    """
    for name, value in (("s", s), ("mu", mu), ("s_star", s_star)):
        check_number(name, value)
    check_number("sigma", sigma, low=0.0)
    check_number("eta", eta, low=0.0, low_open=True)
    m_max = check_number("m_max", m_max, low=1, integer=True)
    sizes = list(range(1, m_max + 1)) if candidates is None else [c for c in candidates if 1 <= c <= m_max]
    if not sizes:
        raise ValueError(f"Invalid candidates: {candidates!r} (expected batch sizes within 1..{m_max})")

    def u(i: int) -> float:
        return _decrease(sizes[i], s, mu, sigma, eta, s_star) / time_of(sizes[i])

    if len(sizes) <= EXACT_CANDIDATES:
        return sizes[max(range(len(sizes)), key=u)]  # max() keeps the first of equal maxima
    grid, position = [0], 1.0
    while grid[-1] < len(sizes) - 1:
        position *= _THIN_RATIO
        grid.append(min(len(sizes) - 1, max(grid[-1] + 1, int(position))))
    best = max(range(len(grid)), key=lambda i: u(grid[i]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    return sizes[max(range(lo, hi + 1), key=u)]


# ------------------------------------------------------------------------------------------ the policy
class CostAwareBatchAdaptivePolicy(ba.BatchAdaptivePolicy):
    """BA-SGD whose :math:`m^*` maximises the expected decrease per modelled second (module docstring).

    Args:
        workers, alpha, beta, gamma, allreduce: the cluster (see :mod:`realnets.comm`).
        time_per_sample: forward+backward of one sample (s). params_bytes: gradient size (bytes, > 0).
        **kwargs: those of :class:`~realnets.algorithms.ba.BatchAdaptivePolicy`.
    """

    def __init__(
        self,
        *,
        workers: int,
        alpha: float,
        beta: float,
        gamma: float = 0.0,
        allreduce: str = "ring",
        time_per_sample: float,
        params_bytes: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workers = check_number("workers", workers, low=1, integer=True)
        self.time_per_sample = check_number("time_per_sample", time_per_sample, low=0.0)
        self.params_bytes = check_number("params_bytes", params_bytes, low=0.0, low_open=True)
        self.allreduce_s = comm.allreduce_time(
            allreduce,
            self.workers,
            self.params_bytes,
            check_number("alpha", alpha, low=0.0),
            check_number("beta", beta, low=0.0),
            check_number("gamma", gamma, low=0.0),
        )
        if self.time_per_sample == 0.0 and self.allreduce_s == 0.0:
            raise ValueError("Invalid time_per_sample: 0.0 (expected > 0 when the all-reduce costs nothing)")
        self.allreduce = allreduce

    def time_of(self, m: int) -> float:
        """Modelled seconds of an update of batch m (:func:`update_time`)."""
        return update_time(
            m,
            workers=self.workers,
            time_per_sample=self.time_per_sample,
            allreduce_s=self.allreduce_s,
            m0=self.m0,
            first=self.first,
            growth=self.growth,
        )

    def target(self, batch: Mapping[str, Any], info: StepInfo) -> tuple[int, float, float]:
        mu, sigma2 = self.dice(batch)
        m_max = self.search_max or info.n_train
        sizes = reachable_batches(m_max, m0=self.m0, first=self.first)
        m_star = cost_aware_optimal_batch_size(
            s=batch["loss"],
            mu=mu,
            sigma=math.sqrt(max(sigma2, 0.0)),
            eta=self.lr,
            m_max=m_max,
            time_of=self.time_of,
            candidates=sizes,
            s_star=self.s_star,
        )
        return m_star, mu, sigma2


# --------------------------------------------------------------------------- BA vs BA-Cost, in the model
def compare_with_ba(
    *,
    s: float,
    mu: float,
    sigma2: float,
    eta: float,
    workers: Sequence[int] = (8, 64, 512),
    alpha: float,
    beta: float,
    params_bytes: float,
    time_per_sample: float,
    m0: int = 32,
    first: int | None = None,
    growth: str = "step",
    m_max: int = 50_000,
    s_star: float = 0.0,
    algorithm: str = "ring",
) -> list[dict[str, Any]]:
    r"""BA's batch (per-sample :math:`m^*`, eq. 9) against BA-Cost's (per second) at each P, priced by :func:`update_time`.

    Both are the batches the engine would apply: BA's :math:`m^*` rounded up to a reachable size
    (:func:`realised_batch`), BA-Cost's chosen among :func:`reachable_batches`.

    Returns one dict per P: ``m_star_ba`` (eq. 9), ``batch_ba``, ``batch_cost``, their update times
    ``time_ba``, ``time_cost`` (s), expected decreases per second ``rate_ba``, ``rate_cost`` (the rebound
    walk's expected decrease, seed 000 eq. 7, over :math:`T(m)`) and ``gain = rate_cost / rate_ba``.
    """
    sigma = math.sqrt(check_number("sigma2", sigma2, low=0.0))
    first_ = m0 if first is None else first
    m_star = _ba_optimal(s, mu, sigma, eta, m_max, s_star)
    batch_ba = realised_batch(m_star, m_max=m_max, m0=m0, first=first_)
    sizes = reachable_batches(m_max, m0=m0, first=first_)
    rows = []
    for p in workers:
        t_ar = comm.allreduce_time(algorithm, p, params_bytes, alpha, beta)

        def time_of(m: int, p: int = p, t_ar: float = t_ar) -> float:
            return update_time(
                m,
                workers=p,
                time_per_sample=time_per_sample,
                allreduce_s=t_ar,
                m0=m0,
                first=first_,
                growth=growth,
            )

        batch_cost = cost_aware_optimal_batch_size(
            s=s, mu=mu, sigma=sigma, eta=eta, m_max=m_max, time_of=time_of, candidates=sizes, s_star=s_star
        )
        rate_ba = _decrease(batch_ba, s, mu, sigma, eta, s_star) / time_of(batch_ba)
        rate_cost = _decrease(batch_cost, s, mu, sigma, eta, s_star) / time_of(batch_cost)
        rows.append(
            {
                "workers": p,
                "growth": growth,
                "allreduce_s": t_ar,
                "m_star_ba": m_star,
                "batch_ba": batch_ba,
                "batch_cost": batch_cost,
                "time_ba": time_of(batch_ba),
                "time_cost": time_of(batch_cost),
                "rate_ba": rate_ba,
                "rate_cost": rate_cost,
                "gain": rate_cost / rate_ba if rate_ba > 0 else math.inf,
            }
        )
    return rows


# ------------------------------------------------------------------------------------- registration
def _defaults() -> dict[str, Any]:
    return {
        **ba._defaults(0.05, momentum=False),  # BA-SGD's, plus the cost model's
        "workers": 8,
        "alpha": 5e-6,
        "beta": 1e-10,
        "gamma": 0.0,
        "allreduce": "ring",
        "time_per_sample": 1e-4,
        "params_bytes": 0,
    }


@register_algorithm(
    "ba-cost",
    description="BA-Cost: BA-SGD maximising the expected decrease per modelled second "
    "on P workers (seed 000 future work)",
    defaults=_defaults(),
    source="seed 000, sec. 2.2 eq. 7-9, with a ring all-reduce cost",
)
def _ba_cost(params, hp):
    from realnets.optim import build_optimizer

    params_bytes = check_number("params_bytes", hp["params_bytes"], low=0.0)
    if params_bytes == 0:
        params_bytes = float(sum(p.numel() * p.element_size() for _, p in params))
    policy = CostAwareBatchAdaptivePolicy(
        workers=hp["workers"],
        alpha=hp["alpha"],
        beta=hp["beta"],
        gamma=hp["gamma"],
        allreduce=hp["allreduce"],
        time_per_sample=hp["time_per_sample"],
        params_bytes=params_bytes,
        **ba._policy_kwargs(hp, rho=0.0),
    )
    # plain SGD from the optimizer room, as BA-SGD builds it (biases and norms get no weight decay)
    optimizer = build_optimizer("sgd", params, {**hp, "lr": policy.lr, "momentum": 0.0})
    return policy, optimizer

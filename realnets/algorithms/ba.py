"""BA-SGD and BA-Momentum: batch-adaptive training by the Gaussian walk with rebound (seed 000).

The rule (seed 000, sec. 2.2, eq. 5-9, and Algorithm 1). Each parameter update grows the batch
:math:`\\mathcal Y_t` by :math:`m_0` fresh samples at a time. After every increment the statistics of the
whole batch give the state :math:`s_t = F(\\theta\\mid\\mathcal Y_t)`, the mean
:math:`\\mu_t` and the variance :math:`\\sigma_t^2 = \\hat f^\\top\\hat\\Sigma_t\\hat f` of the "Gaussian dice"
:math:`\\Delta s_t \\sim \\mathcal N(\\mu_t, \\sigma_t^2/m)`; the next state is
:math:`s_{t+1} = |s_t - S^* - \\eta\\Delta s_t| + S^*`, whose mean (a folded normal) is

.. math::

    \\mathbb E_m[s_{t+1}] = (s_t - S^* - \\eta\\mu_t)\\,[\\Phi(a) - \\Phi(-a)]
        + \\frac{\\eta\\sigma_t}{\\sqrt m}\\sqrt{\\tfrac{2}{\\pi}}\\,e^{-a^2/2} + S^*,
    \\qquad a = \\frac{s_t - S^* - \\eta\\mu_t}{\\eta\\sigma_t}\\sqrt m \\quad\\text{(eq. 7)},

and the batch size that maximises the expected decrease per sample,
:math:`m^* = \\arg\\max_m u(m)`, :math:`u(m) = (s_t - \\mathbb E_m[s_{t+1}])/m` (eq. 8-9). The update is
applied once :math:`|\\mathcal Y_t| \\ge \\min(m^*, \\text{max batch}, \\text{data left})`.

* BA-SGD: :math:`\\mu_t = \\hat f_t^\\top\\hat f_t`, update :math:`\\theta \\leftarrow \\theta - \\eta\\hat f_t`.
* BA-Momentum: :math:`\\mu_t = \\hat f_t^\\top\\mu_{\\mathcal P_t}`,
  :math:`\\mu_{\\mathcal P_t} = \\rho\\,\\mu_{\\mathcal P_{t-1}} + \\hat f_t` (eq. 15), update
  :math:`\\mathrm m_t = \\rho\\,\\mathrm m_{t-1} + \\eta\\hat f_t`, :math:`\\theta \\leftarrow \\theta - \\mathrm m_t` (eq. 10-11).
  torch's SGD with momentum :math:`\\rho` and dampening 0 keeps :math:`\\mathrm{buf}_t = \\rho\\,\\mathrm{buf}_{t-1} + \\hat f_t`,
  which *is* :math:`\\mu_{\\mathcal P_t}`, and steps by :math:`\\eta\\,\\mathrm{buf}_t = \\mathrm m_t` for a constant
  :math:`\\eta`; the statistic reads :math:`\\hat f^\\top\\mathrm{buf}_{t-1}` from the optimizer state, so
  :math:`\\mu_t = \\rho\\,\\hat f^\\top\\mathrm{buf}_{t-1} + \\hat f^\\top\\hat f`. (The original PyTorch port put
  :math:`\\mathrm m_t` into ``.grad`` and stepped with ``lr=eta`` again, applying :math:`\\eta` twice; we do not.)

The statistics come from :mod:`realnets.probes.ba_stats` (``stat`` = ``exact``, ``diag`` or ``full``); they
are updated incrementally and leave the batch gradient ready, so the update costs no extra pass.
BatchNorm in training mode is refused by the statistics (per-sample gradients are undefined).

Hyperparameters (``realnets train --algo ba-sgd|ba-momentum --hp key=value``):

``m0``
    sampling step (default 32, seed 000 sec. 4.2).
``batch_size``
    the first draw of each step (default ``None``: :math:`m_0`, as in Algorithm 1).
``s_star``
    :math:`S^*`, the lowest reachable loss (default 0, Algorithm 1 line 10).
``max_batch_size``
    cap on the batch (default 0: the training-set size, Algorithm 1 line 11).
``stat``
    covariance mode of :math:`\\sigma^2` (default ``exact``; ``diag`` is the paper's trade-off, appendix C).
``growth``
    ``step`` (default, the paper's :math:`m_0` at a time) or ``jump`` (grow straight to the current
    :math:`m^*` rounded up to a multiple of :math:`m_0`, then re-check: fewer statistic evaluations).
``code_variance``
    divide :math:`\\sigma^2` once more by the accumulated count :math:`m_\\alpha`, as the original code does
    (default ``False``; shrinks :math:`m^*` by about :math:`m_\\alpha`).
``epoch_boundary``
    ``cap`` (default): a batch never crosses the end of the epoch's permutation, so it never holds a
    sample twice (Algorithm 1 draws from :math:`\\mathcal X - \\mathcal Y_t`); ``cross``: it may.
``shortcut``
    the original code's rule :math:`m^*=1` when :math:`a(1) > 5` (default ``True``; applied only when
    :math:`\\mu > 0`, where :math:`u` then falls like :math:`1/m`, so it only saves time).
``search_max``
    upper end of the :math:`m^*` search (default 0: the training-set size, as in the original code).

Note:
    The state :math:`s_t` is the loss on the growing batch (Algorithm 1 line 9), so the rule reacts to the
    batch it is drawing; the step counter ``rounds`` logs how many increments each update took.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from realnets.algorithms.base import Grow, Policy, StepInfo, Update, check_number
from realnets.algorithms.common import positive_int
from realnets.probes.ba_stats import statistic_name
from realnets.registry import register_algorithm

__all__ = [
    "BatchAdaptivePolicy",
    "expected_decrease",
    "expected_next_state",
    "optimal_batch_size",
    "utility",
]

SHORTCUT_A = 5.0  # the original code's threshold on a(1) for m* = 1
_GRID_RATIO = 1.2  # geometric scan of m before the integer refinement
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GROWTH_MODES = ("step", "jump")
EPOCH_BOUNDARY_MODES = ("cap", "cross")


# --------------------------------------------------------------------------------------------- the rule
def _decrease(m: float, s: float, mu: float, sigma2: float, eta: float, s_star: float = 0.0) -> float:
    """:math:`s_t - \\mathbb E_m[s_{t+1}]` from the variance :math:`\\sigma^2` (the policy's internal form).

    Written as :math:`c\\,\\operatorname{erfc}(a/\\sqrt2) + \\eta\\mu\\,\\operatorname{erf}(a/\\sqrt2)
    - \\tau\\sqrt{2/\\pi}\\,e^{-a^2/2}` with :math:`c = s - S^*`, :math:`\\tau = \\eta\\sigma/\\sqrt m`,
    :math:`a = (c - \\eta\\mu)/\\tau`, which equals eq. 7 (:math:`\\Phi(a) - \\Phi(-a) = \\operatorname{erf}(a/\\sqrt2)`)
    and keeps full precision when the decrease is tiny next to the loss.
    """
    c = s - s_star
    nu = c - eta * mu
    tau = eta * math.sqrt(sigma2 / m)
    if tau == 0.0:
        return c - abs(nu)
    z = nu / (tau * math.sqrt(2.0))
    return c * math.erfc(z) + eta * mu * math.erf(z) - tau * _SQRT_2_OVER_PI * math.exp(-z * z)


def _utility(m: float, s: float, mu: float, sigma2: float, eta: float, s_star: float = 0.0) -> float:
    return _decrease(m, s, mu, sigma2, eta, s_star) / m


# The shared signatures (the same keyword-only names and meanings as theory.rebound_walk and sim.rebound_walk;
# ``sigma`` is the per-sample standard deviation of the Gaussian dice, sigma^2 = f^T Sigma f).
def _check_sigma(sigma: float) -> float:
    return check_number("sigma", sigma, low=0.0) ** 2


def expected_decrease(
    *, m: float, s: float, mu: float, sigma: float, eta: float, s_star: float = 0.0
) -> float:
    r""":math:`s_t - \mathbb E_m[s_{t+1}]`, the expected decrease of the state with a batch of ``m`` (eq. 7).

    Written as :math:`c\,\operatorname{erfc}(a/\sqrt2) + \eta\mu\,\operatorname{erf}(a/\sqrt2)
    - \tau\sqrt{2/\pi}\,e^{-a^2/2}` with :math:`c = s - S^*`, :math:`\tau = \eta\sigma/\sqrt m`,
    :math:`a = (c - \eta\mu)/\tau`, which equals eq. 7 and keeps full precision when the decrease is tiny.

    Args:
        m: batch size. s: the state :math:`s_t`. mu: the dice mean :math:`\mu_t`. sigma: the per-sample
        standard deviation :math:`\sigma_t`. eta: the learning rate. s_star: :math:`S^*`.
    """
    return _decrease(m, s, mu, _check_sigma(sigma), eta, s_star)


def expected_next_state(
    *, m: float, s: float, mu: float, sigma: float, eta: float, s_star: float = 0.0
) -> float:
    r""":math:`\mathbb E_m[s_{t+1}]`, the mean of :math:`|s - S^* - \eta X| + S^*`, :math:`X\sim\mathcal N(\mu, \sigma^2/m)` (eq. 7).

    Args: as :func:`expected_decrease`.
    """
    return s - _decrease(m, s, mu, _check_sigma(sigma), eta, s_star)


def utility(*, m: float, s: float, mu: float, sigma: float, eta: float, s_star: float = 0.0) -> float:
    r""":math:`u(m, s_t) = (s_t - \mathbb E_m[s_{t+1}])/m`, the expected decrease per sample (eq. 8).

    Args: as :func:`expected_decrease`.
    """
    return _decrease(m, s, mu, _check_sigma(sigma), eta, s_star) / m


def _check_rule_inputs(s: float, mu: float, sigma2: float, eta: float, s_star: float, m_max: int) -> None:
    for name, value in (("s", s), ("mu", mu), ("s_star", s_star)):
        check_number(name, value)
    check_number("sigma2", sigma2, low=0.0)
    check_number("eta", eta, low=0.0, low_open=True)
    check_number("m_max", m_max, low=1, integer=True)


def _geometric_grid(m_max: int) -> list[int]:
    grid, m = [1], 1.0
    while grid[-1] < m_max:
        m *= _GRID_RATIO
        grid.append(min(m_max, max(grid[-1] + 1, int(round(m)))))
    return grid


def optimal_batch_size(
    *,
    s: float,
    mu: float,
    sigma: float,
    eta: float,
    m_max: int,
    s_star: float = 0.0,
    shortcut: float | None = SHORTCUT_A,
) -> int:
    r""":math:`m^* = \arg\max_{1\le m\le m_{\max}} u(m, s_t)` over the integers (eq. 9), ``sigma`` a standard deviation.

    The same keyword-only names and meanings as ``theory.rebound_walk.optimal_batch_size_int`` and
    ``sim.rebound_walk.maximise_utility`` (``tests/test_one_signature.py`` calls all three with one dict).
    See :func:`_optimal_batch_size` for the search and its special cases.

    Args:
        s: the state :math:`s_t`. mu: the dice mean :math:`\mu_t`. sigma: the per-sample standard deviation
        :math:`\sigma_t` (not the variance). eta: the learning rate. m_max: the largest batch (integer >= 1).
        s_star: :math:`S^*`. shortcut: return 1 when :math:`a(1)` exceeds it and :math:`\mu > 0` (None: never).
    """
    return _optimal_batch_size(s, mu, _check_sigma(sigma), eta, m_max=m_max, s_star=s_star, shortcut=shortcut)


def _optimal_batch_size(
    s: float,
    mu: float,
    sigma2: float,
    eta: float,
    *,
    m_max: int,
    s_star: float = 0.0,
    shortcut: float | None = SHORTCUT_A,
) -> int:
    """:math:`m^* = \\arg\\max_{1\\le m\\le m_{\\max}} u(m, s_t)` over the integers (eq. 9).

    The search: a geometric scan of :math:`m` (ratio 1.2) finds the best grid point, an integer ternary
    search refines between its neighbours, and the last few integers are compared directly, so the result
    is the exact integer argmax whenever :math:`u` is unimodal between the scan's neighbours (the first of
    equal maxima). About 60 + 2 log_{1.5}(m^*) evaluations of :math:`u`.

    Special cases: :math:`\\sigma^2 = 0` gives a constant expected decrease :math:`c - |c - \\eta\\mu|`, so
    :math:`m^* = 1` when it is >= 0 and :math:`m_{\\max}` otherwise (every :math:`u` is negative and rises
    towards 0). With ``shortcut`` (the original code's 5), :math:`a(1) > 5` returns 1 at once when
    :math:`\\mu > 0`: the rebound term is then below :math:`10^{-6}` and :math:`u \\approx \\eta\\mu/m` falls.

    Note:
        When the mean step overshoots (:math:`\\eta\\mu > 2(s_t - S^*)`) or :math:`\\mu < 0` (momentum
        against the current gradient), every :math:`u(m)` is negative and the argmax is :math:`m_{\\max}`:
        the rule asks for the largest batch. The original code applies its :math:`a(1) > 5` shortcut
        whatever the sign of :math:`\\mu`, so for :math:`\\mu < 0` (BA-Momentum against its buffer) it returns
        :math:`m^* = 1` where the argmax is :math:`m_{\\max}`; we apply it only for :math:`\\mu > 0`. It bisects on the sign of :math:`du/dm` and
        returns the neighbour with the largest derivative, which can be off by one.
    """
    _check_rule_inputs(s, mu, sigma2, eta, s_star, m_max)
    if m_max == 1:
        return 1
    if sigma2 == 0.0:
        return 1 if _decrease(1, s, mu, 0.0, eta, s_star) >= 0.0 else m_max
    if shortcut is not None and mu > 0 and (s - s_star - eta * mu) / (eta * math.sqrt(sigma2)) > shortcut:
        return 1

    def u(m: int) -> float:
        return _utility(m, s, mu, sigma2, eta, s_star)

    grid = _geometric_grid(m_max)
    values = [u(m) for m in grid]
    best = max(range(len(grid)), key=values.__getitem__)
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    while hi - lo > 3:
        third = (hi - lo) // 3
        left, right = lo + third, hi - third
        if u(left) < u(right):
            lo = left + 1
        else:
            hi = right
    return max(range(lo, hi + 1), key=u)


# ------------------------------------------------------------------------------------------- the policy
class BatchAdaptivePolicy(Policy):
    """BA-SGD (``rho = 0``) or BA-Momentum (``rho > 0``), seed 000 Algorithm 1 (see the module docstring).

    Args:
        lr: the learning rate :math:`\\eta` (constant).
        rho: momentum coefficient :math:`\\rho` of the optimizer (0 for BA-SGD).
        m0: sampling step.
        first: samples drawn first in each step (default :math:`m_0`).
        s_star: :math:`S^*`.
        max_batch_size: batch cap (0: the training-set size).
        stat: ``exact``, ``diag`` or ``full``.
        growth: ``step`` or ``jump``.
        code_variance: divide :math:`\\sigma^2` by :math:`m_\\alpha` as the original code does.
        epoch_boundary: ``cap`` or ``cross``.
        shortcut: apply the :math:`a(1) > 5 \\Rightarrow m^* = 1` rule.
        search_max: upper end of the :math:`m^*` search (0: the training-set size).
        lookahead: let the statistics process the rows this step will probably take at once (the batch the last
            decision aimed for, on the growth grid), answering each round from that block; the decisions and
            the sample order are those of the round-by-round rule (see :mod:`realnets.probes.prefix`).

    State (plain numbers, checkpointable): the last decision's ``m_star``, ``mu``, ``sigma2``, ``s`` and the
    number of statistic rounds of the current step (``rounds``), and the batches the last two updates took
    (``taken``, ``taken_before``: the look-ahead hint).
    """

    def __init__(
        self,
        *,
        lr: float,
        rho: float = 0.0,
        m0: int = 32,
        first: int | None = None,
        s_star: float = 0.0,
        max_batch_size: int = 0,
        stat: str = "exact",
        growth: str = "step",
        code_variance: bool = False,
        epoch_boundary: str = "cap",
        shortcut: bool = True,
        search_max: int = 0,
        lookahead: bool = True,
    ) -> None:
        self.lr = check_number("lr", lr, low=0.0, low_open=True)
        self.rho = check_number("momentum", rho, low=0.0, high=1.0)
        self.m0 = positive_int("m0", m0)
        self.first = self.m0 if first is None else positive_int("batch_size", first)
        self.s_star = check_number("s_star", s_star)
        self.max_batch_size = check_number("max_batch_size", max_batch_size, low=0, integer=True)
        self.needs = (statistic_name(stat),)
        self.stat = stat
        self.growth = _choice("growth", growth, GROWTH_MODES)
        self.code_variance = _flag("code_variance", code_variance)
        self.epoch_boundary = _choice("epoch_boundary", epoch_boundary, EPOCH_BOUNDARY_MODES)
        self.shortcut = SHORTCUT_A if _flag("shortcut", shortcut) else None
        self.search_max = check_number("search_max", search_max, low=0, integer=True)
        self.lookahead_on = _flag("lookahead", lookahead)

    # -- pure helpers --------------------------------------------------------------------------------
    def room(self, info: StepInfo) -> int:
        """Fresh samples this step may still draw: the budget, and the epoch's end under ``cap``."""
        if self.epoch_boundary == "cross":
            return info.budget_left
        if info.step_room is not None:  # the sampler knows (epoch end, or the rest of X under fresh sampling)
            return max(0, min(info.budget_left, info.step_room))
        in_epoch = info.n_train - info.samples_seen % info.n_train - info.batch_so_far
        return max(0, min(info.budget_left, in_epoch))

    def cap(self, info: StepInfo) -> int:
        """The largest batch allowed: ``max_batch_size`` and the training-set size."""
        return min(self.max_batch_size or info.n_train, info.n_train)

    def dice(self, batch: Mapping[str, Any]) -> tuple[float, float]:
        """:math:`(\\mu_t, \\sigma_t^2)` of the Gaussian dice from the batch statistics (eq. 15-16)."""
        mu = batch["grad_sq_norm"] + self.rho * batch["grad_dot_buffer"]
        sigma2 = batch["sigma2"] / batch["n"] if self.code_variance else batch["sigma2"]
        return mu, sigma2

    def target(self, batch: Mapping[str, Any], info: StepInfo) -> tuple[int, float, float]:
        """``(m_star, mu, sigma2)`` for the batch drawn so far."""
        mu, sigma2 = self.dice(batch)
        m_max = self.search_max or info.n_train
        m_star = _optimal_batch_size(
            batch["loss"],
            mu,
            max(sigma2, 0.0),
            self.lr,
            m_max=m_max,
            s_star=self.s_star,
            shortcut=self.shortcut,
        )
        return m_star, mu, sigma2

    def increment(self, have: int, goal: int) -> int:
        """How many samples to draw next: :math:`m_0`, or up to the goal in multiples of :math:`m_0` (jump)."""
        if self.growth == "step":
            return self.m0
        return self.m0 * max(1, math.ceil((goal - have) / self.m0))

    # -- the protocol --------------------------------------------------------------------------------
    def init_state(self) -> dict[str, Any]:
        return {"m_star": 0, "mu": 0.0, "sigma2": 0.0, "s": 0.0, "rounds": 0, "taken": 0, "taken_before": 0}

    def first_draw(self, state: dict[str, Any], info: StepInfo) -> tuple[int, dict[str, Any]]:
        return max(1, min(self.first, self.room(info), self.cap(info))), {**state, "rounds": 0}

    def lookahead(self, state: dict[str, Any], info: StepInfo) -> int:
        """The smaller of the batches the last two updates took, on this step's growth grid (``first + k m0``),
        capped. The smaller one, because BA's batch can jump to the whole training set for one update and fall
        back to m0 at the next (a look-ahead that is too long wastes its extra rows' passes; one that is too
        short costs a pass per extra round, as the round-by-round rule does)."""
        first = max(1, min(self.first, self.room(info), self.cap(info)))
        if not self.lookahead_on:
            return 0
        recent = [int(state.get(key, 0)) for key in ("taken", "taken_before")]
        goal = min(min([n for n in recent if n > 0], default=0), self.cap(info))
        rows = first + self.m0 * max(0, math.ceil((goal - first) / self.m0))
        return max(first, min(rows, self.room(info), self.cap(info)))

    def decide(
        self, state: dict[str, Any], info: StepInfo, stats: Mapping[str, Any]
    ) -> tuple[Grow | Update, dict[str, Any]]:
        batch = stats[self.needs[0]]
        room = self.room(info)
        state = {**state, "rounds": state["rounds"] + 1}
        if batch["sigma2"] is None:  # one sample: no covariance yet
            room = min(room, self.cap(info) - batch["n"])
            return (Grow(min(self.m0, room)) if room > 0 else Update(lr=self.lr)), state
        if not all(math.isfinite(batch[k]) for k in ("loss", "grad_sq_norm", "grad_dot_buffer", "sigma2")):
            # a diverged model: update at once so that the engine logs the non-finite loss and stops the run
            state.update(m_star=0, mu=0.0, sigma2=0.0, s=0.0)
            return Update(lr=self.lr), state
        m_star, mu, sigma2 = self.target(batch, info)
        state.update(m_star=int(m_star), mu=float(mu), sigma2=float(sigma2), s=float(batch["loss"]))
        goal = min(m_star, self.cap(info))
        have = batch["n"]
        room = min(room, self.cap(info) - have)  # max_batch_size is a cap: never grow past it
        if have >= goal or room <= 0:
            return Update(lr=self.lr), state
        return Grow(min(self.increment(have, goal), room)), state

    def after_update(
        self, state: dict[str, Any], info: StepInfo, record: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Remember the batch this update took (the next step's look-ahead hint)."""
        return {**state, "taken": int(record["batch_size"]), "taken_before": int(state.get("taken", 0))}

    def log_fields(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Per-update fields for ``metrics.jsonl``: m*, mu, sigma^2 (as used by the rule), s_t, rounds."""
        return {
            "m_star": state["m_star"],
            "mu": state["mu"],
            "sigma2": state["sigma2"],
            "s_t": state["s"],
            "rounds": state["rounds"],
        }


def _choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"Invalid {name}: {value!r} (expected one of {', '.join(options)})")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected true or false)")
    return value


# ------------------------------------------------------------------------------------- registration
def _defaults(lr: float, momentum: bool) -> dict[str, Any]:
    hp: dict[str, Any] = {
        "lr": lr,
        "batch_size": None,
        "m0": 32,
        "s_star": 0.0,
        "max_batch_size": 0,
        "stat": "exact",
        "growth": "step",
        "code_variance": False,
        "epoch_boundary": "cap",
        "shortcut": True,
        "search_max": 0,
        "lookahead": True,
        "weight_decay": 0.0,
    }
    if momentum:
        hp["momentum"] = 0.9
    return hp


def _policy_kwargs(hp: Mapping[str, Any], rho: float) -> dict[str, Any]:
    """The :class:`BatchAdaptivePolicy` arguments from resolved hyperparameters (BA's variants share them)."""
    keys = ("lr", "m0", "s_star", "max_batch_size", "stat", "growth", "code_variance", "epoch_boundary")
    return {
        **{key: hp[key] for key in keys},
        "rho": rho,
        "first": hp["batch_size"],
        "shortcut": hp["shortcut"],
        "search_max": hp["search_max"],
        "lookahead": hp["lookahead"],
    }


def _build(params, hp: Mapping[str, Any], rho: float):
    from realnets.optim import build_optimizer, get_optimizer

    policy = BatchAdaptivePolicy(**_policy_kwargs(hp, rho))
    # The heavy-ball SGD of the room with dampening 0 and no Nesterov: its buffer is exactly mu_P of eq. 15.
    name = hp.get("optimizer") or ("momentum" if rho > 0 else "sgd")
    info = get_optimizer(name)
    if rho > 0 and not info.has_momentum_buffer:
        raise ValueError(
            f"Invalid optimizer: {name!r} (BA-Momentum reads the momentum buffer, mu_P of eq. 15; "
            f"expected an optimizer with one, e.g. momentum)"
        )
    optimizer = build_optimizer(name, params, {**hp, "lr": policy.lr, "momentum": rho})
    return policy, optimizer


_SOURCE = "seed 000, sec. 2-3 and Algorithm 1"


@register_algorithm(
    "ba-sgd",
    description="BA-SGD: grow the batch by m0 until it reaches the Gaussian-walk optimum m* (seed 000)",
    defaults=_defaults(0.05, momentum=False),
    source=_SOURCE,
)
def _ba_sgd(params, hp):
    return _build(params, hp, 0.0)


@register_algorithm(
    "ba-momentum",
    description="BA-Momentum: batch-adaptive heavy-ball momentum, mu = f^T mu_P (seed 000, Algorithm 1)",
    defaults=_defaults(0.01, momentum=True),
    source=_SOURCE,
)
def _ba_momentum(params, hp):
    rho = check_number("momentum", hp["momentum"], low=0.0, high=1.0)
    if not rho < 1.0:
        raise ValueError(f"Invalid momentum: {rho!r} (expected 0 <= momentum < 1)")
    return _build(params, hp, rho)

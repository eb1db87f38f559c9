r"""Seed 003 (Yao, Gholami, Keutzer, Mahoney): ABS and ABSA, and the baselines of its Tables 1, 2 and 4-7.

* ``abs``: adaptive batch size from the top Hessian eigenvalue (seed 003, Alg. 1, sec. 3.1);
* ``absa``: ABS plus FGSM adversarial inputs (Alg. 1 with adversarial training, sec. 3.1);
* ``bl``: the baseline, a fixed batch with the base step decay of the learning rate;
* ``fb``: linear scaling of the learning rate with the batch (Goyal et al.), a linear warm-up, then the base
  step decay;
* ``gg``: the batch multiplied by a factor at the milestones instead of decaying the learning rate (Smith et
  al.), learning rate fixed.

ABS as the authors' code runs it (github.com/amirgholami/HessianFlow ``hessianflow/optimizer/absa.py``; the
constants are the defaults of its ``train.py``; every one is a hyperparameter here):

* the batch is :math:`B = r\,b_0` with base batch :math:`b_0` = ``batch_size`` (128) and :math:`r = 1` at the
  start. The authors accumulate the gradients of :math:`r` mini-batches of :math:`b_0` (loss / r); here the
  engine draws the :math:`r b_0` samples as one batch, which gives the same mean gradient (up to rounding) for
  models without BatchNorm; with BatchNorm use ``--ghost-batch-size b0`` to normalise each base batch on its
  own;
* after every epoch (or every ``check_every`` samples), on one *fresh* batch of ``probe_batch_size``
  (:math:`b_0`) training samples drawn from the probe's own generator (the training sampler is untouched, so a
  resumed run is bitwise the same), in eval mode: the top eigenvalue :math:`\lambda` of the batch loss Hessian
  by power iteration (``max_iter`` = 10 products, relative tolerance ``tol`` = 1e-2;
  :func:`~realnets.probes.hessian.top_eigenvalues`), optionally of a parameter ``block`` only (sec. 4.3:
  ``block=last:2``);
* the first check sets :math:`\lambda_{ref} = \lambda`; afterwards, if :math:`\lambda \le \lambda_{ref} /`
  ``eig_ratio`` (2): :math:`r \leftarrow \min(\text{growth}\cdot r, r_{max})` (growth 2, :math:`r_{max}` =
  128) and :math:`\lambda_{ref} = \lambda`; if ``duration`` (10) checks pass without an increase, :math:`r`
  grows the same way with :math:`\lambda_{ref}` unchanged. Each increase multiplies the learning rate by
  :math:`r_{new}/r_{old}` (linear scaling: the noise scale of the base run is kept), and the base step decay
  (``lr_decay`` = 0.2 at each of the ``milestones``) compounds with it: :math:`\epsilon_t =
  \epsilon_0\,r_t\,\text{lr\_decay}^{k(t)}`. Once :math:`r = r_{max}` the eigenvalue is no longer computed
  (tracking stops);
* **the batch never shrinks.** This follows the authors' code; the paper's text (sec. 3.1) speaks of "a
  smaller batch size in regions with a sharper loss landscape", which neither Alg. 1 nor the code does.

Power iteration returns the eigenvalue of *largest magnitude*, which is negative where negative curvature
dominates (early training, saddles). The authors compare it signed, so a negative value after a positive
:math:`\lambda_{ref}` triggers an increase; ``negative`` chooses: ``"skip"`` (default: a negative value is not
evidence of a flat region, it neither triggers an increase nor sets :math:`\lambda_{ref}`, but counts towards
the duration rule), ``"signed"`` (the authors' comparison) or ``"magnitude"`` (compare :math:`|\lambda|`).

ABSA adds FGSM inputs (:class:`~realnets.adversarial.FGSMTransform`): in each base batch of :math:`b_0`
samples the first :math:`k = \max(\lfloor b_0\gamma\rfloor, 1)` are *replaced* (not appended) by
:math:`\mathrm{clip}(x + \epsilon\,\mathrm{sign}\nabla_x \ell)` with :math:`\gamma_0` = ``gamma`` = 0.2,
:math:`\epsilon` = ``fgsm_eps`` = 0.005, clipped to the min and max of each base batch's :math:`k` rows as the
authors' code does (``clip="tensor"``), or per element to [``data_min``, ``data_max``] (``clip="data"``);
:math:`\gamma` is divided by ``adv_decay`` (2) at every increase and is 0 from epoch :math:`\lfloor E\cdot`
``adv_stop`` :math:`\rfloor` (:math:`\lfloor E/2\rfloor`) on and once :math:`r = r_{max}`.

Logged with each step (``metrics.jsonl``): ``r``, ``gamma`` (the fraction used in this update), ``hvp``
(Hessian-vector products spent before this update, 0 on most steps; ``realnets cost`` reads it); on the steps
that follow a check also ``lambda``, ``lambda_ref``, ``checks``, ``converged``. With ``log_seconds=true`` the
cumulative seconds spent in the eigenvalue probe and in FGSM (``probe_seconds``, ``fgsm_seconds``): wall-clock
figures differ between a run and its resumption, so they are off by default.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from realnets.adversarial import CLIP_MODES, FGSMTransform
from realnets.algorithms.base import Grow, Policy, ScheduledPolicy, StepInfo, Update, check_number
from realnets.algorithms.common import build_optimizer, common_defaults, parse_milestones, positive_int
from realnets.algorithms.schedules import milestones_passed, warmup_lr
from realnets.probes.scheduled import ScheduledProbe
from realnets.registry import register_algorithm

__all__ = ["ABSPolicy", "ABSRule", "EIGEN_PROBE", "NEGATIVE_MODES", "parse_block"]

EIGEN_PROBE = "abs_eigen"
NEGATIVE_MODES = ("skip", "signed", "magnitude")


# ---------------------------------------------------------------------------------------------- the rule ---
@dataclass(frozen=True)
class ABSRule:
    """The epoch-end part of seed 003's Alg. 1 as a pure function of the state (see the module docstring).

    Attributes:
        r_max: largest accumulation ratio (the batch is at most ``r_max * b0``).
        eig_ratio: the eigenvalue decreasing ratio (an increase when lambda <= lambda_ref / eig_ratio).
        growth: the batch increasing ratio (r <- min(growth * r, r_max)).
        duration: checks without an increase after which r grows anyway.
        adv_decay: gamma is divided by this at each increase.
        negative: how a negative eigenvalue is read (:data:`NEGATIVE_MODES`).
    """

    r_max: int = 128
    eig_ratio: float = 2.0
    growth: int = 2
    duration: int = 10
    adv_decay: float = 2.0
    negative: str = "skip"

    def initial_state(self, gamma: float = 0.0) -> dict[str, Any]:
        """The state before the first check: r = 1, no reference eigenvalue, tracking unless r_max = 1."""
        tracking = self.r_max > 1
        return {
            "r": 1,
            "lam_ref": None,
            "since": 0,
            "checks": 0,
            "increases": 0,
            "negatives": 0,
            "tracking": tracking,
            "gamma": float(gamma) if tracking else 0.0,
            "lr_scale": 1.0,
        }

    def increase(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """r <- min(growth r, r_max); lr scale x r_new / r_old; gamma / adv_decay; at r_max: gamma 0 and
        tracking off."""
        s = dict(state)
        r_old = s["r"]
        r_new = min(r_old * self.growth, self.r_max)
        s.update(r=r_new, since=0, increases=s["increases"] + 1, gamma=s["gamma"] / self.adv_decay)
        s["lr_scale"] = s["lr_scale"] * r_new / r_old
        if r_new >= self.r_max:
            s.update(gamma=0.0, tracking=False)
        return s

    def check(self, state: Mapping[str, Any], lam: float) -> dict[str, Any]:
        """One eigenvalue check: the halving rule, then the duration rule (the authors' order)."""
        s = dict(state)
        if not s["tracking"]:
            return s
        s["checks"] += 1
        s["since"] += 1
        if lam < 0:
            s["negatives"] += 1
        if not (lam < 0 and self.negative == "skip"):
            value = abs(lam) if self.negative == "magnitude" else lam
            if s["lam_ref"] is None:
                s["lam_ref"] = value
            elif value <= s["lam_ref"] / self.eig_ratio:
                s = self.increase({**s, "lam_ref": value})
        if s["tracking"] and s["since"] >= self.duration:
            s = self.increase(s)
        return s


# ------------------------------------------------------------------------------------------- the probe ---
@dataclass(frozen=True)
class _TrackingProbe(ScheduledProbe):
    """A scheduled probe the engine skips while ``active(policy_state)`` is False (ABS stops at r_max)."""

    active: Callable[[Mapping[str, Any]], bool] | None = None


def _tracking(state: Mapping[str, Any]) -> bool:
    return bool(state.get("tracking", True))


def _eigen_probe(model, loss_fn, x, y, generator, *, max_iter: int, tol: float, block, timed: bool):
    from realnets.probes.hessian import top_eigenvalues

    start = time.perf_counter()
    result = top_eigenvalues(
        model, loss_fn, x, y, k=1, max_iter=max_iter, tol=tol, generator=generator, block=block
    )
    value = float(result.values[0])  # a host sync: the seconds below are real on a GPU too
    return {
        "lambda": value,
        "hvps": int(result.hvps),
        "converged": bool(result.converged),
        "fwd": 1,
        "bwd": 1 + int(result.hvps),  # the gradient graph, then one backward per product
        "seconds": time.perf_counter() - start if timed else 0.0,
    }


def parse_block(value: Any, names: Sequence[str]) -> str | list[str] | None:
    """The ``block`` hyperparameter: ``""`` (full Hessian), ``"last:n"``, or comma-separated module names.

    Checked against the parameter ``names`` here (before any training); the probe resolves it on the model.
    Plain parameters (named ``"0"``, ``"1"``, ... by the registry, e.g. the CLI's stand-in that validates
    values before the data is loaded) have no module names: only the syntax is checked then, and the names
    when the algorithm is built on the model.
    """
    if value in ("", None, "full"):
        return None
    if all(n.isdigit() for n in names):
        names = ()
    modules = list(dict.fromkeys(n.rpartition(".")[0] for n in names))
    valid = ", ".join(repr(m) for m in modules)
    if not isinstance(value, str):
        raise ValueError(f"Invalid block: {value!r} (expected '', 'last:n' or module names from {valid})")
    head, sep, count = value.partition(":")
    if sep:
        if head != "last" or not count.isdigit() or not 1 <= int(count):
            raise ValueError(f"Invalid block: {value!r} (expected 'last:n' with n >= 1, or module names)")
        return value
    wanted = [item.strip() for item in value.split(",") if item.strip()]
    unknown = [b for b in wanted if names and not any(n == b or n.startswith(b + ".") for n in names)]
    if unknown or not wanted:
        raise ValueError(
            f"Invalid block: {unknown[0] if unknown else value!r} (expected '', 'last:n' or module names "
            f"from {valid})"
        )
    return wanted


# ------------------------------------------------------------------------------------------ the policy ---
class ABSPolicy(Policy):
    """ABS / ABSA (module docstring): batch ``r * b0``, r from the epoch-end eigenvalue checks.

    The eigenvalue arrives in the statistics of the first ``decide`` after its probe ran; the batch drawn
    before it (``r_old * b0``) is then grown to ``r_new * b0`` in the same update.
    """

    def __init__(
        self,
        *,
        b0: int,
        lr: float,
        rule: ABSRule,
        milestones: Sequence[float],
        lr_decay: float,
        probe: ScheduledProbe,
        gamma: float = 0.0,
        transform: FGSMTransform | None = None,
        adv_stop: float = 0.5,
        log_seconds: bool = False,
    ) -> None:
        self.b0, self.lr, self.rule = b0, lr, rule
        self.milestones, self.lr_decay = tuple(milestones), lr_decay
        self.probes = (probe,)
        self.gamma0, self.transform, self.adv_stop = gamma, transform, adv_stop
        self.log_seconds = log_seconds

    def init_state(self) -> dict[str, Any]:
        return {
            **self.rule.initial_state(self.gamma0 if self.transform is not None else 0.0),
            "runs_seen": 0,
            "hvps": 0,
            "step_hvp": 0,
            "lambda": None,
            "converged": None,
            "checked": False,
            "gamma_used": 0.0,
            "probe_seconds": 0.0,
            "fgsm_seconds": 0.0,
        }

    def first_draw(self, state: dict[str, Any], info: StepInfo) -> tuple[int, dict[str, Any]]:
        state = {**state, "step_hvp": 0, "checked": False}
        return min(self.b0 * state["r"], info.budget_left), state

    def _absorb_check(self, state: dict[str, Any], stats: Mapping[str, Any]) -> dict[str, Any]:
        runs = int(stats.get(f"{EIGEN_PROBE}.runs", 0) or 0)
        if runs <= state["runs_seen"]:
            return state
        value = stats[EIGEN_PROBE]
        state = {**self.rule.check(state, value["lambda"]), "runs_seen": runs, "checked": True}
        state.update(
            {
                "lambda": value["lambda"],
                "converged": value["converged"],
                "hvps": state["hvps"] + value["hvps"],
                "step_hvp": value["hvps"],
                "probe_seconds": state["probe_seconds"] + value.get("seconds", 0.0),
            }
        )
        return state

    def adversarial_fraction(self, state: Mapping[str, Any], info: StepInfo) -> float:
        """gamma of this update: 0 without FGSM, from epoch floor(E * adv_stop) on, and at r_max."""
        if self.transform is None or state["r"] >= self.rule.r_max:
            return 0.0
        total_epochs = (info.samples_seen + info.batch_so_far + info.budget_left) / info.n_train
        return 0.0 if info.epoch >= math.floor(total_epochs * self.adv_stop) else float(state["gamma"])

    def decide(self, state, info, stats):
        state = self._absorb_check(state, stats)
        wanted = self.b0 * state["r"]
        if info.batch_so_far < wanted and info.budget_left > 0:
            return Grow(min(wanted - info.batch_so_far, info.budget_left)), state
        lr = self.lr * state["lr_scale"] * self.lr_decay ** milestones_passed(info.epoch, self.milestones)
        gamma = self.adversarial_fraction(state, info)
        state = {**state, "gamma_used": gamma}
        if gamma > 0.0:
            self.transform.gamma = gamma
            return Update(lr=lr, transform=self.transform), state
        return Update(lr=lr), state

    def after_update(self, state, info, record):
        if self.transform is not None and self.transform.timed:
            state = {**state, "fgsm_seconds": state["fgsm_seconds"] + self.transform.seconds}
            self.transform.seconds = 0.0
        return state

    def log_fields(self, state: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {"r": state["r"], "gamma": state["gamma_used"], "hvp": state["step_hvp"]}
        if state["checked"]:
            fields.update(
                {
                    "lambda": state["lambda"],
                    "lambda_ref": state["lam_ref"],
                    "checks": state["checks"],
                    "converged": state["converged"],
                }
            )
        if self.log_seconds:
            fields.update(probe_seconds=state["probe_seconds"], fgsm_seconds=state["fgsm_seconds"])
        return fields


# ------------------------------------------------------------------------------------------- factories ---
#: Scaled-down defaults: C3's schedule (200 epochs, decay 0.2 at 60/120/160) in a 20-epoch budget.
_BASE = {**common_defaults("momentum", 0.1, 128), "milestones": "6,12,16", "lr_decay": 0.2}
_ABS_DEFAULTS = {
    **_BASE,
    "r_max": 128,
    "eig_ratio": 2.0,
    "growth": 2,
    "duration": 10,
    "max_iter": 10,
    "tol": 0.01,
    "probe_batch_size": 0,
    "check_every": 0,
    "block": "",
    "negative": "skip",
    "log_seconds": False,
}
_ABSA_DEFAULTS = {
    **_ABS_DEFAULTS,
    "gamma": 0.2,
    "fgsm_eps": 0.005,
    "adv_decay": 2.0,
    "adv_stop": 0.5,
    "clip": "tensor",
    "data_min": 0.0,
    "data_max": 1.0,
}


def _lr_decay(hp) -> float:
    return check_number("lr_decay", hp["lr_decay"], low=0.0, high=1.0, low_open=True)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected true or false)")
    return value


def _abs_parts(params, hp, adversarial: bool) -> tuple[ABSPolicy, Any]:
    b0 = positive_int("batch_size", hp["batch_size"])
    lr = check_number("lr", hp["lr"], low=0.0, low_open=True)
    r_max = positive_int("r_max", hp["r_max"])
    negative = hp["negative"]
    if negative not in NEGATIVE_MODES:
        raise ValueError(f"Invalid negative: {negative!r} (expected one of {', '.join(NEGATIVE_MODES)})")
    rule = ABSRule(
        r_max=r_max,
        eig_ratio=check_number("eig_ratio", hp["eig_ratio"], low=1.0, low_open=True),
        growth=check_number("growth", hp["growth"], low=2, integer=True),
        duration=positive_int("duration", hp["duration"]),
        adv_decay=check_number("adv_decay", hp.get("adv_decay", 2.0), low=1.0),
        negative=negative,
    )
    max_iter = positive_int("max_iter", hp["max_iter"])
    tol = check_number("tol", hp["tol"], low=0.0, low_open=True)
    probe_batch = check_number("probe_batch_size", hp["probe_batch_size"], low=0, integer=True) or b0
    every = check_number("check_every", hp["check_every"], low=0, integer=True) or None
    block = parse_block(hp["block"], [name for name, _ in params])
    log_seconds = _flag("log_seconds", hp["log_seconds"])
    probe = _TrackingProbe(
        name=EIGEN_PROBE,
        fn=partial(_eigen_probe, max_iter=max_iter, tol=tol, block=block, timed=log_seconds),
        batch_size=probe_batch,
        every_samples=every,
        at_epoch_end=every is None,
        at_start=False,
        active=_tracking,
    )
    gamma, transform, adv_stop = 0.0, None, 0.5
    if adversarial:
        gamma = hp["gamma"]
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 <= gamma < 1:
            raise ValueError(f"Invalid gamma: {gamma!r} (expected a number in [0, 1))")
        adv_stop = check_number("adv_stop", hp["adv_stop"], low=0.0, high=1.0)
        if hp["clip"] not in CLIP_MODES:
            raise ValueError(f"Invalid clip: {hp['clip']!r} (expected 'tensor', 'data' or null)")
        eps = check_number("fgsm_eps", hp["fgsm_eps"], low=0.0)
        data_min = check_number("data_min", hp["data_min"])
        data_max = check_number("data_max", hp["data_max"], low=data_min)
        transform = FGSMTransform(
            float(gamma),
            eps,
            b0=b0,
            clip=hp["clip"],
            data_min=data_min,
            data_max=data_max,
            per_base_batch=True,
            timed=log_seconds,
        )
    policy = ABSPolicy(
        b0=b0,
        lr=lr,
        rule=rule,
        milestones=parse_milestones(hp["milestones"]),
        lr_decay=_lr_decay(hp),
        probe=probe,
        gamma=float(gamma),
        transform=transform,
        adv_stop=adv_stop,
        log_seconds=log_seconds,
    )
    return policy, build_optimizer(params, hp)


@register_algorithm(
    "abs",
    description="ABS: batch r*b0, r x2 when the top Hessian eigenvalue halves or after 10 checks (seed 003)",
    defaults=dict(_ABS_DEFAULTS),
    source="seed 003, Alg. 1, sec. 3.1",
)
def _abs(params, hp):
    return _abs_parts(params, hp, adversarial=False)


@register_algorithm(
    "absa",
    description="ABSA: ABS, the first gamma*b0 samples of each base batch replaced by FGSM inputs (seed 003)",
    defaults=dict(_ABSA_DEFAULTS),
    source="seed 003, Alg. 1, sec. 3.1",
)
def _absa(params, hp):
    return _abs_parts(params, hp, adversarial=True)


def _constant(value, *_):
    return value


def _decayed_lr(epoch, _batch, *, lr0, milestones, lr_decay):
    return lr0 * lr_decay ** milestones_passed(epoch, milestones)


@register_algorithm(
    "bl",
    description="BL: fixed batch, lr decayed by lr_decay at each milestone (seed 003's baseline)",
    defaults=dict(_BASE),
    source="seed 003, sec. 4 and App. B",
)
def _bl(params, hp):
    batch = positive_int("batch_size", hp["batch_size"])
    lr_at = partial(
        _decayed_lr,
        lr0=check_number("lr", hp["lr"], low=0.0, low_open=True),
        milestones=parse_milestones(hp["milestones"]),
        lr_decay=_lr_decay(hp),
    )
    return ScheduledPolicy("bl", partial(_constant, batch), lr_at), build_optimizer(params, hp)


def _fb_lr(epoch, _batch, *, lr0, target, warmup_epochs, milestones, lr_decay):
    base = warmup_lr(epoch, lr_start=lr0, lr_target=target, warmup_epochs=warmup_epochs)
    return base * lr_decay ** milestones_passed(epoch, milestones)


@register_algorithm(
    "fb",
    description="FB: lr x B/b0 after a linear warm-up, then the base step decay (Goyal et al.; seed 003)",
    defaults={**_BASE, "batch_size": 1024, "base_batch_size": 128, "warmup_epochs": 1.0},
    source="seed 003, sec. 4 (Goyal et al. 2017)",
)
def _fb(params, hp):
    """eps(e) = [eps0 + (eps0 B/b0 - eps0) min(1, e/W)] lr_decay^k(e): the warm-up from the base rate eps0 to
    the linearly scaled one over W epochs, and the base schedule's decay on top (compounding)."""
    batch = positive_int("batch_size", hp["batch_size"])
    base_batch = positive_int("base_batch_size", hp["base_batch_size"])
    lr0 = check_number("lr", hp["lr"], low=0.0, low_open=True)
    lr_at = partial(
        _fb_lr,
        lr0=lr0,
        target=lr0 * batch / base_batch,
        warmup_epochs=check_number("warmup_epochs", hp["warmup_epochs"], low=0.0),
        milestones=parse_milestones(hp["milestones"]),
        lr_decay=_lr_decay(hp),
    )
    return ScheduledPolicy("fb", partial(_constant, batch), lr_at), build_optimizer(params, hp)


def _gg_batch(epoch, *, batch0, factor, milestones, max_batch):
    return min(round(batch0 * factor ** milestones_passed(epoch, milestones)), max_batch)


@register_algorithm(
    "gg",
    description="GG: batch x factor at each milestone up to max_batch_size, lr fixed (Smith et al.)",
    defaults={**{k: v for k, v in _BASE.items() if k != "lr_decay"}, "factor": 5.0, "max_batch_size": 16384},
    source="seed 003, sec. 4 (Smith et al. 2018)",
)
def _gg(params, hp):
    """B(e) = min(b0 factor^k(e), B_max), eps constant: seed 003's GG grows the batch by the lr-decay factor
    (1/lr_decay) where BL decays the learning rate, up to the batch of the table's row. Unlike Smith et al.'s
    hybrid (``hybrid``), the learning rate is not decayed once the batch is capped."""
    batch0 = positive_int("batch_size", hp["batch_size"])
    max_batch = positive_int("max_batch_size", hp["max_batch_size"])
    if max_batch < batch0:
        raise ValueError(f"Invalid max_batch_size: {max_batch} (expected >= batch_size {batch0})")
    batch_at = partial(
        _gg_batch,
        batch0=batch0,
        factor=check_number("factor", hp["factor"], low=1.0),
        milestones=parse_milestones(hp["milestones"]),
        max_batch=max_batch,
    )
    lr = check_number("lr", hp["lr"], low=0.0, low_open=True)
    return ScheduledPolicy("gg", batch_at, partial(_constant, lr)), build_optimizer(params, hp)

r"""One parameter update, I/O-free: the unit the training loop, ``realnets bench`` and the BA diagnostics call.

:meth:`TrainStep.run` performs, for update ``t``:

1. the scheduled probes that are due (:mod:`realnets.probes.scheduled`), on fresh batches of their own;
2. the policy's first draw of fresh samples (``policy.first_draw``);
3. the statistics the policy declared (``policy.needs``) on the batch drawn so far, and its decision
   (``policy.decide``): :class:`~realnets.algorithms.base.Grow` draws more samples and asks again,
   :class:`~realnets.algorithms.base.Update` ends the loop;
4. the update: the input transform (if any) on the batch, the objective's loss and its backward, unless a
   statistic already left exactly this batch's mean gradient (a :class:`~realnets.probes.PreparedGradient`)
   and the objective is the plain mean; the global learning rate times each group's ``lr_scale``; an
   optional gradient-norm clip; ``optimizer.step()`` (with a closure for optimizers that need one);
5. ``policy.after_update``.

It returns a typed :class:`StepResult`; it writes nothing and logs nothing (the loop does).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from realnets.algorithms.base import Grow, Policy, StepInfo, Update
from realnets.probes import StatContext, compute_statistics, lookahead_supported
from realnets.probes.scheduled import probe_generator

__all__ = ["StepResult", "TrainStep"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class StepResult:
    """What one update did.

    Attributes:
        step: the update's number (1-based, as logged).
        info: the :class:`StepInfo` at the start of the update.
        decision: the policy's :class:`Update`.
        batch_size: samples drawn into the batch (all of them count against the budget).
        kept: samples the objective averaged (fewer than ``batch_size`` when it dropped some).
        loss: the batch's mean loss before the update (a 0-d tensor: no host sync).
        fwd, bwd: forward and backward passes spent, statistics, probes and transforms included.
        x, y: the batch (before any input transform).
        stats: the statistics of the last ``decide`` call.
        probes_run: names of the scheduled probes that ran before this update.
    """

    step: int
    info: StepInfo
    decision: Update
    batch_size: int
    kept: int
    loss: torch.Tensor
    fwd: int
    bwd: int
    x: torch.Tensor
    y: torch.Tensor
    stats: dict[str, Any] = field(default_factory=dict)
    probes_run: tuple[str, ...] = ()


class TrainStep:
    """The training step of one run (state: the policy state, the update counter, the probe schedule).

    Args:
        model: the network (in training mode).
        loss_fn: per-sample loss ``(outputs, targets) -> (n,)``.
        mean_loss_fn: the fused batch-mean loss.
        policy, optimizer: from the algorithm registry.
        sampler: an :class:`~realnets.engine.sampling.EpochSampler` or ``FreshSampler``.
        x_train, y_train: the training data on the device.
        budget: the run's sample budget.
        seed: the run seed (scheduled probes draw from generators derived from it).
        grad_clip: clip the global gradient norm to this value before each step (None: no clip).
        batch_transform: applied to every drawn batch before anything sees it (data augmentation).
        autocast: a context-manager factory wrapping the update's forward pass (mixed precision).
        on_decision: called as ``on_decision(ctx, decision, state, stats)`` after the policy's final decision and
            before the update (diagnostics record predictions there; it must leave ``p.grad`` as it found it).
        collective: under torchrun, the :class:`~realnets.distributed.Collective` (None: one process). Every
            rank draws the same global indices and keeps its part of each draw; the gradient and the
            statistics are reduced over ranks, so the policy, the logged loss and the batch size are global.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: LossFn,
        mean_loss_fn: LossFn,
        policy: Policy,
        optimizer: torch.optim.Optimizer,
        sampler: Any,
        x_train: torch.Tensor,
        y_train: torch.Tensor,
        *,
        budget: int,
        seed: int = 0,
        grad_clip: float | None = None,
        batch_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        autocast: Callable[[], Any] | None = None,
        on_decision: Callable[[StatContext, Update, dict[str, Any], dict[str, Any]], None] | None = None,
        collective: Any = None,
    ) -> None:
        self.model, self.loss_fn, self.mean_loss_fn = model, loss_fn, mean_loss_fn
        self.policy, self.optimizer, self.sampler = policy, optimizer, sampler
        self.x_train, self.y_train = x_train, y_train
        self.budget, self.seed, self.grad_clip = budget, seed, grad_clip
        self.batch_transform, self.autocast, self.on_decision = batch_transform, autocast, on_decision
        self.state = policy.init_state()
        self.step = 0
        self.probe_state: dict[str, Any] = {
            p.name: {"runs": 0, "value": None, "last_samples": 0, "last_epoch": 0} for p in policy.probes
        }
        self._needs_closure = bool(getattr(optimizer, "needs_closure", False))
        self._params = [p for group in optimizer.param_groups for p in group["params"]]
        self.collective = collective if collective is not None and collective.active else None
        # opt-in per-update strides (seed 001; config ``stride_probe``): set by the run, off by default
        self.stride_probe: Any = None
        self.stride_radius_every = 1
        self.last_strides: Any = None  # the stride probe's reading of the last update (read when logged)
        self._lookahead_ok: bool | None = None  # the statistics serve a look-ahead block for this model

    # -- bookkeeping ------------------------------------------------------------------------------------
    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def samples(self) -> int:
        """Samples consumed so far (the budget counter)."""
        return self.sampler.drawn

    def info(self, batch_so_far: int) -> StepInfo:
        """The :class:`StepInfo` of the current update with ``batch_so_far`` samples drawn into it."""
        samples = self.samples - batch_so_far
        return StepInfo(
            step=self.step,
            samples_seen=samples,
            epoch=samples / self.n_train,
            n_train=self.n_train,
            budget_left=self.budget - self.samples,
            epoch_left=self.sampler.epoch_left,
            batch_so_far=batch_so_far,
            step_room=self.sampler.step_room(),
        )

    def state_dict(self) -> dict[str, Any]:
        """The step's checkpointable state (policy state, counter, probe schedule and latest results)."""
        return {"policy_state": self.state, "step": self.step, "probe_state": self.probe_state}

    def load_state_dict(self, payload: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the sampler position is restored by the caller)."""
        self.state, self.step = payload["policy_state"], payload["step"]
        self.probe_state = payload.get("probe_state", self.probe_state)

    # -- parts of an update -------------------------------------------------------------------------------
    def _draw(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.sampler.draw(count)
        if self.collective is not None:  # every rank drew the same indices: keep this rank's part
            start, stop = self.collective.shard(idx.shape[0])
            idx = idx[start:stop]
        return self._gather(idx)

    def _gather(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x_train.index_select(0, idx)  # about half the cost of x_train[idx] for a small batch
        if self.batch_transform is not None:
            x = self.batch_transform(x)
        return x, self.y_train.index_select(0, idx)

    def _run_probes(self, counts: dict[str, int]) -> tuple[str, ...]:
        ran = []
        epoch = self.samples // self.n_train
        for probe in self.policy.probes:
            ps = self.probe_state[probe.name]
            active = getattr(probe, "active", None)  # optional (state -> bool): ABS stops at r_max
            if active is not None and not active(self.state):
                continue
            due = (
                (probe.at_start and ps["runs"] == 0)
                or (probe.at_epoch_end and epoch > ps["last_epoch"])
                or (
                    probe.every_samples is not None
                    and self.samples - ps["last_samples"] >= probe.every_samples
                )
            )
            if not due:
                continue
            generator = probe_generator(self.seed, probe.name, ps["runs"])
            idx = torch.randperm(self.n_train, generator=generator)[: probe.batch_size].to(
                self.x_train.device
            )
            value = probe.fn(self.model, self.loss_fn, self.x_train[idx], self.y_train[idx], generator)
            if isinstance(value, dict):
                for kind in ("fwd", "bwd"):
                    counts[kind] = counts.get(kind, 0) + int(value.get(kind, 0))
            ps.update(runs=ps["runs"] + 1, value=value, last_samples=self.samples, last_epoch=epoch, new=True)
            ran.append(probe.name)
        return tuple(ran)

    def _probe_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = {}
        for name, ps in self.probe_state.items():
            stats[name] = ps["value"]
            stats[f"{name}.runs"] = ps["runs"]
            stats[f"{name}.new"] = bool(ps.get("new", False))
        return stats

    def _choose(self, info: StepInfo, counts: dict[str, int]):
        """Draw the batch as the policy decides (with ``Grow`` rounds when it asks for them)."""
        if self.collective is not None:
            return self._choose_distributed(info, counts)
        first, self.state = self.policy.first_draw(self.state, info)
        drawn = _checked_count(first, self.budget - self.samples, self.policy.name)
        rows = _StepRows(self)
        ahead = self._lookahead(info, drawn)
        x, y = rows.take(drawn, reserve=ahead)
        ctx = StatContext(self.model, self.loss_fn, x, y, self.optimizer, None, counts=counts)
        if ahead:
            ctx.ahead = rows.block(ahead)
        probe_stats = self._probe_stats() if self.policy.probes else None
        while True:
            info = self.info(drawn)
            stats: dict[str, Any] = {}
            ctx.x, ctx.y, ctx.info = x, y, info
            if self.policy.needs:
                stats = compute_statistics(self.policy.needs, ctx)
            if probe_stats is not None:
                stats.update(probe_stats)
            decision, self.state = self.policy.decide(self.state, info, stats)
            if isinstance(decision, Update):
                return ctx, decision, stats
            self._check_grow(decision, info)
            more = min(decision.n, info.budget_left)
            x, y = rows.take(more)
            drawn += more
            if ahead and drawn > ahead:  # beyond the look-ahead: the block grows by the rows taken
                ahead = drawn
                ctx.ahead = rows.block(ahead)

    def _lookahead(self, info: StepInfo, drawn: int) -> int:
        """Rows of the policy's look-ahead block (0: none; see :mod:`realnets.probes`)."""
        if not self.policy.needs:
            return 0
        if self._lookahead_ok is None:
            self._lookahead_ok = lookahead_supported(self.policy.needs, self.model)
        if not self._lookahead_ok:
            return 0
        hint = getattr(self.policy, "lookahead", None)
        if hint is None:
            return 0
        rows = min(int(hint(self.state, info)), info.budget_left)
        return rows if rows > drawn else 0

    def _check_grow(self, decision: Any, info: StepInfo) -> None:
        if not isinstance(decision, Grow) or info.budget_left == 0:
            raise RuntimeError(
                f"Policy {self.policy.name!r} returned {decision!r} with "
                f"{info.budget_left} samples left (expected Update)"
            )

    def _choose_distributed(self, info: StepInfo, counts: dict[str, int]):
        """:meth:`_choose` under torchrun: every rank draws the same indices and keeps its part of each draw."""
        first, self.state = self.policy.first_draw(self.state, info)
        drawn = _checked_count(first, self.budget - self.samples, self.policy.name)
        x, y = self._draw(drawn)
        ctx = StatContext(
            self.model, self.loss_fn, x, y, self.optimizer, None, counts=counts, collective=self.collective
        )
        probe_stats = self._probe_stats() if self.policy.probes else None
        while True:
            info = self.info(drawn)  # the global batch (this rank holds a part of it under torchrun)
            stats: dict[str, Any] = {}
            if self.policy.needs:
                ctx.x, ctx.y, ctx.info = x, y, info
                stats = compute_statistics(self.policy.needs, ctx)
            if probe_stats is not None:
                stats.update(probe_stats)
            decision, self.state = self.policy.decide(self.state, info, stats)
            if isinstance(decision, Update):
                ctx.x, ctx.y, ctx.info = x, y, info
                return ctx, decision, stats
            self._check_grow(decision, info)
            more = min(decision.n, info.budget_left)
            more_x, more_y = self._draw(more)
            x, y = torch.cat([x, more_x]), torch.cat([y, more_y])
            drawn += more

    def _forward_backward(
        self, x: torch.Tensor, y: torch.Tensor, decision: Update, counts: dict[str, int]
    ) -> tuple[torch.Tensor, int]:
        if self.collective is not None:
            return self._forward_backward_distributed(x, y, decision, counts)
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast() if self.autocast is not None else contextlib.nullcontext():
            outputs = self.model(x)
        loss, kept = decision.objective.loss(outputs, y, self.loss_fn, self.mean_loss_fn)
        loss.backward()
        counts["fwd"] = counts.get("fwd", 0) + 1
        counts["bwd"] = counts.get("bwd", 0) + 1
        return loss.detach(), kept

    def _forward_backward_distributed(
        self, x: torch.Tensor, y: torch.Tensor, decision: Update, counts: dict[str, int]
    ) -> tuple[torch.Tensor, int]:
        """This rank's rows: their mean gradient weighted by their share, all-reduced into the global mean."""
        if not decision.objective.reuses_prepared:
            raise ValueError(
                f"Invalid objective for torchrun: {type(decision.objective).__name__} of {self.policy.name} "
                f"(it needs the losses of the whole batch; expected the plain mean, or one process)"
            )
        self.optimizer.zero_grad(set_to_none=True)
        local = int(x.shape[0])
        dtype, device = self._params[0].dtype, self._params[0].device
        loss_sum = torch.zeros((), dtype=dtype, device=device)
        if local > 0:
            with self.autocast() if self.autocast is not None else contextlib.nullcontext():
                outputs = self.model(x)
            loss, _ = decision.objective.loss(outputs, y, self.loss_fn, self.mean_loss_fn)
            loss.backward()
            loss_sum = loss.detach().to(dtype) * local
            counts["fwd"] = counts.get("fwd", 0) + 1
            counts["bwd"] = counts.get("bwd", 0) + 1
        # one all-reduce: the gradient sums (mean times rows) and the loss sum and row count next to them
        sums = [(p.grad if p.grad is not None else torch.zeros_like(p)) * local for p in self._params]
        tail = torch.stack([loss_sum, torch.tensor(float(local), dtype=dtype, device=device)])
        *grads, totals = self.collective.all_reduce_sum([*sums, tail])
        n = int(totals[1].item())
        for p, g in zip(self._params, grads):
            p.grad = g / n
        return totals[0] / n, n

    def _closure(self, x: torch.Tensor, y: torch.Tensor, decision: Update) -> Callable[[], torch.Tensor]:
        def closure() -> torch.Tensor:  # the batch's loss with its graph (CBLR's Hessian refresh)
            return decision.objective.loss(self.model(x), y, self.loss_fn, self.mean_loss_fn)[0]

        return closure

    def apply_update(
        self, ctx: StatContext, decision: Update, counts: dict[str, int]
    ) -> tuple[torch.Tensor, int]:
        """Apply ``decision`` to the batch of ``ctx``: ``(loss before the update, samples kept)``."""
        x, y = ctx.x, ctx.y
        for group in self.optimizer.param_groups:
            group["lr"] = decision.lr * group.get("lr_scale", 1.0)
        if decision.transform is not None:
            x, spent = decision.transform.apply(self.model, self.loss_fn, x, y)
            for kind, passes in spent.items():
                counts[kind] = counts.get(kind, 0) + int(passes)
        prepared = ctx.prepared
        if (
            prepared is not None
            and prepared.n == x.shape[0]
            and decision.objective.reuses_prepared
            and decision.transform is None
        ):
            if prepared.write is not None:
                prepared.write()
            loss, kept = torch.as_tensor(prepared.loss).detach(), int(x.shape[0])
            if self.collective is not None:  # the statistic left the global mean gradient and loss
                kept = int(ctx.info.batch_so_far)
        else:
            loss, kept = self._forward_backward(x, y, decision, counts)
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self._params, self.grad_clip)
        probe = self.stride_probe
        if probe is not None:  # radii on the run's own update counter: a resumed run keeps the schedule
            radii = self.step % self.stride_radius_every == 0
            probe.before(self.model, radii=radii, optimizer=self.optimizer)  # SGD: no parameter copy
        if self._needs_closure:
            self.optimizer.step(self._closure(x, y, decision))
        else:
            self.optimizer.step()
        if probe is not None:
            self.last_strides = probe.after_deferred(self.model, decision.lr)  # read back when logged
        return loss, kept

    # -- the update ---------------------------------------------------------------------------------------
    def run(self) -> StepResult:
        """Perform one parameter update and return what it did."""
        counts = {"fwd": 0, "bwd": 0}
        self.sampler.start_step(self.step)
        probes_run = self._run_probes(counts) if self.policy.probes else ()
        info = self.info(0)
        ctx, decision, stats = self._choose(info, counts)
        if self.on_decision is not None:
            self.on_decision(ctx, decision, self.state, stats)
        loss, kept = self.apply_update(ctx, decision, counts)
        if self.collective is not None:
            self.collective.average_buffers(self.model)
        for ps in self.probe_state.values():
            ps["new"] = False
        self.step += 1
        result = StepResult(
            step=self.step,
            info=info,
            decision=decision,
            batch_size=int(ctx.info.batch_so_far) if self.collective is not None else int(ctx.x.shape[0]),
            kept=kept,
            loss=loss,
            fwd=counts.get("fwd", 0),
            bwd=counts.get("bwd", 0),
            x=ctx.x,
            y=ctx.y,
            stats=stats,
            probes_run=probes_run,
        )
        record = {"batch_size": result.batch_size, "lr": decision.lr, "loss": loss}
        self.state = self.policy.after_update(self.state, info, record)
        return result

    def check_statistics(self) -> None:
        """Compute the policy's statistics once on two samples, restoring the gradients (fail before any write).

        Statistics refuse some models (BatchNorm in training mode, full covariance of a large model); this
        surfaces such refusals before the run directory is touched.
        """
        if not self.policy.needs:
            return
        n = min(2, self.n_train)
        grads = [p.grad for p in self._params]
        ctx = StatContext(
            self.model, self.loss_fn, self.x_train[:n], self.y_train[:n], self.optimizer, self.info(n)
        )
        try:
            compute_statistics(self.policy.needs, ctx)
        finally:
            for p, g in zip(self._params, grads):
                p.grad = g


def _checked_count(count: Any, left: int, name: str) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise RuntimeError(f"Policy {name!r} asked for {count!r} samples (expected an integer >= 1)")
    return min(count, left)


class _StepRows:
    """The rows of one update: gathered ahead from the sampler (peeked), drawn only when the policy takes them.

    A capacity-doubling buffer: growing the batch by ``m0`` at a time gathers O(batch) rows in all, not the
    O(batch^2 / m0) of re-concatenating the batch every round; rows that were gathered but never taken are
    not drawn, so they come first in the next update.
    """

    def __init__(self, step: TrainStep) -> None:
        self.step = step
        self.taken = 0
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None

    @property
    def gathered(self) -> int:
        return 0 if self.x is None else int(self.x.shape[0])

    def _ensure(self, rows: int) -> None:
        have = self.gathered
        if rows <= have:
            return
        want = max(rows, 2 * have)
        room = (
            self.step.sampler.step_room()
        )  # rows before the epoch's (or X's) end: peek no further if enough
        if rows <= self.taken + room:
            want = min(want, self.taken + room)
        idx = self.step.sampler.peek(want - have, skip=have - self.taken)
        x, y = self.step._gather(idx)
        self.x, self.y = (x, y) if self.x is None else (torch.cat([self.x, x]), torch.cat([self.y, y]))

    def take(self, count: int, reserve: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``count`` more rows (gathering at least ``reserve`` rows in all); the batch so far, as views."""
        if self.x is None and reserve <= count:  # the common case: one draw, nothing ahead
            self.x, self.y = self.step._gather(self.step.sampler.draw(count))
            self.taken = count
            return self.x, self.y
        self._ensure(max(self.taken + count, reserve))
        self.step.sampler.draw(count)
        self.taken += count
        return self.x[: self.taken], self.y[: self.taken]

    def block(self, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``rows`` gathered rows (the look-ahead block), as views."""
        self._ensure(rows)
        return self.x[:rows], self.y[:rows]

"""The training engine: one loop for every batch-size and learning-rate policy.

Each step the policy decides the batch size (at once, or by growing the batch in increments) and the
learning rate; the engine draws that many fresh samples from the epoch's permutation, computes the
statistics the policy asked for, applies one parameter update and logs the step. The budget is counted in
samples, so "the same epochs of data" is exact across algorithms.

Sampling: epoch e uses the permutation ``randperm(N)`` of a generator seeded with ``(seed, e)``; the k-th
sample drawn in a run is ``perm_{k // N}[k % N]``. Every sample is therefore drawn exactly once per epoch,
and a batch that crosses an epoch boundary takes the rest of its samples from the next epoch's
permutation. The sampler's position is the number of samples drawn, so a checkpoint needs no sampler state.

Artifacts in the run directory: ``config.json`` (resolved; usable as ``--config``), ``metrics.jsonl``,
``summary.json``, ``env.json``, ``checkpoint.pt`` (after the initial evaluation, every ``checkpoint_every``
epochs and at the end) and ``plots.png``. Records of ``metrics.jsonl``:

* ``{"kind": "step", step, samples, epoch, batch_size, lr, loss, fwd, bwd[, kept]}`` per update: ``loss`` is
  the batch's mean loss before the update, ``fwd``/``bwd`` the passes spent on it (statistics included),
  ``kept`` the samples left in the gradient when the policy dropped the smallest losses;
* ``{"kind": "epoch", epoch, step, samples, train_loss, train_acc, test_loss, test_acc, time}`` at the start,
  after the update that completes each epoch, and at the end of the budget: ``train_loss`` is the mean
  loss over the whole training set in eval mode (seed 000's measure), ``time`` the wall time so far;
* ``{"kind": "event", "event": "diverged", step, samples, message}`` when a loss is not finite.

A non-finite loss is detected when the logged losses are synchronised (every 64 updates and at each epoch
end, so a GPU run does not wait on the device every step); the run then stops, keeps its last checkpoint
and reports ``status == "diverged"``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from realnets.algorithms.base import Grow, Policy, StepInfo, Update
from realnets.checkpoint import CHECKPOINT_NAME, load_checkpoint, rng_states, save_checkpoint, set_rng_states
from realnets.config import TrainConfig, make_config
from realnets.probes import StatContext, compute_statistics
from realnets.registry import get_algorithm

__all__ = ["EpochSampler", "RunResult", "Task", "evaluate", "resolve_device", "resume", "train"]

_SYNC_EVERY = 64  # steps between host syncs of the logged losses (divergence is detected at these points)


@dataclass
class RunResult:
    """What a run ended with.

    Attributes:
        status: ``"finished"``, ``"diverged"`` or ``"interrupted"`` (``stop_after_steps`` reached).
        run_dir: the run directory.
        summary: the contents of ``summary.json`` (empty when interrupted).
        message: one line for the user.
    """

    status: str
    run_dir: Path
    summary: dict[str, Any]
    message: str = ""


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU. Asking for CUDA without one raises ValueError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("Invalid device: 'cuda' (no CUDA device is available; expected auto or cpu)")
    return torch.device(name)


class EpochSampler:
    """Fresh samples without replacement from per-epoch permutations (see the module docstring).

    Args:
        n: training-set size N.
        seed: run seed.
        device: where the index tensors live (the data lives there too).
    """

    def __init__(self, n: int, seed: int, device: torch.device) -> None:
        self.n = n
        self.seed = seed
        self.device = device
        self.drawn = 0
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.long)

    def permutation(self, epoch: int) -> torch.Tensor:
        """The permutation of epoch ``epoch`` (a pure function of the seed and the epoch)."""
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
        return torch.randperm(self.n, generator=generator).to(self.device)

    def _epoch_perm(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            self._perm, self._epoch = self.permutation(epoch), epoch
        return self._perm

    @property
    def epoch_left(self) -> int:
        """Fresh samples left in the current epoch."""
        return self.n - self.drawn % self.n

    def draw(self, count: int) -> torch.Tensor:
        """The next ``count`` indices, crossing into the next epoch's permutation when needed."""
        parts = []
        while count > 0:
            epoch, offset = divmod(self.drawn, self.n)
            take = min(count, self.n - offset)
            parts.append(self._epoch_perm(epoch)[offset : offset + take])
            self.drawn += take
            count -= take
        return parts[0] if len(parts) == 1 else torch.cat(parts)


@dataclass
class Task:
    """Data on the device, the model, the losses. Built by :func:`build_task`."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    model: torch.nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    mean_loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    classification: bool
    dataset_info: dict[str, Any]

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])


def _per_sample_cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, targets, reduction="none")


def _per_sample_squared_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    diff = outputs - targets.reshape(outputs.shape)
    return diff.pow(2).reshape(diff.shape[0], -1).mean(dim=1)


def _mean_squared_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(outputs, targets.reshape(outputs.shape))


def build_task(config: TrainConfig, device: torch.device) -> Task:
    """Load the dataset onto ``device`` and build the model (call inside the run's RNG scope)."""
    from realnets.data import load_dataset
    from realnets.models import build_model

    ds = load_dataset(config.dataset, data_dir=config.data_dir, seed=config.seed, **config.dataset_options)
    classification = ds.task == "classification"
    outputs = ds.num_classes if classification else int(ds.y_train[0].numel())
    model_options = dict(config.model_options)
    if getattr(ds, "vocab_size", 0) and "vocab_size" not in model_options:
        model_options["vocab_size"] = ds.vocab_size  # token sequences: the embedding needs the vocabulary
    model = build_model(config.model, input_shape=tuple(ds.input_shape), num_outputs=outputs,
                        **model_options).to(device)
    loss_fn = _per_sample_cross_entropy if classification else _per_sample_squared_error
    # The fused mean loss: its backward is much cheaper than reduction="none" followed by .mean().
    mean_loss_fn = F.cross_entropy if classification else _mean_squared_error
    info = {"name": ds.name, "n_train": int(ds.x_train.shape[0]), "n_test": int(ds.x_test.shape[0]),
            "task": ds.task, "source": ds.source}
    return Task(ds.x_train.to(device), ds.y_train.to(device), ds.x_test.to(device), ds.y_test.to(device),
                model, loss_fn, mean_loss_fn, classification, info)


@torch.no_grad()
def evaluate(model: torch.nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, chunk: int,
             classification: bool) -> tuple[float, float | None]:
    """Mean loss over all of ``(x, y)`` and accuracy (None for regression), in eval mode, in chunks.

    This is the full training loss of seed 000 (fig. 1: the objective on the whole training set after each
    epoch), not the running average of batch losses.
    """
    was_training = model.training
    model.eval()
    total, correct = torch.zeros((), dtype=torch.float64, device=x.device), 0
    for start in range(0, x.shape[0], chunk):
        outputs = model(x[start : start + chunk])
        total += loss_fn(outputs, y[start : start + chunk]).double().sum()
        if classification:
            correct += int((outputs.argmax(dim=1) == y[start : start + chunk]).sum())
    model.train(was_training)
    accuracy = correct / x.shape[0] if classification else None
    return float(total) / x.shape[0], accuracy


class _Run:
    """The state of one run (the thin shell around the loop)."""

    def __init__(self, config: TrainConfig, device: torch.device, run_dir: Path) -> None:
        self.config = config
        self.device = device
        self.run_dir = run_dir
        self.task = build_task(config, device)
        info = get_algorithm(config.algo)
        self.policy: Policy
        self.policy, self.optimizer = info.build(self.task.model.parameters(), config.algo_overrides())
        self.hparams = {**info.defaults, **config.algo_overrides()}
        n = self.task.n_train
        self.budget = max(1, round(config.budget_epochs * n * self.policy.budget_factor))
        self.sampler = EpochSampler(n, config.seed, device)
        self.state = self.policy.init_state()
        self.step = 0
        self.evals_done = 0
        self.metric_lines = 0
        self.pending: list[dict[str, Any]] = []
        self.elapsed_before = 0.0
        self.start = time.perf_counter()
        self.totals = {"fwd": 0, "bwd": 0}

    # -- bookkeeping -------------------------------------------------------------------------------
    @property
    def samples(self) -> int:
        return self.sampler.drawn

    def wall(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.start

    def info(self, batch_so_far: int) -> StepInfo:
        samples = self.samples - batch_so_far
        return StepInfo(step=self.step, samples_seen=samples, epoch=samples / self.task.n_train,
                        n_train=self.task.n_train, budget_left=self.budget - self.samples,
                        epoch_left=self.sampler.epoch_left, batch_so_far=batch_so_far)

    # -- one parameter update -----------------------------------------------------------------------
    def draw_batch(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.sampler.draw(count)
        return self.task.x_train[idx], self.task.y_train[idx]

    def choose_batch(self, info: StepInfo) -> tuple[torch.Tensor, torch.Tensor, Update, dict[str, int], dict]:
        """Draw the step's batch as the policy decides (with ``Grow`` rounds when it asks for them)."""
        first, self.state = self.policy.first_draw(self.state, info)
        x, y = self.draw_batch(_checked_count(first, self.budget - self.samples, self.policy.name))
        ctx = StatContext(self.task.model, self.task.loss_fn, x, y, self.optimizer, None) if self.policy.needs \
            else None
        while True:
            info = self.info(x.shape[0])
            stats = {}
            if ctx is not None:
                ctx.x, ctx.y, ctx.info = x, y, info
                stats = compute_statistics(self.policy.needs, ctx)
            decision, self.state = self.policy.decide(self.state, info, stats)
            if isinstance(decision, Update):
                return x, y, decision, *((ctx.counts, ctx.cache) if ctx is not None else ({}, {}))
            if not isinstance(decision, Grow) or info.budget_left == 0:
                raise RuntimeError(f"Policy {self.policy.name!r} returned {decision!r} with "
                                   f"{info.budget_left} samples left (expected Update)")
            more_x, more_y = self.draw_batch(min(decision.n, info.budget_left))
            x, y = torch.cat([x, more_x]), torch.cat([y, more_y])

    def apply_update(self, x, y, decision: Update, counts, cache) -> tuple[torch.Tensor, int]:
        for group in self.optimizer.param_groups:
            group["lr"] = decision.lr
        kept = x.shape[0]
        if cache.get("grad_ready") and decision.drop_smallest_fraction == 0.0:
            loss = torch.as_tensor(cache["batch_loss"]).detach()
        else:
            self.optimizer.zero_grad(set_to_none=True)
            outputs = self.task.model(x)
            if decision.drop_smallest_fraction > 0.0:
                kept = max(1, x.shape[0] - math.floor(decision.drop_smallest_fraction * x.shape[0]))
                loss = torch.topk(self.task.loss_fn(outputs, y), kept, sorted=False).values.mean()
            else:
                loss = self.task.mean_loss_fn(outputs, y)
            loss.backward()
            counts["fwd"] = counts.get("fwd", 0) + 1
            counts["bwd"] = counts.get("bwd", 0) + 1
            loss = loss.detach()
        self.optimizer.step()
        return loss, kept

    def one_step(self) -> None:
        info = self.info(0)
        x, y, decision, counts, cache = self.choose_batch(info)
        loss, kept = self.apply_update(x, y, decision, counts, cache)
        self.step += 1
        record = {"kind": "step", "step": self.step, "samples": self.samples,
                  "epoch": self.samples / self.task.n_train, "batch_size": int(x.shape[0]),
                  "lr": decision.lr, "loss": loss, "fwd": counts.get("fwd", 0), "bwd": counts.get("bwd", 0)}
        if kept != x.shape[0]:
            record["kept"] = kept
        self.totals["fwd"] += record["fwd"]
        self.totals["bwd"] += record["bwd"]
        self.pending.append(record)
        self.state = self.policy.after_update(self.state, info, record)
        record.update(self.policy.log_fields(self.state))

    # -- logging, evaluation, checkpoints -----------------------------------------------------------
    def flush(self) -> str:
        """Write pending records; on a non-finite loss, write up to it plus the event and return a message."""
        lines, message = [], ""
        for record in self.pending:
            if record["kind"] == "step":
                record["loss"] = float(record["loss"])
                if not math.isfinite(record["loss"]):
                    message = (f"diverged: loss {record['loss']} at step {record['step']} "
                               f"(epoch {record['epoch']:.3f}, lr {record['lr']:g}); "
                               f"the last good checkpoint is kept")
                    lines += [record, {"kind": "event", "event": "diverged", "step": record["step"],
                                       "samples": record["samples"], "message": message}]
                    break
            lines.append(record)
        with open(self.run_dir / "metrics.jsonl", "a") as stream:
            stream.writelines(json.dumps(line) + "\n" for line in lines)
        self.metric_lines += len(lines)
        self.pending = []
        return message

    def evaluate_epoch(self) -> None:
        t = self.task
        chunk = self.config.eval_batch_size
        train_loss, train_acc = evaluate(t.model, t.loss_fn, t.x_train, t.y_train, chunk, t.classification)
        test_loss, test_acc = evaluate(t.model, t.loss_fn, t.x_test, t.y_test, chunk, t.classification)
        self.evals_done += 1
        self.pending.append({"kind": "epoch", "epoch": self.samples / t.n_train, "step": self.step,
                             "samples": self.samples, "train_loss": train_loss, "train_acc": train_acc,
                             "test_loss": test_loss, "test_acc": test_acc, "time": self.wall()})

    def checkpoint(self) -> None:
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, {
            "config": self.config.to_dict(), "model": self.task.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "policy_state": self.state, "step": self.step,
            "samples": self.samples, "evals_done": self.evals_done, "metric_lines": self.metric_lines,
            "totals": dict(self.totals), "elapsed": self.wall(), "rng": rng_states(self.device),
        })

    def restore(self, payload: dict[str, Any]) -> None:
        self.task.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.state = _to_device(payload["policy_state"], self.device)
        self.step, self.sampler.drawn = payload["step"], payload["samples"]
        self.evals_done, self.metric_lines = payload["evals_done"], payload["metric_lines"]
        self.totals = dict(payload["totals"])
        self.elapsed_before, self.start = payload["elapsed"], time.perf_counter()
        set_rng_states(payload["rng"], self.device)
        _truncate_lines(self.run_dir / "metrics.jsonl", self.metric_lines)


def _to_device(obj: Any, device: torch.device) -> Any:
    """Tensors of a nested dict/list moved to ``device`` (checkpoints are read onto the CPU)."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {key: _to_device(value, device) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_to_device(value, device) for value in obj]
    return obj


def _checked_count(count: Any, left: int, name: str) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise RuntimeError(f"Policy {name!r} asked for {count!r} samples (expected an integer >= 1)")
    return min(count, left)


def _truncate_lines(path: Path, keep: int) -> None:
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    path.write_text("".join(lines[:keep]))


class _Progress:
    """A one-line progress bar on stderr, redrawn at most every 0.2 s."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total, self.last = enabled, total, 0.0

    def show(self, run: _Run, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.2 and not force):
            return
        self.last = now
        done = run.samples / self.total
        bar = "#" * int(30 * done)
        sys.stderr.write(f"\r[{bar:<30}] {100 * done:5.1f}%  epoch {run.samples / run.task.n_train:6.2f}  "
                         f"step {run.step:6d}  {run.wall():6.1f}s")
        if force:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _epochs_completed(run: _Run) -> int:
    return run.samples // run.task.n_train


def _loop(run: _Run, stop_after_steps: int | None) -> RunResult | None:
    progress = _Progress(run.config.progress, run.budget)
    every = run.config.checkpoint_every
    while run.samples < run.budget:
        epochs_before = _epochs_completed(run)
        run.one_step()
        progress.show(run)
        if stop_after_steps is not None and run.step >= stop_after_steps:
            return RunResult("interrupted", run.run_dir, {}, f"stopped after {run.step} steps (as asked)")
        crossed = _epochs_completed(run) > epochs_before
        if crossed or run.samples >= run.budget:
            run.evaluate_epoch()
        if crossed or run.samples >= run.budget or len(run.pending) >= _SYNC_EVERY:
            message = run.flush()
            if message:
                progress.show(run, force=True)
                summary = _summary(run, "diverged")
                _write_json(run.run_dir / "summary.json", summary)
                return RunResult("diverged", run.run_dir, summary, message)
        if crossed and every and _epochs_completed(run) % every == 0 and run.samples < run.budget:
            run.checkpoint()
    progress.show(run, force=True)
    return None


def _summary(run: _Run, status: str) -> dict[str, Any]:
    last_epoch = _last_epoch_record(run.run_dir / "metrics.jsonl")
    return {
        "status": status, "algo": run.config.algo, "model": run.config.model, "dataset": run.config.dataset,
        "seed": run.config.seed, "device": str(run.device), "steps": run.step, "samples": run.samples,
        "budget_samples": run.budget, "epochs": run.samples / run.task.n_train, "n_train": run.task.n_train,
        "fwd": run.totals["fwd"], "bwd": run.totals["bwd"], "wall_time": run.wall(),
        "final_train_loss": last_epoch.get("train_loss"), "final_test_loss": last_epoch.get("test_loss"),
        "final_test_acc": last_epoch.get("test_acc"), "hparams": run.hparams,
    }


def _last_epoch_record(path: Path) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "epoch":
            last = record
    return last


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def _execute(config: TrainConfig, run_dir: Path, payload: dict[str, Any] | None,
             stop_after_steps: int | None, plots: bool) -> RunResult:
    device = resolve_device(config.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        run = _Run(config, device, run_dir)
        if payload is None:
            _start_fresh(run)
        else:
            run.restore(payload)
        result = _loop(run, stop_after_steps)
        if result is not None:
            return result
        run.checkpoint()
    summary = _summary(run, "finished")
    _write_json(run_dir / "summary.json", summary)
    if plots:
        from realnets.plots import plot_run

        plot_run(run_dir)
    return RunResult("finished", run_dir, summary, f"finished {run.step} steps in {run.wall():.1f}s")


def _start_fresh(run: _Run) -> None:
    from realnets.envinfo import collect_env

    run.run_dir.mkdir(parents=True, exist_ok=True)
    # config.json is a valid --config file: it reproduces the run with every hyperparameter spelled out.
    _write_json(run.run_dir / "config.json", {**run.config.to_dict(), "hp": run.hparams})
    _write_json(run.run_dir / "env.json", {**collect_env(run.device), "dataset": run.task.dataset_info})
    (run.run_dir / "metrics.jsonl").write_text("")
    run.evaluate_epoch()
    run.flush()
    run.checkpoint()  # so that a run diverging in its first epoch still leaves a good checkpoint


def train(config: TrainConfig, *, stop_after_steps: int | None = None, plots: bool = True) -> RunResult:
    """Train from scratch as ``config`` says and write the run directory.

    Args:
        config: the validated run configuration.
        stop_after_steps: stop after this many updates without a final checkpoint (simulates an
            interruption; tests use it).
        plots: draw the plots at the end.

    Raises:
        ValueError: a bad name or hyperparameter (before anything is written).
    """
    return _execute(config, config.run_dir(), None, stop_after_steps, plots)


def resume(path: str | Path, *, device: str | None = None, stop_after_steps: int | None = None,
           plots: bool = True) -> RunResult:
    """Continue a run from its checkpoint (a run directory or a ``checkpoint.pt``).

    The configuration is the one stored in the checkpoint (``device`` may be changed). On CPU the resumed
    run writes exactly the metrics the uninterrupted run would have written.
    """
    payload = load_checkpoint(path)
    run_dir = Path(path) if Path(path).is_dir() else Path(path).parent
    layers = [payload["config"], {"out_dir": str(run_dir)}]
    if device is not None:
        layers.append({"device": device})
    return _execute(make_config(*layers), run_dir, payload, stop_after_steps, plots)

"""The training loop: train and resume a run, with its run directory.

Each step the policy decides the batch size (at once, or by growing the batch in increments) and the
learning rate; :class:`~realnets.engine.step.TrainStep` draws that many fresh samples
(:mod:`realnets.engine.sampling`), computes the statistics the policy asked for, applies one parameter update;
the loop logs it. The budget is counted in samples, so "the same epochs of data" is exact across algorithms.

Artifacts in the run directory: ``config.json`` (resolved; usable as ``--config``), ``metrics.jsonl``,
``summary.json``, ``env.json``, ``checkpoint.pt`` (the last state: after the initial evaluation, every
``checkpoint_every`` epochs and at the end), ``best.pt`` (the weights at the best evaluation, see
:mod:`realnets.engine.best`) and ``plots.png``. Records of ``metrics.jsonl``:

* ``{"kind": "step", step, samples, epoch, batch_size, lr, loss, fwd, bwd[, kept]}`` per update: ``loss`` is
  the batch's mean loss before the update, ``fwd``/``bwd`` the passes spent on it (statistics included),
  ``kept`` the samples left in the gradient when the policy dropped the smallest losses;
* ``{"kind": "epoch", epoch, step, samples, train_loss, train_acc, test_loss, test_acc[, val_loss, val_acc],
  time}`` at the start, after the update that completes each epoch, and at the end of the budget:
  ``train_loss`` is the mean loss over the whole training set in eval mode (seed 000's measure), ``time``
  the wall time so far;
* ``{"kind": "event", "event": "diverged", step, samples, message}`` when a loss is not finite.

A non-finite loss is detected when the logged losses are synchronised (every :data:`SYNC_EVERY` updates and
at each epoch end, so a GPU run does not wait on the device every step), and a non-finite full training
loss at an epoch end counts too; the run then stops, keeps its last good checkpoint, reports ``status ==
"diverged"``, and its summary gives the step and loss of the divergence.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from realnets import distributed
from realnets.checkpoint import CHECKPOINT_NAME, load_checkpoint, rng_states, save_checkpoint, set_rng_states
from realnets.config import TrainConfig, default_threads, make_config
from realnets.engine.best import best_so_far, keep_best
from realnets.engine.runlog import (
    check_run_dir,
    clear_artifacts,
    json_line,
    last_epoch_record,
    repair_metrics,
    write_json,
)
from realnets.engine.sampling import make_sampler
from realnets.engine.step import StepResult, TrainStep
from realnets.engine.task import build_task, evaluate
from realnets.registry import get_algorithm

__all__ = ["SYNC_EVERY", "Run", "RunResult", "resolve_device", "resume", "train"]

#: Updates between host syncs of the logged losses (divergence is detected at these points).
SYNC_EVERY = 64


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


def _augment_fn(generator_device: torch.device):
    """CIFAR augmentation on the device: random 4-pixel-padded 32x32 crop and horizontal flip (torch RNG)."""

    def augment(x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
        dy = torch.randint(0, 9, (n,), device=x.device)
        dx = torch.randint(0, 9, (n,), device=x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device)[None, :])[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=x.device)[None, :])[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        out = padded[batch, channels, rows, cols]
        flip = torch.rand(n, device=x.device) < 0.5
        return torch.where(flip[:, None, None, None], out.flip(3), out)

    return augment


def _autocast_fn(config: TrainConfig, device: torch.device):
    if config.amp == "off":
        return None
    if device.type != "cuda":
        raise ValueError(f"Invalid amp: {config.amp!r} (mixed precision needs a CUDA device; expected off)")
    dtype = torch.bfloat16 if config.amp == "bf16" else torch.float16
    return lambda: torch.autocast("cuda", dtype=dtype)


class Run:
    """The state of one run: the thin shell around :class:`TrainStep` that logs, evaluates and checkpoints.

    ``realnets bench`` times :meth:`one_step` exactly as training runs it. Under torchrun (``collective``)
    every rank runs the same loop on its part of each batch and only rank 0 writes
    (:mod:`realnets.distributed`).
    """

    def __init__(
        self, config: TrainConfig, device: torch.device, run_dir: Path, collective: Any = None
    ) -> None:
        self.collective = collective if collective is not None else distributed.NULL
        self.is_main = self.collective.is_main
        self.config = config
        self.device = device
        self.run_dir = run_dir
        self.task = build_task(config, device)
        if config.compile:
            self.task.model = torch.compile(self.task.model)  # type: ignore[assignment]
        info = get_algorithm(config.algo)
        from realnets.algorithms.schedules import schedule_collapse_note

        overrides = config.algo_overrides()  # budget fractions ("30%") already resolved to epochs
        _check_batch_fits(overrides, self.task.n_train, config.dataset)
        self.policy, self.optimizer = info.build(self.task.model, overrides)
        resolved = {**info.defaults, **overrides}
        self.schedule_note = schedule_collapse_note(config.algo, resolved, config.budget_epochs)
        if self.schedule_note and self.is_main:
            import sys

            print(f"realnets: note: {self.schedule_note}", file=sys.stderr)
        if config.compile and self.policy.needs:
            raise ValueError(
                f"Invalid compile: True (the statistics of {config.algo} hook into the layers of "
                f"an uncompiled model; expected no --compile)"
            )
        self.hparams = {**info.defaults, **config.algo_overrides()}
        n = self.task.n_train
        self.budget = max(1, round(config.budget_epochs * n * self.policy.budget_factor))
        self.sampler = make_sampler(config.sampling, n, config.seed, device)
        self.trainer = TrainStep(
            self.task.model,
            self.task.loss_fn,
            self.task.mean_loss_fn,
            self.policy,
            self.optimizer,
            self.sampler,
            self.task.x_train,
            self.task.y_train,
            budget=self.budget,
            seed=config.seed,
            grad_clip=config.grad_clip,
            batch_transform=_augment_fn(device) if config.augment else None,
            autocast=_autocast_fn(config, device),
            collective=self.collective,
        )
        if config.stride_probe:
            from realnets.probes.magnitudes import StrideProbe

            self.trainer.stride_probe = StrideProbe(radius_every=config.stride_probe)
            self.trainer.stride_radius_every = config.stride_probe
        self.n_train = self.task.n_train  # per update in one_step: one attribute, not a property chain
        self.evals_done = 0
        self.metric_lines = 0
        self.pending: list[dict[str, Any]] = []
        self.elapsed_before = 0.0
        self.start = time.perf_counter()
        self.totals = {"fwd": 0, "bwd": 0}
        self.diverged: dict[str, Any] | None = None
        self.tensorboard = None

    # -- bookkeeping -------------------------------------------------------------------------------
    @property
    def samples(self) -> int:
        return self.sampler.drawn

    @property
    def step(self) -> int:
        return self.trainer.step

    def wall(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.start

    # -- one parameter update -----------------------------------------------------------------------
    def one_step(self) -> StepResult:
        """One update through :class:`TrainStep`, its record queued for the next :meth:`flush`."""
        result = self.trainer.run()
        samples = self.sampler.drawn
        record = {
            "kind": "step",
            "step": result.step,
            "samples": samples,
            "epoch": samples / self.n_train,
            "batch_size": result.batch_size,
            "lr": result.decision.lr,
            "loss": result.loss,
            "fwd": result.fwd,
            "bwd": result.bwd,
        }
        if result.kept != result.batch_size:
            record["kept"] = result.kept
        totals = self.totals
        totals["fwd"] += result.fwd
        totals["bwd"] += result.bwd
        fields = self.policy.log_fields(self.trainer.state)
        if fields:
            record.update(fields)
        strides = self.trainer.last_strides
        if strides is not None:  # opt-in (config stride_probe): still on the device, read back in flush()
            if isinstance(strides, dict):
                record.update(strides)
            else:
                record[_STRIDES] = strides
        self.pending.append(record)
        return result

    # -- logging, evaluation, checkpoints -----------------------------------------------------------
    def _divergence(self, record: dict[str, Any], what: str, value: float) -> dict[str, Any]:
        message = (
            f"diverged: {what} {value} at step {record['step']} (epoch {record['epoch']:.3f}"
            + (f", lr {record['lr']:g}" if "lr" in record else "")
            + "); the last good checkpoint is kept"
        )
        self.diverged = {
            "step": record["step"],
            "samples": record["samples"],
            "loss": value,
            "what": what,
            "message": message,
        }
        return {
            "kind": "event",
            "event": "diverged",
            "step": record["step"],
            "samples": record["samples"],
            "message": message,
        }

    def _uncount(self, dropped: list[dict[str, Any]]) -> None:
        """Updates queued after the divergence are not part of the run: take their passes off the totals."""
        for record in dropped:
            if record["kind"] == "step":
                self.totals["fwd"] -= record["fwd"]
                self.totals["bwd"] -= record["bwd"]

    def flush(self) -> str:
        """Write pending records; on a non-finite loss, write up to it plus the event and return a message."""
        _read_strides(self.pending)
        _read_losses(self.pending)
        lines: list[dict[str, Any]] = []
        for index, record in enumerate(self.pending):
            if record["kind"] == "step":
                record["loss"] = float(record["loss"])
                if not math.isfinite(record["loss"]):
                    lines += [record, self._divergence(record, "loss", record["loss"])]
                    self._uncount(self.pending[index + 1 :])
                    break
            elif record["kind"] == "epoch" and not math.isfinite(record["train_loss"]):
                lines += [record, self._divergence(record, "full training loss", record["train_loss"])]
                self._uncount(self.pending[index + 1 :])
                break
            lines.append(record)
        if self.is_main:
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as stream:
                stream.writelines(json_line(line) for line in lines)
        if self.tensorboard is not None:
            self.tensorboard.add_records(lines)
        self.metric_lines += len(lines)
        self.pending = []
        return self.diverged["message"] if self.diverged else ""

    def evaluate_epoch(self, kind: str = "epoch") -> None:
        """Evaluate the full training and test (and validation) loss; ``kind="eval"`` for the evaluations of
        ``eval_every`` between epoch ends."""
        t = self.task
        chunk = self.config.eval_batch_size
        shared = self.collective if self.collective.active else None  # each rank evaluates a part
        train_loss, train_acc = evaluate(
            t.model, t.loss_fn, t.x_train, t.y_train, chunk, t.classification, collective=shared
        )
        test_loss, test_acc = evaluate(
            t.model, t.loss_fn, t.x_test, t.y_test, chunk, t.classification, collective=shared
        )
        self.evals_done += 1
        record = {
            "kind": kind,
            "epoch": self.samples / t.n_train,
            "step": self.step,
            "samples": self.samples,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
        }
        if t.x_val is not None:
            record["val_loss"], record["val_acc"] = evaluate(
                t.model, t.loss_fn, t.x_val, t.y_val, chunk, t.classification, collective=shared
            )
        record["time"] = self.wall()
        self.pending.append(record)

    def checkpoint(self) -> None:
        rng = rng_states(self.device)
        extra: dict[str, Any] = {}
        if self.collective.active:  # every rank's RNG (augmentation, dropout), written by rank 0
            extra = {"rng_ranks": self.collective.all_gather_object(rng)}
            if not self.is_main:
                return
        save_checkpoint(
            self.run_dir / CHECKPOINT_NAME,
            {
                "config": self.config.to_dict(),
                "model": self.task.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                **self.trainer.state_dict(),
                "samples": self.samples,
                "evals_done": self.evals_done,
                "metric_lines": self.metric_lines,
                "totals": dict(self.totals),
                "elapsed": self.wall(),
                "rng": rng,
                **extra,
            },
        )

    def restore(self, payload: dict[str, Any]) -> None:
        if self.is_main:  # before any state changes
            repair_metrics(self.run_dir / "metrics.jsonl", payload["metric_lines"])
        self.task.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.trainer.load_state_dict(
            {
                **payload,
                "policy_state": _to_device(payload["policy_state"], self.device),
                "probe_state": _to_device(payload.get("probe_state", self.trainer.probe_state), self.device),
            }
        )
        self.sampler.drawn = payload["samples"]
        self.evals_done, self.metric_lines = payload["evals_done"], payload["metric_lines"]
        self.totals = dict(payload["totals"])
        self.elapsed_before, self.start = payload["elapsed"], time.perf_counter()
        ranks = payload.get("rng_ranks") or []
        if self.collective.active and len(ranks) == self.collective.world_size:
            set_rng_states(ranks[self.collective.rank], self.device)
        else:
            set_rng_states(payload["rng"], self.device)
            if self.collective.active and not self.is_main:
                _rank_seed(self.config.seed, self.collective.rank, self.step)


#: The key under which a step record holds its stride reading until flush() reads it back.
_STRIDES = "_strides"


def _read_strides(records: list[dict[str, Any]]) -> None:
    """The stride readings of queued step records read back (one transfer per block of updates) and put
    in their records, where the strides were (the last fields)."""
    held = [record for record in records if _STRIDES in record]
    if held:
        readings = [record.pop(_STRIDES) for record in held]
        for record, values in zip(held, type(readings[0]).read_all(readings)):
            record.update(values)


def _read_losses(records: list[dict[str, Any]]) -> None:
    """The queued step records' losses (0-d tensors) read back at once: one transfer, not one per update."""
    held = [r for r in records if r["kind"] == "step" and isinstance(r["loss"], torch.Tensor)]
    if not held:
        return
    try:  # stacking promotes mixed float dtypes exactly (float32 in float64 is the same number)
        values = torch.stack([r["loss"].detach().reshape(()) for r in held]).tolist()
    except RuntimeError:  # losses on different devices
        values = [float(r["loss"]) for r in held]
    for record, value in zip(held, values):
        record["loss"] = value


#: Batch sizes a user may set that are drawn as one batch (a larger value would repeat samples in a batch).
_DRAWN_BATCH_KEYS = ("batch_size", "m0", "small_batch_size")


def _check_batch_fits(overrides: dict[str, Any], n_train: int, dataset: str) -> None:
    """A batch size given by the user must fit the training set: one line, before anything is written."""
    for key in _DRAWN_BATCH_KEYS:
        value = overrides.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > n_train:
            raise ValueError(
                f"Invalid {key}: {value!r} (larger than the {n_train} training samples of {dataset}; "
                f"expected at most {n_train})"
            )


def _to_device(obj: Any, device: torch.device) -> Any:
    """Tensors of a nested dict/list moved to ``device`` (checkpoints are read onto the CPU)."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {key: _to_device(value, device) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_to_device(value, device) for value in obj]
    return obj


def _rank_seed(seed: int, rank: int, step: int) -> None:
    """A rank's own torch RNG stream under torchrun (augmentation and dropout differ between ranks)."""
    torch.manual_seed((seed * 1_000_003 + rank * 7_919 + step) % (2**63))


def _epochs_completed(run: Run) -> int:
    return run.samples // run.task.n_train


def _progress(run: Run):
    from realnets.progress import Progress

    return Progress(run.budget, run.task.n_train, enabled=run.config.progress and run.is_main)


def _show(progress, run: Run, result: StepResult | None) -> None:
    if not progress.enabled:  # nothing to draw: no per-update work
        return
    progress.update(
        samples=run.samples,
        step=run.step,
        epoch=run.samples / run.task.n_train,
        loss=None,
        batch_size=result.batch_size if result else None,
        lr=result.decision.lr if result else None,
        wall=run.wall(),
    )


def _synced(progress, records: list[dict[str, Any]]) -> None:
    """Flushed records to the progress display: the last batch loss, and each evaluation."""
    steps = [r for r in records if r["kind"] == "step"]
    if steps:
        progress.note(loss=steps[-1]["loss"])
    for record in records:
        if record["kind"] == "epoch":
            progress.epoch_end(record)


def _stop_diverged(run: Run, message: str, progress) -> RunResult:
    progress.close()
    summary = _write_summary(run, "diverged")
    return RunResult("diverged", run.run_dir, summary, message)


def _write_summary(run: Run, status: str) -> dict[str, Any]:
    """Rank 0 writes ``summary.json``; under torchrun every rank returns rank 0's summary."""
    summary = _summary(run, status) if run.is_main else None
    if run.collective.active:
        summary = run.collective.broadcast_object(summary)
    if run.is_main:
        write_json(run.run_dir / "summary.json", summary)
    return summary


def _loop(run: Run, stop_after_steps: int | None) -> RunResult | None:
    progress = _progress(run)
    every = run.config.checkpoint_every
    while run.samples < run.budget:
        epochs_before = _epochs_completed(run)
        result = run.one_step()
        _show(progress, run, result)
        if stop_after_steps is not None and run.step >= stop_after_steps:
            progress.close()
            return RunResult("interrupted", run.run_dir, {}, f"stopped after {run.step} steps (as asked)")
        crossed = _epochs_completed(run) > epochs_before
        if crossed or run.samples >= run.budget:
            run.evaluate_epoch()
            if run.is_main:  # under torchrun rank 0 writes best.pt
                keep_best(run)
        elif run.config.eval_every and run.step % run.config.eval_every == 0:
            run.evaluate_epoch(kind="eval")
        if crossed or run.samples >= run.budget or len(run.pending) >= SYNC_EVERY:
            records = list(run.pending)
            message = run.flush()
            if message:
                return _stop_diverged(run, message, progress)
            _synced(progress, records)
        if crossed and every and _epochs_completed(run) % every == 0 and run.samples < run.budget:
            run.checkpoint()
    progress.close()
    return None


def _summary(run: Run, status: str) -> dict[str, Any]:
    last_epoch = last_epoch_record(run.run_dir / "metrics.jsonl")
    summary = {
        "status": status,
        "algo": run.config.algo,
        "model": run.config.model,
        "dataset": run.config.dataset,
        "seed": run.config.seed,
        "device": str(run.device),
        "steps": run.step,
        "samples": run.samples,
        "budget_samples": run.budget,
        "epochs": run.samples / run.task.n_train,
        "n_train": run.task.n_train,
        "fwd": run.totals["fwd"],
        "bwd": run.totals["bwd"],
        "wall_time": run.wall(),
        "final_train_loss": last_epoch.get("train_loss"),
        "final_test_loss": last_epoch.get("test_loss"),
        "final_test_acc": last_epoch.get("test_acc"),
        "best_test_acc": _best_test_acc(run),
        "best_checkpoint": best_so_far(run.run_dir / "metrics.jsonl"),  # best.pt: realnets.engine.best
        "hparams": run.hparams,
    }
    if run.collective.active:
        summary["world_size"] = run.collective.world_size
    if run.diverged is not None:  # where it diverged, not where the queued updates had got to
        summary.update(
            steps=run.diverged["step"],
            samples=run.diverged["samples"],
            epochs=run.diverged["samples"] / run.task.n_train,
            diverged_at_step=run.diverged["step"],
            # strict JSON: a non-finite loss is null here, its value spelled out beside it
            diverged_loss=run.diverged["loss"] if math.isfinite(run.diverged["loss"]) else None,
            diverged_loss_text=repr(float(run.diverged["loss"])),
            diverged_what=run.diverged["what"],
        )
    return summary


def _best_test_acc(run: Run) -> float | None:
    best = None
    for line in (run.run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        acc = record.get("test_acc") if record.get("kind") == "epoch" else None
        if acc is not None and (best is None or acc > best):
            best = acc
    return best


@contextlib.contextmanager
def _threads(config: TrainConfig, run: Run | None = None):
    """``torch.set_num_threads`` for the run (``--threads``, else a measured default), restored after."""
    before = torch.get_num_threads()
    wanted = config.threads
    if wanted is None and run is not None:
        first = config.batch_size or int(run.hparams.get("m0") or run.hparams.get("batch_size") or 32)
        wanted = default_threads(sum(p.numel() for p in run.task.model.parameters()), first)
    if wanted:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _execute(
    config: TrainConfig,
    run_dir: Path,
    payload: dict[str, Any] | None,
    stop_after_steps: int | None,
    plots: bool,
) -> RunResult:
    collective = distributed.current()
    distributed.check_same_config(collective, config.to_dict())
    device = resolve_device(config.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        run = collective.agree(lambda: _build(config, device, run_dir, collective), "building the run")
        if collective.active:
            collective.broadcast_module(run.task.model)
            if not collective.is_main:
                _rank_seed(config.seed, collective.rank, 0)
        with _threads(config, run):
            if payload is None:
                _start_fresh(run)
            else:
                run.restore(payload)
            _open_tensorboard(run)
            try:
                result = _loop(run, stop_after_steps)
            finally:
                if run.tensorboard is not None:
                    run.tensorboard.close()
            if result is not None:
                return result
            run.checkpoint()
    summary = _write_summary(run, "finished")
    if plots and run.is_main:
        from realnets.plots import plot_run

        plot_run(run_dir)
    return RunResult("finished", run_dir, summary, f"finished {run.step} steps in {run.wall():.1f}s")


def _build(config: TrainConfig, device: torch.device, run_dir: Path, collective: Any) -> Run:
    run = Run(config, device, run_dir, collective)  # every setting validated (model, data, algorithm) ...
    run.trainer.check_statistics()  # ... and the statistics, before anything is written
    if collective.active:
        distributed.check_supported(config.algo, run.policy, run.optimizer)
        first, _ = run.policy.first_draw(run.policy.init_state(), run.trainer.info(0))
        distributed.check_batch(collective, int(first), config.algo, getattr(run.policy, "m0", None))
    return run


def _open_tensorboard(run: Run) -> None:
    if run.config.tensorboard and run.is_main:
        from realnets.export import TensorBoardWriter

        run.tensorboard = TensorBoardWriter(run.run_dir)


def _start_fresh(run: Run) -> None:
    from realnets.envinfo import collect_env

    if run.is_main:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        if run.config.overwrite:
            clear_artifacts(run.run_dir)
        # config.json is a valid --config file: it reproduces the run with every hyperparameter spelled out.
        write_json(run.run_dir / "config.json", {**run.config.to_dict(), "hp": run.hparams})
        env = {**collect_env(run.device), "dataset": run.task.dataset_info}
        if run.collective.active:
            env["world_size"], env["backend"] = run.collective.world_size, run.collective.backend
        write_json(run.run_dir / "env.json", env)
        (run.run_dir / "metrics.jsonl").write_text("")
    run.evaluate_epoch()
    if run.is_main:
        keep_best(run)
    run.flush()
    run.checkpoint()  # so that a run diverging in its first epoch still leaves a good checkpoint


def default_run_dir(config: TrainConfig) -> Path:
    """``config.run_dir()``, or for a default name already taken the first free ``<name>-2``, ``-3``, ...

    Explicit ``out_dir`` values are returned as they are (an existing run there is refused, not renamed).
    """
    path = config.run_dir()
    if config.out_dir is not None or config.overwrite or not (path.is_dir() and any(path.iterdir())):
        return path
    k = 2
    while (candidate := path.with_name(f"{path.name}-{k}")).is_dir() and any(candidate.iterdir()):
        k += 1
    return candidate


def train(config: TrainConfig, *, stop_after_steps: int | None = None, plots: bool = True) -> RunResult:
    """Train from scratch as ``config`` says and write the run directory.

    An existing non-empty run directory given as ``out_dir`` is refused unless ``config.overwrite`` (then
    only the files of the earlier run are removed); a default name that is taken gets a ``-2``, ``-3``, ...
    suffix, so default names never collide.

    Args:
        config: the validated run configuration.
        stop_after_steps: stop after this many updates without a final checkpoint (simulates an
            interruption; tests use it).
        plots: draw the plots at the end.

    Raises:
        ValueError: a bad name or hyperparameter, or an existing run directory (before anything is written).
    """
    collective = distributed.current()

    def choose() -> Path:
        run_dir = default_run_dir(config)
        check_run_dir(run_dir, overwrite=config.overwrite)
        return run_dir

    run_dir = collective.agree(choose, "checking the run directory")
    run_dir = Path(collective.broadcast_object(str(run_dir)))  # rank 0's choice of a default name
    return _execute(config, run_dir, None, stop_after_steps, plots)


def resume(
    path: str | Path,
    *,
    device: str | None = None,
    stop_after_steps: int | None = None,
    plots: bool = True,
    progress: bool | None = None,
) -> RunResult:
    """Continue a run from its checkpoint (a run directory or a ``checkpoint.pt``).

    The configuration is the one stored in the checkpoint (``device`` may be changed). On CPU the resumed
    run writes exactly the metrics the uninterrupted run would have written. ``metrics.jsonl`` is checked
    against the checkpoint first (:func:`~realnets.engine.runlog.repair_metrics`).
    """
    collective = distributed.current()  # under torchrun rank 0 reads the checkpoint and sends it to all
    payload = collective.agree(lambda: load_checkpoint(path) if collective.is_main else None, "resuming")
    payload = collective.broadcast_object(payload)
    run_dir = Path(path) if Path(path).is_dir() else Path(path).parent
    layers = [payload["config"], {"out_dir": str(run_dir)}]
    if device is not None:
        layers.append({"device": device})
    if progress is not None:
        layers.append({"progress": progress})
    return _execute(make_config(*layers), run_dir, payload, stop_after_steps, plots)

"""The training engine: one loop for every batch-size and learning-rate policy.

* :mod:`realnets.engine.loop`: :func:`train`, :func:`resume`, the run directory (:class:`Run`);
* :mod:`realnets.engine.step`: :class:`TrainStep`, one I/O-free parameter update (the loop, ``realnets bench``
  and the BA diagnostics all call it), returning a :class:`StepResult`;
* :mod:`realnets.engine.sampling`: epoch permutations or fresh per-update draws (``--sampling``);
* :mod:`realnets.engine.task`: data on the device, model, losses, full-data evaluation;
* :mod:`realnets.engine.runlog`: ``metrics.jsonl``, ``summary.json``, atomic writes, resume repair.
"""

from realnets.engine.loop import SYNC_EVERY, Run, RunResult, default_run_dir, resolve_device, resume, train
from realnets.engine.sampling import SAMPLING_MODES, EpochSampler, FreshSampler, make_sampler
from realnets.engine.step import StepResult, TrainStep
from realnets.engine.task import (
    Task,
    build_task,
    evaluate,
    mean_squared_error,
    per_sample_cross_entropy,
    per_sample_squared_error,
    stratified_split,
)

__all__ = [
    "SAMPLING_MODES",
    "SYNC_EVERY",
    "EpochSampler",
    "FreshSampler",
    "Run",
    "RunResult",
    "StepResult",
    "Task",
    "TrainStep",
    "build_task",
    "default_run_dir",
    "evaluate",
    "make_sampler",
    "mean_squared_error",
    "per_sample_cross_entropy",
    "per_sample_squared_error",
    "resolve_device",
    "resume",
    "stratified_split",
    "train",
]

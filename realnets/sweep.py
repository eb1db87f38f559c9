r"""``realnets sweep``: seed 002's batch size x strategy grid and its speed-up curves (Golmant et al., sec. 3-4).

Each cell (strategy, batch size :math:`m`, seed, data fraction) is one engine run in
``<out>/<strategy>/data<f>/B<m>/seed<s>``. Every cell trains the same number of epochs (``budget_epochs``),
so the number of updates falls as :math:`1/m` (``train-longer`` multiplies the budget by :math:`m/m_0`).

Measurement protocol (seed 002, sec. 3 and 4.3):

* the loss curve of a cell is the full training loss at the end of each epoch (``--loss-source epoch``,
  the engine's exact evaluation), and every ``--eval-every`` updates when given (the paper's fixed update
  intervals; the engine's ``eval`` records), or about ``--eval-points`` times per cell (every
  ``max(1, updates // N)`` updates of that cell: a fixed interval within a run, so that every curve has
  about N points however few updates its batch size makes), or the mean batch loss over windows of
  ``--log-every`` updates (``--loss-source step``, finer in updates but noisy and measured in train mode
  before each update);
* the threshold :math:`\epsilon` is the lower quartile (``--quantile``) of the logged losses of the largest
  batch size, pooled over its seeds, separately for each strategy and data fraction (the paper's rule;
  ``--threshold`` fixes it instead);
* ``--data-fraction``: a synthetic dataset draws ``round(f N)`` samples; a real one trains on a stratified
  subset of ``f`` of its training set, seeded by the run seed (the config's ``train_fraction``);
* :math:`k(m)` is the first crossing of :math:`\epsilon`, linearly interpolated in updates between the two
  logged points around it (``None`` when never reached: speed-up 0);
* :math:`s(m; m_0) = k(m_0)/k(m)` per seed, :math:`m_0` the smallest batch size; mean and standard error over
  seeds; the ideal is :math:`s = m/m_0`.

Regimes (seed 002, sec. 1: linear, sublinear, then marginal gains) from the local scaling exponent between
consecutive batch sizes, :math:`\alpha_i = \log(s_i/s_{i-1}) / \log(m_i/m_{i-1})` of the seed-mean speed-ups:
``linear`` when :math:`\alpha_i \ge` ``--linear-alpha`` (0.8), ``plateau`` when :math:`\alpha_i \le`
``--plateau-alpha`` (0.2), ``diminishing`` in between; :math:`m_0` is ``base``; ``not reached`` when a mean
speed-up is 0 or undefined.

Outputs: ``sweep.json`` and ``sweep.txt`` (written atomically), ``speedup.png`` (seed 002, figs. 2 left, 3
and 4) and ``curves.png`` (the loss curves with their thresholds). An interrupted sweep resumes: finished
cells are skipped, cells with a checkpoint are resumed, the rest are trained.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Cell", "analyze", "first_crossing", "main", "plan_sweep", "regimes", "run_sweep"]

LOSS_SOURCES = ("epoch", "step")
_DONE = ("finished", "diverged")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump, no SystemExit
        raise _UsageError(message)


@dataclass(frozen=True)
class Cell:
    """One run of the grid: ``config`` is a complete :func:`realnets.config.make_config` layer."""

    index: int
    strategy: str
    batch_size: int
    seed: int
    fraction: float
    run_dir: str
    config: dict[str, Any] = field(hash=False)

    def label(self, total: int, fractions: int) -> str:
        data = f" data {self.fraction:g}" if fractions > 1 else ""
        return f"cell {self.index + 1}/{total}: {self.strategy} B={self.batch_size} seed {self.seed}{data}"


@dataclass
class SweepPlan:
    cells: list[Cell]
    strategies: list[str]
    batch_sizes: list[int]
    seeds: list[int]
    fractions: list[float]
    out_dir: Path
    options: dict[str, Any]


# ----------------------------------------------------------------------------------------------- parsing
def _parser() -> _Parser:
    p = _Parser(
        prog="realnets sweep", description="Batch size x strategy grid with seed 002's speed-up curves."
    )
    p.add_argument(
        "--strategies",
        default="blr,lsr,srsr",
        help="comma-separated algorithm specs name[:key=value...] (default: blr,lsr,srsr)",
    )
    p.add_argument(
        "--batch-sizes", default="32,64,128,256", help="comma-separated batch sizes (default: 32,64,128,256)"
    )
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    p.add_argument(
        "--data-fraction", default="1", help="comma-separated fractions of the training set (default: 1)"
    )
    p.add_argument(
        "--quantile", default="0.25", help="threshold quantile of the largest batch's losses (default 0.25)"
    )
    p.add_argument("--threshold", default=None, help="a fixed loss threshold instead of the quantile rule")
    p.add_argument("--loss-source", default="epoch", help="epoch (full training loss) or step (batch losses)")
    p.add_argument(
        "--log-every", default="10", help="updates per window of batch losses for --loss-source step"
    )
    p.add_argument(
        "--eval-points",
        default=None,
        help="evaluate the full losses about N times per cell, every max(1, updates // N) updates (an interval "
        "per cell; instead of --eval-every)",
    )
    p.add_argument("--linear-alpha", default="0.8", help="local exponent at or above which scaling is linear")
    p.add_argument("--plateau-alpha", default="0.2", help="local exponent at or below which it is a plateau")
    p.add_argument("--jobs", default="1", help="cells trained in parallel processes (default: 1)")
    p.add_argument("--out", default=None, help="grid folder (default: runs/sweep-<model>-<dataset>)")
    p.add_argument("--config", default=None, help="TOML or JSON settings shared by every cell")
    for flag, dest in (
        ("--model", "model"),
        ("--dataset", "dataset"),
        ("--device", "device"),
        ("--budget-epochs", "budget_epochs"),
        ("--lr", "lr"),
        ("--data-dir", "data_dir"),
        ("--eval-batch-size", "eval_batch_size"),
        ("--eval-every", "eval_every"),
    ):
        p.add_argument(flag, dest=dest, default=None)
    for flag, dest in (
        ("--hp", "hp"),
        ("--model-option", "model_option"),
        ("--dataset-option", "dataset_option"),
    ):
        p.add_argument(flag, dest=dest, action="append", default=[], help="key=value (repeatable)")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the figures")
    p.add_argument(
        "--threads",
        dest="threads",
        default=None,
        help="torch threads per cell (default: realnets train's rule, realnets.config.default_threads; "
        "1 with --jobs > 1)",
    )
    return p


def _number(
    text: str,
    name: str,
    kind: type,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> Any:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        value = None
    ok = value is not None and math.isfinite(value)
    ok = (
        ok
        and (low is None or (value > low if low_open else value >= low))
        and (high is None or value <= high)
    )
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"<= {high:g}")
        article = "an integer" if kind is int else "a number"
        raise ValueError(f"Invalid {name}: {text!r} (expected {article} {' and '.join(bounds)})".rstrip())
    return value


def _list(
    text: str, name: str, kind: type, low: float, high: float | None = None, low_open: bool = False
) -> list:
    items = [item.strip() for item in str(text).split(",")]
    if not items or any(not item for item in items):
        raise ValueError(f"Invalid {name}: {text!r} (expected a comma-separated list)")
    values = [_number(item, name, kind, low, high, low_open) for item in items]
    if len(set(values)) != len(values):
        raise ValueError(f"Invalid {name}: {text!r} (expected distinct values)")
    return values


def _key_values(items: Sequence[str], name: str) -> dict[str, Any]:
    from realnets.config import parse_hparam

    return dict(parse_hparam(item, name) for item in items)


def _parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    from realnets.config import parse_hparam

    name, *items = spec.split(":")
    if not name.strip():
        raise ValueError(f"Invalid strategy: {spec!r} (expected name[:key=value...])")
    return name.strip(), dict(parse_hparam(item, "strategy option") for item in items)


def _spec_dir(spec: str) -> str:
    return spec.replace(":", "_").replace("=", "").replace("/", "_")


# ------------------------------------------------------------------------------------------------ planning
def plan_sweep(argv: Sequence[str]) -> SweepPlan:
    """Parse ``argv`` and validate the whole grid (names, hyperparameters, settings, data fractions) before any
    training; ``ValueError`` with one line otherwise."""
    from realnets.config import make_config

    try:
        args = _parser().parse_args(list(argv))
    except _UsageError as error:
        raise ValueError(f"Invalid arguments: {error}") from None
    batch_sizes = sorted(_list(args.batch_sizes, "batch sizes", int, 1))
    if len(batch_sizes) < 2:
        raise ValueError(f"Invalid batch sizes: {args.batch_sizes!r} (expected at least two, for a speed-up)")
    seeds = _list(args.seeds, "seeds", int, 0)
    fractions = _list(args.data_fraction, "data fraction", float, 0.0, 1.0, low_open=True)
    options = _analysis_options(args)
    base = make_config(*_settings_layers(args))
    shared_hp = {**base.hp, **_key_values(args.hp, "hp")}
    out_dir = Path(args.out or base.out_dir or f"runs/sweep-{base.model}-{base.dataset}")
    strategies = [s.strip() for s in args.strategies.split(",")]
    if len(set(strategies)) != len(strategies) or any(not s for s in strategies):
        raise ValueError(f"Invalid strategies: {args.strategies!r} (expected distinct, non-empty specs)")
    _check_names(base)
    algo_layers = {spec: _strategy_layer(spec, shared_hp, batch_sizes[0]) for spec in strategies}
    _check_hp_used(strategies, shared_hp)
    dataset_options = _fraction_options(base, fractions)
    points = _eval_points(args, base)
    sizes = _train_sizes(base, fractions) if points else {}
    no_hp = {k: v for k, v in base.to_dict().items() if k not in ("hp", "out_dir")}
    cells = []
    for spec in strategies:
        for fraction in fractions:
            for batch in batch_sizes:
                for seed in seeds:
                    run_dir = out_dir / _spec_dir(spec) / f"data{fraction:g}" / f"B{batch}" / f"seed{seed}"
                    layer = {**algo_layers[spec], "batch_size": batch}
                    config = make_config(
                        no_hp,
                        layer,
                        {"seed": seed, "out_dir": str(run_dir), **dataset_options[fraction]},
                    )
                    factor = _check_build(config)
                    if points:
                        updates = math.ceil(round(config.budget_epochs * sizes[fraction] * factor) / batch)
                        config = make_config(config.to_dict(), {"eval_every": max(1, updates // points)})
                    cells.append(
                        Cell(len(cells), spec, batch, seed, fraction, str(run_dir), config.to_dict())
                    )
    return SweepPlan(cells, strategies, batch_sizes, seeds, fractions, out_dir, options)


def _analysis_options(args: argparse.Namespace) -> dict[str, Any]:
    source = args.loss_source
    if source not in LOSS_SOURCES:
        raise ValueError(f"Invalid loss source: {source!r} (expected one of {', '.join(LOSS_SOURCES)})")
    options = {
        "quantile": _number(args.quantile, "quantile", float, 0.0, 1.0),
        "threshold": None if args.threshold is None else _number(args.threshold, "threshold", float),
        "loss_source": source,
        "log_every": _number(args.log_every, "log every", int, 1),
        "linear_alpha": _number(args.linear_alpha, "linear alpha", float),
        "plateau_alpha": _number(args.plateau_alpha, "plateau alpha", float),
        "jobs": _number(args.jobs, "jobs", int, 1),
        "threads": None if args.threads is None else _number(args.threads, "threads", int, 1, 1024),
        "plots": args.plots,
    }
    if options["plateau_alpha"] >= options["linear_alpha"]:
        raise ValueError(
            f"Invalid plateau alpha: {options['plateau_alpha']!r} "
            f"(expected < linear alpha {options['linear_alpha']!r})"
        )
    return options


def _settings_layers(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The shared run settings: the ``--config`` file, then the flags."""
    from realnets.config import load_config_file

    layers: list[dict[str, Any]] = [load_config_file(args.config)] if args.config else []
    flags: dict[str, Any] = {}
    for dest, kind in (
        ("model", str),
        ("dataset", str),
        ("device", str),
        ("data_dir", str),
        ("budget_epochs", float),
        ("lr", float),
        ("eval_batch_size", int),
        ("eval_every", int),
    ):
        raw = getattr(args, dest)
        if raw is not None:
            flags[dest] = raw if kind is str else _number(raw, dest.replace("_", " "), kind)
    if args.model_option:
        flags["model_options"] = _key_values(args.model_option, "model option")
    if args.dataset_option:
        flags["dataset_options"] = _key_values(args.dataset_option, "dataset option")
    layers.append(flags)
    return layers


def _check_names(base) -> None:
    from realnets.data import list_datasets
    from realnets.models import list_models

    for kind, name, known in (
        ("model", base.model, list_models()),
        ("dataset", base.dataset, list_datasets()),
    ):
        names = [n for n, _ in known]
        if name not in names:
            raise ValueError(f"Invalid {kind}: {name!r} (expected one of {', '.join(names)})")


def _strategy_layer(spec: str, shared_hp: Mapping[str, Any], base_batch: int) -> dict[str, Any]:
    """The algorithm layer of a strategy: accepted shared ``--hp`` values, ``base_batch_size = m_0`` where the
    algorithm scales by it (so that every rule starts from the same base point), then the spec's own values."""
    from realnets.registry import get_algorithm

    algo, own = _parse_spec(spec)
    info = get_algorithm(algo)
    if "batch_size" not in info.defaults:
        raise ValueError(f"Invalid strategy: {spec!r} (algorithm {algo!r} has no batch_size to sweep)")
    if "batch_size" in own:
        raise ValueError(f"Invalid strategy: {spec!r} (batch_size is set by --batch-sizes)")
    hp = {k: v for k, v in shared_hp.items() if k in info.defaults}
    if "base_batch_size" in info.defaults:
        hp["base_batch_size"] = base_batch
    layer: dict[str, Any] = {"algo": algo}
    for key, value in own.items():
        if key == "lr":
            layer["lr"] = value
        else:
            if key not in info.defaults:
                raise ValueError(
                    f"Invalid strategy option: {key!r} of {spec!r} "
                    f"(expected one of {', '.join(sorted(info.defaults))})"
                )
            hp[key] = value
    layer["hp"] = hp
    return layer


def _check_hp_used(strategies: Sequence[str], hp: Mapping[str, Any]) -> None:
    from realnets.registry import get_algorithm

    names = [_parse_spec(s)[0] for s in strategies]
    for key in hp:
        if not any(key in get_algorithm(name).defaults for name in names):
            raise ValueError(
                f"Invalid hyperparameter: {key!r} (no strategy of {', '.join(names)} accepts it)"
            )


def _check_build(config) -> float:
    """Build the policy once on a dummy parameter, so bad hyperparameter values fail before any training;
    returns its budget factor (``train-longer``: m/m0)."""
    import torch

    from realnets.registry import get_algorithm

    policy, _ = get_algorithm(config.algo).build(
        [("weight", torch.nn.Parameter(torch.zeros(1)))], config.algo_overrides()
    )
    return float(getattr(policy, "budget_factor", 1.0))


def _eval_points(args: argparse.Namespace, base) -> int | None:
    if args.eval_points is None:
        return None
    if args.eval_every is not None or (base.eval_every is not None and base.eval_every != 0):
        raise ValueError(
            f"Invalid eval points: {args.eval_points!r} (expected either --eval-points or --eval-every, not both)"
        )
    return _number(args.eval_points, "eval points", int, 1)


def _train_sizes(base, fractions: Sequence[float]) -> dict[float, int]:
    """Training samples of a cell at each data fraction (the engine's count up to per-class rounding)."""
    from realnets.data import load_dataset

    full = load_dataset(base.dataset, data_dir=base.data_dir, seed=base.seed, **base.dataset_options)
    n = int(full.x_train.shape[0])
    n -= round(base.val_fraction * n)
    return {f: max(1, round(f * n)) for f in fractions}


def _fraction_options(base, fractions: Sequence[float]) -> dict[float, dict[str, Any]]:
    """The config layer of each fraction: ``dataset_options.num_train = round(f N)`` for the datasets that take
    ``num_train`` (the synthetic ones, whose generator then draws fewer samples); for the others (real data)
    ``train_fraction = f``: the engine trains on a stratified subset seeded by the run seed."""
    options: dict[float, dict[str, Any]] = {1.0: {"dataset_options": dict(base.dataset_options)}}
    if all(f == 1.0 for f in fractions):
        return options
    from realnets.data import load_dataset

    full = load_dataset(base.dataset, data_dir=base.data_dir, seed=base.seed, **base.dataset_options)
    n = int(full.x_train.shape[0])
    for f in fractions:
        if f == 1.0:
            continue
        count = max(1, round(f * n))
        trial = {**base.dataset_options, "num_train": count}
        try:
            load_dataset(base.dataset, data_dir=base.data_dir, seed=base.seed, **trial)
        except ValueError:  # no num_train option: a subset of the real training set
            options[f] = {"dataset_options": dict(base.dataset_options), "train_fraction": f}
        else:
            options[f] = {"dataset_options": trial}
    return options


# ------------------------------------------------------------------------------------------------ running
def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _runtime_layer(status: str, jobs: int, threads: int | None = None) -> dict[str, Any]:
    """Settings that do not change the experiment: no progress bar, one thread per parallel job, and leave to
    replace a cell folder that holds neither a checkpoint nor a summary (a start that died early)."""
    from dataclasses import fields

    from realnets.config import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    layer: dict[str, Any] = {"progress": False}
    if "threads" in names and (threads is not None or jobs > 1):  # --threads, else 1 per parallel job
        layer["threads"] = 1 if threads is None else threads
    if status == "new" and "overwrite" in names:
        layer["overwrite"] = True
    return layer


def _run_cell(config_dict: dict[str, Any], jobs: int = 1, threads: int | None = None) -> tuple[str, float]:
    """Train, resume or skip one cell; returns ``(status, seconds)``. Runs in the worker processes."""
    from realnets.config import make_config
    from realnets.engine import resume, train

    start = time.perf_counter()
    run_dir = Path(config_dict["out_dir"])
    status = _cell_status(run_dir)
    if status in _DONE:
        return f"skipped ({status})", 0.0
    if status == "partial":
        result = resume(run_dir, plots=False)
        return f"{result.status} (resumed)", time.perf_counter() - start
    layer = _runtime_layer(status, jobs, threads)
    result = train(make_config(config_dict, layer), plots=False)
    return result.status, time.perf_counter() - start


def _cell_status(run_dir: Path) -> str:
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            return str(json.loads(summary.read_text()).get("status", "partial"))
        except json.JSONDecodeError:
            return "partial"
    return "partial" if (run_dir / "checkpoint.pt").is_file() else "new"


def _record_grid(plan: SweepPlan) -> None:
    """Check the cells against ``grid.json`` of an earlier invocation (a cell folder written with other
    settings is an error: a changed grid needs a new --out), then record this grid's cells there."""
    path = plan.out_dir / "grid.json"
    previous: dict[str, Any] = {}
    if path.is_file():
        try:
            previous = json.loads(path.read_text()).get("cells", {})
        except (json.JSONDecodeError, AttributeError):
            raise ValueError(
                f"Invalid out folder: {str(plan.out_dir)!r} (its grid.json is not a sweep record)"
            ) from None
    current = {cell.run_dir: json.loads(json.dumps(cell.config)) for cell in plan.cells}
    for run_dir, config in current.items():
        if run_dir in previous and previous[run_dir] != config:
            raise ValueError(
                f"Invalid out folder: {run_dir!r} holds a run with other settings "
                "(expected the same grid settings to resume, or a new --out)"
            )
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(path, {"cells": {**previous, **current}})


def run_sweep(plan: SweepPlan, *, stream=None) -> dict[str, Any]:
    """Run (or resume) every cell of ``plan``, then analyse and write the outputs; returns the analysis.
    Progress lines and the table go to ``stream`` (default ``sys.stdout``)."""
    stream = sys.stdout if stream is None else stream
    _record_grid(plan)
    total, fractions = len(plan.cells), len(plan.fractions)
    jobs = min(plan.options["jobs"], total)
    if jobs == 1:
        for cell in plan.cells:
            print(cell.label(total, fractions), file=stream, flush=True)
            status, seconds = _run_cell(cell.config, 1, plan.options["threads"])
            print(f"  {status} ({seconds:.1f}s)", file=stream, flush=True)
    else:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker) as pool:
            futures = {
                pool.submit(_run_cell, cell.config, jobs, plan.options["threads"]): cell
                for cell in plan.cells
            }
            for future in as_completed(futures):
                status, seconds = future.result()
                print(
                    f"{futures[future].label(total, fractions)}: {status} ({seconds:.1f}s)",
                    file=stream,
                    flush=True,
                )
    analysis = analyze(plan)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(plan.out_dir / "sweep.json", analysis)
    table = format_table(analysis)
    _write_text(plan.out_dir / "sweep.txt", table + "\n")
    if plan.options["plots"]:
        analysis["figures"] = [str(p) for p in plot_sweep(analysis, plan.out_dir)]
    print(table, file=stream)
    return analysis


# ------------------------------------------------------------------------------------------------ analysis
def loss_curve(run_dir: str | Path, source: str = "epoch", log_every: int = 10) -> list[tuple[float, float]]:
    """``[(updates, loss), ...]`` of a cell: the full training loss per epoch record, or the mean batch loss
    over windows of ``log_every`` updates placed at the window's centre (``source="step"``)."""
    from realnets.plots import load_metrics

    if source == "epoch":  # every full evaluation: epoch ends and the ``eval_every`` ones in between
        records = []
        for line in (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interruption
                continue
            if record.get("kind") in ("epoch", "eval") and record.get("train_loss") is not None:
                records.append((float(record["step"]), float(record["train_loss"])))
        return sorted(set(records))
    steps, _ = load_metrics(run_dir)
    curve = []
    for start in range(0, len(steps) - log_every + 1, log_every):
        window = steps[start : start + log_every]
        # a step record's loss is the batch loss before its update, i.e. after ``step - 1`` updates
        center = 0.5 * (window[0]["step"] + window[-1]["step"]) - 1
        curve.append((center, statistics.fmean(float(r["loss"]) for r in window)))
    return curve


def first_crossing(curve: Sequence[tuple[float, float]], threshold: float) -> float | None:
    """The first ``k`` at which the curve reaches ``loss <= threshold``, linearly interpolated between the logged
    points around the crossing; ``None`` when it never does (non-finite losses count as not reached)."""
    for i, (k, loss) in enumerate(curve):
        if math.isfinite(loss) and loss <= threshold:
            if i == 0:
                return float(k)
            k0, loss0 = curve[i - 1]
            if not math.isfinite(loss0) or loss0 == loss:
                return float(k)
            return float(k0 + (loss0 - threshold) / (loss0 - loss) * (k - k0))
    return None


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(v for v in values if math.isfinite(v))
    if not ordered:
        return math.nan
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (pos - low) * (ordered[high] - ordered[low])


def regimes(
    batch_sizes: Sequence[int],
    speedups: Sequence[float | None],
    *,
    linear_alpha: float = 0.8,
    plateau_alpha: float = 0.2,
) -> list[str]:
    r"""Regime of each batch size from :math:`\alpha_i = \log(s_i/s_{i-1})/\log(m_i/m_{i-1})` (module docstring)."""
    labels = ["base"]
    for i in range(1, len(batch_sizes)):
        prev, cur = speedups[i - 1], speedups[i]
        if cur is None or prev is None or not (cur > 0 and prev > 0) or not math.isfinite(cur * prev):
            labels.append("not reached")
            continue
        alpha = math.log(cur / prev) / math.log(batch_sizes[i] / batch_sizes[i - 1])
        labels.append(
            "linear" if alpha >= linear_alpha else "plateau" if alpha <= plateau_alpha else "diminishing"
        )
    return labels


def _mean_se(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0)


def _largest_trained(curves: Mapping[tuple[int, int], Sequence[tuple[float, float]]], sizes, seeds) -> int:
    """The largest batch size whose runs all trained: every seed's last logged loss finite and below its first.

    The paper takes the threshold from "the largest batch size"; when that run diverged (or never moved) its
    losses sit at or above the initial loss, every other run "reaches" the threshold at update 0, and the
    speed-ups say nothing. The largest batch size itself when none trained."""

    def trained(curve) -> bool:
        finite = [loss for _, loss in curve if math.isfinite(loss)]
        return len(finite) >= 2 and math.isfinite(curve[-1][1]) and curve[-1][1] < finite[0]

    ok = [b for b in sizes if all(trained(curves[(b, s)]) for s in seeds)]
    return max(ok) if ok else max(sizes)


def analyze(plan: SweepPlan) -> dict[str, Any]:
    """Thresholds, ``k(m)``, speed-ups and regimes of every (strategy, data fraction) group of a run grid."""
    opts = plan.options
    by_key = {(c.strategy, c.fraction, c.batch_size, c.seed): c for c in plan.cells}
    m0 = plan.batch_sizes[0]
    groups = []
    for spec in plan.strategies:
        for fraction in plan.fractions:
            curves = {
                (b, s): loss_curve(
                    by_key[(spec, fraction, b, s)].run_dir, opts["loss_source"], opts["log_every"]
                )
                for b in plan.batch_sizes
                for s in plan.seeds
            }
            threshold = opts["threshold"]
            source = _largest_trained(curves, plan.batch_sizes, plan.seeds)
            if threshold is None:
                threshold = _quantile(
                    [loss for s in plan.seeds for _, loss in curves[(source, s)]], opts["quantile"]
                )
            k = {key: first_crossing(curve, threshold) for key, curve in curves.items()}
            rows = []
            for b in plan.batch_sizes:
                per_seed = []
                for s in plan.seeds:
                    k0, kb = k[(m0, s)], k[(b, s)]
                    if k0 is not None and k0 > 0:
                        per_seed.append(0.0 if kb is None else (math.inf if kb == 0 else k0 / kb))
                finite = [v for v in per_seed if math.isfinite(v)]
                s_mean, s_se = _mean_se(finite) if len(finite) == len(per_seed) else (None, None)
                ks = [k[(b, s)] for s in plan.seeds]
                summaries = [_summary(by_key[(spec, fraction, b, s)].run_dir) for s in plan.seeds]
                rows.append(
                    {
                        "strategy": spec,
                        "fraction": fraction,
                        "batch_size": b,
                        "ratio": b / m0,
                        "k": ks,
                        "k_mean": _mean_se([v for v in ks if v is not None])[0] if None not in ks else None,
                        "speedup": s_mean,
                        "speedup_se": s_se,
                        "speedup_seeds": len(per_seed),  # seeds whose m0 run reached the threshold
                        "efficiency": None if s_mean is None else s_mean / (b / m0),
                        "final_train_loss": _mean_se(
                            [
                                x["final_train_loss"]
                                for x in summaries
                                if x.get("final_train_loss") is not None
                            ]
                        )[0],
                        "statuses": [x.get("status") for x in summaries],
                    }
                )
            labels = regimes(
                plan.batch_sizes,
                [r["speedup"] for r in rows],
                linear_alpha=opts["linear_alpha"],
                plateau_alpha=opts["plateau_alpha"],
            )
            for row, label in zip(rows, labels):
                row["regime"] = label
            groups.append(
                {
                    "strategy": spec,
                    "fraction": fraction,
                    "threshold": threshold,
                    "threshold_batch": None if opts["threshold"] is not None else source,
                    "rows": rows,
                    "curves": {f"B{b}/seed{s}": curves[(b, s)] for b, s in curves},
                }
            )
    first = plan.cells[0].config
    return {
        "model": first["model"],
        "dataset": first["dataset"],
        "budget_epochs": first["budget_epochs"],
        "base_batch_size": m0,
        "batch_sizes": plan.batch_sizes,
        "seeds": plan.seeds,
        "fractions": plan.fractions,
        "strategies": plan.strategies,
        "loss_source": opts["loss_source"],
        "quantile": opts["quantile"],
        "threshold_rule": "fixed"
        if opts["threshold"] is not None
        else f"quantile {opts['quantile']:g} of the logged losses of the largest batch size that trained (every "
        "seed's last loss finite and below its first; the largest one otherwise), per strategy and fraction",
        "regime_criteria": {
            "alpha": "log(s_i/s_{i-1}) / log(m_i/m_{i-1})",
            "linear": f">= {opts['linear_alpha']}",
            "plateau": f"<= {opts['plateau_alpha']}",
            "diminishing": "in between",
        },
        "groups": groups,
    }


def _summary(run_dir: str) -> dict[str, Any]:
    path = Path(run_dir) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _fmt(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(analysis: Mapping[str, Any]) -> str:
    """One line per (strategy, fraction, batch size): k(m), s(m; m0) ± se, m/m0, efficiency, regime."""
    header = (
        f"{'strategy':<22} {'data':>5} {'B':>6} {'m/m0':>6} {'threshold':>10} {'k(m)':>9} "
        f"{'s(m;m0)':>16} {'s/(m/m0)':>9} {'final loss':>10}  regime"
    )
    lines = [header, "-" * len(header)]
    for group in analysis["groups"]:
        source = group.get("threshold_batch")
        if source is not None and source != max(analysis["batch_sizes"]):
            lines.append(
                f"# {group['strategy']}, data {group['fraction']:g}: the larger batches did not train; threshold "
                f"from B={source}"
            )
        for r in group["rows"]:
            if r["speedup"] is None:
                s = "-"
            elif r.get("speedup_seeds", 2) < 2:
                s = f"{r['speedup']:.3g} (1 seed)"
            else:
                s = f"{r['speedup']:.3g} ± {r['speedup_se']:.2g}"
            lines.append(
                f"{r['strategy']:<22} {r['fraction']:>5g} {r['batch_size']:>6} {r['ratio']:>6g} "
                f"{group['threshold']:>10.4g} {_fmt(r['k_mean'], '.1f'):>9} {s:>16} "
                f"{_fmt(r['efficiency'], '.2f'):>9} {_fmt(r['final_train_loss'], '.4g'):>10}  {r['regime']}"
            )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ figures
_REGIME_MARKERS = {"base": "D", "linear": "o", "diminishing": "s", "plateau": "X"}


def plot_sweep(analysis: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """``speedup.png`` (s against m/m0, log2 axes, ideal line, regime markers) and ``curves.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    title = (
        f"{analysis['model']} on {analysis['dataset']}, {analysis['budget_epochs']:g} epochs per batch size"
    )
    fig, ax = plt.subplots(figsize=(9.6, 4.8))
    ratios = [b / analysis["base_batch_size"] for b in analysis["batch_sizes"]]
    ax.plot(ratios, ratios, "k--", lw=1, label="ideal s = m/m0")
    many = len(analysis["fractions"]) > 1
    for i, group in enumerate(analysis["groups"]):
        color = f"C{i % 10}"
        pts = [
            (r["ratio"], r["speedup"], r["speedup_se"], r["regime"])
            for r in group["rows"]
            if r["speedup"] is not None and r["speedup"] > 0
        ]
        name = group["strategy"] + (f", {100 * group['fraction']:g}% of data" if many else "")
        if not pts:  # every batch size missed the threshold (or only m0 reached it): say so in the legend
            ax.plot([], [], color=color, lw=1.5, label=f"{name} (threshold never reached)")
        if pts:
            # On log axes a lower bar reaching 0 would stretch the axis to 2^-50: the lower bar stops at s/2
            # (an arrow-less cut; the table and the JSON hold the standard errors).
            se = [p[2] or 0.0 for p in pts]
            ax.errorbar(
                [p[0] for p in pts],
                [p[1] for p in pts],
                yerr=[[min(e, p[1] / 2) for e, p in zip(se, pts)], se],
                color=color,
                lw=1.5,
                capsize=2,
                label=name,
            )
            for x, y, _, regime in pts:
                ax.plot(x, y, _REGIME_MARKERS.get(regime, "."), color=color, ms=6)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel(f"batch size ratio m/m0 (m0 = {analysis['base_batch_size']} samples)")
    ax.set_ylabel("speed-up s(m; m0) = k(m0)/k(m)  [updates to threshold]")
    ax.set_title(title, fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], ls="", marker=m, color="grey", label=f"regime: {r}")
        for r, m in _REGIME_MARKERS.items()
    ]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax.grid(True, which="both", alpha=0.3)
    speedup = out_dir / "speedup.png"
    _save(fig, speedup, plt)

    groups = analysis["groups"]
    strategies = list(dict.fromkeys(g["strategy"] for g in groups))
    fractions = list(dict.fromkeys(g["fraction"] for g in groups))
    rows, cols = len(strategies), len(fractions)  # one row per strategy, one column per data fraction
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, sharey=True)
    for group in groups:
        ax = axes[strategies.index(group["strategy"])][fractions.index(group["fraction"])]
        for j, b in enumerate(analysis["batch_sizes"]):
            for s_i, s in enumerate(analysis["seeds"]):
                curve = [(k, loss) for k, loss in group["curves"][f"B{b}/seed{s}"] if k > 0 and loss > 0]
                if curve:
                    ax.plot(
                        [c[0] for c in curve],
                        [c[1] for c in curve],
                        color=f"C{j % 10}",
                        lw=1,
                        label=f"B = {b}" if s_i == 0 else None,
                    )
        ax.axhline(group["threshold"], color="k", ls=":", lw=1, label="threshold")
        ax.set_xscale("log")
        ax.set_yscale("log")
        if strategies.index(group["strategy"]) == rows - 1:
            ax.set_xlabel("updates k")
        name = group["strategy"] + (f", {100 * group['fraction']:g}% data" if many else "")
        ax.set_title(name, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    source = (
        "full training loss (per epoch)" if analysis["loss_source"] == "epoch" else "mean batch loss (window)"
    )
    for row in axes:
        row[0].set_ylabel(source)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    curves = out_dir / "curves.png"
    _save(fig, curves, plt)
    return [speedup, curves]


def _save(fig, path: Path, plt) -> None:
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(_finite(data), indent=2, default=str, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    """Non-finite floats as None, so the file is strict JSON (a threshold of an empty curve is NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------------ entry point
def main(argv: list[str]) -> int:
    """``realnets sweep``: usage errors print one line to stderr and return 2."""
    if any(arg in ("-h", "--help") for arg in argv):
        _parser().print_help()
        return 0
    try:
        plan = plan_sweep(argv)
        run_sweep(plan)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover - python -m realnets.sweep
    sys.exit(main(sys.argv[1:]))

"""``realnets compare``: a grid of algorithms x seeds on one task with the same sample budget.

Every run gets the same dataset, model and budget in samples, so the comparison is at equal epochs of data
(seed 000, sec. 4.2). The table gives, per algorithm, the mean and sample standard deviation over seeds of
the final full training loss, the best test accuracy over the budget (seed 000, Table 1), the final test
accuracy and the number of updates, plus every hyperparameter that differs between the rows; the figure is
seed 000's fig. 1 (training loss per epoch, mean over seeds with the min-max band), with the loss against
updates and the test accuracy below. Under the table, seed 000's sec. 4.4 / fig. 5 timing: the update and
epoch at which each BA run's batch-size boom starts, and at which each run's training loss stops falling
(definitions in :mod:`realnets.boom`).

Algorithm specs: ``name`` or ``name:key=value:key=value``; several specs are separated by ``;`` (a value may
then contain commas: ``increase-batch:milestones=6,12,16;sgd``). Commas between specs also work when no
value contains one (``sgd,momentum``); a comma followed by something that is no algorithm name continues
the previous value (``increase-batch:milestones=6,12,16,sgd`` is two specs).

The whole grid is validated (every spec, every hyperparameter, every seed) before the first run trains.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from realnets.boom import PLATEAU_FACTOR, PLATEAU_TAIL, boom_period, loss_plateau
from realnets.config import TrainConfig, make_config, parse_hparam, split_layer
from realnets.engine import train
from realnets.plots import algo_label, differing_keys, entry_keys, format_value, load_metrics, plot_compare
from realnets.registry import get_algorithm, list_algorithms, resolve_hparams

__all__ = [
    "PRESETS",
    "PRESET_LR",
    "display_name",
    "format_table",
    "parse_algo_spec",
    "plan_grid",
    "preset_algos",
    "run_compare",
    "split_algo_specs",
    "summarize",
]

#: Named grids. ``seed000``: the twelve algorithms of seed 000, sec. 4.2 (BA, Mini-32/64/128/256 and Manual,
#: each for SGD and momentum; Manual doubles the batch from 32 every quarter of the budget up to 256).
#: ``seed000-lr``: seed 000's fig. 4, BA-Momentum against Mini-32-Momentum at each learning rate of sec. 4.3
#: (:data:`SEED000_FIG4_LRS`); the loss and batch-size panels are the compare figure's.
PRESETS = ("seed000", "seed000-lr")
SEED000_FIG4_LRS = (0.005, 0.01, 0.02, 0.05)
#: The one learning rate of each preset when ``--lr`` is not given. Seed 000 sec. 4.2 names no rate for its
#: twelve methods and compares BA-Momentum with Mini-32-Momentum at equal rates in sec. 4.3 (0.005, 0.01,
#: 0.02, 0.05); every row therefore uses the same rate, 0.01 (a rate of sec. 4.3 at which both behave).
PRESET_LR = {"seed000": 0.01}


def preset_algos(name: str, budget_epochs: float) -> list[str]:
    """The algorithm specs of preset ``name`` (see :data:`PRESETS`) for a budget of ``budget_epochs``."""
    if name not in PRESETS:
        raise ValueError(f"Invalid preset: {name!r} (expected one of {', '.join(PRESETS)})")
    if name == "seed000-lr":
        return [
            spec
            for lr in SEED000_FIG4_LRS
            for spec in (f"ba-momentum:lr={lr:g}", f"momentum:batch_size=32:lr={lr:g}")
        ]
    quarter = f"{budget_epochs / 4:g}"
    specs = []
    for ba, fixed, optimizer in (("ba-sgd", "sgd", "sgd"), ("ba-momentum", "momentum", "momentum")):
        specs.append(ba)
        specs += [f"{fixed}:batch_size={b}" for b in (32, 64, 128, 256)]
        specs.append(f"manual:optimizer={optimizer}:batch_size=32:max_batch_size=256:every_epochs={quarter}")
    return specs


def split_algo_specs(text: str) -> list[str]:
    """``--algos`` text -> specs (see the module docstring for the syntax). Empty items are kept (as ``""``) so
    that the caller can reject them."""
    if ";" in text:
        return [item.strip() for item in text.split(";")]
    names = {info.name for info in list_algorithms()}
    specs: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        continues = specs and "=" in specs[-1] and item and item.split(":")[0] not in names
        if continues:
            specs[-1] += "," + item
        else:
            specs.append(item)
    return specs


def parse_algo_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``"name:key=value:key=value"`` -> (algorithm name, hyperparameter overrides)."""
    name, *items = spec.split(":")
    return name.strip(), dict(parse_hparam(item, "algorithm spec item") for item in items)


def _resolved(spec: str) -> tuple[str, dict[str, Any]]:
    name, own = parse_algo_spec(spec)
    return name, resolve_hparams(get_algorithm(name), own)


def display_name(spec: str, differing: Sequence[str] = ()) -> str:
    """Seed 000's name of a spec (``Mini-32-SGD``, ``Manual-Momentum``, ``BA-SGD``) plus the ``differing``
    hyperparameters that the name does not state (``Mini-32-SGD (lr=0.1)``)."""
    return _display(*_resolved(spec), differing)


def _slug(text: str) -> str:
    """A readable folder name: ``Mini-32-SGD (lr=0.1)`` -> ``Mini-32-SGD_lr0.1``."""
    text = text.replace(" (", "_").replace(")", "").replace(", ", "_").replace("=", "")
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-") or "run"


def _momentum_free(name: str, hp: Mapping[str, Any]) -> bool:
    return resolve_hparams(get_algorithm(name), {k: v for k, v in hp.items() if k == "optimizer"}).get(
        "optimizer"
    ) in ("sgd", "adam")


def _algo_layer(spec: str, hp: Mapping[str, Any]) -> dict[str, Any]:
    """The shared ``--hp`` settings that this algorithm accepts (the others are for other algorithms; a shared
    momentum skips optimizers without one), then the spec's own overrides (``lr`` and ``batch_size`` at the top
    level, so that they win over shared flags)."""
    algo, own = parse_algo_spec(spec)
    accepted = get_algorithm(algo).defaults
    shared = {k: v for k, v in hp.items() if k in accepted}
    if "momentum" in shared and "momentum" not in own and _momentum_free(algo, {**shared, **own}):
        del shared["momentum"]
    layer: dict[str, Any] = {"algo": algo, "hp": shared}
    for key, value in own.items():
        if key in ("lr", "batch_size"):
            layer[key] = value
        else:
            layer["hp"][key] = value
    return layer


def _check_hp_used(algos: Sequence[str], hp: Mapping[str, Any]) -> None:
    names = [parse_algo_spec(a)[0] for a in algos]
    for key in hp:
        if not any(key in get_algorithm(a).defaults for a in names):
            raise ValueError(
                f"Invalid hyperparameter: {key!r} (no algorithm of {', '.join(names)} accepts it)"
            )


def _check_buildable(config: TrainConfig) -> None:
    """Build the algorithm on a stand-in parameter: every hyperparameter value is checked without data."""
    import torch

    get_algorithm(config.algo).build([torch.nn.Parameter(torch.zeros(1))], config.algo_overrides())


def plan_grid(
    algos: Sequence[str],
    seeds: Sequence[int],
    layers: Sequence[Mapping[str, Any]],
    out_dir: str | Path | None = None,
    preset: str | None = None,
) -> dict[str, Any]:
    """Validate the whole grid and name its runs, without training anything.

    Returns:
        ``{"base": TrainConfig, "grid_dir": Path, "labels": {spec: label}, "differing": [keys],
        "configs": {(spec, seed): TrainConfig}}``.

    Raises:
        ValueError: any bad spec, hyperparameter or seed of the grid (one line).
    """
    if not algos or not seeds:
        raise ValueError(
            f"Invalid grid: algos={list(algos)!r} seeds={list(seeds)!r} (expected both non-empty)"
        )
    layers = [split_layer(layer) for layer in layers]
    base = make_config(*layers)
    hp = dict(base.hp)
    for spec in algos:
        parse_algo_spec(spec)  # a malformed item is named before the algorithm is looked up
    _check_hp_used(algos, hp)
    grid_dir = Path(out_dir or base.out_dir or f"runs/compare-{base.model}-{base.dataset}")
    without_hp = [{k: v for k, v in layer.items() if k != "hp"} for layer in layers]
    preset_layer = {"lr": PRESET_LR[preset]} if preset in PRESET_LR else {}
    configs: dict[tuple[str, int], TrainConfig] = {}
    for spec in algos:
        for seed in seeds:
            config = make_config(preset_layer, *without_hp, _algo_layer(spec, hp), {"seed": seed})
            _check_buildable(config)
            configs[(spec, seed)] = config
    resolved = [
        (
            configs[(a, seeds[0])].algo,
            resolve_hparams(
                get_algorithm(configs[(a, seeds[0])].algo), configs[(a, seeds[0])].algo_overrides()
            ),
        )
        for a in algos
    ]
    seen: dict[str, str] = {}
    for spec, (name, hp_) in zip(algos, resolved):  # e.g. sgd;sgd:lr=0.05 when 0.05 is sgd's default
        key = json.dumps([name, hp_], sort_keys=True, default=str)
        if key in seen:
            raise ValueError(
                f"Invalid algos: {seen[key]!r} and {spec!r} are the same run (expected distinct settings; "
                f"the second repeats every hyperparameter of the first)"
            )
        seen[key] = spec
    differing = [k for k in differing_keys(resolved) if k != "seed"]
    # Batch size and optimizer that differ between rows: named by seed 000's labels (Mini-32-SGD), so they are
    # added to the others' (increase-batch (batch_size=128, optimizer=momentum)).
    unstated = [k for k in _UNSTATED_KEYS if len({json.dumps(hp_.get(k)) for _, hp_ in resolved}) > 1]
    labels = {
        a: _display(name, hp_, [k for k in keys if k != "seed"] + ([] if _named(name, hp_) else unstated))
        for a, (name, hp_), keys in zip(algos, resolved, entry_keys(resolved))
    }
    slugs: dict[str, str] = {}
    for spec, label in labels.items():
        slug, n = _slug(label), 2
        while slug in slugs.values():
            slug, n = f"{_slug(label)}-{n}", n + 1
        slugs[spec] = slug
    configs = {
        (a, s): make_config(
            c.to_dict(),
            {
                "progress": base.progress,
                "overwrite": base.overwrite,
                "out_dir": str(grid_dir / slugs[a] / f"seed{s}"),
            },
        )
        for (a, s), c in configs.items()
    }
    return {
        "base": base,
        "grid_dir": grid_dir,
        "labels": labels,
        "differing": differing,
        "configs": configs,
        "hparams": dict(zip(algos, (hp_ for _, hp_ in resolved))),
    }


def check_runnable(plan: Mapping[str, Any]) -> None:
    """Build every spec's run once on the real model and data, statistics included, writing nothing.

    :func:`plan_grid` checks the settings without data; what depends on the model (a full-covariance statistic
    of a large model, BatchNorm under per-sample statistics, a layer-wise optimizer) is refused here, so a grid
    never stops at its 7th run after six have trained. The data is loaded once for the whole grid.

    Raises:
        ValueError: the first spec that cannot run, in one line.
    """
    import torch

    import realnets.data as data
    from realnets.engine.loop import Run, resolve_device

    first: dict[str, TrainConfig] = {}
    for (spec, _seed), config in plan["configs"].items():
        first.setdefault(spec, config)
    real_load, loaded = data.load_dataset, {}

    def load_once(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if key not in loaded:
            loaded[key] = real_load(*args, **kwargs)
        return loaded[key]

    data.load_dataset = load_once
    try:
        for config in first.values():
            device = resolve_device(config.device)
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                Run(config, device, config.run_dir()).trainer.check_statistics()
    finally:
        data.load_dataset = real_load


_UNSTATED_KEYS = ("batch_size", "optimizer")


def _named(name: str, hp: Mapping[str, Any]) -> bool:
    """Whether seed 000's label of the algorithm states its batch size and optimizer (BA-, Mini-, Manual-)."""
    return algo_label(name, hp) != name


def _display(name: str, hp: Mapping[str, Any], differing: Sequence[str]) -> str:
    label = algo_label(name, hp)
    stated = {"batch_size"} if label.startswith("Mini-") else set()
    shown = [
        f"{k}={format_value(hp[k])}"
        for k in dict.fromkeys(differing)
        if k in hp and k not in stated and hp[k] is not None
    ]
    return f"{label} ({', '.join(shown)})" if shown else label


def run_compare(
    algos: Sequence[str],
    seeds: Sequence[int],
    layers: Sequence[Mapping[str, Any]],
    out_dir: str | Path | None = None,
    preset: str | None = None,
    log=None,
) -> dict[str, Any]:
    """Train every (algorithm, seed) pair and write ``compare.json`` and ``compare.png``.

    Args:
        algos: registered algorithm names, or specs ``"name:key=value:..."`` with per-algorithm overrides
            (e.g. ``"sgd:batch_size=64"``; see :func:`preset_algos`).
        seeds: seeds, the same for every algorithm.
        layers: settings layers shared by all runs (config file, flags); ``out_dir`` there is the grid's
            folder, each run goes to ``<out_dir>/<label>/seed<seed>`` (label as in the table: ``Mini-64-SGD``).
        out_dir: overrides the grid folder.
        preset: the preset the specs come from (its learning rate applies unless ``lr`` is set).
        log: ``print``-like callable for the "run 3/12: Mini-64-SGD, seed 0" lines (default: stderr).

    Returns:
        ``{"rows": per-algorithm summaries, "json": path, "figure": path, "differing": keys}``.
    """
    plan = plan_grid(algos, seeds, layers, out_dir, preset)
    check_runnable(plan)
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    results = {}
    total = len(plan["configs"])
    for index, ((spec, seed), config) in enumerate(plan["configs"].items(), start=1):
        log(f"run {index}/{total}: {plan['labels'][spec]}, seed {seed} -> {config.run_dir()}")
        results[(spec, seed)] = train(config, plots=False)
    rows = summarize(algos, seeds, results, plan["labels"], plan["hparams"], plan["differing"])
    base, grid_dir = plan["base"], plan["grid_dir"]
    grid_dir.mkdir(parents=True, exist_ok=True)
    for row in rows:  # relative to the grid folder, in table order (``realnets plot GRID`` keeps it)
        row["run_dirs"] = [os.path.relpath(results[(row["spec"], s)].run_dir, grid_dir) for s in seeds]
    json_path = grid_dir / "compare.json"
    _write_json_atomic(
        json_path,
        {
            "rows": rows,
            "budget_epochs": base.budget_epochs,
            "dataset": base.dataset,
            "model": base.model,
            "seeds": list(seeds),
            "differing": plan["differing"],
            "spread": "sample standard deviation over seeds",
        },
    )
    groups = {plan["labels"][a]: [results[(a, s)].run_dir for s in seeds] for a in algos}
    diverged = {plan["labels"][a]: any(results[(a, s)].status == "diverged" for s in seeds) for a in algos}
    lr_note = _lr_note(rows)
    figure = plot_compare(
        groups,
        grid_dir / "compare.png",
        diverged=diverged,
        title=f"{base.model} on {base.dataset}, {base.budget_epochs:g} epochs, "
        f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}{lr_note}",
    )
    return {"rows": rows, "json": json_path, "figure": figure, "differing": plan["differing"]}


def _lr_note(rows: Sequence[Mapping[str, Any]]) -> str:
    rates = {row["hparams"].get("lr") for row in rows}
    return f", learning rate {format_value(rates.pop())} for all" if len(rates) == 1 else ""


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _best_test_acc(run_dir: Path) -> float | None:
    _, epochs = load_metrics(run_dir)
    accs = [r["test_acc"] for r in epochs if isinstance(r.get("test_acc"), (int, float))]
    return max(accs) if accs else None


def _timing(run_dir: Path, n_train: int | None, ba: bool) -> dict[str, Any]:
    """Seed 000 sec. 4.4's two points of one run (definitions in :mod:`realnets.boom`): the start of the
    batch-size boom (BA runs only) and where the full training loss stops falling."""
    steps, epochs = load_metrics(run_dir)
    n = n_train or 1
    boom = boom_period(steps, n) if ba and n_train else None
    flat = loss_plateau(epochs, n) if n_train else None
    return {
        "boom_start_update": boom and boom["start_update"],
        "boom_start_epoch": boom and boom["start_epoch"],
        "loss_flat_update": flat and flat["update"],
        "loss_flat_epoch": flat and flat["epoch"],
    }


def _mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(
    algos: Sequence[str],
    seeds: Sequence[int],
    results: Mapping,
    labels: Mapping[str, str] | None = None,
    hparams: Mapping[str, Mapping[str, Any]] | None = None,
    differing: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Per algorithm: mean and sample standard deviation over seeds of the final training loss, the best and
    the final test accuracy (fractions in the JSON; the table prints %) and the updates; and seed 000 sec.
    4.4's timing (:mod:`realnets.boom`): ``boom_start_update``/``_epoch`` for BA runs and
    ``loss_flat_update``/``_epoch`` for every run, each over the seeds where the point exists (counted in
    ``boom_seeds`` and ``loss_flat_seeds``)."""
    rows = []
    for algo in algos:
        runs = [results[(algo, s)] for s in seeds]
        hp = dict((hparams or {}).get(algo) or runs[0].summary.get("hparams") or {})
        row: dict[str, Any] = {
            "algo": (labels or {}).get(algo, algo),
            "spec": algo,
            "seeds": len(seeds),
            "diverged": sum(r.status != "finished" for r in runs),
            "hparams": hp,
            "differing": {k: hp.get(k) for k in differing},
        }
        for key in ("final_train_loss", "final_test_acc", "steps"):
            row[key], row[key + "_std"] = _mean_std([r.summary.get(key) for r in runs])
        row["best_test_acc"], row["best_test_acc_std"] = _mean_std([_best_test_acc(r.run_dir) for r in runs])
        ba = str(row["algo"]).startswith("BA-") or parse_algo_spec(algo)[0].startswith("ba-")
        timings = [_timing(r.run_dir, r.summary.get("n_train"), ba) for r in runs]
        for key in ("boom_start_update", "boom_start_epoch", "loss_flat_update", "loss_flat_epoch"):
            row[key], row[key + "_std"] = _mean_std([t[key] for t in timings])
        row["boom_seeds"] = sum(t["boom_start_update"] is not None for t in timings) if ba else None
        row["loss_flat_seeds"] = sum(t["loss_flat_update"] is not None for t in timings)
        rows.append(row)
    return rows


def _cell(mean: float | None, std: float | None, fmt: str, scale: float = 1.0) -> str:
    """``mean ± std``, both to the decimal of the spread's second significant digit (``2.2660 ± 0.0034``,
    not ``2.266 ± 0.003379``); ``fmt`` when there is no spread."""
    if mean is None:
        return "-"
    mean, std = scale * mean, scale * (std or 0.0)
    if std > 0 and math.isfinite(std) and math.isfinite(mean):
        decimals = max(0, 1 - math.floor(math.log10(std)))
        return f"{mean:.{decimals}f} ± {std:.{decimals}f}"
    return f"{mean:{fmt}} ± {std:{fmt}}"


def _hp_cell(row: Mapping[str, Any], key: str) -> str:
    """A hyperparameter as the table shows it: ``-`` where the algorithm has none; batch sizes that change say
    how (``adaptive`` for BA, ``32..256`` for a schedule with a cap)."""
    hp = row.get("hparams", {})
    value = hp.get(key)
    if key == "momentum" and hp.get("optimizer") in ("sgd", "adam"):
        return "-"  # the default momentum is carried in hp but plain SGD and Adam do not use it
    if key == "batch_size":
        if str(row.get("algo", "")).startswith("BA-"):
            return "adaptive"
        if value and hp.get("max_batch_size"):
            return f"{value}..{hp['max_batch_size']}"
    return "-" if value is None else format_value(value)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table: algorithm, differing hyperparameters, final training loss, best and final test
    accuracy (%), updates (each mean ± sample std over seeds), diverged seeds."""
    keys = list(dict.fromkeys(k for r in rows for k in r.get("differing", {})))
    if "lr" not in keys:
        keys.insert(0, "lr")
    # every hyperparameter that differs between rows, also where the labels state it for some of them
    keys += [
        k for k in (*_UNSTATED_KEYS, "momentum") if k not in keys and len({_hp_cell(r, k) for r in rows}) > 1
    ]
    seeds = max((r["seeds"] for r in rows), default=0)
    width = max([len("algorithm")] + [len(str(r["algo"])) for r in rows])
    key_width = {
        k: max(len(k), *(len(format_value(r.get("hparams", {}).get(k, "-"))) for r in rows)) for k in keys
    }
    header = (
        f"{'algorithm':<{width}} "
        + " ".join(f"{k:>{key_width[k]}}" for k in keys)
        + f" {'train loss':>21} {'best test acc %':>16} {'final test acc %':>17} {'updates':>16}  diverged"
    )
    lines = [
        f"mean ± sample standard deviation over {seeds} seed{'s' if seeds != 1 else ''}; "
        f"best test acc: the highest after any epoch (seed 000, Table 1)",
        header,
        "-" * len(header),
    ]
    for r in rows:
        values = " ".join(f"{_hp_cell(r, k):>{key_width[k]}}" for k in keys)
        mark = f"{r['diverged']}/{r['seeds']}" + ("  DIVERGED" if r["diverged"] else "")
        lines.append(
            f"{r['algo']:<{width}} {values} {_cell(r['final_train_loss'], r['final_train_loss_std'], '.4g'):>21} "
            f"{_cell(r.get('best_test_acc'), r.get('best_test_acc_std'), '.2f', 100):>16} "
            f"{_cell(r['final_test_acc'], r['final_test_acc_std'], '.2f', 100):>17} "
            f"{_cell(r['steps'], r['steps_std'], '.0f'):>16}  {mark}"
        )
    return "\n".join(lines + _timing_footer(rows))


def _timing_footer(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Seed 000 sec. 4.4 / fig. 5 under the table: when each BA run's batch-size boom starts and when each
    run's training loss stops falling (update and epoch, mean ± std over the seeds that have the point)."""
    lines = []
    for key, seeds_key, title in (
        ("boom_start", "boom_seeds", "batch-size boom starts"),
        ("loss_flat", "loss_flat_seeds", "training loss stops falling"),
    ):
        cells = []
        for r in rows:
            found, total = r.get(seeds_key), r.get("seeds", 0)
            if found is None:
                continue
            if not found:
                cells.append(f"  {r['algo']}: none in {total} seed{'s' if total != 1 else ''}")
                continue
            update = _cell(r.get(f"{key}_update"), r.get(f"{key}_update_std"), ".0f")
            epoch = _cell(r.get(f"{key}_epoch"), r.get(f"{key}_epoch_std"), ".1f")
            cells.append(f"  {r['algo']}: update {update}, epoch {epoch} ({found}/{total} seeds)")
        if cells:
            lines += ["", f"{title} ({_TIMING_DEFINITIONS[key]}):", *cells]
    return lines


#: One line each; the definitions are those of :mod:`realnets.boom` (seed 000, sec. 4.4 and fig. 5).
_TIMING_DEFINITIONS = {
    "boom_start": "start of the period in which batches above the early median are most concentrated, "
    "seed 000 sec. 4.4",
    "loss_flat": f"first epoch after which the full training loss never falls below 1/{PLATEAU_FACTOR:g} of it "
    f"again, with {PLATEAU_TAIL:.0%} of the budget after it; none: still falling",
}

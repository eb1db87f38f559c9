"""``realnets compare``: a grid of algorithms x seeds on one task with the same sample budget.

Every run gets the same dataset, model and budget in samples, so the comparison is at equal epochs of data
(seed 000, sec. 4.2). The table gives, per algorithm, the mean and sample standard deviation over seeds of
the final full training loss, the test accuracy and the number of updates; the figure is seed 000's
fig. 1 (training loss per epoch, mean over seeds with the min-max band).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from realnets.config import make_config
from realnets.engine import train
from realnets.plots import load_metrics, plot_compare
from realnets.registry import get_algorithm

__all__ = ["PRESETS", "display_name", "format_table", "parse_algo_spec", "preset_algos", "run_compare", "summarize"]

#: Named grids. ``seed000``: the twelve algorithms of seed 000, sec. 4.2 (BA, Mini-32/64/128/256 and Manual,
#: each for SGD and momentum; Manual doubles the batch from 32 every quarter of the budget up to 256).
PRESETS = ("seed000",)


def preset_algos(name: str, budget_epochs: float) -> list[str]:
    """The algorithm specs of preset ``name`` (see :data:`PRESETS`) for a budget of ``budget_epochs``."""
    if name not in PRESETS:
        raise ValueError(f"Invalid preset: {name!r} (expected one of {', '.join(PRESETS)})")
    quarter = f"{budget_epochs / 4:g}"
    specs = []
    for ba, fixed, optimizer in (("ba-sgd", "sgd", "sgd"), ("ba-momentum", "momentum", "momentum")):
        specs.append(ba)
        specs += [f"{fixed}:batch_size={b}" for b in (32, 64, 128, 256)]
        specs.append(f"manual:optimizer={optimizer}:batch_size=32:max_batch_size=256:every_epochs={quarter}")
    return specs


def display_name(spec: str) -> str:
    """Seed 000's names for the preset's specs (``Mini-32-SGD``, ``Manual-Momentum``, ``BA-SGD``); else the spec."""
    name, own = parse_algo_spec(spec)
    kind = {"sgd": "SGD", "momentum": "Momentum"}
    if name in ("ba-sgd", "ba-momentum") and not own:
        return "BA-" + kind[name[3:]]
    if name in kind and set(own) == {"batch_size"}:
        return f"Mini-{own['batch_size']}-{kind[name]}"
    if name == "manual" and own.get("optimizer") in kind:
        return f"Manual-{kind[own['optimizer']]}"
    return spec


def parse_algo_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``"name:key=value:key=value"`` -> (algorithm name, hyperparameter overrides)."""
    from realnets.config import parse_hparam

    name, *items = spec.split(":")
    return name, dict(parse_hparam(item) for item in items)


def _algo_layer(spec: str, hp: Mapping[str, Any]) -> dict[str, Any]:
    """The shared ``--hp`` settings that this algorithm accepts (the others are for other algorithms), then the
    spec's own overrides (``lr`` and ``batch_size`` at the top level, so that they win over shared flags)."""
    algo, own = parse_algo_spec(spec)
    accepted = get_algorithm(algo).defaults
    layer: dict[str, Any] = {"algo": algo, "hp": {k: v for k, v in hp.items() if k in accepted}}
    for key, value in own.items():
        if key in ("lr", "batch_size"):
            layer[key] = value
        else:
            layer["hp"][key] = value
    return layer


def _run_name(spec: str) -> str:
    return spec.replace(":", "_").replace("=", "")


def _check_hp_used(algos: Sequence[str], hp: Mapping[str, Any]) -> None:
    names = [parse_algo_spec(a)[0] for a in algos]
    for key in hp:
        if not any(key in get_algorithm(a).defaults for a in names):
            raise ValueError(f"Invalid hyperparameter: {key!r} (no algorithm of {', '.join(names)} accepts it)")


def run_compare(algos: Sequence[str], seeds: Sequence[int], layers: Sequence[Mapping[str, Any]],
                out_dir: str | Path | None = None) -> dict[str, Any]:
    """Train every (algorithm, seed) pair and write ``compare.json`` and ``compare.png``.

    Args:
        algos: registered algorithm names, or specs ``"name:key=value:..."`` with per-algorithm overrides
            (e.g. ``"sgd:batch_size=64"``; see :func:`preset_algos`).
        seeds: seeds, the same for every algorithm.
        layers: settings layers shared by all runs (config file, flags); ``out_dir`` there is the grid's
            folder, each run goes to ``<out_dir>/<algo>/seed<seed>``.
        out_dir: overrides the grid folder.

    Returns:
        ``{"rows": per-algorithm summaries, "json": path, "figure": path}``.
    """
    if not algos or not seeds:
        raise ValueError(f"Invalid grid: algos={list(algos)!r} seeds={list(seeds)!r} (expected both non-empty)")
    base = make_config(*layers)
    hp = dict(base.hp)
    _check_hp_used(algos, hp)
    grid_dir = Path(out_dir or base.out_dir or f"runs/compare-{base.model}-{base.dataset}")
    without_hp = [{k: v for k, v in layer.items() if k != "hp"} for layer in layers]
    configs = {(a, s): make_config(*without_hp, _algo_layer(a, hp),
                                   {"seed": s, "out_dir": str(grid_dir / _run_name(a) / f"seed{s}")})
               for a in algos for s in seeds}
    results = {key: train(config, plots=False) for key, config in configs.items()}
    rows = summarize(algos, seeds, results)
    curves = {display_name(a): [_loss_curve(results[(a, s)].run_dir) for s in seeds] for a in algos}
    grid_dir.mkdir(parents=True, exist_ok=True)
    json_path = grid_dir / "compare.json"
    json_path.write_text(json.dumps({"rows": rows, "budget_epochs": base.budget_epochs,
                                     "dataset": base.dataset, "model": base.model}, indent=2) + "\n")
    figure = plot_compare(curves, grid_dir / "compare.png",
                          title=f"{base.model} on {base.dataset}, {base.budget_epochs:g} epochs, {len(seeds)} seeds")
    return {"rows": rows, "json": json_path, "figure": figure}


def _loss_curve(run_dir: Path) -> list[tuple[float, float]]:
    _, epochs = load_metrics(run_dir)
    return [(r["epoch"], r["train_loss"]) for r in epochs]


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(algos: Sequence[str], seeds: Sequence[int], results: Mapping) -> list[dict[str, Any]]:
    """Per algorithm: mean and sample standard deviation over seeds of the final numbers."""
    rows = []
    for algo in algos:
        runs = [results[(algo, s)] for s in seeds]
        row: dict[str, Any] = {"algo": display_name(algo), "spec": algo, "seeds": len(seeds),
                               "diverged": sum(r.status != "finished" for r in runs)}
        for key in ("final_train_loss", "final_test_acc", "steps"):
            row[key], row[key + "_std"] = _mean_std([r.summary.get(key) for r in runs])
        rows.append(row)
    return rows


def _cell(mean: float | None, std: float | None, fmt: str) -> str:
    return "-" if mean is None else f"{mean:{fmt}} ± {std:{fmt}}"


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table: algorithm, final training loss, test accuracy, updates (mean ± std)."""
    width = max([len("algorithm")] + [len(str(r["algo"])) for r in rows])
    header = f"{'algorithm':<{width}} {'train loss':>22} {'test acc':>20} {'updates':>20}  diverged"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['algo']:<{width}} {_cell(r['final_train_loss'], r['final_train_loss_std'], '.4g'):>22} "
                     f"{_cell(r['final_test_acc'], r['final_test_acc_std'], '.4f'):>20} "
                     f"{_cell(r['steps'], r['steps_std'], '.0f'):>20}  {r['diverged']}/{r['seeds']}")
    return "\n".join(lines)

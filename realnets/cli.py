"""The ``realnets`` command line: train, list, compare, plot, env, bench.

``main(argv) -> int`` is callable in-process. Exit codes: 0 success, 1 runtime failure (a diverged run),
2 bad input (a flag, a config value, a file), always as one line on stderr, never a traceback.
Precedence of settings: defaults < ``--config`` file (TOML or JSON) < command-line flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from realnets.data.download import DataUnavailableError

__all__ = ["main"]

SUPPRESS = argparse.SUPPRESS


class UsageError(Exception):
    """Bad command-line input; reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the usage block and exit; we want one line
        raise UsageError(message)


def _key_value(text: str) -> tuple[str, Any]:
    from realnets.config import parse_hparam

    try:
        return parse_hparam(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _number(kind):
    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None

    parse.__name__ = kind.__name__
    return parse


# (flag, config key, type, help): settings that map straight onto TrainConfig fields.
_RUN_FLAGS = (
    ("--algo", "algo", str, "training algorithm, see `realnets list` (default: momentum)"),
    ("--model", "model", str, "model name (default: mlp)"),
    ("--dataset", "dataset", str, "dataset name (default: digits, embedded)"),
    ("--data-dir", "data_dir", str, "folder for downloaded datasets (default: the data package's)"),
    ("--seed", "seed", _number(int), "random seed (default: 0)"),
    ("--device", "device", str, "auto, cpu or cuda (default: auto)"),
    ("--budget-epochs", "budget_epochs", _number(float), "sample budget in epochs (default: 20)"),
    ("--lr", "lr", _number(float), "learning rate (default: the algorithm's)"),
    ("--batch-size", "batch_size", _number(int), "(initial) batch size (default: the algorithm's)"),
    ("--out-dir", "out_dir", str, "run directory (default: runs/<algo>-<model>-<dataset>-seed<seed>)"),
    ("--checkpoint-every", "checkpoint_every", _number(int), "checkpoint every N epochs, 0: end only (default: 1)"),
)
# Named shortcuts for common algorithm hyperparameters (all others: --hp key=value).
_HP_FLAGS = (
    ("--optimizer", "optimizer", str, "sgd, momentum, nesterov or adam (default: the algorithm's)"),
    ("--momentum", "momentum", _number(float), "momentum coefficient m (default: 0.9)"),
    ("--weight-decay", "weight_decay", _number(float), "L2 weight decay (default: 0)"),
    ("--max-batch-size", "max_batch_size", _number(int), "largest batch size (schedules; default: the algorithm's)"),
    ("--milestones", "milestones", str, "epochs of the schedule steps, e.g. 6,12,16 (default: the algorithm's)"),
    ("--factor", "factor", _number(float), "schedule factor per milestone (default: 5)"),
    ("--m0", "m0", _number(int), "BA-SGD/BA-Momentum sampling step m0 (default: 32)"),
    ("--s-star", "s_star", _number(float), "BA: the lowest reachable loss S* (default: 0)"),
    ("--stat", "stat", str, "BA gradient-noise statistic: exact, diag or full (default: exact)"),
)


def _add_run_options(parser: argparse.ArgumentParser, hp_flags: bool = True) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--config", metavar="FILE", default=SUPPRESS, help="TOML or JSON settings; flags override")
    for flag, dest, kind, text in _RUN_FLAGS:
        group.add_argument(flag, dest=dest, type=kind, default=SUPPRESS, help=text)
    group.add_argument("--ghost-batch-size", dest="ghost_batch_size", type=_number(int), default=SUPPRESS,
                       help="ghost batch-norm size for models with BatchNorm (default: the model's)")
    group.add_argument("--model-option", dest="model_option", type=_key_value, action="append", default=SUPPRESS,
                       metavar="KEY=VALUE", help="model option, e.g. width=64 (repeatable)")
    group.add_argument("--dataset-option", dest="dataset_option", type=_key_value, action="append",
                       default=SUPPRESS, metavar="KEY=VALUE", help="dataset option, e.g. num_train=500 (repeatable)")
    group.add_argument("--no-progress", dest="progress", action="store_false", default=SUPPRESS,
                       help="no progress bar")
    if hp_flags:
        algo = parser.add_argument_group("algorithm hyperparameters")
        for flag, dest, kind, text in _HP_FLAGS:
            algo.add_argument(flag, dest=f"hp_{dest}", type=kind, default=SUPPRESS, help=text)
    parser.add_argument("--hp", dest="hp", type=_key_value, action="append", default=SUPPRESS,
                        metavar="KEY=VALUE", help="algorithm hyperparameter, e.g. every_epochs=5 (repeatable)")


def _layers_from_args(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The settings layers: config file first, then the flags the user actually passed."""
    from realnets.config import load_config_file

    given = vars(args)
    layers = [load_config_file(given["config"])] if "config" in given else []
    flags: dict[str, Any] = {dest: given[dest] for _, dest, _, _ in _RUN_FLAGS if dest in given}
    if "progress" in given:
        flags["progress"] = given["progress"]
    hp = {key[3:]: value for key, value in given.items() if key.startswith("hp_")}
    hp.update(dict(given.get("hp", [])))
    if hp:
        flags["hp"] = hp
    options = dict(given.get("model_option", []))
    if "ghost_batch_size" in given:
        options["ghost_batch_size"] = given["ghost_batch_size"]
    if options:
        flags["model_options"] = options
    if "dataset_option" in given:
        flags["dataset_options"] = dict(given["dataset_option"])
    return [*layers, flags]


# -- train ---------------------------------------------------------------------------------------------
def _add_train(subparsers) -> None:
    p = subparsers.add_parser("train", help="train one model with one algorithm",
                              description="Train a model; writes config.json, metrics.jsonl, summary.json, "
                                          "env.json, plots and checkpoints to the run directory.")
    _add_run_options(p)
    p.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="PATH",
                   help="continue from a checkpoint (a run directory or checkpoint.pt; default: --out-dir)")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the plots at the end")
    p.set_defaults(func=_cmd_train)


def _resolved_config(config) -> dict[str, Any]:
    import torch

    from realnets.registry import get_algorithm, resolve_hparams

    info = get_algorithm(config.algo)
    # Building on a stand-in parameter validates every hyperparameter value before any data is loaded.
    info.build([torch.nn.Parameter(torch.zeros(1))], config.algo_overrides())
    return {**config.to_dict(), "hp": resolve_hparams(info, config.algo_overrides()),
            "out_dir": str(config.run_dir())}


def _cmd_train(args: argparse.Namespace) -> int:
    from realnets.config import make_config
    from realnets.engine import resume, train

    config = make_config(*_layers_from_args(args))
    if args.print_config:
        print(json.dumps(_resolved_config(config), indent=2))
        return 0
    if args.resume is not None:
        result = resume(args.resume or config.run_dir(), device=vars(args).get("device"), plots=args.plots)
    else:
        _resolved_config(config)  # reject a bad algorithm name or hyperparameter before any work
        result = train(config, plots=args.plots)
    if result.status != "finished":
        print(f"realnets: {result.message}", file=sys.stderr)
        return 1
    _print_summary(result.summary, result.run_dir)
    return 0


def _print_summary(summary: dict[str, Any], run_dir) -> None:
    acc = summary.get("final_test_acc")
    acc_text = f"  test acc {100 * acc:.2f}%" if acc is not None else ""
    print(f"{summary['algo']} on {summary['dataset']} ({summary['model']}, seed {summary['seed']}, "
          f"{summary['device']}): {summary['epochs']:.2f} epochs, {summary['steps']} updates, "
          f"{summary['wall_time']:.1f}s")
    print(f"  train loss {summary['final_train_loss']:.4g}  test loss {summary['final_test_loss']:.4g}{acc_text}")
    print(f"  run directory: {run_dir}")


# -- list ----------------------------------------------------------------------------------------------
def _add_list(subparsers) -> None:
    p = subparsers.add_parser("list", help="list algorithms, models and datasets")
    p.add_argument("what", nargs="?", choices=("all", "algorithms", "models", "datasets"), default="all")
    p.set_defaults(func=_cmd_list)


def _cmd_list(args: argparse.Namespace) -> int:
    from realnets.data import list_datasets
    from realnets.models import list_models
    from realnets.registry import list_algorithms

    sections = {
        "algorithms": [(a.name, a.description) for a in list_algorithms()],
        "models": list_models(),
        "datasets": list_datasets(),
    }
    for title, rows in sections.items():
        if args.what not in ("all", title):
            continue
        print(f"{title}:")
        width = max(len(name) for name, _ in rows)
        for name, description in rows:
            print(f"  {name:<{width}}  {description}")
    return 0


# -- compare -------------------------------------------------------------------------------------------
def _add_compare(subparsers) -> None:
    p = subparsers.add_parser("compare", help="grid of algorithms x seeds on one task, same sample budget")
    p.add_argument("--algos", default=None,
                   help="comma-separated algorithm names or specs name:key=value (e.g. sgd:batch_size=64)")
    p.add_argument("--preset", default=None, help="a named grid instead of --algos: seed000 (seed 000's twelve "
                   "algorithms: BA, Mini-32/64/128/256 and Manual, for SGD and momentum)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    _add_run_options(p, hp_flags=False)
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from realnets.compare import format_table, preset_algos, run_compare
    from realnets.config import make_config

    if (args.algos is None) == (args.preset is None):
        raise UsageError("give exactly one of --algos and --preset")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"Invalid seeds: {args.seeds!r} (expected comma-separated integers)") from None
    layers = _layers_from_args(args)
    if args.preset is not None:
        algos = preset_algos(args.preset, make_config(*layers).budget_epochs)
    else:
        algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    result = run_compare(algos, seeds, layers)
    print(format_table(result["rows"]))
    print(f"table: {result['json']}  figure: {result['figure']}")
    return 1 if any(r["diverged"] for r in result["rows"]) else 0


# -- plot, env, bench ----------------------------------------------------------------------------------
def _add_plot(subparsers) -> None:
    p = subparsers.add_parser("plot", help="plot one or more run directories into one figure")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", default=None, help="figure path (default: RUN_DIR/plots.png, or compare.png)")
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from realnets.plots import plot_runs

    out = args.out or (Path(args.run_dirs[0]) / "plots.png" if len(args.run_dirs) == 1 else "compare.png")
    print(plot_runs(args.run_dirs, out))
    return 0


def _add_env(subparsers) -> None:
    p = subparsers.add_parser("env", help="print versions, platform and devices (for bug reports)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_env)


def _cmd_env(args: argparse.Namespace) -> int:
    from realnets.envinfo import collect_env, format_env

    env = collect_env()
    print(json.dumps(env, indent=2) if args.json else format_env(env))
    return 0


def _add_bench(subparsers) -> None:
    p = subparsers.add_parser("bench", help="time the engine against a plain PyTorch loop")
    p.add_argument("--sections", default=None, help="comma-separated section names (default: all)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--repeats", type=_number(int), default=7, help="interleaved repetitions (default: 7)")
    p.add_argument("--out", default="bench.json", help="JSON output path (default: bench.json)")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from realnets.bench import format_results, run_bench

    sections = args.sections.split(",") if args.sections else None
    results = run_bench(sections=sections, device=args.device, repeats=args.repeats, out=args.out)
    print(format_results(results))
    print(f"written: {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="realnets", description="Real training with every batch-size algorithm of the papers.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_train, _add_list, _add_compare, _add_plot, _add_env, _add_bench):
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.func(args)
    except SystemExit as exit_:  # --help and friends
        return int(exit_.code or 0)
    except (UsageError, ValueError) as error:
        print(f"realnets: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except DataUnavailableError as error:  # offline, or a dataset file missing: not a bug, no traceback
        print(f"realnets: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("realnets: interrupted (resume with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

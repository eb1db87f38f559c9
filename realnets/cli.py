"""The ``realnets`` command line: train, list, compare, plot, env, bench.

``main(argv) -> int`` is callable in-process. Exit codes: 0 success, 1 runtime failure (a diverged run, an
unreachable dataset, out of memory, a file-system error mid-run), 2 bad input (a flag, a config value, a
file or folder), always as one line on stderr, never a traceback. Paths are checked before any data is
loaded, so a typo costs no training time. The progress bar is on by default only when stderr is a terminal.
Precedence of settings: defaults < ``--config`` file (TOML or JSON) < command-line flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from realnets.config import DEVICES, MAX_BATCH_SIZE
from realnets.data.download import DataUnavailableError

__all__ = ["main"]

SUPPRESS = argparse.SUPPRESS


class UsageError(Exception):
    """Bad command-line input; reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the usage block and exit; we want one line
        raise UsageError(_one_line_usage(message))


def _one_line_usage(message: str) -> str:
    """argparse's message, without its ``argument --flag:`` prefix when ours already names the value."""
    flag, sep, rest = message.partition(": ")
    if sep and flag.startswith("argument ") and rest.startswith("Invalid "):
        return rest
    if rest == "expected one argument":  # e.g. --milestones -1,3: argparse reads the value as a flag
        return f"{message} (write {flag[len('argument '):].split('/')[0]}=VALUE for a value starting with '-')"
    return message


def _key_value(name: str):
    def parse(text: str) -> tuple[str, Any]:
        from realnets.config import parse_hparam

        try:
            return parse_hparam(text, name)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


# Integer flags whose values are sample counts: beyond 2^31 samples they are typos (the algorithms would
# accept them and silently clamp to the data).
_SAMPLE_COUNTS = {"m0", "max_batch_size", "ghost_batch_size"}


def _number(kind, name: str):
    expected = "an integer" if kind is int else "a number"
    limit = MAX_BATCH_SIZE if name in _SAMPLE_COUNTS else None

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"Invalid {name}: {text!r} (expected {expected})") from None
        if limit is not None and value > limit:
            raise argparse.ArgumentTypeError(f"Invalid {name}: {value} (expected an integer <= {limit})")
        return value

    return parse


# (flag, config key, type, help): settings that map straight onto TrainConfig fields.
_RUN_FLAGS = (
    ("--algo", "algo", str, "training algorithm, see `realnets list` (default: momentum)"),
    ("--model", "model", str, "model name (default: mlp)"),
    ("--dataset", "dataset", str, "dataset name (default: digits, embedded)"),
    ("--data-dir", "data_dir", str, "folder for downloaded datasets (default: the data package's)"),
    ("--seed", "seed", int, "random seed (default: 0)"),
    ("--device", "device", str, "auto, cpu or cuda (default: auto)"),
    ("--budget-epochs", "budget_epochs", float, "sample budget in epochs (default: 20)"),
    ("--lr", "lr", float, "learning rate (default: the algorithm's)"),
    ("--batch-size", "batch_size", int, "(initial) batch size (default: the algorithm's)"),
    ("--out-dir", "out_dir", str, "run directory (default: runs/<algo>-<model>-<dataset>-seed<seed>)"),
    ("--checkpoint-every", "checkpoint_every", int, "checkpoint every N epochs, 0: end only (default: 1)"),
)
# Named shortcuts for common algorithm hyperparameters (all others: --hp key=value).
_HP_FLAGS = (
    ("--optimizer", "optimizer", str, "sgd, momentum, nesterov or adam (default: the algorithm's)"),
    ("--momentum", "momentum", float, "momentum coefficient m (default: 0.9)"),
    ("--weight-decay", "weight_decay", float, "L2 weight decay (default: 0)"),
    ("--max-batch-size", "max_batch_size", int, "largest batch size (schedules; default: the algorithm's)"),
    ("--milestones", "milestones", str, "epochs of the schedule steps, e.g. 6,12,16 (default: the algorithm's)"),
    ("--factor", "factor", float, "schedule factor per milestone (default: 5)"),
    ("--m0", "m0", int, "BA-SGD/BA-Momentum sampling step m0 (default: 32)"),
    ("--s-star", "s_star", float, "BA: the lowest reachable loss S* (default: 0)"),
    ("--stat", "stat", str, "BA gradient-noise statistic: exact, diag or full (default: exact)"),
)


def _typed(kind, name: str):
    return kind if kind is str else _number(kind, name)


def _metavar(flag: str, kind) -> str:
    """Short placeholders in the help (``--lr X``, ``--seed N``, ``--out-dir DIR``), not argparse's HP_LR."""
    return {int: "N", float: "X"}.get(kind) or flag.rsplit("-", 1)[-1].upper()


def _add_run_options(parser: argparse.ArgumentParser, hp_flags: bool = True) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--config", metavar="FILE", default=SUPPRESS, help="TOML or JSON settings; flags override")
    for flag, dest, kind, text in _RUN_FLAGS:
        group.add_argument(flag, dest=dest, type=_typed(kind, dest), default=SUPPRESS,
                           metavar=_metavar(flag, kind), help=text)
    group.add_argument("--ghost-batch-size", dest="ghost_batch_size", type=_number(int, "ghost_batch_size"),
                       default=SUPPRESS, metavar="N", help="ghost batch-norm size for models with BatchNorm (default: the model's)")
    group.add_argument("--model-option", dest="model_option", type=_key_value("model option"), action="append",
                       default=SUPPRESS, metavar="KEY=VALUE", help="model option, e.g. width=64 (repeatable)")
    group.add_argument("--dataset-option", dest="dataset_option", type=_key_value("dataset option"),
                       action="append", default=SUPPRESS, metavar="KEY=VALUE", help="dataset option, e.g. num_train=500 (repeatable)")
    group.add_argument("--no-progress", dest="progress", action="store_false", default=SUPPRESS,
                       help="no progress bar (default: a bar when stderr is a terminal)")
    if hp_flags:
        algo = parser.add_argument_group("algorithm hyperparameters")
        for flag, dest, kind, text in _HP_FLAGS:
            algo.add_argument(flag, dest=f"hp_{dest}", type=_typed(kind, dest), default=SUPPRESS,
                              metavar=_metavar(flag, kind), help=text)
    (algo if hp_flags else group).add_argument("--hp", dest="hp", type=_key_value("hp"), action="append", default=SUPPRESS,
                        metavar="KEY=VALUE", help="algorithm hyperparameter, e.g. every_epochs=5 (repeatable)")


def _layers_from_args(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The settings layers: config file first, then the flags the user actually passed."""
    from realnets.config import load_config_file

    given = vars(args)
    # A redrawn bar written to a log or a pipe piles up as one endless line; flags and files still win.
    layers: list[dict[str, Any]] = [{"progress": _stderr_is_terminal()}]
    if "config" in given:
        layers.append(load_config_file(given["config"]))
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


def _stderr_is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _check_folder(name: str, path: str | None, writable: bool = True) -> None:
    """A folder we may create files in: neither it nor any existing parent may be a file, and (``writable``)
    the nearest existing one must be writable, so that a run does not fail after its data is loaded."""
    import os
    from pathlib import Path

    if path is None:
        return
    folder = Path(path).absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"Invalid {name}: {path!r} (expected a folder; {str(existing)!r} is a file)")
    if writable and not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"Invalid {name}: {path!r} (expected a writable folder; {str(existing)!r} is not)")


def _check_output_file(name: str, path: str) -> None:
    """A file we will write: its folder must exist and be writable, and it must not be a folder itself."""
    import os
    from pathlib import Path

    target = Path(path)
    if target.is_dir():
        raise ValueError(f"Invalid {name}: {path!r} (expected a file path, not a folder)")
    parent = target.absolute().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"Invalid {name}: {path!r} (expected a path in an existing, writable folder)")


def _check_resume_flags(args: argparse.Namespace) -> None:
    """A resumed run keeps its checkpoint's settings: only the device may change, and --out-dir may name the
    run when --resume has no path."""
    given = vars(args)
    allowed = {"device"} if args.resume else {"device", "out_dir"}
    conflicting = [dest for _, dest, _, _ in _RUN_FLAGS if dest in given and dest not in allowed]
    conflicting += [dest for dest in ("config", "hp", "model_option", "dataset_option", "ghost_batch_size",
                                      "progress") if dest in given]
    conflicting += [key for key in given if key.startswith("hp_")]
    if conflicting:
        name = {"progress": "no_progress"}.get(conflicting[0], conflicting[0].removeprefix("hp_"))
        allowed_text = " and ".join(f"--{a.replace('_', '-')}" for a in sorted(allowed))
        raise UsageError(f"Invalid --{name.replace('_', '-')} with --resume (a resumed run keeps the settings "
                         f"of its checkpoint; expected only {allowed_text})")


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
    from realnets.engine import train

    if args.resume is not None:
        _check_resume_flags(args)
    config = make_config(*_layers_from_args(args))
    if args.print_config:
        print(json.dumps(_resolved_config(config), indent=2))
        return 0
    if args.resume is not None:
        result = _resume(args.resume or str(config.run_dir()), vars(args).get("device"), args.plots)
    else:
        _resolved_config(config)  # reject a bad algorithm name or hyperparameter before any work
        _check_folder("out_dir", str(config.run_dir()))
        _check_folder("data_dir", config.data_dir, writable=False)  # read-only is fine once downloaded
        result = train(config, plots=args.plots)
    if result.status != "finished":
        print(f"realnets: {result.message}", file=sys.stderr)
        return 1
    _print_summary(result.summary, result.run_dir)
    return 0


def _resume(path: str, device: str | None, plots: bool):
    from realnets.engine import resume

    try:
        return resume(path, device=device, plots=plots)
    except KeyError as error:  # a file of the right format version that lacks part of the run state
        raise ValueError(f"Invalid checkpoint: {path!r} (expected a full run state; missing {error})") from None


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
        raise UsageError("Invalid grid: give exactly one of --algos and --preset")
    for single, plural in (("algo", "--algos"), ("seed", "--seeds")):  # the grid sets these per run
        if single in vars(args):
            raise UsageError(f"Invalid --{single} for compare (expected {plural})")
    seeds = _distinct_list("seeds", args.seeds, int, "comma-separated distinct integers, e.g. 0,1,2")
    layers = _layers_from_args(args)
    config = make_config(*layers)
    if args.preset is not None:
        algos = preset_algos(args.preset, config.budget_epochs)
    else:
        algos = _distinct_list("algos", args.algos, str, "comma-separated distinct algorithm specs, e.g. sgd,adam")
    _check_folder("out_dir", config.out_dir)
    _check_folder("data_dir", config.data_dir, writable=False)  # read-only is fine once downloaded
    result = run_compare(algos, seeds, layers)
    print(format_table(result["rows"]))
    print(f"table: {result['json']}  figure: {result['figure']}")
    return 1 if any(r["diverged"] for r in result["rows"]) else 0


def _distinct_list(name: str, text: str, kind, expected: str) -> list:
    """A comma-separated list: non-empty, every item parses, no repeats (a repeated seed or algorithm would
    count twice in the means and spreads of the table)."""
    items = [item.strip() for item in text.split(",")]
    try:
        values = [kind(item) for item in items if item]
    except ValueError:
        raise ValueError(f"Invalid {name}: {text!r} (expected {expected})") from None
    if not values or len(set(values)) != len(values) or "" in items:
        raise ValueError(f"Invalid {name}: {text!r} (expected {expected})")
    return values


# -- plot, env, bench ----------------------------------------------------------------------------------
def _add_plot(subparsers) -> None:
    p = subparsers.add_parser("plot", help="plot one or more run directories into one figure")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", default=None, help="figure path (default: RUN_DIR/plots.png, or compare.png)")
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from realnets.plots import load_metrics, plot_runs

    for run_dir in args.run_dirs:  # a bad run directory is the likelier mistake, so it is named first
        load_metrics(run_dir)
    out = args.out or (Path(args.run_dirs[0]) / "plots.png" if len(args.run_dirs) == 1 else "compare.png")
    _check_output_file("out", str(out))
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
    p.add_argument("--device", default="auto", choices=DEVICES, help="auto, cpu or cuda (default: auto)")
    p.add_argument("--repeats", type=_number(int, "repeats"), default=7, metavar="N", help="interleaved repetitions (default: 7)")
    p.add_argument("--out", default="bench.json", help="JSON output path (default: bench.json)")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from realnets.bench import format_results, run_bench

    sections = args.sections.split(",") if args.sections else None
    if args.out:
        _check_output_file("out", args.out)
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
            raise UsageError("missing COMMAND (expected one of train, list, compare, plot, env, bench; see --help)")
        return args.func(args)
    except SystemExit as exit_:  # --help and friends
        return int(exit_.code or 0)
    except (UsageError, ValueError) as error:
        print(f"realnets: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except DataUnavailableError as error:  # offline, or a dataset file missing: not a bug, no traceback
        print(f"realnets: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except OSError as error:  # a file system failure mid-run (disk full, a file removed): no traceback
        print(f"realnets: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except MemoryError as error:  # e.g. --dataset-option num_train=10**11: the request, not a bug
        print(f"realnets: error: out of memory ({' '.join(str(error).split())[:200]})", file=sys.stderr)
        return 1
    except RuntimeError as error:
        if "allocate" not in str(error):  # torch reports a failed allocation as a RuntimeError
            raise
        print(f"realnets: error: out of memory ({' '.join(str(error).split())[:200]})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("realnets: interrupted (resume with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

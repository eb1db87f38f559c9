"""The ``realnets`` command line: train, list, compare, plot, export, env, bench, sweep, cost.

``main(argv) -> int`` is callable in-process. Exit codes: 0 success, 1 runtime failure (a diverged run, an
unreachable dataset, out of memory, a file-system error mid-run), 2 bad input (a flag, a config value, a
file or folder), always as one line on stderr, never a traceback. Paths are checked before any data is
loaded, so a typo costs no training time. Progress goes to stderr: a bar on a terminal, one line per epoch
(and every half minute within long epochs) in logs and pipes; ``--no-progress`` silences it.
Precedence of settings: defaults < ``--config`` file (TOML or JSON; keys are the flag names) < flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from realnets.config import AMP_MODES, DEVICES, MAX_BATCH_SIZE
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
        return (
            f"{message} (write {flag[len('argument ') :].split('/')[0]}=VALUE for a value starting with '-')"
        )
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
    ("--eval-every", "eval_every", int, "also evaluate the full losses every N updates (default: off)"),
    ("--stride-probe", "stride_probe", int, "log per-update strides; radii every N updates (default: off)"),
    ("--grad-clip", "grad_clip", float, "clip the global gradient L2 norm to X (default: off)"),
    (
        "--val-fraction",
        "val_fraction",
        float,
        "hold out this fraction of the training set for validation (default: 0)",
    ),
    (
        "--threads",
        "threads",
        int,
        "torch intra-op threads (default: 1 when parameters x batch size < 5e6, as for the digits MLP; else torch's)",
    ),
    (
        "--sampling",
        "sampling",
        str,
        "epoch (each sample once per epoch) or fresh (independent draws) (default: epoch)",
    ),
)
# Switches that map onto boolean TrainConfig fields (off by default).
_SWITCHES = (
    ("--compile", "compile", "wrap the model in torch.compile"),
    ("--augment", "augment", "CIFAR random crop (pad 4) and horizontal flip of each batch"),
    ("--overwrite", "overwrite", "train into an existing run directory, replacing its run"),
    (
        "--tensorboard",
        "tensorboard",
        "also write TensorBoard events to RUN_DIR/tensorboard (needs the tensorboard package)",
    ),
)
# Named shortcuts for common algorithm hyperparameters (all others: --hp key=value).
_HP_FLAGS = (
    ("--optimizer", "optimizer", str, "sgd, momentum, nesterov or adam (default: the algorithm's)"),
    ("--momentum", "momentum", float, "momentum coefficient m (default: 0.9)"),
    ("--weight-decay", "weight_decay", float, "L2 weight decay (default: 0)"),
    ("--max-batch-size", "max_batch_size", int, "largest batch size (schedules; default: the algorithm's)"),
    (
        "--milestones",
        "milestones",
        str,
        "epochs of the schedule steps, e.g. 6,12,16, or fractions of the budget, e.g. 30%%,60%%,80%% "
        "(default: the algorithm's)",
    ),
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


def _add_run_options(
    parser: argparse.ArgumentParser,
    hp_flags: bool = True,
    hidden: tuple[str, ...] = (),
    helps: dict[str, str] | None = None,
) -> None:
    """The run settings; ``hidden`` flags are parsed (to be refused with a message saying what to use instead)
    but not shown in the help; ``helps`` replaces the help text of some (by config key)."""
    group = parser.add_argument_group("run")
    group.add_argument(
        "--config",
        metavar="FILE",
        default=SUPPRESS,
        help="TOML or JSON settings (keys: the flag names, e.g. m0 = 32); flags override",
    )
    for flag, dest, kind, text in _RUN_FLAGS:
        group.add_argument(
            flag,
            dest=dest,
            type=_typed(kind, dest),
            default=SUPPRESS,
            metavar=_metavar(flag, kind),
            help=SUPPRESS if dest in hidden else (helps or {}).get(dest, text),
        )
    group.add_argument(
        "--ghost-batch-size",
        dest="ghost_batch_size",
        type=_number(int, "ghost_batch_size"),
        default=SUPPRESS,
        metavar="N",
        help="ghost batch-norm size for models with BatchNorm (default: the model's)",
    )
    group.add_argument(
        "--model-option",
        dest="model_option",
        type=_key_value("model option"),
        action="append",
        default=SUPPRESS,
        metavar="KEY=VALUE",
        help="model option, e.g. width=64 (repeatable)",
    )
    group.add_argument(
        "--dataset-option",
        dest="dataset_option",
        type=_key_value("dataset option"),
        action="append",
        default=SUPPRESS,
        metavar="KEY=VALUE",
        help="dataset option, e.g. num_train=500 (repeatable)",
    )
    group.add_argument(
        "--amp",
        dest="amp",
        nargs="?",
        const="bf16",
        choices=AMP_MODES,
        default=SUPPRESS,
        metavar="MODE",
        help="mixed precision on CUDA: bf16 (--amp alone), fp16 or off (default: off)",
    )
    for flag, dest, text in _SWITCHES:
        group.add_argument(flag, dest=dest, action="store_true", default=SUPPRESS, help=text)
    group.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        default=SUPPRESS,
        help="no progress on stderr (default: a bar on a terminal, else a line per epoch)",
    )
    if hp_flags:
        algo = parser.add_argument_group("algorithm hyperparameters")
        for flag, dest, kind, text in _HP_FLAGS:
            algo.add_argument(
                flag,
                dest=f"hp_{dest}",
                type=_typed(kind, dest),
                default=SUPPRESS,
                metavar=_metavar(flag, kind),
                help=text,
            )
    (algo if hp_flags else group).add_argument(
        "--hp",
        dest="hp",
        type=_key_value("hp"),
        action="append",
        default=SUPPRESS,
        metavar="KEY=VALUE",
        help="algorithm hyperparameter, e.g. every_epochs=5 (repeatable)",
    )


def _layers_from_args(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The settings layers: config file first, then the flags the user actually passed."""
    from realnets.config import load_config_file

    given = vars(args)
    layers: list[dict[str, Any]] = []
    if "config" in given:
        layers.append(load_config_file(given["config"]))
    flags: dict[str, Any] = {dest: given[dest] for _, dest, _, _ in _RUN_FLAGS if dest in given}
    flags.update({dest: True for _, dest, _ in _SWITCHES if dest in given})
    for dest in ("progress", "amp"):
        if dest in given:
            flags[dest] = given[dest]
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


def _check_folder(name: str, path: str | None, writable: bool = True) -> None:
    """A folder we may create files in: neither it nor any existing parent may be a file, and (``writable``)
    the nearest existing one must be writable, so that a run does not fail after its data is loaded."""
    import os
    from pathlib import Path

    if path is None:
        return
    if not path.strip():
        raise ValueError(f"Invalid {name}: {path!r} (expected a non-empty path)")
    folder = Path(path).absolute()
    try:
        existing = next(p for p in (folder, *folder.parents) if p.exists())
    except OSError as error:  # e.g. a name too long for the file system to even look up
        raise ValueError(f"Invalid {name}: {path!r} (expected a usable path: {error.strerror})") from None
    if not existing.is_dir():
        raise ValueError(f"Invalid {name}: {path!r} (expected a folder; {str(existing)!r} is a file)")
    name_max, path_max = _name_limits(existing)
    too_long = [part for part in folder.relative_to(existing).parts if len(os.fsencode(part)) > name_max]
    if too_long or len(os.fsencode(str(folder))) + 64 > path_max:  # 64: room for the run's own files
        raise ValueError(
            f"Invalid {name}: {path!r} (expected names of at most {name_max} bytes and a path "
            f"shorter than {path_max - 64} bytes)"
        )
    if writable and not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"Invalid {name}: {path!r} (expected a writable folder; {str(existing)!r} is not)")
    if writable:
        _probe_writable(name, path, existing)


def _probe_writable(name: str, path: str, folder) -> None:
    """Create and remove a temporary folder in ``folder``: os.access says yes to root everywhere, also on a
    read-only mount or in /proc, where the run would fail after its data is loaded."""
    import os
    import tempfile

    try:
        os.rmdir(tempfile.mkdtemp(prefix=".realnets-probe-", dir=folder))
    except OSError as error:
        raise ValueError(
            f"Invalid {name}: {path!r} (expected a writable folder; {str(folder)!r} is not: "
            f"{error.strerror or error})"
        ) from None


def _name_limits(folder) -> tuple[int, int]:
    """The file system's longest file name and path at ``folder`` (POSIX pathconf; 255 and 4096 elsewhere)."""
    import os

    try:
        return os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):
        return 255, 4096


def _check_output_file(name: str, path: str) -> None:
    """A file we will write: its folder must exist and be writable, and it must not be a folder itself."""
    import os
    from pathlib import Path

    if not path.strip():
        raise ValueError(f"Invalid {name}: {path!r} (expected a non-empty file path)")
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"Invalid {name}: {path!r} (expected a file path, not a folder)")
    if target.exists() and not target.is_file():  # /dev/full, a pipe: the write would vanish or fail late
        raise ValueError(f"Invalid {name}: {path!r} (expected a regular file path)")
    parent = target.absolute().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"Invalid {name}: {path!r} (expected a path in an existing, writable folder)")
    _probe_writable(name, path, parent)


def _check_resume_flags(args: argparse.Namespace) -> None:
    """A resumed run keeps its checkpoint's settings: only the device may change, and --out-dir may name the
    run when --resume has no path."""
    given = vars(args)
    allowed = {"device"} if args.resume else {"device", "out_dir"}
    conflicting = [dest for _, dest, _, _ in _RUN_FLAGS if dest in given and dest not in allowed]
    conflicting += [
        dest
        for dest in ("config", "hp", "model_option", "dataset_option", "ghost_batch_size", "progress", "amp")
        if dest in given
    ]
    conflicting += [dest for _, dest, _ in _SWITCHES if dest in given]
    conflicting += [key for key in given if key.startswith("hp_")]
    if conflicting:
        name = {"progress": "no_progress"}.get(conflicting[0], conflicting[0].removeprefix("hp_"))
        allowed_text = " and ".join(f"--{a.replace('_', '-')}" for a in sorted(allowed))
        raise UsageError(
            f"Invalid --{name.replace('_', '-')} with --resume (a resumed run keeps the settings "
            f"of its checkpoint; expected only {allowed_text})"
        )


# -- train ---------------------------------------------------------------------------------------------
def _add_train(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one model with one algorithm",
        description="Train a model; writes config.json, metrics.jsonl, summary.json, "
        "env.json, plots and checkpoints to the run directory.",
    )
    _add_run_options(p)
    p.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="continue from a checkpoint (a run directory or checkpoint.pt; default: --out-dir)",
    )
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the plots at the end")
    p.set_defaults(func=_cmd_train)


def _resolved_config(config) -> dict[str, Any]:
    import torch

    from realnets.engine import default_run_dir
    from realnets.registry import get_algorithm, resolve_hparams

    info = get_algorithm(config.algo)
    # Building on a stand-in parameter validates every hyperparameter value before any data is loaded.
    info.build([torch.nn.Parameter(torch.zeros(1))], config.algo_overrides())
    return {
        **config.to_dict(),
        "hp": resolve_hparams(info, config.algo_overrides()),
        "out_dir": str(default_run_dir(config)),  # a default name that is taken gets -2, -3, ...
    }


# The run directory being trained, for the Ctrl-C message (say "resume" only when there is something to resume).
_ACTIVE_RUN: list = []


def _set_active_run(path) -> None:
    from pathlib import Path

    _ACTIVE_RUN[:] = [Path(path)]


def _interrupt_message() -> str:
    from realnets.checkpoint import CHECKPOINT_NAME

    if _ACTIVE_RUN and (_ACTIVE_RUN[0] / CHECKPOINT_NAME).is_file():
        return f"realnets: interrupted (resume with: realnets train --resume {_ACTIVE_RUN[0]})"
    return "realnets: interrupted (nothing was checkpointed yet; nothing to resume)"


def _check_amp_device(config) -> None:
    """``--amp`` autocasts on CUDA only: refuse it where the run would land on the CPU (``--device auto``)."""
    from realnets.engine import resolve_device

    if config.amp != "off" and resolve_device(config.device).type != "cuda":
        raise ValueError(
            f"Invalid amp: {config.amp!r} (mixed precision needs a CUDA device; this run would use "
            f"the CPU; expected --amp off)"
        )


def _checkpoint_config(path: str, device: str | None):
    """The configuration stored in the checkpoint at ``path`` (what ``--resume`` would continue)."""
    from pathlib import Path

    from realnets.checkpoint import check_run_state, load_checkpoint
    from realnets.config import make_config

    payload = load_checkpoint(path)
    check_run_state(payload, path)
    run_dir = Path(path) if Path(path).is_dir() else Path(path).parent
    return make_config(payload["config"], {"out_dir": str(run_dir)}, {"device": device} if device else {})


def _cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from realnets import distributed
    from realnets.config import make_config
    from realnets.engine import train

    if distributed.requested() and not distributed.current().active:  # under torchrun: join the group first
        return distributed.launch_cli(_cmd_train, args)

    if args.resume is not None:
        _check_resume_flags(args)
    config = make_config(*_layers_from_args(args))
    if args.resume is not None:
        path = args.resume or str(config.run_dir())
        if args.print_config:  # what the resumed run will use: the checkpoint's settings, not the defaults
            print(json.dumps(_resolved_config(_checkpoint_config(path, vars(args).get("device"))), indent=2))
            return 0
        _set_active_run(Path(path).parent if path.endswith(".pt") else path)
        result = _resume(path, vars(args).get("device"), args.plots)
    else:
        resolved = _resolved_config(config)  # reject a bad algorithm name or hyperparameter before any work
        if args.print_config:
            print(json.dumps(resolved, indent=2))
            return 0
        _check_amp_device(config)
        _check_folder("out_dir", str(config.run_dir()))
        _check_folder("data_dir", config.data_dir, writable=False)  # read-only is fine once downloaded
        from realnets.engine import default_run_dir

        _set_active_run(default_run_dir(config))  # Ctrl-C names this run, not an earlier one of the same name
        result = train(config, plots=args.plots)
    if result.status != "finished":
        print(f"realnets: {result.message}", file=sys.stderr)
        return 1
    _print_summary(result.summary, result.run_dir)
    return 0


def _resume(path: str, device: str | None, plots: bool):
    from realnets.checkpoint import check_run_state, load_checkpoint
    from realnets.engine import resume

    check_run_state(load_checkpoint(path), path)  # a damaged run state: one line, before any file is touched
    try:
        return resume(path, device=device, plots=plots)
    except KeyError as error:  # a file of the right format version that lacks part of the run state
        raise ValueError(
            f"Invalid checkpoint: {path!r} (expected a full run state; missing {error})"
        ) from None
    except RuntimeError as error:  # weights of another model than the one its config builds
        if "state_dict" not in str(error):
            raise
        first = str(error).strip().splitlines()
        detail = " ".join(first[1].split()) if len(first) > 1 else first[0]
        raise ValueError(
            f"Invalid checkpoint: {path!r} (its weights do not fit its model: {detail[:160]})"
        ) from None


def _print_summary(summary: dict[str, Any], run_dir) -> None:
    acc = summary.get("final_test_acc")
    acc_text = f"  test acc {100 * acc:.2f}%" if acc is not None else ""
    print(
        f"{summary['algo']} on {summary['dataset']} ({summary['model']}, seed {summary['seed']}, "
        f"{summary['device']}): {summary['epochs']:.2f} epochs, {summary['steps']} updates, "
        f"{summary['wall_time']:.1f}s"
    )
    print(
        f"  train loss {summary['final_train_loss']:.4g}  test loss {summary['final_test_loss']:.4g}{acc_text}"
    )
    best = summary.get("best_checkpoint")
    if best:
        shown = f"{100 * best['value']:.2f}%" if best["metric"].endswith("_acc") else f"{best['value']:.4g}"
        name = best["metric"].replace("_", " ")
        print(f"  best.pt: epoch {best['epoch']:.2f}, {name} {shown} (checkpoint.pt: the last state)")
    print(f"  run directory: {run_dir}")


# -- list ----------------------------------------------------------------------------------------------
def _add_list(subparsers) -> None:
    p = subparsers.add_parser(
        "list",
        help="list algorithms (with hyperparameters), models and datasets",
        description="List what can be trained. `realnets list ba-sgd` shows one algorithm "
        "in detail: its source, statistics and every hyperparameter with its "
        "default and flag.",
    )
    p.add_argument(
        "what",
        nargs="?",
        default="all",
        metavar="WHAT",
        help="all, algorithms, models, datasets, or an algorithm name (default: all)",
    )
    p.set_defaults(func=_cmd_list)


_LIST_SECTIONS = ("all", "algorithms", "models", "datasets")


def _hp_flag(key: str) -> str:
    """The flag that sets hyperparameter ``key``: a named shortcut, or ``--hp key=VALUE``."""
    named = {dest: flag for flag, dest, _, _ in _HP_FLAGS} | {"lr": "--lr", "batch_size": "--batch-size"}
    return named.get(key, f"--hp {key}=VALUE")


def _format_default(value: Any) -> str:
    if value is None:
        return "none"
    return (
        f"{value:g}"
        if isinstance(value, float)
        else json.dumps(value)
        if not isinstance(value, str)
        else value
    )


def _algorithm_detail(name: str) -> str:
    from realnets.registry import get_algorithm

    info = get_algorithm(name)
    lines = [f"{info.name}: {info.description}"]
    if info.source:
        lines.append(f"  source: {info.source}")
    if info.needs:
        lines.append(f"  statistics per step: {', '.join(info.needs)}")
    lines.append("  hyperparameters (default, flag):")
    width = max((len(k) for k in info.defaults), default=0)
    for key, value in info.defaults.items():
        lines.append(f"    {key:<{width}}  {_format_default(value):<10}  {_hp_flag(key)}")
    return "\n".join(lines)


def _cmd_list(args: argparse.Namespace) -> int:
    from realnets.data import list_datasets
    from realnets.models import list_models
    from realnets.registry import list_algorithms

    algorithms = list_algorithms()
    if args.what not in _LIST_SECTIONS:
        if args.what not in {a.name for a in algorithms}:
            raise ValueError(
                f"Invalid list: {args.what!r} (expected one of {', '.join(_LIST_SECTIONS)}, or an "
                f"algorithm name: {', '.join(a.name for a in algorithms)})"
            )
        print(_algorithm_detail(args.what))
        return 0

    def algo_line(info) -> str:
        others = ", ".join(
            f"{k}={_format_default(v)}" for k, v in info.defaults.items() if k not in ("lr", "optimizer")
        )
        lr = info.defaults.get("lr")
        return f"{info.description}\n      default lr {_format_default(lr)}; {others}"

    sections = {
        "algorithms": [(a.name, algo_line(a)) for a in algorithms],
        "models": list_models(),
        "datasets": list_datasets(),
    }
    for title, rows in sections.items():
        if args.what not in ("all", title):
            continue
        print(f"{title}:" + ("  (`realnets list NAME` for one in detail)" if title == "algorithms" else ""))
        width = max(len(name) for name, _ in rows)
        for name, description in rows:
            print(f"  {name:<{width}}  {description}")
    return 0


# -- compare -------------------------------------------------------------------------------------------
def _add_compare(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="grid of algorithms x seeds on one task, same sample budget",
        description="Train every algorithm spec with every seed at the same sample budget; "
        "writes compare.json, compare.png and one run directory per run "
        "(OUT_DIR/<label>/seed<seed>). The table shows mean ± sample std over "
        "seeds and every hyperparameter that differs between rows.",
    )
    p.add_argument(
        "--algos",
        default=None,
        help="algorithm specs separated by ';' (or ','): name or name:key=value:key=value, e.g. "
        "'sgd:batch_size=64;increase-batch:milestones=6,12,16'",
    )
    p.add_argument(
        "--preset",
        default=None,
        help="a named grid instead of --algos: seed000 (seed 000's twelve "
        "algorithms: BA, Mini-32/64/128/256 and Manual, for SGD and momentum, all at lr 0.01 unless "
        "--lr is given), or seed000-lr (seed 000's fig. 4: BA-Momentum and Mini-32-Momentum at lr 0.005, "
        "0.01, 0.02 and 0.05)",
    )
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    _add_run_options(
        p,
        hp_flags=False,
        hidden=("algo", "seed"),
        helps={"out_dir": "the grid's folder (default: runs/compare-<model>-<dataset>)"},
    )
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from realnets.compare import format_table, plan_grid, preset_algos, run_compare, split_algo_specs
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
        algos = split_algo_specs(args.algos)
        if not algos or "" in algos or len(set(algos)) != len(algos):
            raise ValueError(
                f"Invalid algos: {args.algos!r} (expected distinct algorithm specs separated by ';', "
                f"e.g. sgd;adam or sgd:batch_size=64;momentum)"
            )
    plan = plan_grid(algos, seeds, layers, preset=args.preset)  # every spec and seed checked before any run
    if not config.overwrite:  # a grid must not stop at its 7th run because that folder holds an earlier run
        taken = [c.run_dir() for c in plan["configs"].values() if (c.run_dir() / "metrics.jsonl").exists()]
        if taken:
            raise ValueError(
                f"Invalid out_dir: {str(plan['grid_dir'])!r} ({len(taken)} of its runs exist already, "
                f"e.g. {str(taken[0])!r}; expected a new folder, or --overwrite)"
            )
    _check_amp_device(config)
    _check_folder("out_dir", config.out_dir)
    _check_folder("data_dir", config.data_dir, writable=False)  # read-only is fine once downloaded

    def log(text: str) -> None:
        print(f"realnets: {text}", file=sys.stderr, flush=True)
        _set_active_run(text.rsplit(" -> ", 1)[-1])

    result = run_compare(algos, seeds, layers, preset=args.preset, log=log)
    print(format_table(result["rows"]))
    print(f"table: {result['json']}  figure: {result['figure']}")
    diverged = [r["algo"] for r in result["rows"] if r["diverged"]]
    if diverged:
        print(
            f"realnets: diverged: {', '.join(diverged)} (marked in the table and the figure)", file=sys.stderr
        )
    return 1 if diverged else 0


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
    p = subparsers.add_parser("plot", help="plot run directories (or compare folders) into one figure")
    p.add_argument(
        "run_dirs",
        nargs="+",
        metavar="RUN_DIR",
        help="run directories, or compare folders (each stands for the runs below it)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="figure path (default: RUN_DIR/plots.png for one folder, else compare.png)",
    )
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from realnets.plots import expand_run_dirs, load_metrics, load_summary, plot_runs

    _check_run_dir_args(args.run_dirs)
    runs = expand_run_dirs(args.run_dirs)  # a bad run directory is the likelier mistake, so it is named first
    for run_dir in runs:
        load_metrics(run_dir)
        load_summary(run_dir)
    # One folder (a run, or a compare grid): the figure goes into it; several: compare.png here.
    default = Path(args.run_dirs[0]) / "plots.png" if len(args.run_dirs) == 1 else "compare.png"
    out = args.out if args.out is not None else default
    _check_output_file("out", str(out))
    print(plot_runs(runs, out))
    return 0


def _add_export(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a run's metrics (CSV next to metrics.jsonl)")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories, or compare folders")
    p.add_argument("--csv", action="store_true", help="write steps.csv and epochs.csv in each run directory")
    p.set_defaults(func=_cmd_export)


def _check_run_dir_args(run_dirs: Sequence[str]) -> None:
    """An empty RUN_DIR would read as the current folder (every run below it), not as a mistake."""
    if any(not run_dir.strip() for run_dir in run_dirs):
        raise ValueError("Invalid run directory: '' (expected a run directory or a compare folder)")


def _cmd_export(args: argparse.Namespace) -> int:
    from realnets.export import metrics_to_csv
    from realnets.plots import expand_run_dirs, load_metrics

    if not args.csv:
        raise UsageError("Invalid export: no format given (expected --csv)")
    _check_run_dir_args(args.run_dirs)
    runs = expand_run_dirs(args.run_dirs)
    for run_dir in runs:  # every file is checked before any is written
        load_metrics(run_dir)
        _check_output_file("run_dir", str(run_dir / "steps.csv"))
    for run_dir in runs:
        paths = metrics_to_csv(run_dir)
        print(f"{paths['steps']}  {paths['epochs']}")
    return 0


# Subcommands implemented in their own modules: the whole remaining argv goes to ``<module>.main(argv)``.
_DELEGATED = {
    "sweep": ("realnets.sweep", "learning-rate x batch-size sweeps (see `realnets sweep --help`)"),
    "cost": ("realnets.cost", "compute cost of the algorithms (see `realnets cost --help`)"),
}


def _run_delegated(command: str, argv: list[str]) -> int:
    import importlib

    module_name = _DELEGATED[command][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise UsageError(
            f"Invalid command: {command!r} (this installation has no {module_name} module)"
        ) from None
    status = module.main(argv)
    return int(status or 0)


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
    p.add_argument(
        "--repeats",
        type=_number(int, "repeats"),
        default=7,
        metavar="N",
        help="interleaved repetitions (default: 7)",
    )
    p.add_argument("--out", default="bench.json", help="JSON output path (default: bench.json)")
    p.add_argument(
        "--threads",
        type=_number(int, "threads"),
        default=None,
        metavar="N",
        help="torch intra-op threads of the timed code, ours and the peer alike (default: torch's, every "
        "core; the threads section starts its own runs with their defaults)",
    )
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from realnets import bench

    sections = args.sections.split(",") if args.sections is not None else None  # '' is no section, not all
    if args.out is not None:
        _check_output_file("out", args.out)
    if args.threads is not None:
        from realnets.config import MAX_THREADS

        if not 1 <= args.threads <= MAX_THREADS:
            raise ValueError(
                f"Invalid threads: {args.threads} (expected an integer >= 1 and <= {MAX_THREADS})"
            )
    bench._import_section_modules()
    names = sections or list(bench.SECTIONS)
    unknown = [n for n in names if n not in bench.SECTIONS]
    if unknown:
        raise ValueError(f"Invalid section: {unknown[0]!r} (expected one of {', '.join(bench.SECTIONS)})")
    with _torch_threads(args.threads):  # env.json below records the setting the sections ran at
        _bench_sections(args, names)
    return 0


def _torch_threads(threads: int | None):
    """``torch.set_num_threads(threads)`` for the block (None: unchanged), restored after."""
    import contextlib

    import torch

    @contextlib.contextmanager
    def scope():
        before = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    return scope()


def _bench_sections(args: argparse.Namespace, names: list[str]) -> None:
    from realnets.bench import format_results, run_bench

    rows: list[dict[str, Any]] = []
    for index, name in enumerate(names):  # each section's rows as soon as it returns
        section_rows = run_bench(
            sections=[name],
            device=args.device,
            repeats=args.repeats,
            out=None,
            report=lambda text: print(text, file=sys.stderr, flush=True),
        )
        table = format_results(section_rows).splitlines()
        print("\n".join(table if index == 0 else table[1:]), flush=True)
        rows += section_rows
    if args.out:
        from realnets.engine import resolve_device
        from realnets.envinfo import collect_env

        env = collect_env(resolve_device(args.device))
        _write_text_atomic(
            args.out, json.dumps({"rows": rows, "repeats": args.repeats, "env": env}, indent=2)
        )
        print(f"written: {args.out}")


def _write_text_atomic(path: str, text: str) -> None:
    import os
    from pathlib import Path

    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, target)


_COMMANDS = ("train", "list", "compare", "plot", "export", "env", "bench", *_DELEGATED)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="realnets",
        description="Real training with every batch-size algorithm of the papers.",
        allow_abbrev=False,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_train, _add_list, _add_compare, _add_plot, _add_export, _add_env, _add_bench):
        add(subparsers)
    for command, (_, text) in _DELEGATED.items():
        subparsers.add_parser(command, help=text, add_help=False)
    return parser


def _error_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _exit_status(error: BaseException) -> int | None:
    """The exit status and one stderr line for an expected failure; None for a bug (re-raised)."""
    from realnets.export import MissingExtraError

    if isinstance(
        error, BrokenPipeError
    ):  # `realnets list | head`: the reader left; not an error worth a line
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if isinstance(error, KeyboardInterrupt):
        print(_interrupt_message(), file=sys.stderr)
        return 130
    if isinstance(
        error, (UsageError, ValueError, MissingExtraError)
    ):  # bad input, or an optional extra missing
        print(f"realnets: error: {_error_line(error)}", file=sys.stderr)
        return 2
    # Offline or a dataset file missing (DataUnavailableError), a file system failure mid-run (disk full, a
    # file removed): not a bug, no traceback.
    if isinstance(error, (DataUnavailableError, OSError)):
        print(f"realnets: error: {_error_line(error)}", file=sys.stderr)
        return 1
    # e.g. --dataset-option num_train=10**11: the request, not a bug; torch reports a failed allocation as a
    # RuntimeError.
    if isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and "allocate" in str(error)):
        print(f"realnets: error: out of memory ({_error_line(error)[:200]})", file=sys.stderr)
        return 1
    return None


# Commands that write files and do not join a process group: refused under torchrun (WORLD_SIZE > 1).
_ONE_PROCESS = ("compare", "sweep", "bench", "cost", "plot", "export")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    import os

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in _ONE_PROCESS and os.environ.get("WORLD_SIZE", "1").strip() not in ("", "1"):
            raise UsageError(  # under torchrun every rank would write the same files
                f"Invalid launch: realnets {argv[0]} runs in one process (WORLD_SIZE="
                f"{os.environ['WORLD_SIZE']}; expected `realnets train` under torchrun)"
            )
        if argv and argv[0] in _DELEGATED:  # their modules parse their own flags
            return _run_delegated(argv[0], argv[1:])
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError(f"missing COMMAND (expected one of {', '.join(_COMMANDS)}; see --help)")
        return args.func(args)
    except SystemExit as exit_:  # --help and friends
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    except (Exception, KeyboardInterrupt) as error:
        status = _exit_status(error)
        if status is None:
            raise
        return status
    finally:
        _ACTIVE_RUN.clear()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

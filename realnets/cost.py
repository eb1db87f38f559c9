r"""``realnets cost``: simulated data-parallel wall clock of a run's batch-size log, or of a planned schedule.

Usage::

    realnets cost RUN_DIR [RUN_DIR ...] --workers 8,64,512 --alpha 5e-6 --beta 1e-10 [--gamma 0]
                  [--time-per-sample T] [--params-bytes N] [--algorithm ring] [--out cost.json] [--overwrite]
    realnets cost --plan "32x1000,64x500:2" --workers 64 --alpha 5e-6 --beta 1e-10 --time-per-sample 1e-3
                  --params-bytes 4.7e7

Each run's ``metrics.jsonl`` step records give the global batch of every update (``batch_size``) and, for
batch-adaptive runs, its statistic rounds (``rounds``: one all-reduce each); :func:`realnets.comm.simulate_run`
prices them on P workers: compute :math:`\lceil B/P\rceil t_s`, communication one all-reduce of the gradient
per round, curvature :math:`c_{hvp}` backward passes and one all-reduce per HVP (step field ``hvp``, when a run
logs it). :math:`t_s` is ``--time-per-sample`` or, for a run, its measured wall time per sample
(:func:`realnets.comm.time_per_sample_from_run`, an upper bound: it includes evaluations). The gradient size
is ``--params-bytes`` or the run's checkpointed model (its floating-point state, buffers included).

Plan spec: ``BxK[:R]`` items, comma-separated: K updates at global batch B, R statistic rounds each
(default 1). ``"32x1000,64x500"`` is 1000 updates at 32 then 500 at 64.

Writes a table to stdout, JSON to ``--out`` and a figure (stacked compute / communication / curvature bars,
one panel per P) next to it (``--figure``), each atomically (temporary file, then rename); an existing
output is refused unless ``--overwrite``. Exit status 0, or 2 with one line on stderr for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from realnets import comm

__all__ = ["main", "parse_workers"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        flag, sep, rest = message.partition(": ")
        raise _UsageError(
            rest if sep and flag.startswith("argument ") and rest.startswith("Invalid ") else message
        )


def parse_workers(text: str) -> list[int]:
    """``"8,64,512"`` -> ``[8, 64, 512]`` (integers >= 1)."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(
            f"Invalid workers: {text!r} (expected comma-separated integers >= 1, e.g. 8,64,512)"
        ) from None
    if not values or any(v < 1 for v in values):
        raise ValueError(f"Invalid workers: {text!r} (expected comma-separated integers >= 1, e.g. 8,64,512)")
    return values


def _nonnegative(name: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (value >= 0 and value != float("inf")):
            raise argparse.ArgumentTypeError(f"Invalid {name}: {text!r} (expected a finite number >= 0)")
        return value

    return parse


def _parser() -> _Parser:
    p = _Parser(
        prog="realnets cost", description="Simulated data-parallel wall clock of runs or of a schedule."
    )
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="run directories written by realnets train")
    p.add_argument(
        "--plan", help="schedule without training: 'BxK[:R],...' (K updates at batch B, R rounds each)"
    )
    p.add_argument("--workers", required=True, help="P, or a comma-separated list (8,64,512)")
    p.add_argument("--alpha", required=True, type=_nonnegative("alpha"), help="latency per message (s)")
    p.add_argument("--beta", required=True, type=_nonnegative("beta"), help="inverse bandwidth (s/byte)")
    p.add_argument(
        "--gamma", default=0.0, type=_nonnegative("gamma"), help="reduction cost (s/byte), default 0"
    )
    p.add_argument(
        "--time-per-sample",
        type=_nonnegative("time_per_sample"),
        help="forward+backward time of one sample (s); default: measured from each run",
    )
    p.add_argument(
        "--params-bytes",
        type=_nonnegative("params_bytes"),
        help="gradient size (bytes); default: from each run's checkpoint",
    )
    p.add_argument("--algorithm", default="ring", choices=list(comm.ALGORITHMS), help="all-reduce algorithm")
    p.add_argument(
        "--round-stats-bytes",
        type=_nonnegative("round_stats_bytes"),
        default=0.0,
        help="extra all-reduce of the scalar statistics per BA round (bytes, default 0: not charged)",
    )
    p.add_argument("--c-hvp", type=_nonnegative("c_hvp"), default=2.0, help="HVP cost in backward passes (2)")
    p.add_argument("--out", default="cost.json", help="JSON output (default cost.json)")
    p.add_argument("--figure", help="PNG output (default: --out with .png)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return p


def _params_bytes_from_run(run_dir: Path) -> float:
    from realnets.checkpoint import load_checkpoint

    if not (run_dir / "checkpoint.pt").is_file():
        raise ValueError(
            f"Invalid run directory: {str(run_dir)!r} (no checkpoint.pt to size the model; give --params-bytes)"
        )
    state = load_checkpoint(run_dir).get("model", {})
    total = sum(
        t.numel() * t.element_size()
        for t in state.values()
        if hasattr(t, "is_floating_point") and t.is_floating_point()
    )
    if total <= 0:
        raise ValueError(
            f"Invalid checkpoint: {str(run_dir)!r} (no floating-point model state; give --params-bytes)"
        )
    return float(total)


def _sources(args) -> list[dict[str, Any]]:
    """One entry per run (and the plan): label, batch sizes, rounds, hvp, time per sample, params bytes."""
    if not args.runs and not args.plan:
        raise ValueError("Invalid arguments: no RUN_DIR and no --plan (expected at least one of them)")
    sources = []
    if args.plan is not None:
        if args.time_per_sample is None or args.params_bytes is None:
            raise ValueError(
                "Invalid arguments: --plan needs --time-per-sample and --params-bytes (there is no run to measure)"
            )
        batches, rounds = comm.parse_plan(args.plan)
        sources.append(
            {
                "label": "plan",
                "source": args.plan,
                "batch_sizes": batches,
                "rounds": rounds,
                "hvp": None,
                "passes": None,
                "time_per_sample": args.time_per_sample,
                "params_bytes": args.params_bytes,
            }
        )
    logs = [comm.read_run(run) for run in args.runs]
    names = [log.algo for log in logs]
    for log in logs:
        label = log.algo if names.count(log.algo) == 1 else f"{log.algo} ({log.run_dir.name})"
        tps = args.time_per_sample if args.time_per_sample is not None else comm.time_per_sample_from_run(log)
        nbytes = args.params_bytes if args.params_bytes is not None else _params_bytes_from_run(log.run_dir)
        sources.append(
            {
                "label": label,
                "source": str(log.run_dir),
                "batch_sizes": log.batch_sizes,
                "rounds": log.rounds,
                "hvp": log.hvp,
                "passes": {"fwd": log.fwd, "bwd": log.bwd},
                "time_per_sample": tps,
                "params_bytes": nbytes,
            }
        )
    return sources


def _outputs(args) -> tuple[Path, Path]:
    out = Path(args.out)
    figure = Path(args.figure) if args.figure else out.with_suffix(".png")
    if out.resolve() == figure.resolve():
        raise ValueError(f"Invalid figure: {str(figure)!r} (expected a path other than --out)")
    for path in (out, figure):
        if not path.parent.is_dir():
            raise ValueError(
                f"Invalid output: {str(path)!r} (expected an existing folder {str(path.parent)!r})"
            )
        if path.exists() and not args.overwrite:
            raise ValueError(f"Invalid output: {str(path)!r} (exists; expected a new path, or --overwrite)")
    return out, figure


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _table(results: list[dict[str, Any]]) -> str:
    head = f"{'run':<24} {'P':>6} {'updates':>8} {'samples':>10} {'compute s':>11} {'comm s':>11} {'curv s':>9} {'total s':>11}"
    lines = [head]
    for r in results:
        lines.append(
            f"{r['label'][:24]:<24} {r['workers']:>6} {r['updates']:>8} {r['samples']:>10} {r['compute_s']:>11.4g} "
            f"{r['communication_s']:>11.4g} {r['curvature_s']:>9.3g} {r['total_s']:>11.4g}"
        )
    return "\n".join(lines)


def _figure(results: list[dict[str, Any]], workers: list[int], path: str, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(r["label"] for r in results))
    panel_width = min(max(3.8, 1.6 + 0.9 * len(labels)), 9.0)
    if len(labels) > 3 or len(workers) > 4:  # many bars: one panel per row
        fig, grid = plt.subplots(
            len(workers), 1, figsize=(panel_width, 3.0 * len(workers) + 0.6), squeeze=False
        )
    else:
        fig, grid = plt.subplots(1, len(workers), figsize=(panel_width * len(workers), 4.2), squeeze=False)
    axes = [list(grid.flat)]
    parts = (
        ("compute_s", "compute", "tab:blue"),
        ("communication_s", "communication", "tab:orange"),
        ("curvature_s", "curvature (HVP)", "tab:green"),
    )
    for ax, p in zip(axes[0], workers):
        rows = [next(r for r in results if r["label"] == label and r["workers"] == p) for label in labels]
        bottom = [0.0] * len(rows)
        for key, name, color in parts:
            values = [r[key] for r in rows]
            ax.bar(range(len(rows)), values, bottom=bottom, color=color, label=name, width=0.6)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_xticks(
            range(len(rows)),
            labels,
            rotation=20 if len(labels) > 2 else 0,
            ha="right" if len(labels) > 2 else "center",
        )
        ax.set_title(f"P = {p} workers ({args.algorithm} all-reduce)")
        ax.set_ylabel("simulated wall clock (s)")
        ax.set_ylim(0, 1.1 * max(bottom) if max(bottom) > 0 else 1.0)
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize="small", frameon=False)
    fig.suptitle(
        f"simulated data-parallel training time; alpha = {args.alpha:g} s, beta = {args.beta:g} s/byte, "
        f"gamma = {args.gamma:g} s/byte",
        fontsize="small",
    )
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def run_cost(args) -> list[dict[str, Any]]:
    """Price every source at every P; write the JSON and the figure; return the result rows."""
    workers = parse_workers(args.workers)
    out, figure = _outputs(args)
    results = []
    for src in _sources(args):
        for p in workers:
            cost = comm.simulate_run(
                src["batch_sizes"],
                workers=p,
                alpha=args.alpha,
                beta=args.beta,
                gamma=args.gamma,
                params_bytes=src["params_bytes"],
                time_per_sample=src["time_per_sample"],
                growth_rounds=src["rounds"],
                hvp_count=0 if src["hvp"] is None else src["hvp"],
                c_hvp=args.c_hvp,
                round_stats_bytes=args.round_stats_bytes,
                algorithm=args.algorithm,
                label=src["label"],
            )
            results.append(
                {
                    **cost.to_dict(),
                    "source": src["source"],
                    "time_per_sample_s": src["time_per_sample"],
                    "params_bytes": src["params_bytes"],
                    "rounds_logged": src["rounds"] is not None,
                    "measured_passes": src["passes"],
                }
            )
    inputs = {
        "workers": workers,
        "alpha": args.alpha,
        "beta": args.beta,
        "gamma": args.gamma,
        "algorithm": args.algorithm,
        "round_stats_bytes": args.round_stats_bytes,
        "c_hvp": args.c_hvp,
    }
    text = json.dumps({"inputs": inputs, "results": results}, indent=2) + "\n"
    _atomic_write(out, lambda tmp: Path(tmp).write_text(text))
    _atomic_write(figure, lambda tmp: _figure(results, workers, tmp, args))
    print(_table(results))
    print(f"wrote {out} and {figure}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``realnets cost``; returns the exit status (2 on bad input, one line on stderr)."""
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        run_cost(args)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except (_UsageError, ValueError) as error:
        print(
            f"realnets cost: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
            file=sys.stderr,
        )
        return 2
    except OSError as error:
        print(f"realnets cost: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

r"""Plots of run directories: training loss against epochs and against updates, test accuracy, batch size and
learning rate per update.

The loss-per-epoch panel is seed 000's fig. 1 (training loss :math:`L(w)` on the whole training set after
each epoch, log scale); batch size per update is its fig. 3. Matplotlib runs headless (Agg).

Conventions of every figure: test accuracy in percent; the legend names the algorithm in seed 000's words
(``BA-SGD``, ``Mini-32-Momentum``, ``Manual-SGD``) plus every hyperparameter that differs between the runs
shown; a diverged run is drawn up to its last finite value and ends in a cross; the final, partial batch of
a budget (the samples left over) is not drawn, since it is no decision of the algorithm; shaded bands say
what they are in the legend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "algo_label",
    "differing_keys",
    "entry_keys",
    "expand_run_dirs",
    "load_metrics",
    "load_summary",
    "plot_compare",
    "plot_run",
    "plot_runs",
    "run_labels",
    "save_figure",
]

_STEP_KEYS = ("step", "batch_size", "lr")
_EPOCH_KEYS = ("epoch", "step", "train_loss")
_KINDS = {"SGD": "SGD", "sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adam": "Adam"}
# Hyperparameters never shown in legends: the algorithm label says them already, or they are bookkeeping.
_LABEL_HIDDEN = {"optimizer"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_metrics(run_dir: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(step records, epoch records)`` of a run; event records are in neither (see :func:`load_events`).

    A last line without its newline that does not parse (a run killed mid-write) is skipped; any other
    malformed line raises ValueError naming the file and the line.
    """
    steps, epochs, _ = _read_records(run_dir)
    return steps, epochs


def load_events(run_dir: str | Path) -> list[dict[str, Any]]:
    """The ``{"kind": "event"}`` records of a run (e.g. ``diverged``)."""
    return _read_records(run_dir)[2]


def _read_records(run_dir: str | Path):
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise ValueError(f"Invalid run directory: {str(run_dir)!r} (expected a folder with metrics.jsonl)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"Invalid metrics file: {str(path)!r} (not UTF-8 text: byte {error.start})"
        ) from None
    except OSError as error:
        raise ValueError(
            f"Invalid metrics file: {str(path)!r} (could not be read: {error.strerror})"
        ) from None
    lines = text.split("\n")
    steps, epochs, events = [], [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: the write was cut short
                continue
            raise ValueError(
                f"Invalid metrics file: {str(path)!r} (line {number} is not JSON: {error})"
            ) from None
        if not isinstance(record, dict):
            raise ValueError(f"Invalid metrics file: {str(path)!r} (line {number}: expected a JSON object)")
        kind = record.get("kind")
        wanted = {"step": _STEP_KEYS, "epoch": _EPOCH_KEYS}.get(kind, ())
        bad = [key for key in wanted if not _is_number(record.get(key))]
        if bad:
            raise ValueError(
                f"Invalid metrics file: {str(path)!r} (line {number}: {kind} record without a "
                f"number {bad[0]!r})"
            )
        {"step": steps, "epoch": epochs, "event": events}.get(kind, []).append(record)
    return steps, epochs, events


def load_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """``summary.json`` of a run (None when absent); ValueError naming the file when it is corrupt."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Invalid summary file: {str(path)!r} (not valid JSON: {error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"Invalid summary file: {str(path)!r} (expected a JSON object)")
    return data


def _load_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Invalid config file: {str(path)!r} (not valid JSON: {error})") from None
    return data if isinstance(data, dict) else {}


def expand_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories from ``paths``: a run directory as is; a folder without ``metrics.jsonl`` (a compare
    grid, or a folder of runs) is replaced by the run directories below it (two levels: ``<algo>/seed<s>``).

    Raises:
        ValueError: a path that is neither a run directory nor holds any (one line naming it).
    """
    runs: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / "metrics.jsonl").is_file():
            runs.append(path)
            continue
        found = sorted(
            {p.parent for pattern in ("*/metrics.jsonl", "*/*/metrics.jsonl") for p in path.glob(pattern)}
        )
        if not path.is_dir() or not found:
            raise ValueError(
                f"Invalid run directory: {str(raw)!r} (expected a folder with metrics.jsonl, or a "
                f"compare folder of run directories)"
            )
        runs += found
    return list(dict.fromkeys(runs))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` to ``out`` (creating its folder), close it, and return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not fig.get_constrained_layout():
        fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    _pyplot().close(fig)
    return out


# -- labels ----------------------------------------------------------------------------------------
def algo_label(algo: str, hparams: Mapping[str, Any]) -> str:
    """Seed 000's name of an algorithm with its hyperparameters: ``BA-SGD``, ``Mini-32-Momentum``,
    ``Manual-SGD``; other algorithms keep their registry name."""
    optimizer = hparams.get("optimizer")
    if algo in ("ba-sgd", "ba-momentum"):
        return "BA-" + ("SGD" if algo == "ba-sgd" else "Momentum")
    if algo in ("sgd", "momentum", "nesterov", "adam") and hparams.get("batch_size"):
        return f"Mini-{hparams['batch_size']}-{_KINDS.get(optimizer or algo, algo)}"
    if algo == "manual" and optimizer in _KINDS:
        return f"Manual-{_KINDS[optimizer]}"
    return algo


def _label_hidden(algo: str) -> set[str]:
    """Hyperparameters the label of ``algo`` already states."""
    if algo in ("sgd", "momentum", "nesterov", "adam"):
        return _LABEL_HIDDEN | {"batch_size"}
    return set(_LABEL_HIDDEN)


def format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def differing_hparams(hparams: Sequence[Mapping[str, Any]]) -> list[str]:
    """Keys whose values differ between the sets that have them."""
    keys: list[str] = []
    for hp in hparams:
        keys += [k for k in hp if k not in keys]
    return [
        k
        for k in keys
        if len({json.dumps(hp[k], sort_keys=True, default=str) for hp in hparams if k in hp}) > 1
    ]


# Keys compared across all rows (every algorithm has them and they mean the same everywhere); any other key
# is compared only between runs of the same algorithm (``m0`` of BA is no difference to a Mini-B run).
_COMMON_KEYS = ("lr", "momentum", "weight_decay", "seed")


def differing_keys(entries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The hyperparameters that tell ``(algo, hparams)`` entries apart (see :data:`_COMMON_KEYS`)."""
    keys: list[str] = []
    for row in entry_keys(entries):
        keys += [k for k in row if k not in keys]
    return keys


def entry_keys(entries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[list[str]]:
    """Per entry, the hyperparameters its label must show: the common keys that differ anywhere, and the keys
    that differ between the entries of the same algorithm."""
    common = [k for k in differing_hparams([hp for _, hp in entries]) if k in _COMMON_KEYS]
    own = {
        name: [
            k
            for k in differing_hparams([hp for n, hp in entries if n == name])
            if k not in common and k not in _LABEL_HIDDEN
        ]
        for name in dict.fromkeys(n for n, _ in entries)
    }
    return [[*common, *own[name]] for name, _ in entries]


def run_labels(entries: Sequence[tuple[str, Mapping[str, Any]]], extra: Sequence[str] = ()) -> list[str]:
    """Legend labels for ``(algo, hparams)`` pairs: the algorithm name plus every differing hyperparameter
    (and the keys in ``extra``, e.g. ``seed``)."""
    labels = []
    for (algo, hp), keys in zip(entries, entry_keys(entries)):
        base = algo_label(algo, hp)
        shown = [k for k in (*keys, *extra) if k in hp and hp[k] is not None and k not in _label_hidden(algo)]
        details = ", ".join(f"{_SYMBOLS.get(k, k)}={format_value(hp[k])}" for k in dict.fromkeys(shown))
        labels.append(f"{base} ({details})" if details else base)
    return labels


# Hyperparameters in the legend, with seed 000's / 004's symbols.
_SYMBOLS = {"lr": "η", "momentum": "m", "batch_size": "B", "weight_decay": "wd"}


# -- data of one run -------------------------------------------------------------------------------
def _run_data(run_dir: Path) -> dict[str, Any]:
    steps, epochs, events = _read_records(run_dir)
    summary = load_summary(run_dir) or {}
    config = _load_config(run_dir)
    hparams = dict(summary.get("hparams") or config.get("hp") or {})
    algo = summary.get("algo") or config.get("algo") or run_dir.name
    diverged = any(e.get("event") == "diverged" for e in events) or summary.get("status") == "diverged"
    seed = summary.get("seed", config.get("seed"))
    return {
        "dir": run_dir,
        "steps": steps,
        "epochs": epochs,
        "algo": algo,
        "hparams": hparams,
        "diverged": diverged,
        "seed": seed,
        "classification": any(r.get("test_acc") is not None for r in epochs),
    }


def _finite(xs: Sequence[float], ys: Sequence[Any]) -> tuple[list[float], list[float]]:
    """The points up to the first non-finite or missing y (a diverged run is drawn up to divergence)."""
    out_x, out_y = [], []
    for x, y in zip(xs, ys):
        if not _is_number(y) or not math.isfinite(y):
            break
        out_x.append(x)
        out_y.append(y)
    return out_x, out_y


def _without_final_partial(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the last update when its batch is smaller than the one before: the budget's leftover samples."""
    if len(steps) >= 2 and steps[-1]["batch_size"] < steps[-2]["batch_size"]:
        return steps[:-1]
    return steps


def _plot_line(ax, xs, ys, label, diverged: bool, **style):
    xs, ys = _finite(xs, ys)
    if not xs:
        return None
    (line,) = ax.plot(xs, ys, label=label, **style)
    if diverged:
        ax.plot(xs[-1:], ys[-1:], marker="X", markersize=9, color=line.get_color(), linestyle="none")
    return line


def _decorate(ax, title: str, xlabel: str, ylabel: str, yscale: str | None = None, base: int = 10) -> None:
    from matplotlib.ticker import ScalarFormatter

    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if yscale == "log":
        ax.set_yscale("log", base=base)
        if base == 2:  # batch sizes: 32, 64, 128 rather than 2^5, 2^6, 2^7
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.get_major_formatter().set_scientific(False)
    ax.grid(alpha=0.3, which="major")
    ax.grid(alpha=0.1, which="minor")


def readable_log_ticks(ax, axis: str = "y") -> None:
    """Plain numbers (0.2, 0.5, 1) on a log axis spanning under two decades, where the default labels would
    be ``2 x 10^-1``-style minor labels; wider spans keep the powers of ten. Call after the data is drawn."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    if (
        target.get_scale() != "log"
        or not (0 < low < high)
        or target.get_major_formatter().__class__.__name__ == "ScalarFormatter"
    ):
        return
    if math.log10(high / low) < 2:
        plain = FuncFormatter(lambda value, _: f"{value:.3g}")
        target.set_major_formatter(plain)
        target.set_minor_locator(LogLocator(base=10, subs=(2.0, 3.0, 5.0)))
        target.set_minor_formatter(plain)
    else:
        target.set_minor_formatter(NullFormatter())


def _loss_unit(classification: bool) -> str:
    return "cross-entropy, nats" if classification else "mean squared error"


_X_EPOCH = "epochs (passes over the training set)"
_X_UPDATES = "updates (parameter steps)"


def plot_runs(run_dirs: Sequence[str | Path], out_path: str | Path) -> Path:
    r"""One figure of six panels, one line per run: training loss :math:`L(w)` against epochs and against
    updates, test accuracy (%) against epochs, batch size :math:`B` and learning rate :math:`\eta` per update,
    and test loss against epochs. ``run_dirs`` may name compare folders (see :func:`expand_run_dirs`)."""
    runs = [_run_data(path) for path in expand_run_dirs(run_dirs)]
    plt = _pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5), constrained_layout=True)
    seeds = {run["seed"] for run in runs}
    extra = ("seed",) if len(seeds) > 1 else ()
    labels = run_labels([(run["algo"], {**run["hparams"], "seed": run["seed"]}) for run in runs], extra)
    labels = [label + (" - diverged" if run["diverged"] else "") for label, run in zip(labels, runs)]
    classification = all(run["classification"] for run in runs)
    for run, label in zip(runs, labels):
        epochs, steps = run["epochs"], _without_final_partial(run["steps"])
        div = run["diverged"]
        line = _plot_line(
            axes[0, 0],
            [r["epoch"] for r in epochs],
            [r["train_loss"] for r in epochs],
            label,
            div,
            marker=".",
        )
        color = {"color": line.get_color()} if line is not None else {}
        _plot_line(
            axes[0, 1],
            [max(r["step"], 1) for r in epochs],
            [r["train_loss"] for r in epochs],
            label,
            div,
            marker=".",
            **color,
        )
        if run["classification"]:
            _plot_line(
                axes[0, 2],
                [r["epoch"] for r in epochs],
                [100 * r["test_acc"] for r in epochs],
                label,
                div,
                marker=".",
                **color,
            )
        _plot_line(
            axes[1, 0],
            [r["epoch"] for r in epochs],
            [r.get("test_loss") for r in epochs],
            label,
            div,
            marker=".",
            **color,
        )
        _plot_line(
            axes[1, 1],
            [r["step"] for r in steps],
            [r["batch_size"] for r in steps],
            label,
            False,
            drawstyle="steps-post",
            **color,
        )
        _plot_line(
            axes[1, 2],
            [r["step"] for r in steps],
            [r["lr"] for r in steps],
            label,
            False,
            drawstyle="steps-post",
            **color,
        )
    unit = _loss_unit(classification)
    _decorate(axes[0, 0], "training loss (whole training set)", _X_EPOCH, f"$L(w)$ ({unit})", "log")
    _decorate(axes[0, 1], "training loss against updates", _X_UPDATES, f"$L(w)$ ({unit})", "log")
    axes[0, 1].set_xscale("log")
    if classification:
        _decorate(axes[0, 2], "test accuracy", _X_EPOCH, "test accuracy (%)")
    else:
        axes[0, 2].set_axis_off()
        axes[0, 2].text(
            0.5,
            0.5,
            "no accuracy: a regression task",
            ha="center",
            va="center",
            transform=axes[0, 2].transAxes,
        )
    _decorate(axes[1, 0], "test loss", _X_EPOCH, f"test loss ({unit})", "log")
    _decorate(
        axes[1, 1],
        "batch size (final partial batch not shown)",
        _X_UPDATES,
        "batch size $B$ (samples)",
        "log",
        base=2,
    )
    _decorate(axes[1, 2], "learning rate", _X_UPDATES, r"learning rate $\eta$ (per update)", "log")
    handles, names = axes[0, 0].get_legend_handles_labels()
    if any(run["diverged"] for run in runs):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], marker="X", color="grey", linestyle="none", markersize=9))
        names.append("diverged here (last finite value)")
    # Loss against updates falls from the upper left to the lower right: its lower left is free.
    axes[0, 1].legend(handles, names, fontsize="small", loc="lower left")
    for ax in axes.flat:
        readable_log_ticks(ax, "y")
    return save_figure(fig, out_path, dpi=110)


def plot_run(run_dir: str | Path) -> Path:
    """``plots.png`` in the run directory."""
    return plot_runs([run_dir], Path(run_dir) / "plots.png")


# -- compare -----------------------------------------------------------------------------------------
def _optimizer_groups(names: list[str]) -> dict[str, list[str]]:
    """Split into the SGD and momentum families (seed 000 fig. 1 has one panel each) when both are present."""
    momentum = [n for n in names if "momentum" in n.lower()]
    plain = [n for n in names if n not in momentum]
    if momentum and plain:
        return {"SGD": plain, "Momentum": momentum}
    return {"": names}


def _band(
    ax, xs_runs: list[list[float]], ys_runs: list[list[Any]], label: str, diverged: bool, style
) -> None:
    """Mean over seeds (at the common points of all seeds) and the min-max band; a diverged seed ends the
    band where it diverged."""
    pairs = [_finite(xs, ys) for xs, ys in zip(xs_runs, ys_runs)]
    length = min(len(xs) for xs, _ in pairs) if pairs else 0
    if length == 0:
        return
    xs = pairs[0][0][:length]
    values = [[ys[i] for _, ys in pairs] for i in range(length)]
    mean = [sum(v) / len(v) for v in values]
    line = _plot_line(ax, xs, mean, label, diverged, **style)
    if len(pairs) > 1:
        ax.fill_between(
            xs,
            [min(v) for v in values],
            [max(v) for v in values],
            color=line.get_color(),
            alpha=0.15,
            linewidth=0,
        )


def plot_compare(
    groups: Mapping[str, Sequence[str | Path]],
    out_path: str | Path,
    title: str = "",
    diverged: Mapping[str, bool] | None = None,
) -> Path:
    """Seed 000 fig. 1 style for a grid: per optimizer family, training loss against epochs and against updates
    and test accuracy (%) against epochs; a line is the mean over seeds, the band the min-max over seeds.

    Args:
        groups: legend label -> the run directories of its seeds.
        diverged: label -> whether some seed diverged (drawn up to divergence, with a cross).
    """
    plt = _pyplot()
    runs = {label: [_run_data(Path(d)) for d in dirs] for label, dirs in groups.items()}
    families = _optimizer_groups(list(runs))
    fig, axes = plt.subplots(
        3, len(families), figsize=(6.5 * len(families), 12), constrained_layout=True, squeeze=False
    )
    classification = all(r["classification"] for seeds in runs.values() for r in seeds)
    unit = _loss_unit(classification)
    n_seeds = max(len(seeds) for seeds in runs.values())
    for column, (family, names) in enumerate(families.items()):
        for label in names:
            seeds = runs[label]
            div = bool((diverged or {}).get(label)) or any(r["diverged"] for r in seeds)
            style = {"color": "black", "linewidth": 2.2} if label.startswith("BA") else {}
            shown = label + (" - diverged" if div else "")
            epochs = [r["epochs"] for r in seeds]
            _band(
                axes[0, column],
                [[e["epoch"] for e in ep] for ep in epochs],
                [[e["train_loss"] for e in ep] for ep in epochs],
                shown,
                div,
                style,
            )
            _band(
                axes[1, column],
                [[max(e["step"], 1) for e in ep] for ep in epochs],
                [[e["train_loss"] for e in ep] for ep in epochs],
                shown,
                div,
                style,
            )
            if classification:
                _band(
                    axes[2, column],
                    [[e["epoch"] for e in ep] for ep in epochs],
                    [[100 * e["test_acc"] for e in ep] for ep in epochs],
                    shown,
                    div,
                    style,
                )
        prefix = f"{family}: " if family else ""
        _decorate(
            axes[0, column],
            f"{prefix}training loss (whole training set)",
            _X_EPOCH,
            f"$L(w)$ ({unit})",
            "log",
        )
        _decorate(
            axes[1, column], f"{prefix}training loss against updates", _X_UPDATES, f"$L(w)$ ({unit})", "log"
        )
        axes[1, column].set_xscale("log")
        if classification:
            _decorate(axes[2, column], f"{prefix}test accuracy", _X_EPOCH, "test accuracy (%)")
        else:
            axes[2, column].set_axis_off()
        handles, names_ = axes[0, column].get_legend_handles_labels()
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        if n_seeds > 1:
            handles.append(Patch(color="grey", alpha=0.3))
            names_.append(f"band: min-max over {n_seeds} seeds; line: mean")
        if any((diverged or {}).get(n) or any(r["diverged"] for r in runs[n]) for n in names):
            handles.append(Line2D([], [], marker="X", color="grey", linestyle="none", markersize=9))
            names_.append("diverged here (last finite value)")
        axes[1, column].legend(handles, names_, fontsize="small", loc="lower left")
    for ax in axes.flat:
        readable_log_ticks(ax, "y")
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_path, dpi=110)

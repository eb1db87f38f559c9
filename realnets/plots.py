r"""Plots of run directories: training loss against epochs and against updates, test accuracy, batch size and
learning rate per update.

The loss-per-epoch panel is seed 000's fig. 1 (training loss :math:`L(w)` on the whole training set after
each epoch, log scale); batch size per update is its fig. 3. Matplotlib runs headless (Agg).

Conventions of every figure: test accuracy in percent; the legend names the algorithm in seed 000's words
(``BA-SGD``, ``Mini-32-Momentum``, ``Manual-SGD``) plus every hyperparameter that differs between the runs
shown (and the run settings that differ, e.g. ``val_fraction``); a diverged run is drawn up to its last
finite value, carried by a dotted line to where it diverged, and ends in a cross; a batch cut short (the
budget's leftover samples, or a batch capped where an epoch ends) is not drawn, since it is no decision of
the algorithm; runs that differ only in their seed are one line (the mean) with a min-max band, and the
legend says so.
"""

from __future__ import annotations

import json
import math
import textwrap
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
        found = _grid_order(path, found)
        if not path.is_dir() or not found:
            raise ValueError(
                f"Invalid run directory: {str(raw)!r} (expected a folder with metrics.jsonl, or a "
                f"compare folder of run directories)"
            )
        runs += found
    return list(dict.fromkeys(runs))


def _grid_order(grid: Path, found: list[Path]) -> list[Path]:
    """The runs of a compare folder in the order of its table (``compare.json``), others after them."""
    try:
        rows = json.loads((grid / "compare.json").read_text(encoding="utf-8")).get("rows", [])
        listed = [grid / d for row in rows for d in row.get("run_dirs", [])]
    except (OSError, ValueError, AttributeError, TypeError):
        return found
    ordered = [p for p in listed if p in found]
    return ordered + [p for p in found if p not in ordered]


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
# Settings of config.json that change the experiment (not the display, the folder or the hardware): shown in a
# legend when they differ between the runs of a figure.
_SETTING_KEYS = (
    "model",
    "dataset",
    "budget_epochs",
    "val_fraction",
    "grad_clip",
    "augment",
    "sampling",
    "amp",
    "model_options",
    "dataset_options",
)


def _run_data(run_dir: Path) -> dict[str, Any]:
    steps, epochs, events = _read_records(run_dir)
    summary = load_summary(run_dir) or {}
    config = _load_config(run_dir)
    hparams = dict(summary.get("hparams") or config.get("hp") or {})
    algo = summary.get("algo") or config.get("algo") or run_dir.name
    diverged = any(e.get("event") == "diverged" for e in events) or summary.get("status") == "diverged"
    seed = summary.get("seed", config.get("seed"))
    settings = {k: v for k, v in config.items() if k in _SETTING_KEYS}
    return {
        "diverged_at": _divergence_point(steps, events),
        "settings": settings,
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


def _without_cut_batches(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the updates whose batch was cut short, smaller than the one before: the budget's leftover samples
    (the last update), and a batch capped where an epoch ends (``epoch`` a whole number, e.g. BA-SGD's
    ``epoch_boundary="cap"``). Neither is a decision of the algorithm; drawn, each would look like a drop
    in batch size."""
    kept: list[dict[str, Any]] = []
    for index, record in enumerate(steps):
        previous = kept[-1]["batch_size"] if kept else None
        epoch = record.get("epoch")
        at_epoch_end = _is_number(epoch) and abs(epoch - round(epoch)) < 1e-9 and round(epoch) > 0
        last = index == len(steps) - 1
        if previous is not None and record["batch_size"] < previous and (last or at_epoch_end):
            continue
        kept.append(record)
    return kept


_without_final_partial = _without_cut_batches  # the earlier name


def _plot_line(ax, xs, ys, label, diverged: bool | float, **style):
    """A line up to its first non-finite value; ``diverged``: True, or the x where the run diverged (then a
    dotted line carries the last finite value to it), ends it in a cross."""
    xs, ys = _finite(xs, ys)
    if not xs:
        return None
    (line,) = ax.plot(xs, ys, label=label, **style)
    if diverged is not False and diverged is not None:
        x_end = diverged if _is_number(diverged) and diverged is not True and diverged > xs[-1] else xs[-1]
        if x_end != xs[-1]:
            ax.plot([xs[-1], x_end], [ys[-1], ys[-1]], linestyle=":", color=line.get_color(), linewidth=1)
        ax.plot([x_end], ys[-1:], marker="X", markersize=9, color=line.get_color(), linestyle="none")
    return line


def _div_x(seeds: list[dict[str, Any]], key: str, diverged: bool) -> bool | float:
    """Where the first of ``seeds`` diverged in ``key`` units (epoch or step); True when some seed diverged at
    an unknown point; False when none did."""
    points = [
        r["diverged_at"][key] for r in seeds if r.get("diverged_at") and _is_number(r["diverged_at"][key])
    ]
    if points:
        return min(points)
    return bool(diverged)


def _divergence_point(steps: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, float] | None:
    """``{"epoch", "step"}`` of a run's divergence (from its ``diverged`` event), None when it did not."""
    event = next((e for e in events if e.get("event") == "diverged" and _is_number(e.get("step"))), None)
    if event is None:
        return None
    step = next((r for r in steps if r["step"] == event["step"]), None)
    epoch = step.get("epoch") if step else None
    return {"step": event["step"], "epoch": epoch if _is_number(epoch) else None}


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
        if high / low < 1.02:  # one value (a run that stopped at once): a span where ticks can differ
            centre = math.sqrt(low * high)
            low, high = centre / 1.1, centre * 1.1
            ax.set_ylim(low, high) if axis == "y" else ax.set_xlim(low, high)
        minor = LogLocator(base=10, subs=(2.0, 3.0, 5.0))
        target.set_minor_locator(minor)
        ticks = [
            v for v in (*target.get_major_locator().tick_values(low, high), *minor.tick_values(low, high))
        ]
        ticks = [v for v in ticks if low <= v <= high]
        digits = next((d for d in range(3, 7) if len({f"{v:.{d}g}" for v in ticks}) == len(set(ticks))), 6)
        plain = FuncFormatter(lambda value, _: f"{value:.{digits}g}")
        target.set_major_formatter(plain)
        target.set_minor_formatter(plain)
    else:
        target.set_minor_formatter(NullFormatter())


def _loss_unit(classification: bool) -> str:
    return "cross-entropy, nats" if classification else "mean squared error"


_X_EPOCH = "epochs (passes over the training set)"
_X_UPDATES = "updates (parameter steps)"


def _palette(n: int) -> list[dict[str, Any]]:
    """Distinct styles for ``n`` lines: the ten tab10 colours, then again dashed, dotted, dash-dotted."""
    import matplotlib

    colors = matplotlib.colormaps["tab10"].colors
    dashes = ("-", "--", ":", "-.")
    return [{"color": colors[i % 10], "linestyle": dashes[(i // 10) % 4]} for i in range(n)]


def _group_seeds(runs: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Runs that differ only in their seed, grouped under one legend label (in order of appearance)."""
    settings = [run["settings"] for run in runs]
    differing = [k for k in differing_hparams(settings) if k in _SETTING_KEYS]
    labels = run_labels([(run["algo"], run["hparams"]) for run in runs])
    # batch size and optimizer differing between runs: stated by seed 000's names (Mini-32-SGD), not by others
    unstated = [
        k for k in ("batch_size", "optimizer") if len({json.dumps(r["hparams"].get(k)) for r in runs}) > 1
    ]
    for index, (run, label) in enumerate(zip(runs, labels)):
        own = [] if algo_label(run["algo"], run["hparams"]) != run["algo"] else unstated
        shown = {
            **{k: run["hparams"].get(k) for k in own},
            **{k: run["settings"].get(k, "-") for k in differing},
        }
        details = ", ".join(
            f"{_SYMBOLS.get(k, k)}={format_value(v)}"
            for k, v in shown.items()
            if v is not None and k not in label
        )
        if details:
            labels[index] = f"{label[:-1]}, {details})" if label.endswith(")") else f"{label} ({details})"
    groups: dict[str, list[dict[str, Any]]] = {}
    for label, run in zip(labels, runs):
        groups.setdefault(label, []).append(run)
    for label, members in list(groups.items()):
        if len({json.dumps(run["seed"]) for run in members}) < len(members):
            # the same label and seed twice: no seeds to average; one line per run, named by its folder
            del groups[label]
            groups.update({f"{label} [{run['dir']}]": [run] for run in members})
    return list(groups.items())


def plot_runs(run_dirs: Sequence[str | Path], out_path: str | Path) -> Path:
    r"""One figure of six panels: training loss :math:`L(w)` against epochs and against updates, test accuracy
    (%) and test loss against epochs, batch size :math:`B` and learning rate :math:`\eta` per update.

    ``run_dirs`` may name compare folders (see :func:`expand_run_dirs`). Runs that differ only in their seed
    are one line, the mean over seeds, with the min-max band (batch size and learning rate: the first seed);
    other runs are one line each. The legend, beside the panels, names the algorithm and every
    hyperparameter that differs between the lines."""
    runs = [_run_data(path) for path in expand_run_dirs(run_dirs)]
    groups = _group_seeds(runs)
    plt = _pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(17, 8.5), constrained_layout=True)
    classification = all(run["classification"] for run in runs)
    n_seeds = max(len(seeds) for _, seeds in groups)
    for (label, seeds), style in zip(groups, _palette(len(groups))):
        div = any(run["diverged"] for run in seeds)
        count = f" ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})"
        shown = label + (count if n_seeds > 1 and len(seeds) != n_seeds else "")
        shown += " - diverged" if div else ""
        epochs = [run["epochs"] for run in seeds]
        by_epoch = [[r["epoch"] for r in ep] for ep in epochs]
        marker = {"marker": "."} if max(len(ep) for ep in epochs) <= 30 else {}
        line_style = {**style, **marker}
        div_epoch, div_step = _div_x(seeds, "epoch", div), _div_x(seeds, "step", div)
        _band(
            axes[0, 0],
            by_epoch,
            [[r["train_loss"] for r in ep] for ep in epochs],
            shown,
            div_epoch,
            line_style,
        )
        _band(
            axes[0, 1],
            [[max(r["step"], 1) for r in ep] for ep in epochs],
            [[r["train_loss"] for r in ep] for ep in epochs],
            shown,
            div_step,
            line_style,
        )
        if classification:
            _band(
                axes[0, 2],
                by_epoch,
                [[100 * r["test_acc"] for r in ep] for ep in epochs],
                shown,
                div_epoch,
                line_style,
            )
        _band(
            axes[1, 0],
            by_epoch,
            [[r.get("test_loss") for r in ep] for ep in epochs],
            shown,
            div_epoch,
            line_style,
        )
        steps = _without_cut_batches(seeds[0]["steps"])
        for ax, key in ((axes[1, 1], "batch_size"), (axes[1, 2], "lr")):
            _plot_line(
                ax,
                [r["step"] for r in steps],
                [r[key] for r in steps],
                shown,
                False,
                drawstyle="steps-post",
                **style,
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
    first = " (first seed)" if n_seeds > 1 else ""
    _decorate(
        axes[1, 1],
        f"batch size{first}; batches cut at an epoch end not drawn",
        _X_UPDATES,
        "batch size $B$ (samples)",
        "log",
        base=2,
    )
    _decorate(axes[1, 2], f"learning rate{first}", _X_UPDATES, r"learning rate $\eta$ (per update)", "log")
    handles, names = axes[1, 1].get_legend_handles_labels()
    _legend_notes(handles, names, n_seeds, any(run["diverged"] for run in runs))
    names = [
        textwrap.fill(name, 46, subsequent_indent="    ") if "\n" not in name else name for name in names
    ]
    fig.legend(handles, names, loc="outside right upper", fontsize="small", frameon=False)
    for ax in axes.flat:
        readable_log_ticks(ax, "y")
    return save_figure(fig, out_path, dpi=110)


def _legend_notes(handles: list, names: list[str], n_seeds: int, diverged: bool) -> None:
    """What the bands and crosses of a figure mean, as legend entries."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if n_seeds > 1:
        handles.append(Patch(color="grey", alpha=0.3))
        names.append(f"line: mean over seeds;\nband: min-max over {n_seeds} seeds")
    if diverged:
        handles.append(Line2D([], [], marker="X", color="grey", linestyle="none", markersize=9))
        names.append("diverged here (last finite value)")


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
            div_epoch, div_step = _div_x(seeds, "epoch", div), _div_x(seeds, "step", div)
            style = {"color": "black", "linewidth": 2.2} if label.startswith("BA") else {}
            shown = label + (" - diverged" if div else "")
            epochs = [r["epochs"] for r in seeds]
            _band(
                axes[0, column],
                [[e["epoch"] for e in ep] for ep in epochs],
                [[e["train_loss"] for e in ep] for ep in epochs],
                shown,
                div_epoch,
                style,
            )
            _band(
                axes[1, column],
                [[max(e["step"], 1) for e in ep] for ep in epochs],
                [[e["train_loss"] for e in ep] for ep in epochs],
                shown,
                div_step,
                style,
            )
            if classification:
                _band(
                    axes[2, column],
                    [[e["epoch"] for e in ep] for ep in epochs],
                    [[100 * e["test_acc"] for e in ep] for ep in epochs],
                    shown,
                    div_epoch,
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

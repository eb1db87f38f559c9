"""Plots of run directories: loss per epoch, batch size per iteration, learning rate per iteration.

The loss-per-epoch panel is seed 000's fig. 1 (training loss on the whole training set after each epoch,
log scale); batch size per iteration is its fig. 3. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_metrics", "plot_compare", "plot_run", "plot_runs"]


def load_metrics(run_dir: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(step records, epoch records)`` of a run. ValueError when the folder holds no metrics."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise ValueError(f"Invalid run directory: {str(run_dir)!r} (expected a folder with metrics.jsonl)")
    try:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise ValueError(f"Invalid metrics file: {str(path)!r} (expected JSON lines; {error})") from None
    if not all(isinstance(r, dict) for r in records):
        raise ValueError(f"Invalid metrics file: {str(path)!r} (expected one JSON object per line)")
    return [r for r in records if r.get("kind") == "step"], [r for r in records if r.get("kind") == "epoch"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` to ``out`` (creating its folder), close it, and return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    _pyplot().close(fig)
    return out


def _label(run_dir: Path) -> str:
    summary = run_dir / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        return f"{data['algo']} (seed {data['seed']})"
    return run_dir.name


def plot_runs(run_dirs: Sequence[str | Path], out_path: str | Path) -> Path:
    """One figure, three panels (loss per epoch, batch size and lr per iteration), one line per run."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
    for run_dir in map(Path, run_dirs):
        steps, epochs = load_metrics(run_dir)
        label = _label(run_dir)
        axes[0].plot([r["epoch"] for r in epochs], [r["train_loss"] for r in epochs], marker=".", label=label)
        axes[1].plot([r["step"] for r in steps], [r["batch_size"] for r in steps], label=label)
        axes[2].plot([r["step"] for r in steps], [r["lr"] for r in steps], label=label)
    titles = ("training loss (whole training set)", "batch size", "learning rate")
    xlabels = ("epoch", "iteration", "iteration")
    for ax, title, xlabel in zip(axes, titles, xlabels):
        ax.set(title=title, xlabel=xlabel, yscale="log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path


def plot_run(run_dir: str | Path) -> Path:
    """``plots.png`` in the run directory."""
    return plot_runs([run_dir], Path(run_dir) / "plots.png")


def _optimizer_groups(names: list[str]) -> dict[str, list[str]]:
    """Split into the SGD and momentum families (seed 000 fig. 1 has one panel each) when both are present."""
    momentum = [n for n in names if "momentum" in n.lower()]
    plain = [n for n in names if n not in momentum]
    if momentum and plain:
        return {"SGD": plain, "momentum": momentum}
    return {"": names}


def _plot_band(ax, label: str, runs: list[list[tuple[float, float]]]) -> None:
    length = min(len(run) for run in runs)
    epochs = [runs[0][i][0] for i in range(length)]
    values = [[run[i][1] for run in runs] for i in range(length)]
    mean = [sum(v) / len(v) for v in values]
    style = {"color": "black", "linewidth": 2.2} if label.lower().startswith("ba") else {}
    (line,) = ax.plot(epochs, mean, label=label, **style)
    ax.fill_between(epochs, [min(v) for v in values], [max(v) for v in values], color=line.get_color(),
                    alpha=0.15, linewidth=0)


def plot_compare(curves: dict[str, list[list[tuple[float, float]]]], out_path: str | Path,
                 title: str = "") -> Path:
    """Seed 000 fig. 1 style: training loss per epoch, one line per algorithm (mean over seeds, min-max band).

    Args:
        curves: algorithm -> one ``[(epoch, train_loss), ...]`` list per seed (same epochs across seeds).
    """
    plt = _pyplot()
    groups = _optimizer_groups(list(curves))
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.5), constrained_layout=True,
                             sharey=True, squeeze=False)
    for ax, (group, names) in zip(axes[0], groups.items()):
        for algo in names:
            _plot_band(ax, algo, curves[algo])
        ax.set(xlabel="epoch", yscale="log", title=group)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[0][0].set_ylabel("training loss (whole training set)")
    if title:
        fig.suptitle(title)
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path

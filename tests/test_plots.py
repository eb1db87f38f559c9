"""``realnets.plots``: reading run directories robustly, labels, and figures of hand-made runs."""

from __future__ import annotations

import json
import math

import pytest

from realnets import plots


def _write_run(
    folder, *, algo="sgd", hparams=None, seed=0, diverge_at=None, epochs=4, batch=32, n=128, status="finished"
):
    """A run directory with metrics for ``epochs`` epochs of fixed batches (the last one partial)."""
    folder.mkdir(parents=True)
    records = [
        {
            "kind": "epoch",
            "epoch": 0.0,
            "step": 0,
            "samples": 0,
            "train_loss": 2.0,
            "train_acc": 0.1,
            "test_loss": 2.1,
            "test_acc": 0.1,
            "time": 0.0,
        }
    ]
    samples, step = 0, 0
    total = epochs * n
    while samples < total:
        size = min(batch, total - samples)
        samples += size
        step += 1
        loss = 2.0 / (1 + step) if diverge_at is None or step < diverge_at else math.nan
        records.append(
            {
                "kind": "step",
                "step": step,
                "samples": samples,
                "epoch": samples / n,
                "batch_size": size,
                "lr": 0.05,
                "loss": loss,
                "fwd": 1,
                "bwd": 1,
            }
        )
        if diverge_at is not None and step == diverge_at:
            records.append(
                {
                    "kind": "event",
                    "event": "diverged",
                    "step": step,
                    "samples": samples,
                    "message": "diverged",
                }
            )
            status = "diverged"
            break
        if samples % n == 0:
            records.append(
                {
                    "kind": "epoch",
                    "epoch": samples / n,
                    "step": step,
                    "samples": samples,
                    "train_loss": 2.0 / (1 + step),
                    "train_acc": 0.5,
                    "test_loss": 2.0 / (1 + step),
                    "test_acc": 0.4 + 0.1 * samples / total,
                    "time": 0.1 * step,
                }
            )
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    hp = {"optimizer": "sgd", "lr": 0.05, "batch_size": batch, "momentum": 0.9, **(hparams or {})}
    (folder / "summary.json").write_text(
        json.dumps({"status": status, "algo": algo, "seed": seed, "hparams": hp})
    )
    return folder


def test_load_metrics_splits_steps_and_epochs(tmp_path):
    run = _write_run(tmp_path / "run", batch=48, n=128, epochs=1)
    steps, epochs = plots.load_metrics(run)
    assert [s["batch_size"] for s in steps] == [48, 48, 32]
    assert [e["epoch"] for e in epochs] == [0.0, 1.0]


@pytest.mark.parametrize(
    "content,fragment",
    [
        (
            b'{"kind": "epoch", "epoch": 0.0, "step": 0}\n',
            "line 1: epoch record without a number 'train_loss'",
        ),
        (b'{"kind": "step", "step": 1, "lr": 0.1}\n', "line 1: step record without a number 'batch_size'"),
        (b"[1, 2]\n", "line 1: expected a JSON object"),
        (b'{"kind": "step"\n{"kind": "event"}\n', "line 1 is not JSON"),
        (b'{"kind": "event", "message": "caf\xe9"}\n', "not UTF-8"),
    ],
)
def test_malformed_metrics_is_one_line_naming_the_file(tmp_path, content, fragment):
    # A malformed epoch line was a KeyError traceback; a non-UTF-8 file said nothing of which file.
    (tmp_path / "metrics.jsonl").write_bytes(content)
    with pytest.raises(ValueError) as error:
        plots.load_metrics(tmp_path)
    message = str(error.value)
    assert fragment in message and str(tmp_path / "metrics.jsonl") in message and "\n" not in message


def test_a_last_line_cut_short_is_skipped(tmp_path):
    run = _write_run(tmp_path / "run", epochs=1)
    with open(run / "metrics.jsonl", "a") as stream:
        stream.write('{"kind": "step", "step": 9, "sam')
    steps, _ = plots.load_metrics(run)
    assert steps[-1]["step"] == 4


def test_corrupt_summary_names_the_file(tmp_path):
    run = _write_run(tmp_path / "run")
    (run / "summary.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"Invalid summary file: .*run/summary.json"):
        plots.plot_runs([run], tmp_path / "x.png")


def test_expand_run_dirs_accepts_compare_folders(tmp_path):
    grid = tmp_path / "grid"
    a = _write_run(grid / "Mini-32-SGD" / "seed0")
    b = _write_run(grid / "Mini-32-SGD" / "seed1", seed=1)
    single = _write_run(tmp_path / "single")
    assert plots.expand_run_dirs([grid, single]) == [a, b, single]
    with pytest.raises(ValueError, match="Invalid run directory"):
        plots.expand_run_dirs([tmp_path / "nothing"])


def test_labels_use_seed000_names_and_show_what_differs():
    entries = [
        ("sgd", {"optimizer": "sgd", "lr": 0.05, "batch_size": 32}),
        ("momentum", {"optimizer": "momentum", "lr": 0.01, "batch_size": 64, "momentum": 0.9}),
        ("ba-sgd", {"lr": 0.05, "m0": 32, "batch_size": None}),
        ("manual", {"optimizer": "momentum", "lr": 0.01, "batch_size": 32}),
    ]
    assert plots.run_labels(entries) == [
        "Mini-32-SGD (η=0.05)",
        "Mini-64-Momentum (η=0.01)",
        "BA-SGD (η=0.05)",
        "Manual-Momentum (η=0.01)",
    ]
    same_lr = [("sgd", {"optimizer": "sgd", "lr": 0.05, "batch_size": b}) for b in (32, 64)]
    assert plots.run_labels(same_lr) == ["Mini-32-SGD", "Mini-64-SGD"]


def test_final_partial_batch_is_not_drawn_but_the_data_is_kept(tmp_path):
    run = _write_run(tmp_path / "run", batch=48, n=128, epochs=1)
    steps, _ = plots.load_metrics(run)
    assert [s["batch_size"] for s in plots._without_final_partial(steps)] == [48, 48]
    assert len(steps) == 3


def test_a_batch_capped_at_an_epoch_end_is_not_drawn_as_a_drop():
    steps = [
        {"step": 1, "epoch": 0.25, "batch_size": 32},
        {"step": 2, "epoch": 0.5, "batch_size": 32},
        {"step": 3, "epoch": 0.75, "batch_size": 32},
        {"step": 4, "epoch": 1.0, "batch_size": 29},  # capped where the epoch ends
        {"step": 5, "epoch": 1.3, "batch_size": 16},  # a real decrease, within an epoch
        {"step": 6, "epoch": 1.5, "batch_size": 64},
        {"step": 7, "epoch": 1.6, "batch_size": 10},  # the budget's leftover
    ]
    assert [s["step"] for s in plots._without_cut_batches(steps)] == [1, 2, 3, 5, 6]


def test_runs_differing_only_in_seed_are_one_line_with_a_band(tmp_path, monkeypatch):
    grid = tmp_path / "grid"
    runs = [_write_run(grid / "Mini-32-SGD" / f"seed{s}", seed=s) for s in (0, 1, 2)]
    runs.append(_write_run(grid / "Mini-64-SGD" / "seed0", batch=64))
    runs.append(_write_run(grid / "Mini-64-SGD" / "seed1", batch=64, seed=1))
    # compare.json's order (the table's) wins over the folder names' order
    rows = [{"run_dirs": ["Mini-64-SGD/seed0", "Mini-64-SGD/seed1"]}, {"run_dirs": ["Mini-32-SGD/seed0"]}]
    (grid / "compare.json").write_text(json.dumps({"rows": rows}))
    assert plots.expand_run_dirs([grid])[:3] == [runs[3], runs[4], runs[0]]
    legends = []
    real_save = plots.save_figure

    def keep(fig, out, dpi=120):
        legends.extend(t.get_text() for legend in fig.legends for t in legend.get_texts())
        legends.append(sum(len(ax.collections) for ax in fig.axes))  # the bands
        return real_save(fig, out, dpi)

    monkeypatch.setattr(plots, "save_figure", keep)
    plots.plot_runs([grid], tmp_path / "grid.png")
    assert legends[:2] == ["Mini-64-SGD (2 seeds)", "Mini-32-SGD"]
    assert "band: min-max over 3 seeds" in legends[2] and legends[-1] == 2 * 4  # 2 lines x 4 epoch panels


def test_same_seed_runs_with_different_settings_are_told_apart(tmp_path):
    a = _write_run(tmp_path / "a")
    b = _write_run(tmp_path / "b")
    (b / "config.json").write_text(json.dumps({"val_fraction": 0.1}))
    (a / "config.json").write_text(json.dumps({"val_fraction": 0.0}))
    labels = [label for label, _ in plots._group_seeds([plots._run_data(a), plots._run_data(b)])]
    assert labels == ["Mini-32-SGD (val_fraction=0)", "Mini-32-SGD (val_fraction=0.1)"]


def test_diverged_runs_are_drawn_up_to_divergence():
    xs, ys = plots._finite([0, 1, 2, 3], [1.0, 0.5, math.nan, 0.1])
    assert (xs, ys) == ([0, 1], [1.0, 0.5])


def _axes_texts(fig):
    return [(ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes if ax.axison]


def test_run_figure_has_labelled_panels_and_marks_divergence(tmp_path, monkeypatch):
    runs = [
        _write_run(tmp_path / "a"),
        _write_run(
            tmp_path / "b", algo="momentum", diverge_at=7, hparams={"optimizer": "momentum", "lr": 0.5}
        ),
    ]
    captured = {}
    real_save = plots.save_figure

    def keep(fig, out, dpi=120):
        captured["fig"] = fig
        captured["texts"] = _axes_texts(fig)
        captured["legend"] = [
            t.get_text()
            for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
            for t in legend.get_texts()
        ]
        return real_save(fig, out, dpi)

    monkeypatch.setattr(plots, "save_figure", keep)
    out = plots.plot_runs(runs, tmp_path / "fig.png")
    assert out.stat().st_size > 10_000
    texts = captured["texts"]
    assert len(texts) == 6 and all(title and xlabel and ylabel for title, xlabel, ylabel in texts)
    assert any("test accuracy (%)" == y for _, _, y in texts)
    assert any("updates" in x for _, x, _ in texts) and any("epochs" in x for _, x, _ in texts)
    legend = captured["legend"]
    assert "Mini-32-SGD (η=0.05)" in legend and "Mini-32-Momentum (η=0.5) - diverged" in legend
    assert "diverged here (last finite value)" in legend


def test_compare_figure_says_what_the_band_is(tmp_path, monkeypatch):
    groups = {
        "Mini-32-SGD": [_write_run(tmp_path / "s" / f"seed{s}", seed=s) for s in (0, 1)],
        "Mini-32-Momentum": [
            _write_run(tmp_path / "m" / f"seed{s}", seed=s, algo="momentum") for s in (0, 1)
        ],
    }
    legends = []
    real_save = plots.save_figure

    def keep(fig, out, dpi=120):
        legends.extend(
            t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
        )
        return real_save(fig, out, dpi)

    monkeypatch.setattr(plots, "save_figure", keep)
    out = plots.plot_compare(groups, tmp_path / "cmp.png", title="t")
    assert out.stat().st_size > 10_000
    assert "band: min-max over 2 seeds; line: mean" in legends


def test_a_run_diverging_within_its_first_epoch_is_marked_where_it_diverged(tmp_path):
    run = plots._run_data(_write_run(tmp_path / "d", diverge_at=3, n=128, batch=32))
    assert run["diverged_at"] == {"step": 3, "epoch": 0.75}
    assert plots._div_x([run], "epoch", True) == 0.75 and plots._div_x([run], "step", True) == 3
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    plots._plot_line(ax, [0.0], [2.0], "x", 0.75)  # only the epoch-0 evaluation is finite
    ends = [line.get_xdata()[-1] for line in ax.get_lines()]
    assert ends == [0.0, 0.75, 0.75]  # the line, the dotted carry to the divergence, the cross
    ax.set_yscale("log")
    plots.readable_log_ticks(ax)  # one value: a span where the tick labels differ
    low, high = ax.get_ylim()
    assert high / low > 1.1
    plt.close(fig)

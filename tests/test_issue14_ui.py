"""Issue 14: honest tables, progress of long commands, and the appendix B/C figures say what they show."""

from __future__ import annotations

import pytest

from realnets import ba_diagnostics as bd
from realnets import bench, compare, plots


@pytest.mark.parametrize(
    "mean,std,fmt,scale,text",
    [
        (2.266, 0.003379, ".4g", 1.0, "2.2660 ± 0.0034"),  # the spread sets the decimals, not '.4g'
        (0.3931, 0.0255, ".2f", 100.0, "39.3 ± 2.5"),
        (90.0, 0.0, ".0f", 1.0, "90 ± 0"),  # no spread: the column's format
        (None, None, ".2f", 1.0, "-"),
    ],
)
def test_table_cells_round_mean_and_spread_alike(mean, std, fmt, scale, text):
    assert compare._cell(mean, std, fmt, scale) == text


def _row(label, hp):
    return {
        "algo": label,
        "seeds": 2,
        "diverged": 0,
        "hparams": hp,
        "differing": {},
        "final_train_loss": 1.0,
        "final_train_loss_std": 0.1,
        "final_test_acc": 0.5,
        "final_test_acc_std": 0.01,
        "best_test_acc": 0.5,
        "best_test_acc_std": 0.01,
        "steps": 10,
        "steps_std": 0.0,
    }


def test_table_shows_batch_size_and_optimizer_when_they_differ_between_rows():
    rows = [
        _row("Mini-32-SGD", {"lr": 0.05, "batch_size": 32, "optimizer": "sgd"}),
        _row(
            "increase-batch", {"lr": 0.05, "batch_size": 128, "optimizer": "momentum", "max_batch_size": 512}
        ),
    ]
    header = compare.format_table(rows).splitlines()[1]
    assert "batch_size" in header and "optimizer" in header
    assert "128..512" in compare.format_table(rows)
    same = [_row("Mini-32-SGD", {"lr": 0.05, "batch_size": 32, "optimizer": "sgd"})] * 2
    assert "optimizer" not in compare.format_table(same).splitlines()[1]
    assert "mean ± sample standard deviation over 2 seeds" in compare.format_table(rows)


def test_labels_of_other_algorithms_name_their_batch_size_and_optimizer():
    plan = compare.plan_grid(
        ["sgd:batch_size=32", "increase-batch:milestones=1,2"],
        [0],
        [{"budget_epochs": 3, "progress": False}],
    )
    labels = list(plan["labels"].values())
    assert labels[0].startswith("Mini-32-SGD")
    assert "batch_size=" in labels[1] and "optimizer=" in labels[1]


def test_bench_reports_each_case_as_it_is_timed():
    @bench.register_section("_fake_issue14")
    def fake(device, repeats):
        rows = []
        for case in ("a", "b"):
            ours, peer = bench.interleaved_medians(lambda: None, lambda: None, repeats, device)
            rows.append({"case": case, "ours_value": ours, "peer_value": peer})
        return rows

    lines: list[str] = []
    try:
        rows = bench.run_bench(
            sections=["_fake_issue14"], device="cpu", repeats=1, out=None, report=lines.append
        )
    finally:
        del bench.SECTIONS["_fake_issue14"]
    assert len(rows) == 2 and len(lines) == 2
    assert lines[0].startswith("bench: _fake_issue14 case 1 timed: ours ") and "peer/ours" in lines[0]
    bench.interleaved_medians(lambda: None, lambda: None, 1, __import__("torch").device("cpu"))  # no reporter


def test_diagnostics_reporter_writes_every_interval_and_at_the_end(capsys):
    now = [0.0]
    report = bd._reporter("trace: sample", True, every_s=10.0, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] += 1.0
        report(done, 100)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10 and lines[-1].startswith("trace: sample 100/100 (100%)")
    assert bd._reporter("x", False) is None


def _capture(monkeypatch):
    captured = {}
    real = plots.save_figure

    def keep(fig, out, dpi=120):
        captured["titles"] = [ax.get_title() for ax in fig.axes]
        captured["labels"] = [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes]
        captured["texts"] = [t.get_text() for t in fig.texts]
        captured["suptitle"] = fig._suptitle.get_text() if fig._suptitle else ""
        captured["legends"] = [
            t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
        ]
        return real(fig, out, dpi)

    monkeypatch.setattr(plots, "save_figure", keep)
    return captured


def test_appendix_b_figure_has_a_title_and_a_caption_naming_the_offset(monkeypatch, tmp_path):
    captured = _capture(monkeypatch)
    result = {
        "decreases": [-4.5e-4, -4.7e-4, -4.9e-4, -4.6e-4],
        "predicted_mean_median": -9.2e-4,
        "population_mean": -4.7e-4,
        "population_std": 4e-5,
        "predicted_std_exact_median": 1.4e-4,
        "predicted_std_diag_median": 3e-5,
        "predicted_std_code_diag_median": 3e-6,
        "empirical_mean": -4.68e-4,
        "empirical_std": 1.7e-5,
        "repeats": 4,
        "batch_size": 100,
        "lr": 0.01,
    }
    bd.plot_decrease_distribution(result, tmp_path / "b.png")
    assert "appendix B" in captured["titles"][0] and "m$ = 100" in captured["titles"][0]
    caption = captured["texts"][0]
    assert "Offset" in caption and "-0.00045" in caption and "tr" in caption  # -9.2e-4 - (-4.7e-4)
    xlabel, ylabel = captured["labels"][0]
    assert "$10^{-4}$ nats" in xlabel and "density" in ylabel


def test_trace_figure_shows_sigma2_exact_against_diagonal(monkeypatch, tmp_path):
    captured = _capture(monkeypatch)
    steps = [
        {
            "predicted_next": 2.0 - 0.1 * t,
            "batch_after": 2.0 - 0.09 * t,
            "batch_size": 32,
            "m_star": 1 + t,
            "m_star_diag": 1,
            "sigma2": 0.1 * (t + 1),
            "sigma2_diag": 0.001 * (t + 1),
        }
        for t in range(10)
    ]
    bd.plot_trace({"steps": steps, "algo": "ba-sgd", "hp": {"lr": 0.3}, "n_train": 1437}, tmp_path / "t.png")
    assert len(captured["titles"]) == 3 and "exact against diagonal" in captured["titles"][1]
    assert "median ratio diag/exact 0.01" in captured["titles"][1]
    assert (
        "exact $\\sigma_t^2$ (eq. 4)" in captured["legends"]
        and "diagonal $\\sigma_t^2$" in captured["legends"]
    )
    assert all(x and y for x, y in captured["labels"])
    assert "BA-SGD" in captured["suptitle"] and "appendix C" in captured["suptitle"]

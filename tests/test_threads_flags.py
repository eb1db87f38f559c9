"""``--threads`` on every command that trains (train, compare, sweep, bench) with one meaning, torch intra-op
threads, and one default rule (:func:`realnets.config.default_threads`); the ``threads`` bench section's row
shape with a tiny budget (its timings are a bench, never asserted)."""

from __future__ import annotations

import json

import pytest
import torch

from realnets.cli import main
from realnets.config import default_threads

TINY = [
    "--dataset",
    "synthetic-classification",
    "--dataset-option",
    "num_train=40",
    "--dataset-option",
    "num_test=10",
    "--model",
    "logreg",
    "--budget-epochs",
    "1",
    "--device",
    "cpu",
]


@pytest.mark.parametrize("command", ["train", "compare", "sweep", "bench"])
def test_every_training_command_documents_threads(command, capsys):
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--threads N" in text or "--threads THREADS" in text, text
    assert "thread" in text[text.index("--threads") :][:400]


@pytest.mark.parametrize("command", ["train", "bench"])
def test_zero_threads_is_refused_in_one_line(command, tmp_path, capsys):
    argv = [command, "--threads", "0"] + (
        ["--out-dir", str(tmp_path / "r"), *TINY] if command == "train" else []
    )
    assert main(argv + (["--out", str(tmp_path / "b.json")] if command == "bench" else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Invalid threads: 0" in err[0], err


def test_sweep_passes_threads_to_every_cell_and_keeps_the_default_rule_without_it(tmp_path, capsys):
    base = [*TINY, "--batch-sizes", "8,16", "--strategies", "blr", "--no-plots"]
    assert main(["sweep", *base, "--threads", "2", "--out", str(tmp_path / "given")]) == 0
    assert main(["sweep", *base, "--out", str(tmp_path / "default")]) == 0
    given = sorted((tmp_path / "given").rglob("config.json"))
    default = sorted((tmp_path / "default").rglob("config.json"))
    assert len(given) == len(default) == 2
    assert {json.loads(p.read_text())["threads"] for p in given} == {2}
    assert {json.loads(p.read_text())["threads"] for p in default} == {None}  # decided by default_threads
    # threads do not change the experiment: the same grid with another --threads resumes (here: skips)
    assert main(["sweep", *base, "--threads", "1", "--out", str(tmp_path / "given")]) == 0
    assert main(["sweep", *base, "--threads", "x", "--out", str(tmp_path / "bad")]) == 2
    assert "threads" in capsys.readouterr().err


def test_bench_threads_sets_the_timed_setting_and_restores_it(tmp_path, monkeypatch):
    from realnets import bench

    seen = []

    def probe(device, repeats):
        seen.append(torch.get_num_threads())
        row = {"section": "probe", "case": "threads", "ours": "a", "peer": "b", "unit": "-", "target": "-"}
        return [{**row, "ours_value": 1.0, "peer_value": 1.0, "ratio": 1.0}]

    bench._import_section_modules()
    monkeypatch.setitem(bench.SECTIONS, "probe", probe)
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    out = tmp_path / "bench.json"
    assert main(["bench", "--sections", "probe", "--threads", str(wanted), "--out", str(out)]) == 0
    assert seen == [wanted] and torch.get_num_threads() == before
    assert json.loads(out.read_text())["env"]["torch_threads"] == wanted


def test_default_rule_is_one_thread_for_the_digits_mlp():
    assert default_threads(85_002, 32) == 1
    assert default_threads(85_002, 512) is None


def test_threads_section_rows_have_the_bench_shape():
    """One real measurement with a tiny budget: three ``realnets train`` processes (one alone, two at once),
    and three short control loops."""
    from realnets.bench import SECTIONS, _import_section_modules, format_results
    from realnets.bench.threads import threads_rows

    _import_section_modules()
    assert "threads" in SECTIONS
    rows = threads_rows(repeats=1, epochs=0.5, settings=(None,), control_iterations=100_000)
    assert [r["case"] for r in rows] == [
        "2 x pure-Python loop (control)",
        "2 x train mlp digits, default threads",
    ]
    control, row = rows
    assert len(control["pair_s"][0]) == 2 and control["ours_value"] == max(control["pair_s"][0]) > 0
    assert row["section"] == "threads" and row["threads"] is None and row["usable_cores"] >= 1
    assert len(row["alone_s"]) == 1 and len(row["pair_s"]) == 1 and len(row["pair_s"][0]) == 2
    assert row["ours_value"] == max(row["pair_s"][0]) and row["peer_value"] == row["alone_s"][0]
    assert row["ratio"] == pytest.approx(row["ours_value"] / row["peer_value"])
    assert all(t > 0 for t in [*row["alone_s"], *row["pair_s"][0]])
    assert "threads" in format_results(rows)

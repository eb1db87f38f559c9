"""``realnets cost``: real digits runs and synthetic logs priced on P workers; outputs, refusals, bad input."""

from __future__ import annotations

import json
import math

import pytest

from realnets import cost
from theory import comm as TC

ALPHA, BETA = 5e-6, 1e-10


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from realnets.cli import main as cli_main

    root = tmp_path_factory.mktemp("cost_runs")
    dirs = {}
    for algo in ("ba-sgd", "sgd"):
        out = root / algo
        status = cli_main(
            [
                "train",
                "--algo",
                algo,
                "--budget-epochs",
                "0.2",
                "--out-dir",
                str(out),
                "--no-progress",
                "--no-plots",
                "--device",
                "cpu",
                "--seed",
                "0",
            ]
        )
        assert status == 0
        dirs[algo] = out
    return dirs


def _steps(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "step"]


def test_cost_of_real_runs_matches_an_independent_recount(runs, tmp_path, capsys):
    out = tmp_path / "cost.json"
    status = cost.main(
        [
            str(runs["ba-sgd"]),
            str(runs["sgd"]),
            "--workers",
            "8,64,512",
            "--alpha",
            str(ALPHA),
            "--beta",
            str(BETA),
            "--time-per-sample",
            "1e-4",
            "--params-bytes",
            "340000",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "ba-sgd" in printed and "512" in printed
    results = json.loads(out.read_text())["results"]
    assert len(results) == 6
    assert (tmp_path / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for row in results:
        steps = _steps(runs[row["label"]])
        p = row["workers"]
        t_ar = TC.ring_allreduce_time(
            workers=p, n_bytes=340000, alpha=ALPHA, beta=BETA
        )  # the sympy route of theory/comm.py
        rounds = [s.get("rounds", 1) for s in steps]
        assert row["updates"] == len(steps)
        assert row["compute_s"] == pytest.approx(sum(math.ceil(s["batch_size"] / p) for s in steps) * 1e-4)
        assert row["communication_s"] == pytest.approx(sum(rounds) * t_ar)
        assert row["rounds_logged"] == (row["label"] == "ba-sgd")


def test_measured_time_and_model_size_from_the_run(runs, tmp_path):
    out = tmp_path / "m.json"
    assert (
        cost.main([str(runs["sgd"]), "--workers", "4", "--alpha", "0", "--beta", "1e-9", "--out", str(out)])
        == 0
    )
    row = json.loads(out.read_text())["results"][0]
    summary = json.loads((runs["sgd"] / "summary.json").read_text())
    assert 0 < row["time_per_sample_s"] <= summary["wall_time"] / summary["samples"]
    # the default digits MLP: 64-256-256-10 with biases, float32
    assert row["params_bytes"] == 4 * (64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10)


def test_plan_and_refusal_to_overwrite(tmp_path, capsys):
    out = tmp_path / "plan.json"
    args = [
        "--plan",
        "32x10,64x5:3",
        "--workers",
        "2",
        "--alpha",
        "1e-3",
        "--beta",
        "0",
        "--time-per-sample",
        "0.01",
        "--params-bytes",
        "1000",
        "--out",
        str(out),
    ]
    assert cost.main(args) == 0
    row = json.loads(out.read_text())["results"][0]
    assert row["compute_s"] == pytest.approx((10 * 16 + 5 * 32) * 0.01)
    assert row["communication_s"] == pytest.approx((10 + 15) * 2 * 1e-3)
    before = out.read_text()
    capsys.readouterr()
    assert cost.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "--overwrite" in err
    assert out.read_text() == before
    assert cost.main([*args[:-2], "--workers", "4", "--out", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text())["results"][0]["workers"] == 4


def test_synthetic_ba_log_without_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    steps = [
        {"kind": "step", "step": i + 1, "batch_size": b, "rounds": r}
        for i, (b, r) in enumerate([(32, 1), (96, 3)])
    ]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(s) for s in steps) + "\n")
    out = tmp_path / "s.json"
    base = [
        str(run),
        "--workers",
        "8",
        "--alpha",
        "1e-4",
        "--beta",
        "0",
        "--time-per-sample",
        "1e-3",
        "--out",
        str(out),
    ]
    assert cost.main(base) == 2  # no checkpoint to size the model
    assert cost.main([*base, "--params-bytes", "4000"]) == 0
    row = json.loads(out.read_text())["results"][0]
    assert row["communication_s"] == pytest.approx(4 * 2 * 7 * 1e-4)


def test_wired_into_the_realnets_command(tmp_path):
    from realnets.cli import main as cli_main

    out = tmp_path / "w.json"
    assert (
        cli_main(
            [
                "cost",
                "--plan",
                "8x2",
                "--workers",
                "2",
                "--alpha",
                "0",
                "--beta",
                "0",
                "--time-per-sample",
                "1",
                "--params-bytes",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["results"][0]["total_s"] == pytest.approx(2 * 4)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--plan", "8x2", "--alpha", "0", "--beta", "0"], "--workers"),
        (["--plan", "8x2", "--workers", "0", "--alpha", "0", "--beta", "0"], "Invalid workers"),
        (["--plan", "8x2", "--workers", "8,a", "--alpha", "0", "--beta", "0"], "Invalid workers"),
        (["--plan", "8x2", "--workers", "8", "--alpha", "-1", "--beta", "0"], "Invalid alpha"),
        (["--plan", "8x2", "--workers", "8", "--alpha", "0", "--beta", "nan"], "Invalid beta"),
        (["--plan", "8x2", "--workers", "8", "--alpha", "0", "--beta", "0"], "--time-per-sample"),
        (
            [
                "--plan",
                "8y2",
                "--workers",
                "8",
                "--alpha",
                "0",
                "--beta",
                "0",
                "--time-per-sample",
                "1",
                "--params-bytes",
                "1",
            ],
            "Invalid plan item",
        ),
        (["--workers", "8", "--alpha", "0", "--beta", "0"], "no RUN_DIR"),
        (["/nonexistent/run", "--workers", "8", "--alpha", "0", "--beta", "0"], "Invalid run directory"),
        (
            ["--plan", "8x2", "--workers", "8", "--alpha", "0", "--beta", "0", "--algorithm", "mesh"],
            "invalid choice",
        ),
        (
            [
                "--plan",
                "8x2",
                "--workers",
                "8",
                "--alpha",
                "0",
                "--beta",
                "0",
                "--time-per-sample",
                "1",
                "--params-bytes",
                "1",
                "--out",
                "/nonexistent/dir/c.json",
            ],
            "Invalid output",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cost.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and needle in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "cost.json").exists()

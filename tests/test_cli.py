"""The ``realnets`` command line, called in-process through ``main(argv)``."""

from __future__ import annotations

import json

import pytest

from realnets.cli import main

TINY = ["--dataset", "synthetic-classification", "--dataset-option", "num_train=120",
        "--dataset-option", "num_test=30", "--model", "logreg", "--budget-epochs", "2", "--no-progress",
        "--device", "cpu"]


def one_error_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_list_shows_algorithms_models_and_datasets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("algorithms:", "models:", "datasets:", "momentum", "increase-batch", "mlp", "digits"):
        assert word in out


def test_train_writes_the_run_and_prints_a_summary(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["train", *TINY, "--algo", "sgd", "--out-dir", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "updates" in out and str(out_dir) in out
    for name in ("config.json", "metrics.jsonl", "summary.json", "env.json", "checkpoint.pt", "plots.png"):
        assert (out_dir / name).is_file(), name


def test_print_config_resolves_defaults_and_flags(capsys):
    assert main(["train", "--algo", "hybrid", "--lr", "0.2", "--hp", "factor=4", "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["algo"] == "hybrid" and config["hp"]["lr"] == 0.2 and config["hp"]["factor"] == 4
    assert config["hp"]["max_batch_size"] == 50  # the algorithm's default, filled in


@pytest.mark.parametrize("argv,named", [
    (["train", "--lr", "-1"], "-1"),
    (["train", "--lr", "abc"], "abc"),
    (["train", "--algo", "nope"], "nope"),
    (["train", "--bogus-flag"], "--bogus-flag"),
    (["train", "--hp", "noequals"], "noequals"),
    (["train", "--hp", "unknown_key=3"], "unknown_key"),
    (["train", "--algo", "manual", "--hp", "every_epochs=-2"], "-2"),
    (["train", "--device", "tpu"], "tpu"),
    (["train", "--budget-epochs", "0"], "budget_epochs"),
    (["train", "--config", "/no/such/file.toml"], "/no/such/file.toml"),
    (["train", "--resume", "/no/such/run"], "/no/such/run"),
    (["plot", "/no/such/run"], "/no/such/run"),
    (["bench", "--sections", "nope"], "nope"),
    (["frobnicate"], "frobnicate"),
])
def test_bad_input_exits_2_with_one_line_naming_the_value(capsys, argv, named):
    assert main(argv) == 2
    assert named in one_error_line(capsys)


def test_config_files_toml_and_json_with_flags_overriding(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text('algo = "manual"\nlr = 0.3\nseed = 5\n[hp]\nevery_epochs = 3.0\n')
    assert main(["train", "--config", str(toml), "--lr", "0.7", "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert (config["algo"], config["seed"], config["hp"]["lr"], config["hp"]["every_epochs"]) == ("manual", 5, 0.7, 3.0)
    as_json = tmp_path / "run.json"
    as_json.write_text(json.dumps({"algo": "adam", "batch_size": 64}))
    assert main(["train", "--config", str(as_json), "--batch-size", "8", "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert (config["algo"], config["hp"]["batch_size"]) == ("adam", 8)


def test_bad_config_file_values_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('seed = "zero"\n')
    assert main(["train", "--config", str(bad)]) == 2
    assert "seed" in one_error_line(capsys)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["train", "--config", str(broken)]) == 2
    assert "broken.json" in one_error_line(capsys)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 3\n")
    assert main(["train", "--config", str(unknown)]) == 2
    assert "colour" in one_error_line(capsys)


def test_run_config_json_is_a_valid_config_file(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["train", *TINY, "--algo", "momentum", "--out-dir", str(out_dir), "--no-plots"]) == 0
    capsys.readouterr()
    assert main(["train", "--config", str(out_dir / "config.json"), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["hp"] == json.loads((out_dir / "config.json").read_text())["hp"]


def test_divergence_exits_1_with_a_message(tmp_path, capsys):
    argv = ["train", *TINY, "--algo", "sgd", "--lr", "1e12", "--model", "mlp", "--model-option", "width=8",
            "--out-dir", str(tmp_path / "run")]
    assert main(argv) == 1
    assert "diverged" in one_error_line(capsys)


def test_resume_of_a_finished_run_reports_the_same_summary(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["train", *TINY, "--algo", "sgd", "--out-dir", str(out_dir), "--no-plots"]) == 0
    first = json.loads((out_dir / "summary.json").read_text())
    assert main(["train", "--resume", str(out_dir), "--no-plots"]) == 0
    again = json.loads((out_dir / "summary.json").read_text())
    assert {k: v for k, v in again.items() if k != "wall_time"} == {k: v for k, v in first.items() if k != "wall_time"}


def test_plot_and_compare(tmp_path, capsys):
    grid = tmp_path / "grid"
    argv = ["compare", "--algos", "sgd,momentum", "--seeds", "0,1", *TINY, "--out-dir", str(grid)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sgd" in out and "momentum" in out and "±" in out
    table = json.loads((grid / "compare.json").read_text())
    assert [row["algo"] for row in table["rows"]] == ["sgd", "momentum"]
    assert all(row["seeds"] == 2 and row["final_train_loss"] > 0 for row in table["rows"])
    assert (grid / "compare.png").stat().st_size > 0
    figure = tmp_path / "both.png"
    assert main(["plot", str(grid / "sgd" / "seed0"), str(grid / "momentum" / "seed0"), "--out", str(figure)]) == 0
    assert figure.stat().st_size > 0


def test_env_prints_versions(capsys):
    assert main(["env", "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["packages"]["torch"] and "cuda_available" in env


def test_help_exits_0(capsys):
    assert main(["train", "--help"]) == 0
    assert "--budget-epochs" in capsys.readouterr().out


def test_bench_engine_section_writes_rows_and_json(tmp_path, capsys, monkeypatch):
    from realnets import bench

    monkeypatch.setattr(bench, "ENGINE_CASES", ((8, 16),))
    monkeypatch.setattr(bench, "ENGINE_STEPS", 5)
    out = tmp_path / "bench.json"
    assert main(["bench", "--sections", "engine", "--device", "cpu", "--repeats", "2", "--out", str(out)]) == 0
    assert "plain PyTorch loop" in capsys.readouterr().out
    (row,) = json.loads(out.read_text())["rows"]
    assert row["section"] == "engine" and row["ratio"] == pytest.approx(row["peer_value"] / row["ours_value"])
    assert row["ours_value"] > 0 and row["peer_value"] > 0


def test_bench_sections_are_interleaved_and_extensible(monkeypatch):
    from realnets import bench

    calls = []
    ours, peer = bench.interleaved_medians(lambda: calls.append("o"), lambda: calls.append("p"), 3,
                                           bench.torch.device("cpu"))
    assert calls == ["o", "p", "p", "o", "o", "p", "p", "o"]  # warm-up pair, then alternating order
    assert ours >= 0 and peer >= 0
    monkeypatch.setitem(bench.SECTIONS, "toy", lambda device, repeats: [
        {"section": "toy", "case": "c", "ours": "a", "peer": "b", "unit": "s", "ours_value": 2.0,
         "peer_value": 1.0, "ratio": 0.5, "target": "-"}])
    rows = bench.run_bench(sections=["toy"], device="cpu", repeats=1, out=None)
    assert rows[0]["ratio"] == 0.5 and "toy" in bench.format_results(rows)


def test_package_exports_resolve():
    import realnets

    for name in realnets.__all__:
        assert getattr(realnets, name) is not None, name

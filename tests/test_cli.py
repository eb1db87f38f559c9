"""The ``realnets`` command line, called in-process through ``main(argv)``."""

from __future__ import annotations

import json

import pytest

from realnets.cli import main

TINY = [
    "--dataset",
    "synthetic-classification",
    "--dataset-option",
    "num_train=120",
    "--dataset-option",
    "num_test=30",
    "--model",
    "logreg",
    "--budget-epochs",
    "2",
    "--no-progress",
    "--device",
    "cpu",
]


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


@pytest.mark.parametrize(
    "argv,named",
    [
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
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_value(capsys, argv, named):
    assert main(argv) == 2
    assert named in one_error_line(capsys)


def test_config_files_toml_and_json_with_flags_overriding(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text('algo = "manual"\nlr = 0.3\nseed = 5\n[hp]\nevery_epochs = 3.0\n')
    assert main(["train", "--config", str(toml), "--lr", "0.7", "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert (config["algo"], config["seed"], config["hp"]["lr"], config["hp"]["every_epochs"]) == (
        "manual",
        5,
        0.7,
        3.0,
    )
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
    assert (
        json.loads(capsys.readouterr().out)["hp"] == json.loads((out_dir / "config.json").read_text())["hp"]
    )


def test_divergence_exits_1_with_a_message(tmp_path, capsys):
    argv = [
        "train",
        *TINY,
        "--algo",
        "sgd",
        "--lr",
        "1e12",
        "--model",
        "mlp",
        "--model-option",
        "width=8",
        "--out-dir",
        str(tmp_path / "run"),
    ]
    assert main(argv) == 1
    assert "diverged" in one_error_line(capsys)


def test_resume_of_a_finished_run_reports_the_same_summary(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["train", *TINY, "--algo", "sgd", "--out-dir", str(out_dir), "--no-plots"]) == 0
    first = json.loads((out_dir / "summary.json").read_text())
    assert main(["train", "--resume", str(out_dir), "--no-plots"]) == 0
    again = json.loads((out_dir / "summary.json").read_text())
    assert {k: v for k, v in again.items() if k != "wall_time"} == {
        k: v for k, v in first.items() if k != "wall_time"
    }


def test_plot_and_compare(tmp_path, capsys):
    grid = tmp_path / "grid"
    argv = ["compare", "--algos", "sgd;momentum", "--seeds", "0,1", *TINY, "--out-dir", str(grid)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = captured.out
    # Seed 000's names; the learning rates differ (the algorithms' defaults), so the table and labels say so.
    assert "Mini-32-SGD (lr=0.05)" in out and "Mini-32-Momentum (lr=0.01)" in out
    assert "mean ± sample standard deviation over 2 seeds" in out and "best test acc %" in out
    assert "run 1/4: Mini-32-SGD (lr=0.05), seed 0" in captured.err and "run 4/4" in captured.err
    table = json.loads((grid / "compare.json").read_text())
    assert [row["algo"] for row in table["rows"]] == ["Mini-32-SGD (lr=0.05)", "Mini-32-Momentum (lr=0.01)"]
    assert table["differing"] == ["lr"]
    for row in table["rows"]:
        assert row["seeds"] == 2 and row["final_train_loss"] > 0
        assert row["final_test_acc"] <= row["best_test_acc"] <= 1
    assert (grid / "compare.png").stat().st_size > 0
    runs = sorted(p.parent.relative_to(grid).as_posix() for p in grid.glob("*/*/metrics.jsonl"))
    assert runs == [
        "Mini-32-Momentum_lr0.01/seed0",
        "Mini-32-Momentum_lr0.01/seed1",
        "Mini-32-SGD_lr0.05/seed0",
        "Mini-32-SGD_lr0.05/seed1",
    ]
    figure = tmp_path / "both.png"
    assert (
        main(
            [
                "plot",
                str(grid / "Mini-32-SGD_lr0.05" / "seed0"),
                str(grid / "Mini-32-Momentum_lr0.01" / "seed0"),
                "--out",
                str(figure),
            ]
        )
        == 0
    )
    assert figure.stat().st_size > 0
    # A compare folder stands for its runs (failed before: "expected a folder with metrics.jsonl").
    whole = tmp_path / "whole.png"
    assert main(["plot", str(grid), "--out", str(whole)]) == 0
    assert whole.stat().st_size > 0
    # Run again into the same grid: refused before any run trains, unless --overwrite.
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert "4 of its runs exist already" in line and "--overwrite" in line
    assert main(["export", str(grid), "--csv"]) == 0
    assert (grid / "Mini-32-SGD_lr0.05" / "seed1" / "epochs.csv").read_text().startswith("epoch,step,samples")


def test_compare_preset_uses_one_learning_rate(tmp_path):
    # Without --lr, seed000 ran BA-SGD and Mini-B-SGD at 0.05 but the momentum rows at 0.01, silently.
    from realnets.compare import plan_grid, preset_algos

    plan = plan_grid(preset_algos("seed000", 2.0), [0], [{"budget_epochs": 2.0}], tmp_path, preset="seed000")
    rates = {config.algo_overrides()["lr"] for config in plan["configs"].values()}
    assert rates == {0.01}
    assert "lr" not in plan["differing"]
    assert sorted(plan["labels"].values()) == sorted(
        ["BA-SGD", "BA-Momentum", "Manual-SGD", "Manual-Momentum"]
        + [f"Mini-{b}-{k}" for b in (32, 64, 128, 256) for k in ("SGD", "Momentum")]
    )
    explicit = plan_grid(
        preset_algos("seed000", 2.0), [0], [{"budget_epochs": 2.0, "lr": 0.02}], tmp_path, preset="seed000"
    )
    assert {c.algo_overrides()["lr"] for c in explicit["configs"].values()} == {0.02}


def test_compare_specs_may_contain_commas():
    from realnets.compare import parse_algo_spec, split_algo_specs

    specs = split_algo_specs("increase-batch:milestones=6,12,16;sgd:batch_size=64")
    assert specs == ["increase-batch:milestones=6,12,16", "sgd:batch_size=64"]
    assert split_algo_specs("increase-batch:milestones=6,12,16,sgd") == [
        "increase-batch:milestones=6,12,16",
        "sgd",
    ]
    assert split_algo_specs("sgd,momentum") == ["sgd", "momentum"]
    assert parse_algo_spec(specs[0]) == ("increase-batch", {"milestones": "6,12,16"})


def test_compare_validates_the_whole_grid_before_training(tmp_path, capsys, monkeypatch):
    # `--algos sgd,sgd:bogus=1` trained sgd's runs, then failed on the second spec.
    import realnets.compare as compare

    trained = []
    monkeypatch.setattr(compare, "train", lambda config, **_: trained.append(config))
    assert (
        main(
            ["compare", "--algos", "sgd;sgd:bogus=1", "--seeds", "0", *TINY, "--out-dir", str(tmp_path / "g")]
        )
        == 2
    )
    assert "'bogus'" in one_error_line(capsys) and trained == []
    assert (
        main(
            [
                "compare",
                "--algos",
                "sgd;momentum:momentum=1.5",
                "--seeds",
                "0",
                *TINY,
                "--out-dir",
                str(tmp_path / "g"),
            ]
        )
        == 2
    )
    assert "Invalid momentum: 1.5" in one_error_line(capsys) and trained == []


def test_compare_help_lists_only_accepted_options(capsys):
    assert main(["compare", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--algos" in text and "--seeds" in text
    assert "--algo " not in text and "--seed " not in text and "--algo N" not in text


def test_diverged_rows_are_marked(tmp_path, capsys):
    grid = tmp_path / "grid"
    argv = [
        "compare",
        "--algos",
        "sgd:lr=1e12;sgd",
        "--seeds",
        "0",
        *TINY,
        "--model",
        "mlp",
        "--model-option",
        "width=8",
        "--out-dir",
        str(grid),
    ]
    assert main(argv) == 1
    captured = capsys.readouterr()
    line = next(line for line in captured.out.splitlines() if line.startswith("Mini-32-SGD (lr=1e+12)"))
    assert "DIVERGED" in line and "1/1" in line
    assert "diverged: Mini-32-SGD (lr=1e+12)" in captured.err


def test_env_prints_versions(capsys):
    assert main(["env", "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["packages"]["torch"] and "cuda_available" in env


def test_help_exits_0(capsys):
    assert main(["train", "--help"]) == 0
    assert "--budget-epochs" in capsys.readouterr().out


def test_bench_engine_section_writes_rows_and_json(tmp_path, capsys, monkeypatch):
    from realnets.bench import engine as engine_bench

    monkeypatch.setattr(engine_bench, "ENGINE_CASES", ((8, 16),))
    monkeypatch.setattr(engine_bench, "ENGINE_STEPS", 5)
    out = tmp_path / "bench.json"
    assert (
        main(["bench", "--sections", "engine", "--device", "cpu", "--repeats", "2", "--out", str(out)]) == 0
    )
    assert "plain PyTorch loop" in capsys.readouterr().out
    (row,) = json.loads(out.read_text())["rows"]
    assert row["section"] == "engine" and row["ratio"] == pytest.approx(row["peer_value"] / row["ours_value"])
    assert row["ours_value"] > 0 and row["peer_value"] > 0


def test_bench_sections_are_interleaved_and_extensible(monkeypatch):
    from realnets import bench

    calls = []
    ours, peer = bench.interleaved_medians(
        lambda: calls.append("o"), lambda: calls.append("p"), 3, bench.torch.device("cpu")
    )
    assert calls == ["o", "p", "p", "o", "o", "p", "p", "o"]  # warm-up pair, then alternating order
    assert ours >= 0 and peer >= 0
    monkeypatch.setitem(
        bench.SECTIONS,
        "toy",
        lambda device, repeats: [
            {
                "section": "toy",
                "case": "c",
                "ours": "a",
                "peer": "b",
                "unit": "s",
                "ours_value": 2.0,
                "peer_value": 1.0,
                "ratio": 0.5,
                "target": "-",
            }
        ],
    )
    rows = bench.run_bench(sections=["toy"], device="cpu", repeats=1, out=None)
    assert rows[0]["ratio"] == 0.5 and "toy" in bench.format_results(rows)


def test_package_exports_resolve():
    import realnets

    for name in realnets.__all__:
        assert getattr(realnets, name) is not None, name


def test_list_shows_hyperparameters_with_defaults_and_one_algorithm_in_detail(capsys):
    assert main(["list", "algorithms"]) == 0
    out = capsys.readouterr().out
    assert "default lr 0.05; batch_size=32" in out  # sgd
    assert "m0=32" in out and "stat=exact" in out  # BA
    assert main(["list", "ba-sgd"]) == 0
    detail = capsys.readouterr().out
    assert detail.startswith("ba-sgd: ")
    assert (
        "m0              32          --m0" in detail
        and "growth          step        --hp growth=VALUE" in detail
    )


def test_new_flags_reach_the_resolved_config(capsys):
    assert (
        main(
            [
                "train",
                "--algo",
                "sgd",
                "--grad-clip",
                "1.5",
                "--val-fraction",
                "0.1",
                "--threads",
                "2",
                "--sampling",
                "fresh",
                "--compile",
                "--tensorboard",
                "--overwrite",
                "--print-config",
            ]
        )
        == 0
    )
    config = json.loads(capsys.readouterr().out)
    assert (config["grad_clip"], config["val_fraction"], config["threads"], config["sampling"]) == (
        1.5,
        0.1,
        2,
        "fresh",
    )
    assert config["compile"] is True and config["tensorboard"] is True
    assert "progress" not in config and "overwrite" not in config  # not settings of the experiment
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in (
        "--amp",
        "--compile",
        "--grad-clip",
        "--augment",
        "--val-fraction",
        "--threads",
        "--overwrite",
        "--sampling",
        "--tensorboard",
    ):
        assert flag in text, flag


def test_config_file_top_level_hyperparameters(tmp_path, capsys):
    path = tmp_path / "ba.toml"
    path.write_text('algo = "ba-sgd"\nm0 = 16\nstat = "diag"\n')
    assert main(["train", "--config", str(path), "--print-config"]) == 0
    hp = json.loads(capsys.readouterr().out)["hp"]
    assert (hp["m0"], hp["stat"]) == (16, "diag")


def test_sweep_and_cost_get_the_whole_remaining_argv(monkeypatch, capsys):
    import sys
    import types

    seen = {}

    def fake_main(name):
        def run(argv):
            seen[name] = list(argv)
            return 3

        return run

    for name in ("sweep", "cost"):
        module = types.ModuleType(f"realnets.{name}")
        module.main = fake_main(name)
        monkeypatch.setitem(sys.modules, f"realnets.{name}", module)
    assert main(["sweep", "--lrs", "0.1,0.2", "--help"]) == 3
    assert main(["cost", "x", "--y=1"]) == 3
    assert seen == {"sweep": ["--lrs", "0.1,0.2", "--help"], "cost": ["x", "--y=1"]}


def test_a_missing_delegated_module_is_one_line(monkeypatch, capsys):
    import importlib

    real_import_module = importlib.import_module

    def without_cost(name, *args):
        if name == "realnets.cost":
            raise ModuleNotFoundError("No module named 'realnets.cost'", name="realnets.cost")
        return real_import_module(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_cost)
    assert main(["cost", "--anything"]) == 2
    assert "no realnets.cost module" in one_error_line(capsys)


def test_bench_prints_each_section_as_it_returns(tmp_path, capsys, monkeypatch):
    from realnets import bench

    printed_before = []

    def section(name):
        def run(device, repeats):
            printed_before.append(capsys.readouterr().out)
            return [
                {
                    "section": name,
                    "case": "c",
                    "ours": "a",
                    "peer": "b",
                    "unit": "s",
                    "ours_value": 2.0,
                    "peer_value": 1.0,
                    "ratio": 0.5,
                    "target": "-",
                }
            ]

        return run

    monkeypatch.setitem(bench.SECTIONS, "toy1", section("toy1"))
    monkeypatch.setitem(bench.SECTIONS, "toy2", section("toy2"))
    out = tmp_path / "b.json"
    assert (
        main(["bench", "--sections", "toy1,toy2", "--device", "cpu", "--repeats", "1", "--out", str(out)])
        == 0
    )
    assert printed_before[0] == "" and "toy1" in printed_before[1]  # toy1's row was out before toy2 ran
    assert [r["section"] for r in json.loads(out.read_text())["rows"]] == ["toy1", "toy2"]

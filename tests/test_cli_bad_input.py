"""Bad input through both command lines: exit status 2 and one line naming the bad value, never a traceback.

Every case fails before any training starts, except the few that need a finished run (made once per module
with a budget of a few updates).
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from paper_checks.__main__ import main as paper_checks_main
from realnets.cli import main as realnets_main

TINY = [
    "--dataset",
    "synthetic-classification",
    "--dataset-option",
    "num_train=60",
    "--dataset-option",
    "num_test=20",
    "--model",
    "logreg",
    "--budget-epochs",
    "0.5",
    "--device",
    "cpu",
    "--no-plots",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Placeholders used in the table below -> real paths."""
    root = tmp_path_factory.mktemp("bad-input")
    (root / "afile").write_text("hello\n")
    (root / "empty").mkdir()
    (root / "folder.toml").mkdir()
    (root / "broken.toml").write_text("not toml [[[\n")
    (root / "broken.json").write_text("{not json")
    (root / "settings.yaml").write_text("seed: 1\n")
    (root / "list.json").write_text("[1, 2]")
    (root / "unknown.json").write_text(json.dumps({"colour": 3}))
    (root / "float_seed.json").write_text(json.dumps({"seed": 1.5}))
    (root / "hp_number.json").write_text(json.dumps({"hp": 3}))
    (root / "not_a_checkpoint.pt").write_text("plain text")
    (root / "corrupt.pt").write_bytes(bytes(range(256)) * 4)
    torch.save({"format_version": 1}, root / "partial.pt")  # readable, right version, no run state
    run = root / "run"
    assert realnets_main(["train", *TINY, "--algo", "sgd", "--out-dir", str(run)]) == 0
    return {"{dir}": str(root), "{run}": str(run)}


def _expand(argv, files):
    out = []
    for arg in argv:
        for key, value in files.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# (argv, expected exit status, a fragment of the one-line message)
REALNETS_CASES = [
    # commands and flags
    ([], 2, "missing COMMAND"),
    (["frobnicate"], 2, "'frobnicate'"),
    (["train", "--bogus"], 2, "--bogus"),
    (["list", "nope"], 2, "'nope'"),
    (["env", "--bogus"], 2, "--bogus"),
    # numbers: negative, zero, non-finite, non-numeric, huge
    (["train", "--lr", "-1"], 2, "Invalid lr: -1.0"),
    (["train", "--lr", "0"], 2, "Invalid lr: 0.0"),
    (["train", "--lr", "nan"], 2, "Invalid lr: nan"),
    (["train", "--lr", "inf"], 2, "Invalid lr: inf"),
    (["train", "--lr", "1e400"], 2, "Invalid lr: inf"),
    (["train", "--lr", "abc"], 2, "Invalid lr: 'abc' (expected a number)"),
    (["train", "--batch-size", "0"], 2, "Invalid batch_size: 0"),
    (["train", "--batch-size", "-3"], 2, "Invalid batch_size: -3"),
    (["train", "--batch-size", "1.5"], 2, "Invalid batch_size: '1.5' (expected an integer)"),
    (["train", "--batch-size", "nan"], 2, "Invalid batch_size: 'nan'"),
    (["train", "--batch-size", "99999999999999999999"], 2, "Invalid batch_size: 99999999999999999999"),
    (["train", "--budget-epochs", "0"], 2, "Invalid budget_epochs: 0.0"),
    (["train", "--budget-epochs", "-1"], 2, "Invalid budget_epochs: -1.0"),
    (["train", "--budget-epochs", "nan"], 2, "Invalid budget_epochs: nan"),
    (["train", "--budget-epochs", "inf"], 2, "Invalid budget_epochs: inf"),
    (["train", "--budget-epochs", "1e300"], 2, "Invalid budget_epochs: 1e+300"),
    (["train", "--seed", "-1"], 2, "Invalid seed: -1"),
    (["train", "--seed", "1.5"], 2, "Invalid seed: '1.5'"),
    (["train", "--seed", "99999999999999999999999"], 2, "Invalid seed: 99999999999999999999999"),
    (["train", "--algo", "ba-sgd", "--m0", "0"], 2, "Invalid m0: 0"),
    (["train", "--algo", "ba-sgd", "--m0", "-4"], 2, "Invalid m0: -4"),
    (["train", "--algo", "ba-sgd", "--s-star", "nan"], 2, "Invalid s_star: nan"),
    (["train", "--algo", "hybrid", "--max-batch-size", "0"], 2, "Invalid max_batch_size: 0"),
    (["train", "--algo", "hybrid", "--max-batch-size", "99999999999999999999"], 2, "Invalid max_batch_size"),
    (["train", "--algo", "ba-sgd", "--m0", "99999999999999999999"], 2, "Invalid m0: 99999999999999999999"),
    (["train", "--momentum", "-0.5"], 2, "Invalid momentum: -0.5"),
    (["train", "--momentum", "1.5"], 2, "Invalid momentum: 1.5"),
    (["train", "--momentum", "nan"], 2, "Invalid momentum: nan"),
    (["train", "--weight-decay", "-1"], 2, "Invalid weight_decay: -1.0"),
    (["train", "--weight-decay", "inf"], 2, "Invalid weight_decay: inf"),
    (["train", "--algo", "increase-batch", "--milestones", "a,b"], 2, "Invalid milestones: 'a,b'"),
    (["train", "--algo", "increase-batch", "--milestones", "5,3"], 2, "Invalid milestones: '5,3'"),
    (["train", "--algo", "increase-batch", "--milestones", "-1,3"], 2, "--milestones=VALUE"),
    (["train", "--algo", "increase-batch", "--milestones=-1,3"], 2, "Invalid milestones: '-1,3'"),
    (["train", "--algo", "increase-batch", "--factor", "0"], 2, "Invalid factor: 0.0"),
    (["train", "--algo", "increase-batch", "--factor", "nan"], 2, "Invalid factor: nan"),
    (["train", "--checkpoint-every", "-1"], 2, "Invalid checkpoint_every: -1"),
    (["train", "--checkpoint-every", "1.5"], 2, "Invalid checkpoint_every: '1.5'"),
    (["train", "--model", "resnet18-cifar", "--ghost-batch-size", "0"], 2, "Invalid ghost_batch_size: 0"),
    (["train", "--model", "resnet18-cifar", "--ghost-batch-size", "-1"], 2, "Invalid ghost_batch_size: -1"),
    (["train", "--ghost-batch-size", "8"], 2, "ghost_batch_size"),  # the MLP has no batch norm
    (["bench", "--repeats", "0"], 2, "Invalid repeats: 0"),
    (["bench", "--repeats", "abc"], 2, "Invalid repeats: 'abc'"),
    # hyperparameters that the algorithm does not have
    (["train", "--m0", "4"], 2, "'m0'"),
    (["train", "--milestones", "5,6"], 2, "'milestones'"),
    # names
    (["train", "--algo", "nope"], 2, "Invalid algo: 'nope'"),
    (["train", "--model", "nope"], 2, "'nope'"),
    (["train", "--dataset", "nope"], 2, "'nope'"),
    (["train", "--device", "tpu"], 2, "Invalid device: 'tpu'"),
    (["bench", "--device", "tpu"], 2, "'tpu'"),
    (["bench", "--sections", "nope"], 2, "'nope'"),
    # config files
    (["train", "--config", "{dir}/missing.toml"], 2, "missing.toml"),
    (["train", "--config", "{dir}/folder.toml"], 2, "folder.toml"),
    (["train", "--config", "{dir}/broken.toml"], 2, "broken.toml"),
    (["train", "--config", "{dir}/broken.json"], 2, "broken.json"),
    (["train", "--config", "{dir}/settings.yaml"], 2, "not valid JSON"),
    (["train", "--config", "{dir}/list.json"], 2, "expected a table of settings"),
    (["train", "--config", "{dir}/unknown.json"], 2, "Invalid setting: 'colour'"),
    (["train", "--config", "{dir}/float_seed.json"], 2, "Invalid seed: 1.5"),
    (["train", "--config", "{dir}/hp_number.json"], 2, "Invalid hp: 3"),
    # key=value options
    (["train", "--hp", "noequals"], 2, "Invalid hp: 'noequals' (expected key=value)"),
    (["train", "--hp", "=3"], 2, "Invalid hp: '=3'"),
    (["train", "--hp", "unknown_key=3"], 2, "'unknown_key'"),
    (["train", "--hp", "lr=abc"], 2, "Invalid lr: 'abc'"),
    (["train", "--hp", "lr=NaN"], 2, "Invalid lr: nan"),
    (["train", "--model-option", "noequals"], 2, "Invalid model option: 'noequals'"),
    (["train", "--model-option", "zzz=3"], 2, "zzz"),
    (["train", "--model-option", "width=-3"], 2, "Invalid width: -3"),
    (["train", "--model-option", "width=abc"], 2, "Invalid width: 'abc'"),
    (["train", "--dataset-option", "noequals"], 2, "Invalid dataset option: 'noequals'"),
    (["train", "--dataset-option", "num_train=5"], 2, "num_train"),  # the embedded digits have no options
    # model and dataset that do not fit together
    (["train", "--model", "fmnist-cnn", "--dataset", "digits"], 2, "fmnist-cnn"),
    (["train", "--model", "bilstm", "--dataset", "digits"], 2, "bilstm"),
    (["train", "--model", "resnet18-cifar", "--dataset", "synthetic-regression"], 2, "resnet18-cifar"),
    # folders and files
    (["train", "--out-dir", "{dir}/afile"], 2, "Invalid out_dir"),
    (["train", "--out-dir", "{dir}/afile/below"], 2, "is a file"),
    (["train", "--data-dir", "{dir}/afile"], 2, "Invalid data_dir"),
    (["train", "--resume", "{dir}/missing"], 2, "Invalid checkpoint"),
    (["train", "--resume", "{dir}/empty"], 2, "Invalid checkpoint"),
    (["train", "--resume", "{dir}/not_a_checkpoint.pt"], 2, "not_a_checkpoint.pt"),
    (["train", "--resume", "{dir}/corrupt.pt"], 2, "corrupt.pt"),
    (["train", "--resume", "{dir}/partial.pt"], 2, "missing 'config'"),
    (["train", "--resume", "{run}", "--lr", "0.5"], 2, "Invalid --lr with --resume"),
    (["train", "--resume", "{run}", "--momentum", "0.5"], 2, "Invalid --momentum with --resume"),
    (["train", "--resume", "{run}", "--config", "{dir}/unknown.json"], 2, "Invalid --config with --resume"),
    (["train", "--resume", "{run}", "--no-progress"], 2, "Invalid --no-progress with --resume"),
    (["train", "--resume", "{run}", "--out-dir", "{dir}/x"], 2, "Invalid --out-dir with --resume"),
    (["plot", "{dir}/missing"], 2, "Invalid run directory"),
    (["plot", "{dir}/empty"], 2, "Invalid run directory"),
    (["plot"], 2, "RUN_DIR"),
    (["plot", "{run}", "--out", "{dir}/missing/figure.png"], 2, "Invalid out"),
    (["plot", "{run}", "--out", "{dir}/empty"], 2, "not a folder"),
    (["bench", "--sections", "engine", "--out", "{dir}/missing/bench.json"], 2, "Invalid out"),
    # compare
    (["compare"], 2, "--algos and --preset"),
    (["compare", "--algos", "sgd", "--preset", "seed000"], 2, "--algos and --preset"),
    (["compare", "--algos", ""], 2, "Invalid algos: ''"),
    (["compare", "--algos", ","], 2, "Invalid algos: ','"),
    (["compare", "--algos", "sgd,sgd"], 2, "Invalid algos: 'sgd,sgd'"),
    (["compare", "--preset", "nope"], 2, "Invalid preset: 'nope'"),
    (["compare", "--algos", "nope"], 2, "Invalid algo: 'nope'"),
    (["compare", "--algos", "sgd:noequals"], 2, "'noequals'"),
    (["compare", "--algos", "sgd:zzz=3"], 2, "'zzz'"),
    (["compare", "--algos", "sgd:batch_size=-3"], 2, "Invalid batch_size: -3"),
    (["compare", "--algos", "sgd", "--seeds", "a,b"], 2, "Invalid seeds: 'a,b'"),
    (["compare", "--algos", "sgd", "--seeds", "0,0"], 2, "Invalid seeds: '0,0'"),
    (["compare", "--algos", "sgd", "--seeds", ","], 2, "Invalid seeds: ','"),
    (["compare", "--algos", "sgd", "--seeds=-1"], 2, "Invalid seed: -1"),
    (["compare", "--algos", "sgd", "--seed", "3"], 2, "Invalid --seed for compare"),
    (["compare", "--algos", "sgd", "--algo", "adam"], 2, "Invalid --algo for compare"),
    (["compare", "--algos", "sgd", "--hp", "zzz=1"], 2, "'zzz'"),
    (["compare", "--algos", "sgd", "--lr", "nan"], 2, "Invalid lr: nan"),
    (["compare", "--algos", "sgd", "--out-dir", "{dir}/afile"], 2, "Invalid out_dir"),
]


@pytest.mark.parametrize(
    "argv,status,fragment", REALNETS_CASES, ids=[" ".join(c[0]) or "-" for c in REALNETS_CASES]
)
def test_realnets_bad_input(files, capsys, monkeypatch, tmp_path, argv, status, fragment):
    monkeypatch.chdir(tmp_path)  # a case that wrongly starts a run must not write runs/ into the checkout
    capsys.readouterr()
    assert realnets_main(_expand(argv, files)) == status
    assert _expand([fragment], files)[0] in _one_line(capsys)


def test_cuda_without_cuda_is_a_usage_error(files, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    capsys.readouterr()
    assert realnets_main(["train", *TINY, "--device", "cuda", "--out-dir", files["{dir}"] + "/cuda"]) == 2
    assert "Invalid device: 'cuda'" in _one_line(capsys)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_dir_is_a_usage_error(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert realnets_main(["train", *TINY, "--out-dir", str(locked / "run")]) == 2
    assert "writable" in _one_line(capsys)


def test_progress_is_one_line_per_epoch_when_stderr_is_not_a_terminal(tmp_path, capsys):
    # capsys's stderr is not a terminal: no redrawn bar (it piles up into one endless line in a log), but one
    # complete line per epoch, so a batch job's log shows progress.
    argv = ["train", *TINY, "--out-dir", str(tmp_path / "run")]
    argv[argv.index("--budget-epochs") + 1] = "2"
    assert realnets_main(argv) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "run directory" in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) >= 2 and all(line.startswith("epoch ") for line in lines), captured.err


def test_no_progress_flag_silences_stderr(tmp_path, capsys):
    assert realnets_main(["train", *TINY, "--no-progress", "--out-dir", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "run directory" in captured.out


PAPER_CHECKS_CASES = [
    (["--bogus"], "--bogus"),
    (["--only"], "--only"),
    (["--only", "no-such-claim-id"], "Invalid --only: no-such-claim-id"),
    (["--list", "--report", "{dir}/missing/report.md"], "Invalid --report"),
    (["--list", "--json", "{dir}/missing/report.json"], "Invalid --json"),
    (["--list", "--json", "{dir}/empty"], "not a folder"),
    # issue 13 sweep: '' read as the current folder; one file for both outputs, the second overwrote the first
    (["--list", "--json", ""], "argument --json: invalid value '' (expected a non-empty file path)"),
    (["--list", "--report", ""], "argument --report: invalid value ''"),
    (["--list", "--report", "{dir}/r.md", "--json", "{dir}/r.md"], "(the same file as --report"),
]


@pytest.mark.parametrize(
    "argv,fragment", PAPER_CHECKS_CASES, ids=[" ".join(c[0]) for c in PAPER_CHECKS_CASES]
)
def test_paper_checks_bad_input(files, capsys, argv, fragment):
    capsys.readouterr()
    assert paper_checks_main(_expand(argv, files)) == 2
    assert fragment in _one_line(capsys)


def test_paper_checks_help_exits_0(capsys):
    assert paper_checks_main(["--help"]) == 0
    assert "--only" in capsys.readouterr().out


# -- issue 13: each case was a traceback, an accepted nonsense value, or a message without the file --------
ISSUE13_CASES = [
    # overflow: tracebacks from torch or int(inf) before
    (["train", "--lr", "1e308"], "Invalid lr: 1e+308"),
    (["train", "--weight-decay", "1e308"], "Invalid weight_decay: 1e+308"),
    (
        ["train", "--algo", "increase-batch", "--factor", "1e308", "--milestones", "0.1"],
        "Invalid factor: 1e+308",
    ),
    (["train", "--algo", "hybrid", "--factor", "1e300"], "Invalid factor: 1e+300"),
    # accepted before
    (["train", "--algo", "ba-sgd", "--s-star", "1e308"], "Invalid s_star: 1e+308"),
    (["train", "--out-dir", ""], "Invalid out_dir: ''"),
    (["train", "--data-dir", ""], "Invalid data_dir: ''"),
    (["train", "--algo", "sgd", "--momentum", "5"], "Invalid momentum: 5.0 (the sgd optimizer"),
    (["train", "--algo", "adam", "--momentum", "0.5"], "Invalid momentum: 0.5 (the adam optimizer"),
    (["train", "--algo", "momentum", "--optimizer", "sgd", "--momentum", "0.5"], "Invalid momentum: 0.5"),
    (["train", "--config", "{dir}/huge_m0.toml"], "Invalid m0: 1000000000000"),
    (["compare", "--algos", "sgd", "--out-dir", ""], "Invalid out_dir: ''"),
    # an overlong out-dir failed with exit 1 after the data was loaded
    (["train", *TINY, "--out-dir", "{dir}/" + "x" * 300], "Invalid out_dir"),
    # new flags, validated at the boundary
    (["train", "--grad-clip", "0"], "Invalid grad_clip: 0.0"),
    (["train", "--grad-clip", "nan"], "Invalid grad_clip: nan"),
    (["train", "--val-fraction", "0.9"], "Invalid val_fraction: 0.9"),
    (["train", "--threads", "0"], "Invalid threads: 0"),
    (["train", "--sampling", "bogus"], "Invalid sampling: 'bogus'"),
    (["train", "--amp", "fp8"], "--amp"),
    (["train", "--amp", "--device", "cpu"], "Invalid amp: 'bf16'"),
    (["train", "--augment"], "Invalid augment: True"),
    (["train", "--resume", "{run}", "--overwrite"], "Invalid --overwrite with --resume"),
    # plot and export: one line naming the file
    (
        ["plot", "{dir}/bad_epoch"],
        "bad_epoch/metrics.jsonl' (line 2: epoch record without a number 'train_loss')",
    ),
    (["plot", "{dir}/bad_summary"], "bad_summary/summary.json"),
    (["plot", "{dir}/latin1"], "latin1/metrics.jsonl' (not UTF-8"),
    (["export", "{dir}/bad_epoch", "--csv"], "bad_epoch/metrics.jsonl"),
    (["export", "{run}"], "expected --csv"),
    (["list", "no-such-algorithm"], "Invalid list: 'no-such-algorithm'"),
]


@pytest.fixture(scope="module")
def issue13_files(files):
    root = files["{dir}"]
    from pathlib import Path

    root = Path(root)
    (root / "huge_m0.toml").write_text('algo = "ba-sgd"\nm0 = 1000000000000\n')
    good_epoch = {"kind": "epoch", "epoch": 0.0, "step": 0, "samples": 0, "train_loss": 1.0}
    (root / "bad_epoch").mkdir(exist_ok=True)
    (root / "bad_epoch" / "metrics.jsonl").write_text(
        json.dumps(good_epoch) + "\n" + json.dumps({"kind": "epoch", "epoch": 1.0, "step": 3}) + "\n"
    )
    (root / "bad_summary").mkdir(exist_ok=True)
    (root / "bad_summary" / "metrics.jsonl").write_text(json.dumps(good_epoch) + "\n")
    (root / "bad_summary" / "summary.json").write_text("{truncated")
    (root / "latin1").mkdir(exist_ok=True)
    (root / "latin1" / "metrics.jsonl").write_bytes(b'{"kind": "event", "message": "caf\xe9"}\n')
    return files


@pytest.mark.parametrize(
    "argv,fragment", ISSUE13_CASES, ids=[" ".join(c[0])[:60] or "-" for c in ISSUE13_CASES]
)
def test_issue13_bad_input(issue13_files, capsys, monkeypatch, tmp_path, argv, fragment):
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert realnets_main(_expand(argv, issue13_files)) == 2
    assert _expand([fragment], issue13_files)[0] in _one_line(capsys)


def test_overlong_out_dir_is_refused_before_any_data_is_loaded(tmp_path, capsys, monkeypatch):
    import realnets.data as data

    loaded = []
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: loaded.append(a))
    assert realnets_main(["train", *TINY, "--out-dir", str(tmp_path / ("y" * 400) / "run")]) == 2
    assert "Invalid out_dir" in _one_line(capsys) and loaded == []


def test_resume_print_config_prints_the_checkpoints_config(files, capsys):
    # It printed the defaults (algo momentum) instead of what --resume would continue.
    capsys.readouterr()
    assert realnets_main(["train", "--resume", files["{run}"], "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["algo"] == "sgd" and config["dataset"] == "synthetic-classification"
    assert config["out_dir"] == files["{run}"] and config["hp"]["lr"] == 0.05


def test_ctrl_c_before_any_checkpoint_does_not_suggest_resume(tmp_path, capsys, monkeypatch):
    import realnets.engine as engine

    def interrupted(config, **_):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "train", interrupted)
    assert realnets_main(["train", *TINY, "--out-dir", str(tmp_path / "run")]) == 130
    line = _one_line(capsys)
    assert "interrupted" in line and "--resume" not in line


def test_ctrl_c_with_a_checkpoint_names_the_resume_command(files, tmp_path, capsys, monkeypatch):
    import shutil

    import realnets.engine as engine

    run = tmp_path / "run"
    shutil.copytree(files["{run}"], run)

    def interrupted(path, **_):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "resume", interrupted)
    capsys.readouterr()
    assert realnets_main(["train", "--resume", str(run)]) == 130
    assert f"realnets train --resume {run}" in _one_line(capsys)


@pytest.mark.parametrize("cap,lr", [(40, "5"), (1, "0.05")])
def test_ba_max_batch_size_is_a_cap(tmp_path, cap, lr):
    argv = [
        "train",
        "--algo",
        "ba-sgd",
        "--lr",
        lr,
        "--max-batch-size",
        str(cap),
        "--dataset",
        "synthetic-classification",
        "--dataset-option",
        "num_train=300",
        "--dataset-option",
        "num_test=50",
        "--model",
        "logreg",
        "--budget-epochs",
        "5",
        "--device",
        "cpu",
        "--no-plots",
        "--no-progress",
        "--out-dir",
        str(tmp_path / "run"),
    ]
    assert realnets_main(argv) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    sizes = [r["batch_size"] for r in records if r["kind"] == "step"]
    assert sizes and max(sizes) <= cap, sorted(set(sizes))

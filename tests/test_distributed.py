"""Data-parallel training (realnets.distributed): 2 gloo processes on loopback equal one process.

The 2-process runs are real ``torch.distributed`` process groups (``gloo`` on 127.0.0.1, a free port), started
as two Python processes with the environment torchrun would give them. Each trains sgd, momentum, ba-sgd,
ba-momentum and abs with uneven splits (odd batch sizes and BA increments), and one BA run interrupted and resumed;
the test then trains the same configurations in one process and compares parameters after the last update,
the logged losses and BA's batch-size sequence.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from realnets import distributed
from realnets.config import make_config
from realnets.engine import train

BASE = {
    "dataset": "synthetic-classification",
    "dataset_options": {"num_train": 256, "num_test": 64},
    "model": "mlp",
    "model_options": {"width": 16},
    "progress": False,
    "budget_epochs": 1.5,
    "device": "cpu",
    "threads": 1,
}
CASES = {
    "sgd": {"algo": "sgd", "batch_size": 7, "lr": 0.2},
    "momentum": {"algo": "momentum", "batch_size": 9, "lr": 0.05},
    "ba-sgd": {"algo": "ba-sgd", "hp": {"m0": 5, "lr": 0.5}},
    "ba-momentum": {"algo": "ba-momentum", "hp": {"m0": 7, "lr": 0.1}},
    # ABS: the Hessian probe runs on every rank on the same rows, so the doubling decisions agree
    "abs": {
        "algo": "abs",
        "batch_size": 9,
        "hp": {"duration": 2, "check_every": 64, "probe_batch_size": 64, "max_iter": 5},
    },
}
RESUMED = "ba-sgd"  # trained again in 2 processes: interrupted after STOP_AT updates, then resumed
STOP_AT = 40

WORKER = r"""
import json, sys
import torch.distributed as dist
from realnets import distributed
from realnets.config import make_config
from realnets.engine import resume, train

collective = distributed.init_from_env()
assert collective.world_size == 2, collective.world_size
cases, resumed, stop_at = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for name, settings in cases.items():
    config = make_config(settings)
    if name == "resumed":
        assert train(config, plots=False, stop_after_steps=stop_at).status == "interrupted"
        result = resume(config.out_dir, plots=False)
    else:
        result = train(config, plots=False)
    assert result.status == "finished", result.message
dist.barrier()  # both ranks done before rank 0, which hosts the store, tears the group down
dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(rank: int, world: int, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        OMP_NUM_THREADS="1",
        REALNETS_DIST_TIMEOUT="120",
        **extra,
    )
    return env


def _launch(argv_of_rank, world: int = 2, timeout: float = 240, cwd=None, **extra: str):
    """Start ``world`` processes (``argv_of_rank(rank)``) in one gloo group; their (returncode, stdout, stderr)."""
    port = _free_port()
    procs = [
        subprocess.Popen(
            argv_of_rank(rank),
            env=_env(rank, world, port, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        for rank in range(world)
    ]
    out = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=timeout)
            out.append((proc.returncode, stdout, stderr))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return out


def _settings(name: str, out_dir: Path) -> dict:
    return {**BASE, **CASES[name], "out_dir": str(out_dir)}


def _steps(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "step"]


def _model(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["model"]


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    cases = {name: _settings(name, root / "two" / name) for name in CASES}
    cases["resumed"] = _settings(RESUMED, root / "two" / "resumed")
    results = _launch(lambda rank: [sys.executable, "-c", WORKER, json.dumps(cases), RESUMED, str(STOP_AT)])
    for rank, (code, _, stderr) in enumerate(results):
        assert code == 0, f"rank {rank} failed:\n{stderr[-3000:]}"
    return root


@pytest.mark.parametrize("name", list(CASES))
def test_two_gloo_processes_equal_one_process(two_process_runs, name):
    two = two_process_runs / "two" / name
    one = train(make_config(_settings(name, two_process_runs / "one" / name)), plots=False).run_dir
    summary = json.loads((two / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "finished"
    steps_one, steps_two = _steps(one), _steps(two)
    assert [r["batch_size"] for r in steps_two] == [r["batch_size"] for r in steps_one]
    assert len(steps_one) > 20
    if name.startswith("ba-") or name == "abs":  # the policy grew the batch at least once
        assert max(r["batch_size"] for r in steps_one) > steps_one[0]["batch_size"]
    if name.startswith("ba-"):  # BA's growth rounds (each one all-reduced) agree too
        assert [r["rounds"] for r in steps_two] == [r["rounds"] for r in steps_one]
    torch.testing.assert_close(
        [r["loss"] for r in steps_two], [r["loss"] for r in steps_one], rtol=1e-5, atol=1e-6
    )
    params_one, params_two = _model(one), _model(two)
    assert params_one.keys() == params_two.keys()
    for key in params_one:
        torch.testing.assert_close(params_two[key], params_one[key], rtol=1e-4, atol=1e-5)
    # and it trained: the full training loss (sharded evaluation, all-reduced) fell
    epochs = [json.loads(line) for line in (two / "metrics.jsonl").read_text().splitlines()]
    train_losses = [r["train_loss"] for r in epochs if r["kind"] == "epoch"]
    assert train_losses[-1] < train_losses[0]
    assert summary["final_train_loss"] == pytest.approx(
        json.loads((one / "summary.json").read_text())["final_train_loss"], rel=1e-5
    )


def test_two_processes_resumed_equal_one_uninterrupted_process(two_process_runs):
    resumed = two_process_runs / "two" / "resumed"
    uninterrupted = two_process_runs / "two" / RESUMED
    steps_resumed = _steps(resumed)
    assert [r["batch_size"] for r in steps_resumed] == [r["batch_size"] for r in _steps(uninterrupted)]
    assert len(steps_resumed) > STOP_AT
    for key, value in _model(uninterrupted).items():
        torch.testing.assert_close(_model(resumed)[key], value, rtol=1e-5, atol=1e-6)


# -- launch errors: one line ---------------------------------------------------------------------------
def test_missing_rendezvous_is_one_line():
    with pytest.raises(distributed.LaunchError, match=r"MASTER_ADDR, MASTER_PORT not set \(no rendezvous"):
        distributed.init_from_env({"WORLD_SIZE": "2", "RANK": "0"})
    with pytest.raises(distributed.LaunchError, match=r"RANK=5"):
        distributed.init_from_env(
            {"WORLD_SIZE": "2", "RANK": "5", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
        )
    assert distributed.init_from_env({"WORLD_SIZE": "1"}) is distributed.NULL


def test_rendezvous_timeout_is_one_line():
    env = {
        "WORLD_SIZE": "2",
        "RANK": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        distributed.ENV_TIMEOUT: "1",
    }
    with pytest.raises(
        distributed.LaunchError, match=r"no rendezvous of 2 processes at 127\.0\.0\.1"
    ) as info:
        distributed.init_from_env(env)
    assert "\n" not in str(info.value)
    assert not torch.distributed.is_initialized()


class _FakeCollective(distributed.Collective):
    """Two ranks seen from rank 0, with a scripted all-gather (no process group)."""

    world_size = 2

    def __init__(self, gathered=None):
        self.gathered = gathered

    def all_gather_object(self, obj):
        return [obj, self.gathered if self.gathered is not None else obj]


def test_different_configs_are_refused_in_one_line():
    config = make_config(_settings("sgd", Path("x"))).to_dict()
    distributed.check_same_config(_FakeCollective(), config)  # the same on both ranks: fine
    other = distributed.config_hash({**config, "seed": 1})
    with pytest.raises(distributed.LaunchError, match=r"ranks 1 have a different configuration from rank 0"):
        distributed.check_same_config(_FakeCollective(other), config)


def test_world_size_larger_than_the_batch_is_refused():
    distributed.check_batch(_FakeCollective(), 2, "sgd")
    with pytest.raises(distributed.LaunchError, match=r"world size 2 is larger than the batch"):
        distributed.check_batch(_FakeCollective(), 1, "sgd")
    with pytest.raises(distributed.LaunchError, match=r"grows its batch by m0 = 1"):
        distributed.check_batch(_FakeCollective(), 8, "ba-sgd", m0=1)
    distributed.check_batch(distributed.NULL, 1, "sgd")  # one process: any batch


def test_algorithms_that_cannot_run_distributed_are_named():
    from realnets.registry import get_algorithm

    refused = {}
    for name in ("sgd", "ba-momentum", "abs", "absa", "discard-small-loss", "cblr"):
        policy, optimizer = get_algorithm(name).build(list(torch.nn.Linear(2, 2).parameters()), {})
        try:
            distributed.check_supported(name, policy, optimizer)
        except distributed.LaunchError as error:
            refused[name] = str(error)
    assert set(refused) == {"absa", "discard-small-loss", "cblr"}
    assert "perturbs the first rows of the whole batch" in refused["absa"]
    assert "'cblr' cannot run distributed yet" in refused["cblr"]
    assert "losses of the whole batch" in refused["discard-small-loss"]


@pytest.mark.parametrize("count,world", [(7, 2), (1, 2), (10, 3), (5, 8), (0, 2)])
def test_shards_cover_each_row_once(count, world):
    bounds = [distributed.shard_bounds(count, world, rank) for rank in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_cli_ranks_with_different_configs_get_one_line(tmp_path):
    def argv(rank):
        return [
            sys.executable,
            "-m",
            "realnets",
            "train",
            "--algo",
            "sgd",
            "--dataset",
            "synthetic-classification",
            "--model",
            "logreg",
            "--device",
            "cpu",
            "--no-progress",
            "--budget-epochs",
            "0.1",
            "--seed",
            str(rank),  # rank 1 differs
            "--out-dir",
            str(tmp_path / "run"),
        ]

    (code0, out0, err0), (code1, out1, err1) = _launch(argv)
    assert (code0, code1) == (2, 2), (err0[-1500:], err1[-1500:])
    assert err0.count("\n") == 1 and "different configuration from rank 0" in err0, err0
    assert err1 == "" and out0 == out1 == ""
    assert not (tmp_path / "run").exists()


def test_a_torchrun_restart_resumes_the_out_dir_checkpoint(tmp_path, monkeypatch):
    import argparse

    from realnets.distributed import _restart_resumes

    args = argparse.Namespace(
        command="train",
        func=print,
        plots=True,
        print_config=False,
        resume=None,
        algo="sgd",
        out_dir=str(tmp_path),
    )
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert _restart_resumes(args) is args  # no checkpoint yet: train from scratch
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    resumed = _restart_resumes(args)
    assert resumed.resume == "" and resumed.out_dir == str(tmp_path) and not hasattr(resumed, "algo")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert _restart_resumes(args) is args  # the first attempt never resumes


def test_commands_that_do_not_join_a_group_are_refused_under_torchrun(monkeypatch, capsys):
    from realnets.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["compare", "--help"]) == 2
    assert main(["cost", "run", "--workers", "2", "--alpha", "0", "--beta", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "realnets compare runs in one process" in err
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert main(["compare", "--help"]) == 0

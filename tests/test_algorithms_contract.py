"""One contract over every registered algorithm (after timm's test_optim and optax's common tests).

Each algorithm: is described as data; trains on a tiny convex task (softmax regression) and lowers its
full training loss; resumes from a mid-run checkpoint to exactly the uninterrupted metrics (so its policy
state round-trips through ``torch.load(weights_only=True)``); and rejects bad hyperparameters with a
ValueError that names them.
"""

from __future__ import annotations

import json

import pytest
import torch

from realnets.algorithms.base import Policy
from realnets.config import make_config
from realnets.engine import resume, train
from realnets.probes import list_statistics
from realnets.registry import get_algorithm, list_algorithms

NAMES = [info.name for info in list_algorithms()]
N_TRAIN = 160
TINY = {
    "dataset": "synthetic-classification",
    "dataset_options": {"num_train": N_TRAIN, "num_test": 40},
    "model": "logreg",
    "progress": False,
    "budget_epochs": 2.0,
    "device": "cpu",
}
# Keep the schedules' milestones inside the 2-epoch budget so that every phase of every policy is exercised.
PHASED = {
    "milestones": "0.5,1,1.5",
    "every_epochs": 0.5,
    "small_epochs": 0.5,
    "drop_epochs": 1.0,
    "warmup_epochs": 1.0,
}


def contract_hp(name):
    defaults = get_algorithm(name).defaults
    return {k: v for k, v in PHASED.items() if k in defaults}


def records(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in lines]


def test_registry_is_not_empty_and_sorted():
    assert len(NAMES) >= 15 and NAMES == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_described_as_data(name):
    info = get_algorithm(name)
    assert info.name == name and info.description and "\n" not in info.description
    assert {"lr", "batch_size"} <= set(info.defaults)
    assert set(info.needs) <= set(list_statistics())
    policy, optimizer = info.build(torch.nn.Linear(3, 2).parameters())
    assert isinstance(policy, Policy) and isinstance(optimizer, torch.optim.Optimizer)
    assert policy.name == name and tuple(policy.needs) == tuple(info.needs)
    json.dumps(dict(info.defaults))  # defaults must be plain data (they go to config.json)


@pytest.mark.parametrize("name", NAMES)
def test_trains_lowers_a_convex_loss_and_resumes_exactly(tmp_path, name):
    config = make_config(TINY, {"algo": name, "hp": contract_hp(name), "out_dir": str(tmp_path / "whole")})
    whole = train(config, plots=False)
    assert whole.status == "finished", whole.message
    epochs = [r for r in records(whole.run_dir) if r["kind"] == "epoch"]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    steps = whole.summary["steps"]
    assert whole.summary["samples"] == whole.summary["budget_samples"]

    broken = train(
        make_config(TINY, config.to_dict(), {"out_dir": str(tmp_path / "broken")}),
        stop_after_steps=max(1, (2 * steps) // 3),
        plots=False,
    )
    assert broken.status == "interrupted"
    resumed = resume(broken.run_dir, plots=False)
    assert records(resumed.run_dir) == records(whole.run_dir)


BAD_VALUES = [
    {"lr": -1.0},
    {"lr": float("nan")},
    {"batch_size": -3},
    {"batch_size": 2.5},
    {"not_a_hyperparameter": 1},
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=lambda b: next(iter(b)) + "=" + str(next(iter(b.values()))))
def test_bad_hyperparameters_raise_value_error_naming_them(name, bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=f"Invalid {'hyperparameter' if key.startswith('not') else key}"):
        get_algorithm(name).build(torch.nn.Linear(3, 2).parameters(), bad)


def test_unknown_algorithm_lists_the_choices():
    with pytest.raises(ValueError, match="expected one of .*sgd"):
        get_algorithm("no-such-algorithm")

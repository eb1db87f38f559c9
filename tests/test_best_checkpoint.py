"""``best.pt`` (the weights at the best evaluation) beside ``checkpoint.pt`` (the last state), picked without
the test set: validation accuracy with ``val_fraction``, else the full training loss."""

from __future__ import annotations

import io
import json

import pytest
import torch

from realnets.config import make_config
from realnets.engine import resume, train
from realnets.engine.best import BEST_NAME, best_so_far, selection_metric
from realnets.progress import Progress

TINY = {
    "dataset": "synthetic-classification",
    "dataset_options": {"num_train": 200, "num_test": 50},
    "model": "logreg",
    "progress": False,
    "budget_epochs": 4.0,
    "device": "cpu",
    "threads": 1,
    "algo": "sgd",
    "lr": 0.5,
}


def _epochs(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "epoch"]


def test_best_is_picked_on_the_validation_split_and_holds_those_weights(tmp_path):
    config = make_config(TINY, {"out_dir": str(tmp_path / "run"), "val_fraction": 0.25})
    result = train(config, plots=False)
    epochs = _epochs(result.run_dir)
    best_value = max(r["val_acc"] for r in epochs)
    first_best = next(r for r in epochs if r["val_acc"] == best_value)  # ties keep the earlier epoch
    payload = torch.load(result.run_dir / BEST_NAME, weights_only=False)
    assert payload["metric"] == "val_acc" and payload["value"] == best_value
    assert payload["step"] == first_best["step"]
    assert result.summary["best_checkpoint"]["step"] == first_best["step"]
    assert (result.run_dir / "checkpoint.pt").is_file()  # the last state is kept too
    last = torch.load(result.run_dir / "checkpoint.pt", weights_only=False)
    assert payload["model"].keys() == last["model"].keys()  # plain weights, as model.state_dict() gives


def test_without_a_validation_split_the_test_set_is_not_used_to_pick(tmp_path):
    result = train(make_config(TINY, {"out_dir": str(tmp_path / "run")}), plots=False)
    epochs = _epochs(result.run_dir)
    payload = torch.load(result.run_dir / BEST_NAME, weights_only=False)
    assert payload["metric"] == "train_loss"
    assert payload["value"] == min(r["train_loss"] for r in epochs)


def test_a_resumed_run_keeps_the_best_of_the_whole_run(tmp_path):
    config = make_config(TINY, {"out_dir": str(tmp_path / "run"), "val_fraction": 0.25})
    whole = train(make_config(config.to_dict(), {"out_dir": str(tmp_path / "whole")}), plots=False)
    train(config, stop_after_steps=8, plots=False)
    resumed = resume(tmp_path / "run", plots=False)
    assert resumed.summary["best_checkpoint"] == whole.summary["best_checkpoint"]
    assert best_so_far(resumed.run_dir / "metrics.jsonl") == whole.summary["best_checkpoint"]


@pytest.mark.parametrize(
    "record,expected",
    [
        ({"val_acc": 0.5, "val_loss": 1.0, "train_loss": 1.0}, ("val_acc", True)),
        ({"val_loss": 1.0, "train_loss": 1.0}, ("val_loss", False)),
        ({"train_loss": 1.0, "test_acc": 0.9}, ("train_loss", False)),
    ],
)
def test_selection_metric(record, expected):
    assert selection_metric(record) == expected


def test_a_training_log_has_one_line_per_epoch_with_its_evaluation(tmp_path):
    # Not a terminal (a batch job's log): one complete line per epoch, with loss and test accuracy.
    stream = io.StringIO()
    config = make_config(TINY, {"out_dir": str(tmp_path / "run"), "progress": True})
    real = Progress.__init__

    def to_stream(self, *args, **kwargs):
        real(self, *args, **{**kwargs, "stream": stream, "terminal": False})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Progress, "__init__", to_stream)
        train(config, plots=False)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1][:2] for line in lines] == ["1.", "2.", "3.", "4."]  # epochs end mid-batch
    assert all(" loss " in line and "| train loss" in line and "test acc" in line for line in lines)

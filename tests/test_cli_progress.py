"""``realnets.progress`` (bar on a terminal, lines elsewhere) and ``realnets.export`` (CSV, TensorBoard)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from realnets.export import TensorBoardWriter, metrics_to_csv, write_csv_atomic
from realnets.progress import Progress, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _drive(progress: Progress, clock: FakeClock, n_train: int, steps: int, batch: int, dt: float) -> None:
    for step in range(1, steps + 1):
        clock.now += dt
        progress.update(
            samples=step * batch,
            step=step,
            epoch=step * batch / n_train,
            loss=1.0 / step,
            batch_size=batch,
            lr=0.05,
            wall=clock.now,
        )
    progress.close()


def test_line_mode_writes_one_complete_line_per_epoch():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(400, 100, stream=stream, terminal=False, interval_s=1e9, clock=clock)
    _drive(progress, clock, n_train=100, steps=40, batch=10, dt=0.01)
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and len(lines) == 4  # epochs 1..4, the last one not repeated by close()
    assert lines[0].startswith("epoch 1.00/4 (25.0%)") and "B 10" in lines[0] and "lr 0.05" in lines[0]
    assert lines[-1].startswith("epoch 4.00/4 (100.0%)") and "ETA 0s" in lines[-1]


def test_line_mode_also_writes_every_interval_within_a_long_epoch():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(1000, 1000, stream=stream, terminal=False, interval_s=5.0, clock=clock)
    _drive(progress, clock, n_train=1000, steps=100, batch=10, dt=1.0)  # 100 s in one epoch
    lines = stream.getvalue().splitlines()
    assert 19 <= len(lines) <= 21  # every 5 s, plus the epoch end
    assert all(line.startswith("epoch ") for line in lines)


def test_bar_mode_redraws_one_line_with_eta_loss_batch_and_lr():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(200, 100, stream=stream, terminal=True, redraw_s=0.0, clock=clock)
    _drive(progress, clock, n_train=100, steps=20, batch=10, dt=0.5)
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n") and text.count("\r") == 21
    last = text.rstrip("\n").split("\r")[-1]
    assert (
        "100.0%" in last and "loss 0.05" in last and "B 10" in last and "lr 0.05" in last and "ETA 0s" in last
    )
    middle = text.split("\r")[10]  # after step 10 of 20 at 0.5 s each: 5 s done, 5 s left
    assert "50.0%" in middle and "ETA 5s" in middle


def test_disabled_progress_writes_nothing():
    stream = io.StringIO()
    progress = Progress(10, 10, enabled=False, stream=stream)
    progress.update(samples=10, step=1, loss=1.0)
    progress.close()
    assert stream.getvalue() == ""


def test_progress_keeps_the_last_known_loss_between_syncs():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(100, 100, stream=stream, terminal=False, clock=clock)
    progress.update(samples=50, step=1, loss=0.25)
    progress.update(samples=100, step=2, loss=None)
    progress.close()
    assert "loss 0.25" in stream.getvalue()


def test_epoch_line_carries_the_evaluation_and_the_synced_loss():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(200, 100, stream=stream, terminal=False, interval_s=1e9, clock=clock)
    for step in range(1, 11):  # the engine passes loss=None: the losses stay on the device until a sync
        clock.now += 1.0
        progress.update(samples=10 * step, step=step, loss=None, batch_size=10, lr=0.1)
    assert stream.getvalue() == ""  # the epoch's line waits for its evaluation
    progress.note(loss=0.75)
    progress.epoch_end({"kind": "epoch", "train_loss": 0.5, "test_loss": 0.6, "test_acc": 0.875})
    line = stream.getvalue()
    assert line.count("\n") == 1 and line.startswith("epoch 1.00/2 (50.0%)  step 10  loss 0.75  B 10")
    assert line.rstrip().endswith("| train loss 0.5  test loss 0.6  test acc 87.50%")
    clock.now += 1.0
    progress.update(samples=200, step=20, loss=None, batch_size=10, lr=0.1)
    progress.close()  # no evaluation came: the last epoch's line is still written, once
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2.00/2 (100.0%)  step 20")


def test_a_batch_cut_at_an_epoch_end_is_not_shown_as_a_change():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(200, 100, stream=stream, terminal=False, interval_s=1e9, clock=clock)
    for step, samples, batch in ((1, 32, 32), (2, 64, 32), (3, 96, 32), (4, 100, 4), (5, 132, 32)):
        progress.update(samples=samples, step=step, loss=1.0, batch_size=batch, lr=0.1)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert "B 32" in lines[0] and "B 4" not in stream.getvalue()
    progress = Progress(200, 100, stream=io.StringIO(), terminal=False)
    progress.update(samples=32, step=1, batch_size=32)
    progress.update(samples=48, step=2, batch_size=16)  # within an epoch: a real change
    assert progress._state["batch_size"] == 16


@pytest.mark.parametrize("seconds,text", [(5, "5s"), (65, "1m05s"), (7300, "2h01m"), (float("nan"), "?")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_progress_rejects_bad_sizes():
    with pytest.raises(ValueError, match="Invalid total_samples: 0"):
        Progress(0, 10)


def _run_dir(tmp_path):
    records = [
        {"kind": "epoch", "epoch": 0.0, "step": 0, "samples": 0, "train_loss": 2.0, "test_acc": 0.1},
        {"kind": "step", "step": 1, "samples": 8, "epoch": 0.5, "batch_size": 8, "lr": 0.1, "loss": 1.5},
        {
            "kind": "step",
            "step": 2,
            "samples": 16,
            "epoch": 1.0,
            "batch_size": 8,
            "lr": 0.1,
            "loss": 1.2,
            "kept": 6,
        },
        {"kind": "epoch", "epoch": 1.0, "step": 2, "samples": 16, "train_loss": 1.0, "test_acc": 0.5},
        {"kind": "event", "event": "diverged", "step": 2},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path


def test_metrics_to_csv_writes_steps_and_epochs(tmp_path):
    paths = metrics_to_csv(_run_dir(tmp_path))
    steps = list(csv.DictReader(paths["steps"].open()))
    epochs = list(csv.DictReader(paths["epochs"].open()))
    assert [s["loss"] for s in steps] == ["1.5", "1.2"] and [s["kept"] for s in steps] == ["", "6"]
    assert [e["train_loss"] for e in epochs] == ["2.0", "1.0"] and "kind" not in epochs[0]
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_csv_atomic_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = write_csv_atomic(tmp_path / "x.csv", [{"a": 1}])
    import realnets.export as export

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "replace", fail)
    with pytest.raises(OSError):
        write_csv_atomic(target, [{"a": 2}])
    assert target.read_text() == "a\n1\n" and not list(tmp_path.glob(".*.tmp"))


def test_tensorboard_writer_fails_in_one_line_without_tensorboard(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard") or name == "tensorboard":
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(
        ImportError, match=r"^--tensorboard needs the tensorboard package \(pip install"
    ) as error:
        TensorBoardWriter(tmp_path)
    assert "\n" not in str(error.value)


def test_tensorboard_writer_logs_scalars_when_available(tmp_path):
    pytest.importorskip("tensorboard")
    writer = TensorBoardWriter(tmp_path)
    writer.add_records(json.loads(line) for line in _run_dir(tmp_path).joinpath("metrics.jsonl").open())
    writer.close()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))

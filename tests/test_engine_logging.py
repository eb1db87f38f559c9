"""The loop's per-update logging work done at flush time: one encoder, losses and strides read back at once."""

from __future__ import annotations

import json
import math

import pytest
import torch

from realnets.engine.loop import _read_losses, _read_strides
from realnets.engine.runlog import json_line


@pytest.mark.parametrize(
    "record",
    [
        {"kind": "step", "step": 3, "samples": 96, "epoch": 0.0534, "lr": 0.01, "loss": 0.1 + 0.2, "fwd": 1},
        {"kind": "event", "message": "diverged: loss nan at step 2 — é\n", "flag": True, "none": None},
        {"a": math.nan, "b": math.inf, "c": -math.inf, "d": 1e-320, "e": [1, 2.5, {"f": "g"}], "h": -0.0},
    ],
)
def test_json_line_is_json_dumps_with_a_newline(record):
    assert json_line(record) == json.dumps(record) + "\n"


def test_json_line_refuses_what_json_refuses():
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_line({"loss": torch.tensor(1.0)})


def test_read_losses_gives_each_loss_as_float_would():
    losses = [
        torch.tensor(0.1),
        torch.tensor(2.5, dtype=torch.float64),
        torch.tensor(0.3, dtype=torch.bfloat16),
    ]
    records = [{"kind": "step", "loss": v} for v in losses]
    records.insert(1, {"kind": "epoch", "train_loss": 1.0})
    records.append({"kind": "step", "loss": 0.7})  # already a number: left alone
    _read_losses(records)
    steps = [r["loss"] for r in records if r["kind"] == "step"]
    assert steps == [float(v) for v in losses] + [0.7]
    assert all(type(v) is float for v in steps)
    _read_losses([])  # nothing queued: nothing to do


def test_read_strides_puts_the_values_last_in_their_records():
    from realnets.probes.magnitudes import StrideProbe

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    probe = StrideProbe(radius_every=2)
    records = []
    for step in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 3)).pow(2).mean().backward()
        grads = [p.grad.abs().mean().item() for p in model.parameters()]
        probe.before(model, optimizer=optimizer)
        optimizer.step()
        records.append({"kind": "step", "step": step + 1, "_strides": probe.after_deferred(model, 0.1)})
        records[-1]["expected"] = grads
    records.insert(1, {"kind": "epoch", "train_loss": 1.0})
    _read_strides(records)
    steps = [r for r in records if r["kind"] == "step"]
    assert all("_strides" not in r for r in steps)
    assert list(steps[1]) == [
        "kind",
        "step",
        "expected",
        *(f"param_stride/{n}" for n in ("0.weight", "0.bias", "2.weight", "2.bias")),
        "param_stride",
    ]
    assert "radius_median/0.weight" in steps[0] and "radius_median/0.weight" in steps[2]
    first = steps[0]  # the first momentum step moves by lr * g
    for name, g in zip(("0.weight", "0.bias", "2.weight", "2.bias"), first["expected"]):
        assert first[f"param_stride/{name}"] == pytest.approx(g, rel=1e-5)


def test_a_run_with_the_stride_probe_logs_strides_after_the_step_fields(tmp_path):
    from realnets.config import make_config
    from realnets.engine import train

    config = make_config(
        {
            "algo": "momentum",
            "budget_epochs": 0.1,
            "progress": False,
            "device": "cpu",
            "model": "mlp",
            "model_options": {"width": 8},
            "dataset": "digits",
            "hp": {"lr": 0.05, "batch_size": 32},
            "stride_probe": 2,
            "out_dir": str(tmp_path / "run"),
        }
    )
    train(config, plots=False)
    steps = [
        r
        for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
        if r["kind"] == "step"
    ]
    assert steps and all(isinstance(r["loss"], float) and math.isfinite(r["loss"]) for r in steps)
    keys = list(steps[1])
    assert keys[: keys.index("param_stride/1.weight")][:9] == [
        "kind",
        "step",
        "samples",
        "epoch",
        "batch_size",
        "lr",
        "loss",
        "fwd",
        "bwd",
    ]
    assert keys[-1] == "param_stride" and all(r["param_stride"] > 0 for r in steps)
    assert [("radius_median/1.weight" in r) for r in steps[:4]] == [True, False, True, False]

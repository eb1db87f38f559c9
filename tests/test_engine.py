"""The training engine on tiny tasks: budget, sampler, logging, Grow protocol, resume, divergence."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from realnets.algorithms.base import Grow, Policy, Update
from realnets.checkpoint import load_checkpoint
from realnets.config import make_config
from realnets.engine import EpochSampler, resume, train
from realnets.engine import loop as engine_loop
from realnets.probes import PreparedGradient, register_statistic
from realnets.registry import AlgoInfo

N_TRAIN = 200
TINY = {
    "dataset": "synthetic-classification",
    "dataset_options": {"num_train": N_TRAIN, "num_test": 50},
    "model": "logreg",
    "progress": False,
    "budget_epochs": 3.0,
    "device": "cpu",
}


def tiny(tmp_path, name="run", **settings_):
    return make_config(TINY, {"out_dir": str(tmp_path / name)}, settings_)


def read_records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def without_times(records):
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


# -- sampler -------------------------------------------------------------------------------------------
@given(
    n=st.integers(1, 50),
    draws=st.lists(st.integers(1, 120), min_size=1, max_size=30),
    seed=st.integers(0, 2**32),
)
def test_sampler_draws_each_sample_once_per_epoch(n, draws, seed):
    sampler = EpochSampler(n, seed, torch.device("cpu"))
    drawn = torch.cat([sampler.draw(k) for k in draws]).tolist()
    assert len(drawn) == sum(draws) == sampler.drawn
    for start in range(0, len(drawn) - n + 1, n):
        assert sorted(drawn[start : start + n]) == list(range(n))
    assert len(set(drawn[len(drawn) - len(drawn) % n :])) == len(drawn) % n  # the partial epoch: no repeats


def test_sampler_epochs_differ_and_are_reproducible():
    a, b = EpochSampler(100, 3, torch.device("cpu")), EpochSampler(100, 3, torch.device("cpu"))
    assert torch.equal(a.draw(250), b.draw(250))
    assert not torch.equal(a.permutation(0), a.permutation(1))


# -- budget and logging ----------------------------------------------------------------------------------
@pytest.mark.parametrize("algo,batch", [("sgd", 7), ("manual", 9)])
def test_budget_is_exact_in_samples(tmp_path, algo, batch):
    result = train(
        tiny(
            tmp_path,
            algo=algo,
            batch_size=batch,
            budget_epochs=2.5,
            hp={"every_epochs": 1.0, "max_batch_size": 64} if algo == "manual" else {},
        ),
        plots=False,
    )
    steps = [r for r in read_records(result.run_dir) if r["kind"] == "step"]
    budget = round(2.5 * N_TRAIN)
    assert result.summary["samples"] == budget == sum(r["batch_size"] for r in steps)
    assert steps[-1]["samples"] == budget and steps[-1]["epoch"] == pytest.approx(2.5)
    assert [r["samples"] for r in steps] == list(_cumsum(r["batch_size"] for r in steps))


def _cumsum(values):
    total = 0
    for v in values:
        total += v
        yield total


def test_logging_fields_and_artifacts(tmp_path):
    result = train(tiny(tmp_path, algo="momentum", batch_size=16), plots=False)
    records = read_records(result.run_dir)
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert set(steps[0]) == {"kind", "step", "samples", "epoch", "batch_size", "lr", "loss", "fwd", "bwd"}
    assert all(r["fwd"] == 1 and r["bwd"] == 1 and r["lr"] == 0.01 for r in steps)
    # The initial evaluation, then one after the update that completes each epoch (it may cross into the next).
    assert [math.floor(r["epoch"]) for r in epochs] == [0, 1, 2, 3]
    assert all(
        r["epoch"] == r["samples"] / N_TRAIN and r["samples"] - N_TRAIN * math.floor(r["epoch"]) < 16
        for r in epochs
    )
    assert {"train_loss", "train_acc", "test_loss", "test_acc", "time"} <= set(epochs[-1])
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    for name in ("config.json", "summary.json", "env.json", "checkpoint.pt"):
        assert (result.run_dir / name).is_file(), name
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["hp"]["batch_size"] == 16 and config["hp"]["momentum"] == 0.9
    assert result.summary["steps"] == len(steps) == math.ceil(3 * N_TRAIN / 16)


def test_full_training_loss_is_the_mean_over_the_training_set(tmp_path):
    result = train(tiny(tmp_path, algo="sgd", budget_epochs=1.0), plots=False)
    payload = load_checkpoint(result.run_dir)
    from realnets.data import load_dataset
    from realnets.models import build_model

    ds = load_dataset("synthetic-classification", num_train=N_TRAIN, num_test=50, seed=0)
    model = build_model("logreg", input_shape=ds.input_shape, num_outputs=ds.num_classes)
    model.load_state_dict(payload["model"])
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(model(ds.x_train), ds.y_train).item()
    assert read_records(result.run_dir)[-1]["train_loss"] == pytest.approx(expected, rel=1e-6)


def test_discarding_keeps_the_largest_losses(tmp_path):
    result = train(
        tiny(
            tmp_path,
            algo="discard-small-loss",
            batch_size=20,
            budget_epochs=2.0,
            hp={"drop_fraction": 0.3, "drop_epochs": 1.0},
        ),
        plots=False,
    )
    steps = [r for r in read_records(result.run_dir) if r["kind"] == "step"]
    first_epoch = [r for r in steps if r["samples"] <= N_TRAIN]
    assert first_epoch and all(r["kept"] == 14 for r in first_epoch)
    assert all("kept" not in r for r in steps if r["samples"] - r["batch_size"] >= N_TRAIN)


# -- the Grow protocol and statistics ------------------------------------------------------------------------
class GrowToTwenty(Policy):
    """Draws 5, grows by 5 until the batch holds 20, and records what it saw."""

    needs = ("batch_loss",)

    def init_state(self):
        return {"seen": []}

    def first_draw(self, state, info):
        return 5, state

    def decide(self, state, info, stats):
        state = {"seen": [*state["seen"], info.batch_so_far]}
        assert isinstance(stats["batch_loss"], float)
        if info.batch_so_far < 20 and info.budget_left > 0:
            return Grow(5), state
        return Update(lr=0.1), state


def _fake_algorithm(policy_cls):
    def factory(params, hp):
        return policy_cls(), torch.optim.SGD([p for _, p in params], lr=0.1)

    return AlgoInfo("grow-test", factory, "test policy", {"lr": 0.1, "batch_size": 5})


def test_grow_draws_more_samples_and_counts_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_loop, "get_algorithm", lambda name: _fake_algorithm(GrowToTwenty))
    result = train(tiny(tmp_path, algo="grow-test", budget_epochs=1.0), plots=False)
    steps = [r for r in read_records(result.run_dir) if r["kind"] == "step"]
    assert [r["batch_size"] for r in steps] == [20] * (N_TRAIN // 20)
    # batch_loss evaluates only the 5 new rows each round (4 rounds), plus the update's forward/backward.
    assert all(r["fwd"] == 5 and r["bwd"] == 1 for r in steps)
    assert load_checkpoint(result.run_dir)["policy_state"]["seen"][:4] == [5, 10, 15, 20]


@register_statistic("test_mean_gradient_ready")
def _mean_gradient_ready(ctx):
    ctx.model.zero_grad(set_to_none=True)
    loss = ctx.loss_fn(ctx.model(ctx.x), ctx.y).mean()
    loss.backward()
    ctx.count("fwd")
    ctx.count("bwd")
    ctx.prepared = PreparedGradient(loss=float(loss.detach()), n=int(ctx.x.shape[0]))
    return float(loss.detach())


class FixedWithReadyGradient(Policy):
    needs = ("test_mean_gradient_ready",)

    def first_draw(self, state, info):
        return min(10, info.budget_left), state

    def decide(self, state, info, stats):
        return Update(lr=0.1), state


class FixedPlain(FixedWithReadyGradient):
    needs = ()


def test_ready_gradient_skips_the_engine_pass_and_gives_the_same_run(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_loop, "get_algorithm", lambda name: _fake_algorithm(FixedWithReadyGradient))
    ready = train(tiny(tmp_path, "ready", algo="grow-test", budget_epochs=1.0), plots=False)
    monkeypatch.setattr(engine_loop, "get_algorithm", lambda name: _fake_algorithm(FixedPlain))
    plain = train(tiny(tmp_path, "plain", algo="grow-test", budget_epochs=1.0), plots=False)
    ready_steps = [r for r in read_records(ready.run_dir) if r["kind"] == "step"]
    assert all(r["fwd"] == 1 and r["bwd"] == 1 for r in ready_steps)
    # The same run up to float rounding (the engine's own pass uses the fused mean loss).
    plain_steps = [r for r in read_records(plain.run_dir) if r["kind"] == "step"]
    assert [r["batch_size"] for r in ready_steps] == [r["batch_size"] for r in plain_steps]
    assert [r["loss"] for r in ready_steps] == pytest.approx([r["loss"] for r in plain_steps], rel=1e-4)


class GrowForever(FixedPlain):
    def decide(self, state, info, stats):
        return Grow(50), state


def test_growing_past_the_budget_is_a_policy_error(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_loop, "get_algorithm", lambda name: _fake_algorithm(GrowForever))
    with pytest.raises(RuntimeError, match="expected Update"):
        train(tiny(tmp_path, algo="grow-test", budget_epochs=1.0), plots=False)


# -- resume and divergence -------------------------------------------------------------------------------
@settings(max_examples=3, deadline=None)
@given(fraction=st.floats(0.0, 0.999))
def test_interrupted_run_resumes_to_bitwise_identical_metrics(tmp_path_factory, fraction):
    tmp_path = tmp_path_factory.mktemp("resume")
    settings_ = dict(
        algo="manual",
        batch_size=8,
        hp={"every_epochs": 1.0, "max_batch_size": 32},
        model="mlp",
        model_options={"width": 8},
    )
    whole = train(tiny(tmp_path, "whole", **settings_), plots=False)
    stop = 1 + math.floor(fraction * (whole.summary["steps"] - 1))  # interrupt anywhere before the last step
    broken = train(tiny(tmp_path, "broken", **settings_), stop_after_steps=stop, plots=False)
    assert broken.status == "interrupted"
    resumed = resume(broken.run_dir, plots=False)
    assert resumed.status == "finished"
    assert without_times(read_records(resumed.run_dir)) == without_times(read_records(whole.run_dir))
    final_whole, final_resumed = load_checkpoint(whole.run_dir), load_checkpoint(resumed.run_dir)
    for name, tensor in final_whole["model"].items():
        assert torch.equal(tensor, final_resumed["model"][name]), name


def test_divergence_stops_records_and_keeps_the_last_good_checkpoint(tmp_path):
    result = train(
        tiny(tmp_path, algo="sgd", lr=1e12, batch_size=10, model="mlp", model_options={"width": 8}),
        plots=False,
    )
    assert result.status == "diverged" and "diverged" in result.message
    records = read_records(result.run_dir)
    event = records[-1]
    assert event["kind"] == "event" and event["event"] == "diverged"
    assert not math.isfinite(records[-2]["loss"]) and records[-2]["step"] == event["step"]
    assert all(math.isfinite(r["loss"]) for r in records[:-2] if r["kind"] == "step")
    checkpoint = load_checkpoint(result.run_dir)
    assert checkpoint["step"] < event["step"]
    assert all(torch.isfinite(t).all() for t in checkpoint["model"].values())
    assert json.loads((result.run_dir / "summary.json").read_text())["status"] == "diverged"


# -- CUDA (skipped without a GPU) ---------------------------------------------------------------------------
@pytest.mark.gpu
def test_cuda_run_keeps_data_on_the_device_and_resumes(tmp_path):
    settings_ = dict(algo="increase-batch", device="cuda", hp={"milestones": "1,2", "batch_size": 8})
    whole = train(tiny(tmp_path, "whole", **settings_), plots=False)
    broken = train(tiny(tmp_path, "broken", **settings_), stop_after_steps=30, plots=False)
    resumed = resume(broken.run_dir, plots=False)
    assert whole.summary["device"].startswith("cuda") and resumed.status == "finished"
    a, b = read_records(whole.run_dir), read_records(resumed.run_dir)
    assert [r["batch_size"] for r in a if r["kind"] == "step"] == [
        r["batch_size"] for r in b if r["kind"] == "step"
    ]
    assert b[-1]["train_loss"] == pytest.approx(a[-1]["train_loss"], rel=1e-4)

"""The engine's extension points: a new optimizer, objective, transform or scheduled probe needs no engine edit."""

from __future__ import annotations

import json
import math
from functools import partial

import pytest
import torch

from realnets.algorithms.base import Policy, ScheduledPolicy, Update
from realnets.config import make_config
from realnets.engine import EpochSampler, FreshSampler, TrainStep, resume, train
from realnets.objectives import DropSmallest, InputTransform
from realnets.optim import build_optimizer, register_optimizer
from realnets.optim import registry as optim_registry
from realnets.probes.scheduled import ScheduledProbe
from realnets.registry import _ALGORITHMS, get_algorithm, register_algorithm

N_TRAIN = 60


def tiny(tmp_path, algo, name="run", **extra):
    layer = {
        "algo": algo,
        "dataset": "synthetic-classification",
        "model": "logreg",
        "seed": 1,
        "dataset_options": {"num_train": N_TRAIN, "num_test": 20},
        "device": "cpu",
        "progress": False,
        "budget_epochs": 2.0,
        "out_dir": str(tmp_path / name),
        **extra,
    }
    return make_config(layer)


def records(run_dir, kind="step"):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


class SignSGD(torch.optim.Optimizer):
    """A toy optimizer defined here: w <- w - lr * sign(g)."""

    def __init__(self, params, lr: float = 0.01) -> None:
        if not lr > 0:
            raise ValueError(f"Invalid lr: {lr!r} (expected > 0)")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(torch.sign(p.grad), alpha=-group["lr"])


def _constant(value, *_):
    return value


@pytest.fixture
def toy_algorithm():
    register_optimizer("toy-sign", SignSGD, description="toy", kwargs=lambda hp: {"lr": hp["lr"]})

    @register_algorithm(
        "toy-sign", description="fixed batch, toy sign SGD", defaults={"lr": 0.01, "batch_size": 10}
    )
    def factory(named_params, hp):
        policy = ScheduledPolicy(
            "toy-sign", partial(_constant, hp["batch_size"]), partial(_constant, hp["lr"])
        )
        return policy, build_optimizer("toy-sign", named_params, hp)

    yield "toy-sign"
    optim_registry._OPTIMIZERS.pop("toy-sign")
    _ALGORITHMS.pop("toy-sign")


def test_a_new_optimizer_is_one_class_and_two_registrations(tmp_path, toy_algorithm):
    result = train(tiny(tmp_path, toy_algorithm), plots=False)
    assert result.status == "finished"
    steps = records(result.run_dir)
    assert len(steps) == 2 * N_TRAIN // 10 and {s["batch_size"] for s in steps} == {10}
    first, last = records(result.run_dir, "epoch")[0], records(result.run_dir, "epoch")[-1]
    assert last["train_loss"] < first["train_loss"]  # sign SGD on a convex logistic loss: it moved downhill


def test_group_lr_scale_is_kept_relative_to_the_global_rate():
    model = torch.nn.Linear(3, 2)
    optimizer = build_optimizer("sgd", list(model.named_parameters()), {"lr": 0.1})
    optimizer.param_groups[0]["lr_scale"] = 0.5
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    step = TrainStep(
        model,
        lambda o, t: torch.nn.functional.cross_entropy(o, t, reduction="none"),
        torch.nn.functional.cross_entropy,
        _Fixed(4, 0.2),
        optimizer,
        EpochSampler(8, 0, x.device),
        x,
        y,
        budget=8,
    )
    step.run()
    scales = [g.get("lr_scale", 1.0) for g in optimizer.param_groups]
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.2 * s for s in scales])


class _Fixed(Policy):
    def __init__(self, batch, lr, **update):
        self.batch, self.lr, self.update = batch, lr, update

    def first_draw(self, state, info):
        return min(self.batch, info.budget_left), state

    def decide(self, state, info, stats):
        return Update(lr=self.lr, **self.update), state


def test_fresh_sampling_never_repeats_a_sample_within_an_update_and_keeps_the_budget():
    sampler = FreshSampler(10, seed=3, device=torch.device("cpu"))
    sampler.start_step(0)
    first = torch.cat([sampler.draw(4), sampler.draw(6)])
    assert sorted(first.tolist()) == list(range(10)) and sampler.step_room() == 0
    sampler.start_step(1)
    second = sampler.draw(7)
    assert len(set(second.tolist())) == 7 and sampler.drawn == 17 and sampler.step_room() == 3
    again = FreshSampler(10, seed=3, device=torch.device("cpu"))
    again.start_step(1)
    assert torch.equal(again.draw(7), second)  # a pure function of (seed, update): resume needs no state


def test_fresh_sampling_lets_ba_grow_past_the_epoch_end(tmp_path):
    hp = {"lr": 5.0, "m0": 8, "max_batch_size": 0}
    epoch = train(tiny(tmp_path, "ba-sgd", "epoch", hp=hp, budget_epochs=3.0), plots=False)
    fresh = train(tiny(tmp_path, "ba-sgd", "fresh", hp=hp, budget_epochs=3.0, sampling="fresh"), plots=False)
    for result in (epoch, fresh):
        assert sum(s["batch_size"] for s in records(result.run_dir)) == 3 * N_TRAIN  # the budget is exact
    assert max(s["batch_size"] for s in records(fresh.run_dir)) <= N_TRAIN


def test_needs_are_declared_once_by_the_policy():
    info = get_algorithm("ba-sgd")
    assert info.needs == ("ba_stats_exact",)
    policy, _ = info.build(torch.nn.Linear(2, 2), {"stat": "diag"})
    assert policy.needs == ("ba_stats_diag",)


class _Negate(InputTransform):
    name = "negate-first"

    def apply(self, model, loss_fn, x, y):
        x = x.clone()
        x[:2] = -x[:2]
        return x, {"fwd": 1, "bwd": 0}


def test_objective_and_transform_are_data_the_engine_applies():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    x, y = torch.randn(10, 3), torch.randint(0, 2, (10,))
    loss_fn = partial(torch.nn.functional.cross_entropy, reduction="none")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    policy = _Fixed(10, 0.1, objective=DropSmallest(0.3), transform=_Negate())
    result = TrainStep(
        model,
        loss_fn,
        torch.nn.functional.cross_entropy,
        policy,
        optimizer,
        EpochSampler(10, 0, x.device),
        x,
        y,
        budget=10,
    ).run()
    assert result.kept == 7 and result.fwd == 2 and result.bwd == 1


def test_scheduled_probe_runs_on_its_schedule_with_its_own_generator_and_resumes_exactly(tmp_path):
    seen = []

    def probe(model, loss_fn, x, y, generator):
        with torch.no_grad():
            value = float(loss_fn(model(x), y).mean()) + float(torch.rand((), generator=generator))
        seen.append(value)
        return {"value": value, "fwd": 1}

    class Probing(_Fixed):
        name = "probing"
        probes = (ScheduledProbe("probe", probe, batch_size=16, at_epoch_end=True),)

        def decide(self, state, info, stats):
            state = {**state, "runs": stats["probe.runs"], "last": stats["probe"]["value"]}
            return Update(lr=self.lr), state

        def log_fields(self, state):
            return {"probe_runs": state["runs"], "probe_value": state["last"]}

    @register_algorithm("probing-test", description="test", defaults={"lr": 0.1, "batch_size": 10})
    def factory(named_params, hp):
        return Probing(hp["batch_size"], hp["lr"]), torch.optim.SGD([p for _, p in named_params], lr=0.1)

    try:
        straight = train(tiny(tmp_path, "probing-test", "straight", budget_epochs=3.0), plots=False)
        runs = [s["probe_runs"] for s in records(straight.run_dir)]
        assert runs[0] == 1 and runs[-1] == 3  # at the start, then after each of the first two epoch ends
        assert records(straight.run_dir)[0]["fwd"] == 2  # the probe's forward is counted with the step
        cut = tiny(tmp_path, "probing-test", "cut", budget_epochs=3.0, checkpoint_every=1)
        assert train(cut, stop_after_steps=9, plots=False).status == "interrupted"
        resumed = resume(tmp_path / "cut", plots=False)
        strip = [{k: v for k, v in s.items() if k != "time"} for s in records(straight.run_dir)]
        again = [{k: v for k, v in s.items() if k != "time"} for s in records(resumed.run_dir)]
        assert again == strip
    finally:
        _ALGORITHMS.pop("probing-test")


def test_an_existing_run_is_never_replaced_silently(tmp_path):
    config = tiny(tmp_path, "sgd")
    train(config, plots=False)
    before = (tmp_path / "run" / "metrics.jsonl").read_text()
    with pytest.raises(ValueError, match="a run already exists"):
        train(tiny(tmp_path, "ba-sgd"), plots=False)
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == before
    replaced = train(tiny(tmp_path, "momentum", overwrite=True), plots=False)
    assert (
        replaced.status == "finished"
        and json.loads((tmp_path / "run" / "summary.json").read_text())["algo"] == "momentum"
    )


def test_resume_repairs_a_metrics_file_cut_mid_line_and_refuses_a_short_one(tmp_path):
    config = tiny(tmp_path, "sgd", budget_epochs=3.0, checkpoint_every=1, batch_size=10)
    straight = train(tiny(tmp_path, "sgd", "straight", budget_epochs=3.0, batch_size=10), plots=False)
    assert train(config, stop_after_steps=9, plots=False).status == "interrupted"
    path = tmp_path / "run" / "metrics.jsonl"
    path.write_text(path.read_text() + '{"kind": "step", "ste')  # a crash mid-line
    resumed = resume(tmp_path / "run", plots=False)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "time"} for r in rs]  # noqa: E731
    assert strip(records(resumed.run_dir)) == strip(records(straight.run_dir))
    cut = tiny(tmp_path, "sgd", "short", budget_epochs=3.0, checkpoint_every=1, batch_size=10)
    train(cut, stop_after_steps=9, plots=False)
    (tmp_path / "short" / "metrics.jsonl").write_text("")
    with pytest.raises(ValueError, match="metrics.jsonl"):
        resume(tmp_path / "short", plots=False)


def test_nan_in_the_full_training_loss_is_a_divergence_reported_where_it_happened(tmp_path):
    result = train(tiny(tmp_path, "sgd", lr=1e12, budget_epochs=3.0, batch_size=10, model="mlp"), plots=False)
    assert result.status == "diverged"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    steps = records(result.run_dir)
    assert summary["steps"] == summary["diverged_at_step"] == steps[-1]["step"]
    assert summary["steps"] < 3 * N_TRAIN // 10 and summary["diverged_loss"] is None
    assert not math.isfinite(float(summary["diverged_loss_text"]))
    # strict JSON (no NaN literal), and the pass counts stop where the run diverged
    json.loads((tmp_path / "run" / "summary.json").read_text(), parse_constant=pytest.fail)
    assert summary["fwd"] == sum(s["fwd"] for s in steps) and summary["bwd"] == sum(s["bwd"] for s in steps)


@pytest.mark.parametrize(("algo", "key"), [("sgd", "batch_size"), ("ba-sgd", "m0")])
def test_a_batch_larger_than_the_training_set_is_refused_before_anything_is_written(tmp_path, algo, key):
    config = tiny(tmp_path, algo, hp={key: N_TRAIN + 1}, budget_epochs=3.0, model="mlp")
    with pytest.raises(ValueError, match=rf"Invalid {key}: {N_TRAIN + 1} .*expected at most {N_TRAIN}\)"):
        train(config, plots=False)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())

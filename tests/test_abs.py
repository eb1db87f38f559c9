"""Seed 003's ABS/ABSA and baselines (realnets.algorithms.abs): the batch rule on synthetic eigenvalue sequences,
FGSM replacing (not appending) rows of each base batch, bitwise resume, the command line for all five."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from realnets.algorithms.abs import ABSRule, parse_block
from realnets.cli import main as realnets_main
from realnets.config import make_config
from realnets.engine import resume, train
from realnets.engine.sampling import EpochSampler
from realnets.engine.step import TrainStep
from realnets.registry import get_algorithm

TINY = {
    "dataset": "synthetic-classification",
    "dataset_options": {"num_train": 96, "num_test": 32},
    "model": "mlp",
    "model_options": {"width": 8},
    "progress": False,
    "device": "cpu",
    "threads": 1,
}
# b0 = 8, duration 1: r doubles at every check, so three checks reach r_max = 8 inside a 5-epoch budget.
GROWING = {"batch_size": 8, "r_max": 8, "duration": 1, "lr": 0.05, "milestones": "3", "max_iter": 4}


def run_rule(rule: ABSRule, eigenvalues, gamma=0.2):
    state, trace = rule.initial_state(gamma), []
    for lam in eigenvalues:
        state = rule.check(state, lam)
        trace.append(state)
    return trace


# ----------------------------------------------------------------------------------------- the rule ---
def test_halving_rule_against_reference_value():
    trace = run_rule(ABSRule(r_max=128), [10.0, 6.0, 5.0, 3.0, 2.5, 1.2, 1.0])
    assert [s["r"] for s in trace] == [1, 1, 2, 2, 4, 8, 8]
    # lambda_ref is the value at the last eigenvalue-triggered increase, not the previous check
    assert [s["lam_ref"] for s in trace] == [10.0, 10.0, 5.0, 5.0, 2.5, 1.2, 1.2]
    assert [s["gamma"] for s in trace] == [0.2, 0.2, 0.1, 0.1, 0.05, 0.025, 0.025]
    assert all(s["lr_scale"] == s["r"] for s in trace)  # lr x r_new / r_old at every increase


def test_duration_rule_doubles_without_moving_the_reference():
    trace = run_rule(ABSRule(r_max=128, duration=10), [4.0] * 25)
    assert [s["r"] for s in trace][8:11] == [1, 2, 2]  # the 10th check (the first sets lambda_ref) grows
    assert trace[19]["r"] == 4 and trace[18]["r"] == 2  # ten more checks: again
    assert all(s["lam_ref"] == 4.0 for s in trace) and trace[-1]["increases"] == 2


def test_r_max_caps_stops_tracking_and_zeroes_gamma():
    trace = run_rule(ABSRule(r_max=3, duration=1), [5.0, 5.0, 5.0, 0.1, 0.01])
    assert [s["r"] for s in trace] == [2, 3, 3, 3, 3]
    assert trace[1]["lr_scale"] == pytest.approx(3.0)  # x2 then x3/2: r_new / r_old, not x2
    assert trace[1]["tracking"] is False and trace[1]["gamma"] == 0.0
    assert trace[-1]["checks"] == 2  # checks after the cap change nothing
    assert ABSRule(r_max=1).initial_state(0.2) == {**ABSRule(r_max=1).initial_state(), "tracking": False}


def test_negative_eigenvalues():
    skip = run_rule(ABSRule(), [-5.0, 10.0, -20.0, 4.0])
    assert skip[0]["lam_ref"] is None and skip[1]["lam_ref"] == 10.0 and skip[2]["r"] == 1
    assert skip[3]["r"] == 2 and skip[3]["negatives"] == 2
    signed = run_rule(
        ABSRule(negative="signed"), [10.0, -1.0]
    )  # the authors' comparison: a spurious increase
    assert signed[-1]["r"] == 2 and signed[-1]["lam_ref"] == -1.0
    assert run_rule(ABSRule(negative="magnitude"), [10.0, -4.0])[-1]["r"] == 2
    assert run_rule(ABSRule(negative="magnitude"), [10.0, -6.0])[-1]["r"] == 1
    # skipped checks still count for the duration rule
    assert run_rule(ABSRule(duration=3), [1.0, -1.0, -1.0])[-1]["r"] == 2


@settings(max_examples=60)
@given(
    st.lists(st.floats(-50, 50, allow_nan=False), max_size=40),
    st.integers(1, 64),
    st.integers(2, 3),
    st.integers(1, 12),
    st.sampled_from(["skip", "signed", "magnitude"]),
)
def test_rule_invariants(eigenvalues, r_max, growth, duration, negative):
    rule = ABSRule(r_max=r_max, growth=growth, duration=duration, negative=negative)
    state = rule.initial_state(0.2)
    for lam in eigenvalues:
        new = rule.check(state, lam)
        assert new["r"] >= state["r"]  # the batch never shrinks
        assert new["r"] <= r_max and new["lr_scale"] == pytest.approx(new["r"])
        grew = new["r"] > state["r"]
        assert grew == (new["increases"] == state["increases"] + 1)
        assert grew or new["lam_ref"] == state["lam_ref"] or state["lam_ref"] is None
        assert new["gamma"] == (0.0 if new["r"] == r_max else 0.2 / 2 ** new["increases"])
        assert new["since"] < duration or not new["tracking"]
        if not state["tracking"]:
            assert new == state
        state = new


# --------------------------------------------------------------------------------------- training ---
def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def strip(rs):
    return [{k: v for k, v in r.items() if k != "time"} for r in rs]


@pytest.mark.parametrize("algo", ["abs", "absa"])
def test_trains_grows_and_resumes_bitwise(tmp_path, algo):
    layer = {**TINY, "algo": algo, "budget_epochs": 5.0, "seed": 3, "hp": GROWING}
    whole = train(make_config(layer, {"out_dir": str(tmp_path / "whole")}), plots=False)
    assert whole.status == "finished"
    steps = [r for r in records(whole.run_dir) if r["kind"] == "step"]
    checks = [r for r in steps if "lambda" in r]
    assert [r["r"] for r in checks] == [2, 4, 8]  # duration 1: every check doubles r until r_max
    assert all(r["batch_size"] in (8 * r["r"], r["batch_size"]) for r in steps)
    assert all(r["batch_size"] == 8 * r["r"] for r in steps[:-1])  # the last batch may be cut by the budget
    assert all(r["hvp"] > 0 for r in checks) and sum(r["hvp"] for r in steps) == sum(r["hvp"] for r in checks)
    assert all(r["bwd"] >= 2 + r["hvp"] for r in checks)  # graph build and the HVPs are counted as passes
    # lr = lr0 * r * 0.2^k: linear scaling compounding with the base step decay at epoch 3
    for r in steps:
        start_epoch = (r["samples"] - r["batch_size"]) / 96
        expected = 0.05 * r["r"] * (0.2 if start_epoch >= 3 else 1.0)
        assert r["lr"] == pytest.approx(expected)
    gammas = [r["gamma"] for r in steps]
    if algo == "absa":  # halves at each increase, 0 from epoch floor(5/2) = 2 and at r_max
        late = {g for r, g in zip(steps, gammas) if r["samples"] - r["batch_size"] >= 2 * 96}
        assert gammas[0] == 0.2 and late == {0.0}
        assert all(g in (0.2, 0.1, 0.05, 0.0) for g in gammas)
        assert all(s["fwd"] >= 2 for s in steps if s["gamma"] > 0)  # FGSM's forward
    else:
        assert set(gammas) == {0.0}
    broken = train(
        make_config(layer, {"out_dir": str(tmp_path / "broken")}), stop_after_steps=len(steps) // 2
    )
    assert broken.status == "interrupted"
    resumed = resume(broken.run_dir, plots=False)
    assert strip(records(resumed.run_dir)) == strip(records(whole.run_dir))


def test_tracking_stops_at_r_max_no_more_hvps(tmp_path):
    layer = {**TINY, "algo": "abs", "budget_epochs": 6.0, "hp": {**GROWING, "r_max": 2}}
    result = train(make_config(layer, {"out_dir": str(tmp_path / "run")}), plots=False)
    steps = [r for r in records(result.run_dir) if r["kind"] == "step"]
    assert len([r for r in steps if "lambda" in r]) == 1  # one check doubles r to r_max, then no probe runs
    assert steps[-1]["r"] == 2


def test_absa_replaces_first_k_rows_of_each_base_batch():
    """The update's forward sees r*b0 rows (not more) with the first k of each base batch adversarial."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(64, 6, generator=g), torch.randint(0, 3, (64,), generator=g)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    hp = {"batch_size": 8, "r_max": 4, "duration": 1, "gamma": 0.3, "fgsm_eps": 0.05, "milestones": "100"}
    policy, optimizer = get_algorithm("absa").build(model, hp)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()) if m.training else None)
    ce = torch.nn.functional.cross_entropy
    step = TrainStep(
        model,
        lambda o, t: ce(o, t, reduction="none"),
        ce,
        policy,
        optimizer,
        EpochSampler(64, 0, torch.device("cpu")),
        x,
        y,
        budget=64 * 6,
    )
    k = math.floor(8 * 0.3)  # 2 rows of every base batch of 8
    adversarial_steps = 0
    while step.samples < step.budget:
        seen.clear()
        result = step.run()
        r, gamma = step.state["r"], step.state["gamma_used"]
        assert result.batch_size == 8 * r or step.samples == step.budget
        (update_input,) = seen  # one training-mode forward: the update's
        assert update_input.shape == result.x.shape  # replaced, not appended
        changed = (update_input != result.x).any(dim=1)
        if gamma > 0:
            adversarial_steps += 1
            k = max(math.floor(8 * gamma), 1)
            expected = torch.zeros(result.batch_size, dtype=torch.bool)
            for start in range(0, result.batch_size, 8):
                expected[start : start + k] = True
            assert torch.equal(changed, expected)
        else:
            assert not changed.any()
    assert adversarial_steps > 0 and policy.transform.cost["rows"] > 0


@pytest.mark.parametrize("algo", ["abs", "absa", "bl", "fb", "gg"])
def test_cli_smoke(tmp_path, algo, capsys):
    args = ["train", "--algo", algo, "--dataset", "synthetic-classification", "--model", "logreg"]
    args += ["--dataset-option", "num_train=64", "--dataset-option", "num_test=16", "--budget-epochs", "2"]
    args += ["--device", "cpu", "--no-plots", "--no-progress", "--threads", "1", "--batch-size", "8"]
    args += ["--out-dir", str(tmp_path / algo), "--milestones", "1"]
    extra = {"abs": ["--hp", "r_max=4"], "absa": ["--hp", "r_max=4"], "fb": ["--hp", "base_batch_size=4"]}
    extra["gg"] = ["--max-batch-size", "16", "--factor", "2"]
    assert realnets_main(args + extra.get(algo, [])) == 0
    summary = json.loads((tmp_path / algo / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["samples"] == 128
    steps = [r for r in records(tmp_path / algo) if r["kind"] == "step"]
    if algo == "gg":
        assert [r["batch_size"] for r in steps][:9] == [8] * 8 + [16]  # x2 at epoch 1
    if algo == "fb":
        assert steps[-1]["lr"] == pytest.approx(0.1 * 8 / 4 * 0.2)  # scaled x2, then decayed at epoch 1


@pytest.mark.parametrize(
    "hp, message",
    [
        (["--hp", "block=head"], "Invalid block: 'head'"),
        (["--hp", "block=last:0"], "Invalid block: 'last:0'"),
        (["--hp", "r_max=0"], "Invalid r_max: 0"),
        (["--hp", "gamma=1.0"], "Invalid gamma: 1.0"),
        (["--hp", "gamma=-0.5"], "Invalid gamma: -0.5"),
        (["--hp", "negative=ignore"], "Invalid negative: 'ignore'"),
        (["--hp", "lr_decay=0"], "Invalid lr_decay: 0"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, capsys, hp, message):
    out = tmp_path / "run"
    args = ["train", "--algo", "absa", "--model", "mlp", "--budget-epochs", "1", "--no-progress"]
    assert realnets_main(args + ["--out-dir", str(out)] + hp) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_parse_block():
    names = ["1.weight", "1.bias", "3.weight", "3.bias", "head.weight"]
    assert parse_block("", names) is None and parse_block("last:2", names) == "last:2"
    assert parse_block("1, head", names) == ["1", "head"]
    assert parse_block("head", ["0"]) == ["head"]  # plain parameters: checked on the model later
    with pytest.raises(ValueError, match="Invalid block: '2'"):
        parse_block("1,2", names)


def test_block_probe_restricts_the_hessian(tmp_path):
    layer = {**TINY, "algo": "abs", "budget_epochs": 2.0, "hp": {**GROWING, "block": "last:1"}}
    result = train(make_config(layer, {"out_dir": str(tmp_path / "run")}), plots=False)
    checks = [r for r in records(result.run_dir) if r["kind"] == "step" and "lambda" in r]
    assert len(checks) == 1 and checks[0]["lambda"] > 0


@pytest.mark.gpu
@pytest.mark.parametrize("algo", ["abs", "absa"])
def test_trains_on_cuda(tmp_path, algo):
    layer = {**TINY, "algo": algo, "budget_epochs": 3.0, "device": "cuda", "hp": GROWING}
    result = train(make_config(layer, {"out_dir": str(tmp_path / "run")}), plots=False)
    assert result.status == "finished"
    checks = [r for r in records(result.run_dir) if r["kind"] == "step" and "lambda" in r]
    assert [r["r"] for r in checks] == [2, 4] and all(math.isfinite(r["lambda"]) for r in checks)


def test_check_every_samples_instead_of_every_epoch(tmp_path):
    """check_every=48 on 96 samples: two checks per epoch (seed 003 App. B does this for SVHN)."""
    hp = {**GROWING, "check_every": 48, "duration": 100, "eig_ratio": 1e9}  # r stays 1: the batch stays 8
    layer = {**TINY, "algo": "abs", "budget_epochs": 2.0, "hp": hp}
    result = train(make_config(layer, {"out_dir": str(tmp_path / "run")}), plots=False)
    checks = [r for r in records(result.run_dir) if r["kind"] == "step" and "lambda" in r]
    assert [c["checks"] for c in checks] == [1, 2, 3]  # after 48, 96 and 144 of the 192 samples
    assert [c["samples"] - c["batch_size"] for c in checks] == [48, 96, 144]

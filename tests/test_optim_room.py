"""The optimizer room :mod:`realnets.optim`: registry as data, today's torch optimizers bit for bit, and one
contract over every registered optimizer (after timm's ``tests/test_optim.py``): state_dict round trip,
identical resume, a convex loss decreases, bad hyperparameters rejected in one line.
"""

from __future__ import annotations

import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from realnets.optim import (
    OptimizerInfo,
    build_optimizer,
    get_optimizer,
    list_optimizers,
    momentum_buffer,
    param_groups,
    register_optimizer,
)
from realnets.optim import registry as optim_registry

NAMES = list_optimizers()
HP = {"lr": 0.05, "weight_decay": 0.0, "momentum": 0.9}
#: Per-optimizer overrides for the contract: rates of a sensible size, CBLR refreshing within the test.
CONTRACT_HP = {
    "lars": {"lr": 2.0},
    "lamb": {"lr": 0.01},
    "percent-delta": {"lr": 0.01},
    "mclr": {"lr": 0.01},
    "cblr": {"lr": 0.05, "refresh_every": 2, "momentum": 0.0},
    "adam": {"lr": 0.01},
}


def make_model(seed: int = 0, d: int = 5, hidden: int = 6, classes: int = 3) -> nn.Module:
    """A small float64 MLP with LayerNorm; parameters drawn from an explicit generator."""
    model = nn.Sequential(
        nn.Linear(d, hidden), nn.LayerNorm(hidden), nn.Tanh(), nn.Linear(hidden, classes)
    ).double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(
                0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64) + (1.0 if p.ndim == 1 else 0.0)
            )
    return model


def make_data(seed: int = 1, n: int = 24, d: int = 5, classes: int = 3):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randint(
        0, classes, (n,), generator=gen
    )


def train_steps(model, opt, x, y, steps: int, needs_closure: bool) -> list[float]:
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        losses.append(loss.item())
        opt.step((lambda: F.cross_entropy(model(x), y)) if needs_closure else None)
    return losses


def contract_hp(name: str) -> dict:
    return {**HP, **CONTRACT_HP.get(name, {})}


# --- the registry as data -------------------------------------------------------------------------------


def test_registry_holds_the_engine_names_and_the_layerwise_optimizers():
    assert {"sgd", "momentum", "nesterov", "adam", "lars", "lamb", "percent-delta", "cblr", "mclr"} <= set(
        NAMES
    )
    assert NAMES == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_described_as_data(name):
    info = get_optimizer(name)
    assert isinstance(info, OptimizerInfo) and info.name == name
    assert issubclass(info.cls, torch.optim.Optimizer)
    assert info.description and "\n" not in info.description and info.source
    assert isinstance(info.defaults, dict)
    assert isinstance(info.has_momentum_buffer, bool) and isinstance(info.needs_closure, bool)
    assert not set(info.defaults) & {"lr", "weight_decay", "momentum", "batch_size"}


def test_unknown_optimizer_lists_the_choices():
    with pytest.raises(ValueError, match=r"^Invalid optimizer: 'x' \(expected one of adam, .*sgd\)$"):
        get_optimizer("x")
    with pytest.raises(ValueError, match="Invalid optimizer: 'x'"):
        build_optimizer("x", list(make_model().named_parameters()), HP)


# --- today's torch optimizers, bit for bit ----------------------------------------------------------------


def _today(name: str, params, hp):
    """The construction of ``realnets.algorithms.common.build_optimizer`` before the room: one group."""
    if name == "adam":
        return torch.optim.Adam(params, lr=hp["lr"], weight_decay=hp["weight_decay"])
    momentum = 0.0 if name == "sgd" else hp["momentum"]
    return torch.optim.SGD(
        params,
        lr=hp["lr"],
        momentum=momentum,
        nesterov=name == "nesterov" and momentum > 0,
        weight_decay=hp["weight_decay"],
    )


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("case", ["grouped, wd=0", "one group, wd>0"])
def test_torch_family_is_bit_identical_to_a_single_group_optimizer(name, case):
    hp = (
        {**HP, "weight_decay": 0.0}
        if case == "grouped, wd=0"
        else {**HP, "weight_decay": 0.01, "exclude_bias_norm": False}
    )
    x, y = make_data()
    ours_model, peer_model = make_model(), make_model()
    ours = build_optimizer(name, list(ours_model.named_parameters()), hp)
    if case == "grouped, wd=0":
        # torch's optimizers ignore "trust": with no weight decay the room merges the two groups (a cheaper
        # step with the same numbers, checked below against torch's own single-group optimizer)
        assert len(ours.param_groups) == 1
    peer = _today(name, peer_model.parameters(), hp)
    for step in range(4):
        for group in ours.param_groups:  # what the engine does: global lr times the group's scale
            group["lr"] = 0.05 / (1 + step) * group["lr_scale"]
        for group in peer.param_groups:
            group["lr"] = 0.05 / (1 + step)
        train_steps(ours_model, ours, x, y, 1, False)
        train_steps(peer_model, peer, x, y, 1, False)
    for a, b in zip(ours_model.parameters(), peer_model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert type(ours) is type(peer)


def test_weight_decay_skips_biases_and_norm_weights_by_default():
    model = make_model()
    opt = build_optimizer("momentum", list(model.named_parameters()), {**HP, "weight_decay": 0.1})
    decayed = {n for g in opt.param_groups if g["weight_decay"] > 0 for n in g["param_names"]}
    assert decayed == {"0.weight", "3.weight"}
    assert all(
        g["momentum"] == 0.9 and g["nesterov"] is False and g["dampening"] == 0 for g in opt.param_groups
    )


@pytest.mark.parametrize(
    ("name", "hp", "message"),
    [
        ("momentum", {"lr": -1.0}, r"Invalid lr: -1.0 \(expected a finite number > 0\)"),
        ("sgd", {"lr": float("nan")}, r"Invalid lr: nan"),
        ("momentum", {"weight_decay": -1.0}, r"Invalid weight_decay: -1.0 \(expected a finite number >= 0\)"),
        ("momentum", {"momentum": 1.0}, r"Invalid momentum: 1.0 \(expected 0 <= momentum < 1\)"),
        ("nesterov", {"momentum": -0.5}, r"Invalid momentum: -0.5"),
        ("sgd", {"momentum": 5}, r"Invalid momentum: 5"),
        ("adam", {"momentum": 5}, r"Invalid momentum: 5"),
        ("lars", {"trust_coefficient": -1.0}, r"Invalid trust_coefficient: -1.0"),
        ("lamb", {"beta2": 1.0}, r"Invalid beta2: 1.0"),
        ("lamb", {"lamb_eps": 0.0}, r"Invalid eps: 0.0"),
        ("cblr", {"hessian": "magic"}, r"Invalid hessian: 'magic'"),
        ("mclr", {"mclr_signed": "yes"}, r"Invalid signed: 'yes'"),
        ("momentum", {"exclude_bias_norm": 1}, r"Invalid exclude_bias_norm: 1"),
    ],
)
def test_bad_hyperparameters_raise_one_line(name, hp, message):
    with pytest.raises(ValueError, match=message) as err:
        build_optimizer(name, list(make_model().named_parameters()), {**HP, **hp})
    assert "\n" not in str(err.value)


def test_sgd_and_adam_ignore_a_valid_momentum():
    for name in ("sgd", "adam"):
        a, b = make_model(), make_model()
        x, y = make_data()
        opt_a = build_optimizer(name, list(a.named_parameters()), {**HP, "momentum": 0.0})
        opt_b = build_optimizer(name, list(b.named_parameters()), {**HP, "momentum": 0.7})
        train_steps(a, opt_a, x, y, 3, False)
        train_steps(b, opt_b, x, y, 3, False)
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


# --- param_groups ---------------------------------------------------------------------------------------


def test_param_groups_split_biases_and_norms_and_keep_order():
    named = list(make_model().named_parameters())
    groups = param_groups(named, 0.1)
    assert [[n for n, _ in g["params"]] for g in groups] == [
        ["0.weight", "3.weight"],
        ["0.bias", "1.weight", "1.bias", "3.bias"],
    ]
    assert [(g["weight_decay"], g["trust"], g["lr_scale"]) for g in groups] == [
        (0.1, True, 1.0),
        (0.0, False, 1.0),
    ]
    (single,) = param_groups(named, 0.1, exclude=None)
    assert [n for n, _ in single["params"]] == [n for n, _ in named] and single["trust"] is True
    custom = param_groups(named, 0.1, exclude=lambda n, p: n.startswith("3."))
    assert [n for n, _ in custom[1]["params"]] == ["3.weight", "3.bias"]


def test_lr_scale_keeps_the_groups_relative_rates():
    model = make_model()
    groups = param_groups(list(model.named_parameters()), 0.0)
    groups[1]["lr_scale"] = 0.0  # a frozen-by-scale group: the engine's lr times 0
    opt = torch.optim.SGD(groups, lr=0.1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for group in opt.param_groups:
        group["lr"] = 0.1 * group["lr_scale"]
    train_steps(model, opt, *make_data(), 1, False)
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved == {"0.weight", "3.weight"}


# --- momentum_buffer ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_momentum_buffer_dispatches_or_refuses(name):
    info = get_optimizer(name)
    model = make_model()
    opt = build_optimizer(name, list(model.named_parameters()), {**contract_hp(name), "momentum": 0.9})
    train_steps(model, opt, *make_data(), 2, info.needs_closure)
    p = next(model.parameters())
    if info.has_momentum_buffer:
        buf = momentum_buffer(opt, p)
        assert buf is opt.state[p]["momentum_buffer"] and buf.shape == p.shape
    else:
        with pytest.raises(ValueError, match="Invalid optimizer: .*no .*momentum buffer") as err:
            momentum_buffer(opt, p)
        assert "\n" not in str(err.value)


def test_momentum_buffer_refuses_momentum_zero_and_foreign_parameters():
    model = make_model()
    opt = build_optimizer("lars", list(model.named_parameters()), {**HP, "momentum": 0.0})
    with pytest.raises(ValueError, match="momentum 0 has no momentum buffer"):
        momentum_buffer(opt, next(model.parameters()))
    opt = build_optimizer("momentum", list(model.named_parameters()), HP)
    assert momentum_buffer(opt, next(model.parameters())) is None  # before the first step
    with pytest.raises(ValueError, match="Invalid param"):
        momentum_buffer(opt, nn.Parameter(torch.zeros(2)))


# --- one contract over every registered optimizer -------------------------------------------------------


def _build(name, model):
    return build_optimizer(name, list(model.named_parameters()), contract_hp(name))


def _round_trip(state_dict):
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", NAMES)
def test_contract_state_dict_round_trip(name):
    model = make_model()
    opt = _build(name, model)
    train_steps(model, opt, *make_data(), 3, get_optimizer(name).needs_closure)
    saved = opt.state_dict()
    fresh = _build(name, make_model())
    fresh.load_state_dict(_round_trip(saved))
    again = fresh.state_dict()
    assert again["param_groups"] == saved["param_groups"]
    assert again["state"].keys() == saved["state"].keys()
    for key, state in saved["state"].items():
        assert state.keys() == again["state"][key].keys()
        for k, v in state.items():
            other = again["state"][key][k]
            assert torch.equal(v, other) if isinstance(v, torch.Tensor) else v == other


@pytest.mark.parametrize("name", NAMES)
def test_contract_identical_resume(name):
    needs_closure = get_optimizer(name).needs_closure
    x, y = make_data()
    straight = make_model()
    opt = _build(name, straight)
    train_steps(straight, opt, x, y, 6, needs_closure)

    first = make_model()
    opt_first = _build(name, first)
    train_steps(first, opt_first, x, y, 3, needs_closure)
    model_state, opt_state = (
        _round_trip(copy.deepcopy(first.state_dict())),
        _round_trip(opt_first.state_dict()),
    )
    resumed = make_model(seed=5)  # different initial weights: everything must come from the checkpoint
    resumed.load_state_dict(model_state)
    opt_resumed = _build(name, resumed)
    opt_resumed.load_state_dict(opt_state)
    train_steps(resumed, opt_resumed, x, y, 3, needs_closure)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_contract_convex_loss_decreases(name):
    gen = torch.Generator().manual_seed(3)
    model = nn.Linear(4, 3).double()  # softmax regression: a convex loss
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, 4, generator=gen, dtype=torch.float64))
        model.bias.copy_(0.1 * torch.randn(3, generator=gen, dtype=torch.float64))
    x = torch.randn(40, 4, generator=gen, dtype=torch.float64)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    opt = build_optimizer(name, list(model.named_parameters()), contract_hp(name))
    losses = train_steps(model, opt, x, y, 30, get_optimizer(name).needs_closure)
    assert losses[-1] < 0.9 * losses[0]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "bad",
    [{"lr": -1.0}, {"lr": float("inf")}, {"weight_decay": -0.1}, {"momentum": 5}],
    ids=lambda b: f"{next(iter(b))}={next(iter(b.values()))}",
)
def test_contract_bad_hyperparameters_rejected(name, bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=f"^Invalid {key}: ") as err:
        build_optimizer(name, list(make_model().named_parameters()), {**contract_hp(name), **bad})
    assert "\n" not in str(err.value)


# --- adding an optimizer is one registration ------------------------------------------------------------


class SignSGD(torch.optim.Optimizer):
    """A toy optimizer: w <- w - lr sign(g)."""

    def __init__(self, params, lr=0.01):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad.sign(), alpha=-group["lr"])


@pytest.fixture
def toy_registered():
    info = register_optimizer(
        "toy-sign-sgd",
        SignSGD,
        description="Toy sign SGD (test only)",
        kwargs=lambda hp: {"lr": hp["lr"]},
        source="tests/test_optim_room.py",
    )
    yield info
    optim_registry._OPTIMIZERS.pop("toy-sign-sgd")


def test_adding_an_optimizer_is_one_registration(toy_registered):
    assert "toy-sign-sgd" in list_optimizers() and get_optimizer("toy-sign-sgd") is toy_registered
    model = make_model()
    opt = build_optimizer("toy-sign-sgd", list(model.named_parameters()), {"lr": 0.01})
    assert isinstance(opt, SignSGD)
    losses = train_steps(model, opt, *make_data(), 20, False)
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="Duplicate optimizer name"):
        register_optimizer("toy-sign-sgd", torch.optim.SGD, description="x", kwargs=dict)


# --- the bench section ------------------------------------------------------------------------------------


def test_bench_optim_section_times_every_case_against_sgd(monkeypatch):
    from realnets.bench import optim as optim_bench

    monkeypatch.setattr(optim_bench, "STEPS", 2)
    rows = optim_bench.optim_section(torch.device("cpu"), 1)
    cases = [row["case"] for row in rows]
    assert len(rows) == len(optim_bench.CASES) + 2  # plus LAMB vs Adam and CBLR's refresh
    assert any("mclr(ratio_every=10)" in case for case in cases) and cases[-1].endswith("cblr refresh")
    for row in rows:
        assert row["section"] == "optim" and row["ours_value"] > 0 and row["peer_value"] > 0
        assert row["ratio"] == pytest.approx(row["ours_value"] / row["peer_value"])
    targets = {row["case"]: row["target"] for row in rows}
    assert targets["mlp(width=256) lars step"].startswith("<= 1.1")

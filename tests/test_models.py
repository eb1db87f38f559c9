"""realnets.models: every registered model builds, has the right output shape and backpropagates;
ghost batch norm matches per-chunk batch norm; bad names, shapes and options raise ValueError.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from realnets.models import GhostBatchNorm2d, build_model, list_models

# The input each model is built for in the papers (and the options it needs).
DEFAULT_INPUTS = {
    "logreg": ((1, 8, 8), {}),
    "mlp": ((1, 8, 8), {"width": 32}),
    "fmnist-cnn": ((1, 28, 28), {}),
    "bilstm": ((20,), {"vocab_size": 16}),
    "alexnet-cifar": ((3, 32, 32), {}),
    "resnet18-cifar": ((3, 32, 32), {}),
    "wrn-16-4": ((3, 32, 32), {}),
}
SEEDS = st.integers(min_value=0, max_value=2**31 - 1)


def _batch(name: str, input_shape: tuple[int, ...], size: int, generator: torch.Generator) -> torch.Tensor:
    if name == "bilstm":
        return torch.randint(0, 16, (size, *input_shape), generator=generator)
    return torch.rand(size, *input_shape, generator=generator)


def test_every_registered_model_is_covered():
    assert {name for name, _ in list_models()} == set(DEFAULT_INPUTS)
    assert all(description.strip() for _, description in list_models())


@pytest.mark.parametrize("name", sorted(DEFAULT_INPUTS))
def test_model_output_shape_and_backward(name):
    torch.manual_seed(0)
    input_shape, options = DEFAULT_INPUTS[name]
    model = build_model(name, input_shape=input_shape, num_outputs=7, **options)
    x = _batch(name, input_shape, 4, torch.Generator().manual_seed(1))
    out = model(x)
    assert out.shape == (4, 7) and out.dtype == torch.float32
    F.cross_entropy(out, torch.arange(4) % 7).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("name", ["logreg", "mlp", "alexnet-cifar", "bilstm"])
def test_init_is_deterministic_given_torch_seed(name):
    input_shape, options = DEFAULT_INPUTS[name]

    def build(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return build_model(name, input_shape=input_shape, num_outputs=3, **options).state_dict()

    first, again, other = build(5), build(5), build(6)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first if first[k].is_floating_point())


def test_parameter_counts_match_the_architectures():
    def count(name: str, shape: tuple[int, ...], **options) -> int:
        return sum(
            p.numel() for p in build_model(name, input_shape=shape, num_outputs=10, **options).parameters()
        )

    # fmnist-cnn: 3x3 convs 1->32->64->128 without bias, FC 1152->625->10 without bias (seed 000 script).
    assert count("fmnist-cnn", (1, 28, 28)) == 32 * 9 + 64 * 32 * 9 + 128 * 64 * 9 + 1152 * 625 + 625 * 10
    # Published sizes: ResNet-18 (CIFAR) 11,173,962 parameters; WRN-16-4 2.75M (Zagoruyko & Komodakis, table 1).
    assert count("resnet18-cifar", (3, 32, 32)) == 11_173_962
    assert abs(count("wrn-16-4", (3, 32, 32)) - 2.75e6) < 0.01e6
    # AlexNet-like C1: conv 5x5 3->64, 64->64 (+ BN), FC 4096->384->192->10.
    c1 = (3 * 25 * 64 + 64) + (64 * 25 * 64 + 64) + 2 * 128 + (4096 * 384 + 384) + (384 * 192 + 192) + 1930
    assert count("alexnet-cifar", (3, 32, 32)) == c1


def test_fmnist_cnn_reference_init_has_std_001():
    torch.manual_seed(0)
    model = build_model("fmnist-cnn", input_shape=(1, 28, 28), num_outputs=10, init="reference")
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    # Sample std of n normals: standard error sigma / sqrt(2n); z = 5.
    assert abs(float(weights.std()) - 0.01) < 5 * 0.01 / math.sqrt(2 * weights.numel())


def test_models_accept_other_sensible_shapes():
    torch.manual_seed(0)
    for name, shape in [
        ("resnet18-cifar", (1, 8, 8)),
        ("wrn-16-4", (1, 28, 28)),
        ("alexnet-cifar", (1, 8, 8)),
        ("mlp", (64,)),
        ("logreg", (3, 32, 32)),
        ("fmnist-cnn", (3, 32, 32)),
    ]:
        out = build_model(name, input_shape=shape, num_outputs=2).eval()(torch.rand(2, *shape))
        assert out.shape == (2, 2), name


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        (
            "vgg16",
            {"input_shape": (3, 32, 32), "num_outputs": 10},
            r"Invalid model name: 'vgg16' \(expected one of: ",
        ),
        ("fmnist-cnn", {"input_shape": (64,), "num_outputs": 10}, "Invalid input_shape for fmnist-cnn"),
        ("fmnist-cnn", {"input_shape": (1, 8, 8), "num_outputs": 10}, "at least 11x11"),
        (
            "resnet18-cifar",
            {"input_shape": (784,), "num_outputs": 10},
            "Invalid input_shape for resnet18-cifar",
        ),
        ("mlp", {"input_shape": (0, 8), "num_outputs": 10}, "Invalid input_shape"),
        ("mlp", {"input_shape": (64,), "num_outputs": 0}, "Invalid num_outputs"),
        ("mlp", {"input_shape": (64,), "num_outputs": 10, "width": 0}, "Invalid width"),
        (
            "mlp",
            {"input_shape": (64,), "num_outputs": 10, "ghost_batch_size": 8},
            "Invalid option for model 'mlp'",
        ),
        ("bilstm", {"input_shape": (20,), "num_outputs": 2}, "Invalid vocab_size: None"),
        (
            "bilstm",
            {"input_shape": (1, 20), "num_outputs": 2, "vocab_size": 5},
            "Invalid input_shape for bilstm",
        ),
        ("wrn-16-4", {"input_shape": (3, 32, 32), "num_outputs": 10, "depth": 15}, "Invalid depth: 15"),
        ("wrn-16-4", {"input_shape": (3, 32, 32), "num_outputs": 10, "dropout": 1.5}, "Invalid dropout"),
        ("alexnet-cifar", {"input_shape": (3, 32, 32), "num_outputs": 10, "norm": "layer"}, "Invalid norm"),
        (
            "alexnet-cifar",
            {"input_shape": (3, 32, 32), "num_outputs": 10, "norm": "ghost"},
            "Invalid ghost_batch_size",
        ),
        (
            "resnet18-cifar",
            {"input_shape": (3, 32, 32), "num_outputs": 10, "norm": "none", "ghost_batch_size": 4},
            "only used with norm='ghost'",
        ),
        (
            "resnet18-cifar",
            {"input_shape": (3, 32, 32), "num_outputs": 10, "ghost_batch_size": 0},
            "Invalid ghost_batch_size: 0",
        ),
        ("fmnist-cnn", {"input_shape": (1, 28, 28), "num_outputs": 10, "init": "xavier"}, "Invalid init"),
    ],
)
def test_bad_arguments_raise_value_error(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(name, **kwargs)


def test_bilstm_rejects_float_inputs():
    model = build_model("bilstm", input_shape=(5,), num_outputs=2, vocab_size=4)
    with pytest.raises(ValueError, match="expected int64 token ids"):
        model(torch.rand(3, 5))


@pytest.mark.parametrize("name", ["alexnet-cifar", "resnet18-cifar", "wrn-16-4"])
def test_norm_option_selects_the_layer(name):
    def norms(**options) -> list[type]:
        model = build_model(name, input_shape=(3, 32, 32), num_outputs=10, **options)
        return [type(m) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]

    assert norms() and set(norms()) == {nn.BatchNorm2d}
    assert set(norms(ghost_batch_size=16)) == {GhostBatchNorm2d}
    assert norms(norm="none") == []


# --------------------------------------------------------------------------------------------- ghost BN


@settings(max_examples=20)
@given(
    seed=SEEDS,
    ghost=st.integers(min_value=2, max_value=6),
    num_ghosts=st.integers(min_value=1, max_value=4),
    remainder=st.integers(min_value=0, max_value=1),
    channels=st.integers(min_value=1, max_value=3),
    momentum=st.floats(min_value=0.01, max_value=0.9, allow_nan=False),
)
def test_ghost_batch_norm_equals_per_chunk_batch_norm(seed, ghost, num_ghosts, remainder, channels, momentum):
    generator = torch.Generator().manual_seed(seed)
    batch = ghost * num_ghosts + remainder * (ghost // 2 + 1)  # remainder=1: a final smaller chunk (>= 2)
    x = (
        torch.randn(batch, channels, 3, 2, generator=generator, dtype=torch.float64) * 3 + 1
    ).requires_grad_()
    layer = GhostBatchNorm2d(channels, ghost, momentum=momentum).double()
    with torch.no_grad():
        layer.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
        layer.bias.copy_(torch.randn(channels, generator=generator))
    # The reference: plain BatchNorm2d with the same parameters, applied to each chunk in order.
    reference = nn.BatchNorm2d(channels, momentum=momentum).double()
    reference.load_state_dict(layer.state_dict())
    expected = torch.cat([reference(chunk) for chunk in x.split(ghost)])
    out = layer(x)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(layer.running_mean, reference.running_mean, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(layer.running_var, reference.running_var, rtol=1e-10, atol=1e-12)
    # Gradients with respect to the input and the affine parameters agree as well.
    weights = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    grads = torch.autograd.grad((out * weights).sum(), (x, layer.weight, layer.bias))
    expected_grads = torch.autograd.grad((expected * weights).sum(), (x, reference.weight, reference.bias))
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_ghost_batch_norm_statistics_are_per_ghost_batch():
    # Two ghost batches with very different means are each normalised to mean 0, variance 1.
    x = torch.cat(
        [torch.randn(8, 1, 4, 4, generator=torch.Generator().manual_seed(0)), 100 + torch.zeros(8, 1, 4, 4)]
    )
    x[8:] += torch.linspace(0, 1, 16).view(1, 1, 4, 4)
    with torch.no_grad():
        out = GhostBatchNorm2d(1, 8)(x)
    for chunk in out.split(8):
        assert abs(float(chunk.mean())) < 1e-5 and abs(float(chunk.var(unbiased=False)) - 1) < 1e-3
    with torch.no_grad():
        plain = nn.BatchNorm2d(1)(x)
    assert abs(float(plain[:8].mean())) > 0.5  # whole-batch norm mixes the two groups


def test_ghost_batch_norm_eval_uses_running_stats():
    layer = GhostBatchNorm2d(2, 4)
    x = torch.randn(12, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    layer(x)
    layer.eval()
    plain = nn.BatchNorm2d(2)
    plain.load_state_dict(layer.state_dict())
    plain.eval()
    torch.testing.assert_close(layer(x), plain(x))


def test_ghost_batch_norm_rejects_bad_size():
    with pytest.raises(ValueError, match="Invalid ghost_batch_size: 0"):
        GhostBatchNorm2d(3, 0)


# --------------------------------------------------------------------------------------------- learning


def test_mlp_learns_the_real_digits():
    from realnets.data import load_dataset

    torch.manual_seed(0)
    ds = load_dataset("digits")
    model = build_model("mlp", input_shape=ds.input_shape, num_outputs=ds.num_outputs, width=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        F.cross_entropy(model(ds.x_train), ds.y_train).backward()
        optimizer.step()
    accuracy = float((model(ds.x_test).argmax(1) == ds.y_test).double().mean())
    assert accuracy > 0.9, accuracy  # chance is 0.1; a 64-wide MLP reaches ~0.95-0.97 on this split


def test_bilstm_learns_order_where_bag_of_words_cannot():
    from realnets.data import load_dataset

    torch.manual_seed(0)
    ds = load_dataset("synthetic-sequence", seed=0, num_train=2000, num_test=1000, seq_len=10, vocab_size=8)

    def fit(model: nn.Module, x_train: torch.Tensor, x_test: torch.Tensor, steps: int) -> float:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        generator = torch.Generator().manual_seed(1)
        for _ in range(steps):
            idx = torch.randint(0, x_train.shape[0], (64,), generator=generator)
            optimizer.zero_grad()
            F.cross_entropy(model(x_train[idx]), ds.y_train[idx]).backward()
            optimizer.step()
        with torch.no_grad():
            return float((model(x_test).argmax(1) == ds.y_test).double().mean())

    lstm = build_model(
        "bilstm",
        input_shape=ds.input_shape,
        num_outputs=2,
        vocab_size=ds.vocab_size,
        embed_dim=16,
        hidden=16,
        num_layers=1,
    )
    counts = [F.one_hot(x, ds.vocab_size).sum(1).float() for x in (ds.x_train, ds.x_test)]
    bag = build_model("logreg", input_shape=(ds.vocab_size,), num_outputs=2)
    lstm_accuracy = fit(lstm, ds.x_train, ds.x_test, 250)
    bag_accuracy = fit(bag, counts[0], counts[1], 250)
    # Bag of words is at chance: binomial stderr of 1000 test labels is 0.016; z = 5 gives 0.58.
    assert bag_accuracy < 0.5 + 5 * 0.016, bag_accuracy
    assert lstm_accuracy > 0.9, lstm_accuracy


@pytest.mark.gpu
def test_ghost_batch_norm_on_cuda_matches_cpu():
    x = torch.randn(64, 8, 6, 6, generator=torch.Generator().manual_seed(2))
    cpu, gpu = GhostBatchNorm2d(8, 16), GhostBatchNorm2d(8, 16).cuda()
    torch.testing.assert_close(gpu(x.cuda()).cpu(), cpu(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gpu.running_var.cpu(), cpu.running_var, rtol=1e-4, atol=1e-6)

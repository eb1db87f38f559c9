"""The gradient-noise probe against per-sample gradients from torch.func (vmap of grad).

All comparisons run in float64, so the tolerances are float-rounding ones (1e-9 relative), far below any
modelling difference between the modes.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from realnets.probes.gradstats import (
    GradStatsAccumulator,
    gradient_stats,
    per_sample_backward_stats,
    per_sample_gradients,
    stats_from_per_sample_gradients,
)

REL = 1e-9


def ce_loss(out, y):
    return F.cross_entropy(out, y, reduction="none")


def mse_loss(out, y):
    return (out.squeeze(-1) - y).pow(2)


class TinyLSTM(nn.Module):
    def __init__(self, vocab=7, emb=3, hidden=4, classes=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        out, _ = self.lstm(self.emb(x))
        return self.head(out.mean(1))


def make_mlp(seed, d_in, width, classes, depth):
    torch.manual_seed(seed)
    layers, d = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.Tanh()]
        d = width
    layers.append(nn.Linear(d, classes))
    return nn.Sequential(*layers).double()


def make_cnn(seed, channels, classes):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(channels * 3 * 3, classes),
    ).double()


def oracle(model, loss_fn, x, y, diag=False):
    g = per_sample_gradients(model, loss_fn, x, y)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    flat = torch.cat([g[n].reshape(len(x), -1) for n in names], dim=1)
    return stats_from_per_sample_gradients(flat, loss_fn(model(x), y).detach(), diag=diag)


def assert_stats_match(ours, ref):
    assert ours.n == ref.n
    assert math.isclose(ours.loss, ref.loss, rel_tol=REL)
    assert math.isclose(ours.grad_sq_norm, ref.grad_sq_norm, rel_tol=REL)
    assert math.isclose(ours.sigma2, ref.sigma2, rel_tol=1e-8, abs_tol=1e-14)


@settings(max_examples=8)
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(2, 24),
    d_in=st.integers(1, 6),
    width=st.integers(1, 8),
    depth=st.integers(0, 2),
    mode=st.sampled_from(["exact", "full"]),
    chunk=st.integers(1, 10),
)
def test_mlp_stats_match_per_sample_oracle(seed, batch, d_in, width, depth, mode, chunk):
    model = make_mlp(seed, d_in, width, 3, depth)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, d_in, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (batch,), generator=gen)
    ours = gradient_stats(model, ce_loss, x, y, mode=mode, chunk_size=chunk)
    assert_stats_match(ours, oracle(model, ce_loss, x, y))


@settings(max_examples=5)
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(2, 12),
    channels=st.integers(1, 4),
    chunk=st.integers(1, 6),
)
def test_cnn_exact_and_diag_match_oracle(seed, batch, channels, chunk):
    model = make_cnn(seed, channels, 4)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, 7, 7, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (batch,), generator=gen)
    assert_stats_match(
        gradient_stats(model, ce_loss, x, y, mode="exact", chunk_size=chunk), oracle(model, ce_loss, x, y)
    )
    assert_stats_match(
        gradient_stats(model, ce_loss, x, y, mode="diag", chunk_size=chunk),
        oracle(model, ce_loss, x, y, diag=True),
    )


@settings(max_examples=4)
@given(
    seed=st.integers(0, 2**31 - 1), batch=st.integers(2, 8), mode=st.sampled_from(["exact", "diag", "full"])
)
def test_lstm_stats_match_oracle(seed, batch, mode):
    """LSTMs have no forward-mode AD on CPU: the exact route falls back to reverse-over-reverse."""
    torch.manual_seed(seed)
    model = TinyLSTM().double()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 7, (batch, 5), generator=gen)
    y = torch.randint(0, 3, (batch,), generator=gen)
    acc = GradStatsAccumulator(model, ce_loss, mode=mode)
    assert acc.route == "generic"
    acc.add(x[: batch // 2 + 1], y[: batch // 2 + 1])
    if batch // 2 + 1 < batch:
        acc.add(x[batch // 2 + 1 :], y[batch // 2 + 1 :])
    assert_stats_match(acc.stats(), oracle(model, ce_loss, x, y, diag=mode == "diag"))


def test_sequence_linear_layer_uses_closed_form_diag():
    """A Linear layer applied to a sequence (n, T, d) sums its per-position gradients per sample."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Flatten(), nn.Linear(20, 2)).double()
    x = torch.randn(9, 4, 3, dtype=torch.float64)
    y = torch.randn(9, dtype=torch.float64)

    def loss(out, t):
        return (out[:, 0] - t).pow(2) + out[:, 1].pow(2)

    for mode in ("exact", "diag"):
        assert_stats_match(
            gradient_stats(model, loss, x, y, mode=mode, chunk_size=4),
            oracle(model, loss, x, y, mode == "diag"),
        )


def test_generic_route_agrees_with_layer_route():
    model = make_mlp(3, 4, 6, 3, 1)
    x = torch.randn(16, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (16,))
    layer = GradStatsAccumulator(model, ce_loss, route="layers")
    generic = GradStatsAccumulator(model, ce_loss, route="generic")
    for acc in (layer, generic):
        acc.add(x[:5], y[:5])
        acc.add(x[5:], y[5:])
    torch.testing.assert_close(layer.directional(), generic.directional(), rtol=1e-10, atol=1e-12)


def test_directional_mean_is_grad_sq_norm():
    """mean_j f^T g_j = f^T f exactly: the centring of eq. 4 is the sample mean of d."""
    model = make_mlp(1, 5, 7, 3, 2)
    x = torch.randn(20, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (20,))
    s = gradient_stats(model, ce_loss, x, y)
    assert math.isclose(float(s.directional.mean()), s.grad_sq_norm, rel_tol=1e-10)


def test_per_sample_backward_matches_oracle():
    model = make_mlp(2, 3, 4, 2, 1)
    x = torch.randn(10, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (10,))
    assert_stats_match(
        per_sample_backward_stats(model, ce_loss, x, y, diag=True), oracle(model, ce_loss, x, y, diag=True)
    )
    assert_stats_match(
        per_sample_backward_stats(model, ce_loss, x, y, diag=False), oracle(model, ce_loss, x, y)
    )


def test_write_grad_gives_batch_mean_gradient_and_leaves_params():
    model = make_mlp(4, 3, 5, 2, 1)
    x = torch.randn(12, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (12,))
    before = [p.detach().clone() for p in model.parameters()]
    acc = GradStatsAccumulator(model, ce_loss)
    acc.add(x[:7], y[:7])
    acc.add(x[7:], y[7:])
    acc.write_grad()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    ce_loss(model(x), y).mean().backward()
    for g, p, b in zip(got, model.parameters(), before):
        torch.testing.assert_close(g, p.grad, rtol=1e-12, atol=1e-14)
        assert torch.equal(p.detach(), b)
    assert acc.forwards == 2 and acc.backwards == 2


def test_regression_loss_and_float32_tolerance():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    x = torch.randn(64, 4)
    y = torch.randn(64)
    ours = gradient_stats(model, mse_loss, x, y, chunk_size=16)
    ref = oracle(model.double(), mse_loss, x.double(), y.double())
    assert math.isclose(ours.sigma2, ref.sigma2, rel_tol=1e-4)


def test_batchnorm_in_training_mode_is_refused():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="BatchNorm in training mode"):
        GradStatsAccumulator(model, ce_loss)
    model.eval()
    GradStatsAccumulator(model, ce_loss)  # running statistics: per-sample gradients are defined


def test_bad_inputs_raise_one_clear_error():
    model = make_mlp(0, 2, 3, 2, 1)
    with pytest.raises(ValueError, match="Invalid stat mode: 'cov'"):
        GradStatsAccumulator(model, ce_loss, mode="cov")
    acc = GradStatsAccumulator(model, ce_loss)
    acc.add(torch.randn(1, 2, dtype=torch.float64), torch.tensor([1]))
    with pytest.raises(ValueError, match="expected at least 2"):
        acc.stats()
    with pytest.raises(ValueError, match="per-sample losses"):
        GradStatsAccumulator(model, lambda o, t: F.cross_entropy(o, t)).add(
            torch.randn(3, 2, dtype=torch.float64), torch.tensor([0, 1, 0])
        )
    with pytest.raises(ValueError, match="directional derivatives need mode"):
        GradStatsAccumulator(model, ce_loss, mode="diag").directional()


def test_stored_inputs_do_not_pin_the_whole_batch():
    """BA adds the newest rows of a batch re-concatenated every round: keeping views would pin every round's
    batch (memory quadratic in the batch size, an out-of-memory error at Fashion-MNIST scale)."""
    model = make_mlp(0, 4, 5, 2, 1)
    big = torch.randn(1000, 4, dtype=torch.float64)
    labels = torch.randint(0, 2, (1000,))
    acc = GradStatsAccumulator(model, ce_loss)
    acc.add(big[990:], labels[990:])
    stored = [t for pairs in acc._layer_records.values() for pair in pairs for t in pair]
    assert stored
    assert max(t.untyped_storage().nbytes() for t in stored) <= 10 * 5 * 8

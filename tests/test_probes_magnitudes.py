"""Per-layer gradient magnitudes and strides (realnets.probes.magnitudes) against per-sample oracles.

Oracles: one backward pass per sample (not the vmap route the probe uses) in float64; the half-normal law on
a linear-regression problem whose full-batch gradient is exactly zero (the paper's mu = 0 assumption).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from realnets.probes.magnitudes import (
    StrideProbe,
    mean_abs_gradient_sweep,
    per_sample_moments,
    weighted_loglog_fit,
)


def _ce(out, y):
    return F.cross_entropy(out, y, reduction="none")


def _se(out, y):
    return (out - y.reshape(out.shape)).pow(2).reshape(out.shape[0], -1).mean(1)


def _mlp(seed: int, n: int = 40, d: int = 5, classes: int = 3):
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(d, 7), nn.Tanh(), nn.Linear(7, classes)).double()
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=gen)
    return model, x, y


def _loop_grads(model, loss_fn, x, y):
    names = [name for name, _ in model.named_parameters()]
    rows = [
        torch.autograd.grad(loss_fn(model(x[i : i + 1]), y[i : i + 1]).sum(), list(model.parameters()))
        for i in range(len(x))
    ]
    return {name: torch.stack([r[k] for r in rows]) for k, name in enumerate(names)}


def _regression_at_optimum(n: int, d: int, seed: int):
    """A linear model at the least-squares solution of its own data: the full-batch gradient is zero."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = x @ torch.randn(d, 1, generator=gen, dtype=torch.float64) + torch.randn(
        n, 1, generator=gen, dtype=torch.float64
    )
    design = torch.cat([x, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    solution = torch.linalg.lstsq(design, y).solution
    model = nn.Linear(d, 1).double()
    with torch.no_grad():
        model.weight.copy_(solution[:d].t())
        model.bias.copy_(solution[d])
    return model, x, y


def test_per_sample_moments_match_the_backward_loop_oracle():
    model, x, y = _mlp(0)
    mean, std = per_sample_moments(model, _ce, x, y, chunk_size=7)
    oracle = _loop_grads(model, _ce, x, y)
    for name, g in oracle.items():
        torch.testing.assert_close(mean[name], g.mean(0), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(std[name], g.std(0, unbiased=False), rtol=1e-9, atol=1e-12)


def test_sweep_mean_abs_is_the_batch_gradient_mean():
    model, x, y = _mlp(1)
    result = mean_abs_gradient_sweep(
        model, _ce, x, y, [4, 40], batches_per_size=3, generator=torch.Generator().manual_seed(5)
    )
    # n = N without replacement: every batch is the whole set, so the mean |g| is the full gradient's, and
    # the spread over batches is zero (up to the order of summation).
    oracle = _loop_grads(model, _ce, x, y)
    for name, g in oracle.items():
        assert result.mean_abs[name][1] == pytest.approx(float(g.mean(0).abs().mean()), rel=1e-10)
        assert result.stderr[name][1] < 1e-12
        assert result.predicted[name][1] == 0.0  # the finite-population factor (N - n)/(N - 1) is zero


def test_half_normal_law_slope_and_sqrt2_with_replacement():
    model, x, y = _regression_at_optimum(4000, 4, seed=2)
    sizes = [8, 16, 32, 64, 128, 256]
    result = mean_abs_gradient_sweep(
        model,
        _se,
        x,
        y,
        sizes,
        batches_per_size=64,
        generator=torch.Generator().manual_seed(3),
        replacement=True,
    )
    for name in ("weight", "bias"):
        fit = result.fit[name]
        assert abs(fit.slope + 0.5) < 3 * fit.slope_se, (name, fit)
        for i, _ in enumerate(sizes):
            measured, se = result.mean_abs[name][i], result.stderr[name][i]
            # the zero-mean Gaussian prediction sqrt(2/pi) sigma / sqrt(n) holds within the standard error
            # (plus 2% for the non-Gaussian per-sample gradients at n = 8)...
            assert abs(measured - result.predicted[name][i]) < 4 * se + 0.02 * measured
            # ...and seed 001's eq. 4, 2 sigma / sqrt(pi n), is sqrt(2) too large
            assert result.paper_predicted[name][i] / result.predicted[name][i] == pytest.approx(math.sqrt(2))
            assert (
                abs(measured * math.sqrt(2) / result.paper_predicted[name][i] - 1) < 4 * se / measured + 0.02
            )


def test_finite_population_factor_without_replacement():
    model, x, y = _regression_at_optimum(400, 3, seed=4)
    result = mean_abs_gradient_sweep(
        model, _se, x, y, [200, 300], batches_per_size=200, generator=torch.Generator().manual_seed(6)
    )
    for i, n in enumerate([200, 300]):
        measured, se = result.mean_abs["weight"][i], result.stderr["weight"][i]
        with_factor = result.predicted["weight"][i]
        without = with_factor / math.sqrt((400 - n) / 399)
        assert abs(measured - with_factor) < 4 * se + 0.02 * measured
        assert abs(measured - without) > 6 * se  # the factor (sqrt(1/2), sqrt(1/4)) is needed


def test_folded_prediction_follows_a_nonzero_mean_gradient():
    model, x, y = _mlp(7, n=400)
    result = mean_abs_gradient_sweep(
        model, _ce, x, y, [16, 128], batches_per_size=64, generator=torch.Generator().manual_seed(8)
    )
    for name in result.mean_abs:
        for i in range(2):
            measured, se = result.mean_abs[name][i], result.stderr[name][i]
            assert abs(measured - result.predicted_folded[name][i]) < 4 * se + 0.05 * measured


def test_weighted_loglog_fit_recovers_a_power_law():
    n = [8.0, 16.0, 64.0, 256.0]
    fit = weighted_loglog_fit(n, [3.0 * v**-0.5 for v in n], [0.01] * 4)
    assert fit.slope == pytest.approx(-0.5, abs=1e-9)
    assert math.exp(fit.intercept) == pytest.approx(3.0, rel=1e-9)
    # noisy points: the slope lies within 3 standard errors of the truth
    gen = torch.Generator().manual_seed(0)
    y = [3.0 * v**-0.5 * (1 + 0.02 * float(torch.randn(1, generator=gen))) for v in n]
    noisy = weighted_loglog_fit(n, y, [0.02 * v for v in y])
    assert abs(noisy.slope + 0.5) < 3 * noisy.slope_se
    with pytest.raises(ValueError, match="Invalid fit data"):
        weighted_loglog_fit([1.0], [1.0], [0.1])


def test_sweep_rejects_bad_input():
    model, x, y = _mlp(0)
    with pytest.raises(ValueError, match="Invalid batch size: 41"):
        mean_abs_gradient_sweep(model, _ce, x, y, [41])
    with pytest.raises(ValueError, match="Invalid batches_per_size"):
        mean_abs_gradient_sweep(model, _ce, x, y, [4], batches_per_size=1)
    with pytest.raises(ValueError, match="Invalid batch_sizes"):
        mean_abs_gradient_sweep(model, _ce, x, y, [])


def test_stride_probe_on_a_plain_sgd_step():
    model, x, y = _mlp(3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = _ce(model(x), y).mean()
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    probe = StrideProbe()
    probe.before(model)
    optimizer.step()
    with torch.no_grad():
        loss_after = float(_ce(model(x), y).mean())
    out = probe.after(model, float(loss.detach()), loss_after, 0.1)
    for name, g in grads.items():
        # plain SGD: |dw| / lr = |g| (seed 001, eq. 5-6)
        assert out[f"param_stride/{name}"] == pytest.approx(float(g.abs().mean()), rel=1e-9)
        ratio = (weights[name] / g).abs().reshape(-1)
        assert out[f"radius_median/{name}"] == pytest.approx(float(ratio.median()), rel=1e-12)
        assert out[f"radius_mean/{name}"] == pytest.approx(float(ratio.mean()), rel=1e-12)
    total = sum(float(g.abs().sum()) for g in grads.values()) / sum(g.numel() for g in grads.values())
    assert out["param_stride"] == pytest.approx(total, rel=1e-9)
    assert out["loss_stride"] == pytest.approx((float(loss.detach()) - loss_after) / 0.1)
    assert out["loss_stride"] > 0  # a small step down the gradient lowers the loss
    with pytest.raises(RuntimeError, match="without StrideProbe.before"):
        probe.after(model, 1.0, 0.5, 0.1)
    probe.before(model)
    with pytest.raises(ValueError, match="Invalid lr"):
        probe.after(model, 1.0, 0.5, -1.0)


def test_stride_probe_hessian_radius_matches_the_torch_func_hessian_oracle():
    from torch.func import functional_call, hessian

    from realnets.probes.hessian import hessian_diagonal

    model, x, y = _mlp(5)
    names = [name for name, _ in model.named_parameters()]
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_of(name, value):
        return _ce(functional_call(model, {**params, name: value}, (x,)), y).mean()

    exact = {}
    for name in names:  # oracle: the full Hessian of each parameter tensor, its diagonal
        h = hessian(lambda v, n=name: loss_of(n, v))(params[name])
        exact[name] = torch.diagonal(h.reshape(params[name].numel(), -1)).reshape(params[name].shape)
    diag = hessian_diagonal(model, lambda o, t: _ce(o, t), x, y, exact=True)
    ours = dict(zip(diag.names, diag.values))
    for name in names:
        assert torch.allclose(ours[name], exact[name], atol=1e-5, rtol=1e-4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _ce(model(x), y).mean().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    probe = StrideProbe()
    probe.before(model, hessian_diagonal=ours)
    optimizer.step()
    out = probe.after(model, 1.0, 0.9, 0.1)
    for name in names:
        curv = exact[name].abs().reshape(-1)
        keep = curv > 0
        radius = (1 + grads[name].reshape(-1)[keep] ** 2) ** 1.5 / curv[keep]
        assert out[f"radius_hessian_median/{name}"] == pytest.approx(float(radius.median()), rel=1e-3)
    probe.before(model)  # without a diagonal: no Hessian radius
    assert not any(k.startswith("radius_hessian") for k in probe.after(model, 1.0, 0.9, 0.1))


def test_stride_probe_radius_every_skips_the_radii_but_not_the_strides():
    model, x, y = _mlp(4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    probe = StrideProbe(radius_every=2)
    seen = []
    for _ in range(4):
        optimizer.zero_grad()
        _ce(model(x), y).mean().backward()
        g = {name: p.grad.clone() for name, p in model.named_parameters()}
        probe.before(model)
        optimizer.step()
        out = probe.after(model, 1.0, 0.9, 0.1)
        for name in g:
            assert out[f"param_stride/{name}"] == pytest.approx(float(g[name].abs().mean()), rel=1e-6)
        seen.append(any(k.startswith("radius_median/") for k in out))
    assert seen == [True, False, True, False]
    with pytest.raises(ValueError, match="Invalid radius_every"):
        StrideProbe(radius_every=-1)


def test_stride_probe_opt_in_logs_per_update_strides_in_a_real_run(tmp_path):
    import json

    from realnets.config import make_config
    from realnets.engine import train

    def run(name, probe):
        config = make_config(
            {
                "algo": "sgd",
                "budget_epochs": 0.2,
                "progress": False,
                "device": "cpu",
                "model": "mlp",
                "model_options": {"width": 8},
                "dataset": "digits",
                "hp": {"lr": 0.05, "batch_size": 32},
                "stride_probe": probe,
                "out_dir": str(tmp_path / name),
            }
        )
        train(config, plots=False)
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if r.get("kind") == "step"]

    steps = run("probe", 3)
    assert all("param_stride/1.weight" in r and r["param_stride/1.weight"] > 0 for r in steps)
    assert [("radius_median/1.weight" in r) for r in steps[:6]] == [True, False, False] * 2
    plain = run("plain", 0)
    assert not any(k.startswith("param_stride") for r in plain for k in r)
    assert [r["loss"] for r in plain] == [r["loss"] for r in steps]  # the probe does not change training


def _sgd_run(model, x, y, optimizer, probe, steps, *, use_optimizer=True, seed=0):
    """``steps`` updates on random half-batches; per update the probe's values (read at once) and the oracle
    ``|dw| / lr`` per layer from the weights before and after in float64."""
    gen = torch.Generator().manual_seed(seed)
    lr = optimizer.param_groups[0]["lr"]
    outs, oracles = [], []
    for _ in range(steps):
        idx = torch.randperm(len(x), generator=gen)[: len(x) // 2]
        optimizer.zero_grad()
        _ce(model(x[idx]), y[idx]).mean().backward()
        before = {name: p.detach().clone() for name, p in model.named_parameters()}
        probe.before(model, optimizer=optimizer if use_optimizer else None)
        optimizer.step()
        outs.append(probe.after(model, 1.0, None, lr))
        oracles.append(
            {
                name: float((p.detach() - before[name]).abs().mean()) / lr
                for name, p in model.named_parameters()
            }
        )
    return outs, oracles


@pytest.mark.parametrize(
    "options, mode",
    [
        ({}, "grad"),
        ({"momentum": 0.9}, "buffer"),
        ({"momentum": 0.9, "weight_decay": 0.01, "dampening": 0.3}, "buffer"),
        ({"momentum": 0.9, "nesterov": True}, "difference"),
        ({"weight_decay": 0.01}, "difference"),
    ],
)
def test_stride_probe_reads_sgd_moves_from_the_direction_and_matches_the_weight_difference(options, mode):
    model, x, y = _mlp(6)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, **options)
    probe = StrideProbe(radius_every=0)
    outs, oracles = _sgd_run(model, x, y, optimizer, probe, 4)
    assert probe._mode == mode
    for out, oracle in zip(outs, oracles):
        for name, value in oracle.items():  # float64 model: the weight difference rounds at ~1e-16 |w|
            assert out[f"param_stride/{name}"] == pytest.approx(value, rel=1e-9)
        total = sum(oracle[n] * p.numel() for n, p in model.named_parameters())
        assert out["param_stride"] == pytest.approx(
            total / sum(p.numel() for p in model.parameters()), rel=1e-9
        )
        assert not any(k.startswith("radius") for k in out)


def test_stride_probe_direction_route_scales_each_group_by_its_learning_rate():
    model, x, y = _mlp(7)
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.05}, {"params": model[2].parameters()}],
        lr=0.1,
        momentum=0.5,
    )
    outs, oracles = _sgd_run(model, x, y, optimizer, StrideProbe(radius_every=0), 3)
    for out, oracle in zip(outs, oracles):  # |dw| / lr with lr = 0.05 (the first group's) for every layer
        for name, value in oracle.items():
            assert out[f"param_stride/{name}"] == pytest.approx(value, rel=1e-9)
    assert outs[0]["param_stride/0.weight"] > 0


def test_stride_probe_falls_back_to_the_difference_for_other_optimizers_and_missing_gradients():
    model, x, y = _mlp(8)
    adam = torch.optim.Adam(model.parameters(), lr=0.01)
    probe = StrideProbe(radius_every=0)
    outs, oracles = _sgd_run(model, x, y, adam, probe, 2)
    assert probe._mode == "difference"
    for out, oracle in zip(outs, oracles):
        for name, value in oracle.items():
            assert out[f"param_stride/{name}"] == pytest.approx(value, rel=1e-9)
    # a parameter without a gradient: torch's SGD leaves it (and its momentum buffer) alone
    model, x, y = _mlp(9)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    outs, _ = _sgd_run(model, x, y, sgd, probe, 2)
    sgd.zero_grad()
    _ce(model(x), y).mean().backward()
    model[2].bias.grad = None
    probe.before(model, optimizer=sgd)
    assert probe._mode == "difference"
    sgd.step()
    out = probe.after(model, 1.0, None, 0.1)
    assert out["param_stride/2.bias"] == 0.0 and out["param_stride/2.weight"] > 0


def test_stride_probe_float32_direction_agrees_with_the_rounded_weight_difference():
    model, x, y = _mlp(10)
    model = model.float()
    x = x.float()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    outs, oracles = _sgd_run(model, x, y, optimizer, StrideProbe(radius_every=0), 3)
    for out, oracle in zip(outs, oracles):
        for name, value in oracle.items():  # float32 weights round each move by ~6e-8 |w|
            assert out[f"param_stride/{name}"] == pytest.approx(value, rel=1e-3)


def test_stride_readings_stay_on_the_device_and_read_back_together_across_blocks():
    from realnets.probes.magnitudes import StrideReading

    model, x, y = _mlp(11)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    probe = StrideProbe(radius_every=30)
    readings, expected = [], []
    for step in range(70):  # more than one block of 64 rows of chunk sums
        optimizer.zero_grad()
        _ce(model(x), y).mean().backward()
        grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
        weights = {name: p.detach().clone() for name, p in model.named_parameters()}
        probe.before(model, optimizer=optimizer)
        optimizer.step()
        readings.append(probe.after_deferred(model, 0.1))
        expected.append((grads, weights, step % 30 == 0))
    values = StrideReading.read_all(readings)
    assert values[5] == readings[5].to_dict()
    for out, (grads, weights, due) in zip(values, expected):
        for name, g in grads.items():
            assert out[f"param_stride/{name}"] == pytest.approx(float(g.abs().mean()), rel=1e-9)
            assert (f"radius_median/{name}" in out) == due
            if due:
                ratio = (weights[name] / g).abs().reshape(-1)
                assert out[f"radius_median/{name}"] == pytest.approx(float(ratio.median()), rel=1e-12)
    keys = list(values[0])  # each layer's stride then its radii, the whole-network stride last
    layer = ["param_stride/0.weight", "radius_median/0.weight", "radius_mean/0.weight"]
    assert keys[:4] == [*layer, "radius_of_medians/0.weight"]
    assert keys[-1] == "param_stride"


def test_stride_probe_radii_leave_out_zero_gradients_and_follow_a_replaced_parameter():
    model, x, y = _mlp(12)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    _ce(model(x), y).mean().backward()
    model[0].weight.grad[:, :2] = 0.0  # exact zeros: eq. 17 is undefined there
    model[0].bias.grad.zero_()  # a layer with no defined radius at all
    w, g = model[0].weight.detach().clone(), model[0].weight.grad.clone()
    probe = StrideProbe()
    probe.before(model, optimizer=optimizer)
    optimizer.step()
    out = probe.after(model, 1.0, None, 0.1)
    keep = g.reshape(-1) != 0
    ratio = (w.reshape(-1)[keep] / g.reshape(-1)[keep]).abs()
    assert out["radius_median/0.weight"] == pytest.approx(float(ratio.median()), rel=1e-12)
    assert out["radius_mean/0.weight"] == pytest.approx(float(ratio.mean()), rel=1e-12)
    assert out["radius_median/0.bias"] == math.inf and out["radius_of_medians/0.bias"] == math.inf
    assert out["param_stride/0.bias"] == 0.0
    # a replaced parameter: the probe measures the new one
    model[2].weight = nn.Parameter(torch.zeros_like(model[2].weight))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    outs, oracles = _sgd_run(model, x, y, optimizer, probe, 1)
    for name, value in oracles[0].items():
        assert outs[0][f"param_stride/{name}"] == pytest.approx(value, rel=1e-9)


def test_stride_probe_on_a_half_precision_model_sums_in_float32():
    model = nn.Linear(3, 2).half()
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.25, momentum=0.9)
    probe = StrideProbe(radius_every=0)
    probe.before(model, optimizer=optimizer)
    optimizer.step()
    out = probe.after(model, 1.0, None, 0.25)
    assert probe._layout.flat.dtype == torch.float32 and probe._mode == "buffer"
    assert out == {"param_stride/weight": 0.5, "param_stride/bias": 0.5, "param_stride": 0.5}

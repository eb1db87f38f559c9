"""Checks of the model that BA-SGD / BA-Momentum assume (seed 000, eq. 3, 7, 13-16, appendices B and C).

* :func:`loss_decrease_distribution` (appendix B): at a fixed point of training, the change of the
  full-data objective over many random batches of a fixed size, against the Gaussian the rule assumes,
  :math:`\\Delta F \\sim \\mathcal N(-\\eta\\hat f^\\top\\mu_{\\mathcal P}, \\eta^2\\hat f^\\top\\hat\\Sigma\\hat f/m)`.
  The prediction is given three ways: with :math:`\\sigma^2` from eq. 4 (exact), with the diagonal
  approximation, and with the original code's extra division by the accumulated count :math:`m_\\alpha`.
* :func:`ba_trace` (eq. 7 and appendix C): a BA run driven by the policy and the statistic of
  :mod:`realnets.algorithms.ba`, recording at every update the predicted :math:`\\mathbb E_m[s_{t+1}]`, the
  realised losses after the update, and :math:`\\sigma^2` and :math:`m^*` from both the exact and the
  diagonal covariance on the same batch.
* :func:`plot_decrease_distribution` and :func:`plot_trace` write the figures;
  :func:`write_diagnostics` runs both experiments on a registered dataset and model and writes the figures
  and a JSON summary to a folder (``python -m realnets.ba_diagnostics OUT_DIR`` does it for the digits).

Everything returns plain dicts of floats and lists (JSON-ready); numbers are in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from realnets.algorithms.ba import expected_next_state, optimal_batch_size
from realnets.engine import EpochSampler, TrainStep
from realnets.probes.gradstats import GradStatsAccumulator
from realnets.registry import get_algorithm

__all__ = [
    "ba_trace",
    "full_loss",
    "loss_decrease_distribution",
    "plot_decrease_distribution",
    "plot_trace",
    "write_diagnostics",
]

LossFn = Callable[[Tensor, Tensor], Tensor]


@torch.no_grad()
def full_loss(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    params: Mapping[str, Tensor] | None = None,
    chunk: int = 4096,
) -> float:
    """:math:`F(\\theta) = \\frac1N\\sum_j \\ell_j(\\theta)` over all of ``(x, y)`` in float64, optionally at ``params``."""
    from torch.func import functional_call

    total = 0.0
    for start in range(0, x.shape[0], chunk):
        xb, yb = x[start : start + chunk], y[start : start + chunk]
        out = model(xb) if params is None else functional_call(model, dict(params), (xb,))
        total += float(loss_fn(out, yb).double().sum())
    return total / x.shape[0]


def _flat(tensors: list[Tensor]) -> Tensor:
    return torch.cat([t.reshape(-1).double() for t in tensors])


def _check_positive_int(name: str, value: Any, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= {low})")
    return value


def loss_decrease_distribution(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    *,
    lr: float,
    batch_size: int = 100,
    repeats: int = 500,
    seed: int = 0,
    buffer: list[Tensor] | None = None,
    rho: float = 0.0,
    report: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Appendix B of seed 000: the decrease of the full objective over ``repeats`` random batches.

    For each of ``repeats`` batches :math:`\\mathcal Y` of ``batch_size`` samples (without replacement within
    a batch, batches independent), the update :math:`\\theta' = \\theta - \\eta(\\rho\\,\\mathrm{buf} + \\hat f_{\\mathcal Y})`
    is applied to a copy of the parameters and :math:`\\Delta F = F(\\theta') - F(\\theta)` is measured on all of
    ``(x, y)``. The model is evaluated in its current mode (use a model without dropout or BatchNorm).

    Predictions (seed 000 eq. 3 and 13-16, the dice of Algorithm 1 line 9), per batch, of the mean
    :math:`-\\eta\\hat f^\\top(\\rho\\,\\mathrm{buf} + \\hat f)` and the standard deviation
    :math:`\\eta\\sqrt{\\sigma^2/m}`, with :math:`\\sigma^2` exact (eq. 4), diagonal, or divided once more by
    :math:`m_\\alpha = m` (the original code's extra division; ``code_diag``: both, the original code's
    default). Also the "population" prediction from the full-data gradient
    :math:`f` and the full-data :math:`f^\\top\\Sigma f` (with the finite-population factor
    :math:`(N-m)/(N-1)` of sampling without replacement).

    ``report(done, repeats)``, when given, is called after every batch (progress of a long measurement).

    Returns:
        dict with ``decreases`` (list), ``empirical_mean``, ``empirical_std``, the per-batch predictions
        (``predicted_mean``, ``predicted_std_exact``, ``predicted_std_diag``, ``predicted_std_code``,
        ``predicted_std_code_diag``: lists),
        their medians (``*_median``) and the population prediction (``population_mean``,
        ``population_std``), plus ``n``, ``batch_size``, ``lr``, ``rho``, ``seed``.
    """
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid lr: {lr!r} (expected a finite number > 0)")
    batch_size = _check_positive_int("batch_size", batch_size, 2)
    repeats = _check_positive_int("repeats", repeats, 2)
    n = x.shape[0]
    if batch_size > n:
        raise ValueError(f"Invalid batch_size: {batch_size} (expected <= the {n} samples)")
    named = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    base = {k: p.detach() for k, p in named}
    buf = [torch.zeros_like(p) for _, p in named] if buffer is None else [b.detach() for b in buffer]
    start = full_loss(model, loss_fn, x, y)
    exact = GradStatsAccumulator(model, loss_fn, mode="exact")
    diag = GradStatsAccumulator(model, loss_fn, mode="diag")
    generator = torch.Generator().manual_seed(seed)
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "decreases",
            "predicted_mean",
            "predicted_std_exact",
            "predicted_std_diag",
            "predicted_std_code",
            "predicted_std_code_diag",
        )
    }
    for done in range(1, repeats + 1):
        idx = torch.randperm(n, generator=generator)[:batch_size].to(x.device)
        exact.reset()
        diag.reset()
        exact.add(x[idx], y[idx])
        diag.add(x[idx], y[idx])
        f = exact.mean_grad()
        step = [rho * b + g for b, g in zip(buf, f)]
        moved = {k: base[k] - lr * s for (k, _), s in zip(named, step)}
        rows["decreases"].append(full_loss(model, loss_fn, x, y, moved) - start)
        s_exact, s_diag = exact.stats(), diag.stats()
        rows["predicted_mean"].append(-lr * float(_flat(f) @ _flat(step)))
        rows["predicted_std_exact"].append(lr * math.sqrt(s_exact.sigma2 / batch_size))
        rows["predicted_std_diag"].append(lr * math.sqrt(s_diag.sigma2 / batch_size))
        rows["predicted_std_code"].append(lr * math.sqrt(s_exact.sigma2 / batch_size / batch_size))
        rows["predicted_std_code_diag"].append(lr * math.sqrt(s_diag.sigma2 / batch_size / batch_size))
        if report is not None:
            report(done, repeats)
    result: dict[str, Any] = dict(rows)
    decreases = np.asarray(rows["decreases"])
    result.update(
        empirical_mean=float(decreases.mean()),
        empirical_std=float(decreases.std(ddof=1)),
        n=n,
        batch_size=batch_size,
        lr=lr,
        rho=rho,
        seed=seed,
        repeats=repeats,
    )
    for key in (
        "predicted_mean",
        "predicted_std_exact",
        "predicted_std_diag",
        "predicted_std_code",
        "predicted_std_code_diag",
    ):
        result[key + "_median"] = float(np.median(rows[key]))
    result.update(_population_prediction(model, loss_fn, x, y, buf, lr=lr, rho=rho, batch_size=batch_size))
    return result


def _population_prediction(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    buf: list[Tensor],
    *,
    lr: float,
    rho: float,
    batch_size: int,
) -> dict[str, float]:
    acc = GradStatsAccumulator(model, loss_fn, mode="exact")
    for start in range(0, x.shape[0], 1024):
        acc.add(x[start : start + 1024], y[start : start + 1024])
    stats = acc.stats()
    f = acc.mean_grad()
    n = x.shape[0]
    mean = -lr * float(_flat(f) @ _flat([rho * b + g for b, g in zip(buf, f)]))
    # variance of a without-replacement batch mean: sigma^2/m * (N - m)/(N - 1); sigma^2 here uses 1/(N - 1)
    std = lr * math.sqrt(stats.sigma2 / batch_size * (n - batch_size) / (n - 1))
    return {"population_mean": mean, "population_std": std}


# ----------------------------------------------------------------------------------------------- trace
def _diag_sigma2(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> float:
    acc = GradStatsAccumulator(model, loss_fn, mode="diag")
    acc.add(x, y)
    return acc.stats().sigma2


def ba_trace(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    *,
    algo: str = "ba-sgd",
    hp: Mapping[str, Any] | None = None,
    budget_samples: int,
    seed: int = 0,
    full_every: int = 1,
    report: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """A BA run (the policy and statistic of the engine, without the engine's files) with diagnostics.

    At every update ``t`` it records the batch size, :math:`s_t`, :math:`\\mu_t`, :math:`\\sigma_t^2` (the
    policy's mode, default exact) and :math:`m^*`; :math:`\\sigma^2_{\\text{diag}}` and the :math:`m^*` it would
    give on the same batch (appendix C); the prediction :math:`\\mathbb E_m[s_{t+1}]` of eq. 7 for the batch
    size used; the realised loss on the same batch after the update; and, every ``full_every`` updates,
    the full-data objective before and after the update.

    Args:
        model, loss_fn, x, y: the network (trained in place) and the training data.
        algo: ``"ba-sgd"`` or ``"ba-momentum"``.
        hp: hyperparameters of the algorithm (``lr``, ``m0``, ``stat`` ...).
        budget_samples: samples to consume.
        seed: the sampler's permutations (the model's initial weights are the caller's).
        full_every: evaluate the full objective every this many updates (0: never).
        report: called as ``report(samples drawn, budget_samples)`` after every update (progress).

    Returns:
        ``{"steps": [per-update dicts], "algo": ..., "hp": ..., "n_train": ...}``.
    """
    if algo not in ("ba-sgd", "ba-momentum"):
        raise ValueError(f"Invalid algo: {algo!r} (expected 'ba-sgd' or 'ba-momentum')")
    budget_samples = _check_positive_int("budget_samples", budget_samples)
    full_every = _check_positive_int("full_every", full_every, 0)
    policy, optimizer = get_algorithm(algo).build(model, dict(hp or {}))
    n = x.shape[0]
    steps: list[dict[str, Any]] = []
    pending: dict[str, Any] = {}

    def record_predictions(ctx, decision, state, stats) -> None:
        # the diagonal probe below leaves its own gradient: the update must use the policy's
        grads = [p.grad for p in _params(model)]
        batch = stats[policy.needs[0]]
        pending["record"] = _predictions(policy, state, batch, ctx.info, model, loss_fn, ctx.x, ctx.y)
        if full_every and len(steps) % full_every == 0:
            pending["record"]["full_before"] = full_loss(model, loss_fn, x, y)
        for p, g in zip(_params(model), grads):
            p.grad = g

    sampler = EpochSampler(n, seed, x.device)
    trainer = TrainStep(
        model,
        loss_fn,
        _mean_of(loss_fn),
        policy,
        optimizer,
        sampler,
        x,
        y,
        budget=budget_samples,
        seed=seed,
        on_decision=record_predictions,
    )
    while sampler.drawn < budget_samples:
        result = trainer.run()
        record = pending.pop("record")
        record["batch_after"] = full_loss(model, loss_fn, result.x, result.y)
        if "full_before" in record:
            record["full_after"] = full_loss(model, loss_fn, x, y)
        steps.append(record)
        if report is not None:
            report(sampler.drawn, budget_samples)
    return {"steps": steps, "algo": algo, "hp": dict(hp or {}), "n_train": n}


def _mean_of(loss_fn: LossFn) -> LossFn:
    def mean_loss(outputs: Tensor, targets: Tensor) -> Tensor:
        return loss_fn(outputs, targets).mean()

    return mean_loss


def _params(model: nn.Module) -> list[Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def _predictions(policy, state, batch, info, model, loss_fn, xb, yb) -> dict[str, Any]:
    m = int(xb.shape[0])
    record: dict[str, Any] = {
        "batch_size": m,
        "s_t": batch["loss"],
        "m_star": state["m_star"],
        "mu": state["mu"],
        "sigma2": state["sigma2"],
        "rounds": state["rounds"],
    }
    if batch["sigma2"] is None:
        return record
    lr, s_star = policy.lr, policy.s_star
    record["predicted_next"] = expected_next_state(
        m=m,
        s=batch["loss"],
        mu=state["mu"],
        sigma=math.sqrt(max(state["sigma2"], 0.0)),
        eta=lr,
        s_star=s_star,
    )
    record["predicted_std"] = lr * math.sqrt(max(state["sigma2"], 0.0) / m)
    sigma2_diag = _diag_sigma2(model, loss_fn, xb, yb)
    if policy.code_variance:
        sigma2_diag /= m
    record["sigma2_diag"] = sigma2_diag
    record["m_star_diag"] = optimal_batch_size(
        s=batch["loss"],
        mu=state["mu"],
        sigma=math.sqrt(max(sigma2_diag, 0.0)),
        eta=lr,
        s_star=s_star,
        m_max=policy.search_max or info.n_train,
        shortcut=policy.shortcut,
    )
    return record


# --------------------------------------------------------------------------------------------- figures
def plot_decrease_distribution(result: Mapping[str, Any], out: str | Path) -> Path:
    """Histogram of the measured decreases with the Gaussians of the predictions (seed 000, appendix B), with a
    title and a caption that says what the offset between the plug-in and the population curves is."""
    from realnets.plots import _pyplot, save_figure

    plt = _pyplot()

    raw = np.asarray(result["decreases"], dtype=float)
    # Plain tick labels: DeltaF in units of 10^k nats (k from the data), not matplotlib's offset texts.
    k = int(math.floor(math.log10(max(np.abs(raw).max(), 1e-300))))
    unit = 10.0**k
    decreases = raw / unit
    fig, ax = plt.subplots(figsize=(8, 5.6), constrained_layout=True)
    ax.hist(decreases, bins=40, density=True, alpha=0.5, label=f"measured ({len(decreases)} batches)")
    plug_in = result["predicted_mean_median"] / unit
    curves = (
        (
            r"population: full-data $f$ and $f^\top\Sigma f$",
            result["population_mean"] / unit,
            result["population_std"] / unit,
        ),
        (
            r"one-batch plug-in $\hat f$, exact $\sigma^2$ (eq. 4)",
            plug_in,
            result["predicted_std_exact_median"] / unit,
        ),
        (
            r"one-batch plug-in $\hat f$, diagonal $\sigma^2$",
            plug_in,
            result["predicted_std_diag_median"] / unit,
        ),
        (r"original code (diagonal, $/m_\alpha$)", plug_in, result["predicted_std_code_diag_median"] / unit),
    )
    low = min([decreases.min()] + [m - 3 * sd for _, m, sd in curves])
    high = max([decreases.max()] + [m + 3 * sd for _, m, sd in curves])
    grid = np.linspace(low, high, 800)
    for label, mean, std in curves:
        ax.plot(grid, np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi)), label=label)
    ax.set_ylim(0, 1.3 * np.histogram(decreases, bins=40, density=True)[0].max())
    scale = f"$10^{{{k}}}$ nats" if k else "nats"
    ax.set_xlabel(f"one-step change of the full loss $\\Delta F = F(\\theta') - F(\\theta)$ ({scale})")
    ax.set_ylabel(f"probability density (per {scale} of $\\Delta F$)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(
        f"Seed 000 appendix B: is $\\Delta F$ Gaussian as BA assumes?\n"
        f"{result.get('repeats', len(decreases))} random batches of $m$ = {result.get('batch_size', '?')} "
        f"at one point of training, $\\eta$ = {result.get('lr', float('nan')):g}",
        fontsize=10,
    )
    fig.text(0.01, 0.005, _appendix_b_caption(result), ha="left", va="bottom", fontsize=8, wrap=True)
    fig.get_layout_engine().set(rect=(0, 0.13, 1, 0.87))
    return save_figure(fig, out)


def _appendix_b_caption(result: Mapping[str, Any]) -> str:
    """What the figure shows, in numbers: the offset between the plug-in and the population means."""
    plug_in, population = result["predicted_mean_median"], result["population_mean"]
    measured, spread = result["empirical_mean"], result["empirical_std"]
    return (
        f"Offset: the plug-in curves are centred at $-\\eta\\,\\hat f^\\top\\hat f$ = {plug_in:.3g} (median over "
        f"batches), the population curve at $-\\eta\\,f^\\top f$ = {population:.3g}; measured mean {measured:.3g} "
        f"(std {spread:.3g}).\nThe offset {plug_in - population:.3g} is the batch's own noise: "
        f"$E\\|\\hat f\\|^2 = \\|f\\|^2 + \\mathrm{{tr}}\\,\\Sigma/m$, so the one-batch estimate of the mean "
        f"decrease is too large by about $\\eta\\,\\mathrm{{tr}}\\,\\Sigma/m$;\n"
        "the widths compare the estimated $\\sigma^2$ (exact, diagonal, the original code's) with the "
        "measured spread."
    )


def plot_trace(trace: Mapping[str, Any], out: str | Path) -> Path:
    """Along a BA run (seed 000, appendix C): the batch size with :math:`m^*` from the exact and the diagonal
    :math:`\\sigma^2`; :math:`\\sigma^2` exact against diagonal on the same batches; and eq. 7's predicted
    :math:`\\mathbb E_m[s_{t+1}]` against the realised loss on the same batch after the update."""
    from realnets.plots import _pyplot, save_figure

    plt = _pyplot()
    import matplotlib
    import matplotlib.ticker

    steps = [s for s in trace["steps"] if "predicted_next" in s]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    t = np.arange(1, len(steps) + 1)
    batch = [s["batch_size"] for s in steps]
    if len(batch) >= 2 and batch[-1] < batch[-2]:  # the budget's leftover samples: no decision of BA
        batch[-1] = batch[-2]
    left.plot(t, batch, lw=1.2, drawstyle="steps-post", label="batch size $m$ used")
    left.plot(t, [s["m_star"] for s in steps], lw=0.8, label=r"$m^*$ from exact $\sigma^2$ (eq. 4)")
    left.plot(t, [s["m_star_diag"] for s in steps], lw=0.8, ls="--", label=r"$m^*$ from diagonal $\sigma^2$")
    left.set_yscale("log", base=2)
    left.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    left.set_title("batch size and the Gaussian-walk optimum $m^*$")
    left.set_xlabel("update $t$")
    left.set_ylabel("samples")
    left.legend(fontsize=8)
    exact = np.asarray([s["sigma2"] for s in steps], dtype=float)
    diag = np.asarray([s["sigma2_diag"] for s in steps], dtype=float)
    middle.plot(t, exact, lw=0.9, label=r"exact $\sigma_t^2$ (eq. 4)")
    middle.plot(t, diag, lw=0.9, ls="--", label=r"diagonal $\sigma_t^2$")
    positive = np.concatenate([exact[exact > 0], diag[diag > 0]])
    if positive.size and positive.max() / positive.min() > 20:
        middle.set_yscale("log")
    ratio = np.median(diag[exact > 0] / exact[exact > 0]) if np.any(exact > 0) else float("nan")
    middle.set_title(f"$\\sigma^2$ exact against diagonal (median ratio diag/exact {ratio:.3g})")
    middle.set_xlabel("update $t$")
    middle.set_ylabel(r"$\sigma_t^2 = \hat f^\top\hat\Sigma\hat f$ (nats$^2/\eta^2$)")
    middle.legend(fontsize=8)
    right.scatter([s["predicted_next"] for s in steps], [s["batch_after"] for s in steps], s=6)
    low = min(min(s["batch_after"] for s in steps), min(s["predicted_next"] for s in steps))
    high = max(max(s["batch_after"] for s in steps), max(s["predicted_next"] for s in steps))
    right.plot([low, high], [low, high], color="k", lw=0.6, label="equality")
    right.set_title("eq. 7: predicted against realised next loss")
    right.set_xlabel(r"predicted $\mathbb{E}_m[s_{t+1}]$ (eq. 7, nats)")
    right.set_ylabel("loss on the same batch after the update (nats)")
    right.legend(fontsize=8)
    for ax in (left, middle, right):
        ax.grid(alpha=0.3)
    name = {"ba-sgd": "BA-SGD", "ba-momentum": "BA-Momentum"}.get(trace.get("algo"), trace.get("algo"))
    lr = (trace.get("hp") or {}).get("lr")
    fig.suptitle(
        f"Seed 000 appendix C: a {name} run traced"
        + (f" ($\\eta$ = {lr:g})" if isinstance(lr, (int, float)) else "")
        + f", {len(steps)} updates on {trace.get('n_train', '?')} training samples"
    )
    return save_figure(fig, out)


# ------------------------------------------------------------------------------------------ one command
def write_diagnostics(
    out_dir: str | Path,
    *,
    dataset: str = "digits",
    model: str = "mlp",
    algo: str = "ba-sgd",
    lr: float = 0.01,
    trace_lr: float = 0.3,
    epochs: float = 3.0,
    seed: int = 0,
    repeats: int = 500,
    data_dir: str | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Appendix B after 10 SGD steps (learning rate ``lr``), and a traced BA run (``trace_lr``), to ``out_dir``.

    Files: ``appendix_b.png``, ``trace.png`` and ``ba_diagnostics.json`` (every number of both experiments).
    ``progress``: a line on stderr every 10 seconds and at the end of each experiment.
    """
    import json

    from realnets.data import load_dataset
    from realnets.engine import per_sample_cross_entropy as loss_fn
    from realnets.models import build_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(dataset, data_dir=data_dir, seed=seed)
    x, y = ds.x_train, ds.y_train

    def fresh_model() -> nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return build_model(model, input_shape=tuple(ds.input_shape), num_outputs=ds.num_classes)

    net = fresh_model().eval()  # dropout off, so that the full objective is deterministic
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(10):  # the paper's fixed point: "after 10 iterations"
        idx = torch.randint(0, x.shape[0], (32,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(x[idx]), y[idx]).mean().backward()
        optimizer.step()
    appendix_b = loss_decrease_distribution(
        net, loss_fn, x, y, lr=lr, repeats=repeats, seed=seed, report=_reporter("appendix B: batch", progress)
    )
    trace = ba_trace(
        fresh_model(),
        loss_fn,
        x,
        y,
        algo=algo,
        hp={"lr": trace_lr},
        budget_samples=round(epochs * x.shape[0]),
        seed=seed,
        report=_reporter("trace: sample", progress),
    )
    paths = {
        "appendix_b": plot_decrease_distribution(appendix_b, out / "appendix_b.png"),
        "trace": plot_trace(trace, out / "trace.png"),
        "json": out / "ba_diagnostics.json",
    }
    summary = {
        "dataset": dataset,
        "model": model,
        "lr": lr,
        "trace_lr": trace_lr,
        "appendix_b": appendix_b,
        "trace": trace,
    }
    paths["json"].write_text(json.dumps(summary, indent=1, default=float) + "\n")
    return paths


def _reporter(what: str, enabled: bool, every_s: float = 10.0, clock=None):
    """``report(done, total)`` writing ``what done/total (pct), elapsed`` to stderr every ``every_s`` seconds
    and once at the end (None when not ``enabled``)."""
    import sys
    import time

    if not enabled:
        return None
    clock = clock or time.monotonic
    start = clock()
    last = [start]

    def report(done: int, total: int) -> None:
        now = clock()
        finished = done >= total
        if now - last[0] >= every_s or finished:
            last[0] = now
            print(
                f"{what} {done}/{total} ({100 * done / total:.0f}%), {now - start:.0f}s",
                file=sys.stderr,
                flush=True,
            )

    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m realnets.ba_diagnostics OUT_DIR``: seed 000 appendices B and C, figures and JSON in OUT_DIR."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m realnets.ba_diagnostics",
        description="Seed 000 appendix B (is the one-step loss decrease Gaussian, and does the estimated "
        "sigma match?) and appendix C (exact against diagonal sigma^2 and m* along a BA run).",
    )
    parser.add_argument("out_dir", help="folder for appendix_b.png, trace.png and ba_diagnostics.json")
    parser.add_argument("--dataset", default="digits", help="dataset name (default: digits)")
    parser.add_argument("--model", default="mlp", help="model name (default: mlp)")
    parser.add_argument(
        "--algo", default="ba-sgd", choices=("ba-sgd", "ba-momentum"), help="policy traced (default: ba-sgd)"
    )
    parser.add_argument("--lr", type=float, default=0.01, help="lr of the 10 warm-up steps (default: 0.01)")
    parser.add_argument("--trace-lr", type=float, default=0.3, help="lr of the traced BA run (default: 0.3)")
    parser.add_argument("--epochs", type=float, default=3.0, help="epochs of the traced run (default: 3)")
    parser.add_argument(
        "--repeats", type=int, default=500, help="random batches for appendix B (default: 500)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default: the data package's)")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    if out.exists() and not out.is_dir():
        parser.error(f"invalid out_dir: {out} (it is a file; expected a folder)")
    try:
        paths = write_diagnostics(
            out,
            dataset=args.dataset,
            model=args.model,
            algo=args.algo,
            lr=args.lr,
            trace_lr=args.trace_lr,
            epochs=args.epochs,
            seed=args.seed,
            repeats=args.repeats,
            data_dir=args.data_dir,
        )
    except ValueError as error:
        print(f"realnets.ba_diagnostics: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover - a convenience entry point
    raise SystemExit(main())

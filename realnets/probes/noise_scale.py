r"""Gradient noise scales of a real network (McCandlish et al. 2018, arXiv:1812.06162, sec. 2.2 and app. A).

With :math:`G` the full gradient, :math:`\Sigma` the per-sample gradient covariance and :math:`H` the Hessian,

.. math::

    B_\text{simple} = \frac{\operatorname{tr}\Sigma}{|G|^2} \quad\text{(eq. 2.8)}, \qquad
    B_\text{noise} = \frac{\operatorname{tr}(H\Sigma)}{G^\top H G} \quad\text{(eq. 2.7)}.

Exact estimators from the :math:`n` per-sample gradients :math:`g_j` of a batch: :math:`\hat G = \bar g`,
:math:`\operatorname{tr}\hat\Sigma = \frac{1}{n-1}\sum_j |g_j - \hat G|^2` and, since
:math:`E|\hat G|^2 = |G|^2 + \operatorname{tr}\Sigma / n`, the unbiased
:math:`\widehat{|G|^2} = |\hat G|^2 - \operatorname{tr}\hat\Sigma / n`; likewise
:math:`\widehat{G^\top H G} = \hat G^\top H \hat G - \operatorname{tr}(H\hat\Sigma)/n` with :math:`H` the
Hessian of the batch's mean loss (held fixed). The ratio of two unbiased estimates is itself only
consistent, not unbiased.

The two-batch estimator (app. A, eq. A.1-A.2) needs only batch gradients at two sizes:

.. math::

    |\mathcal G|^2 = \frac{B_\text{big}|G_{B_\text{big}}|^2 - B_\text{small}|G_{B_\text{small}}|^2}
    {B_\text{big} - B_\text{small}}, \qquad
    \mathcal S = \frac{|G_{B_\text{small}}|^2 - |G_{B_\text{big}}|^2}{1/B_\text{small} - 1/B_\text{big}},

unbiased for :math:`|G|^2` and :math:`\operatorname{tr}\Sigma` when the batches hold iid samples; McCandlish et al.
average each over many batches before taking :math:`B_\text{simple} = \bar{\mathcal S}/\overline{|\mathcal G|^2}`.

The Hessian-vector products use a small double-backward HVP of this module (:func:`hvp`, one gradient graph
for all products), not :class:`realnets.probes.hessian.HessianOperator`: that probe switches the model to
``eval()`` mode (the curvature convention of seed 003), while :math:`\operatorname{tr}(H\Sigma)` pairs the
Hessian with per-sample gradients taken in the model's own mode; :func:`hvp` keeps both in that mode (for a
model without BatchNorm or dropout the two agree, which ``tests/test_probes_noise_scale.py`` checks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["NoiseScale", "TwoBatchNoiseScale", "b_noise", "b_simple", "b_simple_two_batch", "hvp"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def _params(model: nn.Module) -> list[Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def _check_batch(x: Tensor, y: Tensor, least: int = 2) -> int:
    if x.shape[0] != y.shape[0] or x.shape[0] < least:
        raise ValueError(
            f"Invalid batch: {x.shape[0]} inputs and {y.shape[0]} targets "
            f"(expected the same number, at least {least})"
        )
    return int(x.shape[0])


def _flat_per_sample(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, chunk_size: int) -> Tensor:
    """Per-sample gradients ``(n, P)`` (``torch.func.vmap(grad)`` in chunks), in the model's dtype."""
    from realnets.probes.gradstats import per_sample_gradients

    names = [name for name, p in model.named_parameters() if p.requires_grad]
    rows = []
    for start in range(0, x.shape[0], chunk_size):
        g = per_sample_gradients(model, loss_fn, x[start : start + chunk_size], y[start : start + chunk_size])
        rows.append(torch.cat([g[n].detach().reshape(g[n].shape[0], -1) for n in names], dim=1))
    return torch.cat(rows)


def _flat_grad(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Tensor:
    with torch.enable_grad():
        loss = loss_fn(model(x), y).mean()
        grads = torch.autograd.grad(loss, _params(model))
    return torch.cat([g.detach().reshape(-1) for g in grads])


def _check_chunk(chunk_size: int) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"Invalid chunk_size: {chunk_size!r} (expected an integer >= 1)")
    return chunk_size


@dataclass(frozen=True)
class NoiseScale:
    r"""A noise scale and its parts: ``value = trace / norm_sq`` (``norm_sq`` the unbiased denominator;
    ``norm_sq_hat`` the plug-in one, biased up by ``trace / n``)."""

    value: float
    trace: float
    norm_sq: float
    norm_sq_hat: float
    n: int


def b_simple(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    *,
    chunk_size: int = 256,
    population: bool = False,
) -> NoiseScale:
    r""":math:`B_\text{simple} = \operatorname{tr}\hat\Sigma / (|\hat G|^2 - \operatorname{tr}\hat\Sigma/n)` from the exact
    per-sample gradients of ``(x, y)`` (McCandlish et al. 2018, eq. 2.8; float64 sums). A non-positive
    denominator (noise dominates the batch) gives ``value = inf``.

    ``population=True`` treats ``(x, y)`` as the whole population (e.g. the training set SGD samples from):
    :math:`\operatorname{tr}\Sigma = \frac1N\sum_j |g_j - \hat G|^2` and :math:`|G|^2 = |\hat G|^2`, the quantities that
    :func:`b_simple_two_batch` estimates. The default treats ``(x, y)`` as a sample of the data distribution
    and debiases; the two differ by :math:`\operatorname{tr}\Sigma/N` in the denominator.
    """
    n = _check_batch(x, y)
    chunk = _check_chunk(chunk_size)
    total = None
    sum_sq = 0.0
    for start in range(0, n, chunk):
        g = _flat_per_sample(
            model, loss_fn, x[start : start + chunk], y[start : start + chunk], chunk
        ).double()
        total = g.sum(0) if total is None else total + g.sum(0)
        sum_sq += float(g.pow(2).sum())
    mean = total / n
    norm_hat = float(mean @ mean)
    if population:
        trace, norm = max(0.0, sum_sq / n - norm_hat), norm_hat
    else:
        trace = max(0.0, (sum_sq - n * norm_hat) / (n - 1))
        norm = norm_hat - trace / n
    return NoiseScale(trace / norm if norm > 0 else math.inf, trace, norm, norm_hat, n)


@dataclass(frozen=True)
class TwoBatchNoiseScale:
    r"""McCandlish et al. app. A: per repeat :math:`|\mathcal G|^2` and :math:`\mathcal S`, their means with
    standard errors, and ``value`` :math:`= \bar{\mathcal S} / \overline{|\mathcal G|^2}`."""

    value: float
    trace: float
    trace_se: float
    norm_sq: float
    norm_sq_se: float
    b_small: int
    b_big: int
    repeats: int
    trace_samples: tuple[float, ...]
    norm_sq_samples: tuple[float, ...]


def _mean_se(values: Sequence[float]) -> tuple[float, float]:
    t = torch.tensor(list(values), dtype=torch.float64)
    return float(t.mean()), float(t.std(unbiased=True) / math.sqrt(t.numel())) if t.numel() > 1 else math.nan


def _draw(n: int, size: int, generator: torch.Generator, replacement: bool) -> Tensor:
    if replacement:
        return torch.randint(n, (size,), generator=generator)
    return torch.randperm(n, generator=generator)[:size]


def b_simple_two_batch(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    *,
    b_small: int,
    b_big: int,
    repeats: int = 16,
    generator: torch.Generator | None = None,
    replacement: bool = True,
) -> TwoBatchNoiseScale:
    r"""Two-batch :math:`B_\text{simple}` (McCandlish et al. 2018, app. A, eq. A.1-A.2) from ``repeats`` pairs of
    batches of ``b_small`` and ``b_big`` samples drawn from ``(x, y)`` with ``generator``.

    With ``replacement=True`` (the default) the samples are iid draws from the :math:`N` rows, and
    :math:`|\mathcal G|^2`, :math:`\mathcal S` are unbiased for the population :math:`|G|^2` and
    :math:`\operatorname{tr}\Sigma` (divisor :math:`N`). Without replacement
    :math:`E|G_B|^2 = |G|^2 + \frac{\operatorname{tr}\Sigma}{B}\frac{N-B}{N-1}`; the estimates are then corrected
    by that finite-population factor (:math:`\mathcal S \cdot (N-1)/N` and
    :math:`|\mathcal G|^2 + \operatorname{tr}\Sigma/(N-1)`), so both modes target the same quantities: those
    of ``b_simple(..., population=True)``.
    """
    n = _check_batch(x, y)
    for name, b in (("b_small", b_small), ("b_big", b_big)):
        if isinstance(b, bool) or not isinstance(b, int) or b < 1 or (not replacement and b > n):
            raise ValueError(
                f"Invalid {name}: {b!r} (expected an integer >= 1{'' if replacement else f' and <= N = {n}'})"
            )
    if b_big <= b_small:
        raise ValueError(f"Invalid b_big: {b_big} (expected > b_small = {b_small})")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
        raise ValueError(f"Invalid repeats: {repeats!r} (expected an integer >= 2)")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    traces, norms = [], []
    for _ in range(repeats):
        small = _flat_grad(model, loss_fn, *_index(x, y, _draw(n, b_small, gen, replacement))).double()
        big = _flat_grad(model, loss_fn, *_index(x, y, _draw(n, b_big, gen, replacement))).double()
        g_small, g_big = float(small @ small), float(big @ big)
        norm = (b_big * g_big - b_small * g_small) / (b_big - b_small)
        trace = (g_small - g_big) / (1 / b_small - 1 / b_big)
        if not replacement:
            trace *= (n - 1) / n
            norm += trace / (n - 1)
        traces.append(trace)
        norms.append(norm)
    trace_mean, trace_se = _mean_se(traces)
    norm_mean, norm_se = _mean_se(norms)
    value = trace_mean / norm_mean if norm_mean > 0 else math.inf
    return TwoBatchNoiseScale(
        value, trace_mean, trace_se, norm_mean, norm_se, b_small, b_big, repeats, tuple(traces), tuple(norms)
    )


def _index(x: Tensor, y: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
    idx = idx.to(x.device)
    return x[idx], y[idx]


def hvp(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, vectors: Tensor) -> Tensor:
    r""":math:`H v` for each row :math:`v` of ``vectors`` ``(k, P)``, :math:`H` the Hessian of the mean loss of
    ``(x, y)`` (double backward: :math:`Hv = \nabla_w (\nabla_w L \cdot v)`, one graph for all rows)."""
    params = _params(model)
    with torch.enable_grad():
        loss = loss_fn(model(x), y).mean()
        grads = torch.autograd.grad(loss, params, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in grads])
        rows = []
        for v in vectors:
            hv = torch.autograd.grad(flat @ v.to(flat.dtype), params, retain_graph=True, allow_unused=True)
            rows.append(
                torch.cat(
                    [(torch.zeros_like(p) if h is None else h).reshape(-1) for h, p in zip(hv, params)]
                ).detach()
            )
    return torch.stack(rows) if rows else vectors.new_zeros((0, flat.numel()))


def b_noise(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    *,
    max_samples: int | None = None,
    generator: torch.Generator | None = None,
    chunk_size: int = 256,
) -> NoiseScale:
    r""":math:`B_\text{noise} = \operatorname{tr}(H\Sigma) / G^\top H G` (McCandlish et al. 2018, eq. 2.7).

    :math:`\operatorname{tr}(H\hat\Sigma) = \frac{1}{n-1}\sum_j (g_j-\hat G)^\top H (g_j-\hat G)` from one HVP per
    sample (:func:`hvp`); with ``max_samples`` only that many deviations, chosen with ``generator``, enter the
    sum (an unbiased Monte-Carlo estimate of the trace, a cheaper route for large batches). The denominator
    is the unbiased :math:`\hat G^\top H\hat G - \operatorname{tr}(H\hat\Sigma)/n`; a non-positive one (negative
    curvature along G, or noise) gives ``value = inf``. :math:`H` is the Hessian of the batch's mean loss.
    """
    n = _check_batch(x, y)
    chunk = _check_chunk(chunk_size)
    if max_samples is not None and (
        isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1
    ):
        raise ValueError(f"Invalid max_samples: {max_samples!r} (expected an integer >= 1 or None)")
    per_sample = _flat_per_sample(model, loss_fn, x, y, chunk)
    mean = per_sample.mean(0)
    deviations = per_sample - mean
    if max_samples is not None and max_samples < n:
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        deviations = deviations[torch.randperm(n, generator=gen)[:max_samples].to(deviations.device)]
    vectors = torch.cat([mean[None], deviations])
    products = hvp(model, loss_fn, x, y, vectors).double()
    quad = (products * vectors.double()).sum(1)
    g_h_g = float(quad[0])
    trace = float(quad[1:].sum()) * (n / deviations.shape[0]) / (n - 1)
    norm = g_h_g - trace / n
    return NoiseScale(trace / norm if norm > 0 else math.inf, trace, norm, g_h_g, n)

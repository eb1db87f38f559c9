r"""Seed 002's linear-approximation error of one linear-scaling-rule step (Golmant et al., sec. 4.2, fig. 2 right).

At parameters :math:`w^*` (the end of training) one SGD step of the linear scaling rule with batch size
:math:`m` goes to :math:`w = w^* - \eta\,\frac{m}{m_0}\,g_m(w^*)`. The first-order model of the loss there is
:math:`\hat L(w) = L(w^*) + \langle g_m(w^*), w - w^*\rangle`, and the error is

.. math::

    \varepsilon(m) = \bigl|L(w) - L(w^*) - \langle g_m(w^*), w - w^*\rangle\bigr|
    = \bigl|L(w) - L(w^*) + \eta\tfrac{m}{m_0}|g_m|^2\bigr|,

with :math:`L` the mean loss over the evaluation data (the whole training set in the paper). The paper
reads the batch size at which :math:`\varepsilon` passes 1 as the end of the regime where the linear scaling
rule is justified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = ["LinearApproxError", "linear_approximation_error"]

LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class LinearApproxError:
    """Per batch size: mean and standard error over batches of the error, of the actual loss change
    :math:`L(w) - L(w^*)` and of its linear prediction :math:`-\\eta (m/m_0) |g_m|^2`."""

    batch_sizes: list[int]
    lr: float
    base_batch_size: int
    loss_at_start: float
    error: list[float] = field(default_factory=list)
    error_se: list[float] = field(default_factory=list)
    actual_change: list[float] = field(default_factory=list)
    linear_change: list[float] = field(default_factory=list)


@torch.no_grad()
def _mean_loss(
    model: nn.Module, params: dict[str, Tensor], loss_fn: LossFn, x: Tensor, y: Tensor, chunk: int
) -> float:
    from torch.func import functional_call

    total = 0.0
    for start in range(0, x.shape[0], chunk):
        out = functional_call(model, params, (x[start : start + chunk],))
        total += float(loss_fn(out, y[start : start + chunk]).double().sum())
    return total / x.shape[0]


def _stats(values: list[float]) -> tuple[float, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std(unbiased=True) / math.sqrt(t.numel())) if t.numel() > 1 else math.nan


def linear_approximation_error(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    batch_sizes: Sequence[int],
    *,
    lr: float,
    base_batch_size: int,
    batches_per_size: int = 4,
    generator: torch.Generator | None = None,
    eval_x: Tensor | None = None,
    eval_y: Tensor | None = None,
    chunk_size: int = 2048,
) -> LinearApproxError:
    r""":math:`\varepsilon(m)` for each ``m`` of ``batch_sizes`` at the model's current parameters (not changed).

    Args:
        x, y: the training set the batches :math:`g_m` are drawn from (without replacement, ``generator``).
        lr, base_batch_size: :math:`\eta` and :math:`m_0` of the linear scaling rule.
        batches_per_size: batches per size (the error is averaged over them, with its standard error).
        eval_x, eval_y: data for :math:`L` (default ``x, y``).
    """
    n = int(x.shape[0])
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid lr: {lr!r} (expected a finite number > 0)")
    if isinstance(base_batch_size, bool) or not isinstance(base_batch_size, int) or base_batch_size < 1:
        raise ValueError(f"Invalid base_batch_size: {base_batch_size!r} (expected an integer >= 1)")
    if isinstance(batches_per_size, bool) or not isinstance(batches_per_size, int) or batches_per_size < 1:
        raise ValueError(f"Invalid batches_per_size: {batches_per_size!r} (expected an integer >= 1)")
    sizes = list(batch_sizes)
    for m in sizes:
        if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= n:
            raise ValueError(f"Invalid batch size: {m!r} (expected an integer >= 1 and <= N = {n})")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    ex, ey = (x, y) if eval_x is None else (eval_x, eval_y)
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    start = {name: p.detach() for name, p in named}
    loss0 = _mean_loss(model, start, loss_fn, ex, ey, chunk_size)
    result = LinearApproxError(sizes, float(lr), base_batch_size, loss0)
    for m in sizes:
        errors, actual, linear = [], [], []
        step = lr * m / base_batch_size
        for _ in range(batches_per_size):
            idx = torch.randperm(n, generator=gen)[:m].to(x.device)
            with torch.enable_grad():
                loss = loss_fn(model(x[idx]), y[idx]).mean()
                grads = torch.autograd.grad(loss, [p for _, p in named])
            moved = {name: w - step * g.detach() for (name, w), g in zip(start.items(), grads)}
            predicted = -step * float(sum(g.double().pow(2).sum() for g in grads))
            change = _mean_loss(model, moved, loss_fn, ex, ey, chunk_size) - loss0
            errors.append(abs(change - predicted))
            actual.append(change)
            linear.append(predicted)
        mean, se = _stats(errors)
        result.error.append(mean)
        result.error_se.append(se)
        result.actual_change.append(_stats(actual)[0])
        result.linear_change.append(_stats(linear)[0])
    return result

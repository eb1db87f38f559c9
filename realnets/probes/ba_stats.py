"""The batch statistics that BA-SGD and BA-Momentum (seed 000, Algorithm 1) ask for, by name.

Three statistics, one per covariance mode of :class:`~realnets.probes.gradstats.GradStatsAccumulator`:
``ba_stats_exact`` (default), ``ba_stats_diag`` (the paper's and the original code's diagonal approximation)
and ``ba_stats_full`` (materialised per-sample gradients, tiny models only). Each returns, for the batch
:math:`\\mathcal Y_t` drawn so far in this step (:math:`m_\\alpha = |\\mathcal Y_t|` samples), a plain dict

==================  =========================================================================================
``n``               :math:`m_\\alpha`
``loss``            :math:`s_t = F(\\theta\\mid\\mathcal Y_t)`, the mean per-sample loss (Algorithm 1, line 9)
``grad_sq_norm``    :math:`\\hat f^\\top\\hat f` (the mean :math:`\\mu_t` of BA-SGD, seed 000 sec. 2.2)
``grad_dot_buffer`` :math:`\\hat f^\\top \\mathrm{buf}_{t-1}`, with ``buf`` torch's momentum buffer before this
                    update (0 at the first step or without momentum); BA-Momentum's
                    :math:`\\mu_t = \\hat f^\\top\\mu_{\\mathcal P_t} = \\rho\\,\\hat f^\\top\\mathrm{buf}_{t-1} + \\hat f^\\top\\hat f`
                    (eq. 15)
``sigma2``          :math:`\\sigma_t^2 = \\hat f^\\top\\hat\\Sigma_t\\hat f` (eq. 4 and sec. 3.2), or ``None`` while
                    :math:`m_\\alpha < 2`
``mode``            the covariance mode
==================  =========================================================================================

Incremental: the accumulator lives in the step's ``ctx.cache``; each call adds only the rows drawn since
the previous call (one forward and one backward of those rows), so growing the batch by :math:`m_0` costs
one chunk, not the whole batch again. ``exact`` then re-evaluates the directional derivatives of the whole
batch along the new mean gradient (one layer-forward, counted as a forward pass).

The statistic leaves the batch-mean gradient in ``p.grad`` and sets ``ctx.prepared``, so the engine
applies the update without another forward/backward pass.

Look-ahead: when the engine passes a block ``ctx.ahead`` (see :mod:`realnets.probes`), ``exact`` and ``diag``
use :class:`~realnets.probes.prefix.PrefixStats` instead: the whole block in one forward and one backward pass,
then the statistics of the prefix ``ctx.x`` at every round (counted as one forward and one backward per block
extension).

BatchNorm in training mode is refused with a ``ValueError`` (per-sample gradients are undefined when a
batch's samples are normalised together): use a model without BatchNorm, or ghost batch norm in eval
mode.

Note:
    The buffer product uses torch's momentum buffer, which includes weight decay when ``weight_decay > 0``
    (torch adds it to the gradient before the buffer update); seed 000 has no weight decay.
"""

from __future__ import annotations

from typing import Any

import torch

from realnets.optim import has_momentum_buffer, momentum_buffer
from realnets.probes import PreparedGradient, StatContext, register_statistic
from realnets.probes.gradstats import MODES, GradStatsAccumulator, _diag_term
from realnets.probes.prefix import PrefixStats, prefix_supported, trainable_parameters

__all__ = ["STAT_NAMES", "ba_statistics", "statistic_name"]

STAT_NAMES = {mode: f"ba_stats_{mode}" for mode in MODES}


def statistic_name(mode: str) -> str:
    """The registered statistic name of covariance mode ``mode`` (``"exact"``, ``"diag"`` or ``"full"``)."""
    if mode not in STAT_NAMES:
        raise ValueError(f"Invalid stat: {mode!r} (expected one of {', '.join(MODES)})")
    return STAT_NAMES[mode]


def _accumulator(ctx: StatContext, mode: str) -> GradStatsAccumulator:
    key = f"ba_accumulator_{mode}"
    acc = ctx.cache.get(key)
    if acc is None:
        acc = GradStatsAccumulator(ctx.model, ctx.loss_fn, mode=mode, gram=not _distributed(ctx))
        ctx.cache[key] = acc
        ctx.cache["ba_loss_sum"] = 0.0
    return acc


def _buffer_product(ctx: StatContext, mean_grad: list[torch.Tensor], params: list[torch.Tensor]) -> float:
    """:math:`\\hat f^\\top \\mathrm{buf}` over the parameters that have a momentum buffer (0 when none)."""
    if ctx.optimizer is None or not has_momentum_buffer(ctx.optimizer):
        return 0.0
    terms = []
    for p, f in zip(params, mean_grad):
        buf = momentum_buffer(ctx.optimizer, p)
        if buf is not None:
            terms.append((f * buf).sum(dtype=torch.float64))
    return float(torch.stack(terms).sum()) if terms else 0.0


def _distributed(ctx: StatContext) -> bool:
    return ctx.collective is not None and ctx.collective.active


def ba_statistics(ctx: StatContext, mode: str) -> dict[str, Any]:
    """Statistics of the batch drawn so far in this step (see the module docstring)."""
    if _distributed(ctx):
        return _ba_statistics_distributed(ctx, mode)
    if ctx.ahead is not None:
        return _ba_statistics_prefix(ctx, mode)
    acc = _accumulator(ctx, mode)
    fresh = ctx.x.shape[0] - acc.n
    if fresh > 0:
        passes = (acc.forwards, acc.backwards)
        losses = acc.add(ctx.x[acc.n :], ctx.y[acc.n :])
        ctx.count("fwd", acc.forwards - passes[0])
        ctx.count("bwd", acc.backwards - passes[1])
        ctx.cache["ba_loss_sum"] += float(losses.double().sum())
    loss = ctx.cache["ba_loss_sum"] / acc.n
    mean_grad = acc.mean_grad()
    params = acc.params
    for p, f in zip(params, mean_grad):
        p.grad = f  # mean_grad() returns fresh tensors
    ctx.prepared = PreparedGradient(loss=loss, n=acc.n)
    sigma2 = None
    if acc.n >= 2:
        stats = acc.stats(mean_grad)
        grad_sq, sigma2 = stats.grad_sq_norm, stats.sigma2
        if mode != "diag":
            ctx.count("fwd")  # the directional derivatives: one (layer-)forward of the whole batch
    else:
        grad_sq = float(torch.stack([(f * f).sum(dtype=torch.float64) for f in mean_grad]).sum())
    return {
        "n": acc.n,
        "loss": loss,
        "grad_sq_norm": grad_sq,
        "grad_dot_buffer": _buffer_product(ctx, mean_grad, params),
        "sigma2": sigma2,
        "mode": mode,
    }


def _ba_statistics_prefix(ctx: StatContext, mode: str) -> dict[str, Any]:
    """:func:`ba_statistics` of the prefix ``ctx.x`` of the look-ahead block ``ctx.ahead`` (one pass per block)."""
    key = f"ba_prefix_{mode}"
    block = ctx.cache.get(key)
    if block is None:
        direction = _buffers(ctx, trainable_parameters(ctx.model))
        block = ctx.cache[key] = PrefixStats(ctx.model, ctx.loss_fn, mode=mode, direction=direction)
    x_block, y_block = ctx.ahead
    if x_block.shape[0] > block.rows:
        passes = (block.forwards, block.backwards)
        block.add(x_block[block.rows :], y_block[block.rows :])
        ctx.count("fwd", block.forwards - passes[0])
        ctx.count("bwd", block.backwards - passes[1])
    n = int(ctx.x.shape[0])
    result = block.prefix(n)

    def write() -> None:
        for p, f in zip(block.params, block.mean_grad(n)):
            p.grad = f  # fresh tensors

    ctx.prepared = PreparedGradient(loss=result.loss, n=n, write=write)
    return {
        "n": n,
        "loss": result.loss,
        "grad_sq_norm": result.grad_sq_norm,
        "grad_dot_buffer": 0.0 if result.dot is None else result.dot,
        "sigma2": result.sigma2,
        "mode": mode,
    }


def _buffers(ctx: StatContext, params: list[torch.Tensor]) -> list[torch.Tensor | None] | None:
    """The optimizer's momentum buffer of each parameter (None when it has none yet; None overall without any)."""
    if ctx.optimizer is None or not has_momentum_buffer(ctx.optimizer):
        return None
    buffers = [momentum_buffer(ctx.optimizer, p) for p in params]
    return buffers if any(b is not None for b in buffers) else None


def _ba_statistics_distributed(ctx: StatContext, mode: str) -> dict[str, Any]:
    """:func:`ba_statistics` under torchrun: ``ctx.x`` holds this rank's rows; the policy sees global numbers.

    Two all-reduces per call. The gradient sums (and, in diag mode, the squared-gradient sums) divided by the
    global batch size (which every rank knows) give the global mean gradient :math:`\\hat f` in ``p.grad``.
    Then, in float64, the loss sum and, in the exact and full modes, :math:`\\sum_j (d_j - c)` and
    :math:`\\sum_j (d_j - c)^2` of the local directional derivatives :math:`d_j = \\hat f^\\top g_j`, shifted
    by their mean :math:`c = \\hat f^\\top \\hat f`, for the global sample variance :math:`\\sigma^2`.
    """
    collective = ctx.collective
    acc = _accumulator(ctx, mode)
    fresh = ctx.x.shape[0] - acc.n
    if fresh > 0:
        passes = (acc.forwards, acc.backwards)
        losses = acc.add(ctx.x[acc.n :], ctx.y[acc.n :])
        ctx.count("fwd", acc.forwards - passes[0])
        ctx.count("bwd", acc.backwards - passes[1])
        ctx.cache["ba_loss_sum"] += float(losses.double().sum())
    grad_sums, square_sums = acc.local_sums()
    reduced = collective.all_reduce_sum(list(grad_sums) + list(square_sums or []))
    device = grad_sums[0].device
    if ctx.info is not None:  # every rank knows the global batch drawn so far
        n = int(ctx.info.batch_so_far)
    else:
        n = int(collective.all_reduce_sum([torch.tensor([float(acc.n)], dtype=torch.float64)])[0].item())
    params = acc.params
    mean_grad = [g / n for g in reduced[: len(params)]]
    for p, f in zip(params, mean_grad):
        p.grad = f
    grad_sq = float(torch.stack([(f * f).sum(dtype=torch.float64) for f in mean_grad]).sum())
    # one float64 all-reduce: the loss sum, and the shifted sums of the directional derivatives
    local = [ctx.cache["ba_loss_sum"], 0.0, 0.0]
    if n >= 2 and mode != "diag" and acc.n > 0:
        shifted = acc.directional(mean_grad).double() - grad_sq
        local[1:] = [float(shifted.sum()), float(shifted.square().sum())]
    loss_sum, total, squares = collective.all_reduce_sum(
        [torch.tensor(local, dtype=torch.float64, device=device)]
    )[0].tolist()
    loss = loss_sum / n
    ctx.prepared = PreparedGradient(loss=loss, n=acc.n)
    sigma2 = None
    if n >= 2 and mode == "diag":
        terms = [_diag_term(f, sq, n) for f, sq in zip(mean_grad, reduced[len(params) :])]
        sigma2 = max(float(torch.stack(terms).sum()) / (n - 1), 0.0)
    elif n >= 2:
        sigma2 = max((squares - total * total / n) / (n - 1), 0.0)
        ctx.count("fwd")  # the directional derivatives: one (layer-)forward of this rank's rows
    return {
        "n": n,
        "loss": loss,
        "grad_sq_norm": grad_sq,
        "grad_dot_buffer": _buffer_product(ctx, mean_grad, params),
        "sigma2": sigma2,
        "mode": mode,
    }


def _register(mode: str) -> None:
    def statistic(ctx: StatContext) -> dict[str, Any]:
        return ba_statistics(ctx, mode)

    statistic.__qualname__ = f"ba_statistics_{mode}"
    statistic.__doc__ = f"BA statistics with the {mode!r} covariance mode (seed 000, Algorithm 1, lines 7-9)."
    lookahead = None if mode == "full" else (lambda model: prefix_supported(model, mode))
    register_statistic(STAT_NAMES[mode], lookahead=lookahead)(statistic)


for _mode in MODES:
    _register(_mode)

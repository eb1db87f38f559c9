"""Statistics registry: policies ask for batch statistics by name, the engine computes them.

A statistic is a function ``fn(ctx: StatContext) -> value`` registered with
:func:`register_statistic`. The engine calls :func:`compute_statistics` with the names a policy declared in
``Policy.needs`` on the batch drawn so far, before each ``decide`` call.

Conventions for statistic authors:

* ``ctx.cache`` lives for one parameter update, across the ``Grow`` calls of that step, so a statistic
  can update its sums incrementally: ``ctx.x[:ctx.cache["rows_done"]]`` were seen before.
* Count the passes you make: ``ctx.count("fwd")`` / ``ctx.count("bwd")`` (the engine logs them per step).
* Look-ahead: when the policy asks for it (``Policy.lookahead``) and every statistic it needs was registered
  with a ``lookahead`` predicate that accepts the model, the engine peeks the next rows of its sampler and passes
  them as ``ctx.ahead = (x_block, y_block)``; ``ctx.x`` is then a prefix of ``x_block``, and the statistic may
  process the whole block at once (one pass instead of one per ``Grow`` round) and answer for the prefix. Rows
  the update does not take go back to the sampler, so the decisions and the sample order are unchanged.
* If a statistic leaves the mean gradient of exactly the current batch in ``p.grad`` of every parameter,
  it sets ``ctx.prepared = PreparedGradient(loss=<batch mean loss>, n=<rows>)``; when the update's
  objective is the plain mean and no input transform applies, the engine then skips its own
  forward/backward, so batch-adaptive training is not charged twice. It must set ``ctx.prepared = None``
  whenever it leaves something else in ``p.grad``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "PreparedGradient",
    "StatContext",
    "compute_statistics",
    "list_statistics",
    "lookahead_supported",
    "register_statistic",
]


@dataclass(frozen=True)
class PreparedGradient:
    """A statistic left the mean gradient of the first ``n`` rows of the batch in ``p.grad`` (or will).

    Attributes:
        loss: the mean loss of those rows (a float, as the statistic computed it).
        n: how many rows of the current batch the gradient covers.
        write: None when ``p.grad`` already holds that gradient; else a callable that writes it there, which the
            engine calls before it uses the gradient (so a statistic answering several rounds forms the mean
            gradient once, for the batch the update takes).
    """

    loss: float
    n: int
    write: Callable[[], None] | None = None


@dataclass
class StatContext:
    """What a statistic may look at.

    Attributes:
        model: the network (in training mode).
        loss_fn: per-sample loss, ``loss_fn(outputs, targets) -> (n,) tensor``.
        x, y: the current batch (all samples drawn so far in this step), on the model's device.
        optimizer: the torch optimizer (for momentum buffers and the like).
        info: the engine's :class:`~realnets.algorithms.base.StepInfo` for this call.
        cache: per-step scratch space, shared by the statistics and the ``Grow`` calls of one update.
        counts: forward and backward passes made so far in this step (``{"fwd": .., "bwd": ..}``).
        prepared: set by a statistic that left the batch's mean gradient in ``p.grad``.
        collective: under torchrun, the :class:`~realnets.distributed.Collective`; ``x``/``y`` are then this
            rank's rows only, and a statistic that the policy may see must reduce over ranks (None: one process).
        ahead: the look-ahead block ``(x_block, y_block)`` of which ``x``/``y`` are a prefix, or None (see the
            module docstring).
    """

    model: torch.nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    x: torch.Tensor
    y: torch.Tensor
    optimizer: torch.optim.Optimizer | None
    info: Any
    cache: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"fwd": 0, "bwd": 0})
    prepared: PreparedGradient | None = None
    collective: Any = None  # realnets.distributed.Collective under torchrun (None: one process)
    ahead: tuple[torch.Tensor, torch.Tensor] | None = None

    def count(self, kind: str, passes: int = 1) -> None:
        """Record ``passes`` forward (``"fwd"``) or backward (``"bwd"``) passes."""
        self.counts[kind] = self.counts.get(kind, 0) + passes


_STATISTICS: dict[str, Callable[[StatContext], Any]] = {}
_LOOKAHEAD: dict[str, Callable[[torch.nn.Module], bool]] = {}


def register_statistic(
    name: str, *, lookahead: Callable[[torch.nn.Module], bool] | None = None
) -> Callable[[Callable[[StatContext], Any]], Callable[[StatContext], Any]]:
    """Register ``fn(ctx) -> value`` under ``name`` (decorator).

    Args:
        name: the name policies list in ``needs``.
        lookahead: ``predicate(model) -> bool``, True when the statistic can serve a prefix of a look-ahead
            block (``ctx.ahead``) for this model; None (default): it never can.
    """

    def register(fn: Callable[[StatContext], Any]) -> Callable[[StatContext], Any]:
        if name in _STATISTICS and _STATISTICS[name].__qualname__ != fn.__qualname__:
            raise ValueError(f"Duplicate statistic name: {name!r}")
        _STATISTICS[name] = fn
        if lookahead is not None:
            _LOOKAHEAD[name] = lookahead
        return fn

    return register


def lookahead_supported(names: Iterable[str], model: torch.nn.Module) -> bool:
    """True when every statistic of ``names`` can serve prefixes of a look-ahead block for ``model``."""
    names = tuple(names)
    if any(name not in _STATISTICS for name in names):
        _import_probe_modules()
    return bool(names) and all(name in _LOOKAHEAD and _LOOKAHEAD[name](model) for name in names)


def list_statistics() -> list[str]:
    """Names of every registered statistic."""
    _import_probe_modules()
    return sorted(_STATISTICS)


def compute_statistics(names: Iterable[str], ctx: StatContext) -> dict[str, Any]:
    """``{name: fn(ctx)}`` for each requested name; unknown names raise ValueError listing the valid ones."""
    names = tuple(names)
    if any(name not in _STATISTICS for name in names):
        _import_probe_modules()
    unknown = [name for name in names if name not in _STATISTICS]
    if unknown:
        raise ValueError(
            f"Invalid statistic: {unknown[0]!r} (expected one of {', '.join(sorted(_STATISTICS))})"
        )
    return {name: _STATISTICS[name](ctx) for name in names}


def _import_probe_modules() -> None:
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


@register_statistic("per_sample_loss")
def per_sample_loss(ctx: StatContext) -> torch.Tensor:
    """Loss of each sample of the current batch, shape (n,), without gradient.

    Only the rows added since the last call are evaluated (the earlier ones are cached for this step).
    """
    done = ctx.cache.get("per_sample_loss")
    start = 0 if done is None else done.shape[0]
    if start < ctx.x.shape[0]:
        with torch.no_grad():
            fresh = ctx.loss_fn(ctx.model(ctx.x[start:]), ctx.y[start:])
        ctx.count("fwd")
        done = fresh if done is None else torch.cat([done, fresh])
        ctx.cache["per_sample_loss"] = done
    return done


@register_statistic("batch_loss")
def batch_loss(ctx: StatContext) -> float:
    """Mean loss of the current batch, (1/|Y|) sum_j l_j (the state s_t of seed 000, Algorithm 1)."""
    return float(per_sample_loss(ctx).mean())

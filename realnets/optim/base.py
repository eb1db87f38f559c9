r"""The skeleton the layer-wise SGD optimizers share (LARS, PercentDelta, MCLR, CBLR).

Each of them multiplies the (weight-decayed) gradient of a tensor by a rate ratio :math:`\rho` before torch's
heavy-ball momentum:

.. math::

    d = \rho \odot (g + \beta w), \qquad v \leftarrow m v + d, \qquad w \leftarrow w - \eta v

(``nesterov``: :math:`w \leftarrow w - \eta (d + m v)`), where :math:`\eta` is the group's ``lr`` and
:math:`\rho` a 0-d tensor per layer (LARS, PercentDelta, MCLR) or a tensor of the parameter's shape (CBLR).
With :math:`\rho = 1` (a group with ``"trust": False``) the update is torch's ``SGD`` (dampening 0), op for
op, so it reproduces it bitwise. The ratios stay on the device; :meth:`last_rates` copies them to the host
only when called. On the CPU the layer ratios are computed from host floats instead (there is no device
to keep in step with, and a few Python float operations cost less than as many tiny tensor operations);
they are then folded into the ``alpha`` of the in-place updates, and a ratio beyond the dtype's range
becomes inf as it would on the device.

``ratio_every = k > 1`` (LARS, PercentDelta, MCLR) recomputes the layer ratios every k steps of a layer and
reuses them in between (kept in the optimizer state, so a resumed run is identical). It is a speed option,
not the papers' rule: the exact ratios need extra passes over w and g every step (two norms for LARS, a sum
of |g/w| for PercentDelta, two medians, i.e. selections, for MCLR), which torch's SGD step does not make.
:meth:`last_ratios` reports the ratios (LARS's trust ratios, the layer radii) and :meth:`last_rates` the
effective per-layer rates ``lr * ratio``, for logging and plotting.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from realnets.optim.registry import check_flag, check_hparam

__all__ = ["LayerwiseSGD", "host_norms", "on_host"]


def host_norms(tensors: list[torch.Tensor]) -> list[float]:
    """The L2 norms of ``tensors`` as host floats, from BLAS dot products (one transfer).

    On the CPU ``torch.dot`` is faster than ``torch.linalg.vector_norm`` (and its foreach form) for the same
    sum of squares; the square root is taken on the host.
    """
    if any(t.dtype not in (torch.float32, torch.float64) for t in tensors):  # no BLAS dot for these
        return torch.stack(torch._foreach_norm(tensors)).tolist()
    flat = [t.reshape(-1) for t in tensors]
    return [math.sqrt(s) for s in torch.stack([torch.dot(f, f) for f in flat]).tolist()]


def on_host(params: list[torch.Tensor]) -> bool:
    """Whether the parameters live on the CPU (ratios may then be computed as Python floats)."""
    return params[0].device.type == "cpu"


@functools.cache
def _dtype_max(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).max


def _in_range(value: float, big: float) -> float:
    """``value``, or an infinity of its sign where it exceeds the tensor dtype's largest value ``big``."""
    return value if abs(value) <= big else math.copysign(math.inf, value)


class LayerwiseSGD(torch.optim.Optimizer):
    """Base class: SGD with momentum on ``ratio * (grad + weight_decay * w)``; subclasses give the ratio.

    Subclasses implement :meth:`_ratios` ``(group, params, grads) -> list[Tensor]`` for the parameters of one
    group that have a gradient (or host floats on the CPU), and may override :meth:`_uses_ratio`.
    """

    #: Whether ``step`` needs a closure (CBLR's Hessian diagonal); the engine may test this attribute.
    needs_closure = False

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        check_hparam("lr", defaults["lr"], low=0.0)
        momentum = check_hparam("momentum", defaults["momentum"], low=0.0, high=1.0, high_open=True)
        check_hparam("weight_decay", defaults["weight_decay"], low=0.0)
        if check_flag("nesterov", defaults["nesterov"]) and momentum == 0:
            raise ValueError("Invalid nesterov: True with momentum 0 (expected momentum > 0)")
        every = check_hparam("ratio_every", defaults.get("ratio_every", 1), low=1, integer=True)
        defaults = {**defaults, "ratio_every": every, "trust": True, "lr_scale": 1.0}
        super().__init__(params, defaults)
        self._rates: dict[int, tuple[list[str], list[torch.Tensor] | list[float] | None, float]] = {}

    # -- what subclasses provide ---------------------------------------------------------------------------
    def _ratios(
        self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        raise NotImplementedError

    def _uses_ratio(self, group: dict[str, Any]) -> bool:
        return bool(group["trust"])

    # -- shared machinery ----------------------------------------------------------------------------------
    def _names(self, index: int, group: dict[str, Any]) -> list[str]:
        names = group.get("param_names")
        return list(names) if names is not None else [f"{index}.{j}" for j in range(len(group["params"]))]

    def _with_grad(self, index: int, group: dict[str, Any]):
        names = self._names(index, group)
        picked = [(name, p) for name, p in zip(names, group["params"]) if p.grad is not None]
        for _, p in picked:
            if p.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
        return [n for n, _ in picked], [p for _, p in picked], [p.grad for _, p in picked]

    @torch.no_grad()
    def _update(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        ratios: list[torch.Tensor] | None,
    ) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if ratios is not None and isinstance(ratios[0], float):
            self._update_host(group, params, grads, ratios)
            return
        # torch.optim.SGD's order of operations (grad + wd w, then the buffer), so rho = 1 is SGD bitwise.
        d = torch._foreach_add(grads, params, alpha=weight_decay) if weight_decay != 0 else grads
        if ratios is not None:
            d = torch._foreach_mul(d, ratios)
        if momentum != 0:
            bufs = []
            for p, dp in zip(params, d):
                state = self.state[p]
                if state.get("momentum_buffer") is None:
                    state["momentum_buffer"] = torch.clone(dp).detach()
                    bufs.append(None)
                else:
                    bufs.append(state["momentum_buffer"])
            old = [b for b in bufs if b is not None]
            if old:
                old_d = [dp for b, dp in zip(bufs, d) if b is not None]
                torch._foreach_mul_(old, momentum)
                torch._foreach_add_(old, old_d)
            bufs = [self.state[p]["momentum_buffer"] for p in params]
            d = torch._foreach_add(d, bufs, alpha=momentum) if group["nesterov"] else bufs
        torch._foreach_add_(params, d, alpha=-lr)

    def _update_host(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        ratios: list[float],
    ) -> None:
        """The same update with host-float ratios folded into in-place ``alpha`` arguments (no temporaries)."""
        lr, momentum, weight_decay, nesterov = (
            group["lr"],
            group["momentum"],
            group["weight_decay"],
            group["nesterov"],
        )
        for p, g, ratio in zip(params, grads, ratios):
            # A host ratio beyond the tensor's range (e.g. a tiny median gradient in float32) becomes inf, as
            # the same product computed on the device would, instead of failing the float conversion.
            big = _dtype_max(p.dtype)
            ratio = ratio if abs(ratio) <= big else math.inf
            d = g.add(p, alpha=weight_decay) if weight_decay != 0 else g
            if momentum == 0:
                p.add_(d, alpha=_in_range(-lr * ratio, big))
                continue
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = torch.mul(d, ratio).detach()
            else:
                buf.mul_(momentum).add_(d, alpha=ratio)
            if nesterov:
                p.add_(d, alpha=_in_range(-lr * ratio, big)).add_(buf, alpha=-lr * momentum)
            else:
                p.add_(buf, alpha=-lr)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient; ``closure`` (optional) re-evaluates the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            names, params, grads = self._with_grad(index, group)
            if not params:
                continue
            ratios = self._group_ratios(group, params, grads) if self._uses_ratio(group) else None
            self._rates[index] = (names, ratios, float(group["lr"]))
            self._update(group, params, grads, ratios)
        return loss

    def _group_ratios(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor]):
        """The group's ratios: recomputed every ``ratio_every`` steps of its parameters, reused in between.

        The reused ratios and the step counts live in the optimizer state (``"layer_ratio"``,
        ``"ratio_step"``), so a resumed run reuses the same ratios as the uninterrupted one.
        """
        every = group.get("ratio_every", 1)
        if every == 1:
            return self._ratios(group, params, grads)
        states = [self.state[p] for p in params]
        fresh = any("layer_ratio" not in st or st.get("ratio_step", 0) % every == 0 for st in states)
        ratios = self._ratios(group, params, grads) if fresh else [st["layer_ratio"] for st in states]
        for st, ratio in zip(states, ratios):
            st["layer_ratio"] = ratio
            st["ratio_step"] = st.get("ratio_step", 0) + 1
        return ratios

    def last_ratios(self) -> dict[str, float]:
        r"""Per layer (parameter name): the ratio :math:`\rho` of the last step (LARS's trust ratio, the
        PercentDelta and MCLR radii); 1 for layers without one (``"trust": False``).

        A layer with a per-element ratio (CBLR) reports the median over its elements. The ratios of a
        group are read back from the device in one transfer.
        """
        out: dict[str, float] = {}
        for names, ratios, _ in self._rates.values():
            if ratios is None:
                out.update(dict.fromkeys(names, 1.0))
                continue
            if not isinstance(ratios[0], float):
                per_layer = [r.reshape(()) if r.numel() == 1 else r.flatten().median() for r in ratios]
                ratios = torch.stack(per_layer).tolist()
            out.update(zip(names, ratios))
        return out

    def last_rates(self) -> dict[str, float]:
        """Per layer (parameter name): the effective learning rate ``lr * ratio`` of the last step.

        A layer with a per-element ratio (CBLR) reports ``lr`` times the median ratio over its elements;
        layers without a ratio (``"trust": False``) report ``lr``.
        """
        lrs = {name: lr for names, _, lr in self._rates.values() for name in names}
        return {name: lrs[name] * ratio for name, ratio in self.last_ratios().items()}

    def momentum_buffer(self, param: torch.Tensor) -> torch.Tensor | None:
        """The heavy-ball buffer v of ``param`` (None before its first step); ValueError with momentum 0."""
        for group in self.param_groups:
            if any(p is param for p in group["params"]):
                if group["momentum"] == 0:
                    raise ValueError(
                        f"Invalid optimizer: {type(self).__name__} with momentum 0 has no "
                        "momentum buffer (expected momentum > 0)"
                    )
                return self.state[param].get("momentum_buffer") if param in self.state else None
        raise ValueError("Invalid param: not optimized by this optimizer (expected one of its parameters)")

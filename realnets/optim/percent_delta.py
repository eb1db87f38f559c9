r"""PercentDelta (Abu-El-Haija 2017, "Proportionate gradient updates with PercentDelta"; seed 001, eq. 24).

For a layer :math:`w` with gradient :math:`g`, the layer rate is

.. math::

    \eta_g = \gamma \, \frac{\mathrm{size}(w)}{\|g / w\|_1}
           = \gamma \Big(\frac{1}{\mathrm{size}(w)} \sum_i \frac{1}{R_i}\Big)^{-1},
    \qquad R_i = \Big|\frac{w_i}{g_i}\Big| ,

the harmonic mean of seed 001's per-element radii (eq. 17) times :math:`\gamma` (the ``lr``), so that every
layer moves by about the same fraction :math:`\gamma` of its weights per step.

Zero weights (eq. 18: :math:`R_i = 0` would zero the whole layer's rate) are left out of the sum and of the
count: :math:`\rho = \#\{i: w_i \ne 0\} / \sum_{w_i \ne 0} |g_i/w_i|`; :math:`\rho = 1` when no weight is
non-zero or that sum is 0 or not finite. Zero-initialised biases and normalisation weights are excluded by
their group (``"trust": False``, :func:`realnets.optim.param_groups`): plain SGD with rate :math:`\gamma`.
With weight decay :math:`\beta` the decayed gradient :math:`g + \beta w` enters both the ratio and the step.
The step itself is torch's heavy-ball momentum on :math:`\rho (g + \beta w)` (momentum 0: the paper's rule).
"""

from __future__ import annotations

import math

import torch

from realnets.optim.base import LayerwiseSGD, on_host
from realnets.optim.registry import register_optimizer

__all__ = ["PercentDelta"]


class PercentDelta(LayerwiseSGD):
    r"""PercentDelta: layer rate :math:`\gamma\,\mathrm{size}(w)/\|g/w\|_1` (seed 001, eq. 24).

    Args:
        params: parameters, ``(name, parameter)`` pairs or groups (groups may set ``"trust": False``).
        lr: :math:`\gamma` >= 0.
        momentum: heavy-ball momentum in [0, 1) (0: the paper's rule).
        weight_decay: :math:`\beta` >= 0.
        nesterov: Nesterov momentum.
        ratio_every: recompute the layer ratios every this many steps and reuse them in between (default 1:
            every step, the paper's rule; larger values trade exactness for speed).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        ratio_every: int = 1,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "weight_decay": weight_decay,
                "nesterov": nesterov,
                "ratio_every": ratio_every,
            },
        )

    def _ratios(self, group, params, grads):
        wd = group["weight_decay"]
        d = torch._foreach_add(grads, params, alpha=wd) if wd != 0 else grads
        if on_host(params):
            # sum |d/w| per layer; a zero weight makes it inf or nan, and only then is the layer recomputed
            # with the zero coordinates left out.
            # (div, abs_, sum per layer: several times faster on the CPU than an L1 norm or its foreach form)
            sums = torch.stack([torch.div(dw, w).abs_().sum() for w, dw in zip(params, d)]).tolist()
            ratios, big = [], torch.finfo(params[0].dtype).max
            for w, dw, total in zip(params, d, sums):
                ratio = (
                    w.numel() / total if math.isfinite(total) and total > 0 else float(_masked_ratio(w, dw))
                )
                ratios.append(ratio if 0 < ratio <= big else 1.0)
            return ratios
        return [_masked_ratio(w, dw) for w, dw in zip(params, d)]


def _masked_ratio(w: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """#{w_i != 0} / sum_{w_i != 0} |d_i / w_i|, or 1 where that is not a finite positive number."""
    nonzero = w != 0
    inverse = torch.where(nonzero, d.abs() / torch.where(nonzero, w.abs(), 1.0), 0.0).sum()
    ratio = nonzero.sum().to(w.dtype) / inverse
    return torch.where(torch.isfinite(ratio) & (ratio > 0), ratio, torch.ones_like(ratio))


def _percent_delta_kwargs(hp):
    return {
        "ratio_every": hp["ratio_every"],
        "lr": hp["lr"],
        "momentum": hp["momentum"],
        "weight_decay": hp["weight_decay"],
    }


register_optimizer(
    "percent-delta",
    PercentDelta,
    description="PercentDelta: layer rate gamma size(w)/||g/w||_1 (Abu-El-Haija 2017; seed 001, eq. 24)",
    kwargs=_percent_delta_kwargs,
    defaults={"ratio_every": 1},
    has_momentum_buffer=True,
    source="Abu-El-Haija 2017; seed 001, eq. 24",
)

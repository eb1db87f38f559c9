r"""LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017, arXiv:1708.03888, Algorithm 1).

For each layer (parameter tensor) :math:`l` with weights :math:`w^l`, gradient :math:`g^l = \nabla L(w^l)`,
weight decay :math:`\beta` and trust coefficient :math:`\eta`, the local rate is

.. math::

    \lambda^l = \eta \, \frac{\|w^l\|_2}{\|g^l\|_2 + \beta \|w^l\|_2 + \epsilon}
    \qquad (\lambda^l = 1 \text{ when } \|w^l\| = 0 \text{ or } \|g^l\| = 0),

and the update is heavy-ball momentum on the scaled gradient with global rate :math:`\gamma_t` (the ``lr``):

.. math::

    v \leftarrow m v + \lambda^l (g^l + \beta w^l), \qquad w^l \leftarrow w^l - \gamma_t v .

(You et al. put :math:`\gamma_t` inside the buffer; as in torch's SGD we apply it outside, the same while
:math:`\gamma_t` is constant.) With ``clip=True`` the local rate is NVIDIA apex's LARC clip mode
(``apex/parallel/LARC.py``): :math:`\lambda^l \leftarrow \min(\lambda^l/\gamma_t, 1)`, so the effective
rate :math:`\gamma_t\lambda^l` never exceeds :math:`\gamma_t`.

Seed 001 (Gao & Zhong), eq. 23, writes LARS as :math:`\eta_g = \gamma \|w\|_2 / \|g\|_2`: it is
``LARS(trust_coefficient=gamma, weight_decay=0, momentum=0, eps=0, lr=1)``. Eq. 23 is the square root of
the :math:`g^2`-weighted mean of the squared per-element radii :math:`R_i = |w_i/g_i|` of eq. 17,
:math:`\|w\|/\|g\| = \sqrt{\sum_i g_i^2 R_i^2 / \sum_i g_i^2}`.

Groups with ``"trust": False`` (biases and normalisation weights, see
:func:`realnets.optim.param_groups`) take :math:`\lambda = 1`: plain SGD with momentum.
"""

from __future__ import annotations

import torch

from realnets.optim.base import LayerwiseSGD, host_norms, on_host
from realnets.optim.registry import check_flag, check_hparam, register_optimizer

__all__ = ["LARS"]


class LARS(LayerwiseSGD):
    r"""LARS (You et al. 2017, Algorithm 1); optional LARC clipping (apex ``LARC.py``, clip mode).

    Args:
        params: parameters, ``(name, parameter)`` pairs or groups (groups may set ``"trust": False``).
        lr: global rate :math:`\gamma_t` (>= 0).
        momentum: heavy-ball momentum m in [0, 1).
        weight_decay: :math:`\beta` >= 0, added to the gradient and to the trust-ratio denominator.
        trust_coefficient: :math:`\eta` > 0 (default 0.001, You et al.).
        eps: added to the denominator of :math:`\lambda` (>= 0; default 0: the zero-norm cases are guarded).
        clip: LARC clip mode, :math:`\lambda \leftarrow \min(\lambda/\gamma_t, 1)`.
        nesterov: Nesterov momentum.
        ratio_every: recompute the layer ratios every this many steps and reuse them in between (default 1:
            every step, the paper's rule; larger values trade exactness for speed).
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        eps: float = 0.0,
        clip: bool = False,
        nesterov: bool = False,
        ratio_every: int = 1,
    ) -> None:
        check_hparam("trust_coefficient", trust_coefficient, low=0.0, low_open=True)
        check_hparam("eps", eps, low=0.0)
        check_flag("clip", clip)
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "weight_decay": weight_decay,
                "trust_coefficient": trust_coefficient,
                "eps": eps,
                "clip": clip,
                "nesterov": nesterov,
                "ratio_every": ratio_every,
            },
        )

    def _ratios(self, group, params, grads):
        trust, wd, eps, lr = group["trust_coefficient"], group["weight_decay"], group["eps"], group["lr"]
        n = len(params)
        if on_host(params):
            values, ratios = host_norms([*params, *grads]), []
            for w_norm, g_norm in zip(values[:n], values[n:]):
                ratio = trust * w_norm / (g_norm + wd * w_norm + eps) if w_norm > 0 and g_norm > 0 else 1.0
                ratios.append(min(ratio / lr, 1.0) if group["clip"] and lr > 0 else ratio)
            return ratios
        norms = torch._foreach_norm([*params, *grads])  # one kernel for both
        w_norm, g_norm = torch.stack(norms[:n]), torch.stack(norms[n:])
        ratio = trust * w_norm / (g_norm + wd * w_norm + eps)
        ratio = torch.where((w_norm > 0) & (g_norm > 0), ratio, torch.ones_like(ratio))
        if group["clip"] and lr > 0:
            ratio = torch.clamp(ratio / lr, max=1.0)
        return list(ratio.unbind())


def _lars_kwargs(hp):
    return {
        "ratio_every": hp["ratio_every"],
        "lr": hp["lr"],
        "momentum": hp["momentum"],
        "weight_decay": hp["weight_decay"],
        "trust_coefficient": hp["trust_coefficient"],
        "eps": hp["lars_eps"],
        "clip": hp["lars_clip"],
    }


register_optimizer(
    "lars",
    LARS,
    description="LARS: layer-wise trust ratio ||w||/(||g|| + beta ||w||) (You et al. 2017)",
    kwargs=_lars_kwargs,
    defaults={"trust_coefficient": 0.001, "lars_eps": 0.0, "lars_clip": False, "ratio_every": 1},
    has_momentum_buffer=True,
    source="You et al. 2017, arXiv:1708.03888, Alg. 1; seed 001, eq. 23",
)

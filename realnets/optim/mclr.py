r"""MCLR, the median-curvature learning rate (Gao & Zhong, seed 001, sec. 4.2, eq. 20-22).

Seed 001 approximates a layer's median radius of curvature (eq. 17, :math:`R_i \approx |w_i/g_i|`) by the
ratio of medians, with weight decay :math:`\beta` (eq. 22),

.. math::

    R_m \approx \frac{\operatorname{median}_i |w_i|}{\operatorname{median}_i |g_i + \beta w_i|},
    \qquad \eta_g = \gamma R_m \quad \text{(eq. 21)},

and updates the layer with rate :math:`\eta_g` (``lr`` is :math:`\gamma`; torch's heavy-ball momentum on
:math:`R_m (g + \beta w)`, momentum 0 being the paper's rule).

``signed=True`` takes eq. 20/22 literally, :math:`R_m = |w_m / d_m|` with :math:`w_m`, :math:`d_m` the
medians of the signed values of :math:`w` and :math:`g + \beta w`. It fails in practice: weights and
gradients of a layer are spread around 0, so both signed medians are near 0 (failure conditions eq. 18-19)
and their ratio is noise of either size; magnitudes (the default) keep both medians of the order of the
typical |w| and |g|.

With weight decay the denominator is the median of the decayed gradient's magnitude,
:math:`\operatorname{median}|g + \beta w|`; eq. 22 as printed adds the two medians, :math:`g_m + \beta w_m`.
The two agree at :math:`\beta = 0` and differ otherwise.

Medians are torch's (the lower of the two middle values for an even count). :math:`R_m = 1` when either
median is 0 or the ratio is not finite.
"""

from __future__ import annotations

import torch

from realnets.optim.base import LayerwiseSGD, on_host
from realnets.optim.registry import check_flag, register_optimizer

__all__ = ["MCLR"]


class MCLR(LayerwiseSGD):
    r"""MCLR: layer rate :math:`\gamma\,\mathrm{median}|w| / \mathrm{median}|g + \beta w|` (eq. 20-22).

    Args:
        params: parameters, ``(name, parameter)`` pairs or groups (groups may set ``"trust": False``).
        lr: :math:`\gamma` >= 0.
        momentum: heavy-ball momentum in [0, 1) (0: the paper's rule).
        weight_decay: :math:`\beta` >= 0 (eq. 22).
        signed: the literal signed medians of eq. 20 (see the module note on why they fail).
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
        signed: bool = False,
        nesterov: bool = False,
        ratio_every: int = 1,
    ) -> None:
        check_flag("signed", signed)
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "weight_decay": weight_decay,
                "signed": signed,
                "nesterov": nesterov,
                "ratio_every": ratio_every,
            },
        )

    def _ratios(self, group, params, grads):
        wd, signed = group["weight_decay"], group["signed"]
        d = torch._foreach_add(grads, params, alpha=wd) if wd != 0 else grads
        if on_host(params) and params[0].dtype in _NUMPY_DTYPES:
            ratios = []
            big = torch.finfo(params[0].dtype).max  # "finite" in the parameters' dtype, as on the device
            for w, dw in zip(params, d):
                num, den = _host_median(w, signed), _host_median(dw, signed)
                ratio = abs(num / den) if num != 0 and den != 0 else 1.0
                ratios.append(ratio if 0 < ratio <= big else 1.0)
            return ratios
        ratios = []
        for w, dw in zip(params, d):
            num = (w if signed else w.abs()).flatten().median()
            ratio = (num / (dw if signed else dw.abs()).flatten().median()).abs()
            ratios.append(torch.where(torch.isfinite(ratio) & (ratio > 0), ratio, torch.ones_like(ratio)))
        return ratios


_NUMPY_DTYPES = (torch.float16, torch.float32, torch.float64)


def _host_median(t: torch.Tensor, signed: bool = False) -> float:
    """torch's (lower) median by numpy's in-place selection on a copy, several times faster on the CPU."""
    values = (t.detach().clone() if signed else t.detach().abs()).reshape(-1).numpy()
    k = (values.size - 1) // 2
    values.partition(k)
    return float(values[k])


def _mclr_kwargs(hp):
    return {
        "ratio_every": hp["ratio_every"],
        "lr": hp["lr"],
        "momentum": hp["momentum"],
        "weight_decay": hp["weight_decay"],
        "signed": hp["mclr_signed"],
    }


register_optimizer(
    "mclr",
    MCLR,
    description="MCLR: layer rate gamma median|w| / median|g + beta w| (seed 001, eq. 20-22)",
    kwargs=_mclr_kwargs,
    defaults={"mclr_signed": False, "ratio_every": 1},
    has_momentum_buffer=True,
    source="seed 001, sec. 4.2, eq. 20-22",
)

r"""LAMB, layer-wise adaptive moments (You et al. 2019, arXiv:1904.00962, Algorithm 2).

For each layer (parameter tensor) with weights :math:`w`, gradient :math:`g` (optionally divided by
:math:`\max(1, \|G\|/c)`, :math:`\|G\|` the global gradient norm over all parameters and :math:`c` =
``max_grad_norm``), step :math:`t`, rate :math:`\eta_t` and decoupled weight decay :math:`\lambda`:

.. math::

    m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \\
    \hat m &= m/(1-\beta_1^t), \qquad \hat v = v/(1-\beta_2^t) \quad \text{(bias correction, optional)}, \\
    r &= \frac{\hat m}{\sqrt{\hat v} + \epsilon} + \lambda w, \qquad
    w \leftarrow w - \eta_t \, \frac{\phi(\|w\|)}{\|r\|} \, r ,

with :math:`\phi` the identity and the trust ratio :math:`\|w\|/\|r\|` replaced by 1 when either norm is 0
or the group has ``"trust": False`` (biases and normalisation weights).
"""

from __future__ import annotations

import math

import torch

from realnets.optim.base import host_norms, on_host
from realnets.optim.registry import check_flag, check_hparam, register_optimizer

__all__ = ["LAMB"]


class LAMB(torch.optim.Optimizer):
    r"""LAMB (You et al. 2019, Algorithm 2) with optional global gradient-norm clipping.

    Args:
        params: parameters, ``(name, parameter)`` pairs or groups (groups may set ``"trust": False``).
        lr: :math:`\eta_t` >= 0.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1) (default (0.9, 0.999)).
        eps: :math:`\epsilon` > 0 (default 1e-6).
        weight_decay: decoupled :math:`\lambda` >= 0 (default 0.01).
        bias_correction: divide the moments by :math:`1-\beta^t` (default True).
        max_grad_norm: clip the global gradient norm to this value before the moments (None: off).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.01,
        bias_correction: bool = True,
        max_grad_norm: float | None = None,
    ) -> None:
        check_hparam("lr", lr, low=0.0)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
        check_hparam("beta1", betas[0], low=0.0, high=1.0, high_open=True)
        check_hparam("beta2", betas[1], low=0.0, high=1.0, high_open=True)
        check_hparam("eps", eps, low=0.0, low_open=True)
        check_hparam("weight_decay", weight_decay, low=0.0)
        check_flag("bias_correction", bias_correction)
        if max_grad_norm is not None:
            check_hparam("max_grad_norm", max_grad_norm, low=0.0, low_open=True)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "bias_correction": bias_correction,
            "max_grad_norm": max_grad_norm,
            "trust": True,
            "lr_scale": 1.0,
        }
        super().__init__(params, defaults)
        self._rates: dict[int, tuple[list[str], torch.Tensor | list[float] | None, float]] = {}

    def _global_clip(self) -> torch.Tensor | None:
        max_norm = self.defaults["max_grad_norm"]
        if max_norm is None:
            return None
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return None
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        return torch.clamp(total / max_norm, min=1.0)

    @torch.no_grad()
    def step(self, closure=None):
        """One LAMB update of every parameter with a gradient; ``closure`` (optional) recomputes the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        clip = self._global_clip()
        for index, group in enumerate(self.param_groups):
            names_all = group.get("param_names") or [f"{index}.{j}" for j in range(len(group["params"]))]
            picked = [(n, p) for n, p in zip(names_all, group["params"]) if p.grad is not None]
            if not picked:
                continue
            names, params = [n for n, _ in picked], [p for _, p in picked]
            grads = [p.grad for p in params]
            if any(g.is_sparse for g in grads):
                raise RuntimeError("LAMB does not support sparse gradients")
            if clip is not None:
                grads = torch._foreach_div(grads, clip)
            beta1, beta2 = group["betas"]
            exp_avg, exp_avg_sq, steps = [], [], []
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                exp_avg.append(state["exp_avg"])
                exp_avg_sq.append(state["exp_avg_sq"])
                steps.append(state["step"])
            torch._foreach_lerp_(exp_avg, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sq, beta2)
            torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1 - beta2)
            if group["bias_correction"]:
                corr1 = [1.0 / (1 - beta1**t) for t in steps]
                corr2 = [1.0 / math.sqrt(1 - beta2**t) for t in steps]
            else:
                corr1 = corr2 = [1.0] * len(steps)
            denom = torch._foreach_sqrt(exp_avg_sq)
            torch._foreach_mul_(denom, corr2)
            torch._foreach_add_(denom, group["eps"])
            update = torch._foreach_div(exp_avg, denom)
            torch._foreach_mul_(update, corr1)
            if group["weight_decay"] != 0:
                torch._foreach_add_(update, params, alpha=group["weight_decay"])
            ratio = None
            if group["trust"]:
                n = len(params)
                if on_host(params):  # host floats: cheaper than a handful of tiny tensor ops
                    values = host_norms([*params, *update])
                    ratio = [a / b if a > 0 and b > 0 else 1.0 for a, b in zip(values[:n], values[n:])]
                    torch._foreach_mul_(update, ratio)
                else:
                    norms = torch.stack(torch._foreach_norm([*params, *update]))  # one kernel
                    w_norm, r_norm = norms[:n], norms[n:]
                    ratio = torch.where((w_norm > 0) & (r_norm > 0), w_norm / r_norm, torch.ones_like(w_norm))
                    torch._foreach_mul_(update, list(ratio.unbind()))
            self._rates[index] = (names, ratio, float(group["lr"]))
            torch._foreach_add_(params, update, alpha=-group["lr"])
        return loss

    def last_ratios(self) -> dict[str, float]:
        """Per layer (parameter name): the trust ratio ``||w|| / ||r||`` of the last step (1 without one)."""
        out: dict[str, float] = {}
        for names, ratio, _ in self._rates.values():
            values = (
                [1.0] * len(names) if ratio is None else ratio if isinstance(ratio, list) else ratio.tolist()
            )
            out.update(zip(names, values))
        return out

    def last_rates(self) -> dict[str, float]:
        """Per layer (parameter name): ``lr * trust ratio`` of the last step (``lr`` without one)."""
        lrs = {name: lr for names, _, lr in self._rates.values() for name in names}
        return {name: lrs[name] * ratio for name, ratio in self.last_ratios().items()}

    def momentum_buffer(self, param: torch.Tensor) -> torch.Tensor | None:
        """LAMB has Adam moments, not a heavy-ball buffer: always ValueError."""
        raise ValueError(
            "Invalid optimizer: LAMB has no heavy-ball momentum buffer (expected SGD-style momentum)"
        )


def _lamb_kwargs(hp):
    max_norm = hp["max_grad_norm"]
    return {
        "lr": hp["lr"],
        "betas": (hp["beta1"], hp["beta2"]),
        "eps": hp["lamb_eps"],
        "weight_decay": hp["weight_decay"],
        "bias_correction": hp["bias_correction"],
        "max_grad_norm": None if max_norm in (None, 0, 0.0) else max_norm,
    }


register_optimizer(
    "lamb",
    LAMB,
    description="LAMB: Adam moments with a layer-wise trust ratio ||w||/||r|| (You et al. 2019)",
    kwargs=_lamb_kwargs,
    defaults={"beta1": 0.9, "beta2": 0.999, "lamb_eps": 1e-6, "bias_correction": True, "max_grad_norm": 0.0},
    source="You et al. 2019, arXiv:1904.00962, Alg. 2",
    uses_momentum=False,
)

r"""CBLR, the curvature-based learning rate (Gao & Zhong, seed 001, sec. 4.1, eq. 9-11).

Each parameter :math:`w_i` gets the radius of curvature of its 1-D loss curve and a rate proportional to it:

.. math::

    R_i = \frac{\big(1 + g_i^2\big)^{3/2}}{|H_{ii}|} \quad \text{(eq. 9)}, \qquad
    \eta_i = \gamma R_i \quad \text{(eq. 10)}, \qquad \Delta w_i = -\eta_i g_i \quad \text{(eq. 11)},

with :math:`g_i = \partial L/\partial w_i`, :math:`H_{ii} = \partial^2 L/\partial w_i^2` and
:math:`\gamma` the ``lr``. :math:`R_i` is clamped to :math:`[r_{\min}, r_{\max}]` (:math:`H_{ii} = 0` gives
:math:`r_{\max}`). The step is torch's heavy-ball momentum on :math:`R \odot (g + \beta w)` (momentum 0:
eq. 11). Every parameter gets its own curvature, so groups with ``"trust": False`` are treated alike.

The Hessian diagonal is refreshed every ``refresh_every`` steps (and kept in between), by

* ``hessian="hutchinson"`` (default): :math:`\mathrm{diag}(H) \approx \frac{1}{K}\sum_k z_k \odot H z_k`
  with Rademacher :math:`z_k` (Bekas, Kokiopoulou & Saad 2007), :math:`K` = ``n_probes``, Hessian-vector
  products by double backward; the probes come from a generator seeded with ``(seed, step)``, so a resumed
  run draws the same probes;
* ``hessian="exact"``: one double-backward pass per coordinate (tiny models only);
* ``hessian="secant"``: no closure, seed 001's eq. 15 with :math:`b_i = 0`,
  :math:`|H_{ii}| \approx |g_i/w_i|`, recomputed at every step (then :math:`R_i` is eq. 16 with
  :math:`b_i = 0`).

``hessian_ema`` :math:`\in [0, 1)` averages successive refreshes (0: the latest estimate only).

Closure contract (``hutchinson`` and ``exact``): ``step(closure)`` needs ``closure()`` to recompute the
loss of the current batch *with its graph* and return it **without** calling ``backward`` (the optimizer
differentiates it twice itself). The update uses ``p.grad`` as set by the caller's ``backward``; the
closure is used only for the Hessian diagonal and is called only on refresh steps.
"""

from __future__ import annotations

import torch

from realnets.optim.base import LayerwiseSGD
from realnets.optim.registry import check_hparam, register_optimizer

__all__ = ["CBLR", "exact_hessian_diagonal", "hutchinson_hessian_diagonal"]

HESSIAN_MODES = ("hutchinson", "exact", "secant")


def _first_grads(loss: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    return list(torch.autograd.grad(loss, params, create_graph=True, allow_unused=True))


def hutchinson_hessian_diagonal(
    loss: torch.Tensor, params: list[torch.Tensor], n_probes: int, generator: torch.Generator
) -> list[torch.Tensor]:
    r"""Hutchinson's estimate :math:`\frac1K\sum_k z_k \odot H z_k` of diag(H), Rademacher :math:`z_k`.

    ``loss`` must carry its graph (no ``backward`` called on it). Parameters the gradient does not depend
    on (zero second derivatives) get zeros.
    """
    grads = _first_grads(loss, params)
    live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
    diag = [torch.zeros_like(p) for p in params]
    for k in range(n_probes):
        zs = [
            torch.randint(0, 2, params[i].shape, generator=generator, device=params[i].device)
            .to(params[i].dtype)
            .mul_(2)
            .sub_(1)
            for i in live
        ]
        hvs = torch.autograd.grad(
            [grads[i] for i in live],
            [params[i] for i in live],
            grad_outputs=zs,
            retain_graph=k < n_probes - 1,
            allow_unused=True,
        )
        for i, z, hv in zip(live, zs, hvs):
            if hv is not None:
                diag[i].add_(z * hv.detach())
    return [d.div_(n_probes) for d in diag]


def exact_hessian_diagonal(loss: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """diag(H) exactly, one double-backward pass per coordinate (tiny models only)."""
    grads = _first_grads(loss, params)
    diag = [torch.zeros_like(p) for p in params]
    for p, g, out in zip(params, grads, diag):
        if g is None or not g.requires_grad:
            continue
        flat_g, flat_out = g.reshape(-1), out.view(-1)
        for i in range(flat_g.numel()):
            (row,) = torch.autograd.grad(flat_g[i], p, retain_graph=True, allow_unused=True)
            if row is not None:
                flat_out[i] = row.reshape(-1)[i].detach()
    return diag


class CBLR(LayerwiseSGD):
    r"""CBLR: per-parameter rate :math:`\gamma (1+g_i^2)^{3/2}/|H_{ii}|`, clamped (seed 001, eq. 9-11).

    Args:
        params: parameters, ``(name, parameter)`` pairs or groups.
        lr: :math:`\gamma` >= 0.
        momentum: heavy-ball momentum in [0, 1) (0: eq. 11).
        weight_decay: :math:`\beta` >= 0.
        r_min, r_max: clamp of :math:`R_i`, 0 <= r_min <= r_max, r_max > 0 finite.
        refresh_every: steps between Hessian-diagonal refreshes (>= 1).
        n_probes: Rademacher probes per Hutchinson refresh (>= 1).
        hessian: ``"hutchinson"``, ``"exact"`` or ``"secant"`` (see the module docstring).
        hessian_ema: weight of the previous diagonal when refreshing, in [0, 1).
        seed: seed of the probes (an integer >= 0).
        nesterov: Nesterov momentum.

    Attributes:
        needs_closure: True: callers pass ``step(closure)`` (see the module docstring's contract).
    """

    needs_closure = True

    def __init__(
        self,
        params,
        lr: float = 0.1,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        r_min: float = 1e-6,
        r_max: float = 10.0,
        refresh_every: int = 10,
        n_probes: int = 1,
        hessian: str = "hutchinson",
        hessian_ema: float = 0.0,
        seed: int = 0,
        nesterov: bool = False,
    ) -> None:
        check_hparam("r_min", r_min, low=0.0)
        check_hparam("r_max", r_max, low=0.0, low_open=True)
        if r_min > r_max:
            raise ValueError(f"Invalid r_min: {r_min!r} (expected r_min <= r_max = {r_max!r})")
        check_hparam("refresh_every", refresh_every, low=1, integer=True)
        check_hparam("n_probes", n_probes, low=1, integer=True)
        if hessian not in HESSIAN_MODES:
            raise ValueError(f"Invalid hessian: {hessian!r} (expected one of {', '.join(HESSIAN_MODES)})")
        check_hparam("hessian_ema", hessian_ema, low=0.0, high=1.0, high_open=True)
        check_hparam("seed", seed, low=0, integer=True)
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "weight_decay": weight_decay,
                "r_min": r_min,
                "r_max": r_max,
                "refresh_every": int(refresh_every),
                "n_probes": int(n_probes),
                "hessian": hessian,
                "hessian_ema": hessian_ema,
                "seed": int(seed),
                "nesterov": nesterov,
            },
        )

    def _uses_ratio(self, group):
        return True

    def _live_params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"] if p.grad is not None]

    def _needs_refresh(self, params: list[torch.Tensor]) -> bool:
        every = self.defaults["refresh_every"]
        return any(
            "hess_diag" not in self.state[p] or self.state[p].get("step", 0) % every == 0 for p in params
        )

    def refresh_hessian(self, closure) -> torch.Tensor:
        """Recompute the Hessian diagonal of every parameter with a gradient from ``closure()``'s loss."""
        params = self._live_params()
        mode = self.defaults["hessian"]
        with torch.enable_grad():
            loss = closure()
            if not (isinstance(loss, torch.Tensor) and loss.requires_grad):
                raise RuntimeError(
                    "CBLR closure must return the loss with its graph (no backward called on it)"
                )
            if mode == "exact":
                diag = exact_hessian_diagonal(loss, params)
            else:
                step = self.state[params[0]].get("step", 0)
                generator = torch.Generator(device=params[0].device)
                generator.manual_seed(self.defaults["seed"] * 1_000_003 + step)
                diag = hutchinson_hessian_diagonal(loss, params, self.defaults["n_probes"], generator)
        ema = self.defaults["hessian_ema"]
        for p, d in zip(params, diag):
            old = self.state[p].get("hess_diag")
            self.state[p]["hess_diag"] = d if old is None or ema == 0 else old.mul(ema).add_(d, alpha=1 - ema)
        return loss.detach()

    @torch.no_grad()
    def step(self, closure=None):
        """One CBLR update; ``closure`` (loss with graph, no backward) is needed on refresh steps.

        Raises:
            RuntimeError: a Hessian refresh is due (``hutchinson``/``exact``) and no closure was given.
        """
        loss = None
        params = self._live_params()
        if not params:
            return None
        if self.defaults["hessian"] != "secant" and self._needs_refresh(params):
            if closure is None:
                raise RuntimeError(
                    "CBLR needs step(closure) on Hessian refresh steps: closure() must return "
                    "the batch loss with its graph, without calling backward"
                )
            loss = self.refresh_hessian(closure)
        for index, group in enumerate(self.param_groups):
            names, group_params, grads = self._with_grad(index, group)
            if not group_params:
                continue
            ratios = self._ratios(group, group_params, grads)
            self._rates[index] = (names, ratios, float(group["lr"]))
            self._update(group, group_params, grads, ratios)
            for p in group_params:
                self.state[p]["step"] = self.state[p].get("step", 0) + 1
        return loss

    def _ratios(self, group, params, grads):
        if group["hessian"] == "secant":
            curv = [
                torch.where(w != 0, g / torch.where(w != 0, w, 1.0), 0.0).abs() for w, g in zip(params, grads)
            ]
        else:
            curv = [self.state[p]["hess_diag"].abs() for p in params]
        numerators = torch._foreach_pow(torch._foreach_add(torch._foreach_mul(grads, grads), 1.0), 1.5)
        radii = torch._foreach_div(numerators, curv)  # |H| = 0 gives inf, clamped to r_max
        return [r.clamp_(group["r_min"], group["r_max"]) for r in radii]

    def curvature_radii(self) -> dict[str, torch.Tensor]:
        """The clamped radii R of the last step per parameter name (copies)."""
        out = {}
        for names, ratios, _ in self._rates.values():
            out.update({n: r.detach().clone() for n, r in zip(names, ratios)})
        return out


def _cblr_kwargs(hp):
    return {
        "lr": hp["lr"],
        "momentum": hp["momentum"],
        "weight_decay": hp["weight_decay"],
        "r_min": hp["r_min"],
        "r_max": hp["r_max"],
        "refresh_every": hp["refresh_every"],
        "n_probes": hp["n_probes"],
        "hessian": hp["hessian"],
        "hessian_ema": hp["hessian_ema"],
        "seed": hp["hessian_seed"],
    }


register_optimizer(
    "cblr",
    CBLR,
    description="CBLR: per-parameter rate gamma (1+g^2)^1.5/|H_ii|, Hutchinson diagonal (seed 001, eq. 9-11)",
    kwargs=_cblr_kwargs,
    defaults={
        "r_min": 1e-6,
        "r_max": 10.0,
        "refresh_every": 10,
        "n_probes": 1,
        "hessian": "hutchinson",
        "hessian_ema": 0.0,
        "hessian_seed": 0,
    },
    has_momentum_buffer=True,
    needs_closure=True,
    source="seed 001, sec. 4.1, eq. 9-11",
)

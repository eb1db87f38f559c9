"""theory: exact, symbolic truth for the batch-size papers (sympy, with NumPy functions lambdified).

Submodules (import them directly, e.g. ``from theory.rebound_walk import utility``):

* ``rebound_walk`` and ``ba_momentum`` (seed 000): the Gaussian walk with rebound, its utility and optimal
  batch m*, the BA-Momentum recurrence;
* ``grad_shrinkage`` and ``curvature`` (seed 001): E|g| ~ 1/sqrt(n) and its finite-population form, the
  strides, curvature radius, LARS and PercentDelta as statistics of |w/g|;
* ``critical_batch`` (seed 002, McCandlish et al., Ma et al.): noise scales, speed-up, critical batch;
* ``convergence`` and ``comm`` (seed 003): the strongly convex adaptive-batch bound, ring all-reduce time;
* ``noise_scale`` (seed 004): g = eps/(1-m)(N/B - 1) and the stationary variance of SGD on a quadratic.

Each derivation exposes its sympy expression (``*_expr()``), a NumPy function, and the paper's printed
form where it differs. This package never imports ``sim``, ``realnets`` or torch.
"""

"""theory: exact, symbolic truth for the batch-size papers (sympy, with NumPy functions lambdified).

Submodules: ``rebound_walk`` (seed 000), ``grad_shrinkage`` and ``curvature`` (seed 001),
``critical_batch`` (seed 002, McCandlish et al., Ma et al.), ``convergence`` and ``comm`` (seed 003),
``noise_scale`` (seed 004). Import them directly, e.g. ``from theory.rebound_walk import utility``.
This package never imports ``sim``, ``realnets`` or torch.
"""

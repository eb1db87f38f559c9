"""sim: fast, seeded, vectorised Monte-Carlo of the stochastic processes of the batch-size papers.

NumPy/SciPy only; never imports ``theory``, ``realnets`` or torch. Every stochastic function takes
``seed`` or ``rng`` and returns estimates with standard errors (:class:`sim.estimate.Estimate`).
"""

from sim.estimate import Estimate, estimate

__all__ = ["Estimate", "estimate"]

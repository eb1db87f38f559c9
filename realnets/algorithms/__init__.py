"""Batch-size and learning-rate policies, and the schedules they are made of.

Importing a module of this package registers its algorithms (see :mod:`realnets.registry`); the
registry imports every module here on first lookup.
"""

from realnets.algorithms.base import Grow, Policy, ScheduledPolicy, StepInfo, Update

__all__ = ["Grow", "Policy", "ScheduledPolicy", "StepInfo", "Update"]

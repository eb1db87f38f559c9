"""Seed 000, sec. 4.4 and fig. 5: when the batch-size boom of a BA run starts, and when a fixed-batch run's
loss stops falling. The one definition of each, used by ``realnets compare`` and by paper_checks.

The paper calls the boom "a concentrated period where the batch size frequently increases to larger values"
(80,000-110,000 iterations at lr 0.005, 60,000-80,000 at lr 0.01) and places it where Mini-32-Momentum
"reaches its lowest possible loss and after which it fluctuates around that loss". Neither point is defined
there; here:

* **Boom** (:func:`boom_period`): an update is *grown* when its batch exceeds the median batch of the first
  :data:`EARLY_FRACTION` of the run's updates (m0 for BA, whose batch starts at m0). The updates are cut into
  at most :data:`BOOM_BINS` equal bins; the boom is the run of bins ``[start, end)`` whose share of grown
  updates differs most, in likelihood, from the share outside it (the maximum-likelihood fit of a Bernoulli
  rate that is higher inside one interval than outside, an "epidemic" change-point model), with the inside
  share above the outside one. Its start and end are given as updates and as epochs of data. No grown update
  at all: no boom (``None``).
* **Loss stops falling** (:func:`loss_plateau`): on the full training loss at each evaluation (the engine logs
  it per epoch, seed 000's measure), the first evaluation after the initial one after which the loss never
  again falls below
  ``1 / PLATEAU_FACTOR`` of its value there (a factor of 2 on the paper's log-scale plots). It counts as
  reached only when at least :data:`PLATEAU_TAIL` of the budget follows it (a loss still falling by that
  factor near the end has not stopped); else ``None``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "BOOM_BINS",
    "EARLY_FRACTION",
    "PLATEAU_FACTOR",
    "PLATEAU_TAIL",
    "boom_period",
    "loss_plateau",
]

#: The early median batch (the reference size, m0 for BA) is taken over this share of the first updates.
EARLY_FRACTION = 0.1
#: At most this many equal bins of updates for the change-point search (O(bins^2)).
BOOM_BINS = 200
#: The loss has stopped falling once it never again falls below 1/PLATEAU_FACTOR of its value.
PLATEAU_FACTOR = 2.0
#: ... and at least this share of the budget (in samples) follows that point.
PLATEAU_TAIL = 0.25


def _bernoulli_ll(k: float, n: float) -> float:
    """The maximised log-likelihood of k successes in n Bernoulli trials."""
    if n <= 0 or k <= 0 or k >= n:
        return 0.0
    p = k / n
    return k * math.log(p) + (n - k) * math.log(1 - p)


def _epoch_of(samples: float, n_train: int) -> float:
    return samples / n_train


def boom_period(steps: Sequence[Mapping[str, Any]], n_train: int) -> dict[str, Any] | None:
    """The batch-size boom of one run (see the module docstring for the definition).

    Args:
        steps: the run's ``metrics.jsonl`` step records in order (``batch_size`` and ``samples``, the samples
            drawn so far including this update's batch).
        n_train: training-set size, for epochs.

    Returns:
        ``None`` without a grown update, else ``{"start_update", "end_update", "start_epoch", "end_epoch",
        "share_inside", "share_outside", "llr", "reference_batch"}``: updates are 1-based and ``end`` is the
        last update inside the boom; the epochs are the samples drawn before the start update and after the
        end update; ``llr`` the log-likelihood ratio of the fit against one rate for the whole run.
    """
    if not steps:
        return None
    batches = [int(r["batch_size"]) for r in steps]
    n_early = max(1, math.ceil(EARLY_FRACTION * len(batches)))
    reference = statistics.median(batches[:n_early])
    grown = [b > reference for b in batches]
    if not any(grown):
        return None
    n_bins = min(BOOM_BINS, len(batches))
    edges = [round(i * len(batches) / n_bins) for i in range(n_bins + 1)]
    counts = [sum(grown[edges[i] : edges[i + 1]]) for i in range(n_bins)]
    cum_k, cum_n = [0], [0]
    for i in range(n_bins):
        cum_k.append(cum_k[-1] + counts[i])
        cum_n.append(edges[i + 1])
    total_k, total_n = cum_k[-1], cum_n[-1]
    null = _bernoulli_ll(total_k, total_n)
    best = (-math.inf, 0, n_bins)
    for a in range(n_bins):
        for b in range(a + 1, n_bins + 1):
            k_in, n_in = cum_k[b] - cum_k[a], cum_n[b] - cum_n[a]
            k_out, n_out = total_k - k_in, total_n - n_in
            if n_out and k_in / n_in <= k_out / n_out:
                continue  # the boom is where the batch grows more often than elsewhere
            ll = _bernoulli_ll(k_in, n_in) + _bernoulli_ll(k_out, n_out)
            if ll > best[0] + 1e-12:
                best = (ll, a, b)
    ll, a, b = best
    start, end = edges[a], edges[b] - 1  # 0-based indices of the first and last update inside
    n_in, k_in = cum_n[b] - cum_n[a], cum_k[b] - cum_k[a]
    n_out, k_out = total_n - n_in, total_k - k_in
    return {
        "start_update": start + 1,
        "end_update": end + 1,
        "start_epoch": _epoch_of(steps[start]["samples"] - steps[start]["batch_size"], n_train),
        "end_epoch": _epoch_of(steps[end]["samples"], n_train),
        "share_inside": k_in / n_in,
        "share_outside": k_out / n_out if n_out else math.nan,
        "llr": ll - null,
        "reference_batch": reference,
    }


def loss_plateau(epochs: Sequence[Mapping[str, Any]], n_train: int) -> dict[str, Any] | None:
    """Where a run's full training loss stops falling (see the module docstring for the definition).

    Args:
        epochs: the run's ``metrics.jsonl`` epoch records in order (``train_loss``, ``step``, ``samples``).
        n_train: training-set size, for epochs.

    Returns:
        ``None`` when the loss is still falling by the factor within the last :data:`PLATEAU_TAIL` of the
        budget (or has fewer than two finite evaluations), else ``{"update", "epoch", "loss", "lowest"}``:
        the update count and epoch of that evaluation, its loss and the lowest loss after it.
    """
    records = [r for r in epochs if isinstance(r.get("train_loss"), (int, float))]
    records = [r for r in records if math.isfinite(r["train_loss"])]
    if len(records) < 2:
        return None
    budget = records[-1]["samples"]
    later_min = math.inf
    suffix_min = [math.inf] * len(records)
    for i in range(len(records) - 1, -1, -1):
        suffix_min[i] = later_min
        later_min = min(later_min, records[i]["train_loss"])
    for i, r in enumerate(records):
        if i and suffix_min[i] >= r["train_loss"] / PLATEAU_FACTOR:  # after the initial evaluation
            if budget - r["samples"] < PLATEAU_TAIL * budget:
                return None
            lowest = min(r["train_loss"], suffix_min[i])
            return {
                "update": int(r.get("step", 0)),
                "epoch": _epoch_of(r["samples"], n_train),
                "loss": r["train_loss"],
                "lowest": lowest,
            }
    return None

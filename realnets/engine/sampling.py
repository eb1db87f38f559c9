r"""Where each update's samples come from: epoch permutations, or fresh draws from all of X per step.

Two modes, both without replacement *within* an update and both counting the budget in samples:

``epoch`` (default)
    Epoch ``e`` uses the permutation ``randperm(N)`` of a generator seeded with ``(seed, e)``; the k-th
    sample drawn in a run is ``perm_{k // N}[k % N]``. Every sample is drawn exactly once per epoch, and a
    batch that crosses an epoch boundary takes the rest of its samples from the next epoch's permutation.
``fresh``
    Seed 000's Algorithm 1 literally: every update draws without replacement from all of
    :math:`\mathcal X` (line 8: :math:`\mathcal Y_t \leftarrow \mathcal Y_t \cup \text{sample}(\mathcal X -
    \mathcal Y_t)`), i.e. along the permutation ``randperm(N)`` of a generator seeded with ``(seed, step)``,
    so no sample appears twice within one update however large the batch grows (up to N), and successive
    updates are independent. A batch asking for more than N samples wraps into a second permutation.

The sampler's position is the number of samples drawn and the update index, so a checkpoint needs no
sampler state. :meth:`step_room` is how many more samples the current update can take without repeating a
sample: to the end of the epoch's permutation (``epoch``), or the rest of X (``fresh``). :meth:`peek` returns
the indices the next draws would return without drawing them (a policy's look-ahead block is peeked, and only
the rows the update takes are drawn, so unused rows stay first in line).
"""

from __future__ import annotations

import torch

__all__ = ["SAMPLING_MODES", "EpochSampler", "FreshSampler", "make_sampler"]

SAMPLING_MODES = ("epoch", "fresh")


def _permutation(n: int, seed: int, index: int, salt: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed((seed * 1_000_003 + index + salt) % (2**63))
    return torch.randperm(n, generator=generator).to(device)


class EpochSampler:
    """Fresh samples without replacement from per-epoch permutations (``sampling = "epoch"``).

    Args:
        n: training-set size N.
        seed: run seed.
        device: where the index tensors live (the data lives there too).
    """

    mode = "epoch"

    def __init__(self, n: int, seed: int, device: torch.device) -> None:
        self.n = n
        self.seed = seed
        self.device = device
        self.drawn = 0
        self._step_start = 0
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.long)

    def permutation(self, epoch: int) -> torch.Tensor:
        """The permutation of epoch ``epoch`` (a pure function of the seed and the epoch)."""
        return _permutation(self.n, self.seed, epoch, 0, self.device)

    def _epoch_perm(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            self._perm, self._epoch = self.permutation(epoch), epoch
        return self._perm

    @property
    def epoch_left(self) -> int:
        """Fresh samples left in the current epoch."""
        return self.n - self.drawn % self.n

    def start_step(self, step: int) -> None:
        """Mark the start of update ``step`` (the epoch mode needs only the position)."""
        self._step_start = self.drawn

    def step_room(self) -> int:
        """Samples this update may still draw before its batch would leave the epoch's permutation."""
        return max(0, self.n - self._step_start % self.n - (self.drawn - self._step_start))

    def draw(self, count: int) -> torch.Tensor:
        """The next ``count`` indices, crossing into the next epoch's permutation when needed."""
        parts = []
        while count > 0:
            epoch, offset = divmod(self.drawn, self.n)
            take = min(count, self.n - offset)
            parts.append(self._epoch_perm(epoch)[offset : offset + take])
            self.drawn += take
            count -= take
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def peek(self, count: int, skip: int = 0) -> torch.Tensor:
        """The indices that ``draw(count)`` would return after ``skip`` more drawn samples, without drawing."""
        saved = dict(self.__dict__)  # counters and the cached permutation (tensors by reference)
        try:
            idx = self.draw(skip + count)
        finally:
            self.__dict__.clear()
            self.__dict__.update(saved)
        return idx[skip:]


class FreshSampler(EpochSampler):
    """Every update draws without replacement from all of X (``sampling = "fresh"``, seed 000 Algorithm 1)."""

    mode = "fresh"
    _SALT = 0x5EED_F8E5

    def __init__(self, n: int, seed: int, device: torch.device) -> None:
        super().__init__(n, seed, device)
        self._step = -1
        self._offset = 0
        self._wraps = 0

    def start_step(self, step: int) -> None:
        """Update ``step`` draws along its own permutation of X, from its start."""
        super().start_step(step)
        self._step, self._offset, self._wraps = step, 0, 0
        self._perm = _permutation(self.n, self.seed, step, self._SALT, self.device)

    def step_room(self) -> int:
        """Samples this update may still draw without repeating one (N minus the batch so far)."""
        return max(0, self.n - self._offset) if self._wraps == 0 else 0

    def draw(self, count: int) -> torch.Tensor:
        """The next ``count`` indices of this update's permutation (wrapping past N into a new one)."""
        if self._step < 0:
            raise RuntimeError("FreshSampler.draw before start_step (expected start_step(step) first)")
        parts = []
        while count > 0:
            if self._offset == self.n:
                self._wraps += 1
                self._offset = 0
                self._perm = _permutation(
                    self.n, self.seed, self._step, self._SALT + self._wraps, self.device
                )
            take = min(count, self.n - self._offset)
            parts.append(self._perm[self._offset : self._offset + take])
            self._offset += take
            self.drawn += take
            count -= take
        return parts[0] if len(parts) == 1 else torch.cat(parts)


def make_sampler(mode: str, n: int, seed: int, device: torch.device) -> EpochSampler:
    """The sampler of ``mode`` (``epoch`` or ``fresh``)."""
    if mode == "epoch":
        return EpochSampler(n, seed, device)
    if mode == "fresh":
        return FreshSampler(n, seed, device)
    raise ValueError(f"Invalid sampling: {mode!r} (expected one of {', '.join(SAMPLING_MODES)})")

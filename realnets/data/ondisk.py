"""Data that does not fit in memory: a map-style numpy-memmap data set read through torch's DataLoader.

A data set on disk is a folder with ``x.npy`` and ``y.npy`` (numpy ``.npy`` files, opened as read-only
memory maps, so only the rows a batch needs are read) and ``meta.json`` (task, classes, sizes).
:func:`write_memmap_dataset` writes one chunk by chunk; :class:`MemmapDataset` is the map-style view.

The budget stays exact because the engine's sampler (:mod:`realnets.engine.sampling`), not the DataLoader,
chooses the rows: :class:`IndexBatchSampler` is the DataLoader's ``batch_sampler`` and asks the engine's
sampler for the next ``k`` indices for each batch size ``k`` of a schedule (a list, or any iterable that
yields the next size), so the rows, their order and the count are the ones in-memory training would use,
with DataLoader workers reading ahead and pinned memory for the copy to the GPU. A batch is fetched with
one fancy-indexed read per worker (``__getitems__``), not one read per row.

Batch sizes decided one increment at a time (BA's ``Grow`` rounds) cannot be prefetched:
:meth:`MemmapDataset.rows` reads a given set of indices synchronously.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["IndexBatchSampler", "MemmapDataset", "make_loader", "write_memmap_dataset"]

_META = "meta.json"


def write_memmap_dataset(
    folder: str | Path,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    n: int,
    x_shape: tuple[int, ...],
    x_dtype: str = "float32",
    y_dtype: str = "int64",
    task: str = "classification",
    num_classes: int | None = None,
) -> Path:
    """Write ``n`` rows, given as ``(x_chunk, y_chunk)`` pairs, to ``folder`` without holding them in memory.

    Raises:
        ValueError: a chunk of the wrong shape, more or fewer than ``n`` rows, or an existing data set there.
    """
    folder = Path(folder)
    if (folder / _META).exists():
        raise ValueError(f"Invalid folder: {str(folder)!r} (holds a data set already; expected a new folder)")
    folder.mkdir(parents=True, exist_ok=True)
    x = np.lib.format.open_memmap(folder / "x.npy.tmp", mode="w+", dtype=x_dtype, shape=(n, *x_shape))
    y = np.lib.format.open_memmap(folder / "y.npy.tmp", mode="w+", dtype=y_dtype, shape=(n,))
    done = 0
    for xs, ys in chunks:
        xs, ys = np.asarray(xs), np.asarray(ys)
        if xs.shape[1:] != tuple(x_shape) or ys.shape != (xs.shape[0],) or done + xs.shape[0] > n:
            raise ValueError(
                f"Invalid chunk: x {xs.shape}, y {ys.shape} after {done} rows "
                f"(expected x (k, {', '.join(map(str, x_shape))}), y (k,), at most {n} rows in all)"
            )
        x[done : done + xs.shape[0]] = xs
        y[done : done + xs.shape[0]] = ys
        done += xs.shape[0]
    if done != n:
        raise ValueError(f"Invalid chunks: {done} rows (expected n = {n})")
    x.flush()
    y.flush()
    del x, y
    (folder / "x.npy.tmp").replace(folder / "x.npy")
    (folder / "y.npy.tmp").replace(folder / "y.npy")
    meta = {"n": n, "x_shape": list(x_shape), "task": task, "num_classes": num_classes}
    (folder / _META).write_text(json.dumps(meta, indent=2))
    return folder


class MemmapDataset(torch.utils.data.Dataset):
    """The rows of a :func:`write_memmap_dataset` folder, memory-mapped read-only (map-style).

    ``dataset[i]`` is ``(x_i, y_i)`` as tensors; ``dataset.__getitems__(indices)`` (what DataLoader calls
    with a batch sampler) reads the batch with one sorted fancy-indexed read and returns it stacked.
    """

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        if not (folder / _META).is_file():
            raise ValueError(
                f"Invalid folder: {str(folder)!r} (expected a data set with {_META}, x.npy, y.npy)"
            )
        self.folder = folder
        self.meta: dict[str, Any] = json.loads((folder / _META).read_text())
        self._x: np.ndarray | None = None  # opened lazily: each DataLoader worker maps the files itself
        self._y: np.ndarray | None = None

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._x is None:
            self._x = np.load(self.folder / "x.npy", mmap_mode="r")
            self._y = np.load(self.folder / "y.npy", mmap_mode="r")
        return self._x, self._y  # type: ignore[return-value]

    def __getstate__(self) -> dict[str, Any]:  # workers re-open the maps instead of pickling them
        return {**self.__dict__, "_x": None, "_y": None}

    def __len__(self) -> int:
        return int(self.meta["n"])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._arrays()
        return torch.from_numpy(np.array(x[index])), torch.tensor(y[index])

    def rows(self, indices: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x[indices], y[indices])`` as tensors, in the order given (one sorted read)."""
        idx = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64)
        x, y = self._arrays()
        order = np.argsort(idx, kind="stable")
        back = np.empty_like(order)
        back[order] = np.arange(len(idx))
        xs, ys = x[idx[order]][back], y[idx[order]][back]
        return torch.from_numpy(np.ascontiguousarray(xs)), torch.from_numpy(np.ascontiguousarray(ys))

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rows(indices)


class IndexBatchSampler(torch.utils.data.Sampler):
    """A DataLoader ``batch_sampler`` that draws each batch from the engine's sampler.

    Args:
        sampler: an :class:`~realnets.engine.sampling.EpochSampler` or ``FreshSampler`` (its position
            advances by exactly the rows yielded).
        batch_sizes: the batch sizes, in order (a list, or an iterable producing the next size).
    """

    def __init__(self, sampler: Any, batch_sizes: Iterable[int]) -> None:
        self.sampler = sampler
        self.batch_sizes = batch_sizes

    def __iter__(self) -> Iterator[list[int]]:
        for step, size in enumerate(self.batch_sizes):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"Invalid batch size: {size!r} (expected an integer >= 1)")
            self.sampler.start_step(step)
            yield self.sampler.draw(size).tolist()

    def __len__(self) -> int:
        return len(self.batch_sizes)  # type: ignore[arg-type]


def _collate(batch: Any) -> Any:
    return batch  # __getitems__ returned the stacked batch already


def make_loader(
    dataset: MemmapDataset,
    sampler: Any,
    batch_sizes: Iterable[int],
    *,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch_factor: int | None = None,
) -> torch.utils.data.DataLoader:
    """A DataLoader over ``dataset`` whose batches are the engine sampler's draws of ``batch_sizes``.

    With workers the batch sampler runs in the main process (DataLoader hands each worker a list of
    indices), so the sampler's count stays exact; ``pin_memory`` pins each batch for a fast GPU copy.
    """
    options: dict[str, Any] = {}
    if num_workers > 0 and prefetch_factor is not None:
        options["prefetch_factor"] = prefetch_factor
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=IndexBatchSampler(sampler, batch_sizes),
        num_workers=num_workers,
        pin_memory=pin_memory,
        collate_fn=_collate,
        **options,
    )

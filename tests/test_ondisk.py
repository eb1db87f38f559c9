"""The on-disk (numpy memmap) data set read through torch's DataLoader with the engine's sampler as batch sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realnets.data.ondisk import MemmapDataset, make_loader, write_memmap_dataset
from realnets.engine.sampling import EpochSampler, FreshSampler

N = 300
SHAPE = (1, 4, 4)


def _generated(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, *SHAPE)).astype(np.float32)
    y = rng.integers(0, 10, N)
    chunks = ((x[i : i + 64], y[i : i + 64]) for i in range(0, N, 64))  # written chunk by chunk
    folder = write_memmap_dataset(tmp_path / "set", chunks, n=N, x_shape=SHAPE, num_classes=10)
    return folder, x, y


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kind", [EpochSampler, FreshSampler])
def test_loader_batches_are_the_samplers_rows_and_the_budget_is_exact(tmp_path, workers, kind):
    folder, x, y = _generated(tmp_path)
    sizes = [32, 50, 7, 300, 11, 299]  # crosses epoch boundaries and takes a whole epoch in one batch
    sampler = kind(N, 5, torch.device("cpu"))
    loader = make_loader(MemmapDataset(folder), sampler, sizes, num_workers=workers, pin_memory=False)
    reference = kind(N, 5, torch.device("cpu"))
    seen = 0
    for step, (xb, yb) in enumerate(loader):
        reference.start_step(step)
        idx = reference.draw(sizes[step]).numpy()
        np.testing.assert_array_equal(xb.numpy(), x[idx])
        np.testing.assert_array_equal(yb.numpy(), y[idx])
        seen += xb.shape[0]
    assert seen == sum(sizes) == sampler.drawn
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64


def test_rows_reads_in_the_given_order_and_single_items_work(tmp_path):
    folder, x, y = _generated(tmp_path)
    ds = MemmapDataset(folder)
    idx = [5, 2, 299, 2, 0]
    xb, yb = ds.rows(torch.tensor(idx))
    np.testing.assert_array_equal(xb.numpy(), x[idx])
    np.testing.assert_array_equal(yb.numpy(), y[idx])
    xi, yi = ds[7]
    np.testing.assert_array_equal(xi.numpy(), x[7])
    assert int(yi) == y[7] and len(ds) == N and ds.meta["num_classes"] == 10


def test_bad_input_is_refused_in_one_line(tmp_path):
    folder, x, y = _generated(tmp_path)
    with pytest.raises(ValueError, match="holds a data set already"):
        write_memmap_dataset(folder, [], n=1, x_shape=SHAPE)
    with pytest.raises(ValueError, match=r"Invalid chunks: 64 rows \(expected n = 65\)"):
        write_memmap_dataset(tmp_path / "short", [(x[:64], y[:64])], n=65, x_shape=SHAPE)
    with pytest.raises(ValueError, match="Invalid chunk"):
        write_memmap_dataset(tmp_path / "wide", [(x[:4, 0], y[:4])], n=4, x_shape=SHAPE)
    with pytest.raises(ValueError, match="expected a data set"):
        MemmapDataset(tmp_path / "missing")
    loader = make_loader(MemmapDataset(folder), EpochSampler(N, 0, torch.device("cpu")), [4, 0])
    with pytest.raises(ValueError, match=r"Invalid batch size: 0"):
        list(loader)

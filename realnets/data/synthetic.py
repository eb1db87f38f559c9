"""Synthetic datasets with a known generating process, deterministic given ``seed``.

Three independent numpy streams are spawned from ``SeedSequence(seed)``: the problem (class means or
teacher weights), the training set and the test set, so changing ``num_train`` never changes the
problem or the test set.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from realnets.data.registry import CLASSIFICATION, REGRESSION, Dataset, register_dataset

__all__ = ["make_gaussian_mixture", "make_linear_teacher", "make_marker_sequences"]


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= {minimum})")
    return int(value)


# Largest synthetic data set, in bytes while it is generated (float64 before the float32 copy): beyond this a
# num_train of 10**11 would end in an out-of-memory error instead of a line naming the option.
MAX_SYNTHETIC_BYTES = 8 * 2**30


def _check_memory(num_train: int, num_test: int, bytes_per_row: int, row: str) -> None:
    """Refuse a data set that would not fit: ``row`` names the option that sets the row size (``dim=20``)."""
    need = (num_train + num_test) * bytes_per_row
    if need > MAX_SYNTHETIC_BYTES:
        raise ValueError(
            f"Invalid num_train: {num_train} (with num_test={num_test} and {row} the data take about "
            f"{need / 2**30:.3g} GiB; expected at most {MAX_SYNTHETIC_BYTES // 2**30} GiB)"
        )


def _nonnegative_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number >= 0)")
    return float(value)


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    problem, train, test = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(problem), np.random.default_rng(train), np.random.default_rng(test)


def make_gaussian_mixture(
    rng: np.random.Generator, means: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of ``y ~ Uniform{0..K-1}``, ``x | y ~ N(mu_y, I)`` (float32, int64)."""
    labels = rng.integers(0, means.shape[0], size=n)
    features = means[labels] + rng.standard_normal((n, means.shape[1]))
    return features.astype(np.float32), labels.astype(np.int64)


def make_linear_teacher(
    rng: np.random.Generator, weights: np.ndarray, noise_std: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of ``x ~ N(0, I_d)``, ``y = W x + noise_std * eps`` with ``eps ~ N(0, I)``."""
    features = rng.standard_normal((n, weights.shape[1]))
    targets = features @ weights.T + noise_std * rng.standard_normal((n, weights.shape[0]))
    return features.astype(np.float32), targets.astype(np.float32)


def make_marker_sequences(
    rng: np.random.Generator, n: int, seq_len: int, vocab_size: int, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences whose label is the marker that occurs first.

    Tokens ``1..K`` are the markers (K = ``num_classes``); each sequence holds every marker exactly once
    at random distinct positions, and the other positions hold filler tokens drawn uniformly from
    ``K+1..vocab_size-1``. The label is ``k-1`` for the marker ``k`` with the smallest position. Token
    0 is never used (kept free for padding). The label depends on order, not on which tokens occur, so
    a bag-of-words model is at chance while a (Bi)LSTM can learn it.
    """
    tokens = rng.integers(num_classes + 1, vocab_size, size=(n, seq_len))
    positions = np.argsort(rng.random((n, seq_len)), axis=1)[:, :num_classes]
    rows = np.arange(n)[:, None]
    tokens[rows, positions] = np.arange(1, num_classes + 1)
    labels = np.argmin(positions, axis=1)
    return tokens.astype(np.int64), labels.astype(np.int64)


def _dataset(name: str, train: tuple, test: tuple, **meta: object) -> Dataset:
    return Dataset(
        name=name,
        x_train=torch.from_numpy(train[0]),
        y_train=torch.from_numpy(train[1]),
        x_test=torch.from_numpy(test[0]),
        y_test=torch.from_numpy(test[1]),
        input_shape=tuple(train[0].shape[1:]),
        **meta,
    )


@register_dataset("synthetic-classification", "Gaussian mixture, K classes in d dims (synthetic, seeded)")
def load_synthetic_classification(
    *,
    data_dir: Path,
    download: bool,
    seed: int,
    num_train: int = 4000,
    num_test: int = 1000,
    dim: int = 20,
    num_classes: int = 4,
    separation: float = 3.0,
) -> Dataset:
    """Gaussian mixture: ``mu_k ~ N(0, (separation^2 / d) I_d)``, ``x | y ~ N(mu_y, I_d)``.

    ``separation`` is the typical distance ``E|mu_k|`` of a class mean from the origin in units of the
    noise standard deviation (so Bayes accuracy grows with it; 3 gives an easy but not trivial task).
    """
    num_train, num_test = _positive_int("num_train", num_train), _positive_int("num_test", num_test)
    dim, num_classes = _positive_int("dim", dim), _positive_int("num_classes", num_classes, 2)
    separation = _nonnegative_float("separation", separation)
    _check_memory(num_train, num_test, 8 * (dim + 1), f"dim={dim}")
    if num_classes > num_train:  # a class without a training sample; 10**7 classes also build a huge model
        raise ValueError(f"Invalid num_classes: {num_classes} (expected at most num_train = {num_train})")
    problem, train_rng, test_rng = _streams(seed)
    means = problem.standard_normal((num_classes, dim)) * separation / math.sqrt(dim)
    return _dataset(
        "synthetic-classification",
        make_gaussian_mixture(train_rng, means, num_train),
        make_gaussian_mixture(test_rng, means, num_test),
        num_classes=num_classes,
        task=CLASSIFICATION,
        description=f"Gaussian mixture, {num_classes} classes in {dim} dims, separation {separation}",
        source=f"synthetic (realnets.data.synthetic), numpy SeedSequence({seed})",
    )


@register_dataset("synthetic-regression", "linear teacher y = W x + noise (synthetic, seeded, regression)")
def load_synthetic_regression(
    *,
    data_dir: Path,
    download: bool,
    seed: int,
    num_train: int = 4000,
    num_test: int = 1000,
    dim: int = 20,
    num_outputs: int = 1,
    noise_std: float = 0.5,
) -> Dataset:
    """Linear teacher: ``x ~ N(0, I_d)``, ``W_ij ~ N(0, 1/d)`` (so ``Var(Wx)_i = 1``), ``y = W x + noise_std eps``.

    The Bayes-optimal per-sample MSE (summed over outputs) is ``num_outputs * noise_std^2``.
    """
    num_train, num_test = _positive_int("num_train", num_train), _positive_int("num_test", num_test)
    dim, num_outputs = _positive_int("dim", dim), _positive_int("num_outputs", num_outputs)
    noise_std = _nonnegative_float("noise_std", noise_std)
    _check_memory(num_train, num_test, 8 * (dim + num_outputs), f"dim={dim}, num_outputs={num_outputs}")
    problem, train_rng, test_rng = _streams(seed)
    weights = problem.standard_normal((num_outputs, dim)) / math.sqrt(dim)
    return _dataset(
        "synthetic-regression",
        make_linear_teacher(train_rng, weights, noise_std, num_train),
        make_linear_teacher(test_rng, weights, noise_std, num_test),
        num_classes=0,
        task=REGRESSION,
        description=f"linear teacher in {dim} dims, {num_outputs} output(s), noise std {noise_std}",
        source=f"synthetic (realnets.data.synthetic), numpy SeedSequence({seed})",
    )


@register_dataset(
    "synthetic-sequence", "token sequences, label = which marker comes first (synthetic, seeded)"
)
def load_synthetic_sequence(
    *,
    data_dir: Path,
    download: bool,
    seed: int,
    num_train: int = 4000,
    num_test: int = 1000,
    seq_len: int = 20,
    vocab_size: int = 16,
    num_classes: int = 2,
) -> Dataset:
    """Order-dependent sequence classification (see :func:`make_marker_sequences`); int64 token ids."""
    num_train, num_test = _positive_int("num_train", num_train), _positive_int("num_test", num_test)
    num_classes = _positive_int("num_classes", num_classes, 2)
    seq_len = _positive_int("seq_len", seq_len, num_classes)
    vocab_size = _positive_int("vocab_size", vocab_size, num_classes + 2)
    _check_memory(num_train, num_test, 24 * seq_len, f"seq_len={seq_len}")  # tokens, random keys, argsort
    _, train_rng, test_rng = _streams(seed)
    return _dataset(
        "synthetic-sequence",
        make_marker_sequences(train_rng, num_train, seq_len, vocab_size, num_classes),
        make_marker_sequences(test_rng, num_test, seq_len, vocab_size, num_classes),
        num_classes=num_classes,
        task=CLASSIFICATION,
        vocab_size=vocab_size,
        description=f"{seq_len}-token sequences over {vocab_size} ids, label = first of {num_classes} markers",
        source=f"synthetic (realnets.data.synthetic), numpy SeedSequence({seed})",
    )

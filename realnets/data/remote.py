"""Real datasets downloaded from their official sources on first use, each file pinned by SHA-256.

Files live in ``<data_dir>/<dataset>/`` under their published names; put them there by hand to work
offline. Images stay uint8 on disk and in the parsers and become float32 in [0, 1] (x / 255) only
when the :class:`~realnets.data.registry.Dataset` is built; no per-channel normalisation.

Provenance of the pinned digests (checked against the file sizes given there):

* MNIST: TensorFlow Datasets ``tensorflow_datasets/url_checksums/mnist.txt`` (CVDF mirror of
  yann.lecun.com; the same four files).
* Fashion-MNIST: TensorFlow Datasets ``url_checksums/fashion_mnist.txt`` (zalandoresearch S3 bucket).
* CIFAR-10/100 python version: Keras ``keras/datasets/cifar10.py`` and ``cifar100.py`` ``file_hash``
  (TFDS pins the binary version instead); also torchvision's prototype CIFAR-100 ``_SHA256``.
* SVHN cropped: TensorFlow Datasets ``url_checksums/svhn_cropped.txt``.
* UCI mushroom: the archive ``static/public/73/mushroom.zip`` (141,318 bytes), digest as pinned by
  several independent public projects; UCI itself publishes no digest.
* UCI connect-4: no published digest was found. The first file seen is pinned (trust on first use) only
  after its content matches the UCI description: 67,557 rows of 43 fields, classes win 44,473 / loss
  16,635 / draw 6,449 (``connect-4.names``); a short or garbled file is refused and never pinned.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from realnets.data.download import RemoteFile, ensure_file
from realnets.data.formats import (
    DataFormatError,
    lzw_decompress,
    one_hot_table,
    parse_csv_rows,
    read_cifar_archive,
    read_idx,
    read_svhn_mat,
)
from realnets.data.registry import CLASSIFICATION, Dataset, register_dataset
from realnets.data.splits import SPLIT_SEED, split_classification, stratified_split

__all__ = ["FILES", "UCI_TEST_FRACTION"]

_MNIST_MIRRORS = ("https://storage.googleapis.com/cvdf-datasets/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"
_SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"
_TFDS = "TensorFlow Datasets url_checksums/"


# SHA-256 of the decompressed IDX payloads, computed from Debian's package dataset-fashion-mnist
# (version 0.0~git20200523.55506a9-1, the upstream git snapshot of 2020-05-23), which re-gzips the upstream
# files so that their .gz digests differ from the pinned ones. With these, `apt install dataset-fashion-mnist`
# and `--data-dir /usr/share/datasets` work offline. Payload sizes 47040016 / 60008 / 7840016 / 10008 bytes
# match the IDX headers (60000 and 10000 images of 28x28). Not compared with a download from the official
# host, which the machine that computed them could not reach.
_FASHION_CONTENT = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


def _idx_files(
    urls: tuple[str, ...],
    sizes_and_digests: dict[str, tuple[int, str]],
    source: str,
    content: dict[str, str] | None = None,
) -> dict:
    content = content or {}
    return {
        name: RemoteFile(name, tuple(u + name for u in urls), digest, size, source, content.get(name))
        for name, (size, digest) in sizes_and_digests.items()
    }


# Every downloadable file, keyed by dataset then file name (tests swap entries for local fixtures).
FILES: dict[str, dict[str, RemoteFile]] = {
    "mnist": _idx_files(
        _MNIST_MIRRORS,
        {
            "train-images-idx3-ubyte.gz": (
                9912422,
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            "train-labels-idx1-ubyte.gz": (
                28881,
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
            "t10k-images-idx3-ubyte.gz": (
                1648877,
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            "t10k-labels-idx1-ubyte.gz": (
                4542,
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        },
        _TFDS + "mnist.txt",
    ),
    "fashion-mnist": _idx_files(
        (_FASHION_URL,),
        {
            "train-images-idx3-ubyte.gz": (
                26421880,
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            "train-labels-idx1-ubyte.gz": (
                29515,
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            ),
            "t10k-images-idx3-ubyte.gz": (
                4422102,
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            "t10k-labels-idx1-ubyte.gz": (
                5148,
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        },
        _TFDS + "fashion_mnist.txt",
        _FASHION_CONTENT,
    ),
    "cifar10": {
        "cifar-10-python.tar.gz": RemoteFile(
            "cifar-10-python.tar.gz",
            (_CIFAR_URL + "cifar-10-python.tar.gz",),
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            170498071,
            "keras/datasets/cifar10.py file_hash",
        )
    },
    "cifar100": {
        "cifar-100-python.tar.gz": RemoteFile(
            "cifar-100-python.tar.gz",
            (_CIFAR_URL + "cifar-100-python.tar.gz",),
            "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
            169001437,
            "keras/datasets/cifar100.py file_hash; torchvision prototype cifar100 _SHA256",
        )
    },
    "svhn": {
        "train_32x32.mat": RemoteFile(
            "train_32x32.mat",
            (_SVHN_URL + "train_32x32.mat",),
            "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
            182040794,
            _TFDS + "svhn_cropped.txt",
        ),
        "test_32x32.mat": RemoteFile(
            "test_32x32.mat",
            (_SVHN_URL + "test_32x32.mat",),
            "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
            64275384,
            _TFDS + "svhn_cropped.txt",
        ),
    },
    "mushroom": {
        "mushroom.zip": RemoteFile(
            "mushroom.zip",
            ("https://archive.ics.uci.edu/static/public/73/mushroom.zip",),
            "face32f32647e0d939f6233f36dd30dd5d619ae9f3f9b8e10bea4ac7e1f60b1a",
            141318,
            "pinned by independent public projects (no digest published by UCI)",
        )
    },
    "connect-4": {
        "connect-4.data.Z": RemoteFile(
            "connect-4.data.Z",
            ("https://archive.ics.uci.edu/ml/machine-learning-databases/connect-4/connect-4.data.Z",),
            None,
            None,
            "none published; trust on first use",
        )
    },
}

# UCI tables ship without a split: a fixed stratified 80/20 split (realnets.data.splits.SPLIT_SEED).
UCI_TEST_FRACTION = 0.2
_MAX_PIXEL = 255.0


#: Read-only folders searched after the cache and before any download: Debian's dataset packages
#: (e.g. ``apt install dataset-fashion-mnist``) put their files in ``/usr/share/datasets/<name>/``.
#: ``$REALNETS_SYSTEM_DATA_DIRS`` (folders separated by ``os.pathsep``; empty for none) replaces the default.
SYSTEM_DATA_DIRS: tuple[Path, ...] = tuple(
    Path(p) for p in os.environ.get("REALNETS_SYSTEM_DATA_DIRS", "/usr/share/datasets").split(os.pathsep) if p
)


def _fetch(dataset: str, filename: str, data_dir: Path, download: bool, validate=None) -> Path:
    remote = FILES[dataset][filename]
    local = data_dir / dataset / filename
    if local.exists() and not local.is_file():  # a folder (an unpacked archive?) where the file belongs
        raise ValueError(
            f"Invalid {dataset} file: {str(local)!r} is not a file (expected {filename}, or nothing)"
        )
    if not local.exists():
        for system_dir in SYSTEM_DATA_DIRS:
            if (system_dir / dataset / filename).is_file() and remote.sha256 is not None:
                return ensure_file(remote, system_dir / dataset, dataset=dataset, download=False)
    return ensure_file(remote, data_dir / dataset, dataset=dataset, download=download, validate=validate)


def _images_dataset(name: str, train: tuple, test: tuple, num_classes: int, **meta: str) -> Dataset:
    def to_float(images: np.ndarray) -> torch.Tensor:
        # Divide in float32 so a 50000x3x32x32 set needs one float copy, not a float64 one as well.
        return torch.from_numpy(images).to(torch.float32).div_(_MAX_PIXEL)

    return Dataset(
        name=name,
        x_train=to_float(train[0]),
        y_train=torch.from_numpy(train[1].astype(np.int64)),
        x_test=to_float(test[0]),
        y_test=torch.from_numpy(test[1].astype(np.int64)),
        num_classes=num_classes,
        task=CLASSIFICATION,
        input_shape=tuple(train[0].shape[1:]),
        **meta,
    )


def _read_idx_split(
    dataset: str, prefix: str, data_dir: Path, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(_fetch(dataset, f"{prefix}-images-idx3-ubyte.gz", data_dir, download))
    labels = read_idx(_fetch(dataset, f"{prefix}-labels-idx1-ubyte.gz", data_dir, download))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataFormatError(
            f"Invalid {dataset} {prefix} files: images {images.shape}, labels {labels.shape}"
        )
    return images[:, None, :, :], labels


def _load_idx_dataset(name: str, data_dir: Path, download: bool, **meta: str) -> Dataset:
    train = _read_idx_split(name, "train", data_dir, download)
    test = _read_idx_split(name, "t10k", data_dir, download)
    return _images_dataset(name, train, test, 10, **meta)


@register_dataset("mnist", "MNIST handwritten digits, 28x28 grey (60000 / 10000), downloaded")
def load_mnist(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """MNIST from the IDX files, pixels in [0, 1], shape ``(1, 28, 28)``; the official split."""
    return _load_idx_dataset(
        "mnist",
        data_dir,
        download,
        description="28x28 grey handwritten digits, 10 classes, pixels in [0, 1]",
        source="MNIST (LeCun, Cortes & Burges), http://yann.lecun.com/exdb/mnist/ via the CVDF mirror; "
        "CC BY-SA 3.0",
    )


@register_dataset("fashion-mnist", "Fashion-MNIST Zalando articles, 28x28 grey (60000 / 10000), downloaded")
def load_fashion_mnist(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """Fashion-MNIST (the dataset of seed 000's CNN experiment), pixels in [0, 1], shape ``(1, 28, 28)``."""
    return _load_idx_dataset(
        "fashion-mnist",
        data_dir,
        download,
        description="28x28 grey Zalando article images, 10 classes, pixels in [0, 1]",
        source="Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), https://github.com/zalandoresearch/fashion-mnist; "
        "MIT license",
    )


_CIFAR10_MEMBERS = tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))


@register_dataset("cifar10", "CIFAR-10 colour images, 3x32x32, 10 classes (50000 / 10000), downloaded")
def load_cifar10(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """CIFAR-10 python version: five training batches and the test batch, pixels in [0, 1]."""
    archive = _fetch("cifar10", "cifar-10-python.tar.gz", data_dir, download)
    train = read_cifar_archive(archive, _CIFAR10_MEMBERS, "labels")
    test = read_cifar_archive(archive, ("cifar-10-batches-py/test_batch",), "labels")
    return _images_dataset(
        "cifar10",
        train,
        test,
        10,
        description="32x32 colour images, 10 classes, pixels in [0, 1]",
        source="CIFAR-10 (Krizhevsky 2009, Learning Multiple Layers of Features from Tiny Images), "
        "https://www.cs.toronto.edu/~kriz/cifar.html",
    )


@register_dataset(
    "cifar100", "CIFAR-100 colour images, 3x32x32, 100 fine classes (50000 / 10000), downloaded"
)
def load_cifar100(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """CIFAR-100 python version with the 100 fine labels, pixels in [0, 1]."""
    archive = _fetch("cifar100", "cifar-100-python.tar.gz", data_dir, download)
    train = read_cifar_archive(archive, ("cifar-100-python/train",), "fine_labels")
    test = read_cifar_archive(archive, ("cifar-100-python/test",), "fine_labels")
    return _images_dataset(
        "cifar100",
        train,
        test,
        100,
        description="32x32 colour images, 100 fine classes, pixels in [0, 1]",
        source="CIFAR-100 (Krizhevsky 2009), https://www.cs.toronto.edu/~kriz/cifar.html",
    )


@register_dataset("svhn", "SVHN cropped house-number digits, 3x32x32 (73257 / 26032), downloaded")
def load_svhn(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """SVHN format 2 (cropped digits) train and test, label 10 mapped to 0, pixels in [0, 1].

    Note:
        The 531,131 "extra" images are not used (seed 002's 600k SVHN runs add them).
    """
    train = read_svhn_mat(_fetch("svhn", "train_32x32.mat", data_dir, download))
    test = read_svhn_mat(_fetch("svhn", "test_32x32.mat", data_dir, download))
    return _images_dataset(
        "svhn",
        train,
        test,
        10,
        description="32x32 colour house-number digits, 10 classes, pixels in [0, 1]",
        source="SVHN (Netzer et al. 2011), http://ufldl.stanford.edu/housenumbers/; non-commercial use",
    )


def _uci_dataset(
    name: str, features: np.ndarray, labels: np.ndarray, num_classes: int, **meta: str
) -> Dataset:
    train, test = stratified_split(labels, test_fraction=UCI_TEST_FRACTION)
    x, y = torch.from_numpy(features), torch.from_numpy(labels)
    return split_classification(
        name,
        x,
        y,
        train,
        test,
        num_classes=num_classes,
        input_shape=(features.shape[1],),
        **meta,
    )


_MUSHROOM_COLUMNS = 23
_MUSHROOM_LABELS = ("e", "p")


def _read_zip_member(path: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    except KeyError:
        raise DataFormatError(f"Invalid archive {path.name}: missing member {member}") from None
    except zipfile.BadZipFile as err:
        raise DataFormatError(f"Invalid archive {path.name}: {err}") from None


@register_dataset("mushroom", "UCI mushroom, 22 categorical attributes one-hot, edible/poisonous, downloaded")
def load_mushroom(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """UCI mushroom (8,124 rows): label 0 = edible, 1 = poisonous; attributes one-hot encoded.

    Note:
        Seed 003 uses LIBSVM's "mushrooms" file for its strongly convex check; this is the same UCI
        table encoded by us (categories = the values present, sorted; ``?`` in stalk-root kept as a
        category), with a fixed stratified 80/20 split.
    """
    raw = _read_zip_member(_fetch("mushroom", "mushroom.zip", data_dir, download), "agaricus-lepiota.data")
    rows = parse_csv_rows(raw.decode("ascii"), _MUSHROOM_COLUMNS, "mushroom")
    features, labels, _ = one_hot_table(rows, 0, _MUSHROOM_LABELS, "mushroom")
    return _uci_dataset(
        "mushroom",
        features,
        labels,
        2,
        description="mushroom descriptions, 22 categorical attributes one-hot, edible (0) / poisonous (1)",
        source="UCI Mushroom (Schlimmer 1981), https://archive.ics.uci.edu/dataset/73/mushroom, CC BY 4.0; "
        f"stratified {UCI_TEST_FRACTION:.0%} test split, numpy PCG64 seed {SPLIT_SEED}",
    )


_CONNECT4_COLUMNS = 43
_CONNECT4_LABELS = ("loss", "draw", "win")
#: The content of the real file (UCI ``connect-4.names``: "Number of Instances: 67557", "Class Distribution:
#: win 44473 (65.83%), loss 16635 (24.62%), draw 6449 (9.55%)"), checked before the first-use pin.
CONNECT4_ROWS = 67_557
CONNECT4_CLASS_COUNTS = {"win": 44_473, "loss": 16_635, "draw": 6_449}


def _connect4_rows(path: Path) -> list[list[str]]:
    try:
        text = lzw_decompress(path.read_bytes()).decode("ascii")
    except DataFormatError as err:
        raise DataFormatError(f"Invalid connect-4 file {path}: {err}") from None
    except UnicodeDecodeError as err:
        raise DataFormatError(
            f"Invalid connect-4 file {path}: not ASCII text after decompression ({err})"
        ) from None
    return parse_csv_rows(text, _CONNECT4_COLUMNS, f"connect-4 file {path}")


def _validate_connect4(path: Path) -> None:
    """The structure of the UCI file (see :data:`CONNECT4_ROWS`), before its digest is pinned."""
    rows = _connect4_rows(path)
    counts = {label: 0 for label in CONNECT4_CLASS_COUNTS}
    for row in rows:
        counts[row[-1]] = counts.get(row[-1], 0) + 1
    if len(rows) != CONNECT4_ROWS or counts != CONNECT4_CLASS_COUNTS:
        raise DataFormatError(
            f"Invalid connect-4 file {path}: {len(rows)} rows, classes {counts} (expected the UCI file: "
            f"{CONNECT4_ROWS} rows of {_CONNECT4_COLUMNS} fields, classes {CONNECT4_CLASS_COUNTS}); "
            f"not pinned; delete it to download it again"
        )


@register_dataset("connect-4", "UCI connect-4 8-ply positions, 42 cells one-hot, loss/draw/win, downloaded")
def load_connect4(*, data_dir: Path, download: bool, seed: int) -> Dataset:
    """UCI connect-4 (67,557 positions): 42 cells in {b, o, x} one-hot (126 features), 3 classes.

    The file is the original ``connect-4.data.Z`` (Unix compress), decoded by
    :func:`realnets.data.formats.lzw_decompress`. Labels: 0 = loss, 1 = draw, 2 = win (for x).

    Note:
        Seed 000's appendix C uses a UCI set with "3 classes and 42 features" and about 60,000
        instances, which matches connect-4; we one-hot the 42 cells (as LIBSVM does) rather than
        guess the paper's encoding.
    """
    path = _fetch("connect-4", "connect-4.data.Z", data_dir, download, validate=_validate_connect4)
    rows = _connect4_rows(path)
    features, labels, _ = one_hot_table(rows, _CONNECT4_COLUMNS - 1, _CONNECT4_LABELS, "connect-4")
    return _uci_dataset(
        "connect-4",
        features,
        labels,
        3,
        description="connect-4 positions, 42 cells one-hot (b/o/x), loss (0) / draw (1) / win (2)",
        source="UCI Connect-4 (Tromp 1995), https://archive.ics.uci.edu/dataset/26/connect+4, CC BY 4.0; "
        f"stratified {UCI_TEST_FRACTION:.0%} test split, numpy PCG64 seed {SPLIT_SEED}",
    )

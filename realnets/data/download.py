"""Fetching dataset files: cache lookup, download with progress, SHA-256 check, atomic write.

A file already in the cache folder is used without touching the network (after checking its hash).
A missing file is downloaded from the first mirror that answers into a temporary file in the same
folder, verified, then moved into place with ``os.replace``, so the cache never holds a partial or
corrupt file under the final name.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "ChecksumError",
    "DataUnavailableError",
    "RemoteFile",
    "ensure_file",
    "gunzipped_sha256_of",
    "sha256_of",
]

_CHUNK = 1 << 20
_PROGRESS_MIN_BYTES = 4 << 20
_TIMEOUT_S = 60.0
_USER_AGENT = "realnets-data/0.1 (+batchsize-science)"


class DataUnavailableError(RuntimeError):
    """A dataset file is neither in the cache nor downloadable (offline, or download disabled)."""


class ChecksumError(ValueError):
    """A dataset file's SHA-256 differs from the pinned value."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset, as its official source publishes it.

    Attributes:
        filename: Name in the cache folder (and in the URL).
        urls: Mirrors, tried in order.
        sha256: Pinned hex digest, or None when no published digest could be found; then the digest of
            the first download is written next to the file (``<filename>.sha256``) and checked on every
            later use (trust on first use), and a warning says so.
        size: Expected size in bytes when known (used for progress only).
        (Files without a pinned digest should be loaded with a ``validate`` callback, see
        :func:`ensure_file`: the digest is pinned only after the file's structure checks out.)
        hash_source: Where the pinned digest was published.
        content_sha256: For ``.gz`` files, the SHA-256 of the decompressed payload. A local copy that was
            re-compressed (Debian's ``dataset-fashion-mnist`` package re-gzips the upstream files, so
            their ``.gz`` digests differ) is accepted when its payload has this digest.
    """

    filename: str
    urls: tuple[str, ...]
    sha256: str | None
    size: int | None = None
    hash_source: str = ""
    content_sha256: str | None = None


Opener = Callable[[str], BinaryIO]


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _default_opener(url: str) -> BinaryIO:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    return urllib.request.urlopen(request, timeout=_TIMEOUT_S)  # the URLs are pinned constants


def pin_path(path: Path) -> Path:
    """Where the first-use digest of ``path`` is recorded."""
    return path.with_name(path.name + ".sha256")


def _expected_digest(remote: RemoteFile, path: Path) -> str | None:
    if remote.sha256 is not None:
        return remote.sha256
    pin = pin_path(path)
    if not pin.exists():
        return None
    try:
        words = pin.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as error:
        raise ChecksumError(
            f"Invalid pin file {pin}: could not be read ({error}); delete it to re-check {path.name}"
        ) from None
    if not words or len(words[0]) != 64 or any(c not in "0123456789abcdef" for c in words[0].lower()):
        raise ChecksumError(
            f"Invalid pin file {pin}: expected a SHA-256 hex digest; delete it to re-check {path.name}"
        )
    return words[0]


def gunzipped_sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of the decompressed payload of a gzip file."""
    import gzip

    digest = hashlib.sha256()
    with gzip.open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str | None, content_expected: str | None = None) -> None:
    if expected is None:
        return
    actual = sha256_of(path)
    if actual == expected.lower():
        return
    if content_expected is not None and path.suffix == ".gz":
        try:
            if gunzipped_sha256_of(path) == content_expected.lower():
                return
        except (OSError, EOFError, zlib.error):
            pass  # not a gzip file, or a truncated or corrupt one: report the file digest below
    raise ChecksumError(f"Invalid checksum for {path}: sha256 {actual} (expected {expected.lower()})")


def _verify_pinned(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected.lower():
        pin = pin_path(path)
        raise ChecksumError(
            f"Invalid checksum for {path}: sha256 {actual} (expected {expected.lower()}, pinned on "
            f"first use in {pin}; if the file was replaced on purpose, delete {pin.name})"
        )


def ensure_file(
    remote: RemoteFile,
    folder: str | Path,
    *,
    dataset: str,
    download: bool = True,
    opener: Opener | None = None,
    progress: bool = True,
    validate: Callable[[Path], None] | None = None,
) -> Path:
    """Return the path of ``remote`` in ``folder``, downloading and verifying it if missing.

    Args:
        remote: The file's name, mirrors and pinned SHA-256.
        folder: Cache folder for this dataset (created if needed).
        dataset: Dataset name, for messages.
        download: If False, a missing file raises instead of being fetched.
        opener: ``url -> binary stream``; defaults to ``urllib`` (tests pass a local one).
        progress: Print a progress line to stderr for downloads larger than 4 MiB.
        validate: For files without a published digest: ``validate(path)`` checks the file's structure
            (raising ValueError naming the file) before its digest is pinned, so a truncated or wrong first
            file is never trusted. When the pin cannot be written (a read-only folder), the file is used
            after ``validate`` alone and a warning says so.

    Raises:
        ChecksumError: The cached or downloaded file has the wrong SHA-256 (a bad download is deleted).
        DataUnavailableError: The file is missing and cannot be downloaded.
    """
    folder = Path(folder)
    path = folder / remote.filename
    if path.exists():
        expected = _expected_digest(remote, path)
        if expected is None:
            if validate is not None:
                validate(path)
            _record_first_digest(path, sha256_of(path))
        elif remote.sha256 is None:
            _verify_pinned(path, expected)
        else:
            _verify(path, expected, remote.content_sha256)
        return path
    if not download:
        raise DataUnavailableError(
            f"cannot load {dataset}: {remote.filename} is not in {folder} and download is disabled; "
            f"put the file there or allow downloads"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return _download_first_mirror(remote, path, dataset, opener or _default_opener, progress, validate)


def _download_first_mirror(
    remote: RemoteFile,
    path: Path,
    dataset: str,
    opener: Opener,
    progress: bool,
    validate: Callable[[Path], None] | None = None,
) -> Path:
    failures = []
    for url in remote.urls:
        try:
            _download_verified(remote, url, path, opener, progress, validate)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            failures.append(f"{url} ({getattr(err, 'reason', err)})")
            continue
        return path
    raise DataUnavailableError(
        f"cannot download {dataset} from {remote.urls[0] if remote.urls else '(no URL)'}: "
        f"{'; '.join(failures) or 'no mirror'}; put {remote.filename} in {path.parent} or pass --data-dir"
    )


def _download_verified(
    remote: RemoteFile,
    url: str,
    path: Path,
    opener: Opener,
    progress: bool,
    validate: Callable[[Path], None] | None = None,
) -> None:
    handle, tmp_name = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out, opener(url) as response:
            digest = _copy_with_progress(response, out, remote, url, progress)
        if remote.sha256 is None and validate is not None:
            validate(tmp)  # a truncated or wrong download is never pinned
        _check_download(remote, path, digest)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _record_first_digest(path: Path, digest: str) -> None:
    pin = pin_path(path)
    try:
        pin.write_text(f"{digest}  {path.name}\n")
    except OSError as error:  # a read-only data folder (a shared or system copy): usable, but unpinned
        print(
            f"warning: no published SHA-256 for {path.name} and {pin} cannot be written ({error.strerror}); "
            f"the file's structure was checked, its digest is {digest}",
            file=sys.stderr,
        )
        return
    print(
        f"warning: no published SHA-256 for {path.name}; recording {digest} "
        f"in {pin} and checking it from now on",
        file=sys.stderr,
    )


def _check_download(remote: RemoteFile, path: Path, digest: str) -> None:
    if remote.sha256 is None:
        _record_first_digest(path, digest)
        return
    if digest != remote.sha256.lower():
        raise ChecksumError(
            f"Invalid checksum for downloaded {remote.filename}: sha256 {digest} (expected {remote.sha256})"
        )


def _copy_with_progress(source: BinaryIO, out: BinaryIO, remote: RemoteFile, url: str, progress: bool) -> str:
    digest = hashlib.sha256()
    total = remote.size or _content_length(source)
    show = progress and (total or 0) >= _PROGRESS_MIN_BYTES
    done = 0
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        out.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        if show:
            print(
                f"\rdownloading {url}: {done / 2**20:.1f} / {total / 2**20:.1f} MiB", end="", file=sys.stderr
            )
    if show:
        print(file=sys.stderr)
    return digest.hexdigest()


def _content_length(source: BinaryIO) -> int | None:
    headers = getattr(source, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    return int(value) if value and value.isdigit() else None

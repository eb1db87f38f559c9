"""realnets.data.download: cache use, SHA-256 checks, atomic writes and the offline message.

Downloads come from ``file://`` URLs in ``tmp_path`` or from a fake opener; nothing reaches the network.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
from pathlib import Path

import pytest

from realnets.data import download, load_dataset
from realnets.data.download import ChecksumError, DataUnavailableError, RemoteFile, ensure_file, sha256_of

PAYLOAD = b"IDX fixture bytes " * 1000
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


def _source(tmp_path: Path, payload: bytes = PAYLOAD) -> str:
    source = tmp_path / "mirror" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(payload)
    return source.as_uri()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _refusing_opener(url: str):
    raise AssertionError(f"the network was used for {url}")


def test_download_from_file_url_is_verified_and_cached(tmp_path):
    remote = RemoteFile("file.bin", (_source(tmp_path),), DIGEST)
    cache = tmp_path / "cache"
    path = ensure_file(remote, cache, dataset="demo")
    assert path == cache / "file.bin" and path.read_bytes() == PAYLOAD
    assert _leftovers(cache) == ["file.bin"]
    # Second call: served from the cache, the opener is never called.
    assert ensure_file(remote, cache, dataset="demo", opener=_refusing_opener) == path


def test_sha256_of_matches_hashlib(tmp_path):
    (tmp_path / "f").write_bytes(PAYLOAD)
    assert sha256_of(tmp_path / "f") == DIGEST


def test_wrong_digest_names_file_expected_and_actual_and_leaves_nothing(tmp_path):
    expected = "0" * 64
    remote = RemoteFile("file.bin", (_source(tmp_path),), expected)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=rf"file.bin: sha256 {DIGEST} \(expected {expected}\)"):
        ensure_file(remote, cache, dataset="demo")
    assert _leftovers(cache) == []


class _BrokenStream(io.BytesIO):
    """Yields some bytes, then fails like a dropped connection."""

    def read(self, size: int = -1) -> bytes:
        if self.tell() >= 1000:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(size, 1000) if size > 0 else 1000)


def test_interrupted_download_leaves_no_partial_file(tmp_path):
    remote = RemoteFile("file.bin", ("https://example.invalid/file.bin",), DIGEST)
    cache = tmp_path / "cache"
    with pytest.raises(DataUnavailableError, match="connection reset"):
        ensure_file(remote, cache, dataset="demo", opener=lambda url: _BrokenStream(PAYLOAD))
    assert _leftovers(cache) == []


def test_offline_error_is_one_clear_line(tmp_path):
    def offline(url: str):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    url = "http://fashion-mnist.example/train-images-idx3-ubyte.gz"
    remote = RemoteFile("train-images-idx3-ubyte.gz", (url,), DIGEST)
    cache = tmp_path / "fashion-mnist"
    with pytest.raises(DataUnavailableError) as info:
        ensure_file(remote, cache, dataset="fashion-mnist", opener=offline)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, RuntimeError)
    assert message.startswith(f"cannot download fashion-mnist from {url}")
    assert str(cache) in message and "--data-dir" in message and "name resolution" in message
    assert _leftovers(cache) == []


def test_second_mirror_is_used_when_the_first_fails(tmp_path):
    remote = RemoteFile("file.bin", ("file:///nonexistent/dir/file.bin", _source(tmp_path)), DIGEST)
    assert ensure_file(remote, tmp_path / "cache", dataset="demo").read_bytes() == PAYLOAD


def test_missing_file_without_download_is_an_error(tmp_path):
    remote = RemoteFile("file.bin", (_source(tmp_path),), DIGEST)
    with pytest.raises(DataUnavailableError, match=r"file.bin is not in .*cache and download is disabled"):
        ensure_file(remote, tmp_path / "cache", dataset="demo", download=False, opener=_refusing_opener)


def test_tampered_cached_file_is_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "file.bin").write_bytes(PAYLOAD + b"!")
    remote = RemoteFile("file.bin", (), DIGEST)
    with pytest.raises(
        ChecksumError, match=rf"Invalid checksum for .*file.bin: sha256 [0-9a-f]{{64}} \(expected {DIGEST}\)"
    ):
        ensure_file(remote, cache, dataset="demo", opener=_refusing_opener)


def test_unpinned_file_is_pinned_on_first_download(tmp_path, capsys):
    remote = RemoteFile("file.bin", (_source(tmp_path),), None)
    cache = tmp_path / "cache"
    path = ensure_file(remote, cache, dataset="demo")
    assert "no published SHA-256 for file.bin" in capsys.readouterr().err
    assert (cache / "file.bin.sha256").read_text().split()[0] == DIGEST
    path.write_bytes(b"changed later")
    with pytest.raises(ChecksumError, match="file.bin"):
        ensure_file(remote, cache, dataset="demo")


def test_progress_goes_to_stderr_for_large_files(tmp_path, capsys):
    remote = RemoteFile("file.bin", (_source(tmp_path),), DIGEST, size=64 << 20)
    ensure_file(remote, tmp_path / "cache", dataset="demo")
    captured = capsys.readouterr()
    assert "downloading file://" in captured.err and captured.out == ""
    ensure_file(
        RemoteFile("small.bin", (_source(tmp_path / "cache"),), DIGEST),
        tmp_path / "c2",
        dataset="d",
        progress=True,
    )
    assert capsys.readouterr().err == ""


def test_load_dataset_offline_names_the_dataset_and_the_folder(tmp_path, monkeypatch):
    def offline(url: str):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(download, "_default_opener", offline)
    with pytest.raises(
        DataUnavailableError, match=r"cannot download fashion-mnist from http://fashion-mnist"
    ):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    assert _leftovers(tmp_path / "fashion-mnist") == []


def test_data_dir_defaults_to_the_environment_variable(tmp_path, monkeypatch):
    from realnets.data import default_data_dir

    monkeypatch.setenv("REALNETS_DATA", str(tmp_path / "env-cache"))
    assert default_data_dir() == tmp_path / "env-cache"
    monkeypatch.delenv("REALNETS_DATA")
    assert default_data_dir() == Path.home() / ".cache" / "realnets"


def test_recompressed_local_copy_is_accepted_by_its_payload_digest(tmp_path):
    """A re-gzipped local copy (as Debian ships Fashion-MNIST) passes on the decompressed payload's digest."""
    import gzip

    payload = b"\x00\x00\x08\x01" + bytes(range(200))
    official = gzip.compress(payload, mtime=0)
    local = gzip.compress(payload, compresslevel=1, mtime=12345)
    assert official != local
    content = hashlib.sha256(payload).hexdigest()
    remote = RemoteFile(
        "labels.gz", ("file:///nowhere",), hashlib.sha256(official).hexdigest(), content_sha256=content
    )
    (tmp_path / "labels.gz").write_bytes(local)
    assert ensure_file(remote, tmp_path, dataset="toy", download=False) == tmp_path / "labels.gz"
    (tmp_path / "labels.gz").write_bytes(gzip.compress(payload + b"x"))
    with pytest.raises(ChecksumError, match="labels.gz"):
        ensure_file(remote, tmp_path, dataset="toy", download=False)
    no_content = RemoteFile("labels.gz", ("file:///nowhere",), hashlib.sha256(official).hexdigest())
    (tmp_path / "labels.gz").write_bytes(local)
    with pytest.raises(ChecksumError):
        ensure_file(no_content, tmp_path, dataset="toy", download=False)


def test_cli_reports_an_unreachable_dataset_in_one_line(tmp_path, capsys, monkeypatch):
    from realnets.cli import main

    def offline(url):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(download, "_default_opener", offline)
    code = main(["train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "fashion-mnist" in err and "Traceback" not in err


def test_system_dataset_folder_is_used_before_any_download(tmp_path, monkeypatch):
    """A copy in a system folder (Debian's /usr/share/datasets) is found and checked; nothing is fetched."""
    import gzip

    from realnets.data import remote

    system = tmp_path / "system"
    (system / "toyset").mkdir(parents=True)
    payload = b"idx payload"
    (system / "toyset" / "f.gz").write_bytes(gzip.compress(payload, mtime=1))
    entry = RemoteFile(
        "f.gz",
        ("file:///nowhere/f.gz",),
        hashlib.sha256(b"official").hexdigest(),
        content_sha256=hashlib.sha256(payload).hexdigest(),
    )
    monkeypatch.setitem(remote.FILES, "toyset", {"f.gz": entry})
    monkeypatch.setattr(remote, "SYSTEM_DATA_DIRS", (system,))

    def no_network(url):
        raise AssertionError(f"unexpected download of {url}")

    monkeypatch.setattr(download, "_default_opener", no_network)
    found = remote._fetch("toyset", "f.gz", tmp_path / "cache", download=True)
    assert found == system / "toyset" / "f.gz"
    assert not (tmp_path / "cache").exists()

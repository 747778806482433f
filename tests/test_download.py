"""Tests for memnets.data.download against a loopback HTTP server.

Each test builds a tiny tarball with the release's layout and serves it from
127.0.0.1; nothing here reaches the internet.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from memnets.data import download
from memnets.data.download import (
    DEFAULT_URLS,
    RELEASE_NAME,
    DownloadError,
    download_babi,
    expected_members,
    resolve_data_dir,
)

MISSING = f"{RELEASE_NAME}/en-10k/qa3_three-supporting-facts_train.txt"


def make_tarball(skip: str | None = None) -> bytes:
    """A gzipped tar holding every expected member (one tiny story each)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"{RELEASE_NAME}/README.txt", *expected_members()]:
            if name == skip:
                continue
            data = b"1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t1\n"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def tarball() -> bytes:
    return make_tarball()


class Server:
    """Routes: path -> (status, body, Content-Length to announce)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, int]] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, length = routes.get(self.path, (404, b"not found", 9))
                self.send_response(status)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, path: str, body: bytes, length: int | None = None, status: int = 200) -> str:
        self.routes[path] = (status, body, len(body) if length is None else length)
        return self.base + path


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    thread.join()


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def assert_installed(cache: Path, data_dir: Path, body: bytes) -> None:
    babi = cache / "babi"
    assert data_dir == babi / RELEASE_NAME
    for name in expected_members():
        assert (babi / name).is_file(), name
    assert (babi / "tasks_1-20_v1-2.tar.gz").read_bytes() == body
    digest = hashlib.sha256(body).hexdigest()
    assert (babi / f"{RELEASE_NAME}.sha256").read_text().split()[0] == digest
    # Nothing but the tarball, its digest and the data folder remains.
    assert sorted(p.name for p in babi.iterdir()) == [
        RELEASE_NAME,
        "tasks_1-20_v1-2.sha256",
        "tasks_1-20_v1-2.tar.gz",
    ]


def test_success(server, tarball, tmp_path):
    url = server.serve("/babi.tar.gz", tarball)
    data_dir = download_babi(tmp_path, urls=[url], progress=False)
    assert_installed(tmp_path, data_dir, tarball)


def test_redownload_replaces_existing_copy(server, tarball, tmp_path):
    url = server.serve("/babi.tar.gz", tarball)
    download_babi(tmp_path, urls=[url], progress=False)
    data_dir = download_babi(tmp_path, urls=[url], progress=False)
    assert_installed(tmp_path, data_dir, tarball)


def test_falls_back_to_next_url(server, tarball, tmp_path):
    dead = server.base + "/missing.tar.gz"
    good = server.serve("/babi.tar.gz", tarball)
    data_dir = download_babi(tmp_path, urls=[dead, good], progress=False)
    assert_installed(tmp_path, data_dir, tarball)


def test_all_urls_failing_names_each(server, tmp_path):
    first = server.base + "/a.tar.gz"
    second = server.base + "/b.tar.gz"
    with pytest.raises(DownloadError) as info:
        download_babi(tmp_path, urls=[first, second], progress=False)
    message = str(info.value)
    assert first in message and second in message and "404" in message
    assert all_files(tmp_path) == []


@pytest.mark.parametrize("kind", ["cut_short", "truncated_file", "garbage"])
def test_broken_archive_leaves_nothing(server, tarball, tmp_path, kind):
    half = tarball[: len(tarball) // 2]
    if kind == "cut_short":  # connection closes before Content-Length is met
        url = server.serve("/babi.tar.gz", half, length=len(tarball))
    elif kind == "truncated_file":  # a whole response holding half an archive
        url = server.serve("/babi.tar.gz", half)
    else:
        url = server.serve("/babi.tar.gz", os.urandom(4096))
    with pytest.raises(DownloadError):
        download_babi(tmp_path, urls=[url], progress=False)
    assert all_files(tmp_path) == []
    assert not (tmp_path / "babi" / RELEASE_NAME).exists()


def test_missing_member_is_named(server, tmp_path):
    url = server.serve("/babi.tar.gz", make_tarball(skip=MISSING))
    with pytest.raises(DownloadError, match="qa3_three-supporting-facts_train.txt"):
        download_babi(tmp_path, urls=[url], progress=False)
    assert all_files(tmp_path) == []


def test_checksum_mismatch(server, tarball, tmp_path):
    url = server.serve("/babi.tar.gz", tarball)
    with pytest.raises(DownloadError, match="SHA-256"):
        download_babi(tmp_path, urls=[url], progress=False, expected_sha256="0" * 64)
    assert all_files(tmp_path) == []


def test_given_checksum_accepted(server, tarball, tmp_path):
    url = server.serve("/babi.tar.gz", tarball)
    digest = hashlib.sha256(tarball).hexdigest()
    data_dir = download_babi(tmp_path, urls=[url], progress=False, expected_sha256=digest)
    assert_installed(tmp_path, data_dir, tarball)


def test_official_url_is_held_to_recorded_release(server, tarball, tmp_path, monkeypatch):
    # Route the official URL to the loopback server: the fake tarball is not
    # the release, so the recorded size check must reject it.
    local = server.serve("/babi.tar.gz", tarball)
    real_urlopen = urllib.request.urlopen
    monkeypatch.setattr(
        download.urllib.request,
        "urlopen",
        lambda url, timeout: real_urlopen(local if url == DEFAULT_URLS[0] else url, timeout=timeout),
    )
    with pytest.raises(DownloadError, match="15719851"):
        download_babi(tmp_path, urls=DEFAULT_URLS[:1], progress=False)
    assert all_files(tmp_path) == []


def test_file_url(tarball, tmp_path):
    source = tmp_path / "src" / "babi.tar.gz"
    source.parent.mkdir()
    source.write_bytes(tarball)
    cache = tmp_path / "cache"
    data_dir = download_babi(cache, urls=[source.as_uri()], progress=False)
    assert_installed(cache, data_dir, tarball)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert download.default_cache_dir() == tmp_path / "memnets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.default_cache_dir() == tmp_path / "home" / ".cache" / "memnets"


def test_resolve_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MEMNETS_DATA", raising=False)
    assert resolve_data_dir(None) is None

    cached = tmp_path / "xdg" / "memnets" / "babi" / RELEASE_NAME
    cached.mkdir(parents=True)
    assert resolve_data_dir(None) == cached

    monkeypatch.setenv("MEMNETS_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"

    # A tarball path is passed through for the reader to open.
    cli = tmp_path / "tasks_1-20_v1-2.tar.gz"
    assert resolve_data_dir(str(cli)) == cli

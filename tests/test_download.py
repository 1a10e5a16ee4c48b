"""Benchmark files fetch themselves on first use: tested against a local HTTP server on 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import textwrap
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hybrid_retrieval.data import download
from hybrid_retrieval.data.download import ChecksumMismatchError, DataNotFoundError, RemoteFile

REL = "xquad-r/de.json"
PAYLOAD = b'{"data": []}\n' + b" " * 300_000  # big enough to stream in several blocks


class _Handler(SimpleHTTPRequestHandler):
    requests: list[str] = []
    delay_s = 0.0

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        time.sleep(self.delay_s)
        super().do_GET()

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/origin on 127.0.0.1 (a free port), counting the GET requests it answers."""
    origin = tmp_path / "origin"
    (origin / "xquad-r").mkdir(parents=True)
    (origin / REL).write_bytes(PAYLOAD)
    handler = type("Handler", (_Handler,), {"requests": [], "delay_s": 0.0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(origin)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def pinned(monkeypatch, server):
    """DATASETS holding one file served by the local server, and the auto policy on."""
    url, handler = server
    remote = RemoteFile(REL, f"{url}/{REL}", hashlib.sha256(PAYLOAD).hexdigest())
    monkeypatch.setattr(download, "DATASETS", {"xquad-r": [remote]})
    monkeypatch.setattr(download, "_unreachable", None)
    download.set_policy("auto")
    yield remote, handler
    download.set_policy(None)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_first_use_downloads_verifies_and_logs_progress(pinned, tmp_path, caplog):
    remote, handler = pinned
    root = tmp_path / "data"
    with caplog.at_level(logging.INFO, logger="hybrid_retrieval.data.download"):
        path = download.require_file(root, REL)
    assert path == root / REL and path.read_bytes() == PAYLOAD
    assert handler.requests == [f"/{REL}"]
    assert _leftovers(root / "xquad-r") == ["de.json"]
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith(f"download {REL}: started of 0.3 MB") for line in lines), lines
    assert any(line.startswith(f"download {REL}: done, 0.3 MB in") for line in lines), lines


def test_second_use_does_not_download(pinned, tmp_path):
    remote, handler = pinned
    root = tmp_path / "data"
    download.require_file(root, REL)
    download.require_file(root, REL)
    assert len(handler.requests) == 1


def test_wrong_checksum_fails_naming_the_file_and_keeps_nothing(pinned, monkeypatch, tmp_path):
    remote, handler = pinned
    bad = RemoteFile(REL, remote.url, "0" * 64)
    monkeypatch.setattr(download, "DATASETS", {"xquad-r": [bad]})
    root = tmp_path / "data"
    with pytest.raises(
        ChecksumMismatchError,
        match=f"{REL}: the file downloaded from .* has sha256 "
        f"{hashlib.sha256(PAYLOAD).hexdigest()}, not the pinned 0{{64}}",
    ):
        download.require_file(root, REL)
    assert _leftovers(root / "xquad-r") == []


def test_policy_never_restores_the_missing_file_error(pinned, tmp_path):
    remote, handler = pinned
    download.set_policy("never")
    with pytest.raises(
        DataNotFoundError, match=f"(?s)missing data file .*{REL}.*python -m hybrid_retrieval.data.download"
    ):
        download.require_file(tmp_path / "data", REL)
    assert handler.requests == []


def test_unreachable_origin_fails_within_seconds_and_says_what_to_do(monkeypatch, tmp_path):
    import socket

    with socket.socket() as s:  # a port on 127.0.0.1 that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(
        download, "DATASETS", {"xquad-r": [RemoteFile(REL, f"http://127.0.0.1:{port}/{REL}", "0" * 64)]}
    )
    monkeypatch.setattr(download, "_unreachable", None)
    download.set_policy("auto")
    try:
        t0 = time.monotonic()
        with pytest.raises(DataNotFoundError) as err:
            download.require_file(tmp_path / "data", REL)
        assert time.monotonic() - t0 < 5
    finally:
        download.set_policy(None)
    msg = str(err.value)
    assert "automatic download failed: cannot download" in msg
    assert "paths.data_dir=/path/to/data" in msg and "python -m hybrid_retrieval.data.download" in msg
    assert not (tmp_path / "data" / REL).exists()


def test_two_processes_fetching_at_once_end_with_one_good_copy(pinned, tmp_path):
    remote, handler = pinned
    handler.delay_s = 0.5  # the first download is still running when the second process asks
    root = tmp_path / "data"
    script = textwrap.dedent(f"""
        from pathlib import Path
        from hybrid_retrieval.data.download import RemoteFile, fetch
        fetch(RemoteFile({remote.relpath!r}, {remote.url!r}, {remote.sha256!r}), Path({str(root)!r}),
              verify_existing=False)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert (root / REL).read_bytes() == PAYLOAD
    assert handler.requests == [f"/{REL}"]  # the second process waited on the lock, then found the file
    assert _leftovers(root / "xquad-r") == ["de.json"]


def test_every_pinned_file_has_a_sha256_and_a_unique_path():
    files = [f for group in download.DATASETS.values() for f in group]
    assert {"xquad-r", "mlqa-r", "miracl"} <= set(download.DATASETS)
    assert all(len(f.sha256) == 64 and f.url.startswith("https://") for f in files)
    assert len({f.relpath for f in files}) == len(files)

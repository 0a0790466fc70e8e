"""Downloads and mirror checks, against a real HTTP server on loopback."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from korflow.core import sources
from korflow.core.sources import ChecksumMismatch, RemoteFile

PAYLOAD = "id\tdocument\tlabel\n1\t재밌다\t1\n".encode()
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server():
    """Serves PAYLOAD at /ok, fails /flaky with 503 twice before serving it, 404 elsewhere."""
    hits: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits[self.path] = hits.get(self.path, 0) + 1
            if self.path == "/flaky" and hits[self.path] <= 2:
                self.send_error(503)
                return
            if self.path not in ("/ok", "/flaky"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()


def _leftovers(folder: Path):
    return [p.name for p in folder.rglob("*") if p.is_file()]


def test_download_checks_sha256_and_caches(server, tmp_path):
    url, hits = server
    remote = RemoteFile("nsmc/ratings_train.txt", f"{url}/ok", SHA)
    path, sha = sources.fetch(remote, None, tmp_path)
    assert path.read_bytes() == PAYLOAD and sha == SHA
    sources.fetch(remote, None, tmp_path)  # second call: from the cache
    assert hits["/ok"] == 1


def test_download_retries_server_errors(server, tmp_path):
    url, hits = server
    path, _ = sources.fetch(RemoteFile("x/f.txt", f"{url}/flaky", SHA), None, tmp_path)
    assert path.read_bytes() == PAYLOAD and hits["/flaky"] == 3


def test_download_mismatch_names_both_hashes_and_leaves_nothing(server, tmp_path):
    url, _ = server
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatch) as err:
        sources.fetch(RemoteFile("nsmc/ratings_train.txt", f"{url}/ok", wrong), None, tmp_path)
    assert wrong in str(err.value) and SHA in str(err.value) and "/ok" in str(err.value)
    assert _leftovers(tmp_path) == []


def test_mirror_file_mismatch_is_an_error_naming_the_file(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "nsmc").mkdir(parents=True)
    (mirror / "nsmc" / "ratings_train.txt").write_bytes(PAYLOAD + b"tampered")
    with pytest.raises(
        ChecksumMismatch,
        match=r"ratings_train.txt: sha256 mismatch: expected " + sources.NSMC["train"].sha256,
    ):
        sources.fetch(sources.NSMC["train"], mirror, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_missing_mirror_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing from the data mirror"):
        sources.fetch(sources.NSMC["test"], tmp_path, tmp_path / "cache")


def test_streaming_a_url_reads_only_what_is_asked(server):
    url, _ = server
    with sources.open_url(f"{url}/ok") as stream:
        assert stream.read(2) == b"id"


def test_only_a_network_error_a_later_try_may_not_meet_is_transient():
    import requests

    from korflow.core.sources import http_session, is_transient

    with pytest.raises(requests.ConnectionError) as refused:  # nothing listens on port 1
        http_session(retries=0).get("http://127.0.0.1:1/dump.xml.bz2", timeout=5)
    assert not is_transient(refused.value)  # fails at once, not after minutes of retries
    assert is_transient(requests.ConnectionError("Connection reset by peer"))
    assert is_transient(requests.Timeout())

"""A scheduled run without a mirror sees a new Wikipedia dump: a local HTTP server (loopback
only) plays dumps.wikimedia.org, serving a tiny dump and its published sha1 sums, then a new
one at the same ``latest`` URL."""

import bz2
import hashlib
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from korflow.core import sources
from tasks.ingest import locate_wiki
from tests.helpers import FIXTURES

LATEST = "/kowiki/latest/kowiki-latest-pages-articles.xml.bz2"
SUMS = "/kowiki/latest/kowiki-latest-sha1sums.txt"


class Upstream:
    """What the fake dumps site serves now, and how often each path was fetched."""

    def __init__(self) -> None:
        self.dump, self.date, self.gets = b"", "", Counter()

    def publish(self, text: bytes, date: str) -> None:
        self.dump, self.date = bz2.compress(text), date

    def body(self, path: str) -> bytes | None:
        if path == LATEST:
            return self.dump
        if path == SUMS:
            sha1 = hashlib.sha1(self.dump).hexdigest()
            return f"{sha1}  kowiki-{self.date}-pages-articles.xml.bz2\n".encode()
        return None


@pytest.fixture
def upstream(monkeypatch):
    site = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, head_only: bool) -> None:
            body = site.body(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", hashlib.md5(body).hexdigest())
            self.end_headers()
            if not head_only:
                site.gets[self.path] += 1
                self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's naming
            self._send(False)

        def do_HEAD(self):  # noqa: N802
            self._send(True)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(sources, "KOWIKI_DUMP_URL", base + LATEST)
    monkeypatch.setattr(sources, "KOWIKI_SHA1SUMS_URL", base + SUMS)
    yield site
    server.shutdown()


def test_a_new_upstream_dump_is_downloaded_an_unchanged_one_is_not(upstream):
    text = (FIXTURES / "kowiki-tiny.xml").read_bytes()
    upstream.publish(text, "20990101")
    first = locate_wiki.fn(None, None, False)
    again = locate_wiki.fn(None, None, False)
    assert again.sha256 == first.sha256 and upstream.gets[LATEST] == 1  # cached, not fetched
    assert upstream.gets[SUMS] == 2  # but upstream was asked each time
    # The next month's dump at the same URL: downloaded, checked, and a new input digest.
    upstream.publish(text.replace(b"</mediawiki>", b"<!-- next dump --></mediawiki>"), "20990201")
    changed = locate_wiki.fn(None, None, False)
    assert upstream.gets[LATEST] == 2 and changed.sha256 != first.sha256
    # A streamed (capped) read is keyed on the same upstream identity.
    capped = locate_wiki.fn(None, None, True)
    upstream.publish(text, "20990301")
    assert locate_wiki.fn(None, None, True).sha256 != capped.sha256

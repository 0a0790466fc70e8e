"""Where the raw data comes from: upstream URLs with checksums, or a local mirror folder.

The mirror (``--data-mirror`` / KORFLOW_DATA_MIRROR) holds the upstream files under the same
relative paths (``nsmc/ratings_train.txt``, ``kowiki/``, ``eval/``, ``chatbot/``). Mirror
files are read in place and checked like downloads; downloads go to a cache folder through a
temporary name, so a failed or mismatching download is never picked up later.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from korean.errors import KoreanNLPError

from .datasets import atomic_write, sha256_file
from .secrets import credentials

log = logging.getLogger(__name__)


class ChecksumMismatch(KoreanNLPError):
    """A file's digest differs from the published one."""


@dataclass(frozen=True)
class RemoteFile:
    relpath: str  # path inside the mirror and the download cache
    url: str
    sha256: str | None = None


NSMC_URL = "https://raw.githubusercontent.com/e9t/nsmc/master/{}"
NSMC = {
    "train": RemoteFile(
        "nsmc/ratings_train.txt",
        NSMC_URL.format("ratings_train.txt"),
        "e03b7d14e9e41be8d464a28057cd25d7396c53e67aa7fd5f7e552c59b0ee2940",
    ),
    "test": RemoteFile(
        "nsmc/ratings_test.txt",
        NSMC_URL.format("ratings_test.txt"),
        "8ac9f64052f11dbf6ae0acb5e038f03d90a76f0eda7820cfb3a92d02edfcebda",
    ),
}
EVAL_URL = "https://raw.githubusercontent.com/SungjoonPark/KoreanWordVectors/master/{}"
EVAL = {
    "ws353": RemoteFile(
        "eval/WS353_korean.csv",
        EVAL_URL.format("WS353_korean.csv"),
        "1a2d9048dfde1a63e864c59f292db42ebe62b63469900d08bb87b074cc96306e",
    ),
    "analogy": RemoteFile(
        "eval/word_analogy_korean.txt",
        EVAL_URL.format("word_analogy_korean.txt"),
        "b6dea84dda708883948de3b5922604acbe8fe71ed137c005c5b58b2cccbe4e96",
    ),
}
CHATBOT = RemoteFile(
    "chatbot/ChatbotData.csv",
    "https://raw.githubusercontent.com/songys/Chatbot_data/master/ChatbotData.csv",
    "287eb129695b577321c80ad397bb3c2279164d4ca577874d129fd3db5b30afe2",
)
KOWIKI_DUMP_URL = "https://dumps.wikimedia.org/kowiki/latest/kowiki-latest-pages-articles.xml.bz2"
KOWIKI_SHA1SUMS_URL = "https://dumps.wikimedia.org/kowiki/latest/kowiki-latest-sha1sums.txt"


class _Session(requests.Session):
    """Requests a URL that ``secrets.hide`` masked with its real credentials, sent as a
    basic-auth header rather than in the URL an error message would print."""

    def request(self, method, url, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        bare, auth = credentials(str(url))
        if auth and kwargs.get("auth") is None:
            kwargs["auth"] = auth
        return super().request(method, bare, *args, **kwargs)


def http_session(retries: int = 5) -> requests.Session:
    """A session that retries connection errors and 429/5xx with exponential back-off."""
    retry = Retry(
        total=retries,
        backoff_factor=1.0,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=("GET", "HEAD"),
    )
    session = _Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = "korflow (+https://github.com/korflow)"
    return session


def is_transient(exc: BaseException) -> bool:
    """A network error that a later try may not meet (connection, timeout, 429 or 5xx);
    a checksum mismatch, a missing file or a malformed input fails the same way every time,
    and so does a host that refuses the connection (nothing listens there: the session's own
    retries, about half a minute, cover a server that restarts)."""
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        return status == 429 or status >= 500
    if _refused(exc):
        return False
    return isinstance(
        exc,
        (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ),
    )


def _refused(exc: BaseException | None) -> bool:
    """ECONNREFUSED somewhere in the exception's chain (requests wraps urllib3's)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ConnectionRefusedError):
            return True
        reason = getattr(exc, "reason", None)
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = reason if isinstance(reason, BaseException) else inner or exc.__cause__
        seen += 1
    return False


def verify(path: Path, expected: str | None, algo: str = "sha256") -> str:
    """Return the file's digest; raise ChecksumMismatch naming the file and both digests."""
    actual = sha256_file(path) if algo == "sha256" else _digest(path, algo)
    if expected and actual != expected:
        raise ChecksumMismatch(f"{path}: {algo} mismatch: expected {expected}, got {actual}")
    return actual


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, expected: str | None = None, algo: str = "sha256") -> Path:
    """Download ``url`` to ``dest`` via a temporary file, checking the digest before the rename."""
    with atomic_write(dest) as tmp:
        with http_session().get(url, stream=True, timeout=60) as response:
            response.raise_for_status()
            with open(tmp, "wb") as f:
                for block in response.iter_content(1 << 20):
                    f.write(block)
        actual = _digest(tmp, algo)
        if expected and actual != expected:
            raise ChecksumMismatch(f"{url}: {algo} mismatch: expected {expected}, got {actual}")
    return dest


def fetch(remote: RemoteFile, mirror: Path | None, cache_dir: Path) -> tuple[Path, str]:
    """(local path, sha256) of a remote file: from the mirror if given, else the download cache."""
    if mirror is not None:
        path = mirror / remote.relpath
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing from the data mirror {mirror}")
        return path, verify(path, remote.sha256)
    dest = cache_dir / remote.relpath
    if dest.is_file():
        try:
            return dest, verify(dest, remote.sha256)
        except ChecksumMismatch:
            log.warning("cached %s does not match its checksum; downloading again", dest)
            dest.unlink()
    log.info("downloading %s", remote.url)
    download(remote.url, dest, remote.sha256)
    return dest, verify(dest, remote.sha256)


def open_url(url: str) -> BinaryIO:
    """A streaming, retried HTTP body: read it like a file; stop early to download less."""
    response = http_session().get(url, stream=True, timeout=60)
    response.raise_for_status()
    response.raw.decode_content = True
    return response.raw


def published_dump(
    sums_url: str, pattern: str = r"kowiki-\d+-pages-articles\.xml\.bz2"
) -> tuple[str, str]:
    """(dated file name, sha1) of the pages-articles dump that dumps.wikimedia.org publishes
    beside ``latest``: what the latest dump is, without downloading it."""
    response = http_session().get(sums_url, timeout=60)
    response.raise_for_status()
    for line in response.text.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(pattern, parts[1]):
            return parts[1], parts[0]
    raise ChecksumMismatch(f"{sums_url} lists no file matching {pattern}")


def remote_identity(url: str) -> str:
    """What the server says identifies the file at ``url`` (ETag, date, size): a changed
    file at the same URL gets another identity."""
    head = http_session().head(url, allow_redirects=True, timeout=60)
    head.raise_for_status()
    return "|".join(head.headers.get(h, "") for h in ("ETag", "Last-Modified", "Content-Length"))


def is_url(value: str | Path) -> bool:
    return str(value).startswith(("http://", "https://"))

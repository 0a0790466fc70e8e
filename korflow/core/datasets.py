"""Parquet shards: written atomically, described by their sha256 and their own metadata.

A shard's row counts and skip counts live in the parquet file's key-value metadata, so a
``Shard`` can always be rebuilt from the file alone, and its sha256 keys every cache
downstream of it. Files are written to a temporary name and renamed into place: a failed
stage never leaves a half-written file under a name a later run would trust.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

_META_KEY = b"korflow"


class Shard(BaseModel):
    path: str
    sha256: str
    rows: int
    stats: dict[str, Any] = {}

    def read(self, columns: list[str] | None = None) -> pa.Table:
        if not Path(self.path).is_file():
            raise FileNotFoundError(
                f"shard {self.path} is gone (deleted after it was cached?): re-run with --refresh"
            )
        return pq.read_table(self.path, columns=columns)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(root: str | Path, files: list[Path]) -> str:
    """Digest of a folder of input files: their relative paths and contents."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(Path(file).relative_to(root)).encode())
        digest.update(sha256_file(file).encode())
    return digest.hexdigest()


def digest_of(*parts: Any) -> str:
    """A short stable digest of JSON-able parts, for content-addressed output names."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@contextlib.contextmanager
def file_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[float | None]:
    """An exclusive ``flock`` on ``path`` for the body: across threads and processes alike.
    ``on_wait`` is called when another holder makes it wait; yields the seconds it waited
    (None when it did not)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        waited = None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            started = time.perf_counter()
            fcntl.flock(handle, fcntl.LOCK_EX)
            waited = time.perf_counter() - started
        try:
            yield waited
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _temporary_sibling(path: Path, folder: bool = False) -> Path:
    """A new temporary sibling of ``path`` (a file, or with ``folder`` a folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        tmp.chmod(0o777 & ~umask())  # mkdtemp makes it private, as mkstemp does a file
        return tmp
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes it private (0600); the file it becomes is an ordinary output, readable as
    # the user's umask allows (by the serving account, a teammate).
    os.fchmod(fd, 0o666 & ~umask())
    os.close(fd)
    return Path(tmp)


def umask() -> int:
    """This process's umask, read without changing it (os.umask sets it while reading)."""
    with contextlib.suppress(OSError, StopIteration, ValueError):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_write(path: str | Path, folder: bool = False) -> Iterator[Path]:
    """A temporary sibling to write ``path`` into (a folder with ``folder``), renamed over it
    when the body ends and removed if it raises: a reader sees the old content or the new,
    never a half-written file under a name a later run would trust."""
    path = Path(path)
    tmp = _temporary_sibling(path, folder)
    try:
        yield tmp
        if folder:  # a rename does not replace a folder that holds files
            shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        if folder:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def write_shard(table: pa.Table, path: str | Path, stats: dict[str, Any] | None = None) -> Shard:
    path = Path(path)
    stats = stats or {}
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps(stats, ensure_ascii=False).encode()
    with atomic_write(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd")
    return Shard(path=str(path), sha256=sha256_file(path), rows=table.num_rows, stats=stats)


def load_shard(path: str | Path) -> Shard:
    """Rebuild a ``Shard`` from a file that ``write_shard`` wrote."""
    meta = pq.read_schema(path).metadata or {}
    stats = json.loads(meta.get(_META_KEY, b"{}"))
    rows = pq.read_metadata(path).num_rows
    return Shard(path=str(path), sha256=sha256_file(path), rows=rows, stats=stats)


def write_json_atomic(obj: Any, path: str | Path) -> Path:
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return Path(path)


class SourceFile(BaseModel):
    """A raw input (file, folder or URL) and the digest that keys every cache downstream."""

    name: str
    path: str
    sha256: str
    origin: str = ""  # URL it came from, or "mirror"


class Dataset(BaseModel):
    """The shards one stage produced for one corpus, with the stage's counts."""

    name: str
    shards: list[Shard]
    stats: dict[str, Any] = {}

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

"""Ingestion tasks: NSMC and Korean Wikipedia -> parquet shards under KORFLOW_HOME/corpus."""

from __future__ import annotations

import bz2
import itertools
from collections import Counter
from pathlib import Path

import pyarrow as pa
from prefect import get_run_logger, task

from korean.nsmc import parse_reviews
from korean.wiki import extractor_files, iter_wiki_docs, iter_xml_dump
from korflow.core import settings, sources
from korflow.core.datasets import (
    Dataset,
    SourceFile,
    digest_of,
    sha256_file,
    sha256_tree,
    write_shard,
)
from korflow.core.progress import progress

from .caching import CORPUS_CACHE, data_task

NSMC_SCHEMA = pa.schema(
    [("id", pa.int64()), ("document", pa.string()), ("label", pa.int8()), ("split", pa.string())]
)
WIKI_SCHEMA = pa.schema([("doc_id", pa.string()), ("title", pa.string()), ("text", pa.string())])


def _network_error(task, task_run, state) -> bool:
    """Retry a fetch only after a network error: a deterministic failure fails at once."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - classified, not handled
        return sources.is_transient(exc)
    return False


# Waits for a flaky network; a checksum mismatch or a missing file is not retried.
FETCH_RETRIES = dict(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_network_error)


@task(**FETCH_RETRIES)
def fetch_file(
    name: str, remote: sources.RemoteFile, mirror: str | None, path: str | None = None
) -> SourceFile:
    """A published file: the user's own copy if given (its digest is recorded, not checked),
    else the mirror's or upstream's, checked against the published sha256."""
    if path:
        local = Path(path)
        if not local.is_file():
            raise FileNotFoundError(f"{name} file {local} does not exist")
        return SourceFile(name=name, path=str(local), sha256=sha256_file(local), origin="local")
    cache = settings.home() / "downloads"
    found, sha = sources.fetch(remote, Path(mirror) if mirror else None, cache)
    origin = "mirror" if mirror else remote.url
    return SourceFile(name=name, path=str(found), sha256=sha, origin=origin)


@data_task(CORPUS_CACHE)
def ingest_nsmc(
    files: dict[str, SourceFile],
    max_rows: dict[str, int | None],
    shard_rows: int,
    strict: bool = False,
    columns: tuple[str, str] = ("document", "label"),
) -> Dataset:
    """Parse the NSMC TSVs, or the user's CSV/TSV files with these (text, label) ``columns``
    (counted skips), into shards of (id, document, label, split)."""
    logger = get_run_logger()
    out = settings.output_path(
        "corpus",
        "nsmc",
        digest_of(
            {k: f.sha256 for k, f in files.items()},
            max_rows,
            shard_rows,
            *([list(columns)] if tuple(columns) != ("document", "label") else []),
        ),
    )
    shards, stats = [], {}
    for split, source in sorted(files.items(), key=lambda kv: kv[0] != "train"):
        with open(source.path, "rb") as f:
            table = parse_reviews(f, source.path, strict, *columns)
        limit = max_rows.get(split)
        n = min(len(table), limit) if limit else len(table)
        if n == 0:  # refused here, not by a training that finds nothing to learn from hours later
            skipped = ", ".join(f"{c} {r}" for r, c in table.skipped.items()) or "none skipped"
            raise ValueError(
                f"{source.path}: the NSMC {split} split has 0 usable rows ({skipped}); give a "
                "file of tab-separated id, document, label rows under a header line, or a CSV/TSV "
                "whose header names its columns (--set corpus.nsmc_text_column=NAME "
                "--set corpus.nsmc_label_column=NAME; labels 0 or 1)"
            )
        for reason, count in table.skipped.items():
            logger.warning("%s: skipped %d malformed rows (%s)", source.path, count, reason)
        stats[split] = {
            "rows_read": len(table),
            "rows_kept": n,
            "empty_documents": sum(1 for d in table.documents[:n] if not d.strip()),
            "skipped": dict(table.skipped),
        }
        for i, start in enumerate(range(0, n, shard_rows)):
            stop = min(start + shard_rows, n)
            part = pa.table(
                {
                    "id": table.ids[start:stop],
                    "document": table.documents[start:stop],
                    "label": table.labels[start:stop],
                    "split": [split] * (stop - start),
                },
                schema=NSMC_SCHEMA,
            )
            shards.append(write_shard(part, out / f"{split}-{i:05d}.parquet", {"split": split}))
    logger.info("NSMC: %s", {s: v["rows_kept"] for s, v in stats.items()})
    return Dataset(name="nsmc", shards=shards, stats=stats)


@task(**FETCH_RETRIES)
def locate_wiki(source: str | None, mirror: str | None, capped: bool) -> SourceFile:
    """Resolve the Wikipedia input and its digest.

    An explicit path or URL wins, then the mirror's ``kowiki/`` (a WikiExtractor tree or a
    ``*.xml.bz2`` dump in it), then the latest dump on dumps.wikimedia.org: streamed when a
    cap is set (only the first pages are read), else downloaded whole and sha1-checked.
    """
    if not source:
        source = str(Path(mirror) / "kowiki") if mirror else sources.KOWIKI_DUMP_URL
    if sources.is_url(source):
        # Asked of upstream on every run, so a schedule sees a new dump: the latest dump's
        # dated name and published sha1, or what the server says of any other URL.
        expected, algo = None, "sha256"
        if source == sources.KOWIKI_DUMP_URL:
            dated, expected = sources.published_dump(sources.KOWIKI_SHA1SUMS_URL)
            identity, algo = f"{dated} {expected}", "sha1"
        else:
            identity = sources.remote_identity(source)
        if capped:  # streamed: the cache key is the upstream identity
            return SourceFile(
                name="kowiki", path=source, sha256=digest_of(source, identity), origin=source
            )
        dest = (settings.home() / "downloads" / "kowiki" / digest_of(source, identity)[:16]) / Path(
            source
        ).name
        if not dest.is_file():  # a new dump upstream: a new folder, downloaded and checked
            sources.download(source, dest, expected, algo=algo)
        return SourceFile(name="kowiki", path=str(dest), sha256=sha256_file(dest), origin=source)
    path = Path(source)
    if path.is_dir():
        dumps = sorted(path.glob("*.xml.bz2")) + sorted(path.glob("*.xml"))
        if dumps and not extractor_files(path):
            path = dumps[0]
        else:
            return SourceFile(
                name="kowiki",
                path=str(path),
                origin="mirror" if mirror else "local",
                sha256=sha256_tree(path, extractor_files(path)),
            )
    if not path.is_file():
        raise FileNotFoundError(f"Wikipedia source {path} does not exist")
    return SourceFile(name="kowiki", path=str(path), sha256=sha256_file(path), origin="local")


def _wiki_docs(source: SourceFile, skipped: Counter):
    if sources.is_url(source.path):
        stream = bz2.BZ2File(sources.open_url(source.path))
        return iter_xml_dump(stream, source.path, skipped)
    return iter_wiki_docs(Path(source.path), skipped)


@data_task(CORPUS_CACHE)
def ingest_wiki(
    source: SourceFile, max_docs: int | None, max_mb: float | None, shard_docs: int
) -> Dataset:
    """Stream articles into shards of (doc_id, title, text); memory holds one shard at most.

    A corrupt input raises after the shards before it were written whole; the set of shards is
    only ever returned (and cached) complete, so nothing trusts a partial ingest.
    """
    out = settings.output_path(
        "corpus", "wiki", digest_of(source.sha256, max_docs, max_mb, shard_docs)
    )
    skipped: Counter = Counter()
    max_bytes = int(max_mb * 1e6) if max_mb else None
    shards, docs, text_bytes = [], 0, 0
    batch: dict[str, list[str]] = {"doc_id": [], "title": [], "text": []}

    def flush() -> None:
        if batch["doc_id"]:
            part = pa.table(batch, schema=WIKI_SCHEMA)
            shards.append(write_shard(part, out / f"part-{len(shards):05d}.parquet"))
            for column in batch.values():
                column.clear()

    with progress("Wikipedia ingest (docs)", total=max_docs) as advance:
        for doc in itertools.islice(_wiki_docs(source, skipped), max_docs):
            size = len(doc.text.encode("utf-8"))
            if max_bytes and text_bytes + size > max_bytes and docs:
                break
            batch["doc_id"].append(doc.id)
            batch["title"].append(doc.title)
            batch["text"].append(doc.text)
            docs += 1
            text_bytes += size
            advance(1, note=f"{text_bytes / 1e6:,.0f} MB")
            if len(batch["doc_id"]) >= shard_docs:
                flush()
        flush()
    if not shards:
        raise ValueError(f"{source.path}: no Wikipedia articles with text were found")
    stats = {"docs": docs, "text_mb": round(text_bytes / 1e6, 3), "skipped": dict(skipped)}
    get_run_logger().info("Wikipedia: %s", stats)
    return Dataset(name="wiki", shards=shards, stats=stats)

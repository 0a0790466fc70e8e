"""Corpus benchmarks: clean + tokenize throughput per KoNLPy backend, Wikipedia ingest.

    python benchmarks/corpus.py nsmc --backend mecab         # all 200K NSMC documents
    python benchmarks/corpus.py nsmc --backend kkma --limit 10000
    python benchmarks/corpus.py wiki                         # the whole Wikipedia mirror
    python benchmarks/corpus.py wiki-xml --limit 20000       # a MediaWiki XML dump built from it
    python benchmarks/corpus.py all                          # each above in a fresh process

Reads the mirror from KORFLOW_DATA_MIRROR. Every figure comes from one process that does only
that work, so peak RSS (ru_maxrss) is the work's own. Prints a Markdown table row per run.
"""

from __future__ import annotations

import argparse
import bz2
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from korean.clean import REVIEWS, Cleaner  # noqa: E402
from korean.morphemes import TokenizerConfig, get_tokenizer  # noqa: E402
from korean.nsmc import parse_nsmc  # noqa: E402
from korflow.core import sources  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_nsmc(mirror: Path, backend: str, limit: int | None) -> dict:
    """End to end: read + sha256-check both files, parse, clean, tokenize every document."""
    tokenizer = get_tokenizer(TokenizerConfig(backend=backend))  # JVM / MeCab start not timed
    tokenizer("워밍업 문장")
    start = time.perf_counter()
    docs = []
    for split in ("train", "test"):
        path, _ = sources.fetch(sources.NSMC[split], mirror, Path(tempfile.gettempdir()))
        with open(path, "rb") as f:
            docs.extend(parse_nsmc(f, name=str(path)).documents)
    docs = docs[:limit] if limit else docs
    clean = Cleaner(REVIEWS)  # what the corpus stage does to reviews
    tokens = sum(len(tokenizer(clean(d))) for d in docs)
    seconds = time.perf_counter() - start
    return {
        "bench": f"NSMC clean+tokenize ({backend})",
        "docs": len(docs),
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "docs_per_s": round(len(docs) / seconds),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def xml_dump_from_mirror(mirror: Path, limit: int, dest: Path) -> Path:
    """A pages-articles style dump (bz2) of the mirror's first ``limit`` articles, for the
    XML path: same text, wrapped as wikitext pages, with a redirect and a talk page every 10."""
    from xml.sax.saxutils import escape

    from korean.wiki import iter_wiki_docs

    with bz2.open(dest, "wt", encoding="utf-8") as out:
        out.write('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/">\n')
        docs = itertools.islice(iter_wiki_docs(mirror / "kowiki", Counter()), limit)
        for i, doc in enumerate(docs):
            body = escape(f"'''{doc.title}'''\n{doc.text}\n[[분류:{doc.title}]]")
            out.write(
                f"<page><title>{escape(doc.title)}</title><ns>0</ns><id>{doc.id}</id>"
                f"<revision><text>{body}</text></revision></page>\n"
            )
            if i % 10 == 0:
                out.write(
                    f"<page><title>토론:{escape(doc.title)}</title><ns>1</ns><id>x{i}</id>"
                    "<revision><text>토론</text></revision></page>\n"
                )
        out.write("</mediawiki>\n")
    return dest


def bench_wiki(mirror: Path, source: Path | None = None) -> dict:
    """Ingest a Wikipedia input into parquet shards (the corpus flow's ingest task)."""
    os.environ.setdefault("KORFLOW_HOME", tempfile.mkdtemp(prefix="korflow-bench-"))
    os.environ["KORFLOW_PROGRESS"] = "0"
    from korflow.core import settings

    settings.configure()
    from prefect import flow

    from tasks.ingest import ingest_wiki, locate_wiki

    @flow
    def ingest_only():
        located = locate_wiki(str(source) if source else None, str(mirror), capped=False)
        return ingest_wiki.with_options(refresh_cache=True)(located, None, None, 5000)

    start = time.perf_counter()
    dataset = ingest_only()
    seconds = time.perf_counter() - start
    mb = dataset.stats["text_mb"]
    what = f"XML dump, {dataset.stats['docs']:,} articles" if source else "whole mirror"
    return {
        "bench": f"Wikipedia ingest ({what})",
        "docs": dataset.stats["docs"],
        "text_mb": mb,
        "seconds": round(seconds, 2),
        "mb_per_s": round(mb / seconds, 2),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def run_all(limits: dict[str, int | None]) -> None:
    rows = []
    jobs = [["wiki"], ["wiki-xml", "--limit", "10000"], ["wiki-xml", "--limit", "40000"]] + [
        ["nsmc", "--backend", b] + (["--limit", str(n)] if n else []) for b, n in limits.items()
    ]
    for job in jobs:
        out = subprocess.run(
            [sys.executable, __file__, *job, "--json"], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
    print("| benchmark | docs | seconds | throughput | peak RSS (MB) |\n|---|---:|---:|---:|---:|")
    for r in rows:
        rate = f"{r['docs_per_s']:,} docs/s" if "docs_per_s" in r else f"{r['mb_per_s']} MB/s"
        print(f"| {r['bench']} | {r['docs']:,} | {r['seconds']} | {rate} | {r['peak_rss_mb']:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["nsmc", "wiki", "wiki-xml", "all"])
    parser.add_argument("--backend", default="mecab")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    mirror = Path(os.environ["KORFLOW_DATA_MIRROR"]).resolve()
    if args.what == "all":
        # Hannanum and Kkma are far slower: they get a 10K-document sample.
        run_all({"mecab": None, "okt": None, "komoran": None, "hannanum": 10_000, "kkma": 10_000})
        return
    if args.what == "nsmc":
        result = bench_nsmc(mirror, args.backend, args.limit)
    elif args.what == "wiki":
        result = bench_wiki(mirror)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            dump = xml_dump_from_mirror(mirror, args.limit or 20_000, Path(tmp) / "kowiki.xml.bz2")
            result = bench_wiki(mirror, dump)
    print(json.dumps(result, ensure_ascii=False) if args.json else result)


if __name__ == "__main__":
    main()

"""FastText benchmark: the four models (syllable/jamo x morpheme/eojeol) on NSMC train + the
whole Wikipedia mirror with the default settings, and gensim against fastText C++.

    KORFLOW_HOME=... python benchmarks/embeddings.py prepare        # corpus stage, full profile
    KORFLOW_HOME=... python benchmarks/embeddings.py train syllable morpheme
    KORFLOW_HOME=... python benchmarks/embeddings.py cpp syllable morpheme   # needs fasttext-wheel
    KORFLOW_HOME=... python benchmarks/embeddings.py all

Each model trains alone in a fresh process (so words/s and peak RSS are its own) with
workers = 2 (this machine's cores). Prints one JSON line per run and, for ``all``, a table.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import peak_mb, run_jobs  # noqa: E402

THREADS = os.cpu_count() or 2


def _corpus_file(unit: str, level: str) -> Path:
    """The corpus file the embed flow would train on (written once, then reused)."""
    from korflow.core import settings

    settings.configure()
    from korflow.core.datasets import Shard

    manifest = json.loads((settings.home() / "corpus" / "manifest-full.json").read_text())
    shards = [Shard(**s) for name in ("nsmc", "wiki") for s in manifest["datasets"][name]["tokens"]]
    path = settings.output_path("embed", "bench", f"{unit}-{level}.txt")
    if not path.is_file():
        from korean.embeddings import write_corpus
        from korflow.core.datasets import atomic_write
        from tasks.embed import _sentences

        with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
            write_corpus(_sentences(shards, unit), level, out)
    return path


def train(level: str, unit: str) -> dict:
    from korean.embeddings import DEFAULT_PARAMS, KoreanVectors, train_fasttext
    from korean.evaluation import evaluate_analogy, evaluate_similarity, load_analogies, load_ws353

    corpus = _corpus_file(unit, level)
    params = replace(DEFAULT_PARAMS[level], workers=THREADS)
    start = time.perf_counter()
    model, stats = train_fasttext(corpus, params)
    wall = time.perf_counter() - start
    model.save(str(corpus.with_suffix(".model")))  # kept for the sentiment benchmark
    mirror = Path(os.environ["KORFLOW_DATA_MIRROR"])
    vectors = KoreanVectors(model.wv, level)
    m = evaluate_similarity(vectors, load_ws353(mirror / "eval" / "WS353_korean.csv"))
    m.update(
        evaluate_analogy(
            vectors, load_analogies(mirror / "eval" / "word_analogy_korean.txt"), 300_000
        )
    )
    return {
        "model": f"{level}/{unit}",
        "tokens": stats.corpus_words,
        "vocab": stats.vocabulary,
        "wall_s": round(wall),
        "words_per_s": round(stats.words_per_s),
        "peak_rss_mb": peak_mb(),
        "ws353": round(m["ws353_spearman"], 3),
        "ws353_in_vocab": m["ws353_pairs_in_vocab"],
        "analogy": round(m["analogy_accuracy"], 3),
        "semantic": round(m["analogy_semantic_accuracy"], 3),
        "syntactic": round(m["analogy_syntactic_accuracy"], 3),
        "park_sem_distance": round(m["analogy_semantic_distance"], 3),
        "park_syn_distance": round(m["analogy_syntactic_distance"], 3),
        "params": asdict(params),
    }


def cpp(level: str, unit: str) -> dict:
    """fastText C++ (fasttext-wheel) on the same corpus file with the same settings."""
    import fasttext

    from korean.embeddings import DEFAULT_PARAMS

    corpus = _corpus_file(unit, level)
    p = DEFAULT_PARAMS[level]
    start = time.perf_counter()
    model = fasttext.train_unsupervised(
        str(corpus),
        model="skipgram" if p.sg else "cbow",
        dim=p.vector_size,
        ws=p.window,
        epoch=p.epochs,
        minCount=p.min_count,
        minn=p.min_n,
        maxn=p.max_n,
        neg=p.negative,
        t=p.sample,
        bucket=p.bucket,
        thread=THREADS,
        verbose=0,
    )
    wall = time.perf_counter() - start
    with open(corpus, encoding="utf-8") as f:
        tokens = sum(len(line.split()) for line in f)
    return {
        "model": f"fastText C++ {level}/{unit}",
        "tokens": tokens,
        "vocab": len(model.words),
        "wall_s": round(wall),
        "words_per_s": round(tokens * p.epochs / wall),
        "peak_rss_mb": peak_mb(),
    }


def prepare() -> dict:
    """Run the corpus stage on the full profile (served from the cache if already done)."""
    from korflow.core import settings

    settings.configure()
    from flows.corpus import corpus_flow

    result = corpus_flow(profile="full", data_mirror=os.environ["KORFLOW_DATA_MIRROR"])
    return {"corpus_run_id": result.run_id, "seconds": round(result.seconds)}


def main() -> None:
    what, *args = sys.argv[1:]
    if what != "all":
        print(
            json.dumps(
                {"prepare": prepare, "train": train, "cpp": cpp}[what](*args), ensure_ascii=False
            )
        )
        return
    jobs = (
        [["prepare"]]
        + [["train", lv, u] for u in ("morpheme", "eojeol") for lv in ("syllable", "jamo")]
        + [["cpp", "syllable", "morpheme"]]
    )
    rows = run_jobs(__file__, jobs)
    print(
        "| model | tokens | vocab | wall (s) | words/s | peak RSS (MB) | WS-353 rho | analogy | "
        "semantic | syntactic | Park dist. sem / syn |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        "---:|---:|---:|"
    )
    for r in rows[1:]:
        print(
            f"| {r['model']} | {r['tokens']:,} | {r['vocab']:,} | {r['wall_s']} | "
            f"{r['words_per_s']:,} | {r['peak_rss_mb']:,} | {r.get('ws353', '')} | "
            f"{r.get('analogy', '')} | {r.get('semantic', '')} | {r.get('syntactic', '')} | "
            f"{r.get('park_sem_distance', '')} / {r.get('park_syn_distance', '')} |"
        )


if __name__ == "__main__":
    main()

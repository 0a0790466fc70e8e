"""FastText tasks: export the corpus at a level, train, evaluate."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from gensim.models import FastText, KeyedVectors
from gensim.models.fasttext import save_facebook_model
from prefect import get_run_logger

from korean.embeddings import (
    FastTextParams,
    KoreanVectors,
    save_fasttext,
    train_fasttext,
    write_corpus,
)
from korean.evaluation import evaluate_analogy, evaluate_similarity, load_analogies, load_ws353
from korflow.core import packages, settings
from korflow.core.cpu import cpu_turn
from korflow.core.datasets import Shard, SourceFile, atomic_write, digest_of, sha256_file
from korflow.core.plots import projection_png

from .caching import data_cache, data_task

EMBED_CACHE = data_cache(*packages.EMBED_TASKS)


def _sentences(shards: list[Shard], unit: str):
    """Token lists from tokenized shards: training rows only (never the NSMC test split)."""
    for shard in shards:
        table = shard.read()
        if "split" in table.column_names:
            table = table.filter(pc.equal(table["split"], "train"))
        if unit == "morpheme":
            yield from table.column("tokens").to_pylist()
        else:
            yield from (text.split() for text in table.column("text").to_pylist())


@data_task(EMBED_CACHE)
def export_corpus(shards: list[Shard], unit: str, level: str) -> Shard:
    """Write the training text for one (unit, level) as a corpus file, one sentence a line."""
    path = settings.output_path(
        "embed", "corpus", f"{unit}-{level}-{digest_of([s.sha256 for s in shards])}.txt"
    )
    # A turn of its own, like evaluation below: a busy thread beside a training's thread pool
    # slowed the pipeline's trainings' epochs 3-5x (BENCHMARKS.md).
    with (
        cpu_turn(f"FastText {level} corpus", get_run_logger().info),
        atomic_write(path) as tmp,
        open(tmp, "w", encoding="utf-8") as out,
    ):
        stats = write_corpus(_sentences(shards, unit), level, out)
    if stats.skipped_tokens:
        get_run_logger().info("%s/%s corpus: skipped tokens %s", unit, level, stats.skipped_tokens)
    return Shard(
        path=str(path),
        sha256=sha256_file(path),
        rows=stats.sentences,
        stats={
            "sentences": stats.sentences,
            "tokens": stats.tokens,
            "skipped_tokens": stats.skipped_tokens,
        },
    )


@data_task(EMBED_CACHE)
def train_model(corpus: Shard, level: str, params: FastTextParams) -> Shard:
    """Train and save a gensim FastText model; the folder appears only once it is complete."""
    logger = get_run_logger()
    with cpu_turn(f"FastText {level}", logger.info):
        began = time.time()  # the MLflow run, opened later, starts here
        model, stats = train_fasttext(
            corpus.path,
            params,
            on_epoch=lambda e, sec: logger.info(
                "%s: epoch %d/%d (%.0f s)", level, e, params.epochs, sec
            ),
        )
    folder = settings.output_path(
        "embed", "models", f"{level}-{digest_of(corpus.sha256, asdict(params))}"
    )
    with atomic_write(folder, folder=True) as staging:
        save_fasttext(model, staging / "fasttext.model")
    path = folder / "fasttext.model"
    logger.info(
        "%s model: %d words, %.0f words/s, %.1f s",
        level,
        stats.vocabulary,
        stats.words_per_s,
        stats.seconds,
    )
    return Shard(
        path=str(path),
        sha256=sha256_file(path),
        rows=stats.vocabulary,
        stats={**asdict(stats), "started_at": began},
    )


@data_task(EMBED_CACHE)
def evaluate_model(
    model: Shard,
    level: str,
    ws353: SourceFile,
    analogy: SourceFile,
    restrict_vocab: int | None,
    neighbour_words: list[str],
    projection_words: int,
) -> dict:
    """WS-353 Spearman, analogy accuracy and distance (korean.evaluation), plus the report
    files logged with the run: nearest neighbours, a 2-D projection, a word2vec .vec export and
    fastText's native .bin (subwords kept)."""
    with cpu_turn(f"FastText {level} evaluation", get_run_logger().info):  # BLAS on every core
        trained = FastText.load(model.path)  # once: its vectors here, its .bin below
        vectors = KoreanVectors(trained.wv, level)
        metrics = evaluate_similarity(vectors, load_ws353(ws353.path))
        metrics.update(evaluate_analogy(vectors, load_analogies(analogy.path), restrict_vocab))
    # Beside the model folder, not in it: the model folder is logged whole as the model.
    name = f"{Path(model.path).parent.name}-{digest_of(neighbour_words, projection_words)}"
    folder = settings.output_path("embed", "reports", name)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for word in neighbour_words:
        where = "in vocabulary" if word in vectors else "out of vocabulary: composed from n-grams"
        near = ", ".join(f"{w} {s:.3f}" for w, s in vectors.most_similar(word, topn=10))
        lines.append(f"{word} ({where})\n  {near}")
    (folder / "neighbours.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # The projection skips one-syllable tokens (particles, endings): they crowd the plot.
    picked = [w for w in vectors.words[: projection_words * 4] if len(w) > 1][:projection_words]
    projection_png(
        picked,
        np.stack([vectors.vector(w) for w in picked]),
        folder / "projection.png",
        f"FastText ({level}) - PCA of {len(picked)} frequent words",
    )
    export = KeyedVectors(vectors.kv.vector_size)
    export.add_vectors(vectors.words, vectors.kv.vectors)
    if "count" in vectors.kv.expandos:  # keep the corpus frequencies (and gensim's file order)
        export.allocate_vecattrs(attrs=["count"], types=[np.int64])
        export.expandos["count"][:] = vectors.kv.expandos["count"]
    export.save_word2vec_format(str(folder / "vectors.vec"))
    # fastText's own binary keeps the subword n-grams, so it gives unseen forms a vector (the
    # .vec cannot); the jamo level's keys are jamo strings (korean.jamo_units.decompose).
    save_facebook_model(trained, str(folder / "vectors.bin"))
    return {"metrics": metrics, "report": str(folder)}

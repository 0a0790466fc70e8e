"""Corpus flow: NSMC + Korean Wikipedia -> ingest -> clean -> tokenize -> vocabulary.

Ingestion of the two corpora runs concurrently; each shard's clean -> tokenize chain starts as
soon as its corpus is ingested. Every task is cached on its input digests and parameters, so an
unchanged re-run is served from the cache and a changed option re-runs only what depends on it.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import mlflow
from prefect import flow, get_run_logger
from prefect.futures import as_completed

from flows.results import CorpusResult, ending, flow_run_id
from flows.runners import on_callers_runner, result
from korflow.core import settings, tracking
from korflow.core.config.corpus import CorpusConfig
from korflow.core.config.resolve import flow_settings
from korflow.core.datasets import Dataset, Shard, write_json_atomic
from korflow.core.progress import progress
from korflow.core.sources import NSMC, is_url
from tasks.ingest import fetch_file, ingest_nsmc, ingest_wiki, locate_wiki
from tasks.text import build_vocabulary, clean_shard, tokenize_shard

# The column that holds each corpus's raw text.
TEXT_COLUMN = {"nsmc": "document", "wiki": "text"}


def _log_counts(
    name: str, ingest: Dataset, clean: list[Shard], tokens: list[Shard], vocab: Shard
) -> dict[str, float]:
    flat = tracking.flatten({name: ingest.stats})
    metrics = {k: v for k, v in flat.items() if isinstance(v, int | float)}
    metrics[f"{name}.ingest.rows"] = ingest.rows
    metrics[f"{name}.clean.rows_in"] = sum(s.stats["rows_in"] for s in clean)
    metrics[f"{name}.clean.rows_out"] = sum(s.stats["rows_out"] for s in clean)
    metrics[f"{name}.clean.kept_empty"] = sum(s.stats["kept_empty"] for s in clean)
    for shard in clean:
        for reason, count in shard.stats["dropped"].items():
            key = f"{name}.clean.dropped.{reason}"
            metrics[key] = metrics.get(key, 0) + count
    metrics[f"{name}.tokens"] = sum(s.stats["tokens"] for s in tokens)
    metrics[f"{name}.rows_without_tokens"] = sum(s.stats["rows_without_tokens"] for s in tokens)
    metrics[f"{name}.vocab_size"] = vocab.stats["size"]
    scores, counts = tracking.split_counts(metrics)
    mlflow.log_metrics(scores)
    tracking.log_counts(counts)
    return metrics


def _log_sample(name: str, shard: Shard, rows: int) -> None:
    table = shard.read(["raw", "text", "tokens"]).slice(0, rows).to_pylist()
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(["raw", "cleaned", "tokens"])
    for row in table:
        writer.writerow([row["raw"], row["text"], " ".join(row["tokens"])])
    mlflow.log_text(out.getvalue(), f"samples/{name}.tsv")


@flow(name="korflow-corpus", log_prints=True)
def corpus_flow(
    profile: str = "quick",
    data_mirror: str | None = None,
    overrides: dict[str, Any] | None = None,
    config: CorpusConfig | None = None,
) -> CorpusResult:
    """Run the corpus stage on ``config`` (resolved settings, as the CLI or a later stage
    passes them), else on ``profile`` with ``overrides`` (a deployment)."""
    cfg = flow_settings("corpus", profile, overrides, config)
    mirror_arg = settings.mirror_arg(data_mirror)
    logger = get_run_logger()
    started = time.perf_counter()
    params = cfg.model_dump(mode="json")
    tags = {"korflow.prefect_flow_run_id": flow_run_id()}
    record = tracking.flow_record("corpus", cfg, mirror_arg)
    with tracking.stage_run("corpus", cfg.profile, params, tags=tags, flow=record) as run:
        mlflow.log_param("data_mirror", mirror_arg or "none (upstream download)")
        files = {
            split: fetch_file.submit(
                f"nsmc_{split}", NSMC[split], mirror_arg, cfg.nsmc_files.get(split)
            )
            for split in ("train", "test")
        }
        capped = bool(cfg.wiki_max_docs or cfg.wiki_max_mb)
        wiki_source = locate_wiki.submit(cfg.wiki_source, mirror_arg, capped)
        ingests = [
            ingest_nsmc.submit(
                files,
                {"train": cfg.nsmc_train_rows, "test": cfg.nsmc_test_rows},
                cfg.nsmc_shard_rows,
                cfg.strict,
                (cfg.nsmc_text_column, cfg.nsmc_label_column),
            ),
            ingest_wiki.submit(
                wiki_source, cfg.wiki_max_docs, cfg.wiki_max_mb, cfg.wiki_shard_docs
            ),
        ]
        # Start each corpus's clean -> tokenize chains as soon as that corpus is ingested.
        chains: dict[str, list[tuple[Any, Any]]] = {}
        datasets: dict[str, Dataset] = {}
        for future in as_completed(ingests):
            dataset: Dataset = result(future, *files.values(), wiki_source)
            datasets[dataset.name] = dataset
            sentences = cfg.split_sentences and dataset.name == "wiki"
            cleaning = cfg.nsmc_clean if dataset.name == "nsmc" else cfg.clean
            chains[dataset.name] = []
            for shard in dataset.shards:
                cleaned = clean_shard.submit(
                    shard, TEXT_COLUMN[dataset.name], cleaning, sentences, cfg.drop_empty
                )
                chains[dataset.name].append(
                    (cleaned, tokenize_shard.submit(cleaned, cfg.tokenizer))
                )
        token_futures = [t for chain in chains.values() for _, t in chain]
        with progress("clean + tokenize (shards)", total=len(token_futures)) as advance:
            for future in as_completed(token_futures):
                result(future, *(c for chain in chains.values() for c, _ in chain))
                advance()

        for source in (files["train"].result(), files["test"].result(), wiki_source.result()):
            where = source.origin if is_url(source.origin) else source.path
            tracking.log_input_file(source.name, where, source.sha256, context="corpus")
        manifest: dict[str, Any] = {
            "profile": cfg.profile,
            "config": params,
            "mlflow_run_id": run.info.run_id,
            "datasets": {},
        }
        summary: dict[str, float] = {}
        for name, chain in chains.items():
            clean = [c.result() for c, _ in chain]
            tokens = [t.result() for _, t in chain]
            vocab = build_vocabulary(tokens, name)
            summary.update(_log_counts(name, datasets[name], clean, tokens, vocab))
            if cfg.sample_rows:
                _log_sample(name, tokens[0], cfg.sample_rows)
            manifest["datasets"][name] = {
                "ingest": datasets[name].model_dump(),
                "clean": [s.model_dump() for s in clean],
                "tokens": [s.model_dump() for s in tokens],
                "vocab": vocab.model_dump(),
            }
        elapsed = time.perf_counter() - started
        mlflow.log_metric("duration_s", elapsed)
        manifest_path = write_json_atomic(
            manifest, settings.output_path("corpus", f"manifest-{cfg.profile}.json")
        )
        mlflow.log_artifact(str(manifest_path), "corpus")
        logger.info(
            "corpus done in %.1f s; MLflow run %s; manifest %s",
            elapsed,
            run.info.run_id,
            manifest_path,
        )
    return CorpusResult(
        run_id=run.info.run_id,
        manifest=str(manifest_path),
        metrics=summary,
        **ending(started, elapsed),
    )


def run_corpus(
    config: CorpusConfig, data_mirror: str | None, done: CorpusResult | None = None
) -> tuple[CorpusResult, dict[str, Any]]:
    """The corpus stage as a subflow of a later stage (served from the cache when unchanged),
    or ``done``, its result from earlier in a pipeline: (result, manifest)."""
    subflow = on_callers_runner(corpus_flow)
    corpus = done or subflow(profile=config.profile, config=config, data_mirror=data_mirror)
    manifest = json.loads(Path(corpus.manifest).read_text(encoding="utf-8"))
    return corpus, manifest

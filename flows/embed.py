"""FastText flow: syllable- and jamo-level models on NSMC train + Korean Wikipedia, evaluated.

Reads the corpus stage's tokenized shards (running it as a subflow, served from the cache when
nothing changed), exports one corpus file per (unit, level), trains the models concurrently,
evaluates each on WS-353 and the analogy set, and logs one MLflow run per model.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
from prefect import flow, get_run_logger

from flows.corpus import run_corpus
from flows.results import EmbedResult, EmbedRun, ending, flow_run_id
from flows.runners import on_callers_runner
from korflow.core import settings, tracking
from korflow.core.config.embed import EmbedConfig
from korflow.core.config.resolve import flow_settings
from korflow.core.datasets import Shard, sha256_file
from korflow.core.sources import EVAL, is_url
from tasks.embed import evaluate_model, export_corpus, train_model
from tasks.ingest import fetch_file

SUMMARY_METRICS = (
    "ws353_spearman",
    "analogy_accuracy",
    "analogy_semantic_accuracy",
    "analogy_syntactic_accuracy",
    "words_per_s",
)


def _log_model_run(
    cfg: EmbedConfig,
    unit: str,
    level: str,
    corpus_run_id: str,
    corpus: Shard,
    model: Shard,
    evaluation: dict,
    inputs: list,
    mirror: str | None,
    flow_began: float,
) -> EmbedRun:
    params = getattr(cfg, level)
    run_params = {
        "level": level,
        "unit": unit,
        "include_wiki": cfg.include_wiki,
        "analogy_restrict_vocab": cfg.analogy_restrict_vocab,
        "fasttext": asdict(params),
        "corpus_file": corpus.path,
    }
    tags = {
        "korflow.level": level,
        "korflow.unit": unit,
        "korflow.corpus_run_id": corpus_run_id,
        "korflow.prefect_flow_run_id": flow_run_id(),
    }
    unrepeatable = ""
    if params.workers > 1:  # the full profile's choice: twice the speed on 2 cores
        unrepeatable = (
            f"gensim FastText with workers={params.workers} is not bit-reproducible "
            f"(--set embed.{level}.workers=1 makes it exact, at about half the speed)"
        )
        tags[tracking.NONDETERMINISTIC] = unrepeatable
    record = tracking.flow_record("embed", cfg, mirror, levels=[level], units=[unit])
    # A model trained by this flow run (not served from the cache): its run starts with the
    # training, so that the run's duration is the training's.
    trained_at = model.stats.get("started_at", 0.0)
    with tracking.stage_run(
        "embed",
        cfg.profile,
        run_params,
        seed=params.seed,
        tags=tags,
        flow=record,
        start_time=trained_at if trained_at >= flow_began else None,
    ) as run:
        mlflow.set_tag("mlflow.runName", f"embed-{level}-{unit}-{cfg.profile}")
        for source in inputs:
            where = source.origin if is_url(source.origin) else source.path
            tracking.log_input_file(source.name, where, source.sha256, context="evaluation")
        tracking.log_input_file(f"corpus_{unit}_{level}", corpus.path, corpus.sha256, "training")
        metrics = {
            "corpus_sentences": corpus.stats["sentences"],
            "corpus_tokens": corpus.stats["tokens"],
            "corpus_skipped_non_hangul": corpus.stats["skipped_tokens"].get("non_hangul", 0),
            "vocabulary_size": model.stats["vocabulary"],
            "train_seconds": model.stats["seconds"],
            "words_per_s": model.stats["words_per_s"],
            **evaluation["metrics"],
        }
        scores, counts = tracking.split_counts(metrics)
        mlflow.log_metrics(scores)
        tracking.log_counts(counts)
        report = Path(evaluation["report"])
        for name in ("neighbours.txt", "projection.png", "vectors.vec", "vectors.bin"):
            mlflow.log_artifact(str(report / name))
        mlflow.log_artifacts(
            str(Path(model.path).parent),
            "model",
        )
    return EmbedRun(
        run_id=run.info.run_id,
        level=level,
        unit=unit,
        model_path=model.path,
        model_sha256=model.sha256,
        nondeterministic=unrepeatable,
        **{k: metrics[k] for k in SUMMARY_METRICS},
    )


@flow(name="korflow-embed", log_prints=True)
def embed_flow(
    profile: str = "quick",
    data_mirror: str | None = None,
    overrides: dict[str, Any] | None = None,
    config: EmbedConfig | None = None,
    upstream: dict[str, Any] | None = None,
) -> EmbedResult:
    """Train and evaluate the FastText models on ``config`` (resolved settings), else on
    ``profile`` with ``overrides``; one MLflow run per model. ``upstream``: {"corpus":
    CorpusResult} from a pipeline that already ran that stage."""
    started, began = time.perf_counter(), time.time()
    cfg = flow_settings("embed", profile, overrides, config)
    upstream = upstream or {}
    mirror_arg = settings.mirror_arg(data_mirror)
    corpus, manifest = run_corpus(cfg.corpus, mirror_arg, upstream.get("corpus"))
    names = ["nsmc", "wiki"] if cfg.include_wiki else ["nsmc"]
    shards = [Shard(**s) for name in names for s in manifest["datasets"][name]["tokens"]]
    ws353, analogy = (
        fetch_file.submit(name, EVAL[name], mirror_arg, cfg.eval_files.get(name))
        for name in ("ws353", "analogy")
    )
    # Every corpus file first: a submitted task that waits for another holds a worker thread,
    # so an export queued behind a waiting training would wait for that training's turn.
    pairs = [(unit, level) for unit in cfg.units for level in cfg.levels]
    exports = {pair: export_corpus.submit(shards, *pair) for pair in pairs}
    jobs = []
    for unit, level in pairs:  # the models take turns on the CPU (korflow.core.cpu)
        corpus_file = exports[unit, level]
        model = train_model.submit(corpus_file, level, getattr(cfg, level))
        evaluation = evaluate_model.submit(
            model,
            level,
            ws353,
            analogy,
            cfg.analogy_restrict_vocab,
            cfg.neighbour_words,
            cfg.projection_words,
        )
        jobs.append((unit, level, corpus_file, model, evaluation))
    runs, eval_files = [], [ws353.result(), analogy.result()]  # a missing file: its error first
    for unit, level, corpus_file, model, evaluation in jobs:
        runs.append(
            _log_model_run(
                cfg,
                unit,
                level,
                corpus.run_id,
                corpus_file.result(),
                model.result(),
                evaluation.result(),
                eval_files,
                mirror_arg,
                began,
            )
        )
        get_run_logger().info("fasttext %s/%s: %s", level, unit, runs[-1])
    return EmbedResult(
        runs=runs,
        corpus_run_id=corpus.run_id,
        **ending(started),
    )


def fasttext_models(
    config: EmbedConfig,
    data_mirror: str | None,
    levels: list[str],
    given: dict[str, str],
    upstream: dict[str, Any] | None = None,
) -> dict[str, EmbedRun]:
    """Morpheme-unit FastText models for ``levels``: the files in ``given`` where named, else
    the runs of a pipeline's FastText stage (``upstream["embed"]``), else the FastText stage on
    ``config`` as a subflow (served from the cache when nothing changed)."""
    upstream = upstream or {}
    done = upstream.get("embed")
    found = {
        run.level: run
        for run in (done.runs if done else [])
        if run.level in levels and run.unit == "morpheme"
    }
    for level, path in given.items():
        if level in levels:
            found[level] = EmbedRun(
                run_id=f"file:{path}",
                level=level,
                unit="morpheme",
                model_path=path,
                model_sha256=sha256_file(path),
            )
    missing = [level for level in levels if level not in found]
    if missing:
        narrowed = config.model_copy(update={"levels": missing, "units": ["morpheme"]})
        result = on_callers_runner(embed_flow)(
            profile=narrowed.profile, config=narrowed, data_mirror=data_mirror, upstream=upstream
        )
        for run in result.runs:
            found[run.level] = run
    return found

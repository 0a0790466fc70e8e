"""Sentiment flow: LSTM on NSMC with random, syllable- or jamo-FastText embeddings.

Reads the corpus stage's NSMC tokens (and, for the FastText variants, the FastText stage's
models: both run as subflows, served from the cache when nothing changed), builds the vocabulary
and ids, trains one classifier per embedding variant, tests it once on the NSMC test split,
and logs, for each variant, an MLflow run with a pyfunc model (raw text in, label and positive
probability out) registered as ``korflow-sentiment``; the ``champion`` alias moves only to a
model with a better validation accuracy.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
from prefect import flow, get_run_logger

from flows.corpus import run_corpus
from flows.embed import fasttext_models
from flows.lm import language_models
from flows.results import SentimentResult, SentimentRun, ending
from flows.trained_variant import ServedModel, log_trained_variant
from korflow.core import cpu, plots, settings
from korflow.core.config.resolve import flow_settings
from korflow.core.config.sentiment import SentimentConfig
from korflow.core.datasets import Shard, sha256_file
from korflow.core.stages import SPEC
from korflow.serving.sentiment_predictor import LABELS, SentimentPredictor, SentimentPyfunc
from tasks.sentiment import Classified, prepare_data, train_classifier
from tasks.vectors import embedding_matrix

MODEL_NAME = SPEC["sentiment"].model


@flow(name="korflow-sentiment", log_prints=True)
def sentiment_flow(
    profile: str = "quick",
    data_mirror: str | None = None,
    overrides: dict[str, Any] | None = None,
    config: SentimentConfig | None = None,
    upstream: dict[str, Any] | None = None,
) -> SentimentResult:
    """Train, test and register one classifier per embedding variant, on ``config`` (resolved
    settings), else on ``profile`` with ``overrides``. ``upstream``: {"corpus": CorpusResult,
    "embed": EmbedResult} from a pipeline that already ran those stages."""
    started = time.perf_counter()
    cfg = flow_settings("sentiment", profile, overrides, config)
    cpu.one_thread_here()  # its trainings run in threads of their own (korflow.core.cpu)
    upstream = upstream or {}
    mirror = settings.mirror_arg(data_mirror)
    corpus, manifest = run_corpus(cfg.corpus, mirror, upstream.get("corpus"))
    tokens = [Shard(**s) for s in manifest["datasets"]["nsmc"]["tokens"]]
    data = prepare_data(
        tokens,
        cfg.min_freq,
        cfg.max_vocab,
        cfg.max_len,
        cfg.val_fraction,
        cfg.split_seed,
        cfg.train_rows,
    )
    # The FastText vectors (a level) each variant's embeddings start from.
    levels = {v: v for v in cfg.embeddings if v in ("syllable", "jamo")}
    if "lm" in cfg.embeddings and cfg.lm_vectors:
        levels["lm"] = cfg.lm_vectors
    wanted = list(dict.fromkeys(levels.values()))
    fasttext = fasttext_models(cfg.embed, mirror, wanted, cfg.fasttext_models, upstream)
    bilm, lm_tags = None, {}
    if "lm" in cfg.embeddings:
        # The morpheme biLM only (the syllable model serves the chatbot and generation).
        morphemes = cfg.lm.model_copy(update={"units": ["morpheme"]})
        models = language_models(morphemes, mirror, upstream)
        forward, backward = (models.find("morpheme", d) for d in ("forward", "backward"))
        bilm = {
            "forward": forward.weights,
            "backward": backward.weights,
            "vocab": forward.vocab,
            "model": forward.model,
            "sha256": [sha256_file(r.weights) for r in (forward, backward)],
            # Only when on: a live biLM keeps the cache key and run folder it had before.
            **({"memo": True} if cfg.bilm_memo else {}),
        }
        lm_tags = {"korflow.lm_run_ids": f"{forward.run_id},{backward.run_id}"}
        morpheme_lm = morphemes.model_dump(mode="json")
    served = ServedModel(
        name=MODEL_NAME,
        settings={
            "clean": asdict(cfg.corpus.nsmc_clean),
            "tokenizer": asdict(cfg.corpus.tokenizer),
            "max_len": cfg.max_len,
        },
        vocab=Path(data["dir"]) / "vocab.json",
        pyfunc=SentimentPyfunc(),
        column="document",
        examples=["정말 재밌어요 최고", "시간 아까운 영화", ""],
        predict=lambda folder, texts: SentimentPredictor.load(folder).predict(texts),
    )
    params = {  # the run's parameters, beside its variant
        "min_freq": cfg.min_freq,
        "max_vocab": cfg.max_vocab,
        "max_len": cfg.max_len,
        "val_fraction": cfg.val_fraction,
        "split_seed": cfg.split_seed,
        "train_rows": cfg.train_rows,
        "train": asdict(cfg.train),
    }
    inputs = [
        (
            f"nsmc_{split}_ids",
            str(Path(data["dir"]) / f"{split}.pt"),
            sha256_file(Path(data["dir"]) / f"{split}.pt"),
            "evaluation" if split == "test" else "training",
            data["sizes"][split],
        )
        for split in ("train", "val", "test")
    ]

    metrics = {
        # the learning curve's axis: a metric, beside the scores it explains
        "train_rows": data["sizes"]["train"],
        "test_unk_rate": data["test_unk_rate"],
    }

    counts = {
        "vocab_size": data["vocab_size"],
        **{f"{split}_rows": n for split, n in data["sizes"].items() if split != "train"},
    }

    runs = []
    for variant in cfg.embeddings:  # one at a time: each training uses every core
        ft = fasttext.get(levels.get(variant))
        matrix = embedding_matrix(data, ft.model_path, ft.model_sha256, ft.level) if ft else None

        lm = bilm if variant == "lm" else None

        def train(run_id: str, matrix=matrix, variant=variant, lm=lm) -> dict:
            return train_classifier(data, matrix, cfg.model, cfg.train, variant, run_id, lm)

        def confusion(training: Classified, folder: Path, variant=variant) -> dict:
            png = folder.parent / "confusion_matrix.png"
            names = [LABELS[0], LABELS[1]]
            plots.confusion_png(training.confusion, names, png, f"NSMC test - {variant}")
            mlflow.log_artifact(str(png))
            return {}

        logged = log_trained_variant(
            "sentiment",
            cfg,
            variant,
            mirror,
            train,
            served,
            params={"embedding": variant, **params},
            # Re-running an lm variant retrains the biLM it read, registering nothing.
            narrow={
                "embeddings": [variant],
                **({"lm": {**morpheme_lm, "register_model": False}} if lm else {}),
            },
            tags={"korflow.corpus_run_id": corpus.run_id, **(lm_tags if lm else {})},
            inputs=inputs,
            metrics=metrics,
            throughput="samples_per_s",
            counts=counts,
            fasttext=ft,
            after=confusion,
        )
        runs.append(
            SentimentRun(
                run_id=logged.run_id,
                embedding=variant,
                model_uri=logged.model_uri,
                **logged.training.metrics,
                **logged.registration,
            )
        )
        get_run_logger().info("sentiment %s: %s", variant, runs[-1].summary())
    return SentimentResult(
        runs=runs,
        corpus_run_id=corpus.run_id,
        **ending(started),
    )

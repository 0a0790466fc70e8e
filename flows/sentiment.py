"""Sentiment flow: LSTM on NSMC with random, syllable- or jamo-FastText embeddings.

Reads the corpus stage's NSMC tokens (and, for the FastText variants, the FastText stage's
models: both run as subflows, served from the cache when nothing changed), builds the vocabulary
and ids, trains one classifier per embedding variant, tests it once on the NSMC test split,
and logs, for each variant, an MLflow run with a pyfunc model (raw text in, label and positive
probability out) registered as ``korflow-sentiment``; the ``champion`` alias moves only to a
model with a better validation accuracy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.corpus import run_corpus
from flows.embed import fasttext_models
from korflow.core import plots, registry, tracking
from korflow.core.datasets import Shard, sha256_file
from korflow.core.profiles import SentimentConfig, corpus_config, sentiment_config
from korflow.serving.pyfunc import log_model_folder
from korflow.serving.sentiment_predictor import LABELS, SentimentPredictor, SentimentPyfunc
from tasks.sentiment import embedding_matrix, prepare_data, train_classifier

MODEL_NAME = "korflow-sentiment"


def _log_variant(
    cfg: SentimentConfig,
    variant: str,
    data: dict,
    train: Callable[[str], dict],
    fasttext: dict | None,
    corpus: dict,
    predictor_config: dict,
    mirror: str | None,
) -> dict[str, Any]:
    """The variant's MLflow run, with ``train(run_id)`` inside it: the epochs are logged as they
    end, so a run stopped mid-training keeps what it reached (and ends FAILED)."""
    config = {
        "embedding": variant,
        "min_freq": cfg.min_freq,
        "max_vocab": cfg.max_vocab,
        "max_len": cfg.max_len,
        "val_fraction": cfg.val_fraction,
        "split_seed": cfg.split_seed,
        "train": asdict(cfg.train),
        "fasttext_run_id": fasttext["run_id"] if fasttext else "none",
    }
    tags = {
        "korflow.embedding": variant,
        "korflow.corpus_run_id": corpus["run_id"],
        "korflow.fasttext_run_id": fasttext["run_id"] if fasttext else "none",
        "korflow.prefect_flow_run_id": str(flow_run.get_id() or ""),
    }
    tags.update(tracking.inherited_nondeterminism(fasttext))
    record = tracking.flow_record(
        "sentiment", cfg, mirror, embeddings=[variant], register_model=False
    )
    with tracking.stage_run(
        "sentiment", cfg.profile, config, seed=cfg.train.seed, tags=tags, flow=record
    ) as run:
        mlflow.set_tag("mlflow.runName", f"sentiment-{variant}-{cfg.profile}")
        for split in ("train", "val", "test"):
            path = Path(data["dir"]) / f"{split}.pt"
            tracking.log_input_file(
                f"nsmc_{split}_ids",
                str(path),
                sha256_file(path),
                "evaluation" if split == "test" else "training",
                rows=data["sizes"][split],
            )
        result = train(run.info.run_id)
        tracking.log_training(run.info.run_id, config, result)
        history = result["history"]
        mlflow.log_metrics(
            {
                **result["metrics"],
                "best_epoch": result["best_epoch"],
                "vocab_size": data["vocab_size"],
                "test_unk_rate": data["test_unk_rate"],
                "train_rows": data["sizes"]["train"],
                "val_rows": data["sizes"]["val"],
                "test_rows": data["sizes"]["test"],
                "epoch_seconds": sum(h["epoch_seconds"] for h in history) / len(history),
                "samples_per_s": sum(h["samples_per_s"] for h in history) / len(history),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            names = [LABELS[0], LABELS[1]]
            plots.confusion_png(
                result["confusion"], names, tmp / "confusion_matrix.png", f"NSMC test - {variant}"
            )
            plots.learning_curve_png(history, tmp / "learning_curve.png", f"sentiment - {variant}")
            mlflow.log_artifact(str(tmp / "confusion_matrix.png"))
            mlflow.log_artifact(str(tmp / "learning_curve.png"))
            info = log_model_folder(
                tmp / "predictor",
                {**predictor_config, "model": result["model"]},
                Path(data["dir"]) / "vocab.json",
                result["weights"],
                SentimentPyfunc(),
                "document",
                ["정말 재밌어요 최고", "시간 아까운 영화", ""],
                lambda folder, texts: SentimentPredictor.load(folder).predict(texts),
            )
        summary = {
            "run_id": run.info.run_id,
            "embedding": variant,
            "model_uri": info.model_uri,
            **result["metrics"],
        }
        if cfg.register_model:
            summary.update(
                registry.register_run(info.model_uri, MODEL_NAME, run.info.run_id, "val_accuracy")
            )
    return summary


@flow(name="korflow-sentiment", log_prints=True)
def sentiment_flow(
    profile: str = "quick",
    data_mirror: str | None = None,
    overrides: dict[str, Any] | None = None,
    upstream: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, test and register one classifier per embedding variant. ``upstream``: {"corpus":
    result, "embed": result} from a pipeline that already ran those stages."""
    cfg = sentiment_config(profile, overrides)
    upstream = upstream or {}
    mirror_arg, corpus, manifest = run_corpus(
        profile, data_mirror, cfg.corpus, upstream.get("corpus")
    )
    tokens = [Shard(**s) for s in manifest["datasets"]["nsmc"]["tokens"]]
    data = prepare_data(
        tokens, cfg.min_freq, cfg.max_vocab, cfg.max_len, cfg.val_fraction, cfg.split_seed
    )
    wanted = [v for v in cfg.embeddings if v != "random"]
    fasttext = fasttext_models(
        profile, mirror_arg, wanted, cfg.fasttext_models, cfg.corpus, cfg.embed, upstream
    )
    corpus_cfg = corpus_config(profile, cfg.corpus)
    predictor_config = {
        "clean": asdict(corpus_cfg.clean),
        "tokenizer": asdict(corpus_cfg.tokenizer),
        "max_len": cfg.max_len,
    }
    summaries = []
    for variant in cfg.embeddings:  # one at a time: each training uses every core
        ft = fasttext.get(variant)
        matrix = (
            embedding_matrix(data, ft["model_path"], ft["model_sha256"], variant) if ft else None
        )

        def train(run_id: str, matrix=matrix, variant=variant) -> dict:
            return train_classifier(data, matrix, cfg.model, cfg.train, variant, run_id)

        summaries.append(
            _log_variant(cfg, variant, data, train, ft, corpus, predictor_config, mirror_arg)
        )
        get_run_logger().info("sentiment %s: %s", variant, summaries[-1])
    return {
        "runs": summaries,
        "corpus_run_id": corpus["run_id"],
        "flow_run_id": str(flow_run.get_id() or ""),
        "tracking_uri": mlflow.get_tracking_uri(),
    }

"""Sentiment tasks: ids from the tokenized NSMC shards, training and testing."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pyarrow as pa
import torch
from prefect import get_run_logger

from korean.nsmc import training_splits
from korflow.core import packages, settings
from korflow.core.datasets import Shard, digest_of
from models.classifier import ClassifierConfig, TextClassifier
from models.data import EOS, Vocab, load_tensors, save_tensors
from models.lm import LMConfig
from models.metrics import binary_scores, confusion_matrix
from models.train import TrainConfig, TrainResult, predict, train

from .caching import data_cache, data_task
from .training import Trained, train_and_test, with_embedding
from .vectors import lm_remap

SENTIMENT_CACHE = data_cache(*packages.SENTIMENT_TASKS)
# A training's result does not depend on the MLflow run its epochs are logged to.
TRAIN_CACHE = data_cache(*packages.SENTIMENT_TASKS, exclude=("run_id",))


@data_task(SENTIMENT_CACHE)
def prepare_data(
    tokens: list[Shard],
    min_freq: int,
    max_vocab: int | None,
    max_len: int,
    val_fraction: float,
    split_seed: int,
    train_rows: int | None = None,
) -> dict:
    """Vocabulary and id tensors of ``korean.nsmc.training_splits``; the vocabulary sees only
    the training rows' text. ``train_rows``: the labelled reviews trained on, the first N of
    the shuffled training rows (so smaller sets nest in larger ones); the vocabulary still
    reads every training row's text, as the language models did, and the validation and test
    rows stay whole."""
    table = pa.concat_tables([s.read(["id", "label", "split", "tokens"]) for s in tokens])
    parts = training_splits(table.to_pylist(), val_fraction, split_seed)
    vocab = Vocab.build((r["tokens"] for r in parts["train"]), min_freq, max_vocab)
    if train_rows is not None:
        parts["train"] = parts["train"][:train_rows]
    out = settings.output_path(
        "sentiment",
        "data",
        digest_of(
            [s.sha256 for s in tokens],
            min_freq,
            max_vocab,
            max_len,
            val_fraction,
            split_seed,
            *([train_rows] if train_rows is not None else []),  # older runs keep their folder
        ),
    )
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.json")
    for name, part in parts.items():
        ids = [vocab.encode(r["tokens"], max_len) for r in part]
        save_tensors(
            out / f"{name}.pt", ids, [r["label"] for r in part], vocab_size=torch.tensor(len(vocab))
        )
    sizes = {name: len(part) for name, part in parts.items()}
    get_run_logger().info("sentiment data: %s, vocabulary %d", sizes, len(vocab))
    return {
        "dir": str(out),
        "vocab_size": len(vocab),
        "sizes": sizes,
        "test_unk_rate": vocab.unknown_rate(r["tokens"] for r in parts["test"]),
    }


class Classified(Trained):
    confusion: list[list[int]]  # the test's: a row per true class, a column per predicted


@data_task(TRAIN_CACHE)
def train_classifier(
    data: dict,
    embedding: str | None,
    model_cfg: ClassifierConfig,
    train_cfg: TrainConfig,
    name: str,
    run_id: str | None = None,
    lm: dict | None = None,
) -> Classified:
    """Train (resuming from the last checkpoint of an interrupted run), then test once; each
    epoch's metrics go to the MLflow run ``run_id`` as the epoch ends. ``lm``: the biLM the
    classifier reads, frozen (its ``memo``: remembered in training, ``BiLM.remember``)."""
    folder = Path(data["dir"])
    train_set, _ = load_tensors(folder / "train.pt")
    val_set, _ = load_tensors(folder / "val.pt")
    test_set, _ = load_tensors(folder / "test.pt")
    cfg, matrix = with_embedding(model_cfg, embedding, vocab_size=data["vocab_size"])
    if lm:
        cfg = replace(cfg, elmo=LMConfig(**lm["model"]))

    def fit(model: TextClassifier, checkpoints: Path, on_epoch) -> TrainResult:
        if lm and lm.get("memo"):
            model.bilm.remember()  # the frozen biLM reads each review once, not every epoch
        try:
            return train(model, train_set, val_set, train_cfg, checkpoints, on_epoch)
        finally:
            if model.bilm is not None:
                model.bilm.remember(False)  # the test reads it live, as the served model does

    def test(model: TextClassifier, result: TrainResult) -> dict:
        probs, labels, test_loss = predict(model, test_set)
        confusion = confusion_matrix(labels, probs.argmax(-1))
        scores = binary_scores(confusion)
        return {
            "metrics": {
                "val_accuracy": result.best_val_accuracy,
                "test_accuracy": scores["accuracy"],
                "test_loss": test_loss,
                "test_precision": scores["precision"],
                "test_recall": scores["recall"],
                "test_f1": scores["f1"],
            },
            "confusion": confusion,
        }

    def describe(log: dict) -> str:
        return (
            f"train loss {log['train_loss']:.4f} acc {log['train_accuracy']:.4f} | "
            f"val loss {log['val_loss']:.4f} acc {log['val_accuracy']:.4f}"
        )

    key = digest_of(data["dir"], embedding, asdict(cfg), asdict(train_cfg), lm)

    def build() -> TextClassifier:
        model = TextClassifier(cfg, matrix)
        if lm:
            lm_vocab = Vocab.load(lm["vocab"])
            model.bilm.load_language_models(
                torch.load(lm["forward"], weights_only=True),
                torch.load(lm["backward"], weights_only=True),
                lm_remap(Vocab.load(folder / "vocab.json"), lm_vocab),
                lm_vocab.stoi[EOS],
            )
        return model

    result = train_and_test(
        "sentiment", name, key, cfg, train_cfg, run_id, build, fit, test, describe, Classified
    )
    Path(result.weights).with_name("model.json").write_text(
        json.dumps(asdict(cfg)), encoding="utf-8"
    )
    return result

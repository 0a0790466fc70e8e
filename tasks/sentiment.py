"""Sentiment tasks: ids from the tokenized NSMC shards, FastText embedding matrices, training."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, replace
from pathlib import Path

import pyarrow as pa
import torch
from prefect import get_run_logger, task
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from korean.embeddings import KoreanVectors
from korflow.core import settings
from korflow.core.cpu import cpu_turn
from korflow.core.datasets import Shard, digest_of
from korflow.core.epoch_log import LiveEpochs
from models.classifier import ClassifierConfig, TextClassifier
from models.data import Vocab, load_tensors, save_tensors
from models.train import TrainConfig, pick_device, predict, train

from .caching import data_cache
from .checkpoints import checkpoint_dir, finished

SENTIMENT_CACHE = data_cache("torch", "gensim")
# A training's result does not depend on the MLflow run its epochs are logged to.
TRAIN_CACHE = data_cache("torch", "gensim", exclude=("run_id",))


@task(cache_policy=SENTIMENT_CACHE, persist_result=True)
def prepare_data(
    tokens: list[Shard],
    min_freq: int,
    max_vocab: int | None,
    max_len: int,
    val_fraction: float,
    split_seed: int,
) -> dict:
    """Vocabulary and id tensors. Validation is carved from NSMC train with ``split_seed``, the
    vocabulary sees only the rest of train, and the test split is encoded whole (never trained
    on, never used to choose anything)."""
    table = pa.concat_tables([s.read(["id", "label", "split", "tokens"]) for s in tokens])
    rows = table.to_pylist()
    train_rows = [r for r in rows if r["split"] == "train"]
    test_rows = [r for r in rows if r["split"] == "test"]
    random.Random(split_seed).shuffle(train_rows)
    n_val = max(1, round(len(train_rows) * val_fraction))
    val_rows, train_rows = train_rows[:n_val], train_rows[n_val:]
    vocab = Vocab.build((r["tokens"] for r in train_rows), min_freq, max_vocab)
    out = settings.output_path(
        "sentiment",
        "data",
        digest_of(
            [s.sha256 for s in tokens], min_freq, max_vocab, max_len, val_fraction, split_seed
        ),
    )
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.json")
    sizes = {}
    for name, part in (("train", train_rows), ("val", val_rows), ("test", test_rows)):
        ids = [vocab.encode(r["tokens"], max_len) for r in part]
        save_tensors(
            out / f"{name}.pt", ids, [r["label"] for r in part], vocab_size=torch.tensor(len(vocab))
        )
        sizes[name] = len(part)
    unk = sum(t not in vocab.stoi for r in test_rows for t in r["tokens"])
    total = sum(len(r["tokens"]) for r in test_rows)
    get_run_logger().info("sentiment data: %s, vocabulary %d", sizes, len(vocab))
    return {
        "dir": str(out),
        "vocab_size": len(vocab),
        "sizes": sizes,
        "test_unk_rate": unk / max(total, 1),
    }


@task(cache_policy=SENTIMENT_CACHE, persist_result=True)
def embedding_matrix(data: dict, model_path: str, model_sha256: str, level: str) -> str:
    """Rows of FastText vectors for the vocabulary (unseen tokens get n-gram vectors)."""
    vocab = Vocab.load(Path(data["dir"]) / "vocab.json")
    vectors = KoreanVectors.load(model_path, level)
    matrix = torch.zeros(len(vocab), vectors.kv.vector_size)
    for i, token in enumerate(vocab.itos[2:], start=2):
        matrix[i] = torch.as_tensor(vectors.vector(token).copy())  # gensim arrays are read-only
    matrix[vocab.unk_id] = matrix[2:].mean(0)  # unknown tokens start at the average vector
    path = Path(data["dir"]) / f"embedding-{level}-{model_sha256[:16]}.pt"
    torch.save(matrix, path)
    return str(path)


@task(cache_policy=TRAIN_CACHE, persist_result=True)
def train_classifier(
    data: dict,
    embedding: str | None,
    model_cfg: ClassifierConfig,
    train_cfg: TrainConfig,
    name: str,
    run_id: str | None = None,
) -> dict:
    """Train (resuming from the last checkpoint of an interrupted run), then test once; each
    epoch's metrics go to the MLflow run ``run_id`` as the epoch ends."""
    logger = get_run_logger()
    folder = Path(data["dir"])
    train_set, _ = load_tensors(folder / "train.pt")
    val_set, _ = load_tensors(folder / "val.pt")
    test_set, _ = load_tensors(folder / "test.pt")
    matrix = torch.load(embedding, weights_only=True) if embedding else None
    cfg = replace(
        model_cfg,
        vocab_size=data["vocab_size"],
        embed_dim=matrix.shape[1] if matrix is not None else model_cfg.embed_dim,
    )
    run_dir = settings.output_path(
        "sentiment",
        "runs",
        f"{name}-{digest_of(data['dir'], embedding, asdict(cfg), asdict(train_cfg))}",
    )

    live = LiveEpochs(run_id)

    def report(log: dict) -> None:
        live(log)
        logger.info(
            "%s epoch %d/%d: train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.0f s",
            name,
            log["epoch"],
            train_cfg.epochs,
            log["train_loss"],
            log["train_accuracy"],
            log["val_loss"],
            log["val_accuracy"],
            log["epoch_seconds"],
        )

    on_cpu = pick_device(train_cfg.device).type == "cpu"
    with cpu_turn(f"sentiment {name}", logger.info, exclusive=on_cpu) as threads:
        logger.info("%s: training on %d thread(s)", name, threads)
        # Seeded and built inside the turn: no other training draws from torch's global RNG
        # between the seed and the initial weights.
        torch.manual_seed(train_cfg.seed)
        model = TextClassifier(cfg, matrix)
        result = train(
            model,
            train_set,
            val_set,
            train_cfg,
            checkpoint_dir=checkpoint_dir(run_dir),
            on_epoch=report,
        )
        finished(run_dir)
        probs, labels, test_loss = predict(model, test_set)
    preds = probs.argmax(-1).numpy()
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels.numpy(), preds, average="binary", zero_division=0
    )
    torch.save(model.state_dict(), run_dir / "weights.pt")
    (run_dir / "model.json").write_text(json.dumps(asdict(cfg)), encoding="utf-8")
    return {
        "weights": str(run_dir / "weights.pt"),
        "model": asdict(cfg),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "metrics": {
            "val_accuracy": result.best_val_accuracy,
            "test_accuracy": float((preds == labels.numpy()).mean()),
            "test_loss": test_loss,
            "test_precision": float(precision),
            "test_recall": float(recall),
            "test_f1": float(f1),
        },
        "confusion": confusion_matrix(labels.numpy(), preds, labels=[0, 1]).tolist(),
        **live.record(),
    }

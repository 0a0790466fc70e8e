"""Train a classifier from pre-tokenized tensors, with torch alone (e.g. on a GPU machine).

    python -m models.train_tensors train.pt val.pt [--test test.pt] [--out DIR]
        [--model '{"pooling": "attention", "hidden_size": 256}'] [--train '{"epochs": 8}']

Each .pt file is what ``models.data.save_tensors`` writes (ragged ids, labels); train.pt may
also hold ``embedding`` (vocab x dim, e.g. FastText vectors) and must hold ``vocab_size``.
Prints one line per epoch and a JSON summary; writes the best weights to OUT/model.pt.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from .classifier import ClassifierConfig, TextClassifier
from .data import load_tensors
from .train import TrainConfig, pick_device, predict, train


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("train")
    parser.add_argument("val")
    parser.add_argument("--test")
    parser.add_argument("--out", default="train-out")
    parser.add_argument("--model", default="{}", help="ClassifierConfig fields as JSON")
    parser.add_argument(
        "--train", dest="train_cfg", default="{}", help="TrainConfig fields as JSON"
    )
    args = parser.parse_args(argv)

    train_data, extra = load_tensors(args.train)
    val_data, _ = load_tensors(args.val)
    embedding = extra.get("embedding")
    model_cfg = {"vocab_size": int(extra["vocab_size"]), **json.loads(args.model)}
    if embedding is not None:
        model_cfg.setdefault("embed_dim", embedding.shape[1])
    model = TextClassifier(ClassifierConfig(**model_cfg), embedding)
    config = TrainConfig(**json.loads(args.train_cfg))
    out = Path(args.out)
    print(f"training on {pick_device(config.device)}: {len(train_data)} train, {len(val_data)} val")
    result = train(
        model,
        train_data,
        val_data,
        config,
        checkpoint_dir=out / "checkpoints",
        on_epoch=lambda log: print(json.dumps(log), flush=True),
    )
    torch.save(model.state_dict(), out / "model.pt")
    summary = {
        "best_epoch": result.best_epoch,
        "val_accuracy": result.best_val_accuracy,
        "epoch_seconds": [h["epoch_seconds"] for h in result.history],
        "samples_per_s": [h["samples_per_s"] for h in result.history],
    }
    if args.test:
        test_data, _ = load_tensors(args.test)
        probs, labels, loss = predict(model, test_data)
        summary.update(
            test_accuracy=(probs.argmax(-1) == labels).float().mean().item(), test_loss=loss
        )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()

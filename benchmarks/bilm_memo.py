"""The lm sentiment variant's epoch with the frozen biLM read live, read from its memo
(``BiLM.remember``), and without a biLM at all, on the full profile's shapes (a 2-layer
256-unit biLM over a 50k vocabulary, the stage's classifier, batches of 256), with torch
alone and synthetic ids: what ``bilm_memo`` saves, apart from data loading.

    python benchmarks/bilm_memo.py [--batches 30] [--threads 2]

Run it alone on the machine: a second CPU-heavy process slows both 10-30x.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.classifier import ClassifierConfig, TextClassifier  # noqa: E402
from models.lm import LMConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    lm = LMConfig(50_000, embed_dim=256, hidden_size=256, num_layers=2, cutoffs=(2000, 10000))
    cfg = ClassifierConfig(
        50_000, hidden_size=128, dropout=0.5, token_dropout=0.25, ngram_buckets=2**18,
        ngram_dim=16, ngram_dropout=0.5, elmo=lm,
    )  # fmt: skip
    lengths = [5, 10, 15, 20, 30, 40]  # NSMC reviews: mostly short (morphemes)
    batches = [
        (torch.randint(2, 50_000, (256, n)), torch.full((256,), n))
        for n in lengths * (a.batches // len(lengths))
    ]

    def epoch(model: TextClassifier) -> float:
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
        model.train()
        started = time.perf_counter()
        for ids, n in batches:
            loss = model(ids, n).logsumexp(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    with_lm = TextClassifier(cfg)
    figures = {"live": epoch(with_lm)}
    with_lm.bilm.remember()
    figures["first_with_memo"] = epoch(with_lm)  # reads every text once, as the live one
    figures["memo"] = epoch(with_lm)
    figures["no_lm"] = epoch(TextClassifier(replace(cfg, elmo=None)))
    figures["memo_speedup"] = figures["live"] / figures["memo"]
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    main()

"""Language-model budget: what a training recipe reaches in units seen and seconds, on the
streams the LM stage wrote (``KORFLOW_HOME/lm/data/<digest>/``), with torch alone.

    python benchmarks/lm_budget.py DATA_DIR [--units 600000] [--model JSON] [--train JSON]

Prints one line per round (units seen, seconds, held-out perplexities, tokens/s) and a JSON
summary with the 3-gram Kneser-Ney baseline on the same units. Run it alone on the machine: a
second CPU-heavy process slows both 10-30x.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.lm import LanguageModel, LMConfig, adaptive_cutoffs  # noqa: E402
from models.lm_train import LMTrainConfig, train_lm  # noqa: E402
from models.ngram import KneserNey  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="an LM stage data folder (vocab.json, *.pt)")
    parser.add_argument("--units", type=int, default=600_000, help="training units read")
    parser.add_argument("--model", default="{}", help='LMConfig fields, e.g. {"hidden_size": 256}')
    parser.add_argument("--train", default="{}", help='LMTrainConfig fields, e.g. {"lr": 3e-3}')
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ngram", action="store_true", help="also score the 3-gram baseline")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    vocab = len(json.loads((args.data / "vocab.json").read_text(encoding="utf-8")))

    def read(name: str) -> torch.Tensor:
        return torch.load(args.data / f"{name}.pt", weights_only=True)["stream"]

    train = read("train")[: args.units]
    heldout = {name: read(name) for name in ("wiki", "nsmc")}
    fields = json.loads(args.model)
    cfg = LMConfig(**{"cutoffs": adaptive_cutoffs(vocab), **fields, "vocab_size": vocab})
    train_cfg = LMTrainConfig(**json.loads(args.train))
    torch.manual_seed(train_cfg.seed)
    model, started = LanguageModel(cfg), time.perf_counter()

    def report(log: dict) -> None:
        print(
            f"round {log['epoch']}: {log['tokens_seen']:>10,} units  "
            f"{time.perf_counter() - started:6.0f} s  val ppl {log['val_perplexity']:8.2f} "
            f"(wiki {log['val_perplexity_wiki']:.2f}, nsmc {log['val_perplexity_nsmc']:.2f})  "
            f"{log['tokens_per_s']:,.0f} tokens/s",
            flush=True,
        )

    result = train_lm(model, train, heldout, train_cfg, None, report)
    summary = {
        "units": len(train),
        "model": fields,
        "train": json.loads(args.train),
        "seconds": round(time.perf_counter() - started, 1),
        "best_val_perplexity": result.best_score,
        "best_round": result.best_epoch,
    }
    if args.ngram:
        kn = KneserNey(train.tolist(), 3, vocab)
        summary["ngram_perplexity"] = {n: kn.perplexity(s.tolist()) for n, s in heldout.items()}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()

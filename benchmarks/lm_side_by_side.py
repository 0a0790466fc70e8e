"""Two language models trained side by side, each on its share of the threads, against one
after the other on all of them: the stage's loop (``train_lm``) on the full profile's morpheme
model (no dropout; batches of ``--batch`` x 32 units), with torch alone.

    python benchmarks/lm_side_by_side.py [--data DIR] [--windows 120] [--batch 8] [--repeat 2]

Each job runs in a fresh process, the layouts alternating: ``alone`` (one model on every
thread; how the stage trained its directions before ``side_by_side``), ``pair`` (two
models at once, in two Python threads, each on threads/2). Prints a JSON line a job: tokens
trained a second over all models. ``--data``: an LM stage data folder (its ``train.pt``),
else a Zipf-distributed synthetic stream over 50,000 ids. Run it alone on the machine: a
second CPU-heavy process slows both 10-30x.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import full_morpheme_lm, lm_stream, run_jobs  # noqa: E402
from models.lm import LanguageModel  # noqa: E402
from models.lm_train import LMTrainConfig, train_lm  # noqa: E402

VOCAB = 50_000


def job(layout: str, data: Path | None, windows: int, threads: int, batch: int) -> dict:
    models = 2 if layout == "pair" else 1
    torch.set_num_threads(max(1, threads // models))
    train_cfg = LMTrainConfig(epochs=1, batch_size=batch, bptt=32, lr=3e-3)
    ids = lm_stream(data, windows * batch * 32 + 1, VOCAB)
    vocab = int(ids.max()) + 1
    cfg = full_morpheme_lm(vocab)
    heldout = {"held": ids[:2_000]}

    def train(backward: bool) -> None:
        torch.manual_seed(1)
        model = LanguageModel(cfg)
        train_lm(model, ids.flip(0) if backward else ids, heldout, train_cfg)

    started = time.perf_counter()
    workers = [threading.Thread(target=train, args=(i == 1,)) for i in range(models)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - started
    tokens = models * windows * batch * 32
    return {
        "layout": layout,
        "models": models,
        "threads_each": torch.get_num_threads(),
        "seconds": round(seconds, 1),
        "tokens_per_s": round(tokens / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="an LM stage data folder")
    parser.add_argument("--windows", type=int, default=120, help="windows a model trains on")
    parser.add_argument("--batch", type=int, default=8, help="columns a window (x 32 units)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.job:
        print(json.dumps(job(a.job, a.data, a.windows, a.threads, a.batch)))
        return
    common = ["--windows", str(a.windows), "--threads", str(a.threads), "--batch", str(a.batch)]
    common += ["--data", str(a.data)] if a.data else []
    jobs = [["--job", layout, *common] for _ in range(a.repeat) for layout in ("alone", "pair")]
    rows = run_jobs(__file__, jobs)
    rates = {
        lay: [r["tokens_per_s"] for r in rows if r["layout"] == lay] for lay in ("alone", "pair")
    }
    for layout, found in rates.items():
        print(f"{layout}: {found} tokens/s")
    print(f"pair / alone: {sum(rates['pair']) / sum(rates['alone']):.2f}x")


if __name__ == "__main__":
    main()

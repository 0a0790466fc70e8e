"""A training in a new thread, beside another thread that once ran torch on two threads: how
much the other thread's OpenMP team costs while it lives on, and nothing once it has ended.

    python benchmarks/openmp_teams.py [--data DIR] [--windows 400] [--threads 2] [--repeat 2]

torch's OpenMP (libgomp) keeps a team of worker threads for every thread that ran a parallel
region, until that thread ends; while it manages more threads than there are cores, every
team sleeps between regions instead of spinning. A pipeline runs its stages in Prefect's
long-lived threads, so each training after the first paid for the teams of those before it,
until ``korflow.core.cpu.in_own_thread`` (each training in a thread that ends with it).

Each job runs in a fresh process, the layouts alternating: ``none`` (the training alone),
``alive`` (another thread ran a matrix product on ``--threads`` threads and waits),
``ended`` (that thread ran it and ended). The training: the quick profile's syllable language
model (one layer of 192, batches of 16 x 32 units, dropout on) for ``--windows`` windows, on
``--threads`` threads, with torch alone. Prints a JSON line a job: units trained a second.
``--data``: an LM stage data folder (its ``train.pt``), else a Zipf-distributed synthetic
stream over 1,500 ids. Run it alone on the machine: a second CPU-heavy process slows both.
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

from benchmarks.common import lm_stream, run_jobs  # noqa: E402
from models.lm import LanguageModel, LMConfig, adaptive_cutoffs  # noqa: E402
from models.lm_train import LMTrainConfig, train_lm  # noqa: E402

VOCAB = 1_500  # about the quick profile's syllables
LAYOUTS = ("none", "alive", "ended")


def job(layout: str, data: Path | None, windows: int, threads: int) -> dict:
    # The main thread on one thread: its own team would count against every layout.
    torch.get_num_threads()
    torch.set_num_threads(1)
    ids = lm_stream(data, windows * 16 * 32 + 1, VOCAB)
    vocab = int(ids.max()) + 1
    cfg = LMConfig(
        vocab,
        embed_dim=96,
        hidden_size=192,
        cutoffs=adaptive_cutoffs(vocab),
        dropout=0.2,
        input_dropout=0.1,
        embed_dropout=0.0,
    )
    train_cfg = LMTrainConfig(epochs=1, batch_size=16, bptt=32, lr=6e-3)
    release = threading.Event()

    def other(lives_on: bool) -> None:
        torch.set_num_threads(threads)
        a = torch.randn(512, 512)
        for _ in range(20):
            a = torch.tanh(a @ a)  # parallel regions: this thread's team
        if lives_on:
            release.wait()

    if layout != "none":
        neighbour = threading.Thread(target=other, args=(layout == "alive",))
        neighbour.start()
        if layout == "ended":
            neighbour.join()
        time.sleep(1)  # the other thread's work done (and, ended, its team gone)
    seconds = []

    def train() -> None:
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        started = time.perf_counter()
        train_lm(LanguageModel(cfg), ids, {"held": ids[:2_000]}, train_cfg)
        seconds.append(time.perf_counter() - started)

    trainer = threading.Thread(target=train)  # a new thread, as a pipeline's training
    trainer.start()
    trainer.join()
    release.set()
    return {
        "layout": layout,
        "threads": threads,
        "seconds": round(seconds[0], 1),
        "units_per_s": round(windows * 16 * 32 / seconds[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="an LM stage data folder")
    parser.add_argument("--windows", type=int, default=400, help="windows of 16 x 32 units")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.job:
        print(json.dumps(job(a.job, a.data, a.windows, a.threads)))
        return
    common = ["--windows", str(a.windows), "--threads", str(a.threads)]
    common += ["--data", str(a.data)] if a.data else []
    jobs = [["--job", layout, *common] for _ in range(a.repeat) for layout in LAYOUTS]
    rows = run_jobs(__file__, jobs)
    rates = {lay: [r["units_per_s"] for r in rows if r["layout"] == lay] for lay in LAYOUTS}
    for layout, found in rates.items():
        print(f"{layout}: {found} units/s")
    for layout in ("alive", "ended"):
        print(f"{layout} / none: {sum(rates[layout]) / sum(rates['none']):.2f}x")


if __name__ == "__main__":
    main()

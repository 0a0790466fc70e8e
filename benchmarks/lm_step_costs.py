"""What a training step of the full morpheme LM costs as training goes on, with torch alone:
the full profile's shapes (50,000 ids, 256 x 256, adaptive softmax, no dropout, batches of
8 x 32, fused AdamW), Zipf-distributed ids (``benchmarks.common.lm_stream``), one thread.

    python benchmarks/lm_step_costs.py [--steps 1800] [--every 300]

``steps``: ms a step per ``every`` steps with the CPU's flush-to-zero off, then on, each a
fresh model in the same process (Adam's first moment of a row no batch uses decays by beta1
a step and is denormal from about 800 steps on). ``faults``: minor page faults and system ms
a step with the embedding trained and frozen (its dense gradient is 51 MB, made anew at every
step). Run it alone on the machine: a second CPU-heavy process changes the timings.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import full_morpheme_lm, lm_stream  # noqa: E402
from models.lm import LanguageModel  # noqa: E402
from models.lm_train import batchify, windows  # noqa: E402

VOCAB = 50_000


def trainer(total: int, frozen_embedding: bool = False):
    """A fresh seeded model and a function that trains it on the next window of a Zipf stream
    (``total`` windows of 8 x 32 ids)."""
    ids = lm_stream(None, total * 8 * 32 + 1, VOCAB)
    torch.manual_seed(0)
    model = LanguageModel(full_morpheme_lm(int(ids.max()) + 1)).train()
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            module.weight.requires_grad_(not frozen_embedding)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=3e-3, weight_decay=0.01, fused=True)
    batches = windows(batchify(ids, 8), 32)

    def step() -> None:
        x, y = next(batches)
        features, _ = model(x)
        loss = model.loss(features, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def steps(total: int, every: int) -> None:
    for flush in (False, True):
        torch.set_flush_denormal(flush)
        step, times, start = trainer(total), [], time.perf_counter()
        for i in range(1, total + 1):
            step()
            if i % every == 0:
                now = time.perf_counter()
                times.append(f"{(now - start) / every * 1000:.0f}")
                start = now
        print(f"flush-to-zero {'on' if flush else 'off'}: ms a step, {every} at a time:", *times)
    torch.set_flush_denormal(False)


def faults(n: int = 100) -> None:
    for frozen in (False, True):
        step = trainer(n + 5, frozen)
        for _ in range(5):
            step()
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for _ in range(n):
            step()
        after, seconds = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
        print(
            f"embedding {'frozen' if frozen else 'trained'}: "
            f"{(after.ru_minflt - before.ru_minflt) / n:,.0f} minor faults a step, "
            f"{(after.ru_stime - before.ru_stime) / n * 1000:.1f} ms system, "
            f"{seconds / n * 1000:.1f} ms in all"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1800, help="steps a model trains")
    parser.add_argument("--every", type=int, default=300, help="steps a timing covers")
    a = parser.parse_args()
    torch.set_num_threads(1)
    faults()
    steps(a.steps, a.every)


if __name__ == "__main__":
    main()

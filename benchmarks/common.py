"""What the benchmark scripts share: peak memory, running each job in a fresh process, and a
language model's training stream."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path


def peak_mb() -> int:
    """This process's peak RSS in MB (ru_maxrss is in KB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_jobs(script: str, jobs: list[list[str]]) -> list[dict]:
    """Run ``script JOB...`` for each job in a fresh process (so timings and peak RSS are its
    own); each prints one JSON line last. A failed job's error is shown and the rest go on."""
    rows = []
    for job in jobs:
        out = subprocess.run([sys.executable, script, *job], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr, flush=True)
    return rows


def lm_stream(data: Path | None, units: int, vocab: int):
    """The first ``units`` ids of an LM stage data folder's ``train.pt``, else a stream of ids
    1..``vocab`` drawn with Zipf frequencies (seeded)."""
    import torch

    if data is not None:
        return torch.load(data / "train.pt", weights_only=True)["stream"][:units]
    ranks = torch.arange(1, vocab + 1, dtype=torch.float64)
    draw = torch.Generator().manual_seed(0)
    return torch.multinomial(1 / ranks, units, replacement=True, generator=draw) + 1


def full_morpheme_lm(vocab: int):
    """The full profile's morpheme language model's settings over ``vocab`` ids: 256 x 256,
    adaptive softmax, no dropout (one pass shows no unit twice)."""
    from models.lm import LMConfig, adaptive_cutoffs

    return LMConfig(
        vocab,
        embed_dim=256,
        hidden_size=256,
        cutoffs=adaptive_cutoffs(vocab),
        dropout=0.0,
        input_dropout=0.0,
        embed_dropout=0.0,
    )

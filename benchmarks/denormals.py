"""Denormal floats in the optimizer: one fused AdamW step over an embedding table whose moving
averages are partly denormal (Adam's first moment of a row no batch uses decays by beta1 a
step, into the denormal range after about 750 steps), with the CPU's flush-to-zero off and on.

    python benchmarks/denormals.py [--share 0.38] [--rows 49728] [--dim 256] [--threads 1 2]
    python benchmarks/denormals.py --checkpoint KORFLOW_HOME/lm/runs/<run>/checkpoints/last.pt

``--checkpoint`` prints the denormal share of each moving average in a training checkpoint
(what ``--share`` defaults to: the full morpheme LM's embedding after 3 of its 4 rounds). Run
it alone on the machine: a second CPU-heavy process changes the timings.
"""

from __future__ import annotations

import argparse
import time

import torch

TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32


def denormal_share(t: torch.Tensor) -> float:
    return float(((t != 0) & (t.abs() < TINY)).float().mean())


def shares(path: str) -> None:
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    names = list(checkpoint["model"])
    for i, state in checkpoint["optimizer"]["state"].items():
        for moment in ("exp_avg", "exp_avg_sq"):
            share = denormal_share(state[moment])
            if share:
                print(f"{names[i]} {moment}: {share:.1%} denormal")


def step_ms(rows: int, dim: int, share: float, flush: bool, steps: int = 10) -> float:
    weight = torch.nn.Parameter(torch.randn(rows, dim) * 0.05)
    optimizer = torch.optim.AdamW([weight], lr=1e-3, weight_decay=0.01, fused=True)
    weight.grad = torch.zeros_like(weight)
    weight.grad[: rows // 25] = 1e-4  # the frequent rows a batch touches
    optimizer.step()
    state = optimizer.state[weight]
    state["exp_avg"].uniform_(1e-6, 1e-4)
    idle = torch.rand(rows) < share
    state["exp_avg"][idle] = TINY / 8  # a denormal
    torch.set_flush_denormal(flush)
    try:
        started = time.perf_counter()
        for _ in range(steps):
            optimizer.step()
        return (time.perf_counter() - started) / steps * 1000
    finally:
        torch.set_flush_denormal(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, default=0.38, help="denormal rows' share")
    parser.add_argument("--rows", type=int, default=49_728, help="the morpheme LM's vocabulary")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--checkpoint", help="print a checkpoint's denormal shares instead")
    args = parser.parse_args()
    if args.checkpoint:
        shares(args.checkpoint)
        return
    print("| threads | denormal rows | step, flush-to-zero off (ms) | on (ms) | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        off, on = (step_ms(args.rows, args.dim, args.share, flush) for flush in (False, True))
        print(f"| {threads} | {args.share:.0%} | {off:.1f} | {on:.1f} | {off / on:.1f}x |")


if __name__ == "__main__":
    main()

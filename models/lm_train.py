"""Training and evaluation of a language model on a token stream (torch alone).

One visible loop: the stream is cut into ``batch_size`` parallel columns, read ``bptt`` tokens
at a time with the LSTM state carried between windows (and detached), AdamW with a short warm-up
and a linear decay, gradient clipping, CUDA + AMP when there is a GPU. After every epoch each
held-out stream is scored (its perplexity, and the token-weighted one over all of them, which
picks the best epoch), and a checkpoint is written that a restarted run resumes from to the
same weights as an uninterrupted one (the RNG states are in it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .checkpoint import resume, save
from .checks import check_ranges
from .lm import LanguageModel
from .train import GLOBAL_RNG, NonFiniteLoss, TrainResult, pick_device


@dataclass(frozen=True)
class LMTrainConfig:
    epochs: int = 4
    batch_size: int = 32  # parallel columns of the stream
    bptt: int = 64  # tokens a window; gradients flow back this far
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.02  # share of the steps the learning rate rises over
    clip_norm: float = 0.5
    # Held-out scores (and a checkpoint) this many times an epoch: one pass over a large corpus
    # still shows perplexity against units seen, and a killed run loses at most a round.
    rounds_per_epoch: int = 1
    patience: int = 2  # rounds without a better held-out perplexity before stopping
    fused: bool = True
    amp: bool = True  # mixed precision, on CUDA only
    seed: int = 42
    device: str = "auto"

    def __post_init__(self) -> None:
        check_ranges(
            self,
            at_least_one=("epochs", "batch_size", "bptt", "rounds_per_epoch", "patience"),
            positive=("lr", "clip_norm"),
            non_negative=("weight_decay",),
            below_one=("warmup",),
        )


def batchify(stream: torch.Tensor, columns: int) -> torch.Tensor:
    """A 1-D stream -> [columns, length]: column j reads the j-th slice of the stream."""
    length = stream.numel() // columns
    if length < 2:
        raise ValueError(
            f"a stream of {stream.numel()} tokens is too short for {columns} columns: give "
            "more text or a smaller batch_size"
        )
    return stream[: columns * length].long().view(columns, length)


def windows(data: torch.Tensor, bptt: int, part: int = 0, parts: int = 1):
    """(inputs, targets) windows of a batchified stream, in order: those of the ``part``-th of
    ``parts`` equal runs of windows."""
    starts = range(0, data.size(1) - 1, bptt)
    if parts > len(starts):
        raise ValueError(
            f"{parts} rounds an epoch but only {len(starts)} windows: lower rounds_per_epoch"
        )
    for start in starts[len(starts) * part // parts : len(starts) * (part + 1) // parts]:
        end = min(start + bptt, data.size(1) - 1)
        yield data[:, start:end], data[:, start + 1 : end + 1]


def _detached(state):
    return [(h.detach(), c.detach()) for h, c in state]


def heldout_columns(stream: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """How a held-out stream is scored: in ``batch_size`` columns, each token after the first
    of its column (what the n-gram baseline scores too)."""
    return batchify(stream, min(batch_size, max(stream.numel() // 2, 1)))


@torch.no_grad()
def evaluate(
    model: LanguageModel, stream: torch.Tensor, batch_size: int = 16, bptt: int = 128
) -> dict[str, float]:
    """Mean negative log-likelihood per token of ``stream`` and its perplexity."""
    device = model.embedding.weight.device
    model.eval()
    data = heldout_columns(stream, batch_size).to(device)
    state, total, count = None, 0.0, 0
    for x, y in windows(data, bptt):
        features, state = model(x, state)
        n = int((y != 0).sum())
        if n:
            total += model.loss(features, y).item() * n
            count += n
    loss = total / max(count, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": count}


def heldout_scores(model: LanguageModel, heldout: dict[str, torch.Tensor]) -> dict[str, float]:
    """``val_perplexity_<name>`` per held-out stream and ``val_perplexity`` over all of them
    (per token, so a larger slice weighs more)."""
    scores, total, count = {}, 0.0, 0
    for name, stream in heldout.items():
        result = evaluate(model, stream)
        scores[f"val_perplexity_{name}"] = result["perplexity"]
        total, count = total + result["loss"] * result["tokens"], count + result["tokens"]
    loss = total / max(count, 1)
    return {**scores, "val_loss": loss, "val_perplexity": math.exp(min(loss, 50.0))}


def train_lm(
    model: LanguageModel,
    stream: torch.Tensor,
    heldout: dict[str, torch.Tensor],
    config: LMTrainConfig,
    checkpoint_dir: str | Path | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train in place on ``stream`` (already reversed for a backward model); the model ends
    holding the weights of its best round by ``val_perplexity`` over ``heldout``. A round is
    ``1 / rounds_per_epoch`` of an epoch (the whole epoch by default); the history has a row per
    round, numbered as ``epoch``, with ``tokens_seen`` for the curve against units."""
    device = pick_device(config.device)
    use_amp = config.amp and device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    # The dropout masks' own generator (the draws of the global RNG seeded alike, which they
    # came from before): another training at once in the process (side by side) has its own.
    generator = torch.Generator(device=device).manual_seed(config.seed)
    model.to(device)
    data = batchify(stream, config.batch_size).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    fused = config.fused and device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(
        params, lr=config.lr, weight_decay=config.weight_decay, fused=fused
    )
    steps = len(range(0, data.size(1) - 1, config.bptt)) * config.epochs
    warm = max(1, int(steps * config.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(steps - warm, 1)))
    )
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    result, best_state, stale, start, tokens_seen = TrainResult(), None, 0, 0, 0

    checkpoint = Path(checkpoint_dir) / "last.pt" if checkpoint_dir else None
    trained = (model, optimizer, scheduler, scaler)  # what a checkpoint restores
    with GLOBAL_RNG:  # it sets the global RNG states, read back here for an old checkpoint
        state = resume(checkpoint, device, *trained, config=asdict(config))
        cuda = device.type == "cuda"
        drawn = torch.cuda.get_rng_state(device) if cuda else torch.get_rng_state()
    if state:
        result = TrainResult(state["history"], state["best_epoch"], state["best_score"])
        best_state, stale, start = state["best_state"], state["stale"], state["epoch"]
        tokens_seen = int(result.history[-1]["tokens_seen"]) if result.history else 0
        # A checkpoint from before the generator: the masks were drawn from the global RNG,
        # which resume() set back (``drawn``).
        generator.set_state(state.get("generator", drawn))
    model.generator = generator

    rounds = config.epochs * config.rounds_per_epoch
    for epoch in range(start, rounds):  # a round: part of an epoch (all of it by default)
        if stale >= config.patience:
            break
        model.train()
        started, total, seen, hidden = time.perf_counter(), 0.0, 0, None
        part = epoch % config.rounds_per_epoch
        for number, (x, y) in enumerate(windows(data, config.bptt, part, config.rounds_per_epoch)):
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                features, hidden = model(x, hidden)
                loss = model.loss(features, y)
            if not torch.isfinite(loss):
                raise NonFiniteLoss(
                    f"epoch {epoch + 1}, window {number + 1}: the loss is {loss.item()}; "
                    "lower the learning rate (lr) or the gradient clip norm"
                )
            hidden = _detached(hidden)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, config.clip_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total += loss.item() * y.numel()
            seen += y.numel()
        seconds = time.perf_counter() - started
        validated = time.perf_counter()
        scores = heldout_scores(model, heldout)
        log = {
            "epoch": epoch + 1,
            "train_loss": total / seen,
            "train_perplexity": math.exp(min(total / seen, 50.0)),
            **scores,
            "tokens_seen": tokens_seen + seen,
            "epoch_seconds": seconds,
            "tokens_per_s": seen / seconds,
            "val_seconds": time.perf_counter() - validated,
            "lr": scheduler.get_last_lr()[0],
        }
        tokens_seen += seen
        result.history.append(log)
        if best_state is None or log["val_perplexity"] < result.best_score:
            result.best_score, result.best_epoch, stale = log["val_perplexity"], epoch + 1, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if checkpoint:
            save(
                checkpoint,
                device,
                *trained,
                config=asdict(config),
                epoch=epoch + 1,
                history=result.history,
                best_epoch=result.best_epoch,
                best_score=result.best_score,
                best_state=best_state,
                stale=stale,
                generator=generator.get_state(),
            )
        if on_epoch:
            on_epoch(log)
    model.generator = None
    if best_state is not None:
        model.load_state_dict(best_state)
    return result

"""Training and inference for the seq2seq models, on the shared loop in ``models.train``.

The loss is token-level cross-entropy over the answer and its <eos> (padding ignored), with
optional label smoothing for training; validation reports the plain loss and its perplexity,
plus whatever the caller scores on the model's own answers, and the best epoch is chosen by
one of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .batching import length_batches
from .data import PairDataset, collate_pairs
from .seq2seq import Seq2Seq
from .train import TrainConfig, TrainResult, fit, make_loader


@dataclass(frozen=True)
class Seq2SeqTrainConfig(TrainConfig):
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 3
    label_smoothing: float = 0.1
    teacher_forcing: float = 1.0  # probability of feeding the reference token at each step

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.teacher_forcing <= 1:
            raise ValueError(f"teacher_forcing must be in [0, 1], not {self.teacher_forcing}")


def _token_loss(
    model: Seq2Seq, batch, smoothing: float, teacher_forcing: float = 1.0, choose: bool = False
):
    """Cross-entropy per answer token; ``choose``: plus the choice head's cross-entropy against
    the retrieved answer that is the expected one (or writing, when none is)."""
    src, lengths, tgt_in, tgt_out = batch
    choose = choose and model.config.choices > 0
    out = model(src, lengths, tgt_in, teacher_forcing, with_choice=choose)
    logits = (out[0] if choose else out).float()
    loss = nn.functional.cross_entropy(
        logits.flatten(0, 1), tgt_out.flatten(), ignore_index=0, label_smoothing=smoothing
    )
    if choose:
        loss = loss + nn.functional.cross_entropy(out[1], model.choice_labels(src, tgt_out))
    real = tgt_out != 0
    correct = ((logits.argmax(-1) == tgt_out) & real).sum().item()
    return loss, int(real.sum().item()), correct


@torch.no_grad()
def evaluate(
    model: Seq2Seq, data: PairDataset, batch_size: int = 256, device: torch.device | None = None
) -> dict[str, float]:
    """Teacher-forced loss per answer token (no smoothing), perplexity and token accuracy."""
    device = device or next(model.parameters()).device
    model.eval()
    total, tokens, correct = 0.0, 0, 0
    for batch in make_loader(data, batch_size, device, collate_pairs):
        batch = tuple(t.to(device) for t in batch)
        loss, count, right = _token_loss(model, batch, 0.0)
        total, tokens, correct = total + loss.item() * count, tokens + count, correct + right
    loss = total / max(tokens, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "accuracy": correct / tokens}


def train_seq2seq(
    model: Seq2Seq,
    train_data: PairDataset,
    val_data: PairDataset,
    config: Seq2SeqTrainConfig,
    checkpoint_dir: str | Path | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    score_answers: Callable[[Seq2Seq], dict[str, float]] | None = None,
    monitor: str = "val_loss",
) -> TrainResult:
    """Train in place; the model ends holding the weights of its best epoch by ``monitor``:
    ``val_loss`` (lower is better), or a metric that ``score_answers`` computes from the
    model's own answers after each epoch (e.g. validation chrF of greedy answers, which
    reflects answer quality where teacher-forced loss does not; higher is better)."""

    def step(model: nn.Module, batch) -> tuple[torch.Tensor, int, int]:
        return _token_loss(model, batch, config.label_smoothing, config.teacher_forcing, True)

    def validate(model: nn.Module, device: torch.device) -> dict:
        scores = {f"val_{k}": v for k, v in evaluate(model, val_data, device=device).items()}
        return {**scores, **(score_answers(model) if score_answers else {})}

    return fit(
        model,
        train_data,
        config,
        step,
        validate,
        collate_pairs,
        checkpoint_dir,
        on_epoch,
        monitor=monitor,
        higher_is_better=not monitor.endswith(("loss", "perplexity")),
    )


@torch.no_grad()
def generate(
    model: Seq2Seq,
    sources: list[list[int]],
    max_len: int,
    beam: int = 1,
    length_penalty: float = 1.0,
    batch_size: int = 128,
    no_repeat_ngram: int = 0,
    min_len: int = 1,
    take_bias: float | None = 0.0,
) -> list[list[int]]:
    """Answer ids for each source (greedy for beam 1), in order, batched. A model with a
    choice head answers with a retrieved answer whole where it prefers taking it to writing by
    more than ``-take_bias`` (``take``); None: the written answers only."""
    device = next(model.parameters()).device
    model.eval()
    out: list[list[int]] = [[] for _ in sources]
    # Questions batched by length, as in training (no padding), answers put back in order.
    for rows in length_batches([max(len(s), 1) for s in sources], batch_size):
        src, lengths, _, _ = collate_pairs([(sources[i] or [1], []) for i in rows])  # 1 = <unk>
        src = src.to(device)
        if beam == 1:
            answers = model.greedy(src, lengths, max_len, no_repeat_ngram, min_len)
        else:
            answers = model.beam_search(
                src, lengths, max_len, beam, length_penalty, no_repeat_ngram, min_len
            )
        if take_bias is not None and model.config.choices:
            answers = take(answers, model.preferences(src, lengths), take_bias)
        for i, answer in zip(rows, answers, strict=True):
            out[i] = answer
    return out


def taken(preferences: list[tuple[list[int], float]], bias: float) -> list[bool]:
    """Which rows answer with their retrieved answer: those preferring it by more than
    ``-bias`` to writing."""
    return [bool(answer) and margin + bias >= 0 for answer, margin in preferences]


def take(
    written: list[list[int]], preferences: list[tuple[list[int], float]], bias: float
) -> list[list[int]]:
    """Each written answer, or the retrieved answer where it is ``taken``."""
    return [
        answer if chosen else own
        for own, (answer, _), chosen in zip(
            written, preferences, taken(preferences, bias), strict=True
        )
    ]


@torch.no_grad()
def preferences(
    model: Seq2Seq, sources: list[list[int]], batch_size: int = 256
) -> list[tuple[list[int], float]]:
    """``Seq2Seq.preferences`` for each source, in order, batched."""
    device = next(model.parameters()).device
    model.eval()
    out: list[tuple[list[int], float]] = [([], float("-inf"))] * len(sources)
    for rows in length_batches([max(len(s), 1) for s in sources], batch_size):
        src, lengths, _, _ = collate_pairs([(sources[i] or [1], []) for i in rows])
        for i, found in zip(rows, model.preferences(src.to(device), lengths), strict=True):
            out[i] = found
    return out

"""Training loop for the classifiers and the seq2seq models: CUDA + AMP when there is a GPU,
plain CPU otherwise.

AdamW/Adam (fused), a linear or cosine learning-rate schedule, gradient clipping, optionally a
moving average of the weights (what is validated and kept), early stopping on a
validation split, a checkpoint after every epoch that a restarted run resumes from (to the same
weights as an uninterrupted run: the batches depend only on the seed and the epoch, and the CPU
and CUDA RNG states are saved), and a clear error when the loss stops being finite.

Batches are length-aware by default (``models.batching``): sequences of one length together, so
the RNN runs dense, several times faster than on padded random batches (BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, ParamSpec, TypeVar

import torch
from torch import nn
from torch.optim import swa_utils
from torch.utils.data import DataLoader, Dataset

from .batching import LengthBatchSampler
from .checkpoint import resume, save
from .checks import check_ranges
from .data import collate

P, R = ParamSpec("P"), TypeVar("R")


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite: training stopped."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    optimizer: Literal["adamw", "adam"] = "adamw"
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    clip_norm: float = 1.0
    label_smoothing: float = 0.0
    # Validate and keep an exponential moving average of the weights (this decay per step; 0 =
    # off): a smoothed model (+0.0 to +0.2 validation points for sentiment, BENCHMARKS.md).
    ema: float = 0.0
    fused: bool = True  # AdamW's update in one kernel (False: per tensor, as before 2026-11-22)
    patience: int = 2  # epochs without a better validation accuracy before stopping
    # length: batches of equal-length sequences (fast, no padding); random: padded random batches
    batching: Literal["length", "random"] = "length"
    amp: bool = True  # mixed precision, on CUDA only
    seed: int = 42
    device: str = "auto"  # auto, cpu, cuda, cuda:1, ...

    def __post_init__(self) -> None:
        check_ranges(
            self,
            at_least_one=("epochs", "batch_size", "patience"),
            positive=("lr", "clip_norm"),
            non_negative=("weight_decay",),
            below_one=("label_smoothing", "ema"),
        )


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = float("nan")  # the monitored validation metric at the best epoch

    @property
    def best_val_accuracy(self) -> float:  # what the classifiers monitor
        return self.best_score


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# torch's global RNG has one user at a time in a process. ``fit`` holds this for its whole
# loop (its dropout masks come from that RNG); seeding and building a model hold it, and so
# does building one to serve (``korflow.serving``). A served model loaded in another thread
# during a training (a pipeline's other branch) shifted or rewound its masks: a reproduced
# pipeline's seq2seq differed. Reentrant: a holder may seed or build again inside.
GLOBAL_RNG = threading.RLock()


def holding_global_rng(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run holding ``GLOBAL_RNG``."""

    @functools.wraps(function)
    def holding(*args: P.args, **kwargs: P.kwargs) -> R:
        with GLOBAL_RNG:
            return function(*args, **kwargs)

    return holding


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def make_loader(
    data: Dataset,
    batch_size: int,
    device: torch.device,
    collate_fn: Callable = collate,
    shuffle_seed: int | None = None,
    batching: str = "length",
) -> DataLoader:
    """Batches of ``data``: length-aware when the dataset knows its lengths (shuffled from
    ``shuffle_seed``, in length order without one), else plain (shuffled) random batches."""
    pin = device.type == "cuda"
    # A private generator even when nothing is shuffled: a DataLoader without one draws its
    # base seed from torch's global RNG on every pass, which shifted the dropout masks of a
    # training running beside it (another stage's evaluation broke exact reproduction).
    generator = torch.Generator().manual_seed(shuffle_seed or 0)
    if batching == "length" and hasattr(data, "batch_lengths"):
        lengths, secondary = data.batch_lengths()
        sampler = LengthBatchSampler(
            lengths, batch_size, shuffle_seed is not None, shuffle_seed or 0, secondary
        )
        return DataLoader(
            data, batch_sampler=sampler, collate_fn=collate_fn, pin_memory=pin, generator=generator
        )
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=shuffle_seed is not None,
        generator=generator,
        collate_fn=collate_fn,
        pin_memory=pin,
    )


def batches_in_order(loader: DataLoader) -> list[int] | None:
    """The dataset indices in the order ``loader`` yields them (None: dataset order)."""
    sampler = loader.batch_sampler
    if not isinstance(sampler, LengthBatchSampler):
        return None
    return [i for batch in sampler for i in batch]


@torch.no_grad()
def predict(
    model: nn.Module, data: Dataset, batch_size: int = 512, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(class probabilities [N, C], labels [N], mean loss) for ``data``, in dataset order
    (batched by length for speed, then put back in order)."""
    device = device or next(model.parameters()).device
    model.eval()
    loader = make_loader(data, batch_size, device)
    probs, labels, loss = [], [], 0.0
    for ids, lengths, y in loader:
        ids, y = ids.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(ids, lengths).float()
        loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        probs.append(logits.softmax(-1).cpu())
        labels.append(y.cpu())
    probs, labels = torch.cat(probs), torch.cat(labels)
    order = batches_in_order(loader)
    if order is not None:
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        probs, labels = probs[inverse], labels[inverse]
    return probs, labels, loss / max(len(data), 1)


def _schedule(optimizer, kind: str, total_steps: int):
    def factor(step: int) -> float:
        progress = min(step / max(total_steps, 1), 1.0)
        if kind == "linear":
            return 1.0 - progress
        if kind == "cosine":
            return 0.5 * (1 + math.cos(math.pi * progress))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _ema(decay: float) -> Callable:
    """The moving average's update, with TensorFlow's warm-up: after n updates the decay is
    min(decay, (1 + n) / (10 + n)), so the first steps' weights fade within a few dozen steps
    however few steps an epoch has."""

    @torch.no_grad()
    def update(averaged: list, current: list, n: torch.Tensor) -> None:
        weight = 1 - min(decay, (1 + int(n)) / (10 + int(n)))
        for mean, value in zip(averaged, current, strict=True):
            if mean.is_floating_point():
                mean.lerp_(value, weight)
            else:  # an integer buffer (a lookup table) is copied, not averaged
                mean.copy_(value)

    return update


Batch = tuple[torch.Tensor, ...]
# (model, batch on the device) -> (mean loss, number of items the mean is over, correct items)
StepFn = Callable[[nn.Module, Batch], tuple[torch.Tensor, int, int]]


def train(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset,
    config: TrainConfig,
    checkpoint_dir: str | Path | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train a classifier in place; it ends holding the weights of its best validation epoch."""
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    def step(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, int, int]:
        ids, lengths, y = batch
        logits = model(ids, lengths)
        return loss_fn(logits.float(), y), len(y), (logits.argmax(-1) == y).sum().item()

    def validate(model: nn.Module, device: torch.device) -> dict:
        probs, labels, loss = predict(model, val_data, device=device)
        return {
            "val_loss": loss,
            "val_accuracy": (probs.argmax(-1) == labels).float().mean().item(),
        }

    return fit(model, train_data, config, step, validate, collate, checkpoint_dir, on_epoch)


@holding_global_rng
def fit(
    model: nn.Module,
    train_data: Dataset,
    config: TrainConfig,
    step: StepFn,
    validate: Callable[[nn.Module, torch.device], dict],
    collate_fn: Callable,
    checkpoint_dir: str | Path | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    monitor: str = "val_accuracy",
    higher_is_better: bool = True,
) -> TrainResult:
    """The loop every model here trains with: ``step`` computes a batch's loss, ``validate`` the
    validation metrics after each epoch, and the best epoch by ``monitor`` is kept."""
    device = pick_device(config.device)
    use_amp = config.amp and device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # cuDNN picks the fastest LSTM kernels
    seed_everything(config.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    # Fused: one kernel for all parameters. On a CPU the per-tensor loop cost 20 ms a step
    # for the classifier's 4.6M-parameter n-gram table (a quarter of its step), fused 2 ms.
    fused = config.fused and device.type in ("cpu", "cuda")
    optimizer = opt_cls(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    # Length-aware batching makes its own number of batches (one more or less per length).
    steps_per_epoch = len(
        make_loader(train_data, config.batch_size, device, collate_fn, 0, config.batching)
    )
    scheduler = _schedule(optimizer, config.schedule, steps_per_epoch * config.epochs)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    # What is validated and kept: the model itself, or the moving average of its weights.
    averaged = None
    if config.ema:
        averaged = swa_utils.AveragedModel(model, multi_avg_fn=_ema(config.ema), use_buffers=True)
        for rnn in averaged.module.modules():
            if isinstance(rnn, nn.RNNBase):
                rnn.flatten_parameters()  # the copy's weights in cuDNN's one block again
    kept = averaged.module if averaged else model
    result, best_state, stale, start = TrainResult(), None, 0, 0
    sign = 1.0 if higher_is_better else -1.0

    checkpoint = Path(checkpoint_dir) / "last.pt" if checkpoint_dir else None
    trained = (model, optimizer, scheduler, scaler)  # what a checkpoint restores
    state = resume(checkpoint, device, *trained, config=asdict(config), monitor=monitor)
    if state:
        if averaged:
            averaged.load_state_dict(state["averaged"])
        result = TrainResult(state["history"], state["best_epoch"], state["best_score"])
        best_state, stale, start = state["best_state"], state["stale"], state["epoch"]

    for epoch in range(start, config.epochs):
        if stale >= config.patience:
            break
        model.train()
        started, total_loss, correct, seen = time.perf_counter(), 0.0, 0, 0
        # The batches depend on (seed, epoch) alone: a resumed run sees what it would have seen.
        loader = make_loader(
            train_data,
            config.batch_size,
            device,
            collate_fn,
            config.seed * 1_000 + epoch,
            config.batching,
        )
        for number, batch in enumerate(loader):
            batch = tuple(t.to(device, non_blocking=True) for t in batch)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss, count, right = step(model, batch)
            if not torch.isfinite(loss):
                raise NonFiniteLoss(
                    f"epoch {epoch + 1}, batch {number + 1}: the loss is {loss.item()}; "
                    "lower the learning rate (lr) or the gradient clip norm"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, config.clip_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            if averaged:
                averaged.update_parameters(model)
            total_loss += loss.item() * count
            correct += right
            seen += count
        seconds = time.perf_counter() - started
        validated = time.perf_counter()
        metrics = validate(kept, device)
        log = {
            "epoch": epoch + 1,
            "train_loss": total_loss / seen,
            "train_accuracy": correct / seen,
            **metrics,
            "epoch_seconds": seconds,
            "samples_per_s": len(train_data) / seconds,
            "val_seconds": time.perf_counter() - validated,
            "lr": scheduler.get_last_lr()[0],
        }
        result.history.append(log)
        score = sign * log[monitor]
        if best_state is None or score > sign * result.best_score:
            result.best_score, result.best_epoch, stale = log[monitor], epoch + 1, 0
            best_state = {k: v.detach().cpu().clone() for k, v in kept.state_dict().items()}
        else:
            stale += 1
        if checkpoint:
            save(
                checkpoint,
                device,
                *trained,
                config=asdict(config),
                monitor=monitor,
                epoch=epoch + 1,
                averaged=averaged.state_dict() if averaged else None,
                history=result.history,
                best_epoch=result.best_epoch,
                best_score=result.best_score,
                best_state=best_state,
                stale=stale,
            )
        if on_epoch:
            on_epoch(log)
    if best_state is not None:
        model.load_state_dict(best_state)
    return result

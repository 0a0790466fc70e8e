"""What the training tasks share: the model settings once the data is known, the run around a
training (live epoch logging, the GPU slot or the CPU turn, a seeded model, resumable
checkpoints, the weights file) and the result it returns (``Trained``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from prefect import get_run_logger
from pydantic import BaseModel, ConfigDict
from torch import nn

from korflow.core import settings
from korflow.core.cpu import cpu_turn, in_own_thread
from korflow.core.epoch_log import LiveEpochs
from korflow.core.gpu import gpu_slot
from models.data import save_atomic
from models.train import GLOBAL_RNG, TrainConfig, TrainResult, pick_device

from .checkpoints import checkpoint_dir, finished

# fit(model, checkpoint folder, per-epoch callback) -> the training's result
Fit = Callable[[nn.Module, Path, Callable[[dict], None]], TrainResult]


class Trained(BaseModel):
    """What a training task returns (Prefect caches it; the flows log it): the weights of the
    chosen epoch and the settings they load with, every epoch's log, the test's scores and
    what the served model needs beside its weights. A stage adds its own fields (a subclass).
    A pydantic model, so that the cache finds the files it names (``caching.paths_in``)."""

    model_config = ConfigDict(frozen=True)

    weights: str  # the state dict of the chosen epoch
    model: dict[str, Any]  # the model's settings, its sizes included
    history: list[dict[str, Any]]  # one log an epoch (a language model's: a round)
    best_epoch: int
    metrics: dict[str, float]  # the test's (and validation's) scores
    served: dict[str, Any] = {}  # rules chosen on validation that the served model applies
    live_run_id: str | None = None  # the MLflow run its epochs were logged to as they ended
    live_epochs: list[int] = []

    def mean(self, key: str) -> float:
        """``key`` averaged over the epochs (a throughput, an epoch's seconds)."""
        return sum(log[key] for log in self.history) / len(self.history)


def with_embedding(model_cfg: Any, embedding: str | None, **sizes: int) -> tuple[Any, Any]:
    """The model settings with the data's ``sizes``, and the pretrained embedding matrix (None
    without one): a matrix sets the embedding width."""
    matrix = torch.load(embedding, weights_only=True) if embedding else None
    embed_dim = matrix.shape[1] if matrix is not None else model_cfg.embed_dim
    return replace(model_cfg, embed_dim=embed_dim, **sizes), matrix


def train_and_test(
    stage: str,
    name: str,
    key: str,
    cfg: Any,
    train_cfg: TrainConfig,
    run_id: str | None,
    build: Callable[[], nn.Module],
    fit: Fit,
    test: Callable[[nn.Module, TrainResult], dict],
    describe: Callable[[dict], str],
    result_type: type[Trained] = Trained,
) -> Trained:
    """Train ``build()`` with ``fit``, resuming an interrupted run of the same ``key`` from its
    checkpoint, then ``test(model, result)``, both in one CPU turn; save the weights. Each
    epoch is logged (``describe(log)``: its scores) and goes to the MLflow run ``run_id`` as it
    ends. Returns a ``result_type`` with the fields ``test`` returns (``metrics`` and the
    stage's own)."""
    logger = get_run_logger()
    run_dir = settings.output_path(stage, "runs", f"{name}-{key}")
    live = LiveEpochs(run_id)

    # A language model is scored several times an epoch: each is a round, numbered as epoch.
    rounds = getattr(train_cfg, "rounds_per_epoch", 1)
    step, total = (
        ("round", train_cfg.epochs * rounds) if rounds > 1 else ("epoch", train_cfg.epochs)
    )

    def report(log: dict) -> None:
        live(log)
        logger.info(
            "%s %s %d/%d: %s | %.0f s",
            name,
            step,
            log["epoch"],
            total,
            describe(log),
            log["epoch_seconds"],
        )

    on_cpu = pick_device(train_cfg.device).type == "cpu"
    job = f"{stage} {name}"

    def session() -> tuple[nn.Module, TrainResult, dict]:
        with (
            gpu_slot(job, not on_cpu, logger.info),
            cpu_turn(job, logger.info, exclusive=on_cpu) as threads,
        ):
            logger.info("%s: training on %d thread(s)", name, threads)
            # Seeded and built inside the turn, and under the lock that a training beside it
            # in this process (a shared turn) takes: nothing else draws from torch's global
            # RNG between the seed and the initial weights.
            with GLOBAL_RNG:
                torch.manual_seed(train_cfg.seed)
                model = build()
            result = fit(model, checkpoint_dir(run_dir), report)
            finished(run_dir)
            return model, result, test(model, result)

    # In a thread that ends with the training: its OpenMP team ends with it (korflow.core.cpu).
    model, result, tested = in_own_thread(session)
    save_atomic(model.state_dict(), run_dir / "weights.pt")
    return result_type(
        weights=str(run_dir / "weights.pt"),
        model=asdict(cfg),
        history=result.history,
        best_epoch=result.best_epoch,
        **live.record(),
        **tested,
    )

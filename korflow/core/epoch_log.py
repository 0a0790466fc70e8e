"""Per-epoch metrics on a training's MLflow run as each epoch ends, so a run stopped
mid-training (SIGTERM, kill -9, a crash) keeps what it reached; the epochs a training did not
log live (a cached result, the epochs before a resume) are logged afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from mlflow import MlflowClient
from mlflow.entities import Metric

# Per-epoch names that would read twice with the prefix (``epoch_epoch_seconds``).
RENAMED = {"epoch_seconds": "duration_s"}


def log_epoch(run_id: str, log: Mapping[str, float]) -> None:
    """One epoch's metrics as ``epoch_<name>`` at step = epoch (any thread: explicit run id);
    its time as ``epoch_duration_s``."""
    now, step = int(time.time() * 1000), int(log["epoch"])
    metrics = [
        Metric(f"epoch_{RENAMED.get(k, k)}", float(v), now, step)
        for k, v in log.items()
        if k != "epoch"
    ]
    MlflowClient().log_batch(run_id, metrics=metrics)


class LiveEpochs:
    """A training's ``on_epoch`` reporter: logs each epoch to ``run_id`` (None: nowhere) and
    remembers which, for ``log_missing_epochs`` (its ``record()`` goes into the result)."""

    def __init__(self, run_id: str | None) -> None:
        self.run_id, self.epochs = run_id, []

    def __call__(self, log: Mapping[str, float]) -> None:
        if self.run_id:
            log_epoch(self.run_id, log)
            self.epochs.append(log["epoch"])

    def record(self) -> dict:
        return {"live_run_id": self.run_id, "live_epochs": self.epochs}


def log_missing_epochs(
    run_id: str, history: Iterable[Mapping[str, float]], logged: Iterable[int]
) -> None:
    """The epochs of a training's ``history`` not ``logged`` live to ``run_id`` already."""
    logged = set(logged)
    for log in history:
        if log["epoch"] not in logged:
            log_epoch(run_id, log)

"""MLflow Model Registry: register a run's model; move an alias only to a better model."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


@dataclass
class Registration:
    version: str
    promoted: bool
    previous_version: str | None
    previous_score: float | None


def register(
    model_uri: str, name: str, run_id: str, metric: str, alias: str = "champion"
) -> Registration:
    """Register ``model_uri`` as a new version of ``name``; point ``alias`` at it only when its
    run's ``metric`` beats the current holder's (or nothing holds the alias yet)."""
    client = MlflowClient()
    version = mlflow.register_model(model_uri, name, tags={"korflow.run_id": run_id})
    score = client.get_run(run_id).data.metrics[metric]
    try:
        holder = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        holder = None
    previous = None
    if holder is not None:
        holder_run = holder.tags.get("korflow.run_id") or holder.run_id
        previous = client.get_run(holder_run).data.metrics.get(metric)
    promoted = holder is None or previous is None or score > previous
    if promoted:
        client.set_registered_model_alias(name, alias, version.version)
    return Registration(
        str(version.version), promoted, str(holder.version) if holder else None, previous
    )


def register_run(model_uri: str, name: str, run_id: str, metric: str) -> dict[str, object]:
    """``register`` from inside the active run, tagging it with the version it became."""
    reg = register(model_uri, name, run_id, metric)
    mlflow.set_tag("korflow.registered_version", reg.version)
    return {"version": reg.version, "champion": reg.promoted}

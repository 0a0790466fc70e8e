"""MLflow Model Registry: register a run's model; move an alias only to a better model.

Models compete only with models of their own profile: a quick model (nightly, on a slice of
the data) is scored on other data than a full one, so its validation metric says nothing about
which is better. Each profile has its own alias, ``champion-<profile>``; ``champion``, the alias
users deploy, follows ``champion-full``. Runs without a profile tag compete for ``champion``.
A registry that cannot be read promotes nothing, and a NaN metric never wins and never holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from korflow.core import stages

CHAMPION = "champion"
DEPLOYED_PROFILE = "full"  # the profile whose champion is also ``champion``
# The validation metric a stage's champion is chosen by (a perplexity: lower is better), and
# what each registered model is, as the registry shows it.
CHAMPION_METRIC = stages.CHAMPION_METRIC
DESCRIPTIONS = stages.MODELS


@dataclass
class Registration:
    version: str
    promoted: bool
    previous_version: str | None
    previous_score: float | None
    error: str | None = None  # why nothing was promoted, when the registry failed


def aliases(profile: str | None) -> list[str]:
    """The aliases a model of ``profile`` competes for; the first is the one compared."""
    if not profile:
        return [CHAMPION]
    own = f"{CHAMPION}-{profile}"
    return [own, CHAMPION] if profile == DEPLOYED_PROFILE else [own]


def _holder(client: MlflowClient, name: str, alias: str):
    """The version holding ``alias``; None only when no version holds it (any other registry
    error propagates: an unreadable registry must not look like an empty one)."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if "alias" in str(exc) and "not found" in str(exc):
            return None
        raise


def _beats(score: float, previous: float | None, higher_is_better: bool = True) -> bool:
    if not math.isfinite(score):
        return False
    if previous is None or not math.isfinite(previous):
        return True
    return score > previous if higher_is_better else score < previous


def register(
    model_uri: str,
    name: str,
    run_id: str,
    metric: str,
    alias: str | None = None,
    higher_is_better: bool = True,
) -> Registration:
    """Register ``model_uri`` as a new version of ``name``; point its profile's aliases (or
    ``alias``) at it only when its run's ``metric`` beats the current holder's (or nothing
    holds them yet); a perplexity beats with ``higher_is_better=False``."""
    client = MlflowClient()
    try:
        run = client.get_run(run_id)
        names = [alias] if alias else aliases(run.data.tags.get("korflow.profile"))
        version = mlflow.register_model(model_uri, name, tags={"korflow.run_id": run_id})
    except MlflowException as exc:  # nothing registered, nothing promoted; say why
        return Registration("", False, None, None, f"registry error: {exc}")
    score = run.data.metrics.get(metric, math.nan)
    try:
        holder = _holder(client, name, names[0])
        previous = _score_of(client, holder, metric)
        promoted = _beats(score, previous, higher_is_better)
        if promoted:
            for each in names:
                client.set_registered_model_alias(name, each, version.version)
        _describe(client, name, version.version, run, metric, score, names if promoted else [])
    except MlflowException as exc:  # keep the champion there is; say why
        return Registration(str(version.version), False, None, None, f"registry error: {exc}")
    return Registration(
        str(version.version), promoted, str(holder.version) if holder else None, previous
    )


def _describe(client, name, version, run, metric, score, aliases_taken) -> None:
    """The registered model's description (when it has none) and the version's: which run, its
    metric, the aliases it took."""
    if not client.get_registered_model(name).description and name in DESCRIPTIONS:
        client.update_registered_model(name, description=DESCRIPTIONS[name])
    said = run.data.tags.get("mlflow.note.content", "").strip()
    taken = f"took {', '.join(aliases_taken)}" if aliases_taken else "did not beat the champion"
    client.update_model_version(
        name,
        version,
        description=f"{said} {metric} {score:.4g} (run {run.info.run_id}); {taken}.".strip(),
    )


def _score_of(client: MlflowClient, holder, metric: str) -> float | None:
    """The holder's metric; None when there is no holder or its run is gone (deleted runs
    must not keep their model champion forever)."""
    if holder is None:
        return None
    try:
        run = client.get_run(holder.tags.get("korflow.run_id") or holder.run_id)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code):
            return None
        raise
    return run.data.metrics.get(metric)


def register_run(
    model_uri: str, name: str, run_id: str, metric: str, higher_is_better: bool = True
) -> dict[str, object]:
    """``register`` from inside the active run, tagging it with the version it became."""
    reg = register(model_uri, name, run_id, metric, higher_is_better=higher_is_better)
    mlflow.set_tag("korflow.registered_version", reg.version or "none")
    if reg.error:
        mlflow.set_tag("korflow.registry_error", reg.error[:5000])
    return {"version": reg.version, "champion": reg.promoted, "registry_error": reg.error}


def serving_uri(name: str) -> str:
    """``models:/NAME@champion``, or the quick champion while no full-profile model exists
    (a fresh clone after README command 1)."""
    client = MlflowClient()
    for alias in (CHAMPION, f"{CHAMPION}-quick"):
        try:
            if _holder(client, name, alias) is not None:
                return f"models:/{name}@{alias}"
        except MlflowException:
            break  # unknown model: let the load say so
    return f"models:/{name}@{CHAMPION}"


def resolve(uri: str) -> str:
    """A model URI as MLflow can load it. Logged models were all named ``model`` until they
    were named after their stage and variant (``sentiment-jamo``); ``runs:/ID/model[/PATH]``
    keeps working for a newer run by naming the run's one logged model instead."""
    run_id, _, rest = uri.removeprefix("runs:/").partition("/")
    if not uri.startswith("runs:/") or rest.partition("/")[0] != "model":
        return uri
    experiment = MlflowClient().get_run(run_id).info.experiment_id
    names = {
        m.name
        for m in mlflow.search_logged_models(
            [experiment], filter_string=f"source_run_id = '{run_id}'", output_format="list"
        )
    }
    if len(names) != 1 or "model" in names:
        return uri  # an old run's model, or none: MLflow says what it finds
    return f"runs:/{run_id}/{names.pop()}{rest.removeprefix('model')}"

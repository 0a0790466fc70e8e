"""Loading a registered model where korflow is installed (the ``korflow`` commands): by URI, or
the registered model's champion, with a line that says which version and run it is. Not part
of what a model ships: no predictor imports it."""

from __future__ import annotations

import sys

import mlflow

from korflow.core import registry, tracking
from korflow.core.imports import sys_path_kept
from korflow.core.stages import SPEC


def load(uri: str | None, registered: str, trainer: str):
    """(the pyfunc model, which it is): ``uri``, else ``registered``'s champion (the quick
    profile's while no full-profile model exists). ``trainer``: the command that trains one,
    named when there is none."""
    tracking.setup()
    accept_old_model_names()
    uri = registry.resolve(uri) if uri else registry.serving_uri(registered)
    try:
        loaded = load_pyfunc(uri)
    except Exception as exc:  # MLflow raises several types for a missing model or alias
        raise ValueError(f"cannot load {uri}: {exc} (train one with `{trainer}`)") from None
    try:
        described = describe(uri)
    except Exception:  # noqa: BLE001 - the model loaded; its description is a courtesy
        described = uri
    return loaded, described


def load_pyfunc(uri: str):
    """``mlflow.pyfunc.load_model(uri)``, leaving ``sys.path`` as it was: MLflow puts the
    model's code folder (its copy of the predictor modules, a partial korflow) first on it."""
    with sys_path_kept():
        return mlflow.pyfunc.load_model(uri)


def accept_old_model_names() -> None:
    """Models registered before the layers were split name their PythonModel by the predictor
    modules' old names (``korflow.chat:ChatPyfunc``); in this process, which has imported
    korflow already, those names must find today's modules, not the model's own copy."""
    from korflow.serving import chat_predictor, sentiment_predictor

    sys.modules.setdefault("korflow.chat", chat_predictor)
    sys.modules.setdefault("korflow.sentiment", sentiment_predictor)


def describe(uri: str) -> str:
    """``models:/NAME@ALIAS`` -> which version and run it is, with its variant and metric."""
    if not uri.startswith("models:/") or "@" not in uri:
        return uri
    name, alias = uri.removeprefix("models:/").split("@", 1)
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(name, alias)
    run = client.get_run(version.run_id)
    tags, metrics = run.data.tags, run.data.metrics
    spec = SPEC.get(tags.get("korflow.stage", ""), SPEC["sentiment"])  # untagged: the oldest
    variant = tags.get(spec.variant_tag or "") or "-"
    metric = spec.champion_metric or "-"
    score = metrics.get(metric, float("nan"))
    return (
        f"{uri} = version {version.version} (run {version.run_id}, {variant}, "
        f"{tags.get('korflow.profile', '-')} profile, {metric} {score:.4g})"
    )

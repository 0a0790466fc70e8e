"""Log a trained model variant, the same way for both training stages (sentiment, seq2seq): its
MLflow run with the korflow tags and the record ``korflow reproduce`` needs, its inputs, the
epochs as they end, its metrics and learning curve, the served model folder as a pyfunc, and
its registration. The training runs inside the open run, so that a run stopped mid-training
keeps the epochs it reached (and ends FAILED)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from flows.results import EmbedRun, flow_run_id
from korflow.core import plots, registry, tracking
from korflow.core.stages import SPEC
from korflow.serving.pyfunc import log_model_folder
from tasks.training import Trained


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    """How a variant is served: the settings of its model folder (without the model's own),
    its vocabulary, its pyfunc wrapper and an input example, checked against ``predict``."""

    name: str  # in the Model Registry
    settings: dict[str, Any]
    vocab: Path
    pyfunc: mlflow.pyfunc.PythonModel
    column: str
    examples: list[str]
    predict: Callable[[Path, list[str]], pd.DataFrame]
    files: tuple[Path, ...] = ()  # read beside the weights (a chatbot's retrieval pairs)


@dataclass(frozen=True, kw_only=True)
class Logged:
    run_id: str
    training: Trained  # what the training task returned
    model_uri: str
    registration: dict[str, Any]  # version, champion, registry_error; {} when not registered
    extra: dict[str, Any]  # what the stage's ``after`` hook returned


def log_trained_variant(
    stage: str,
    cfg: Any,
    variant: str,
    mirror: str | None,
    train: Callable[[str], Trained],
    served: ServedModel | None,
    *,
    narrow: dict[str, Any] | None = None,
    seed: int | None = None,
    params: dict[str, Any],
    tags: dict[str, str],
    inputs: list[tuple],
    metrics: dict[str, float],
    throughput: str | None = None,
    counts: dict[str, int],
    fasttext: EmbedRun | None = None,
    after: Callable[[Trained, Path], dict[str, Any]] | None = None,
) -> Logged:
    """``train(run_id)`` inside the variant's MLflow run, then everything logged about it.
    ``served`` None: the weights are logged as a file, nothing is registered.

    ``seed``: the training's (default ``cfg.train.seed``); ``narrow``: the config settings
    that name this variant alone (default: the stage's list of variants, its spec's
    ``variants``, holding just this one); ``params``: the run's parameters; ``tags``: the
    stage's own tags; ``inputs``: arguments of ``tracking.log_input_file``;
    ``metrics``: the stage's metrics beside the training's own (``throughput``: the per-epoch
    one averaged over the epochs, ``samples_per_s``); ``counts``: what it
    read (rows, units, vocabulary), logged as params; ``after(training, folder)``: the stage's
    own artifacts, with the served model folder at hand (its return value comes back as
    ``extra``)."""
    fasttext_id = fasttext.run_id if fasttext else "none"
    tags = {
        SPEC[stage].variant_tag: variant,
        **tags,
        "korflow.fasttext_run_id": fasttext_id,
        "korflow.prefect_flow_run_id": flow_run_id(),
        **tracking.inherited_nondeterminism(asdict(fasttext) if fasttext else None),
    }
    narrow = narrow if narrow is not None else {SPEC[stage].variants: [variant]}
    record = tracking.flow_record(stage, cfg, mirror, **narrow, register_model=False)
    params = {**params, "fasttext_run_id": fasttext_id}
    seed = cfg.train.seed if seed is None else seed
    with tracking.stage_run(stage, cfg.profile, params, seed=seed, tags=tags, flow=record) as run:
        run_id = run.info.run_id
        mlflow.set_tag("mlflow.runName", f"{stage}-{variant}-{cfg.profile}")
        for args in inputs:
            tracking.log_input_file(*args)
        tracking.log_counts(counts)
        training = train(run_id)
        logged = training.live_epochs if training.live_run_id == run_id else []
        tracking.log_training(run_id, params, training.model, training.history, logged)
        mlflow.log_metrics(
            {
                **training.metrics,
                "best_epoch": training.best_epoch,
                "epoch_seconds": training.mean("epoch_seconds"),
                **metrics,
                **({throughput: training.mean(throughput)} if throughput else {}),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            curve = plots.learning_curve_png(
                training.history, tmp / "learning_curve.png", f"{stage} - {variant}"
            )
            mlflow.log_artifact(str(curve))
            if served is None:  # not served on its own (a backward language model)
                mlflow.log_artifact(training.weights, "weights")
                model_uri, folder = f"runs:/{run_id}/weights/{Path(training.weights).name}", None
            else:
                folder = tmp / "predictor"
                model_uri = log_model_folder(
                    folder,
                    # with the rules the training chose on validation for its served model
                    {**served.settings, **training.served, "model": training.model},
                    served.vocab,
                    training.weights,
                    served.pyfunc,
                    served.column,
                    served.examples,
                    served.predict,
                    served.files,
                    # named for the UI's model lists; runs:/ID/model still finds it
                    name=f"{stage}-{variant}",
                ).model_uri
            extra = after(training, folder) if after else {}
        registration = {}
        if cfg.register_model and served is not None:
            metric = SPEC[stage].champion_metric
            registration = registry.register_run(
                model_uri, served.name, run_id, metric, not metric.endswith("perplexity")
            )
    return Logged(
        run_id=run_id,
        training=training,
        model_uri=model_uri,
        registration=registration,
        extra=extra,
    )

"""Language-model flow: forward and backward LSTM language models (ELMo's biLM) on the corpus
stage's NSMC training reviews and Wikipedia, per unit (morphemes: what the sentiment model reads;
syllables: the chatbot's units and readable generation).

Each (unit, direction) is one MLflow run tagged ``korflow.stage=lm``, ``korflow.unit``,
``korflow.direction``, with its held-out perplexities per epoch beside the Kneser-Ney n-gram
baseline's on the same ids. A forward model is logged as a pyfunc (prompt in, continuations
out) registered as ``korflow-lm`` (syllables) or ``korflow-lm-morpheme``; the ``champion`` alias
moves only to a model with a lower held-out perplexity. Its continuations of fixed prompts are
logged with the run.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
from prefect import flow, get_run_logger

from flows.corpus import run_corpus
from flows.results import LMResult, LMRun, ending
from flows.runners import on_callers_runner
from flows.trained_variant import ServedModel, log_trained_variant
from korflow.core import cpu, settings
from korflow.core.config.lm import LMStageConfig
from korflow.core.config.resolve import flow_settings
from korflow.core.datasets import Shard
from korflow.core.stages import SPEC
from korflow.serving.lm_predictor import LMPredictor, LMPyfunc
from tasks.lm import ngram_baseline, prepare_streams, train_language_model
from tasks.training import Trained

# Registered per unit: the spec's models, syllables (the chatbot's units) first.
MODEL_NAMES = dict(zip(("syllable", "morpheme"), (n for n, _ in SPEC["lm"].models), strict=True))
# The stage's settings every run of it logs beside its own unit's.
SHARED_PARAMS = {
    "val_fraction",
    "split_seed",
    "wiki_heldout",
    "heldout_units",
    "shuffle_seed",
    "ngram_order",
}
INPUTS = (("train", "training"), ("wiki", "validation"), ("nsmc", "validation"))
PROMPTS = ["이 영화는", "오늘 날씨가", "대한민국의 수도는", "배우들의 연기가"]


@flow(name="korflow-lm", log_prints=True)
def lm_flow(
    profile: str = "quick",
    data_mirror: str | None = None,
    overrides: dict[str, Any] | None = None,
    config: LMStageConfig | None = None,
    upstream: dict[str, Any] | None = None,
) -> LMResult:
    """Train, score and register the language models of ``config`` (resolved settings), else of
    ``profile`` with ``overrides``. ``upstream``: {"corpus": CorpusResult} from a pipeline."""
    started = time.perf_counter()
    cfg = flow_settings("lm", profile, overrides, config)
    cpu.one_thread_here()  # its trainings run in threads of their own (korflow.core.cpu)
    upstream = upstream or {}
    mirror = settings.mirror_arg(data_mirror)
    corpus, manifest = run_corpus(cfg.corpus, mirror, upstream.get("corpus"))
    shards = {
        name: [Shard(**s) for s in manifest["datasets"][name]["tokens"]]
        for name in ("nsmc", "wiki")
    }
    logger = get_run_logger()
    runs, samples = [], {}
    for unit in cfg.units:
        own = getattr(cfg, unit)
        data = prepare_streams(
            shards["nsmc"],
            shards["wiki"],
            unit,
            cfg.val_fraction,
            cfg.split_seed,
            cfg.wiki_heldout,
            cfg.heldout_units,
            own.max_train_units,
            own.min_freq,
            own.max_vocab,
            cfg.shuffle_seed,
        )

        def direction_run(direction: str, unit=unit, data=data) -> tuple[LMRun, list[dict]]:
            baseline = ngram_baseline(data, cfg.ngram_order, direction == "backward")
            return _train_direction(cfg, unit, direction, data, baseline, corpus, mirror)

        if own.side_by_side and len(own.directions) > 1:
            done = cpu.side_by_side(f"lm {unit}", direction_run, own.directions, logger.info)
        else:
            done = [direction_run(direction) for direction in own.directions]
        for run, texts in done:
            runs.append(run)
            if texts:
                samples[unit] = texts
            logger.info("lm %s", run.summary())
    return LMResult(runs=runs, corpus_run_id=corpus.run_id, samples=samples, **ending(started))


def _train_direction(
    cfg: LMStageConfig,
    unit: str,
    direction: str,
    data: dict,
    baseline: dict[str, float],
    corpus,
    mirror: str | None,
) -> tuple[LMRun, list[dict]]:
    own = getattr(cfg, unit)
    vocab = Path(data["dir"]) / "vocab.json"
    served = None
    if direction == "forward":
        served = ServedModel(
            name=MODEL_NAMES[unit],
            settings={
                "clean": asdict(cfg.corpus.nsmc_clean),
                "tokenizer": asdict(cfg.corpus.tokenizer),
                "unit": unit,
                "max_len": 200,  # prompt units read
            },
            vocab=vocab,
            pyfunc=LMPyfunc(),
            column="prompt",
            examples=PROMPTS[:2],
            predict=lambda folder, texts: LMPredictor.load(folder).generate(texts),
        )

    def train(run_id: str) -> dict:
        return train_language_model(data, own.model, own.train, direction, run_id)

    metrics = {**baseline, **{f"{name}_unk_rate": r for name, r in data["unk_rate"].items()}}

    counts = {
        "vocab_size": data["vocab_size"],
        **{f"{name}_units": n for name, n in data["units"].items()},
    }

    def after(training: Trained, folder: Path | None) -> dict:
        mlflow.log_dict(data["documents"], "data/documents.json")
        if folder is None:
            return {"samples": []}
        table = LMPredictor.load(folder).generate(PROMPTS, n=3)
        mlflow.log_table(table, "samples/continuations.json")
        return {"samples": table.to_dict("records")}

    variant = f"{unit}-{direction}"
    logged = log_trained_variant(
        "lm",
        cfg,
        variant,
        mirror,
        train,
        served,
        seed=own.train.seed,
        narrow={"units": [unit], unit: {**own.model_dump(mode="json"), "directions": [direction]}},
        params={
            "unit": unit,
            "direction": direction,
            **cfg.model_dump(include=SHARED_PARAMS),
            **own.model_dump(mode="json", exclude={"model", "directions"}),
        },
        tags={
            "korflow.unit": unit,
            "korflow.direction": direction,
            "korflow.corpus_run_id": corpus.run_id,
        },
        inputs=[
            (
                f"lm_{unit}_{name}",
                str(Path(data["dir"]) / f"{name}.pt"),
                data["sha256"][name],
                role,
                data["units"][name],
            )
            for name, role in INPUTS
        ],
        metrics=metrics,
        throughput="tokens_per_s",
        counts=counts,
        after=after,
    )
    scores = logged.training.metrics
    run = LMRun(
        run_id=logged.run_id,
        unit=unit,
        direction=direction,
        model_uri=logged.model_uri,
        weights=logged.training.weights,
        vocab=str(vocab),
        model=logged.training.model,
        val_perplexity=scores["val_perplexity"],
        val_perplexity_wiki=scores["val_perplexity_wiki"],
        val_perplexity_nsmc=scores["val_perplexity_nsmc"],
        baseline_ngram_perplexity=baseline["baseline_ngram_perplexity"],
        **logged.registration,
    )
    return run, logged.extra["samples"]


def language_models(
    config: LMStageConfig, data_mirror: str | None, upstream: dict[str, Any] | None = None
) -> LMResult:
    """The LM stage's result: a pipeline's (``upstream["lm"]``), else the stage as a subflow on
    ``config`` (served from the cache when nothing changed)."""
    upstream = upstream or {}
    done = upstream.get("lm")
    if done is not None:
        return done
    return on_callers_runner(lm_flow)(
        profile=config.profile, config=config, data_mirror=data_mirror, upstream=upstream
    )

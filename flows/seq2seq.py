"""Seq2seq flow: an LSTM encoder-decoder chatbot on the Korean chatbot corpus, one MLflow run
per attention variant, each with the two baselines' scores beside its own, a samples table,
its answers to twenty fixed everyday questions (``korean.chatbot.EVERYDAY_QUESTIONS``), and a
pyfunc model (question in, answer out) registered as ``korflow-seq2seq``; the
``champion`` alias moves only to a model with a better validation chrF.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.embed import fasttext_models
from korean.chatbot import EVERYDAY_QUESTIONS
from korflow.core import plots, registry, settings, sources, tracking
from korflow.core.profiles import Seq2SeqStageConfig, seq2seq_config
from korflow.serving.chat_predictor import ChatPredictor, ChatPyfunc
from korflow.serving.pyfunc import log_model_folder
from tasks.ingest import fetch_file
from tasks.sentiment import embedding_matrix
from tasks.seq2seq import prepare_pairs, run_baselines, train_chat_model

MODEL_NAME = "korflow-seq2seq"
EXAMPLE_QUESTIONS = ["오늘 너무 피곤해", "헤어진 지 일주일 됐어", "좋아하는 사람이 생겼어", ""]


def _log_run(
    cfg: Seq2SeqStageConfig,
    data: dict,
    source: Any,
    baselines: dict,
    attention: str,
    train: Callable[[str], dict],
    fasttext: dict | None,
    predictor_config: dict,
    mirror: str | None,
) -> dict[str, Any]:
    """The variant's MLflow run, with ``train(run_id)`` inside it: the epochs are logged as they
    end, so a run stopped mid-training keeps what it reached (and ends FAILED)."""
    config = {
        **cfg.model_dump(exclude={"attentions", "corpus", "embed", "fasttext_models", "model"}),
        "fasttext_run_id": fasttext["run_id"] if fasttext else "none",
    }
    tags = {
        "korflow.attention": attention,
        "korflow.unit": cfg.unit,
        "korflow.embedding": cfg.embedding,
        "korflow.fasttext_run_id": fasttext["run_id"] if fasttext else "none",
        "korflow.prefect_flow_run_id": str(flow_run.get_id() or ""),
    }
    tags.update(tracking.inherited_nondeterminism(fasttext))
    record = tracking.flow_record(
        "seq2seq", cfg, mirror, attentions=[attention], register_model=False
    )
    with tracking.stage_run(
        "seq2seq", cfg.profile, config, seed=cfg.train.seed, tags=tags, flow=record
    ) as run:
        mlflow.set_tag("mlflow.runName", f"seq2seq-{attention}-{cfg.profile}")
        tracking.log_input_file(
            "chatbot", source.path, source.sha256, "training", rows=sum(data["sizes"].values())
        )
        result = train(run.info.run_id)
        tracking.log_training(run.info.run_id, config, result)
        history = result["history"]
        duplicates = data["duplicates"]
        mlflow.log_metrics(
            {
                **result["metrics"],
                **{
                    f"baseline_{name}_{k}": v
                    for name, scores in baselines.items()
                    for k, v in scores.items()
                },
                "best_epoch": result["best_epoch"],
                "vocab_size": data["vocab_size"],
                "test_unk_rate": data["test_unk_rate"],
                **{f"{split}_pairs": n for split, n in data["sizes"].items()},
                "repeated_answer_share": duplicates["repeated_answer_share"],
                "test_answers_seen_in_train": duplicates["test_answers_seen_in_train"],
                "epoch_seconds": sum(h["epoch_seconds"] for h in history) / len(history),
            }
        )
        mlflow.log_dict({"skipped": data["skipped"], **duplicates}, "data/answers.json")
        mlflow.log_table(pd.DataFrame(result["samples"]), "samples/test_answers.json")
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            plots.learning_curve_png(history, tmp / "learning_curve.png", f"seq2seq - {attention}")
            mlflow.log_artifact(str(tmp / "learning_curve.png"))
            info = log_model_folder(
                tmp / "predictor",
                {**predictor_config, "model": result["model"]},
                Path(data["dir"]) / "vocab.json",
                result["weights"],
                ChatPyfunc(),
                "question",
                EXAMPLE_QUESTIONS,
                lambda folder, texts: pd.DataFrame(
                    {"answer": ChatPredictor.load(folder).answer(texts)}
                ),
            )
            # The fixed everyday questions, answered by the model exactly as it is served.
            questions = list(EVERYDAY_QUESTIONS)
            everyday = ChatPredictor.load(tmp / "predictor").answer(questions)
            mlflow.log_table(
                pd.DataFrame({"question": questions, "answer": everyday}),
                "samples/everyday_answers.json",
            )
        summary = {
            "run_id": run.info.run_id,
            "attention": attention,
            "model_uri": info.model_uri,
            **{k: result["metrics"][k] for k in ("test_bleu", "test_chrf", "test_perplexity")},
            "everyday": everyday,
        }
        if cfg.register_model:
            summary.update(
                registry.register_run(info.model_uri, MODEL_NAME, run.info.run_id, "val_chrf")
            )
    return summary


@flow(name="korflow-seq2seq", log_prints=True)
def seq2seq_flow(
    profile: str = "quick",
    data_mirror: str | None = None,
    overrides: dict[str, Any] | None = None,
    upstream: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, test and register one chatbot model per attention variant. ``upstream``:
    {"embed": result} from a pipeline, for FastText-initialised embeddings."""
    cfg = seq2seq_config(profile, overrides)
    mirror_arg = settings.mirror_arg(data_mirror)
    source = fetch_file("chatbot", sources.CHATBOT, mirror_arg, cfg.chatbot_file)
    data = prepare_pairs(
        source,
        cfg.clean,
        cfg.tokenizer,
        cfg.unit,
        cfg.max_pairs,
        cfg.strict,
        cfg.min_freq,
        cfg.max_vocab,
        cfg.max_len,
        (cfg.val_fraction, cfg.test_fraction),
        cfg.split_seed,
    )
    baselines = run_baselines(data)
    fasttext, matrix = None, None
    if cfg.embedding != "random":
        fasttext = fasttext_models(
            profile,
            mirror_arg,
            [cfg.embedding],
            cfg.fasttext_models,
            cfg.corpus,
            cfg.embed,
            upstream,
        )[cfg.embedding]
        matrix = embedding_matrix(
            data, fasttext["model_path"], fasttext["model_sha256"], cfg.embedding
        )
    predictor_config = {
        "clean": asdict(cfg.clean),
        "tokenizer": asdict(cfg.tokenizer),
        "unit": cfg.unit,
        "max_len": cfg.max_len,
        "max_answer_len": cfg.max_answer_len,
        "beam": cfg.beam,
        "length_penalty": cfg.length_penalty,
        "no_repeat_ngram": cfg.no_repeat_ngram,
        "min_answer_len": cfg.min_answer_len,
    }
    logger = get_run_logger()
    logger.info("baselines on the test split: %s", baselines)
    summaries = []
    for attention in cfg.attentions:  # one at a time: each training uses every core

        def train(run_id: str, attention=attention) -> dict:
            return train_chat_model(
                data,
                matrix,
                replace(cfg.model, attention=attention),
                cfg.train,
                cfg.beam,
                cfg.length_penalty,
                cfg.max_answer_len,
                cfg.samples,
                cfg.no_repeat_ngram,
                cfg.min_answer_len,
                cfg.monitor,
                run_id,
            )

        summaries.append(
            _log_run(
                cfg,
                data,
                source,
                baselines,
                attention,
                train,
                fasttext,
                predictor_config,
                mirror_arg,
            )
        )
        logger.info("seq2seq %s: %s", attention, summaries[-1])
    return {
        "runs": summaries,
        "everyday": {
            "question": list(EVERYDAY_QUESTIONS),
            **{r["attention"]: r["everyday"] for r in summaries},
        },
        "baselines": baselines,
        "flow_run_id": str(flow_run.get_id() or ""),
        "duplicates": data["duplicates"],
        "tracking_uri": mlflow.get_tracking_uri(),
    }

"""Seq2seq flow: an LSTM encoder-decoder chatbot on the Korean chatbot corpus, one MLflow run
per attention variant, each with the two baselines' scores beside its own, a samples table,
its answers to twenty fixed everyday questions (``korean.chatbot.EVERYDAY_QUESTIONS``), and a
pyfunc model (question in, answer out) registered as ``korflow-seq2seq``; the
``champion`` alias moves only to a model with a better validation chrF.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from prefect import flow, get_run_logger

from flows.embed import fasttext_models
from flows.lm import language_models
from flows.results import Seq2SeqResult, Seq2SeqRun, ending
from flows.trained_variant import ServedModel, log_trained_variant
from korean.chatbot import EVERYDAY_QUESTIONS
from korflow.core import cpu, settings, sources
from korflow.core.config.resolve import flow_settings
from korflow.core.config.seq2seq import Seq2SeqStageConfig
from korflow.core.datasets import sha256_file
from korflow.core.stages import SPEC
from korflow.serving.chat_predictor import ChatPredictor, ChatPyfunc
from tasks.ingest import fetch_file
from tasks.seq2seq import (
    PAIRS,
    ChatTrained,
    lm_start,
    prepare_pairs,
    retrieve_answers,
    run_baselines,
    train_chat_model,
)
from tasks.vectors import embedding_matrix

MODEL_NAME = SPEC["seq2seq"].model
EXAMPLE_QUESTIONS = ["오늘 너무 피곤해", "헤어진 지 일주일 됐어", "좋아하는 사람이 생겼어", ""]


@flow(name="korflow-seq2seq", log_prints=True)
def seq2seq_flow(
    profile: str = "quick",
    data_mirror: str | None = None,
    overrides: dict[str, Any] | None = None,
    config: Seq2SeqStageConfig | None = None,
    upstream: dict[str, Any] | None = None,
) -> Seq2SeqResult:
    """Train, test and register one chatbot model per attention variant, on ``config``
    (resolved settings), else on ``profile`` with ``overrides``. ``upstream``: {"embed":
    EmbedResult, "lm": LMResult} from a pipeline, for a start from FastText vectors or the
    language model."""
    started = time.perf_counter()
    cfg = flow_settings("seq2seq", profile, overrides, config)
    cpu.one_thread_here()  # its trainings run in threads of their own (korflow.core.cpu)
    mirror = settings.mirror_arg(data_mirror)
    source = fetch_file("chatbot", sources.CHATBOT, mirror, cfg.chatbot_file)
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
    # Retrieve and refine reads each question with the answers of its nearest training questions.
    refine = retrieve_answers(data, cfg.retrieved) if "refine" in cfg.attentions else None
    fasttext, matrix, lm, narrow, tags = None, None, None, {}, {}
    if cfg.embedding == "lm":  # the LM stage's forward model of these units
        units = cfg.lm.model_copy(update={"units": [cfg.unit]})
        forward = language_models(units, mirror, upstream).find(cfg.unit, "forward")
        lm = {"weights": forward.weights, "vocab": forward.vocab}
        lm["sha256"] = sha256_file(forward.weights)
        # Re-running the variant retrains the model it started from, registering nothing.
        narrow = {"lm": {**units.model_dump(mode="json"), "register_model": False}}
        tags = {"korflow.lm_run_ids": forward.run_id}
    elif cfg.embedding != "random":
        fasttext = fasttext_models(
            cfg.embed, mirror, [cfg.embedding], cfg.fasttext_models, upstream
        )[cfg.embedding]
        matrix = embedding_matrix(data, fasttext.model_path, fasttext.model_sha256, cfg.embedding)
    rules = {  # decoding, the same in the test scores and in the served model
        "max_answer_len": cfg.max_answer_len,
        "beam": cfg.beam,
        "length_penalty": cfg.length_penalty,
        "no_repeat_ngram": cfg.no_repeat_ngram,
        "min_answer_len": cfg.min_answer_len,
    }
    served = ServedModel(
        name=MODEL_NAME,
        settings={
            "clean": asdict(cfg.clean),
            "tokenizer": asdict(cfg.tokenizer),
            "unit": cfg.unit,
            "max_len": cfg.max_len,
            **rules,
        },
        vocab=Path(data["dir"]) / "vocab.json",
        pyfunc=ChatPyfunc(),
        column="question",
        examples=EXAMPLE_QUESTIONS,
        predict=lambda folder, texts: pd.DataFrame(
            {"answer": ChatPredictor.load(folder).answer(texts)}
        ),
    )
    # The stages' settings it reads are their own runs' params.
    params = cfg.model_dump(exclude={"attentions", "fasttext_models", "model", *cfg.reads()})
    tags = {"korflow.unit": cfg.unit, "korflow.embedding": cfg.embedding, **tags}
    source_rows = sum(data["sizes"].values())
    duplicates = data["duplicates"]

    metrics = {
        **{
            f"baseline_{name}_{k}": v
            for name, scores in baselines.items()
            for k, v in scores.items()
        },
        "test_unk_rate": data["test_unk_rate"],
        "repeated_answer_share": duplicates["repeated_answer_share"],
        "test_answers_seen_in_train": duplicates["test_answers_seen_in_train"],
    }

    counts = {
        "vocab_size": data["vocab_size"],
        **{f"{split}_pairs": n for split, n in data["sizes"].items()},
    }

    def answers(training: ChatTrained, folder: Path) -> dict:
        mlflow.log_dict({"skipped": data["skipped"], **duplicates}, "data/answers.json")
        if training.val_chrf_by_take_bias:  # retrieve and refine: its rule's choice
            mlflow.log_dict(training.val_chrf_by_take_bias, "data/val_chrf_by_take_bias.json")
        mlflow.log_table(pd.DataFrame(training.samples), "samples/test_answers.json")
        # The fixed everyday questions, answered by the model exactly as it is served.
        questions = list(EVERYDAY_QUESTIONS)
        everyday = ChatPredictor.load(folder).answer(questions)
        table = pd.DataFrame({"question": questions, "answer": everyday})
        mlflow.log_table(table, "samples/everyday_answers.json")
        return {"everyday": everyday}

    logger = get_run_logger()
    logger.info("baselines on the test split: %s", baselines)
    runs = []
    for attention in cfg.attentions:  # one at a time: each training uses every core
        if attention == "refine":
            variant_data = refine
            model_cfg = replace(cfg.model, attention="additive", copy=True, choices=cfg.retrieved)
            variant_served = replace(
                served,
                settings={**served.settings, "retrieved": cfg.retrieved},
                files=(Path(refine["dir"]) / PAIRS,),
            )
        else:
            variant_data, model_cfg = data, replace(cfg.model, attention=attention)
            variant_served = served
        start, from_lm = None, {}
        if lm:
            from_lm = lm_start(data, lm, model_cfg)
            matrix, start = from_lm["embedding"], from_lm["start"]

        def train(
            run_id: str,
            variant_data=variant_data,
            model_cfg=model_cfg,
            name=attention,
            matrix=matrix,
            start=start,
        ):
            return train_chat_model(
                variant_data,
                matrix,
                model_cfg,
                cfg.train,
                cfg.beam,
                cfg.length_penalty,
                cfg.max_answer_len,
                cfg.samples,
                cfg.no_repeat_ngram,
                cfg.min_answer_len,
                cfg.monitor,
                run_id,
                name,
                start,
            )

        logged = log_trained_variant(
            "seq2seq",
            cfg,
            attention,
            mirror,
            train,
            variant_served,
            params={**params, **({"lm_start": ",".join(from_lm["parts"])} if lm else {})},
            narrow={"attentions": [attention], **narrow},
            tags=tags,
            inputs=[("chatbot", source.path, source.sha256, "training", source_rows)],
            metrics=metrics,
            counts=counts,
            fasttext=fasttext,
            after=answers,
        )
        scores = logged.training.metrics
        runs.append(
            Seq2SeqRun(
                run_id=logged.run_id,
                attention=attention,
                model_uri=logged.model_uri,
                **{k: scores[k] for k in ("test_bleu", "test_chrf", "test_perplexity")},
                everyday=logged.extra["everyday"],
                **logged.registration,
            )
        )
        logger.info("seq2seq %s: %s", attention, runs[-1].summary())
    return Seq2SeqResult(
        runs=runs,
        everyday={"question": list(EVERYDAY_QUESTIONS), **{r.attention: r.everyday for r in runs}},
        baselines=baselines,
        duplicates=duplicates,
        **ending(started),
    )

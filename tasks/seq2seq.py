"""Seq2seq tasks: chatbot pairs -> units and ids, the two baselines, training and evaluation."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from prefect import get_run_logger

from korean import chatbot, generation
from korean.clean import CleanConfig, Cleaner
from korean.morphemes import TokenizerConfig, get_tokenizer
from korean.retrieval import Retriever
from korflow.core import packages, settings
from korflow.core.datasets import SourceFile, digest_of, write_json_atomic
from korflow.serving.model_folder import PAIRS
from models.data import EOS, SOS, Vocab, join_source, load_pairs, save_atomic, save_pairs
from models.seq2seq import Seq2Seq, Seq2SeqConfig, decoder_from_lm, load_start
from models.seq2seq_train import (
    Seq2SeqTrainConfig,
    evaluate,
    generate,
    preferences,
    take,
    taken,
    train_seq2seq,
)
from models.train import TrainResult

from .caching import data_cache, data_task
from .training import Trained, train_and_test, with_embedding
from .vectors import lm_remap

# A choice head's bias towards taking a retrieved answer whole, from never to always.
TAKE_BIASES = (-100.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 100.0)
SEQ2SEQ_CACHE = data_cache(*packages.SEQ2SEQ_TASKS)
# A training's result does not depend on the MLflow run its epochs are logged to.
TRAIN_CACHE = data_cache(*packages.SEQ2SEQ_TASKS, exclude=("run_id",))


@data_task(SEQ2SEQ_CACHE)
def prepare_pairs(
    source: SourceFile,
    clean: CleanConfig,
    tokenizer: TokenizerConfig,
    unit: str,
    max_pairs: int | None,
    strict: bool,
    min_freq: int,
    max_vocab: int | None,
    max_len: int,
    fractions: tuple[float, float],
    split_seed: int,
) -> dict:
    """Cleaned texts, units, a question-disjoint train/val/test split (``korean.chatbot``), the
    vocabulary (train only) and id tensors, written under a folder named by the inputs' digest."""
    logger = get_run_logger()
    text = Path(source.path).read_text(encoding="utf-8-sig")
    table = chatbot.parse_chatbot(text, source.path, strict)
    rows, skipped = chatbot.clean_pairs(table, Cleaner(clean), max_pairs, source.path)
    if skipped:
        logger.warning("chatbot pairs skipped: %s", dict(skipped))
    parts = chatbot.split_pairs(rows, fractions, split_seed)
    morphs = get_tokenizer(tokenizer).morphs if unit == "morpheme" else None
    units = {name: chatbot.pair_units(part, unit, morphs) for name, part in parts.items()}
    vocab = Vocab.build(
        (seq for q, a in units["train"] for seq in (q, a)), min_freq, max_vocab, (SOS, EOS)
    )
    out = settings.output_path(
        "seq2seq",
        "data",
        digest_of(
            source.sha256,
            asdict(clean),
            asdict(tokenizer),
            unit,
            max_pairs,
            min_freq,
            max_vocab,
            max_len,
            fractions,
            split_seed,
        ),
    )
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.json")
    for name, pairs in units.items():
        save_pairs(
            out / f"{name}.pt",
            [vocab.encode(q, max_len) for q, _ in pairs],
            [vocab.encode(a, max_len) for _, a in pairs],
        )
    write_json_atomic(parts, out / "texts.json")
    duplicates = chatbot.answer_statistics(rows, parts)
    sizes = {name: len(part) for name, part in parts.items()}
    logger.info("chatbot pairs %s, vocabulary %d, answers %s", sizes, len(vocab), duplicates)
    return {
        "dir": str(out),
        "vocab_size": len(vocab),
        "sizes": sizes,
        "skipped": dict(skipped),
        "duplicates": duplicates,
        "test_unk_rate": vocab.unknown_rate(seq for q, a in units["test"] for seq in (q, a)),
    }


def texts_of(answers: list[list[int]], vocab: Vocab) -> list[str]:
    return [chatbot.detokenize(vocab.decode(a)) for a in answers]


def _readable(row: dict) -> dict:
    """A texts.json row for a table: retrieved answers as one column of text."""
    if "retrieved" in row:
        return {**row, "retrieved": " / ".join(row["retrieved"])}
    return row


def _texts(data: dict) -> dict[str, list[dict]]:
    return json.loads((Path(data["dir"]) / "texts.json").read_text(encoding="utf-8"))


@data_task(SEQ2SEQ_CACHE)
def retrieve_answers(data: dict, k: int) -> dict:
    """Retrieve and refine's data: every question followed by the answers of its ``k`` nearest
    training questions (``korean.retrieval``; a training question leaves its own group out, so
    it never reads its own answer), in a folder of its own beside ``prepare_pairs``'s, with the
    training pairs a served model retrieves from (``pairs.json``)."""
    folder, texts = Path(data["dir"]), _texts(data)
    vocab = Vocab.load(folder / "vocab.json")
    train = texts["train"]
    retriever = Retriever([r["question"] for r in train], [r["answer"] for r in train])
    answers = load_pairs(folder / "train.pt").targets
    out = settings.output_path("seq2seq", "data", f"{folder.name}-refine{k}")
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.json")
    for name, rows in texts.items():
        pairs = load_pairs(folder / f"{name}.pt")
        nearest = retriever.nearest([r["question"] for r in rows], k, leave_group_out=True)
        sources = [
            join_source(q, [answers[j] for j in found], vocab.stoi[EOS])
            for q, found in zip(pairs.sources, nearest, strict=True)
        ]
        save_pairs(out / f"{name}.pt", sources, pairs.targets)
        for row, found in zip(rows, nearest, strict=True):
            row["retrieved"] = [train[j]["answer"] for j in found]
    write_json_atomic(texts, out / "texts.json")
    shipped = {key: [r[key] for r in train] for key in ("question", "answer")}  # served
    write_json_atomic(shipped, out / PAIRS)
    return {**data, "dir": str(out), "retrieved": k}


@data_task(SEQ2SEQ_CACHE)
def run_baselines(data: dict) -> dict[str, dict[str, float]]:
    """Test scores of the most frequent training answer and of TF-IDF retrieval."""
    texts = _texts(data)
    train, test = texts["train"], texts["test"]
    references = [r["answer"] for r in test]
    frequent = generation.most_frequent_answer([r["answer"] for r in train])
    retrieval = generation.RetrievalBaseline(
        [r["question"] for r in train], [r["answer"] for r in train]
    )
    return {
        "frequent": generation.scores([frequent] * len(test), references),
        "retrieval": generation.scores(retrieval([r["question"] for r in test]), references),
    }


@data_task(SEQ2SEQ_CACHE)
def lm_start(data: dict, lm: dict, model_cfg: Seq2SeqConfig) -> dict:
    """A start from the LM stage's forward model over the chatbot's units (``lm``: its
    ``weights``, their ``sha256``, ``vocab``): its embedding rows for the vocabulary (<sos>
    reads its <eos>, what a text follows; units it lacks read its <unk>), and where the
    decoder (``model_cfg``) has its width, the decoder's layers (``models.seq2seq``).
    Returns the files and ``parts``, what started from the LM."""
    folder = Path(data["dir"])
    vocab, lm_vocab = Vocab.load(folder / "vocab.json"), Vocab.load(lm["vocab"])
    rows = lm_remap(vocab, lm_vocab)
    rows[vocab.stoi[SOS]] = lm_vocab.stoi[EOS]
    state = torch.load(lm["weights"], weights_only=True)
    matrix = state["embedding.weight"][rows].clone()
    cfg = replace(model_cfg, embed_dim=matrix.shape[1], vocab_size=len(vocab))
    decoder = decoder_from_lm(state, cfg, rows)
    name = f"lm-{lm['sha256'][:16]}"
    embedding = save_atomic(matrix, folder / f"embedding-{name}.pt")
    start = None
    if decoder:  # per decoder shape: the variants of a stage may differ in it
        shape = digest_of(cfg.hidden_size, cfg.num_layers, cfg.attention)[:8]
        start = str(save_atomic(decoder, folder / f"start-{name}-{shape}.pt"))
    parts = ["embedding", *dict.fromkeys(k.split(".")[0] for k in decoder)]
    get_run_logger().info("starting from the language model: %s", ", ".join(parts))
    return {"embedding": str(embedding), "start": start, "parts": parts}


class ChatTrained(Trained):
    val_chrf_by_take_bias: dict[str, float] = {}  # retrieve and refine: its rule's choice
    samples: list[dict[str, Any]]  # test questions, their references and answers


@data_task(TRAIN_CACHE)
def train_chat_model(
    data: dict,
    embedding: str | None,
    model_cfg: Seq2SeqConfig,
    train_cfg: Seq2SeqTrainConfig,
    beam: int,
    length_penalty: float,
    max_answer_len: int,
    samples: int,
    no_repeat_ngram: int = 0,
    min_answer_len: int = 1,
    monitor: str = "val_loss",
    run_id: str | None = None,
    variant: str | None = None,
    start: str | None = None,
) -> ChatTrained:
    """Train (resuming an interrupted run), choosing the epoch by ``monitor``, then score on the
    test split: perplexity under teacher forcing, and BLEU/chrF/distinct-n of greedy and
    beam-search answers, with the share of empty answers and of answers cut at the limit. Each
    epoch's metrics go to the MLflow run ``run_id`` as the epoch ends. ``variant``: the run's
    name (default: the attention); ``start``: weights the model starts from (``lm_start``)."""
    folder, texts = Path(data["dir"]), _texts(data)
    vocab = Vocab.load(folder / "vocab.json")
    sets = {name: load_pairs(folder / f"{name}.pt") for name in ("train", "val", "test")}
    cfg, matrix = with_embedding(
        model_cfg,
        embedding,
        vocab_size=len(vocab),
        sos_id=vocab.stoi[SOS],
        eos_id=vocab.stoi[EOS],
    )
    val_refs = [r["answer"] for r in texts["val"]]
    rule = {"take_bias": 0.0}  # a choice head's rule; chosen on validation after training

    def answer_ids(model: Seq2Seq, split: str, beam_size: int, **kw) -> list[list[int]]:
        return generate(
            model,
            sets[split].sources,
            max_answer_len,
            beam_size,
            length_penalty,
            no_repeat_ngram=no_repeat_ngram,
            min_len=min_answer_len,
            **{**rule, **kw},
        )

    def choose_take_bias(model: Seq2Seq) -> dict[str, float]:
        """When to answer with a retrieved answer whole: the bias with the best validation
        chrF of beam-search answers (the first of equals, from never to always taking)."""
        written = answer_ids(model, "val", beam, take_bias=None)
        found = preferences(model, sets["val"].sources)
        scores = {
            bias: generation.chrf(texts_of(take(written, found, bias), vocab), val_refs)
            for bias in TAKE_BIASES
        }
        rule["take_bias"] = max(TAKE_BIASES, key=scores.__getitem__)
        get_run_logger().info("take bias %s; validation chrF by bias %s", rule["take_bias"], scores)
        return scores

    def answers(model: Seq2Seq, split: str, beam_size: int) -> list[str]:
        return texts_of(answer_ids(model, split, beam_size), vocab)

    def score_answers(model: Seq2Seq) -> dict[str, float]:  # after every epoch
        return {"val_chrf": generation.chrf(answers(model, "val", 1), val_refs)}

    def fit(model: Seq2Seq, checkpoints: Path, on_epoch) -> TrainResult:
        scorer = score_answers if monitor == "val_chrf" else None
        return train_seq2seq(
            model, sets["train"], sets["val"], train_cfg, checkpoints, on_epoch, scorer, monitor
        )

    def test(model: Seq2Seq, result: TrainResult) -> dict:
        model.cpu()
        by_bias = choose_take_bias(model) if cfg.choices else {}
        references = [r["answer"] for r in texts["test"]]
        beamed_ids = answer_ids(model, "test", beam)
        greedy, beamed = answers(model, "test", 1), texts_of(beamed_ids, vocab)
        forced = evaluate(model, sets["test"])  # teacher-forced
        cut = [len(a) >= max_answer_len for a in beamed_ids]
        rule_metrics = {}
        if cfg.choices:  # how often it answered with a retrieved answer whole
            chosen = taken(preferences(model, sets["test"].sources), rule["take_bias"])
            share = sum(chosen) / len(chosen)
            rule_metrics = {"take_bias": rule["take_bias"], "test_taken_share": share}
        metrics = {
            "val_loss": result.history[result.best_epoch - 1]["val_loss"],
            **score_answers(model),
            "test_loss": forced["loss"],
            "test_perplexity": forced["perplexity"],
            "test_token_accuracy": forced["accuracy"],
            **rule_metrics,
            **{
                f"test_{k}": v
                for k, v in generation.answer_scores(beamed, greedy, references, cut).items()
            },
        }
        return {
            "metrics": metrics,
            # What the served model needs beside its weights: the rule chosen on validation.
            "served": {"take_bias": rule["take_bias"]} if cfg.choices else {},
            "val_chrf_by_take_bias": {str(b): v for b, v in by_bias.items()},
            "samples": [
                {**_readable(r), "greedy": g, f"beam{beam}": b}
                for r, g, b in list(zip(texts["test"], greedy, beamed, strict=True))[:samples]
            ],
        }

    def describe(log: dict) -> str:
        return (
            f"train loss {log['train_loss']:.3f} | val loss {log['val_loss']:.3f} "
            f"ppl {log['val_perplexity']:.1f} chrF {log.get('val_chrf', float('nan')):.1f}"
        )

    # Everything the checkpoints depend on: the epoch choice scores answers under the rules.
    key = digest_of(
        data["dir"],
        embedding,
        asdict(cfg),
        asdict(train_cfg),
        monitor,
        no_repeat_ngram,
        min_answer_len,
        max_answer_len,
        *([start] if start else []),  # without one, the key it had before starts existed
    )

    def build() -> Seq2Seq:
        model = Seq2Seq(cfg, matrix)
        if start:
            load_start(model, torch.load(start, weights_only=True))
        return model

    name = variant or cfg.attention
    return train_and_test(
        "seq2seq", name, key, cfg, train_cfg, run_id, build, fit, test, describe, ChatTrained
    )

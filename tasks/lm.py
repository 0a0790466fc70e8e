"""Language-model tasks: token streams from the corpus stage's shards, the n-gram baseline,
and the training of one direction."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import torch
from prefect import get_run_logger

from korean import lm_text
from korflow.core import packages, settings
from korflow.core.cpu import cpu_turn
from korflow.core.datasets import Shard, digest_of, sha256_file, write_json_atomic
from models.data import EOS, SOS, Vocab, save_atomic
from models.lm import LanguageModel, LMConfig, adaptive_cutoffs
from models.lm_train import LMTrainConfig, heldout_columns, heldout_scores, train_lm
from models.ngram import KneserNey
from models.train import TrainResult

from .caching import data_cache, data_task
from .training import Trained, train_and_test

LM_CACHE = data_cache(*packages.LM_TASKS)
# A training's result does not depend on the MLflow run its epochs are logged to.
TRAIN_CACHE = data_cache(*packages.LM_TASKS, exclude=("run_id",))
HELDOUT = ("wiki", "nsmc")  # val_perplexity_wiki, val_perplexity_nsmc


@data_task(LM_CACHE)
def prepare_streams(
    nsmc: list[Shard],
    wiki: list[Shard],
    unit: str,
    val_fraction: float,
    split_seed: int,
    wiki_heldout: float,
    heldout_units: int,
    max_train_units: int | None,
    min_freq: int,
    max_vocab: int | None,
    seed: int,
) -> dict:
    """The training stream and the held-out streams as id tensors, and the vocabulary (from
    the training stream; ids in frequency order, which the adaptive softmax relies on)."""
    logger = get_run_logger()
    column = "tokens" if unit == "morpheme" else "text"  # only what the unit is made from
    # A turn of its own, as the FastText corpus export: busy threads beside a training slowed
    # its epochs several times (BENCHMARKS.md).
    with cpu_turn(f"lm {unit} streams", logger.info):
        nsmc_rows = pa.concat_tables([s.read(["id", "label", "split", column]) for s in nsmc])
        wiki_rows = (row for s in wiki for row in s.read(["doc_id", column]).to_pylist())
        docs = lm_text.documents(
            nsmc_rows.to_pylist(),
            wiki_rows,
            unit,
            val_fraction,
            split_seed,
            wiki_heldout,
            max_train_units,
            seed,
            heldout_units,
        )
        train_units = list(lm_text.stream(docs["train"], EOS))
        vocab = Vocab.build([train_units], min_freq, max_vocab, (SOS, EOS))
    out = settings.output_path(
        "lm",
        "data",
        digest_of(
            [s.sha256 for s in nsmc],
            [s.sha256 for s in wiki],
            unit,
            val_fraction,
            split_seed,
            wiki_heldout,
            heldout_units,
            max_train_units,
            min_freq,
            max_vocab,
            seed,
        ),
    )
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.json")
    streams = {"train": train_units}
    for name in HELDOUT:
        units = lm_text.stream(docs[f"val_{name}"], EOS)
        streams[name] = list(itertools.islice(units, heldout_units))
    sizes, unknown, digests = {}, {}, {}
    for name, units in streams.items():
        ids = torch.tensor([vocab.stoi.get(u, vocab.unk_id) for u in units], dtype=torch.int32)
        save_atomic({"stream": ids}, out / f"{name}.pt")
        sizes[name], unknown[name] = len(ids), float((ids == vocab.unk_id).float().mean())
        digests[name] = sha256_file(out / f"{name}.pt")
    if min(sizes[name] for name in HELDOUT) < 2:
        raise ValueError(
            f"the held-out text is too small ({sizes}): give more Wikipedia articles or raise "
            "wiki_heldout"
        )
    documents = {name: len(d) for name, d in docs.items()}
    write_json_atomic({"documents": documents, "units": sizes}, out / "sizes.json")
    logger.info("lm %s streams: %s units, vocabulary %d", unit, sizes, len(vocab))
    return {
        "dir": str(out),
        "unit": unit,
        "vocab_size": len(vocab),
        "units": sizes,
        "documents": documents,
        "unk_rate": unknown,
        "sha256": digests,  # what the run folder of a training is named by
    }


def load_streams(data: dict, backward: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(training stream, {held-out name: stream}), reversed for a backward model."""
    folder = Path(data["dir"])

    def read(name: str) -> torch.Tensor:
        ids = torch.load(folder / f"{name}.pt", weights_only=True)["stream"]
        return ids.flip(0) if backward else ids

    return read("train"), {name: read(name) for name in HELDOUT}


@data_task(LM_CACHE)
def ngram_baseline(data: dict, order: int, backward: bool) -> dict[str, float]:
    """Interpolated Kneser-Ney on the same training ids, scored on the same held-out ids (in
    the columns the LSTM reads them in): ``baseline_ngram_perplexity`` over both held-out
    streams and per stream."""
    train, heldout = load_streams(data, backward)
    losses = {}
    with cpu_turn(f"lm {data['unit']} n-gram", get_run_logger().info):
        model = KneserNey(train.tolist(), order, data["vocab_size"])
        for name, ids in heldout.items():
            scored = [model.log_loss(column) for column in heldout_columns(ids).tolist()]
            losses[name] = (sum(t for t, _ in scored), sum(n for _, n in scored))
    scores = {
        f"baseline_ngram_perplexity_{name}": math.exp(total / count)
        for name, (total, count) in losses.items()
    }
    total, count = (sum(v[i] for v in losses.values()) for i in (0, 1))
    scores["baseline_ngram_perplexity"] = math.exp(total / count)
    get_run_logger().info("%d-gram Kneser-Ney baseline: %s", order, scores)
    return scores


def model_config(model_cfg: LMConfig, vocab_size: int, backward: bool) -> LMConfig:
    """The model settings once the vocabulary is known (its size, the softmax clusters)."""
    cutoffs = model_cfg.cutoffs or adaptive_cutoffs(vocab_size)
    return LMConfig(
        **{**asdict(model_cfg), "vocab_size": vocab_size, "cutoffs": cutoffs, "backward": backward}
    )


@data_task(TRAIN_CACHE)
def train_language_model(
    data: dict,
    model_cfg: LMConfig,
    train_cfg: LMTrainConfig,
    direction: str,
    run_id: str | None = None,
) -> Trained:
    """Train one direction (resuming an interrupted run from its checkpoint), then score it on
    the held-out streams; each epoch's metrics go to the MLflow run ``run_id`` as it ends."""
    backward = direction == "backward"
    train, heldout = load_streams(data, backward)
    cfg = model_config(model_cfg, data["vocab_size"], backward)

    def fit(model: LanguageModel, checkpoints: Path, on_epoch) -> TrainResult:
        return train_lm(model, train, heldout, train_cfg, checkpoints, on_epoch)

    def test(model: LanguageModel, result: TrainResult) -> dict:
        model.cpu()
        return {"metrics": {**heldout_scores(model, heldout), "train_units": len(train)}}

    def describe(log: dict) -> str:
        return (
            f"train ppl {log['train_perplexity']:.1f} | val ppl {log['val_perplexity']:.1f} "
            f"(wiki {log['val_perplexity_wiki']:.1f}, nsmc {log['val_perplexity_nsmc']:.1f}) | "
            f"{log['tokens_per_s']:,.0f} tokens/s"
        )

    key = digest_of(data["dir"], data["sha256"], asdict(cfg), asdict(train_cfg))
    name = f"{data['unit']}-{direction}"

    def build() -> LanguageModel:
        return LanguageModel(cfg)

    result = train_and_test("lm", name, key, cfg, train_cfg, run_id, build, fit, test, describe)
    Path(result.weights).with_name("model.json").write_text(
        json.dumps(asdict(cfg)), encoding="utf-8"
    )
    return result

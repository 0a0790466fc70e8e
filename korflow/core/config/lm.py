"""The language-model stage's settings and its profiles."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from korflow.core.config.corpus import CorpusConfig
from korflow.core.config.stage_settings import StageSettings
from korflow.core.names import LM_UNITS
from models.lm import LMConfig
from models.lm_train import LMTrainConfig


class LMUnitConfig(BaseModel):
    """One unit's language models: their text budget, vocabulary, model and training."""

    model_config = ConfigDict(extra="forbid")

    directions: list[Literal["forward", "backward"]] = ["forward", "backward"]
    # Train the directions at once, each on its share of the threads (cpu.side_by_side): on
    # 2 cores, 1.81x the tokens a second of one after the other on both (BENCHMARKS.md). Its
    # masks and initial weights are drawn as alone; the thread count sets the sums' order.
    side_by_side: bool = False
    # Training units: every NSMC training review, then Wikipedia articles up to this many
    # (None = all): on a CPU, what the measured tokens/s allows in the stage's time.
    max_train_units: int | None = Field(None, gt=0)
    min_freq: int = Field(2, ge=1)
    max_vocab: int | None = Field(50_000, gt=4)
    model: LMConfig = LMConfig()
    train: LMTrainConfig = LMTrainConfig()


# quick trains tiny one-layer models on the slice's training reviews (more units than the cap,
# which only limits the Wikipedia text after them), the morpheme pair for two epochs (below the
# trigram: 142.8 / 136.7 against 146.4), the syllable model for three (the korflow generate
# model): about half a minute each on 2 cores (BENCHMARKS.md, "The quick pipeline within a
# third").
_TINY = {
    "max_train_units": 200_000,
    "model": {
        "embed_dim": 96,
        "hidden_size": 192,
        "num_layers": 1,
        "dropout": 0.2,
        "input_dropout": 0.1,
        "embed_dropout": 0.0,
    },
    "train": {"epochs": 3, "rounds_per_epoch": 1, "batch_size": 16, "bptt": 32, "lr": 6e-3},
}


_ONE_PASS = {"dropout": 0.0, "input_dropout": 0.0, "embed_dropout": 0.0}


class LMStageConfig(StageSettings):
    corpus: CorpusConfig = CorpusConfig()  # the corpus stage this one reads
    units: list[Literal[LM_UNITS]] = list(LM_UNITS)
    # The sentiment stage's validation reviews are held out: its split settings, which the
    # sentiment stage's lm variant checks.
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    split_seed: int = 42
    wiki_heldout: float = Field(0.01, gt=0, lt=0.5)  # share of Wikipedia articles held out
    heldout_units: int = Field(100_000, gt=1)  # units scored per held-out stream
    shuffle_seed: int = 42  # the order of the training documents
    ngram_order: int = Field(3, ge=1, le=6)  # the Kneser-Ney baseline
    # morphemes: what the sentiment model reads (ELMo's biLM); syllables with the word
    # boundary: the chatbot's units, and the readable text of korflow generate.
    # Full: one pass, scored four times, over what about 30 minutes a model allows on 2 cores
    # (BENCHMARKS.md, "The language models side by side"): the morpheme directions side by
    # side, each on one thread, over 4M units each in batches of 8 x 32 units, which learned
    # more a unit than 16 x 32 or 32 x 32 there; no dropout, as a single pass never shows a
    # unit twice. On a GPU, max_train_units=null reads the whole corpus.
    morpheme: LMUnitConfig = LMUnitConfig(
        side_by_side=True,
        max_train_units=4_000_000,
        model=LMConfig(embed_dim=256, hidden_size=256, **_ONE_PASS),
        train=LMTrainConfig(epochs=1, rounds_per_epoch=4, batch_size=8, bptt=32, lr=3e-3),
    )
    syllable: LMUnitConfig = LMUnitConfig(
        directions=["forward"],
        max_train_units=4_000_000,
        max_vocab=None,
        model=LMConfig(embed_dim=128, hidden_size=384, **_ONE_PASS),
        train=LMTrainConfig(epochs=1, rounds_per_epoch=4, batch_size=16, bptt=32, lr=3e-3),
    )
    register_model: bool = True  # forward models: korflow-lm (syllable), korflow-lm-morpheme

    PROFILES = {
        "quick": {
            "heldout_units": 20_000,
            "wiki_heldout": 0.05,
            "morpheme": {**_TINY, "side_by_side": True, "train": {**_TINY["train"], "epochs": 2}},
            "syllable": _TINY,
        },
        "full": {},
    }

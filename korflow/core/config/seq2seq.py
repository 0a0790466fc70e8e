"""The seq2seq (chatbot) stage's settings and its profiles."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from korean.clean import CleanConfig
from korean.morphemes import TokenizerConfig
from korflow.core.config.corpus import CorpusConfig
from korflow.core.config.embed import EmbedConfig
from korflow.core.config.lm import LMStageConfig
from korflow.core.config.stage_settings import StageSettings
from korflow.core.names import ATTENTIONS
from models.seq2seq import Seq2SeqConfig
from models.seq2seq_train import Seq2SeqTrainConfig


class Seq2SeqStageConfig(StageSettings):
    chatbot_file: str | None = None  # your own Q,A,label CSV instead of the upstream one
    strict: bool = False  # malformed rows fail the run instead of being counted and skipped
    max_pairs: int | None = Field(None, gt=0)  # the first N pairs (file order); None = all
    clean: CleanConfig = CleanConfig(keep_digits=True, keep_latin=True, removed_to_space=True)
    tokenizer: TokenizerConfig = TokenizerConfig()
    # Syllables with a word-boundary unit: a 1.2k-unit vocabulary that every answer spells out.
    unit: Literal["morpheme", "syllable"] = "syllable"
    min_freq: int = Field(1, ge=1)
    max_vocab: int | None = Field(20_000, gt=4)
    max_len: int = Field(40, gt=0)  # units kept per question and per answer
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    test_fraction: float = Field(0.1, gt=0, lt=0.5)
    split_seed: int = 42
    # One model per variant: an attention, or "refine": retrieve and refine (additive attention,
    # a copy path over the question and the answers of its nearest training questions, and a
    # choice head). The default two, the best plain attention and refine, fit the stage's 40
    # minutes on 2 cores (33.6 together, BENCHMARKS.md); all five take about an hour.
    attentions: list[Literal[ATTENTIONS]] = ["general", "refine"]
    retrieved: int = Field(3, ge=1)  # refine: nearest training questions whose answers it reads
    # Embedding initialisation: random, the FastText stage's syllable / jamo vectors, or lm:
    # the LM stage's forward model of this stage's units (its embeddings, and the decoder's
    # layers where model.hidden_size and num_layers fit in it).
    embedding: Literal["random", "syllable", "jamo", "lm"] = "random"
    fasttext_models: dict[Literal["syllable", "jamo"], str] = {}
    corpus: CorpusConfig = CorpusConfig()  # the corpus stage (FastText initialisation)
    embed: EmbedConfig = EmbedConfig()  # the FastText stage
    lm: LMStageConfig = LMStageConfig()  # the LM stage (embedding=lm)
    # Chosen on validation chrF (BENCHMARKS.md, "Seq2seq recipe"): a wide decoder with little
    # dropout, because answers that fit come from remembering the training answers of similar
    # questions (validation chrF rose while validation loss already rose); about 25 s an epoch
    # on 2 cores. A FastText start (embedding=syllable|jamo) sets embed_dim to the vectors' 100.
    model: Seq2SeqConfig = Seq2SeqConfig(embed_dim=128, hidden_size=512, dropout=0.1)
    # 26 epochs: the most the four variants fit in the stage's 40 minutes; the schedule's
    # length over 24 raised their mean validation chrF from 9.04 to 9.40.
    # Per-tensor AdamW: the recipe was chosen and measured with it; fused changes the numbers
    # (one general run: validation chrF 11.0 against 10.8, test 11.75 against 12.72), so the
    # stage keeps it until all four variants are measured again with the fused kernel.
    train: Seq2SeqTrainConfig = Seq2SeqTrainConfig(epochs=26, patience=4, lr=2e-3, fused=False)
    # Model choice: validation chrF of greedy answers after every epoch (answer quality; a
    # second or two on 2 cores), or the teacher-forced validation loss.
    monitor: Literal["val_chrf", "val_loss"] = "val_chrf"
    beam: int = Field(10, ge=1)  # 5 -> 10: +0.3-0.4 validation chrF
    length_penalty: float = Field(1.0, ge=0)
    max_answer_len: int = Field(40, gt=0)  # generation always stops here
    # Decoding rules: no n-gram twice in an answer (0 = off), at least this many units.
    no_repeat_ngram: int = Field(4, ge=0)  # syllables: 4 keeps repeated short words
    min_answer_len: int = Field(1, ge=0)
    samples: int = Field(50, ge=0)  # test questions in the samples table
    register_model: bool = True  # in the MLflow Model Registry, as korflow-seq2seq

    PROFILES = {
        "quick": {
            "attentions": ["refine"],
            "max_pairs": 3_000,
            "model": {"embed_dim": 64, "hidden_size": 128},
            # refine takes the nearest answer (chosen on validation) either way
            "train": {"epochs": 4},
            "samples": 20,
        },
        "full": {},
    }

    @model_validator(mode="after")
    def _lm_start_is_trained(self) -> Seq2SeqStageConfig:
        lm = self.lm
        if self.embedding == "lm" and (
            self.unit not in lm.units or "forward" not in getattr(lm, self.unit).directions
        ):
            raise ValueError(
                f"embedding lm starts from the LM stage's forward {self.unit} model: keep "
                f"lm.units with {self.unit} and lm.{self.unit}.directions with forward (or "
                "choose another embedding)"
            )
        return self

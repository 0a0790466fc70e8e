"""The sentiment stage's settings and its profiles."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from korflow.core.config.corpus import CorpusConfig
from korflow.core.config.embed import EmbedConfig
from korflow.core.config.lm import LMStageConfig
from korflow.core.config.stage_settings import StageSettings
from korflow.core.names import EMBEDDINGS
from models.classifier import ClassifierConfig
from models.train import TrainConfig


class SentimentConfig(StageSettings):
    corpus: CorpusConfig = CorpusConfig()  # the corpus stage this one reads
    embed: EmbedConfig = EmbedConfig()  # the FastText stage (syllable / jamo variants)
    # lm: word embeddings with the LM stage's biLM beside them (ELMo).
    embeddings: list[Literal[EMBEDDINGS]] = list(EMBEDDINGS)
    lm: LMStageConfig = LMStageConfig()  # the LM stage (the lm variant)
    # The lm variant's word embeddings start from these FastText vectors (None: random), its
    # biLM mix beside them, as ELMo joins its mix to pretrained word vectors (GloVe in Peters
    # et al. 2018). Chosen on validation: at 1,000 labels the vectors add what FastText alone
    # adds (BENCHMARKS.md, "ELMo beside the FastText vectors").
    lm_vectors: Literal["syllable", "jamo"] | None = "syllable"
    # Use these gensim FastText model files ({"syllable": path, "jamo": path}) instead of
    # running the FastText stage.
    fasttext_models: dict[Literal["syllable", "jamo"], str] = {}
    # Vocabulary from the NSMC train split (minus the validation part).
    min_freq: int = Field(2, ge=1)
    max_vocab: int | None = Field(50_000, gt=2)
    max_len: int = Field(80, gt=0)  # tokens kept per document
    val_fraction: float = Field(0.1, gt=0, lt=0.5)  # carved from train with split_seed
    split_seed: int = 42
    # Labelled reviews trained on: the first N of the shuffled training rows (the learning
    # curve; smaller sets nest in larger ones); None = all. The vocabulary, the validation and
    # the test rows do not change with it.
    train_rows: int | None = Field(None, gt=0)
    # The lm variant keeps the frozen biLM's states of each training and validation review
    # after its first read (float16, about 2 KB a token): its later epochs skip the biLM.
    bilm_memo: bool = True
    # Chosen on the validation split (BENCHMARKS.md, "Sentiment recipe"): a BiLSTM of 128 units
    # a direction, max pooling, strong dropout (it overfits after about 5 epochs without), a bag
    # of uni- and hashed bigrams beside it that drops half its n-grams in training (+0.5 points
    # with the moving average of the weights), up to 12 epochs with a linear decay, best
    # validation epoch kept; about 27 s an epoch on 2 cores.
    model: ClassifierConfig = ClassifierConfig(
        hidden_size=128,
        dropout=0.5,
        token_dropout=0.25,
        ngram_buckets=2**18,
        ngram_dim=16,
        ngram_dropout=0.5,
    )
    train: TrainConfig = TrainConfig(epochs=12, patience=3, batch_size=256, ema=0.999)
    register_model: bool = True  # in the MLflow Model Registry, as korflow-sentiment
    # quick trains the same recipe on its slice of NSMC (an epoch takes seconds) for at most 8
    # epochs: with the lm variant a fourth training, so that the quick pipeline stays within a
    # third of its time before the LM stage (BENCHMARKS.md, "The quick pipeline within a third").
    PROFILES = {"quick": {"train": {"epochs": 8}}, "full": {}}

    @classmethod
    def upstream_defaults(cls, own: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The language models hold out this stage's validation reviews unless told otherwise."""
        return {"lm": {key: own[key] for key in ("val_fraction", "split_seed")}}

    @model_validator(mode="after")
    def _lm_reads_no_validation_review(self) -> SentimentConfig:
        if "lm" not in self.embeddings:
            return self
        lm = self.lm
        directions = lm.morpheme.directions if "morpheme" in lm.units else []
        if sorted(directions) != ["backward", "forward"]:
            raise ValueError(
                "the lm embedding reads the morpheme biLM: keep lm.units with morpheme and "
                "lm.morpheme.directions forward,backward (or drop lm from embeddings)"
            )
        split = (self.val_fraction, self.split_seed)
        if (lm.val_fraction, lm.split_seed) != split:
            raise ValueError(
                f"lm.val_fraction and lm.split_seed must be the sentiment stage's {split}: the "
                "language models must never read the reviews the classifier is chosen on"
            )
        return self

"""Named parameter sets (``quick``, ``full``), validated by pydantic, resolved once.

A profile is a plain dict of overrides on the defaults of each stage's config model, so that
a new option is added in one place (its model) and a profile names only what it changes.
``stage_config(stage, profile, overrides)`` resolves a stage's settings at the top (the CLI, a
deployment, ``korflow reproduce``): a stage that reads an earlier stage's output holds that
stage's resolved settings too (``SentimentConfig.corpus`` is a ``CorpusConfig``), and the flows
pass these objects down to the subflows they start, so nothing is resolved twice.
"""

from __future__ import annotations

import re
from dataclasses import is_dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from korean.clean import REVIEWS, CleanConfig
from korean.embeddings import DEFAULT_PARAMS, FastTextParams
from korean.morphemes import TokenizerConfig
from korflow.core.names import (
    ATTENTIONS,
    EMBED_UNITS,
    EMBEDDINGS,
    LEVELS,
    LM_UNITS,
    STAGES,
)
from korflow.core.secrets import hide
from models.classifier import ClassifierConfig
from models.lm import LMConfig
from models.lm_train import LMTrainConfig
from models.seq2seq import Seq2SeqConfig
from models.seq2seq_train import Seq2SeqTrainConfig
from models.train import TrainConfig


class CorpusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str = "full"
    # Your own labelled reviews ({"train": path, "test": path}) instead of the upstream NSMC
    # files: NSMC's TSV, or a CSV/TSV whose header names these text and label (0/1) columns.
    nsmc_files: dict[Literal["train", "test"], str] = {}
    nsmc_text_column: str = Field("document", min_length=1)
    nsmc_label_column: str = Field("label", min_length=1)
    # Rows kept per NSMC split (the first N, file order); None = all.
    nsmc_train_rows: int | None = Field(None, gt=0)
    nsmc_test_rows: int | None = Field(None, gt=0)
    nsmc_shard_rows: int = Field(50_000, gt=0)
    # Wikipedia: a dump file, a WikiExtractor folder or a URL; None = mirror's kowiki/ or upstream.
    wiki_source: str | None = None
    wiki_max_docs: int | None = Field(None, gt=0)
    wiki_max_mb: float | None = Field(None, gt=0)
    wiki_shard_docs: int = Field(5_000, gt=0)
    # Malformed input rows fail the run instead of being counted and skipped.
    strict: bool = False
    # Wikipedia: the seeds' Hangul-only regex.
    clean: CleanConfig = CleanConfig()
    # NSMC reviews also keep digits, Latin letters, punctuation and emoticons ("10점", "!!",
    # "^^", "OST"): on validation they are worth 1.3 points of sentiment accuracy over the
    # seeds' regex (BENCHMARKS.md, "Sentiment recipe").
    nsmc_clean: CleanConfig = REVIEWS
    drop_empty: bool = True  # drop rows that clean to nothing (never NSMC test rows)
    split_sentences: bool = True  # Wikipedia articles -> one row per sentence
    tokenizer: TokenizerConfig = TokenizerConfig()
    sample_rows: int = Field(20, ge=0)


CORPUS_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "nsmc_train_rows": 20_000,
        "nsmc_test_rows": 5_000,
        "nsmc_shard_rows": 10_000,
        "wiki_max_docs": 2_000,
        "wiki_shard_docs": 1_000,
    },
    "full": {},
}


class EmbedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str = "full"
    corpus: CorpusConfig = CorpusConfig()  # the corpus stage this one reads
    levels: list[Literal[LEVELS]] = list(LEVELS)
    # morpheme: the corpus's tokens (what the sentiment model reads); eojeol: whitespace words
    # of the cleaned text, as Park et al. trained, which the syntactic analogies need.
    units: list[Literal[EMBED_UNITS]] = ["morpheme"]
    include_wiki: bool = True
    # Your own evaluation files ({"ws353": path, "analogy": path}) instead of Park et al.'s.
    eval_files: dict[Literal["ws353", "analogy"], str] = {}
    syllable: FastTextParams = DEFAULT_PARAMS["syllable"]
    jamo: FastTextParams = DEFAULT_PARAMS["jamo"]
    # Analogy answers are searched among the most frequent words (as gensim does); None = all.
    analogy_restrict_vocab: int | None = Field(300_000, gt=0)
    neighbour_words: list[str] = [
        "영화",
        "배우",
        "재밌",
        "최악",
        "감동",
        "서울",
        "대통령",
        "사랑",
        "음식",
        "컴퓨터",
        "재밌었어요",
        "몰랐다",
        "먹었습니다",
    ]
    projection_words: int = Field(300, ge=10)


# quick trains with one gensim worker: bit-reproducible, so a quick pipeline reproduces
# exactly; full keeps two (twice the speed), and its runs say they are not exact.
EMBED_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "syllable": {"bucket": 200_000, "min_count": 3, "workers": 1},
        "jamo": {"bucket": 200_000, "min_count": 3, "workers": 1},
    },
    "full": {},
}


class LMUnitConfig(BaseModel):
    """One unit's language models: their text budget, vocabulary, model and training."""

    model_config = ConfigDict(extra="forbid")

    directions: list[Literal["forward", "backward"]] = ["forward", "backward"]
    # Training units: every NSMC training review, then Wikipedia articles up to this many
    # (None = all): on a CPU, what the measured tokens/s allows in the stage's time.
    max_train_units: int | None = Field(None, gt=0)
    min_freq: int = Field(2, ge=1)
    max_vocab: int | None = Field(50_000, gt=4)
    model: LMConfig = LMConfig()
    train: LMTrainConfig = LMTrainConfig()


class LMStageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str = "full"
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
    # Full: one pass over 4M units each, scored four times: what about 10 minutes a model allows
    # on 2 cores (BENCHMARKS.md, "Language models"); batches of 32 x 32 units learned more per
    # second than 16 x 32 or 64 x 64. On a GPU, max_train_units=null reads the whole corpus.
    morpheme: LMUnitConfig = LMUnitConfig(
        max_train_units=4_000_000,
        model=LMConfig(embed_dim=256, hidden_size=256),
        train=LMTrainConfig(epochs=1, rounds_per_epoch=4, batch_size=32, bptt=32, lr=3e-3),
    )
    syllable: LMUnitConfig = LMUnitConfig(
        directions=["forward"],
        max_train_units=4_000_000,
        max_vocab=None,
        model=LMConfig(embed_dim=128, hidden_size=384),
        train=LMTrainConfig(epochs=1, rounds_per_epoch=4, batch_size=32, bptt=32, lr=3e-3),
    )
    register_model: bool = True  # forward models: korflow-lm (syllable), korflow-lm-morpheme


# quick trains tiny one-layer models on a slice of the text: about half a minute each, just
# below the n-gram baseline's perplexity (BENCHMARKS.md, "Language models").
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
LM_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"heldout_units": 20_000, "wiki_heldout": 0.05, "morpheme": _TINY, "syllable": _TINY},
    "full": {},
}


class SentimentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str = "full"
    corpus: CorpusConfig = CorpusConfig()  # the corpus stage this one reads
    embed: EmbedConfig = EmbedConfig()  # the FastText stage (syllable / jamo variants)
    # lm: random embeddings with the LM stage's biLM beside them (ELMo).
    embeddings: list[Literal[EMBEDDINGS]] = list(EMBEDDINGS)
    lm: LMStageConfig = LMStageConfig()  # the LM stage (the lm variant)
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


# quick trains the same recipe on its slice of NSMC (an epoch takes seconds).
SENTIMENT_PROFILES: dict[str, dict[str, Any]] = {"quick": {}, "full": {}}


class Seq2SeqStageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str = "full"
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


SEQ2SEQ_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "attentions": ["refine"],
        "max_pairs": 3_000,
        "model": {"embed_dim": 64, "hidden_size": 128},
        "train": {"epochs": 4},  # refine takes the nearest answer (chosen on validation) either way
        "samples": 20,
    },
    "full": {},
}


class PipelineConfig(BaseModel):
    """The whole DAG: which stages run, and each stage's settings on the same profile. The
    corpus settings reach every stage that reads the corpus, the FastText ones the stages that
    start from its vectors, so all stages see one corpus and one set of vectors."""

    model_config = ConfigDict(extra="forbid")

    profile: str = "full"
    stages: list[Literal[STAGES]] = list(STAGES)
    # Where each stage's tasks run: thread, dask (a local cluster) or tcp://HOST:PORT (an
    # existing Dask scheduler); None = KORFLOW_TASK_RUNNER, else threads.
    task_runner: str | None = None
    corpus: CorpusConfig = CorpusConfig()
    embed: EmbedConfig = EmbedConfig()
    lm: LMStageConfig = LMStageConfig()
    sentiment: SentimentConfig = SentimentConfig()
    seq2seq: Seq2SeqStageConfig = Seq2SeqStageConfig()


PIPELINE_PROFILES: dict[str, dict[str, Any]] = {"quick": {}, "full": {}}


class ConfigError(ValueError):
    pass


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_overrides(pairs: list[str], stage: str | None = None) -> dict[str, Any]:
    """``["clean.keep_digits=true", "wiki_max_docs=500"]`` -> nested dict, each value read as
    a YAML scalar (``true``, ``3``, ``1e-3``, ``null``; anything else stays a string). On a
    stage's own command the stage-prefixed key of ``pipeline`` works too
    (``korflow corpus --set corpus.wiki_max_docs=200``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set {pair!r}: write KEY=VALUE, e.g. --set train.epochs=5")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw  # not YAML (an unbalanced bracket in a path): the text itself
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 as text; a learning rate is a number
        parts = key.strip().split(".")
        if stage and parts[0] == stage and len(parts) > 1:
            parts = parts[1:]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _lists_where_expected(schema: Any, data: Any) -> Any:
    """A single value where the schema wants a list becomes that list: ``levels=jamo`` is
    ``["jamo"]``, and ``drop_pos=J,E`` is ``["J", "E"]`` (the comma form the README shows)."""
    if not isinstance(data, dict) or not (
        isinstance(schema, type) and (issubclass(schema, BaseModel) or is_dataclass(schema))
    ):
        return data
    hints = get_type_hints(schema)
    out = dict(data)
    for key, value in data.items():
        kind = _without_none(hints.get(key))
        wants_list = get_origin(kind) in (list, tuple)
        if wants_list and isinstance(value, str):
            out[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif wants_list and value is not None and not isinstance(value, list):
            out[key] = [value]
        else:
            out[key] = _lists_where_expected(kind, value)
    return out


def _without_none(kind: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(kind) in (Union, UnionType):
        rest = [a for a in get_args(kind) if a is not type(None)]
        return rest[0] if len(rest) == 1 else kind
    return kind


def resolve(
    model: type[BaseModel],
    profiles: dict[str, dict[str, Any]],
    profile: str,
    overrides: dict[str, Any] | None = None,
    **resolved: BaseModel,
) -> BaseModel:
    """The profile's settings with overrides on top, validated; bad values get a clear message.
    ``resolved``: fields that hold another stage's settings, already resolved."""
    if profile not in profiles:
        raise ConfigError(f"unknown profile {profile!r}; choose from {sorted(profiles)}")
    # Start from the model's own defaults so that a partial override of a nested setting
    # (jamo.epochs=10) keeps the rest of that setting's defaults (jamo's n-gram range).
    defaults = model().model_dump()
    overrides = _lists_where_expected(model, overrides or {})
    merged = merge(merge({**defaults, "profile": profile}, profiles[profile]), overrides)
    try:
        # URL credentials are kept aside and masked before anything logs these settings.
        return model.model_validate({**hide(merged), **resolved})
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise ConfigError(
            f"invalid {model.__name__} for profile {profile!r}:\n" + "\n".join(lines)
        ) from None


def _same(profile: str, stage: str, given: dict[str, Any], inner: Any, key: str) -> None:
    """An upstream stage's settings given again inside a later stage's (``sentiment.corpus``
    beside ``corpus``) must resolve to the same: both name one upstream run."""
    if inner and STAGE_CONFIGS[stage](profile, inner) != STAGE_CONFIGS[stage](profile, given):
        raise ConfigError(
            f"{key} differs from {stage}: one {stage} stage feeds every later stage, so give "
            f"its settings once, as {stage}.*"
        )


def corpus_config(profile: str, overrides: dict[str, Any] | None = None) -> CorpusConfig:
    return resolve(CorpusConfig, CORPUS_PROFILES, profile, overrides)


def embed_config(profile: str, overrides: dict[str, Any] | None = None) -> EmbedConfig:
    rest = dict(overrides or {})
    corpus = corpus_config(profile, rest.pop("corpus", None))
    return resolve(EmbedConfig, EMBED_PROFILES, profile, rest, corpus=corpus)


def lm_config(profile: str, overrides: dict[str, Any] | None = None) -> LMStageConfig:
    rest = dict(overrides or {})
    corpus = corpus_config(profile, rest.pop("corpus", None))
    return resolve(LMStageConfig, LM_PROFILES, profile, rest, corpus=corpus)


def _downstream(model, profiles, profile: str, overrides: dict[str, Any] | None):
    """A stage that reads the corpus and may start from FastText vectors: its ``embed``
    settings read its ``corpus``, so both name one corpus."""
    rest = dict(overrides or {})
    corpus = rest.pop("corpus", None) or {}
    embed = dict(rest.pop("embed", None) or {})
    if corpus:
        _same(profile, "corpus", corpus, embed.get("corpus"), "embed.corpus")
        embed["corpus"] = corpus
    embed_cfg = embed_config(profile, embed)
    return resolve(model, profiles, profile, rest, corpus=embed_cfg.corpus, embed=embed_cfg)


def _read_lm(profile: str, lm: dict[str, Any], corpus: CorpusConfig) -> LMStageConfig:
    """The settings of the LM stage a stage reads (``lm``), on that stage's ``corpus``, which
    the LM's own ``lm.corpus`` may only repeat (never dropped unread)."""
    if lm.get("corpus") and corpus_config(profile, lm["corpus"]) != corpus:
        raise ConfigError(
            "lm.corpus differs from the stage's corpus: one corpus stage feeds the language "
            "models and this stage, so give its settings once, as corpus.*"
        )
    rest = {k: v for k, v in lm.items() if k != "corpus"}
    return resolve(LMStageConfig, LM_PROFILES, profile, rest, corpus=corpus)


def sentiment_config(profile: str, overrides: dict[str, Any] | None = None) -> SentimentConfig:
    rest = dict(overrides or {})
    lm = dict(rest.pop("lm", None) or {})
    cfg = _downstream(SentimentConfig, SENTIMENT_PROFILES, profile, rest)
    # The language models hold out this stage's validation reviews unless told otherwise.
    lm.setdefault("val_fraction", cfg.val_fraction)
    lm.setdefault("split_seed", cfg.split_seed)
    lm_cfg = _read_lm(profile, lm, cfg.corpus)
    if "lm" in cfg.embeddings:
        morpheme = "morpheme" in lm_cfg.units and lm_cfg.morpheme.directions
        if sorted(morpheme or []) != ["backward", "forward"]:
            raise ConfigError(
                "the lm embedding reads the morpheme biLM: keep lm.units with morpheme and "
                "lm.morpheme.directions forward,backward (or drop lm from embeddings)"
            )
        split = (cfg.val_fraction, cfg.split_seed)
        if (lm_cfg.val_fraction, lm_cfg.split_seed) != split:
            raise ConfigError(
                f"lm.val_fraction and lm.split_seed must be the sentiment stage's {split}: the "
                "language models must never read the reviews the classifier is chosen on"
            )
    return cfg.model_copy(update={"lm": lm_cfg})


def seq2seq_config(profile: str, overrides: dict[str, Any] | None = None) -> Seq2SeqStageConfig:
    rest = dict(overrides or {})
    lm = dict(rest.pop("lm", None) or {})
    cfg = _downstream(Seq2SeqStageConfig, SEQ2SEQ_PROFILES, profile, rest)
    lm_cfg = _read_lm(profile, lm, cfg.corpus)
    if cfg.embedding == "lm" and (
        cfg.unit not in lm_cfg.units or "forward" not in getattr(lm_cfg, cfg.unit).directions
    ):
        raise ConfigError(
            f"embedding lm starts from the LM stage's forward {cfg.unit} model: keep lm.units "
            f"with {cfg.unit} and lm.{cfg.unit}.directions with forward (or choose another "
            "embedding)"
        )
    return cfg.model_copy(update={"lm": lm_cfg})


def pipeline_config(profile: str, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """The pipeline's config with every stage's config resolved up front (a typo in the
    seq2seq settings fails before hours of corpus and FastText work, not after). The corpus
    and FastText settings reach every later stage, whose own copies may only repeat them."""
    rest = dict(overrides or {})
    given = {stage: dict(rest.pop(stage, None) or {}) for stage in STAGES}
    corpus, embed = given["corpus"], given["embed"]
    _same(profile, "corpus", corpus, embed.get("corpus"), "embed.corpus")
    given["embed"] = embed = {**embed, "corpus": corpus}
    _same(profile, "corpus", corpus, given["lm"].get("corpus"), "lm.corpus")
    given["lm"] = lm = {**given["lm"], "corpus": corpus}
    for key in ("val_fraction", "split_seed"):  # the sentiment stage's held-out reviews
        if key in given["sentiment"]:
            lm.setdefault(key, given["sentiment"][key])
    for stage in ("sentiment", "seq2seq"):
        own = given[stage]
        inner = own.get("lm")
        _same(profile, "lm", lm, inner and {"corpus": corpus, **inner}, f"{stage}.lm")
        own["lm"] = lm
        _same(profile, "corpus", corpus, own.get("corpus"), f"{stage}.corpus")
        inner = own.get("embed")
        _same(profile, "embed", embed, inner and {"corpus": corpus, **inner}, f"{stage}.embed")
        own.update(corpus=corpus, embed=embed)
    stages = {}
    for stage in STAGES:
        try:
            stages[stage] = STAGE_CONFIGS[stage](profile, given[stage])
        except ConfigError as exc:
            raise ConfigError(f"pipeline stage {stage}: {exc}") from None
    return resolve(PipelineConfig, PIPELINE_PROFILES, profile, rest, **stages)


STAGE_CONFIGS = {
    "corpus": corpus_config,
    "embed": embed_config,
    "lm": lm_config,
    "sentiment": sentiment_config,
    "seq2seq": seq2seq_config,
    "pipeline": pipeline_config,
}


def stage_config(stage: str, profile: str, overrides: dict[str, Any] | None = None) -> BaseModel:
    """A stage's (or the pipeline's) settings, resolved: what its flow takes as ``config``."""
    return STAGE_CONFIGS[stage](profile, overrides)


def flow_settings(
    stage: str, profile: str, overrides: dict[str, Any] | None, config: BaseModel | None
) -> BaseModel:
    """What a flow runs on: ``config``, the settings resolved where the run started (the CLI,
    a pipeline, a stage starting its upstream stage), else ``profile`` with ``overrides`` (a
    deployment; a flow called from Python)."""
    if config is None:
        return stage_config(stage, profile, overrides)
    if overrides:
        raise ConfigError(f"the {stage} flow takes resolved settings or overrides, not both")
    return config

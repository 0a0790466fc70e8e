"""Named parameter sets (``quick``, ``full``), validated by pydantic, resolved once.

A profile is a plain dict of overrides on the defaults of each stage's config model, so that
a new option is added in one place (its model) and a profile names only what it changes.
``stage_config(stage, profile, overrides)`` resolves a stage's settings at the top (the CLI, a
deployment, ``korflow reproduce``): a stage that reads an earlier stage's output holds that
stage's resolved settings too (``SentimentConfig.corpus`` is a ``CorpusConfig``), and the flows
pass these objects down to the subflows they start, so nothing is resolved twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from korflow.core.config.corpus import CORPUS_PROFILES, CorpusConfig
from korflow.core.config.embed import EMBED_PROFILES, EmbedConfig
from korflow.core.config.lm import LM_PROFILES, LMStageConfig
from korflow.core.config.overrides import ConfigError, lists_where_expected, merge
from korflow.core.config.pipeline import PIPELINE_PROFILES, PipelineConfig
from korflow.core.config.sentiment import SENTIMENT_PROFILES, SentimentConfig
from korflow.core.config.seq2seq import SEQ2SEQ_PROFILES, Seq2SeqStageConfig
from korflow.core.names import STAGES
from korflow.core.secrets import hide
from korflow.core.stages import SPEC, load


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
    overrides = lists_where_expected(model, overrides or {})
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
    if inner and stage_config(stage, profile, inner) != stage_config(stage, profile, given):
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
            stages[stage] = stage_config(stage, profile, given[stage])
        except ConfigError as exc:
            raise ConfigError(f"pipeline stage {stage}: {exc}") from None
    return resolve(PipelineConfig, PIPELINE_PROFILES, profile, rest, **stages)


def stage_config(stage: str, profile: str, overrides: dict[str, Any] | None = None) -> BaseModel:
    """A stage's (or the pipeline's) settings, resolved: what its flow takes as ``config``
    (the function its spec names, in ``korflow.core.stages``)."""
    return load(SPEC[stage].settings)(profile, overrides)


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

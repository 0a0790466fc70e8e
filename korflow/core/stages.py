"""Every stage declared once: its name, its flow and settings, the tags that name its runs'
variants, the metrics users compare, the metric its champion is chosen by and the models it
registers. The tables the rest of korflow reads (the CLI's stage names, the pipeline's flows,
``korflow compare``'s columns and curves, the registry's champion metrics and descriptions, the
runs' descriptions) are derived from ``SPECS``; adding a stage is its own files and one line
here.

Free of imports, like ``names.py``, so that the CLI offers the stages without loading torch.
A stage's flow and settings are named by import path, as prefect.yaml names its entrypoints,
and loaded only where they run (``load``): the layers below the flows read a stage's facts
without importing the flows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Stage:
    name: str  # the command, the flow's korflow-<name> and the runs' tag korflow.stage
    about: str  # a run's description in the MLflow UI; {names} are its korflow.* tags
    flow: str = ""  # "module:attribute" of its Prefect flow
    settings: str = ""  # "module:attribute" of its settings model (with its PROFILES)
    upstream: tuple[str, ...] = ()  # the stages whose results it reads, in a pipeline
    variant_tags: tuple[str, ...] = ()  # the tags that name a run's variant, in compare
    metrics: tuple[str, ...] = ()  # what compare's table shows, the first two also plotted
    plotted: bool = True  # compare plots its metrics over runs
    variant_tag: str | None = None  # a trained variant's own tag (the sentiment embedding, …)
    variants: str | None = None  # the settings list that narrows a run to one variant
    champion_metric: str | None = None  # validation; compare also draws it by epoch
    models: tuple[tuple[str, str], ...] = ()  # (registered name, what the registry says it is)

    @property
    def model(self) -> str:
        """The one (first) model the stage registers."""
        return self.models[0][0]


SPECS = (
    Stage(
        name="corpus",
        about="NSMC and Korean Wikipedia ingested, cleaned and tokenized into morphemes.",
        flow="flows.corpus:corpus_flow",
        settings="korflow.core.config.corpus:CorpusConfig",
        metrics=("duration_s", "nsmc.tokens", "wiki.tokens"),
        plotted=False,
    ),
    Stage(
        name="embed",
        about="FastText vectors, {level} level over {unit} tokens, scored on WS-353 and the "
        "analogies.",
        flow="flows.embed:embed_flow",
        settings="korflow.core.config.embed:EmbedConfig",
        upstream=("corpus",),
        variant_tags=("korflow.level", "korflow.unit"),
        metrics=(
            "ws353_spearman",
            "analogy_semantic_accuracy",
            "analogy_syntactic_accuracy",
            "train_seconds",
        ),
    ),
    Stage(
        name="lm",
        about="An LSTM language model, {direction}, over {unit}s of Wikipedia and NSMC train; "
        "scored by held-out perplexity.",
        flow="flows.lm:lm_flow",
        settings="korflow.core.config.lm:LMStageConfig",
        upstream=("corpus",),
        variant_tags=("korflow.unit", "korflow.direction"),
        metrics=(
            "val_perplexity",
            "val_perplexity_wiki",
            "val_perplexity_nsmc",
            "baseline_ngram_perplexity",
            "train_units",
            "tokens_per_s",
        ),
        variant_tag="korflow.lm",
        champion_metric="val_perplexity",  # lower is better
        models=(
            (
                "korflow-lm",
                "Forward LSTM language model over syllables (Wikipedia + NSMC train): input "
                "column prompt, output a sampled continuation.",
            ),
            (
                "korflow-lm-morpheme",
                "Forward LSTM language model over MeCab morphemes (Wikipedia + NSMC train): "
                "input column prompt, output a sampled continuation.",
            ),
        ),
    ),
    Stage(
        name="sentiment",
        about="The LSTM sentiment classifier on NSMC, {embedding} embeddings; tested on the "
        "NSMC test set.",
        flow="flows.sentiment:sentiment_flow",
        settings="korflow.core.config.sentiment:SentimentConfig",
        upstream=("corpus", "embed", "lm"),
        variant_tags=("korflow.embedding",),
        metrics=("test_accuracy", "test_f1", "val_accuracy", "epoch_seconds"),
        variant_tag="korflow.embedding",
        variants="embeddings",
        champion_metric="val_accuracy",
        models=(
            (
                "korflow-sentiment",
                "LSTM sentiment classifier for Korean movie reviews (NSMC): input column "
                "document, output label (1 positive) and probability of positive.",
            ),
        ),
    ),
    Stage(
        name="seq2seq",
        about="The LSTM seq2seq chatbot, {attention} attention; tested on the question-disjoint "
        "test split.",
        flow="flows.seq2seq:seq2seq_flow",
        settings="korflow.core.config.seq2seq:Seq2SeqStageConfig",
        # Only the one its embedding starts from (flows/pipeline.py); it reads its own data.
        upstream=("embed", "lm"),
        variant_tags=("korflow.attention",),
        metrics=(
            "test_chrf",
            "test_bleu",
            "val_chrf",
            "test_perplexity",
            "test_bleu_greedy",
            "test_chrf_greedy",
            "baseline_retrieval_chrf",
            "epoch_seconds",
        ),
        variant_tag="korflow.attention",
        variants="attentions",
        champion_metric="val_chrf",
        models=(
            (
                "korflow-seq2seq",
                "LSTM seq2seq chatbot on the songys ChatbotData pairs: input column question, "
                "output answer.",
            ),
        ),
    ),
)
# The whole DAG: its runs hold a nested run per stage run; it has no variants and no model.
PIPELINE = Stage(
    name="pipeline",
    about="The whole DAG; a nested run for each stage run.",
    flow="flows.pipeline:pipeline_flow",
    settings="korflow.core.config.pipeline:PipelineConfig",
    metrics=("duration_s",),
    plotted=False,
)

SPEC = {s.name: s for s in (PIPELINE, *SPECS)}
STAGES = tuple(s.name for s in SPECS)  # in the DAG's order
CHAMPION_METRIC = {s.name: s.champion_metric for s in SPECS if s.champion_metric}
MODELS = {name: about for s in SPECS for name, about in s.models}  # registered name -> about


def load(path: str):
    """The object a spec names ("module:attribute"), imported now."""
    import importlib

    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)

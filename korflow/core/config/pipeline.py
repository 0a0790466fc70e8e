"""The pipeline's settings: which stages run, and each stage's."""

from __future__ import annotations

from typing import Literal

from korflow.core.config.corpus import CorpusConfig
from korflow.core.config.embed import EmbedConfig
from korflow.core.config.lm import LMStageConfig
from korflow.core.config.sentiment import SentimentConfig
from korflow.core.config.seq2seq import Seq2SeqStageConfig
from korflow.core.config.stage_settings import StageSettings
from korflow.core.names import STAGES


class PipelineConfig(StageSettings):
    """The whole DAG: which stages run, and each stage's settings on the same profile. The
    corpus settings reach every stage that reads the corpus, the FastText ones the stages that
    start from its vectors, so all stages see one corpus and one set of vectors: each is
    resolved once and held here by name, and every stage that reads it holds that instance."""

    stages: list[Literal[STAGES]] = list(STAGES)
    # Where each stage's tasks run: thread, dask (a local cluster) or tcp://HOST:PORT (an
    # existing Dask scheduler); None = KORFLOW_TASK_RUNNER, else threads.
    task_runner: str | None = None
    corpus: CorpusConfig = CorpusConfig()
    embed: EmbedConfig = EmbedConfig()
    lm: LMStageConfig = LMStageConfig()
    sentiment: SentimentConfig = SentimentConfig()
    seq2seq: Seq2SeqStageConfig = Seq2SeqStageConfig()

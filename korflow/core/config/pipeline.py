"""The pipeline's settings: which stages run, and each stage's."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from korflow.core.config.corpus import CorpusConfig
from korflow.core.config.embed import EmbedConfig
from korflow.core.config.lm import LMStageConfig
from korflow.core.config.sentiment import SentimentConfig
from korflow.core.config.seq2seq import Seq2SeqStageConfig
from korflow.core.names import STAGES


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

"""What each flow returns: typed records of the MLflow runs it made, each with its one-line
summary. The CLI prints ``summary()`` and ``details()`` and writes ``run_ids`` to stdout; a
pipeline hands a stage's result to the stages after it; ``korflow reproduce`` compares the
runs of ``run_ids``."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import mlflow
import pandas as pd
from prefect.runtime import flow_run

from korflow.core.secrets import redact

NAN = math.nan


def flow_run_id() -> str:
    """The Prefect flow run this code runs in ("" outside one)."""
    return str(flow_run.get_id() or "")


def ending(started: float, seconds: float | None = None) -> dict[str, Any]:
    """What every result says of the flow that is ending: its Prefect flow run, where its
    MLflow runs went, and its seconds since ``started`` (``seconds``: as the flow logged them)."""
    return {
        "flow_run_id": flow_run_id(),
        "tracking_uri": redact(mlflow.get_tracking_uri()),
        "seconds": time.perf_counter() - started if seconds is None else seconds,
    }


@dataclass(frozen=True, kw_only=True)
class StageResult(ABC):
    """Common to every flow's result: where its runs went, and how long the flow took."""

    stage: ClassVar[str]
    flow_run_id: str
    tracking_uri: str
    seconds: float

    @property
    @abstractmethod
    def run_ids(self) -> list[str]:
        """The MLflow runs the flow made (what the CLI prints, what reproduce compares)."""

    @abstractmethod
    def summary(self) -> str: ...

    def details(self) -> list[str]:
        """More lines under the summary."""
        return []

    def report_lines(self) -> list[str]:
        """Markdown the pipeline's report adds for this stage, after the stages' tables."""
        return []


@dataclass(frozen=True, kw_only=True)
class OneRun(StageResult):
    """A flow that logs one MLflow run (the corpus, the pipeline)."""

    run_id: str

    @property
    def run_ids(self) -> list[str]:
        return [self.run_id]


@dataclass(frozen=True, kw_only=True)
class Variants(StageResult):
    """A flow that logs a run a variant (a FastText level, an LM, a trained model)."""

    runs: list
    corpus_run_id: str | None = None  # the corpus stage's run it read, when it read one

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]

    def summary(self) -> str:
        corpus = f"; corpus run {self.corpus_run_id}" if self.corpus_run_id else ""
        return f"{self.stage} done in {self.seconds:.0f} s: {len(self.runs)} model(s){corpus}"

    def details(self) -> list[str]:
        """One line a run."""
        return [run.summary() for run in self.runs]


@dataclass(frozen=True, kw_only=True)
class CorpusResult(OneRun):
    stage = "corpus"
    manifest: str  # the manifest JSON: every shard of every dataset, for the later stages
    metrics: dict[str, float]

    def summary(self) -> str:
        return f"corpus done in {self.seconds:.1f} s; MLflow run id: {self.run_id}"

    def details(self) -> list[str]:
        counts = (".ingest.rows", ".clean.rows_out", ".tokens", ".vocab_size")
        lines = [
            f"{key:32s} {value:>12,.0f}"
            for key, value in sorted(self.metrics.items())
            if key.endswith(counts)
        ]
        return [*lines, f"manifest: {self.manifest}"]


@dataclass(frozen=True, kw_only=True)
class EmbedRun:
    """One FastText model: its MLflow run and its file (or a file the user named)."""

    run_id: str
    level: str
    unit: str
    model_path: str
    model_sha256: str
    nondeterministic: str = ""  # why it cannot repeat bit for bit; "" when it can
    ws353_spearman: float = NAN
    analogy_accuracy: float = NAN
    analogy_semantic_accuracy: float = NAN
    analogy_syntactic_accuracy: float = NAN
    words_per_s: float = NAN

    def summary(self) -> str:
        return (
            f"{self.level:8s} {self.unit:8s} WS-353 rho {self.ws353_spearman:.3f}  analogy "
            f"{self.analogy_accuracy:.3f} (sem {self.analogy_semantic_accuracy:.3f}, syn "
            f"{self.analogy_syntactic_accuracy:.3f})  {self.words_per_s:,.0f} words/s  "
            f"MLflow run {self.run_id}"
        )


@dataclass(frozen=True, kw_only=True)
class EmbedResult(Variants):
    stage = "embed"
    runs: list[EmbedRun]
    corpus_run_id: str


@dataclass(frozen=True, kw_only=True)
class TrainedRun:
    """A trained, tested and logged model variant (one MLflow run), and its registration."""

    run_id: str
    model_uri: str
    version: str | None = None  # its version in the Model Registry; None when not registered
    champion: bool = False  # it took the champion alias
    registry_error: str | None = None

    def registered(self) -> str:
        champion = " champion" if self.champion else ""
        return f"MLflow run {self.run_id}  model version {self.version or '-'}{champion}"


@dataclass(frozen=True, kw_only=True)
class SentimentRun(TrainedRun):
    embedding: str
    val_accuracy: float
    test_accuracy: float
    test_loss: float
    test_precision: float
    test_recall: float
    test_f1: float

    def summary(self) -> str:
        return (
            f"{self.embedding:8s} test accuracy {self.test_accuracy:.4f}  F1 {self.test_f1:.4f}"
            f"  val accuracy {self.val_accuracy:.4f}  {self.registered()}"
        )


@dataclass(frozen=True, kw_only=True)
class SentimentResult(Variants):
    stage = "sentiment"
    runs: list[SentimentRun]
    corpus_run_id: str


@dataclass(frozen=True, kw_only=True)
class LMRun(TrainedRun):
    """One direction of one unit's language model: its run, its files (what the sentiment
    stage's biLM reads) and its held-out perplexities beside the n-gram baseline's."""

    unit: str
    direction: str
    weights: str  # the state dict
    vocab: str
    model: dict  # its LMConfig, as a dict
    val_perplexity: float
    val_perplexity_wiki: float
    val_perplexity_nsmc: float
    baseline_ngram_perplexity: float

    def summary(self) -> str:
        return (
            f"{self.unit:8s} {self.direction:8s} perplexity {self.val_perplexity:8.2f} (wiki "
            f"{self.val_perplexity_wiki:.2f}, nsmc {self.val_perplexity_nsmc:.2f}; n-gram "
            f"{self.baseline_ngram_perplexity:.2f})  {self.registered()}"
        )


@dataclass(frozen=True, kw_only=True)
class LMResult(Variants):
    stage = "lm"
    runs: list[LMRun]
    corpus_run_id: str
    samples: dict[str, list[dict]]  # unit -> the forward model's continuations of fixed prompts

    def find(self, unit: str, direction: str) -> LMRun | None:
        return next((r for r in self.runs if (r.unit, r.direction) == (unit, direction)), None)


@dataclass(frozen=True, kw_only=True)
class Seq2SeqRun(TrainedRun):
    attention: str
    test_bleu: float
    test_chrf: float
    test_perplexity: float
    everyday: list[str]  # answers to EVERYDAY_QUESTIONS

    def summary(self) -> str:
        return (
            f"{self.attention:8s} BLEU {self.test_bleu:6.2f}  chrF {self.test_chrf:6.2f}  "
            f"perplexity {self.test_perplexity:7.2f}  {self.registered()}"
        )


@dataclass(frozen=True, kw_only=True)
class Seq2SeqResult(Variants):
    stage = "seq2seq"
    runs: list[Seq2SeqRun]
    baselines: dict[str, dict[str, float]]  # test scores of the frequent-answer and retrieval
    duplicates: dict  # how often answers repeat in the corpus
    everyday: dict[str, list[str]]  # {"question": [...], <attention>: [answers], ...}

    def details(self) -> list[str]:
        baselines = [
            f"baseline {name:9s} BLEU {s['bleu']:6.2f}  chrF {s['chrf']:6.2f}"
            for name, s in self.baselines.items()
        ]
        return baselines + super().details()

    def report_lines(self) -> list[str]:
        table = pd.DataFrame(self.everyday).to_markdown(index=False)
        return ["## seq2seq answers to everyday questions", "", table, ""]


@dataclass(frozen=True, kw_only=True)
class PipelineResult(OneRun):
    stage = "pipeline"
    stages: dict[str, StageResult]  # the stages that finished
    report: str  # the Markdown summary, also in MLflow and as a Prefect artifact

    def summary(self) -> str:
        return f"pipeline done in {self.seconds:.0f} s; MLflow run {self.run_id}"

    def details(self) -> list[str]:
        return [
            self.report,
            f"MLflow pipeline run {self.run_id}; Prefect flow run {self.flow_run_id}",
        ]

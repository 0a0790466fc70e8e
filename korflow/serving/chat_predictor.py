"""Raw Korean question in, answer out: cleaning, units, ids, the seq2seq model and decoding
together, and the MLflow pyfunc that wraps them (DataFrame ``question`` -> ``answer``). A
retrieve-and-refine model retrieves from the training pairs shipped in its own folder, never
from a data mirror, so the CLI, the pyfunc and ``mlflow models serve`` answer alike."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema

from korean.chatbot import detokenize, to_units
from korean.retrieval import Retriever
from korflow.serving.model_folder import PAIRS
from korflow.serving.text_pipeline import TextPipeline
from models.data import join_source
from models.seq2seq import Seq2Seq, Seq2SeqConfig
from models.seq2seq_train import generate

# What a user sees when the model emits nothing (e.g. a question of unknown words only).
NO_ANSWER = "무슨 말인지 잘 모르겠어요."


class ChatPredictor(TextPipeline):
    MAX_CHARS = 1000
    retriever: Retriever | None = None

    @classmethod
    def load(cls, folder: str | Path) -> ChatPredictor:
        predictor = super().load(folder)
        if predictor.config.get("retrieved"):
            pairs = json.loads((Path(folder) / PAIRS).read_text(encoding="utf-8"))
            predictor.retriever = Retriever(pairs["question"], pairs["answer"])
        return predictor

    def build(self, model_config: dict) -> Seq2Seq:
        return Seq2Seq(Seq2SeqConfig(**model_config))

    def units(self, text: str) -> list[str]:
        # The tagger runs for morpheme units only.
        return to_units(text, self.config["unit"], self.tokenizer.morphs)

    def sources(self, questions: list[str]) -> list[list[int]]:
        """The ids the encoder reads: each question, and for a retrieve-and-refine model the
        answers of its nearest training questions after it (as in training)."""
        ids = [self.encode(q) for q in questions]
        if self.retriever is None:
            return ids
        found = self.retriever.answers_of(
            [self.cleaned(q) for q in questions], int(self.config["retrieved"])
        )
        return [
            join_source(
                q,
                [self.vocab.encode(self.units(a), self.max_len) for a in answers],
                self.model.config.eos_id,
            )
            for q, answers in zip(ids, found, strict=True)
        ]

    def answer(self, questions: list[str], beam: int | None = None) -> list[str]:
        ids = generate(
            self.model,
            self.sources(questions),
            int(self.config["max_answer_len"]),
            beam or int(self.config["beam"]),
            float(self.config["length_penalty"]),
            # Models logged before these settings existed: no n-gram blocking, at least one
            # unit (padding, <unk> and <sos> are never emitted, whatever the model).
            no_repeat_ngram=int(self.config.get("no_repeat_ngram", 0)),
            min_len=int(self.config.get("min_answer_len", 1)),
            take_bias=float(self.config.get("take_bias", 0.0)),
        )
        return [detokenize(self.vocab.decode(a)) or NO_ANSWER for a in ids]


class ChatPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc: DataFrame with a ``question`` column -> DataFrame with ``answer``.
    Logged from code by ``korflow.serving.pyfunc.log_pyfunc``."""

    SIGNATURE = ModelSignature(
        inputs=Schema([ColSpec(DataType.string, "question")]),
        outputs=Schema([ColSpec(DataType.string, "answer")]),
    )

    def load_context(self, context) -> None:
        self.predictor = ChatPredictor.load(Path(context.artifacts["model_dir"]))

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        if "question" not in model_input.columns:
            raise ValueError(f"expected a 'question' column, got {list(model_input.columns)}")
        return pd.DataFrame({"answer": self.predictor.answer(model_input["question"].tolist())})

"""Raw Korean question in, answer out: cleaning, units, ids, the seq2seq model and decoding
together, and the MLflow pyfunc that wraps them (DataFrame ``question`` -> ``answer``)."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema

from korean.chatbot import detokenize, to_units
from korflow.serving.text_pipeline import TextPipeline
from models.seq2seq import Seq2Seq, Seq2SeqConfig
from models.seq2seq_train import generate

# What a user sees when the model emits nothing (e.g. a question of unknown words only).
NO_ANSWER = "무슨 말인지 잘 모르겠어요."


class ChatPredictor(TextPipeline):
    MAX_CHARS = 1000

    def build(self, model_config: dict) -> Seq2Seq:
        return Seq2Seq(Seq2SeqConfig(**model_config))

    def units(self, text: str) -> list[str]:
        # The tagger runs for morpheme units only.
        return to_units(text, self.config["unit"], self.tokenizer.morphs)

    def answer(self, questions: list[str], beam: int | None = None) -> list[str]:
        ids = generate(
            self.model,
            [self.encode(q) for q in questions],
            int(self.config["max_answer_len"]),
            beam or int(self.config["beam"]),
            float(self.config["length_penalty"]),
            # Models logged before these settings existed: no n-gram blocking, at least one
            # unit (padding, <unk> and <sos> are never emitted, whatever the model).
            no_repeat_ngram=int(self.config.get("no_repeat_ngram", 0)),
            min_len=int(self.config.get("min_answer_len", 1)),
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

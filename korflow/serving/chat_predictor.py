"""Raw Korean question in, answer out: cleaning, units, ids, the seq2seq model and decoding
together, and the MLflow pyfunc that wraps them (DataFrame ``question`` -> ``answer``)."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import torch
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema

from korean.chatbot import detokenize, to_units
from korean.clean import CleanConfig, Cleaner
from korean.morphemes import TokenizerConfig, get_tokenizer
from korflow.serving import model_folder
from models.data import Vocab
from models.seq2seq import Seq2Seq, Seq2SeqConfig
from models.seq2seq_train import generate

# What a user sees when the model emits nothing (e.g. a question of unknown words only).
NO_ANSWER = "무슨 말인지 잘 모르겠어요."


class ChatPredictor:
    def __init__(self, config: dict, vocab: Vocab, state: dict[str, torch.Tensor]) -> None:
        self.config, self.vocab = config, vocab
        # Built on the meta device and given the trained weights: loading a model draws no
        # random numbers, so it cannot shift a training that runs beside it.
        with torch.device("meta"):
            self.model = Seq2Seq(Seq2SeqConfig(**{**config["model"], "vocab_size": len(vocab)}))
        self.model.load_state_dict(state, assign=True)
        self.model.eval()
        self.clean = Cleaner(CleanConfig(**config["clean"]))
        self.unit = config["unit"]
        tokenizer = get_tokenizer(TokenizerConfig(**config["tokenizer"]))
        self.morphs = tokenizer.morphs if self.unit == "morpheme" else None
        self.max_len = int(config["max_len"])
        self.max_chars = int(config.get("max_chars", 1000))

    @classmethod
    def load(cls, folder: str | Path) -> ChatPredictor:
        return cls(*model_folder.read(folder))

    def encode(self, text: str | None) -> list[int]:
        """Any input (empty, emoji, other scripts, very long) gives a valid id sequence."""
        text = self.clean("" if text is None else str(text)[: self.max_chars])
        return self.vocab.encode(to_units(text, self.unit, self.morphs), self.max_len)

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

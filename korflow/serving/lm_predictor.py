"""A Korean prompt in, continuations out: cleaning, units, the forward language model and
sampling together, and the MLflow pyfunc that wraps them (DataFrame ``prompt`` -> one row per
sample: ``prompt``, ``sample``, ``text``; the sampling settings are the model's params)."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema

from korean.chatbot import detokenize, to_units
from korflow.serving.text_pipeline import TextPipeline
from models.data import EOS, SOS
from models.lm import LanguageModel, LMConfig, sample

# The sampling settings and their defaults: the CLI's, the pyfunc's params, the logged samples'.
SAMPLING = {"n": 1, "temperature": 0.8, "top_p": 0.9, "seed": 0, "max_new": 60}


class LMPredictor(TextPipeline):
    def build(self, model_config: dict) -> LanguageModel:
        return LanguageModel(LMConfig(**model_config))

    def units(self, text: str) -> list[str]:
        if self.config["unit"] == "syllable":
            return to_units(text, "syllable")
        return self.tokenizer(text)  # the corpus stage's morphemes, as the model read them

    def readable(self, units: list[str]) -> str:
        """Units as text: syllables spell their words (``▁`` is a space); morphemes, which
        carry no word boundary in the corpus, are joined by spaces."""
        return detokenize(units) if self.config["unit"] == "syllable" else " ".join(units)

    def generate(self, prompts: list[str], **settings) -> pd.DataFrame:
        """``n`` continuations of each prompt (the prompt's units read after a document start),
        as readable text that begins with the prompt as the model read it."""
        s = {**SAMPLING, **{k: v for k, v in settings.items() if v is not None}}
        rows = []
        eos = self.vocab.stoi[EOS]
        for prompt in prompts:
            text = self.clean("" if prompt is None else str(prompt)[: self.max_chars])
            units = self.units(text)[-self.max_len :]
            ids = [self.vocab.stoi.get(u, self.vocab.unk_id) for u in units]
            drawn = sample(
                self.model,
                ids,
                int(s["n"]),
                int(s["max_new"]),
                eos,
                float(s["temperature"]),
                float(s["top_p"]),
                int(s["seed"]),
                banned=(0, self.vocab.unk_id, self.vocab.stoi[SOS]),  # never text a reader sees
            )
            for i, continuation in enumerate(drawn):
                words = units + [self.vocab.itos[t] for t in continuation]
                rows.append({"prompt": prompt, "sample": i, "text": self.readable(words)})
        return pd.DataFrame(rows, columns=["prompt", "sample", "text"]).astype({"sample": "int64"})


class LMPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc: DataFrame with a ``prompt`` column -> ``prompt``, ``sample``, ``text``;
    params ``n``, ``temperature``, ``top_p``, ``seed``, ``max_new``. Logged from code by
    ``korflow.serving.pyfunc.log_pyfunc``."""

    SIGNATURE = ModelSignature(
        inputs=Schema([ColSpec(DataType.string, "prompt")]),
        outputs=Schema(
            [
                ColSpec(DataType.string, "prompt"),
                ColSpec(DataType.long, "sample"),
                ColSpec(DataType.string, "text"),
            ]
        ),
        params=ParamSchema(
            [
                ParamSpec("n", DataType.long, SAMPLING["n"]),
                ParamSpec("temperature", DataType.double, SAMPLING["temperature"]),
                ParamSpec("top_p", DataType.double, SAMPLING["top_p"]),
                ParamSpec("seed", DataType.long, SAMPLING["seed"]),
                ParamSpec("max_new", DataType.long, SAMPLING["max_new"]),
            ]
        ),
    )

    def load_context(self, context) -> None:
        self.predictor = LMPredictor.load(Path(context.artifacts["model_dir"]))

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        if "prompt" not in model_input.columns:
            raise ValueError(f"expected a 'prompt' column, got {list(model_input.columns)}")
        return self.predictor.generate(model_input["prompt"].tolist(), **(params or {}))

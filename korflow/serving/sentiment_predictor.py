"""Raw Korean text in, sentiment out: cleaning, tokenization, ids and the classifier together,
and the MLflow pyfunc that wraps them (so a registered model answers for raw text).

The model folder holds ``config.json`` (cleaning, tokenizer, classifier, max lengths),
``vocab.json`` and ``weights.pt`` (a state dict, loaded with ``weights_only=True``).
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import torch
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema

from korflow.serving.text_pipeline import TextPipeline
from models.classifier import ClassifierConfig, TextClassifier
from models.data import SequenceDataset
from models.train import predict

LABELS = {0: "negative", 1: "positive"}


class SentimentPredictor(TextPipeline):
    def build(self, model_config: dict) -> TextClassifier:
        return TextClassifier(ClassifierConfig(**model_config))

    def units(self, text: str) -> list[str]:
        return self.tokenizer(text)

    def predict(self, texts: list[str]) -> pd.DataFrame:
        ids = [self.encode(t) for t in texts]
        if not ids:
            return pd.DataFrame(
                {"label": pd.Series(dtype="int64"), "probability": pd.Series(dtype="float64")}
            )
        probs, _, _ = predict(
            self.model, SequenceDataset(ids, [0] * len(ids)), device=torch.device("cpu")
        )
        return pd.DataFrame(
            {
                "label": probs.argmax(-1).numpy().astype("int64"),
                "probability": probs[:, 1].numpy().astype("float64"),
            }
        )


class SentimentPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc: DataFrame with a ``document`` column -> ``label`` (0/1), ``probability``
    (of positive). Logged from code by ``korflow.serving.pyfunc.log_pyfunc``."""

    SIGNATURE = ModelSignature(
        inputs=Schema([ColSpec(DataType.string, "document")]),
        outputs=Schema([ColSpec(DataType.long, "label"), ColSpec(DataType.double, "probability")]),
    )

    def load_context(self, context) -> None:
        self.predictor = SentimentPredictor.load(Path(context.artifacts["model_dir"]))

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        if "document" not in model_input.columns:
            raise ValueError(f"expected a 'document' column, got {list(model_input.columns)}")
        return self.predictor.predict(model_input["document"].tolist())

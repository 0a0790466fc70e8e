"""Log a model folder as an MLflow pyfunc, from code: MLflow runs
``korflow/serving/model_code.py`` to build the PythonModel (nothing is pickled), the signature is
declared by the PythonModel class (``SIGNATURE``), only the project modules prediction imports
travel with the model, and the packages it imports are pinned to the versions it was trained
with."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature

from korean.morphemes import JAVA_BACKENDS
from korflow.core.imports import ROOT, code_files, sys_path_kept
from korflow.core.packages import JVM, SERVED
from korflow.serving import model_folder

# The file MLflow runs to build the model (models from code).
MODEL_CODE = Path(__file__).with_name("model_code.py")
# MLflow hands a model from code its config and takes the model it sets through module
# globals: the pipeline's stages, in threads, log their models one at a time.
_LOGGING = threading.Lock()


def code_paths(files: tuple[Path, ...], root: Path) -> list[str]:
    """Copy ``files`` under ``root`` as their packages (root/korflow/serving/text_pipeline.py,
    ...); return the top-level package folders, MLflow's ``code_paths`` for them."""
    for path in files:
        target = root / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return sorted(str(root / top) for top in {f.relative_to(ROOT).parts[0] for f in files})


def requirements(java: bool) -> list[str]:
    """The served model's pip requirements: the trained versions of what prediction imports,
    as the package index names them (``torch==2.13.0``, not the local build ``2.13.0+cpu``,
    which no index hosts); the JVM packages only for a model that tokenizes with a Java
    backend."""
    return [f"{p}=={metadata.version(p).split('+')[0]}" for p in SERVED if java or p not in JVM]


def log_pyfunc(
    python_model: mlflow.pyfunc.PythonModel,
    folder: Path,
    inputs: pd.DataFrame,
    outputs,
    java: bool = False,
    name: str = "model",
) -> mlflow.models.model.ModelInfo:
    """Log ``type(python_model)`` (a PythonModel with a ``SIGNATURE``, built with no arguments)
    from code as the logged model ``name``, with ``folder`` as its ``model_dir`` artifact and
    ``inputs`` as input example; ``java``: its tokenizer needs the JVM."""
    cls = type(python_model)
    signature: ModelSignature = cls.SIGNATURE
    declared = signature.outputs.input_names()
    if list(outputs.columns) != declared:
        raise ValueError(f"{cls.__name__} answers {list(outputs.columns)}, declares {declared}")
    # Validating the input example loads the model here.
    with _LOGGING, tempfile.TemporaryDirectory() as tmp, sys_path_kept():
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(MODEL_CODE),
            model_config={"python_model": f"{cls.__module__}:{cls.__qualname__}"},
            artifacts={"model_dir": str(folder)},
            code_paths=code_paths(code_files(cls.__module__), Path(tmp)),
            signature=signature,
            input_example=inputs,
            pip_requirements=requirements(java),
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
    files: tuple[str | Path, ...] = (),
    name: str = "model",
) -> mlflow.models.model.ModelInfo:
    """Write a served model's folder (with ``files`` beside its weights), log its vocabulary,
    and log the folder as the pyfunc ``name`` whose input example is ``examples`` (in
    ``column``), checked against ``predict(folder, examples)``."""
    model_folder.write(folder, config, vocab, weights, files)
    mlflow.log_artifact(str(folder / "vocab.json"))
    outputs = predict(folder, examples)
    java = config.get("tokenizer", {}).get("backend", "mecab") in JAVA_BACKENDS
    return log_pyfunc(python_model, folder, pd.DataFrame({column: examples}), outputs, java, name)

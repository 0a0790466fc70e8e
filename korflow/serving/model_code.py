"""The code MLflow runs to build a korflow pyfunc model ("models from code": nothing is pickled).

``korflow.serving.pyfunc.log_pyfunc`` logs this file as the model's ``python_model`` and names
the PythonModel class in the model config
(``python_model: "korflow.serving.sentiment_predictor:SentimentPyfunc"``); MLflow runs it when
the model is logged and each time it is loaded, with the model's ``code`` folder (the predictor
modules only) first on ``sys.path``. Not meant to be imported.
"""

import importlib

import mlflow
from mlflow.models import ModelConfig

_module, _, _name = ModelConfig().get("python_model").partition(":")
mlflow.models.set_model(getattr(importlib.import_module(_module), _name)())

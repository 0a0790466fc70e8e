"""A registered model loads and answers where only it is: no Prefect, no CLI, no korflow.core.

The small real models of conftest's ``served_models`` are loaded in a fresh process in which
the project is not installed (its editable finder and folder are taken off) and the
orchestration, the CLI and the shared core cannot be imported at all: the model must bring every
project module it runs in its own ``code`` folder, and only those of the serving layer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from korflow.core.imports import ROOT
from tests.helpers import SERVED_CHAT, SERVED_SENTIMENT

# Not installed where a model is served, or not the model's to import.
BLOCKED = ("prefect", "typer", "app", "korflow.core", "tasks", "flows")
PROJECT = ("korean", "models", "korflow", "tasks", "flows")
KINDS = {
    "sentiment": (SERVED_SENTIMENT, "document", "korflow/serving/sentiment_predictor.py"),
    "chat": (SERVED_CHAT, "question", "korflow/serving/chat_predictor.py"),
}
TEXTS = ["정말 재밌어요", "시간 아까운 최악의 영화", "", "😀 this movie"]

# Run with ``python -I -c``: installs the blocker before anything else is imported, leaves the
# project only in the model's code folder, then loads the model and predicts.
SCRIPT = """
import importlib.util, sys

BLOCKED, PROJECT = {blocked!r}, {project!r}


class NotInstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path[:] = [NotInstalled] + [
    f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
]
sys.path[:] = [p for p in sys.path if p not in ("", {root!r})]
assert importlib.util.find_spec("korflow") is None, "the project is still importable"
try:
    import prefect  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("prefect is still importable")

import json
import mlflow, pandas as pd

out = mlflow.pyfunc.load_model({uri!r}).predict(pd.DataFrame({{{column!r}: {texts!r}}}))
print(json.dumps({{
    "columns": list(out.columns),
    "rows": out.to_dict(orient="records"),
    "project": {{
        name: getattr(m, "__file__", None)
        for name, m in sys.modules.items() if name.split(".")[0] in PROJECT
    }},
}}, ensure_ascii=False))
"""


def _uri(served_models, kind: str) -> str:
    name, _, _ = KINDS[kind]
    return f"models:/{name}/{served_models[kind][0]}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_model_ships_only_serving_code(served_models, kind, tmp_path):
    uri = _uri(served_models, kind)
    code = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path))) / "code"
    shipped = {p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file()}
    assert KINDS[kind][2] in shipped, shipped
    serving = ("korean/", "models/", "korflow/serving/")
    others = {p for p in shipped if not p.startswith(serving) and p != "korflow/__init__.py"}
    assert not others, others


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_model_loads_and_predicts_without_prefect(served_models, kind, tmp_path):
    _, column, _ = KINDS[kind]
    script = SCRIPT.format(
        blocked=BLOCKED,
        project=PROJECT,
        root=str(ROOT),
        uri=_uri(served_models, kind),
        column=column,
        texts=TEXTS,
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # Every project module that ran came from the model's code folder.
    assert seen["project"], seen
    assert all("/code/" in str(path) for path in seen["project"].values()), seen["project"]
    rows = seen["rows"]
    assert len(rows) == len(TEXTS)
    if kind == "sentiment":
        assert seen["columns"] == ["label", "probability"]
        for row in rows:
            assert row["label"] in (0, 1) and 0.0 <= row["probability"] <= 1.0
            assert row["label"] == int(row["probability"] > 0.5)
    else:
        assert seen["columns"] == ["answer"]
        assert all(isinstance(r["answer"], str) and r["answer"].strip() for r in rows), rows
        # A retrieve-and-refine model: it retrieved from its own pairs (no data mirror here)
        # and answers as the CLI's predictor does.
        from korflow.serving.chat_predictor import ChatPredictor

        folder = Path(mlflow.artifacts.download_artifacts(f"{_uri(served_models, kind)}"))
        predictor = ChatPredictor.load(folder / "artifacts" / "predictor")
        assert predictor.retriever is not None
        assert [r["answer"] for r in rows] == predictor.answer(TEXTS)


# In a process that has imported korflow (``korflow predict``), a model registered before the
# layers were split names its PythonModel by the old module path.
OLD_NAME = """
import mlflow, pandas as pd
from korflow.serving import loading

try:
    mlflow.pyfunc.load_model({folder!r})
except Exception as exc:
    print("without:", type(exc).__name__)
loading.accept_old_model_names()
out = mlflow.pyfunc.load_model({folder!r}).predict(pd.DataFrame({{"document": ["정말 재밌어요"]}}))
print("with:", list(out.columns))
"""


def test_a_model_registered_before_the_split_loads_in_the_cli(served_models, tmp_path):
    version, _ = served_models["sentiment"]
    # A copy: a local store hands out the registered model's own folder, which later tests load.
    folder = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/{SERVED_SENTIMENT}/{version}", dst_path=str(tmp_path)
        )
    )
    mlmodel = folder / "MLmodel"
    today = "korflow.serving.sentiment_predictor:SentimentPyfunc"
    assert today in mlmodel.read_text(encoding="utf-8")
    mlmodel.write_text(
        mlmodel.read_text(encoding="utf-8").replace(today, "korflow.sentiment:SentimentPyfunc"),
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, "-c", OLD_NAME.format(folder=str(folder))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "without: " in out.stdout  # the old name alone finds nothing here
    assert "with: ['label', 'probability']" in out.stdout


def _sentiment_model() -> tuple[dict, object, dict]:
    """A tiny sentiment model's settings, vocabulary and weights, as its folder holds them."""
    from dataclasses import asdict

    from korean.clean import CleanConfig
    from korean.morphemes import TokenizerConfig
    from models.classifier import ClassifierConfig, TextClassifier
    from models.data import Vocab

    vocab = Vocab(["영화", "재밌"])
    cfg = ClassifierConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=4)
    config = {
        "clean": asdict(CleanConfig()),
        "tokenizer": asdict(TokenizerConfig()),
        "max_len": 10,
        "model": asdict(cfg),
    }
    return config, vocab, TextClassifier(cfg).state_dict()


def test_loading_a_model_draws_no_random_numbers_and_keeps_its_weights():
    """A predictor loaded between two draws must not shift the random stream, and answers
    with the trained weights, not the ones its build drew."""
    import torch

    from korflow.serving.sentiment_predictor import SentimentPredictor

    config, vocab, trained = _sentiment_model()
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    predictor = SentimentPredictor(config, vocab, trained)
    assert torch.equal(torch.rand(3), expected)
    for name, value in predictor.model.state_dict().items():
        assert torch.equal(value, trained[name]), name


def test_models_loaded_during_a_training_wait_for_its_end_and_shift_nothing():
    """A pipeline loads served models in one branch (MLflow checks the input example) while
    another branch trains: a build there drew from, and put back, the random state that the
    training's dropout masks come from, and a reproduced seq2seq came out different. A load
    waits until the training ends; the training draws what it draws alone."""
    import threading

    import torch

    from korflow.serving.sentiment_predictor import SentimentPredictor
    from models.classifier import ClassifierConfig, TextClassifier
    from models.train import TrainConfig, train
    from tests.pure.test_models import _toy

    parts, stop, loads, during = _sentiment_model(), threading.Event(), [], []

    def load() -> None:  # as often as it can until told to stop
        while not stop.is_set():
            SentimentPredictor(*parts)
            loads.append(1)

    loader = threading.Thread(target=load)

    def load_beside(log: dict) -> None:
        if log["epoch"] == 1:
            loader.start()
            loader.join(0.5)
            during.append(len(loads))

    def trained(on_epoch) -> dict:
        torch.manual_seed(0)
        model = TextClassifier(ClassifierConfig(30, embed_dim=16, hidden_size=16, dropout=0.5))
        cfg = TrainConfig(epochs=4, batch_size=8, lr=1e-2, schedule="constant")
        train(model, _toy(64, 1), _toy(16, 2), cfg, on_epoch=on_epoch)
        return model.state_dict()

    alone = trained(None)
    try:
        beside = trained(load_beside)
    finally:
        stop.set()
        if loader.ident is not None:  # a training failing before epoch 1 never started it
            loader.join()
    assert during == [0] and loads, "a model was built while the training ran"
    for name, value in alone.items():
        assert torch.equal(value, beside[name]), name

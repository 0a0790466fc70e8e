"""Test isolation: every session gets its own KORFLOW_HOME, MLflow store and Prefect server.

Real components throughout: a temporary Prefect API (prefect_test_harness), MLflow on SQLite,
real MeCab and a real JVM. Tests that need the real data mirror are marked ``data`` and skip,
with the reason, only when KORFLOW_DATA_MIRROR is unset (CI always sets it).
"""

from __future__ import annotations

import bz2
import os
import sys
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, SERVED_CHAT, SERVED_SENTIMENT

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


@pytest.fixture(autouse=True)
def sys_path_as_found():
    """Each test leaves ``sys.path`` as it found it, but for what an import appends (setuptools
    adds its vendored packages when distutils is first imported): the processes started by later
    tests (a Dask cluster's workers) inherit it. A korflow model loaded with MLflow's own call
    puts its code folder, a partial korflow, first on it (``korflow.serving.loading.load_pyfunc``
    does not), and the Dask test after the sentiment flow's tests hung on workers that could not
    import the flows."""
    before = list(sys.path)
    yield
    assert sys.path[: len(before)] == before, (
        f"the test put {[p for p in sys.path if p not in before]} before the paths it found on "
        f"sys.path, or took {[p for p in before if p not in sys.path]} off"
    )


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


# Small real models for the serving tests, registered under their own names (tests.helpers).
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

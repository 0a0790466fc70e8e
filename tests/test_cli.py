"""The ``korflow`` command as users run it: a subprocess with its own ephemeral Prefect API."""

import bz2
import os
import re
import subprocess
import sys

from tests.conftest import FIXTURES


def korflow(*args, home, env=None, timeout=300):
    """``korflow ARGS`` with its own home (MLflow store, Prefect), plus ``env``."""
    full = {**os.environ, "KORFLOW_HOME": str(home), "PREFECT_HOME": str(home / "prefect")}
    full.pop("MLFLOW_TRACKING_URI", None)
    full.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "korflow.app.cli", *args],
        capture_output=True,
        text=True,
        env={**full, **(env or {})},
        timeout=timeout,
    )


def test_corpus_command_prints_the_run_id_and_where_outputs_went(tmp_path):
    dump = tmp_path / "kowiki.xml.bz2"
    dump.write_bytes(bz2.compress((FIXTURES / "kowiki-tiny.xml").read_bytes()))
    out = korflow(
        "corpus",
        "--profile",
        "quick",
        "--wiki-source",
        str(dump),
        "--set",
        f"nsmc_files.train={FIXTURES / 'nsmc-train.txt'}",
        "--set",
        f"nsmc_files.test={FIXTURES / 'nsmc-test.txt'}",
        home=tmp_path / "home",
        env={"KORFLOW_PROGRESS": "1"},  # progress bars on: they go to stderr
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run_id = out.stdout.strip()  # RUN=$(korflow corpus …) gets the run id and nothing else
    assert re.fullmatch(r"[0-9a-f]{32}", run_id)
    assert "Wikipedia ingest" in out.stderr
    assert f"MLflow run id: {run_id}" in out.stderr
    assert str(tmp_path / "home" / "corpus" / "manifest-quick.json") in out.stderr
    assert (tmp_path / "home" / "mlflow.db").is_file()


def test_bad_config_values_get_a_clear_message(tmp_path):
    out = korflow("corpus", "--profile", "quick", "--set", "wiki_max_docs=-5", home=tmp_path)
    assert out.returncode == 1 and "wiki_max_docs" in out.stderr and "greater than 0" in out.stderr
    out = korflow("corpus", "--profile", "huge", home=tmp_path)
    assert out.returncode == 1 and "unknown profile 'huge'" in out.stderr
    out = korflow("corpus", "--tokenizer", "khaiii", home=tmp_path)
    assert out.returncode == 1 and "unknown tokenizer backend" in out.stderr
    assert "Traceback" not in out.stderr


def test_tokenize_command_json(tmp_path):
    out = korflow("tokenize", "--json", "영화가 정말 재밌었어요!!", home=tmp_path)
    assert out.returncode == 0, out.stderr
    # Reviews keep their punctuation (what the sentiment model reads).
    assert '"tokens": ["영화", "가", "정말", "재밌", "었", "어요", "!", "!"]' in out.stdout
    assert '"cleaned": "영화가 정말 재밌었어요!!"' in out.stdout

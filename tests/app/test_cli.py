"""The ``korflow`` command as users run it: a subprocess with its own ephemeral Prefect API."""

import bz2
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from korflow.core.names import ATTENTIONS
from tests.helpers import FIXTURES, korflow


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
    # Where to look: the run's page in the UI that `mlflow ui` serves on the local store.
    assert re.search(
        rf"MLflow UI: http://127\.0\.0\.1:5000/#/experiments/\d+/runs/{run_id}"
        r"\?workflowType=machine_learning ",
        out.stderr,
    )
    assert str(tmp_path / "home" / "corpus" / "manifest-quick.json") in out.stderr
    assert (tmp_path / "home" / "mlflow.db").is_file()


def test_bad_config_values_get_a_clear_message(tmp_path):
    out = korflow("corpus", "--profile", "quick", "--set", "wiki_max_docs=-5", home=tmp_path)
    assert out.returncode == 1 and "wiki_max_docs" in out.stderr and "greater than 0" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_command_follows_click_conventions(tmp_path):
    from importlib.metadata import version

    out = korflow("--version", home=tmp_path)
    assert (out.returncode, out.stdout) == (0, f"korflow {version('korflow')}\n")
    assert "Usage: " in korflow("sentiment", "-h", home=tmp_path).stdout
    # A value outside the choices is a usage error (exit 2) that names the allowed values,
    # before anything starts.
    for args, allowed in (
        (("corpus", "--profile", "huge"), "'quick', 'full'"),
        (("corpus", "--tokenizer", "khaiii"), "'mecab', 'okt'"),
        (("compare", "--format", "pdf"), "'md', 'html'"),
        (("similar", "영화", "--level", "word"), "'syllable', 'jamo'"),
        (("sentiment", "--embedding", "random,bert"), "choose from random, syllable, jamo, lm"),
        (("pipeline", "--stage", "translate"), "choose from corpus, embed, lm"),
    ):
        out = korflow(*args, home=tmp_path)
        assert out.returncode == 2, (args, out.stderr)
        said = " ".join(re.sub("[│╭╮╰╯─]", " ", out.stderr).split())  # rich's box, unwrapped
        assert allowed in said, (args, out.stderr)
    assert not (tmp_path / "mlflow.db").exists()

    # Lists: repeated, comma-separated, or all; one name for one thing (--tokenizer, --backend).
    def shown(*args):
        out = korflow(*args, "--show-config", home=tmp_path)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert shown("sentiment", "--embedding", "random", "--embedding", "lm")["embeddings"] == [
        "random",
        "lm",
    ]
    assert shown("sentiment", "--embedding", "random,jamo")["embeddings"] == ["random", "jamo"]
    assert shown("seq2seq", "--attention", "all")["attentions"] == list(ATTENTIONS)
    stages = shown("pipeline", "--stages", "corpus,lm", "--stage", "embed")["stages"]
    assert stages == ["corpus", "lm", "embed"]
    assert shown("corpus", "--backend", "okt")["tokenizer"]["backend"] == "okt"


def test_option_values_complete_in_the_shell():
    korflow_bin = Path(sys.executable).parent / "korflow"

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        env = {**os.environ, "_KORFLOW_COMPLETE": "complete_bash", "COMP_WORDS": line}
        env["COMP_CWORD"] = str(len(words) - 1)
        out = subprocess.run([korflow_bin], env=env, capture_output=True, text=True, timeout=60)
        return out.stdout.split()

    assert complete("korflow corpus --profile ") == ["quick", "full"]
    assert complete("korflow sentiment --embedding r") == ["random"]
    assert complete("korflow tokenize --tokenizer k") == ["komoran", "kkma"]


def test_tokenize_command_json(tmp_path):
    out = korflow("tokenize", "--json", "영화가 정말 재밌었어요!!", home=tmp_path)
    assert out.returncode == 0, out.stderr
    # Reviews keep their punctuation (what the sentiment model reads).
    assert '"tokens": ["영화", "가", "정말", "재밌", "었", "어요", "!", "!"]' in out.stdout
    assert '"cleaned": "영화가 정말 재밌었어요!!"' in out.stdout

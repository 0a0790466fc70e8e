"""Cache keys derived from the code a task runs: a change in any module it imports, directly or
not, misses the cache; a change elsewhere does not. Files named in settings count by content."""

import shutil
import subprocess
import sys
from pathlib import Path

from korean.morphemes import TokenizerConfig
from korflow.core.imports import PROJECT_PACKAGES
from tasks import caching

ROOT = Path(__file__).resolve().parents[2]  # the project
KEY = "from tasks.caching import code_digest; print(code_digest({module!r}))"


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    for package in PROJECT_PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__py*"))
    return copy


def _key(copy: Path, module: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", KEY.format(module=module)],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(copy), "PATH": ""},
    )
    return out.stdout.strip()


def test_a_change_in_any_imported_module_misses_the_cache(tmp_path):
    copy = _copy(tmp_path)
    before = {m: _key(copy, m) for m in ("tasks.seq2seq", "tasks.sentiment", "tasks.embed")}
    # korean/jvm.py reaches the seq2seq tasks only through korean.morphemes (the hand-kept
    # list missed it); the sentiment and FastText tasks never import it.
    with open(copy / "korean" / "jvm.py", "a", encoding="utf-8") as f:
        f.write("\n# a fix\n")
    after = {m: _key(copy, m) for m in before}
    assert after["tasks.seq2seq"] != before["tasks.seq2seq"]
    assert after["tasks.sentiment"] == before["tasks.sentiment"]
    assert after["tasks.embed"] == before["tasks.embed"]
    # A helper in the task's own module, outside the task's body, counts too.
    with open(copy / "tasks" / "sentiment.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef helper():\n    return 2\n")
    assert _key(copy, "tasks.sentiment") != after["tasks.sentiment"]


def test_the_closure_holds_what_the_hand_kept_lists_missed():
    names = {str(p.relative_to(ROOT)) for p in caching.code_files("tasks.seq2seq")}
    assert {"korean/jvm.py", "korean/stopwords.py", "models/seq2seq.py"} <= names
    names = {str(p.relative_to(ROOT)) for p in caching.code_files("tasks.sentiment")}
    assert {"korean/jamo_units.py", "tasks/sentiment.py", "models/batching.py"} <= names
    assert "flows/pipeline.py" not in names  # only what the task imports


def test_a_stopword_file_is_keyed_by_its_content(tmp_path):
    words = tmp_path / "stopwords.txt"
    words.write_text("의\n가\n", encoding="utf-8")
    config = TokenizerConfig(stopwords=str(words))
    first = caching.named_files(config)
    words.write_text("의\n가\n이\n", encoding="utf-8")  # same path, other words
    assert caching.named_files(config) != first
    assert caching.named_files(TokenizerConfig(stopwords="default")) == []

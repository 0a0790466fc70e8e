"""FastText at syllable and jamo level, and the evaluation code on a hand-made model."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors

from korean.embeddings import (
    EmbeddingError,
    FastTextParams,
    KoreanVectors,
    train_fasttext,
    write_corpus,
)
from korean.evaluation import Analogy, evaluate_analogy, evaluate_similarity
from korean.jamo_units import decompose
from korflow.core.imports import ROOT

SENTENCES = [
    ["영화", "가", "정말", "재밌", "었", "어요"],
    ["배우", "연기", "가", "좋", "았", "다"],
    ["영화", "배우", "가", "연기", "를", "잘", "한다"],
    ["음식", "이", "맛있", "었", "다"],
    ["김치", "는", "한국", "음식", "이", "다"],
    ["ㅋㅋ", "OK", "영화", "123"],
]


def test_jamo_corpus_decomposes_tokens_and_counts_non_hangul():
    out = io.StringIO()
    stats = write_corpus(SENTENCES, "jamo", out)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[0] == "ㅇㅕㅇㅎㅘe" and lines[0].split()[1] == "ㄱㅏe"
    assert lines[-1].split() == ["ㅋㅋ", decompose("영화")]  # OK and 123 have no Hangul
    assert stats.skipped_tokens == {"non_hangul": 2} and stats.sentences == 6


def test_syllable_corpus_keeps_tokens():
    out = io.StringIO()
    stats = write_corpus(SENTENCES, "syllable", out)
    assert out.getvalue().splitlines()[0] == "영화 가 정말 재밌 었 어요"
    assert stats.tokens == sum(map(len, SENTENCES)) and not stats.skipped_tokens


def _train(tmp_path, level, **params):
    corpus = tmp_path / f"{level}.txt"
    with open(corpus, "w", encoding="utf-8") as out:
        write_corpus(SENTENCES * 30, level, out)
    defaults = {"vector_size": 16, "min_count": 1, "epochs": 3, "bucket": 5000, "workers": 1}
    min_n, max_n = (3, 6) if level == "jamo" else (1, 4)
    return train_fasttext(
        corpus, FastTextParams(min_n=min_n, max_n=max_n, **{**defaults, **params})
    )


@pytest.mark.parametrize("level", ["syllable", "jamo"])
def test_train_and_query_in_hangul_including_unseen_forms(tmp_path, level):
    model, stats = _train(tmp_path, level)
    assert stats.vocabulary > 10 and stats.words_per_s > 0
    vectors = KoreanVectors(model.wv, level)
    assert "영화" in vectors and "재밌었어요" not in vectors
    # Training keys are jamo in jamo mode; users still see and type Hangul.
    assert (decompose("영화") in model.wv.key_to_index) == (level == "jamo")
    tokens = {t for s in SENTENCES for t in s}
    assert set(vectors.words) == (tokens - {"OK", "123"} if level == "jamo" else tokens)
    unseen = vectors.vector("재밌었어요")
    assert unseen.shape == (16,) and np.linalg.norm(unseen) > 0
    neighbours = vectors.most_similar("재밌었어요", topn=3)
    assert len(neighbours) == 3 and all(isinstance(w, str) for w, _ in neighbours)


# Trains as _train does, in a process of its own, and saves.
SAVE = """
import pathlib, sys
from korean.embeddings import save_fasttext
from tests.pure.test_embeddings import _train
save_fasttext(_train(pathlib.Path(sys.argv[1]), "syllable")[0], sys.argv[2])
"""


def test_a_model_trained_again_saves_to_the_same_bytes(tmp_path):
    # Its sha256 keys the cache downstream: a model trained again to the same vectors (one
    # worker; a reproduced stage retrains it) must not retrain the classifiers that read it.
    # Two processes, two string hash seeds: gensim's file once listed names in a set's order.
    files = [tmp_path / str(seed) / "fasttext.model" for seed in (1, 2)]
    for seed, file in zip((1, 2), files, strict=True):
        file.parent.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        subprocess.run([sys.executable, "-c", SAVE, tmp_path, file], env=env, cwd=ROOT, check=True)
    assert files[0].read_bytes() == files[1].read_bytes()
    model, _ = _train(tmp_path, "syllable")  # what the saved model gives is what training made
    loaded = KoreanVectors.load(files[0], "syllable")
    for word in ("영화", "재밌었어요"):
        assert np.array_equal(loaded.vector(word), KoreanVectors(model.wv, "syllable").vector(word))


def test_empty_corpus_and_empty_vocabulary_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(EmbeddingError, match="empty"):
        train_fasttext(empty, FastTextParams(workers=1))
    with pytest.raises(EmbeddingError, match="min_count=1000 left no words"):
        _train(tmp_path, "syllable", min_count=1000)


def test_bad_params_are_rejected():
    with pytest.raises(ValueError, match="min_n <= max_n"):
        FastTextParams(min_n=5, max_n=3)


def _hand_made(level="syllable"):
    s = np.sqrt(0.5)
    words = {
        "남자": [1, 0, 0],
        "여자": [0, 1, 0],
        "왕": [s, 0, s],
        "여왕": [0, s, s],
        "사과": [0.2, 0.2, -1.0],
    }
    kv = KeyedVectors(3)
    keys = [decompose(w) if level == "jamo" else w for w in words]
    kv.add_vectors(keys, np.array(list(words.values()), dtype=np.float32))
    return KoreanVectors(kv, level)


@pytest.mark.parametrize("level", ["syllable", "jamo"])
def test_analogy_on_a_hand_made_model(level):
    vectors = _hand_made(level)
    items = [
        Analogy("sem1_gender", "남자", "여자", "왕", "여왕"),
        Analogy("syn1_wrong", "남자", "여자", "왕", "사과"),
        Analogy("syn1_wrong", "남자", "여자", "왕", "없는단어"),
    ]
    m = evaluate_analogy(vectors, items)
    assert m["analogy_semantic_accuracy"] == 1.0 and m["analogy_syntactic_accuracy"] == 0.0
    assert m["analogy_accuracy"] == pytest.approx(1 / 3)
    assert m["analogy_syn1_wrong_answer_in_vocab"] == 1
    s = np.sqrt(0.5)
    query = np.array([0, 1, 0]) - np.array([1, 0, 0]) + np.array([s, 0, s])
    expected = 1 - query @ np.array([0, s, s]) / np.linalg.norm(query)
    assert m["analogy_sem1_gender_distance"] == pytest.approx(expected, abs=1e-6)
    assert m["analogy_items_scored"] == 2  # a plain model has no vector for the unseen answer


def test_similarity_on_a_hand_made_model():
    vectors = _hand_made()
    pairs = [
        ("남자", "여자", 5.0),
        ("왕", "여왕", 8.0),
        ("왕", "사과", 1.0),
        ("왕", "없는단어", 3.0),
    ]
    m = evaluate_similarity(vectors, pairs)
    assert m["ws353_spearman"] == pytest.approx(1.0)  # cosines 0, 0.5, <0 rank like the gold
    assert m["ws353_pairs"] == 4 and m["ws353_pairs_scored"] == 3 and m["ws353_pairs_in_vocab"] == 3

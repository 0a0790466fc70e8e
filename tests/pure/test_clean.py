import re
import unicodedata

import pytest

from korean.clean import REVIEWS as REVIEW_CLEANING
from korean.clean import CleanConfig, Cleaner, clean_text, split_sentences

SEED = re.compile("[^ㄱ-ㅎㅏ-ㅣ가-힣 ]")
REVIEWS = [
    "아 더빙.. 진짜 짜증나네요 목소리",
    "흠...포스터보고 초딩영화줄....오버연기조차 가볍지 않구나",
    "Good!! 배우 연기 10점 만점에 9점 :)",
    "ㅎㅎ 재밌다 ^^ 🎬",
]


@pytest.mark.parametrize("text", REVIEWS)
def test_default_matches_the_seed_regex(text):
    # The seeds' cleaning, then whitespace collapsed (and no runs longer than 2 here).
    expected = " ".join(SEED.sub("", text).split())
    assert clean_text(text) == expected


def test_keep_digits_and_latin():
    text = "Good!! 배우 연기 10점 만점에 9점"
    assert clean_text(text) == "배우 연기 점 만점에 점"
    assert clean_text(text, CleanConfig(keep_digits=True)) == "배우 연기 10점 만점에 9점"
    assert clean_text(text, CleanConfig(keep_digits=True, keep_latin=True, lowercase=True)) == (
        "good 배우 연기 10점 만점에 9점"
    )


def test_normalisation_recovers_decomposed_hangul():
    nfd = unicodedata.normalize("NFD", "한국어 영화")
    assert clean_text(nfd) == "한국어 영화"
    # Without NFC the conjoining jamo fall outside the kept class and are lost.
    assert clean_text(nfd, CleanConfig(normalize="none")) == ""
    # NFKC folds full-width Latin and digits so that the keep options see them.
    assert (
        clean_text(
            "ＡＢＣ１２３ 영화", CleanConfig(normalize="NFKC", keep_digits=True, keep_latin=True)
        )
        == "ABC123 영화"
    )


def test_squeeze_repeats_is_configurable_and_spares_digits():
    assert clean_text("ㅋㅋㅋㅋㅋ 최고") == "ㅋㅋ 최고"
    assert clean_text("ㅋㅋㅋㅋㅋ", CleanConfig(max_repeat=3)) == "ㅋㅋㅋ"
    assert clean_text("ㅋㅋㅋㅋㅋ", CleanConfig(max_repeat=0)) == "ㅋㅋㅋㅋㅋ"
    assert clean_text("1000원", CleanConfig(keep_digits=True)) == "1000원"


def test_whitespace_and_empty_results():
    assert clean_text("  영화\t\n좋아  ") == "영화 좋아"
    assert clean_text("!!! ??? ...") == ""
    assert clean_text(None) == ""
    assert clean_text("흠...포스터", CleanConfig(removed_to_space=True)) == "흠 포스터"
    assert clean_text("흠...포스터") == "흠포스터"


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="normalize"):
        CleanConfig(normalize="NFD")
    with pytest.raises(ValueError, match="max_repeat"):
        Cleaner(CleanConfig(max_repeat=-1))


def test_split_sentences_before_cleaning():
    text = "김치는 발효 음식이다. 고추는 나중에 들어왔다!\n역사\n\n정말 맛있다"
    assert split_sentences(text) == [
        "김치는 발효 음식이다.",
        "고추는 나중에 들어왔다!",
        "역사",
        "정말 맛있다",
    ]


def test_keep_symbols_keeps_the_marks_reviews_carry_sentiment_in():
    from korflow.core.config.corpus import CorpusConfig

    review = CorpusConfig().nsmc_clean  # what the corpus stage does to NSMC reviews
    assert review == REVIEW_CLEANING
    assert clean_text("10점 만점에 1점!!!! ㅡㅡ^^ OST는 굿~~ ♥♥♥ 😀", review) == (
        "10점 만점에 1점!! ㅡㅡ^^ OST는 굿~~ ♥♥"
    )
    assert clean_text("흠...포스터", review) == "흠..포스터"
    assert clean_text("!!! ??? ...", CleanConfig(keep_symbols=True)) == "!! ?? .."
    assert clean_text("a[b]c\\d", CleanConfig(keep_latin=True, keep_symbols=True)) == "a[b]cd"

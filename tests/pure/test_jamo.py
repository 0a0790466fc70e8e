import pytest

from korean.jamo_units import EMPTY_FINAL, compose, decompose

ALL_SYLLABLES = [chr(c) for c in range(0xAC00, 0xD7A4)]


def test_there_are_11172_modern_syllables():
    assert len(ALL_SYLLABLES) == 11172


@pytest.mark.parametrize("marker", [EMPTY_FINAL, None])
def test_round_trip_every_syllable(marker):
    for syllable in ALL_SYLLABLES:
        assert compose(decompose(syllable, marker), marker) == syllable


def test_every_syllable_has_three_units_with_the_marker():
    assert all(len(decompose(s)) == 3 for s in ALL_SYLLABLES)
    # and the whole block round-trips as one string (boundaries are unambiguous)
    text = "".join(ALL_SYLLABLES)
    assert compose(decompose(text)) == text


def test_known_decompositions():
    assert decompose("강아지") == "ㄱㅏㅇㅇㅏeㅈㅣe"
    assert decompose("강아지", empty_final=None) == "ㄱㅏㅇㅇㅏㅈㅣ"
    assert decompose("닭") == "ㄷㅏㄺ"
    assert decompose("값어치", empty_final="⊙") == "ㄱㅏㅄㅇㅓ⊙ㅊㅣ⊙"


@pytest.mark.parametrize(
    "text", ["모르네 모르더라 몰라야 몰랐다", "영화 10점 만점!", "ㅋㅋ 대박", "abc 한글 xyz"]
)
def test_round_trip_mixed_text(text):
    assert compose(decompose(text)) == text


def test_round_trip_words_without_marker():
    for word in ["강아지", "닭고기", "앉아요", "읽어라", "국어", "값어치"]:
        assert compose(decompose(word, None), None) == word

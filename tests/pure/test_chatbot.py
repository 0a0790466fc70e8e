"""Chatbot corpus parsing, units, splits, and the generation metrics against sacrebleu."""

import pytest
import sacrebleu

from korean.chatbot import (
    SPACE,
    answer_duplicates,
    answer_statistics,
    clean_pairs,
    detokenize,
    normalise,
    parse_chatbot,
    split_by_question,
    to_units,
)
from korean.errors import CorpusFormatError
from korean.generation import (
    RetrievalBaseline,
    answer_scores,
    bleu,
    chrf,
    distinct_n,
    most_frequent_answer,
    scores,
)

CSV = """Q,A,label
오늘 날씨 좋다,산책 가요.,0
헤어졌어,많이 힘들겠어요.,1
,빈 질문,0
좋아하는 사람이 생겼어,설레겠어요.,2
"질문, 쉼표",답변,0
이상한 줄,답변,7
짧은 줄,답변
"""


def test_parse_counts_and_skips_bad_rows():
    table = parse_chatbot(CSV)
    assert table.questions == ["오늘 날씨 좋다", "헤어졌어", "좋아하는 사람이 생겼어", "질문, 쉼표"]
    assert table.labels == [0, 1, 2, 0]
    assert table.skipped == {"empty_text": 1, "bad_label": 1, "wrong_field_count": 1}
    with pytest.raises(CorpusFormatError, match="row 4: empty text"):
        parse_chatbot(CSV, strict=True)
    with pytest.raises(CorpusFormatError, match="header"):
        parse_chatbot("질문,답\n가,나,0\n")


def test_syllable_units_round_trip():
    text = "오늘은 날씨가 정말 좋네요"
    units = to_units(text, "syllable")
    assert units[:4] == ["오", "늘", "은", SPACE]
    assert detokenize(units) == text


def test_morpheme_units_mark_word_starts():
    def morphs(text):  # a tagger that splits particles and rewrites one stem
        return {"나는 학교에 갔다": ["나", "는", "학교", "에", "가", "았", "다"]}[text]

    units = to_units("나는 학교에 갔다", "morpheme", morphs)
    assert units == ["나", "는", SPACE, "학교", "에", SPACE, "가", "았", "다"]
    with pytest.raises(ValueError, match="unit"):
        to_units("가", "word")


def test_morpheme_units_with_mecab_round_trip():
    from korean.morphemes import TokenizerConfig, get_tokenizer

    tagger = get_tokenizer(TokenizerConfig())
    for text in ["오늘 날씨가 정말 좋네요", "헤어진 지 일주일 됐어", "12시 땡"]:
        units = to_units(text, "morpheme", tagger.morphs)
        assert detokenize(units) == text
        assert len([u for u in units if u != SPACE]) > len(text.split())


def test_pairs_that_clean_to_nothing_are_counted_before_the_cap():
    table = parse_chatbot(CSV)

    def clean(text):  # one question cleans to nothing
        return "" if text == "헤어졌어" else text

    rows, skipped = clean_pairs(table, clean, max_pairs=2)
    assert [r["question"] for r in rows] == ["오늘 날씨 좋다", "좋아하는 사람이 생겼어"]
    assert rows[1] == {"question": "좋아하는 사람이 생겼어", "answer": "설레겠어요.", "label": 2}
    assert skipped == {**table.skipped, "empty_after_cleaning": 1}
    with pytest.raises(ValueError, match="chat.csv: no question/answer pairs left"):
        clean_pairs(table, lambda text: "", name="chat.csv")


def test_split_keeps_each_question_in_one_split():
    questions = [f"질문 {i % 40}" + ("?" if i % 3 else "") for i in range(200)]
    split = split_by_question(questions, (0.1, 0.1), seed=3)
    assert sorted(split.train + split.val + split.test) == list(range(200))
    seen = [
        {normalise(questions[i]) for i in part} for part in (split.train, split.val, split.test)
    ]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert len(seen[1]) == 4 and len(seen[2]) == 4
    assert split_by_question(questions, (0.1, 0.1), seed=3) == split
    assert split_by_question(questions, (0.1, 0.1), seed=4) != split


def test_answer_duplicates_counts_normalised_repeats():
    report = answer_duplicates(["좋아요.", "좋아요!", "좋 아요", "싫어요", "글쎄요"])
    assert report["distinct_answers"] == 3
    assert report["rows_with_repeated_answer"] == 3
    assert report["top_answers"][0] == ["좋아요.", 3]


def test_answer_statistics_count_test_answers_seen_in_train():
    rows = [{"answer": a} for a in ["좋아요.", "싫어요", "좋아요!", "글쎄요"]]
    parts = {"train": rows[:2], "val": [], "test": rows[2:]}
    stats = answer_statistics(rows, parts)
    assert stats["test_answers_seen_in_train"] == 0.5  # "좋아요!" is "좋아요." once normalised
    assert stats["rows_with_repeated_answer"] == 2 and stats["answers"] == 4


def test_answer_scores_count_empty_and_cut_answers():
    beamed, greedy, refs = ["좋아요", " ", "좋아요 정말"], ["좋아요", "", ""], ["좋아요"] * 3
    result = answer_scores(beamed, greedy, refs, cut=[False, False, True])
    assert result["empty_share"] == 1 / 3 and result["cut_share"] == 1 / 3
    assert result["distinct_answers"] == 1.0 and result["distinct_answers_greedy"] == 2 / 3
    assert result["chrf"] == scores(beamed, refs)["chrf"]


def test_bleu_and_chrf_match_sacrebleu_on_known_strings():
    hyp, ref = ["나는 오늘 학교에 간다 정말"], ["나는 오늘 학교에 간다 진짜"]
    # p1..p4 = 4/5, 3/4, 2/3, 1/2 and equal lengths: BLEU = 0.2 ** 0.25
    assert bleu(hyp, ref) == pytest.approx(100 * 0.2**0.25, abs=1e-3)
    assert bleu(ref, ref) == pytest.approx(100.0)
    assert chrf(ref, ref) == pytest.approx(100.0)
    assert chrf(hyp, ref) == pytest.approx(sacrebleu.corpus_chrf(hyp, [ref]).score)
    assert 0 < chrf(hyp, ref) < 100
    assert bleu(["전혀 다른 문장"], ["나는 오늘 학교에 간다"]) == pytest.approx(0.0)


def test_distinct_n():
    hyps = ["좋아요 좋아요", "좋아요 싫어요"]
    assert distinct_n(hyps, 1) == pytest.approx(2 / 4)
    assert distinct_n(hyps, 2) == pytest.approx(2 / 2)
    assert distinct_n([""], 2) == 0.0
    assert scores(["a b", "a b", "c"], ["x", "y", "z"])["distinct_answers"] == pytest.approx(2 / 3)


def test_baselines():
    assert most_frequent_answer(["가", "나", "나"]) == "나"
    retrieval = RetrievalBaseline(["오늘 날씨 어때", "헤어졌어 힘들어"], ["맑아요", "힘내세요"])
    assert retrieval(["날씨 어때요", "너무 힘들어"]) == ["맑아요", "힘내세요"]


PAIRS = [  # question, answer: two groups of the same normalised question, a repeated answer
    ("오늘 날씨 어때", "맑아요"),
    ("오늘 날씨 어때?", "해가 떴어요"),
    ("오늘날씨 어때", "맑아요"),
    ("날씨 좋다", "산책 가요"),
    ("헤어졌어 힘들어", "힘내세요"),
    ("헤어져서 힘들어", "시간이 약이에요"),
    ("배고파", "밥 먹어요"),
]


def test_retrieval_leaves_the_question_s_own_group_out():
    from korean.retrieval import Retriever

    questions, answers = zip(*PAIRS, strict=True)
    retriever = Retriever(questions, answers)
    for i, row in enumerate(retriever.nearest(questions, k=3, leave_group_out=True)):
        assert i not in row  # never its own pair
        assert all(normalise(questions[j]) != normalise(questions[i]) for j in row)
    # Without the rule a training question finds its own group first.
    assert retriever.nearest(["오늘 날씨 어때"], k=1) == [[0]]
    assert retriever.nearest(["오늘 날씨 어때"], k=1, leave_group_out=True) == [[3]]


def test_retrieval_reads_each_answer_once_best_first():
    from korean.retrieval import Retriever

    questions, answers = zip(*PAIRS, strict=True)
    found = Retriever(questions, answers).answers_of(["오늘 날씨 어때요"], k=3)[0]
    assert found[:2] == ["맑아요", "해가 떴어요"]  # the group's answers, "맑아요" once
    assert len(set(found)) == 3
    with pytest.raises(ValueError, match="k must be at least 1"):
        Retriever(questions, answers).nearest(["배고파"], k=0)


def test_everyday_questions_are_not_in_the_corpus(mirror):
    from korean.chatbot import EVERYDAY_QUESTIONS, normalise, parse_chatbot

    table = parse_chatbot((mirror / "chatbot" / "ChatbotData.csv").read_text(encoding="utf-8"))
    seen = {normalise(q) for q in table.questions}
    assert len(set(EVERYDAY_QUESTIONS)) == 20
    assert not [q for q in EVERYDAY_QUESTIONS if normalise(q) in seen]

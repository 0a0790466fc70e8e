"""The Korean chatbot corpus (songys/Chatbot_data: ``Q,A,label``) as question/answer units.

Sentences become units a seq2seq model can emit and a reader can read back: syllables, or
morphemes, with a word-boundary unit ``▁`` wherever the text had a space, so generated units
detokenize to text with its spacing (BLEU and chrF are computed on that text). The split groups
pairs by their normalised question, so no question text is in two splits.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import CorpusFormatError

SPACE = "▁"
LABELS = {0: "daily", 1: "break-up", 2: "love"}
_NOT_WORD = re.compile(r"[^0-9A-Za-z가-힣ㄱ-ㅎㅏ-ㅣ]+")


@dataclass
class ChatbotTable:
    questions: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.questions)


def parse_chatbot(text: str, name: str = "<chatbot>", strict: bool = False) -> ChatbotTable:
    """Rows with an empty question or answer, a bad label or the wrong number of fields are
    counted per reason and skipped (or raise with ``strict=True``)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lstrip("\ufeff") for h in header[:2]] != ["Q", "A"]:
        raise CorpusFormatError(f"{name}: expected a 'Q,A,label' header, got {header!r}")
    table = ChatbotTable()
    for lineno, row in enumerate(reader, start=2):
        reason = None
        if len(row) != 3:
            reason = "wrong_field_count"
        elif not row[0].strip() or not row[1].strip():
            reason = "empty_text"
        elif row[2].strip() not in ("0", "1", "2"):
            reason = "bad_label"
        if reason:
            if strict:
                raise CorpusFormatError(f"{name}, row {lineno}: {reason.replace('_', ' ')}: {row}")
            table.skipped[reason] += 1
            continue
        table.questions.append(row[0].strip())
        table.answers.append(row[1].strip())
        table.labels.append(int(row[2]))
    return table


# Twenty everyday questions that are not in ChatbotData (checked after ``normalise``): every
# seq2seq run answers them, so a reader sees answer quality, not only scores.
EVERYDAY_QUESTIONS = (
    "오늘 회사에서 너무 힘들었어",
    "주말에 뭐 하면 좋을까",
    "요즘 잠이 잘 안 와",
    "친구랑 싸웠는데 어떻게 화해하지",
    "점심 메뉴 좀 골라 줄래",
    "비가 와서 그런지 기분이 처져",
    "시험을 망친 것 같아",
    "새로 산 신발이 너무 마음에 들어",
    "다이어트 중인데 야식이 당겨",
    "고양이를 키워 보고 싶어",
    "다음 달에 이사 가는데 걱정돼",
    "엄마 생일 선물 뭐가 좋을까",
    "내일부터 운동을 시작하려고",
    "월급날이 너무 멀게 느껴져",
    "첫 출근이라 너무 떨려",
    "여행 가고 싶은데 돈이 없어",
    "감기 때문에 목이 아파",
    "짝사랑하는 사람한테 고백해도 될까",
    "오랜만에 부모님께 전화 드렸어",
    "내일 면접 보러 가",
)


def normalise(text: str) -> str:
    """What two texts must share to count as the same: letters and digits, no spaces or marks."""
    return _NOT_WORD.sub("", text)


def to_units(text: str, unit: str, morphs: Callable[[str], list[str]] | None = None) -> list[str]:
    """``syllable``: every character, ``▁`` between words. ``morpheme``: ``morphs(text)`` with
    ``▁`` wherever a space preceded the morpheme in ``text`` (morphemes a tagger rewrites,
    e.g. stems, are kept as they come, joined to the previous one)."""
    if unit == "syllable":
        return list(SPACE.join(text.split()))
    if unit != "morpheme" or morphs is None:
        raise ValueError(f"unit must be 'syllable', or 'morpheme' with a tagger, not {unit!r}")
    out, pos = [], 0
    for morph in morphs(text):
        start = pos
        while start < len(text) and text[start].isspace():
            start += 1
        if start > pos and out:
            out.append(SPACE)
        end = start
        while end < len(text) and not text[end].isspace():
            end += 1
        found = text.find(morph, start, end)  # only within the current word
        out.append(morph)
        pos = found + len(morph) if found >= 0 else start
    return out


def detokenize(units: Sequence[str]) -> str:
    return "".join(units).replace(SPACE, " ").strip()


@dataclass
class Split:
    train: list[int]
    val: list[int]
    test: list[int]


def split_by_question(
    questions: Sequence[str], fractions: tuple[float, float] = (0.1, 0.1), seed: int = 42
) -> Split:
    """Row indices for train/validation/test; rows whose questions normalise to the same text
    stay together, so a test question is never a training question."""
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        groups.setdefault(normalise(q) or q, []).append(i)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_val, n_test = (round(len(keys) * f) for f in fractions)
    parts = keys[:n_val], keys[n_val : n_val + n_test], keys[n_val + n_test :]
    val, test, train = ([i for k in part for i in groups[k]] for part in parts)
    return Split(sorted(train), sorted(val), sorted(test))


def answer_duplicates(answers: Sequence[str]) -> dict[str, int | float | list]:
    """How repetitive the answers are: the same answer (after normalisation) serves many
    questions, which rewards generic answers and caps what any model can score."""
    counts = Counter(normalise(a) or a for a in answers)
    repeated = {a: c for a, c in counts.items() if c > 1}
    first = {}
    for a in answers:
        first.setdefault(normalise(a) or a, a)
    return {
        "answers": len(answers),
        "distinct_answers": len(counts),
        "rows_with_repeated_answer": sum(repeated.values()),
        "repeated_answer_share": sum(repeated.values()) / max(len(answers), 1),
        "top_answers": [[first[a], c] for a, c in counts.most_common(10)],
    }


def clean_pairs(
    table: ChatbotTable,
    clean: Callable[[str], str],
    max_pairs: int | None = None,
    name: str = "<chatbot>",
) -> tuple[list[dict], Counter]:
    """The first ``max_pairs`` cleaned rows (question, answer, label) and the skip counts: the
    parse's, plus the pairs with a text that cleans to nothing (a pair needs both texts)."""
    skipped = Counter(table.skipped)
    rows = []
    for q, a, label in zip(table.questions, table.answers, table.labels, strict=True):
        q, a = clean(q), clean(a)
        if not q or not a:
            skipped["empty_after_cleaning"] += 1
            continue
        rows.append({"question": q, "answer": a, "label": label})
    rows = rows[:max_pairs] if max_pairs else rows
    if not rows:
        raise ValueError(f"{name}: no question/answer pairs left ({dict(skipped)})")
    return rows, skipped


def split_pairs(
    rows: list[dict], fractions: tuple[float, float], seed: int
) -> dict[str, list[dict]]:
    """The rows of train, val and test, no question in two of them (``split_by_question``)."""
    split = split_by_question([r["question"] for r in rows], fractions, seed)
    return {name: [rows[i] for i in getattr(split, name)] for name in ("train", "val", "test")}


def pair_units(
    rows: list[dict], unit: str, morphs: Callable[[str], list[str]] | None = None
) -> list[tuple[list[str], list[str]]]:
    """Each row's question and answer as units (``to_units``)."""
    return [
        (to_units(r["question"], unit, morphs), to_units(r["answer"], unit, morphs)) for r in rows
    ]


def answer_statistics(rows: list[dict], parts: dict[str, list[dict]]) -> dict:
    """``answer_duplicates`` of all rows, and the share of test answers that a training answer
    already gives: what a model scores by repeating what it was trained on."""
    seen = {normalise(r["answer"]) for r in parts["train"]}
    test = parts["test"]
    return {
        **answer_duplicates([r["answer"] for r in rows]),
        "test_answers_seen_in_train": sum(normalise(r["answer"]) in seen for r in test)
        / max(len(test), 1),
    }

"""Scores for generated answers: BLEU and chrF (sacrebleu, on detokenized text), distinct-n,
and the two baselines a seq2seq model must beat (the most frequent answer, and retrieval: the
answer of the most similar training question, ``korean.retrieval``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sacrebleu

from .retrieval import Retriever


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) with sacrebleu's default 13a tokenization."""
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (0-100): character 6-grams, which suits Korean's agglutinative words."""
    return sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score


def distinct_n(hypotheses: Sequence[str], n: int) -> float:
    """Distinct n-grams of space-separated words / all n-grams, over all hypotheses."""
    grams = Counter(
        tuple(words[i : i + n])
        for h in hypotheses
        for words in [h.split()]
        for i in range(len(words) - n + 1)
    )
    return len(grams) / max(sum(grams.values()), 1)


def scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    return {
        "bleu": bleu(hypotheses, references),
        "chrf": chrf(hypotheses, references),
        "distinct_1": distinct_n(hypotheses, 1),
        "distinct_2": distinct_n(hypotheses, 2),
        # Different answers / questions: 1.0 when no two questions get the same answer.
        "distinct_answers": len(set(hypotheses)) / max(len(hypotheses), 1),
    }


def answer_scores(
    beamed: Sequence[str], greedy: Sequence[str], references: Sequence[str], cut: Sequence[bool]
) -> dict[str, float]:
    """Scores of a chatbot's beam-search answers, with the shares left empty and cut at the
    length limit (``cut``: which were), which a score alone hides; then the scores of its greedy
    answers, named ``*_greedy``."""
    return {
        "empty_share": sum(not a.strip() for a in beamed) / max(len(beamed), 1),
        "cut_share": sum(cut) / max(len(cut), 1),
        **scores(beamed, references),
        **{f"{k}_greedy": v for k, v in scores(greedy, references).items()},
    }


def most_frequent_answer(answers: Sequence[str]) -> str:
    return Counter(answers).most_common(1)[0][0]


class RetrievalBaseline(Retriever):
    """Answer with the training answer of the nearest training question (``Retriever``)."""

    def __call__(self, questions: Sequence[str]) -> list[str]:
        return [self.answers[row[0]] for row in self.nearest(questions, 1)]

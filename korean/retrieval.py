"""The nearest training questions of a question, by cosine over TF-IDF of character 1-3-grams
within words (which copes with Korean particles and endings): the retrieval baseline answers
with the first one's answer, and retrieve and refine reads the answers of the first k.

Questions are grouped by ``chatbot.normalise`` (the text without spaces and marks). With
``leave_group_out`` a question never finds a pair of its own group: a training question would
otherwise retrieve its own pair, and a model trained on that learns to copy the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .chatbot import normalise

CHUNK = 1024  # query rows scored at once: a dense [CHUNK, training questions] block


class Retriever:
    def __init__(self, questions: Sequence[str], answers: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if len(questions) != len(answers) or not questions:
            raise ValueError(f"{len(questions)} questions, {len(answers)} answers: need pairs")
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform(questions)
        self.questions, self.answers = list(questions), list(answers)
        groups = {g: i for i, g in enumerate(dict.fromkeys(self._group(q) for q in questions))}
        self._groups = groups
        self._group_ids = np.array([groups[self._group(q)] for q in questions])
        self._answer_keys = [normalise(a) or a for a in answers]

    @staticmethod
    def _group(question: str) -> str:
        return normalise(question) or question

    def nearest(
        self, queries: Sequence[str], k: int = 1, leave_group_out: bool = False
    ) -> list[list[int]]:
        """Indices of the training pairs of the ``k`` most similar questions with different
        answers (an answer that serves many questions is read once), most similar first; ties
        go to the earlier pair. ``leave_group_out``: skip the pairs of the query's own group."""
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        width = min(len(self.questions), 8 * k + 8)  # candidates: enough to skip repeats
        out: list[list[int]] = []
        for start in range(0, len(queries), CHUNK):
            chunk = list(queries[start : start + CHUNK])
            scores = (self.vectorizer.transform(chunk) @ self.matrix.T).toarray()
            if leave_group_out:
                own = np.array([self._groups.get(self._group(q), -1) for q in chunk])
                scores[self._group_ids[None, :] == own[:, None]] = -np.inf
            # Best first, ties to the earlier pair (a stable sort), as argmax would.
            top = np.argsort(-scores, axis=1, kind="stable")[:, :width]
            out += [self._distinct(c.tolist(), row, k) for row, c in zip(scores, top, strict=True)]
        return out

    def _distinct(self, columns: list[int], row: np.ndarray, k: int) -> list[int]:
        picked, seen = [], set()
        for j in columns:
            if not np.isfinite(row[j]) or self._answer_keys[j] in seen:
                continue
            picked.append(j)
            seen.add(self._answer_keys[j])
            if len(picked) == k:
                break
        return picked

    def answers_of(
        self, queries: Sequence[str], k: int = 1, leave_group_out: bool = False
    ) -> list[list[str]]:
        return [[self.answers[j] for j in row] for row in self.nearest(queries, k, leave_group_out)]

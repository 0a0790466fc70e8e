"""Test scores of a binary classifier from its confusion counts, with torch alone (models/
imports nothing else): the same divisions of the same counts as scikit-learn's
``confusion_matrix`` and ``precision_recall_fscore_support(average="binary",
zero_division=0)``, so the numbers are equal bit for bit (tests/test_models.py checks)."""

from __future__ import annotations

import torch


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor) -> list[list[int]]:
    """[[true negatives, false positives], [false negatives, true positives]]: a row per true
    class, a column per predicted one (scikit-learn's layout, which the plots expect)."""
    counts = torch.bincount(labels.long() * 2 + predicted.long(), minlength=4)
    return counts.reshape(2, 2).tolist()


def binary_scores(confusion: list[list[int]]) -> dict[str, float]:
    """Accuracy, and precision, recall and F1 of class 1; a score with nothing to divide by is
    0 (a model that never predicts 1 has precision 0, not an error)."""
    (tn, fp), (fn, tp) = confusion
    return {
        "accuracy": (tp + tn) / (tn + fp + fn + tp),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
    }

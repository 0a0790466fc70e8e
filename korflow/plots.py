"""Figures logged with runs (matplotlib, Agg backend, Hangul in NanumGothic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import koreanize_matplotlib  # noqa: F401  (registers NanumGothic so Hangul is not boxes)
    import matplotlib.pyplot as plt

    return plt


def projection_png(words: list[str], vectors: np.ndarray, path: str | Path, title: str) -> Path:
    """A 2-D PCA projection of ``vectors`` with each point labelled by its word."""
    plt = _pyplot()
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ components[:2].T
    fig, ax = plt.subplots(figsize=(14, 14), dpi=100)
    ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.5)
    for word, (x, y) in zip(words, xy, strict=True):
        ax.annotate(word, (x, y), fontsize=7, alpha=0.8)
    ax.set_title(title)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)

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


def confusion_png(matrix, labels: list[str], path: str | Path, title: str) -> Path:
    """A confusion matrix (rows: true class, columns: predicted) with counts in the cells."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, f"{count:,}", ha="center", va="center", color=colour)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def learning_curve_png(history: list[dict], path: str | Path, title: str) -> Path:
    """Train and validation loss and accuracy (a language model's: perplexity) per epoch."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    second = "accuracy" if "train_accuracy" in history[0] else "perplexity"
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for split in ("train", "val"):
        loss_ax.plot(epochs, [h[f"{split}_loss"] for h in history], marker="o", label=split)
        acc_ax.plot(epochs, [h[f"{split}_{second}"] for h in history], marker="o", label=split)
    loss_ax.set_title("loss")
    acc_ax.set_title(second)
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def lines_png(
    series: dict[str, list[tuple]], path: str | Path, title: str, xlabel: str = ""
) -> Path:
    """One line per named series of (x, y) points: metrics over runs, or learning curves."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    for name, points in series.items():
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=name)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    if series:
        ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def label_curve_png(table, path: str | Path, title: str) -> Path:
    """Test accuracy (mean, with the seeds' sd as bars) against labelled reviews, log scale,
    one line per variant; ``table`` as ``compare.label_curve`` makes it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for (variant, profile), rows in table.groupby(["variant", "profile"]):
        rows = rows.sort_values("train_rows")
        sd = rows["test_accuracy_sd"].fillna(0)  # one run: no spread
        ax.errorbar(
            rows["train_rows"],
            rows["test_accuracy_mean"],
            yerr=sd,
            marker="o",
            capsize=3,
            label=f"{variant} ({profile})",
        )
    ax.set_xscale("log")
    ax.set_xlabel("labelled training reviews")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)

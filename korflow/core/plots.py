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
    series: dict[str, list[tuple]],
    path: str | Path,
    title: str,
    xlabel: str = "",
    integer_x: bool = False,
) -> Path:
    """One line per named series of (x, y) points, e.g. learning curves (``integer_x``: epochs,
    ticked at whole numbers)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    for name, points in series.items():
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=name)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def over_runs_png(
    runs: list[str],
    variants: list[str],
    metrics: dict[str, list[float]],
    path: str | Path,
    title: str,
) -> Path:
    """Key metrics over runs: one panel a metric (each on its own scale), the runs in the order
    they ran along the x-axis (labelled by run id, not by clock time), a line a variant."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.5), dpi=100)
    axes = np.atleast_1d(axes)
    positions = list(range(1, len(runs) + 1))
    for ax, (metric, values) in zip(axes, metrics.items(), strict=True):
        for variant in dict.fromkeys(variants):
            mine = [
                (x, v) for x, v, w in zip(positions, values, variants, strict=True) if w == variant
            ]
            ax.plot(*zip(*mine, strict=True), marker="o", label=variant)
        ax.set_title(metric)
        ax.set_xticks(positions, runs, rotation=45, ha="right", fontsize=7)
        ax.set_xlabel("run (oldest first)")
        ax.legend(fontsize=8)
    fig.suptitle(title)
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

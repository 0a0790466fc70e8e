"""Where the training stages' embeddings start, shared by sentiment and seq2seq: FastText
vectors as rows of a stage's vocabulary, and a vocabulary's ids in a language model's."""

from __future__ import annotations

from pathlib import Path

import torch

from korean.embeddings import KoreanVectors
from korflow.core import packages
from models.data import Vocab, save_atomic

from .caching import data_cache, data_task

VECTORS_CACHE = data_cache(*packages.VECTORS_TASKS)


@data_task(VECTORS_CACHE)
def embedding_matrix(data: dict, model_path: str, model_sha256: str, level: str) -> str:
    """Rows of FastText vectors for the vocabulary (unseen tokens get n-gram vectors)."""
    vocab = Vocab.load(Path(data["dir"]) / "vocab.json")
    vectors = KoreanVectors.load(model_path, level)
    matrix = torch.zeros(len(vocab), vectors.kv.vector_size)
    for i, token in enumerate(vocab.itos[2:], start=2):
        matrix[i] = torch.as_tensor(vectors.vector(token).copy())  # gensim arrays are read-only
    matrix[vocab.unk_id] = matrix[2:].mean(0)  # unknown tokens start at the average vector
    path = Path(data["dir"]) / f"embedding-{level}-{model_sha256[:16]}.pt"
    save_atomic(matrix, path)
    return str(path)


def lm_remap(vocab: Vocab, lm_vocab: Vocab) -> torch.Tensor:
    """The language models' id of each classifier token (their <unk> where they have none)."""
    ids = [lm_vocab.stoi.get(t, lm_vocab.unk_id) for t in vocab.itos]
    ids[0] = 0  # padding stays padding
    return torch.tensor(ids)

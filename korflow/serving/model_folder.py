"""The folder a served model lives in (and that MLflow pyfuncs carry as an artifact):
``config.json`` (cleaning, tokenizer, model settings), ``vocab.json`` and ``weights.pt`` (a state
dict, loaded with ``weights_only=True`` so that no code runs on load), and any files a model
reads beside them (the training pairs a retrieve-and-refine chatbot retrieves from)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from models.data import Vocab

PAIRS = "pairs.json"  # {"question": [...], "answer": [...]}: what a chatbot retrieves from


def write(
    folder: str | Path,
    config: dict,
    vocab: str | Path,
    weights: str | Path,
    files: tuple[str | Path, ...] = (),
) -> Path:
    """The folder, with ``files`` copied in under their own names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    (folder / "vocab.json").write_bytes(Path(vocab).read_bytes())
    (folder / "weights.pt").write_bytes(Path(weights).read_bytes())
    for file in map(Path, files):
        (folder / file.name).write_bytes(file.read_bytes())
    return folder


def read(folder: str | Path) -> tuple[dict, Vocab, dict[str, torch.Tensor]]:
    """(config, vocabulary, state dict); a vocabulary that does not fit the weights is refused."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    vocab = Vocab.load(folder / "vocab.json")
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    rows = state["embedding.weight"].shape[0]
    if rows != len(vocab):
        raise ValueError(
            f"the model and the vocabulary do not match: the weights have {rows} embedding "
            f"rows, the vocabulary has {len(vocab)} tokens"
        )
    return config, vocab, state

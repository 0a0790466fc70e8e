"""Vocabulary, id sequences and batches: plain Python and torch, nothing else.

Token ids are saved as ragged tensors (flat values + offsets) so that a machine with only
torch can train from what the sentiment flow wrote (``save_tensors`` / ``load_tensors``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

PAD, UNK = "<pad>", "<unk>"


class Vocab:
    """Token <-> id; id 0 is padding, id 1 the unknown token."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.itos = [PAD, UNK, *(t for t in tokens if t not in (PAD, UNK))]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(
        cls, sentences: Iterable[Sequence[str]], min_freq: int = 2, max_size: int | None = None
    ) -> Vocab:
        counts = Counter(t for s in sentences for t in s)
        ordered = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        return cls(ordered[:max_size] if max_size else ordered)

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def encode(self, tokens: Sequence[str], max_len: int | None = None) -> list[int]:
        """Ids of ``tokens`` (truncated to ``max_len``); never empty: no tokens -> [unk]."""
        ids = [self.stoi.get(t, 1) for t in tokens[:max_len] if t]
        return ids or [self.unk_id]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.itos, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        itos = json.loads(Path(path).read_text(encoding="utf-8"))
        if itos[:2] != [PAD, UNK]:
            raise ValueError(
                f"{path} is not a korflow vocabulary (it must start with {PAD}, {UNK})"
            )
        return cls(itos[2:])


class SequenceDataset(Dataset):
    """Variable-length id sequences with labels."""

    def __init__(self, ids: list[list[int]], labels: Sequence[int]) -> None:
        if len(ids) != len(labels):
            raise ValueError(f"{len(ids)} sequences but {len(labels)} labels")
        if any(len(s) == 0 for s in ids):
            raise ValueError("empty sequences cannot be packed: encode them as [unk]")
        self.ids, self.labels = ids, list(labels)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.ids[i], self.labels[i]


def collate(batch: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids [B, T] padded with 0, lengths [B], labels [B])."""
    lengths = torch.tensor([len(ids) for ids, _ in batch], dtype=torch.long)
    padded = torch.zeros(len(batch), int(lengths.max()), dtype=torch.long)
    for row, (ids, _) in enumerate(batch):
        padded[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return padded, lengths, torch.tensor([label for _, label in batch], dtype=torch.long)


def save_tensors(path: str | Path, ids: list[list[int]], labels: Sequence[int], **extra) -> Path:
    """Ragged ids + labels (+ tensors in ``extra``, e.g. an embedding matrix) in one file."""
    path = Path(path)
    offsets = torch.tensor([0, *torch.tensor([len(s) for s in ids]).cumsum(0).tolist()])
    values = torch.tensor([t for s in ids for t in s], dtype=torch.int32)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"values": values, "offsets": offsets, "labels": torch.tensor(labels), **extra}, tmp)
    os.replace(tmp, path)
    return path


def load_tensors(path: str | Path) -> tuple[SequenceDataset, dict[str, torch.Tensor]]:
    blob = torch.load(path, weights_only=True)  # tensors only: no code runs on load
    values, offsets = blob.pop("values").tolist(), blob.pop("offsets").tolist()
    ids = [values[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    return SequenceDataset(ids, blob.pop("labels").tolist()), blob

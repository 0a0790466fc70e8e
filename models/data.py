"""Vocabulary, id sequences and batches: plain Python and torch, nothing else.

Token ids are saved as ragged tensors (flat values + offsets) so that a machine with only
torch can train from what the sentiment flow wrote (``save_tensors`` / ``load_tensors``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

PAD, UNK = "<pad>", "<unk>"
SOS, EOS = "<sos>", "<eos>"  # the seq2seq vocabularies put these at ids 2 and 3


class Vocab:
    """Token <-> id; id 0 is padding, id 1 the unknown token, then ``specials``, then tokens."""

    def __init__(self, tokens: Sequence[str], specials: Sequence[str] = ()) -> None:
        reserved = (PAD, UNK, *specials)
        self.itos = [*reserved, *(t for t in tokens if t not in reserved)]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        min_freq: int = 2,
        max_size: int | None = None,
        specials: Sequence[str] = (),
    ) -> Vocab:
        counts = Counter(t for s in sentences for t in s)
        ordered = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        return cls(ordered[:max_size] if max_size else ordered, specials)

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

    def unknown_rate(self, sequences: Iterable[Sequence[str]]) -> float:
        """The share of tokens in ``sequences`` that are not in the vocabulary: how much of a
        split the model reads as <unk>."""
        tokens = [t for s in sequences for t in s]
        return sum(t not in self.stoi for t in tokens) / max(len(tokens), 1)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids if i > 1 and i < len(self.itos)]

    def save(self, path: str | Path) -> None:
        text = json.dumps(self.itos, ensure_ascii=False)
        _replace_into(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        itos = json.loads(Path(path).read_text(encoding="utf-8"))
        if itos[:2] != [PAD, UNK]:
            raise ValueError(
                f"{path} is not a korflow vocabulary (it must start with {PAD}, {UNK})"
            )
        specials = [SOS, EOS] if itos[2:4] == [SOS, EOS] else []
        return cls(itos[2 + len(specials) :], specials)


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

    def batch_lengths(self) -> tuple[list[int], None]:
        """What length-aware batching groups by (models.batching)."""
        return [len(s) for s in self.ids], None


def collate(batch: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids [B, T] padded with 0, lengths [B], labels [B]); one tensor call per batch."""
    lengths = [len(ids) for ids, _ in batch]
    width = max(lengths)
    padded = torch.tensor([[*ids] + [0] * (width - len(ids)) for ids, _ in batch])
    labels = torch.tensor([label for _, label in batch], dtype=torch.long)
    return padded, torch.tensor(lengths, dtype=torch.long), labels


def save_tensors(path: str | Path, ids: list[list[int]], labels: Sequence[int], **extra) -> Path:
    """Ragged ids + labels (+ tensors in ``extra``, e.g. an embedding matrix) in one file."""
    return save_atomic({**_ragged("ids", ids), "labels": torch.tensor(labels), **extra}, path)


def load_tensors(path: str | Path) -> tuple[SequenceDataset, dict[str, torch.Tensor]]:
    blob = torch.load(path, weights_only=True)  # tensors only: no code runs on load
    ids = _unragged(blob, "ids")
    extra = {k: v for k, v in blob.items() if not k.startswith("ids_") and k != "labels"}
    return SequenceDataset(ids, blob["labels"].tolist()), extra


class PairDataset(Dataset):
    """Source and target id sequences (question -> answer), without <sos>/<eos>."""

    def __init__(self, sources: list[list[int]], targets: list[list[int]]) -> None:
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
        if any(len(s) == 0 for s in sources):
            raise ValueError("empty sources cannot be packed: encode them as [unk]")
        self.sources, self.targets = sources, targets

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        return self.sources[i], self.targets[i]

    def batch_lengths(self) -> tuple[list[int], list[int]]:
        """Question lengths (the bidirectional encoder must not read padding), then answer
        lengths (the decoder may: padding after an answer changes nothing before it)."""
        return [len(s) for s in self.sources], [len(t) for t in self.targets]


def collate_pairs(
    batch: list[tuple[list[int], list[int]]], sos_id: int = 2, eos_id: int = 3
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(src [B, S], src lengths [B], decoder input <sos>+tgt [B, T], expected tgt+<eos> [B, T])."""
    src, lengths, _ = collate([(s, 0) for s, _ in batch])
    width = max(len(t) for _, t in batch) + 1
    tgt_in = torch.tensor([[sos_id, *t] + [0] * (width - len(t) - 1) for _, t in batch])
    tgt_out = torch.tensor([[*t, eos_id] + [0] * (width - len(t) - 1) for _, t in batch])
    return src, lengths, tgt_in, tgt_out


def join_source(question: list[int], retrieved: Sequence[list[int]], sep: int) -> list[int]:
    """A retrieve-and-refine source: the question, then each retrieved answer after ``sep``
    (the <eos> id: the end of one text), so the encoder reads them as one sequence."""
    out = list(question)
    for answer in retrieved:
        out += [sep, *answer]
    return out


def save_pairs(path: str | Path, sources: list[list[int]], targets: list[list[int]]) -> Path:
    """Questions and answers as two ragged tensors in one file (torch-only, like save_tensors)."""
    return save_atomic({**_ragged("src", sources), **_ragged("tgt", targets)}, path)


def load_pairs(path: str | Path) -> PairDataset:
    blob = torch.load(path, weights_only=True)
    return PairDataset(_unragged(blob, "src"), _unragged(blob, "tgt"))


def _ragged(name: str, seqs: list[list[int]]) -> dict[str, torch.Tensor]:
    offsets = torch.tensor([0, *torch.tensor([len(s) for s in seqs]).cumsum(0).tolist()])
    values = torch.tensor([t for s in seqs for t in s], dtype=torch.int32)
    return {f"{name}_values": values, f"{name}_offsets": offsets}


def _unragged(blob: dict[str, torch.Tensor], name: str) -> list[list[int]]:
    values, offsets = blob[f"{name}_values"].tolist(), blob[f"{name}_offsets"].tolist()
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def save_atomic(obj: object, path: str | Path) -> Path:
    """torch.save through a temporary name renamed into place."""
    return _replace_into(path, lambda tmp: torch.save(obj, tmp))


def _replace_into(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write`` a temporary file, then rename it to ``path``: a crash never leaves a
    half-written file (models/ imports nothing of korflow, so not korflow's ``atomic_write``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
    return path

"""Length-aware batching: batches of sequences of equal length, so the RNNs run dense.

Random batches pad every sequence to the longest of the batch (4x the real tokens on NSMC) and
make the RNN pack them, which on a CPU means many tiny time steps. Grouping by length removes
both: a batch whose sequences all have one length needs no padding and no packing. Lengths too
rare to fill a quarter of a batch share mixed batches (sorted, so near-equal), which the models
pack.

Everything is decided by a ``torch.Generator`` (seeded from the seed and the epoch by the
training loop), so an interrupted run that resumes sees the same batches in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


def length_batches(
    lengths: Sequence[int],
    batch_size: int,
    generator: torch.Generator | None = None,
    secondary: Sequence[int] | None = None,
) -> list[list[int]]:
    """Index batches: each length with at least a quarter of a batch of sequences is split into
    near-equal batches of that length alone (sizes within [batch_size / 4, 1.5 * batch_size));
    the rest are sorted by length and chunked. ``secondary`` (e.g. answer lengths) orders
    sequences inside a length, so their batches pad little too. With a ``generator`` the ties
    and the batch order are shuffled; without one, batches come in length order (the lengths
    with batches of their own first, then the rare ones)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    n = len(lengths)
    if n == 0:
        return []
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    key = lengths[order]
    if secondary is not None:
        second = torch.as_tensor(secondary, dtype=torch.long)
        key = key * (int(second.max()) + 1) + second[order]
    order = order[torch.sort(key, stable=True).indices]
    sizes = torch.unique_consecutive(lengths[order], return_counts=True)[1].tolist()

    batches: list[list[int]] = []
    rare: list[torch.Tensor] = []
    for group in torch.split(order, sizes):
        if len(group) * 4 >= batch_size:
            parts = max(1, round(len(group) / batch_size))
            batches += [part.tolist() for part in torch.tensor_split(group, parts)]
        else:
            rare.append(group)
    if rare:
        batches += [chunk.tolist() for chunk in torch.cat(rare).split(batch_size)]
    if generator is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
    return batches


class LengthBatchSampler(Sampler[list[int]]):
    """A ``batch_sampler`` for DataLoader over :func:`length_batches`; shuffled per epoch from
    ``seed`` when ``shuffle`` (call :meth:`set_epoch`), in length order otherwise."""

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        secondary: Sequence[int] | None = None,
    ) -> None:
        self.lengths, self.secondary = list(lengths), secondary
        self.batch_size, self.shuffle, self.seed, self.epoch = batch_size, shuffle, seed, 0
        self._count: int | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        generator = None
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000 + self.epoch)
        yield from length_batches(self.lengths, self.batch_size, generator, self.secondary)

    def __len__(self) -> int:
        # Counted when asked (the training loop builds a sampler every epoch): the number of
        # batches depends only on the length histogram, not on the shuffle.
        if self._count is None:
            self._count = len(length_batches(self.lengths, self.batch_size))
        return self._count

"""Recurrent text classifiers: embedding -> token dropout -> LSTM/GRU -> pooling -> dropout ->
linear.

Token dropout zeroes whole token vectors (Iyyer et al. 2015's word dropout, scaled): on a CPU it
costs almost nothing, where element-wise dropout on the embeddings cost a fifth of the step.

A batch whose sequences all have one length (what length-aware batching makes) runs the RNN
dense, with nothing to mask. A batch with padding is packed, so the RNN (its backward direction
too) never reads padding, and every pooling masks the padded positions: a sequence gets the same
logits in any batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .checks import check_ranges
from .lm import BiLM, LMConfig


@dataclass(frozen=True)
class ClassifierConfig:
    vocab_size: int = 0  # set from the vocabulary when the model is built
    embed_dim: int = 100
    hidden_size: int = 128
    rnn: Literal["lstm", "gru"] = "lstm"
    bidirectional: bool = True
    num_layers: int = 1
    pooling: Literal["last", "mean", "max", "attention"] = "max"
    dropout: float = 0.3  # on the pooled features (and between RNN layers)
    token_dropout: float = 0.1  # probability of zeroing a whole token vector in training
    num_classes: int = 2
    freeze_embedding: bool = False
    # A bag of the sequence's unigrams and hashed bigrams beside the RNN (fastText's classifier,
    # Joulin et al. 2017): its mean vector joins the pooled RNN features. 0 buckets = off. Its
    # unigram rows are a second word table, trained even with freeze_embedding.
    ngram_buckets: int = 0
    ngram_dim: int = 16
    ngram_dropout: float = 0.0  # probability of leaving an n-gram out of the bag in training
    # A pretrained biLM (ELMo, Peters et al. 2018): its layers, mixed by learned softmax weights
    # and a scale, join each token's embedding at the RNN's input. None = off.
    elmo: LMConfig | None = None
    elmo_dropout: float = 0.5  # on the mixed biLM vectors in training

    def __post_init__(self) -> None:
        if isinstance(self.elmo, dict):  # read back from a saved config
            object.__setattr__(self, "elmo", LMConfig(**self.elmo))
        if self.rnn not in ("lstm", "gru"):
            raise ValueError(f"rnn must be lstm or gru, not {self.rnn!r}")
        if self.pooling not in ("last", "mean", "max", "attention"):
            raise ValueError(f"pooling must be last, mean, max or attention, not {self.pooling!r}")
        if self.num_layers not in (1, 2):
            raise ValueError(f"num_layers must be 1 or 2, not {self.num_layers}")
        check_ranges(
            self,
            at_least_one=("embed_dim", "hidden_size", "ngram_dim"),
            non_negative=("vocab_size", "ngram_buckets"),
            below_one=("dropout", "token_dropout", "ngram_dropout", "elmo_dropout"),
        )
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, not {self.num_classes}")


def load_embedding(layer: nn.Embedding, matrix: torch.Tensor | None, freeze: bool) -> None:
    """Start ``layer`` from ``matrix`` (e.g. FastText vectors for the vocabulary), if given."""
    if matrix is not None:
        if tuple(matrix.shape) != tuple(layer.weight.shape):
            raise ValueError(
                f"embedding matrix is {tuple(matrix.shape)}, the model expects "
                f"{tuple(layer.weight.shape)}: vocabulary and vectors do not match"
            )
        with torch.no_grad():
            layer.weight.copy_(matrix)
            layer.weight[0].zero_()  # padding
    layer.weight.requires_grad_(not freeze)


def ngram_ids(
    ids: torch.Tensor, lengths: torch.Tensor, vocab_size: int, buckets: int
) -> torch.Tensor:
    """[B, 2T - 1]: each sequence's unigram ids, then its bigrams hashed into ``buckets`` ids
    after the vocabulary; 0 where a position or pair reaches padding."""
    real = torch.arange(ids.size(1), device=ids.device)[None] < lengths.to(ids.device)[:, None]
    unigrams = ids.long() * real  # int64: the hash below overflows int32
    first, second = unigrams[:, :-1], unigrams[:, 1:]
    hashed = vocab_size + (first * 1_000_003 + second) % buckets
    bigrams = torch.where((first > 0) & (second > 0), hashed, 0)
    return torch.cat([unigrams, bigrams], dim=1)


class AdditiveAttention(nn.Module):
    """Bahdanau-style attention pooling: score_t = v . tanh(W h_t), softmax over real tokens."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(size, size)
        self.v = nn.Linear(size, 1, bias=False)

    def forward(
        self, states: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.v(torch.tanh(self.proj(states))).squeeze(-1)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1), weights


class TextClassifier(nn.Module):
    def __init__(self, config: ClassifierConfig, embedding: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        load_embedding(self.embedding, embedding, config.freeze_embedding)
        self.bilm = BiLM(config.elmo, config.vocab_size) if config.elmo else None
        rnn = nn.LSTM if config.rnn == "lstm" else nn.GRU
        self.rnn = rnn(
            config.embed_dim + (self.bilm.size if self.bilm else 0),
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        size = config.hidden_size * (2 if config.bidirectional else 1)
        self.attention = AdditiveAttention(size) if config.pooling == "attention" else None
        self.ngrams = None
        if config.ngram_buckets:
            # ids 1.. are unigrams, vocab_size.. hashed bigrams; 0 (padding) is left out.
            self.ngrams = nn.EmbeddingBag(
                config.vocab_size + config.ngram_buckets, config.ngram_dim, padding_idx=0
            )
            # fastText's start, near zero: a bucket no training bigram reaches adds ~nothing.
            with torch.no_grad():
                self.ngrams.weight.uniform_(-1 / config.ngram_dim, 1 / config.ngram_dim)
                self.ngrams.weight[0].zero_()
            size += config.ngram_dim
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(size, config.num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids [B, T] (0 = padding), lengths [B] -> logits [B, num_classes]."""
        embedded = self.embedding(ids)
        if self.training and self.config.token_dropout > 0:
            keep = torch.ones(*ids.shape, 1, device=ids.device, dtype=embedded.dtype)
            embedded = embedded * nn.functional.dropout(keep, self.config.token_dropout)
        if self.bilm is not None:
            context = self.bilm(ids, lengths).to(embedded.dtype)
            p = self.config.elmo_dropout
            embedded = torch.cat([embedded, nn.functional.dropout(context, p, self.training)], -1)
        if int(lengths.min()) >= ids.size(1):  # no padding: dense, the fast path
            states, hidden = self.rnn(embedded)
            mask = None
        else:
            lengths = lengths.clamp(min=1)
            positions = torch.arange(ids.size(1), device=ids.device)
            mask = positions[None] < lengths.to(ids.device)[:, None]
            packed = pack_padded_sequence(
                embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            output, hidden = self.rnn(packed)
            states, _ = pad_packed_sequence(output, batch_first=True, total_length=ids.size(1))
        pooled = self._pool(states, mask, hidden)
        if self.ngrams is not None:
            bag = self.ngram_ids(ids, lengths)
            if self.training and self.config.ngram_dropout > 0:  # dropped ids become padding
                bag = bag * (torch.rand(bag.shape, device=bag.device) >= self.config.ngram_dropout)
            pooled = torch.cat([pooled, self.ngrams(bag)], dim=-1)
        return self.out(self.dropout(pooled))

    def ngram_ids(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """This model's bag ids of a batch (``ngram_ids`` with its vocabulary and buckets)."""
        return ngram_ids(ids, lengths, self.config.vocab_size, self.config.ngram_buckets)

    def _pool(self, states, mask, hidden) -> torch.Tensor:
        """Pool RNN states [B, T, H]; ``mask`` [B, T] marks real tokens (None: all are)."""
        pooling = self.config.pooling
        if pooling == "last":
            h = hidden[0] if isinstance(hidden, tuple) else hidden  # LSTM returns (h, c)
            return torch.cat([h[-2], h[-1]], dim=-1) if self.config.bidirectional else h[-1]
        if pooling == "max":
            if mask is not None:
                states = states.masked_fill(~mask.unsqueeze(-1), float("-inf"))
            return states.max(dim=1).values
        if mask is None:
            mask = torch.ones(states.shape[:2], dtype=torch.bool, device=states.device)
        if pooling == "mean":
            summed = (states * mask.unsqueeze(-1)).sum(dim=1)
            return summed / mask.sum(dim=1, keepdim=True).clamp(min=1)
        pooled, _ = self.attention(states, mask)
        return pooled

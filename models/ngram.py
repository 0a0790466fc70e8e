"""A count-based n-gram language model with interpolated Kneser-Ney smoothing (Chen & Goodman
1998, one discount per order, D = n1 / (n1 + 2 n2)): the baseline the LSTM language models must
beat, scored on the same token ids and held-out streams.

Plain Python: NLTK's ``KneserNeyInterpolated`` scored 22 tokens/s on a 200k-token trigram model
(it rescans the n-gram table for every continuation count) and gives unseen words probability
0, so an infinite perplexity; KenLM's Python package can query a model but not estimate one.

The highest order uses counts; lower orders use continuation counts (how many distinct words
precede an n-gram), and the unigram level interpolates with a uniform distribution over the
vocabulary, so every id has a probability and each conditional distribution sums to one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence


class KneserNey:
    def __init__(self, tokens: Sequence[int], order: int, vocab_size: int) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, not {order}")
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, not {vocab_size}")
        self.order, self.vocab_size = order, vocab_size
        tokens = list(tokens)
        # tables[k]: k-gram -> count (highest order) or continuation count (lower orders)
        self.tables: dict[int, Counter] = {order: Counter(_grams(tokens, order))}
        for k in range(order - 1, 0, -1):
            self.tables[k] = Counter(gram[1:] for gram in self.tables[k + 1])
        self.totals: dict[int, Counter] = {}  # context -> sum of its table's counts
        self.types: dict[int, Counter] = {}  # context -> distinct words after it
        self.discounts: dict[int, float] = {}
        for k, table in self.tables.items():
            totals, types = Counter(), Counter()
            for gram, count in table.items():
                totals[gram[:-1]] += count
                types[gram[:-1]] += 1
            self.totals[k], self.types[k] = totals, types
            counts_of = Counter(c for c in table.values() if c <= 2)
            n1, n2 = counts_of[1], counts_of[2]
            self.discounts[k] = n1 / (n1 + 2 * n2) if n1 + n2 and n1 else 0.5

    def prob(self, word: int, history: Sequence[int]) -> float:
        """P(word | the last order-1 ids of history)."""
        p = 1.0 / self.vocab_size
        for k in range(1, self.order + 1):
            if k - 1 > len(history):
                break
            context = tuple(history[len(history) - (k - 1) :]) if k > 1 else ()
            total = self.totals[k].get(context)
            if not total:
                continue  # an unseen context: the lower order's estimate stands
            d = self.discounts[k]
            count = self.tables[k].get((*context, word), 0)
            p = max(count - d, 0.0) / total + d * self.types[k][context] / total * p
        return p

    def perplexity(self, tokens: Sequence[int], skip: Iterable[int] = (0,)) -> float:
        """exp(mean negative log-probability) of each token after the first, given the ones
        before it (as the LSTM scores a stream); ``skip``: ids not scored (padding)."""
        total, count = self.log_loss(tokens, skip)
        return math.exp(total / max(count, 1))

    def log_loss(self, tokens: Sequence[int], skip: Iterable[int] = (0,)) -> tuple[float, int]:
        """(summed negative log-probability, tokens scored) of ``perplexity``."""
        skip = set(skip)
        total, count = 0.0, 0
        for i in range(1, len(tokens)):
            if tokens[i] in skip:
                continue
            history = tokens[max(0, i - self.order + 1) : i]
            total -= math.log(self.prob(tokens[i], history))
            count += 1
        return total, count


def _grams(tokens: Sequence[int], n: int):
    return zip(*(tokens[i:] for i in range(n)), strict=False)

"""LSTM language models (one direction each; ELMo's biLM is a forward and a backward one), the
layer mix a task model reads them through, and sampling.

A model reads a token stream: documents joined by ``<eos>``, cut into windows whose state is
carried from one window to the next (truncated backpropagation through time). The backward
model reads the same stream reversed, so it predicts each token from the tokens after it.

Regularisation from the AWD-LSTM family (Merity et al. 2018) where it is cheap on a CPU:
embedding dropout (whole word types dropped per batch), locked (variational) dropout between
layers and on the output, and weight decay; DropConnect on the recurrent weights is left out
because it forbids the fused LSTM kernel. The output is an adaptive softmax (Grave et al. 2017)
for large vocabularies (the morpheme model's 50k types), a plain softmax for small ones (the
syllable model's few thousand).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .checks import check_ranges

State = list[tuple[torch.Tensor, torch.Tensor]]  # (h, c) per layer


@dataclass(frozen=True)
class LMConfig:
    vocab_size: int = 0  # set from the vocabulary when the model is built
    embed_dim: int = 256
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.25  # locked dropout between layers and on the output
    input_dropout: float = 0.1  # locked dropout on the embeddings
    embed_dropout: float = 0.05  # probability of dropping a word type for a whole batch
    # Adaptive softmax cluster boundaries (ids are frequency-ordered); () = a plain softmax.
    cutoffs: tuple[int, ...] = field(default=())
    div_value: float = 4.0
    backward: bool = False  # reads the stream right to left

    def __post_init__(self) -> None:
        object.__setattr__(self, "cutoffs", tuple(self.cutoffs))  # a list when read from JSON
        check_ranges(
            self,
            at_least_one=("embed_dim", "hidden_size", "num_layers"),
            non_negative=("vocab_size",),
            below_one=("dropout", "input_dropout", "embed_dropout"),
        )
        if list(self.cutoffs) != sorted(set(self.cutoffs)) or any(
            c <= 0 or (self.vocab_size and c >= self.vocab_size) for c in self.cutoffs
        ):
            raise ValueError(
                f"cutoffs must increase strictly within (0, vocab_size), not {self.cutoffs}"
            )


def adaptive_cutoffs(vocab_size: int, plain_below: int = 8_000) -> tuple[int, ...]:
    """Cluster boundaries for a frequency-ordered vocabulary: a head of the most frequent
    2,000 (then 10,000) types, tails for the rest; none for a small vocabulary."""
    if vocab_size < plain_below:
        return ()
    return tuple(c for c in (2_000, 10_000) if c < vocab_size - 1)


def locked_dropout(
    x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One dropout mask per sequence, the same at every time step (x: [B, T, H])."""
    if not training or p == 0:
        return x
    mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - p, generator=generator) / (1 - p)
    return x * mask


class LanguageModel(nn.Module):
    def __init__(self, config: LMConfig, head: bool = True) -> None:
        """``head=False``: embeddings and LSTM layers only, what a task model reads."""
        super().__init__()
        self.config = config
        # Where its dropout masks are drawn from (None: torch's global RNG). A training sets
        # its own, so that two trainings at once in one process each draw what they would alone.
        self.generator: torch.Generator | None = None
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        sizes = [config.embed_dim] + [config.hidden_size] * config.num_layers
        # One LSTM per layer: the layer mix reads every layer's states.
        self.rnns = nn.ModuleList(
            nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(config.num_layers)
        )
        if not head:
            self.head = None
        elif config.cutoffs:
            self.head = nn.AdaptiveLogSoftmaxWithLoss(
                config.hidden_size, config.vocab_size, list(config.cutoffs), config.div_value
            )
        else:
            self.head = nn.Linear(config.hidden_size, config.vocab_size)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        weight = self.embedding.weight
        p = self.config.embed_dropout
        if self.training and p > 0:  # drop whole word types (the same in the whole batch)
            keep = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p, generator=self.generator)
            keep = keep / (1 - p)
            weight = weight * keep
        return nn.functional.embedding(ids, weight, padding_idx=0)

    def layers(
        self, ids: torch.Tensor, state: State | None = None
    ) -> tuple[list[torch.Tensor], State]:
        """ids [B, T] -> every layer's outputs (each [B, T, H], before the output dropout)
        and the state after the last step."""
        x = locked_dropout(
            self._embed(ids), self.config.input_dropout, self.training, self.generator
        )
        outputs, new_state = [], []
        for i, rnn in enumerate(self.rnns):
            x, hc = rnn(x, state[i] if state is not None else None)
            outputs.append(x)
            new_state.append(hc)
            if i < len(self.rnns) - 1:
                x = locked_dropout(x, self.config.dropout, self.training, self.generator)
        return outputs, new_state

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [B, T] -> the top layer's features [B, T, H] (dropped out in training)."""
        outputs, state = self.layers(ids, state)
        return locked_dropout(
            outputs[-1], self.config.dropout, self.training, self.generator
        ), state

    def loss(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of ``targets`` [B, T] (padding 0 ignored)."""
        flat, wanted = features.reshape(-1, features.size(-1)), targets.reshape(-1)
        real = wanted != 0
        flat, wanted = flat[real], wanted[real]
        if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):
            return self.head(flat.float(), wanted).loss
        return nn.functional.cross_entropy(self.head(flat).float(), wanted)

    def log_probs(self, features: torch.Tensor) -> torch.Tensor:
        """[N, H] -> log-probabilities over the vocabulary [N, V]."""
        if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):
            return self.head.log_prob(features.float())
        return self.head(features).float().log_softmax(-1)


def reverse_padded(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row's first ``length`` items reversed, padding left where it was ([B, T, ...])."""
    positions = torch.arange(ids.size(1), device=ids.device)[None]
    lengths = lengths.to(ids.device)[:, None]
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)
    if ids.dim() == 3:
        index = index[..., None].expand_as(ids)
    return ids.gather(1, index)


class ScalarMix(nn.Module):
    """ELMo's task-specific layer weighting: gamma * sum_j softmax(s)_j * layer_j."""

    def __init__(self, layers: int) -> None:
        super().__init__()
        self.scalars = nn.Parameter(torch.zeros(layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, layers: list[torch.Tensor]) -> torch.Tensor:
        weights = self.scalars.softmax(0)
        return self.gamma * sum(w * layer for w, layer in zip(weights, layers, strict=True))


class BiLM(nn.Module):
    """A forward and a backward model (``config`` and its mirror), frozen, read as ELMo reads
    them: at each token, the two directions' states concatenated per layer, mixed by
    ``ScalarMix``. ``remap`` [task vocabulary] turns a task's token ids into the language
    models' ids (saved with the task model)."""

    def __init__(self, config: LMConfig, task_vocab_size: int) -> None:
        super().__init__()
        self.forward_lm = LanguageModel(replace(config, backward=False), head=False)
        self.backward_lm = LanguageModel(replace(config, backward=True), head=False)
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("remap", torch.ones(task_vocab_size, dtype=torch.long))
        # Each text is read after <eos>, as every sentence was in training.
        self.register_buffer("eos", torch.tensor(3))
        self.mix = ScalarMix(config.num_layers)
        self.size = 2 * config.hidden_size
        self.memo: dict[bytes, torch.Tensor] | None = None  # see remember()

    def remember(self, on: bool = True) -> None:
        """Keep each text's layers after its first read (float16, keyed by its ids; about
        2 KB a token for the full profile's biLM), or forget them all. The language models are
        frozen and read a text alike in any batch, so later epochs skip them: an lm epoch
        1.55x faster (BENCHMARKS.md, "Sentiment from the language models")."""
        self.memo = {} if on else None

    def load_language_models(
        self, forward: dict[str, torch.Tensor], backward: dict[str, torch.Tensor], remap, eos: int
    ) -> None:
        """Trained weights (state dicts of whole ``LanguageModel``s; their heads are left out),
        the task-id -> LM-id table and the models' <eos> id."""
        for lm, state in ((self.forward_lm, forward), (self.backward_lm, backward)):
            lm.load_state_dict({k: v for k, v in state.items() if not k.startswith("head.")})
        self.remap.copy_(torch.as_tensor(remap, dtype=torch.long))
        self.eos.fill_(eos)

    def _read(self, lm: LanguageModel, ids: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's states over ``ids``, read after an <eos>."""
        start = self.eos.expand(ids.size(0), 1)
        layers, _ = lm.layers(torch.cat([start, ids], dim=1))
        return [layer[:, 1:] for layer in layers]

    def train(self, mode: bool = True) -> BiLM:
        super().train(mode)
        self.forward_lm.eval()  # frozen: never their dropout
        self.backward_lm.eval()
        return self

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Task ids [B, T] (0 = padding) -> mixed features [B, T, size]."""
        if self.memo is None:
            return self.mix(self.layers(ids, lengths))
        return self.mix(self._remembered(ids, lengths))

    @torch.no_grad()
    def layers(self, ids: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Per layer, both directions' states at each token [B, T, size]."""
        lm_ids = self.remap[ids]
        ahead = self._read(self.forward_lm, lm_ids)
        behind = self._read(self.backward_lm, reverse_padded(lm_ids, lengths))
        return [
            torch.cat([a, reverse_padded(b, lengths)], dim=-1)
            for a, b in zip(ahead, behind, strict=True)
        ]

    @torch.no_grad()
    def _remembered(self, ids: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """``layers`` read from the memo (padding positions zero; the RNN never reads them),
        reading only the texts it lacks. The memo stays in CPU memory, also on a GPU."""
        lengths = lengths.to(ids.device)
        sizes = lengths.tolist()
        rows_cpu = ids.cpu().numpy()
        keys = [row[:n].tobytes() for row, n in zip(rows_cpu, sizes, strict=True)]
        missing = [i for i, key in enumerate(keys) if key not in self.memo]
        if missing:
            rows = torch.tensor(missing, device=ids.device)
            read = torch.stack(self.layers(ids[rows], lengths[rows]), dim=2)  # [b, T, L, size]
            read = read.to("cpu", torch.float16)
            for j, i in enumerate(missing):
                self.memo[keys[i]] = read[j, : sizes[i]].clone()  # not a view of the batch
        out = torch.zeros((*ids.shape, len(self.forward_lm.rnns), self.size))
        for i, key in enumerate(keys):
            out[i, : sizes[i]] = self.memo[key]
        return list(out.to(ids.device, non_blocking=True).unbind(2))


@torch.no_grad()
def sample(
    model: LanguageModel,
    prompt: list[int],
    n: int,
    max_new: int,
    eos_id: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    banned: tuple[int, ...] = (0, 1),
) -> list[list[int]]:
    """``n`` continuations of ``prompt`` (ids, read after an ``<eos>`` as a document start),
    each stopping at ``<eos>`` (not included) or after ``max_new`` tokens. Nucleus sampling
    (Holtzman et al. 2020) from a private generator: the same seed gives the same texts, and
    nothing is drawn from torch's global RNG. ``banned`` ids (padding, <unk>) are never
    emitted."""
    if temperature <= 0 or not 0 < top_p <= 1:
        raise ValueError(f"temperature must be > 0 and top_p in (0, 1], not {temperature}, {top_p}")
    model.eval()
    device = model.embedding.weight.device
    generator = torch.Generator(device=device).manual_seed(seed)
    context = torch.tensor([[eos_id, *prompt]] * n, device=device)
    features, state = model(context)
    last = features[:, -1]
    out: list[list[int]] = [[] for _ in range(n)]
    live = torch.ones(n, dtype=torch.bool, device=device)
    for _ in range(max_new):
        logits = model.log_probs(last) / temperature
        logits[:, list(banned)] = float("-inf")
        probs = logits.softmax(-1)
        if top_p < 1:
            ordered, order = probs.sort(-1, descending=True)
            outside = ordered.cumsum(-1) - ordered > top_p  # keep the smallest set reaching p
            ordered = ordered.masked_fill(outside, 0)
            probs = torch.zeros_like(probs).scatter_(-1, order, ordered)
        chosen = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        for i in live.nonzero().flatten().tolist():
            if chosen[i].item() == eos_id:
                live[i] = False
            else:
                out[i].append(chosen[i].item())
        if not live.any():
            break
        features, state = model(chosen[:, None], state)
        last = features[:, -1]
    return out

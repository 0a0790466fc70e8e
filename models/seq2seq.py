"""Encoder-decoder with attention: a bidirectional LSTM encoder, an LSTM decoder, and a choice of
attention (none, dot and general as in Luong et al. 2015, additive as in Bahdanau et al. 2015).

The encoder runs hidden_size // 2 units each way, so its states and its final (h, c), forward and
backward concatenated, have the decoder's size: dot attention needs no projection and the
decoder starts from the encoder's summary of the question. Questions of one length run the
encoder dense; padded ones are packed, and padding is masked in every attention score. Decoding
is batched: greedy, and beam search with a GNMT length penalty; both stop at ``max_len``
whatever the model emits, never emit padding, <unk> or an empty answer, and can block repeated
n-grams.

With ``copy`` the model is a pointer-generator (See et al. 2017): a learned gate mixes the
vocabulary distribution with the attention weights over the source's own tokens, so the decoder
can copy from what it reads. Retrieve and refine (Weston et al. 2018) reads a question followed
by the answers of its nearest training questions (``models.data.join_source``); the copy path
lets a small model reuse their words where they fit and write its own where they do not. With
``choices`` a choice head reads the question and each retrieved answer (their encoder states,
averaged), learns which of them is the expected answer or that none is, and decoding answers
with the nearest one whole where the head prefers that to writing: copying token by token
garbles a long answer now and then, and a whole answer is never garbled.

A forward LSTM language model over the same units (``models.lm``) can start the model: its
embeddings, and where the decoder has its width, its layers (``decoder_from_lm``), so the
decoder writes Korean before it has learned to answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .checks import check_ranges
from .classifier import load_embedding

ATTENTIONS = ("none", "dot", "general", "additive")


@dataclass(frozen=True)
class Seq2SeqConfig:
    vocab_size: int = 0  # set from the vocabulary when the model is built
    embed_dim: int = 128
    hidden_size: int = 256  # decoder size; the encoder runs half of it each way
    num_layers: int = 1
    attention: Literal["none", "dot", "general", "additive"] = "additive"
    dropout: float = 0.2
    freeze_embedding: bool = False
    copy: bool = False  # pointer-generator: answers may copy source tokens (needs attention)
    choices: int = 0  # retrieved answers in the source it may answer with whole (0 = none)
    pad_id: int = 0
    sos_id: int = 2
    eos_id: int = 3

    def __post_init__(self) -> None:
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {self.attention!r}")
        check_ranges(
            self,
            at_least_one=("embed_dim", "hidden_size", "num_layers"),
            non_negative=("vocab_size", "choices"),
            below_one=("dropout",),
        )
        if self.copy and self.attention == "none":
            raise ValueError("copy reads the attention weights: choose an attention, not 'none'")
        if self.hidden_size % 2:
            raise ValueError(
                f"hidden_size must be even (two encoder directions): {self.hidden_size}"
            )


class Attention(nn.Module):
    """Scores every decoder state against every encoder state; padding gets no weight."""

    def __init__(self, kind: str, size: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "general":
            self.w = nn.Linear(size, size, bias=False)
        elif kind == "additive":
            self.w_query = nn.Linear(size, size, bias=False)
            self.w_key = nn.Linear(size, size)
            self.v = nn.Linear(size, 1, bias=False)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query [B, Tq, H], keys [B, Ts, H], mask [B, Ts] -> (context [B, Tq, H], weights)."""
        if self.kind == "dot":
            scores = query @ keys.transpose(1, 2)
        elif self.kind == "general":
            scores = query @ self.w(keys).transpose(1, 2)
        else:
            hidden = torch.tanh(self.w_query(query)[:, :, None] + self.w_key(keys)[:, None])
            scores = self.v(hidden).squeeze(-1)
        weights = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        return weights @ keys, weights


class Memory(NamedTuple):
    """What the decoder reads: encoder states [B, S, H], their mask [B, S] and the source ids
    [B, S] (what the copy path copies); rows are selected and repeated together in decoding."""

    states: torch.Tensor
    mask: torch.Tensor
    ids: torch.Tensor

    def rows(self, index: torch.Tensor) -> Memory:
        return Memory(*(t[index] for t in self))

    def repeat(self, k: int) -> Memory:
        return Memory(*(t.repeat_interleave(k, 0) for t in self))


class Seq2Seq(nn.Module):
    def __init__(self, config: Seq2SeqConfig, embedding: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        size = config.hidden_size
        # One vocabulary and one embedding for questions and answers.
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        load_embedding(self.embedding, embedding, config.freeze_embedding)
        dropout = config.dropout if config.num_layers > 1 else 0.0
        self.encoder = nn.LSTM(
            config.embed_dim,
            size // 2,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout,
        )
        self.decoder = nn.LSTM(
            config.embed_dim, size, num_layers=config.num_layers, batch_first=True, dropout=dropout
        )
        self.attention = Attention(config.attention, size) if config.attention != "none" else None
        self.combine = nn.Linear(2 * size, size) if self.attention else None
        # The copy gate reads the decoder state and the context: p(generate from vocabulary).
        self.gate = nn.Linear(2 * size, 1) if config.copy else None
        if config.choices:  # scores: write an answer (from the question), or take answer i
            self.write = nn.Linear(size, 1)
            self.choose = nn.Sequential(nn.Linear(3 * size, size), nn.Tanh(), nn.Linear(size, 1))
            # Retrieval ranks its answers, the first most often right: a prior per rank.
            self.rank = nn.Parameter(torch.zeros(config.choices))
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(size, config.vocab_size)

    def encode(self, src: torch.Tensor, lengths: torch.Tensor):
        """-> (Memory of the source, decoder start state (h, c) [L, B, H] each)."""
        lengths = lengths.clamp(min=1)
        mask = torch.arange(src.size(1), device=src.device)[None] < lengths.to(src.device)[:, None]
        embedded = self.dropout(self.embedding(src))
        if int(lengths.min()) >= src.size(1):  # questions of one length: dense, no packing
            states, (h, c) = self.encoder(embedded)
        else:  # packed, so the backward direction never reads padding
            packed = pack_padded_sequence(
                embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            output, (h, c) = self.encoder(packed)
            states, _ = pad_packed_sequence(output, batch_first=True, total_length=src.size(1))
        layers, batch = self.config.num_layers, src.size(0)

        def join(x: torch.Tensor) -> torch.Tensor:  # [2L, B, H/2] -> [L, B, H]
            x = x.view(layers, 2, batch, -1)
            return torch.cat([x[:, 0], x[:, 1]], dim=-1).contiguous()

        return Memory(states, mask, src), (join(h), join(c))

    def _logits(self, decoded: torch.Tensor, memory: Memory) -> torch.Tensor:
        """Scores [B, T, V]: logits, or with ``copy`` log-probabilities (the mixture is already
        normalised, so softmax, cross-entropy and argmax read both alike)."""
        if self.attention is None:
            return self.out(self.dropout(decoded))
        context, weights = self.attention(decoded, memory.states, memory.mask)
        both = torch.cat([decoded, context], dim=-1)
        logits = self.out(self.dropout(torch.tanh(self.combine(both))))
        if self.gate is None:
            return logits
        generate = torch.sigmoid(self.gate(both).float())  # [B, T, 1]
        ids = memory.ids[:, None].expand(-1, decoded.size(1), -1)
        copied = torch.zeros_like(logits, dtype=torch.float).scatter_add_(
            2, ids, weights.float() * (1 - generate)
        )
        return (logits.float().softmax(-1) * generate + copied).clamp_min(1e-12).log()

    def step(self, tokens: torch.Tensor, state, memory: Memory):
        """One decoder step for tokens [B] -> (scores [B, V], new state)."""
        decoded, state = self.decoder(self.dropout(self.embedding(tokens[:, None])), state)
        return self._logits(decoded, memory)[:, 0], state

    def _choice_logits(self, memory: Memory) -> torch.Tensor:
        """[B, 1 + choices]: column 0 writes an answer, column i takes retrieved answer i (-inf
        where the source has no answer i). The source's parts are the texts between <eos>s."""
        cfg = self.config
        separator = memory.ids == cfg.eos_id
        part = separator.long().cumsum(1).clamp(max=cfg.choices)  # more answers: the last
        part = part.masked_fill(separator | ~memory.mask, -1)
        member = nn.functional.one_hot(part + 1, cfg.choices + 2)[..., 1:].float()  # [B, S, 1+c]
        counts = member.sum(1)  # [B, 1+c]
        means = (member.transpose(1, 2) @ memory.states.float()) / counts.clamp(min=1)[..., None]
        question, answers = means[:, :1], means[:, 1:]
        both = torch.cat([question.expand_as(answers), answers, question * answers], dim=-1)
        take = self.choose(both).squeeze(-1) + self.rank
        take = take.masked_fill(counts[:, 1:] == 0, float("-inf"))
        return torch.cat([self.write(question[:, 0]), take], dim=-1)

    @staticmethod
    def parts(source: list[int], sep: int) -> list[list[int]]:
        """The retrieved answers a source carries after its question."""
        out: list[list[int]] = []
        for token in source:
            if token == sep:
                out.append([])
            elif out:
                out[-1].append(token)
        return out

    def choice_labels(self, src: torch.Tensor, tgt_out: torch.Tensor) -> torch.Tensor:
        """[B]: the first retrieved answer that is the expected answer (1-based), else 0."""
        cfg = self.config
        labels = []
        for source, target in zip(src.tolist(), tgt_out.tolist(), strict=True):
            answer = target[: target.index(cfg.eos_id)] if cfg.eos_id in target else target
            found = self.parts(source, cfg.eos_id)[: cfg.choices]
            labels.append(next((i + 1 for i, a in enumerate(found) if a == answer), 0))
        return torch.tensor(labels, device=src.device)

    @torch.no_grad()
    def preferences(
        self, src: torch.Tensor, src_lengths: torch.Tensor
    ) -> list[tuple[list[int], float]]:
        """Per row: the nearest retrieved answer (the first), and how much the choice head
        prefers answering with a retrieved answer to writing one (log-odds: the scores of all
        retrieved answers together against writing; -inf when the model has no choice head or
        the source no retrieved answer). The nearest, not the head's favourite: on ChatbotData
        the head ranks the retrieved answers worse than retrieval does (BENCHMARKS.md)."""
        if not self.config.choices:
            return [([], float("-inf"))] * src.size(0)
        memory, _ = self.encode(src, src_lengths)
        logits = self._choice_logits(memory).float()
        margins = (logits[:, 1:].logsumexp(-1) - logits[:, 0]).tolist()
        return [
            (self.parts(source, self.config.eos_id)[0] if m > float("-inf") else [], m)
            for source, m in zip(src.tolist(), margins, strict=True)
        ]

    def forward(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        tgt_in: torch.Tensor,
        teacher_forcing: float = 1.0,
        with_choice: bool = False,
    ):
        """Logits [B, T, V] for tgt_in [B, T] (<sos> + answer). With teacher_forcing < 1 each step
        feeds, with that probability, the reference token, else the model's own last guess.
        ``with_choice``: (logits, choice logits [B, 1 + choices])."""
        memory, state = self.encode(src, src_lengths)
        logits = self._decode(memory, state, tgt_in, teacher_forcing)
        return (logits, self._choice_logits(memory)) if with_choice else logits

    def _decode(self, memory: Memory, state, tgt_in: torch.Tensor, teacher_forcing: float):
        if teacher_forcing >= 1.0:  # the whole answer in one cuDNN call
            decoded, _ = self.decoder(self.dropout(self.embedding(tgt_in)), state)
            return self._logits(decoded, memory)
        steps, tokens = [], tgt_in[:, 0]
        for t in range(tgt_in.size(1)):
            logits, state = self.step(tokens, state, memory)
            steps.append(logits)
            if t + 1 < tgt_in.size(1):
                use_reference = torch.rand(()) < teacher_forcing
                tokens = tgt_in[:, t + 1] if use_reference else logits.argmax(-1)
        return torch.stack(steps, dim=1)

    def _constrain(
        self, logp: torch.Tensor, history: torch.Tensor, no_repeat_ngram: int, min_len: int
    ) -> torch.Tensor:
        """Decoding rules on next-token scores [R, V] after ``history`` [R, t]: never padding,
        <unk> or <sos>; no <eos> before ``min_len`` tokens (no empty answers); no token that
        would repeat an n-gram of the answer so far (``no_repeat_ngram`` = n; 0 = off), the
        loop small chatbots fall into."""
        cfg = self.config
        logp[:, [cfg.pad_id, 1, cfg.sos_id]] = float("-inf")  # 1 = <unk>
        if history.size(1) < min_len:
            logp[:, cfg.eos_id] = float("-inf")
        n = no_repeat_ngram
        if n and history.size(1) >= n:
            grams = history.unfold(1, n, 1)  # [R, t - n + 1, n]
            prefix = history[:, history.size(1) - n + 1 :]  # the last n - 1 tokens
            rows, starts = (grams[:, :, :-1] == prefix[:, None]).all(-1).nonzero(as_tuple=True)
            logp[rows, grams[rows, starts, -1]] = float("-inf")
        return logp

    @torch.no_grad()
    def greedy(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        max_len: int,
        no_repeat_ngram: int = 0,
        min_len: int = 1,
    ) -> list[list[int]]:
        memory, (h, c) = self.encode(src, src_lengths)
        history = torch.full(
            (src.size(0), max_len), self.config.pad_id, dtype=torch.long, device=src.device
        )
        # Finished answers leave the batch, so the steps left cost only the rows still talking
        # (answers vary in length; the longest would otherwise keep every row decoding).
        live = torch.arange(src.size(0), device=src.device)
        tokens = torch.full_like(live, self.config.sos_id)
        for t in range(max_len):
            logits, (h, c) = self.step(tokens, (h, c), memory)
            logp = self._constrain(logits.float(), history[live, :t], no_repeat_ngram, min_len)
            tokens = logp.argmax(-1)
            history[live, t] = tokens
            talking = tokens != self.config.eos_id
            if not bool(talking.all()):
                if not bool(talking.any()):
                    break
                live, tokens = live[talking], tokens[talking]
                h, c = h[:, talking], c[:, talking]
                memory = memory.rows(talking)
        return self._strip(history)

    @torch.no_grad()
    def beam_search(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        max_len: int,
        beam: int = 5,
        length_penalty: float = 1.0,
        no_repeat_ngram: int = 0,
        min_len: int = 1,
    ) -> list[list[int]]:
        """Batched beam search. A hypothesis that emits <eos> leaves the beam for its row's
        finished pool, scored log-probability / ((5 + length) / 6) ** alpha (Wu et al. 2016),
        and the beam is refilled from the next candidates, so finished answers are never
        pushed out by live ones. The best finished answer wins; an answer cut at ``max_len``
        only when nothing finished. Beam 1 is greedy decoding."""
        if beam <= 1:
            return self.greedy(src, src_lengths, max_len, no_repeat_ngram, min_len)
        if length_penalty < 0:  # the bound that settles a row needs a growing divisor
            raise ValueError(f"length_penalty must be 0 or more, not {length_penalty}")
        cfg = self.config
        batch, k, device = src.size(0), beam, src.device
        memory, (h, c) = self.encode(src, src_lengths)
        memory = memory.repeat(k)
        h, c = h.repeat_interleave(k, 1), c.repeat_interleave(k, 1)
        scores = torch.full((batch, k), float("-inf"), device=device)
        scores[:, 0] = 0.0  # every beam starts as the same <sos>: keep one
        tokens = torch.full((batch * k,), cfg.sos_id, device=device)
        history = torch.empty(batch * k, 0, dtype=torch.long, device=device)
        best = torch.full((batch,), float("-inf"), device=device)  # finished pool: the best
        answers = torch.full((batch, max_len), cfg.pad_id, dtype=torch.long, device=device)
        live = torch.arange(batch, device=device)  # rows still searching
        for step in range(max_len):
            logits, (h, c) = self.step(tokens, (h, c), memory)
            logp = self._constrain(
                logits.float().log_softmax(-1), history, no_repeat_ngram, min_len
            )
            n, vocab = scores.size(0), logp.size(-1)
            rows = torch.arange(n, device=device)
            candidates = (scores.view(-1, 1) + logp).view(n, k * vocab)
            # 2k candidates: at most k end with <eos> (one per beam), so k live ones remain.
            top, index = candidates.topk(min(2 * k, k * vocab), dim=-1)
            parent = rows[:, None] * k + index // vocab
            token = index % vocab
            ended = (token == cfg.eos_id) & torch.isfinite(top)
            penalised = (top / ((5.0 + step + 1) / 6.0) ** length_penalty).masked_fill(
                ~ended, float("-inf")
            )
            value, pick = penalised.max(-1)
            better = value > best[live]
            if better.any():
                won = live[better]
                best[won] = value[better]
                answers[won, :step] = history[parent[rows, pick][better]]
                answers[won, step:] = cfg.pad_id
            # The k best candidates that did not end continue.
            continuing = (~ended).cumsum(-1) <= k
            keep = (~ended & continuing).nonzero(as_tuple=True)
            scores = top[keep].view(n, k)
            parent, tokens = parent[keep], token[keep]
            h, c = h[:, parent], c[:, parent]
            history = torch.cat([history[parent], tokens[:, None]], dim=1)
            # A row is settled once even its best live hypothesis's best possible future (the
            # largest length divisor, no further loss) scores below its finished best; settled
            # rows leave the batch, so the steps left cost only the rows still searching.
            bound = scores.max(-1).values / ((5.0 + max_len) / 6.0) ** length_penalty
            finished = best[live]
            searching = ~(torch.isfinite(finished) & (finished >= bound))
            if not bool(searching.any()):
                break
            if not bool(searching.all()):
                beams = searching.repeat_interleave(k)
                live, scores = live[searching], scores[searching]
                tokens, history = tokens[beams], history[beams]
                h, c = h[:, beams], c[:, beams]
                memory = memory.rows(beams)
        cut = ~torch.isfinite(best[live])  # nothing finished: the best live hypothesis, cut
        if cut.any():
            width = history.size(1)
            paths = history.view(live.numel(), k, -1)[cut, scores[cut].argmax(-1)]
            answers[live[cut], :width] = paths
        return self._strip(answers)

    def _strip(self, ids: torch.Tensor) -> list[list[int]]:
        """Token ids up to (not including) <eos>, padding dropped."""
        out = []
        for row in ids.tolist():
            if self.config.eos_id in row:
                row = row[: row.index(self.config.eos_id)]
            out.append([t for t in row if t != self.config.pad_id])
        return out


def decoder_from_lm(
    lm_state: dict[str, torch.Tensor], config: Seq2SeqConfig, rows: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The decoder's share of a forward language model's state dict (``models.lm``, over the
    same units; ``rows``: the LM's id of each of this model's ids), as this model's keys: its
    first ``num_layers`` LSTM layers, and with no attention (the output reads the decoder
    alone) its output layer. {} where a layer's sizes are not the decoder's."""
    size, start = config.hidden_size, {}
    for i in range(config.num_layers):
        ih = lm_state.get(f"rnns.{i}.weight_ih_l0")  # [4 x its width, its input's]
        if ih is None or tuple(ih.shape) != (4 * size, config.embed_dim if i == 0 else size):
            return {}
        for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            start[f"decoder.{part}_l{i}"] = lm_state[f"rnns.{i}.{part}_l0"].clone()
    head = lm_state.get("head.weight")  # a plain softmax; an adaptive one has no such rows
    # The LM's head reads its last layer: the decoder's last must be that one.
    top = f"rnns.{config.num_layers}.weight_ih_l0" not in lm_state
    if config.attention == "none" and head is not None and top:
        start["out.weight"] = head[rows].clone()
        start["out.bias"] = lm_state["head.bias"][rows].clone()
    return start


def load_start(model: Seq2Seq, start: dict[str, torch.Tensor]) -> None:
    """Load a partial state dict (``decoder_from_lm``) into ``model``; its other weights stay."""
    unexpected = model.load_state_dict(start, strict=False).unexpected_keys
    if unexpected:
        raise ValueError(f"a start for another model: {unexpected} are not this model's weights")

"""Training speed: tokens/s of one pass of training, on real tokens at the full profile's shapes.

    KORFLOW_DATA_MIRROR=../shared/data python benchmarks/training_speed.py all [--threads 1 2]
    KORFLOW_DATA_MIRROR=../shared/data python benchmarks/training_speed.py all --repeat 2
    KORFLOW_DATA_MIRROR=../shared/data python benchmarks/training_speed.py job classifier project 2

Rows, for the sentiment classifier (NSMC train, MeCab morphemes, the full profile's model:
BiLSTM 128, embeddings 100, max pooling, the n-gram bag beside it, batch 256, AdamW) and the
seq2seq model at the full profile's shapes (ChatbotData, MeCab morphemes with the
word-boundary unit; since issue 11: embeddings 128, encoder 2x256, decoder 512, batch 64,
AdamW):

- ``project``: ``models.train`` as the flows run it (length-aware batches; dense RNN on
  equal-length batches, packed on the rare mixed ones; the classifier with its token and
  n-gram dropout and the moving average of its weights), the training loop's own timing;
- ``random``: the same loop with ``batching="random"``, the step before length-aware batching
  (random batches, padded, packed);
- ``bare``: the machine's practical limit, bare torch: ``nn.Embedding`` -> ``nn.LSTM`` -> (max,
  beside it ``nn.EmbeddingBag`` over n-gram ids built once) -> ``nn.Linear`` on dense batches
  of exactly equal length built once, fused AdamW, nothing around it.

Tokens are real tokens (no padding): documents for the classifier, questions + answers (with
<eos>) for seq2seq. Each row runs in a fresh process with ``torch.set_num_threads(N)``; run it
on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import peak_mb, run_jobs  # noqa: E402

CACHE = Path(os.environ.get("KORFLOW_BENCH_CACHE", "/tmp/korflow-bench"))


def _mirror() -> Path:
    return Path(os.environ["KORFLOW_DATA_MIRROR"])


def nsmc_ids():
    """(ids, labels, vocabulary size) of NSMC train, cleaned and MeCab-tokenized as the corpus
    stage does, vocabulary as the sentiment stage builds it (min count 2, 50K, 80 tokens)."""
    path = CACHE / "nsmc-reviews.pt"
    if not path.exists():
        import torch

        from korean.clean import REVIEWS, Cleaner
        from korean.morphemes import TokenizerConfig, get_tokenizer
        from korean.nsmc import parse_nsmc
        from models.data import Vocab

        with open(_mirror() / "nsmc" / "ratings_train.txt", "rb") as f:
            table = parse_nsmc(f)
        clean, tokenize = Cleaner(REVIEWS), get_tokenizer(TokenizerConfig())
        tokens = [tokenize(clean(d)) for d in table.documents]
        vocab = Vocab.build(tokens, 2, 50_000)
        ids = [vocab.encode(t, 80) for t in tokens]
        CACHE.mkdir(parents=True, exist_ok=True)
        torch.save({"ids": ids, "labels": table.labels, "vocab": len(vocab)}, path)
    import torch

    blob = torch.load(path)
    return blob["ids"], blob["labels"], blob["vocab"]


def chatbot_ids():
    """(question ids, answer ids, vocabulary size) of every ChatbotData pair, in the seq2seq
    stage's default units (MeCab morphemes with the word-boundary unit, 40 units at most)."""
    path = CACHE / "chatbot.pt"
    if not path.exists():
        import torch

        from korean import chatbot
        from korean.clean import CleanConfig, Cleaner
        from korean.morphemes import TokenizerConfig, get_tokenizer
        from models.data import EOS, SOS, Vocab

        text = (_mirror() / "chatbot" / "ChatbotData.csv").read_text(encoding="utf-8")
        table = chatbot.parse_chatbot(text)
        clean = Cleaner(CleanConfig(keep_digits=True, keep_latin=True, removed_to_space=True))
        morphs = get_tokenizer(TokenizerConfig()).morphs
        q = [chatbot.to_units(clean(t), "morpheme", morphs) for t in table.questions]
        a = [chatbot.to_units(clean(t), "morpheme", morphs) for t in table.answers]
        vocab = Vocab.build([*q, *a], 1, 20_000, (SOS, EOS))
        CACHE.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "src": [vocab.encode(s, 40) for s in q],
                "tgt": [vocab.encode(s, 40) for s in a],
                "vocab": len(vocab),
            },
            path,
        )
    import torch

    blob = torch.load(path)
    return blob["src"], blob["tgt"], blob["vocab"]


def _classifier_cfg(vocab: int):
    from korflow.core.config.resolve import stage_config

    stage = stage_config("sentiment", "full")
    from dataclasses import replace

    return replace(stage.model, vocab_size=vocab), replace(stage.train, epochs=1)


def _seq2seq_cfg(vocab: int, attention: str):
    from dataclasses import replace

    from korflow.core.config.resolve import stage_config

    stage = stage_config("seq2seq", "full")
    model = replace(stage.model, vocab_size=vocab, attention=attention)
    return model, replace(stage.train, epochs=1)


def project_classifier(batching: str) -> tuple[float, int]:
    """(seconds, real tokens) of one epoch of ``models.train.train`` at the full profile."""
    from dataclasses import replace

    import torch

    from models.classifier import TextClassifier
    from models.data import SequenceDataset
    from models.train import train

    ids, labels, vocab = nsmc_ids()
    model_cfg, train_cfg = _classifier_cfg(vocab)
    torch.manual_seed(0)
    data, val = SequenceDataset(ids, labels), SequenceDataset(ids[:512], labels[:512])
    result = train(TextClassifier(model_cfg), data, val, replace(train_cfg, batching=batching))
    return result.history[0]["epoch_seconds"], sum(map(len, ids))


def project_seq2seq(batching: str, attention: str) -> tuple[float, int]:
    from dataclasses import replace

    import torch

    from models.data import PairDataset
    from models.seq2seq import Seq2Seq
    from models.seq2seq_train import train_seq2seq

    src, tgt, vocab = chatbot_ids()
    model_cfg, train_cfg = _seq2seq_cfg(vocab, attention)
    torch.manual_seed(0)
    data, val = PairDataset(src, tgt), PairDataset(src[:256], tgt[:256])
    result = train_seq2seq(Seq2Seq(model_cfg), data, val, replace(train_cfg, batching=batching))
    return result.history[0]["epoch_seconds"], sum(map(len, src)) + sum(len(t) + 1 for t in tgt)


def _equal_length_batches(keys: list[tuple], batch_size: int) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return [g[i : i + batch_size] for g in groups.values() for i in range(0, len(g), batch_size)]


def bare_classifier() -> tuple[float, int]:
    """Embedding -> BiLSTM -> max (+ n-gram bag) -> linear, AdamW, on equal-length batches
    built once."""
    import torch
    from torch import nn

    from models.classifier import ngram_ids

    ids, labels, vocab = nsmc_ids()
    model_cfg, train_cfg = _classifier_cfg(vocab)
    buckets, size = model_cfg.ngram_buckets, 2 * model_cfg.hidden_size
    batches = []
    for b in _equal_length_batches([(len(s),) for s in ids], train_cfg.batch_size):
        x = torch.tensor([ids[i] for i in b])
        bag = ngram_ids(x, torch.full((len(b),), x.size(1)), vocab, buckets) if buckets else None
        batches.append((x, bag, torch.tensor([labels[i] for i in b])))
    torch.manual_seed(0)
    embed = nn.Embedding(vocab, model_cfg.embed_dim)
    lstm = nn.LSTM(model_cfg.embed_dim, model_cfg.hidden_size, batch_first=True, bidirectional=True)
    modules = [embed, lstm]
    if buckets:
        ngrams = nn.EmbeddingBag(vocab + buckets, model_cfg.ngram_dim, padding_idx=0)
        modules.append(ngrams)
        size += model_cfg.ngram_dim
    out = nn.Linear(size, 2)
    params = [p for m in (*modules, out) for p in m.parameters()]
    optimizer = torch.optim.AdamW(params, lr=train_cfg.lr, fused=True)
    started = time.perf_counter()
    for x, bag, y in batches:
        states, _ = lstm(embed(x))
        features = states.max(1).values
        if bag is not None:
            features = torch.cat([features, ngrams(bag)], -1)
        loss = nn.functional.cross_entropy(out(features), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started, sum(map(len, ids))


def bare_seq2seq() -> tuple[float, int]:
    """Embedding -> BiLSTM encoder -> LSTM decoder from its final state -> linear, no
    attention, AdamW, on batches of equal question and equal answer length built once."""
    import torch
    from torch import nn

    src, tgt, vocab = chatbot_ids()
    model_cfg, train_cfg = _seq2seq_cfg(vocab, "none")
    size, batch_size = model_cfg.hidden_size, train_cfg.batch_size
    batches = []
    keys = [(len(s), len(t)) for s, t in zip(src, tgt, strict=True)]
    for b in _equal_length_batches(keys, batch_size):
        batches.append(
            (
                torch.tensor([src[i] for i in b]),
                torch.tensor([[2, *tgt[i]] for i in b]),
                torch.tensor([[*tgt[i], 3] for i in b]),
            )
        )
    torch.manual_seed(0)
    embed = nn.Embedding(vocab, model_cfg.embed_dim)
    encoder = nn.LSTM(model_cfg.embed_dim, size // 2, batch_first=True, bidirectional=True)
    decoder = nn.LSTM(model_cfg.embed_dim, size, batch_first=True)
    out = nn.Linear(size, vocab)
    modules = (embed, encoder, decoder, out)
    params = [p for m in modules for p in m.parameters()]
    optimizer = torch.optim.AdamW(params, lr=train_cfg.lr, fused=True)
    started = time.perf_counter()
    for s, t_in, t_out in batches:
        _, (h, c) = encoder(embed(s))
        state = tuple(torch.cat([x[0], x[1]], -1)[None] for x in (h, c))
        decoded, _ = decoder(embed(t_in), state)
        loss = nn.functional.cross_entropy(out(decoded).flatten(0, 1), t_out.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started, sum(map(len, src)) + sum(len(t) + 1 for t in tgt)


JOBS = {
    ("classifier", "project"): lambda: project_classifier("length"),
    ("classifier", "random"): lambda: project_classifier("random"),
    ("classifier", "bare"): bare_classifier,
    ("seq2seq", "project"): lambda: project_seq2seq("length", "none"),
    ("seq2seq", "random"): lambda: project_seq2seq("random", "none"),
    ("seq2seq", "bare"): bare_seq2seq,
    ("seq2seq", "project-additive"): lambda: project_seq2seq("length", "additive"),
    ("seq2seq", "random-additive"): lambda: project_seq2seq("random", "additive"),
}


def job(model: str, variant: str, threads: int, repeat: int = 1) -> dict:
    import torch

    torch.set_num_threads(threads)
    # The fastest of ``repeat`` passes: on a shared VM a pass can run 15% slow.
    seconds, tokens = min(JOBS[model, variant]() for _ in range(repeat))
    return {
        "model": model,
        "variant": variant,
        "threads": threads,
        "seconds": round(seconds, 1),
        "tokens_per_s": round(tokens / seconds),
        "peak_rss_mb": peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["job", "all", "data"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="passes per row, fastest kept")
    a = parser.parse_args()
    if a.what == "data":  # tokenize once, before the timed jobs
        nsmc_ids(), chatbot_ids()
        return
    if a.what == "job":
        print(json.dumps(job(a.args[0], a.args[1], int(a.args[2]), a.repeat)))
        return
    nsmc_ids(), chatbot_ids()
    jobs = [[m, v, str(t)] for (m, v) in JOBS for t in a.threads]
    rows = run_jobs(__file__, [["job", *j, f"--repeat={a.repeat}"] for j in jobs])
    speed = {(r["model"], r["variant"], r["threads"]): r["tokens_per_s"] for r in rows}
    print("| model | step | threads | tokens/s | x random | / bare | s per pass |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        key = (r["model"], r["variant"].split("-")[0], r["threads"])
        suffix = "-" + r["variant"].split("-")[1] if "-" in r["variant"] else ""
        random_ = speed.get((key[0], "random" + suffix, key[2]))
        bare = speed.get((key[0], "bare", key[2]))
        print(
            f"| {r['model']} | {r['variant']} | {r['threads']} | {r['tokens_per_s']:,} | "
            f"{r['tokens_per_s'] / random_:.2f} | {r['tokens_per_s'] / bare:.2f} | "
            f"{r['seconds']} |"
            if random_ and bare
            else f"| {r['model']} | {r['variant']} | {r['threads']} | {r['tokens_per_s']:,} | "
            f"- | - | {r['seconds']} |"
        )


if __name__ == "__main__":
    main()

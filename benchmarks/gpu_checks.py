"""Every GPU check of the open issues in one call, for the device machine, which has torch with
CUDA but not Prefect, MLflow, gensim or KoNLPy: this reads ``models/`` alone.

    python benchmarks/gpu_checks.py [--stream DIR] [--minutes M] [--out DIR] [--tiny]

1. The device: its name and memory, torch's and CUDA's versions.
2. Issue 25: the language model's training tokens/s in fp32 and with AMP at the full profile's
   sizes (two 512-unit layers): over syllables (a plain softmax over ~4,000 types) and over
   morphemes (an adaptive softmax over 50,000 types; Zipf-distributed ids).
3. Issue 25: the syllable language model trained on ``--stream`` (a ``korflow lm`` data folder:
   ``train.pt``, ``wiki.pt``, ``nsmc.pt``, ``vocab.json``) for ``--minutes``, with AMP: held-out
   perplexity against units seen, the table BENCHMARKS.md asks for on a GPU.
4. Issue 26: the chatbot's encoder-decoder training step tokens/s in fp32 and with AMP.

Each check prints one JSON line on stdout (and to ``--out/gpu_checks.jsonl``); progress goes to
stderr. ``--tiny``: small sizes and a few steps, for the CPU (the test runs it so).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.lm import LanguageModel, LMConfig, adaptive_cutoffs  # noqa: E402
from models.lm_train import LMTrainConfig, batchify, train_lm, windows  # noqa: E402
from models.seq2seq import Seq2Seq, Seq2SeqConfig  # noqa: E402
from models.train import pick_device  # noqa: E402


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def device_info(device: torch.device) -> dict:
    info = {"check": "device", "torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info |= {"name": props.name, "memory_gb": round(props.total_memory / 2**30, 1)}
        info["cuda"] = torch.version.cuda
    return info


def zipf_ids(n: int, vocab: int, seed: int = 0) -> torch.Tensor:
    """``n`` ids in 4..vocab-1 drawn with Zipf frequencies (ids frequency-ordered, as the
    LM stage numbers them)."""
    weights = 1.0 / torch.arange(1, vocab - 3, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    return torch.multinomial(weights, n, replacement=True, generator=generator) + 4


def _timed(step, device: torch.device, steps: int) -> float:
    """Seconds a step takes, after two warm-up steps."""
    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - started) / steps


def fp32_and_amp(row: dict, build, loss_of, tokens: int, steps: int, device) -> dict:
    """``row`` with the training tokens/s of ``build()``'s model (its loss ``loss_of(model)``
    over ``tokens`` tokens a step) in fp32 and, on CUDA, with AMP (float16 with a scaler, as
    the trainings in ``models/`` use it)."""
    for amp in (False, True) if device.type == "cuda" else (False,):
        torch.manual_seed(0)
        model = build().to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        scaler = torch.amp.GradScaler(device.type, enabled=amp)

        def step(model=model, optimizer=optimizer, scaler=scaler, amp=amp):
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                loss = loss_of(model)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

        seconds = _timed(step, device, steps)
        row["amp_tokens_per_s" if amp else "fp32_tokens_per_s"] = round(tokens / seconds)
    if "amp_tokens_per_s" in row:
        row["amp_speedup"] = round(row["amp_tokens_per_s"] / row["fp32_tokens_per_s"], 2)
    return row


def lm_speed(unit: str, vocab: int, cfg: LMConfig, batch: int, bptt: int, steps: int, device):
    """Training tokens/s of one language model, fp32 against AMP."""
    cfg = replace(cfg, vocab_size=vocab, cutoffs=adaptive_cutoffs(vocab))
    data = batchify(zipf_ids(batch * bptt * 4, vocab), batch).to(device)
    x, y = next(windows(data, bptt))
    row = {"check": "lm_speed", "unit": unit, "vocab": vocab, "batch": batch, "bptt": bptt}

    def loss_of(model):
        return model.loss(model(x)[0], y)

    return fp32_and_amp(row, lambda: LanguageModel(cfg), loss_of, x.numel(), steps, device)


def lm_on_stream(
    folder: Path, cfg: LMConfig, minutes: float, batch: int, bptt: int, device
) -> dict:
    """The syllable LM trained on a ``korflow lm`` data folder for about ``minutes``."""
    stream = torch.load(folder / "train.pt").long()
    heldout = {name: torch.load(folder / f"{name}.pt").long() for name in ("wiki", "nsmc")}
    vocab = len(json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
    cfg = replace(cfg, vocab_size=vocab, cutoffs=adaptive_cutoffs(vocab))
    model = LanguageModel(cfg)
    # One pass, in rounds sized from a first measured round: the budget decides the passes.
    rounds, curve = 8, []
    train = LMTrainConfig(epochs=1, batch_size=batch, bptt=bptt, lr=3e-3, rounds_per_epoch=rounds)
    started = time.perf_counter()

    def on_round(log: dict) -> None:
        curve.append({k: round(v, 2) for k, v in log.items() if isinstance(v, float | int)})
        say(f"lm round {log['epoch']}: val ppl {log['val_perplexity']:.2f}")
        if time.perf_counter() - started > minutes * 60:
            raise TimeoutError

    with contextlib.suppress(TimeoutError):  # the budget ends it
        train_lm(model, stream, heldout, replace(train, device=str(device)), on_epoch=on_round)
    return {
        "check": "lm_stream",
        "units": stream.numel(),
        "vocab": vocab,
        "seconds": round(time.perf_counter() - started),
        "curve": curve,
    }


def seq2seq_speed(vocab: int, hidden: int, batch: int, length: int, steps: int, device) -> dict:
    """The chatbot's training step (teacher forcing, with attention) tokens/s, fp32 and AMP."""
    cfg = Seq2SeqConfig(vocab_size=vocab, embed_dim=hidden, hidden_size=hidden)
    src = zipf_ids(batch * length, vocab).view(batch, length).to(device)
    tgt = zipf_ids(batch * length, vocab, seed=1).view(batch, length).to(device)
    lengths = torch.full((batch,), length, dtype=torch.long)
    row = {"check": "seq2seq_speed", "vocab": vocab, "batch": batch, "length": length}

    def loss_of(model):
        logits = model(src, lengths, tgt[:, :-1]).float()
        return torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), tgt[:, 1:].reshape(-1))

    return fp32_and_amp(row, lambda: Seq2Seq(cfg), loss_of, batch * length, steps, device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stream", type=Path, help="a `korflow lm` syllable data folder")
    parser.add_argument("--minutes", type=float, default=4.0, help="for the LM on --stream")
    parser.add_argument("--out", type=Path, default=Path("."), help="where gpu_checks.jsonl goes")
    parser.add_argument("--tiny", action="store_true", help="small sizes (a CPU smoke test)")
    a = parser.parse_args(argv)
    device = pick_device("auto")
    tiny = a.tiny
    cfg = LMConfig(embed_dim=16, hidden_size=16) if tiny else LMConfig()
    batch, bptt, steps = (4, 8, 2) if tiny else (64, 64, 20)
    checks = [
        lambda: device_info(device),
        lambda: lm_speed("syllable", 60 if tiny else 4_000, cfg, batch, bptt, steps, device),
        lambda: lm_speed("morpheme", 200 if tiny else 50_000, cfg, batch, bptt, steps, device),
        lambda: seq2seq_speed(60 if tiny else 4_000, 16 if tiny else 256, batch, 12, steps, device),
    ]
    if a.stream:
        checks.append(lambda: lm_on_stream(a.stream, cfg, a.minutes, batch, bptt, device))
    a.out.mkdir(parents=True, exist_ok=True)
    with open(a.out / "gpu_checks.jsonl", "w", encoding="utf-8") as out:
        for check in checks:
            row = check()
            line = json.dumps(row, ensure_ascii=False)
            print(line, flush=True)
            out.write(line + "\n")


if __name__ == "__main__":
    main()

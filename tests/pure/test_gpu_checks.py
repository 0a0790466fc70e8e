"""The prepared GPU check script runs every check on a tiny scale (on the CPU here): what the
device machine runs in one call does not first fail there on a typo."""

from __future__ import annotations

import json

import torch

from benchmarks.gpu_checks import main


def test_every_gpu_check_runs_on_a_tiny_scale(tmp_path, capsys):
    stream = tmp_path / "stream"
    stream.mkdir()
    vocab = ["<pad>", "<unk>", "<sos>", "<eos>", *"가나다라마바사아자차"]
    pattern = torch.arange(4, len(vocab)).repeat(200)  # a stream a model can learn
    torch.save(pattern.int(), stream / "train.pt")
    for name in ("wiki", "nsmc"):
        torch.save(pattern[:200].int(), stream / f"{name}.pt")
    (stream / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    main(["--tiny", "--stream", str(stream), "--minutes", "5", "--out", str(tmp_path)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["check"] for r in rows] == [
        "device",
        "lm_speed",
        "lm_speed",
        "seq2seq_speed",
        "lm_stream",
    ]
    assert all(r["fp32_tokens_per_s"] > 0 for r in rows if r["check"].endswith("_speed"))
    curve = rows[-1]["curve"]
    assert len(curve) == 8 and curve[-1]["val_perplexity"] < curve[0]["val_perplexity"]
    assert (tmp_path / "gpu_checks.jsonl").read_text(encoding="utf-8").count("\n") == 5

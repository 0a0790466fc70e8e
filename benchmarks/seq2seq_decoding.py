"""Decoding settings of a trained seq2seq model, scored on the VALIDATION split only.

    python benchmarks/seq2seq_decoding.py KORFLOW_HOME/seq2seq/data/KEY \\
        KORFLOW_HOME/seq2seq/runs/ATTENTION-KEY/weights.pt \\
        '{"embed_dim": 128, "hidden_size": 512, "attention": "general"}' \\
        5:1.0:3 10:1.0:4 ...          # beam:length_penalty:no_repeat_ngram

Prints one line a setting: chrF, BLEU, distinct-n, distinct answers, mean answer length.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from korean import chatbot, generation  # noqa: E402
from models.data import Vocab, load_pairs  # noqa: E402
from models.seq2seq import Seq2Seq, Seq2SeqConfig  # noqa: E402
from models.seq2seq_train import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path)
    parser.add_argument("weights", type=Path)
    parser.add_argument("model", help="the model's settings (JSON), as it was trained")
    parser.add_argument("settings", nargs="+", help="beam:length_penalty:no_repeat_ngram")
    parser.add_argument("--max-answer-len", type=int, default=40)
    a = parser.parse_args()
    vocab = Vocab.load(a.data / "vocab.json")
    texts = json.loads((a.data / "texts.json").read_text(encoding="utf-8"))
    val = load_pairs(a.data / "val.pt")
    references = [r["answer"] for r in texts["val"]]
    model = Seq2Seq(Seq2SeqConfig(**{**json.loads(a.model), "vocab_size": len(vocab)}))
    model.load_state_dict(torch.load(a.weights, weights_only=True))
    for setting in a.settings:
        beam, penalty, ngram = setting.split(":")
        start = time.perf_counter()
        ids = generate(
            model,
            val.sources,
            a.max_answer_len,
            int(beam),
            float(penalty),
            no_repeat_ngram=int(ngram),
        )
        answers = [chatbot.detokenize(vocab.decode(i)) for i in ids]
        scores = generation.scores(answers, references)
        length = sum(map(len, answers)) / len(answers)
        print(
            json.dumps(
                {
                    "beam": int(beam),
                    "length_penalty": float(penalty),
                    "no_repeat_ngram": int(ngram),
                    **{k: round(v, 3) for k, v in scores.items()},
                    "mean_chars": round(length, 1),
                    "seconds": round(time.perf_counter() - start, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Seq2seq benchmark: the full-profile chatbot for each attention variant, greedy and beam
search, next to the most-frequent-answer and retrieval baselines, on the same test split.

    KORFLOW_HOME=... KORFLOW_DATA_MIRROR=... python benchmarks/seq2seq.py run additive
    KORFLOW_HOME=... KORFLOW_DATA_MIRROR=... python benchmarks/seq2seq.py all [--attentions ...]
    KORFLOW_HOME=... python benchmarks/seq2seq.py table RUN_ID ...   # runs of `korflow seq2seq`
    KORFLOW_HOME=... python benchmarks/seq2seq.py everyday RUN_ID   # a refine run's answers

``everyday``: the twenty everyday questions answered by the retrieval baseline (from the
training pairs the refine model ships) and by the model, as a markdown table.

Each variant trains in a fresh process (its own peak RSS); ``--set KEY=VALUE`` overrides the
profile as on the command line (e.g. ``--set train.epochs=10``).
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


def run(attention: str, sets: list[str]) -> dict:
    from korflow.core import settings

    settings.configure()
    os.environ.setdefault("KORFLOW_PROGRESS", "0")
    import mlflow

    from flows.seq2seq import seq2seq_flow
    from korflow.core.config.overrides import parse_overrides

    overrides = {**parse_overrides(sets), "attentions": [attention], "register_model": False}
    start = time.perf_counter()
    result = seq2seq_flow(
        profile="full", data_mirror=os.environ["KORFLOW_DATA_MIRROR"], overrides=overrides
    )
    summary = result.runs[0]
    m = mlflow.get_run(summary.run_id).data.metrics
    return {
        "attention": attention,
        **{k: m[k] for k in sorted(m) if k.startswith(("test_", "baseline_", "val_"))},
        "best_epoch": m["best_epoch"],
        "epoch_seconds": round(m["epoch_seconds"], 1),
        "wall_s": round(time.perf_counter() - start),
        "peak_rss_mb": peak_mb(),
        "duplicates": {k: v for k, v in result.duplicates.items() if k != "top_answers"},
        "run_id": summary.run_id,
    }


def logged(run_id: str) -> dict:
    """A row of the table from a logged seq2seq run (what `korflow seq2seq` wrote)."""
    from korflow.core import settings

    settings.configure()
    import mlflow

    run = mlflow.get_run(run_id)
    return {"attention": run.data.tags["korflow.attention"], **run.data.metrics}


def everyday(run_id: str) -> str:
    from korflow.core import registry, settings

    settings.configure()
    import mlflow

    from korean.chatbot import EVERYDAY_QUESTIONS
    from korean.generation import RetrievalBaseline
    from korflow.serving.chat_predictor import ChatPredictor
    from korflow.serving.model_folder import PAIRS

    folder = Path(
        mlflow.artifacts.download_artifacts(
            registry.resolve(f"runs:/{run_id}/model/artifacts/predictor")
        )
    )
    predictor = ChatPredictor.load(folder)
    pairs = json.loads((folder / PAIRS).read_text(encoding="utf-8"))
    questions = list(EVERYDAY_QUESTIONS)
    retrieved = RetrievalBaseline(pairs["question"], pairs["answer"])(
        [predictor.cleaned(q) for q in questions]
    )
    lines = ["| question | retrieval | refine |", "|---|---|---|"]
    for q, r, a in zip(questions, retrieved, predictor.answer(questions), strict=True):
        lines.append(f"| {q} | {r} | {a} |")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| model | decoding | BLEU | chrF | distinct answers | distinct-1 | distinct-2 "
        "| test perplexity | s / epoch | best epoch |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    first = rows[0]
    for name in ("frequent", "retrieval"):
        lines.append(
            f"| baseline: {name} | - | {first[f'baseline_{name}_bleu']:.2f} | "
            f"{first[f'baseline_{name}_chrf']:.2f} | "
            f"{first.get(f'baseline_{name}_distinct_answers', float('nan')):.3f} | "
            f"{first[f'baseline_{name}_distinct_1']:.3f} | "
            f"{first[f'baseline_{name}_distinct_2']:.3f} | - | - | - |"
        )
    for r in rows:
        for decoding, suffix in (("greedy", "_greedy"), ("beam", "")):
            lines.append(
                f"| LSTM, attention {r['attention']} | {decoding} | "
                f"{r[f'test_bleu{suffix}']:.2f} | {r[f'test_chrf{suffix}']:.2f} | "
                f"{r.get(f'test_distinct_answers{suffix}', float('nan')):.3f} | "
                f"{r[f'test_distinct_1{suffix}']:.3f} | "
                f"{r[f'test_distinct_2{suffix}']:.3f} | {r['test_perplexity']:.1f} | "
                f"{r['epoch_seconds']:.1f} | {r['best_epoch']:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["run", "all", "table", "everyday"])
    parser.add_argument("attention", nargs="*", help="run: the attention; table: run ids")
    parser.add_argument("--attentions", nargs="+", default=["none", "dot", "additive"])
    parser.add_argument("--set", dest="sets", action="append", default=[])
    a = parser.parse_args()
    if a.what == "run":
        print(json.dumps(run(a.attention[0], a.sets), ensure_ascii=False))
        return
    if a.what == "everyday":
        print(everyday(a.attention[0]))
        return
    if a.what == "table":
        print(table([logged(run_id) for run_id in a.attention]))
        return
    sets = [x for s in a.sets for x in ("--set", s)]
    rows = run_jobs(__file__, [["run", attention, *sets] for attention in a.attentions])
    if rows:
        print(table(rows))


if __name__ == "__main__":
    main()

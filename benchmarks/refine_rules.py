"""How a retrieve-and-refine run's answers could be chosen, on the validation split: what the
model writes, the nearest training answer, the answer the choice head ranks first, "the nearest
answer where its TF-IDF similarity reaches a threshold, else the written one", and a vote of the
N nearest questions' answers; with how often the expected answer is among the retrieved ones.

    KORFLOW_HOME=... python benchmarks/refine_rules.py RUN_ID

RUN_ID: a ``korflow seq2seq --attention refine`` run; its data folder must still be in
KORFLOW_HOME (the run's ``retrieve_answers`` output). Validation only: nothing here reads the
test split.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_id")
    run_id = parser.parse_args().run_id

    from korflow.core import registry, settings

    settings.configure()
    import mlflow
    import numpy as np
    import torch

    from korean.chatbot import detokenize, normalise
    from korean.generation import chrf
    from korean.retrieval import Retriever
    from korflow.serving.chat_predictor import ChatPredictor
    from models.data import collate_pairs
    from models.seq2seq_train import generate

    folder = Path(
        mlflow.artifacts.download_artifacts(
            registry.resolve(f"runs:/{run_id}/model/artifacts/predictor")
        )
    )
    predictor = ChatPredictor.load(folder)
    model, config = predictor.model, predictor.config
    data = next(settings.output_path("seq2seq", "data").glob(f"*-refine{config['retrieved']}"))
    texts = json.loads((data / "texts.json").read_text(encoding="utf-8"))
    train, rows = texts["train"], texts["val"]
    questions, references = [r["question"] for r in rows], [r["answer"] for r in rows]

    sources = predictor.sources(questions)
    written = [
        detokenize(predictor.vocab.decode(a))
        for a in generate(
            model,
            sources,
            int(config["max_answer_len"]),
            int(config["beam"]),
            float(config["length_penalty"]),
            no_repeat_ngram=int(config.get("no_repeat_ngram", 0)),
            take_bias=None,
        )
    ]
    with torch.no_grad():  # the choice head's scores: [write, answer 1, ..., answer k]
        batches = [
            collate_pairs([(s, []) for s in sources[i : i + 256]])
            for i in range(0, len(sources), 256)
        ]
        heads = torch.cat([model._choice_logits(model.encode(s, n)[0]) for s, n, _, _ in batches])
    retriever = Retriever([r["question"] for r in train], [r["answer"] for r in train])
    similarity = (retriever.vectorizer.transform(questions) @ retriever.matrix.T).toarray()
    nearest = [r["retrieved"] for r in rows]
    first = [found[0] for found in nearest]
    favourite = [
        found[int(heads[i, 1 : 1 + len(found)].argmax())] for i, found in enumerate(nearest)
    ]
    top = np.sort(similarity, axis=1)[:, -1]

    def vote(n: int, power: float) -> list[str]:
        out = []
        for i, order in enumerate(np.argsort(-similarity, axis=1, kind="stable")[:, :n]):
            votes: dict[str, float] = {}
            for j in order:
                key = normalise(train[j]["answer"])
                votes[key] = votes.get(key, 0.0) + similarity[i, j] ** power
            best = max(votes, key=votes.get)
            out.append(
                next(train[j]["answer"] for j in order if normalise(train[j]["answer"]) == best)
            )  # noqa: E501
        return out

    expected = [normalise(r) for r in references]
    is_first = np.mean([e == normalise(f[0]) for e, f in zip(expected, nearest, strict=True)])
    among = np.mean(
        [e in {normalise(a) for a in f} for e, f in zip(expected, nearest, strict=True)]
    )
    print(
        f"validation questions: {len(rows)}; the expected answer is the nearest for {is_first:.3f}"
    )
    print(f"and among the {config['retrieved']} retrieved for {among:.3f}")
    rules = {
        "written only (beam)": (written, 0.0),
        "nearest answer (the retrieval baseline)": (first, 1.0),
        "the choice head's favourite retrieved answer": (favourite, 1.0),
    }
    for tau in (0.3, 0.5, 0.7, 0.9):
        chosen = [f if s >= tau else w for f, s, w in zip(first, top, written, strict=True)]
        rules[f"nearest where similarity >= {tau}, else written"] = (chosen, np.mean(top >= tau))
    for n in (3, 10):
        rules[f"vote of the {n} nearest questions (similarity^8)"] = (vote(n, 8), 1.0)
    print("| rule | validation chrF | answers not written |\n|---|---:|---:|")
    for name, (answers, taken) in rules.items():
        print(f"| {name} | {chrf(answers, references):.2f} | {taken:.2f} |")


if __name__ == "__main__":
    main()

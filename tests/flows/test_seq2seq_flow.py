"""The seq2seq flow on a hand-written chatbot file: real Prefect, MLflow (registry), MeCab."""

import json
import os
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from korflow.serving.loading import load_pyfunc
from tests.helpers import FIXTURES, cli

pytestmark = pytest.mark.usefixtures("prefect_api")
CHATBOT = FIXTURES / "chatbot-tiny.csv"
ODD = ["", "   ", "😀😀", "hello there", "뷁뷁뷁 쀍쀍", "헤어졌어 " * 500, "오늘 날씨 정말 좋다"]


@pytest.fixture(scope="module")
def result():
    from flows.seq2seq import seq2seq_flow

    overrides = {
        "chatbot_file": str(CHATBOT),
        "attentions": ["none", "additive", "refine"],
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "model": {"embed_dim": 16, "hidden_size": 16},
        "train": {"epochs": 2, "batch_size": 8},
        "beam": 2,
        "max_answer_len": 12,
    }
    return seq2seq_flow(profile="quick", data_mirror=None, overrides=overrides)


def test_one_run_per_attention_with_the_named_metrics(result):
    assert [r.attention for r in result.runs] == ["none", "additive", "refine"]
    client = MlflowClient()
    for summary in result.runs:
        r = mlflow.get_run(summary.run_id)
        assert r.data.tags["korflow.stage"] == "seq2seq"
        assert r.data.tags["korflow.attention"] == summary.attention
        m = r.data.metrics
        for name in (
            "test_bleu",
            "test_chrf",
            "test_perplexity",
            "test_bleu_greedy",
            "test_distinct_1",
            "test_distinct_2",
            "val_chrf",
            "test_empty_share",
            "test_cut_share",
            "baseline_frequent_bleu",
            "baseline_retrieval_chrf",
        ):
            assert name in m, name
        assert 0 <= m["test_chrf"] <= 100 and m["test_perplexity"] > 1
        # 37 rows: 3 malformed; question groups split 60/20/20 and no question in two splits
        n = {k: int(v) for k, v in r.data.params.items() if k.endswith("_pairs")}
        assert n["train_pairs"] + n["val_pairs"] + n["test_pairs"] == 34
        steps = client.get_metric_history(summary.run_id, "epoch_val_loss")
        assert [s.step for s in steps] == [1, 2]
        # The epoch kept is the best by validation chrF of greedy answers, scored every epoch.
        chrf = sorted(
            client.get_metric_history(summary.run_id, "epoch_val_chrf"), key=lambda s: s.step
        )
        values = [s.value for s in chrf]
        assert len(values) == 2 and m["best_epoch"] == values.index(max(values)) + 1
        assert m["test_empty_share"] == 0 and 0 <= m["test_cut_share"] <= 1
        refine = summary.attention == "refine"  # additive attention, copy path, choice head
        assert r.data.params["model.attention"] == ("additive" if refine else summary.attention)
        assert r.data.params["model.copy"] == str(refine)
        assert r.data.params["model.choices"] == ("3" if refine else "0")
        assert ("test_taken_share" in m) == refine and ("take_bias" in m) == refine
        names = {a.path for a in client.list_artifacts(summary.run_id)}
        assert {"learning_curve.png", "vocab.json", "samples", "data"} <= names
        answers = json.loads(
            Path(
                mlflow.artifacts.download_artifacts(f"runs:/{summary.run_id}/data/answers.json")
            ).read_text(encoding="utf-8")
        )
        assert answers["skipped"] == {"empty_text": 2, "bad_label": 1}
        assert answers["rows_with_repeated_answer"] == 2  # the 산책 answer, twice


def test_refine_ships_its_training_pairs_and_its_rule(result, tmp_path):
    from korflow.serving.chat_predictor import ChatPredictor
    from tasks.seq2seq import TAKE_BIASES

    refine = result.runs[2]
    folder = Path(
        mlflow.artifacts.download_artifacts(
            f"runs:/{refine.run_id}/seq2seq-refine/artifacts/predictor", dst_path=str(tmp_path)
        )
    )
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["retrieved"] == 3 and config["take_bias"] in TAKE_BIASES
    pairs = json.loads((folder / "pairs.json").read_text(encoding="utf-8"))
    data = next((Path(os.environ["KORFLOW_HOME"]) / "seq2seq" / "data").glob("*-refine3"))
    texts = json.loads((data / "texts.json").read_text(encoding="utf-8"))
    assert pairs["question"] == [r["question"] for r in texts["train"]]  # training pairs only
    assert config["take_bias"] == mlflow.get_run(refine.run_id).data.metrics["take_bias"]
    by_bias = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(
                f"runs:/{refine.run_id}/data/val_chrf_by_take_bias.json"
            )
        ).read_text(encoding="utf-8")
    )
    assert config["take_bias"] == float(max(by_bias, key=by_bias.get))  # chosen on validation
    # The folder alone answers as the run's everyday answers say (no data mirror read).
    from korean.chatbot import EVERYDAY_QUESTIONS

    predictor = ChatPredictor.load(folder)
    assert predictor.answer(list(EVERYDAY_QUESTIONS)) == result.everyday["refine"]


def test_samples_table_has_question_reference_and_answers(result):
    path = mlflow.artifacts.download_artifacts(
        f"runs:/{result.runs[0].run_id}/samples/test_answers.json"
    )
    table = json.loads(Path(path).read_text(encoding="utf-8"))
    assert {"question", "answer", "greedy", "beam2"} <= set(table["columns"])
    assert len(table["data"]) > 0


def test_every_variant_answers_the_everyday_questions(result):
    from korean.chatbot import EVERYDAY_QUESTIONS

    everyday = result.everyday
    assert everyday["question"] == list(EVERYDAY_QUESTIONS) and len(EVERYDAY_QUESTIONS) == 20
    for summary in result.runs:
        answers = everyday[summary.attention]
        assert len(answers) == 20 and all(isinstance(a, str) and a.strip() for a in answers)
        path = mlflow.artifacts.download_artifacts(
            f"runs:/{summary.run_id}/samples/everyday_answers.json"
        )
        table = json.loads(Path(path).read_text(encoding="utf-8"))
        assert [row[1] for row in table["data"]] == answers


def test_registered_with_champion_on_validation_chrf(result):
    client = MlflowClient()
    champion = client.get_model_version_by_alias("korflow-seq2seq", "champion-quick")
    champion_chrf = mlflow.get_run(champion.tags["korflow.run_id"]).data.metrics["val_chrf"]
    best = max(mlflow.get_run(r.run_id).data.metrics["val_chrf"] for r in result.runs)
    assert champion_chrf >= best


def test_pyfunc_answers_any_question(result):
    model = load_pyfunc(result.runs[1].model_uri)
    out = model.predict(pd.DataFrame({"question": ODD}))
    assert list(out.columns) == ["answer"] and len(out) == len(ODD)
    assert all(isinstance(a, str) and a for a in out["answer"])
    assert all(len(a.split()) <= 12 for a in out["answer"])  # max_answer_len units at most


def test_chat_cli_once_answers_from_the_champion(result):
    out = cli("chat", "--once", "오늘 너무 피곤해")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip()
    # It says which model answers (on stderr: stdout carries only the answer).
    champion = MlflowClient().get_model_version_by_alias("korflow-seq2seq", "champion-quick")
    assert f"korflow-seq2seq@champion-quick = version {champion.version}" in out.stderr
    assert "version" not in out.stdout
    loop = cli("chat", input="배가 고파\n\n")
    assert loop.returncode == 0, loop.stderr[-2000:]
    assert loop.stdout.strip()


def test_fasttext_initialised_embeddings(inputs):
    from flows.seq2seq import seq2seq_flow
    from tests.helpers import corpus_overrides, embed_overrides

    overrides = {
        "chatbot_file": str(CHATBOT),
        "attentions": ["general"],
        "embedding": "jamo",
        "corpus": corpus_overrides(inputs),
        "embed": embed_overrides(inputs),
        "model": {"hidden_size": 16},
        "train": {"epochs": 1, "batch_size": 8},
        "register_model": False,
    }
    result = seq2seq_flow(profile="quick", data_mirror=None, overrides=overrides)
    run = mlflow.get_run(result.runs[0].run_id)
    fasttext = mlflow.get_run(run.data.tags["korflow.fasttext_run_id"])
    assert fasttext.data.tags["korflow.level"] == "jamo"
    assert run.data.params["model.embed_dim"] == "16"  # the FastText vectors' size
    assert run.data.tags["korflow.attention"] == "general" and result.runs[0].version is None


def test_started_from_the_language_model_of_its_units(inputs):
    from flows.seq2seq import seq2seq_flow
    from tests.helpers import corpus_overrides, lm_overrides

    overrides = {
        "chatbot_file": str(CHATBOT),
        "attentions": ["none", "general"],
        "embedding": "lm",
        "corpus": corpus_overrides(inputs),
        "lm": lm_overrides(),  # one layer of 8 units over 8-wide embeddings
        "model": {"hidden_size": 8},
        "train": {"epochs": 1, "batch_size": 8},
        "register_model": False,
    }
    result = seq2seq_flow(profile="quick", data_mirror=None, overrides=overrides)
    for run, parts in zip(result.runs, ("embedding,decoder,out", "embedding,decoder"), strict=True):
        logged = mlflow.get_run(run.run_id)
        lm = mlflow.get_run(logged.data.tags["korflow.lm_run_ids"])
        assert (lm.data.tags["korflow.unit"], lm.data.tags["korflow.direction"]) == (
            "syllable",
            "forward",
        )
        assert logged.data.params["lm_start"] == parts  # the output reads attention: not its
        assert logged.data.params["model.embed_dim"] == "8"  # the LM's embedding width
        assert logged.data.tags["korflow.embedding"] == "lm"


def test_an_lm_start_writes_what_the_language_model_learned(tmp_path):
    """Units mapped by name (in another order, one the LM lacks), <sos> read as the LM's
    <eos>: with a silent encoder the started decoder writes the LM's text before training."""
    import torch

    from models.data import EOS, SOS, Vocab
    from models.lm import LanguageModel, LMConfig
    from models.lm_train import LMTrainConfig, train_lm
    from models.seq2seq import Seq2Seq, Seq2SeqConfig, load_start
    from models.seq2seq_train import generate
    from tasks.seq2seq import lm_start

    lm_vocab = Vocab(["가", "나", "다", "라"], (SOS, EOS))
    text = [lm_vocab.stoi[u] for u in ["가", "나", "다", "라", EOS] * 400]
    torch.manual_seed(0)
    lm = LanguageModel(
        LMConfig(vocab_size=len(lm_vocab), embed_dim=8, hidden_size=16, num_layers=1)
    )
    stream = torch.tensor(text)
    train = LMTrainConfig(epochs=8, batch_size=4, bptt=10, lr=1e-2, device="cpu", patience=8)
    train_lm(lm, stream, {"text": stream[:200]}, train)
    torch.save(lm.state_dict(), tmp_path / "lm.pt")
    lm_vocab.save(tmp_path / "lm-vocab.json")
    vocab = Vocab(["라", "다", "뷁", "나", "가"], (SOS, EOS))
    data = tmp_path / "pairs"
    vocab.save(data / "vocab.json")
    cfg = Seq2SeqConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=16, attention="none")
    lm_files = {"weights": str(tmp_path / "lm.pt"), "vocab": str(tmp_path / "lm-vocab.json")}
    started = lm_start({"dir": str(data)}, {**lm_files, "sha256": "ab" * 32}, cfg)

    assert started["parts"] == ["embedding", "decoder", "out"]
    matrix = torch.load(started["embedding"], weights_only=True)
    table = lm.embedding.weight.detach()
    assert torch.equal(matrix[vocab.stoi["가"]], table[lm_vocab.stoi["가"]])
    assert torch.equal(matrix[vocab.stoi[SOS]], table[lm_vocab.stoi[EOS]])
    assert torch.equal(matrix[vocab.stoi["뷁"]], table[lm_vocab.unk_id])
    model = Seq2Seq(cfg, matrix)
    load_start(model, torch.load(started["start"], weights_only=True))
    with torch.no_grad():
        for weight in model.encoder.parameters():
            weight.zero_()  # the decoder starts from a zero state, as the LM did
    (answer,) = generate(model, [[vocab.stoi["뷁"]]], max_len=8, beam=1)
    assert vocab.decode(answer) == ["가", "나", "다", "라"]

"""models/: the classifier (shapes, packing, masking), the data helpers and the training loop."""

import random
from dataclasses import replace

import pytest
import torch
from torch import nn

from models.classifier import ClassifierConfig, TextClassifier
from models.data import SequenceDataset, Vocab, collate, load_tensors, save_tensors
from models.train import NonFiniteLoss, TrainConfig, fit, predict, train

POOLINGS = ["last", "mean", "max", "attention"]


def _model(pooling="max", rnn="lstm", bidirectional=True, layers=1, **kw):
    torch.manual_seed(0)
    cfg = ClassifierConfig(
        vocab_size=30,
        embed_dim=8,
        hidden_size=6,
        rnn=rnn,
        pooling=pooling,
        bidirectional=bidirectional,
        num_layers=layers,
        **kw,
    )
    return TextClassifier(cfg).eval()


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize(("rnn", "bidirectional", "layers"), [("lstm", True, 1), ("gru", False, 2)])
def test_shapes(pooling, rnn, bidirectional, layers):
    ids, lengths, _ = collate([([3, 4, 5], 0), ([6], 1), ([7, 8], 0)])
    logits = _model(pooling, rnn, bidirectional, layers)(ids, lengths)
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()


@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_never_changes_the_output(pooling):
    model = _model(pooling)
    seq = torch.tensor([[3, 4, 5, 6]])
    alone = model(seq, torch.tensor([4]))
    # The same sequence padded with arbitrary (non-zero) ids: masking and packing ignore them.
    padded = torch.tensor([[3, 4, 5, 6, 9, 9, 12, 2]])
    assert torch.allclose(model(padded, torch.tensor([4])), alone, atol=1e-6)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_a_sequence_gets_the_same_answer_alone_or_in_a_batch(pooling):
    model = _model(pooling)
    batch = [([3, 4], 0), ([5, 6, 7, 8, 9, 10], 1), ([11], 0)]
    ids, lengths, _ = collate(batch)
    together = model(ids, lengths)
    for row, (seq, _) in enumerate(batch):
        alone = model(torch.tensor([seq]), torch.tensor([len(seq)]))
        assert torch.allclose(together[row], alone[0], atol=1e-6)


def test_the_ngram_bag_holds_exactly_the_sequence_unigrams_and_bigrams():
    model = _model(ngram_buckets=50)
    ids, lengths, _ = collate([([3, 4, 5], 0), ([6], 1)])
    bag = model.ngram_ids(ids, lengths)
    pair = lambda a, b: 30 + (a * 1_000_003 + b) % 50  # noqa: E731  (vocab_size 30)
    assert sorted(bag[0].tolist()) == sorted([3, 4, 5, pair(3, 4), pair(4, 5)])
    assert sorted(bag[1].tolist()) == [0, 0, 0, 0, 6]  # 0 = padding, left out of the bag
    # The bag is what the sequence's n-gram rows average to.
    rows = model.ngrams.weight
    expected = rows[[3, 4, 5, pair(3, 4), pair(4, 5)]].mean(0)
    assert torch.allclose(model.ngrams(bag)[0], expected, atol=1e-6)


def test_the_bag_starts_near_zero_and_drops_ngrams_only_in_training():
    model = _model(ngram_buckets=50, ngram_dropout=0.5, dropout=0.0, token_dropout=0.0)
    rows = model.ngrams.weight
    # fastText's start: a bucket no training bigram reaches stays near zero at test time.
    assert rows.abs().max() <= 1 / 16 and torch.count_nonzero(rows[0]) == 0
    ids, lengths, _ = collate([([3, 4, 5, 6, 7, 8], 0)] * 4)
    assert torch.equal(model(ids, lengths), model(ids, lengths))  # eval: the whole bag
    model.train()
    torch.manual_seed(1)
    dropped = model(ids, lengths)
    # Four copies of one sequence get four different bags (the BiLSTM part has no dropout).
    assert len({tuple(row.tolist()) for row in dropped}) == 4
    model.config = replace(model.config, ngram_dropout=0.0)
    whole = model(ids, lengths)
    assert torch.allclose(whole, model.eval()(ids, lengths), atol=1e-6)


def test_attention_puts_no_weight_on_padding():
    model = _model("attention")
    ids, lengths, _ = collate([([3, 4], 0), ([5, 6, 7, 8], 1)])
    mask = torch.arange(4)[None, :] < lengths[:, None]
    states = torch.randn(2, 4, 12)
    _, weights = model.attention(states, mask)
    assert torch.all(weights[0, 2:] == 0) and torch.allclose(weights.sum(-1), torch.ones(2))


def test_pretrained_embedding_is_copied_frozen_and_checked():
    matrix = torch.randn(30, 8)
    model = TextClassifier(ClassifierConfig(30, embed_dim=8, freeze_embedding=True), matrix)
    assert (
        torch.equal(model.embedding.weight[1:], matrix[1:])
        and not model.embedding.weight.requires_grad
    )
    assert torch.all(model.embedding.weight[0] == 0)  # padding row
    with pytest.raises(ValueError, match="vocabulary and vectors do not match"):
        TextClassifier(ClassifierConfig(31, embed_dim=8), matrix)


def test_vocab_encode_build_and_files(tmp_path):
    vocab = Vocab.build([["영화", "좋다"], ["영화", "별로"], ["영화"]], min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "영화"]
    assert vocab.encode(["영화", "처음"]) == [2, 1] and vocab.encode([]) == [1]
    assert vocab.encode(["영화"] * 10, max_len=3) == [2, 2, 2]
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").itos == vocab.itos
    (tmp_path / "bad.json").write_text('["a", "b"]')
    with pytest.raises(ValueError, match="not a korflow vocabulary"):
        Vocab.load(tmp_path / "bad.json")


def test_tensors_round_trip(tmp_path):
    ids, labels = [[2, 3, 4], [5], [6, 7]], [1, 0, 1]
    save_tensors(tmp_path / "t.pt", ids, labels, embedding=torch.ones(8, 2))
    data, extra = load_tensors(tmp_path / "t.pt")
    assert data.ids == ids and data.labels == labels and extra["embedding"].shape == (8, 2)


def _toy(n=32, seed=0):
    """Positive sequences contain token 3, negatives token 4, amid random filler."""
    rng = random.Random(seed)
    ids, labels = [], []
    for i in range(n):
        label = i % 2
        seq = [rng.randrange(5, 30) for _ in range(rng.randrange(2, 9))]
        seq.insert(rng.randrange(len(seq) + 1), 3 if label else 4)
        ids.append(seq)
        labels.append(label)
    return SequenceDataset(ids, labels)


FAST = TrainConfig(epochs=40, batch_size=8, lr=1e-2, patience=100, schedule="constant")


def test_tiny_overfit_reaches_100_percent():
    data = _toy()
    model = TextClassifier(ClassifierConfig(30, embed_dim=16, hidden_size=16, dropout=0.0))
    result = train(model, data, data, FAST)
    probs, labels, _ = predict(model, data)
    assert (probs.argmax(-1) == labels).float().mean().item() == 1.0
    assert result.best_val_accuracy == 1.0 and len(result.history) >= result.best_epoch


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_resume_from_checkpoint_gives_the_same_weights(tmp_path, ema):
    data, val = _toy(32, 1), _toy(16, 2)
    cfg = replace(FAST, epochs=4, patience=100, ema=ema)

    def fresh():
        torch.manual_seed(123)
        return TextClassifier(ClassifierConfig(30, embed_dim=8, hidden_size=8, dropout=0.3))

    straight = fresh()
    train(straight, data, val, cfg, checkpoint_dir=tmp_path / "a")

    def crash(log):
        if log["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(fresh(), data, val, cfg, checkpoint_dir=tmp_path / "b", on_epoch=crash)
    resumed = fresh()
    result = train(resumed, data, val, cfg, checkpoint_dir=tmp_path / "b")
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    for (name, a), (_, b) in zip(
        straight.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_damaged_checkpoint_is_set_aside_and_training_starts_from_scratch(tmp_path):
    data, val = _toy(32, 1), _toy(16, 2)
    cfg = replace(FAST, epochs=2, patience=100)

    def fresh():
        torch.manual_seed(123)
        return TextClassifier(ClassifierConfig(30, embed_dim=8, hidden_size=8, dropout=0.3))

    straight = fresh()
    train(straight, data, val, cfg, checkpoint_dir=tmp_path / "a")
    last = tmp_path / "b" / "last.pt"
    last.parent.mkdir()
    last.write_bytes((tmp_path / "a" / "last.pt").read_bytes()[:1_000])  # a truncated copy
    again = fresh()
    with pytest.warns(UserWarning, match=rf"checkpoint {last} is damaged .*last.pt.damaged"):
        result = train(again, data, val, cfg, checkpoint_dir=tmp_path / "b")
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert (tmp_path / "b" / "last.pt.damaged").stat().st_size == 1_000
    for (name, a), (_, b) in zip(
        straight.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_with_ema_the_kept_model_is_the_moving_average_of_the_weights():
    data, scores = _toy(8), iter(range(1_000))  # one batch an epoch; every epoch the best

    def step(model, batch):
        ids, lengths, y = batch
        return nn.functional.cross_entropy(model(ids, lengths), y), len(y), 0

    def run(epochs, ema):
        torch.manual_seed(5)
        model = TextClassifier(ClassifierConfig(30, embed_dim=8, hidden_size=8))
        cfg = replace(FAST, epochs=epochs, ema=ema, batching="random", batch_size=8)
        fit(model, data, cfg, step, lambda m, device: {"val_accuracy": next(scores)}, collate)
        return model.state_dict()

    after_one, after_two, averaged = run(1, 0.0), run(2, 0.0), run(2, 0.25)
    decay = 2 / 11  # the warm-up's decay after one update, below 0.25
    for name, value in averaged.items():
        expected = decay * after_one[name] + (1 - decay) * after_two[name]
        assert torch.allclose(value, expected, atol=1e-6), name
        assert not torch.allclose(value, after_two[name], atol=1e-6), name


def test_checkpoint_from_other_settings_is_refused(tmp_path):
    data = _toy(16)
    model = TextClassifier(ClassifierConfig(30, embed_dim=8, hidden_size=8))
    train(model, data, data, replace(FAST, epochs=1), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="other settings"):
        train(model, data, data, replace(FAST, epochs=1, lr=0.5), checkpoint_dir=tmp_path)


def test_non_finite_loss_stops_with_a_clear_error():
    bad = torch.full((30, 8), float("nan"))
    model = TextClassifier(ClassifierConfig(30, embed_dim=8, hidden_size=8), bad)
    with pytest.raises(NonFiniteLoss, match="epoch 1, batch 1: the loss is nan"):
        train(model, _toy(16), _toy(16), replace(FAST, epochs=1))


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_early_stopping_keeps_the_best_epoch(ema):
    data, val = _toy(32, 3), _toy(32, 4)
    model = TextClassifier(ClassifierConfig(30, embed_dim=8, hidden_size=8))
    result = train(model, data, val, replace(FAST, epochs=30, patience=2, ema=ema))
    best = max(h["val_accuracy"] for h in result.history)
    assert result.best_val_accuracy == best
    assert len(result.history) - result.best_epoch <= 2
    probs, labels, _ = predict(model, val)
    assert (probs.argmax(-1) == labels).float().mean().item() == pytest.approx(best)


def test_train_from_tensors_entry_point(tmp_path, capsys):
    from models.train_tensors import main

    data = _toy(32)
    save_tensors(tmp_path / "train.pt", data.ids, data.labels, vocab_size=torch.tensor(30))
    save_tensors(tmp_path / "val.pt", data.ids, data.labels)
    summary = main(
        [
            str(tmp_path / "train.pt"),
            str(tmp_path / "val.pt"),
            "--test",
            str(tmp_path / "val.pt"),
            "--out",
            str(tmp_path / "out"),
            "--model",
            '{"embed_dim": 16, "hidden_size": 16, "dropout": 0}',
            "--train",
            '{"epochs": 40, "batch_size": 8, "lr": 0.01, "patience": 100}',
        ]
    )
    assert summary["test_accuracy"] == 1.0 and (tmp_path / "out" / "model.pt").is_file()
    assert '"epoch": 1' in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(5))
def test_binary_scores_equal_scikit_learn_bit_for_bit(seed):
    from sklearn import metrics as sk

    from models.metrics import binary_scores, confusion_matrix

    gen = torch.Generator().manual_seed(seed)
    labels, predicted = torch.randint(0, 2, (2, 37 + seed), generator=gen)
    # and the edge cases where a score divides by zero: no positive predicted, none true
    cases = [(labels, predicted), (labels, torch.zeros_like(labels)), (predicted * 0, predicted)]
    for y, p in cases:
        confusion = confusion_matrix(y, p)
        assert confusion == sk.confusion_matrix(y.numpy(), p.numpy(), labels=[0, 1]).tolist()
        precision, recall, f1, _ = sk.precision_recall_fscore_support(
            y.numpy(), p.numpy(), average="binary", zero_division=0
        )
        expected = {
            "accuracy": float((p.numpy() == y.numpy()).mean()),
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
        }
        assert binary_scores(confusion) == expected

"""Length-aware batching: what the batches hold, that they are decided by the seed and the epoch,
and that a sequence's output does not depend on the sequences that share its batch."""

import random
from collections import Counter
from dataclasses import replace

import pytest
import torch

from models.batching import LengthBatchSampler, length_batches
from models.classifier import ClassifierConfig, TextClassifier
from models.data import PairDataset, SequenceDataset, collate, collate_pairs
from models.seq2seq import Seq2Seq, Seq2SeqConfig
from models.train import TrainConfig, make_loader, predict, train


def _lengths(n=1_000, seed=0):
    rng = random.Random(seed)
    # Many short sequences, a long tail of rare lengths, as in NSMC.
    return [min(int(rng.expovariate(1 / 8)) + 1, 60) for _ in range(n)]


def test_every_index_once_and_frequent_lengths_batched_alone():
    lengths = _lengths()
    batches = length_batches(lengths, 32, torch.Generator().manual_seed(1))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    counts = Counter(lengths)
    for batch in batches:
        kinds = {lengths[i] for i in batch}
        if any(counts[k] * 4 >= 32 for k in kinds):
            # A length with a quarter of a batch of sequences or more gets batches of its own ...
            assert len(kinds) == 1 and 8 <= len(batch) < 48
        else:
            # ... the rare ones share sorted, near-equal batches.
            assert len(batch) <= 32
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded / sum(lengths) < 1.1  # random batches of 32 pad about 3x here


def test_batches_depend_on_seed_and_epoch_only():
    lengths = _lengths()

    def epoch(seed, number):
        sampler = LengthBatchSampler(lengths, 32, shuffle=True, seed=seed)
        sampler.set_epoch(number)
        return list(sampler)

    assert epoch(3, 0) == epoch(3, 0)
    assert epoch(3, 0) != epoch(3, 1) != epoch(4, 1)
    assert len(LengthBatchSampler(lengths, 32)) == len(epoch(3, 0))
    # Unshuffled (what evaluation uses): length order, the frequent lengths then the rare ones.
    ordered = [lengths[i] for b in LengthBatchSampler(lengths, 32, shuffle=False) for i in b]
    assert sum(a > b for a, b in zip(ordered, ordered[1:], strict=False)) == 1


def test_secondary_lengths_order_answers_inside_a_question_length():
    questions = [5] * 40
    answers = list(range(40, 0, -1))
    batches = length_batches(questions, 10, torch.Generator().manual_seed(0), answers)
    for batch in batches:
        spread = [answers[i] for i in batch]
        assert max(spread) - min(spread) == 9  # ten consecutive answer lengths


def _classifier(pooling, ngram_buckets=0):
    torch.manual_seed(0)
    cfg = ClassifierConfig(
        vocab_size=40, embed_dim=8, hidden_size=6, pooling=pooling, ngram_buckets=ngram_buckets
    )
    return TextClassifier(cfg).eval()


@pytest.mark.parametrize(
    "pooling, ngram_buckets",
    [("last", 0), ("mean", 0), ("max", 0), ("attention", 0), ("max", 50)],
)
def test_classifier_logits_do_not_depend_on_batch_companions(pooling, ngram_buckets):
    model = _classifier(pooling, ngram_buckets)
    seq = [3, 4, 5, 6]
    alone = model(torch.tensor([seq]), torch.tensor([4]))
    # Dense: companions of the same length, no padding, no packing.
    dense, lengths, _ = collate([(seq, 0), ([7, 8, 9, 10], 0), ([11, 12, 13, 14], 1)])
    assert int(lengths.min()) == dense.size(1)
    assert torch.allclose(model(dense, lengths)[0], alone[0], atol=1e-6)
    # Mixed lengths: padded and packed; the backward direction must not read the padding.
    mixed, lengths, _ = collate([([7, 8, 9, 10, 11, 12, 13, 14, 15], 0), (seq, 1), ([3], 0)])
    assert torch.allclose(model(mixed, lengths)[1], alone[0], atol=1e-6)


@pytest.mark.parametrize("attention", ["none", "additive"])
def test_seq2seq_logits_do_not_depend_on_batch_companions(attention):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=20, embed_dim=8, hidden_size=8, attention=attention))
    model.eval()
    pair = ([5, 6, 7], [8, 9])
    alone = model(*collate_pairs([pair])[:3])[0]
    same_length = collate_pairs([pair, ([9, 10, 11], [12, 13, 14, 15])])
    mixed = collate_pairs([([5, 6, 7, 8, 9, 10], [8]), pair])
    assert torch.allclose(model(*same_length[:3])[0, :3], alone, atol=1e-5)
    assert torch.allclose(model(*mixed[:3])[1, :3], alone, atol=1e-5)


def _toy(n=200, seed=0):
    rng = random.Random(seed)
    ids, labels = [], []
    for i in range(n):
        seq = [rng.randrange(5, 40) for _ in range(rng.randrange(1, 12))]
        seq.insert(rng.randrange(len(seq) + 1), 3 if i % 2 else 4)
        ids.append(seq)
        labels.append(i % 2)
    return SequenceDataset(ids, labels)


def test_predict_returns_dataset_order():
    data = _toy()
    model = _classifier("max")
    probs, labels, _ = predict(model, data, batch_size=16)
    assert labels.tolist() == data.labels
    for i in (0, 57, 199):
        one = model(torch.tensor([data.ids[i]]), torch.tensor([len(data.ids[i])])).softmax(-1)
        assert torch.allclose(probs[i], one[0], atol=1e-6)


@pytest.mark.parametrize("batching", ["length", "random"])
def test_batching_never_draws_from_the_global_rng(batching):
    # Another stage's evaluation runs beside a training in the pipeline: a pass over its
    # batches must not move the RNG that the training's dropout draws from.
    data = _toy()
    before = torch.get_rng_state()
    for loader in (
        make_loader(data, 16, torch.device("cpu"), collate, None, batching),
        make_loader(data, 16, torch.device("cpu"), collate, 3, batching),
    ):
        assert sum(len(batch[0]) for batch in loader) == len(data)
    assert torch.equal(torch.get_rng_state(), before)


def test_training_is_determined_by_the_seed():
    data, val = _toy(), _toy(60, 1)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=7)

    def weights(config):
        torch.manual_seed(0)
        model = TextClassifier(ClassifierConfig(40, embed_dim=8, hidden_size=8))
        train(model, data, val, config)
        return model.state_dict()

    first, again, other = weights(cfg), weights(cfg), weights(replace(cfg, seed=8))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_length_batching_is_the_default_and_random_batching_stays_available():
    data = _toy()
    device = torch.device("cpu")
    by_length = make_loader(data, 16, device, collate, shuffle_seed=1)
    randomly = make_loader(data, 16, device, collate, shuffle_seed=1, batching="random")

    def padding(loader):
        return sum(ids.numel() for ids, _, _ in loader) / sum(len(s) for s in data.ids)

    assert isinstance(by_length.batch_sampler, LengthBatchSampler)
    assert padding(by_length) < 1.1 < padding(randomly)


def test_pairs_batch_by_question_length():
    sources = [[5] * (1 + i % 4) for i in range(64)]
    data = PairDataset(sources, [[6] * (1 + i % 7) for i in range(64)])
    loader = make_loader(data, 8, torch.device("cpu"), collate_pairs, shuffle_seed=0)
    for src, lengths, _, _ in loader:
        assert int(lengths.min()) == int(lengths.max()) == src.size(1)


def test_the_learning_rate_schedule_spans_the_length_batches():
    # Length-aware batching makes another number of batches than ceil(N / batch_size); the
    # linear decay must still end exactly at the last step, not early (or never).
    data, val = _toy(), _toy(60, 1)
    steps = len(make_loader(data, 32, torch.device("cpu"), collate, shuffle_seed=0))
    assert steps != -(-len(data) // 32)
    cfg = TrainConfig(epochs=3, batch_size=32, schedule="linear", lr=1e-2, patience=10)
    history = train(
        TextClassifier(ClassifierConfig(40, embed_dim=8, hidden_size=8)), data, val, cfg
    )
    lrs = [h["lr"] for h in history.history]
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert lrs[-2] == pytest.approx(1e-2 / 3, rel=1e-6)  # one third left after two epochs

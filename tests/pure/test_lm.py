"""models/lm, models/lm_train, models/ngram and korean/lm_text on tiny corpora: the language
models learn, the backward model reads reversed text, generation is seeded and stops, the
layer mix is ELMo's, the n-gram baseline is a distribution, and no held-out review is trained
on."""

import math
import random
from dataclasses import replace

import pytest
import torch

from korean import lm_text
from models.classifier import ClassifierConfig, TextClassifier
from models.lm import (
    BiLM,
    LanguageModel,
    LMConfig,
    ScalarMix,
    adaptive_cutoffs,
    reverse_padded,
    sample,
)
from models.lm_train import LMTrainConfig, batchify, evaluate, train_lm
from models.ngram import KneserNey

EOS = 3


def _counting_stream(n: int, vocab: int = 12, seed: int = 0) -> torch.Tensor:
    """Runs that count up (4, 5, 6, ... then <eos>): easy to predict forward, and backward
    only when read reversed."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        start = rng.randrange(4, vocab - 3)
        out += list(range(start, min(start + rng.randrange(2, 6), vocab))) + [EOS]
    return torch.tensor(out[:n])


def _lm(vocab=12, **kw) -> LanguageModel:
    torch.manual_seed(0)
    cfg = dict(vocab_size=vocab, embed_dim=16, hidden_size=32, num_layers=2, dropout=0.0)
    return LanguageModel(LMConfig(**{**cfg, "input_dropout": 0.0, "embed_dropout": 0.0, **kw}))


FAST = LMTrainConfig(epochs=6, batch_size=8, bptt=16, lr=1e-2, patience=6, seed=0)


def test_the_loss_falls_and_the_best_round_is_kept(tmp_path):
    stream, heldout = _counting_stream(4000), {"a": _counting_stream(600, seed=1)}
    model = _lm()
    before = evaluate(model, heldout["a"])["perplexity"]
    result = train_lm(model, stream, heldout, FAST, tmp_path / "ck")
    after = evaluate(model, heldout["a"])["perplexity"]
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0] / 2
    assert after < before / 3 and after < 4  # uniform over 12 ids would be 12
    best = min(result.history, key=lambda h: h["val_perplexity"])
    assert result.best_epoch == best["epoch"]
    assert after == pytest.approx(best["val_perplexity"], rel=1e-5)  # the best weights kept
    assert [h["tokens_seen"] for h in result.history] == sorted(
        {h["tokens_seen"] for h in result.history}
    )


def test_rounds_split_an_epoch_and_resume_gives_the_same_weights(tmp_path):
    stream, heldout = _counting_stream(3000), {"a": _counting_stream(400, seed=1)}
    cfg = LMTrainConfig(epochs=2, batch_size=8, bptt=16, rounds_per_epoch=3, patience=9, seed=0)
    whole = _lm(dropout=0.3)
    result = train_lm(whole, stream, heldout, cfg, tmp_path / "a")
    assert len(result.history) == 6  # two epochs of three rounds
    # Rounds share an epoch's windows evenly, every window once.
    seen = [h["tokens_seen"] for h in result.history]
    per_round = [b - a for a, b in zip([0, *seen], seen, strict=False)]
    assert sum(per_round[:3]) == sum(per_round[3:]) and max(per_round) - min(per_round) <= 8 * 16
    with pytest.raises(ValueError, match="rounds_per_epoch"):
        train_lm(_lm(), stream[:100], heldout, replace(cfg, rounds_per_epoch=50), None)
    # A run killed after round 4 of 6 (its checkpoint is the last written) resumes to the end.
    killed = _lm(dropout=0.3)
    seen = []

    def stop_at_four(log):
        seen.append(log["epoch"])
        if log["epoch"] == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_lm(killed, stream, heldout, cfg, tmp_path / "b", stop_at_four)
    resumed = _lm(dropout=0.3)
    again = train_lm(resumed, stream, heldout, cfg, tmp_path / "b")
    assert [h["epoch"] for h in again.history] == [1, 2, 3, 4, 5, 6]
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_the_backward_model_reads_reversed_text():
    forward_text, heldout = _counting_stream(4000), _counting_stream(600, seed=1)
    forward, backward = _lm(), _lm(backward=True)
    train_lm(forward, forward_text, {"a": heldout}, FAST)
    train_lm(backward, forward_text.flip(0), {"a": heldout.flip(0)}, FAST)
    # Each predicts its own direction well and the other direction badly (counting down is
    # not counting up).
    assert evaluate(backward, heldout.flip(0))["perplexity"] < 4
    assert evaluate(backward, heldout)["perplexity"] > 2 * evaluate(forward, heldout)["perplexity"]


def test_an_adaptive_softmax_is_a_distribution_and_learns():
    vocab = 9_000
    cutoffs = adaptive_cutoffs(vocab)
    assert cutoffs == (2_000,)
    assert adaptive_cutoffs(20_000) == (2_000, 10_000) and adaptive_cutoffs(500) == ()
    model = _lm(vocab=vocab, cutoffs=cutoffs)
    features, _ = model(torch.randint(1, vocab, (2, 5)))
    probs = model.log_probs(features.reshape(-1, 32)).exp().sum(-1)
    assert torch.allclose(probs, torch.ones_like(probs), atol=1e-4)
    stream = _counting_stream(3000, vocab=12)
    before = evaluate(model, stream[:500])["perplexity"]
    train_lm(model, stream, {"a": stream[:500]}, FAST)
    assert before > 1000 and evaluate(model, stream[:500])["perplexity"] < 20


def test_generation_is_seeded_stops_and_never_emits_padding_or_unknown():
    model = _lm()
    train_lm(model, _counting_stream(4000), {"a": _counting_stream(400, seed=1)}, FAST)
    one = sample(model, [5, 6], n=4, max_new=30, eos_id=EOS, temperature=0.8, top_p=0.9, seed=7)
    assert one == sample(model, [5, 6], 4, 30, EOS, 0.8, 0.9, seed=7)
    assert one != sample(model, [5, 6], 4, 30, EOS, 1.5, 1.0, seed=8)
    assert all(len(s) < 30 for s in one)  # each stopped at <eos> before the limit
    assert all(t not in (0, 1, EOS) for s in one for t in s)
    # It learned to count on from the prompt (runs end at random: a sample may stop early).
    assert sum(s == list(range(7, 7 + len(s))) for s in one) >= 3
    capped = sample(model, [5], 2, 3, EOS, seed=0)
    assert all(len(s) <= 3 for s in capped)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, [5], 1, 3, EOS, temperature=0)


def test_generation_leaves_torchs_global_rng_alone():
    model = _lm()
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    sample(model, [5], 2, 5, EOS, seed=1)
    assert torch.equal(torch.rand(3), expected)


def test_reverse_padded_keeps_padding_in_place():
    ids = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert reverse_padded(ids, torch.tensor([3, 2])).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    states = torch.arange(8.0).view(1, 4, 2)
    assert reverse_padded(states, torch.tensor([3]))[0, :, 0].tolist() == [4.0, 2.0, 0.0, 6.0]


def test_the_layer_mix_is_a_softmax_weighted_sum_scaled_by_gamma():
    mix = ScalarMix(3)
    layers = [torch.full((1, 2, 4), float(v)) for v in (1, 2, 3)]
    assert torch.allclose(mix(layers), torch.full((1, 2, 4), 2.0))  # equal weights at start
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([0.0, 0.0, 100.0]))
        mix.gamma.fill_(0.5)
    assert torch.allclose(mix(layers), torch.full((1, 2, 4), 1.5))
    mix(layers).sum().backward()
    assert mix.gamma.grad is not None and mix.scalars.grad is not None


def test_the_bilm_is_frozen_and_reads_each_token_in_both_directions():
    cfg = LMConfig(vocab_size=12, embed_dim=8, hidden_size=8, num_layers=2)
    forward, backward = _lm(**{**cfg.__dict__}), _lm(**{**cfg.__dict__, "backward": True})
    bilm = BiLM(cfg, task_vocab_size=20)
    remap = torch.arange(20) % 12
    bilm.load_language_models(forward.state_dict(), backward.state_dict(), remap, EOS)
    bilm.train()
    assert not bilm.forward_lm.training and not bilm.backward_lm.training
    ids, lengths = torch.tensor([[5, 6, 7, 0]]), torch.tensor([3])
    out = bilm(ids, lengths)
    assert out.shape == (1, 4, 16)
    # Exactly ELMo's reading: the forward model over <eos> 5 6 7, the backward one over
    # <eos> 7 6 5, position by position, mixed with equal weights at the start.
    forward.eval(), backward.eval()
    ahead, _ = forward.layers(torch.tensor([[EOS, 5, 6, 7]]))
    behind, _ = backward.layers(torch.tensor([[EOS, 7, 6, 5]]))
    expected = (
        sum(torch.cat([a[:, 1:], b[:, 1:].flip(1)], -1) for a, b in zip(ahead, behind, strict=True))
        / 2
    )
    assert torch.allclose(out[:, :3], expected, atol=1e-6)
    # Padding after a text changes nothing of it.
    longer = bilm(torch.tensor([[5, 6, 7, 0, 0, 0]]), lengths)
    assert torch.allclose(longer[:, :3], out[:, :3], atol=1e-6)
    # A token's backward half depends on what follows it, its forward half does not.
    changed = bilm(torch.tensor([[5, 6, 9, 0]]), lengths)
    assert torch.allclose(out[0, 0, :8], changed[0, 0, :8])
    assert not torch.allclose(out[0, 0, 8:], changed[0, 0, 8:])
    trainable = {n for n, p in bilm.named_parameters() if p.requires_grad}
    assert trainable == {"mix.scalars", "mix.gamma"}


def test_a_remembering_bilm_reads_each_text_once_and_gives_its_live_states():
    cfg = LMConfig(vocab_size=12, embed_dim=8, hidden_size=8, num_layers=2)
    bilm = BiLM(cfg, task_vocab_size=20)
    forward, backward = _lm(**{**cfg.__dict__}), _lm(**{**cfg.__dict__, "backward": True})
    bilm.load_language_models(
        forward.state_dict(), backward.state_dict(), torch.arange(20) % 12, EOS
    )
    bilm.eval()
    ids, lengths = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0], [4, 0, 0, 0]]), torch.tensor([3, 2, 1])
    live = bilm(ids, lengths)
    reads = []
    original = bilm.forward_lm.layers
    bilm.forward_lm.layers = lambda x, *a: (reads.append(x.size(0)), original(x, *a))[1]
    bilm.remember()
    first = bilm(ids, lengths)
    # The same texts again, in another order, padding and batch: nothing is read again.
    again = bilm(torch.tensor([[4, 0], [8, 9]]), torch.tensor([1, 2]))
    assert reads == [3]
    for out, rows in ((first, [0, 1, 2]), (again, [2, 1])):
        for i, row in enumerate(rows):
            n = int(lengths[row])
            assert torch.allclose(out[i, :n], live[row, :n], atol=2e-3)  # float16 storage
    assert torch.equal(again[1, :2], first[1, :2])
    # A text it has not seen is read; forgetting reads live again.
    bilm(torch.tensor([[4, 5]]), torch.tensor([2]))
    assert reads == [3, 1]
    bilm.remember(False)
    assert torch.equal(bilm(ids, lengths), live) and reads == [3, 1, 3]


def test_a_classifier_reads_the_bilm_and_trains_only_its_own_weights():
    lm = LMConfig(vocab_size=12, embed_dim=8, hidden_size=8, num_layers=1)
    model = TextClassifier(ClassifierConfig(vocab_size=20, embed_dim=6, hidden_size=5, elmo=lm))
    before = {k: v.clone() for k, v in model.bilm.forward_lm.state_dict().items()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = model(torch.tensor([[3, 4, 5]]), torch.tensor([3])).sum()
    loss.backward()
    opt.step()
    for key, value in model.bilm.forward_lm.state_dict().items():
        assert torch.equal(value, before[key])
    assert model.bilm.mix.gamma.grad is not None
    # The saved config (a dict) rebuilds the same model.
    rebuilt = ClassifierConfig(**{**model.config.__dict__, "elmo": lm.__dict__})
    assert rebuilt == model.config


def test_kneser_ney_is_a_distribution_and_beats_lower_orders():
    rng = random.Random(0)
    tokens = [5, 6]
    for _ in range(20_000):  # a second-order process: a trigram model sees what a bigram can't
        noise = rng.random() < 0.3
        tokens.append(rng.randrange(2, 40) if noise else (tokens[-1] + 3 * tokens[-2]) % 38 + 2)
    heldout = tokens[-2_000:]
    models = {n: KneserNey(tokens[:-2_000], n, 40) for n in (1, 2, 3)}
    for model in models.values():
        for history in ([], [5], [5, 7], [39, 38], [0, 0]):
            total = sum(model.prob(w, history) for w in range(40))
            assert math.isclose(total, 1.0, rel_tol=1e-9), (model.order, history, total)
    perplexity = {n: m.perplexity(heldout) for n, m in models.items()}
    assert perplexity[3] < min(perplexity[1], perplexity[2]) / 3
    assert models[3].prob(39, [1234, 5678]) > 0  # unseen context and word: still a probability


def test_training_text_never_holds_a_held_out_review_or_article():
    nsmc = [
        {"id": i, "split": "train" if i < 40 else "test", "tokens": [f"r{i}"], "text": f"r{i}"}
        for i in range(50)
    ]
    wiki = [{"doc_id": str(d), "tokens": [f"w{d}", "x"], "text": f"w{d} x"} for d in range(300)]
    docs = lm_text.documents(nsmc, wiki, "morpheme", 0.25, 42, 0.1, None, seed=1)
    trained = {u for doc in docs["train"] for s in doc for u in s}
    val_reviews = {u for doc in docs["val_nsmc"] for s in doc for u in s}
    held_wiki = {s[0] for doc in docs["val_wiki"] for s in doc}
    assert len(val_reviews) == 10 and not val_reviews & trained
    assert not {f"r{i}" for i in range(40, 50)} & (trained | val_reviews)  # test never read
    assert held_wiki and not held_wiki & trained
    assert 10 < len(held_wiki) < 60  # about a tenth of 300 articles
    # The same articles are held out whatever else the dump holds.
    fewer = lm_text.documents(nsmc, wiki[:150], "morpheme", 0.25, 42, 0.1, None, seed=1)
    assert {s[0] for doc in fewer["val_wiki"] for s in doc} == {
        w for w in held_wiki if int(w[1:]) < 150
    }
    # A budget keeps every training review and fills up with articles.
    capped = lm_text.documents(nsmc, wiki, "morpheme", 0.25, 42, 0.1, 100, seed=1)
    reviews = [d for d in capped["train"] if d[0][0].startswith("r")]
    assert len(reviews) == 30 and len(capped["train"]) < len(docs["train"])
    syllables = lm_text.units_of({"text": "좋은 영화"}, "syllable")
    assert syllables == ["좋", "은", "▁", "영", "화"]
    assert list(lm_text.stream([[["a", "b"], ["c"]]], "<eos>")) == ["a", "b", "<eos>", "c", "<eos>"]


def test_a_stream_too_short_for_its_columns_is_refused():
    with pytest.raises(ValueError, match="too short"):
        batchify(torch.arange(5), 4)

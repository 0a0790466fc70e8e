"""The seq2seq model (masking, packing, decoding, overfitting) and its training loop."""

from dataclasses import replace

import pytest
import torch

from models.data import PairDataset, collate_pairs, load_pairs, save_pairs
from models.seq2seq import Attention, Seq2Seq, Seq2SeqConfig
from models.seq2seq_train import Seq2SeqTrainConfig, evaluate, generate, train_seq2seq

SMALL = Seq2SeqConfig(vocab_size=20, embed_dim=16, hidden_size=32, dropout=0.0)


def _model(attention="additive", seed=0, **kw):
    torch.manual_seed(seed)
    return Seq2Seq(replace(SMALL, attention=attention, **kw)).eval()


@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_attention_gives_padding_no_weight(kind):
    torch.manual_seed(0)
    attention = Attention(kind, 8)
    query, keys = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    context, weights = attention(query, keys, mask)
    assert torch.all(weights[1, :, 2:] == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3))
    garbage = keys.clone()
    garbage[1, 2:] = 1e3  # what sits in padded positions must not matter
    assert torch.allclose(attention(query, garbage, mask)[0], context)


@pytest.mark.parametrize(
    "attention, copy",
    [(a, False) for a in ("none", "dot", "general", "additive")] + [("dot", True)],
)
def test_padding_does_not_change_the_output(attention, copy):
    model = _model(attention, copy=copy)
    short = [5, 6, 7]
    alone = collate_pairs([(short, [8, 9])])
    batched = collate_pairs([(short, [8, 9]), ([5, 6, 7, 8, 9, 10, 11], [8, 9, 10, 11])])
    logits_alone = model(*alone[:3])
    logits_batched = model(*batched[:3])
    assert logits_batched.shape == (2, 5, 20)
    assert torch.allclose(logits_alone[0], logits_batched[0, :3], atol=1e-5)


def test_collate_pairs_adds_sos_and_eos():
    src, lengths, tgt_in, tgt_out = collate_pairs([([4, 5], [6]), ([4], [6, 7, 8])])
    assert src.tolist() == [[4, 5], [4, 0]] and lengths.tolist() == [2, 1]
    assert tgt_in.tolist() == [[2, 6, 0, 0], [2, 6, 7, 8]]
    assert tgt_out.tolist() == [[6, 3, 0, 0], [6, 7, 8, 3]]


@pytest.mark.parametrize("attention", ["none", "dot", "additive"])
def test_beam_of_one_is_greedy(attention):
    model = _model(attention, seed=1)
    sources = [[4, 5, 6], [7], [8, 9, 10, 11, 12], [13, 14]]
    greedy = generate(model, sources, max_len=12)
    assert generate(model, sources, max_len=12, beam=1) == greedy
    src, lengths, _, _ = collate_pairs([(s, []) for s in sources])
    assert model.beam_search(src, lengths, max_len=12, beam=1) == greedy


def test_generation_stops_at_max_len():
    model = _model(seed=2)
    with torch.no_grad():
        model.out.bias[model.config.eos_id] = -1e4  # a model that never says <eos>
    sources = [[4, 5], [6, 7, 8]]
    for beam in (1, 3):
        answers = generate(model, sources, max_len=7, beam=beam)
        assert [len(a) for a in answers] == [7, 7]


def test_beam_search_scores_at_least_as_well_as_greedy():
    model = _model(seed=3)
    sources = [[4, 5, 6], [9, 10]]
    src, lengths, _, _ = collate_pairs([(s, []) for s in sources])

    def logprob(answer, i):
        tgt = collate_pairs([(sources[i], answer)])
        logits = model(src[i : i + 1, : lengths[i]], lengths[i : i + 1], tgt[2])
        return logits.log_softmax(-1).gather(-1, tgt[3][..., None]).sum().item()

    greedy = generate(model, sources, max_len=10)
    beam = model.beam_search(src, lengths, max_len=10, beam=5, length_penalty=0.0)
    for i in range(2):
        assert logprob(beam[i], i) >= logprob(greedy[i], i) - 1e-4


def _toy_pairs():
    questions = [[4, 5], [6, 7, 8], [9], [10, 11], [12, 13, 14], [15], [16, 17], [18, 19, 4]]
    answers = [[5, 6, 7], [8], [9, 10, 11, 12], [13, 4], [14, 15], [16, 17, 18, 19], [4], [19, 5]]
    return PairDataset(questions, answers)


@pytest.mark.parametrize("attention", ["none", "additive"])
def test_tiny_overfit_reproduces_the_training_answers(attention):
    data = _toy_pairs()
    model = Seq2Seq(replace(SMALL, attention=attention))
    cfg = Seq2SeqTrainConfig(
        epochs=150, batch_size=4, lr=1e-2, patience=1000, label_smoothing=0.0, schedule="constant"
    )
    train_seq2seq(model, data, data, cfg)
    assert generate(model, data.sources, max_len=10) == data.targets
    assert generate(model, data.sources, max_len=10, beam=3) == data.targets
    assert evaluate(model, data)["accuracy"] == 1.0


@pytest.mark.parametrize("beam", [1, 3])
def test_an_answer_does_not_depend_on_the_questions_decoded_beside_it(beam, monkeypatch):
    """Answers that end leave the batch while the others go on; what each row gets must be
    what it gets decoded alone, under every decoding rule."""
    data = _toy_pairs()
    torch.manual_seed(0)
    model = Seq2Seq(replace(SMALL, attention="general"))
    # Half-trained: answers of several lengths that still depend on every part of the state
    # (a fully fitted toy model answers right even from another row's encoder states).
    cfg = Seq2SeqTrainConfig(epochs=15, batch_size=4, lr=1e-2, patience=1000, schedule="constant")
    train_seq2seq(model, data, data, cfg)
    questions = data.sources + [[5, 4], [8, 7, 6], [11, 10, 9, 12], [19]]
    rules = {"beam": beam, "no_repeat_ngram": 2, "min_len": 2}
    rows_per_step, step = [], model.step

    def counted(tokens, *args):
        rows_per_step.append(tokens.size(0))
        return step(tokens, *args)

    monkeypatch.setattr(model, "step", counted)
    together = generate(model, questions, max_len=10, **rules)
    assert len({len(a) for a in together}) >= 3  # rows end at different steps
    assert min(rows_per_step) < max(rows_per_step) == len(questions) * beam  # and leave
    assert together == [generate(model, [q], max_len=10, **rules)[0] for q in questions]


def test_scheduled_sampling_trains_and_resumes(tmp_path):
    data = _toy_pairs()
    cfg = Seq2SeqTrainConfig(epochs=3, batch_size=4, teacher_forcing=0.5, patience=10)

    def run(folder, crash_at=None):
        torch.manual_seed(7)
        model = Seq2Seq(SMALL)

        def crash(log):
            if log["epoch"] == crash_at:
                raise KeyboardInterrupt

        result = train_seq2seq(model, data, data, cfg, tmp_path / folder, on_epoch=crash)
        return model, result

    straight, result = run("a")
    assert result.best_score == min(h["val_loss"] for h in result.history)
    with pytest.raises(KeyboardInterrupt):
        run("b", crash_at=2)
    resumed, _ = run("b")
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_pairs_round_trip_through_a_file(tmp_path):
    data = _toy_pairs()
    back = load_pairs(save_pairs(tmp_path / "pairs.pt", data.sources, data.targets))
    assert back.sources == data.sources and back.targets == data.targets


def test_empty_source_is_refused_and_generate_copes():
    with pytest.raises(ValueError, match="empty sources"):
        PairDataset([[]], [[4]])
    assert len(generate(_model(), [[]], max_len=4)) == 1


def _ngrams(seq, n):
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


@pytest.mark.parametrize("n", [2, 3])
def test_repeated_ngrams_are_blocked(n):
    model = _model(seed=4)
    with torch.no_grad():
        model.out.bias[7] = 1e4  # a model stuck on one token: 7 7 7 7 ...
        model.out.bias[model.config.eos_id] = -1e4
    sources = [[4, 5], [6, 8, 9]]
    for beam in (1, 3):
        stuck = generate(model, sources, max_len=8, beam=beam)
        assert all(a == [7] * 8 for a in stuck)
        for answer in generate(model, sources, max_len=8, beam=beam, no_repeat_ngram=n):
            grams = _ngrams(answer, n)
            assert len(answer) == 8 and len(set(grams)) == len(grams)


def test_no_empty_answers_and_no_special_tokens():
    model = _model(seed=5)
    eos = model.config.eos_id
    with torch.no_grad():
        model.out.bias[eos] = 50.0  # wants to stop at once ...
        model.out.bias[1] = 40.0  # ... or say <unk>
        model.out.bias[0] = 40.0  # ... or padding
    for beam in (1, 3):
        answers = generate(model, [[4, 5], [6]], max_len=6, beam=beam)
        assert all(len(a) >= 1 for a in answers)  # min_len=1: never empty
        assert all(t not in (0, 1, 2, eos) for a in answers for t in a)
        assert generate(model, [[4, 5]], max_len=6, beam=beam, min_len=3)[0].__len__() >= 3


class _Scripted(Seq2Seq):
    """First token 5; then 6 (log-prob about 0) or <eos> (about -3), forever."""

    calls = 0

    def step(self, tokens, state, memory):
        logits = torch.full((tokens.size(0), self.config.vocab_size), -30.0)
        if self.calls == 0:
            logits[:, 5] = 0.0
        else:
            logits[:, 6], logits[:, self.config.eos_id] = 0.0, -3.0
        self.calls += 1
        return logits, state


def test_beam_search_prefers_a_finished_answer_to_one_cut_at_max_len():
    torch.manual_seed(0)
    model = _Scripted(SMALL).eval()
    src, lengths, _, _ = collate_pairs([([4, 5], [])])
    # [5, 6, 6, 6, 6] scores higher but never ended: it would be cut mid-answer. Of the
    # finished ones ([5], [5, 6], ...: each pays about -3 for <eos>), the length penalty
    # (alpha 1) favours the longest that still ended within max_len.
    assert model.beam_search(src, lengths, max_len=5, beam=2) == [[5, 6, 6, 6]]
    model.calls = 0
    assert model.beam_search(src, lengths, max_len=5, beam=2, length_penalty=0.0) == [[5]]
    model.calls = 0
    assert model.greedy(src, lengths, max_len=5) == [[5, 6, 6, 6, 6]]  # greedy cannot choose


def test_a_negative_length_penalty_is_refused():
    # A negative penalty would favour ever longer answers: no bound settles a row early.
    with pytest.raises(ValueError, match="length_penalty must be 0 or more"):
        generate(_model(), [[4, 5]], max_len=5, beam=3, length_penalty=-0.5)


WORDS = 3000  # so many that each is seen as an answer word a few times at most


def _copy_task(n: int, seed: int) -> PairDataset:
    """Sources: a random question, <eos>, a random answer; target: that answer."""
    rng = torch.Generator().manual_seed(seed)

    def words(length: int) -> list[int]:
        return torch.randint(4, WORDS, (length,), generator=rng).tolist()

    sources, targets = [], []
    for _ in range(n):
        answer = words(int(torch.randint(2, 6, (1,), generator=rng)))
        sources.append([*words(3), 3, *answer])
        targets.append(answer)
    return PairDataset(sources, targets)


@pytest.mark.parametrize("copy", [True, False])
def test_the_copy_path_learns_to_copy_what_it_never_saw(copy):
    """Answers of words seen a few times each: a model that copies from its source answers
    new questions; the same model without the copy path has too few examples of each word."""
    torch.manual_seed(0)
    model = Seq2Seq(replace(SMALL, vocab_size=WORDS, copy=copy))
    cfg = Seq2SeqTrainConfig(epochs=10, batch_size=16, lr=1e-2, patience=100, label_smoothing=0.0)
    train_seq2seq(model, _copy_task(1000, 1), _copy_task(50, 2), cfg)
    unseen = _copy_task(100, 3)
    answers = generate(model, unseen.sources, 8)
    exact = sum(a == t for a, t in zip(answers, unseen.targets, strict=True))
    if copy:
        assert exact >= 90  # 100 when written
    else:
        assert exact <= 10  # 0 when written


def test_copy_scores_are_log_probabilities_and_beam_search_reads_them():
    model = _model(copy=True)
    src, lengths, tgt_in, _ = collate_pairs([([4, 5, 3, 6], [6, 7]), ([8, 3, 9], [9])])
    scores = model(src, lengths, tgt_in)
    assert torch.allclose(scores.exp().sum(-1), torch.ones(scores.shape[:2]), atol=1e-4)
    greedy = model.greedy(src, lengths, 6)
    assert model.beam_search(src, lengths, 6, beam=1) == greedy
    assert len(model.beam_search(src, lengths, 6, beam=3)) == 2


def test_copy_needs_an_attention():
    with pytest.raises(ValueError, match="copy reads the attention"):
        replace(SMALL, attention="none", copy=True)


def _choice_task(n: int, seed: int) -> PairDataset:
    """Sources: question word 4 or 5, then three random answers after <eos>s. After 4 the
    expected answer is the first retrieved one; after 5 it is none of them."""
    rng = torch.Generator().manual_seed(seed)
    sources, targets = [], []
    for _ in range(n):
        fits = bool(torch.randint(0, 2, (1,), generator=rng))
        found = [torch.randint(7, WORDS, (3,), generator=rng).tolist() for _ in range(4)]
        sources.append([4 if fits else 5, 3, *found[0], 3, *found[1], 3, *found[2]])
        targets.append(found[0] if fits else found[3])
    return PairDataset(sources, targets)


def test_the_choice_head_learns_when_to_take_the_nearest_answer():
    from models.seq2seq_train import preferences, take

    torch.manual_seed(0)
    model = Seq2Seq(replace(SMALL, vocab_size=WORDS, copy=True, choices=3))
    cfg = Seq2SeqTrainConfig(epochs=6, batch_size=16, lr=1e-2, patience=100, label_smoothing=0.0)
    train_seq2seq(model, _choice_task(600, 1), _choice_task(50, 2), cfg)
    unseen = _choice_task(100, 3)
    src, _, _, tgt_out = collate_pairs(list(zip(unseen.sources, unseen.targets, strict=True)))
    labels = model.choice_labels(src, tgt_out).tolist()
    assert set(labels) == {0, 1}  # the first retrieved answer, or none
    found = preferences(model, unseen.sources)
    assert all(a == s[2:5] for (a, _), s in zip(found, unseen.sources, strict=True))
    right = sum((m > 0) == (label == 1) for (_, m), label in zip(found, labels, strict=True))
    assert right >= 95  # it knows when the nearest answer is the one
    written = [[6]] * len(unseen)
    assert take(written, found, 100.0) == [a for a, _ in found]  # always take
    assert take(written, found, -100.0) == written  # never take
    answers = generate(model, unseen.sources, 8)  # the default rule: take where preferred
    assert sum(a == t for a, t in zip(answers, unseen.targets, strict=True)) >= 45


def test_a_model_without_a_choice_head_never_takes():
    from models.seq2seq_train import preferences

    model = _model()
    assert preferences(model, [[4, 3, 5, 6]]) == [([], float("-inf"))]
    assert Seq2Seq.parts([4, 3, 5, 6, 3, 7], 3) == [[5, 6], [7]]


def test_a_decoder_takes_the_layers_of_a_language_model_of_its_width():
    from models.lm import LanguageModel, LMConfig
    from models.seq2seq import decoder_from_lm, load_start

    lm = LanguageModel(LMConfig(vocab_size=9, embed_dim=4, hidden_size=6, num_layers=2))
    state = lm.state_dict()
    rows = torch.tensor([0, 1, 2, 3, 8, 7, 6])  # this model's id -> the LM's
    cfg = Seq2SeqConfig(vocab_size=7, embed_dim=4, hidden_size=6, num_layers=2, attention="none")
    model = Seq2Seq(cfg)
    load_start(model, decoder_from_lm(state, cfg, rows))
    assert torch.equal(model.decoder.weight_ih_l0, state["rnns.0.weight_ih_l0"])
    assert torch.equal(model.decoder.bias_hh_l1, state["rnns.1.bias_hh_l0"])
    assert torch.equal(model.out.weight[4], state["head.weight"][8])
    assert torch.equal(model.out.bias[6], state["head.bias"][6])
    # The output layer reads the LM's last layer only, and never the attention's mix.
    assert "out.weight" not in decoder_from_lm(state, replace(cfg, num_layers=1), rows)
    assert "out.weight" not in decoder_from_lm(state, replace(cfg, attention="dot"), rows)
    assert "decoder.weight_hh_l0" in decoder_from_lm(state, replace(cfg, attention="dot"), rows)
    # Other widths, more layers than the LM's: nothing fits.
    assert decoder_from_lm(state, replace(cfg, hidden_size=8), rows) == {}
    assert decoder_from_lm(state, replace(cfg, embed_dim=5), rows) == {}
    assert decoder_from_lm(state, replace(cfg, num_layers=3), rows) == {}
    with pytest.raises(ValueError, match="not this model's weights"):
        load_start(model, {"rnns.0.weight_ih_l0": state["rnns.0.weight_ih_l0"]})

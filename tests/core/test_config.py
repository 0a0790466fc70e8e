"""Stage settings (``korflow.core.config``): resolved once per stage, each upstream stage's
settings held once and shared by every stage that reads them, cross-stage rules declared by the
stage that reads, and the records of runs logged before (with a copy of every upstream in each
stage) resolving as they ran."""

from __future__ import annotations

import json

import pytest

from app.reproduce import as_logged
from korflow.core.config.resolve import ConfigError, settings_model, stage_config
from korflow.core.stages import SPEC, STAGES
from tests.helpers import FIXTURES

# Logged by the quick pipeline at 1932a7e, before settings held each upstream once; beside
# each stage, what narrowed its run to one variant, the settings added since as it ran them
# (its morpheme language models one after the other, its lm variant beside random embeddings),
# and the quick profile's values as they were then (3 morpheme LM epochs, 12 sentiment epochs).
ONE_AFTER_THE_OTHER = {"morpheme": {"side_by_side": False, "train": {"epochs": 3}}}
TWELVE_EPOCHS = {"train": {"epochs": 12}}
RECORDS = {
    "pipeline": {"lm": ONE_AFTER_THE_OTHER, "sentiment": {"lm_vectors": None, **TWELVE_EPOCHS}},
    "embed": {"levels": ["syllable"]},
    "lm": {
        "units": ["morpheme"],
        "morpheme": {"directions": ["forward"], **ONE_AFTER_THE_OTHER["morpheme"]},
        "register_model": False,
    },
    "sentiment": {
        "embeddings": ["syllable"],
        "register_model": False,
        "lm": ONE_AFTER_THE_OTHER,
        "lm_vectors": None,
        **TWELVE_EPOCHS,
    },
    "seq2seq": {"register_model": False, "lm": ONE_AFTER_THE_OTHER},
}


def pipeline_config(profile, overrides=None):
    return stage_config("pipeline", profile, overrides)


@pytest.mark.parametrize("stage", RECORDS)
def test_a_run_logged_with_copies_of_its_upstream_settings_resolves_as_it_ran(stage):
    record = json.loads((FIXTURES / "records" / f"{stage}-quick-1932a7e.json").read_text())
    config = stage_config(stage, "quick", as_logged(record["overrides"]))
    assert config == stage_config(stage, "quick", RECORDS[stage])
    # Logged today, each upstream once: the same settings, and nothing repeated.
    logged = config.model_dump(mode="json")
    assert stage_config(stage, "quick", logged) == config
    for name in settings_model(stage).reads():
        assert not set(logged[name]) & set(STAGES), (name, "holds a copy of its upstream")


def test_every_stage_holds_the_settings_of_the_stages_it_reads_and_theirs():
    for stage in STAGES:
        reads = set(settings_model(stage).reads())
        assert set(SPEC[stage].upstream) <= reads  # what the pipeline wires is what it reads
        for name in reads:  # every upstream's upstream too: each is dumped once, beside it
            assert set(settings_model(name).reads()) <= reads, (stage, name)


def test_bad_stage_config_fails_before_any_stage_runs():
    with pytest.raises(ConfigError, match=r"(?s)pipeline stage seq2seq.*Seq2SeqStageConfig.*beam"):
        pipeline_config("quick", {"seq2seq": {"beam": 0}})
    with pytest.raises(ConfigError, match="stages"):
        pipeline_config("quick", {"stages": ["corpus", "translate"]})
    with pytest.raises(ConfigError, match=r"(?s)sentiment's corpus.*CorpusConfig.*wiki_max_docs"):
        stage_config("sentiment", "quick", {"corpus": {"wiki_max_docs": 0}})
    with pytest.raises(ConfigError, match="unknown profile 'tiny'"):
        stage_config("embed", "tiny")


def test_upstream_settings_reach_every_stage_once():
    cfg = pipeline_config("quick", {"corpus": {"wiki_max_docs": 5}, "embed": {"levels": ["jamo"]}})
    for stage in (cfg.embed, cfg.lm, cfg.sentiment, cfg.seq2seq):
        assert stage.corpus is cfg.corpus  # one instance: nothing to keep equal
    assert cfg.corpus.wiki_max_docs == 5 and cfg.corpus.nsmc_train_rows == 20_000
    assert cfg.sentiment.embed is cfg.seq2seq.embed is cfg.embed and cfg.embed.levels == ["jamo"]
    assert cfg.sentiment.lm is cfg.seq2seq.lm is cfg.lm
    logged = cfg.model_dump(mode="json")
    assert pipeline_config("quick", logged) == cfg
    assert "corpus" not in logged["embed"] and "embed" not in logged["sentiment"]
    # A copy inside a later stage's settings (the form runs were logged in) may repeat the
    # upstream's, never differ from it: the pipeline runs one corpus stage and one FastText
    # stage for all.
    same = {"embed": {"levels": ["jamo"]}, "sentiment": {"embed": {"levels": ["jamo"]}}}
    assert pipeline_config("quick", same).sentiment.embed.levels == ["jamo"]
    for wrong, where in (
        ({"sentiment": {"corpus": {"wiki_max_docs": 5}}}, "sentiment.corpus"),
        ({"embed": {"corpus": {"wiki_max_docs": 5}}}, "embed.corpus"),
        ({"seq2seq": {"embed": {"levels": ["jamo"]}}}, "seq2seq.embed"),
        ({"seq2seq": {"lm": {"ngram_order": 2}}}, "seq2seq.lm"),
        ({"sentiment": {"lm": {"corpus": {"wiki_max_docs": 5}}}}, "sentiment.lm.corpus"),
    ):
        with pytest.raises(ConfigError, match=f"{where} differs .* give its settings once"):
            pipeline_config("quick", wrong)


def test_the_language_models_hold_out_the_classifiers_validation_reviews():
    # The sentiment stage gives the LM stage its split unless the user gives the LM another,
    # which the lm variant refuses: the biLM must never read the reviews the classifier is
    # chosen on.
    split = {"val_fraction": 0.2, "split_seed": 7}
    for cfg in (
        pipeline_config("quick", {"sentiment": split}),
        stage_config("sentiment", "quick", split),
    ):
        assert (cfg.lm.val_fraction, cfg.lm.split_seed) == (0.2, 7)
    # A copy that repeats it is the same settings (a record's sentiment.lm).
    repeated = pipeline_config("quick", {"sentiment": {**split, "lm": split}})
    assert repeated == pipeline_config("quick", {"sentiment": split})
    assert stage_config("lm", "quick").val_fraction == 0.1
    with pytest.raises(ConfigError, match="must be the sentiment stage's"):
        stage_config("sentiment", "quick", {"lm": {"split_seed": 1}})
    # Without the lm variant the split is the user's to choose.
    cfg = stage_config("sentiment", "quick", {"embeddings": ["random"], "lm": {"split_seed": 1}})
    assert cfg.lm.split_seed == 1
    with pytest.raises(ConfigError, match="reads the morpheme biLM"):
        stage_config("sentiment", "quick", {"lm": {"units": ["syllable"]}})


def test_the_chatbot_starts_from_the_pipelines_language_model():
    cfg = pipeline_config("quick", {"lm": {"ngram_order": 2}, "seq2seq": {"embedding": "lm"}})
    assert cfg.seq2seq.lm is cfg.sentiment.lm is cfg.lm and cfg.lm.ngram_order == 2
    assert pipeline_config("quick", cfg.model_dump(mode="json")) == cfg  # a logged record
    # It reads the forward model of its own units: one the LM stage trains.
    with pytest.raises(ConfigError, match="forward syllable model"):
        pipeline_config("quick", {"lm": {"units": ["morpheme"]}, "seq2seq": {"embedding": "lm"}})
    with pytest.raises(ConfigError, match="forward morpheme model"):
        pipeline_config(
            "quick",
            {
                "lm": {"morpheme": {"directions": ["backward"]}},
                "sentiment": {"embeddings": ["random"]},
                "seq2seq": {"embedding": "lm", "unit": "morpheme"},
            },
        )


def test_a_stage_never_drops_the_corpus_given_to_its_language_model():
    # `korflow sentiment --set lm.corpus.wiki_max_docs=5`: the LM would read another corpus
    # than the stage, so it is refused, not silently replaced by the stage's own.
    for stage in ("sentiment", "seq2seq"):
        with pytest.raises(ConfigError, match="lm.corpus differs"):
            stage_config(stage, "quick", {"lm": {"corpus": {"wiki_max_docs": 5}}})
        # Repeating the stage's corpus is fine, and both read it.
        cfg = stage_config(
            stage, "quick", {"corpus": {"wiki_max_docs": 5}, "lm": {"corpus": {"wiki_max_docs": 5}}}
        )
        assert cfg.lm.corpus is cfg.corpus and cfg.corpus.wiki_max_docs == 5

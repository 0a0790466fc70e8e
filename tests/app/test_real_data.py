"""On the real data mirror (KORFLOW_DATA_MIRROR; CI always sets it)."""

import pytest

from korean.nsmc import parse_nsmc
from korflow.core import sources
from tests.helpers import korflow, store_of

pytestmark = pytest.mark.data


@pytest.mark.parametrize(("split", "rows", "empty"), [("train", 150_000, 5), ("test", 50_000, 3)])
def test_nsmc_mirror_is_upstream_and_parses_cleanly(mirror, tmp_path, split, rows, empty):
    path, sha = sources.fetch(sources.NSMC[split], mirror, tmp_path)
    assert sha == sources.NSMC[split].sha256
    with open(path, "rb") as f:
        table = parse_nsmc(f, name=str(path), strict=True)
    assert len(table) == rows and not table.skipped
    assert sum(1 for d in table.documents if not d.strip()) == empty
    assert set(table.labels) == {0, 1}


def test_readme_main_job_quick_profile_on_the_mirror(mirror, tmp_path):
    import mlflow

    out = korflow(
        "corpus", "--profile", "quick", "--data-mirror", str(mirror), home=tmp_path, timeout=900
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run_id = out.stdout.strip().splitlines()[-1]
    with store_of(tmp_path):
        m = {k: int(v) for k, v in mlflow.get_run(run_id).data.params.items() if v.isdigit()}
    assert m["nsmc.train.rows_kept"] == 20_000 and m["nsmc.test.rows_kept"] == 5_000
    dropped = sum(v for k, v in m.items() if k.startswith("nsmc.clean.dropped."))
    assert m["nsmc.clean.rows_out"] + dropped == 25_000
    assert m["wiki.docs"] == 2_000 and m["wiki.tokens"] > 1_000_000


# Everyday questions of our own, none of them in ChatbotData (checked below).
OWN_QUESTIONS = [
    "퇴근하고 뭐 먹지",
    "요즘 너무 우울해",
    "친구가 약속을 또 어겼어",
    "내일 발표가 있어서 긴장돼",
    "운동하기 너무 귀찮다",
    "강아지가 아파서 걱정이야",
    "오늘 날씨 진짜 좋다",
    "여자친구랑 헤어질까 고민이야",
]
# Syllables an answer made only of endings and particles would consist of.
ENDINGS = set("요세이다죠네가을를은는에서어아해")


def test_quick_chatbot_answers_everyday_questions_on_the_mirror(mirror, tmp_path):
    """The quick profile's chatbot (README command 1 trains it) answers questions it was never
    trained on with different, readable answers, and scores at least the retrieval baseline."""

    import mlflow

    from korean.chatbot import normalise, parse_chatbot

    chatbot = (mirror / "chatbot" / "ChatbotData.csv").read_text(encoding="utf-8-sig")
    known = {normalise(q) for q in parse_chatbot(chatbot).questions}
    assert not known & {normalise(q) for q in OWN_QUESTIONS}
    out = korflow(
        "seq2seq", "--profile", "quick", "--data-mirror", str(mirror), home=tmp_path, timeout=900
    )
    assert out.returncode == 0, out.stderr[-3000:]
    with store_of(tmp_path):
        m = mlflow.get_run(out.stdout.strip().splitlines()[-1]).data.metrics
    assert m["test_chrf"] >= m["baseline_retrieval_chrf"], m
    talk = korflow("chat", home=tmp_path, shared_api=True, input="\n".join(OWN_QUESTIONS) + "\n\n")
    assert talk.returncode == 0, talk.stderr[-3000:]
    answers = talk.stdout.strip().splitlines()
    assert len(answers) == len(OWN_QUESTIONS), answers
    assert len(set(answers)) >= 7, answers
    for answer in answers:
        syllables = normalise(answer)
        assert len(syllables) >= 2 and not set(syllables) <= ENDINGS, answers

import bz2
import json
from collections import Counter

import pytest

from korean.errors import CorpusFormatError
from korean.wiki import iter_wiki_docs, strip_wikitext
from tests.helpers import FIXTURES


def test_xml_dump_articles_markup_stripped_and_skips_counted(wiki_dump):
    skipped = Counter()
    docs = list(iter_wiki_docs(wiki_dump, skipped))
    assert [(d.id, d.title) for d in docs] == [("101", "김치"), ("104", "비빔밥")]
    kimchi = docs[0].text
    assert kimchi.splitlines()[0] == "김치는 한국의 전통 발효 음식이다."
    assert "역사" in kimchi and "삼국 시대부터" in kimchi
    for junk in (
        "{{",
        "[[",
        "'''",
        "<ref",
        "사전, 2001",
        "섬네일",
        "Kimchi.jpg",
        "분류",
        "한국 음식",
    ):
        assert junk not in kimchi
    assert skipped == {"redirect": 1, "non_article_namespace": 1, "empty_text": 1}


def test_plain_xml_reads_the_same(tmp_path):
    plain = tmp_path / "kowiki.xml"
    plain.write_bytes((FIXTURES / "kowiki-tiny.xml").read_bytes())
    assert [d.title for d in iter_wiki_docs(plain, Counter())] == ["김치", "비빔밥"]


def test_truncated_bz2_names_the_file(tmp_path, wiki_dump):
    broken = tmp_path / "kowiki-broken.xml.bz2"
    broken.write_bytes(wiki_dump.read_bytes()[:-40])
    with pytest.raises(
        CorpusFormatError, match="kowiki-broken.xml.bz2.*(corrupt|truncated|malformed)"
    ):
        list(iter_wiki_docs(broken, Counter()))


def test_malformed_xml_names_file_line_and_column(tmp_path):
    bad = tmp_path / "kowiki-bad.xml"
    text = (FIXTURES / "kowiki-tiny.xml").read_text(encoding="utf-8")
    bad.write_text(text.replace("<title>비빔밥</title>", "<title>비빔밥</titel>"), encoding="utf-8")
    skipped = Counter()
    docs = []
    with pytest.raises(
        CorpusFormatError, match=r"kowiki-bad.xml: malformed XML at line \d+, column \d+"
    ):
        for doc in iter_wiki_docs(bad, skipped):
            docs.append(doc)
    assert [d.title for d in docs] == ["김치"]  # what came before the error was delivered whole


def _extractor_tree(root, compress):
    (root / "AA").mkdir(parents=True)
    blocks = (
        '<doc id="5" url="https://ko.wikipedia.org/wiki?curid=5" title="지미 카터">\n지미 카터\n\n'
        "지미 카터는 미국의 대통령이다.\n생애.\n</doc>\n"
        '<doc id="6" url="https://ko.wikipedia.org/wiki?curid=6" title="빈 문서">\n'
        "빈 문서\n\n</doc>\n"
    )
    lines = (
        json.dumps(
            {"id": "9", "url": "u", "title": "수학", "text": "수학은 학문이다."}, ensure_ascii=False
        )
        + "\n"
    )
    for name, content in (("wiki_00", blocks), ("wiki_01", lines)):
        path = root / "AA" / (name + (".bz2" if compress else ""))
        data = content.encode("utf-8")
        path.write_bytes(bz2.compress(data) if compress else data)
    return root


@pytest.mark.parametrize("compress", [True, False])
def test_wikiextractor_tree_doc_blocks_and_json_lines(tmp_path, compress):
    skipped = Counter()
    docs = list(iter_wiki_docs(_extractor_tree(tmp_path / "tree", compress), skipped))
    assert [(d.id, d.title, d.text) for d in docs] == [
        ("5", "지미 카터", "지미 카터는 미국의 대통령이다.\n생애."),
        ("9", "수학", "수학은 학문이다."),
    ]
    assert skipped == {"empty_text": 1}


def test_wikiextractor_file_cut_inside_a_doc(tmp_path):
    root = tmp_path / "tree" / "AA"
    root.mkdir(parents=True)
    (root / "wiki_00").write_text('<doc id="1" url="u" title="가">\n가\n본문', encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"wiki_00: ends inside <doc id=1>"):
        list(iter_wiki_docs(tmp_path / "tree", Counter()))


def test_unknown_source_kind(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(CorpusFormatError, match="not a MediaWiki dump"):
        list(iter_wiki_docs(other, Counter()))


def test_strip_wikitext_keeps_link_text():
    assert (
        strip_wikitext("[[서울특별시|서울]]은 [[대한민국]]의 수도이다.")
        == "서울은 대한민국의 수도이다."
    )

import pytest

from korean.errors import CorpusFormatError
from korean.nsmc import parse_nsmc, parse_reviews
from tests.helpers import FIXTURES


def _lines():
    raw = (FIXTURES / "nsmc-train.txt").read_bytes().splitlines(keepends=True)
    return [
        *raw,
        b"1009\t" + b"\xff\xfe bad bytes" + b"\t1\n",
        b"abc\t\xec\x98\x81\xed\x99\x94\t1\n",
    ]


def test_malformed_rows_are_counted_per_reason_and_skipped():
    table = parse_nsmc(_lines(), name="fixture")
    assert table.ids == [1001, 1002, 1003, 1004, 1005, 1008]
    assert table.skipped == {"bad_label": 1, "wrong_field_count": 1, "undecodable": 1, "bad_id": 1}
    # The empty document is a valid row; cleaning decides what to do with it.
    assert table.documents[2] == ""
    assert table.labels == [1, 0, 0, 1, 1, 1]


def test_strict_fails_on_the_first_bad_row_with_its_line():
    with pytest.raises(CorpusFormatError, match=r"fixture, line 7: bad label"):
        parse_nsmc(_lines(), name="fixture", strict=True)


def _csv(rows: list[list], delimiter: str = ",") -> list[bytes]:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8").splitlines(keepends=True)


def test_a_csv_with_named_columns_is_read_by_its_header():
    lines = _csv(
        [
            ["sentiment", "note", "review"],
            [1, "x", "최고의 영화, 10점 만점에 10점"],  # the separator inside a quoted field
            [0, "y", "배우들 연기가\n너무 어색해서"],  # a line break inside one
            ["7", "z", "라벨이 이상한 행"],
            [1, "w"],
            [1, "v", "또 보고 싶은 이야기"],
        ]
    )
    table = parse_reviews(lines, "mine.csv", text="review", label="sentiment")
    assert table.documents == [
        "최고의 영화, 10점 만점에 10점",
        "배우들 연기가\n너무 어색해서",
        "또 보고 싶은 이야기",
    ]
    assert table.labels == [1, 0, 1]
    assert table.ids == [2, 3, 7]  # no id column: each row's line number
    assert table.skipped == {"bad_label": 1, "wrong_field_count": 1}
    with pytest.raises(CorpusFormatError, match=r"mine.csv, line 5: bad label"):
        parse_reviews(lines, "mine.csv", strict=True, text="review", label="sentiment")


def test_a_tsv_keeps_its_id_column_and_nsmc_files_read_as_before():
    lines = _csv([["label", "id", "document"], [0, 17, "별로"], [1, "", "좋다"]], "\t")
    table = parse_reviews(lines, "mine.tsv")
    assert (table.ids, table.documents, table.labels) == ([17, 3], ["별로", "좋다"], [0, 1])
    nsmc = parse_reviews(_lines(), "fixture")
    assert nsmc == parse_nsmc(_lines(), "fixture")


def test_a_missing_column_names_the_setting_to_fix():
    lines = _csv([["text", "label"], ["좋다", 1]])
    with pytest.raises(
        CorpusFormatError, match=r"no column 'document' \(it has text, label\).*nsmc_text_column"
    ):
        parse_reviews(lines, "mine.csv")

import pytest

from korean.errors import CorpusFormatError
from korean.nsmc import parse_nsmc
from tests.conftest import FIXTURES


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

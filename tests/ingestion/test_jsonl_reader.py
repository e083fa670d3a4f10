"""JSON lines: DuckDB's JSON functions read a file as Python's json module would, value for
value; what they would read otherwise goes to the line-by-line reader (ingestion/readers.py)."""

from __future__ import annotations

import json

import pytest

from ingestion import readers
from ingestion.readers import UnreadableFile, read_jsonl

FAST = [
    '{"id": "A-1", "n": 41, "ok": true, "note": null, "ratio": 0.25, "whole": 3.0}',
    '{"id": "A-2", "n": -7, "ok": false, "ratio": 1e-7, "extra": "caf\\u00e9 \\"q\\"\\n"}',
    "",
    "   \t",
    '{"n": 18446744073709551615, "id": "A-3", "a/b": "slash", "c~d": "tilde"}',
    '{"id": "A-4", "whole": -0.0, "ratio": 123.456e10, "n": 9007199254740991}',
    '{"id": "A-5", "broken": ',
    "[1, 2]",
    '"just text"',
    '{"id": "A-6", "n": 1,}',
    "{}",
    '{"id": "A-7", "ratio": 2.5}\r',
    '{"id": "A-8"} trailing',
]


def _table(parsed):
    return parsed.con.execute("select * from src order by _source_row").fetchall()


def _both(path, text: bytes):
    path.write_bytes(text)
    data = text.removeprefix(readers.UTF8_BOM)
    return read_jsonl(path), readers._jsonl_in_duckdb(data), readers._jsonl_in_python(data, "utf-8")


def _same(got, expected) -> None:
    assert got.columns == expected.columns
    assert got.rows_raw == expected.rows_raw
    assert got.rejects == expected.rejects
    assert _table(got) == _table(expected)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("last", ["", "\n", "\n\n"])
def test_duckdb_reads_what_python_reads(tmp_path, newline, last):
    text = (newline.join(FAST) + last).encode("utf-8")
    got, fast, python = _both(tmp_path / "a.jsonl", readers.UTF8_BOM + text)
    assert fast is not None, "these lines are DuckDB's to read"
    _same(fast, python)
    _same(got, python)
    assert got.columns == ["id", "n", "ok", "note", "ratio", "whole", "extra", "a/b", "c~d"]
    assert [r.source_row for r in got.rejects] == [7, 8, 9, 10, 13]
    rows = {r[0]: r for r in _table(got)}
    assert rows["A-1"][1:7] == ("41", "true", None, "0.25", "3", None)
    assert rows["A-2"][4] == "1e-07" and rows["A-2"][6] == 'café "q"\n'
    assert rows["A-3"][1] == "18446744073709551615" and rows["A-3"][7:9] == ("slash", "tilde")
    assert rows["A-4"][4:6] == ("1234560000000", "0")
    assert "invalid JSON: Expecting property name" in got.rejects[3].reason  # the trailing comma


@pytest.mark.parametrize(
    "line",
    [
        '{"id": "B", "x": NaN}',
        '{"id": "B", "x": inf}',
        '{"id": "B", "x": {"b": 1, "a": [1, 2]}}',
        '{"id": "B", "x": [1, "two"]}',
        '{"id": "B", "x": 1, "x": 2}',
        '{"id": "B", "x": 123456789012345678901234}',
        '{"id": "B", "x": 1e20}',
        '{"id": "B", "x": "nul \\u0000 inside"}',
        '{"id": "B", "": "an empty key"}',
    ],
)
def test_what_duckdb_reads_otherwise_goes_to_python(tmp_path, line):
    text = ('{"id": "A", "x": "plain"}\n' + line + "\n").encode("utf-8")
    got, fast, python = _both(tmp_path / "b.jsonl", text)
    assert fast is None
    _same(got, python)
    if "inf" not in line:  # Python reads the others as objects; lowercase inf it refuses
        assert got.rows_parsed == 2
        record = json.loads(line)
        assert _table(got)[1][1] == readers._cell_text(record.get("x"))


def test_undecodable_bytes_are_rejected_by_line(tmp_path):
    text = b'{"id": "A"}\n{"id": "caf\xe9"}\n{"id": "C"}\n'
    got, fast, python = _both(tmp_path / "c.jsonl", text)
    assert fast is None
    _same(got, python)
    assert [r.source_row for r in got.rejects] == [2] and "undecodable" in got.rejects[0].reason


def test_half_a_surrogate_pair_rejects_its_line_not_the_file(tmp_path):
    text = b'{"id": "A", "x": "\\ud83d\\ude00"}\n{"id": "B", "x": "\\ud800 alone"}\n{"id": "C"}\n'
    got, fast, python = _both(tmp_path / "s.jsonl", text)
    assert fast is not None  # DuckDB refuses the line; Python's json judges it, as it would
    _same(fast, python)
    _same(got, python)
    assert [r.source_row for r in got.rejects] == [2]
    assert "\\ud800" in got.rejects[0].reason and "surrogate" in got.rejects[0].reason
    assert [row[:2] for row in _table(got)] == [("A", "\U0001f600"), ("C", None)]


def test_only_rejected_lines_and_empty_files(tmp_path):
    got, fast, python = _both(tmp_path / "d.jsonl", b'{"id": \n[1]\n')
    assert fast is not None
    _same(fast, python)
    assert got.columns == [] and got.rows_raw == 2 and got.rows_parsed == 0
    for text in (b"", b"\n \n\r\n"):
        (tmp_path / "e.jsonl").write_bytes(text)
        with pytest.raises(UnreadableFile, match="the file is empty"):
            read_jsonl(tmp_path / "e.jsonl")

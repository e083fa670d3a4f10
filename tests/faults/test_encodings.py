"""Wrong encodings are named, not guessed at (issue 4, point 4), read by the nightly readers."""

from __future__ import annotations

import pytest

from ingestion.readers import UnreadableFile, read_csv, read_jsonl

TEXT = "id,name\r\n1,Café Olé\r\n2,Zoë\r\n"


def test_utf8_read_as_cp1252_loads_with_a_note(tmp_path):
    export = tmp_path / "stops.csv"
    export.write_bytes(TEXT.encode("utf-8"))
    parsed = read_csv(export, encoding="cp1252")
    assert parsed.rows_raw == 2 and parsed.rows_parsed == 2
    assert any("valid UTF-8 but the mapping says encoding cp1252" in n for n in parsed.notes)
    right = tmp_path / "right.csv"
    right.write_bytes(TEXT.encode("cp1252"))
    assert read_csv(right, encoding="cp1252").notes == []


@pytest.mark.parametrize("declared", ["utf-8", "cp1252"])
def test_utf16_is_named_whatever_the_mapping_says(tmp_path, declared):
    export = tmp_path / "stops.csv"
    export.write_bytes(TEXT.encode("utf-16"))
    with pytest.raises(UnreadableFile, match="UTF-16"):
        read_csv(export, encoding=declared)
    lines = tmp_path / "stops.jsonl"
    lines.write_bytes('{"id": 1}\n'.encode("utf-16"))
    with pytest.raises(UnreadableFile, match="UTF-16"):
        read_jsonl(lines, encoding=declared)


def test_cp1252_bytes_in_a_utf8_file_reject_their_line_and_column(tmp_path):
    export = tmp_path / "stops.csv"
    export.write_bytes(b"id,name,city\r\n1,Ana,Lima\r\n2,Jos\xe9,Quito\r\n3,Eva,Cusco\r\n")
    parsed = read_csv(export, encoding="utf-8")
    assert parsed.rows_raw == 3 and parsed.rows_parsed == 2
    (reject,) = parsed.rejects
    assert (reject.source_row, reject.column_name) == (3, "name")
    assert "undecodable bytes for encoding utf-8" in reject.reason

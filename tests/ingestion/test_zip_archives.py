"""ZIP archives as open-data portals hand them out ("download as ZIP"): the one data file
inside is read as if it had been sent alone; anything else is refused with a reason."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml

from dagster_project import cli
from ingestion.readers import UnreadableFile, read_csv, read_head, read_json, read_jsonl

CSV = (
    "Incident #;Stop Date;Race;Searched\r\n"
    "A1;01/02/2023;W;Y\r\n"
    "A2;01/03/2023;B;N;extra\r\n"
    'A3;01/04/2023;"H";N\r\n'
).encode("cp1252")


def archive(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members.items():
            out.writestr(name, data)
    return path


def table(parsed) -> tuple[list[str], list[tuple], list[tuple]]:
    rows = parsed.con.execute("select * from src order by _source_row").fetchall()
    return parsed.columns, rows, [(r.source_row, r.reason) for r in parsed.rejects]


def test_the_one_data_file_reads_as_the_file_alone(tmp_path):
    plain = tmp_path / "stops.csv"
    plain.write_bytes(CSV)
    zipped = archive(
        tmp_path / "stops.zip",
        {
            "export/stops.csv": CSV,
            "export/README.txt": b"Stops, 2023",
            "export/data_dictionary.pdf": b"%PDF-1.4",
            "__MACOSX/export/._stops.csv": b"\x00\x05",
            "export/.DS_Store": b"\x00",
        },
    )
    options = {"encoding": "cp1252", "delimiter": ";"}
    expected = table(read_csv(plain, **options))
    assert expected[2] == [(3, "TOO MANY COLUMNS: Expected Number of Columns: 4 Found: 5")]
    assert table(read_csv(zipped, **options)) == expected
    assert len(expected[1]) == 2
    assert read_head(zipped, 20) == CSV[:20]  # what onboard and the hints sniff


def test_json_and_json_lines_inside_an_archive(tmp_path):
    records = [{"id": 1, "race": "W"}, {"id": 2, "race": "B"}]
    zipped = archive(tmp_path / "a.zip", {"a.json": json.dumps({"data": records}).encode()})
    assert table(read_json(zipped))[1] == [("1", "W", 1), ("2", "B", 2)]
    lines = "\n".join(json.dumps(r) for r in records).encode()
    zipped = archive(tmp_path / "b.zip", {"b.jsonl": lines})
    assert table(read_jsonl(zipped))[1] == [("1", "W", 1), ("2", "B", 2)]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {"a.csv": CSV, "b.csv": CSV},
            r"must hold one data file, this one holds 2 \(a.csv, b.csv\)",
        ),
        ({"README.txt": b"nothing here"}, r"holds 0 \(none\)"),
        ({"a.csv.gz": b"\x1f\x8b\x08\x00"}, "a.csv.gz in the ZIP archive is itself an archive"),
        ({"xl/workbook.xml": b"<workbook/>"}, "Excel workbook: set format: excel"),
    ],
)
def test_other_archives_are_refused_with_the_reason(tmp_path, members, message):
    with pytest.raises(UnreadableFile, match=message):
        read_csv(archive(tmp_path / "a.zip", members))


def test_a_damaged_archive_is_named(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(archive(tmp_path / "ok.zip", {"a.csv": CSV * 50}).read_bytes()[:120])
    with pytest.raises(UnreadableFile, match="ZIP archive"):
        read_csv(path)


def test_onboard_drafts_the_archived_file(tmp_path):
    more = "".join(f"A{n};01/05/2023;W;N\r\n" for n in range(4, 40)).encode()
    zipped = archive(tmp_path / "stops_2023.zip", {"stops_2023.csv": CSV + more})
    out = tmp_path / "draft.yml"
    argv = ["onboard", "new_agency", str(zipped), "--dataset", "stops", "--out", str(out)]
    assert cli.main(argv) == 0
    draft = yaml.safe_load(out.read_text())
    assert draft["format"] == "csv"
    assert draft["csv"] == {"delimiter": ";"}
    assert draft["columns"]["stop_date"] == "Stop Date"
    assert draft["columns"]["subject_race"] == "Race"

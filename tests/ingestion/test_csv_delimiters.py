"""CSV exports written with another delimiter than the comma (semicolon where the comma is the
decimal mark, tab from RMS "text" exports, pipe), or with a report tool's title lines above the
header: found by `lantern onboard`, and named, with the mapping setting to change, when a mapping
reads the file otherwise."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import pytest
import yaml

from dagster_project import cli
from ingestion.readers import read_csv, sniff_layout

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
TERRY = REAL / "seattle-terry-stops-2017snap" / "Terry_Stops.csv"


def written(rows: list[list[str]], delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue()


ROWS = [["id", "when", "note", "amount"]] + [
    [str(i), "01/02/2023", "Smith, J; 3|4" if i % 3 == 0 else "x", "1,5"] for i in range(30)
]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_the_one_every_line_agrees_on(delimiter):
    """Quoted fields holding the other delimiters, and a last line cut by the sample's end."""
    text = written(ROWS, delimiter)
    assert sniff_layout(text)[0] == delimiter
    assert sniff_layout(text[: len(text) - 7])[0] == delimiter
    assert sniff_layout("\ufeff" + text)[0] == delimiter


def test_a_single_column_has_no_delimiter():
    assert sniff_layout("id\n1\n2\n")[0] is None
    assert sniff_layout("")[0] is None


@pytest.mark.skipif(not TERRY.is_file(), reason=f"real export not found at {TERRY}")
@pytest.mark.parametrize(("delimiter", "written_as"), [(";", '";"'), ("\t", '"\\t"')])
def test_onboard_drafts_the_delimiter_of_a_real_export(tmp_path, delimiter, written_as):
    """Seattle's Terry stops (the real CSV in ../shared), re-written with semicolons or tabs:
    the draft says so and proposes the columns the comma original gets."""
    with TERRY.open(newline="", encoding="utf-8") as handle:
        rows = list(itertools.islice(csv.reader(handle), 501))
    drafts = {}
    for name, sep in (("comma", ","), ("other", delimiter)):
        sample = tmp_path / f"{name}.csv"
        sample.write_text(written(rows, sep), encoding="utf-8")
        out = tmp_path / f"{name}.yml"
        argv = ["onboard", "new_agency", str(sample), "--dataset", "stops", "--out", str(out)]
        assert cli.main(argv) == 0
        drafts[name] = out.read_text()
    assert f"csv: {{delimiter: {written_as}}}  # REVIEW: detected" in drafts["other"]
    assert "csv:" not in drafts["comma"]
    other, comma = yaml.safe_load(drafts["other"]), yaml.safe_load(drafts["comma"])
    assert other["csv"] == {"delimiter": delimiter}
    assert other["columns"] == comma["columns"]
    assert len(other["columns"]) >= 8


TITLED = (
    'Stops Report, "All Districts"\r\n'
    "Generated 01/05/2024 08:00\r\n"
    "\r\n"
    "id,when,race\r\n"
    "1,01/02/2023,W\r\n"
    "2,01/03/2023\r\n"
    "3,01/04/2023,B\r\n"
) + "".join(f"{n},01/05/2023,W\r\n" for n in range(4, 30))


def test_title_lines_above_the_header_are_skipped_and_lines_keep_their_numbers(tmp_path):
    assert sniff_layout(TITLED) == (",", 3)
    assert sniff_layout(ROWS and written(ROWS, ";")) == (";", 0)
    path = tmp_path / "a.csv"
    path.write_text(TITLED, newline="")
    parsed = read_csv(path, skip_rows=3)
    assert parsed.columns == ["id", "when", "race"]
    numbers = parsed.con.execute("select id, _source_row from src order by 2").fetchall()
    assert numbers[:3] == [("1", 5), ("3", 7), ("4", 8)]
    assert len(numbers) == 28
    assert [(r.source_row, r.raw_text) for r in parsed.rejects] == [(6, "2,01/03/2023")]
    assert parsed.rows_raw == 29


@pytest.mark.skipif(not TERRY.is_file(), reason=f"real export not found at {TERRY}")
def test_onboard_drafts_the_title_lines_of_a_real_export(tmp_path):
    with TERRY.open(newline="", encoding="utf-8") as handle:
        rows = list(itertools.islice(csv.reader(handle), 301))
    sample = tmp_path / "terry_report.csv"
    sample.write_text("Terry Stops, Seattle PD\r\nRun 2024-01-05\r\n" + written(rows, ","))
    out = tmp_path / "draft.yml"
    argv = ["onboard", "new_agency", str(sample), "--dataset", "stops", "--out", str(out)]
    assert cli.main(argv) == 0
    draft = yaml.safe_load(out.read_text())
    assert draft["csv"] == {"skip_rows": 2}
    assert draft["columns"]["source_record_id"] == "TERRY_STOP_ID"

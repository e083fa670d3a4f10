"""Bad input never crashes a run and is never silently dropped (issue 4, points 4 and 7).

Every kind of bad delivery is dropped at once into a copy of the clean baseline's landing zone,
and the real nightly job runs once. Each bad file is built from rows the baseline already holds
(the same records, re-sent), so whatever of it is accepted changes no published number: the
release must equal the baseline's, the quality report must name every fault, `lantern status`
must show it, and for every file raw rows = accepted + rejected + quarantined.
"""

from __future__ import annotations

import shutil

import openpyxl
import pytest

from dagster_project import cli
from dagster_project.publication import current_release, verify_release

HOSTILE = 'x"; DROP TABLE raw.stops; --'
HOSTILE_VALUE = "'); DROP TABLE raw.files; --"
STOPS = "alder_pd/stops"


def good_lines(landing, manifest, relative: str) -> list[bytes]:
    """The header and the well-formed lines of a demo file (CRLF-separated, cp1252)."""
    entry = next(f for f in manifest["agencies"]["alder_pd"]["files"] if f["path"] == relative)
    bad = {m["line"] for m in entry["malformed"]}
    lines = (landing / relative).read_bytes().removesuffix(b"\r\n").split(b"\r\n")
    return [line for number, line in enumerate(lines, start=1) if number not in bad]


def write_lines(path, lines: list[bytes], end: bytes = b"\r\n") -> None:
    path.write_bytes(b"\r\n".join(lines) + end)


def inject_faults(landing, manifest, outside) -> dict[str, str]:
    """Write every bad delivery; returns case -> file (relative to the landing zone)."""
    lines = good_lines(landing, manifest, f"{STOPS}/alder_stops_2023H2.csv")
    header = lines[0].split(b",")
    cases = {}

    def add(case: str, name: str) -> str:
        cases[case] = f"{STOPS}/{name}"
        return landing / STOPS / name

    # undecodable bytes: 0x81 is not a cp1252 character, in the Location column of line 5
    undecodable = list(lines)
    fields = undecodable[4].split(b",")
    fields[header.index(b"Location")] = b"BAD \x81 BYTE"
    undecodable[4] = b",".join(fields)
    write_lines(add("undecodable", "alder_stops_2024A_undecodable.csv"), undecodable)

    # the wrong encoding: the whole export saved as UTF-16 ("Unicode text")
    text = b"\r\n".join(lines).decode("cp1252") + "\r\n"
    add("utf16", "alder_stops_2024B_utf16.csv").write_bytes(text.encode("utf-16"))

    # truncated: the transfer stopped in the middle of the last line
    truncated = b"\r\n".join(lines)
    add("truncated", "alder_stops_2024C_truncated.csv").write_bytes(truncated[:-25])

    # a row with too many fields (line 3) and one with too few (line 4)
    fields_case = list(lines)
    fields_case[2] = fields_case[2] + b",EXTRA"
    fields_case[3] = fields_case[3].rsplit(b",", 1)[0]
    write_lines(add("fields", "alder_stops_2024D_fields.csv"), fields_case)

    add("empty", "alder_stops_2024E_empty.csv").write_bytes(b"")
    write_lines(add("header_only", "alder_stops_2024F_header.csv"), lines[:1])

    renamed = [lines[0].replace(b",Race,", b",Race Code,")] + lines[1:]
    write_lines(add("renamed", "alder_stops_2024G_renamed.csv"), renamed)

    new_column = [lines[0] + b",Body Camera"] + [line + b",Y" for line in lines[1:]]
    write_lines(add("new_column", "alder_stops_2024H_newcolumn.csv"), new_column)

    # schema drift: Age now holds age bands, not whole numbers
    age = header.index(b"Age")
    drifted = [lines[0]]
    for line in lines[1:]:
        fields = line.split(b",")
        # Officer Name is quoted and holds a comma: count from the end of the line
        index = age - len(header)
        fields[index] = b"20-29"
        drifted.append(b",".join(fields))
    write_lines(add("type_changed", "alder_stops_2024I_agebands.csv"), drifted)

    # a link out of the landing zone, to a file that would load if it were read
    target = outside / "elsewhere.csv"
    write_lines(target, lines)
    add("link_outside", "alder_stops_2024J_link.csv").symlink_to(target)

    write_lines(add("control_name", "alder_stops_2024K_\x07bell.csv"), lines)

    # hostile text: a column named like SQL and a value that is SQL, in an unmapped column
    hostile = [lines[0] + b',"' + HOSTILE.replace('"', '""').encode() + b'"'] + [
        line + b',"' + HOSTILE_VALUE.encode() + b'"' for line in lines[1:]
    ]
    write_lines(add("hostile", "alder_stops_2024L_hostile.csv"), hostile)

    # an Excel workbook with a title and a date row above its header
    book = openpyxl.load_workbook(landing / "birch_so/stops/BCSO_Stops_2023.xlsx")
    sheet = book["Stops"]
    sheet.insert_rows(1, amount=2)
    sheet["A1"] = "Birch County Sheriff's Office - stops"
    sheet["A2"] = "Exported 2024-01-05"
    titled = landing / "birch_so/stops/BCSO_Stops_2024_titled.xlsx"
    book.save(titled)
    cases["excel_title_rows"] = "birch_so/stops/BCSO_Stops_2024_titled.xlsx"
    return cases


@pytest.fixture(scope="module")
def faulty(baseline, lantern, tmp_path_factory):
    data = lantern.copy_state(baseline["data"], tmp_path_factory.mktemp("bad-input") / "data")
    outside = tmp_path_factory.mktemp("outside-landing")
    cases = inject_faults(data / "landing", baseline["manifest"], outside)
    with lantern.lantern_at(data):
        rc = cli.run_pipeline()
    rc_status, status = lantern.status_json(data)
    release = current_release(data / "publish")
    files = {
        row[0]: row[1:]
        for row in lantern.query(
            data,
            """
            select source_file, status, reason, notes, rows_raw, rows_accepted, rows_rejected,
                   rows_quarantined
            from raw.files
            qualify row_number() over (partition by source_file order by loaded_at desc) = 1
            """,
        )
    }
    yield {
        "data": data,
        "cases": cases,
        "rc": rc,
        "status": status,
        "rc_status": rc_status,
        "release": release,
        "files": files,
        "lantern": lantern,
    }
    shutil.rmtree(data, ignore_errors=True)


def rejects_of(faulty, case: str) -> list[tuple]:
    return faulty["lantern"].query(
        faulty["data"],
        "select source_row, column_name, reason from raw.rejects where source_file = ? "
        "order by source_row",
        [faulty["cases"][case]],
    )


def test_the_run_survives_and_publishes_the_baseline_numbers(faulty, baseline):
    assert faulty["rc"] == 0
    assert faulty["release"] != baseline["release"]
    assert verify_release(faulty["release"]) == []
    assert faulty["lantern"].published_numbers(faulty["release"]) == baseline["numbers"]


def test_every_file_reconciles(faulty):
    gaps = [
        row
        for row in faulty["lantern"].reconciliation_gaps(faulty["data"])
        if row[2] != row[3] + row[4] + row[5]
    ]
    assert gaps == []
    for case, file in faulty["cases"].items():
        status, _, _, raw, accepted, rejected, quarantined = faulty["files"][file]
        assert raw == accepted + rejected + quarantined, case


@pytest.mark.parametrize(
    ("case", "row", "column", "reason"),
    [
        ("undecodable", 5, "Location", "undecodable bytes for encoding cp1252"),
        ("truncated", None, None, "ends in the middle of this record"),
        ("fields", 3, None, "TOO MANY COLUMNS"),
        ("fields", 4, None, "MISSING COLUMNS"),
    ],
)
def test_bad_rows_are_rejected_with_row_column_and_reason(faulty, case, row, column, reason):
    rejects = rejects_of(faulty, case)
    status, _, _, raw, accepted, rejected, _ = faulty["files"][faulty["cases"][case]]
    assert status == "loaded" and rejected >= 1 and accepted == raw - rejected
    if row is None:  # the truncated line is the file's last
        row = raw + 1
    match = [r for r in rejects if r[0] == row]
    assert match, rejects
    assert reason in match[0][2]
    if column:
        assert match[0][1] == column


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("utf16", ["row 1", "UTF-16", "cp1252"]),
        ("empty", ["the file is empty"]),
        ("header_only", ["row 1", "header but no records"]),
        ("renamed", ["'Race' (subject_race)", "renamed to 'Race Code'"]),
        ("type_changed", ["column 'Age' (subject_age)", "not a whole number", "row 2", "20-29"]),
        ("link_outside", ["refused", "outside the landing zone"]),
        ("control_name", ["refused", "control characters"]),
        ("excel_title_rows", ["'StopID'", "row 3", "skip_rows: 2"]),
    ],
)
def test_unloadable_files_are_quarantined_with_agency_file_and_reason(faulty, case, words):
    file = faulty["cases"][case]
    status, reason, _, raw, accepted, rejected, quarantined = faulty["files"][file]
    assert status == "quarantined" and accepted == 0 and rejected == 0
    assert quarantined == raw
    agency = file.split("/")[0]
    assert f"agency {agency}, file {file.encode('utf-8', 'backslashreplace').decode()}" in reason
    for word in words:
        assert word in reason, (word, reason)


def test_a_new_column_loads_with_a_note(faulty):
    status, _, notes, raw, accepted, rejected, _ = faulty["files"][faulty["cases"]["new_column"]]
    assert status == "loaded" and accepted == raw and rejected == 0
    assert "new column(s) since alder_pd/stops/alder_stops_2023H2.csv: Body Camera" in notes
    (filled,) = faulty["lantern"].query(
        faulty["data"],
        "select count(src_body_camera) from raw.stops where _source_file = ?",
        [faulty["cases"]["new_column"]],
    )[0]
    assert filled == accepted


def test_hostile_names_and_values_stay_data(faulty, baseline):
    status, _, _, raw, accepted, _, _ = faulty["files"][faulty["cases"]["hostile"]]
    assert status == "loaded" and accepted == raw
    (values,) = faulty["lantern"].query(
        faulty["data"],
        "select list(distinct src_x_drop_table_raw_stops) from raw.stops where _source_file = ?",
        [faulty["cases"]["hostile"]],
    )[0]
    assert values == [HOSTILE_VALUE]
    tables = {
        r[0]
        for r in faulty["lantern"].query(faulty["data"], "select table_name from duckdb_tables()")
    }
    assert {"stops", "files", "rejects"} <= tables


def test_status_shows_every_fault(faulty):
    shown = {f["file"]: f for f in faulty["status"]["files"]}
    for case, file in faulty["cases"].items():
        if case in ("new_column",):
            assert any("new column" in n for n in shown[file]["notes"])
            continue
        if case == "hostile":
            continue  # hostile text is data, not a fault of the file
        assert file.encode("utf-8", "backslashreplace").decode() in shown, case
    undecodable = shown[faulty["cases"]["undecodable"]]
    assert undecodable["rejected_rows"][0]["row"] == 5
    assert undecodable["rejected_rows"][0]["column"] == "Location"
    assert faulty["rc_status"] == 1  # quarantined files are listed as failures until fixed


def test_published_quality_report_names_every_fault(faulty):
    files = {
        r["source_file"]: r
        for r in faulty["lantern"].quality_rows(faulty["release"], "mart_quality_files")
    }
    for case, file in faulty["cases"].items():
        row = files[file.encode("utf-8", "backslashreplace").decode()]
        expected = faulty["files"][file]
        assert row["status"] == expected[0], case
        if expected[0] == "quarantined":
            assert row["reason"] == expected[1]
    rejects = faulty["lantern"].quality_rows(faulty["release"], "mart_quality_rejects")
    by_file = {}
    for r in rejects:
        by_file[r["source_file"]] = by_file.get(r["source_file"], 0) + int(r["rejected_rows"])
    for case in ("undecodable", "truncated", "fields"):
        file = faulty["cases"][case]
        assert by_file[file] == faulty["files"][file][5], case
    undecodable = [r for r in rejects if r["source_file"] == faulty["cases"]["undecodable"]]
    assert undecodable[0]["column_name"] == "Location"
    assert undecodable[0]["problem"] == "undecodable_bytes"

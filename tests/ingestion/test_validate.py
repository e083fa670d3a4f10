"""`lantern validate`: an export checked against its mapping, without loading anything."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from dagster_project import cli
from ingestion import config, demo

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("landing")
    return root, demo.generate(root, rows=2_000)


def test_demo_export_is_loadable_and_rejected_rows_are_listed(landing, capsys):
    root, manifest = landing
    path = root / "alder_pd" / "stops" / "alder_stops_2023H2.csv"
    assert cli.main(["validate", "alder_pd", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (file_report,) = report["files"]
    assert report["loadable"] and file_report["loadable"]
    expected = next(
        f for f in manifest["agencies"]["alder_pd"]["files"] if f["path"].endswith("H2.csv")
    )
    assert [r["row"] for r in file_report["rejected"]] == [m["line"] for m in expected["malformed"]]
    assert file_report["rows_raw"] == expected["data_rows"]
    assert file_report["rows_accepted"] + file_report["rows_rejected"] == expected["data_rows"]


def test_renamed_required_column_is_named(landing, tmp_path, capsys):
    root, _ = landing
    source = root / "alder_pd" / "stops" / "alder_stops_2023H1.csv"
    raw = source.read_bytes()
    header, rest = raw.split(b"\r\n", 1)
    broken = tmp_path / "alder_stops_2024H1.csv"
    broken.write_bytes(header.replace(b"Race", b"Race Code") + b"\r\n" + rest)
    assert cli.main(["validate", "alder_pd", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "NOT LOADABLE" in out
    assert "required column 'Race' (subject_race) (renamed to 'Race Code'?) missing" in out


def test_a_semicolon_export_under_a_comma_mapping_names_the_delimiter(landing, tmp_path, capsys):
    """alder_pd's stops re-written with semicolons (its quoted names hold commas): read with
    its mapping's comma, every column is missing; the report says which delimiter to set."""
    import csv
    import io

    root, _ = landing
    source = root / "alder_pd" / "stops" / "alder_stops_2023H1.csv"
    text = source.read_bytes().decode("cp1252").removeprefix("\ufeff")
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(csv.reader(io.StringIO(text)))
    changed = tmp_path / "alder_stops_2024H1.csv"
    changed.write_bytes(out.getvalue().encode("cp1252"))
    assert cli.main(["validate", "alder_pd", str(changed)]) == 1
    report = capsys.readouterr().out
    assert "NOT LOADABLE" in report
    assert (
        'the header looks semicolon-separated: set csv: {delimiter: ";"} in the mapping' in report
    )


def test_title_lines_above_the_header_are_named_with_the_setting(landing, tmp_path, capsys):
    root, _ = landing
    source = root / "alder_pd" / "stops" / "alder_stops_2023H1.csv"
    changed = tmp_path / "alder_stops_2024H1.csv"
    changed.write_bytes(
        b"Alder PD stops\r\n\r\n" + source.read_bytes().removeprefix(b"\xef\xbb\xbf")
    )
    assert cli.main(["validate", "alder_pd", str(changed)]) == 1
    report = capsys.readouterr().out
    assert "the header looks to start at line 3: set csv: {skip_rows: 2} in the mapping" in report


def test_unmapped_codes_are_counted_with_rows(landing, tmp_path, capsys):
    root, _ = landing
    source = root / "cedar_pd" / "stops" / "cedar_stops_2023Q1.jsonl"
    lines = source.read_text().splitlines()
    lines[2] = (
        lines[2].replace('"race": "', '"race": "martian-').replace('"race":"', '"race":"martian-')
    )
    changed = tmp_path / "cedar_stops_2024Q1.jsonl"
    changed.write_text("\n".join(lines) + "\n")
    assert cli.main(["validate", "cedar_pd", str(changed), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)["files"][0]
    unmapped = [u for u in report["unmapped_codes"] if u["field"] == "subject_race"]
    assert unmapped and unmapped[0]["value"].startswith("martian-") and unmapped[0]["rows"] == [3]


def test_unknown_agency_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["validate", "no_such_agency", str(tmp_path)]) == 2
    assert "no_such_agency" in capsys.readouterr().err


# Every real export with its agency's mapping: (agency, dataset, file under ../shared/data/real).
REAL_EXPORTS = [
    ("nypd", "stops", "nypd-sqf-2018/2018_sqf_database.csv"),
    ("seattle_pd", "stops", "seattle-terry-stops-2017snap/Terry_Stops.csv"),
    ("seattle_pd", "use_of_force", "seattle-use-of-force/Use_Of_Force.csv"),
    ("austin_pd", "arrests", "austin-rp-arrests-2019/2019_APD_Arrests_DATA.csv"),
    ("dallas_pd", "use_of_force", "dallas-uof-2016/37-00049_UOF-P_2016_prepped.csv"),
    ("stlouis_mpd", "incidents", "stlouis-slmpd-nibrs-2024-monthly/Crime-04-2024.csv"),
    (
        "chicago_pd",
        "complaints",
        "chicago-cpd-complaints-2000-2016/complaints-complaints_2000-2016_2016-11.csv.gz",
    ),
    (
        "chicago_pd",
        "allegations",
        "chicago-cpd-complaints-2000-2016/complaints-accused_2000-2016_2016-11.csv.gz",
    ),
    (
        "chicago_pd",
        "complainants",
        "chicago-cpd-complaints-2000-2016/complaints-complainants_2000-2016_2016-11.csv.gz",
    ),
    # several linked files joined by key (linked_files:): the main file is the export
    (
        "chicago_pd",
        "use_of_force",
        "chicago-cpd-trr-2017-2020/TRR-main_2017-2020_2020-06_p583646.csv.gz",
    ),
    # a reference dataset (ingestion/reference/wapo/), validated like an agency's
    ("wapo", "fatal_force", "wapo-fatal-force/fatal-police-shootings-data.csv"),
]


def _required_plain_column(agency: str, dataset: str) -> tuple[str, str]:
    """(canonical field, source column) of a required field the mapping reads from one column."""
    spec = config.dataset_spec(dataset)
    mapping = config.load_mapping(agency, dataset)
    for name, fspec in spec.fields.items():
        if fspec.required and name in mapping.columns and name not in mapping.one_of:
            return name, mapping.columns[name]
    raise AssertionError(f"{agency}/{dataset}: no required field read from one column")


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real exports not found at {REAL}")
@pytest.mark.parametrize(("agency", "dataset", "relative"), REAL_EXPORTS)
def test_every_real_export_validates_and_a_renamed_copy_names_the_column(
    agency, dataset, relative, tmp_path, capsys
):
    real = REAL / relative
    assert cli.main(["validate", agency, str(real), "--dataset", dataset, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["loadable"] and report["files"][0]["rows_raw"] > 0
    field, column = _required_plain_column(agency, dataset)
    data = real.read_bytes()
    gzipped = data[:2] == b"\x1f\x8b"
    if gzipped:
        data = gzip.decompress(data)
    header, rest = data.split(b"\n", 1)
    renamed = header.replace(column.encode(), b"Renamed " + column.encode(), 1)
    assert renamed != header, column
    copy = tmp_path / real.name  # same name and compression: linked files are found by name
    renamed_file = renamed + b"\n" + rest
    copy.write_bytes(gzip.compress(renamed_file) if gzipped else renamed_file)
    for sibling in real.parent.iterdir():  # the delivery's other files, as delivered
        if sibling != real and sibling.suffix != ".md":
            (tmp_path / sibling.name).symlink_to(sibling)
    assert cli.main(["validate", agency, str(copy), "--dataset", dataset]) == 1
    out = capsys.readouterr().out
    assert "NOT LOADABLE" in out
    # a linked file's key column (Chicago's trr_id) is named as that key
    assert f"'{column}' ({field}) (renamed to 'Renamed {column}'?)" in out or (
        f"'{column}' (key of linked file" in out and f"(renamed to 'Renamed {column}'?)" in out
    )


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("header_only", ["row 1", "header but no records"]),
        ("utf16", ["row 1", "UTF-16"]),
        ("age_bands", ["column 'Age' (subject_age)", "not a whole number", "'20-29'"]),
    ],
)
def test_files_the_nightly_load_would_quarantine_are_not_loadable(
    landing, tmp_path, capsys, case, words
):
    root, _ = landing
    lines = (root / "alder_pd" / "stops" / "alder_stops_2023H1.csv").read_bytes().split(b"\r\n")
    export = tmp_path / f"alder_stops_2024_{case}.csv"
    if case == "header_only":
        export.write_bytes(lines[0] + b"\r\n")
    elif case == "utf16":
        export.write_bytes(b"\r\n".join(lines).decode("cp1252").encode("utf-16"))
    else:
        header = lines[0].split(b",")
        age = header.index(b"Age") - len(header)  # from the end: Officer Name holds a comma
        rows = [lines[0]]
        for line in lines[1:]:
            fields = line.split(b",")
            if len(fields) == len(header) + 1:  # the officer's quoted "Last, First"
                fields[age] = b"20-29"
            rows.append(b",".join(fields))
        export.write_bytes(b"\r\n".join(rows))
    assert cli.main(["validate", "alder_pd", str(export)]) == 1
    out = capsys.readouterr().out
    assert "NOT LOADABLE" in out
    for word in words:
        assert word in out, (word, out)

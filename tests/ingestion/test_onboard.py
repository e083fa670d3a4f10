"""`lantern onboard`: a draft mapping good enough that a review makes it work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dagster_project import cli
from ingestion import config

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"real exports not found at {REAL}")


def draft(tmp_path: Path, sample: Path, dataset: str) -> dict:
    out = tmp_path / "draft.yml"
    assert (
        cli.main(["onboard", "new_agency", str(sample), "--dataset", dataset, "--out", str(out)])
        == 0
    )
    text = out.read_text()
    assert "REVIEW" in text
    return yaml.safe_load(text)


def test_nypd_as_a_new_agency(tmp_path):
    mapping = draft(tmp_path, REAL / "nypd-sqf-2018" / "2018_sqf_database.csv", "stops")
    for field, column in {
        "source_record_id": "STOP_FRISK_ID",
        "stop_date": "STOP_FRISK_DATE",
        "stop_time": "Stop Frisk Time",
        "subject_race": "SUSPECT_RACE_DESCRIPTION",
        "subject_sex": "SUSPECT_SEX",
        "subject_age": "SUSPECT_REPORTED_AGE",
        "search_conducted": "SEARCHED_FLAG",
        "frisk_performed": "FRISKED_FLAG",
        "arrest_made": "SUSPECT_ARRESTED_FLAG",
        "citation_issued": "SUMMONS_ISSUED_FLAG",
    }.items():
        assert mapping["columns"].get(field) == column, field
    assert mapping["formats"] == {"stop_date": "%m/%d/%Y", "stop_time": "%H:%M:%S"}
    assert mapping["values"]["subject_race"]["WHITE HISPANIC"] == "hispanic"
    assert mapping["values"]["subject_race"]["BLACK HISPANIC"] == "hispanic"
    assert mapping["personal_data"]["STOP_LOCATION_FULL_ADDRESS"] == "drop"
    assert "officer_id" not in mapping["columns"]  # ranks and flags are not identifiers


def test_seattle_terry_stops_as_a_new_agency(tmp_path):
    mapping = draft(tmp_path, REAL / "seattle-terry-stops-2017snap" / "Terry_Stops.csv", "stops")
    for field, column in {
        "source_record_id": "TERRY_STOP_ID",
        "stop_date": "Reported_Date",
        "stop_time": "Reported_Time",
        "subject_race": "SubjectPerceivedRace",
        "subject_sex": "SubjectPerceivedGender",
        "arrest_made": "ArrestFlag",
        "frisk_performed": "FriskFlag",
        "officer_id": "OfficerID",
    }.items():
        assert mapping["columns"].get(field) == column, field
    assert mapping["personal_data"]["OfficerID"] == "hash"


def test_reviewed_draft_loads_as_a_mapping(tmp_path):
    """The draft is valid YAML for the validator once the REVIEW guesses are accepted."""
    draft(tmp_path, REAL / "nypd-sqf-2018" / "2018_sqf_database.csv", "stops")
    agencies = tmp_path / "agencies" / "new_agency"
    agencies.mkdir(parents=True)
    (agencies / "stops.yml").write_text((tmp_path / "draft.yml").read_text())
    mapping = config.load_mapping("new_agency", "stops", root=tmp_path / "agencies")
    assert mapping.columns["subject_race"] == "SUSPECT_RACE_DESCRIPTION"


def test_seattle_use_of_force_as_a_new_agency(tmp_path):
    mapping = draft(tmp_path, REAL / "seattle-use-of-force" / "Use_Of_Force.csv", "use_of_force")
    for field, column in {
        "source_record_id": "ID",
        "incident_record_id": "Incident_Num",
        "incident_datetime": "Occured_date_time",
        "force_level": "Incident_Type",
        "subject_race": "Subject_Race",
        "subject_sex": "Subject_Gender",
        "officer_id": "Officer_ID",
        "subject_id": "Subject_ID",
    }.items():
        assert mapping["columns"].get(field) == column, field
    assert mapping["formats"]["incident_datetime"] == "%m/%d/%Y %I:%M:%S %p"
    levels = mapping["values"]["force_level"]
    assert levels["Level 1 - Use of Force"] == "level_1"
    assert levels["Level 3 - OIS"] == "ois"
    assert mapping["values"]["subject_race"]["Black or African American"] == "black"
    assert mapping["personal_data"] == {"Officer_ID": "hash", "Subject_ID": "hash"}

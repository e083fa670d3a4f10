"""Reference datasets (a third party's records about many agencies, settings.REFERENCE_DATASETS)
are mapped in ingestion/reference/<source_id>/ with the agencies' mapping language, landed under
their source id, and never taken for an agency."""

from __future__ import annotations

from ingestion import config, settings
from ingestion.pipeline import landed_files, unknown_agency_folders


def test_the_washington_post_is_a_reference_source_not_an_agency():
    assert "fatal_force" in settings.DATASETS
    assert config.onboarded("fatal_force") == ["wapo"]
    assert "wapo" not in config.agency_ids()
    assert config.reference_sources() == ["wapo"]
    mapping = config.load_mapping("wapo", "fatal_force")
    assert mapping.path == settings.REFERENCE_DIR / "wapo" / "fatal_force.yml"
    # the deceased's name and coordinates never reach the warehouse
    assert {k for k, v in mapping.personal_data.items() if v == "drop"} == {
        "name",
        "latitude",
        "longitude",
    }
    assert "name" not in mapping.columns.values()


def test_reference_files_are_landed_under_the_source_id(tmp_path, monkeypatch):
    monkeypatch.setenv("LANTERN_LANDING_DIR", str(tmp_path))
    folder = tmp_path / "wapo" / "fatal_force"
    folder.mkdir(parents=True)
    (folder / "fatal-police-shootings-data.csv").write_text("id,date\n")
    (folder / "notes.txt").write_text("not matched by the file pattern")
    (tmp_path / "nowhere_pd").mkdir()
    assert [(a, p.name) for a, p in landed_files("fatal_force")] == [
        ("wapo", "fatal-police-shootings-data.csv")
    ]
    assert unknown_agency_folders() == ["nowhere_pd"]


def test_agencies_name_the_city_they_police():
    assert config.load_agency("chicago_pd").city == "Chicago"
    assert config.load_agency("alder_pd").city == ""

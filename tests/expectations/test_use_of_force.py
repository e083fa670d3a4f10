"""The use-of-force suite: a clean set of the four facts passes; a set with one fault per rule
fails exactly those rules (each fault breaks one rule and no other)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.core import BLOCKING
from expectations.use_of_force import validate_use_of_force

TODAY = date(2024, 12, 31)


def clean() -> dict[str, pd.DataFrame]:
    """12 incidents of two agencies, each with one or two officers and subjects and their
    actions, in the dtypes DuckDB's `.df()` gives the marts."""
    incidents, subjects, officers, actions = [], [], [], []
    for n in range(12):
        agency = ("seattle_pd", "chicago_pd")[n % 2]
        uof = f"u{n}"
        n_people = 1 + n % 2
        incidents.append(
            {
                "uof_id": uof,
                "agency_id": agency,
                "incident_record_id": f"R{n}",
                "incident_date": pd.Timestamp(date(2024, 1, 1) + timedelta(days=20 * n)),
                "highest_force_level": ("level_1", "level_2", "ois", "unknown")[n % 4],
                "n_report_rows": n_people,
                "n_officers": n_people,
                "n_subjects": n_people,
            }
        )
        for p in range(n_people):
            subjects.append(
                {
                    "uof_subject_key": f"{uof}-s{p}",
                    "uof_id": uof,
                    "agency_id": agency,
                    "subject_race": ("black", "white", "unknown")[(n + p) % 3],
                    "subject_sex": ("male", "female")[p],
                    "subject_age": None if n % 5 == 0 else 20 + n,
                }
            )
            officers.append(
                {
                    "uof_officer_key": f"{uof}-o{p}",
                    "uof_id": uof,
                    "agency_id": agency,
                    "years_of_service": None if n % 3 == 0 else n + p,
                }
            )
            for force in ("physical_takedown", "ecd_deploy")[: 1 + (n + p) % 2]:
                actions.append(
                    {
                        "uof_action_key": f"{uof}-{p}-{force}",
                        "uof_id": uof,
                        "uof_officer_key": f"{uof}-o{p}",
                        "uof_subject_key": f"{uof}-s{p}",
                        "agency_id": agency,
                        "force_type": force,
                        "n_source_values": 1,
                    }
                )
    frames = {
        "incidents": pd.DataFrame(incidents),
        "subjects": pd.DataFrame(subjects),
        "officers": pd.DataFrame(officers),
        "actions": pd.DataFrame(actions),
    }
    frames["subjects"]["subject_age"] = frames["subjects"]["subject_age"].astype("Int64")
    frames["officers"]["years_of_service"] = frames["officers"]["years_of_service"].astype("Int64")
    return frames


# fault -> the one rule it must break
FAULTS = {
    "incidents.uof_id_unique",
    "incidents.incident_date_not_in_future",
    "incidents.highest_force_level_in_domain",
    "incidents.n_officers_positive",
    "subjects.uof_id_references_incidents",
    "subjects.subject_age_in_range",
    "subjects.subject_race_in_domain",
    "officers.years_of_service_in_range",
    "officers.uof_id_references_incidents",
    "actions.uof_id_references_incidents",
    "actions.uof_officer_key_references_officers",
    "actions.force_type_in_domain",
}


def faulty() -> dict[str, pd.DataFrame]:
    f = clean()
    inc, sub, off, act = f["incidents"], f["subjects"], f["officers"], f["actions"]
    inc.loc[1, "uof_id"] = "u0"  # a duplicated key (its children now point at u0 too: fine)
    inc.loc[2, "incident_date"] = pd.Timestamp(TODAY + timedelta(days=1))
    inc.loc[3, "highest_force_level"] = "deadly"
    inc.loc[4, "n_officers"] = 0
    sub.loc[0, "uof_id"] = "u-missing"
    sub.loc[1, "subject_age"] = 130
    sub.loc[2, "subject_race"] = "martian"
    off.loc[1, "years_of_service"] = 75
    off.loc[2, "uof_id"] = "u-gone"
    act.loc[0, "uof_id"] = "u-nowhere"
    act.loc[1, "uof_officer_key"] = "u1-o9"
    act.loc[2, "force_type"] = "lasso"
    return f


@pytest.fixture(scope="module")
def results():
    return validate_use_of_force(clean(), TODAY), validate_use_of_force(faulty(), TODAY)


def test_clean_facts_pass_every_rule(results):
    good, _ = results
    assert good.success_blocking, [(r.name, r.unexpected_examples) for r in good.blocking_failures]
    assert good.success
    assert len(good.results) >= 30
    assert {r.name.split(".")[0] for r in good.results} == {
        "incidents", "subjects", "officers", "actions",
    }  # fmt: skip


def test_each_fault_fails_its_rule_and_only_it(results):
    _, bad = results
    assert not bad.success_blocking
    failed = {r.name for r in bad.results if not r.success}
    assert failed == FAULTS
    assert all(r.severity == BLOCKING for r in bad.results if r.name in FAULTS)
    dangling = bad.outcome("actions.uof_officer_key_references_officers")
    assert dangling.unexpected_count == 1
    assert "u1-o9" not in str(dangling.unexpected_examples)  # examples name the row key
    assert any("u0-0-physical_takedown" in e or "u1-" in e for e in dangling.unexpected_examples)


def test_missing_frame_is_an_error():
    frames = clean()
    del frames["actions"]
    with pytest.raises(ValueError, match="actions"):
        validate_use_of_force(frames, TODAY)

"""The complaints suite: clean complaints, allegations and complainants pass; one fault per rule
fails exactly that rule, blocking or warn as declared."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.complaints import validate_complaints
from expectations.core import BLOCKING, WARN

TODAY = date(2024, 12, 31)


def clean() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    complaints, allegations, complainants = [], [], []
    for n in range(12):
        received = date(2023, 1, 1) + timedelta(days=25 * n)
        closed = n % 4 != 0
        findings = ["sustained", "not_sustained"][: 1 + n % 2] if closed else ["open", "unknown"]
        complaints.append(
            {
                "complaint_id": f"c{n}",
                "agency_id": "chicago_pd",
                "complaint_record_id": f"CR{n}",
                "received_date": pd.Timestamp(received),
                "incident_date": pd.Timestamp(received - timedelta(days=3)),
                "closed_date": pd.Timestamp(received + timedelta(days=90)) if closed else None,
                "status": "closed" if closed else "open",
                "complaint_source": ("civilian", "internal", "unknown")[n % 3],
                "allegation_count": len(findings),
                "sustained_allegation_count": findings.count("sustained"),
            }
        )
        for k, finding in enumerate(findings):
            discipline = ("suspension", "none", "unknown")[k] if closed else "unknown"
            allegations.append(
                {
                    "allegation_id": f"c{n}-a{k}",
                    "complaint_id": f"c{n}",
                    "agency_id": "chicago_pd",
                    "category": ("force", "procedure")[k % 2],
                    "recommended_finding": finding,
                    "final_finding": finding,
                    "final_outcome_class": {
                        "sustained": "sustained",
                        "not_sustained": "not_sustained",
                    }.get(finding, "open"),
                    "discipline": discipline,
                    "is_disciplined": discipline == "suspension",
                }
            )
        complainants.append(
            {
                "complainant_id": f"c{n}-p1",
                "complaint_id": f"c{n}",
                "agency_id": "chicago_pd",
                "subject_race": ("black", "white", "unknown")[n % 3],
                "subject_sex": ("male", "female", "unknown")[n % 3],
                "subject_age": None if n % 5 == 0 else 20 + n,
            }
        )
    c, a, p = pd.DataFrame(complaints), pd.DataFrame(allegations), pd.DataFrame(complainants)
    c["closed_date"] = pd.to_datetime(c["closed_date"])
    p["subject_age"] = p["subject_age"].astype("Int64")
    return c, a, p


FAULTS = {
    # blocking
    "complaints.complaint_id_unique": BLOCKING,
    "complaints.received_date_not_in_future": BLOCKING,
    "complaints.status_in_domain": BLOCKING,
    "complaints.closed_has_closed_date": BLOCKING,
    "complaints.allegation_count_not_before_sustained_allegation_count": BLOCKING,
    "allegations.complaint_id_references_complaints": BLOCKING,
    "allegations.final_finding_in_domain": BLOCKING,
    "allegations.is_disciplined_only_for_discipline": BLOCKING,
    "complainants.complaint_id_references_complaints": BLOCKING,
    "complainants.subject_age_in_range": BLOCKING,
    # warn
    "allegations.final_finding_only_when_closed": WARN,
    "complaints.closed_date_not_before_received_date": WARN,
    "complaints.received_date_not_before_incident_date": WARN,
}


@pytest.fixture(scope="module")
def results():
    good = validate_complaints(*clean(), today=TODAY)
    c, a, p = clean()
    c.loc[1, "complaint_id"] = "c0"  # its allegations still find a complaint c0
    c.loc[2, "received_date"] = pd.Timestamp(TODAY + timedelta(days=1))
    c.loc[2, "incident_date"] = pd.Timestamp(TODAY)
    c.loc[2, "closed_date"] = pd.Timestamp(TODAY + timedelta(days=1))  # closed_date too...
    c.loc[3, "status"] = "pending"
    c.loc[5, "closed_date"] = None  # closed without a closing date
    c.loc[6, "sustained_allegation_count"] = 5
    c.loc[7, "closed_date"] = c.loc[7, "received_date"] - pd.Timedelta(days=1)
    c.loc[9, "incident_date"] = c.loc[9, "received_date"] + pd.Timedelta(days=1)
    a.loc[0, "complaint_id"] = "c-missing"
    a.loc[1, "final_finding"] = "guilty"
    a.loc[3, "is_disciplined"] = True  # its discipline is none
    open_row = a.index[a["complaint_id"] == "c4"][0]
    a.loc[open_row, "final_finding"] = "sustained"  # a finding on an open complaint
    p.loc[0, "complaint_id"] = "c-nowhere"
    p.loc[1, "subject_age"] = 4
    return good, validate_complaints(c, a, p, today=TODAY)


def test_clean_complaints_pass(results):
    good, _ = results
    assert good.success, [(r.name, r.unexpected_examples) for r in good.results if not r.success]
    assert len(good.results) >= 35


def test_each_fault_fails_its_rule_with_its_severity(results):
    _, bad = results
    failed = {r.name: r.severity for r in bad.results if not r.success}
    # received in the future also sets a closed_date in the future
    assert failed == {**FAULTS, "complaints.closed_date_not_in_future": BLOCKING}
    assert not bad.success_blocking


def test_warn_rules_alone_do_not_block():
    c, a, p = clean()
    open_row = a.index[a["complaint_id"] == "c4"][0]
    a.loc[open_row, "final_finding"] = "not_sustained"
    result = validate_complaints(c, a, p, today=TODAY)
    assert result.success_blocking
    assert [r.name for r in result.warn_failures] == ["allegations.final_finding_only_when_closed"]

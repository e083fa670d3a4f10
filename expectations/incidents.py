"""Great Expectations suite of the crime-incident facts: `marts.fct_incidents` (one row per
incident) and `marts.fct_incident_offenses` (one row per offense line).

Blocking: keys, required fields, the value domains of ingestion/canonical/incidents.yml and the
NIBRS groups, no incident dated in the future, every incident with at least one offense line, and the
link: every offense line belongs to an existing incident.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from expectations.core import SuiteResult, code_domains
from expectations.tables import (
    add_reference,
    as_datetimes,
    between,
    in_domain,
    not_in_future,
    not_null,
    references,
    run_tables,
    unique,
)

SUITE_NAME = "marts.fct_incidents"
OFFENSE_GROUPS = ["group_a", "group_b", "unknown"]


def validate_incidents(
    incidents: pd.DataFrame, offenses: pd.DataFrame, today: date | None = None
) -> SuiteResult:
    """Validate incidents and their offense lines. `offenses` must come with every incident they
    name (an offense whose incident is absent is a broken link). `today` bounds dates (default:
    today's UTC date, never earlier than a US agency's local date)."""
    today = today or datetime.now(UTC).date()
    domains = code_domains("incidents")
    incidents = as_datetimes(incidents, ["incident_date"])
    offenses = as_datetimes(offenses, ["incident_date"])
    if "incident_id" in incidents:
        offenses = add_reference(offenses, "incident_id", "incidents", incidents["incident_id"])
    tables = [
        (
            "incidents",
            incidents,
            [
                unique("incident_id", "Primary key: one row per incident."),
                *not_null(["incident_id", "agency_id", "source_record_id", "incident_date"]),
                *in_domain(
                    {
                        "top_offense_group": OFFENSE_GROUPS,
                        "top_crime_against": domains["crime_against"],
                    }
                ),
                not_in_future("incident_date", today),
                # Every incident has an offense line; its count of distinct offense codes is 0
                # when the lines carry none (an unfounded incident).
                between("offense_line_count", 1, None, name="offense_line_count_positive"),
                between("offense_count", 0, None, name="offense_count_not_negative"),
            ],
            ("incident_id", "agency_id"),
        ),
        (
            "offenses",
            offenses,
            [
                unique("incident_offense_id", "Primary key: one row per offense line."),
                *not_null(["incident_offense_id", "incident_id", "agency_id", "incident_date"]),
                references(
                    "incident_id",
                    "incidents",
                    "Every offense line belongs to an existing incident (incident_id).",
                ),
                *in_domain(
                    {
                        "offense_group": OFFENSE_GROUPS,
                        "crime_against": domains["crime_against"],
                        "offense_severity": domains["offense_severity"],
                    }
                ),
                not_in_future("incident_date", today),
            ],
            ("incident_offense_id", "agency_id"),
        ),
    ]
    outcomes = run_tables(SUITE_NAME, tables)
    return SuiteResult.from_outcomes(SUITE_NAME, outcomes, row_count=len(incidents) + len(offenses))

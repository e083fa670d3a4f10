"""The survey suites: clean batches pass; a Likert answer outside its scale, a scale running
downward and an unknown construct fail."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from expectations.core import BLOCKING
from expectations.surveys import validate_survey_item_responses, validate_survey_responses

TODAY = date(2024, 12, 31)


def clean_items() -> pd.DataFrame:
    rows = []
    for n in range(40):
        value = 1 + n % 5
        reverse = n % 4 == 0
        rows.append(
            {
                "item_response_id": f"i{n}",
                "response_id": f"r{n // 8}",
                "agency_id": "alder_pd",
                "item_id": f"Q{n % 8}",
                "construct": ("supervisor_support", "job_stress", "community_trust")[n % 3],
                "response_value": value,
                "scale_min": 1,
                "scale_max": 5,
                "is_reverse_scored": reverse,
                "scored_value": 6 - value if reverse else value,
            }
        )
    return pd.DataFrame(rows)


def clean_responses() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": [f"r{n}" for n in range(5)],
            "agency_id": ["alder_pd"] * 5,
            "response_record_id": [f"ACS-{n}" for n in range(5)],
            "survey_wave": ["2024-spring"] * 5,
            "survey_type": ["officer_climate"] * 4 + ["community"],
            "rank_group": ["officer", "supervisor", "officer", "suppressed", "resident"],
            "tenure_band": ["2_5", "6_10", "under_2", "suppressed", "not_applicable"],
            "completed_date": pd.to_datetime(["2024-04-02"] * 5),
        }
    )


@pytest.fixture
def items() -> pd.DataFrame:
    return clean_items()


def failed(result) -> dict[str, str]:
    return {r.name: r.severity for r in result.results if not r.success}


def test_clean_batches_pass(items):
    assert failed(validate_survey_item_responses(items)) == {}
    assert failed(validate_survey_responses(clean_responses(), today=TODAY)) == {}


def test_likert_value_outside_its_scale_is_blocking(items):
    items.loc[0, "response_value"] = 7
    items.loc[1, "scored_value"] = 0
    items.loc[2, "construct"] = "morale"
    result = validate_survey_item_responses(items)
    assert failed(result) == {
        "response_value_not_above_scale": BLOCKING,
        "scored_value_not_below_scale": BLOCKING,
        "construct_in_domain": BLOCKING,
    }
    assert result.outcome("response_value_not_above_scale").unexpected_count == 1


def test_scale_running_downward_and_future_questionnaire_are_blocking(items):
    items.loc[3, ["scale_min", "scale_max"]] = [5, 1]
    result = validate_survey_item_responses(items)
    assert "scale_runs_upward" in failed(result)
    responses = clean_responses()
    responses.loc[0, "completed_date"] = pd.Timestamp("2025-01-05")
    responses.loc[1, "tenure_band"] = "3-5"
    assert failed(validate_survey_responses(responses, today=TODAY)) == {
        "completed_date_not_in_future": BLOCKING,
        "tenure_band_in_domain": BLOCKING,
    }

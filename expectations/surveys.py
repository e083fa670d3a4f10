"""Great Expectations suites of `marts.fct_survey_responses` and `marts.fct_survey_item_responses`.

Questionnaires, blocking: key, required fields, value domains of
ingestion/canonical/survey_responses.yml, none completed in the future. Answers, blocking: key,
the questionnaire named, construct domain, and the Likert rules: the scale runs upward, the
answer and its score lie within the item's scale.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from expectations.core import BLOCKING, Check, SuiteResult, run_suite
from expectations.rules import as_datetimes, key_checks, not_after, not_in_future

RESPONSES_SUITE = "marts.fct_survey_responses"
ITEMS_SUITE = "marts.fct_survey_item_responses"


def validate_survey_responses(df: pd.DataFrame, today: date | None = None) -> SuiteResult:
    today = today or datetime.now(UTC).date()
    frame = as_datetimes(df, ["completed_date"])
    checks = [
        *key_checks(
            "response_id",
            [
                "agency_id",
                "response_record_id",
                "survey_wave",
                "survey_type",
                "rank_group",
                "tenure_band",
                "completed_date",
            ],
            "survey_responses",
            {
                "survey_type": "survey_type",
                "rank_group": "rank_group",
                "tenure_band": "tenure_band",
            },
            # fct_survey_responses suppresses both bands in cells below k respondents
            extra_values={"rank_group": ["suppressed"], "tenure_band": ["suppressed"]},
        ),
        not_in_future("completed_date", today),
    ]
    outcomes = run_suite(frame, RESPONSES_SUITE, checks, index_columns=("response_id", "agency_id"))
    return SuiteResult.from_outcomes(RESPONSES_SUITE, outcomes, row_count=len(df))


def validate_survey_item_responses(df: pd.DataFrame) -> SuiteResult:
    checks = [
        *key_checks(
            "item_response_id",
            [
                "response_id",
                "agency_id",
                "item_id",
                "construct",
                "response_value",
                "scale_min",
                "scale_max",
                "scored_value",
            ],
            "survey_item_responses",
            {"construct": "construct"},
        ),
        Check(
            "scale_runs_upward",
            BLOCKING,
            "scale_max",
            "An item's scale_max is above its scale_min.",
            lambda gx: gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="scale_max", column_B="scale_min", or_equal=False
            ),
        ),
        not_after(
            "scale_min",
            "response_value",
            "The answer is not below the scale.",
            "response_value_not_below_scale",
        ),
        not_after(
            "response_value",
            "scale_max",
            "The answer is not above the scale.",
            "response_value_not_above_scale",
        ),
        not_after(
            "scale_min",
            "scored_value",
            "The score is not below the scale.",
            "scored_value_not_below_scale",
        ),
        not_after(
            "scored_value",
            "scale_max",
            "The score is not above the scale.",
            "scored_value_not_above_scale",
        ),
    ]
    outcomes = run_suite(df, ITEMS_SUITE, checks, index_columns=("item_response_id", "agency_id"))
    return SuiteResult.from_outcomes(ITEMS_SUITE, outcomes, row_count=len(df))

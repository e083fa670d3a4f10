"""Building blocks shared by the record-type suites (calls, BWC, school contacts, surveys): the
key, required-field and domain checks every fact gets, and the row rules they combine.

Kept apart from stops.py, whose helpers grew with the OPP rules, so a new record type's suite
is a short list of the rules that are particular to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd

from expectations.core import BLOCKING, Check, code_domains


def condition(when: tuple[str, Any] | None) -> dict[str, Any]:
    """GX row condition `column == value` (nullable booleans' NA rows are left out, as in SQL)."""
    if when is None:
        return {}
    from great_expectations.expectations.row_conditions import Column

    column, value = when
    return {"row_condition": Column(name=column) == value}


def key_checks(
    key: str,
    not_null: Sequence[str],
    dataset: str,
    domains: dict[str, str],
    extra_values: dict[str, list[str]] | None = None,
) -> list[Check]:
    """The row key unique; the key and the `not_null` columns (the mart's names of the dataset's
    required fields and more) present; every mart column in `domains` (mart column -> canonical
    code field of `dataset`) within its domain, plus its `extra_values` (a value the mart adds,
    such as 'suppressed')."""
    checks = [
        Check(
            f"{key}_unique",
            BLOCKING,
            key,
            "Primary key: one row per record.",
            lambda gx: gx.expectations.ExpectColumnValuesToBeUnique(column=key),
        )
    ]
    canonical = code_domains(dataset)
    for column in dict.fromkeys([key, *not_null]):
        checks.append(
            Check(
                f"{column}_not_null",
                BLOCKING,
                column,
                f"{column} is required.",
                lambda gx, column=column: gx.expectations.ExpectColumnValuesToNotBeNull(
                    column=column
                ),
            )
        )
    for column, field in domains.items():
        domain = [*canonical[field], *(extra_values or {}).get(column, [])]
        checks.append(
            Check(
                f"{column}_in_domain",
                BLOCKING,
                column,
                f"{column} takes only its canonical values: {', '.join(domain)}.",
                lambda gx, column=column, domain=domain: (
                    gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=domain)
                ),
            )
        )
    return checks


def not_after(column: str, later: str, description: str, name: str | None = None) -> Check:
    """`later` is not before `column` on every row where both are present."""
    return Check(
        name or f"{later}_not_before_{column}",
        BLOCKING,
        later,
        description,
        lambda gx: gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=later, column_B=column, or_equal=True, ignore_row_if="either_value_is_missing"
        ),
    )


def not_in_future(column: str, today: date) -> Check:
    bound = pd.Timestamp(today)
    return Check(
        f"{column}_not_in_future",
        BLOCKING,
        column,
        f"{column} is not after {today.isoformat()}.",
        lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(column=column, max_value=bound),
    )


def in_set_when(
    name: str, column: str, values: list[Any], when: tuple[str, Any], description: str
) -> Check:
    return Check(
        name,
        BLOCKING,
        column,
        description,
        lambda gx: gx.expectations.ExpectColumnValuesToBeInSet(
            column=column, value_set=values, **condition(when)
        ),
    )


def null_when(name: str, column: str, when: tuple[str, Any], description: str) -> Check:
    return Check(
        name,
        BLOCKING,
        column,
        description,
        lambda gx: gx.expectations.ExpectColumnValuesToBeNull(column=column, **condition(when)),
    )


def not_null_when(name: str, column: str, when: tuple[str, Any], description: str) -> Check:
    return Check(
        name,
        BLOCKING,
        column,
        description,
        lambda gx: gx.expectations.ExpectColumnValuesToNotBeNull(column=column, **condition(when)),
    )


def as_datetimes(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """DuckDB gives datetime64 for dates, hand-made frames often `date` objects; GX compares
    either against one bound type only."""
    frame = df.copy(deep=False)
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], errors="coerce")
    return frame

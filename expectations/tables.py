"""Helpers for suites over several related facts (a force incident and its subjects, officers and
actions; a complaint and its allegations): the rules GX checks one frame at a time, plus the
links between the frames, which GX has no expectation for.

A link "every action belongs to an existing force incident" becomes a boolean column of the child
frame (`_<column>_in_<parent>`, computed here with pandas) and a GX expectation that the column
is true, so the failure is reported by GX with the offending rows' keys like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd

from expectations.core import BLOCKING, Check, ExpectationOutcome, Severity, run_suite


def reference_column(column: str, parent: str) -> str:
    return f"_{column}_in_{parent}"


def add_reference(
    frame: pd.DataFrame, column: str, parent: str, parent_keys: Iterable[Any]
) -> pd.DataFrame:
    """`frame` with a column true where `column` is null or one of `parent_keys`."""
    keys = set(parent_keys)
    out = frame.copy(deep=False)
    if column in out.columns:
        values = out[column]
        out[reference_column(column, parent)] = values.isna() | values.isin(keys)
    return out


def references(column: str, parent: str, description: str) -> Check:
    flag = reference_column(column, parent)
    return Check(
        f"{column}_references_{parent}",
        BLOCKING,
        column,
        description,
        lambda gx: gx.expectations.ExpectColumnValuesToBeInSet(column=flag, value_set=[True]),
    )


def unique(column: str, description: str) -> Check:
    return Check(
        f"{column}_unique",
        BLOCKING,
        column,
        description,
        lambda gx: gx.expectations.ExpectColumnValuesToBeUnique(column=column),
    )


def not_null(columns: Sequence[str], severity: Severity = BLOCKING) -> list[Check]:
    return [
        Check(
            f"{column}_not_null",
            severity,
            column,
            f"{column} is required.",
            lambda gx, column=column: gx.expectations.ExpectColumnValuesToNotBeNull(column=column),
        )
        for column in columns
    ]


def in_domain(domains: dict[str, Sequence[Any]], severity: Severity = BLOCKING) -> list[Check]:
    return [
        Check(
            f"{column}_in_domain",
            severity,
            column,
            f"{column} takes only its canonical values: {', '.join(map(str, domain))}.",
            lambda gx, column=column, domain=list(domain): (
                gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=domain)
            ),
        )
        for column, domain in domains.items()
    ]


def between(
    column: str,
    low: Any = None,
    high: Any = None,
    *,
    name: str | None = None,
    severity: Severity = BLOCKING,
    description: str | None = None,
) -> Check:
    return Check(
        name or f"{column}_in_range",
        severity,
        column,
        description or f"{column} is between {low} and {high} (null allowed).",
        lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
            column=column, min_value=low, max_value=high
        ),
    )


def not_in_future(column: str, today: date) -> Check:
    return between(
        column,
        high=pd.Timestamp(today),
        name=f"{column}_not_in_future",
        description=f"{column} is not after {today.isoformat()}.",
    )


def not_before(column_a: str, column_b: str, severity: Severity, description: str) -> Check:
    """column_a >= column_b where both are present (a closing date not before the received date)."""
    return Check(
        f"{column_a}_not_before_{column_b}",
        severity,
        column_a,
        description,
        lambda gx: gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=column_a,
            column_B=column_b,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
    )


def as_datetimes(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Date columns as datetime64 (DuckDB gives datetime64, hand-made frames often `date`
    objects; GX compares either against one bound type only)."""
    out = frame.copy(deep=False)
    for column in columns:
        if column in out.columns:
            out[column] = pd.to_datetime(out[column], errors="coerce")
    return out


def run_tables(
    suite_name: str,
    tables: Sequence[tuple[str, pd.DataFrame, list[Check], Sequence[str]]],
) -> list[ExpectationOutcome]:
    """Run each (table, frame, checks, index columns) and name every outcome `<table>.<check>`."""
    outcomes: list[ExpectationOutcome] = []
    for table, frame, checks, index in tables:
        for outcome in run_suite(frame, f"{suite_name}.{table}", checks, index_columns=index):
            outcomes.append(
                ExpectationOutcome(
                    name=f"{table}.{outcome.name}",
                    column=outcome.column,
                    severity=outcome.severity,
                    success=outcome.success,
                    unexpected_count=outcome.unexpected_count,
                    unexpected_examples=outcome.unexpected_examples,
                    description=outcome.description,
                )
            )
    return outcomes

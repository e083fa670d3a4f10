"""Shared machinery of the Great Expectations suites: results, canonical domains, the GX run.

Great Expectations costs about 7 s to import (STACK-NOTES.md), so nothing here imports it at
module load: `run_suite` and `import_gx` import it when a suite actually runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from types import ModuleType
from typing import Any, Literal

import yaml

from ingestion.settings import CANONICAL_DIR

Severity = Literal["blocking", "warn"]
BLOCKING: Severity = "blocking"
WARN: Severity = "warn"
SEVERITIES: tuple[Severity, ...] = (BLOCKING, WARN)

MAX_EXAMPLES = 5


@cache
def load_canonical(dataset: str) -> dict[str, Any]:
    """The canonical field definitions of a dataset (`ingestion/canonical/<dataset>.yml`)."""
    with (CANONICAL_DIR / f"{dataset}.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def code_domains(dataset: str) -> dict[str, list[str]]:
    """Value domain of every `code` field of a dataset, in the canonical file's order."""
    fields = load_canonical(dataset)["fields"]
    return {
        name: list(spec["domain"])
        for name, spec in fields.items()
        if spec.get("type") == "code" and spec.get("domain")
    }


def required_fields(dataset: str) -> list[str]:
    """Fields the canonical file marks `required: true` (ingestion rejects rows without them)."""
    fields = load_canonical(dataset)["fields"]
    return [name for name, spec in fields.items() if spec.get("required")]


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict, in a shape that stores as a row of `quality_results`."""

    name: str
    column: str | None
    severity: Severity
    success: bool
    unexpected_count: int
    unexpected_examples: list[str]
    description: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")


@dataclass
class SuiteResult:
    """A suite's outcomes. Only blocking failures may stop publication; warn failures are reported."""

    suite: str
    success_blocking: bool
    results: list[ExpectationOutcome]
    row_count: int = 0
    validated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_outcomes(
        cls, suite: str, outcomes: Iterable[ExpectationOutcome], row_count: int
    ) -> SuiteResult:
        results = list(outcomes)
        return cls(
            suite=suite,
            success_blocking=all(r.success for r in results if r.severity == BLOCKING),
            results=results,
            row_count=row_count,
        )

    @property
    def success(self) -> bool:
        """True when every expectation passed, warn ones included."""
        return all(r.success for r in self.results)

    @property
    def blocking_failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if r.severity == BLOCKING and not r.success]

    @property
    def warn_failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if r.severity == WARN and not r.success]

    def outcome(self, name: str) -> ExpectationOutcome:
        """The outcome of the expectation called `name` (KeyError when the suite has none)."""
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_records(self, **context: Any) -> list[dict[str, Any]]:
        """JSON-ready rows, one per expectation; `context` (e.g. run_id=...) is added to each."""
        validated_at = self.validated_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return [
            {
                **context,
                "suite": self.suite,
                "validated_at": validated_at,
                "row_count": self.row_count,
                **asdict(result),
            }
            for result in self.results
        ]


def merge_results(suite: str, parts: Sequence[SuiteResult]) -> SuiteResult:
    """One result for a table validated in parts (whole agency-months each): an expectation
    passes when it passed in every part; its unexpected rows are summed and its examples are
    the first ones found, in part order."""
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, list[ExpectationOutcome]] = {}
    for part in parts:
        for outcome in part.results:
            merged.setdefault(outcome.name, []).append(outcome)
    outcomes = []
    for name, found in merged.items():
        failed = [o for o in found if not o.success]
        examples: list[str] = []
        for outcome in failed:
            examples += [e for e in outcome.unexpected_examples if e not in examples]
        outcomes.append(
            ExpectationOutcome(
                name=name,
                column=found[0].column,
                severity=found[0].severity,
                success=not failed,
                unexpected_count=sum(o.unexpected_count for o in found),
                unexpected_examples=examples[:MAX_EXAMPLES],
                description=(failed or found)[0].description,
            )
        )
    return SuiteResult.from_outcomes(suite, outcomes, row_count=sum(p.row_count for p in parts))


def import_gx() -> ModuleType:
    """Import Great Expectations (slow, ~7 s) with its analytics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    return gx


# GX's own severity field, so its results read the same way ours do.
_GX_SEVERITY = {BLOCKING: "critical", WARN: "warning"}


@dataclass(frozen=True)
class Check:
    """One GX expectation of a suite: `build(gx)` constructs it once GX is imported."""

    name: str
    severity: Severity
    column: str | None
    description: str
    build: Callable[[ModuleType], Any]


def run_suite(
    df: Any,
    suite_name: str,
    checks: Sequence[Check],
    *,
    index_columns: Sequence[str] = (),
) -> list[ExpectationOutcome]:
    """Validate a pandas DataFrame against `checks` in a throw-away (ephemeral) GX context.

    `index_columns` (e.g. the row key) are reported with each unexpected value, so a failure
    names the rows to look at, not just the bad value.
    """
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # The per-metric progress bars flood stderr (and Dagster's captured logs).
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas("lantern")
        .add_dataframe_asset(suite_name)
        .add_batch_definition_whole_dataframe("whole_dataframe")
    )
    by_name: dict[str, Check] = {}
    expectations = []
    for check in checks:
        if check.name in by_name:
            raise ValueError(f"duplicate expectation name {check.name!r} in suite {suite_name}")
        by_name[check.name] = check
        expectation = check.build(gx)
        expectation.meta = {"name": check.name, "severity": check.severity}
        expectation.severity = _GX_SEVERITY[check.severity]
        expectation.description = check.description
        expectations.append(expectation)
    # Given whole to the suite: `add_expectation` compares each new expectation with every one
    # already added (quadratic: about 0.1 s of the stops suite's 0.5 s), and would silently merge two
    # checks of ours that differ only in name.
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
    )
    present_index = [c for c in index_columns if c in df.columns]
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": 20,
    }
    if present_index:
        result_format["unexpected_index_column_names"] = present_index
    run = validation.run(batch_parameters={"dataframe": df}, result_format=result_format)

    outcomes: dict[str, ExpectationOutcome] = {}
    for result in run.results:
        name = (result.expectation_config.meta or {}).get("name")
        check = by_name.get(name)
        if check is None:  # not one of ours; cannot happen with a fresh suite
            continue
        outcomes[name] = _outcome_from_gx(check, result)
    # GX does not keep the suite's order in its results; ours is the order checks were declared.
    return [outcomes[c.name] for c in checks if c.name in outcomes]


def _outcome_from_gx(check: Check, result: Any) -> ExpectationOutcome:
    details = result.result or {}
    error = _exception_message(result.exception_info)
    description = check.description
    if error:
        description = f"{description} (could not be evaluated: {error})"
    examples: list[Any]
    if details.get("partial_unexpected_index_list"):
        examples = details["partial_unexpected_index_list"]
    else:
        examples = details.get("partial_unexpected_list") or []
    return ExpectationOutcome(
        name=check.name,
        column=check.column,
        severity=check.severity,
        success=bool(result.success) and not error,
        unexpected_count=int(details.get("unexpected_count") or 0),
        unexpected_examples=format_examples(examples),
        description=description,
    )


def _exception_message(info: Any) -> str | None:
    """GX nests exception info one level deeper when a metric (not the expectation) failed."""
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    for value in info.values():
        if isinstance(value, Mapping) and value.get("raised_exception"):
            return str(value.get("exception_message") or "exception")
    return None


def plain(value: Any) -> Any:
    """A JSON-ready version of a pandas / numpy scalar (None for missing values)."""
    import pandas as pd

    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, datetime | date) or hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # a whole number validated as float (an age with nulls) reads as one
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def format_examples(examples: Iterable[Any], limit: int = MAX_EXAMPLES) -> list[str]:
    """At most `limit` distinct examples, each a compact JSON text (stores in any table)."""
    out: list[str] = []
    for example in examples:
        text = json.dumps(plain(example), sort_keys=True, default=str)
        if text not in out:
            out.append(text)
        if len(out) >= limit:
            break
    return out

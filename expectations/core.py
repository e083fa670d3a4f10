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


# Expectations whose verdict on a row depends on that row's values in the columns they read
# (row conditions included): `run_suite` validates them on those values' distinct combinations.
ROW_WISE = frozenset(
    {
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToNotBeInSet",
        "ExpectColumnValuesToBeNull",
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        "ExpectColumnPairValuesToBeEqual",
    }
)
# ...and of these, whose verdict on the checked column depends on its nullness only.
NULLNESS = frozenset({"ExpectColumnValuesToBeNull", "ExpectColumnValuesToNotBeNull"})
UNIQUE = "ExpectColumnValuesToBeUnique"
# Checks are packed into one GX run while their columns' distinct values multiply to at most
# this many combinations (a check over more, such as two timestamps, runs alone).
MAX_COMBINATIONS = 65_536
# Unexpected rows GX lists per expectation (the first ones, in frame order); examples are taken
# from them.
PARTIAL_UNEXPECTED = 20


def run_suite(
    df: Any,
    suite_name: str,
    checks: Sequence[Check],
    *,
    index_columns: Sequence[str] = (),
    reduce: bool = True,
) -> list[ExpectationOutcome]:
    """Validate a pandas DataFrame against `checks` in a throw-away (ephemeral) GX context.

    `index_columns` (e.g. the row key) are reported with each unexpected value, so a failure
    names the rows to look at, not just the bad value.

    With `reduce` (the default), GX validates the row-wise expectations (ROW_WISE) on one row of
    each distinct combination of the values they read (of a null check's column, its nullness),
    each standing for its rows, instead of on every row; and the uniqueness of a column on the
    rows whose value repeats. GX's pandas engine costs about 10 microseconds a row and far more
    per unexpected row (it lists every unexpected row's index: 10 s for a million rows a quarter
    null), which made the stops suite 110 s of a 10-million-stop night. GX still decides every
    verdict; an unexpected count is the number of rows behind the unexpected combinations, and
    the examples are GX's own, from a run of the expectation on the first unexpected rows. The
    outcomes are those of validating every row (`reduce=False`; tests/expectations/test_core.py
    compares the two).
    """
    gx = import_gx()
    validator = _Validator(gx, suite_name)
    names: set[str] = set()
    for check in checks:
        if check.name in names:
            raise ValueError(f"duplicate expectation name {check.name!r} in suite {suite_name}")
        names.add(check.name)
    index = [c for c in index_columns if c in df.columns]
    if not reduce:
        outcomes = _outcomes(checks, validator.run(df, checks, index))
        return [outcomes[c.name] for c in checks if c.name in outcomes]

    keys = _Keys(df)
    whole: list[Check] = []
    unique: dict[str, list[Check]] = {}
    packs: list[tuple[dict[str, str], list[Check]]] = []
    for check in checks:
        kind, reads = _reduction(validator.expectation(check), df.columns)
        if kind == "unique":
            unique.setdefault(reads[0][0], []).append(check)
            continue
        if kind == "whole":
            whole.append(check)
            continue
        for pack, members in packs:  # the first pack it fits in (or a pack of its own)
            joined = _joined(pack, dict(reads))
            if keys.combinations(joined) <= MAX_COMBINATIONS:
                pack.clear()
                pack.update(joined)
                members.append(check)
                break
        else:
            packs.append((dict(reads), [check]))
    outcomes: dict[str, ExpectationOutcome] = {}
    if whole:
        outcomes.update(_outcomes(whole, validator.run(df, whole, index)))
    for column, members in unique.items():
        repeated = df.loc[df[column].duplicated(keep=False), list(dict.fromkeys([column, *index]))]
        outcomes.update(_outcomes(members, validator.run(repeated, members, index)))
    for reads, members in packs:
        outcomes.update(_run_on_combinations(validator, df, keys, reads, members, index))
    # GX does not keep the suite's order in its results; ours is the order checks were declared.
    return [outcomes[c.name] for c in checks if c.name in outcomes]


def _outcomes(checks: Sequence[Check], results: Mapping[str, Any]) -> dict[str, ExpectationOutcome]:
    return {c.name: _outcome_from_gx(c, results[c.name]) for c in checks if c.name in results}


def _reduction(expectation: Any, available: Iterable[str]) -> tuple[str, tuple]:
    """How `run_suite` validates an expectation: on distinct combinations ("values", with each
    column read and whether its value or only its nullness matters), on the rows whose value
    repeats ("unique"), or on the whole frame ("whole": any other expectation, a row condition
    given as text, a column the frame lacks)."""
    kind = type(expectation).__name__
    kwargs = expectation.configuration.kwargs
    checked = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    condition = kwargs.get("row_condition")
    if isinstance(condition, str) and condition:
        return "whole", ()
    conditions = _condition_columns(condition)
    if not checked or not set(checked + conditions) <= set(available):
        return "whole", ()
    if kind == UNIQUE and not conditions and len(checked) == 1:
        return "unique", ((checked[0], "value"),)
    if kind not in ROW_WISE:
        return "whole", ()
    mode = "null" if kind in NULLNESS else "value"
    reads = {column: mode for column in checked}
    return "values", tuple(_joined(reads, dict.fromkeys(conditions, "value")).items())


def _joined(a: Mapping[str, str], b: Mapping[str, str]) -> dict[str, str]:
    """Two sets of columns read; a column read for its value and for its nullness is read for
    its value (the finer partition)."""
    out = dict(a)
    for column, mode in b.items():
        out[column] = "value" if "value" in (mode, out.get(column)) else "null"
    return out


def _condition_columns(condition: Any) -> list[str]:
    """The columns a (serialised) GX row condition reads."""
    if isinstance(condition, Mapping):
        found = []
        column = condition.get("column")
        if isinstance(column, Mapping) and isinstance(column.get("name"), str):
            found.append(column["name"])
        for value in condition.values():
            if isinstance(value, Mapping | list | tuple):
                found += _condition_columns(value)
        return found
    if isinstance(condition, list | tuple):
        return [name for item in condition for name in _condition_columns(item)]
    return []


class _Keys:
    """Each column's values (or nullness) as small integer codes, computed once per column."""

    def __init__(self, df: Any):
        self.df = df
        self.codes: dict[tuple[str, str], tuple[Any, int]] = {}

    def code(self, column: str, mode: str) -> tuple[Any, int]:
        """(codes, number of distinct codes) of a column's values or nullness; NA is a value."""
        import numpy as np
        import pandas as pd

        key = (column, mode)
        if key not in self.codes:
            values = self.df[column]
            if mode == "null":
                codes, count = values.isna().to_numpy().astype(np.int64), 2
            else:
                codes, uniques = pd.factorize(values, use_na_sentinel=False)
                codes, count = codes.astype(np.int64), max(len(uniques), 1)
            self.codes[key] = (codes, count)
        return self.codes[key]

    def combinations(self, reads: Mapping[str, str]) -> int:
        """An upper bound of the distinct combinations of `reads` (the product of each column's
        distinct values)."""
        total = 1
        for column, mode in reads.items():
            total *= self.code(column, mode)[1]
        return total

    def groups(self, reads: Mapping[str, str]) -> tuple[Any, Any, Any]:
        """(group of each row, first row of each group, rows of each group), groups numbered in
        order of their first row."""
        import numpy as np
        import pandas as pd

        joint = np.zeros(len(self.df), dtype=np.int64)
        for column, mode in reads.items():
            codes, count = self.code(column, mode)
            joint = joint * count + codes
        group, uniques = pd.factorize(joint)
        sizes = np.bincount(group, minlength=len(uniques))
        first = np.full(len(uniques), len(group), dtype=np.int64)
        np.minimum.at(first, group, np.arange(len(group)))
        return group, first, sizes


def _run_on_combinations(
    validator: _Validator,
    df: Any,
    keys: _Keys,
    reads: Mapping[str, str],
    checks: list[Check],
    index: list[str],
) -> dict[str, ExpectationOutcome]:
    """Row-wise `checks` reading `reads`: GX on one row of each distinct combination, each
    weighted by its rows; a failing check runs again on its first unexpected rows for GX's
    examples."""
    import numpy as np

    group, first, sizes = keys.groups(reads)
    columns = list(reads)
    results = validator.run(df.iloc[first][columns].reset_index(drop=True), checks, [], True)
    outcomes = {}
    for check in checks:
        result = results[check.name]
        unexpected = np.asarray((result.result or {}).get("unexpected_index_list") or [], int)
        if not len(unexpected) or _exception_message(result.exception_info):
            outcomes[check.name] = _outcome_from_gx(check, result)
            continue
        rows = np.flatnonzero(np.isin(group, unexpected))[:PARTIAL_UNEXPECTED]
        sample = df.iloc[rows][list(dict.fromkeys([*columns, *index]))]
        outcome = _outcome_from_gx(check, validator.run(sample, [check], index)[check.name])
        outcomes[check.name] = ExpectationOutcome(
            name=outcome.name,
            column=outcome.column,
            severity=outcome.severity,
            success=False,
            unexpected_count=int(sizes[unexpected].sum()),
            unexpected_examples=outcome.unexpected_examples,
            description=outcome.description,
        )
    return outcomes


class _Validator:
    """One ephemeral GX context in which a suite's checks are validated, on one frame or several."""

    def __init__(self, gx: ModuleType, suite_name: str):
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.suite_name = suite_name
        self.context = gx.get_context(mode="ephemeral")
        # The per-metric progress bars flood stderr (and Dagster's captured logs).
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self.source = self.context.data_sources.add_pandas("lantern")
        self.runs = 0

    def expectation(self, check: Check) -> Any:
        expectation = check.build(self.gx)
        expectation.meta = {"name": check.name, "severity": check.severity}
        expectation.severity = _GX_SEVERITY[check.severity]
        expectation.description = check.description
        return expectation

    def run(
        self, df: Any, checks: Sequence[Check], index: Sequence[str], complete: bool = False
    ) -> dict[str, Any]:
        """GX's result of each check (by name) on `df`: examples with the `index` columns, or
        with `complete` every unexpected row's position."""
        gx = self.gx
        self.runs += 1
        name = f"{self.suite_name}#{self.runs}" if self.runs > 1 else self.suite_name
        batch_definition = self.source.add_dataframe_asset(
            name
        ).add_batch_definition_whole_dataframe("whole_dataframe")
        # Given whole to the suite: `add_expectation` compares each new expectation with every
        # one already added (quadratic), and would silently merge two checks of ours that
        # differ only in name.
        suite = self.context.suites.add(
            gx.ExpectationSuite(name=name, expectations=[self.expectation(c) for c in checks])
        )
        validation = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        result_format: dict[str, Any] = {
            "result_format": "COMPLETE" if complete else "SUMMARY",
            "partial_unexpected_count": PARTIAL_UNEXPECTED,
        }
        if index:
            result_format["unexpected_index_column_names"] = list(index)
        run = validation.run(batch_parameters={"dataframe": df}, result_format=result_format)
        wanted = {c.name for c in checks}
        results = {}
        for result in run.results:
            check_name = (result.expectation_config.meta or {}).get("name")
            if check_name in wanted:  # ours; nothing else is in a fresh suite
                results[check_name] = result
        return results


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

"""Agency onboarding configuration: parse and validate `agency.yml` and `<dataset>.yml`.

Configuration is data, never code: it is parsed with YAML's safe loader, checked against the
canonical field specs, and every error names the file, the line and the key, so a records clerk
can fix a mapping without reading Python.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from ingestion import settings

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
FORMATS = ("csv", "excel", "jsonl", "json", "parquet")
FIELD_TYPES = ("string", "integer", "date", "time", "datetime", "code", "boolean", "list")
# Elements of a `list` field in its raw column (Dallas TYPE_OF_FORCE_USED1..10 -> "a|b|c").
LIST_SEPARATOR = "|"
TREATMENTS = ("drop", "hash")
LINK_ROWS = ("one", "many")
# How often an agency is expected to send a dataset (`expected_cadence:` in its mapping), in days:
# freshness is judged against it. Monthly is what most agencies' open-data exports do.
CADENCE_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "yearly": 366}
DEFAULT_CADENCE = "monthly"
BOOLEAN_SPELLINGS = {
    "true": "true", "t": "true", "yes": "true", "y": "true", "1": "true",
    "false": "false", "f": "false", "no": "false", "n": "false", "0": "false",
}  # fmt: skip


# Date and time formats that are numbers, not strptime patterns (ingestion/mapper.py's
# SPECIAL_FORMATS): instants counted from 1970 UTC, and Excel's serial day numbers.
EPOCH_FORMATS = ("epoch_ms", "epoch_s")
SPECIAL_FORMATS = (*EPOCH_FORMATS, "excel_serial")

# Top-level keys of a dataset mapping (ingestion/CONTRACT.md); anything else is a typo.
MAPPING_KEYS = (
    "dataset", "format", "file_pattern", "encoding", "csv", "excel", "json", "columns", "formats",
    "values", "personal_data", "null_values", "column_null_values", "constants", "empty_as",
    "only_when", "not_recorded", "expected_cadence", "linked_files",
)  # fmt: skip


class ConfigError(ValueError):
    """A configuration file is invalid; the message names file, line and key."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    personal: bool = False
    domain: tuple[str, ...] = ()
    default: str | None = None
    default_code: str | None = None  # code fields: what an empty or unmapped value becomes
    applies_when: str | None = None  # a boolean field that must be true for this one to apply
    description: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    dataset: str
    fields: dict[str, FieldSpec]
    record_key: tuple[str, ...]

    def raw_columns(self) -> list[str]:
        """Columns of raw.<dataset> that always exist, in order (personal fields only hashed)."""
        cols = []
        for spec in self.fields.values():
            if spec.type == "datetime":
                continue  # split into its date and time fields at ingestion
            cols.append(f"{spec.name}_hash" if spec.personal else spec.name)
        return cols


@dataclass(frozen=True)
class Agency:
    agency_id: str
    name: str
    ori: str
    state: str
    time_zone: str
    latitude: float
    longitude: float
    first_year: int
    reference_group: str
    population: dict[int, dict[str, int]]
    path: Path
    # The city the agency polices, to match reference datasets that name a city and state but
    # no agency (the Washington Post's fatal-force file); empty when not given.
    city: str = ""


@dataclass(frozen=True)
class LinkedFile:
    """A further file of the same delivery joined to every row of the main file by key (Chicago
    PD's TRR subjects, officers and actions files beside TRR-main). Its column C is read as
    "<name>.C"; with rows: many, as C's non-empty values of the matching rows joined with '|'."""

    name: str
    file_pattern: str  # its `*`s stand for the texts the main file_pattern's `*`s matched
    key: str  # the linked file's key column ...
    on: str  # ... equal to this column of the main file
    rows: str = "one"  # one: at most one linked row per main row | many: any number
    where: dict[str, list[str]] = field(default_factory=dict)  # keep rows with these texts


@dataclass(frozen=True)
class Mapping:
    agency_id: str
    dataset: str
    format: str
    file_pattern: str
    encoding: str
    columns: dict[str, str]
    formats: dict[str, str | list[str]]
    values: dict[str, dict[str, str]]
    personal_data: dict[str, str]
    csv: dict[str, str] = field(default_factory=dict)
    any_of: dict[str, list[str]] = field(default_factory=dict)
    # list fields: the source columns each holding one element (Dallas TYPE_OF_FORCE_USED1..10)
    list_of: dict[str, list[str]] = field(default_factory=dict)
    # integer fields: 1-based order of the row among the file's rows with the same value of a
    # source column (a record id repeated on several rows that the export does not number)
    sequence_within: dict[str, str] = field(default_factory=dict)
    # source column -> further cell texts meaning "empty" in that column only (Dallas SUBJECT_ID 0)
    column_null_values: dict[str, list[str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    empty_as: dict[str, str] = field(default_factory=dict)
    null_values: list[str] = field(default_factory=list)
    only_when: dict[str, str] = field(default_factory=dict)
    not_recorded: list[str] = field(default_factory=list)
    excel: dict[str, Any] = field(default_factory=dict)
    time_zone: str = ""  # the agency's (agency.yml beside the mapping), for epoch formats
    json: dict[str, Any] = field(default_factory=dict)  # records, record_key (readers.read_json)
    one_of: dict[str, list[str]] = field(default_factory=dict)
    linked_files: dict[str, LinkedFile] = field(default_factory=dict)
    expected_cadence: str = DEFAULT_CADENCE
    path: Path | None = None

    def for_columns(self, present: Iterable[str]) -> Mapping:
        """This mapping with each `one_of` field read from the first of its names the file has
        (the first name when it has none, so the missing column is reported under it)."""
        if not self.one_of:
            return self
        present = set(present)
        columns = dict(self.columns)
        for name, sources in self.one_of.items():
            columns[name] = next((s for s in sources if s in present), sources[0])
        return replace(self, columns=columns)


# libyaml's safe loader where PyYAML was built with it (about ten times faster), else the Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=1024)
def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """A YAML text's node tree (for line numbers) and its data, once per distinct text: a run
    reads the same mappings for every file and record type."""
    return yaml.compose(text, Loader=_SAFE_LOADER), yaml.load(text, Loader=_SAFE_LOADER)


class _Located:
    """YAML document plus the line of every key, so errors can point at a line."""

    def __init__(self, path: Path):
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
        try:
            node, data = _parse(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
        self.data = copy.deepcopy(data)
        self.lines: dict[tuple[str, ...], int] = {}
        if node is not None:
            self._index(node, ())
        if not isinstance(self.data, dict):
            raise ConfigError(f"{path}:1: expected a mapping of keys at the top level")

    def _index(self, node: yaml.Node, prefix: tuple[str, ...]) -> None:
        self.lines.setdefault(prefix, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*prefix, str(key.value))
                if here in self.lines:
                    # YAML keeps the last of two equal keys without a word: a clerk's duplicated
                    # line would silently replace the first.
                    raise ConfigError(
                        f"{self.path}:{key.start_mark.line + 1}: {'.'.join(here)}: duplicate key "
                        f"(first on line {self.lines[here]})"
                    )
                self.lines[here] = key.start_mark.line + 1
                self._index(value, here)

    def allow_keys(self, keys: tuple[str, ...], allowed: Iterable[str]) -> None:
        """Unknown keys are typos (`colums:`) that would otherwise be ignored: name them."""
        value = self.data
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, dict):
            return
        allowed = set(allowed)
        for key in value:
            if str(key) not in allowed:
                raise self.error(
                    (*keys, str(key)), f"unknown key; expected one of {', '.join(sorted(allowed))}"
                )

    def error(self, keys: tuple[str, ...], message: str) -> ConfigError:
        line = 1
        for depth in range(len(keys), -1, -1):
            if keys[:depth] in self.lines:
                line = self.lines[keys[:depth]]
                break
        where = ".".join(keys) or "(top)"
        return ConfigError(f"{self.path}:{line}: {where}: {message}")

    def get(self, *keys: str, kind: type | tuple[type, ...] | None = None, required=False):
        value: Any = self.data
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            if required:
                raise self.error(keys, "is required")
            return None
        if kind is not None and not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.error(keys, f"must be a {names}, got {type(value).__name__} {value!r}")
        return value


def check_id(value: str, what: str) -> str:
    """Ids become folder names and SQL literals: only lowercase letters, digits and underscores."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ConfigError(
            f"invalid {what} {value!r}: use lowercase letters, digits and underscores"
        )
    return value


@cache
def dataset_spec(dataset: str) -> DatasetSpec:
    check_id(dataset, "dataset")
    path = settings.CANONICAL_DIR / f"{dataset}.yml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in settings.CANONICAL_DIR.glob("*.yml")))
        raise ConfigError(f"unknown dataset {dataset!r} (known: {known})")
    doc = _Located(path)
    fields = {}
    for name, raw in (doc.get("fields", kind=dict, required=True)).items():
        if raw.get("type") not in FIELD_TYPES:
            raise doc.error(("fields", name, "type"), f"must be one of {', '.join(FIELD_TYPES)}")
        fields[name] = FieldSpec(
            name=name,
            type=raw["type"],
            required=bool(raw.get("required", False)),
            personal=bool(raw.get("personal", False)),
            domain=tuple(raw.get("domain", ())),
            default=raw.get("default"),
            default_code=raw.get("default_code"),
            applies_when=raw.get("applies_when"),
            description=raw.get("description", ""),
        )
    return DatasetSpec(dataset, fields, tuple(doc.get("record_key", kind=list) or ()))


def load_agency(agency_id: str, root: Path | None = None) -> Agency:
    check_id(agency_id, "agency id")
    path = (root or settings.agencies_dir()) / agency_id / "agency.yml"
    if not path.exists():
        raise ConfigError(f"{path}: no such file: agency {agency_id!r} is not onboarded")
    doc = _Located(path)
    declared = doc.get("agency_id", kind=str, required=True)
    if declared != agency_id:
        raise doc.error(("agency_id",), f"is {declared!r} but the folder is {agency_id!r}")
    centroid = doc.get("centroid", kind=dict) or {}
    population: dict[int, dict[str, int]] = {}
    races = dataset_spec("stops").fields["subject_race"].domain
    for year, groups in (doc.get("population", kind=dict) or {}).items():
        if not isinstance(year, int) or not isinstance(groups, dict):
            raise doc.error(("population", str(year)), "must map a year to {group: residents}")
        for group, count in groups.items():
            if group not in races:
                raise doc.error(
                    ("population", str(year), str(group)), f"unknown group; use {races}"
                )
            if not isinstance(count, int) or count < 0:
                raise doc.error(("population", str(year), str(group)), "must be a whole number")
        population[year] = dict(groups)
    reference = doc.get("reference_group", kind=str) or "white"
    if reference not in races:
        raise doc.error(("reference_group",), f"unknown group; use one of {races}")
    return Agency(
        agency_id=agency_id,
        name=doc.get("name", kind=str, required=True),
        ori=str(doc.get("ori", kind=(str, int)) or ""),
        state=doc.get("state", kind=str) or "",
        time_zone=doc.get("time_zone", kind=str, required=True),
        latitude=float(centroid.get("lat", 0.0)),
        longitude=float(centroid.get("lon", 0.0)),
        first_year=int(doc.get("first_year", kind=int) or 1900),
        reference_group=reference,
        population=population,
        path=path,
        city=doc.get("city", kind=str) or "",
    )


def _agency_time_zone(path: Path) -> str:
    """The time_zone an agency.yml declares ("" when there is none to read: load_agency is
    what checks the file)."""
    try:
        doc = _parse(path.read_text(encoding="utf-8"))[1]
    except (OSError, yaml.YAMLError):
        return ""
    zone = doc.get("time_zone") if isinstance(doc, dict) else None
    return zone if isinstance(zone, str) else ""


def load_mapping(agency_id: str, dataset: str, root: Path | None = None) -> Mapping:
    check_id(agency_id, "agency id")
    spec = dataset_spec(dataset)
    path = (root or mapping_root(dataset)) / agency_id / f"{dataset}.yml"
    if not path.exists():
        raise ConfigError(f"{path}: no such file: agency {agency_id!r} has no {dataset} mapping")
    doc = _Located(path)
    doc.allow_keys((), MAPPING_KEYS)
    doc.allow_keys(("csv",), ("delimiter", "quote", "escape", "skip_rows"))
    doc.allow_keys(("excel",), ("sheet", "skip_rows"))
    doc.allow_keys(("json",), ("records", "record_key"))
    for section in ("csv", "excel"):
        skip = (doc.get(section, kind=dict) or {}).get("skip_rows")
        if skip is not None and (type(skip) is not int or skip < 0):
            raise doc.error((section, "skip_rows"), "must be a whole number of lines (0 or more)")
    declared = doc.get("dataset", kind=str)
    if declared is not None and declared != dataset:
        raise doc.error(("dataset",), f"is {declared!r} but the file is {dataset}.yml")
    cadence = doc.get("expected_cadence", kind=str) or DEFAULT_CADENCE
    if cadence not in CADENCE_DAYS:
        raise doc.error(("expected_cadence",), f"must be one of {', '.join(CADENCE_DAYS)}")
    fmt = doc.get("format", kind=str, required=True)
    if fmt not in FORMATS:
        raise doc.error(("format",), f"must be one of {', '.join(FORMATS)}")
    pattern = doc.get("file_pattern", kind=str) or "*"
    if "/" in pattern or ".." in pattern:
        raise doc.error(("file_pattern",), "must be a file name pattern, not a path")
    encoding = doc.get("encoding", kind=str) or "utf-8"
    try:
        "".encode(encoding)
    except LookupError:
        raise doc.error(("encoding",), f"unknown encoding {encoding!r}") from None

    linked_files = _linked_files(doc, pattern)
    raw_columns = doc.get("columns", kind=dict, required=True)
    columns: dict[str, str] = {}
    any_of: dict[str, list[str]] = {}
    one_of: dict[str, list[str]] = {}
    list_of: dict[str, list[str]] = {}
    sequence_within: dict[str, str] = {}
    for canonical, source in raw_columns.items():
        if canonical not in spec.fields:
            raise doc.error(("columns", canonical), f"unknown canonical field of {dataset}")
        if isinstance(source, dict) and set(source) == {"any_of"}:
            # A set of flag columns (e.g. NYPD's WEAPON_FOUND_FLAG, OTHER_CONTRABAND_FLAG): the
            # field is true when any of them is true.
            if spec.fields[canonical].type != "boolean":
                raise doc.error(("columns", canonical), "any_of applies to boolean fields")
            names = source["any_of"]
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str) for n in names)
            ):
                raise doc.error(("columns", canonical, "any_of"), "must list source columns")
            any_of[canonical] = names
        elif isinstance(source, dict) and set(source) == {"one_of"}:
            # A column the agency's exports have named differently over time (St. Louis MPD's
            # IncidentDate was IncidentDate1 in one month): read from whichever the file has.
            names = source["one_of"]
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str | int) for n in names)
            ):
                raise doc.error(("columns", canonical, "one_of"), "must list source columns")
            one_of[canonical] = [str(n) for n in names]
            columns[canonical] = one_of[canonical][0]
        elif isinstance(source, dict) and set(source) == {"list_of"}:
            # Several columns each holding one element of a list (Dallas TYPE_OF_FORCE_USED1..10):
            # raw keeps the non-empty elements in column order, joined with LIST_SEPARATOR.
            if spec.fields[canonical].type != "list":
                raise doc.error(("columns", canonical), "list_of applies to list fields")
            names = source["list_of"]
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str | int) for n in names)
            ):
                raise doc.error(("columns", canonical, "list_of"), "must list source columns")
            list_of[canonical] = [str(n) for n in names]
        elif isinstance(source, dict) and set(source) == {"sequence_within"}:
            # Dallas repeats one report number on the rows of several unidentified subjects and
            # numbers none of them: the row's order among its file's rows with the same value.
            if spec.fields[canonical].type != "integer":
                raise doc.error(("columns", canonical), "sequence_within applies to integer fields")
            within = source["sequence_within"]
            if not isinstance(within, str | int):
                raise doc.error(
                    ("columns", canonical, "sequence_within"), "must name one source column"
                )
            sequence_within[canonical] = str(within)
        elif isinstance(source, str | int):
            columns[canonical] = str(source)
        else:
            raise doc.error(
                ("columns", canonical),
                "must name one source column, {any_of: [...]} or {one_of: [...]}",
            )

    constants = {}
    for name, value in (doc.get("constants", kind=dict) or {}).items():
        fspec = spec.fields.get(name)
        if fspec is None:
            raise doc.error(("constants", name), f"unknown canonical field of {dataset}")
        if name in columns or name in any_of or name in list_of or name in sequence_within:
            raise doc.error(("constants", name), "is also mapped in columns")
        if value is None:
            raise doc.error(("constants", name), "a constant needs a value")
        value = _canonical_text(value) if fspec.type in ("code", "boolean") else str(value)
        allowed = {"code": fspec.domain, "boolean": ("true", "false")}.get(fspec.type)
        if allowed is not None and value not in allowed:
            raise doc.error(("constants", name), f"{value!r} is not one of {list(allowed)}")
        constants[name] = value
    empty_as = {}
    for name, value in (doc.get("empty_as", kind=dict) or {}).items():
        fspec = spec.fields.get(name)
        if fspec is None or fspec.type not in ("code", "boolean"):
            raise doc.error(("empty_as", name), "empty_as applies to code and boolean fields")
        value = _canonical_text(value)
        allowed = fspec.domain if fspec.type == "code" else ("true", "false")
        if value not in allowed:
            raise doc.error(("empty_as", name), f"{value!r} is not one of {list(allowed)}")
        empty_as[name] = value
    only_when = {}
    for name, condition in (doc.get("only_when", kind=dict) or {}).items():
        # The Open Policing rule "contraband_found is null unless searched", applied where an
        # export records finds from frisks too (NYPD): only_when: {contraband_found: search_conducted}
        if name not in spec.fields:
            raise doc.error(("only_when", name), f"unknown canonical field of {dataset}")
        cond = spec.fields.get(str(condition))
        if cond is None or cond.type != "boolean":
            raise doc.error(("only_when", name), "must name a boolean canonical field")
        if str(condition) not in raw_columns:
            raise doc.error(("only_when", name), f"{condition!r} is not mapped in columns")
        only_when[name] = str(condition)
    column_null_values: dict[str, list[str]] = {}
    for source, texts in (doc.get("column_null_values", kind=dict) or {}).items():
        # "0" means "no id" in Dallas's SUBJECT_ID, but is a real count in NUMBER_EC_CYCLES.
        if not isinstance(texts, list) or not all(isinstance(v, str | int) for v in texts):
            raise doc.error(("column_null_values", str(source)), "must list strings such as '0'")
        column_null_values[str(source)] = [str(v).strip().upper() for v in texts]
    null_values = doc.get("null_values", kind=list) or []
    if not all(isinstance(v, str | int) for v in null_values):
        raise doc.error(("null_values",), "must list strings such as 'NULL' or '-'")

    not_recorded = doc.get("not_recorded", kind=list) or []
    for name in not_recorded:
        # A field the export does not carry at all (Seattle's Terry stops record no search): it
        # stays null, its rates are not computed, and its not-null checks skip this agency.
        if name not in spec.fields:
            raise doc.error(("not_recorded",), f"{name!r} is not a canonical field of {dataset}")
        if name in columns or name in any_of or name in list_of or name in constants:
            raise doc.error(("not_recorded",), f"{name!r} is also mapped")
    provided = (
        set(columns)
        | set(any_of)
        | set(list_of)
        | set(sequence_within)
        | set(constants)
        | set(not_recorded)
    )
    for name, fspec in spec.fields.items():
        if (
            fspec.required
            and name not in provided
            and not _covered_by_datetime(name, columns, spec)
        ):
            raise doc.error(("columns",), f"required field {name!r} is not mapped")

    formats = doc.get("formats", kind=dict) or {}
    time_zone = ""  # read from agency.yml only for a mapping with an epoch format
    for name, fmt_text in formats.items():
        if name not in spec.fields or spec.fields[name].type not in ("date", "time", "datetime"):
            raise doc.error(("formats", name), "formats apply to date, time and datetime fields")
        # A list is tried in order: Dallas writes "09/03/2016" and "3/22/16" in one column.
        texts = fmt_text if isinstance(fmt_text, list) and fmt_text else [fmt_text]
        if not all(isinstance(f, str) and ("%" in f or f in SPECIAL_FORMATS) for f in texts):
            raise doc.error(
                ("formats", name),
                "must be a strptime format such as '%m/%d/%Y', or one of "
                + ", ".join(SPECIAL_FORMATS),
            )
        if any(f in EPOCH_FORMATS for f in texts):
            time_zone = time_zone or _agency_time_zone(path.parent / "agency.yml")
            if not time_zone:
                raise doc.error(
                    ("formats", name),
                    "an epoch format gives an instant: it needs the agency's time_zone "
                    f"(agency.yml beside this mapping, {path.parent / 'agency.yml'})",
                )

    values: dict[str, dict[str, str]] = {}
    for name, mapping in (doc.get("values", kind=dict) or {}).items():
        fspec = spec.fields.get(name)
        if fspec is None or fspec.type not in ("code", "boolean", "list"):
            raise doc.error(("values", name), "value maps apply to code, boolean and list fields")
        if not isinstance(mapping, dict):
            raise doc.error(("values", name), "must map source codes to canonical values")
        allowed = fspec.domain if fspec.type in ("code", "list") else ("true", "false")
        values[name] = {}
        for source, target in mapping.items():
            target = _canonical_text(target)
            if target not in allowed:
                raise doc.error(
                    ("values", name, str(source)), f"{target!r} is not one of {list(allowed)}"
                )
            values[name][_canonical_text(source)] = target

    personal = {}
    for source, treatment in (doc.get("personal_data", kind=dict) or {}).items():
        if treatment not in TREATMENTS:
            raise doc.error(("personal_data", str(source)), f"must be one of {TREATMENTS}")
        personal[str(source)] = treatment
    by_source = {v: k for k, v in columns.items()}
    for name, fspec in spec.fields.items():
        if fspec.personal and name in columns and columns[name] not in personal:
            raise doc.error(
                ("personal_data",),
                f"column {columns[name]!r} carries personal field {name!r}: list it as hash or drop",
            )
    for source, treatment in personal.items():
        if treatment == "drop" and source in by_source:
            raise doc.error(("personal_data", source), "is mapped in columns; use hash or unmap it")

    return Mapping(
        agency_id=agency_id,
        dataset=dataset,
        format=fmt,
        file_pattern=pattern,
        encoding=encoding,
        columns=columns,
        formats={
            k: [str(f) for f in v] if isinstance(v, list) else str(v) for k, v in formats.items()
        },
        values=values,
        personal_data=personal,
        csv=doc.get("csv", kind=dict) or {},
        any_of=any_of,
        list_of=list_of,
        sequence_within=sequence_within,
        column_null_values=column_null_values,
        constants=constants,
        empty_as=empty_as,
        null_values=[str(v).strip().upper() for v in null_values],
        only_when=only_when,
        not_recorded=[str(n) for n in not_recorded],
        excel=doc.get("excel", kind=dict) or {},
        json=doc.get("json", kind=dict) or {},
        time_zone=time_zone,
        one_of=one_of,
        linked_files=linked_files,
        expected_cadence=cadence,
        path=path,
    )


def _linked_files(doc: _Located, main_pattern: str) -> dict[str, LinkedFile]:
    """`linked_files:`: further files of one delivery, joined to the main file's rows by key."""
    out: dict[str, LinkedFile] = {}
    for name, raw in (doc.get("linked_files", kind=dict) or {}).items():
        where = ("linked_files", str(name))
        if not isinstance(name, str) or not ID_PATTERN.match(name):
            raise doc.error(where, "a linked file's name uses lowercase letters, digits and _")
        if not isinstance(raw, dict):
            raise doc.error(where, "must be a mapping with file_pattern, key, rows")
        # YAML 1.1 reads a bare `on:` key as the boolean true
        raw = {("on" if k is True else str(k)): v for k, v in raw.items()}
        unknown = set(raw) - {"file_pattern", "key", "on", "rows", "where"}
        if unknown:
            raise doc.error((*where, sorted(unknown)[0]), "unknown key of a linked file")
        pattern = raw.get("file_pattern")
        if not isinstance(pattern, str) or not pattern:
            raise doc.error((*where, "file_pattern"), "is required")
        if "/" in pattern or ".." in pattern or any(c in pattern for c in "?["):
            raise doc.error((*where, "file_pattern"), "must be a file name pattern using only *")
        if any(c in main_pattern for c in "?[") or pattern.count("*") != main_pattern.count("*"):
            raise doc.error(
                (*where, "file_pattern"),
                f"must have as many * as file_pattern {main_pattern!r} (and neither ? nor [...]):"
                " each * stands for the text the main file's name has there",
            )
        key = raw.get("key")
        if not isinstance(key, str | int) or str(key) == "":
            raise doc.error((*where, "key"), "must name the linked file's key column")
        on = raw.get("on", key)
        if not isinstance(on, str | int) or str(on) == "":
            raise doc.error((*where, "on"), "must name the main file's key column")
        rows = raw.get("rows", "one")
        if rows not in LINK_ROWS:
            raise doc.error((*where, "rows"), f"must be one of {', '.join(LINK_ROWS)}")
        if raw.get("where") is not None and not isinstance(raw.get("where"), dict):
            raise doc.error((*where, "where"), "must map a column to the texts to keep")
        filters: dict[str, list[str]] = {}
        for column, texts in (raw.get("where") or {}).items():
            texts = texts if isinstance(texts, list) else [texts]
            if not texts or not all(isinstance(t, str | int) for t in texts):
                raise doc.error((*where, "where", str(column)), "must list cell texts")
            filters[str(column)] = [str(t).strip() for t in texts]
        out[name] = LinkedFile(name, pattern, str(key), str(on), rows, filters)
    return out


def _canonical_text(value: Any) -> str:
    if isinstance(value, bool):  # YAML turns Y/N/yes/no/true into booleans
        return "true" if value else "false"
    return str(value).strip().lower()


def _covered_by_datetime(name: str, columns: dict[str, str], spec: DatasetSpec) -> bool:
    """stop_date may come from a combined stop_datetime column."""
    prefix = name.rsplit("_", 1)[0]
    combined = f"{prefix}_datetime"
    return combined in columns and combined in spec.fields


def agency_ids(root: Path | None = None) -> list[str]:
    base = root or settings.agencies_dir()
    if not base.exists():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "agency.yml").exists())


def onboarded(dataset: str, root: Path | None = None) -> list[str]:
    if root is None and dataset in settings.REFERENCE_DATASETS:
        return reference_sources(dataset)
    base = root or settings.agencies_dir()
    return [a for a in agency_ids(base) if (base / a / f"{dataset}.yml").exists()]


def mapping_root(dataset: str) -> Path:
    """Where the mappings of `dataset` live: the agencies' folders, or for a reference dataset
    (settings.REFERENCE_DATASETS) the reference sources' folders."""
    if dataset in settings.REFERENCE_DATASETS:
        return settings.REFERENCE_DIR
    return settings.agencies_dir()


def reference_sources(dataset: str | None = None) -> list[str]:
    """Ids of the reference sources (ingestion/reference/<source_id>/), those mapping `dataset`
    when given."""
    base = settings.REFERENCE_DIR
    if not base.is_dir():
        return []
    return sorted(
        p.name
        for p in base.iterdir()
        if p.is_dir()
        and ID_PATTERN.match(p.name)
        and (any(p.glob("*.yml")) if dataset is None else (p / f"{dataset}.yml").exists())
    )

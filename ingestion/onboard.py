"""`lantern onboard`: draft an agency's mapping from a sample export.

It reads the header and a sample of values, proposes a source column for each canonical field
(by name, then by what the values look like), lists every distinct code of the categorical
columns with a proposed canonical value, detects encoding and date formats, and writes a mapping
file in which every guess carries a `# REVIEW` comment. A person reviews it; `lantern validate`
then checks the export against it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ingestion import config
from ingestion.mapper import SPECIAL_FORMATS, quote_ident, special_timestamp_expr
from ingestion.readers import DELIMITERS, read_file, read_head, sniff_layout, zip_data_file

SAMPLE_ROWS = 20_000
MAX_CODES = 60

# Words that name a canonical field in real exports (NYPD, Seattle, Austin, Dallas, Chicago...).
ALIASES: dict[str, list[str]] = {
    "source_record_id": ["id", "number", "num", "key", "report", "incident number", "case"],
    "person_seq": ["person", "subject number", "person num", "seq"],
    "incident_record_id": ["incident num", "incident number", "incident id", "case number"],
    "subject_race": ["race", "ethnicity", "race description"],
    "subject_sex": ["sex", "gender"],
    "subject_age": ["age", "reported age"],
    "search_conducted": ["searched", "search", "person search", "search yn"],
    "frisk_performed": ["frisked", "frisk"],
    "arrest_made": ["arrested", "arrest", "arrest flag", "arrest made"],
    "citation_issued": ["summons", "citation", "cited", "ticket"],
    "warning_issued": ["warning", "warned"],
    "contraband_found": ["contraband", "found", "search found", "weapon found"],
    "search_basis_detail": ["search basis", "search based on", "search reason", "search type"],
    "district": ["precinct", "district", "division", "zone", "sector"],
    "beat": ["beat", "sector", "reporting area"],
    "officer_id": ["officer id", "badge", "officer", "deputy"],
    "subject_id": ["subject id", "subject"],
    "stop_type": ["stop type", "type", "kind"],
    "reason_for_stop": ["reason", "reason for stop", "stop reason"],
    "outcome": ["result", "outcome", "disposition"],
    "force_level": ["incident type", "level", "force level"],
}
TYPE_WORDS = {"date": ["date"], "time": ["time"], "datetime": ["date time", "datetime", "occurred"]}
PERSONAL_WORDS = ["first name", "last name", "full name", "officer name", "subject name",
                  "suspect name", "premises name", "street name", "address", "street", "apartment",
                  "birth", "dob", "phone", "latitude", "longitude", "coordinate", "location x",
                  "location y", "other description", "narrative"]  # fmt: skip
DATE_FORMATS = ["%m/%d/%Y", "%Y-%m-%d", "%m/%d/%y", "%d/%m/%Y", "%Y/%m/%d"]
TIME_FORMATS = ["%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%H:%M:%S.%n"]
# Numbers proposed for a date or datetime column (after every pattern) when they look like
# them: ArcGIS's milliseconds since 1970 and Excel's serial days (epoch_s is not guessed: a
# 10-digit number is as often a case number).
NUMBER_FORMATS = {"epoch_ms": r"-?\d{11,13}", "excel_serial": r"\d{5}(\.\d+)?"}
DATETIME_FORMATS = [f"{d} {t}" for d in DATE_FORMATS for t in TIME_FORMATS] + [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
]
FORMATS_BY_KIND = {
    "date": DATE_FORMATS + [*NUMBER_FORMATS],
    "time": TIME_FORMATS,
    "datetime": DATETIME_FORMATS + [*NUMBER_FORMATS],
}
RACE_WORDS = [
    ("hispanic", "hispanic"), ("latin", "hispanic"), ("black", "black"), ("african", "black"),
    ("white", "white"), ("caucasian", "white"), ("asian", "asian/pacific islander"),
    ("pacific", "asian/pacific islander"), ("hawaiian", "asian/pacific islander"),
    ("indian", "other"), ("native", "other"), ("multi", "other"), ("other", "other"),
    ("unknown", "unknown"), ("unk", "unknown"),
]  # fmt: skip
LETTER_CODES = {
    "subject_race": {"w": "white", "b": "black", "h": "hispanic", "a": "asian/pacific islander",
                     "i": "other", "o": "other", "u": "unknown", "x": "unknown"},
    "subject_sex": {"m": "male", "f": "female", "u": "unknown", "x": "unknown"},
}  # fmt: skip


def words(name: str) -> str:
    return " ".join(re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower().replace("_", " ").split())


@dataclass
class Column:
    name: str
    values: list[str]
    distinct: list[tuple[str, int]]


def _score(field: str, column: str, spec: config.FieldSpec) -> float:
    text = words(column)
    tokens = set(text.split())
    if field.endswith("_id") and not tokens & {
        "id",
        "badge",
        "number",
        "num",
        "no",
        "serial",
        "key",
    }:
        return 0.0  # an identifier column says so (OfficerID, Badge No), a rank does not
    best = 0.0
    for rank, alias in enumerate(ALIASES.get(field, []) + [words(field)]):
        alias_tokens = set(alias.split())
        if text == alias:
            best = max(best, 1.0 - 0.01 * rank)
        elif alias_tokens <= tokens:
            best = max(best, 0.6 + 0.3 * len(alias_tokens) / max(len(tokens), 1))
    for word in TYPE_WORDS.get(spec.type, []):
        if set(word.split()) <= tokens:
            best = max(best, 0.5 + (0.3 if field.split("_")[0] in text else 0.0))
    if "flag" in tokens:
        best += 0.05 if spec.type == "boolean" else -0.3  # a *_FLAG column is a yes/no box
    if field.startswith("subject_") and tokens & {"subject", "suspect", "person"}:
        best += 0.1
    if not field.startswith("officer") and "officer" in tokens:
        best -= 0.2  # Officer_Gender is not the subject's sex
    if field == "source_record_id" and tokens & {"stop", "incident", "arrest", "uof", "case"}:
        best += 0.15
    return best


def _detect(values: list[str], formats: list[str], con) -> str | None:
    sample = [v for v in values if v][:200]
    if not sample:
        return None
    for fmt in formats:
        if fmt in NUMBER_FORMATS and not all(
            re.fullmatch(NUMBER_FORMATS[fmt], v.strip()) for v in sample
        ):
            continue
        parsed = (
            special_timestamp_expr("x", fmt, "'UTC'")
            if fmt in SPECIAL_FORMATS
            else "try_strptime(x, $f)"
        )
        ok = con.execute(
            f"select count(*) from unnest($v::varchar[]) as t(x) where {parsed} is not null",
            {"v": sample} | ({} if fmt in SPECIAL_FORMATS else {"f": fmt}),
        ).fetchone()[0]
        if ok >= 0.95 * len(sample):
            return fmt
    return None


def propose_code(field: str, value: str, spec: config.FieldSpec) -> str | None:
    low = value.strip().lower()
    if spec.type == "boolean":
        return config.BOOLEAN_SPELLINGS.get(low)
    if low in spec.domain:
        return low
    if field in LETTER_CODES and low in LETTER_CODES[field]:
        return LETTER_CODES[field][low]
    if field == "subject_race":
        for word, canonical in RACE_WORDS:  # hispanic first: "WHITE HISPANIC" is hispanic
            if word in low:
                return canonical
    snake_value = re.sub(r"[^a-z0-9]+", "_", low).strip("_")  # "Level 1 - Use of Force"
    tokens = snake_value.split("_")
    for canonical in spec.domain:  # a one-word code named inside the text: "Level 3 - OIS"
        if "_" not in canonical and canonical in tokens and canonical != "unknown":
            return canonical
    for canonical in sorted(spec.domain, key=len, reverse=True):
        if low.startswith(canonical) or canonical.startswith(low) and len(low) >= 3:
            return canonical
        if snake_value == canonical or snake_value.startswith(canonical + "_"):
            return canonical
    if low in ("-", "", "n/a", "null", "none"):
        return "unknown" if "unknown" in spec.domain else None
    return None


def draft_mapping(agency_id: str, sample: Path, dataset: str) -> str:
    config.check_id(agency_id, "agency id")
    spec = config.dataset_spec(dataset)
    fmt = {
        ".csv": "csv",
        ".gz": "csv",
        ".xlsx": "excel",
        ".xlsm": "excel",
        ".xls": "excel",
        ".ods": "excel",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "json",
        ".geojson": "json",
        ".parquet": "parquet",
    }.get(Path(_archived(sample) or sample.name).suffix.lower(), "csv")
    encoding = "utf-8"
    json_options = json_layout(sample) if fmt == "json" else {}
    csv_options = {}
    if fmt == "csv":
        head = read_head(sample, 1 << 20)
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the sample's end
                encoding = "cp1252"
        delimiter, above = sniff_layout(head.decode(encoding, errors="replace"))
        if delimiter not in (None, ","):
            csv_options["delimiter"] = delimiter
        if delimiter is not None and above:
            csv_options["skip_rows"] = above
    parsed = read_file(
        sample, fmt, encoding=encoding, csv_options=csv_options, json_options=json_options
    )
    con = parsed.con
    try:
        columns = []
        for name in parsed.columns:
            col = quote_ident(name)
            values = [
                r[0]
                for r in con.execute(
                    f"select {col} from src where {col} is not null and trim({col}) <> '' limit {SAMPLE_ROWS}"
                ).fetchall()
            ]
            distinct = con.execute(
                f"select trim({col}), count(*) from src group by 1 order by 2 desc limit {MAX_CODES + 1}"
            ).fetchall()
            columns.append(
                Column(name, values, [(v if v is not None else "", n) for v, n in distinct])
            )
        return _render(
            agency_id, sample, dataset, spec, fmt, encoding, columns, parsed.rows_raw, con,
            json_options, csv_options,
        )  # fmt: skip
    finally:
        con.close()


def _archived(sample: Path) -> str | None:
    """The data file's name inside a `.zip` sample, whose format the draft is for."""
    return zip_data_file(sample) if sample.suffix.lower() == ".zip" else None


def json_layout(sample: Path) -> dict[str, str]:
    """Where a JSON document's records are, for its draft mapping: `records` when the array is
    a member of the document, `record_key` when each record sits under "attributes" (ArcGIS) or
    "properties" (GeoJSON)."""
    from ingestion.readers import UnreadableFile, json_record_key, json_records, read_bytes

    try:
        document = json.loads(read_bytes(sample).removeprefix(b"\xef\xbb\xbf"))
    except ValueError:
        return {}  # the read names the problem
    options = {}
    if isinstance(document, dict):
        arrays = [
            key
            for key, value in document.items()
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value[:100])
        ]
        if "features" in arrays or len(arrays) == 1:  # ArcGIS lists its fields beside them
            options["records"] = "features" if "features" in arrays else arrays[0]
    try:
        key = json_record_key(json_records(document, options.get("records")))
    except UnreadableFile:
        return options
    return options | ({"record_key": key} if key else {})


def _render(
    agency_id, sample, dataset, spec, fmt, encoding, columns, rows, con, json_options=None,
    csv_options=None,
) -> str:  # fmt: skip
    taken: set[str] = set()
    chosen: dict[str, tuple[str, float]] = {}
    pairs = sorted(
        ((_score(f, c.name, s), f, c.name) for f, s in spec.fields.items() for c in columns),
        reverse=True,
    )
    by_name = {c.name: c for c in columns}
    for score, field, column in pairs:
        if score < 0.5 or field in chosen or column in taken:
            continue
        fspec = spec.fields[field]
        values = by_name[column].values
        distinct = by_name[column].distinct
        flag_like = all(v.lower() in config.BOOLEAN_SPELLINGS or v == "" for v, _ in distinct)
        if fspec.type != "boolean" and flag_like:
            continue  # a Y/N flag column does not carry an id, a code or a number
        if fspec.type == "code":
            total = sum(n for v, n in distinct if v)
            fitting = sum(n for v, n in distinct if v and propose_code(field, v, fspec))
            if total and fitting < 0.5 * total:
                continue  # its values do not look like this field's codes
        if fspec.type in ("date", "time", "datetime"):
            if not values or _detect(values, FORMATS_BY_KIND[fspec.type], con) is None:
                continue
        if fspec.type == "boolean":
            total = sum(n for v, n in distinct if v)
            known = sum(n for v, n in distinct if v.lower() in config.BOOLEAN_SPELLINGS)
            if not total or known < 0.9 * total:
                continue  # mostly Y/N/1/0/true/false; the rest ("-") are for null_values
        if fspec.type == "integer" and values:
            digits = sum(1 for v in values[:500] if re.fullmatch(r"\d+(\.0*)?", v.strip()))
            if digits < 0.9 * min(len(values), 500):
                continue
        chosen[field] = (column, score)
        taken.add(column)
    # a datetime column covers its date and time fields
    for combined in [f for f in chosen if spec.fields[f].type == "datetime"]:
        prefix = combined[: -len("_datetime")]
        for part in ("date", "time"):
            field = f"{prefix}_{part}"
            if field in chosen and chosen[field][0] == chosen[combined][0]:
                del chosen[field]

    out = [
        f"# Draft mapping for {agency_id}, drafted by `lantern onboard` from {sample.name}",
        f"# ({rows} rows sampled). Every line marked REVIEW is a guess: check it against the",
        "# agency's data dictionary, then run `lantern validate` on the export.",
        f"dataset: {dataset}",
        f"format: {fmt}",
        f'file_pattern: "{_pattern(sample.name)}"',
        f"encoding: {encoding}  # REVIEW: detected",
    ]
    if csv_options:
        settings = [
            f"delimiter: {DELIMITERS[value][1]}" if key == "delimiter" else f"{key}: {value}"
            for key, value in csv_options.items()
        ]
        out.append(f"csv: {{{', '.join(settings)}}}  # REVIEW: detected")
    if json_options:
        out.append("json:  # REVIEW: where the records are, detected")
        out += [f"  {key}: {_q(value)}" for key, value in json_options.items()]
    out += [
        "columns:",
    ]
    for field, fspec in spec.fields.items():
        if field in chosen:
            column, score = chosen[field]
            out.append(f"  {field}: {_q(column)}  # REVIEW: matched by name (score {score:.2f})")
        elif fspec.required and not config._covered_by_datetime(
            field, {f: c for f, (c, _) in chosen.items()}, spec
        ):
            out.append(
                f"  # {field}: ???  # REQUIRED: no column found; map one or declare a constant"
            )
    formats = {}
    for field, (column, _) in chosen.items():
        kind = spec.fields[field].type
        if kind in ("date", "time", "datetime"):
            formats[field] = _detect(by_name[column].values, FORMATS_BY_KIND[kind], con)
    if formats:
        out.append("formats:")
        out += [
            f'  {f}: "{v}"  # REVIEW: matched 95% of sampled values'
            for f, v in formats.items()
            if v
        ]
    value_lines = []
    for field, (column, _) in chosen.items():
        fspec = spec.fields[field]
        if fspec.type not in ("code", "boolean"):
            continue
        distinct = by_name[column].distinct
        entries = []
        for value, count in distinct[:MAX_CODES]:
            if value == "":
                continue
            proposal = propose_code(field, value, fspec)
            if fspec.type == "boolean" and proposal is not None:
                continue  # the usual boolean spellings need no map
            if proposal is not None and proposal == value.strip().lower():
                continue  # already canonical
            target = _q(proposal) if proposal else "???"
            entries.append(f"    {_q(value)}: {target}  # REVIEW: {count} rows")
        if len(distinct) > MAX_CODES:
            entries.append(f"    # ... more than {MAX_CODES} distinct values: map the rest")
        if entries:
            value_lines += [f"  {field}:"] + entries
    if value_lines:
        out += ["values:"] + value_lines
    personal = []
    for column in columns:
        text = words(column.name)
        mapped_to = next((f for f, (c, _) in chosen.items() if c == column.name), None)
        if mapped_to and spec.fields[mapped_to].personal:
            personal.append(f"  {_q(column.name)}: hash  # REVIEW: identifier of {mapped_to}")
        elif not mapped_to and any(w in text for w in PERSONAL_WORDS):
            personal.append(f"  {_q(column.name)}: drop  # REVIEW: looks personal")
    if personal:
        out += ["personal_data:"] + personal
    unmatched = [c.name for c in columns if c.name not in taken]
    if unmatched:
        out.append("# Unmatched columns (kept as src_* when loaded; map any that carry a field):")
        out += [f"#   {name}" for name in unmatched]
    return "\n".join(out) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pattern(name: str) -> str:
    """A glob for the next deliveries: digits (dates, months) become wildcards."""
    return re.sub(r"\d+", "*", name)


def write_draft(agency_id: str, sample: Path, dataset: str, out: Path | None = None) -> Path:
    text = draft_mapping(agency_id, sample, dataset)
    from ingestion import settings

    target = out or settings.agencies_dir() / agency_id / f"{dataset}.yml"
    if target.exists():
        target = target.with_suffix(".draft.yml")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target

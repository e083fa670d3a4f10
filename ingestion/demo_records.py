"""The demo agencies' exports of every record type besides stops and arrests (demo data).

`ingestion.demo.generate` calls `generate_agency` once per demo agency, after its stops and
arrests, with that agency's own random stream. It writes, under
`<landing>/<agency_id>/<dataset>/`, one file per dataset in the agency's export style (alder_pd:
cp1252 CSV behind a byte-order mark with CRLF line ends and short codes; birch_so: an Excel
workbook with words for codes and 1/0 number cells; cedar_pd: UTF-8 JSON lines with canonical
words and JSON booleans) and returns the files, the rows each fact should hold and the effects
injected for the analytics to find:

- calls_for_service: response times drawn around a median per priority (RESPONSE_MEDIAN_S);
- use_of_force: every force incident comes from a call that ended in an arrest, and has one
  subject, arrested; force subjects are drawn per race as a share of the agency's accepted
  arrests of that race, so force per arrest is `FORCE_PER_ARREST` x the reference rate (alder:
  black 1.5x white);
- bwc_recordings / bwc_audit_events: a share `BWC_COMPLIANCE` of force incidents have a linked
  recording (the rest have none), some of those start more than LATE_ACTIVATION_S after the
  first unit arrived; further recordings document calls, stops that ended in an arrest, and the
  complaints whose investigation reviewed footage (the complaint names the recording back);
- complaints / allegations / complainants: allegations sustained at a rate that depends on the
  complainant's race (SUSTAINED_RATE);
- school_incidents: a share `SCHOOL_DISCIPLINE_SHARE` of contacts are school-discipline matters;
- survey_responses / survey_item_responses: one unit scores lower on one construct
  (SURVEY_UNIT_EFFECT);
- incidents: crime incidents with one to three NIBRS offense lines.

Every number the tests compare with the marts (rows per fact, force subjects and arrests by
race, recordings linked to force incidents, late activations, sustained allegations by
complainant race, discipline share, construct means by unit, median response by priority) is
computed from the rows actually written, so it is an exact known answer, not a target.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import numpy as np
import pyarrow as pa

from ingestion import demo

# --- the effects (per agency) ------------------------------------------------------------------

# Force incidents per accepted arrest, by race (RACES order): alder's black arrestees have force
# used on them at 1.5x the rate of white arrestees; birch none; cedar a smaller gap.
FORCE_PER_ARREST = {
    "alder_pd": (0.12, 0.18, 0.13, 0.12, 0.12, 0.12),
    "birch_so": (0.12,) * 6,
    "cedar_pd": (0.10, 0.12, 0.10, 0.10, 0.10, 0.10),
}
# Share of force incidents with at least one linked body-worn camera recording.
BWC_COMPLIANCE = {"alder_pd": 0.80, "birch_so": 0.95, "cedar_pd": 0.90}
# Share of the recorded force incidents whose recording started late (after arrival + threshold).
LATE_SHARE = {"alder_pd": 0.20, "birch_so": 0.05, "cedar_pd": 0.10}
LATE_ACTIVATION_S = 30
# Probability that an allegation is sustained, by the race of its complaint's first complainant.
SUSTAINED_RATE = {
    "alder_pd": {"white": 0.24, "black": 0.10, "other": 0.18},
    "birch_so": {"white": 0.18, "black": 0.18, "other": 0.18},
    "cedar_pd": {"white": 0.20, "black": 0.14, "other": 0.18},
}
SCHOOL_DISCIPLINE_SHARE = {"alder_pd": 0.60, "birch_so": 0.35, "cedar_pd": 0.45}
# Median seconds from call received to first arrival, by priority 1-4.
RESPONSE_MEDIAN_S = {
    "alder_pd": (360, 720, 1500, 2700),
    "birch_so": (540, 1080, 2100, 3600),
    "cedar_pd": (300, 600, 1200, 2400),
}
# (unit, construct, shift of the latent 1-5 score) of the officer climate survey.
SURVEY_UNIT_EFFECT = {
    "alder_pd": ("Patrol South", "supervisor_support", -1.0),
    "birch_so": ("Jail Division", "job_stress", 0.9),
    "cedar_pd": ("2nd Precinct", "procedural_justice_internal", -0.8),
}

RACES = demo.RACES
YEAR = demo.YEAR
START = date(YEAR, 1, 1)

# --- canonical vocabularies ---------------------------------------------------------------------

CALL_TYPES = [
    ("DISTURBANCE", 2), ("THEFT REPORT", 3), ("TRAFFIC COLLISION", 2), ("SUSPICIOUS PERSON", 2),
    ("ALARM", 3), ("WELFARE CHECK", 2), ("ASSAULT", 1), ("BURGLARY IN PROGRESS", 1),
    ("NOISE COMPLAINT", 4), ("PARKING", 4), ("MENTAL HEALTH CRISIS", 1), ("TRESPASS", 3),
]  # fmt: skip
CALL_SOURCES = ["911", "non_emergency", "officer_initiated", "alarm", "online"]
CALL_SOURCE_P = [0.52, 0.26, 0.14, 0.05, 0.03]
DISPOSITIONS = [
    "report",
    "citation",
    "advised",
    "unfounded",
    "gone_on_arrival",
    "cancelled",
    "other",
]
DISPOSITION_P = [0.30, 0.06, 0.30, 0.10, 0.10, 0.08, 0.06]
PRIORITY_P = [0.14, 0.36, 0.34, 0.16]

FORCE_TYPES = [
    "physical_takedown", "strike", "neck_restraint", "chemical_spray", "ecd_display",
    "ecd_deploy", "impact_weapon", "firearm_pointed", "canine", "verbal_command", "other",
]  # fmt: skip
FORCE_TYPE_P = [0.34, 0.12, 0.01, 0.08, 0.12, 0.07, 0.03, 0.12, 0.02, 0.07, 0.02]
FORCE_LEVELS = ["level_1", "level_2", "level_3", "ois"]
FORCE_LEVEL_P = [0.62, 0.30, 0.075, 0.005]

TRIGGERS = ["manual", "signal_sidearm", "signal_lightbar", "taser", "auto"]
RETENTION_DAYS = {
    "non_evidence": 180,
    "traffic_stop": 365,
    "arrest": 1095,
    "use_of_force": None,  # kept indefinitely
    "complaint": 1825,
}
AUDIT_EVENTS = ["viewed", "streamed", "downloaded", "shared_internal", "clip_created"]
AUDIT_EVENT_P = [0.50, 0.12, 0.16, 0.14, 0.08]

ALLEGATION_CATEGORIES = [
    "force", "bias_profiling", "search_seizure", "arrest", "conduct_courtesy", "procedure",
    "criminal", "other",
]  # fmt: skip
ALLEGATION_CATEGORY_P = [0.18, 0.08, 0.10, 0.08, 0.30, 0.18, 0.03, 0.05]
NOT_SUSTAINED = ["not_sustained", "unfounded", "exonerated", "no_cooperation", "admin_closed"]
NOT_SUSTAINED_P = [0.40, 0.25, 0.20, 0.10, 0.05]
DISCIPLINES = ["reprimand", "suspension", "termination", "resigned"]
DISCIPLINE_P = [0.55, 0.35, 0.04, 0.06]
COMPLAINT_SOURCES = ["civilian", "internal", "anonymous", "third_party"]
COMPLAINT_SOURCE_P = [0.70, 0.18, 0.07, 0.05]

DISCIPLINE_REASONS = ["school_policy_violation", "disruption", "truancy"]
DISCIPLINE_REASON_P = [0.45, 0.40, 0.15]
OTHER_REASONS = ["criminal_offense", "threat_assessment", "welfare_check", "other"]
OTHER_REASON_P = [0.60, 0.12, 0.18, 0.10]
REFERRAL_SOURCES = ["school_staff", "officer_observed", "call", "parent", "student", "other"]
REFERRAL_SOURCE_P = [0.58, 0.22, 0.08, 0.05, 0.04, 0.03]
SCHOOL_OUTCOMES = [
    "no_action", "warning", "school_admin_referral", "counselor_referral", "contacted_guardian",
    "citation", "juvenile_referral", "arrest", "psych_hold",
]  # fmt: skip
# outcome mix of a school-discipline matter and of any other contact
SCHOOL_OUTCOME_P = (
    [0.12, 0.22, 0.30, 0.10, 0.14, 0.06, 0.03, 0.03, 0.0],
    [0.10, 0.10, 0.08, 0.07, 0.10, 0.17, 0.16, 0.18, 0.04],
)
AGE_GROUPS = ["under_12", "12_14", "15_17", "18_and_over"]
AGE_GROUP_P = [0.08, 0.36, 0.50, 0.06]

# 12 items of the officer climate survey, two per construct; (item_id, construct, reverse_scored)
CLIMATE_ITEMS = [
    ("PJ1", "procedural_justice_internal", False), ("PJ2", "procedural_justice_internal", True),
    ("SS1", "supervisor_support", False), ("SS2", "supervisor_support", False),
    ("JS1", "job_stress", False), ("JS2", "job_stress", True),
    ("UF1", "use_of_force_attitudes", False), ("UF2", "use_of_force_attitudes", True),
    ("BA1", "bias_awareness", False), ("BA2", "bias_awareness", False),
    ("CT1", "community_trust", False), ("CT2", "community_trust", True),
]  # fmt: skip
COMMUNITY_ITEMS = [
    ("R1", "community_trust", False), ("R2", "community_trust", False),
    ("R3", "community_trust", True), ("R4", "procedural_justice_internal", False),
]  # fmt: skip
CONSTRUCT_BASE = {
    "procedural_justice_internal": 3.2, "supervisor_support": 3.5, "job_stress": 3.3,
    "use_of_force_attitudes": 3.0, "bias_awareness": 3.4, "community_trust": 3.1,
}  # fmt: skip
RANK_GROUPS = ["officer", "supervisor", "command", "civilian_staff"]
RANK_P = [0.70, 0.18, 0.04, 0.08]
TENURE_BANDS = ["under_2", "2_5", "6_10", "11_20", "over_20"]
TENURE_P = [0.16, 0.26, 0.24, 0.24, 0.10]

# NIBRS offenses of the crime incidents: code, description, category, crime against, severity.
INCIDENT_OFFENSES = [
    ("13A", "Aggravated Assault", "Assault Offenses", "person", "felony"),
    ("13B", "Simple Assault", "Assault Offenses", "person", "misdemeanor"),
    ("220", "Burglary/Breaking & Entering", "Burglary", "property", "felony"),
    ("23C", "Shoplifting", "Larceny/Theft Offenses", "property", "misdemeanor"),
    ("23F", "Theft From Motor Vehicle", "Larceny/Theft Offenses", "property", "misdemeanor"),
    ("240", "Motor Vehicle Theft", "Motor Vehicle Theft", "property", "felony"),
    ("290", "Destruction/Damage/Vandalism", "Destruction/Damage/Vandalism", "property", "misdemeanor"),
    ("35A", "Drug/Narcotic Violations", "Drug/Narcotic Offenses", "society", "felony"),
    ("520", "Weapon Law Violations", "Weapon Law Violations", "society", "felony"),
    ("90Z", "All Other Offenses", "All Other Offenses", "society", "infraction"),
]  # fmt: skip
INCIDENT_OFFENSE_P = [0.06, 0.16, 0.10, 0.16, 0.14, 0.06, 0.14, 0.08, 0.03, 0.07]

# --- each agency's export style ------------------------------------------------------------------

DISTRICTS = {
    "alder_pd": ["NORTH", "SOUTH", "EAST", "WEST", "CENTRAL"],
    "birch_so": [f"Zone {z}" for z in range(1, 7)],
    "cedar_pd": ["1st Precinct", "2nd Precinct", "3rd Precinct"],
}
UNITS = {
    "alder_pd": ["Patrol North", "Patrol South", "Investigations", "Traffic"],
    "birch_so": ["Patrol Division", "Jail Division", "Court Services"],
    "cedar_pd": ["1st Precinct", "2nd Precinct", "3rd Precinct"],
}
SCHOOLS = {
    "alder_pd": ["ACHS-01", "ACHS-02", "ACMS-03", "ACMS-04"],
    "birch_so": ["BCS-110", "BCS-120", "BCS-210"],
    "cedar_pd": ["CTSD-1", "CTSD-2"],
}
OFFICERS = {"alder_pd": 140, "birch_so": 90, "cedar_pd": 60}
FORMAT = {"alder_pd": "csv", "birch_so": "excel", "cedar_pd": "jsonl"}
EXTENSION = {"csv": "csv", "excel": "xlsx", "jsonl": "jsonl"}
FILE_STEM = {
    "alder_pd": "alder_{dataset}_2023",
    "birch_so": "BCSO_{Dataset}_2023",
    "cedar_pd": "cedar_{dataset}_2023",
}
SHEET_NAMES = {
    "calls_for_service": "Calls", "use_of_force": "Force", "bwc_recordings": "Recordings",
    "bwc_audit_events": "AuditTrail", "complaints": "Complaints", "allegations": "Allegations",
    "complainants": "Complainants", "school_incidents": "SRO Contacts", "survey_responses": "Responses",
    "survey_item_responses": "Answers", "incidents": "Offenses",
}  # fmt: skip
DATE_FORMATS = {  # (date, datetime) strftime formats; the mappings give the same to strptime
    "alder_pd": ("%m/%d/%Y", "%m/%d/%Y %H:%M:%S"),
    "birch_so": ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S"),
    "cedar_pd": ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"),
}
# alder_pd's short codes (its mapping files map them back); fields not listed are written in
# upper case, which needs no map (value maps are case-insensitive).
ALDER_CODES = {
    "call_source": {"911": "E911", "non_emergency": "NE", "officer_initiated": "OI", "alarm": "AL", "online": "WEB"},
    "disposition": {
        "report": "RPT", "arrest": "ARR", "citation": "CIT", "advised": "ADV", "unfounded": "UNF",
        "gone_on_arrival": "GOA", "cancelled": "CAN", "other": "OTH",
    },
    "subject_race": {"white": "W", "black": "B", "hispanic": "H", "asian/pacific islander": "A", "other": "O", "unknown": "U"},
    "subject_sex": {"male": "M", "female": "F", "unknown": "U"},
    "force_level": {"level_1": "L1", "level_2": "L2", "level_3": "L3", "ois": "OIS"},
    "final_finding": {
        "sustained": "SUS", "not_sustained": "NS", "unfounded": "UNF", "exonerated": "EX",
        "no_cooperation": "NC", "admin_closed": "AC", "open": "OPEN",
    },
}  # fmt: skip
ALDER_CODES["recommended_finding"] = ALDER_CODES["final_finding"]


def export_code(agency_id: str, field: str, value: str) -> str:
    """How the agency writes a canonical code value (its mapping maps it back)."""
    if agency_id == "alder_pd":
        return ALDER_CODES.get(field, {}).get(value, value.upper())
    if agency_id == "birch_so":
        return (
            value if value in ("911", "asian/pacific islander") else value.replace("_", " ").title()
        )
    return value


# Source column of each canonical field, per agency: alder "Title Case", birch PascalCase,
# cedar snake_case. A datetime field names the one column holding date and time.
def _title(field: str) -> str:
    return " ".join(
        w.upper() if w in ("id", "bwc", "iep") else w.capitalize() for w in field.split("_")
    )


def _pascal(field: str) -> str:
    return "".join(
        w.upper() if w in ("id", "bwc", "iep") else w.capitalize() for w in field.split("_")
    )


def column_name(agency_id: str, field: str) -> str:
    if agency_id == "alder_pd":
        return _title(field)
    if agency_id == "birch_so":
        return _pascal(field)
    return field


# Canonical fields each dataset's export carries, in column order; (field, kind) with kind one of
# str, int, bool, date, datetime, code, list3 (three columns of one list field).
LAYOUTS: dict[str, list[tuple[str, str]]] = {
    "calls_for_service": [
        ("source_record_id", "str"), ("received_datetime", "datetime"),
        ("dispatched_datetime", "datetime"), ("arrived_datetime", "datetime"),
        ("cleared_datetime", "datetime"), ("call_type_initial", "str"), ("call_type_final", "str"),
        ("priority", "int"), ("call_source", "code"), ("disposition", "code"),
        ("district", "str"), ("beat", "str"), ("mental_health_flag", "bool"), ("officer_id", "str"),
    ],
    "use_of_force": [
        ("source_record_id", "str"), ("incident_record_id", "str"), ("call_record_id", "str"),
        ("incident_datetime", "datetime"), ("force_level", "code"), ("officer_id", "str"),
        ("officer_years_of_service", "int"), ("officer_injured", "bool"), ("subject_id", "str"),
        ("subject_race", "code"), ("subject_sex", "code"), ("subject_age", "int"),
        ("subject_injured", "bool"), ("subject_arrested", "bool"), ("district", "str"),
        ("reason_for_contact", "str"), ("force_types", "list3"),
    ],
    "bwc_recordings": [
        ("source_record_id", "str"), ("officer_id", "str"), ("device_id", "str"),
        ("started_datetime", "datetime"), ("ended_datetime", "datetime"),
        ("activation_trigger", "code"), ("call_record_id", "str"), ("stop_record_id", "str"),
        ("use_of_force_record_id", "str"), ("complaint_record_id", "str"), ("category", "code"),
        ("retention_days", "int"), ("scheduled_deletion_date", "date"), ("deleted_date", "date"),
        ("redaction_status", "code"), ("publicly_released", "bool"), ("released_date", "date"),
    ],
    "bwc_audit_events": [
        ("source_record_id", "str"), ("recording_record_id", "str"), ("event_type", "code"),
        ("event_datetime", "datetime"), ("actor_id", "str"),
    ],
    "complaints": [
        ("source_record_id", "str"), ("received_date", "date"), ("incident_date", "date"),
        ("closed_date", "date"), ("complaint_source", "code"), ("district", "str"),
        ("bwc_recording_record_id", "str"),
    ],
    "allegations": [
        ("source_record_id", "str"), ("complaint_record_id", "str"), ("officer_id", "str"),
        ("category", "code"), ("recommended_finding", "code"), ("final_finding", "code"),
        ("discipline", "code"),
    ],
    "complainants": [
        ("complaint_record_id", "str"), ("complainant_seq", "int"), ("subject_race", "code"),
        ("subject_sex", "code"), ("subject_age", "int"),
    ],
    "school_incidents": [
        ("source_record_id", "str"), ("officer_id", "str"), ("school_code", "str"),
        ("incident_datetime", "datetime"), ("on_school_grounds", "bool"), ("subject_race", "code"),
        ("subject_sex", "code"), ("subject_age_group", "code"), ("disability_504_iep", "bool"),
        ("reason_for_contact", "code"), ("referral_source", "code"), ("searched", "bool"),
        ("handcuffed", "bool"), ("force_used", "bool"), ("detained", "bool"), ("outcome", "code"),
        ("school_discipline_matter", "bool"),
    ],
    "survey_responses": [
        ("source_record_id", "str"), ("survey_wave", "str"), ("survey_type", "code"),
        ("unit", "str"), ("rank_group", "code"), ("tenure_band", "code"),
        ("completed_date", "date"),
    ],
    "survey_item_responses": [
        ("response_record_id", "str"), ("item_id", "str"), ("construct", "code"),
        ("response_value", "int"), ("reverse_scored", "bool"),
    ],
    "incidents": [
        ("source_record_id", "str"), ("offense_seq", "int"), ("incident_datetime", "datetime"),
        ("offense_code", "str"), ("offense_description", "str"), ("offense_category", "str"),
        ("crime_against", "code"), ("offense_severity", "code"), ("firearm_used", "bool"),
        ("district", "str"),
    ],
}  # fmt: skip
DATASETS = tuple(LAYOUTS)
# Source columns that carry personal data (hashed at ingestion; never in the warehouse in clear).
PERSONAL = {"officer_id", "subject_id", "actor_id"}


def header(agency_id: str, dataset: str) -> list[str]:
    out = []
    for field, kind in LAYOUTS[dataset]:
        if kind == "list3":
            out += [
                f"{column_name(agency_id, field)}{'_' if agency_id == 'cedar_pd' else ' ' if agency_id == 'alder_pd' else ''}{n}"
                for n in (1, 2, 3)
            ]
        else:
            out.append(column_name(agency_id, field))
    return out


# --- writing ---------------------------------------------------------------------------------------


def _cell(agency_id: str, field: str, kind: str, value):
    """A canonical value as the agency's export holds it: text for CSV and Excel, typed for JSON."""
    if value is None:
        return None
    fmt_date, fmt_datetime = DATE_FORMATS[agency_id]
    if kind == "datetime":
        return value.strftime(fmt_datetime)
    if kind == "date":
        return value.strftime(fmt_date)
    if kind == "code":
        return export_code(agency_id, field, value)
    if kind == "bool":
        if agency_id == "cedar_pd":
            return bool(value)
        return ("Y" if value else "N") if agency_id == "alder_pd" else ("1" if value else "0")
    if kind == "int":
        return int(value) if agency_id == "cedar_pd" else str(int(value))
    return str(value)


def _export_rows(agency_id: str, dataset: str, rows: list[dict]) -> list[list]:
    out = []
    for row in rows:
        cells = []
        for field, kind in LAYOUTS[dataset]:
            if kind == "list3":
                values = list(row.get(field) or [])[:3]
                values += [None] * (3 - len(values))
                cells += [None if v is None else export_code(agency_id, field, v) for v in values]
            else:
                cells.append(_cell(agency_id, field, kind, row.get(field)))
        out.append(cells)
    return out


def _write_dataset(landing: Path, agency_id: str, dataset: str, rows: list[dict]) -> dict:
    fmt = FORMAT[agency_id]
    stem = FILE_STEM[agency_id].format(
        dataset=dataset, Dataset="".join(w.capitalize() for w in dataset.split("_"))
    )
    name = f"{stem}.{EXTENSION[fmt]}"
    path = landing / agency_id / dataset / name
    columns = header(agency_id, dataset)
    cells = _export_rows(agency_id, dataset, rows)
    entry = {"dataset": dataset, "path": f"{agency_id}/{dataset}/{name}", "format": fmt}
    if fmt == "csv":
        lines = [",".join(demo._csv_field(c) for c in columns)]
        lines += [",".join("" if c is None else demo._csv_field(c) for c in row) for row in cells]
        text = "".join(line + "\r\n" for line in lines)
        facts = demo._write_file(path, demo._write_chunks([demo.UTF8_BOM, text.encode("cp1252")]))
        entry.update(encoding="cp1252", bom=True, line_terminator="crlf")
    elif fmt == "excel":
        kinds = []
        for _field, kind in LAYOUTS[dataset]:
            kinds += ["n" if kind in ("int", "bool") else "s"] * (3 if kind == "list3" else 1)
        sheet_columns = [
            (
                kind,
                pa.array(
                    [
                        None if row[i] is None else (row[i] if kind == "n" else xml_escape(row[i]))
                        for row in cells
                    ],
                    type=pa.string(),
                ),
            )
            for i, kind in enumerate(kinds)
        ]
        sheet = SHEET_NAMES[dataset]

        def rows_xml() -> list[str]:
            return [demo._sheet_xml_rows(sheet_columns, first_row=2)] if cells else []

        facts = demo._write_file(
            path,
            lambda tmp: demo._write_xlsx(
                tmp, sheet, columns, len(cells), rows_xml(), demo.AGENCY_NAMES[agency_id]
            ),
        )
        entry.update(sheet=sheet)
    else:
        text = "".join(
            json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False) + "\n"
            for row in cells
        )
        facts = demo._write_file(path, demo._write_chunks([text.encode("utf-8")]))
        entry.update(encoding="utf-8")
    entry.update(data_rows=len(rows), malformed=[], resend_of=None, **facts)
    return entry


# --- drawing the records ------------------------------------------------------------------------


def _moment(day: int, second: int) -> datetime:
    """Local clock time `second` seconds after midnight of day-of-year `day` (0-based) of YEAR."""
    return datetime(YEAR, 1, 1) + timedelta(days=int(day), seconds=int(second))


def _no_gap(moment: datetime) -> datetime:
    """Move a local time out of the spring-forward hour, which does not exist on the clock."""
    if moment.date() == demo._DST_START and moment.hour == 2:
        return moment + timedelta(hours=1)
    return moment


# 02:00 local on the spring-forward day: the clock jumps to 03:00
_SPRING_FORWARD = datetime.combine(demo._DST_START, datetime.min.time()) + timedelta(hours=2)


def _later(moment: datetime, seconds: int) -> datetime:
    """The local clock `seconds` of elapsed time after `moment`: a span that runs across the
    spring-forward hour reads one hour more on the clock (01:50 + 30 min is 03:20, not 02:20)."""
    later = moment + timedelta(seconds=int(seconds))
    if moment < _SPRING_FORWARD <= later:
        later += timedelta(hours=1)
    return _no_gap(later)


def _elapsed(earlier: datetime, later: datetime) -> float:
    """Seconds of elapsed time between two local clock times (the inverse of `_later`)."""
    crossed = 3600 if earlier < _SPRING_FORWARD <= later else 0
    return (later - earlier).total_seconds() - crossed


def _pick(rng: np.random.Generator, values: Sequence, p: Sequence[float], size: int) -> list:
    return [values[i] for i in rng.choice(len(values), size=size, p=demo._p(p))]


def _officer(agency_id: str, n: int) -> str:
    prefix = {"alder_pd": "B", "birch_so": "D", "cedar_pd": "CT"}[agency_id]
    return f"{prefix}{4000 + n}"


def _calls(agency_id: str, n: int, rng: np.random.Generator) -> list[dict]:
    days, minutes = demo._draw_times(rng, n)
    seconds = minutes.astype(np.int64) * 60 + rng.integers(0, 60, size=n)
    priority = rng.choice(4, size=n, p=PRIORITY_P) + 1
    median = np.array(RESPONSE_MEDIAN_S[agency_id], dtype=float)[priority - 1]
    response = np.maximum(60, np.round(median * np.exp(rng.normal(0, 0.45, size=n)))).astype(int)
    dispatch_share = rng.uniform(0.15, 0.45, size=n)
    on_scene = np.round(rng.gamma(2.0, 900, size=n)).astype(int) + 120
    call_type = rng.integers(0, len(CALL_TYPES), size=n)
    reclassified = rng.random(n) < 0.12
    final_type = np.where(reclassified, rng.integers(0, len(CALL_TYPES), size=n), call_type)
    sources = _pick(rng, CALL_SOURCES, CALL_SOURCE_P, n)
    dispositions = _pick(rng, DISPOSITIONS, DISPOSITION_P, n)
    districts = DISTRICTS[agency_id]
    district = rng.integers(0, len(districts), size=n)
    beat = rng.integers(1, 5, size=n)
    officer = rng.integers(0, OFFICERS[agency_id], size=n)
    width = max(5, len(str(n)))
    prefix = {"alder_pd": "C23-", "birch_so": "BC-CAD-23-", "cedar_pd": "CTPD-C-23-"}[agency_id]
    calls = []
    for i in range(n):
        received = _no_gap(_moment(days[i], seconds[i]))
        disposition = dispositions[i]
        record = {
            "source_record_id": f"{prefix}{i + 1:0{width}d}",
            "received_datetime": received,
            "dispatched_datetime": _later(received, int(response[i] * dispatch_share[i])),
            "arrived_datetime": _later(received, int(response[i])),
            "cleared_datetime": _later(received, int(response[i] + on_scene[i])),
            "call_type_initial": CALL_TYPES[call_type[i]][0],
            "call_type_final": CALL_TYPES[final_type[i]][0],
            "priority": int(priority[i]),
            "call_source": sources[i],
            "disposition": disposition,
            "district": districts[district[i]],
            "beat": f"{districts[district[i]][0]}{beat[i]}",
            "mental_health_flag": CALL_TYPES[call_type[i]][0] == "MENTAL HEALTH CRISIS",
            "officer_id": _officer(agency_id, int(officer[i])),
        }
        if disposition == "cancelled":  # cancelled before anyone arrived
            record["arrived_datetime"] = None
            record["cleared_datetime"] = _later(record["dispatched_datetime"], 120)
        calls.append(record)
    return calls


def _force(
    agency_id: str, calls: list[dict], arrests_by_race: list[int], rng: np.random.Generator
) -> tuple[list[dict], list[int], dict]:
    """Force report rows (officer x subject) and the calls they came from (indexes)."""
    per_race = [
        int(round(rate * count))
        for rate, count in zip(FORCE_PER_ARREST[agency_id], arrests_by_race, strict=True)
    ]
    races = [RACES[r] for r, k in enumerate(per_race) for _ in range(k)]
    races = [races[i] for i in rng.permutation(len(races))]
    n = len(races)
    eligible = [i for i, c in enumerate(calls) if c["disposition"] != "cancelled"]
    chosen = sorted(rng.choice(eligible, size=n, replace=False).tolist())
    rows, width = [], max(4, len(str(n)))
    prefix = {"alder_pd": "UOF23-", "birch_so": "BC-UOF-23-", "cedar_pd": "CTPD-F-23-"}[agency_id]
    officers_per = rng.choice(3, size=n, p=[0.6, 0.3, 0.1]) + 1
    sexes = _pick(rng, ["male", "female", "unknown"], [0.84, 0.15, 0.01], n)
    ages = demo._ages(rng, n, missing=0.02)
    levels = _pick(rng, FORCE_LEVELS, FORCE_LEVEL_P, n)
    for k, (call_index, race) in enumerate(zip(chosen, races, strict=True)):
        call = calls[call_index]
        call["disposition"] = "arrest"
        incident_id = f"{prefix}{k + 1:0{width}d}"
        moment = _later(call["arrived_datetime"], int(rng.integers(60, 900)))
        officers = rng.choice(OFFICERS[agency_id], size=int(officers_per[k]), replace=False)
        for seq, officer in enumerate(officers, start=1):
            n_types = int(rng.choice(3, p=[0.55, 0.32, 0.13])) + 1
            types = rng.choice(
                len(FORCE_TYPES), size=n_types, replace=False, p=demo._p(FORCE_TYPE_P)
            )
            rows.append(
                {
                    "source_record_id": f"{incident_id}-{seq}",
                    "incident_record_id": incident_id,
                    "call_record_id": call["source_record_id"],
                    "incident_datetime": moment,
                    "force_level": levels[k],
                    "officer_id": _officer(agency_id, int(officer)),
                    "officer_years_of_service": int(rng.integers(0, 28)),
                    "officer_injured": bool(rng.random() < 0.08),
                    "subject_id": f"S{agency_id[0].upper()}{k + 1:05d}",
                    "subject_race": race,
                    "subject_sex": sexes[k],
                    "subject_age": int(ages[k]) if ages[k] >= 0 else None,
                    "subject_injured": bool(rng.random() < 0.25),
                    "subject_arrested": True,
                    "district": call["district"],
                    "reason_for_contact": "call for service",
                    "force_types": [FORCE_TYPES[t] for t in types],
                }
            )
    truth = {
        "force_subjects_by_race": dict(zip(RACES, per_race, strict=True)),
        "accepted_arrests_by_race": dict(zip(RACES, arrests_by_race, strict=True)),
    }
    return rows, chosen, truth


def _recording(
    agency_id: str,
    number: int,
    start: datetime,
    seconds: int,
    category: str,
    officer: str,
    rng: np.random.Generator,
    **links,
) -> dict:
    prefix = {"alder_pd": "EV23-", "birch_so": "BC-EV-23-", "cedar_pd": "CTPD-V-23-"}[agency_id]
    retention = RETENTION_DAYS[category]
    scheduled = start.date() + timedelta(days=retention) if retention is not None else None
    deleted = scheduled if scheduled is not None and scheduled <= date(YEAR + 1, 6, 30) else None
    released = category == "use_of_force" and rng.random() < 0.3
    return {
        "source_record_id": f"{prefix}{number:06d}",
        "officer_id": officer,
        "device_id": f"X6{int(rng.integers(100000, 999999))}",
        "started_datetime": start,
        "ended_datetime": _later(start, seconds),
        "activation_trigger": _pick(rng, TRIGGERS, [0.72, 0.10, 0.12, 0.03, 0.03], 1)[0],
        "category": category,
        "retention_days": retention,
        "scheduled_deletion_date": scheduled,
        "deleted_date": deleted,
        "redaction_status": "redacted" if released else "not_required",
        "publicly_released": released,
        "released_date": start.date() + timedelta(days=int(rng.integers(20, 120)))
        if released
        else None,
        **links,
    }


def _audit(agency_id: str, recordings: list[dict], rng: np.random.Generator) -> list[dict]:
    events = []
    prefix = {"alder_pd": "AU23-", "birch_so": "BC-AU-23-", "cedar_pd": "CTPD-U-23-"}[agency_id]
    for rec in recordings:
        n = int(rng.integers(1, 4))
        end = rec["ended_datetime"]
        times = sorted(int(s) for s in rng.integers(600, 86400 * 30, size=n))
        kinds = _pick(rng, AUDIT_EVENTS, AUDIT_EVENT_P, n)
        entries = [(_later(end, s), kind) for s, kind in zip(times, kinds, strict=True)]
        if rec["deleted_date"] is not None:
            entries.append(
                (
                    datetime.combine(rec["deleted_date"], datetime.min.time()) + timedelta(hours=3),
                    "deleted",
                )
            )
        for moment, kind in entries:
            events.append(
                {
                    "source_record_id": f"{prefix}{len(events) + 1:07d}",
                    "recording_record_id": rec["source_record_id"],
                    "event_type": kind,
                    "event_datetime": _no_gap(moment),
                    "actor_id": _officer(agency_id, int(rng.integers(0, OFFICERS[agency_id]))),
                }
            )
    return events


def _complaints(
    agency_id: str, n: int, rng: np.random.Generator
) -> tuple[list[dict], list[dict], list[dict], dict]:
    prefix = {"alder_pd": "CR23-", "birch_so": "BC-IA-23-", "cedar_pd": "CTPD-IA-23-"}[agency_id]
    complaints, allegations, complainants = [], [], []
    sustained = Counter()
    total = Counter()
    share = demo.EFFECTS[agency_id].share
    for k in range(n):
        complaint_id = f"{prefix}{k + 1:04d}"
        incident = START + timedelta(days=int(rng.integers(0, 330)))
        received = incident + timedelta(days=int(rng.integers(0, 20)))
        is_open = rng.random() < 0.12
        closed = None if is_open else received + timedelta(days=int(rng.integers(20, 240)))
        complaints.append(
            {
                "source_record_id": complaint_id,
                "received_date": received,
                "incident_date": incident,
                "closed_date": closed,
                "complaint_source": _pick(rng, COMPLAINT_SOURCES, COMPLAINT_SOURCE_P, 1)[0],
                "district": DISTRICTS[agency_id][int(rng.integers(0, len(DISTRICTS[agency_id])))],
                "bwc_recording_record_id": None,
            }
        )
        race = RACES[int(rng.choice(6, p=demo._p(share)))]
        for seq in range(1, 1 + (2 if rng.random() < 0.15 else 1)):
            complainants.append(
                {
                    "complaint_record_id": complaint_id,
                    "complainant_seq": seq,
                    "subject_race": race
                    if seq == 1
                    else RACES[int(rng.choice(6, p=demo._p(share)))],
                    "subject_sex": _pick(rng, ["male", "female", "unknown"], [0.55, 0.43, 0.02], 1)[
                        0
                    ],
                    "subject_age": int(rng.integers(18, 75)) if rng.random() < 0.9 else None,
                }
            )
        group = race if race in ("white", "black") else "other"
        rate = SUSTAINED_RATE[agency_id][group]
        for a in range(int(rng.choice(3, p=[0.6, 0.3, 0.1])) + 1):
            if is_open:
                finding = "open"
            elif rng.random() < rate:
                finding = "sustained"
            else:
                finding = _pick(rng, NOT_SUSTAINED, NOT_SUSTAINED_P, 1)[0]
            discipline = (
                _pick(rng, DISCIPLINES, DISCIPLINE_P, 1)[0] if finding == "sustained" else "none"
            )
            recommended = finding if rng.random() < 0.85 or finding == "open" else "sustained"
            allegations.append(
                {
                    "source_record_id": f"{complaint_id}-A{a + 1}",
                    "complaint_record_id": complaint_id,
                    "officer_id": _officer(agency_id, int(rng.integers(0, OFFICERS[agency_id]))),
                    "category": _pick(rng, ALLEGATION_CATEGORIES, ALLEGATION_CATEGORY_P, 1)[0],
                    "recommended_finding": recommended,
                    "final_finding": finding,
                    "discipline": discipline,
                }
            )
            if not is_open:
                total[group] += 1
                sustained[group] += finding == "sustained"
    truth = {
        group: {"closed_allegations": total[group], "sustained": sustained[group]}
        for group in ("white", "black", "other")
    }
    return complaints, allegations, complainants, truth


def _school(agency_id: str, n: int, rng: np.random.Generator) -> list[dict]:
    k = int(round(SCHOOL_DISCIPLINE_SHARE[agency_id] * n))
    discipline = np.zeros(n, dtype=bool)
    discipline[rng.choice(n, size=k, replace=False)] = True
    rows = []
    prefix = {"alder_pd": "SRO23-", "birch_so": "BC-SRO-23-", "cedar_pd": "CTPD-S-23-"}[agency_id]
    school_days = [
        d for d in range(365) if (START + timedelta(d)).weekday() < 5 and not 160 <= d < 240
    ]
    share = demo.EFFECTS[agency_id].share
    for i in range(n):
        day = int(rng.choice(school_days))
        moment = _moment(day, int(rng.integers(7 * 3600 + 1800, 16 * 3600)))
        if discipline[i]:
            reason = _pick(rng, DISCIPLINE_REASONS, DISCIPLINE_REASON_P, 1)[0]
        else:
            reason = _pick(rng, OTHER_REASONS, OTHER_REASON_P, 1)[0]
        outcome = _pick(rng, SCHOOL_OUTCOMES, SCHOOL_OUTCOME_P[0 if discipline[i] else 1], 1)[0]
        detained = outcome in ("arrest", "psych_hold") or rng.random() < 0.08
        rows.append(
            {
                "source_record_id": f"{prefix}{i + 1:05d}",
                "officer_id": _officer(agency_id, int(rng.integers(0, 6))),
                "school_code": SCHOOLS[agency_id][int(rng.integers(0, len(SCHOOLS[agency_id])))],
                "incident_datetime": moment,
                "on_school_grounds": bool(rng.random() < 0.9),
                "subject_race": RACES[int(rng.choice(6, p=demo._p(share)))],
                "subject_sex": _pick(rng, ["male", "female"], [0.62, 0.38], 1)[0],
                "subject_age_group": _pick(rng, AGE_GROUPS, AGE_GROUP_P, 1)[0],
                "disability_504_iep": bool(rng.random() < 0.18),
                "reason_for_contact": reason,
                "referral_source": _pick(rng, REFERRAL_SOURCES, REFERRAL_SOURCE_P, 1)[0],
                "searched": bool(rng.random() < 0.15),
                "handcuffed": bool(detained and (outcome == "arrest" or rng.random() < 0.3)),
                "force_used": bool(rng.random() < 0.02),
                "detained": bool(detained),
                "outcome": outcome,
                "school_discipline_matter": bool(discipline[i]),
            }
        )
    return rows


def _likert(rng: np.random.Generator, latent: float) -> int:
    return int(np.clip(np.rint(latent + rng.normal(0, 0.9)), 1, 5))


def _surveys(agency_id: str, n_officers: int, n_residents: int, rng: np.random.Generator):
    responses, answers = [], []
    effect_unit, effect_construct, shift = SURVEY_UNIT_EFFECT[agency_id]
    prefix = {"alder_pd": "ACS-", "birch_so": "BCS-", "cedar_pd": "CTS-"}[agency_id]
    units = UNITS[agency_id]
    for i in range(n_officers + n_residents):
        officer = i < n_officers
        rid = f"{prefix}{'O' if officer else 'R'}{i + 1:05d}"
        unit = (
            units[i % len(units)]
            if officer
            else DISTRICTS[agency_id][i % len(DISTRICTS[agency_id])]
        )
        responses.append(
            {
                "source_record_id": rid,
                "survey_wave": "2023-fall" if officer else "2023-community",
                "survey_type": "officer_climate" if officer else "community",
                "unit": unit,
                "rank_group": _pick(rng, RANK_GROUPS, RANK_P, 1)[0] if officer else "resident",
                "tenure_band": _pick(rng, TENURE_BANDS, TENURE_P, 1)[0]
                if officer
                else "not_applicable",
                "completed_date": START + timedelta(days=int(rng.integers(270, 300))),
            }
        )
        respondent = rng.normal(0, 0.4)
        for item_id, construct, reverse in CLIMATE_ITEMS if officer else COMMUNITY_ITEMS:
            if rng.random() < 0.04:
                continue  # item skipped
            latent = CONSTRUCT_BASE[construct] + respondent
            if officer and unit == effect_unit and construct == effect_construct:
                latent += shift
            value = _likert(rng, latent)
            answers.append(
                {
                    "response_record_id": rid,
                    "item_id": item_id,
                    "construct": construct,
                    "response_value": 6 - value if reverse else value,
                    "reverse_scored": reverse,
                }
            )
    return responses, answers


def _incidents(agency_id: str, n: int, rng: np.random.Generator) -> list[dict]:
    days, minutes = demo._draw_times(rng, n)
    prefix = {"alder_pd": "RMS23-", "birch_so": "BC-RMS-23-", "cedar_pd": "CTPD-R-23-"}[agency_id]
    rows = []
    for i in range(n):
        moment = _moment(days[i], int(minutes[i]) * 60)
        lines = int(rng.choice(3, p=[0.72, 0.22, 0.06])) + 1
        offenses = rng.choice(
            len(INCIDENT_OFFENSES), size=lines, replace=False, p=demo._p(INCIDENT_OFFENSE_P)
        )
        district = DISTRICTS[agency_id][int(rng.integers(0, len(DISTRICTS[agency_id])))]
        for seq, o in enumerate(offenses, start=1):
            code, description, category, against, severity = INCIDENT_OFFENSES[o]
            rows.append(
                {
                    "source_record_id": f"{prefix}{i + 1:05d}",
                    "offense_seq": seq,
                    "incident_datetime": moment,
                    "offense_code": code,
                    "offense_description": description,
                    "offense_category": category,
                    "crime_against": against,
                    "offense_severity": severity,
                    "firearm_used": bool(code in ("13A", "520") and rng.random() < 0.4),
                    "district": district,
                }
            )
    return rows


def _median(values: list[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float))) if values else None


def generate_agency(
    landing: Path,
    agency_id: str,
    person_stops: int,
    arrest_stop_ids: list[str],
    arrests_by_race: list[int],
    rng: np.random.Generator,
) -> dict:
    """Write agency_id's exports of every record type in DATASETS; files, fact counts, effects."""
    n_calls = max(300, person_stops // 3)
    calls = _calls(agency_id, n_calls, rng)
    force_rows, force_calls, force_truth = _force(agency_id, calls, arrests_by_race, rng)

    # Body-worn camera recordings: force incidents first (compliance and late activations), then
    # complaints, stops that ended in an arrest, and a share of the other calls.
    incidents = {}
    for row in force_rows:
        incidents.setdefault(row["incident_record_id"], row)
    incident_ids = list(incidents)
    n_recorded = int(round(BWC_COMPLIANCE[agency_id] * len(incident_ids)))
    recorded = sorted(rng.choice(len(incident_ids), size=n_recorded, replace=False).tolist())
    n_late = int(round(LATE_SHARE[agency_id] * n_recorded))
    late = set(rng.choice(recorded, size=n_late, replace=False).tolist()) if n_late else set()
    calls_by_id = {c["source_record_id"]: c for c in calls}
    recordings: list[dict] = []
    for k in recorded:
        row = incidents[incident_ids[k]]
        call = calls_by_id[row["call_record_id"]]
        if k in late:  # started after the officer arrived and the threshold passed
            start = _later(call["arrived_datetime"], int(rng.integers(LATE_ACTIVATION_S + 30, 900)))
        else:  # started between dispatch and arrival
            span = _elapsed(call["dispatched_datetime"], call["arrived_datetime"])
            start = _later(call["dispatched_datetime"], int(rng.integers(0, max(1, int(span)))))
        recordings.append(
            _recording(
                agency_id, len(recordings) + 1, _no_gap(start), int(rng.integers(900, 5400)),
                "use_of_force", row["officer_id"], rng,
                call_record_id=call["source_record_id"],
                use_of_force_record_id=row["incident_record_id"],
            )
        )  # fmt: skip

    n_complaints = max(60, person_stops // 75)
    complaints, allegations, complainants, sustained_truth = _complaints(
        agency_id, n_complaints, rng
    )
    for complaint in complaints:
        if rng.random() < 0.4:
            start = datetime.combine(complaint["incident_date"], datetime.min.time()) + timedelta(
                seconds=int(rng.integers(8 * 3600, 22 * 3600))
            )
            rec = _recording(
                agency_id, len(recordings) + 1, _no_gap(start), int(rng.integers(300, 3600)),
                "complaint", _officer(agency_id, int(rng.integers(0, OFFICERS[agency_id]))), rng,
                complaint_record_id=complaint["source_record_id"],
            )  # fmt: skip
            complaint["bwc_recording_record_id"] = rec["source_record_id"]
            recordings.append(rec)

    stop_sample = sorted(set(arrest_stop_ids))
    stop_sample = (
        [
            stop_sample[i]
            for i in sorted(
                rng.choice(len(stop_sample), size=min(len(stop_sample), 150), replace=False)
            )
        ]
        if stop_sample
        else []
    )
    for stop_id in stop_sample:
        start = _moment(int(rng.integers(0, 365)), int(rng.integers(0, 86400)))
        recordings.append(
            _recording(
                agency_id, len(recordings) + 1, _no_gap(start), int(rng.integers(300, 2400)),
                "arrest", _officer(agency_id, int(rng.integers(0, OFFICERS[agency_id]))), rng,
                stop_record_id=stop_id,
            )
        )  # fmt: skip
    force_call_set = set(force_calls)
    for i, call in enumerate(calls):
        if i in force_call_set or call["arrived_datetime"] is None or rng.random() >= 0.25:
            continue
        recordings.append(
            _recording(
                agency_id, len(recordings) + 1,
                _no_gap(call["arrived_datetime"] - timedelta(seconds=int(rng.integers(0, 120)))),
                int(rng.integers(120, 2400)), "non_evidence", call["officer_id"], rng,
                call_record_id=call["source_record_id"],
            )
        )  # fmt: skip
    audit = _audit(agency_id, recordings, rng)

    school = _school(agency_id, max(60, person_stops // 60), rng)
    survey_n = {"alder_pd": (160, 120), "birch_so": (90, 80), "cedar_pd": (75, 60)}[agency_id]
    responses, answers = _surveys(agency_id, *survey_n, rng)
    crime = _incidents(agency_id, max(100, person_stops // 30), rng)

    rows = {
        "calls_for_service": calls,
        "use_of_force": force_rows,
        "bwc_recordings": recordings,
        "bwc_audit_events": audit,
        "complaints": complaints,
        "allegations": allegations,
        "complainants": complainants,
        "school_incidents": school,
        "survey_responses": responses,
        "survey_item_responses": answers,
        "incidents": crime,
    }
    files = [_write_dataset(landing, agency_id, dataset, rows[dataset]) for dataset in DATASETS]

    # --- the known answers ----------------------------------------------------------------------
    response_by_priority = defaultdict(list)
    for call in calls:
        if call["arrived_datetime"] is not None:
            response_by_priority[call["priority"]].append(
                _elapsed(call["received_datetime"], call["arrived_datetime"])
            )
    by_unit = defaultdict(list)
    unit_of = {
        r["source_record_id"]: r["unit"] for r in responses if r["survey_type"] == "officer_climate"
    }
    for answer in answers:
        unit = unit_of.get(answer["response_record_id"])
        if unit is not None:
            scored = (
                6 - answer["response_value"]
                if answer["reverse_scored"]
                else answer["response_value"]
            )
            by_unit[(unit, answer["construct"])].append(scored)
    effect_unit, effect_construct, shift = SURVEY_UNIT_EFFECT[agency_id]
    facts = {
        "fct_calls_for_service": len(calls),
        "fct_use_of_force_incidents": len(incident_ids),
        "fct_use_of_force_subjects": len(incident_ids),
        "fct_use_of_force_officers": len(force_rows),
        "fct_bwc_recordings": len(recordings),
        "fct_bwc_audit_events": len(audit),
        "fct_complaints": len(complaints),
        "fct_allegations": len(allegations),
        "fct_complainants": len(complainants),
        "fct_school_incidents": len(school),
        "fct_survey_responses": len(responses),
        "fct_survey_item_responses": len(answers),
        "fct_incidents": len({r["source_record_id"] for r in crime}),
        "fct_incident_offenses": len(crime),
    }
    links = {
        "force_incidents_with_call": len(incident_ids),
        "recordings_with_call": sum(1 for r in recordings if r.get("call_record_id")),
        "recordings_with_stop": sum(1 for r in recordings if r.get("stop_record_id")),
        "recordings_with_force_incident": sum(
            1 for r in recordings if r.get("use_of_force_record_id")
        ),
        "recordings_with_complaint": sum(1 for r in recordings if r.get("complaint_record_id")),
        "complaints_with_recording": sum(1 for c in complaints if c["bwc_recording_record_id"]),
    }
    effects = {
        "force_per_arrest": {
            "rate_by_race": dict(zip(RACES, FORCE_PER_ARREST[agency_id], strict=True)),
            **force_truth,
        },
        "bwc_activation": {
            "compliance": BWC_COMPLIANCE[agency_id],
            "force_incidents": len(incident_ids),
            "force_incidents_with_recording": n_recorded,
            "late_threshold_seconds": LATE_ACTIVATION_S,
            "late_activations": n_late,
        },
        "sustained_by_complainant_race": {
            "probability": SUSTAINED_RATE[agency_id],
            **sustained_truth,
        },
        "school_discipline": {
            "share": SCHOOL_DISCIPLINE_SHARE[agency_id],
            "contacts": len(school),
            "discipline_matters": sum(r["school_discipline_matter"] for r in school),
        },
        "survey_unit_effect": {
            "unit": effect_unit,
            "construct": effect_construct,
            "latent_shift": shift,
            "mean_scored_value_by_unit": {
                unit: round(float(np.mean(by_unit[(unit, effect_construct)])), 6)
                for unit in UNITS[agency_id]
            },
        },
        "response_seconds_median_by_priority": {
            "designed": dict(zip(("1", "2", "3", "4"), RESPONSE_MEDIAN_S[agency_id], strict=True)),
            "generated": {str(p): _median(v) for p, v in sorted(response_by_priority.items())},
        },
    }
    return {"files": files, "facts": facts, "links": links, "effects": effects}

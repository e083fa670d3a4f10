"""Seeded, deterministic generator of three fictional agencies' exports of every record type (demo data).

`generate(landing_dir, rows, seed)` writes, under `<landing_dir>/<agency_id>/stops/`, the files
three made-up agencies would send, each in its own export style, plus a ground-truth manifest
`<landing_dir>/demo_manifest.json` (ingestion ignores files at the landing root):

- `alder_pd` (Alder City PD, OR): CSV, cp1252 text behind a UTF-8 byte-order mark (what a careless
  export tool writes), CRLF line ends, one person per stop, codes (W/B/H, Y/N, ARR/CIT...), two
  half-year files plus a byte-identical re-send of the first half, ~5 rows with a wrong field
  count. Injected disparity: black residents stopped more often than their population share, and
  searched at 1.8x the white rate with a lower hit rate.
- `birch_so` (Birch County SO, NC): Excel workbook(s), sheet "Stops", several persons per stop,
  words for codes, 1/0 number cells for flags, a text `StopDateTime` column, 3 rows whose date
  cannot be parsed. No disparity in search or hit rates.
- `cedar_pd` (Cedar Town PD, MN): JSON lines, one file per quarter, JSON booleans and nulls,
  2 truncated (broken) lines. Modest disparity: black search rate 1.3x white, same hit rate.

Each agency also sends an arrests export in its own style, under `<agency_id>/arrests/`
(`alder_arrests_2023.csv`: cp1252 CSV with a BOM, codes; `BCSO_Arrests_2023.xlsx`: sheet
"Arrests", one arrest record per stop with an ArresteeSeq per arrested person;
`cedar_arrests_2023.jsonl`). Every arrested person of an accepted stop row (Result ARR, Arrest 1,
arrested true) has exactly one arrest row naming the stop's id, with the person's race, sex, age
and the stop's reason and search; arrests of persons on malformed stop rows are left out, since
their stops never reach the warehouse. About 8% more arrests (at least 4) are not made at a stop
(on-view, no stop id), and 1-2 of those per agency are malformed (alder: wrong field count;
birch: an unparseable ArrestDateTime; cedar: a truncated line), so every arrested stop person
keeps exactly one accepted arrest row. The arrests draw from their own random streams: the stop
exports are byte-identical to what the generator wrote before arrests existed.

Each agency also sends every other record type (calls for service, use of force, body-worn camera
recordings and audit events, complaints with allegations and complainants, school contacts,
surveys, crime incidents), written by `ingestion/demo_records.py` from a third random stream
per agency, linked to the stops, arrests and each other, with known effects (see there).

Everything is drawn from one `numpy` generator per agency seeded from `seed`, vectorised, and
formatted with Arrow compute in chunks, so `rows` can range from a few thousand to ten million.
The same `rows` and `seed` give byte-identical files (the workbook is written by hand with fixed
zip timestamps and document properties), and a file whose bytes would not change is not
rewritten, so re-running the generator never makes ingestion load anything twice.

Excel holds at most 1,048,576 rows per sheet; the Birch export is therefore split into workbooks
of at most `EXCEL_MAX_ROWS` (500,000) data rows each (`BCSO_Stops_2023_part01.xlsx`, ...), cut at
stop boundaries, when its share of `rows` is larger than that.

Byte-identity holds for given versions of numpy (random streams), pyarrow and zlib (the
workbook's deflate stream); uv.lock pins the first two.

Manifest (`demo_manifest.json`, also returned by `generate`, which adds `written` per file):
    generator, manifest_version, seed, rows, year
    agencies.<agency_id>: name, dataset ("stops", kept from version 1), datasets, person_stops
        (generated, re-send excluded), expected_accepted_person_stops (distinct person-stops
        after rejects and after skipping the re-sent copy), [birch_so: stops], arrests (arrestee
        rows generated), arrests_from_stops (of which linked to a stop), expected_accepted_arrests
        (arrestee rows after rejects), files: [
            {dataset (stops | arrests), path (under the landing dir), format (csv | excel |
             jsonl), data_rows (records in the file, malformed ones included),
             malformed: [{line, reason, source_record_id}]
             (line: 1-based physical line, header = 1, in CSV / JSON lines; the spreadsheet row
             in Excel), resend_of (path of the original, or null), bytes, sha256,
             csv: encoding, bom, line_terminator; excel: sheet; jsonl: encoding}]
    expected_accepted_person_stops.<agency_id>: the same numbers, side by side
    expected_accepted_arrests.<agency_id>: likewise for the arrests
    effects.<agency_id>: unit, share_by_race, search_probability, hit_probability (by canonical
        subject_race), stop_type_mix (by canonical stop_type, share of stops)
    agencies.<agency_id>.facts / expected_facts.<agency_id>: rows each public fact of the other
        record types should hold (fct_calls_for_service ... fct_incident_offenses)
    agencies.<agency_id>.links: how many records name another record type (recordings with a
        call, stop, force incident, complaint; complaints with a recording; force with a call)
    agencies.<agency_id>.record_effects: force_per_arrest, bwc_activation,
        sustained_by_complainant_race, school_discipline, survey_unit_effect,
        response_seconds_median_by_priority (demo_records.generate_agency)
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import logging
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

DEFAULT_ROWS = 30_000
DEFAULT_SEED = 20231
MIN_ROWS = 200
YEAR = 2023
EXCEL_MAX_ROWS = 500_000
CHUNK_ROWS = 200_000
MANIFEST_NAME = "demo_manifest.json"
# 2: arrests exports, file entries name their dataset; 3: every other record type
# (ingestion/demo_records.py), expected_facts and record_effects
MANIFEST_VERSION = 3
AGENCIES = ("alder_pd", "birch_so", "cedar_pd")

# Canonical subject_race domain order used for every per-race parameter vector below.
RACES = ("white", "black", "hispanic", "asian/pacific islander", "other", "unknown")
_W, _B, _H, _A, _O, _U = range(6)

UTF8_BOM = b"\xef\xbb\xbf"
# Fixed timestamp for the workbook's zip entries and document properties.
_XLSX_ZIP_TIME = (2024, 1, 16, 7, 30, 0)
_XLSX_DOC_TIME = "2024-01-16T07:30:00Z"

# Relative frequency of stops by local hour of day (0-23): few before dawn, peak late afternoon.
_HOUR_WEIGHTS = np.array(
    [3.2, 2.6, 2.0, 1.3, 0.8, 0.8, 1.4, 2.8, 4.3, 4.9, 5.1, 5.2,
     5.1, 5.3, 5.7, 6.1, 6.4, 6.3, 5.9, 5.5, 5.1, 4.7, 4.2, 3.6],
)  # fmt: skip
_WEEKDAY_WEIGHTS = np.array([0.97, 0.98, 1.0, 1.03, 1.12, 1.08, 0.86])  # Monday .. Sunday
_DST_START = date(2023, 3, 12)  # 02:00-02:59 local does not exist in US zones that day


# --- per-agency parameters (the "effects" written to the manifest) -----------------------------


@dataclass(frozen=True)
class Effects:
    share: tuple[float, ...]  # share of person-stops by race (RACES order)
    search: tuple[float, ...]  # probability that a stopped person is searched, by race
    hit: tuple[float, ...]  # probability that a search finds contraband, by race
    stop_type: dict[str, float]  # canonical stop_type -> share of stops, in the order of the
    # agency's own stop-type codes (ALDER_TYPE, BIRCH_TYPE, CEDAR_KIND)

    def as_dict(self) -> dict:
        return {
            "unit": "person-stop",
            "share_by_race": dict(zip(RACES, self.share, strict=True)),
            "search_probability": dict(zip(RACES, self.search, strict=True)),
            "hit_probability": dict(zip(RACES, self.hit, strict=True)),
            "stop_type_mix": dict(self.stop_type),
        }


EFFECTS = {
    "alder_pd": Effects(
        share=(0.55, 0.25, 0.12, 0.05, 0.02, 0.01),
        search=(0.05, 0.09, 0.07, 0.04, 0.05, 0.05),
        hit=(0.30, 0.20, 0.24, 0.30, 0.28, 0.28),
        stop_type={"vehicular": 0.78, "pedestrian": 0.22},
    ),
    "birch_so": Effects(
        share=(0.62, 0.24, 0.09, 0.02, 0.02, 0.01),
        search=(0.06,) * 6,
        hit=(0.28,) * 6,
        stop_type={"vehicular": 0.88, "pedestrian": 0.08, "other": 0.04},
    ),
    "cedar_pd": Effects(
        share=(0.58, 0.16, 0.12, 0.08, 0.04, 0.02),
        search=(0.08, 0.104, 0.09, 0.07, 0.08, 0.08),
        hit=(0.25,) * 6,
        stop_type={"pedestrian": 0.58, "vehicular": 0.36, "other": 0.06},
    ),
}

AGENCY_NAMES = {
    "alder_pd": "Alder City Police Department",
    "birch_so": "Birch County Sheriff's Office",
    "cedar_pd": "Cedar Town Police Department",
}


# --- small vectorised helpers ------------------------------------------------------------------


def _p(weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _choice_by_group(rng: np.random.Generator, group: np.ndarray, probs) -> np.ndarray:
    """Draw one category per element, from the probability row of its group."""
    probs = np.asarray(probs, dtype=float)
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    u = rng.random(len(group))
    out = np.empty(len(group), dtype=np.int16)
    for g in range(probs.shape[0]):
        mask = group == g
        out[mask] = np.searchsorted(cum[g], u[mask], side="right")
    return out


def _draw_times(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Day of year (0-based) and minute of day of `n` stops in YEAR, sorted chronologically."""
    days = [date(YEAR, 1, 1) + timedelta(d) for d in range(365)]
    season = 1 + 0.08 * np.cos(2 * np.pi * (np.arange(365) - 196) / 365)  # summer peak
    weekday = _WEEKDAY_WEIGHTS[[d.weekday() for d in days]]
    day = rng.choice(365, size=n, p=_p(season * weekday)).astype(np.int16)
    hour = rng.choice(24, size=n, p=_p(_HOUR_WEIGHTS)).astype(np.int16)
    minute = rng.integers(0, 60, size=n, dtype=np.int16)
    dst_day = (_DST_START - date(YEAR, 1, 1)).days
    hour[(day == dst_day) & (hour == 2)] = 3  # no clock times that do not exist locally
    minute_of_day = hour * 60 + minute
    order = np.lexsort((minute_of_day, day))
    return day[order], minute_of_day[order]


def _ages(rng: np.random.Generator, n: int, missing: float) -> np.ndarray:
    """Ages 15-89 skewed young; -1 where the age was not recorded."""
    age = np.clip(15 + rng.gamma(2.1, 11.0, size=n), 15, 89).astype(np.int16)
    age[rng.random(n) < missing] = -1
    return age


def _outcomes(
    rng: np.random.Generator,
    searched: np.ndarray,
    contraband: np.ndarray,
    incident_to_arrest: np.ndarray,
    citation_p: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrest, citation and warning flags (a person may get both a citation and a warning)."""
    n = len(searched)
    arrest_p = 0.02 + np.where(searched, 0.06, 0.0) + np.where(contraband == 1, 0.45, 0.0)
    arrest = (rng.random(n) < arrest_p) | incident_to_arrest
    citation = rng.random(n) < citation_p
    warning_p = np.where(citation, 0.06, np.where(citation_p > 0.3, 0.55, 0.35))
    warning = rng.random(n) < warning_p
    return arrest, citation, warning


def _table(values: Sequence[str | None]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _take(values: Sequence[str | None] | pa.Array, codes: np.ndarray) -> pa.Array:
    """values[codes], where a negative code selects the last entry of values (the blank)."""
    table = values if isinstance(values, pa.Array) else _table(values)
    idx = np.where(codes < 0, len(table) - 1, codes).astype(np.int32)
    return table.take(pa.array(idx))


def _padded(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _join(parts: Sequence[pa.Array | str], separator: str, skip_nulls: bool = False) -> pa.Array:
    options = pc.JoinOptions(null_handling="skip" if skip_nulls else "emit_null")
    return pc.binary_join_element_wise(*parts, separator, options=options)


def _concat(lines: pa.Array) -> str:
    """All elements of a string array as one string (no separator)."""
    lists = pa.ListArray.from_arrays(pa.array([0, len(lines)], type=pa.int32()), lines)
    return pc.binary_join(lists, "")[0].as_py()


def _chunks(n: int) -> Iterable[tuple[int, int]]:
    size = CHUNK_ROWS  # read at call time; the output does not depend on it
    for start in range(0, n, size):
        yield start, min(n, start + size)


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


# --- writing files: deterministic, and untouched when the bytes would not change ---------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _install(tmp: Path, path: Path) -> bool:
    """Move tmp over path unless path already holds the same bytes; True when path changed."""
    if path.exists() and path.stat().st_size == tmp.stat().st_size:
        if filecmp.cmp(tmp, path, shallow=False):
            tmp.unlink()
            return False
    os.replace(tmp, path)
    return True


def _write_file(path: Path, writer: Callable[[Path], None]) -> dict:
    """Run writer(tmp) into a temporary sibling file, then install it; file facts for the manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        writer(tmp)
        changed = _install(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("%s %s", "wrote" if changed else "unchanged", path)
    return {"bytes": path.stat().st_size, "sha256": _sha256(path), "written": changed}


def _write_chunks(chunks: Iterable[bytes]) -> Callable[[Path], None]:
    def writer(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            for block in chunks:
                handle.write(block)

    return writer


# --- alder_pd: cp1252 CSV with a UTF-8 BOM, codes, one person per stop --------------------------

ALDER_COLUMNS = [
    "Incident #", "Stop Date", "Stop Time", "Stop Type", "District", "Beat", "Location",
    "Badge No", "Officer Name", "Race", "Gender", "Age", "Reason", "Searched", "Search Basis",
    "Contraband", "Frisk", "Result",
]  # fmt: skip
ALDER_RACE = ["W", "B", "H", "A", "O", "U"]
ALDER_SEX = ["M", "F", "U"]
ALDER_TYPE = ["V", "P"]
ALDER_REASON = ["TV", "RS", "WAR", "INV", "CON", "OTH"]
ALDER_REASON_P = [
    [0.92, 0.03, 0.01, 0.02, 0.00, 0.02],  # vehicular
    [0.00, 0.44, 0.08, 0.20, 0.21, 0.07],  # pedestrian
]
ALDER_BASIS = ["CON", "PC", "INC", "INV", "WAR", "K9", "PV"]
ALDER_BASIS_P = [0.28, 0.34, 0.16, 0.08, 0.04, 0.06, 0.04]
ALDER_RESULT = ["ARR", "CIT", "WARN", "NONE"]
ALDER_DISTRICTS = ["NORTH", "SOUTH", "EAST", "WEST", "CENTRAL"]
ALDER_DISTRICT_P = [0.18, 0.24, 0.20, 0.16, 0.22]
ALDER_FIRST = [
    "José", "María", "Seán", "Zoë", "Renée", "André", "Jürgen", "Chloé", "James", "Linda",
    "Michael", "Sarah", "David", "Emily", "Robert", "Ana", "Kevin", "Noël", "Inés", "Tomás",
]  # fmt: skip
ALDER_LAST = [
    "Smith", "Johnson", "Muñoz", "O’Brien", "Nguyen", "Peña", "García", "Olsen", "Lefèvre",
    "Yamamoto", "Brooks", "Ibáñez", "Walker", "Kowalski", "Schäfer", "D’Angelo", "Martínez",
    "Hughes", "Larsen", "Okafor",
]  # fmt: skip
ALDER_STREETS = [
    "Alder St", "Main St", "Café Way", "Peñasco Ave", "Rue de l’Église", "Pine St",
    "Commercial St NE", "Liberty Rd S", "Lancaster Dr", "Mission St SE", "Côte Blvd",
    "State St", "Center St", "Silverton Rd", "Señora Ln",
]  # fmt: skip
ALDER_SPECIAL_PLACES = [
    "I-5 NB, MP 253",
    "I-5 SB, MP 256",
    'Fred Meyer Lot "B"',
    "Hwy 22 WB, Exit 4",
    "Riverfront Park, East Lot",
]
ALDER_OFFICERS = 140
ALDER_MALFORMED = 5


def _alder_lookups(rng: np.random.Generator) -> dict:
    badges = np.sort(rng.choice(np.arange(1001, 2000), size=ALDER_OFFICERS, replace=False))
    first = rng.integers(0, len(ALDER_FIRST), ALDER_OFFICERS)
    last = rng.integers(0, len(ALDER_LAST), ALDER_OFFICERS)
    names = [f"{ALDER_LAST[b]}, {ALDER_FIRST[a]}" for a, b in zip(first, last, strict=True)]
    activity = rng.gamma(2.0, 1.0, ALDER_OFFICERS)
    places = list(ALDER_SPECIAL_PLACES)
    blocks = rng.integers(1, 60, size=400) * 100
    streets = rng.integers(0, len(ALDER_STREETS), size=400)
    cross = rng.integers(0, len(ALDER_STREETS), size=400)
    kind = rng.random(400)
    for b, s, c, k in zip(blocks, streets, cross, kind, strict=True):
        if k < 0.2 and s != c:
            places.append(f"{ALDER_STREETS[s]} & {ALDER_STREETS[c]}")
        else:
            places.append(f"{b} BLK {ALDER_STREETS[s]}")
    return {
        "badges": [str(b) for b in badges],
        "names": names,
        "officer_p": _p(activity),
        "places": places,
    }


def _generate_alder(landing: Path, n: int, rng: np.random.Generator) -> dict:
    fx = EFFECTS["alder_pd"]
    look = _alder_lookups(rng)
    day, minute = _draw_times(rng, n)
    race = rng.choice(6, size=n, p=_p(fx.share)).astype(np.int8)
    sex = rng.choice(3, size=n, p=[0.63, 0.36, 0.01]).astype(np.int8)
    age = _ages(rng, n, missing=0.01)
    stop_type = rng.choice(2, size=n, p=_p(list(fx.stop_type.values()))).astype(np.int8)
    reason = _choice_by_group(rng, stop_type, ALDER_REASON_P)
    district = rng.choice(len(ALDER_DISTRICTS), size=n, p=_p(ALDER_DISTRICT_P)).astype(np.int8)
    beat = rng.integers(0, 4, size=n, dtype=np.int8)
    officer = rng.choice(ALDER_OFFICERS, size=n, p=look["officer_p"]).astype(np.int16)
    place = rng.integers(0, len(look["places"]), size=n, dtype=np.int32)
    searched = rng.random(n) < np.asarray(fx.search)[race]
    basis = np.where(searched, rng.choice(len(ALDER_BASIS), size=n, p=_p(ALDER_BASIS_P)), -1)
    hit = rng.random(n) < np.asarray(fx.hit)[race]
    contraband = np.where(searched, hit.astype(np.int8), -1)
    frisk = rng.random(n) < np.where(searched, 0.42, 0.025)
    citation_p = np.where(stop_type == 0, 0.52, 0.12)
    arrest, citation, warning = _outcomes(rng, searched, contraband, basis == 2, citation_p)
    result = np.select([arrest, citation, warning], [0, 1, 2], default=3).astype(np.int8)

    # Malformed rows: a careless export writes a name or a location holding a comma unquoted (one
    # field too many), or cuts a line short. (Not a trailing delimiter: some CSV readers, DuckDB's
    # among them, accept it as harmless.)
    bad_rows = np.sort(rng.choice(n, size=min(ALDER_MALFORMED, n // 10), replace=False))
    bad_kinds = {int(r): k % 3 for k, r in enumerate(bad_rows)}

    ids_width = max(6, len(str(n)))
    date_text = [(date(YEAR, 1, 1) + timedelta(d)).strftime("%m/%d/%Y") for d in range(365)]
    time_text = [
        f"{(m // 60 - 1) % 12 + 1:02d}:{m % 60:02d} {'AM' if m < 720 else 'PM'}"
        for m in range(1440)
    ]
    tables = {
        "date": _table(date_text),
        "time": _table(time_text),
        "type": _table(ALDER_TYPE),
        "district": _table(ALDER_DISTRICTS),
        "beat": _table([f"{d[0]}{b + 1}" for d in ALDER_DISTRICTS for b in range(4)]),
        "place": _table([_csv_field(p) for p in look["places"]]),
        "badge": _table(look["badges"]),
        "name": _table([_csv_field(x) for x in look["names"]]),
        "race": _table(ALDER_RACE),
        "sex": _table(ALDER_SEX),
        "age": _table([str(a) for a in range(120)] + [""]),
        "reason": _table(ALDER_REASON),
        "yn": _table(["N", "Y", ""]),
        "basis": _table(ALDER_BASIS + [""]),
        "result": _table(ALDER_RESULT),
    }
    header = ",".join(_csv_field(c) for c in ALDER_COLUMNS)

    def fields(lo: int, hi: int) -> list[pa.Array]:
        s = slice(lo, hi)
        return [
            _padded("A23-", np.arange(lo + 1, hi + 1), ids_width),
            _take(tables["date"], day[s]),
            _take(tables["time"], minute[s]),
            _take(tables["type"], stop_type[s]),
            _take(tables["district"], district[s]),
            _take(tables["beat"], district[s].astype(np.int32) * 4 + beat[s]),
            _take(tables["place"], place[s]),
            _take(tables["badge"], officer[s]),
            _take(tables["name"], officer[s]),
            _take(tables["race"], race[s]),
            _take(tables["sex"], sex[s]),
            _take(tables["age"], age[s]),
            _take(tables["reason"], reason[s]),
            _take(tables["yn"], searched[s].astype(np.int8)),
            _take(tables["basis"], basis[s]),
            _take(tables["yn"], contraband[s]),
            _take(tables["yn"], frisk[s].astype(np.int8)),
            _take(tables["result"], result[s]),
        ]

    def malformed_line(cols: list[pa.Array], i: int, kind: int) -> tuple[str, str]:
        values = [c[i].as_py() for c in cols]
        expected = len(ALDER_COLUMNS)
        if kind == 0:  # "Last, First" written unquoted: the comma splits it in two
            values[8] = values[8].strip('"')
            why = f"too many fields: {expected + 1}, expected {expected} (officer name not quoted)"
        elif kind == 1:  # the export was cut off mid-line
            values = values[:-3]
            why = f"too few fields: {len(values)}, expected {expected} (line truncated)"
        else:  # a location holding a comma written unquoted
            values[6] = "I-5 NB, MP 253"
            why = f"too many fields: {expected + 1}, expected {expected} (location not quoted)"
        return ",".join(values), why

    def write_range(lo: int, hi: int, malformed: list[dict]) -> Iterable[bytes]:
        yield UTF8_BOM + (header + "\r\n").encode("cp1252")
        for a, b in _chunks(hi - lo):
            a, b = a + lo, b + lo
            cols = fields(a, b)
            lines = _join(cols, ",")
            bad = [r for r in bad_kinds if a <= r < b]
            if bad:
                mask = np.zeros(b - a, dtype=bool)
                replacements = []
                for r in bad:
                    text, reason = malformed_line(cols, r - a, bad_kinds[r])
                    mask[r - a] = True
                    replacements.append(text)
                    malformed.append(
                        {
                            "line": r - lo + 2,
                            "reason": reason,
                            "source_record_id": cols[0][r - a].as_py(),
                        }
                    )
                lines = pc.replace_with_mask(lines, pa.array(mask), pa.array(replacements))
            text = _concat(_join([lines, ""], "\r\n"))
            yield text.encode("cp1252")

    half = (date(YEAR, 7, 1) - date(YEAR, 1, 1)).days
    split = int(np.searchsorted(day, half))
    base = landing / "alder_pd" / "stops"
    files = []
    for label, lo, hi in (("2023H1", 0, split), ("2023H2", split, n)):
        name = f"alder_stops_{label}.csv"
        malformed: list[dict] = []
        facts = _write_file(base / name, _write_chunks(write_range(lo, hi, malformed)))
        files.append(
            {
                "path": f"alder_pd/stops/{name}",
                "format": "csv",
                "encoding": "cp1252",
                "bom": True,
                "line_terminator": "crlf",
                "data_rows": hi - lo,
                "malformed": malformed,
                "resend_of": None,
                **facts,
            }
        )
    resent_name = "alder_stops_2023H1_resent.csv"
    original = base / "alder_stops_2023H1.csv"
    facts = _write_file(base / resent_name, lambda tmp: shutil.copyfile(original, tmp))
    files.append(
        {
            **files[0],
            "path": f"alder_pd/stops/{resent_name}",
            "resend_of": files[0]["path"],
            **facts,
        }
    )
    return {
        "files": files,
        "person_stops": n,
        "expected_accepted_person_stops": n - len(bad_kinds),
        "_arrested": {
            "rows": _accepted_arrests(arrest, list(bad_kinds)),
            "stop_id": lambda rows: [f"A23-{r + 1:0{ids_width}d}" for r in rows],
            "day": day,
            "minute": minute,
            "race": race,
            "sex": sex,
            "age": age,
            "district": district,
            "beat": beat,
            "officer": officer,
            "searched": searched,
            "basis": basis,
            "contraband": contraband,
            "reason": reason,
            "look": look,
        },
    }


# --- birch_so: Excel workbooks, several persons per stop, words and 1/0 numbers ----------------

BIRCH_COLUMNS = [
    "StopID", "PersonNum", "StopDateTime", "StopType", "StopPurpose", "Zone", "DeputyID",
    "Race", "Sex", "Age", "Searched", "SearchBasis", "ContrabandFound", "Frisked", "Arrest",
    "Citation", "Warning",
]  # fmt: skip
BIRCH_RACE = ["WHITE", "BLACK", "HISPANIC", "ASIAN", "NATIVE AMERICAN", "OTHER", "UNKNOWN"]
BIRCH_SEX = ["Male", "Female"]
BIRCH_TYPE = ["Traffic Stop", "Subject Stop", "Checkpoint"]
BIRCH_PURPOSE = [
    "Speed Limit Violation", "Stop Light/Sign Violation", "Driving While Impaired",
    "Safe Movement Violation", "Vehicle Equipment Violation", "Vehicle Regulatory Violation",
    "Seat Belt Violation", "Other Motor Vehicle Violation", "Investigation", "Suspicious Person",
    "Warrant Service", "Checkpoint",
]  # fmt: skip
BIRCH_PURPOSE_P = [
    [0.35, 0.10, 0.04, 0.08, 0.12, 0.18, 0.05, 0.05, 0.03, 0.0, 0.0, 0.0],  # traffic
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.50, 0.35, 0.15, 0.0],  # subject
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],  # checkpoint
]
BIRCH_BASIS = [
    "Consent", "Probable Cause", "Search Incident to Arrest", "Inventory", "Search Warrant",
    "K-9 Alert", "Plain View", "Protective Frisk",
]  # fmt: skip
BIRCH_BASIS_P = [0.30, 0.30, 0.15, 0.07, 0.03, 0.05, 0.03, 0.07]
BIRCH_PERSONS_P = [0.74, 0.16, 0.07, 0.03]  # 1, 2, 3 or 4 persons in a stop
BIRCH_ZONES = 6
BIRCH_DEPUTIES = 90
BIRCH_BAD_DATES = ["N/A", "13/45/2023 99:99", "0000-00-00 00:00"]


def _person_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Persons per stop, summing to exactly n."""
    counts = rng.choice(len(BIRCH_PERSONS_P), size=n, p=_p(BIRCH_PERSONS_P)).astype(np.int64) + 1
    total = np.cumsum(counts)
    stops = int(np.searchsorted(total, n)) + 1
    counts = counts[:stops]
    counts[-1] -= int(total[stops - 1]) - n
    return counts


def _generate_birch(landing: Path, n: int, rng: np.random.Generator) -> dict:
    fx = EFFECTS["birch_so"]
    deputies = np.sort(rng.choice(np.arange(100, 1000), size=BIRCH_DEPUTIES, replace=False))
    deputy_p = _p(rng.gamma(2.0, 1.0, BIRCH_DEPUTIES))
    counts = _person_counts(rng, n)
    stops = len(counts)
    day, minute = _draw_times(rng, stops)
    stop_type = rng.choice(3, size=stops, p=_p(list(fx.stop_type.values()))).astype(np.int8)
    purpose = _choice_by_group(rng, stop_type, BIRCH_PURPOSE_P)
    zone = rng.integers(1, BIRCH_ZONES + 1, size=stops, dtype=np.int8)
    deputy = deputies[rng.choice(BIRCH_DEPUTIES, size=stops, p=deputy_p)]

    stop_of = np.repeat(np.arange(stops), counts)
    first_row = np.concatenate(([0], np.cumsum(counts)[:-1]))
    person = (np.arange(n) - first_row[stop_of] + 1).astype(np.int16)
    # Passengers share the driver's race 80% of the time; the marginal share stays fx.share.
    own_race = rng.choice(6, size=n, p=_p(fx.share)).astype(np.int8)
    keep_driver = rng.random(n) < 0.8
    race = np.where((person > 1) & keep_driver, own_race[first_row[stop_of]], own_race)
    # Words: "other" is mostly NATIVE AMERICAN in this county.
    word = np.array([0, 1, 2, 3, 4, 6], dtype=np.int8)[race]
    word[(race == _O) & (rng.random(n) < 0.3)] = 5
    sex = rng.choice(2, size=n, p=[0.66, 0.34]).astype(np.int8)
    age = _ages(rng, n, missing=0.015)
    searched = rng.random(n) < np.asarray(fx.search)[race]
    basis = np.where(searched, rng.choice(len(BIRCH_BASIS), size=n, p=_p(BIRCH_BASIS_P)), -1)
    contraband = np.where(searched, rng.random(n) < np.asarray(fx.hit)[race], False)
    frisk = rng.random(n) < np.where(searched, 0.35, 0.02)
    driver = person == 1
    citation_p = np.where(stop_type[stop_of] == 0, np.where(driver, 0.55, 0.03), 0.10)
    arrest, citation, warning = _outcomes(
        rng, searched, contraband.astype(np.int8), basis == 2, citation_p
    )

    # Unparseable dates, on single-person stops so a rejected row is a whole stop.
    single = np.flatnonzero(counts[stop_of] == 1)
    k = min(len(BIRCH_BAD_DATES), len(single))
    bad_rows = np.sort(rng.choice(single, size=k, replace=False))

    stamp_date = [(date(YEAR, 1, 1) + timedelta(d)).isoformat() for d in range(365)]
    stamp_time = [f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)]
    stop_id = 2_300_000_000 + np.arange(1, stops + 1, dtype=np.int64) * 7  # RMS sequence numbers

    # Workbooks of equal size, at most EXCEL_MAX_ROWS data rows each, cut at stop boundaries.
    parts = -(-n // (EXCEL_MAX_ROWS - len(BIRCH_PERSONS_P)))
    ends = np.cumsum(counts)
    cuts = [
        int(ends[np.searchsorted(ends, n * k // parts, side="right") - 1]) for k in range(1, parts)
    ]
    bounds = list(zip([0, *cuts], [*cuts, n], strict=True))

    def cells(lo: int, hi: int) -> list[tuple[str, pa.Array]]:
        """(kind, values) per column; kind 's' text, 'n' number; null = empty cell."""
        s = slice(lo, hi)
        st = stop_of[s]
        stamps = _join([_take(stamp_date, day[st]), _take(stamp_time, minute[st])], " ").to_numpy(
            zero_copy_only=False
        )
        for r in bad_rows[(bad_rows >= lo) & (bad_rows < hi)]:
            stamps[r - lo] = BIRCH_BAD_DATES[
                int(np.searchsorted(bad_rows, r)) % len(BIRCH_BAD_DATES)
            ]
        num01 = ["0", "1"]
        return [
            ("n", pa.array(stop_id[st]).cast(pa.string())),
            ("n", pa.array(person[s]).cast(pa.string())),
            ("s", pa.array(stamps, type=pa.string())),
            ("s", _take([xml_escape(v) for v in BIRCH_TYPE], stop_type[st])),
            ("s", _take([xml_escape(v) for v in BIRCH_PURPOSE], purpose[st])),
            ("s", _take([f"Zone {z}" for z in range(BIRCH_ZONES + 1)], zone[st])),
            ("n", pa.array(deputy[st]).cast(pa.string())),
            ("s", _take(BIRCH_RACE, word[s])),
            ("s", _take(BIRCH_SEX, sex[s])),
            ("n", _take([str(a) for a in range(120)] + [None], age[s])),
            ("n", _take(num01, searched[s].astype(np.int8))),
            ("s", _take([xml_escape(v) for v in BIRCH_BASIS] + [None], basis[s])),
            ("n", _take(num01, contraband[s].astype(np.int8))),
            ("n", _take(num01, frisk[s].astype(np.int8))),
            ("n", _take(num01, arrest[s].astype(np.int8))),
            ("n", _take(num01, citation[s].astype(np.int8))),
            ("n", _take(num01, warning[s].astype(np.int8))),
        ]

    base = landing / "birch_so" / "stops"
    files = []
    for part, (lo, hi) in enumerate(bounds, start=1):
        name = (
            "BCSO_Stops_2023.xlsx" if len(bounds) == 1 else f"BCSO_Stops_2023_part{part:02d}.xlsx"
        )

        def sheet_rows(lo: int = lo, hi: int = hi) -> Iterable[str]:
            for a, b in _chunks(hi - lo):
                yield _sheet_xml_rows(cells(a + lo, b + lo), first_row=a + 2)

        facts = _write_file(
            base / name,
            lambda tmp, lo=lo, hi=hi, rows=sheet_rows: _write_xlsx(
                tmp, "Stops", BIRCH_COLUMNS, hi - lo, rows(lo, hi), AGENCY_NAMES["birch_so"]
            ),
        )
        malformed = [
            {
                "line": int(r - lo + 2),
                "reason": f"unparseable StopDateTime {BIRCH_BAD_DATES[i % len(BIRCH_BAD_DATES)]!r} (required stop_date)",
                "source_record_id": str(stop_id[stop_of[r]]),
            }
            for i, r in enumerate(bad_rows)
            if lo <= r < hi
        ]
        files.append(
            {
                "path": f"birch_so/stops/{name}",
                "format": "excel",
                "sheet": "Stops",
                "data_rows": hi - lo,
                "malformed": malformed,
                "resend_of": None,
                **facts,
            }
        )
    return {
        "files": files,
        "person_stops": n,
        "stops": stops,
        "expected_accepted_person_stops": n - len(bad_rows),
        "_arrested": {
            "rows": _accepted_arrests(arrest, bad_rows),
            "stop_id": lambda rows: [str(stop_id[stop_of[r]]) for r in rows],
            "stop_of": stop_of,
            "person": person,
            "day": day,
            "minute": minute,
            "purpose": purpose,
            "zone": zone,
            "deputy": deputy,
            "race": word,
            "sex": sex,
            "age": age,
            "searched": searched,
            "basis": basis,
            "contraband": contraband,
        },
    }


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _sheet_xml_rows(columns: list[tuple[str, pa.Array]], first_row: int) -> str:
    """<row> elements for the given column values; null values become absent cells."""
    n = len(columns[0][1])
    row_no = pa.array(np.arange(first_row, first_row + n, dtype=np.int64)).cast(pa.string())
    parts = []
    for index, (kind, values) in enumerate(columns):
        ref = f'<c r="{_column_letter(index)}'
        if kind == "s":
            parts.append(
                _join([ref, row_no, '" t="inlineStr"><is><t>', values, "</t></is></c>"], "")
            )
        else:
            parts.append(_join([ref, row_no, '"><v>', values, "</v></c>"], ""))
    cells = _join(parts, "", skip_nulls=True)
    return _concat(_join(['<row r="', row_no, '">', cells, "</row>"], ""))


_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>"""
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/></Relationships>"""
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>"""
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"""
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"""
_CORE = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>{creator}</dc:creator><cp:lastModifiedBy>{creator}</cp:lastModifiedBy><dcterms:created xsi:type="dcterms:W3CDTF">{time}</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">{time}</dcterms:modified></cp:coreProperties>"""
_APP = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>Microsoft Excel</Application></Properties>"""


def _write_xlsx(
    path: Path, sheet: str, header: list[str], n_rows: int, rows: Iterable[str], creator: str
) -> None:
    """A minimal, valid .xlsx (inline strings, one sheet) with fixed timestamps: deterministic."""

    def entry(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=_XLSX_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 0
        info.external_attr = 0
        return info

    last = f"{_column_letter(len(header) - 1)}{n_rows + 1}"
    head_cells = "".join(
        f'<c r="{_column_letter(i)}1" t="inlineStr"><is><t>{xml_escape(h)}</t></is></c>'
        for i, h in enumerate(header)
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(entry("[Content_Types].xml"), _CONTENT_TYPES)
        zf.writestr(entry("_rels/.rels"), _ROOT_RELS)
        zf.writestr(
            entry("docProps/core.xml"),
            _CORE.format(creator=xml_escape(creator), time=_XLSX_DOC_TIME),
        )
        zf.writestr(entry("docProps/app.xml"), _APP)
        zf.writestr(entry("xl/workbook.xml"), _WORKBOOK.format(sheet=xml_escape(sheet)))
        zf.writestr(entry("xl/_rels/workbook.xml.rels"), _WORKBOOK_RELS)
        zf.writestr(entry("xl/styles.xml"), _STYLES)
        with zf.open(entry("xl/worksheets/sheet1.xml"), "w") as out:
            out.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    f'<dimension ref="A1:{last}"/><sheetData><row r="1">{head_cells}</row>'
                ).encode()
            )
            for block in rows:
                out.write(block.encode("utf-8"))
            out.write(b"</sheetData></worksheet>")


# --- cedar_pd: JSON lines, one file per quarter ---------------------------------------------

CEDAR_KEYS = [
    "id", "occurred_at", "kind", "reason", "precinct", "officer", "race", "sex", "age",
    "searched", "search_type", "contraband", "frisked", "arrested", "cited", "warned",
]  # fmt: skip
CEDAR_KIND = ["pedestrian", "vehicle", "bicycle"]
CEDAR_REASON = [
    "moving violation", "equipment violation", "suspicious activity", "investigative",
    "warrant", "call for service", "welfare check", "consensual",
]  # fmt: skip
CEDAR_REASON_P = [
    [0.0, 0.0, 0.40, 0.22, 0.07, 0.15, 0.10, 0.06],  # pedestrian
    [0.60, 0.25, 0.08, 0.05, 0.02, 0.0, 0.0, 0.0],  # vehicle
    [0.50, 0.30, 0.20, 0.0, 0.0, 0.0, 0.0, 0.0],  # bicycle
]
CEDAR_RACE = [
    "white", "black", "latino", "asian", "pacific islander", "native american", "multiracial",
    "unknown",
]  # fmt: skip
CEDAR_SEX = ["male", "female", "unknown"]
CEDAR_SEARCH = [
    "consent", "probable cause", "incident to arrest", "inventory", "warrant", "canine",
    "plain view", "officer safety",
]  # fmt: skip
CEDAR_SEARCH_P = [0.30, 0.30, 0.14, 0.06, 0.04, 0.05, 0.04, 0.07]
CEDAR_PRECINCTS = ["1st Precinct", "2nd Precinct", "3rd Precinct"]
CEDAR_OFFICERS = 60
CEDAR_BROKEN = 2


def _generate_cedar(landing: Path, n: int, rng: np.random.Generator) -> dict:
    fx = EFFECTS["cedar_pd"]
    officers = [
        f"{b:04d}" for b in np.sort(rng.choice(np.arange(1, 900), CEDAR_OFFICERS, replace=False))
    ]
    officer_p = _p(rng.gamma(2.0, 1.0, CEDAR_OFFICERS))
    day, minute = _draw_times(rng, n)
    second = rng.integers(0, 60, size=n, dtype=np.int32)
    kind = rng.choice(3, size=n, p=_p(list(fx.stop_type.values()))).astype(np.int8)
    reason = _choice_by_group(rng, kind, CEDAR_REASON_P)
    precinct = rng.choice(3, size=n, p=[0.38, 0.34, 0.28]).astype(np.int8)
    officer = rng.choice(CEDAR_OFFICERS, size=n, p=officer_p).astype(np.int16)
    race = rng.choice(6, size=n, p=_p(fx.share)).astype(np.int8)
    word = np.array([0, 1, 2, 3, 5, 7], dtype=np.int8)[race]
    word[(race == _A) & (rng.random(n) < 0.15)] = 4  # pacific islander
    word[(race == _O) & (rng.random(n) < 0.5)] = 6  # multiracial
    sex = rng.choice(3, size=n, p=[0.68, 0.31, 0.01]).astype(np.int8)
    age = _ages(rng, n, missing=0.02)
    searched = rng.random(n) < np.asarray(fx.search)[race]
    basis = np.where(searched, rng.choice(len(CEDAR_SEARCH), size=n, p=_p(CEDAR_SEARCH_P)), -1)
    hit = rng.random(n) < np.asarray(fx.hit)[race]
    contraband = np.where(searched, hit.astype(np.int8), -1)
    frisk = rng.random(n) < np.where(searched, 0.45, 0.04)
    citation_p = np.where(kind == 1, 0.45, np.where(kind == 2, 0.15, 0.08))
    arrest, citation, warning = _outcomes(rng, searched, contraband, basis == 2, citation_p)
    broken = np.sort(rng.choice(n, size=min(CEDAR_BROKEN, n // 10), replace=False))
    cut_at = rng.uniform(0.3, 0.8, size=len(broken))

    def frag(key: str, values: Sequence[object]) -> pa.Array:
        return _table([f"{json.dumps(key)}: {json.dumps(v)}" for v in values])

    tables = {
        "date": _table([(date(YEAR, 1, 1) + timedelta(d)).isoformat() for d in range(365)]),
        "time": _table([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)]),
        "sec": _table([f":{s:02d}" for s in range(60)]),
        "kind": frag("kind", CEDAR_KIND),
        "reason": frag("reason", CEDAR_REASON),
        "precinct": frag("precinct", CEDAR_PRECINCTS),
        "officer": frag("officer", officers),
        "race": frag("race", CEDAR_RACE),
        "sex": frag("sex", CEDAR_SEX),
        "age": frag("age", [*range(120), None]),
        "searched": frag("searched", [False, True]),
        "search_type": frag("search_type", [*CEDAR_SEARCH, None]),
        "contraband": frag("contraband", [False, True, None]),
        "frisked": frag("frisked", [False, True]),
        "arrested": frag("arrested", [False, True]),
        "cited": frag("cited", [False, True]),
        "warned": frag("warned", [False, True]),
    }
    ids_width = max(5, len(str(n)))

    def lines(lo: int, hi: int) -> pa.Array:
        s = slice(lo, hi)
        stamp = _join(
            [
                '"occurred_at": "',
                _take(tables["date"], day[s]),
                "T",
                _take(tables["time"], minute[s]),
                _take(tables["sec"], second[s]),
                '"',
            ],
            "",
        )
        parts = [
            _join(['"id": "', _padded("CTPD-23-", np.arange(lo + 1, hi + 1), ids_width), '"'], ""),
            stamp,
            _take(tables["kind"], kind[s]),
            _take(tables["reason"], reason[s]),
            _take(tables["precinct"], precinct[s]),
            _take(tables["officer"], officer[s]),
            _take(tables["race"], word[s]),
            _take(tables["sex"], sex[s]),
            _take(tables["age"], age[s]),
            _take(tables["searched"], searched[s].astype(np.int8)),
            _take(tables["search_type"], basis[s]),
            _take(tables["contraband"], contraband[s]),
            _take(tables["frisked"], frisk[s].astype(np.int8)),
            _take(tables["arrested"], arrest[s].astype(np.int8)),
            _take(tables["cited"], citation[s].astype(np.int8)),
            _take(tables["warned"], warning[s].astype(np.int8)),
        ]
        return _join(["{", _join(parts, ", "), "}"], "")

    def write_range(lo: int, hi: int, malformed: list[dict]) -> Iterable[bytes]:
        for a, b in _chunks(hi - lo):
            a, b = a + lo, b + lo
            chunk = lines(a, b)
            bad = [(int(r), f) for r, f in zip(broken, cut_at, strict=True) if a <= r < b]
            if bad:
                mask = np.zeros(b - a, dtype=bool)
                replacements = []
                for r, frac in bad:
                    text = chunk[r - a].as_py()
                    mask[r - a] = True
                    replacements.append(text[: int(len(text) * frac)])
                    malformed.append(
                        {
                            "line": r - lo + 1,
                            "reason": "broken JSON (line truncated)",
                            "source_record_id": json.loads(text)["id"],
                        }
                    )
                chunk = pc.replace_with_mask(chunk, pa.array(mask), pa.array(replacements))
            yield _concat(_join([chunk, ""], "\n")).encode("utf-8")

    base = landing / "cedar_pd" / "stops"
    files = []
    bounds = [0] + [(date(YEAR, m, 1) - date(YEAR, 1, 1)).days for m in (4, 7, 10)] + [365]
    cuts = [int(np.searchsorted(day, d)) for d in bounds]
    for quarter in range(4):
        lo, hi = cuts[quarter], cuts[quarter + 1]
        name = f"cedar_stops_2023Q{quarter + 1}.jsonl"
        malformed: list[dict] = []
        facts = _write_file(base / name, _write_chunks(write_range(lo, hi, malformed)))
        files.append(
            {
                "path": f"cedar_pd/stops/{name}",
                "format": "jsonl",
                "encoding": "utf-8",
                "data_rows": hi - lo,
                "malformed": malformed,
                "resend_of": None,
                **facts,
            }
        )
    return {
        "files": files,
        "person_stops": n,
        "expected_accepted_person_stops": n - len(broken),
        "_arrested": {
            "rows": _accepted_arrests(arrest, broken),
            "stop_id": lambda rows: [f"CTPD-23-{r + 1:0{ids_width}d}" for r in rows],
            "officers": officers,
            "officer": officer,
            "day": day,
            "minute": minute,
            "reason": reason,
            "precinct": precinct,
            "race": word,
            "sex": sex,
            "age": age,
            "searched": searched,
            "basis": basis,
            "contraband": contraband,
        },
    }


# --- arrests: one row per arrestee, each arrest made at a stop linked by the stop's id ----------

# NIBRS arrest offenses: (code, description, group: 0 = A / 1 = B, severity: 0 = felony /
# 1 = misdemeanor / 2 = infraction).
OFFENSES = [
    ("35A", "Drug/Narcotic Violations", 0, 0),
    ("35B", "Drug Equipment Violations", 0, 1),
    ("13A", "Aggravated Assault", 0, 0),
    ("13B", "Simple Assault", 0, 1),
    ("23C", "Shoplifting", 0, 1),
    ("240", "Motor Vehicle Theft", 0, 0),
    ("520", "Weapon Law Violations", 0, 0),
    ("90C", "Disorderly Conduct", 1, 1),
    ("90D", "Driving Under the Influence", 1, 1),
    ("90G", "Liquor Law Violations", 1, 2),
    ("90J", "Trespass of Real Property", 1, 1),
    ("90Z", "All Other Offenses", 1, 1),
]
# Offense mix by where the arrest came from (rows), in OFFENSES order: a stop whose search found
# nothing (or no search), a stop whose search found contraband, an arrest not made at a stop.
OFFENSE_P = [
    [0.06, 0.03, 0.02, 0.04, 0.01, 0.03, 0.02, 0.06, 0.38, 0.05, 0.02, 0.28],
    [0.42, 0.14, 0.01, 0.01, 0.01, 0.04, 0.17, 0.02, 0.08, 0.02, 0.01, 0.07],
    [0.05, 0.02, 0.08, 0.22, 0.17, 0.04, 0.03, 0.14, 0.02, 0.05, 0.10, 0.08],
]
_OFFENSE_GROUP = np.array([o[2] for o in OFFENSES], dtype=np.int8)
_OFFENSE_SEVERITY = np.array([o[3] for o in OFFENSES], dtype=np.int8)
# Canonical arrest_type order of the agencies' code lists below (NIBRS O / S / T).
ARREST_TYPES = ("on_view", "summoned_cited", "taken_into_custody")
# Arrests not made at a stop (on-view: a fight, a shoplifter), added to the arrests made at
# stops, as a share of those, with a floor so a small demo still has some.
ARRESTS_NOT_FROM_STOPS = 0.08
ARRESTS_NOT_FROM_STOPS_MIN = 4

# The last column is never empty: DuckDB's CSV reader takes a line with one field too many whose
# extra field is empty for a harmless trailing delimiter, so a malformed line must not end so.
ALDER_ARREST_COLUMNS = [
    "Arrest #", "Arrest Date", "Arrest Time", "Arrest Type", "Stop Incident #", "Stop Reason",
    "Charge Code", "Charge Description", "NIBRS Group", "Charge Class", "Warrant",
    "Arrestee Name", "DOB", "Race", "Gender", "Age", "District", "Beat", "Searched",
    "Search Basis", "Contraband", "Badge No", "Officer Name",
]  # fmt: skip
ALDER_ARREST_TYPE = ["O", "S", "T"]
ALDER_CHARGE_CLASS = ["FEL", "MISD", "INFR"]
ALDER_ARREST_MALFORMED = 2
BIRCH_ARREST_COLUMNS = [
    "ArrestNum", "ArresteeSeq", "ArrestDateTime", "ArrestType", "StopID", "IncidentNum",
    "OffenseCode", "OffenseDesc", "OffenseGroup", "OffenseLevel", "Warrant", "DeputyID", "Race",
    "Sex", "Age", "Zone", "Searched", "SearchBasis", "ContrabandFound", "StopPurpose",
]  # fmt: skip
BIRCH_ARREST_TYPE = ["On-View", "Summons/Citation", "Custody"]
BIRCH_OFFENSE_GROUP = ["Group A", "Group B"]
BIRCH_OFFENSE_LEVEL = ["Felony", "Misdemeanor", "Infraction"]
BIRCH_ARREST_BAD_DATES = ["PENDING", "2023-02-30 25:10"]
CEDAR_ARREST_KEYS = [
    "arrest_id", "arrested_at", "type", "stop_id", "incident_id", "offense_code", "offense",
    "offense_class", "nibrs_group", "warrant", "officer", "race", "sex", "age", "precinct",
    "searched", "search_type", "contraband", "stop_reason",
]  # fmt: skip
CEDAR_ARREST_TYPE = ["on-view", "summons", "custody"]
# Minnesota's classes: a gross misdemeanor is a misdemeanor, a petty misdemeanor an infraction.
CEDAR_OFFENSE_CLASS = ["felony", "gross misdemeanor", "misdemeanor", "petty misdemeanor"]
CEDAR_ARREST_BROKEN = 1


def _accepted_arrests(arrest: np.ndarray, malformed_rows: Iterable[int]) -> np.ndarray:
    """Rows of the arrested persons whose stop row the warehouse accepts: an arrest linked to a
    stop row the stops export wrote malformed would point at a stop that is not there."""
    keep = arrest.copy()
    keep[np.asarray(list(malformed_rows), dtype=np.int64)] = False
    return np.flatnonzero(keep)


def _plan_arrests(
    rng: np.random.Generator,
    stop_day: np.ndarray,
    stop_minute: np.ndarray,
    stop_warrant: np.ndarray,
    stop_contraband: np.ndarray,
    n_bad: int,
    same_arrest: np.ndarray | None = None,
) -> dict:
    """Times, offenses, types and file order of an agency's arrests: the k arrested stop persons
    (in that order) followed by m arrests not made at a stop; `same_arrest` (a stop per person)
    gives the persons of one stop one arrest time, so they make one arrest record."""
    k = len(stop_day)
    m = max(ARRESTS_NOT_FROM_STOPS_MIN, round(k * ARRESTS_NOT_FROM_STOPS))
    extra_day, extra_minute = _draw_times(rng, m)
    if same_arrest is None:
        delay = rng.integers(5, 46, size=k)
    else:
        stops, per_person = np.unique(same_arrest, return_inverse=True)
        delay = rng.integers(5, 46, size=len(stops))[per_person]
    day = np.concatenate([stop_day, extra_day]).astype(np.int16)
    minute = np.concatenate([np.minimum(stop_minute.astype(np.int32) + delay, 1439), extra_minute])
    minute = minute.astype(np.int16)
    dst_day = (_DST_START - date(YEAR, 1, 1)).days
    minute[(day == dst_day) & (minute // 60 == 2)] += 60  # no clock times that do not exist
    from_stop = np.concatenate([np.ones(k, dtype=bool), np.zeros(m, dtype=bool)])
    origin = np.concatenate([stop_contraband.astype(np.int8), np.full(m, 2, dtype=np.int8)])
    offense = _choice_by_group(rng, origin, OFFENSE_P)
    severity = _OFFENSE_SEVERITY[offense]
    warrant = np.concatenate([stop_warrant, np.zeros(m, dtype=bool)])
    warrant |= from_stop & (rng.random(k + m) < 0.05)  # a warrant found when the name is run
    cited = from_stop & (severity != 0) & (rng.random(k + m) < 0.18)
    arrest_type = np.where(warrant, 2, np.where(cited, 1, 0)).astype(np.int8)
    order = np.lexsort((np.arange(k + m), minute, day))
    # Malformed rows only among arrests not made at a stop, so every arrested stop person still
    # has exactly one accepted arrest row.
    candidates = np.flatnonzero(~from_stop[order])
    bad = np.sort(rng.choice(candidates, size=min(n_bad, m), replace=False))
    return {
        "k": k,
        "m": m,
        "order": order,
        "bad": bad,
        "day": day,
        "minute": minute,
        "from_stop": from_stop,
        "offense": offense,
        "warrant": warrant,
        "arrest_type": arrest_type,
    }


def _generate_alder_arrests(landing: Path, arrested: dict, rng: np.random.Generator) -> dict:
    fx, look, rows = EFFECTS["alder_pd"], arrested["look"], arrested["rows"]
    plan = _plan_arrests(
        rng,
        arrested["day"][rows],
        arrested["minute"][rows],
        arrested["reason"][rows] == ALDER_REASON.index("WAR"),
        arrested["contraband"][rows] == 1,
        ALDER_ARREST_MALFORMED,
    )
    k, m = plan["k"], plan["m"]
    searched = rng.random(m) < 0.7  # arrests not at a stop: mostly searched incident to arrest
    extra = {
        "race": rng.choice(6, size=m, p=_p(fx.share)),
        "sex": rng.choice(3, size=m, p=[0.74, 0.25, 0.01]),
        "age": _ages(rng, m, missing=0.01),
        "district": rng.choice(len(ALDER_DISTRICTS), size=m, p=_p(ALDER_DISTRICT_P)),
        "beat": rng.integers(0, 4, size=m),
        "officer": rng.choice(ALDER_OFFICERS, size=m, p=look["officer_p"]),
        "searched": searched,
        "basis": np.where(searched, ALDER_BASIS.index("INC"), -1),
        "contraband": np.where(searched, (rng.random(m) < 0.25).astype(np.int8), -1),
        "reason": np.full(m, -1),
    }
    col = {key: np.concatenate([arrested[key][rows], extra[key]]) for key in extra}
    first = rng.integers(0, len(ALDER_FIRST), size=k + m)
    last = rng.integers(0, len(ALDER_LAST), size=k + m)
    birthday = rng.integers(0, 365, size=k + m)
    stop_ids = arrested["stop_id"](rows) + [""] * m
    width = max(5, len(str(k + m)))
    bad_kind = {int(pos): n % 2 for n, pos in enumerate(plan["bad"])}
    expected = len(ALDER_ARREST_COLUMNS)

    lines, malformed = [",".join(_csv_field(c) for c in ALDER_ARREST_COLUMNS)], []
    for pos, i in enumerate(plan["order"]):
        day = date(YEAR, 1, 1) + timedelta(int(plan["day"][i]))
        minute, age = int(plan["minute"][i]), int(col["age"][i])
        code, description, group, severity = OFFENSES[plan["offense"][i]]
        born = day - timedelta(days=int(365.25 * age) + int(birthday[i]))
        name = f"{ALDER_LAST[last[i]]}, {ALDER_FIRST[first[i]]}"
        district = ALDER_DISTRICTS[col["district"][i]]
        basis, contraband, reason = (int(col[c][i]) for c in ("basis", "contraband", "reason"))
        values = [
            f"AR23-{pos + 1:0{width}d}",
            day.strftime("%m/%d/%Y"),
            f"{(minute // 60 - 1) % 12 + 1:02d}:{minute % 60:02d} {'AM' if minute < 720 else 'PM'}",
            ALDER_ARREST_TYPE[plan["arrest_type"][i]],
            stop_ids[i],
            ALDER_REASON[reason] if reason >= 0 else "",
            code,
            description,
            "AB"[group],
            ALDER_CHARGE_CLASS[severity],
            "Y" if plan["warrant"][i] else "N",
            _csv_field(name),
            born.strftime("%m/%d/%Y") if age >= 0 else "",
            ALDER_RACE[col["race"][i]],
            ALDER_SEX[col["sex"][i]],
            str(age) if age >= 0 else "",
            district,
            f"{district[0]}{col['beat'][i] + 1}",
            "Y" if col["searched"][i] else "N",
            ALDER_BASIS[basis] if basis >= 0 else "",
            "NY"[contraband] if contraband >= 0 else "",
            look["badges"][col["officer"][i]],
            _csv_field(look["names"][col["officer"][i]]),
        ]
        if pos in bad_kind:
            if bad_kind[pos] == 0:  # "Last, First" written unquoted: the comma splits it in two
                values[11] = name
                why = f"too many fields: {expected + 1}, expected {expected} (arrestee name not quoted)"
            else:  # the export was cut off mid-line
                values = values[:-4]
                why = f"too few fields: {len(values)}, expected {expected} (line truncated)"
            malformed.append({"line": pos + 2, "reason": why, "source_record_id": values[0]})
        lines.append(",".join(values))
    text = "".join(line + "\r\n" for line in lines)

    name = "alder_arrests_2023.csv"
    facts = _write_file(
        landing / "alder_pd" / "arrests" / name,
        _write_chunks([UTF8_BOM, text.encode("cp1252")]),
    )
    return _arrests_result(
        plan,
        {
            "dataset": "arrests",
            "path": f"alder_pd/arrests/{name}",
            "format": "csv",
            "encoding": "cp1252",
            "bom": True,
            "line_terminator": "crlf",
            "data_rows": k + m,
            "malformed": malformed,
            "resend_of": None,
            **facts,
        },
        race=col["race"][plan["order"]].astype(np.int64),
    )


def _generate_birch_arrests(landing: Path, arrested: dict, rng: np.random.Generator) -> dict:
    fx, rows = EFFECTS["birch_so"], arrested["rows"]
    stop = arrested["stop_of"][rows]
    plan = _plan_arrests(
        rng,
        arrested["day"][stop],
        arrested["minute"][stop],
        arrested["purpose"][stop] == BIRCH_PURPOSE.index("Warrant Service"),
        arrested["contraband"][rows],
        len(BIRCH_ARREST_BAD_DATES),
        same_arrest=stop,
    )
    k, m = plan["k"], plan["m"]
    searched = rng.random(m) < 0.7
    extra = {
        "race": np.array([0, 1, 2, 3, 4, 6])[rng.choice(6, size=m, p=_p(fx.share))],
        "sex": rng.choice(2, size=m, p=[0.75, 0.25]),
        "age": _ages(rng, m, missing=0.015),
        "zone": rng.integers(1, BIRCH_ZONES + 1, size=m),
        "deputy": rng.choice(arrested["deputy"], size=m),
        "searched": searched,
        "basis": np.where(searched, BIRCH_BASIS.index("Search Incident to Arrest"), -1),
        "contraband": searched & (rng.random(m) < 0.25),
        "purpose": np.full(m, -1),
    }
    per_stop = ("zone", "deputy", "purpose")
    col = {
        key: np.concatenate([arrested[key][stop if key in per_stop else rows], extra[key]])
        for key in extra
    }
    order = plan["order"]
    # One arrest record per stop (its arrested persons are arrestees 1, 2, ..), one per arrest not
    # made at a stop; numbered in file order.
    record = np.concatenate([stop, -1 - np.arange(m)])[order]
    _, first_pos, which = np.unique(record, return_index=True, return_inverse=True)
    number = np.argsort(np.argsort(first_pos))[which]
    arrestee = np.arange(k + m) - first_pos[which] + 1
    stop_ids = np.array(arrested["stop_id"](rows) + [None] * m, dtype=object)[order]
    stamps = np.array(
        [
            f"{date(YEAR, 1, 1) + timedelta(int(d))} {mi // 60:02d}:{mi % 60:02d}"
            for d, mi in zip(plan["day"][order], plan["minute"][order].astype(int), strict=True)
        ],
        dtype=object,
    )
    malformed = []
    for n, pos in enumerate(plan["bad"]):
        stamps[pos] = BIRCH_ARREST_BAD_DATES[n % len(BIRCH_ARREST_BAD_DATES)]
        malformed.append(
            {
                "line": int(pos) + 2,
                "reason": f"unparseable ArrestDateTime {stamps[pos]!r} (required arrest_date)",
                "source_record_id": str(2_390_000_000 + 3 * (int(number[pos]) + 1)),
            }
        )

    def text(values: Sequence[str | None]) -> pa.Array:
        return pa.array([None if v is None else xml_escape(v) for v in values], type=pa.string())

    def numbers(values: np.ndarray) -> pa.Array:
        return pa.array(values.astype(np.int64)).cast(pa.string())

    offense = plan["offense"][order]
    basis = col["basis"][order]
    purpose = col["purpose"][order]
    age = col["age"][order]
    cells = [
        ("n", numbers(2_390_000_000 + 3 * (number + 1))),
        ("n", numbers(arrestee)),
        ("s", text(list(stamps))),
        ("s", text([BIRCH_ARREST_TYPE[t] for t in plan["arrest_type"][order]])),
        ("n", pa.array(list(stop_ids), type=pa.string())),
        ("s", text([f"BC23-{n + 1:06d}" for n in number])),
        ("s", text([OFFENSES[o][0] for o in offense])),
        ("s", text([OFFENSES[o][1] for o in offense])),
        ("s", text([BIRCH_OFFENSE_GROUP[g] for g in _OFFENSE_GROUP[offense]])),
        ("s", text([BIRCH_OFFENSE_LEVEL[s] for s in _OFFENSE_SEVERITY[offense]])),
        ("n", numbers(plan["warrant"][order])),
        ("n", numbers(col["deputy"][order])),
        ("s", text([BIRCH_RACE[r] for r in col["race"][order]])),
        ("s", text([BIRCH_SEX[s] for s in col["sex"][order]])),
        ("n", pa.array([str(a) if a >= 0 else None for a in age], type=pa.string())),
        ("s", text([f"Zone {z}" for z in col["zone"][order]])),
        ("n", numbers(col["searched"][order])),
        ("s", text([BIRCH_BASIS[b] if b >= 0 else None for b in basis])),
        ("n", numbers(col["contraband"][order])),
        ("s", text([BIRCH_PURPOSE[p] if p >= 0 else None for p in purpose])),
    ]

    # Workbooks of at most EXCEL_MAX_ROWS data rows, cut between arrest records (only a very
    # large demo needs more than one).
    n = k + m
    parts = -(-n // (EXCEL_MAX_ROWS - len(BIRCH_PERSONS_P)))
    starts = np.sort(first_pos)
    cuts = [
        int(starts[np.searchsorted(starts, n * p // parts, side="right") - 1])
        for p in range(1, parts)
    ]
    bounds = list(zip([0, *cuts], [*cuts, n], strict=True))
    files = []
    for part, (lo, hi) in enumerate(bounds, start=1):
        name = (
            "BCSO_Arrests_2023.xlsx"
            if len(bounds) == 1
            else f"BCSO_Arrests_2023_part{part:02d}.xlsx"
        )

        def sheet_rows(lo: int = lo, hi: int = hi) -> Iterable[str]:
            for a, b in _chunks(hi - lo):
                yield _sheet_xml_rows(
                    [(kind, values[lo + a : lo + b]) for kind, values in cells], first_row=a + 2
                )

        facts = _write_file(
            landing / "birch_so" / "arrests" / name,
            lambda tmp, lo=lo, hi=hi, rows=sheet_rows: _write_xlsx(
                tmp,
                "Arrests",
                BIRCH_ARREST_COLUMNS,
                hi - lo,
                rows(lo, hi),
                AGENCY_NAMES["birch_so"],
            ),
        )
        files.append(
            {
                "dataset": "arrests",
                "path": f"birch_so/arrests/{name}",
                "format": "excel",
                "sheet": "Arrests",
                "data_rows": hi - lo,
                "malformed": [
                    {**bad, "line": bad["line"] - lo}
                    for bad in malformed
                    if lo < bad["line"] - 1 <= hi
                ],
                "resend_of": None,
                **facts,
            }
        )
    birch_race = np.array([_W, _B, _H, _A, _O, _O, _U])  # BIRCH_RACE -> RACES
    return _arrests_result(plan, *files, race=birch_race[col["race"][order]])


def _generate_cedar_arrests(landing: Path, arrested: dict, rng: np.random.Generator) -> dict:
    fx, rows = EFFECTS["cedar_pd"], arrested["rows"]
    plan = _plan_arrests(
        rng,
        arrested["day"][rows],
        arrested["minute"][rows],
        arrested["reason"][rows] == CEDAR_REASON.index("warrant"),
        arrested["contraband"][rows] == 1,
        CEDAR_ARREST_BROKEN,
    )
    k, m = plan["k"], plan["m"]
    searched = rng.random(m) < 0.7
    extra = {
        "race": np.array([0, 1, 2, 3, 5, 7])[rng.choice(6, size=m, p=_p(fx.share))],
        "sex": rng.choice(3, size=m, p=[0.72, 0.27, 0.01]),
        "age": _ages(rng, m, missing=0.02),
        "precinct": rng.choice(3, size=m, p=[0.38, 0.34, 0.28]),
        "officer": rng.integers(0, CEDAR_OFFICERS, size=m),
        "searched": searched,
        "basis": np.where(searched, CEDAR_SEARCH.index("incident to arrest"), -1),
        "contraband": np.where(searched, (rng.random(m) < 0.25).astype(np.int8), -1),
        "reason": np.full(m, -1),
    }
    col = {key: np.concatenate([arrested[key][rows], extra[key]]) for key in extra}
    gross = rng.random(k + m) < 0.3
    stop_ids = arrested["stop_id"](rows) + [None] * m
    width = max(5, len(str(k + m)))
    cut_at = rng.uniform(0.3, 0.8, size=len(plan["bad"]))
    broken = dict(zip((int(p) for p in plan["bad"]), cut_at, strict=True))

    lines, malformed = [], []
    for pos, i in enumerate(plan["order"]):
        code, description, group, severity = OFFENSES[plan["offense"][i]]
        offense_class = [0, 2 - int(gross[i]), 3][severity]
        minute, age = int(plan["minute"][i]), int(col["age"][i])
        basis, contraband, reason = (int(col[c][i]) for c in ("basis", "contraband", "reason"))
        record = {
            "arrest_id": f"CTPD-A-23-{pos + 1:0{width}d}",
            "arrested_at": f"{date(YEAR, 1, 1) + timedelta(int(plan['day'][i]))}"
            f"T{minute // 60:02d}:{minute % 60:02d}:00",
            "type": CEDAR_ARREST_TYPE[plan["arrest_type"][i]],
            "stop_id": stop_ids[i],
            "incident_id": None if plan["from_stop"][i] else f"CTPD-I-23-{pos + 1:0{width}d}",
            "offense_code": code,
            "offense": description,
            "offense_class": CEDAR_OFFENSE_CLASS[offense_class],
            "nibrs_group": "AB"[group],
            "warrant": bool(plan["warrant"][i]),
            "officer": arrested["officers"][col["officer"][i]],
            "race": CEDAR_RACE[col["race"][i]],
            "sex": CEDAR_SEX[col["sex"][i]],
            "age": age if age >= 0 else None,
            "precinct": CEDAR_PRECINCTS[col["precinct"][i]],
            "searched": bool(col["searched"][i]),
            "search_type": CEDAR_SEARCH[basis] if basis >= 0 else None,
            "contraband": bool(contraband) if contraband >= 0 else None,
            "stop_reason": CEDAR_REASON[reason] if reason >= 0 else None,
        }
        line = json.dumps(record, ensure_ascii=False)
        if pos in broken:
            line = line[: int(len(line) * broken[pos])]
            malformed.append(
                {
                    "line": pos + 1,
                    "reason": "broken JSON (line truncated)",
                    "source_record_id": record["arrest_id"],
                }
            )
        lines.append(line)

    name = "cedar_arrests_2023.jsonl"
    text = "".join(line + "\n" for line in lines)
    facts = _write_file(
        landing / "cedar_pd" / "arrests" / name, _write_chunks([text.encode("utf-8")])
    )
    return _arrests_result(
        plan,
        {
            "dataset": "arrests",
            "path": f"cedar_pd/arrests/{name}",
            "format": "jsonl",
            "encoding": "utf-8",
            "data_rows": k + m,
            "malformed": malformed,
            "resend_of": None,
            **facts,
        },
        race=np.array([_W, _B, _H, _A, _A, _O, _O, _U])[col["race"][plan["order"]]],
    )


def _arrests_result(plan: dict, *files: dict, race: np.ndarray | None = None) -> dict:
    """`race`: canonical race (RACES index) of every arrestee row in file order; the accepted
    rows' counts by race are what the force-per-arrest effect of demo_records is drawn against."""
    bad = sum(len(f["malformed"]) for f in files)
    out = {
        "files": list(files),
        "arrests": plan["k"] + plan["m"],
        "arrests_from_stops": plan["k"],
        "expected_accepted_arrests": plan["k"] + plan["m"] - bad,
    }
    if race is not None:
        keep = np.ones(len(race), dtype=bool)
        keep[np.asarray(plan["bad"], dtype=np.int64)] = False
        out["_accepted_by_race"] = np.bincount(race[keep], minlength=len(RACES)).tolist()
    return out


# --- entry points ------------------------------------------------------------------------------


def split_rows(rows: int) -> dict[str, int]:
    """Person-stops per agency: ~50% alder, 25% birch, the rest cedar."""
    alder, birch = rows // 2, rows // 4
    return {"alder_pd": alder, "birch_so": birch, "cedar_pd": rows - alder - birch}


# From this many person-stops the agencies are written in two processes at once.
PARALLEL_MIN_ROWS = 2_000_000


def _generate_agency(job: tuple[Path, str, int, list[np.random.SeedSequence]]) -> dict:
    """One agency's exports (stops, arrests, the other record types) and its manifest entry.
    `streams`: the agency's three seeds, for its stops, its arrests and its other records."""
    from ingestion import demo_records  # it builds on this module's helpers

    landing, agency_id, rows, (stops_seed, arrests_seed, records_seed) = job
    log.info("generating %s: %d person-stops", agency_id, rows)
    stops_builder, arrests_builder = {
        "alder_pd": (_generate_alder, _generate_alder_arrests),
        "birch_so": (_generate_birch, _generate_birch_arrests),
        "cedar_pd": (_generate_cedar, _generate_cedar_arrests),
    }[agency_id]
    result = stops_builder(landing, rows, np.random.default_rng(stops_seed))
    arrested = result.pop("_arrested")
    result["files"] = [{"dataset": "stops", **f} for f in result["files"]]
    arrests = arrests_builder(landing, arrested, np.random.default_rng(arrests_seed))
    records = demo_records.generate_agency(
        landing,
        agency_id,
        rows,
        arrested["stop_id"](arrested["rows"]),
        arrests.pop("_accepted_by_race"),
        np.random.default_rng(records_seed),
    )
    return {
        "name": AGENCY_NAMES[agency_id],
        "dataset": "stops",
        "datasets": ["stops", "arrests", *demo_records.DATASETS],
        **result,
        **arrests,
        "files": result["files"] + arrests["files"] + records["files"],
        "facts": records["facts"],
        "links": records["links"],
        "record_effects": records["effects"],
    }


def generate(landing_dir: Path, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> dict:
    """Write the three demo agencies' stop exports and demo_manifest.json; return the manifest.

    Deterministic: the same rows and seed give byte-identical files; unchanged files are left
    untouched (same mtime)."""
    if rows < MIN_ROWS:
        raise ValueError(f"rows must be at least {MIN_ROWS}, got {rows}")
    landing = Path(landing_dir)
    counts = split_rows(rows)
    # Children 0-2 of the seed drive the stops (as before arrests existed, so the stop exports
    # are unchanged), children 3-5 the arrests, children 6-8 the other record types (spawning
    # more children leaves the first ones as they were).
    streams = np.random.SeedSequence(seed).spawn(3 * len(AGENCIES))
    jobs = [
        (landing, agency_id, counts[agency_id], streams[n :: len(AGENCIES)])
        for n, agency_id in enumerate(AGENCIES)
    ]
    if rows >= PARALLEL_MIN_ROWS and (os.cpu_count() or 1) > 1:
        # The agencies are independent (each its own streams): alder, half the rows, in one
        # process while the others are written in another (10 million stops: 340 s -> 177 s).
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            agencies = dict(zip(AGENCIES, pool.map(_generate_agency, jobs), strict=True))
    else:
        agencies = dict(zip(AGENCIES, map(_generate_agency, jobs), strict=True))
    for agency_id, entry in agencies.items():
        _warn_foreign_files(landing, agency_id, entry["files"])
    manifest = {
        "generator": "ingestion.demo",
        "manifest_version": MANIFEST_VERSION,
        "seed": seed,
        "rows": rows,
        "year": YEAR,
        "agencies": agencies,
        "expected_accepted_person_stops": {
            a: agencies[a]["expected_accepted_person_stops"] for a in AGENCIES
        },
        "expected_accepted_arrests": {
            a: agencies[a]["expected_accepted_arrests"] for a in AGENCIES
        },
        "expected_facts": {a: agencies[a]["facts"] for a in AGENCIES},
        "effects": {a: EFFECTS[a].as_dict() for a in AGENCIES},
    }
    # "written" says whether this run changed the file; it is not part of the stored manifest.
    stored = json.loads(json.dumps(manifest))
    for entry in stored["agencies"].values():
        for f in entry["files"]:
            f.pop("written", None)
    text = json.dumps(stored, indent=2, ensure_ascii=False) + "\n"
    _write_file(landing / MANIFEST_NAME, _write_chunks([text.encode("utf-8")]))
    return manifest


def _warn_foreign_files(landing: Path, agency_id: str, files: list[dict]) -> None:
    for dataset in sorted({f["dataset"] for f in files}):
        folder = landing / agency_id / dataset
        ours = {Path(f["path"]).name for f in files if f["dataset"] == dataset}
        others = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in ours)
        if others:
            log.warning(
                "%s holds files this run did not write (left in place; ingestion will load "
                "them): %s",
                folder,
                ", ".join(others),
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion.demo",
        description="Write three fictional agencies' stop exports into the landing zone.",
    )
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="approximate person-stops in total"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="landing directory (default: the project's landing zone)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    out = args.out
    if out is None:
        from ingestion import settings

        out = settings.landing_dir()
    manifest = generate(out, rows=args.rows, seed=args.seed)
    files = [f for a in manifest["agencies"].values() for f in a["files"]]
    written = sum(1 for f in files if f["written"])
    accepted = sum(manifest["expected_accepted_person_stops"].values())
    arrests = sum(manifest["expected_accepted_arrests"].values())
    print(
        f"demo data in {out}: {len(files)} files ({written} written, {len(files) - written} unchanged), "
        f"{accepted} person-stops and {arrests} arrestees expected after ingestion (seed {args.seed})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

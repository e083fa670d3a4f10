"""Known-answer tests of the disparity and performance marts (dbt/models/marts/analytics).

One synthetic warehouse, raw tables as ingestion/CONTRACT.md says dlt writes them, built once
with `dbt build` (models and their data tests) for everything upstream of the marts:

- oak_pd, injected effects (seeded draws): black residents stopped at 2x the white rate per
  resident; searched at 2x (the same split by discretion); hits at 0.5x; arrests per search
  0.5x; force per arrest 2x (so per stop 2x too). Every ratio must come back inside its 95%
  interval, and be flagged as a disparity.
- pine_pd, no effect: the same rates for black and white people; nothing may be flagged. Two
  tiny groups (4 and 15 people stopped) exercise primary and complementary suppression.
- elm_pd, exact counts for a hand computation of the within-district averaged hit rate, where
  pooling and averaging disagree (Simpson's paradox).
- oak_pd complaints, exact counts: sustained rates by category and by complainant race.
- ash_pd, exact survey answers (units of 12, 20 and 7 respondents: the 7 suppressed, the 12
  with it as its complementary cell) and response times (priority 1: 11 calls of 1..11 minutes;
  priorities 2 and 3: 5 and 4 calls, suppressed) for hand-computed means, medians, percentiles
  and their intervals.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from dagster_project.defs import transform
from ingestion import settings
from ingestion.pipeline import FILES_SCHEMA

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
Z = 1.959963984540054
K = 10  # dbt var small_numbers_threshold
# The marts and everything upstream, but only the analytics marts' own tests: the upstream
# models' tests belong to their own test modules, and skipping them halves the build.
SELECTION = (
    "--select", "+mart_performance_measures", "+mart_decision_log", "path:models/marts/analytics",
    "--indirect-selection", "empty",
)  # fmt: skip
ANALYTICS = (
    "mart_benchmark_rates", "mart_relative_rate_index", "mart_search_rates", "mart_hit_rates",
    "mart_use_of_force_rates", "mart_complaint_outcomes",
)  # fmt: skip
# The marts of the record types beyond stops (only ash_pd has survey answers and calls).
MEASURE_MARTS = (
    "mart_bwc_compliance", "mart_school_contacts", "mart_survey_scores", "mart_response_times",
)  # fmt: skip
BOOLEANS = {"true": "true", "false": "false"}
LOADED_AT = "2024-02-01 02:00:00+00"


def canonical(dataset: str) -> dict[str, dict]:
    return yaml.safe_load((PROJECT_ROOT / "ingestion/canonical" / f"{dataset}.yml").read_text())[
        "fields"
    ]


def raw_columns(dataset: str) -> list[str]:
    return [
        f"{name}_hash" if spec.get("personal") else name
        for name, spec in canonical(dataset).items()
        if spec["type"] != "datetime"
    ]


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema raw")
    for dataset in settings.DATASETS:
        columns = ", ".join(f'"{column}" varchar' for column in raw_columns(dataset))
        con.execute(
            f"create table raw.{dataset} ({columns}, _agency_id varchar, _dataset varchar,"
            " _source_file varchar, _source_row bigint, _file_hash varchar,"
            " _loaded_at timestamptz, _load_id varchar)"
        )
    con.execute(
        "create table raw.rejects (agency_id varchar, dataset varchar, source_file varchar,"
        " file_hash varchar, source_row bigint, column_name varchar, raw_text varchar,"
        " reason varchar, loaded_at timestamptz, load_id varchar)"
    )
    con.register("_files_schema", FILES_SCHEMA.empty_table())
    con.execute("create table raw.files as select * from _files_schema")
    con.unregister("_files_schema")
    con.execute(
        "create table raw.value_maps (agency_id varchar, dataset varchar, field varchar,"
        " source_value varchar, canonical_value varchar)"
    )
    con.execute("create table raw.not_recorded (agency_id varchar, dataset varchar, field varchar)")
    con.execute(
        "create table raw.agencies (agency_id varchar, agency_name varchar, ori varchar,"
        " state varchar, city varchar, time_zone varchar, latitude double, longitude double,"
        " first_year bigint, reference_group varchar)"
    )
    con.execute(
        "create table raw.population (agency_id varchar, year bigint, subject_race varchar,"
        " population bigint)"
    )


def insert(con: duckdb.DuckDBPyConnection, dataset: str, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows).astype(object)
    frame["_dataset"] = dataset
    frame["_source_file"] = frame["_agency_id"] + f"/{dataset}/2023.csv"
    frame["_source_row"] = range(2, len(frame) + 2)
    frame["_file_hash"] = "sha-" + frame["_agency_id"] + "-" + dataset
    frame["_loaded_at"] = pd.Timestamp(LOADED_AT)
    frame["_load_id"] = "load-1"
    con.register("_rows", frame)
    con.execute(f"insert into raw.{dataset} by name select * from _rows")
    con.unregister("_rows")


def stops_for(agency: str, rng: np.random.Generator, groups: dict[str, dict]) -> list[dict]:
    """Person-stops by race with drawn district, search, basis and hit (one person per stop)."""
    rows = []
    for race, spec in groups.items():
        n = spec["stops"] if isinstance(spec["stops"], int) else int(rng.poisson(spec["stops"][0]))
        for i in range(n):
            searched = rng.random() < spec.get("search", 0.0)
            basis = rng.choice(
                ["consent", "incident_to_arrest", "inventory", "probable_cause"],
                p=[0.3, 0.2, 0.1, 0.4],
            )
            rows.append(
                {
                    "_agency_id": agency,
                    "source_record_id": f"{race[:3]}-{i}",
                    "stop_date": "2023-06-15",
                    "subject_race": race,
                    "district": "N" if rng.random() < 0.5 else "S",
                    "search_conducted": str(searched).lower(),
                    "search_basis_detail": basis if searched else None,
                    "contraband_found": str(bool(searched and rng.random() < spec["hit"])).lower()
                    if searched
                    else None,
                }
            )
    return rows


def elm_stops() -> list[dict]:
    """Exact counts: district N white 200 searched / 80 hits, black 50 / 15; district S white
    100 / 10, black 200 / 20; 100 people of each race not searched in each district."""
    cells = {
        ("N", "white"): (200, 80), ("N", "black"): (50, 15),
        ("S", "white"): (100, 10), ("S", "black"): (200, 20),
    }  # fmt: skip
    rows = []
    for (district, race), (searched, hits) in cells.items():
        for i in range(searched + 100):
            rows.append(
                {
                    "_agency_id": "elm_pd",
                    "source_record_id": f"{district}-{race}-{i}",
                    "stop_date": "2023-03-01",
                    "subject_race": race,
                    "district": district,
                    "search_conducted": str(i < searched).lower(),
                    "search_basis_detail": "probable_cause" if i < searched else None,
                    "contraband_found": str(i < hits).lower() if i < searched else None,
                }
            )
    return rows


def arrests_for(agency: str, rng: np.random.Generator, means: dict[str, float]) -> list[dict]:
    return [
        {
            "_agency_id": agency,
            "source_record_id": f"A-{race[:3]}-{i}",
            "arrest_date": "2023-07-01",
            "subject_race": race,
            "district": "N" if rng.random() < 0.5 else "S",
        }
        for race, mean in means.items()
        for i in range(int(rng.poisson(mean)))
    ]


def force_for(agency: str, rng: np.random.Generator, means: dict[str, float]) -> list[dict]:
    return [
        {
            "_agency_id": agency,
            "source_record_id": f"F-{race[:3]}-{i}",
            "incident_record_id": f"I-{race[:3]}-{i}",
            "incident_date": "2023-08-01",
            "force_level": "level_1",
            "subject_race": race,
            "district": "N" if rng.random() < 0.5 else "S",
        }
        for race, mean in means.items()
        for i in range(int(rng.poisson(mean)))
    ]


def complaint_rows() -> tuple[list[dict], list[dict], list[dict]]:
    """C1-C100 white complainants, C101-C200 black. Each complaint: a force allegation and a
    courtesy allegation. Sustained: white force 20, courtesy 40; black force 10, courtesy 20;
    the courtesy allegations of C181-C200 (black, none sustained) are still open."""
    complaints, allegations, complainants = [], [], []
    for number in range(1, 201):
        black = number > 100
        index = number - 100 if black else number
        complaints.append(
            {
                "_agency_id": "oak_pd",
                "source_record_id": f"C{number}",
                "received_date": "2023-05-02",
            }
        )
        complainants.append(
            {
                "_agency_id": "oak_pd",
                "complaint_record_id": f"C{number}",
                "complainant_seq": "1",
                "subject_race": "black" if black else "white",
            }
        )
        force_sustained = index <= (10 if black else 20)
        courtesy_sustained = index <= (20 if black else 40)
        for seq, category, sustained in (
            (1, "force", force_sustained),
            (2, "conduct_courtesy", courtesy_sustained),
        ):
            finding = "sustained" if sustained else "not_sustained"
            if black and category == "conduct_courtesy" and index > 80:
                finding = "open"
            allegations.append(
                {
                    "_agency_id": "oak_pd",
                    "source_record_id": f"C{number}",
                    "allegation_seq": str(seq),
                    "complaint_record_id": f"C{number}",
                    "category": category,
                    "final_finding": finding,
                }
            )
    return complaints, allegations, complainants


# ash_pd's climate survey: unit -> each respondent's supervisor_support score (two items, SS2
# reverse-scored, both giving the score).
SURVEY_SCORES = {
    "Alpha": [1 + i % 5 for i in range(12)],
    "Beta": [2 + i % 3 for i in range(20)],
    "Gamma": [4] * 7,
}
# ash_pd's calls: priority -> response minutes, all in beat B1.
RESPONSE_MINUTES = {1: list(range(1, 12)), 2: [3, 4, 5, 6, 7], 3: [20, 21, 22, 23]}


def ash_rows() -> dict[str, list[dict]]:
    responses, answers, calls = [], [], []
    for unit, scores in SURVEY_SCORES.items():
        for i, score in enumerate(scores):
            rid = f"{unit}-{i}"
            responses.append(
                {
                    "_agency_id": "ash_pd",
                    "source_record_id": rid,
                    "survey_wave": "2023-fall",
                    "survey_type": "officer_climate",
                    "unit": unit,
                    "completed_date": "2023-10-02",
                }
            )
            for item, value, reverse in (("SS1", score, "false"), ("SS2", 6 - score, "true")):
                answers.append(
                    {
                        "_agency_id": "ash_pd",
                        "response_record_id": rid,
                        "item_id": item,
                        "construct": "supervisor_support",
                        "response_value": str(value),
                        "reverse_scored": reverse,
                    }
                )
    for priority, minutes in RESPONSE_MINUTES.items():
        for i, minute in enumerate(minutes):
            calls.append(
                {
                    "_agency_id": "ash_pd",
                    "source_record_id": f"P{priority}-{i}",
                    "received_date": "2023-04-03",
                    "received_time": "10:00:00",
                    "arrived_date": "2023-04-03",
                    "arrived_time": f"10:{minute:02d}:00",
                    "priority": str(priority),
                    "district": "B",
                    "beat": "B1",
                }
            )
    return {
        "survey_responses": responses,
        "survey_item_responses": answers,
        "calls_for_service": calls,
    }


def insert_value_maps(con: duckdb.DuckDBPyConnection, agencies: list[str]) -> None:
    rows = []
    for agency in agencies:
        for dataset in settings.DATASETS:
            for field, spec in canonical(dataset).items():
                if spec["type"] in ("code", "list"):
                    rows += [(agency, dataset, field, v, v) for v in spec.get("domain", [])]
                elif spec["type"] == "boolean":
                    rows += [(agency, dataset, field, k, v) for k, v in BOOLEANS.items()]
    con.executemany("insert into raw.value_maps values (?, ?, ?, ?, ?)", rows)


def build_raw_warehouse(path: Path) -> None:
    rng = np.random.default_rng(20231)
    con = duckdb.connect(str(path))
    try:
        create_raw_tables(con)
        agencies = ["oak_pd", "pine_pd", "elm_pd", "ash_pd"]
        insert_value_maps(con, agencies)
        for agency in agencies:
            con.execute(
                "insert into raw.agencies values (?, ?, 'XX0000000', 'OR', 'Portland',"
                " 'America/Los_Angeles', 45.5, -122.6, 2020, 'white')",
                [agency, agency.replace("_", " ").title()],
            )
        con.executemany(
            "insert into raw.population values (?, 2023, ?, ?)",
            [
                ("oak_pd", "white", 100_000), ("oak_pd", "black", 50_000),
                ("oak_pd", "hispanic", 20_000),
                ("pine_pd", "white", 100_000), ("pine_pd", "black", 100_000),
            ],
        )  # fmt: skip
        oak = {
            "white": {"stops": (8000,), "search": 0.05, "hit": 0.30},
            "black": {"stops": (8000,), "search": 0.10, "hit": 0.15},
            "hispanic": {"stops": (1600,), "search": 0.05, "hit": 0.30},
            "unknown": {"stops": 20, "hit": 0.3},
        }
        pine = {
            "white": {"stops": (8000,), "search": 0.06, "hit": 0.30},
            "black": {"stops": (8000,), "search": 0.06, "hit": 0.30},
            "other": {"stops": 4, "hit": 0.3},
            "asian/pacific islander": {"stops": 15, "hit": 0.3},
        }
        insert(con, "stops", stops_for("oak_pd", rng, oak) + stops_for("pine_pd", rng, pine) + elm_stops())  # fmt: skip
        insert(
            con,
            "arrests",
            arrests_for("oak_pd", rng, {"white": 800, "black": 800, "hispanic": 160})
            + arrests_for("pine_pd", rng, {"white": 500, "black": 500}),
        )
        insert(con, "use_of_force", force_for("oak_pd", rng, {"white": 40, "black": 80, "hispanic": 20}))  # fmt: skip
        complaints, allegations, complainants = complaint_rows()
        insert(con, "complaints", complaints)
        insert(con, "allegations", allegations)
        insert(con, "complainants", complainants)
        for dataset, rows in ash_rows().items():
            insert(con, dataset, rows)
    finally:
        con.close()


class Warehouse:
    def __init__(self, root: Path) -> None:
        self.path = root / "warehouse.duckdb"
        self.target = root / "target"
        self.logs = root / "logs"

    def dbt(self, *args: str) -> tuple[int, str, dict[str, str]]:
        env = {**os.environ, **transform.dbt_child_environment(self.path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}  # fmt: skip
        transform.seed_parse_state(self.target)
        completed = subprocess.run(
            [
                sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())", *args,
                "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target-path", str(self.target), "--log-path", str(self.logs),
            ],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        results = json.loads((self.target / "run_results.json").read_text())["results"]
        statuses = {r["unique_id"].split(".")[2]: r["status"] for r in results}
        return completed.returncode, completed.stdout + completed.stderr, statuses

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def row(self, mart: str, agency: str, measure: str, group: str, unit: str = "all") -> dict:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            frame = con.execute(
                f"select * from marts.{mart} where agency_id = ? and measure = ?"
                " and group_name = ? and unit = ?",
                [agency, measure, group, unit],
            ).df()
        finally:
            con.close()
        assert len(frame) == 1, (mart, agency, measure, group, unit, frame)
        return {k: (None if pd.isna(v) else v) for k, v in frame.iloc[0].to_dict().items()}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    built = Warehouse(tmp_path_factory.mktemp("analytics"))
    build_raw_warehouse(built.path)
    returncode, output, statuses = built.dbt("build", *SELECTION)
    problems = {n: s for n, s in statuses.items() if s in ("fail", "error", "warn")}
    assert returncode == 0 and not problems, (problems, output[-3000:])
    # every suppression and grain test of the analytics marts ran (and passed)
    assert sum(name.startswith("complementary_suppression_holds") for name in statuses) >= 15
    return built


def assert_recovered(row: dict, true_ratio: float) -> None:
    assert row["ratio_lower"] <= true_ratio <= row["ratio_upper"], row
    assert row["is_disparity"] is True and row["flag"] == "ok", row


def test_injected_disparities_come_back_within_their_intervals(warehouse: Warehouse) -> None:
    injected = [
        ("mart_benchmark_rates", "stops_per_1000_residents", 2.0),
        ("mart_search_rates", "search_rate", 2.0),
        ("mart_search_rates", "search_rate_higher_discretion", 2.0),
        ("mart_search_rates", "search_rate_lower_discretion", 2.0),
        ("mart_hit_rates", "hit_rate", 0.5),
        ("mart_hit_rates", "hit_rate_district_average", 0.5),
        ("mart_relative_rate_index", "rri_stop", 2.0),
        ("mart_relative_rate_index", "rri_search", 2.0),
        ("mart_relative_rate_index", "rri_arrest", 0.5),
        ("mart_relative_rate_index", "rri_use_of_force", 2.0),
        ("mart_use_of_force_rates", "use_of_force_per_1000_arrests", 2.0),
        ("mart_use_of_force_rates", "use_of_force_per_10000_stops", 2.0),
    ]
    for mart, measure, true_ratio in injected:
        row = warehouse.row(mart, "oak_pd", measure, "black")
        assert row["comparison_group"] == "white"
        assert_recovered(row, true_ratio)
        # the ratio is the two published estimates' ratio
        assert row["ratio"] == pytest.approx(row["estimate"] / row["comparison_estimate"], rel=1e-4)
    # OJJDP's "insufficient cases": 20 unknown people stopped is too small a base to test
    unknown = warehouse.row("mart_relative_rate_index", "oak_pd", "rri_search", "unknown")
    assert (unknown["numerator"], unknown["denominator"]) == (0, 20)
    assert unknown["is_insufficient"] and unknown["flag"] == "insufficient_cases"
    assert not unknown["is_disparity"]
    # hispanic residents are stopped at the white rate: no disparity
    hispanic = warehouse.row(
        "mart_benchmark_rates", "oak_pd", "stops_per_1000_residents", "hispanic"
    )
    assert hispanic["ratio_lower"] <= 1.0 <= hispanic["ratio_upper"]
    assert hispanic["is_disparity"] is False


def test_benchmark_rate_is_per_1000_residents_with_poisson_interval(warehouse: Warehouse) -> None:
    row = warehouse.row("mart_benchmark_rates", "oak_pd", "stops_per_1000_residents", "black")
    stops = row["numerator"]
    assert row["denominator"] == 50_000 and row["population_year"] == 2023
    assert row["estimate"] == pytest.approx(1000 * stops / 50_000, abs=1e-6)
    white = warehouse.row("mart_benchmark_rates", "oak_pd", "stops_per_1000_residents", "white")
    se = math.sqrt(1 / stops + 1 / white["numerator"])
    ratio = (stops / 50_000) / (white["numerator"] / 100_000)
    assert (row["ratio_lower"], row["ratio_upper"]) == pytest.approx(
        (ratio * math.exp(-Z * se), ratio * math.exp(Z * se)), abs=1e-6
    )
    assert white["ratio"] == 1.0 and white["ratio_lower"] is None
    # unknown has no benchmark: counted, no rate
    unknown = warehouse.row("mart_benchmark_rates", "oak_pd", "stops_per_1000_residents", "unknown")
    assert (unknown["numerator"], unknown["denominator"], unknown["estimate"]) == (20, None, None)


def test_no_injected_effect_flags_nothing(warehouse: Warehouse) -> None:
    flagged = warehouse.rows(
        "select measure, group_name, ratio, ratio_lower, ratio_upper from ("
        + " union all ".join(
            f"select measure, group_name, ratio, ratio_lower, ratio_upper, is_disparity, agency_id,"
            f" unit from marts.{mart}"
            for mart in ANALYTICS
        )
        + ") where agency_id = 'pine_pd' and unit = 'all' and is_disparity"
    )
    assert flagged == []
    tested = warehouse.rows(
        "select measure from marts.mart_search_rates where agency_id = 'pine_pd'"
        " and group_name = 'black' and unit = 'all' and ratio_lower is not null"
    )
    assert len(tested) == 3  # the comparisons were made, and none was flagged


def test_within_district_averaged_hit_rate_by_hand(warehouse: Warehouse) -> None:
    # district N: white 80/200 = 0.40, black 15/50 = 0.30; district S: white 10/100, black 20/200
    white_mean, black_mean = (0.40 + 0.10) / 2, (0.30 + 0.10) / 2
    white_var = (0.4 * 0.6 / 200 + 0.1 * 0.9 / 100) / 4
    black_var = (0.3 * 0.7 / 50 + 0.1 * 0.9 / 200) / 4
    black = warehouse.row("mart_hit_rates", "elm_pd", "hit_rate_district_average", "black")
    assert black["estimate"] == pytest.approx(0.20, abs=1e-6)
    assert (black["lower"], black["upper"]) == pytest.approx(
        (0.20 - Z * math.sqrt(black_var), 0.20 + Z * math.sqrt(black_var)), abs=1e-6
    )
    assert (black["numerator"], black["denominator"], black["districts_averaged"]) == (35, 250, 2)
    assert black["comparison_estimate"] == pytest.approx(white_mean, abs=1e-6)
    assert black["ratio"] == pytest.approx(0.8, abs=1e-6)
    se = math.sqrt(black_var / black_mean**2 + white_var / white_mean**2)
    assert (black["ratio_lower"], black["ratio_upper"]) == pytest.approx(
        (0.8 * math.exp(-Z * se), 0.8 * math.exp(Z * se)), abs=1e-6
    )
    # pooled over the agency the same searches give 35/250 = 0.14 against 90/300 = 0.30
    pooled = warehouse.row("mart_hit_rates", "elm_pd", "hit_rate", "black")
    assert pooled["estimate"] == pytest.approx(0.14) and pooled["ratio"] == pytest.approx(
        0.14 / 0.3, abs=1e-6
    )
    district = warehouse.row("mart_hit_rates", "elm_pd", "hit_rate", "black", unit="N")
    assert (district["numerator"], district["denominator"], district["unit_type"]) == (
        15,
        50,
        "district",
    )
    assert district["estimate"] == pytest.approx(0.3)


def test_sustained_rates_by_category_and_complainant_race(warehouse: Warehouse) -> None:
    rates = {
        (group_type, group): (n, d, estimate)
        for group_type, group, n, d, estimate in warehouse.rows(
            "select group_type, group_name, numerator, denominator, estimate"
            " from marts.mart_complaint_outcomes where agency_id = 'oak_pd'"
        )
    }
    assert rates[("allegation_category", "force")] == (30, 200, pytest.approx(0.15))
    assert rates[("allegation_category", "conduct_courtesy")] == (
        60,
        180,
        pytest.approx(1 / 3, abs=1e-6),
    )
    assert rates[("all", "all")] == (90, 380, pytest.approx(90 / 380, abs=1e-6))
    black = warehouse.row("mart_complaint_outcomes", "oak_pd", "sustained_rate", "black")
    assert (black["numerator"], black["denominator"]) == (30, 180)
    ratio = (30 / 180) / (60 / 200)
    se = math.sqrt(1 / 30 - 1 / 180 + 1 / 60 - 1 / 200)
    assert black["ratio"] == pytest.approx(ratio, abs=1e-6)
    assert (black["ratio_lower"], black["ratio_upper"]) == pytest.approx(
        (ratio * math.exp(-Z * se), ratio * math.exp(Z * se)), abs=1e-6
    )
    category = warehouse.row("mart_complaint_outcomes", "oak_pd", "sustained_rate", "force")
    assert category["comparison_group"] is None and category["ratio"] is None


def published_counts(warehouse: Warehouse) -> pd.DataFrame:
    frames = []
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        for mart in ANALYTICS + MEASURE_MARTS:
            frame = con.execute(f"select * from marts.{mart}").df()
            frame["mart"] = mart
            frames.append(frame)
    finally:
        con.close()
    return pd.concat(frames, ignore_index=True)


def test_no_published_count_below_the_threshold(warehouse: Warehouse) -> None:
    counts = published_counts(warehouse)
    count_columns = ["numerator", "comparison_numerator", "denominator", "comparison_denominator"]
    population_based = counts["mart"].eq("mart_benchmark_rates") | counts["measure"].eq("rri_stop")
    for column in count_columns:
        values = counts.loc[~population_based, column].dropna()
        assert not values.between(1, K - 1).any(), column
    assert not counts["numerator"].dropna().between(1, K - 1).any()
    # an estimate or ratio is never computed from a suppressed count
    suppressed = counts[counts["is_suppressed"]]
    assert len(suppressed) > 0
    assert suppressed["estimate"].isna().all() and suppressed["ratio"].isna().all()
    assert (suppressed["flag"] == "suppressed").all()


def test_complementary_suppression_hides_the_next_smallest_cell(warehouse: Warehouse) -> None:
    # pine_pd: 4 other people stopped (suppressed) and 15 asian/pacific islander people, the
    # next-smallest group: published, it would give the 4 back from the total of fct_stops.
    rows = {
        group: (numerator, flag)
        for group, numerator, flag in warehouse.rows(
            "select group_name, numerator, flag from marts.mart_benchmark_rates"
            " where agency_id = 'pine_pd' and measure = 'stops_per_1000_residents'"
        )
    }
    assert rows["other"] == (None, "suppressed")
    assert rows["asian/pacific islander"] == (None, "suppressed")
    assert rows["white"][0] > K and rows["black"][0] > K
    # and in every published set of cells: never exactly one suppressed beside a published count
    counts = published_counts(warehouse)
    for keys in (
        ["mart", "agency_id", "period", "unit_type", "unit", "measure", "group_type"],
        ["mart", "agency_id", "period", "unit_type", "measure", "group_type", "group_name"],
    ):
        for _, cells in counts.groupby(keys, dropna=False):
            lone = cells["numerator"].isna().sum() == 1
            assert not (lone and (cells["numerator"] > 0).any()), cells[keys + ["numerator"]]


def test_performance_measures_and_decision_log(warehouse: Warehouse) -> None:
    measures = dict(
        warehouse.rows(
            "select source_model, count(*) from marts.mart_performance_measures"
            " where agency_id = 'oak_pd' group by 1"
        )
    )
    assert set(measures) == set(ANALYTICS)
    (search_ratio,) = warehouse.rows(
        "select value, lower, upper, is_disparity, comparison_group"
        " from marts.mart_performance_measures where agency_id = 'oak_pd'"
        " and measure = 'search_rate_ratio' and group_name = 'black' and unit = 'all'"
    )
    source = warehouse.row("mart_search_rates", "oak_pd", "search_rate", "black")
    assert search_ratio == (
        source["ratio"],
        source["ratio_lower"],
        source["ratio_upper"],
        True,
        "white",
    )
    log = {
        (analysis, rule): (before, after)
        for analysis, rule, before, after in warehouse.rows(
            "select analysis, rule, rows_before, rows_after from marts.mart_decision_log"
            " where agency_id = 'oak_pd' and period = 2023"
        )
    }
    (oak_stops,) = warehouse.rows(
        "select count(*) from marts.fct_stops where agency_id = 'oak_pd'"
    )[0]
    assert log[("mart_benchmark_rates", "stops: group has a population benchmark")] == (
        oak_stops,
        oak_stops - 20,
    )
    assert log[("mart_complaint_outcomes", "allegation closed")] == (400, 380)
    assert log[("mart_relative_rate_index", "decision points with both datasets")] == (4, 4)
    # pine_pd: 6 benchmark rows (stops of 4 groups, arrests of 2), 2 suppressed
    assert warehouse.rows(
        "select rows_before, rows_after from marts.mart_decision_log where agency_id = 'pine_pd'"
        " and analysis = 'mart_benchmark_rates' and rule = 'small numbers suppressed (rows)'"
    ) == [(6, 4)]


def t_interval(values: list[float]) -> tuple[float, float, float]:
    from scipy import stats

    n = len(values)
    mean = float(np.mean(values))
    half = stats.t.ppf(0.975, n - 1) * float(np.std(values, ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def test_survey_scores_only_for_cells_of_at_least_ten_respondents(warehouse: Warehouse) -> None:
    measure = "officer_climate_supervisor_support"
    beta = warehouse.row("mart_survey_scores", "ash_pd", measure, "all", unit="Beta")
    mean, lower, upper = t_interval(SURVEY_SCORES["Beta"])
    assert beta["numerator"] == 20 and beta["flag"] == "ok" and beta["denominator"] is None
    assert beta["estimate"] == pytest.approx(mean, abs=1e-6)
    # Cornish-Fisher t quantile: within 0.0003 of the exact one (times sd / sqrt(n))
    assert beta["lower"] == pytest.approx(lower, abs=5e-4)
    assert beta["upper"] == pytest.approx(upper, abs=5e-4)
    # Gamma (7 respondents) is suppressed; Alpha (12) too, or the agency's 39 minus Beta's 20
    # would give Gamma's count and, with the means, its mean back.
    for unit in ("Gamma", "Alpha"):
        row = warehouse.row("mart_survey_scores", "ash_pd", measure, "all", unit=unit)
        assert row["flag"] == "suppressed" and row["is_suppressed"], row
        assert row["numerator"] is None and row["estimate"] is None and row["lower"] is None
    assert warehouse.row("mart_survey_scores", "ash_pd", measure, "all", unit="Gamma")[
        "is_small_numbers"
    ]
    agency = warehouse.row("mart_survey_scores", "ash_pd", measure, "all")
    everyone = [score for scores in SURVEY_SCORES.values() for score in scores]
    mean, lower, upper = t_interval(everyone)
    assert agency["numerator"] == 39 and agency["unit_type"] == "agency"
    assert agency["estimate"] == pytest.approx(mean, abs=1e-6)
    assert agency["lower"] == pytest.approx(lower, abs=5e-4)
    assert agency["upper"] == pytest.approx(upper, abs=5e-4)


def test_response_times_by_priority_and_beat(warehouse: Warehouse) -> None:
    rows = {
        (unit, measure, group): (n, estimate, lower, upper, flag)
        for unit, measure, group, n, estimate, lower, upper, flag in warehouse.rows(
            "select unit, measure, group_name, numerator, estimate, lower, upper, flag"
            " from marts.mart_response_times where agency_id = 'ash_pd'"
        )
    }
    for unit in ("all", "B1"):
        # 1..11 minutes: median 6 within order statistics 2 and 10 (ranks floor(5.5 - 1.96 *
        # sqrt(2.75)) and ceil(5.5 + 1.96 * sqrt(2.75)) + 1); 90th percentile 10 within 7 and 11
        assert rows[(unit, "response_minutes_median", "1")] == (11, 6.0, 2.0, 10.0, "ok")
        assert rows[(unit, "response_minutes_p90", "1")] == (11, 10.0, 7.0, 11.0, "ok")
        n, mean, lower, upper, flag = rows[(unit, "response_minutes_mean", "1")]
        _, t_lower, t_upper = t_interval(RESPONSE_MINUTES[1])
        assert (n, mean, flag) == (11, 6.0, "ok")
        assert lower == pytest.approx(t_lower, abs=5e-4) and upper == pytest.approx(
            t_upper, abs=5e-4
        )
        for priority in ("2", "3"):  # 5 and 4 calls
            assert rows[(unit, "response_minutes_median", priority)] == (
                None, None, None, None, "suppressed",
            )  # fmt: skip
        everything = sorted(m for minutes in RESPONSE_MINUTES.values() for m in minutes)
        n, median, *_ = rows[(unit, "response_minutes_median", "all")]
        assert (n, median) == (20, float(np.median(everything)))
    log = dict(
        warehouse.rows(
            "select rule, rows_after from marts.mart_decision_log"
            " where agency_id = 'ash_pd' and analysis = 'mart_response_times'"
        )
    )
    assert log["response time recorded"] == 20
    assert log["beat recorded (beat rows)"] == 20


def test_no_camera_coverage_without_camera_recordings(warehouse: Warehouse) -> None:
    # oak_pd sends force incidents and stops but no recordings: no coverage row (it would read
    # 0%), and the decision log says why
    assert warehouse.rows("select count(*) from marts.mart_bwc_compliance") == [(0,)]
    (oak_force,) = warehouse.rows(
        "select count(*) from marts.fct_use_of_force_incidents where agency_id = 'oak_pd'"
    )[0]
    assert oak_force > 0
    assert warehouse.rows(
        "select rows_before, rows_after from marts.mart_decision_log where agency_id = 'oak_pd'"
        " and rule = 'force incidents: agency sends body-worn camera recordings'"
    ) == [(oak_force, 0)]

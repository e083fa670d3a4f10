"""The agencies' own texts: read verbatim, a missing one published as missing, and nothing
personal (contact details, unknown fields) ever reaches the release."""

from __future__ import annotations

import textwrap

import duckdb
import pytest

from dagster_project import narratives
from dagster_project.narratives import NarrativeError


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture
def agencies(tmp_path):
    write(
        tmp_path / "a_pd" / "narrative" / "bwc_policy.md",
        """
        ---
        title: Camera policy
        effective_from: 2023-01-01
        effective_to: 2023-12-31
        ---
        Cameras record every stop.

        - Footage kept 180 days.
        """,
    )
    write(
        tmp_path / "a_pd" / "narrative" / "community_input.yml",
        """
        - date: 2023-05-01
          channel: public meeting
          topic: cameras
          summary: Asked for longer retention.
          response: Retention raised to 180 days.
        """,
    )
    (tmp_path / "b_pd").mkdir()
    return tmp_path


def test_documents_are_read_verbatim_and_missing_ones_stated(agencies, tmp_path):
    docs = {d.document: d for d in narratives.load_documents(agencies, "a_pd")}
    assert docs["bwc_policy"].status == "published"
    assert (
        docs["bwc_policy"].body_markdown == "Cameras record every stop.\n\n- Footage kept 180 days."
    )
    assert str(docs["bwc_policy"].effective_to) == "2023-12-31"
    assert [d for d, doc in docs.items() if doc.status == "missing"] == [
        "stop_strategy",
        "school_officer_role",
        "actions_taken",
    ]
    release = tmp_path / "release"
    written = narratives.write_narratives(release, agencies, ["a_pd", "b_pd"])
    assert "narratives/community_input.parquet" in written
    con = duckdb.connect()
    rows = con.execute(
        f"select agency_id, status, count(*) from read_parquet('{release}/narratives/"
        "agency_documents.parquet') group by all order by all"
    ).fetchall()
    logs = con.execute(
        f"select * from read_parquet('{release}/narratives/community_input_logs.parquet')"
        " order by all"
    ).fetchall()
    con.close()
    assert rows == [("a_pd", "missing", 3), ("a_pd", "published", 1), ("b_pd", "missing", 4)]
    assert logs == [("a_pd", True), ("b_pd", False)]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  summary: Call me on 503-555-0142 please.\n", "a phone number"),
        ("  summary: Write to resident@example.org\n", "an e-mail address"),
        ("  summary: Fine.\n  name: A. Resident\n", "unknown field(s) ['name']"),
    ],
)
def test_personal_data_in_the_community_log_is_refused(tmp_path, entry, message):
    path = tmp_path / "c_pd" / "narrative" / "community_input.yml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "- date: 2023-01-02\n  channel: letter\n  topic: stops\n" + entry, encoding="utf-8"
    )
    with pytest.raises(NarrativeError) as error:
        narratives.load_community_input(tmp_path, "c_pd")
    assert "c_pd/narrative/community_input.yml entry 1" in str(error.value)
    assert message in str(error.value)


def test_a_document_without_dates_is_refused(tmp_path):
    write(tmp_path / "d_pd" / "narrative" / "stop_strategy.md", "---\ntitle: x\n---\nText.\n")
    with pytest.raises(NarrativeError, match="stop_strategy.md: effective_from is required"):
        narratives.load_documents(tmp_path, "d_pd")

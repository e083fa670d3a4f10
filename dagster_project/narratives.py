"""The texts an agency maintains beside its configuration: policies, its stop strategy, the actions
it took to address disparities, and the log of community input it received.

They live in `ingestion/agencies/<agency_id>/narrative/` (ingestion/CONTRACT.md): one Markdown file
per document with a small YAML header (title, effective dates, who adopted it) and
`community_input.yml`. Lantern shows them verbatim on the site and in the annual report and never
writes one: a document that is not there is published as missing. They are published with the
release (`narratives/*.parquet`) so the site reads them from the release like every other number.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

NARRATIVE_DIR = "narrative"
COMMUNITY_INPUT = "community_input.yml"
# document id -> what the report calls it. The order is the order on the site and in the report.
DOCUMENTS = {
    "stop_strategy": "Pedestrian-stop strategy",
    "bwc_policy": "Body-worn camera policy",
    "school_officer_role": "School-based officer role",
    "actions_taken": "Actions taken to address disparities",
}
HEADER_KEYS = {"title", "effective_from", "effective_to", "adopted_by"}
INPUT_KEYS = ("date", "channel", "topic", "summary", "response")

# Publication must not leak personal data: a community-input summary or a policy text that carries
# an e-mail address or a phone number is refused, naming the file (names cannot be detected
# reliably, so the log's format has no field for one and unknown fields are refused).
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?<!\d)(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)")


class NarrativeError(ValueError):
    """A narrative file that cannot be published; the message names the file and the problem."""


@dataclass(frozen=True)
class Document:
    agency_id: str
    document: str
    label: str
    status: str  # published | missing
    title: str | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    adopted_by: str | None = None
    body_markdown: str | None = None
    source_file: str | None = None


@dataclass(frozen=True)
class CommunityInput:
    agency_id: str
    received_date: dt.date
    channel: str
    topic: str
    summary: str
    response: str | None
    source_file: str


def load_documents(agencies_dir: Path, agency_id: str) -> list[Document]:
    """Every document of DOCUMENTS for one agency, published or missing."""
    folder = Path(agencies_dir) / agency_id / NARRATIVE_DIR
    documents = []
    for document, label in DOCUMENTS.items():
        path = folder / f"{document}.md"
        if not path.is_file():
            documents.append(Document(agency_id, document, label, "missing"))
            continue
        header, body = _split_front_matter(path)
        relative = f"{agency_id}/{NARRATIVE_DIR}/{path.name}"
        _refuse_personal(relative, body, *(str(v) for v in header.values()))
        effective_from = _date(header.get("effective_from"), relative, "effective_from")
        effective_to = _date(header.get("effective_to"), relative, "effective_to")
        if effective_from is None:
            raise NarrativeError(f"{relative}: effective_from is required (YYYY-MM-DD)")
        if effective_to is not None and effective_to < effective_from:
            raise NarrativeError(
                f"{relative}: effective_to {effective_to} is before effective_from"
            )
        if not body.strip():
            raise NarrativeError(f"{relative}: the document has a header but no text")
        documents.append(
            Document(
                agency_id,
                document,
                label,
                "published",
                title=str(header.get("title") or label),
                effective_from=effective_from,
                effective_to=effective_to,
                adopted_by=header.get("adopted_by"),
                body_markdown=body.strip("\n"),
                source_file=relative,
            )
        )
    return documents


def load_community_input(agencies_dir: Path, agency_id: str) -> list[CommunityInput] | None:
    """The agency's community-input log, oldest first; None when it keeps none."""
    path = Path(agencies_dir) / agency_id / NARRATIVE_DIR / COMMUNITY_INPUT
    if not path.is_file():
        return None
    relative = f"{agency_id}/{NARRATIVE_DIR}/{COMMUNITY_INPUT}"
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise NarrativeError(f"{relative}: expected a list of entries")
    out = []
    for number, entry in enumerate(entries, 1):
        where = f"{relative} entry {number}"
        if not isinstance(entry, dict):
            raise NarrativeError(f"{where}: expected a mapping with {', '.join(INPUT_KEYS)}")
        unknown = sorted(set(entry) - set(INPUT_KEYS))
        if unknown:
            raise NarrativeError(
                f"{where}: unknown field(s) {unknown}; the log keeps no names or contact details"
            )
        missing = [k for k in ("date", "channel", "topic", "summary") if not entry.get(k)]
        if missing:
            raise NarrativeError(f"{where}: missing {missing}")
        text = [str(entry[k]) for k in INPUT_KEYS if entry.get(k)]
        _refuse_personal(where, *text)
        out.append(
            CommunityInput(
                agency_id,
                _date(entry["date"], where, "date"),
                str(entry["channel"]),
                str(entry["topic"]),
                str(entry["summary"]),
                str(entry["response"]) if entry.get("response") else None,
                relative,
            )
        )
    return sorted(out, key=lambda e: e.received_date)


def write_narratives(release_root: Path, agencies_dir: Path, agency_ids: list[str]) -> list[str]:
    """Writes `narratives/agency_documents` and `narratives/community_input` (Parquet and CSV)
    into a release folder; returns the files written, relative to the release."""
    documents = [d for a in agency_ids for d in load_documents(agencies_dir, a)]
    inputs = [e for a in agency_ids for e in (load_community_input(agencies_dir, a) or [])]
    logs = {a: load_community_input(agencies_dir, a) is not None for a in agency_ids}
    folder = Path(release_root) / "narratives"
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(
            "create table agency_documents (agency_id varchar, document varchar, label varchar,"
            " status varchar, title varchar, effective_from date, effective_to date,"
            " adopted_by varchar, body_markdown varchar, source_file varchar, sort_order integer)"
        )
        order = {name: i for i, name in enumerate(DOCUMENTS, 1)}
        con.executemany(
            "insert into agency_documents values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    d.agency_id,
                    d.document,
                    d.label,
                    d.status,
                    d.title,
                    d.effective_from,
                    d.effective_to,
                    d.adopted_by,
                    d.body_markdown,
                    d.source_file,
                    order[d.document],
                ]
                for d in documents
            ],
        )
        con.execute(
            "create table community_input (agency_id varchar, received_date date,"
            " channel varchar, topic varchar, summary varchar, response varchar,"
            " source_file varchar)"
        )
        if inputs:
            con.executemany(
                "insert into community_input values (?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        e.agency_id,
                        e.received_date,
                        e.channel,
                        e.topic,
                        e.summary,
                        e.response,
                        e.source_file,
                    ]
                    for e in inputs
                ],
            )
        con.execute("create table community_input_logs (agency_id varchar, has_log boolean)")
        con.executemany("insert into community_input_logs values (?, ?)", list(logs.items()))
        written = []
        for table in ("agency_documents", "community_input", "community_input_logs"):
            for fmt, options in (("parquet", "format parquet"), ("csv", "format csv, header")):
                target = folder / f"{table}.{fmt}"
                con.execute(f"copy (select * from {table} order by all) to '{target}' ({options})")
                written.append(f"narratives/{table}.{fmt}")
    finally:
        con.close()
    return written


def _split_front_matter(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n?(.*)$", text, re.S)
    if not match:
        raise NarrativeError(f"{path}: expected a YAML header between --- lines, then the text")
    header = yaml.safe_load(match.group(1)) or {}
    if not isinstance(header, dict):
        raise NarrativeError(f"{path}: the header must be a mapping")
    unknown = sorted(set(header) - HEADER_KEYS)
    if unknown:
        raise NarrativeError(f"{path}: unknown header field(s) {unknown}")
    return header, match.group(2)


def _date(value: object, where: str, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise NarrativeError(f"{where}: {field} {value!r} is not a date (YYYY-MM-DD)") from None


def _refuse_personal(where: str, *texts: str) -> None:
    for text in texts:
        for pattern, what in ((_EMAIL, "an e-mail address"), (_PHONE, "a phone number")):
            if pattern.search(text or ""):
                raise NarrativeError(f"{where}: contains {what}; publish summaries without them")

"""Read one delivered file, whatever its format, into a DuckDB table of strings.

Every reader returns a `ParsedFile`: table `src` in an in-memory DuckDB connection (one VARCHAR
column per delivered column, named as in the header, plus `_source_row`), the rows that could not
be parsed (with their line and reason), and `rows_raw`, the number of data records in the file
counted independently of the parser, so that the reconciliation raw = accepted + rejected checks
something real.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion import settings

log = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class Reject:
    source_row: int | None
    reason: str
    raw_text: str | None = None
    column_name: str | None = None


@dataclass
class ParsedFile:
    con: duckdb.DuckDBPyConnection
    columns: list[str]
    rows_raw: int
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_parsed(self) -> int:
        return self.con.execute("select count(*) from src").fetchone()[0]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class UnreadableFile(Exception):
    """The whole file cannot be read (empty, no header, not the declared format)."""


def _connect() -> duckdb.DuckDBPyConnection:
    """A private in-memory database for one file; no progress bar on the user's terminal."""
    con = duckdb.connect(config=settings.duckdb_config(in_memory=True))
    con.execute("set enable_progress_bar = false")
    return con


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzip (agencies send `.csv.gz`), or the one data
    file of a ZIP archive (portals' "download as ZIP"; a workbook is read as a workbook)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise UnreadableFile(f"damaged gzip file: {exc}") from exc
    if data[:4] == b"PK\x03\x04":
        return _zip_member(data)
    return data


def _zip_member(data: bytes) -> bytes:
    """The bytes of a ZIP archive's only data file (folders, macOS resource forks, hidden files
    and documentation aside); an archive of several data files names them."""
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        if "xl/workbook.xml" in archive.namelist():
            raise UnreadableFile("this is an Excel workbook: set format: excel in the mapping")
        data_files = _zip_data_files(archive)
        if len(data_files) != 1:
            names = ", ".join(m.filename for m in data_files) or "none"
            raise UnreadableFile(
                f"a ZIP archive must hold one data file, this one holds {len(data_files)}"
                f" ({names}): send them one by one"
            )
        member = data_files[0]
        out = archive.read(member)
    except zipfile.BadZipFile as exc:
        raise UnreadableFile(f"damaged ZIP archive: {exc}") from exc
    except (OSError, EOFError, RuntimeError, NotImplementedError) as exc:  # encrypted, ...
        raise UnreadableFile(f"cannot extract from the ZIP archive: {exc}") from exc
    if out[:2] == b"\x1f\x8b" or out[:4] == b"PK\x03\x04":
        raise UnreadableFile(f"{member.filename} in the ZIP archive is itself an archive")
    return out


def zip_data_file(path: Path) -> str | None:
    """The name of a ZIP archive's data file (see read_bytes), or None."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = _zip_data_files(archive)
    except (zipfile.BadZipFile, OSError):
        return None
    return members[0].filename if len(members) == 1 else None


def _zip_data_files(archive) -> list:
    """An archive's members but folders, macOS resource forks, hidden files and documentation
    (read-me, license, metadata; PDF, Word, HTML, XML, Markdown, RTF)."""

    def side(info) -> bool:
        name = Path(info.filename).name.lower()
        return (
            info.is_dir()
            or info.filename.startswith("__MACOSX/")
            or name.startswith((".", "readme", "license", "metadata"))
            or Path(name).suffix
            in {".pdf", ".doc", ".docx", ".html", ".htm", ".xml", ".md", ".rtf"}
        )

    return [info for info in archive.infolist() if not side(info)]


def check_encoding(data: bytes, encoding: str) -> None:
    """A file in UTF-16 (Excel's "Unicode text") decodes as garbage under a one-byte encoding and
    as nothing under UTF-8; name the problem instead of failing on every line."""
    if encoding.lower().replace("_", "-").startswith("utf-16"):
        return
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4096]:
        raise UnreadableFile(
            f"row 1: the file looks UTF-16 encoded (byte-order mark or NUL bytes) but the mapping "
            f"says encoding {encoding}: export it as {encoding}, or set encoding: utf-16"
        )


def read_file(
    path: Path,
    fmt: str,
    *,
    encoding: str = "utf-8",
    csv_options=None,
    excel_options=None,
    json_options=None,
) -> ParsedFile:
    if fmt == "csv":
        return read_csv(path, encoding=encoding, **(csv_options or {}))
    if fmt == "excel":
        return read_excel(path, **(excel_options or {}))
    if fmt == "jsonl":
        return read_jsonl(path, encoding=encoding)
    if fmt == "json":
        return read_json(path, encoding=encoding, **(json_options or {}))
    if fmt == "parquet":
        return read_parquet(path)
    raise UnreadableFile(f"unsupported format {fmt!r}")


# --- CSV -------------------------------------------------------------------------------------


def _decode_to_utf8(data: bytes, encoding: str) -> tuple[bytes, list[Reject]]:
    """Return UTF-8 bytes with the same line structure; lines that cannot be decoded are blanked
    (DuckDB skips blank lines, so line numbers stay those of the delivered file) and rejected."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    codec = (
        "utf-8"
        if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")
        else encoding
    )
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        pass
    else:
        return (data if codec == "utf-8" else text.encode("utf-8")), []
    rejects, out, header = [], [], []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            out.append(line.decode(codec).encode("utf-8"))
            if number == 1:
                header = next(csv.reader([out[0].decode("utf-8").rstrip("\r")]), [])
        except UnicodeDecodeError as exc:
            if number == 1:
                raise UnreadableFile(
                    f"row 1: the header cannot be decoded as {encoding}: {exc}"
                ) from exc
            # the column holding the bad byte: fields before it, counted as CSV
            before = line[: exc.start].decode(codec, errors="replace")
            index = len(next(csv.reader([before]), [""])) - 1
            rejects.append(
                Reject(
                    number,
                    f"undecodable bytes for encoding {encoding} at byte {exc.start} of the line",
                    line.decode(codec, errors="replace"),
                    header[index] if 0 <= index < len(header) else None,
                )
            )
            out.append(b"\r" if line.endswith(b"\r") else b"")  # keep CRLF files uniform
    return b"\n".join(out), rejects


def _line_starts(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """1-based numbers of the non-blank physical lines, and their count per line kind."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    lengths = ends - starts
    # a line holding only '\r' is blank too
    cr_only = (
        (lengths == 1) & (buf[np.minimum(starts, max(len(buf) - 1, 0))] == 13)
        if len(buf)
        else lengths == 0
    )
    nonblank = (lengths > 0) & ~cr_only
    numbers = np.arange(1, len(starts) + 1)
    return numbers[nonblank], starts[nonblank]


# Delimiters an export may use: comma, semicolon (where the comma is the decimal mark), tab
# (RMS "text" exports) and pipe; with their names and how a mapping writes them.
DELIMITERS = {
    ",": ("comma", '","'),
    ";": ("semicolon", '";"'),
    "\t": ("tab", '"\\t"'),
    "|": ("pipe", '"|"'),
}


def read_head(path: Path, size: int = 1 << 16) -> bytes:
    """The first `size` bytes of a file, decompressed when it is gzip, of its data file when it
    is a ZIP archive (see read_bytes)."""
    with path.open("rb") as raw:
        start = raw.read(4)
    if start == b"PK\x03\x04":  # the archive's data file, without extracting all of it
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                members = _zip_data_files(archive)
                if len(members) != 1:
                    return b""
                with archive.open(members[0]) as handle:
                    return handle.read(size)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
            return b""
    opener = gzip.open if start[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as handle:
            return handle.read(size)
    except (OSError, EOFError):
        return b""


def sniff_layout(head: str) -> tuple[str | None, int]:
    """(delimiter, lines above the header) of a CSV from its first lines (up to 30; the sample's
    last, possibly cut, line left out): of comma, semicolon, tab and pipe, the delimiter giving
    most lines one same number of fields (two or more), the most fields first; the header is
    the first line with that number, below any title lines of a report tool, and at least nine
    in ten of the non-blank lines from it on agree (quoting respected). (None, 0) when no
    delimiter does."""
    lines = head.lstrip("\ufeff").splitlines()
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]
    lines = lines[:30]
    best, best_fields = (None, 0), 1
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        filled = [count for count in counts if count]
        if not filled:
            continue
        fields = max(set(filled), key=lambda count: (filled.count(count), count))
        if fields <= best_fields:
            continue
        header = counts.index(fields)
        body = [count for count in counts[header:] if count]
        if sum(count == fields for count in body) >= 0.9 * len(body):
            best, best_fields = (delimiter, header), fields
    return best


def csv_layout_hint(path: Path, delimiter: str, skip_rows: int, encoding: str) -> str:
    """For a CSV read with the wrong delimiter (a semicolon or tab export under the comma
    default) or header line (title lines above it): what its first lines look like, as the
    mapping's csv settings."""
    found, above = sniff_layout(read_head(path).decode(encoding, errors="replace"))
    if found is None or (found == delimiter and above == skip_rows):
        return ""
    looks, settings = [], []
    if found != delimiter:
        name, written = DELIMITERS[found]
        looks.append(f"{name}-separated")
        settings.append(f"delimiter: {written}")
    if above != skip_rows:
        looks.append(f"to start at line {above + 1}")
        settings.append(f"skip_rows: {above}")
    return (
        f"; the header looks {' and '.join(looks)}: set csv: {{{', '.join(settings)}}}"
        " in the mapping"
    )


def _blank_lines(utf8: bytes, count: int) -> bytes:
    """The file with its first `count` lines emptied, each keeping its line end (DuckDB skips
    blank lines, so every line keeps its number; one style of line end throughout)."""
    ends, start = [], 0
    for _ in range(count):
        end = utf8.find(b"\n", start) + 1
        if end == 0:
            break
        ends.append(b"\r\n" if utf8[start : end - 1].endswith(b"\r") else b"\n")
        start = end
    return b"".join(ends) + utf8[start:] if len(ends) == count else b"".join(ends)


def read_csv(
    path: Path,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    quote: str = '"',
    escape: str | None = None,
    skip_rows: int = 0,
) -> ParsedFile:
    """A CSV file's records as text, each with its line number; `skip_rows`: title lines above
    the header (a report tool's), left out."""
    data = read_bytes(path)
    check_encoding(data, encoding)
    utf8, rejects = _decode_to_utf8(data, encoding)
    if skip_rows:
        utf8 = _blank_lines(utf8, skip_rows)
        rejects = [r for r in rejects if r.source_row > skip_rows]
    if len(_line_starts(utf8)[0]) == 0:
        raise UnreadableFile("the file is empty")
    try:
        con = _load_csv(path, data, utf8, delimiter, quote, escape)
    except duckdb.Error as exc:
        # A transfer cut short ends inside a record, often inside a quoted field, and DuckDB then
        # cannot read the file at all: set the unfinished last line aside and read the rest.
        cut = _cut_last_line(utf8)
        if cut is None:
            raise UnreadableFile(f"not a readable CSV file: {exc}") from exc
        utf8, number, text = cut
        try:
            con = _load_csv(path, data, utf8, delimiter, quote, escape)
        except duckdb.Error:
            raise UnreadableFile(f"not a readable CSV file: {exc}") from exc
        rejects.append(
            Reject(
                number,
                "the file ends in the middle of this record (truncated in transfer?): "
                "its last line has no line end",
                text,
            )
        )
    nonblank_lines, _ = _line_starts(utf8)
    columns = [
        row[0]
        for row in con.execute("select name from pragma_table_info('src') order by cid").fetchall()
    ]
    csv_rejects = con.execute(
        """
        select line, any_value(column_name),
               arg_min(error_type || ': ' || error_message, column_idx), any_value(csv_line)
        from csv_rejects group by line order by line
        """
    ).fetchall()
    for line, column, message, text in csv_rejects:
        rejects.append(Reject(int(line), message, (text or "").strip("\r\n"), column))
    accepted = con.execute("select count(*) from src").fetchone()[0]
    data_lines = nonblank_lines[1:]  # the first non-blank line is the header
    rejected_lines = np.array(sorted({r.source_row for r in rejects}), dtype=np.int64)
    blanked = int((~np.isin(rejected_lines, data_lines)).sum())  # undecodable lines, blanked above
    candidate = data_lines[~np.isin(data_lines, rejected_lines)]
    if len(candidate) == accepted:
        rows_raw = len(data_lines) + blanked
        line_numbers = candidate
    else:
        # Quoted fields hold line breaks: count records with the csv module instead of lines.
        line_numbers, records = _record_lines(utf8, delimiter, quote, set(rejected_lines.tolist()))
        rows_raw = records + blanked
        if len(line_numbers) != accepted:
            raise UnreadableFile(
                f"cannot align record numbers ({len(line_numbers)} records, {accepted} parsed)"
            )
    _attach_row_numbers(con, np.asarray(line_numbers, dtype=np.int64))
    parsed = ParsedFile(
        con, columns, int(rows_raw), sorted(rejects, key=lambda r: r.source_row or 0)
    )
    if _looks_utf8_not(data, encoding):
        parsed.notes.append(
            f"the file is valid UTF-8 but the mapping says encoding {encoding}: accented "
            "letters are read as two characters each; check the export or the mapping"
        )
    return parsed


def _looks_utf8_not(data: bytes, encoding: str) -> bool:
    """A one-byte encoding declared for a file that is UTF-8 with non-ASCII text (any one-byte
    codec decodes it without error, wrongly: 'é' becomes 'Ã©')."""
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") or data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _load_csv(
    path: Path, data: bytes, utf8: bytes, delimiter: str, quote: str, escape: str | None
) -> duckdb.DuckDBPyConnection:
    con = _connect()
    source = path
    # DuckDB reads the file itself when it is plain UTF-8, else a copy of what was read from it
    # (decoded, without its byte-order mark, out of gzip or a ZIP archive)
    if utf8 is not data or path.stat().st_size != len(data):
        handle = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)
        handle.write(utf8)
        handle.close()
        source = Path(handle.name)
    try:
        con.execute(
            """
            create table src as
            select * from read_csv(
                $path, all_varchar = true, header = true, delim = $delim, quote = $quote,
                escape = $escape, store_rejects = true, rejects_table = 'csv_rejects',
                rejects_scan = 'csv_scans', null_padding = false, strict_mode = true,
                auto_detect = true, sample_size = -1
            )
            """,
            {"path": str(source), "delim": delimiter, "quote": quote, "escape": escape or quote},
        )
    except duckdb.Error:
        con.close()
        raise
    finally:
        if source != path:
            source.unlink(missing_ok=True)
    return con


def _cut_last_line(utf8: bytes) -> tuple[bytes, int, str] | None:
    """(the file with its unfinished last line blanked, that line's number, its text), or None
    when the file ends with a line end or has nothing but a header."""
    if utf8.endswith(b"\n") or b"\n" not in utf8:
        return None
    start = utf8.rindex(b"\n") + 1
    number = utf8.count(b"\n", 0, start) + 1
    return utf8[:start], number, utf8[start:].decode("utf-8", errors="replace")


def _record_lines(
    utf8: bytes, delimiter: str, quote: str, rejected: set[int]
) -> tuple[list[int], int]:
    reader = csv.reader(
        io.StringIO(utf8.decode("utf-8"), newline=""), delimiter=delimiter, quotechar=quote
    )
    lines, previous_end, count = [], 0, 0
    for index, record in enumerate(reader):
        start = previous_end + 1
        previous_end = reader.line_num
        if index == 0 or not record:
            continue
        count += 1
        if start not in rejected:
            lines.append(start)
    return lines, count


def _attach_row_numbers(con: duckdb.DuckDBPyConnection, numbers: np.ndarray) -> None:
    rows = pa.table({"_ordinal": np.arange(len(numbers), dtype=np.int64), "_source_row": numbers})
    con.register("_rows", rows)
    con.execute(
        """
        create or replace table src as
        select src.* exclude (_ordinal), _rows._source_row
        from (select rowid as _ordinal, * from src) as src
        join _rows using (_ordinal)
        order by _rows._source_row
        """
    )
    con.unregister("_rows")


# --- Excel, JSON lines, Parquet: built in Python as Arrow, then the same table -----------------


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    text = str(value)
    return text


def _text_column(values: list | tuple, *, empty_is_null: bool) -> pa.Array:
    """One column of cell values as Arrow strings, each as `_cell_text` writes it: a column at a
    time, with a fast path for the usual kinds (text; text and numbers), ~10 times faster than
    converting cell by cell on a large export."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:
        array = pa.array(values, type=pa.string())
    elif kinds <= {str, float, type(None)}:
        array = pa.array(
            [
                (str(int(v)) if v.is_integer() else repr(v)) if type(v) is float else v
                for v in values
            ],
            type=pa.string(),
        )
    else:
        array = pa.array(
            [v if v is None or type(v) is str else _cell_text(v) for v in values],
            type=pa.string(),
        )
    if empty_is_null:
        array = pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
    return array


def _from_columns(
    columns: list[str], arrays: list[pa.Array], row_numbers: np.ndarray
) -> duckdb.DuckDBPyConnection:
    table = pa.table(
        [*arrays, pa.array(np.asarray(row_numbers, dtype=np.int64))],
        names=[*columns, "_source_row"],
    )
    con = _connect()
    con.register("_arrow", table)
    con.execute("create table src as select * from _arrow")
    con.unregister("_arrow")
    return con


def _unique_headers(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in header:
        name = name.strip() if name else ""
        name = name or f"column{len(out) + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _excel_sheet(path: Path, sheet: str | int | None):
    """The sheet of a workbook (.xlsx, .xlsm, .xls, .ods), read by calamine (Rust): about five
    times faster than openpyxl on a large export, the same cell values."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own kinds for a damaged workbook
        raise UnreadableFile(f"not a readable Excel workbook: {exc}") from exc
    names = book.sheet_names
    if sheet is None or isinstance(sheet, int):
        index = sheet or 0
        if not 0 <= index < len(names):
            raise UnreadableFile(f"sheet {index} not found (sheets: {', '.join(names)})")
        name = names[index]
    elif sheet in names:
        name = sheet
    else:
        raise UnreadableFile(f"sheet {sheet!r} not found (sheets: {', '.join(names)})")
    try:
        return book.get_sheet_by_name(name)
    except Exception as exc:
        raise UnreadableFile(f"sheet {name!r} cannot be read: {exc}") from exc


def _sheet_rows(ws) -> tuple[int, list[list]]:
    """(spreadsheet row number of the first row, every row as cell values from column A).

    calamine's rows run from the sheet's first row or from its first used row, depending on the
    version and on the sheet, and its cells from the first used column: both are put back from
    the range's last cell (`end`), so row numbers are the spreadsheet's whatever leads the
    sheet (blank rows, a title, an empty column A)."""
    rows = list(ws.iter_rows())
    if ws.end is None or not rows:
        return 1, []
    last_row, last_col = ws.end
    pad = [None] * max(0, last_col + 1 - max(map(len, rows)))
    return last_row + 2 - len(rows), [pad + list(values) for values in rows] if pad else rows


def read_excel(path: Path, *, sheet: str | int | None = None, skip_rows: int = 0) -> ParsedFile:
    first_number, rows = _sheet_rows(_excel_sheet(path, sheet))
    header, index = None, -1
    for index, values in enumerate(rows):  # the header: the first non-empty row after skip_rows
        if first_number + index <= skip_rows:
            continue
        cells = [_cell_text(None if v == "" else v) for v in values]
        while cells and (cells[-1] is None or cells[-1] == ""):
            cells.pop()
        if cells:
            header = _unique_headers([c or "" for c in cells])
            break
    if header is None:
        raise UnreadableFile("the sheet is empty")
    data = rows[index + 1 :]  # the records below the header, converted a column at a time
    del rows
    width = max(map(len, data), default=0)
    if any(len(r) != width for r in data):
        data = [list(r) + [""] * (width - len(r)) for r in data]
    numbers = np.arange(len(data), dtype=np.int64) + first_number + index + 1
    arrays = [_text_column(column, empty_is_null=True) for column in zip(*data, strict=True)]
    arrays += [pa.nulls(len(data), pa.string())] * (len(header) - len(arrays))
    filled = [np.asarray(a.is_valid()) for a in arrays]
    nonempty = np.logical_or.reduce(filled) if filled else np.zeros(len(data), bool)
    extra = np.logical_or.reduce(filled[len(header) :]) if len(filled) > len(header) else None
    rejects = []
    if extra is not None and (extra & nonempty).any():
        for i in np.flatnonzero(extra & nonempty):
            cells = [a[i].as_py() for a in arrays]
            while cells and cells[-1] is None:
                cells.pop()
            rejects.append(
                Reject(
                    int(numbers[i]),
                    f"too many cells: expected {len(header)}, found {len(cells)}",
                    "\t".join(c or "" for c in cells),
                )
            )
        nonempty_kept = nonempty & ~extra
    else:
        nonempty_kept = nonempty
    keep = pa.array(nonempty_kept)
    kept = [a.filter(keep) for a in arrays[: len(header)]]
    parsed = _from_columns(header, kept, numbers[nonempty_kept])
    return ParsedFile(parsed, header, int(nonempty.sum()), rejects)


def find_header_row(path: Path, sheet: str | int | None, wanted: set[str]) -> int | None:
    """The spreadsheet row (1-based) among the first 30 holding the most of `wanted` column
    names, or None: an export with title rows above its header names its own header row."""
    best, best_hits = None, 0
    rows = _excel_sheet(path, sheet).to_python(skip_empty_area=False, nrows=30)
    for number, values in enumerate(rows, start=1):  # from cell A1
        hits = len({str(v).strip() for v in values if v is not None} & wanted)
        if hits > best_hits:
            best, best_hits = number, hits
    return best if best_hits >= max(1, len(wanted) // 2) else None


def read_jsonl(path: Path, *, encoding: str = "utf-8") -> ParsedFile:
    """One JSON object a line, each value as text as `_cell_text` writes it (numbers as typed,
    true/false, nested values as sorted JSON), columns in the order their keys first appear;
    a line that is not one JSON object is rejected with its number and the parser's reason.

    UTF-8 files are parsed by DuckDB's JSON functions (`_jsonl_in_duckdb`, on every core, the
    file held as Arrow text rather than a Python object per value); a file with anything they
    read otherwise than Python's json module (a nested value, a key twice in one object, NaN,
    an integer beyond 2**53, undecodable bytes, ...) is read line by line in Python instead,
    so both give the same table (tests/ingestion/test_jsonl_reader.py)."""
    data = read_bytes(path)
    check_encoding(data, encoding)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        parsed = _jsonl_in_duckdb(data)
        if parsed is not None:
            return parsed
    return _jsonl_in_python(data, encoding)


def _jsonl_in_python(data: bytes, encoding: str) -> ParsedFile:
    records, numbers, rejects, columns, raw = [], [], [], {}, 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        raw += 1
        record, reject = _jsonl_record(number, line, encoding)
        if reject is not None:
            rejects.append(reject)
            continue
        for key in record:
            columns.setdefault(key, None)
        records.append(record)
        numbers.append(number)
    if raw == 0:
        raise UnreadableFile("the file is empty")
    names = list(columns)
    arrays = [_text_column([r.get(k) for r in records], empty_is_null=False) for k in names]
    return ParsedFile(_from_columns(names, arrays, np.array(numbers)), names, raw, rejects)


def _jsonl_record(
    number: int, line: bytes, encoding: str
) -> tuple[dict, None] | tuple[None, Reject]:
    """A JSON line's object, or why it is rejected (Python's json module decides)."""
    try:
        text = line.decode(encoding)
    except UnicodeDecodeError as exc:
        return None, Reject(
            number,
            f"undecodable bytes for encoding {encoding}: {exc.reason}",
            line.decode(encoding, errors="replace"),
        )
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, Reject(number, f"invalid JSON: {exc.msg} at character {exc.pos}", text)
    if not isinstance(record, dict):
        return None, Reject(number, "a JSON line must hold one object", text)
    if "\\u" in text:  # an escape may stand for half a character, which no text can store
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            return None, Reject(
                number,
                f"a value holds {exc.object[exc.start : exc.end].encode('unicode_escape').decode()},"
                " half of a UTF-16 surrogate pair: not a character",
                text,
            )
    return record, None


# JSON value types DuckDB's text of which is the text Python's json module gives for the value
_JSON_AS_TEXT = {"VARCHAR", "NULL", "BOOLEAN", "BIGINT", "UBIGINT"}


def _jsonl_in_duckdb(data: bytes) -> ParsedFile | None:
    """A UTF-8 JSON-lines file parsed by DuckDB's JSON functions, or None when Python's reader
    must decide it (see read_jsonl). The lines go to DuckDB as one Arrow text array over the
    file's own bytes; the lines DuckDB does not take for an object (or takes with a trailing
    comma, which Python refuses) are judged by Python's json module, one by one."""
    if b"\\u0000" in data:  # a NUL in a text value: Python keeps it, DuckDB's text cannot
        return None
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 10) + 1
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    lines = pa.Array.from_buffers(
        pa.large_string(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    try:
        lines.validate(full=True)  # UTF-8: undecodable bytes are rejected line by line
    except pa.ArrowInvalid:
        return None
    con = _connect()
    try:
        parsed = _parse_jsonl(con, lines, data, offsets)
    except Exception:
        con.close()
        raise
    if parsed is None:
        con.close()
    return parsed


def _parse_jsonl(con, lines: pa.Array, data: bytes, offsets: np.ndarray) -> ParsedFile | None:
    table = pa.table({"line": lines, "_source_row": pa.array(np.arange(1, len(lines) + 1))})
    con.register("_arrow", table)
    # blank: Python's bytes.strip() whitespace only (the newline is part of each line here)
    blank = r"regexp_full_match(line, '[ \t\n\r\x0b\x0c]*')"
    con.execute(
        f"create temp table _lines as select _source_row, {blank} as _blank,"
        " case when json_valid(line) then json_type(line) = 'OBJECT'"
        r" and not regexp_matches(line, ',\s*[\]}]') else false end as _object"
        " from _arrow"
    )
    raw = con.execute("select count(*) from _lines where not _blank").fetchone()[0]
    if raw == 0:
        return None
    rejects = []
    judged = con.execute(
        "select _source_row from _lines where not _blank and not _object order by _source_row"
    ).fetchall()
    for (number,) in judged:
        line = data[offsets[number - 1] : offsets[number]].removesuffix(b"\n")
        _, reject = _jsonl_record(number, line, "utf-8")
        if reject is None:  # an object DuckDB does not read as Python does (NaN, ...)
            return None
        rejects.append(reject)
    con.execute(
        "create temp table _objects as select _arrow.line, _arrow._source_row from _arrow"
        " join _lines using (_source_row) where _lines._object order by _source_row"
    )
    con.unregister("_arrow")
    keys = con.execute(
        """
        with k as (
            select _source_row, unnest(json_keys(line)) as key,
                unnest(range(len(json_keys(line)))) as position
            from _objects
        )
        select key, count(*) = count(distinct _source_row) as once
        from k group by key order by min(_source_row), arg_min(position, _source_row)
        """
    ).fetchall()
    names = [key for key, _ in keys]
    if not all(once for _, once in keys) or "" in names:
        return None  # a key twice in one object (Python keeps its last value), or an empty one
    pointers = ["/" + key.replace("~", "~0").replace("/", "~1") for key in names]
    kinds: list[set] = [set() for _ in names]
    if names:
        for index, kind in con.execute(
            "select distinct unnest(range(len($p))) as i, unnest(json_type(line, $p)) as t"
            " from _objects",
            {"p": pointers},
        ).fetchall():
            kinds[index].add(kind)
    columns, parameters = [], {"p": pointers}
    for index, (name, found) in enumerate(zip(names, kinds, strict=True), start=1):
        found.discard(None)  # the key missing from a line
        value = f"_values[{index}]"
        if found <= _JSON_AS_TEXT:
            columns.append(f"{value} as {quote_ident(name)}")
            continue
        if not found <= _JSON_AS_TEXT | {"DOUBLE"}:
            return None  # nested values: Python writes them as sorted JSON
        doubles = [
            row[0]
            for row in con.execute(
                "select distinct json_extract(line, $p)::double from _objects"
                " where json_type(line, $p) = 'DOUBLE'",
                {"p": pointers[index - 1]},
            ).fetchall()
        ]
        if not all(abs(x) < 2**53 for x in doubles):  # NaN, infinities, integers rounded
            return None
        texts = {x: _cell_text(x) for x in doubles}  # one row a number (0.0 and -0.0 alike)
        con.register(
            "_texts",
            pa.table(
                {
                    "number": pa.array(list(texts), pa.float64()),
                    "text": pa.array(list(texts.values()), pa.string()),
                }
            ),
        )
        con.execute(f"create temp table _doubles_{index} as select * from _texts")
        con.unregister("_texts")
        columns.append(
            f"case when json_type(line, $p{index}) = 'DOUBLE' then"
            f" (select text from _doubles_{index}"
            f" where number = json_extract(line, $p{index})::double)"
            f" else {value} end as {quote_ident(name)}"
        )
        parameters[f"p{index}"] = pointers[index - 1]
    values = "json_extract_string(line, $p) as _values, " if names else ""
    con.execute(
        f"create table src as select {''.join(c + ', ' for c in columns)}_source_row"
        f" from (select {values}line, _source_row from _objects) order by _source_row",
        parameters if names else None,
    )
    for index in range(1, len(names) + 1):
        con.execute(f"drop table if exists _doubles_{index}")
    con.execute("drop table _objects; drop table _lines")
    return ParsedFile(con, names, raw, rejects)


# --- JSON documents: an open-data API's answer ----------------------------------------------


def read_json(
    path: Path,
    *,
    encoding: str = "utf-8",
    records: str | None = None,
    record_key: str | None = None,
) -> ParsedFile:
    """A JSON document holding the records as an array, as agencies' open-data APIs answer:
    the document itself (Socrata's `.json`), or the array at `records`, a dotted path of keys
    ("data", "result.records"; by default the document's only member holding an array of
    objects). With `record_key`, each element's object under that key is the record (ArcGIS
    feature services: "attributes"; GeoJSON: "properties").

    Values are text as in JSON lines (`_cell_text`: numbers as typed, true/false, nested values
    as sorted JSON), columns in the order their keys first appear. A record's row number is its
    position in the array (1-based); an element that is not an object (or holds none under
    `record_key`) is rejected with its position and its JSON text."""
    data = read_bytes(path)
    check_encoding(data, encoding)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnreadableFile(
            f"line {line}: undecodable bytes for encoding {encoding}: {exc.reason}"
        ) from exc
    if not text.strip():
        raise UnreadableFile("the file is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
        ) from exc
    items = json_records(document, records)
    if not items:
        raise UnreadableFile("the array of records is empty")
    kept, numbers, rejects, columns = [], [], [], {}
    escapes = "\\u" in text  # an escape may stand for half a character, which no text can store
    for number, item in enumerate(items, start=1):
        record = item.get(record_key) if record_key and isinstance(item, dict) else item
        reason = None
        if not isinstance(record, dict):
            reason = (
                f"record {number} holds no object under {record_key!r}"
                if record_key
                else f"record {number} is not a JSON object"
            )
        elif escapes:
            try:
                json.dumps(record, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                reason = f"record {number} holds half of a UTF-16 surrogate pair: not a character"
        if reason is not None:
            raw = json.dumps(item, ensure_ascii=reason.endswith("character"), sort_keys=True)
            rejects.append(Reject(number, reason, raw))
            continue
        for key in record:
            columns.setdefault(key, None)
        kept.append(record)
        numbers.append(number)
    names = list(columns)
    arrays = [_text_column([r.get(k) for r in kept], empty_is_null=False) for k in names]
    parsed = _from_columns(names, arrays, np.array(numbers, dtype=np.int64))
    return ParsedFile(parsed, names, len(items), rejects)


def json_records(document, records: str | None = None) -> list:
    """The array of records in a JSON document: at the dotted path `records`, else the
    document itself when it is an array, else its only member holding an array of objects."""
    if records:
        node, walked = document, []
        for key in records.split("."):
            if not isinstance(node, dict) or key not in node:
                where = f"under {'.'.join(walked)!r}" if walked else "in the document"
                found = (
                    f"its keys: {', '.join(map(str, node)) or 'none'}"
                    if isinstance(node, dict)
                    else f"it is {_json_kind(node)}"
                )
                raise UnreadableFile(f"json records {records!r}: no key {key!r} {where} ({found})")
            node = node[key]
            walked.append(key)
        if not isinstance(node, list):
            raise UnreadableFile(f"json records {records!r} is {_json_kind(node)}, not an array")
        return node
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        arrays = [
            key
            for key, value in document.items()
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value[:100])
        ]
        if len(arrays) == 1:
            return document[arrays[0]]
        found = (
            f"arrays of objects under: {', '.join(arrays)}"
            if arrays
            else f"its keys: {', '.join(map(str, document)) or 'none'}"
        )
        raise UnreadableFile(
            f"the document is an object, not an array of records ({found}): set json: "
            "{records: <key>} in the mapping"
        )
    raise UnreadableFile(f"the document is {_json_kind(document)}, not an array of records")


def json_record_key(items: list) -> str | None:
    """The key each record sits under when the array is an ArcGIS feature set ("attributes")
    or GeoJSON features ("properties"), judged on its first 100 elements; else None."""
    sample = items[:100]
    for key in ("attributes", "properties"):
        if sample and all(isinstance(v, dict) and isinstance(v.get(key), dict) for v in sample):
            return key
    return None


def _json_kind(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


def read_parquet(path: Path) -> ParsedFile:
    con = _connect()
    try:
        names = [
            r[0]
            for r in con.execute(
                "select name from parquet_schema($p) where num_children is null or num_children = 0",
                {"p": str(path)},
            ).fetchall()
        ]
        con.execute(
            "create table src as select columns(*)::varchar, row_number() over () + 1 as _source_row from read_parquet($p)",
            {"p": str(path)},
        )
    except duckdb.Error as exc:
        raise UnreadableFile(f"not a readable Parquet file: {exc}") from exc
    columns = [
        r[0]
        for r in con.execute(
            "select name from pragma_table_info('src') where name <> '_source_row' order by cid"
        ).fetchall()
    ]
    del names
    return ParsedFile(con, columns, con.execute("select count(*) from src").fetchone()[0], [])

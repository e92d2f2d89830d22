"""Importing a CSV or Parquet file of cases (or of daily volumes) into the embedded SQLite database.

Every row is validated; bad rows are returned with their line number and the reasons, good rows are
upserted (cases on ``case_id``, daily volumes on ``day`` × dimensions) so loading the same file twice changes
nothing. The file is read in chunks (constant memory, a progress callback per chunk) and the whole import is
one transaction: a failure — ``on_bad="abort"`` with any bad row, or a file without a single good row —
leaves the database as it was.

Case ids are text: they are read, stored (``case_id TEXT`` in the table the importer creates) and upserted as
the exact string the file holds, so ``7``, ``07`` and ``7.0`` are never merged silently. Ids whose text differs
but which read as the same number (or differ only by surrounding spaces) are bad rows naming the other
spelling, whether it is earlier in the file or already in the database.

Only SQLite targets are accepted: an import never writes into a user's server database.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from loaders.engine import cases_table
from loaders.errors import ImportRejected
from loaders.settings import MEASURES, PROJECT_ROOT, Settings

__all__ = [
    "EARLIEST_ACCEPTED",
    "IMPORT_DB_PATH",
    "IMPORT_TABLES",
    "ImportReport",
    "RowsRejected",
    "cases_import_table",
    "import_file",
    "import_frame_columns",
    "volume_import_table",
]

#: the embedded database imports go into (``OPS_IMPORT_DB`` overrides); point the dashboard at it to use it
IMPORT_DB_PATH = PROJECT_ROOT / "data" / "imported.sqlite"
#: where each kind of import lands in the embedded database
IMPORT_TABLES = {"cases": "cases", "volume": "daily_volume"}
#: timestamps (``created_at``, ``solved_at``, a volume's ``day``) before it are bad rows: older dates are typos
#: (``0001-01-01`` placeholders) that no operations history holds, and they overflow the date arithmetic downstream
EARLIEST_ACCEPTED = datetime(1990, 1, 1)
_COUNTS = frozenset(MEASURES) - {"handle_time_s", "age_at_solve_h", "csat_sum", "qa_sum"}
# a number as pandas or a spreadsheet reads it (no hex, no inf/nan, no thousands separators)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# stored ids made of these characters only may read as a number; the partial index below covers just them
_NUMERIC_LOOKING = "case_id NOT GLOB '*[^0-9.eE+-]*'"
_FLAGS = {"1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0, "y": 1, "n": 0, "t": 1, "f": 0}


@dataclass(frozen=True)
class ImportReport:
    """What an import did.

    ``bad_rows`` has one row per rejected line: ``line`` (1-based, the header is line 1 of a CSV; a Parquet
    row's number is its position + 1), ``key`` (case id or day) and ``reasons`` (``"; "``-joined sentences).
    """

    kind: str
    table: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    bad_rows: pd.DataFrame
    chunks: int
    seconds: float

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged


class RowsRejected(ImportRejected):
    """An import refused because of its rows (none good, or ``on_bad="abort"``); nothing was written.

    ``bad_rows`` lists them like :attr:`ImportReport.bad_rows`, so the user can still see and download them.
    """

    def __init__(self, message: str, *, hint: str = "", bad_rows: pd.DataFrame) -> None:
        super().__init__(message, hint=hint)
        self.bad_rows = bad_rows


def import_frame_columns(kind: Literal["cases", "volume"], settings: Settings | None = None
                         ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Required and optional columns of an import file of ``kind`` (with ``settings``' dimensions)."""
    settings = settings or Settings(url="sqlite://")
    if kind == "cases":
        return (tuple(c for c, (_, req) in settings.case_columns.items() if req),
                tuple(c for c, (_, req) in settings.case_columns.items() if not req))
    return (tuple(c for c, req in settings.volume_columns.items() if req),
            tuple(c for c, req in settings.volume_columns.items() if not req))


def _canonical_settings(settings: Settings | None) -> Settings:
    """Our own names for ``settings``' columns: an imported file uses them, whatever the source calls them."""
    return Settings(url="sqlite://", dimensions=(settings or Settings(url="sqlite://")).dimensions)


def cases_import_table(metadata: sa.MetaData | None = None, settings: Settings | None = None) -> sa.Table:
    """The embedded cases table filled by case imports: the canonical cases table with ``case_id`` as TEXT.

    A BIGINT id column has INTEGER affinity in SQLite, which stores the text ``07`` as the number 7 (and
    ``7.0`` too): ids would be merged behind the user's back. TEXT keeps them as the file spells them.
    """
    metadata = metadata if metadata is not None else sa.MetaData()
    canonical = cases_table(_canonical_settings(settings), sa.MetaData())
    table = sa.Table(
        IMPORT_TABLES["cases"], metadata,
        *(sa.Column(c.name, sa.Text() if c.key == "case_id" else c.type, primary_key=c.primary_key,
                    autoincrement=False) for c in canonical.columns),
    )
    # the names create_cases_table uses, which the roll-up refresh relies on
    sa.Index(f"ix_{table.name}_created_at", table.c.created_at)
    sa.Index(f"ix_{table.name}_solved_at", table.c.solved_at)
    return table


def volume_import_table(metadata: sa.MetaData | None = None, settings: Settings | None = None) -> sa.Table:
    """The embedded daily volume table filled by volume imports (read with ``[source] kind = "volume"``)."""
    metadata = metadata if metadata is not None else sa.MetaData()
    return sa.Table(
        IMPORT_TABLES["volume"], metadata,
        sa.Column("day", sa.Date, primary_key=True),
        *(sa.Column(d, sa.String(64), primary_key=True) for d in _canonical_settings(settings).dimension_keys),
        *(sa.Column(m, sa.BigInteger if m in _COUNTS else sa.Float, nullable=False, default=0) for m in MEASURES),
    )


# --- reading ---------------------------------------------------------------------------------------


def _chunks(source: str | Path | IO[bytes], file_format: str, chunk_rows: int, *, text: Iterable[str] = ()
            ) -> Iterator[tuple[pd.DataFrame, float]]:
    """Yield (chunk, fraction of the file read); CSV columns are all text, Parquet columns in ``text`` too."""
    if file_format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(source)
        total = max(pf.metadata.num_rows, 1)
        done = 0
        text = set(text)
        for batch in pf.iter_batches(batch_size=chunk_rows):
            frame = batch.to_pandas()
            for i, name in enumerate(batch.schema.names):
                # an integer id column with a null would come back as floats ("7.0"); Arrow's text is "7"
                if name.strip() in text:
                    frame[name] = batch.column(i).cast(pa.string()).to_pandas()
            done += len(frame)
            yield frame, done / total
        return
    size = 0
    if isinstance(source, str | Path):
        size = Path(source).stat().st_size
        handle: IO[bytes] = Path(source).open("rb")  # noqa: SIM115 - closed in the finally below
        close = True
    else:
        handle, close = source, False
        pos = handle.tell()
        handle.seek(0, 2)
        size = handle.tell() - pos
        handle.seek(pos)
    start = handle.tell()
    try:
        reader = pd.read_csv(handle, dtype=str, keep_default_na=False, chunksize=chunk_rows,
                             skipinitialspace=True)
        for frame in reader:
            yield frame, min((handle.tell() - start) / size, 1.0) if size else 1.0
    finally:
        if close:
            handle.close()


# --- validating ------------------------------------------------------------------------------------


def _blank(col: pd.Series) -> pd.Series:
    if col.dtype == object or pd.api.types.is_string_dtype(col):
        return col.isna() | (col.astype("str").str.strip() == "")
    return col.isna()


class _Checker:
    """Vectorised row checks on one chunk; collects reasons per row."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.reasons = [[] for _ in range(len(frame))]

    def flag(self, mask: pd.Series | np.ndarray, message: Callable[[object], str], values: pd.Series) -> None:
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        raw = values.to_numpy()
        for i in idx:
            self.reasons[i].append(message(raw[i]))

    def timestamp(self, name: str, *, required: bool, now: datetime | None) -> pd.Series:
        """Parse a timestamp column (naive UTC); ``now=None`` allows the future (a due time)."""
        col = self.frame[name]
        blank = _blank(col)
        if pd.api.types.is_datetime64_any_dtype(col):
            parsed = col.dt.tz_convert("UTC").dt.tz_localize(None) if col.dt.tz is not None else col
        else:
            parsed = pd.to_datetime(col.where(~blank), errors="coerce", format="ISO8601", utc=True)
            parsed = parsed.dt.tz_localize(None)
        if required:
            self.flag(blank, lambda _v: f"{name} is empty", col)
        self.flag(~blank & parsed.isna(),
                  lambda v: f"{name} {v!r} is not a timestamp (use ISO 8601, e.g. 2026-03-01 14:05:00)", col)
        if now is not None:
            self.flag(parsed > now, lambda v: f"{name} {v} is in the future", col)
        self.flag(parsed < EARLIEST_ACCEPTED,
                  lambda v: f"{name} {v} is before {EARLIEST_ACCEPTED:%Y-%m-%d} (the earliest date accepted)", col)
        return parsed.astype("datetime64[s]")

    def number(self, name: str, *, required: bool, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> pd.Series:
        col = self.frame[name]
        blank = _blank(col)
        parsed = pd.to_numeric(col.where(~blank), errors="coerce").astype("float64")
        if required:
            self.flag(blank, lambda _v: f"{name} is empty", col)
        self.flag(~blank & parsed.isna(), lambda v: f"{name} {v!r} is not a number", col)
        if low is not None:
            below = parsed <= low if low_open else parsed < low
            rule = f"> {low:g}" if low_open else f">= {low:g}"
            self.flag(below, lambda v: f"{name} {v} must be {rule}" + (" (negative)" if low == 0 else ""), col)
        if high is not None:
            self.flag(parsed > high, lambda v: f"{name} {v} must be <= {high:g}", col)
        return parsed

    def flag01(self, name: str) -> pd.Series:
        col = self.frame[name]
        blank = _blank(col)
        mapped = col.astype("str").str.strip().str.lower().map(_FLAGS)
        self.flag(~blank & mapped.isna(), lambda v: f"{name} {v!r} must be 0/1 (or true/false)", col)
        return mapped.fillna(0).astype("int64")

    def category(self, name: str, known: Iterable[str] | None, *, hint: str = "") -> pd.Series:
        col = self.frame[name]
        blank = _blank(col)
        text = col.astype("str").str.strip()
        self.flag(blank, lambda _v: f"{name} is empty", col)
        if known is not None:
            allowed = set(known)
            self.flag(~blank & ~text.isin(allowed), lambda v: f"unknown {name} {v!r}{hint}", col)
        return text


def _validate_cases(chunk: pd.DataFrame, *, now: datetime, settings: Settings,
                    known: Mapping[str, Iterable[str]]) -> tuple[pd.DataFrame, list[list[str]]]:
    check = _Checker(chunk)
    out = pd.DataFrame(index=chunk.index)
    ids = chunk["case_id"]
    check.flag(_blank(ids), lambda _v: "case_id is empty", ids)
    out["case_id"] = ids.astype("str").str.strip()
    out["created_at"] = check.timestamp("created_at", required=True, now=now)
    # an optional column the file lacks is written empty (its KPIs are then not shown), never guessed
    if "solved_at" in chunk:
        out["solved_at"] = check.timestamp("solved_at", required=False, now=now)
        check.flag(out["solved_at"] < out["created_at"], lambda v: f"solved_at {v} is before created_at",
                   chunk["solved_at"])
    else:
        out["solved_at"] = pd.NaT
    for d in settings.dimension_keys:
        out[d] = check.category(d, known.get(d), hint=f" (not among the known {settings.label(d).lower()} values; "
                                "map it with [values." + d + "] or untick strict checking)")
    route_of = {v: ours for ours, theirs in settings.route_values.items() for v in theirs}
    route_of.update({"manual": "manual", "automated": "automated"})
    if "route" in chunk:
        route = check.category("route", route_of, hint=" (expected manual or automated, or a value "
                               "listed under [values.route])")
        out["route"] = route.map(route_of)
    else:
        out["route"] = None
    out["handle_time_s"] = check.number("handle_time_s", required=False, low=0) if "handle_time_s" in chunk \
        else np.nan
    out["sla_hours"] = check.number("sla_hours", required=True, low=0, low_open=True) if "sla_hours" in chunk \
        else np.nan
    for flag in ("escalated", "reopened"):
        out[flag] = check.flag01(flag) if flag in chunk else 0
    out["csat"] = check.number("csat", required=False, low=1, high=5) if "csat" in chunk else np.nan
    out["qa_score"] = check.number("qa_score", required=False, low=0, high=100) if "qa_score" in chunk else np.nan
    if "sla_due_at" in chunk:
        out["sla_due_at"] = check.timestamp("sla_due_at", required=False, now=None)
    else:
        out["sla_due_at"] = pd.NaT
    return out[list(_canonical_settings(settings).case_columns)], check.reasons


def _validate_volume(chunk: pd.DataFrame, *, now: datetime, settings: Settings,
                     known: Mapping[str, Iterable[str]]) -> tuple[pd.DataFrame, list[list[str]]]:
    check = _Checker(chunk)
    out = pd.DataFrame(index=chunk.index)
    day = check.timestamp("day", required=True, now=now)
    check.flag(day.notna() & (day != day.dt.floor("D")), lambda v: f"day {v!r} is not a date", chunk["day"])
    out["day"] = day.dt.floor("D")
    for d in settings.dimension_keys:
        out[d] = check.category(d, known.get(d), hint=f" (not among the known {settings.label(d).lower()} values)") \
            if d in chunk else "all"
    for m in MEASURES:
        if m not in chunk:
            out[m] = 0.0
            continue
        value = check.number(m, required=m in ("incoming", "solved"), low=0)
        if m in _COUNTS:
            check.flag(value.notna() & (value != value.round()), lambda v, m=m: f"{m} {v} is not a whole number",
                       chunk[m])
        out[m] = value.fillna(0.0)
    for part, whole in (("incoming_manual", "incoming"), ("solved_manual", "solved"), ("solved_in_sla", "solved")):
        check.flag(out[part] > out[whole], lambda v, p=part, w=whole: f"{p} {v} exceeds {w}",
                   chunk.get(part, out[part]))
    return out, check.reasons


def _id_key(text: str) -> tuple:
    """What case ids collide on: the exact number a numeric id reads as (``7`` = ``07`` = ``7.0``), else the text.

    Computed from the digits, not a float, so long ids never collide by rounding.
    """
    text = text.strip()
    if _NUMBER.fullmatch(text):
        try:
            sign, digits, exponent = Decimal(text).as_tuple()
        except InvalidOperation:  # an exponent beyond Decimal's range: compare as text
            return ("text", text)
        lead = "".join(map(str, digits)).lstrip("0")
        if not lead:
            return ("number", 0, "", 0)
        body = lead.rstrip("0")
        return ("number", sign, body, exponent + len(lead) - len(body))
    return ("text", text)


def _numeric_affinity(cur: object, table: str) -> str | None:
    """The declared type of ``table.case_id`` if SQLite converts numeric text stored in it to numbers, else None.

    SQLite's affinity rules: a declared type containing INT, REAL, FLOA, DOUB or none of CHAR/CLOB/TEXT/BLOB
    (and not empty) converts ``'07'`` to ``7``; TEXT and BLOB (or no type) keep the text.
    """
    declared = next((row[2] for row in cur.execute(f"PRAGMA table_info({table})") if row[1] == "case_id"), "")
    upper = str(declared).upper()
    if "INT" in upper or not (any(t in upper for t in ("CHAR", "CLOB", "TEXT", "BLOB")) or upper == ""):
        return str(declared)
    return None


def _stored_spellings(cur: object, table: str, ids: list[str]) -> dict[tuple, str]:
    """Ids already in ``table`` that read as the same number as one of ``ids``, keyed by :func:`_id_key`.

    An index probe per id (on ``CAST(case_id AS REAL)``, partial to numeric-looking ids); rounding to a double
    only widens the match, the exact comparison is :func:`_id_key`'s.
    """
    found: dict[tuple, str] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        rows = cur.execute(f"SELECT case_id FROM {table} WHERE {_NUMERIC_LOOKING} AND CAST(case_id AS REAL) IN "
                           f"({', '.join('CAST(? AS REAL)' for _ in part)})", part).fetchall()
        for (stored,) in rows:
            found.setdefault(_id_key(str(stored)), str(stored))
    return found


def _check_case_ids(raw: pd.Series, reasons: list[list[str]], *, seen: dict[tuple, tuple[int, str]], line0: int,
                    stored: Callable[[list[str]], dict[tuple, str]] | None, numeric_column: str | None) -> None:
    """Flag duplicate and colliding case ids (in place in ``reasons``); ``seen`` carries the file so far.

    The first row of an id (or of a number spelled several ways) is kept; later rows are bad rows naming it.
    ``stored`` looks up other spellings already in the database; ``numeric_column`` (an existing table whose
    id column converts numeric text) rejects ids that would not be stored as spelled.
    """
    texts = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in raw.tolist()]
    keys = [_id_key(t) if not reasons[i] else None for i, t in enumerate(texts)]
    if numeric_column is not None:
        for i, (text, key) in enumerate(zip(texts, keys, strict=True)):
            if key is not None and key[0] == "number" and not _plain_int64(text.strip()):
                reasons[i].append(f"case_id {text!r} would be stored as a number and lose its spelling: the "
                                  f"existing table declares case_id {numeric_column} (import into a new database "
                                  "file to keep ids as text)")
                keys[i] = None
    lookup = [texts[i].strip() for i, k in enumerate(keys) if k is not None and k[0] == "number" and k not in seen]
    spellings = stored(lookup) if stored is not None and lookup else {}
    for i, (text, key) in enumerate(zip(texts, keys, strict=True)):
        if key is None:
            continue
        if key in seen:
            line, first = seen[key]
            if text == first:
                reasons[i].append(f"duplicate case_id (first on line {line})")
            else:
                why = "same id, different spaces" if text.strip() == first.strip() else "same number, different text"
                reasons[i].append(f"case_id {text!r} collides with {first!r} on line {line} ({why})")
        elif key in spellings and spellings[key] != text.strip():
            reasons[i].append(f"case_id {text!r} collides with {spellings[key]!r} already in the database "
                              "(same number, different text)")
        else:
            seen[key] = (line0 + i, text)


def _plain_int64(text: str) -> bool:
    """Whether SQLite stores ``text`` in a numeric column as an integer that reads back as the same text."""
    return bool(re.fullmatch(r"-?[1-9]\d*|0", text)) and -(2**63) <= int(text) < 2**63


# --- writing ---------------------------------------------------------------------------------------


def _sql_values(frame: pd.DataFrame) -> list[tuple]:
    cols = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            text = col.dt.strftime("%Y-%m-%d %H:%M:%S" if name != "day" else "%Y-%m-%d").astype(object)
            cols.append(text.where(col.notna(), None).tolist())
        else:
            arr = col.astype(object)
            cols.append(arr.where(col.notna(), None).tolist())
    return list(zip(*cols, strict=True))


def _add_new_columns(engine: Engine, table: sa.Table) -> None:
    """Give an import table made by an earlier version the optional columns added since (an embedded table
    the importer owns; existing rows read them as empty)."""
    have = {c["name"].lower() for c in sa.inspect(engine).get_columns(table.name)}
    q = engine.dialect.identifier_preparer.quote  # a dimension key may be a keyword (`group`, `order`)
    with engine.begin() as conn:
        for col in table.columns:
            if col.name.lower() not in have and not col.primary_key:
                conn.execute(sa.text(f"ALTER TABLE {q(table.name)} ADD COLUMN {q(col.name)} "
                                     f"{col.type.compile(engine.dialect)}"))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _upsert_sql(table: str, columns: list[str], keys: list[str]) -> str:
    # SQLite identifiers in double quotes: a dimension key may be a keyword (`group`, `order`)
    table, columns, keys = _quoted(table), [_quoted(c) for c in columns], [_quoted(k) for k in keys]
    rest = [c for c in columns if c not in keys]
    sets = ", ".join(f"{c} = excluded.{c}" for c in rest)
    changed = " OR ".join(f"{c} IS NOT excluded.{c}" for c in rest)
    # the WHERE keeps identical rows untouched: re-importing a file changes nothing (and counts nothing)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT({', '.join(keys)}) DO UPDATE SET {sets} WHERE {changed}")


def _bad_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if parts:
        return pd.concat(parts, ignore_index=True)
    return pd.DataFrame({"line": pd.Series(dtype="int64"), "key": pd.Series(dtype="str"),
                         "reasons": pd.Series(dtype="str")})


def import_file(source: str | Path | IO[bytes], engine: Engine, *, kind: Literal["cases", "volume"] = "cases",
                file_format: Literal["csv", "parquet"] | None = None, settings: Settings | None = None,
                known_values: Mapping[str, Iterable[str]] | None = None, on_bad: Literal["skip", "abort"] = "skip",
                chunk_rows: int = 50_000, now: datetime | None = None,
                progress: Callable[[float, str], None] | None = None) -> ImportReport:
    """Validate a CSV or Parquet file row by row and upsert its good rows into the embedded database.

    Parameters
    ----------
    source : path or binary file object
        The file (a Streamlit upload works as is).
    engine : Engine
        The embedded SQLite database; other dialects are refused.
    kind : {"cases", "volume"}
        One row per case (canonical case columns) or daily volumes (``day``, dimensions, measures).
    file_format : {"csv", "parquet"}, optional
        Guessed from the file name when omitted.
    settings : Settings, optional
        Supplies ``[values.route]`` so the user's route values (``bot``) are accepted and stored as ours.
    known_values : mapping, optional
        Per dimension, the accepted values; others are bad rows ("unknown category"). ``None``: any value.
    on_bad : {"skip", "abort"}
        Load the good rows and report the bad ones, or write nothing if any row is bad.
    chunk_rows : int
        Rows per chunk (memory stays proportional to it).
    now : datetime, optional
        Timestamps after it (naive UTC, default: now + 1 hour of clock skew) are "in the future"; those before
        :data:`EARLIEST_ACCEPTED` are bad rows too.
    progress : callable, optional
        ``progress(fraction, message)`` after each chunk; raising from it cancels the import (nothing written).

    Returns
    -------
    ImportReport

    Raises
    ------
    ImportRejected
        The target is not SQLite, the file is empty or unreadable, or required columns are missing.
        Nothing is written in any of these cases.
    RowsRejected
        (an :class:`ImportRejected`) no row of the file is good, or ``on_bad="abort"`` found a bad row; its
        ``bad_rows`` lists them. Nothing is written.

    Notes
    -----
    Case ids are compared as the text the file holds (surrounding spaces stripped). Ids that differ as text
    but read as the same number (``7``, ``07``, ``7.0``), or differ only by spaces, collide: the first row
    is kept and every later one is a bad row naming the first spelling — including a spelling already in
    the database (one index probe per numeric id). A table created by an earlier version stores ``case_id``
    as a number; there, ids that would not be stored as spelled (``07``) are bad rows instead.

    Examples
    --------
    >>> report = import_file("cases.csv", make_engine("sqlite:///ops.sqlite"))  # doctest: +SKIP
    >>> report.inserted, len(report.bad_rows)  # doctest: +SKIP
    (1200, 3)
    """
    began = time.perf_counter()
    if kind not in IMPORT_TABLES:
        raise ValueError(f"`kind` must be 'cases' or 'volume', got {kind!r}")
    if on_bad not in ("skip", "abort"):
        raise ValueError(f"`on_bad` must be 'skip' or 'abort', got {on_bad!r}")
    if chunk_rows < 1:
        raise ValueError(f"`chunk_rows` must be >= 1, got {chunk_rows}")
    if engine.dialect.name != "sqlite":
        raise ImportRejected(f"imports go into the embedded SQLite database only, not into {engine.dialect.name}",
                             hint="Load your server database with your own tools; the dashboard only reads it.")
    name = getattr(source, "name", str(source))
    file_format = file_format or ("parquet" if str(name).lower().endswith((".parquet", ".pq")) else "csv")
    if file_format not in ("csv", "parquet"):
        raise ValueError(f"`file_format` must be 'csv' or 'parquet', got {file_format!r}")
    settings = settings or Settings(url=str(engine.url))
    now = now or datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    known = {d: list(v) for d, v in (known_values or {}).items()}
    required, optional = import_frame_columns(kind, settings)
    say = progress or (lambda _f, _m: None)
    validate = _validate_cases if kind == "cases" else _validate_volume
    table = IMPORT_TABLES[kind]
    keys = ["case_id"] if kind == "cases" else ["day", *settings.dimension_keys]

    metadata = sa.MetaData()
    target = (cases_import_table if kind == "cases" else volume_import_table)(metadata, settings)
    metadata.create_all(engine)
    _add_new_columns(engine, target)

    bad: list[pd.DataFrame] = []
    why: Counter[str] = Counter()
    seen: dict[object, object] = {}
    rows_read = chunks = changed = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        before = cur.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        cur.execute("BEGIN IMMEDIATE")
        try:
            numeric_ids = _numeric_affinity(cur, table) if kind == "cases" else None
            stored = None
            if kind == "cases" and numeric_ids is None:
                # makes the look-up of an id's other spellings in the database one index probe per id
                cur.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_case_id_number ON {table} "
                            f"(CAST(case_id AS REAL)) WHERE {_NUMERIC_LOOKING}")
                stored = partial(_stored_spellings, cur, table)
            text_columns = ("case_id",) if kind == "cases" else ()
            for chunk, fraction in _chunks(source, file_format, chunk_rows, text=text_columns):
                chunk.columns = [str(c).strip() for c in chunk.columns]
                if chunks == 0:
                    missing = [c for c in required if c not in chunk.columns]
                    if missing:
                        raise ImportRejected(
                            f"the file has no column(s) {', '.join(missing)}",
                            hint=f"A {kind} file needs the columns {', '.join(required)} "
                            f"(optional: {', '.join(optional)}); rename the header to our names.")
                line0 = rows_read + (2 if file_format == "csv" else 1)
                rows_read += len(chunk)
                chunks += 1
                chunk = chunk.reset_index(drop=True)
                clean, reasons = validate(chunk, now=now, settings=settings, known=known)
                if kind == "cases":
                    _check_case_ids(chunk["case_id"], reasons, seen=seen, line0=line0, stored=stored,
                                    numeric_column=numeric_ids)
                else:
                    key = list(clean[keys].astype("str").itertuples(index=False, name=None))
                    for i, k in enumerate(key):
                        if reasons[i]:
                            continue
                        if k in seen:
                            reasons[i].append(f"duplicate {' × '.join(keys)} (first on line {seen[k]})")
                        else:
                            seen[k] = line0 + i
                ok = np.array([not r for r in reasons])
                if not ok.all():
                    shown = chunk.loc[~ok, [keys[0]]].astype("str").iloc[:, 0]
                    bad.append(pd.DataFrame({
                        "line": np.flatnonzero(~ok) + line0, "key": shown.to_numpy(),
                        "reasons": ["; ".join(r) for r in reasons if r],
                    }))
                    why.update(reason for r in reasons for reason in r)
                    if on_bad == "abort":
                        raise RowsRejected(f"{int((~ok).sum())} bad row(s) in the file; nothing was imported",
                                           hint="Fix the rows listed (download them) or choose to skip bad rows.",
                                           bad_rows=_bad_frame(bad))
                good = clean[ok]
                if len(good):
                    total_before = raw.total_changes if hasattr(raw, "total_changes") else None
                    cur.executemany(_upsert_sql(table, list(good.columns), keys), _sql_values(good))
                    changed += (raw.total_changes - total_before) if total_before is not None else len(good)
                say(fraction, f"{rows_read:,} rows read, {sum(len(b) for b in bad):,} bad")
            if rows_read == 0:
                raise ImportRejected("the file has no data rows", hint="Upload a file with a header and rows.")
            bad_rows = _bad_frame(bad)
            if len(bad_rows) == rows_read:
                common = "; ".join(f"{reason} ({n:,} row{'s' if n > 1 else ''})" for reason, n in why.most_common(3))
                raise RowsRejected(
                    f"none of the {rows_read:,} row(s) read is good, so nothing was written. "
                    f"Most common reasons: {common}",
                    hint="Fix the rows listed (download them) and upload the file again.", bad_rows=bad_rows)
            after = cur.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise ImportRejected(f"the file cannot be read as {file_format.upper()}: {str(err).splitlines()[0]}",
                             hint="Check the file type and encoding (UTF-8); nothing was imported.") from err
    except ImportRejected:
        raise
    except Exception as err:
        if type(err).__module__.startswith(("pyarrow", "sqlite3")):
            raise ImportRejected(f"the import failed and was rolled back: {err}",
                                 hint="Nothing was written; fix the file or retry.") from err
        raise
    finally:
        raw.close()
    good_total = rows_read - len(bad_rows)
    inserted = after - before
    updated = max(changed - inserted, 0)
    say(1.0, "done")
    return ImportReport(kind, table, rows_read, inserted, updated, good_total - inserted - updated, bad_rows,
                        chunks, time.perf_counter() - began)

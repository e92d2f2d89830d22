"""Known events: what the detector masks (holidays, launches, outages), one frame for the app and the CLI.

An event has a ``start`` and ``end`` day, a ``name`` and one scope column per scanned dimension (null: the
event applies everywhere). They come from one events CSV (:func:`events_path`: ``OPS_EVENTS``, ``events.csv``
beside the configuration file, or the file beside a SQLite source, where the sample writes its holidays), and
from notes marked as known events (:func:`note_events`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["EVENT_COLUMNS", "event_columns", "events_path", "known_events", "note_events", "read_events_csv",
           "relative_to"]

SLICE_DIMENSIONS = ("workflow", "vendor_site")
#: columns of the events frame
EVENT_COLUMNS = ("start", "end", "name", *SLICE_DIMENSIONS)  # the sample's; a deployment's: event_columns()


def event_columns(dims: tuple[str, ...]) -> tuple[str, ...]:
    """The events frame's columns: dates, name, and one scope column per scanned dimension."""
    return ("start", "end", "name", *dims)


def read_events_csv(path: Path, dims: tuple[str, ...] = SLICE_DIMENSIONS) -> pd.DataFrame:
    """Read an events CSV into the events frame (columns ``event_columns(dims)``; a scope column the file
    lacks means everywhere).

    Raises
    ------
    ValueError
        If the file has no ``start``/``day`` or ``name`` column, or a date does not parse, or an
        ``end`` is before its ``start``.
    """
    raw = pd.read_csv(path, dtype=str).rename(columns=str.strip)
    start_col = next((c for c in ("start", "day", "date") if c in raw.columns), None)
    if start_col is None or "name" not in raw.columns:
        raise ValueError(f"events file {path.name} must have a `start` (or `day`) and a `name` column, "
                         f"got {', '.join(raw.columns)}")
    try:
        start = pd.to_datetime(raw[start_col].str.strip(), format="%Y-%m-%d")
        end = pd.to_datetime(raw["end"].str.strip(), format="%Y-%m-%d") if "end" in raw.columns else start
    except ValueError as err:
        raise ValueError(f"events file {path.name}: dates must be YYYY-MM-DD ({err})") from None
    end = end.fillna(start)
    if (end < start).any():
        bad = raw.loc[(end < start).to_numpy(), "name"].iloc[0]
        raise ValueError(f"events file {path.name}: `end` must be on or after `start` (event {bad!r})")
    out = pd.DataFrame({"start": start, "end": end, "name": raw["name"].fillna("event")})
    for d in dims:
        out[d] = raw[d].str.strip().replace("", None) if d in raw.columns else None
    return out[list(event_columns(dims))]



def events_path(config_path: Path | None, environ: Mapping[str, str] | None = None, *,
                source_url: str | None = None) -> Path | None:
    """The events CSV in use: ``OPS_EVENTS``; else ``events.csv`` beside the configuration file; else, for a
    SQLite source, ``<file stem>.events.csv`` beside the database (where ``python -m sample_data.build`` writes
    the sample's holidays); else None. A file named by ``OPS_EVENTS`` is returned even when it is missing (the
    caller says so); the others only when they exist."""
    environ = os.environ if environ is None else environ
    named = environ.get("OPS_EVENTS")
    if named:
        return Path(named)
    candidates = []
    if config_path is not None:
        candidates.append(Path(config_path).with_name("events.csv"))
    if source_url and source_url.startswith("sqlite:///"):
        db = Path(source_url.split("sqlite:///", 1)[1].split("?", 1)[0])
        candidates.append(db.with_name(f"{db.stem}.events.csv"))
    return next((p for p in candidates if p.exists()), None)


def known_events(dims: tuple[str, ...], *, path: Path | None = None) -> pd.DataFrame:
    """The known events of the events CSV at ``path`` (see :func:`events_path`), sorted by start; an empty events
    frame without one.

    Raises
    ------
    ValueError
        A malformed events CSV (see :func:`read_events_csv`).
    """
    columns = list(event_columns(dims))
    if path is None:
        return pd.DataFrame({c: pd.Series([], dtype="datetime64[ns]" if c in ("start", "end") else object)
                             for c in columns})
    out = read_events_csv(Path(path), dims).reindex(columns=columns)
    return out.sort_values("start", kind="stable").reset_index(drop=True)


def note_events(notes: Iterable[Any], dims: tuple[str, ...]) -> pd.DataFrame:
    """Notes marked as known events (records with ``day``, ``slice`` pairs, ``kpi``, ``text``, ``status``) as an
    events frame: ``event_columns(dims)`` plus ``kpi`` and ``exact`` — a note masks its own KPI (every KPI when it
    names none) on exactly its slice (``metrics.anomalies.events_for``). A note on a dimension that is not
    scanned cannot be masked and is left out. One conversion for the app and the weekly CLI."""
    columns = [*event_columns(dims), "kpi", "exact"]
    rows = []
    for n in notes:
        where = dict(n.slice)
        if not set(where) <= set(dims):
            continue
        rows.append({"start": pd.Timestamp(n.day), "end": pd.Timestamp(n.day),
                     "name": n.text or str(n.status).replace("_", " ").capitalize(),
                     **{d: where.get(d) for d in dims}, "kpi": n.kpi, "exact": True})
    return pd.DataFrame(rows, columns=columns)


def relative_to(events: pd.DataFrame, fixed: Mapping[str, str]) -> pd.DataFrame:
    """Events relative to data read with some dimensions fixed to one value (by filters or a user's scope):
    such a dimension is no longer a scope — an event pinned to its value applies to every series read (they all
    are within it), one pinned to another value to none. So a partner's panel and an admin's panel filtered to
    the same site are judged alike."""
    for d, value in fixed.items():
        if d in events.columns:
            events = events[events[d].isna() | (events[d].astype(str) == value)].drop(columns=[d])
    return events.reset_index(drop=True)


"""Known events: what the detector masks (holidays, launches, outages), one frame for the app and the CLI.

An event has a ``start`` and ``end`` day, a ``name`` and one scope column per scanned dimension (null: the
event applies everywhere). They come from the events CSVs (:func:`events_paths`: ``OPS_EVENTS`` or ``events.csv``
beside the configuration file, and the file beside a SQLite source, where the sample writes its holidays), and
from notes marked as known events (:func:`note_events`).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metrics.errors import AnomalyInputError
from metrics.slices import Slice, series_parts

__all__ = [
    "EVENT_COLUMNS",
    "event_columns",
    "event_labels",
    "events_for",
    "events_paths",
    "known_events",
    "note_events",
    "read_events_csv",
    "relative_to",
    "scoped_event_labels",
]

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



def events_paths(config_path: Path | None, environ: Mapping[str, str] | None = None, *,
                 source_url: str | None = None) -> list[Path]:
    """The events CSVs in use, all read and combined: the team's own — ``OPS_EVENTS``, else ``events.csv`` beside
    the configuration file — and, for a SQLite source, ``<file stem>.events.csv`` beside the database (where
    ``python -m sample_data.build`` writes the sample's holidays). A file named by ``OPS_EVENTS`` is listed even
    when it is missing (the caller says so); the others only when they exist."""
    environ = os.environ if environ is None else environ
    found: list[Path] = []
    named = environ.get("OPS_EVENTS")
    if named:
        found.append(Path(named))
    elif config_path is not None and (beside := Path(config_path).with_name("events.csv")).exists():
        found.append(beside)
    if source_url and source_url.startswith("sqlite:///"):
        db = Path(source_url.split("sqlite:///", 1)[1].split("?", 1)[0])
        if (beside_db := db.with_name(f"{db.stem}.events.csv")).exists() and beside_db not in found:
            found.append(beside_db)
    return found


def known_events(dims: tuple[str, ...], *, paths: Iterable[Path] = ()) -> pd.DataFrame:
    """The known events of the events CSVs at ``paths`` (see :func:`events_paths`), sorted by start; an empty
    events frame without any.

    Raises
    ------
    ValueError
        A malformed events CSV (see :func:`read_events_csv`).
    """
    columns = list(event_columns(dims))
    frames = [read_events_csv(Path(p), dims).reindex(columns=columns) for p in paths]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype="datetime64[ns]" if c in ("start", "end") else object)
                             for c in columns})
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values("start", kind="stable").reset_index(drop=True)


def note_events(notes: Iterable[Any], dims: tuple[str, ...]) -> pd.DataFrame:
    """Notes marked as known events (records with ``day``, ``slice`` pairs, ``kpi``, ``text``, ``status``) as an
    events frame: ``event_columns(dims)`` plus ``kpi`` and ``exact`` — a note masks its own KPI (every KPI when it
    names none) on exactly its slice (``metrics.events.events_for``). A note on a dimension that is not
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


# ------------------------------------------------------------------- scoping events to series
# an events frame's other columns scope it (see :func:`events_for`)
_EVENT_FIELDS = frozenset({"start", "end", "day", "date", "name", "label", "event", "description", "kpi", "exact"})


# ------------------------------------------------------------------------------ events
def event_labels(index: pd.DatetimeIndex, events: Any) -> np.ndarray:
    """Name of the event covering each timestamp ("" when none)."""
    labels = np.full(len(index), "", dtype=object)
    if events is None:
        return labels
    rows: list[tuple[pd.Timestamp, pd.Timestamp, str]] = []
    if isinstance(events, pd.DataFrame):
        cols = set(events.columns)
        start_col = next((c for c in ("start", "day", "date") if c in cols), None)
        if start_col is None:
            raise AnomalyInputError(
                "`events` frame must have a `start` (or `day` / `date`) column, "
                f"got columns {sorted(map(str, cols))}")
        name_col = next((c for c in ("name", "label", "event", "description") if c in cols), None)
        scopes = [c for c in events.columns if c not in _EVENT_FIELDS]
        for rec in events.to_dict("records"):
            start = pd.Timestamp(rec[start_col])
            end = pd.Timestamp(rec["end"]) if "end" in cols and pd.notna(rec["end"]) else start
            name = str(rec[name_col]) if name_col else "event"
            where = [str(rec[c]) for c in scopes if pd.notna(rec[c])]
            rows.append((start, end, f"{name} at {' · '.join(where)}" if where else name))
    elif isinstance(events, pd.Series):
        for when, name in events.items():
            rows.append((pd.Timestamp(when), pd.Timestamp(when), str(name)))
    elif isinstance(events, (str, pd.Timestamp)) or not isinstance(events, Iterable):
        raise AnomalyInputError(
            "`events` must be a list of dates, a Series (date -> name) or a frame with "
            f"`start`[, `end`, `name`], got {type(events).__name__}")
    else:
        for when in events:
            rows.append((pd.Timestamp(when), pd.Timestamp(when), "event"))
    if len(index) == 0:
        return labels
    tz = index.tz
    for start, end, name in rows:
        if end < start:
            raise AnomalyInputError(f"event `end` must be >= `start`, got {start} > {end}")
        if tz is not None and start.tz is None:
            start, end = start.tz_localize(tz), end.tz_localize(tz)
        # a date-only event covers its whole day(s) on sub-daily data
        if end == end.normalize():
            end = end + pd.Timedelta(days=1) - pd.Timedelta(1, unit="ns")
        mask = (index >= start) & (index <= end)
        labels[mask] = np.where(labels[mask] == "", name, labels[mask] + "; " + name)
    return labels


def _slice_of(sid: Hashable) -> dict[str, str]:
    """``{dimension: value}`` of a series id's slice keys (opaque labels ignored)."""
    out: dict[str, str] = {}
    for part in sid[1:] if isinstance(sid, tuple) else ():
        with suppress(ValueError):
            out.update(Slice.parse(str(part)).filters)
    return out


def events_for(events: Any, slice_: Mapping[str, str], kpi: str | None = None) -> Any:
    """The events that apply to one slice of the data (and, given ``kpi``, to that KPI's series).

    An events frame may carry scope columns named after dimensions (``vendor_site``,
    ``workflow``, ...): a row with a value there applies only to series pinned to that value
    (Manila, copyright at Manila), never to another value's (a Manila holiday does not excuse a
    drop at Dublin) nor to the series that merely contain it (one site's holiday never excuses
    the company total, which is judged as usual).  A null scope means everywhere.

    Two optional columns narrow a row further (the app's notes marked as known events use them): ``kpi``
    (null: every KPI) keeps the row for that KPI's series only, and ``exact`` (true) for the one slice it names:
    its null scopes then mean "not pinned", so a note on the Manila total masks neither copyright at Manila nor
    the company total.

    Parameters
    ----------
    events : list, Series or DataFrame
        As the ``events`` option of :func:`detect`; only a frame can be scoped.
    slice_ : mapping
        ``{dimension: value}`` of the series (``{}`` for the total).

    Returns
    -------
    Same type as ``events``
        The applicable rows (a non-frame input is returned unchanged).

    Examples
    --------
    >>> ev = pd.DataFrame({"day": ["2024-06-12", "2024-12-25"], "name": ["PH day", "Xmas"],
    ...                    "vendor_site": ["Manila", None]})
    >>> events_for(ev, {"vendor_site": "Dublin"})["name"].tolist()
    ['Xmas']
    >>> events_for(ev, {"workflow": "copyright"})["name"].tolist()
    ['Xmas']
    >>> events_for(ev, {"vendor_site": "Manila", "workflow": "copyright"})["name"].tolist()
    ['PH day', 'Xmas']
    """
    if not isinstance(events, pd.DataFrame) or events.empty:
        return events
    keep = np.ones(len(events), dtype=bool)
    exact = events["exact"].fillna(False).astype(bool).to_numpy() if "exact" in events.columns else keep & False
    for dim in (c for c in events.columns if c not in _EVENT_FIELDS):
        scope = events[dim]
        value = slice_.get(dim)
        pinned = scope.astype(str) == str(value) if value is not None else False
        # an exact row's null scope matches only a series not pinned on that dimension
        keep &= ((scope.isna() & (~exact | (value is None))) | pinned).to_numpy()
    if kpi is not None and "kpi" in events.columns:
        keep &= (events["kpi"].isna() | (events["kpi"].astype(str) == kpi)).to_numpy()
    return events[keep]


def scoped_event_labels(index: pd.DatetimeIndex, events: Any, cols: list) -> np.ndarray:
    """Event names per (timestamp, series): scoped rows only where :func:`events_for` keeps them."""
    labels = np.full((len(index), len(cols)), "", dtype=object)
    if events is None:
        return labels
    cache: dict[tuple, np.ndarray] = {}
    scope_dims = set(events.columns) - _EVENT_FIELDS if isinstance(events, pd.DataFrame) else set()
    by_kpi = isinstance(events, pd.DataFrame) and "kpi" in events.columns
    for j, sid in enumerate(cols):
        relevant = tuple(sorted((d, v) for d, v in _slice_of(sid).items() if d in scope_dims))
        kpi = series_parts(sid)[0] if by_kpi else None
        if (relevant, kpi) not in cache:
            cache[relevant, kpi] = event_labels(index, events_for(events, dict(relevant), kpi))
        labels[:, j] = cache[relevant, kpi]
    return labels

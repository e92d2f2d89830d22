"""Properties of mapping + roll-up: for random case tables, the roll-up the product builds equals a pandas
reference computed from the same rows, on SQLite, PostgreSQL and MariaDB.

Every example is a table of the user's own shape: 1 to 6 dimensions read from columns of other names (1 to 200
values each, NULL and empty values, some of them mapped onto ours), a random subset of the optional columns
(NULLs inside the present ones), duplicate case ids, route values of the user's own, an SLA from ``sla_hours``,
``sla_due_at`` or ``[sla]`` targets. Its business time zone is one of UTC, America/Chicago, Asia/Kolkata
(+05:30), Australia/Lord_Howe (a 30-minute DST) or Pacific/Chatham (+12:45), its naive timestamps are meant as
UTC or as local time, and many of them lie within minutes of a local or a UTC midnight or of a DST change.

The reference (:func:`reference`) reads the rows in pandas, measure by measure as docs/architecture.md and
loaders/rollup.py define them; counts must be equal, sums within a tight tolerance. Each example creates its
own uniquely named tables in the session's database and drops them.
"""

from __future__ import annotations

import functools
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loaders import Filters, Settings, SourceUnavailable, load_daily_volume, make_engine, refresh_rollup, rollup_state
from loaders.rollup import EARLIEST_DAY, NONE_VALUE, owned_table, rollup_table, state_table
from loaders.settings import CASE_COLUMNS, MAX_DIMENSIONS, MEASURES, settings_from_mapping
from tests.conftest import unavailable

ZONES = ("UTC", "America/Chicago", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham")
OPTIONAL = tuple(c for c, (_, required) in CASE_COLUMNS.items() if not required)
TIMESTAMPS = ("created_at", "solved_at", "sla_due_at")
FLOATS = ("handle_time_s", "age_at_solve_h", "csat_sum", "qa_sum")
COUNTS = tuple(m for m in MEASURES if m not in FLOATS)
#: SLA targets a configuration or a row may give, and ages a case may be solved at exactly
TARGETS = (0.5, 1, 1.5, 4, 8, 24, 48, 72)
ROW_TARGETS = (*TARGETS, 0, 0.25, 2.75)
ROUTES = ("manual", "automated", "agent", "bot", "human", "macro", "other", "", None)
#: dimension keys: plain ones, SQL words, mixed case, a `$` (not "sla_target": a known bug, see
#: test_a_dimension_may_be_keyed_sla_target)
KEYS = ("d0", "d1", "d2", "d3", "d4", "d5", "order", "group", "Region", "queue", "x$y")
#: source column names: our canonical names for other roles, SQL words, mixed case, `$`
NAMES = (*CASE_COLUMNS, "d0", "d1", "order", "select", "user", "day", "value", "Opened_TS", "QueueName", "amt$1")
WINDOW_S = 12 * 86400
#: how timestamps are stored: SQLite keeps text (SQLAlchemy's own spelling, the spelling the product's
#: importer and sample writer use, ISO 8601 with a "T", and with a "Z" when meant as UTC); the servers have a
#: naive and a zoned type
STORAGE = {
    "sqlite": ("sqlalchemy", "plain", "iso", "iso_z"),
    "postgresql": ("timestamp", "timestamptz"),
    "mariadb": ("datetime", "timestamp"),
}
TEXT_FORMATS = {"plain": "%Y-%m-%d %H:%M:%S", "iso": "%Y-%m-%dT%H:%M:%S", "iso_z": "%Y-%m-%dT%H:%M:%SZ"}


@dataclass(frozen=True)
class Tolerance:
    """How close a sum must be: relative, plus an absolute slack per solved case (ages in hours)."""

    rtol: float
    per_case: float
    #: a case solved exactly at its target may read as missed (see test_a_case_solved_exactly_at_its_target…)
    at_target_may_miss: bool = False


TOLERANCE = {
    # julianday() differences: ~3e-8 h per case
    "sqlite": Tolerance(1e-12, 1e-7, at_target_may_miss=True),
    "postgresql": Tolerance(1e-12, 1e-9),
    # TIMESTAMPDIFF(SECOND, …) / 3600.0 is a DECIMAL rounded to 4 places (0.36 s per case); and the roll-up's
    # float measures keep 6 significant digits (a known bug: see test_float_measures_keep_their_digits_on_mariadb)
    "mariadb": Tolerance(6e-6, 5e-5),
}


# --- the calendar, computed here without the product's clock ----------------------------------------------


@functools.cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """The instants (naive UTC, to the minute) the zone's offset changes in 2025-2026."""
    tz = ZoneInfo(zone)

    def offset(at: datetime) -> timedelta:
        return at.replace(tzinfo=UTC).astimezone(tz).utcoffset()

    found, at = [], datetime(2025, 1, 1)
    while at < datetime(2026, 11, 1):
        nxt = at + timedelta(hours=1)
        if offset(nxt) != offset(at):
            change = at
            while offset(change) == offset(at):
                change += timedelta(minutes=1)
            found.append(change)
        at = nxt
    return tuple(found)


def centers(zone: str) -> tuple[datetime, ...]:
    """The middle of an example's few weeks: each DST change of the zone, midsummer, a new year."""
    return (*transitions(zone), datetime(2025, 6, 15, 12), datetime(2025, 12, 31, 12))


def written(instant: datetime, zone: str, naive: str) -> datetime:
    """An instant (naive UTC) as the source writes it: naive UTC, or the local wall-clock time."""
    if naive == "UTC":
        return instant
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def local_midnight(day: date, zone: str) -> datetime:
    """The first instant (naive UTC) of ``day`` in ``zone``."""
    return datetime.combine(day, time()).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)


def first_instant(day: date, zone: str, naive: str) -> datetime:
    """The first instant of the team's ``day``, as the source writes timestamps."""
    return datetime.combine(day, time()) if naive == "local" else local_midnight(day, zone)


@functools.cache
def anchors(zone: str, naive: str, center: datetime) -> tuple[datetime, ...]:
    """Timestamps (as written) a case likes to sit near: every UTC and local midnight of the window and each
    DST change in it (the second before and the minute of)."""
    points = set()
    for k in range(-13, 14):
        day = (center + timedelta(days=k)).date()
        points.add(written(datetime.combine(day, time()), zone, naive))
        points.add(written(local_midnight(day, zone), zone, naive))
    for change in transitions(zone):
        if abs(change - center) <= timedelta(days=13):
            points.update({written(change, zone, naive), written(change - timedelta(seconds=1), zone, naive)})
    return tuple(sorted(points))


# --- the scenario: a configuration and the rows of the user's table ------------------------------------------


@dataclass(frozen=True)
class Dim:
    key: str
    column: str
    values: tuple[str, ...]
    null_pct: int
    empty_pct: int
    #: ours -> theirs, as [values.<key>] gives it
    value_map: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def ours(self) -> dict[str, str]:
        return {theirs: ours for ours, values in self.value_map.items() for theirs in values}


@dataclass(frozen=True)
class Scenario:
    zone: str
    naive: str
    center: datetime
    dims: tuple[Dim, ...]
    #: optional columns the table has
    present: frozenset[str]
    #: canonical (not a dimension) -> source column, for case_id, created_at and the present optional ones
    columns: dict[str, str]
    #: the dimension whose column also serves as route, if any
    route_dim: str | None = None
    route_values: dict[str, tuple[str, ...]] | None = None
    sla: dict = field(default_factory=dict)
    storage: str = "sqlalchemy"
    lookback: int = 2
    rows: tuple[dict, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.dims)

    def doc(self, table: str, rollup: str) -> dict:
        """The configuration, as parsed TOML."""
        doc: dict = {
            "source": {"table": table},
            "dimensions": {d.key: d.column for d in self.dims},
            "columns": dict(self.columns),
            "time": {"timezone": self.zone, "naive_timestamps": self.naive},
            "rollup": {"table": rollup, "lookback_days": self.lookback},
        }
        values: dict = {d.key: {o: list(t) for o, t in d.value_map.items()} for d in self.dims if d.value_map}
        if self.route_values:
            values["route"] = {k: list(v) for k, v in self.route_values.items()}
        if values:
            doc["values"] = values
        if self.sla:
            doc["sla"] = self.sla
        return doc

    def physical(self) -> list[tuple[str, str]]:
        """(role, source column) of each column of the user's table, in table order."""
        dims = {d.key: d.column for d in self.dims}
        out = [("case_id", self.columns["case_id"]), ("created_at", self.columns["created_at"])]
        out += list(dims.items())
        out += [(c, self.columns[c]) for c in OPTIONAL if c in self.present and not (c == "route" and self.route_dim)]
        return out


class Draws:
    """Choices hypothesis makes (and shrinks: towards 0, the simplest row)."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))


class Seeded:
    """The same choices from a seeded generator: the bulk of a large table, cheap for hypothesis to hold."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


def pick(ch: Draws | Seeded, seq: tuple | list):
    return seq[ch.int(0, len(seq) - 1)]


def chance(ch: Draws | Seeded, pct: int) -> bool:
    """True ``pct`` % of the time (shrinks to False)."""
    return ch.int(0, 99) >= 100 - pct


def jitter(ch: Draws | Seeded) -> timedelta:
    kind = ch.int(0, 9)
    if kind <= 3:
        return timedelta(0)
    if kind <= 5:
        return timedelta(seconds=1 if kind == 4 else -1)
    return timedelta(seconds=ch.int(-1800, 1800))


def stamp(ch: Draws | Seeded, sc: Scenario) -> datetime:
    """A timestamp as written: near a midnight or a DST change, anywhere in the window, or near 1990-01-01."""
    kind = ch.int(0, 19)
    if kind <= 11:
        return pick(ch, anchors(sc.zone, sc.naive, sc.center)) + jitter(ch)
    if kind <= 18:
        return written(sc.center, sc.zone, sc.naive) + timedelta(seconds=ch.int(-WINDOW_S, WINDOW_S))
    return datetime(1990, 1, 1) + timedelta(seconds=ch.int(-2 * 86400, 2 * 86400))


def make_row(ch: Draws | Seeded, sc: Scenario, created: datetime | bool | None = False) -> dict:
    """One row of the user's table (canonical keys); ``created`` fixes its created_at."""
    row: dict = {"case_id": None if chance(ch, 2) else ch.int(1, 60)}  # ids repeat: the table is the user's
    if created is False:
        created = None if chance(ch, 3) else stamp(ch, sc)
    row["created_at"] = created
    for d in sc.dims:
        row[d.key] = (None if chance(ch, d.null_pct) else "" if chance(ch, d.empty_pct)
                      else d.values[ch.int(0, len(d.values) - 1)])
    solved = None
    if "solved_at" in sc.present and not chance(ch, 30):
        kind = ch.int(0, 9)
        if created is None or kind == 9:
            solved = stamp(ch, sc)
        elif kind <= 3:  # exactly at a target, or a second either side
            solved = created + timedelta(hours=pick(ch, TARGETS), seconds=pick(ch, (0, 1, -1)))
        elif kind <= 7:
            solved = created + timedelta(seconds=ch.int(0, 10 * 86400))
        else:  # solved before created: the user's data
            solved = created - timedelta(seconds=ch.int(1, 3 * 3600))
    if "solved_at" in sc.present:
        row["solved_at"] = solved
    if "route" in sc.present and not sc.route_dim:
        row["route"] = pick(ch, ROUTES)
    if "handle_time_s" in sc.present:
        row["handle_time_s"] = None if chance(ch, 30) else ch.int(-100, 720_000) / 100
    if "sla_hours" in sc.present:
        row["sla_hours"] = None if chance(ch, 20) else float(pick(ch, ROW_TARGETS))
    if "sla_due_at" in sc.present:
        due = None
        if not chance(ch, 40):
            kind = ch.int(0, 2)
            if kind == 0 and solved is not None:
                due = solved + timedelta(seconds=pick(ch, (0, 1, -1)))
            elif kind <= 1 and created is not None:
                due = created + timedelta(hours=pick(ch, TARGETS))
            else:
                due = stamp(ch, sc)
        row["sla_due_at"] = due
    for flag in ("escalated", "reopened"):
        if flag in sc.present:
            row[flag] = pick(ch, (0, 1, None, 2))
    if "csat" in sc.present:
        row["csat"] = None if chance(ch, 50) else ch.int(10, 50) / 10
    if "qa_score" in sc.present:
        row["qa_score"] = None if chance(ch, 50) else ch.int(0, 1000) / 10
    return row


@st.composite
def drawn_rows(draw: st.DrawFn, sc: Scenario) -> dict:
    return make_row(Draws(draw), sc)


@st.composite
def scenarios(draw: st.DrawFn, dialect: str, storages: tuple[str, ...] | None = None) -> Scenario:
    zone = draw(st.sampled_from(ZONES))
    naive = draw(st.sampled_from(("UTC", "local")))
    center = draw(st.sampled_from(centers(zone)))
    present = frozenset(draw(st.sets(st.sampled_from(OPTIONAL))))
    n = draw(st.integers(1, MAX_DIMENSIONS))
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=n, max_size=n, unique_by=str.lower))
    shared = "route" in present and draw(st.sampled_from((False, False, False, True)))
    # an absent optional column maps to its own name: no other column may be called so
    absent = {c.lower() for c in OPTIONAL if c not in present}
    roles = ["case_id", "created_at", *keys,
             *(c for c in OPTIONAL if c in present and not (c == "route" and shared))]
    name = st.one_of(st.sampled_from(NAMES), st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,14}", fullmatch=True))
    column: dict[str, str] = {}
    for i, role in enumerate(roles):
        chosen = draw(name)
        while chosen.lower() in absent | {c.lower() for c in column.values()}:
            chosen = f"{chosen}_{i}"
        column[role] = chosen
    dims = []
    for key in keys:
        card = draw(st.integers(1, 200))
        prefix = draw(st.text("abcxyz-", max_size=4))
        values = [f"{prefix}{j}" for j in range(card)]
        if draw(st.integers(0, 9)) == 9:
            values[-1] = NONE_VALUE  # a value spelled like the roll-up's name for none
        value_map: dict[str, list[str]] = {}
        if draw(st.booleans()):
            ours = [draw(st.one_of(st.just(f"ours-{j}"), st.sampled_from(values))) for j in range(3)]
            for t in draw(st.lists(st.integers(0, card - 1), min_size=1, max_size=min(card, 8), unique=True)):
                value_map.setdefault(ours[draw(st.integers(0, 2))], []).append(values[t])
        dims.append(Dim(key, column[key], tuple(values), draw(st.integers(0, 60)), draw(st.integers(0, 30)),
                        {o: tuple(t) for o, t in value_map.items()}))
    columns = {c: column[c] for c in roles if c not in keys}
    route_dim, route_values = None, None
    if shared:
        d = dims[draw(st.integers(0, n - 1))]
        route_dim, columns["route"] = d.key, d.column
        manual = draw(st.lists(st.sampled_from(d.values), min_size=1, max_size=3, unique=True))
        rest = [v for v in d.values if v not in manual]
        automated = draw(st.lists(st.sampled_from(rest), max_size=3, unique=True)) if rest else []
        route_values = {"manual": tuple(manual), **({"automated": tuple(automated)} if automated else {})}
    elif "route" in present and draw(st.booleans()):
        manual = draw(st.lists(st.sampled_from(("agent", "human", "manual")), min_size=1, unique=True))
        automated = draw(st.lists(st.sampled_from(("bot", "macro", "automated")), unique=True))
        route_values = {"manual": tuple(manual), **({"automated": tuple(automated)} if automated else {})}
    sla: dict = {}
    kind = draw(st.sampled_from(("none", "default", "by_value")))
    if kind == "default" or (kind == "by_value" and draw(st.booleans())):
        sla["default_hours"] = draw(st.sampled_from(TARGETS))
    if kind == "by_value":
        d = dims[draw(st.integers(0, n - 1))]
        if d is not dims[0] or draw(st.booleans()):
            sla["dimension"] = d.key
        candidates = list(dict.fromkeys([*d.value_map, *d.values[:12], NONE_VALUE, "not-there"]))
        sla["hours"] = {v: draw(st.sampled_from(TARGETS))
                        for v in draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4, unique=True))}
    storage = draw(st.sampled_from(storages or STORAGE[dialect]))
    if storage == "iso_z" and naive == "local":
        storage = "iso"  # a "Z" says UTC: not for timestamps meant as local time
    sc = Scenario(zone, naive, center, tuple(dims), present, columns, route_dim, route_values, sla, storage,
                  draw(st.integers(0, 3)))
    explicit = draw(st.lists(drawn_rows(sc), min_size=1, max_size=30))
    bulk, seed = draw(st.one_of(st.integers(0, 30), st.integers(0, 270))), draw(st.integers(0, 2**32 - 1))
    rng = Seeded(seed)
    return replace(sc, rows=(*explicit, *(make_row(rng, sc) for _ in range(bulk))))


# --- the reference ---------------------------------------------------------------------------------------


def reference(sc: Scenario) -> pd.DataFrame:
    """The roll-up computed in pandas from the rows: one row per day × dimensions, every measure (and
    ``at_target``: solved cases judged by a target whose age is exactly that target)."""
    keys = list(sc.keys)
    empty = pd.DataFrame(columns=["day", *keys, *MEASURES, "at_target"])
    frame = pd.DataFrame({c: pd.Series([r.get(c) for r in sc.rows], dtype=object)
                          for c in ("case_id", *TIMESTAMPS, *keys, *(c for c in OPTIONAL if c not in TIMESTAMPS))})
    for c in TIMESTAMPS:
        frame[c] = pd.to_datetime(frame[c])
    # a row without a readable created_at, or created (as written) before 1990, is left out of every measure
    frame = frame[frame["created_at"].notna() & (frame["created_at"] >= pd.Timestamp(EARLIEST_DAY))]
    if frame.empty:
        return empty
    dims = {}
    for d in sc.dims:
        mapped = frame[d.key].map(lambda v, ours=d.ours: ours.get(v, v))
        dims[d.key] = mapped.where(mapped.notna() & (mapped != ""), NONE_VALUE).astype(object)
    route = frame[sc.route_dim] if sc.route_dim else frame["route"]
    manual_values = (sc.route_values or {}).get("manual", ("manual",))
    manual = route.isin(manual_values) if "route" in sc.present else pd.Series(False, index=frame.index)

    def day(ts: pd.Series) -> pd.Series:
        if sc.naive == "UTC" and sc.zone != "UTC":
            ts = ts.dt.tz_localize("UTC").dt.tz_convert(sc.zone).dt.tz_localize(None)
        return ts.dt.strftime("%Y-%m-%d").astype(object)

    created = pd.DataFrame({"day": day(frame["created_at"]), **dims, "incoming": 1,
                            "incoming_manual": manual.astype(int)})
    sides = [created.groupby(["day", *keys]).sum()]
    if "solved_at" in sc.present:
        done = frame["solved_at"].notna()
        f, man = frame[done], manual[done]
        age = (f["solved_at"] - f["created_at"]).dt.total_seconds() / 3600
        target = pd.Series(np.nan, index=f.index)
        if sc.sla.get("hours"):
            by = sc.sla.get("dimension", keys[0])
            target = dims[by][done].map(sc.sla["hours"]).astype(float)
        if sc.sla.get("default_hours") is not None:
            target = target.fillna(float(sc.sla["default_hours"]))
        if "sla_hours" in sc.present:
            target = f["sla_hours"].astype(float).fillna(target)
        in_sla, at_target = (age <= target).fillna(False), (age == target).fillna(False)
        if "sla_due_at" in sc.present:
            due = f["sla_due_at"]
            in_sla = in_sla.where(due.isna(), f["solved_at"] <= due)
            at_target &= due.isna()

        def flag(c: str) -> pd.Series:
            return (f[c] == 1).astype(int) if c in sc.present else 0

        def number(c: str) -> pd.Series:
            return f[c].astype(float) if c in sc.present else pd.Series(np.nan, index=f.index)

        handle = number("handle_time_s")
        csat, qa = number("csat"), number("qa_score")
        solved = pd.DataFrame({
            "day": day(f["solved_at"]), **{k: v[done] for k, v in dims.items()},
            "solved": 1, "solved_manual": man.astype(int),
            "handle_time_s": handle.where(man & handle.notna(), 0.0),
            "age_at_solve_h": age, "solved_in_sla": in_sla.astype(int), "at_target": at_target.astype(int),
            "escalated": flag("escalated"), "reopened": flag("reopened"),
            "csat_sum": csat.fillna(0.0), "csat_n": csat.notna().astype(int),
            "qa_sum": qa.fillna(0.0), "qa_n": qa.notna().astype(int),
        })
        if not solved.empty:
            sides.append(solved.groupby(["day", *keys]).sum())
    both = functools.reduce(lambda a, b: a.add(b, fill_value=0), sides)
    return both.reindex(columns=[*MEASURES, "at_target"], fill_value=0).fillna(0).reset_index()


# --- the user's table, the roll-up, and the comparison ---------------------------------------------------


def _type(role: str, sc: Scenario, dialect: str, *, insert: bool) -> sa.types.TypeEngine:
    if role in TIMESTAMPS:
        if dialect == "sqlite" and sc.storage in TEXT_FORMATS and insert:
            return sa.String()
        if sc.storage in ("timestamptz",):
            return sa.DateTime(timezone=True)
        return sa.TIMESTAMP() if sc.storage == "timestamp" and dialect == "mariadb" else sa.DateTime()
    if role == "case_id":
        return sa.BigInteger()
    if role in ("escalated", "reopened"):
        return sa.SmallInteger()
    if role in ("handle_time_s", "sla_hours", "csat", "qa_score"):
        return sa.Double()
    return sa.String(64)


def _table(sc: Scenario, name: str, dialect: str, *, insert: bool) -> sa.Table:
    return sa.Table(name, sa.MetaData(), *(sa.Column(col, _type(role, sc, dialect, insert=insert), key=role)
                                           for role, col in sc.physical()))


def insert_rows(engine: sa.Engine, sc: Scenario, name: str, rows: tuple[dict, ...] | list[dict]) -> None:
    if not rows:
        return
    table = _table(sc, name, engine.dialect.name, insert=True)
    spelled = TEXT_FORMATS.get(sc.storage) if engine.dialect.name == "sqlite" else None
    values = []
    for r in rows:
        v = {role: r.get(role) for role, _ in sc.physical()}
        if spelled:
            v.update({c: v[c].strftime(spelled) for c in TIMESTAMPS if v.get(c) is not None})
        values.append(v)
    with engine.begin() as conn:
        conn.execute(table.insert(), values)


def read_rollup(engine: sa.Engine, sett: Settings) -> pd.DataFrame:
    t = rollup_table(sett)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(sa.select(t)).all(), columns=[c.name for c in t.c])
    frame["day"] = pd.to_datetime(frame["day"]).dt.strftime("%Y-%m-%d").astype(object)
    for m in MEASURES:
        frame[m] = pd.to_numeric(frame[m]).astype(float)
    return frame


def _diff(got: pd.Series, want: pd.Series, bad: np.ndarray) -> str:
    return pd.DataFrame({"got": got[bad], "want": want[bad]}).head(8).to_string()


def assert_same(got: pd.DataFrame, want: pd.DataFrame, keys: tuple[str, ...], tol: Tolerance) -> None:
    """The roll-up's rows equal the reference's: the same day × dimension keys, equal counts, close sums."""
    index = ["day", *keys]
    g = got.set_index(index).sort_index()
    w = want.set_index(index).sort_index()
    missing, extra = w.index.difference(g.index), g.index.difference(w.index)
    assert missing.empty and extra.empty, (
        f"roll-up keys differ: missing {list(missing[:5])} (of {len(missing)}), "
        f"unexpected {list(extra[:5])} (of {len(extra)})")
    g = g.loc[w.index]
    for m in COUNTS:
        bad = (g[m].to_numpy(float) != w[m].to_numpy(float))
        if m == "solved_in_sla" and tol.at_target_may_miss:  # a known bug, pinned by its own test
            missed = w[m].to_numpy(float) - g[m].to_numpy(float)
            bad = (missed < 0) | (missed > w["at_target"].to_numpy(float))
        assert not bad.any(), f"{m} differs:\n{_diff(g[m], w[m], bad)}"
    slack = tol.per_case * (w["solved"].to_numpy(float) + 1)
    for m in FLOATS:
        ok = np.isclose(g[m].to_numpy(float), w[m].to_numpy(float), rtol=tol.rtol,
                        atol=slack if m == "age_at_solve_h" else 1e-9)
        assert ok.all(), f"{m} differs:\n{_diff(g[m], w[m], ~ok)}"


def assert_volume(engine: sa.Engine, sett: Settings, want: pd.DataFrame, keys: tuple[str, ...], tol: Tolerance) -> None:
    """``load_daily_volume`` reads the same totals back: per day, and for one value of the first dimension."""
    if want.empty:
        return
    lo, hi = date.fromisoformat(min(want["day"])), date.fromisoformat(max(want["day"]))
    days = pd.date_range(lo, hi, freq="D", name="day")
    counts = want.groupby(keys[0])["incoming"].sum()
    top = counts.idxmax()
    # one read: filtered on the first dimension's biggest value, unless it has only one (then: everything)
    for dims, rows in [({keys[0]: (top,)}, want[want[keys[0]] == top]) if len(counts) > 1 else ({}, want)]:
        got = load_daily_volume(engine, settings=sett, filters=Filters(lo, hi, dims))
        expected = rows.assign(day=pd.to_datetime(rows["day"])).groupby("day")[[*MEASURES, "at_target"]].sum()
        expected = expected.reindex(days, fill_value=0).astype(float)
        for m in MEASURES:
            g, w = got[m].to_numpy(float), expected[m].to_numpy(float)
            ok = (g == w) if m in COUNTS else np.isclose(g, w, rtol=tol.rtol, atol=tol.per_case * 300 + 1e-9)
            if m == "solved_in_sla" and tol.at_target_may_miss:
                ok = (w - g >= 0) & (w - g <= expected["at_target"].to_numpy(float))
            assert ok.all(), f"load_daily_volume {dims or 'all'}: {m} differs:\n{_diff(got[m], expected[m], ~ok)}"


def cleanup(engine: sa.Engine, sett: Settings, table: str) -> None:
    """Drop the example's tables and forget its roll-up in the tables the dashboard keeps beside it."""
    metadata = sa.MetaData()
    owned, st_ = owned_table(sett, metadata), state_table(sett, metadata)
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for name in (table, sett.rollup_table):
            if inspector.has_table(name):
                sa.Table(name, sa.MetaData()).drop(conn)
        if inspector.has_table(owned.name):
            conn.execute(owned.delete().where(owned.c.table_name.startswith(sett.rollup_table, autoescape=True)))
        if inspector.has_table(st_.name):
            conn.execute(st_.delete().where(st_.c.rollup_table == sett.rollup_table))


def check(engine: sa.Engine, url: str, sc: Scenario, tol: Tolerance | None = None) -> None:
    """Build the roll-up of the scenario's table and compare it (and what the loaders read) with the reference."""
    dialect = "mariadb" if engine.dialect.name in ("mysql", "mariadb") else engine.dialect.name
    tol = tol or TOLERANCE[dialect]
    tag = uuid.uuid4().hex[:10]
    table = f"prop_{tag}"
    sett = settings_from_mapping(sc.doc(table, f"{table}_daily"), url=url, url_source="test")
    _table(sc, table, engine.dialect.name, insert=False).create(engine)
    try:
        insert_rows(engine, sc, table, sc.rows)
        refresh_rollup(engine, sett, full=True)
        want = reference(sc)
        assert_same(read_rollup(engine, sett), want, sc.keys, tol)
        assert_volume(engine, sett, want, sc.keys, tol)
    finally:
        cleanup(engine, sett, table)


# --- fixtures and properties -----------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def pinned_clock():
    """The app's clock, pinned: a case's offsets are written out to a year past it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPS_NOW", "2026-12-01T00:00:00")
        yield


def _engine(url: str, kind: str):
    try:
        engine = make_engine(url)
    except SourceUnavailable as err:
        unavailable(kind, err)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def sqlite_engine(sqlite_url: str):
    for engine in _engine(sqlite_url, "SQLite"):
        # a scratch file: no fsync per commit (a few hundred tables are made and dropped here)
        sa.event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA synchronous = OFF"))
        engine.dispose()
        yield engine


@pytest.fixture(scope="module")
def postgres_engine(postgres_url: str):
    yield from _engine(postgres_url, "PostgreSQL")


@pytest.fixture(scope="module")
def mariadb_engine(mariadb_url: str):
    yield from _engine(mariadb_url, "MariaDB")


PROPERTY = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=150, **PROPERTY)
@given(sc=scenarios("sqlite"))
def test_rollup_equals_the_reference_on_sqlite(sqlite_engine, sqlite_url, sc):
    check(sqlite_engine, sqlite_url, sc)


@settings(max_examples=25, **PROPERTY)
@given(sc=scenarios("postgresql"))
def test_rollup_equals_the_reference_on_postgresql(postgres_engine, postgres_url, sc):
    check(postgres_engine, postgres_url, sc)


@settings(max_examples=25, **PROPERTY)
@given(sc=scenarios("mariadb"))
def test_rollup_equals_the_reference_on_mariadb(mariadb_engine, mariadb_url, sc):
    check(mariadb_engine, mariadb_url, sc)


@st.composite
def late_rows(draw: st.DrawFn, sc: Scenario, since: datetime) -> dict:
    """A row that arrives after the first build, created on or after the refresh's watermark (as the
    incremental refresh's contract asks: late rows only within ``lookback_days``)."""
    ch = Draws(draw)
    kind = ch.int(0, 3)
    created = (since if kind == 0 else since + timedelta(seconds=1) if kind == 1
               else since + timedelta(seconds=ch.int(0, 3 * 86400)) if kind == 2
               else max(since, pick(ch, anchors(sc.zone, sc.naive, sc.center)) + jitter(ch)))
    return make_row(ch, sc, created=created)


@settings(max_examples=40, **PROPERTY)
@given(sc=scenarios("sqlite"), data=st.data())
def test_incremental_refresh_equals_the_reference_on_sqlite(sqlite_engine, sqlite_url, sc, data):
    """A refresh after late rows arrive (created on or after the watermark) equals the reference of all rows."""
    tag = uuid.uuid4().hex[:10]
    table = f"prop_{tag}"
    sett = settings_from_mapping(sc.doc(table, f"{table}_daily"), url=sqlite_url, url_source="test")
    _table(sc, table, "sqlite", insert=False).create(sqlite_engine)
    try:
        insert_rows(sqlite_engine, sc, table, sc.rows)
        refresh_rollup(sqlite_engine, sett, full=True)
        first = reference(sc)
        assert_same(read_rollup(sqlite_engine, sett), first, sc.keys, TOLERANCE["sqlite"])
        if first.empty:
            return
        newest = date.fromisoformat(max(first["day"]))
        assert rollup_state(sqlite_engine, sett).max_day == newest
        since = first_instant(newest - timedelta(days=sc.lookback), sc.zone, sc.naive)
        later = [r for r in data.draw(st.lists(late_rows(sc, since), min_size=1, max_size=30), label="later")
                 if r.get("solved_at") is None or r["solved_at"] >= since]
        insert_rows(sqlite_engine, sc, table, later)
        assert refresh_rollup(sqlite_engine, sett).kind == "incremental"
        assert_same(read_rollup(sqlite_engine, sett), reference(replace(sc, rows=(*sc.rows, *later))), sc.keys,
                    TOLERANCE["sqlite"])
    finally:
        cleanup(sqlite_engine, sett, table)


# --- the minimal examples of what the properties found ------------------------------------------------------


def by_hand(rows: list[dict], *, keys: tuple[str, ...] = ("d0",), present: tuple[str, ...] = (), **kw) -> Scenario:
    """A scenario written out: dimensions read from ``src_<key>``, the optional columns from ``src_<name>``."""
    dims = tuple(Dim(k, f"src_{k}", ("a",), 0, 0) for k in keys)
    columns = {"case_id": "ticket", "created_at": "opened", **{c: f"src_{c}" for c in present}}
    return Scenario(kw.pop("zone", "UTC"), kw.pop("naive", "UTC"), datetime(2025, 6, 15, 12), dims,
                    frozenset(present), columns, rows=tuple(rows), **kw)


def test_a_dimension_may_not_take_a_name_of_the_aggregates_own():
    """`sla_target` is the aggregate's label for a case's SLA target: as a dimension key it would collide."""
    from loaders import ConfigError
    from loaders.settings import settings_from_mapping

    with pytest.raises(ConfigError, match="a name the dashboard uses for something else"):
        settings_from_mapping({"dimensions": {"sla_target": "src"}}, url=None, url_source="test")


def test_iso_text_timestamps_on_sqlite_get_the_local_day(sqlite_engine, sqlite_url):
    """A case's UTC offset is chosen by the instant, not by how its text sorts: ISO 8601 text
    ('2025-03-09T05:30:00') sorts after '2025-03-09 08:00:00', the DST change of that day."""
    # 05:30 UTC is 23:30 CST on 8 March; read with CDT (-5) it would be 00:30 on 9 March
    sc = by_hand([{"case_id": 1, "created_at": datetime(2025, 3, 9, 5, 30), "d0": "a"}],
                 zone="America/Chicago", storage="iso")
    check(sqlite_engine, sqlite_url, sc)


def test_a_case_solved_exactly_at_its_target_is_within_sla_on_sqlite(sqlite_engine, sqlite_url):
    sc = by_hand([{"case_id": 1, "created_at": datetime(2025, 10, 20), "d0": "a",
                   "solved_at": datetime(2025, 10, 20, 0, 30), "sla_hours": 0.5}], present=("solved_at", "sla_hours"))
    check(sqlite_engine, sqlite_url, sc, tol=replace(TOLERANCE["sqlite"], at_target_may_miss=False))


def test_an_incremental_refresh_keeps_the_cases_created_at_the_watermark(tmp_path):
    """The refresh deletes the days from the watermark on and re-reads the cases created from its first instant:
    a case stored as '2026-06-02 00:00:00' (as write_cases and the importer write it) must not sort before the
    bound '2026-06-02 00:00:00.000000' and be lost."""
    from loaders import create_cases_table, write_cases

    url = f"sqlite:///{tmp_path / 'watermark.sqlite'}"
    sett = Settings(url=url, lookback_days=0)
    engine = make_engine(url)
    create_cases_table(engine, sett)
    write_cases(engine, pd.DataFrame([{"case_id": 1, "created_at": pd.Timestamp("2026-06-02 00:00:00"),
                                       "workflow": "copyright", "vendor_site": "Manila", "channel": "email",
                                       "language": "en"}]), settings=sett)
    refresh_rollup(engine, sett, full=True)
    assert refresh_rollup(engine, sett).kind == "incremental"
    day = load_daily_volume(engine, settings=sett, filters=Filters(date(2026, 6, 2), date(2026, 6, 2)))
    engine.dispose()
    assert day["incoming"].tolist() == [1.0]


def test_float_measures_keep_their_digits_on_mariadb(mariadb_engine, mariadb_url):
    rows = [{"case_id": i, "created_at": datetime(2025, 6, 2, 9), "d0": "a", "solved_at": datetime(2025, 6, 2, 10),
             "route": "manual", "handle_time_s": h} for i, h in enumerate((1_000_000.0, 234_567.25))]
    sc = by_hand(rows, present=("solved_at", "route", "handle_time_s"), storage="datetime")
    check(mariadb_engine, mariadb_url, sc, tol=Tolerance(1e-12, 5e-5))


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="MariaDB: values are grouped and compared in the column's collation (utf8mb4_general_ci "
                   "by default: case- and trailing-space-insensitive), so 'MNL' and 'mnl' roll up as one value, "
                   "'a ' as 'a', ' ' as '(none)', and route 'Manual' or 'manual ' counts as manual; SQLite and "
                   "PostgreSQL keep them apart")
@pytest.mark.parametrize("what", ["dimension values", "route values"])
def test_values_are_compared_exactly_on_mariadb(mariadb_engine, mariadb_url, what):
    if what == "dimension values":
        rows = [{"case_id": i, "created_at": datetime(2025, 6, 2, 9), "d0": v} for i, v in enumerate(("MNL", "mnl"))]
        sc = by_hand(rows, storage="datetime")
    else:
        rows = [{"case_id": i, "created_at": datetime(2025, 6, 2, 9), "d0": "a", "route": r}
                for i, r in enumerate(("manual", "Manual"))]
        sc = by_hand(rows, present=("route",), storage="datetime")
    check(mariadb_engine, mariadb_url, sc)

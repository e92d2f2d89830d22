"""Cached access to the data layer, and the one place that decides what is cached and for how long.

Engines and settings are resources (one per process). Frames are cached data (:func:`cached`): a function
takes the :class:`DataContext` as an ordinary argument, and the cache keys it by :attr:`DataContext.key`
(configuration, roll-up version, the user's scope, the known events), so a refresh, a note marked as a
known event or another user's scope never reads a stale or foreign frame. How long entries live is
:data:`TTL`, here and nowhere else.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

import loaders
from loaders import LOCAL_USER, Filters, NotAllowed, OpsDataError, RollupState, Scope, Settings, User
from loaders.settings import MEASURE_INPUTS
from metrics.events import events_paths
from metrics.kpis import KPIS, available_kpis, compute_kpis, kpi_parts, top_values
from ui import page_cache
from ui.auth import signed_in_user

__all__ = [
    "TTL",
    "DataContext",
    "bounds",
    "cached",
    "context",
    "current_settings",
    "dimension_values",
    "events_files_version",
    "forget_failed_refresh",
    "kpi_availability",
    "kpi_frame",
    "make_context",
    "matches_any_case",
    "newest_complete_day",
    "reset_connections",
    "source_engine",
    "volume",
    "within_data",
]

_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class DataContext:
    """Everything a page needs to ask for data."""

    settings: Settings
    source: Engine
    rollup: Engine
    version: str  # roll-up refresh stamp: part of every cache key
    #: why the latest refresh failed, when the pages run on the previous roll-up instead (``None``: it worked)
    refresh_problem: OpsDataError | None = None
    #: the roll-up the pages read (its newest day and last refresh, for the stale-data banner)
    state: RollupState | None = None
    #: the roll-up measures the source can fill (its columns hold every input); the others are stored as 0
    measures: frozenset[str] = frozenset(MEASURE_INPUTS)
    #: who is asking (``loaders.access``): every read passes ``user.scope`` to the data layer
    user: User = LOCAL_USER
    #: the version of the known events (the notes marked as known, the events files' modification times): they
    #: change the judgment, so they are in the key
    events_version: str = ""
    #: the pages are shown older rows than the roll-up holds while new ones are judged in the background
    #: (:func:`_publish`): a result computed now may mix the two, so it is not stored on disk
    provisional: bool = False

    @property
    def scope(self) -> Scope:
        """What the user may see: every roll-up and case read for this context is cut to it."""
        return self.user.scope

    @property
    def kpis(self) -> tuple[str, ...]:
        """The KPIs the source can state: the only ones a page offers or shows."""
        return tuple(k.name for k in available_kpis(self.measures))

    def missing_kpis(self) -> list[tuple[str, tuple[str, ...]]]:
        """The KPIs the source cannot state, each with the columns that would enable it."""
        return [(label, need) for label, ok, need in kpi_availability(self.measures, cases=self.has_cases) if not ok]

    @property
    def key(self) -> str:
        """Part of every cached frame's key: the configuration, the roll-up's version, the user's scope (two
        users with the same scope share cached frames; two with different scopes never do) and the known events —
        the notes marked as known and the events files' modification times (either changes the judgment everywhere
        at once) — and the measures the source can fill (a source that could not be inspected offers them all)."""
        return (f"{self.settings!r}|{self.version}|{self.scope!r}|{self.events_version}|"
                f"{','.join(sorted(self.measures))}")

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The configured dimensions' keys, in order."""
        return self.settings.dimension_keys

    @property
    def scan_dims(self) -> tuple[str, ...]:
        """The dimensions the scored slices are made of: the first two configured (or the only one)."""
        return self.dimensions[:2]

    @property
    def main_dim(self) -> str:
        """The main split (the workflow in the sample): small multiples, the weekly deck's drivers."""
        return self.dimensions[0]

    @property
    def site_dim(self) -> str:
        """The scorecard's rows (the vendor site in the sample): the second dimension, else the only one."""
        return self.dimensions[1] if len(self.dimensions) > 1 else self.dimensions[0]

    def label(self, dimension: str) -> str:
        """A dimension's display label."""
        return self.settings.label(dimension)

    @property
    def zone(self) -> str:
        """The team's time zone, as times on the pages name it (``"CST"``)."""
        return loaders.clock.zone_label(self.settings)

    def plural(self, dimension: str) -> str:
        """A dimension's label for several of its values (``"Vendor sites"``)."""
        return self.settings.plural(dimension)

    @property
    def everything(self) -> str:
        """No dimension filter, in words (``"all workflows, vendor sites, channels and languages"``)."""
        return self.settings.everything

    def describe(self, filters: Filters, *, dates: bool = True) -> str:
        """The filters in words, with the dimensions' labels: the one wording every page, export subtitle and
        message uses (``"02 Oct 2026 – 01 Dec 2026 · Workflow: copyright × Vendor site: Krakow"``).

        ``dates=False`` leaves out the range; no dimension filter reads as :attr:`everything`. A partner's
        filters are described as the data layer reads them: cut to its scope ("Vendor site: Manila").
        """
        chosen = self.scope.restrict(filters).dimension_filters
        dims = " × ".join(f"{self.label(d)}: {', '.join(chosen[d])}" for d in self.dimensions if d in chosen)
        days = f"{filters.start:%d %b %Y} – {filters.end:%d %b %Y}"
        words = dims or self.everything
        return f"{days} · {words}" if dates else words

    @property
    def has_cases(self) -> bool:
        """Whether case rows exist: ``False`` for a daily volume source (drill-down pages say so)."""
        return self.settings.has_cases


def kpi_availability(measures: frozenset[str], *, cases: bool = True) -> list[tuple[str, bool, tuple[str, ...]]]:
    """Every KPI: its label, whether the source can state it, and the columns it lacks for that (the case
    columns for a cases table, the measure columns for a daily volume table)."""
    have = {c for m in measures for c in MEASURE_INPUTS[m]}
    out = []
    for k in KPIS:
        parts = [m for m in k.parts if m in MEASURE_INPUTS]
        if cases:
            need = tuple(sorted({c for m in parts for c in MEASURE_INPUTS[m]} - have))
        else:
            need = tuple(m for m in parts if m not in measures)
        out.append((k.label, set(k.parts) <= measures, need))
    return out


#: how long cached entries live, by what they hold. Keys carry the roll-up's version, so a refresh already
#: invalidates frames; the TTL only bounds memory and how late a change outside the roll-up shows:
#: ``frames`` (roll-up reads and everything computed from them), ``refresh`` (how often the roll-up is brought
#: up to date), ``source`` (the source's columns and checks), ``live`` (the newest case, the saved-view list)
TTL: dict[str, int] = {"frames": 600, "refresh": 300, "source": 120, "live": 60}


def _settings_key(settings: Settings) -> str:
    return repr(settings)


def _engine_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def cached(*, entries: int | None = None, ttl: str = "frames", spinner: str | bool = False,
           stored: bool = False, shared: bool = False) -> Callable:
    """Cache a function's result (``st.cache_data``) under the house policy.

    A :class:`DataContext` argument is keyed by :attr:`DataContext.key`, a ``Settings`` by its ``repr`` and an
    engine by its URL; other arguments by value. ``ttl`` names an entry of :data:`TTL`; ``entries`` bounds how
    many results are kept (a page's few filter combinations; more for per-slice reads).

    ``stored=True`` also keeps the result on disk (``ui.page_cache``, in the context's ``[cache] dir``), for a
    small result that is costly to compute and depends on nothing but its arguments: a cold process (a
    restart, a second server, a command) reads it instead of computing it again. The TTL then bounds memory
    only: the stored entry is valid for as long as its key (the roll-up rows' version among it).

    ``shared=True`` hands every caller the same object instead of a copy (``st.cache_resource``): for a large
    result that nobody changes — the scored panel, hundreds of MB at 150 workflows × 20 sites — whose copy on
    every read (``st.cache_data`` pickles it in and out) costs seconds.
    """
    keys = {DataContext: lambda ctx: ctx.key, Settings: _settings_key, Engine: _engine_key}
    if shared:
        return st.cache_resource(ttl=TTL[ttl], max_entries=entries, show_spinner=spinner, hash_funcs=keys)
    memory = st.cache_data(ttl=TTL[ttl], max_entries=entries, show_spinner=spinner, hash_funcs=keys)
    if not stored:
        return memory
    return lambda func: memory(page_cache.stored(func, directory=_page_cache_dir, token=_stable_token))


def _page_cache_dir(args: tuple, kwargs: dict) -> Path | None:
    """The page cache of the call's data context; ``None`` (not stored) with no context, the cache off, rows
    without a version of their own (a volume source, a roll-up of an earlier version until its next refresh: a
    changed value would not change the key), a stale roll-up (its refresh failed) or a provisional context."""
    ctx = next((a for a in (*args, *kwargs.values()) if isinstance(a, DataContext)), None)
    if ctx is None or ctx.state is None or not ctx.state.content or ctx.refresh_problem is not None \
            or ctx.provisional:
        return None
    return ctx.settings.page_cache


def _stable_token(value: object) -> str:
    """An argument as text that means the same in every process (``TypeError`` for a type it cannot key)."""
    if isinstance(value, DataContext):
        return f"ctx({value.key})"
    if value is None or isinstance(value, str | int | float | bool | date | Filters | Settings):
        return repr(value)
    if isinstance(value, tuple | list):
        return "(" + ",".join(_stable_token(v) for v in value) + ")"
    raise TypeError(f"no stable key for a {type(value).__name__}")


def _secrets() -> dict:
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, KeyError, AttributeError, st.errors.StreamlitAPIException):
        return {}
    except Exception:
        st.warning("`.streamlit/secrets.toml` could not be read; using the environment and defaults.")
        return {}


@st.cache_resource(show_spinner=False)
def _settings_for(url: str | None, config: str | None, sample: str, edited: float | None,
                  app_db: str | None = None, cache_dir: str | None = None) -> Settings:
    return loaders.load_settings(_secrets())


def _settings() -> Settings:
    # keyed on the environment and the file's modification time, so a changed OPS_DB_URL / OPS_CONFIG or an
    # edited configuration file takes effect on the next page run, without a restart
    path = loaders.settings.config_file()
    edited = path.stat().st_mtime if path.exists() else None
    return _settings_for(os.environ.get("OPS_DB_URL"), os.environ.get("OPS_CONFIG"),
                         str(loaders.settings.SAMPLE_DB_PATH), edited, os.environ.get("OPS_APP_DB_URL"),
                         os.environ.get("OPS_CACHE_DIR"))


def current_settings() -> Settings:
    """The resolved settings; raises ``ConfigError`` (with the offending line) when the file is wrong."""
    return _settings()


@st.cache_resource(show_spinner=False)
def _engine(url: str, timeout: float | None = None) -> Engine:
    # a failed connection raises and is not cached, so Retry tries again; a cached engine re-opens
    # dropped connections by itself (pool_pre_ping)
    return loaders.make_engine(url, statement_timeout_s=timeout, must_exist=True)


@st.cache_resource(show_spinner=False)
def _rollup_engine(url: str, _settings_obj: Settings) -> Engine:
    return loaders.rollup_engine(_engine(url, _settings_obj.statement_timeout_s), _settings_obj)


def source_engine(settings: Settings) -> Engine:
    """The (cached) engine of the source database."""
    return _engine(settings.url, settings.statement_timeout_s)


def reset_connections() -> None:
    """Forget engines, settings and cached frames (after the configuration or the server changed)."""
    for cached in (_engine, _rollup_engine, _settings_for):
        cached.clear()
    loaders.rollup.forget_schemas()
    show_new_rows_now()
    forget_failed_refresh()


def _ensure_sample(settings: Settings) -> None:
    """First start without a database: build the sample, with a visible progress bar.

    ``OPS_SAMPLE_SIZE=small`` builds the quick sample (150 days) instead of the full two years.
    """
    if not settings.is_sample:
        return
    path = Path(sa_url_path(settings.url))
    if path.exists():
        _ensure_sample_events(settings, path)
        return
    with _BUILD_LOCK:
        if path.exists():
            return
        from sample_data import SampleConfig  # heavy imports, only on first start
        from sample_data.build import build_sample

        small = os.environ.get("OPS_SAMPLE_SIZE", "").lower() == "small"
        banner = st.empty()  # the notice and its bar share one slot, cleared when the build is done
        with banner.container():
            st.info("No database is configured, so the dashboard is building its sample data "
                    f"({'150 days' if small else 'two years of cases, about a minute'}, once).",
                    icon=":material/database:")
            bar = st.progress(0.0, text="starting")
        try:
            build_sample(path, config=SampleConfig.small() if small else SampleConfig(),
                         progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
        finally:
            banner.empty()


def _ensure_sample_events(settings: Settings, path: Path) -> None:
    """A sample built before the build wrote its holidays as an events file gets that file now (its holidays of
    the last three years), so its holidays stay known events."""
    from sample_data.build import events_file, sample_events

    target = events_file(path)
    if target.exists():
        return
    from sample_data import SampleConfig

    with _BUILD_LOCK:
        if not target.exists():
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            sample_events(SampleConfig(end=loaders.clock.today(settings), days=3 * 366)).to_csv(partial, index=False)
            os.replace(partial, target)


def sa_url_path(url: str) -> str:
    """The file path of a ``sqlite:///…`` URL."""
    return url.split("sqlite:///", 1)[1]


#: after a failed refresh, the pages run on the previous roll-up and the refresh is retried this much later
RETRY_FAILED_REFRESH_S = 60
_FAILED: dict[str, tuple[float, OpsDataError, RollupState]] = {}


@cached(ttl="refresh", spinner="Refreshing the daily roll-up…")
def _refresh(settings: Settings) -> RollupState:
    """Bring the roll-up up to date (incremental) at most every ``TTL["refresh"]`` seconds; return its state.

    A failure raises, and is not cached.
    """
    target = _rollup_engine(settings.url, settings)
    loaders.refresh_rollup(source_engine(settings), settings, target=target)
    return loaders.rollup_state(target, settings)


def context() -> DataContext:
    """Settings, engines and the roll-up version.

    A refresh that fails while a usable roll-up exists does not stop the pages: they run on it, and
    ``refresh_problem`` says why it is stale (the refresh is tried again after
    :data:`RETRY_FAILED_REFRESH_S`). Only when there is no roll-up to show does the failure raise.

    Raises
    ------
    OpsDataError
        A configuration problem, an unreachable source, or a failed refresh with no roll-up to fall back on;
        ``NotAllowed`` when nobody with a role is signed in.
    """
    settings = _settings()
    user = signed_in_user(settings)
    if user is None:  # ui.shell.page says who is signed in and why they see nothing; a bare call gets no data
        raise NotAllowed("you are not signed in, or your account has no role on this dashboard",
                         hint="Sign in, or ask an admin to add you to [roles].")
    _ensure_sample(settings)
    key = repr(settings)
    problem: OpsDataError | None = None
    failed = _FAILED.get(key)
    if failed and time.monotonic() - failed[0] < RETRY_FAILED_REFRESH_S:
        _, problem, state = failed
    else:
        try:
            state = _refresh(settings)
            _FAILED.pop(key, None)
        except OpsDataError as err:
            problem = err
            try:
                state = loaders.rollup_state(_rollup_engine(settings.url, settings), settings)
            except OpsDataError:
                raise err from None
            _FAILED[key] = (time.monotonic(), err, state)
    if problem is not None and not state.rows:
        raise problem
    try:
        measures = _measures(settings)
    except OpsDataError:
        if problem is None:
            raise
        measures = frozenset(MEASURE_INPUTS)  # the source cannot be inspected: show what the roll-up holds
    shown = _publish(settings, state, measures, user) if problem is None else state
    ctx = make_context(settings, source_engine(settings), _rollup_engine(settings.url, settings), shown, measures,
                       user, problem)
    return replace(ctx, provisional=True) if shown is not state else ctx


# --- new rows are shown once they are judged ------------------------------------------------------------------
#: what the pages open on first is computed in the background when a refresh brings new rows (see :func:`_publish`);
#: each warmer is ``module:function`` taking a DataContext (imported when called: they import this module)
WARMERS = ("ui.standup:warm", "ui.anomaly_data:warm")
#: the scopes whose pages are warmed: those seen within this many seconds (at most :data:`WARM_SCOPES` of them)
WARM_SEEN_S = 24 * 3600
WARM_SCOPES = 8
_PUBLISH_LOCK = threading.Lock()
_PUBLISHED: dict[str, RollupState] = {}  # configuration → the roll-up state the pages read
_GENERATION: dict[str, int] = {}  # configuration → how often the published state was forgotten (a warm-up's stamp)
_WARMING: dict[str, threading.Thread] = {}
_SEEN: dict[str, dict[str, tuple[float, User]]] = {}  # configuration → scope → (last seen, a user with it)


def rows_version(state: RollupState) -> str:
    """The roll-up's version as cache keys carry it (its rows', not its last refresh's)."""
    return f"{state.content or state.refreshed_at}|{state.max_day}|{state.rows}"


def _publish(settings: Settings, fresh: RollupState, measures: frozenset[str], user: User) -> RollupState:
    """The roll-up state the pages read.

    The first state of a process is shown at once. When a later refresh brings new rows, the pages keep the
    version they show — and what is cached for it — while a background thread computes, for the new rows, what
    the pages open on first (:data:`WARMERS`, for the scopes this process saw in the last day, at most
    :data:`WARM_SCOPES`); then the new version is shown, and the first visit after new data reads results
    instead of judging thousands of series. Meanwhile a result not cached yet is computed from the table as it
    is (the new rows) and kept in memory only (the context is ``provisional``). A failed warm-up publishes all
    the same (the pages compute what they need, and say what failed).
    """
    key = repr(settings)
    with _PUBLISH_LOCK:
        _SEEN.setdefault(key, {})[repr(user.scope)] = (time.monotonic(), user)
        shown = _PUBLISHED.get(key)
        if shown is None or rows_version(shown) == rows_version(fresh):
            _PUBLISHED[key] = fresh
            return fresh
        running = _WARMING.get(key)
        if running is None or not running.is_alive():
            recent = sorted(_SEEN[key].values(), key=lambda seen: seen[0], reverse=True)[:WARM_SCOPES]
            users = [u for seen_at, u in recent if time.monotonic() - seen_at < WARM_SEEN_S]
            thread = threading.Thread(target=_warm_then_publish,
                                      args=(settings, fresh, measures, users, _GENERATION.get(key, 0)),
                                      name="warm-new-rows", daemon=True)
            _WARMING[key] = thread
            thread.start()
        return shown


def _warm_then_publish(settings: Settings, fresh: RollupState, measures: frozenset[str], users: list[User],
                       generation: int) -> None:
    import importlib
    import logging

    log = logging.getLogger("identity_ops.warm")
    began = time.perf_counter()
    try:
        for user in users:
            ctx = make_context(settings, source_engine(settings), _rollup_engine(settings.url, settings), fresh,
                               measures, user)
            for name in WARMERS:
                module, function = name.split(":")
                try:
                    getattr(importlib.import_module(module), function)(ctx)
                except Exception as err:  # the page computes it again and says what is wrong
                    log.warning("warming %s for new rows failed: %s", name, err)
    finally:
        key = repr(settings)
        with _PUBLISH_LOCK:  # unless the rows were shown at once meanwhile (then these may be older)
            if _GENERATION.get(key, 0) == generation:
                _PUBLISHED[key] = fresh
        log.info("new rows judged in the background in %.1f s", time.perf_counter() - began)


def show_new_rows_now() -> None:
    """Forget every cached frame and show the newest rows on the next page run (after a refresh the user asked
    for, or an import), without waiting for the background warm-up."""
    st.cache_data.clear()
    with _PUBLISH_LOCK:
        for key in _PUBLISHED:
            _GENERATION[key] = _GENERATION.get(key, 0) + 1
        _PUBLISHED.clear()


def make_context(settings: Settings, source: Engine, rollup: Engine, state: RollupState, measures: frozenset[str],
                 user: User, problem: OpsDataError | None = None) -> DataContext:
    """A data context from its parts (the app's pages, and a command run without a server: ``reports``): the
    roll-up's version and the known events' version are stated here, once."""
    # ui.notes reads the app database through ui.app_store, which imports this module: imported here
    from ui.notes import events_version

    # the rows' version, not the refresh time: a refresh that brought nothing new keeps every cached frame
    return DataContext(settings, source, rollup, rows_version(state), problem, state, measures, user,
                       f"{events_version()}|{events_files_version(settings)}")


def events_files_version(settings: Settings) -> str:
    """The events CSVs and their modification times: an edited events file changes the judgment at once."""
    files = events_paths(settings.config_path, source_url=settings.url)
    return ";".join(f"{p}@{p.stat().st_mtime}" if p.exists() else f"{p}@missing" for p in files)


@cached(ttl="refresh")
def _measures(settings: Settings) -> frozenset[str]:
    return loaders.available_measures(source_engine(settings), settings)


def forget_failed_refresh() -> None:
    """Try the refresh again on the next page run (Retry, or after the configuration changed)."""
    _FAILED.clear()


@cached(entries=4, stored=True)
def _bounds(ctx: DataContext) -> tuple[date, date] | None:
    # the data's window for everyone: dates name no site, and a partner whose site had no case on the newest day
    # must still see that day (an outage is exactly what it needs to see)
    return loaders.load_rollup_bounds(ctx.rollup, settings=ctx.settings, scope=None)


def bounds(ctx: DataContext) -> tuple[date, date]:
    """First and last day in the roll-up; raises ``ValueError`` if it is empty."""
    found = _bounds(ctx)
    if found is None:
        raise ValueError("the roll-up is empty: the cases table has no rows yet — load data on the Data page")
    return found


def newest_complete_day(ctx: DataContext, *, today: date | None = None) -> date:
    """The newest day in the data that has ended (UTC)."""
    today = today or loaders.clock.today(ctx.settings)
    return min(bounds(ctx)[1], today - timedelta(days=1))


@cached(entries=16, stored=True)
def dimension_values(ctx: DataContext) -> dict[str, list[str]]:
    """Every dimension's values the user may see, for the sidebar's filters."""
    return loaders.load_dimension_values(ctx.rollup, settings=ctx.settings, scope=ctx.scope)


@cached(entries=128)
def _volume(ctx: DataContext, filters: Filters, by: tuple[str, ...], backlog: bool) -> pd.DataFrame:
    frame = loaders.load_daily_volume(ctx.rollup, settings=ctx.settings, filters=filters, by=by, scope=ctx.scope)
    if not backlog:  # the opening balance scans the roll-up's whole past: skipped when no backlog is asked for
        return kpi_parts(frame, by=by).drop(columns="backlog")
    opening = loaders.load_opening_balance(ctx.rollup, settings=ctx.settings, filters=filters, by=by,
                                           scope=ctx.scope)
    return kpi_parts(frame, by=by, opening=opening if by else float(opening.iloc[0]))


def matches_any_case(ctx: DataContext, filters: Filters) -> bool:
    """Whether the filters' dimension values select any case on any day of the roll-up."""
    if not filters.dimension_filters:
        return True
    first, last = bounds(ctx)
    ever = volume(ctx, filters.with_range(first, last))
    return bool((ever["incoming"].sum() + ever["solved"].sum()) > 0)


def within_data(ctx: DataContext, filters: Filters) -> Filters:
    """The filters' range cut to start at the first day with a case: days before it are not zeros, they are
    outside the data (a baseline or a warm-up that counted them would expect too little)."""
    first = bounds(ctx)[0]
    return filters.with_range(first, filters.end) if filters.start < first <= filters.end else filters


def volume(ctx: DataContext, filters: Filters, by: tuple[str, ...] = (), *, backlog: bool = True) -> pd.DataFrame:
    """Daily parts for the filters, split by ``by``, from the first day of the data on: the one read of KPI parts
    every screen, deck and digest uses. ``backlog=False`` leaves the backlog out (and skips reading its opening
    balance, a scan of the roll-up's whole past) for a caller that states no stock."""
    return _volume(ctx, within_data(ctx, filters), tuple(by), backlog)


@cached(entries=128)
def _kpi_frame(ctx: DataContext, filters: Filters, grain: str, by: tuple[str, ...], top: int | None) -> pd.DataFrame:
    parts = volume(ctx, filters, by)
    if top is not None and len(by) == 1:
        parts = top_values(parts, by[0], most=top)
    return compute_kpis(parts, grain=grain, by=by)


def kpi_frame(ctx: DataContext, filters: Filters, *, grain: str = "day", by: tuple[str, ...] = (),
              top: int | None = None) -> pd.DataFrame:
    """Every KPI at ``grain`` for the filters, split by ``by``; with ``top`` (one dimension), its values
    beyond the ``top`` largest by incoming are one line "other" (see ``metrics.kpis.top_values``)."""
    return _kpi_frame(ctx, filters, grain, tuple(by), top)

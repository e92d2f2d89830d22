"""Sections of the Data page: configuration, connection, mapping, column checks, roll-up, import.

Each section catches the data layer's narrow errors itself and says what to change, so one broken part
(a wrong URL, a missing column) never hides the others — this page is where a user fixes exactly that.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

import loaders
from charts.export import csv_bytes
from loaders import ConfigError, OpsDataError, Settings
from loaders.checks import SourceReport, check_source
from loaders.engine import DEFAULT_SQLITE_BUSY_S, DEFAULT_STATEMENT_TIMEOUT_S
from loaders.importer import IMPORT_DB_PATH, ImportReport, RowsRejected, import_file
from ui.app_store import StoreError, app_store
from ui.data import (
    cached,
    current_settings,
    kpi_availability,
    reset_connections,
    show_new_rows_now,
    source_engine,
)
from ui.errors import show_error
from ui.text import md

__all__ = [
    "format_value",
    "import_db_path",
    "render_checks",
    "render_connection",
    "render_import",
    "render_kpis",
    "render_mapping",
    "render_rollup",
    "render_settings",
]


def _fit(rows: int, *, row: int = 35, most: int = 20) -> int:
    """A table height that shows every row (up to ``most``) without an inner scroll bar."""
    return row * (min(max(rows, 1), most) + 1) + 3


def format_value(value: Any) -> str:
    """A checked column's min or max as a person reads it: timestamps to the minute, numbers rounded.

    Examples
    --------
    >>> [format_value(v) for v in (84.598181361893, 5181.953641, 120.0, 1, None, "2026-06-30 23:59:54.5")]
    ['84.6', '5,182', '120', '1', '', '2026-06-30 23:59']
    """
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"
    if isinstance(value, datetime | pd.Timestamp):
        return f"{value:%Y-%m-%d %H:%M}"
    text = str(value)
    try:  # SQLite returns timestamps as text
        stamp = pd.Timestamp(text) if any(c in text for c in "-:") else None
        return f"{stamp:%Y-%m-%d %H:%M}" if stamp is not None and pd.notna(stamp) else text
    except ValueError:
        return text


def _problem(err: Exception, *, key: str) -> None:
    show_error(err, key=f"data_retry_{key}", retry=reset_connections)


def render_settings() -> Settings | None:
    """Which configuration is in use; a broken file is shown with its offending line."""
    st.subheader("Configuration")
    try:
        settings = current_settings()
    except ConfigError as err:
        _problem(err, key="config")
        path = os.environ.get("OPS_CONFIG") or "ops.toml"
        if err.line and Path(path).exists():
            lines = Path(path).read_text(encoding="utf-8").splitlines()
            lo = max(err.line - 3, 0)
            st.code("\n".join(f"{i + 1:>4}{'>' if i + 1 == err.line else ' '} {lines[i]}"
                              for i in range(lo, min(err.line + 2, len(lines)))), language="toml")
        return None
    cols = st.columns(4)
    cols[0].metric("Configuration file", settings.config_path.name if settings.config_path else "none (defaults)")
    cols[1].metric("URL from", settings.url_source)
    cols[2].metric("Source kind", "case rows" if settings.has_cases else "daily volumes")
    cols[3].metric("Roll-up", "not needed" if not settings.has_cases else
                   ("in the database" if settings.rollup_mode == "source" else "local cache (read-only)"))
    st.caption(f"Database: `{loaders.redact(settings.url)}` · table `{settings.source_table}`"
               + (f" in schema `{settings.schema}`" if settings.schema else "")
               + " · every setting is explained in docs/configuration.md")
    return settings


def render_connection(settings: Settings) -> Engine | None:
    """Dialect, server version and latency, or what is wrong with the connection."""
    st.subheader("Connection")
    try:
        engine = source_engine(settings)
        info = loaders.connection_info(engine)
    except OpsDataError as err:
        _problem(err, key="connection")
        return None
    cols = st.columns(4)
    cols[0].metric("Dialect", info.dialect)
    cols[1].metric("Server version", info.server_version or "–")
    cols[2].metric("Latency", f"{info.latency_ms:.1f} ms")
    configured = settings.statement_timeout_s
    if info.dialect == "sqlite":  # SQLite has no statement timeout: it waits this long for another writer's lock
        cols[3].metric("Lock wait", f"{configured or DEFAULT_SQLITE_BUSY_S:g} s")
    else:
        timeout = DEFAULT_STATEMENT_TIMEOUT_S if configured is None else configured
        cols[3].metric("Statement timeout", f"{timeout:g} s" if timeout else "none",
                       help="Set [source] statement_timeout_s (0: no limit).")
    return engine


def render_mapping(settings: Settings) -> None:
    """Each canonical column -> the source's column, and the value mappings."""
    st.subheader("Mapping in use")
    frame = pd.DataFrame({"ours": list(settings.columns), "theirs": list(settings.columns.values())})
    frame["renamed"] = frame["ours"] != frame["theirs"]
    left, right = st.columns([3, 2])
    left.dataframe(frame, hide_index=True, key="data_mapping", height=_fit(len(frame)))
    rows = [{"dimension": "route", "ours": k, "theirs": ", ".join(v)} for k, v in settings.route_values.items()]
    rows += [{"dimension": d, "ours": k, "theirs": ", ".join(v)}
             for d, m in settings.value_maps.items() for k, v in m.items()]
    right.dataframe(pd.DataFrame(rows), hide_index=True, key="data_value_mapping", height=_fit(len(rows)))


@cached(ttl="source", spinner="Checking the source's columns…")
def _checks(engine: Engine, settings: Settings) -> SourceReport:
    return check_source(engine, settings)


def render_checks(engine: Engine, settings: Settings) -> SourceReport | None:
    """Per-column checks and the list of what to change."""
    st.subheader("Column checks")
    try:
        report = _checks(engine, settings)
    except OpsDataError as err:
        _problem(err, key="checks")
        return None
    cols = st.columns(3)
    cols[0].metric("Rows in the source", f"{report.rows:,}")
    cols[1].metric("Rows checked", f"{report.rows_in_window:,}", help=f"Checked: {report.window}.")
    cols[2].metric("Newest " + ("case" if settings.has_cases else "day"),
                   f"{report.newest:%Y-%m-%d %H:%M}" if report.newest is not None and pd.notna(report.newest)
                   else "–")
    shown = report.columns.assign(null_share=report.columns["null_share"] * 100,
                                  min=report.columns["min"].map(format_value),
                                  max=report.columns["max"].map(format_value))
    st.dataframe(shown, hide_index=True, key="data_checks", placeholder="", height=_fit(len(shown)),
                 column_config={
                     "null_share": st.column_config.NumberColumn("null share", format="%.1f %%",
                                                                 help="Share of checked rows without a value"),
                     "min": st.column_config.TextColumn("min", width="medium"),
                     "max": st.column_config.TextColumn("max", width="medium"),
                     "note": st.column_config.TextColumn("note", width="large"),
                 })
    for d, values in report.unknown.items():
        what = "route" if d == "route" else settings.label(d).lower()
        st.warning(f"Unmapped {what} values: {md(', '.join(values))}", icon=":material/help:")
    if report.fixes:
        st.markdown("**What to change**\n" + "\n".join(f"1. {md(f, code=True)}" for f in report.fixes))
    else:
        st.success("Every mapped column is present, typed right and within range.", icon=":material/check:")
    return report


def render_kpis(engine: Engine, settings: Settings) -> None:
    """Per KPI: can the source state it, and which columns would enable it if not."""
    st.subheader("KPIs")
    try:
        measures = loaders.available_measures(engine, settings)
    except OpsDataError as err:
        _problem(err, key="kpis")
        return
    rows = kpi_availability(measures, cases=settings.has_cases)
    frame = pd.DataFrame({"KPI": [r[0] for r in rows], "shown": [r[1] for r in rows],
                          "needs": [", ".join(r[2]) for r in rows]})
    st.dataframe(frame, hide_index=True, key="data_kpis", height=_fit(len(frame)),
                 column_config={"shown": st.column_config.CheckboxColumn("shown", help="Every input is mapped"),
                                "needs": st.column_config.TextColumn("would need", width="large")})
    if not frame["shown"].all():
        st.caption("A KPI whose columns the source lacks is shown nowhere (no tile, no chart, no scan); map the "
                   "column under [columns] in the configuration file to enable it.")


def render_rollup(engine: Engine, settings: Settings, *, failed: OpsDataError | None = None) -> None:
    """Roll-up state with refresh and rebuild buttons; ``failed``: why the pages' last refresh failed."""
    st.subheader("Daily roll-up")
    if failed is not None and not (st.session_state.get("data_rebuild") or st.session_state.get("data_refresh")):
        st.markdown("**The latest automatic refresh failed**; every page shows the roll-up below until it works:")
        _problem(failed, key="auto_refresh")
    if not settings.has_cases:
        st.info("The source is a daily volume table: it is read as the roll-up, nothing is built or written. "
                "Case lists (drill-down) are not available.", icon=":material/info:")
    try:
        target = loaders.rollup_engine(engine, settings)
    except OpsDataError as err:
        _problem(err, key="rollup_target")
        return
    # a click is known before the buttons are drawn: act first, so the state below shows the result
    rebuild = bool(st.session_state.get("data_rebuild"))
    if settings.has_cases and (rebuild or st.session_state.get("data_refresh")):
        with st.status("Refreshing the roll-up…", expanded=False) as status:
            try:
                result = loaders.refresh_rollup(engine, settings, full=rebuild, target=target,
                                                progress=lambda m: st.write(m))
            except OpsDataError as err:
                status.update(label="Refresh failed", state="error")
                _problem(err, key="refresh")
                return
            status.update(label=f"{result.kind} refresh: {result.rows_written:,} rows in {result.seconds:.1f} s",
                          state="complete")
        show_new_rows_now()
    try:
        state = loaders.rollup_state(target, settings)
    except OpsDataError as err:
        _problem(err, key="rollup")
        return
    cols = st.columns(4)
    cols[0].metric("Last refresh", f"{state.refreshed_at:%Y-%m-%d %H:%M} UTC" if state.refreshed_at else "never")
    cols[1].metric("Newest day", str(state.max_day or "–"))
    cols[2].metric("Rows", f"{state.rows:,}" if state.rows is not None else "–")
    cols[3].metric("Kind", state.kind or "–")
    if state.refreshed_at:
        age_h = (loaders.clock.utcnow() - state.refreshed_at).total_seconds() / 3600
        if age_h > settings.stale_after_hours:
            st.warning(f"The roll-up was refreshed {age_h:.0f} h ago (more than [freshness] stale_after_hours = "
                       f"{settings.stale_after_hours:g}): press Refresh.")
    if not settings.has_cases:
        return
    left, right, _ = st.columns([1, 1, 3])
    left.button("Refresh roll-up now", key="data_refresh", icon=":material/sync:")
    right.button("Rebuild from scratch", key="data_rebuild", icon=":material/construction:",
                 help="Recomputes every day (use after changing the mapping or loading old days).")


def import_db_path() -> Path:
    """The embedded database imports go into (``OPS_IMPORT_DB`` overrides the default)."""
    return Path(os.environ.get("OPS_IMPORT_DB") or IMPORT_DB_PATH)


def _report(report: ImportReport) -> None:
    cols = st.columns(5)
    cols[0].metric("Rows read", f"{report.rows_read:,}")
    cols[1].metric("Inserted", f"{report.inserted:,}")
    cols[2].metric("Updated", f"{report.updated:,}")
    cols[3].metric("Unchanged", f"{report.unchanged:,}")
    cols[4].metric("Bad rows", f"{len(report.bad_rows):,}")
    _bad_rows(report.bad_rows)


def _bad_rows(bad_rows: pd.DataFrame) -> None:
    """The rejected lines with their reasons, and the same as a download (formulas from the file defused)."""
    if len(bad_rows):
        st.dataframe(bad_rows.head(500), hide_index=True, key="data_bad_rows")
        st.download_button("Download the bad rows (CSV)", csv_bytes(bad_rows), file_name="bad_rows.csv",
                           mime="text/csv", key="data_bad_download", icon=":material/download:")


def render_import(settings: Settings | None) -> None:
    """Upload a CSV or Parquet file of cases or daily volumes into the embedded database."""
    st.subheader("Import a file")
    target = import_db_path()
    st.caption(f"Rows go into the embedded database `{target.name}` (never into your server database). "
               "Re-uploading the same file changes nothing; a failed import writes nothing.")
    kind = st.radio("The file holds", ["cases", "volume"], horizontal=True, key="data_import_kind",
                    format_func=lambda k: {"cases": "one row per case", "volume": "daily volumes (vendor report)"}[k])
    upload = st.file_uploader("CSV or Parquet", type=["csv", "parquet"], key="data_import_file")
    strict = st.checkbox("Only accept dimension values already in the dashboard", key="data_import_strict")
    abort = st.checkbox("Write nothing if any row is bad", key="data_import_abort")
    if upload is None or not st.button("Import", key="data_import_go", icon=":material/upload:"):
        return
    known = None
    if strict:
        try:
            # an admin-only page (ui.shell.ADMIN_PAGES): the whole source, unscoped
            ctx_values = (loaders.load_dimension_values(source_engine(settings), settings=settings, scope=None)
                          if settings else {})
            known = {d: v for d, v in ctx_values.items() if v}
        except OpsDataError:
            known = None
    target.parent.mkdir(parents=True, exist_ok=True)
    engine = loaders.make_engine(f"sqlite:///{target}")
    bar = st.progress(0.0, text="reading the file")
    try:
        report = import_file(upload, engine, kind=kind, settings=settings, known_values=known,
                             on_bad="abort" if abort else "skip",
                             progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
    except OpsDataError as err:
        bar.empty()
        _problem(err, key="import")
        if isinstance(err, RowsRejected):  # no good row, or "write nothing": the rows to fix
            _bad_rows(err.bad_rows)
        return
    bar.empty()
    st.success(f"Imported {report.loaded:,} good rows from {md(upload.name)} in {report.seconds:.1f} s.")
    _report(report)
    using = settings is not None and loaders.redact(settings.url).endswith(str(target))
    if using and kind == "cases":
        loaders.refresh_rollup(engine, settings, full=True)
        show_new_rows_now()
        st.info("The roll-up was rebuilt: every page now includes the imported rows.")
    elif kind == "cases":
        st.info(f"To use the imported cases, set `OPS_DB_URL=sqlite:///{target}` (or `[connections.ops] url` in "
                "secrets) and reload.", icon=":material/info:")
    else:
        st.info(f"To use the imported volumes, set `OPS_DB_URL=sqlite:///{target}` and in the configuration file "
                "`[source] kind = \"volume\"` and `table = \"daily_volume\"`.", icon=":material/info:")
    engine.dispose()


def render_access(settings: Settings | None) -> None:
    """Who may sign in as what, and the audit log: who exported what (newest first)."""
    st.subheader("Sign-in and audit log", anchor=False)
    if settings is None:
        return
    access = settings.access
    if access.mode == "none":
        st.caption("Sign-in is off (`[auth] mode = \"none\"`): everyone who reaches this server is one local admin. "
                   "docs/configuration.md says how to turn on OpenID Connect or a sign-in proxy.")
    else:
        partners = "; ".join(f"{md(email)} → {md(scope.describe(settings.label))}" for email, scope in access.partners)
        st.markdown(f"Mode **{access.mode}**" + (f" (header `{md(access.header)}`)" if access.mode == "header" else "")
                    + f" · admins: {md(', '.join(access.admins) or 'none')} · analysts: "
                    f"{md(', '.join(access.analysts) or 'none')}" + (f" · partners: {partners}" if partners else ""))
    try:
        entries = app_store().audit_log(limit=200)
    except StoreError as err:
        st.caption(f"The audit log is unavailable: {md(err)}")
        return
    if not entries:
        st.caption("No export yet: every PNG, SVG, CSV and deck download is recorded here with who made it.")
        return
    st.dataframe(pd.DataFrame({"when (UTC)": [e.at for e in entries], "who": [e.user for e in entries],
                               "what": [e.action.replace("_", " ") for e in entries],
                               "details": [", ".join(f"{k}: {v}" for k, v in e.what.items()) for e in entries]}),
                 key="data_audit", hide_index=True)

"""AppTest: pages degrade instead of blocking. A failed refresh leaves every page on the previous roll-up with
a banner that says why; filters that match no case say so; a locked or broken database, a malformed URL and a
mistyped SQLite path each give a message without a traceback, SQL or a password — and lose nothing."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from loaders import Settings, make_engine, refresh_rollup
from tests.conftest import SAMPLE_END, visible

APP = Path(__file__).resolve().parent.parent / "app.py"


def _texts(at: AppTest) -> list[str]:
    """Every message a reader sees on the page."""
    return [visible(e.value) for kind in ("error", "warning", "info", "success", "markdown", "caption")
            for e in getattr(at, kind)]


def _no_sql(at: AppTest) -> None:
    for text in _texts(at):
        assert "SELECT " not in text and "[SQL" not in text and "FROM " not in text, text


@pytest.fixture()
def copy_db(sample_db: Path, tmp_path: Path) -> Path:
    """A copy of the sample this test may break."""
    path = tmp_path / "ops.sqlite"
    shutil.copy(sample_db, path)
    return path


def _app(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("OPS_DB_URL", db_url)
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    return AppTest.from_file(str(APP), default_timeout=120)


def test_a_failed_refresh_leaves_every_page_on_the_previous_roll_up_with_a_banner(copy_db, monkeypatch):
    with sqlite3.connect(copy_db) as conn:  # the source loses a column the roll-up needs (a dimension)
        conn.execute("ALTER TABLE cases RENAME COLUMN vendor_site TO site_renamed")
    at = _app(f"sqlite:///{copy_db}", monkeypatch).run()
    assert not at.exception
    assert len(at.metric) == 9  # the stand-up's tiles, from the roll-up that was there
    banner = [w for w in _texts(at) if "the latest refresh failed" in w]
    assert banner and f"up to {SAMPLE_END:%a %d %b %Y}" in banner[0] and "has no column `vendor_site`" in banner[0]
    for script in ("pages/trends.py", "pages/anomalies.py", "pages/data.py"):
        at.switch_page(script).run()
        assert not at.exception, script
        assert any("latest refresh failed" in w or "latest automatic refresh failed" in w for w in _texts(at)), script
    # the Data page says how to fix it
    assert any("[columns]" in visible(i.value) for i in at.info)
    _no_sql(at)


def test_a_failed_refresh_with_no_roll_up_to_fall_back_on_stops_the_pages_with_the_reason(
        tmp_path, sample_cases, monkeypatch):
    from loaders import create_cases_table, write_cases

    path = tmp_path / "fresh.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    settings = Settings(url=f"sqlite:///{path}")
    create_cases_table(engine, settings)
    write_cases(engine, sample_cases.iloc[:100], settings=settings)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE cases RENAME COLUMN vendor_site TO site_renamed")
    at = _app(f"sqlite:///{path}", monkeypatch).run()
    assert not at.exception and not at.metric
    assert at.error and any("has no column `vendor_site`" in text for text in _texts(at))


def _no_copyright_at_krakow(copy_db: Path) -> str:
    with sqlite3.connect(copy_db) as conn:
        conn.execute("DELETE FROM cases WHERE workflow = 'copyright' AND vendor_site = 'Krakow'")
    url = f"sqlite:///{copy_db}"
    engine = make_engine(url)
    refresh_rollup(engine, Settings(url=url), full=True)
    engine.dispose()
    return url


@pytest.mark.parametrize("script", ["app.py", "pages/trends.py", "pages/anomalies.py"])
def test_filters_that_match_no_case_say_so_instead_of_raising(copy_db, monkeypatch, script):
    at = _app(_no_copyright_at_krakow(copy_db), monkeypatch).run()
    if script != "app.py":
        at.switch_page(script).run()
    at.multiselect(key="sidebar_workflow").set_value(["copyright"]).run()
    at.multiselect(key="sidebar_vendor_site").set_value(["Krakow"]).run()
    assert not at.exception
    assert any("No cases match these filters" in visible(i.value)
               and "Workflow: copyright × Vendor site: Krakow" in visible(i.value) for i in at.info)


def test_a_locked_database_on_the_drill_down_is_a_message_without_sql(copy_db, tmp_path, monkeypatch):
    config = tmp_path / "ops.toml"
    config.write_text("[source]\nstatement_timeout_s = 0.3\n", encoding="utf-8")  # SQLite: the lock wait
    at = _app(f"sqlite:///{copy_db}", monkeypatch)
    monkeypatch.setenv("OPS_CONFIG", str(config))
    at.query_params.update({"kpi": "incoming", "day": SAMPLE_END.isoformat(), "vendor_site": "Manila"})
    at.switch_page("pages/drilldown.py")
    at.run()
    assert not at.exception and at.subheader  # the page works before the lock
    holder = sqlite3.connect(copy_db, timeout=0.1)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the file: no one may read or write it
    try:
        monkeypatch.setattr("ui.data.RETRY_FAILED_REFRESH_S", 0)
        st.cache_data.clear()  # nothing cached to hide behind: every read goes to the locked file
        at.run()
    finally:
        holder.rollback()
        holder.close()
    assert not at.exception
    assert any("locked" in visible(e.value) for e in at.error), [e.value for e in at.error]
    _no_sql(at)


def test_a_url_with_a_bad_port_gives_a_message_on_every_page_and_hides_the_password(monkeypatch):
    at = _app("postgresql+psycopg://ops:s3cret@db.internal:54x2/ops", monkeypatch).run()
    assert not at.exception
    assert any("the port '54x2' is not a number" in visible(e.value) for e in at.error)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert any("the port '54x2' is not a number" in visible(e.value) for e in at.error)
    assert not any("s3cret" in text for text in _texts(at))


def test_a_mistyped_sqlite_path_is_a_message_and_creates_no_file(tmp_path, monkeypatch):
    missing = tmp_path / "opps.sqlite"
    at = _app(f"sqlite:///{missing}", monkeypatch).run()
    assert not at.exception
    assert any("the SQLite file 'opps.sqlite' does not exist" in visible(e.value) for e in at.error)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert not missing.exists()


def test_an_edited_configuration_file_takes_effect_without_a_restart(sample_db, tmp_path, monkeypatch):
    config = tmp_path / "ops.toml"
    config.write_text("[freshness]\nstale_after_hours = 36\n", encoding="utf-8")
    at = _app(f"sqlite:///{sample_db}", monkeypatch)
    monkeypatch.setenv("OPS_CONFIG", str(config))
    at.run()
    assert not at.exception and at.metric
    config.write_text('[freshness]\nstale_after_hours = 36\n[rollup]\nmode = "sometimes"\n', encoding="utf-8")
    os.utime(config, (config.stat().st_atime, config.stat().st_mtime + 2))  # a later edit, however fast
    at.run()
    assert any("ops.toml line 4: `rollup.mode` must be 'source' or 'local'" in visible(e.value) for e in at.error)
    config.write_text("[freshness]\nstale_after_hours = 36\n", encoding="utf-8")
    os.utime(config, (config.stat().st_atime, config.stat().st_mtime + 4))
    at.run()
    assert not at.exception and at.metric and not any("rollup.mode" in e.value for e in at.error)

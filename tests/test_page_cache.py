"""Page results kept on disk (``ui.page_cache``) and new rows shown once they are judged (``ui.data._publish``).

A cold process must read what an earlier one computed — and never a result of other rows, other code or another
scope; a torn or unwritable cache costs time, never a page.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import loaders
import ui.data as data
from loaders import LOCAL_USER, Filters, Scope, User
from ui import page_cache

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-07-01T09:00:00"  # the morning after the small sample's last day
DAY = date(2026, 6, 30)
CALLS: list[str] = []


@pytest.fixture()
def own_sample(sample_db: Path, tmp_path: Path) -> Path:
    """A copy of the small sample (with its events file) that a test may add cases to."""
    path = tmp_path / "own.sqlite"
    shutil.copy(sample_db, path)
    events = sample_db.with_suffix(".events.csv")
    if events.exists():
        shutil.copy(events, path.with_suffix(".events.csv"))
    return path


def _context(db: Path, cache: Path | None, user: User = LOCAL_USER) -> data.DataContext:
    settings = replace(loaders.load_settings(environ={"OPS_DB_URL": f"sqlite:///{db}"}), page_cache=cache)
    source = loaders.make_engine(settings.url)
    loaders.refresh_rollup(source, settings)
    state = loaders.rollup_state(source, settings)
    return data.make_context(settings, source, source, state, loaders.available_measures(source, settings), user)


@data.cached(stored=True)
def _computed(ctx: data.DataContext, filters: Filters, label: str) -> dict:
    CALLS.append(label)
    return {"label": label, "rows": ctx.state.rows, "days": (filters.end - filters.start).days}


@pytest.fixture(autouse=True)
def _fresh_memory():
    CALLS.clear()
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def test_a_cold_process_reads_the_stored_result_instead_of_computing_it(own_sample, tmp_path):
    ctx = _context(own_sample, tmp_path / "pages")
    first = _computed(ctx, Filters(DAY, DAY), "tiles")
    st.cache_data.clear()  # what a restart forgets
    again = _computed(_context(own_sample, tmp_path / "pages"), Filters(DAY, DAY), "tiles")
    assert again == first and CALLS == ["tiles"]
    assert len(list((tmp_path / "pages").glob("*.pickle"))) == 1


def test_other_arguments_other_rows_or_another_scope_are_computed_again(own_sample, tmp_path, sample_cases):
    ctx = _context(own_sample, tmp_path / "pages")
    _computed(ctx, Filters(DAY, DAY), "a")
    st.cache_data.clear()
    _computed(ctx, Filters(DAY - timedelta(days=1), DAY), "a")  # other filters
    _computed(ctx, Filters(DAY, DAY), "b")  # another argument
    partner = User("p@vendor.example", "partner", Scope.of({"vendor_site": ["Manila"]}))
    _computed(_context(own_sample, tmp_path / "pages", partner), Filters(DAY, DAY), "a")  # another scope
    engine = loaders.make_engine(f"sqlite:///{own_sample}")
    settings = ctx.settings
    late = sample_cases.tail(50).assign(case_id=lambda f: f["case_id"] + 10_000_000,
                                        created_at=lambda f: f["created_at"] + pd.Timedelta(days=1),
                                        solved_at=lambda f: f["solved_at"] + pd.Timedelta(days=1))
    loaders.write_cases(engine, late, settings=settings)
    newer = _context(own_sample, tmp_path / "pages")  # its refresh brings the new rows
    assert newer.version != ctx.version
    st.cache_data.clear()
    assert _computed(newer, Filters(DAY, DAY), "a")["rows"] == newer.state.rows
    assert CALLS == ["a", "a", "b", "a", "a"]


def test_a_refresh_that_brings_nothing_new_keeps_the_stored_results(own_sample, tmp_path):
    ctx = _context(own_sample, tmp_path / "pages")
    _computed(ctx, Filters(DAY, DAY), "a")
    st.cache_data.clear()
    later = _context(own_sample, tmp_path / "pages")  # refreshed again: the same rows
    assert later.state.refreshed_at >= ctx.state.refreshed_at and later.version == ctx.version
    _computed(later, Filters(DAY, DAY), "a")
    assert CALLS == ["a"]


def test_a_torn_entry_is_removed_and_computed_again(own_sample, tmp_path, caplog):
    ctx = _context(own_sample, tmp_path / "pages")
    _computed(ctx, Filters(DAY, DAY), "a")
    (entry,) = (tmp_path / "pages").glob("*.pickle")
    entry.write_bytes(entry.read_bytes()[:20])  # a write cut short (or another Python's file)
    st.cache_data.clear()
    with caplog.at_level(logging.WARNING, logger="identity_ops.page_cache"):
        assert _computed(ctx, Filters(DAY, DAY), "a")["label"] == "a"
    assert CALLS == ["a", "a"] and "unreadable" in caplog.text
    assert page_cache.read(tmp_path / "pages", entry.stem)[0]  # rewritten whole


def test_an_unwritable_cache_costs_time_never_the_result(own_sample, tmp_path, caplog):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    ctx = _context(own_sample, blocked)
    with caplog.at_level(logging.WARNING, logger="identity_ops.page_cache"):
        assert _computed(ctx, Filters(DAY, DAY), "a")["label"] == "a"
    assert "could not store" in caplog.text


def test_turned_off_nothing_is_stored(own_sample, tmp_path):
    ctx = _context(own_sample, None)
    _computed(ctx, Filters(DAY, DAY), "a")
    st.cache_data.clear()
    _computed(ctx, Filters(DAY, DAY), "a")
    assert CALLS == ["a", "a"]
    settings = loaders.load_settings(environ={"OPS_DB_URL": f"sqlite:///{own_sample}", "OPS_CACHE_DIR": "off"})
    assert settings.page_cache is None


def test_an_argument_without_a_stable_key_is_computed_and_not_stored(own_sample, tmp_path):
    @data.cached(stored=True)
    def keyed_by_a_dict(ctx: data.DataContext, options: dict) -> int:
        CALLS.append("dict")
        return len(options)

    ctx = _context(own_sample, tmp_path / "pages")
    assert keyed_by_a_dict(ctx, {"a": 1}) == 1
    assert not list((tmp_path / "pages").glob("*.pickle"))


def test_another_release_of_the_code_is_another_key(tmp_path, monkeypatch):
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "x.py").write_text("A = 1\n")
    monkeypatch.setattr(page_cache, "_ROOT", tmp_path)
    page_cache.code_version.cache_clear()
    try:
        before = page_cache.entry_key(_computed, ["x"])
        (tmp_path / "ui" / "x.py").write_text("A = 2\n")
        page_cache.code_version.cache_clear()
        assert page_cache.entry_key(_computed, ["x"]) != before
    finally:
        page_cache.code_version.cache_clear()


def test_the_directory_keeps_only_the_newest_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(page_cache, "MAX_ENTRIES", 3)
    for i in range(6):
        assert page_cache.write(tmp_path, f"k{i}", list(range(i)))
    kept = sorted(p.stem for p in tmp_path.glob("*.pickle"))
    assert len(kept) == 3 and "k5" in kept


def test_a_cold_stand_up_draws_from_the_stored_results_without_judging(sample_db, monkeypatch):
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.setenv("OPS_NOW", NOW)
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    first = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not first.exception and not first.error
    tiles = [(m.label, m.value) for m in first.metric]
    st.cache_data.clear()  # a restart: nothing in memory, the stored results on disk

    def no_judging(*_args, **_kwargs):
        raise AssertionError("a cold stand-up judged the panel again")

    monkeypatch.setattr("ui.anomaly_data.score_panel", no_judging)
    cold = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not cold.exception and not cold.error
    assert [(m.label, m.value) for m in cold.metric] == tiles and tiles


# --- new rows are shown once they are judged ------------------------------------------------------------------

def record_warm(ctx: data.DataContext) -> None:
    CALLS.append(ctx.version)


def fail_warm(ctx: data.DataContext) -> None:
    raise RuntimeError("warming failed")


@pytest.fixture()
def publishing(monkeypatch):
    monkeypatch.setattr(data, "_PUBLISHED", {})
    monkeypatch.setattr(data, "_WARMING", {})
    monkeypatch.setattr(data, "_SEEN", {})
    return monkeypatch


@pytest.mark.parametrize("warmer", ["record_warm", "fail_warm"])
def test_new_rows_are_shown_once_what_the_pages_open_on_is_computed(own_sample, tmp_path, publishing, warmer,
                                                                     sample_cases):
    publishing.setattr(data, "WARMERS", (f"tests.test_page_cache:{warmer}",))
    ctx = _context(own_sample, tmp_path / "pages")
    old = ctx.state
    assert data._publish(ctx.settings, old, ctx.measures, LOCAL_USER) is old  # a process's first rows: at once
    engine = loaders.make_engine(f"sqlite:///{own_sample}")
    late = sample_cases.tail(50).assign(case_id=lambda f: f["case_id"] + 20_000_000,
                                        created_at=lambda f: f["created_at"] + pd.Timedelta(days=1),
                                        solved_at=lambda f: f["solved_at"] + pd.Timedelta(days=1))
    loaders.write_cases(engine, late, settings=ctx.settings)
    new = _context(own_sample, tmp_path / "pages").state
    assert data.rows_version(new) != data.rows_version(old)
    shown = data._publish(ctx.settings, new, ctx.measures, LOCAL_USER)
    data._WARMING[repr(ctx.settings)].join(timeout=60)
    assert shown is old or data.rows_version(shown) == data.rows_version(new)  # the pages never wait for it
    assert data._publish(ctx.settings, new, ctx.measures, LOCAL_USER) is new  # warmed (or failed): shown
    if warmer == "record_warm":
        assert [data.rows_version(new)] == CALLS


def test_the_scored_panel_is_one_object_for_every_caller_and_nobody_may_change_it(own_sample, tmp_path):
    from ui import anomaly_data

    ctx = _context(own_sample, None)
    first = anomaly_data.scored(ctx, Filters(DAY, DAY), end=DAY)
    assert anomaly_data.scored(ctx, Filters(DAY, DAY), end=DAY) is first  # no copy of hundreds of MB per read
    with pytest.raises(ValueError, match="read-only"):
        first.scores.expected[-1, 0] = 0.0
    frame = first.series(first.scores.columns[0])
    frame.loc[frame.index[-1], "expected"] = -1.0  # a caller's own frame is its own to change
    assert first.series(first.scores.columns[0])["expected"].iloc[-1] != -1.0


def test_a_cache_directory_others_may_write_is_not_used(tmp_path, caplog):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o700)
    assert page_cache.write(shared, "k", [1, 2]) and page_cache.read(shared, "k") == (True, [1, 2])
    shared.chmod(0o777)  # a pickle someone else could plant would run as the dashboard
    with caplog.at_level(logging.WARNING, logger="identity_ops.page_cache"):
        assert page_cache.read(shared, "k") == (False, None)
        assert not page_cache.write(shared, "k2", [3])
    assert "writable by it alone" in caplog.text
    created = tmp_path / "new" / "pages"
    assert page_cache.write(created, "k", 1) and (created.stat().st_mode & 0o777) == 0o700


def test_a_provisional_context_or_rows_without_a_version_of_their_own_store_nothing(own_sample, tmp_path):
    ctx = _context(own_sample, tmp_path / "pages")
    _computed(replace(ctx, provisional=True), Filters(DAY, DAY), "provisional")  # new rows being judged
    _computed(replace(ctx, state=replace(ctx.state, content=None)), Filters(DAY, DAY), "unversioned")
    assert not list((tmp_path / "pages").glob("*.pickle"))
    assert CALLS == ["provisional", "unversioned"]


GATE = __import__("threading").Event()


def slow_warm(ctx: data.DataContext) -> None:
    GATE.wait(timeout=60)


def test_rows_shown_at_once_are_never_replaced_by_an_older_warm_up(own_sample, tmp_path, publishing):
    publishing.setattr(data, "WARMERS", ("tests.test_page_cache:slow_warm",))
    ctx = _context(own_sample, tmp_path / "pages")
    first, second, third = (replace(ctx.state, content=c) for c in ("v1", "v2", "v3"))
    GATE.clear()
    assert data._publish(ctx.settings, first, ctx.measures, LOCAL_USER) is first
    assert data._publish(ctx.settings, second, ctx.measures, LOCAL_USER) is first  # v2 is being warmed
    data.show_new_rows_now()  # the user asked for the newest rows (a Refresh on the Data page)
    assert data._publish(ctx.settings, third, ctx.measures, LOCAL_USER) is third
    GATE.set()
    data._WARMING[repr(ctx.settings)].join(timeout=60)
    assert data._publish(ctx.settings, third, ctx.measures, LOCAL_USER) is third  # v2's warm-up did not put it back

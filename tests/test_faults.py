"""Faults: the database going away mid-session, a slow query, a locked SQLite file — each a clear message and a
working retry; and no write ever reaches the user's tables except the roll-up they allowed."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from loaders import (
    Filters,
    QueryFailed,
    Settings,
    SourceUnavailable,
    create_cases_table,
    load_cases,
    load_daily_volume,
    make_engine,
    refresh_rollup,
    rollup_engine,
    write_cases,
)
from loaders.checks import check_source
from loaders.volume import _run
from tests.conftest import SAMPLE_END, unavailable

APP = Path(__file__).resolve().parent.parent / "app.py"


class Proxy:
    """A TCP proxy in front of a server that can cut every connection (and refuse new ones) on demand."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.sockets.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture(scope="module")
def pg_loaded(postgres_url, sample_cases):
    settings = Settings(url=postgres_url, cases_table="fault_cases", rollup_table="fault_daily")
    engine = make_engine(postgres_url)
    recent = sample_cases[sample_cases["created_at"] >= pd.Timestamp(SAMPLE_END - timedelta(days=20))]
    create_cases_table(engine, settings, drop=True)
    write_cases(engine, recent, settings=settings)
    refresh_rollup(engine, settings, full=True)
    engine.dispose()
    return settings


def test_database_going_away_mid_session_gives_a_message_then_retry_works(pg_loaded):
    url = sa.make_url(pg_loaded.url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        via = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        settings = pg_loaded.with_url(via)
        engine = make_engine(via)
        window = Filters(SAMPLE_END - timedelta(days=3), SAMPLE_END)
        before = load_daily_volume(engine, settings=settings, filters=window)
        proxy.cut()
        with pytest.raises(SourceUnavailable, match="the database stopped answering while reading") as info:
            load_daily_volume(engine, settings=settings, filters=window)
        assert "Retry" in info.value.hint
        with pytest.raises(SourceUnavailable):
            load_cases(engine, settings=settings, filters=window)
        proxy.restore()
        pd.testing.assert_frame_equal(load_daily_volume(engine, settings=settings, filters=window), before)
        engine.dispose()
    except sa.exc.OperationalError as err:  # pragma: no cover - only when the server is absent
        unavailable("PostgreSQL", err)
    finally:
        proxy.close()


def test_a_slow_query_is_cancelled_by_the_statement_timeout(postgres_url):
    engine = make_engine(postgres_url, statement_timeout_s=0.3)
    with pytest.raises(QueryFailed, match="cancelled a slow query") as info:
        _run(engine, sa.select(sa.func.pg_sleep(3)))
    assert "statement_timeout_s" in info.value.hint
    assert _run(engine, sa.select(sa.literal(1).label("one")))["one"].tolist() == [1]  # the next query runs
    engine.dispose()


def test_a_locked_sqlite_file_gives_a_message_then_retry_works(tmp_path, sample_cases):
    path = tmp_path / "locked.sqlite"
    settings = Settings(url=f"sqlite:///{path}", statement_timeout_s=0.2)
    engine = make_engine(settings.url, statement_timeout_s=0.2)
    create_cases_table(engine, settings)
    write_cases(engine, sample_cases.head(2000), settings=settings)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(QueryFailed, match="locked by another writer") as info:
            refresh_rollup(engine, settings)
        assert "Retry" in info.value.hint
    finally:
        holder.rollback()
        holder.close()
    assert refresh_rollup(engine, settings).rows_written > 0
    engine.dispose()


def _fingerprint(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        out = {n: conn.execute(sa.select(sa.func.count()).select_from(sa.table(n))).scalar() for n in names}
    engine.dispose()
    return out


def test_read_only_mode_never_writes_to_the_source(db_url, loaded, tmp_path):
    engine, _canonical = loaded
    before = _fingerprint(db_url)
    local = Settings(url=db_url, rollup_mode="local", rollup_table="ro_daily",
                     local_cache_path=tmp_path / "cache.sqlite")
    target = rollup_engine(engine, local)
    refresh_rollup(engine, local, target=target, full=True)
    refresh_rollup(engine, local, target=target)
    window = Filters(SAMPLE_END - timedelta(days=7), SAMPLE_END)
    load_daily_volume(target, settings=local, filters=window)
    load_cases(engine, settings=local, filters=window, limit=10)
    check_source(engine, local)
    assert _fingerprint(db_url) == before


def test_pages_show_a_message_and_a_retry_when_the_database_is_gone(monkeypatch):
    monkeypatch.setenv("OPS_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "cannot connect" in at.error[0].value
    assert any(b.label == "Retry" for b in at.button)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert "cannot connect" in at.error[0].value
    assert any(b.label == "Retry" for b in at.button)
    assert any(m.label == "URL from" and m.value == "environment" for m in at.metric)

"""The roll-up never touches a table the app did not create, and a rebuild that fails at any point — an
exception, a terminated connection, a killed process, a full disk — leaves the previous roll-up and its state
exactly as they were. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from loaders import (
    ConfigError,
    OpsDataError,
    Settings,
    SourceUnavailable,
    create_cases_table,
    make_engine,
    refresh_rollup,
    rollup_state,
    write_cases,
)
from loaders.rollup import owned_table, rollup_table, state_table
from loaders.settings import settings_from_mapping

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def built(db_url: str, sample_cases: pd.DataFrame) -> tuple[sa.Engine, Settings]:
    """A cases table of its own (a slice of the sample) with its roll-up built once."""
    yield from _built(db_url, sample_cases)


@pytest.fixture(params=["postgres_url", "mariadb_url"], ids=["postgresql", "mariadb"])
def built_on_server(request: pytest.FixtureRequest, sample_cases: pd.DataFrame) -> tuple[sa.Engine, Settings]:
    yield from _built(request.getfixturevalue(request.param), sample_cases)


@pytest.fixture()
def built_on_sqlite(tmp_path: Path, sample_cases: pd.DataFrame) -> tuple[sa.Engine, Settings]:
    """A SQLite file of its own: no free pages left by other tests that a build could reuse."""
    yield from _built(f"sqlite:///{tmp_path / 'own.sqlite'}", sample_cases)


def _built(db_url: str, sample_cases: pd.DataFrame):
    tag = uuid.uuid4().hex[:6]
    settings = Settings(url=db_url, cases_table=f"safe_cases_{tag}", rollup_table=f"safe_daily_{tag}")
    engine = make_engine(db_url)
    create_cases_table(engine, settings)
    write_cases(engine, sample_cases.iloc[:6000], settings=settings)
    refresh_rollup(engine, settings, full=True)
    yield engine, settings
    engine.dispose()


def snapshot(engine: sa.Engine, settings: Settings) -> tuple[pd.DataFrame, tuple]:
    """The roll-up's rows (sorted) and its state row, read through a fresh engine (no stale pool)."""
    fresh = make_engine(settings.url)
    try:
        table = rollup_table(settings)
        with fresh.connect() as conn:
            rows = pd.DataFrame(conn.execute(sa.select(table)).mappings().all())
        state = rollup_state(fresh, settings)
    finally:
        fresh.dispose()
    rows["day"] = pd.to_datetime(rows["day"])
    rows = rows.sort_values(list(rows.columns[:5])).reset_index(drop=True)
    return rows, (state.refreshed_at, state.max_day, state.rows, state.kind)


def leftovers(engine: sa.Engine, settings: Settings) -> list[str]:
    """Tables a build made under a temporary name that are still there."""
    names = sa.inspect(make_engine(settings.url)).get_table_names(schema=settings.schema)
    return [n for n in names if n.startswith(f"{settings.rollup_table}__")]


def raise_at(step: str):
    def progress(message: str) -> None:
        if message.startswith(step):
            raise RuntimeError(f"injected fault at: {message}")
    return progress


def test_a_configured_roll_up_name_that_is_the_cases_table_is_refused_with_its_line():
    with pytest.raises(ConfigError, match=r"`rollup.table` 'cases' is your cases table") as info:
        settings_from_mapping({"rollup": {"table": "cases"}}, url="sqlite://", url_source="test")
    assert info.value.key == "rollup.table"
    with pytest.raises(ConfigError, match="keeps beside the roll-up"):
        settings_from_mapping({"rollup": {"table": "ops_rollup_state"}}, url="sqlite://", url_source="test")


@pytest.mark.parametrize("full", [False, True], ids=["refresh", "rebuild"])
def test_a_roll_up_name_that_collides_with_a_foreign_table_is_refused_and_the_table_kept(built, full):
    engine, settings = built
    foreign = replace_rollup(settings, f"{settings.cases_table}")  # any existing table of the user's
    before = count(engine, settings.cases_table)
    with pytest.raises(ConfigError, match="was not created by the dashboard; the dashboard never drops"):
        refresh_rollup(engine, foreign, full=full)
    assert count(engine, settings.cases_table) == before == 6000


def test_a_foreign_state_table_is_never_changed(db_url, sample_cases):
    tag = uuid.uuid4().hex[:6]
    schema = f"own_{tag}"
    engine = make_engine(db_url)
    if engine.dialect.name == "sqlite":
        path = Path(sa.make_url(db_url).database).with_name(f"{schema}.sqlite")
        url = f"sqlite:///{path}"
    else:
        url = db_url
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}" if engine.dialect.name == "postgresql"
                                 else f"CREATE DATABASE {schema}")
    settings = Settings(url=url, schema=None if engine.dialect.name == "sqlite" else schema)
    target = make_engine(url)
    try:
        create_cases_table(target, settings)
        write_cases(target, sample_cases.iloc[:500], settings=settings)
        with target.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {qualified(settings, 'ops_rollup_state')} (note VARCHAR(20))"))
            conn.execute(sa.text(f"INSERT INTO {qualified(settings, 'ops_rollup_state')} VALUES ('mine')"))
        with pytest.raises(ConfigError, match="already has a table `ops_rollup_state` that the dashboard did not"):
            refresh_rollup(target, settings)
        with target.connect() as conn:
            assert conn.execute(sa.text(f"SELECT note FROM {qualified(settings, 'ops_rollup_state')}")).all() \
                == [("mine",)]
        assert not sa.inspect(target).has_table("ops_daily_volume", schema=settings.schema)
    finally:
        target.dispose()
        if engine.dialect.name != "sqlite":
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE" if engine.dialect.name == "postgresql"
                                     else f"DROP DATABASE {schema}")
        engine.dispose()


def test_a_roll_up_built_before_the_registry_is_adopted(built):
    engine, settings = built
    owned = owned_table(settings)
    with engine.begin() as conn:
        conn.execute(owned.delete().where(owned.c.table_name == settings.rollup_table))
    assert refresh_rollup(engine, settings).kind == "incremental"
    with engine.connect() as conn:
        assert conn.execute(sa.select(owned.c.purpose).where(owned.c.table_name == settings.rollup_table)
                            ).scalar() == "rollup"


@pytest.mark.parametrize("step", ["building the new roll-up", "swapping in the new roll-up"])
def test_a_rebuild_that_raises_midway_leaves_the_previous_roll_up_and_state(built, step):
    engine, settings = built
    before = snapshot(engine, settings)
    with pytest.raises(RuntimeError, match="injected fault"):
        refresh_rollup(engine, settings, full=True, progress=raise_at(step))
    after = snapshot(engine, settings)
    pd.testing.assert_frame_equal(after[0], before[0])
    assert after[1] == before[1]
    assert leftovers(engine, settings) == []
    assert refresh_rollup(engine, settings, full=True).kind == "full"  # and the next one works


def test_an_incremental_refresh_that_raises_midway_changes_nothing(built):
    engine, settings = built
    before = snapshot(engine, settings)
    with pytest.raises(RuntimeError, match="injected fault"):
        refresh_rollup(engine, settings, progress=raise_at("replacing the days"))
    after = snapshot(engine, settings)
    pd.testing.assert_frame_equal(after[0], before[0])
    assert after[1] == before[1]


def _terminate_others(url: str) -> None:
    """Cut every other connection to this database from the server side (as an admin or a restart would)."""
    admin = make_engine(url)
    try:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            else:
                ids = conn.exec_driver_sql("SELECT id FROM information_schema.processlist "
                                           "WHERE db = DATABASE() AND id <> CONNECTION_ID()").scalars().all()
                for pid in ids:
                    conn.exec_driver_sql(f"KILL {int(pid)}")
    finally:
        admin.dispose()


@pytest.mark.parametrize("step", ["building the new roll-up", "swapping in the new roll-up"])
def test_a_rebuild_whose_connection_is_terminated_leaves_a_whole_roll_up(built_on_server, step):
    engine, settings = built_on_server
    before = snapshot(engine, settings)

    def cut(message: str) -> None:
        if message.startswith(step):
            _terminate_others(settings.url)

    try:
        refresh_rollup(engine, settings, full=True, progress=cut)
        failed = None
    except OpsDataError as err:
        failed = err
    after = snapshot(engine, settings)
    # the cases did not change, so the previous roll-up and a completed rebuild hold the same rows
    pd.testing.assert_frame_equal(after[0], before[0])
    if failed is not None:
        assert isinstance(failed, SourceUnavailable) and "SELECT" not in str(failed)
        assert after[1] == before[1]  # a failure leaves the state row as it was
    else:  # MariaDB commits each step: a cut between steps is survived on a new connection
        assert engine.dialect.name != "postgresql" and after[1][2] == before[1][2] and after[1][3] == "full"
    if engine.dialect.name == "postgresql":
        assert failed is not None  # one transaction: cutting its connection must abort it
    assert refresh_rollup(engine, settings, full=True).kind == "full"
    assert leftovers(engine, settings) == []


@pytest.mark.parametrize("step", ["building the new roll-up", "swapping in the new roll-up"])
def test_a_rebuild_whose_process_is_killed_leaves_the_previous_roll_up(built, step):
    engine, settings = built
    before = snapshot(engine, settings)
    script = textwrap.dedent(f"""
        import os, signal
        from loaders import Settings, make_engine, refresh_rollup
        settings = Settings(url={settings.url!r}, cases_table={settings.cases_table!r},
                            rollup_table={settings.rollup_table!r})
        def die(message):
            if message.startswith({step!r}):
                os.kill(os.getpid(), signal.SIGKILL)
        refresh_rollup(make_engine(settings.url), settings, full=True, progress=die)
        raise SystemExit("the fault was not reached")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == -9, done.stderr
    after = snapshot(engine, settings)
    pd.testing.assert_frame_equal(after[0], before[0])
    assert after[1] == before[1]
    refresh_rollup(engine, settings, full=True)  # cleans whatever the killed build left
    assert leftovers(engine, settings) == []


def test_a_rebuild_that_fills_the_disk_leaves_the_previous_roll_up(built_on_sqlite):
    """Simulated with SQLite's max_page_count (the database servers here are shared: no disk is filled)."""
    engine, settings = built_on_sqlite
    before = snapshot(engine, settings)
    full_disk = make_engine(settings.url)

    @sa.event.listens_for(full_disk, "connect")
    def _cap(dbapi_connection, _record) -> None:
        assert dbapi_connection.execute("PRAGMA freelist_count").fetchone()[0] == 0  # nothing to reuse
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    full_disk.dispose()  # drop the connection opened before the cap
    with pytest.raises(OpsDataError, match="full"):
        refresh_rollup(full_disk, settings, full=True)
    full_disk.dispose()
    after = snapshot(engine, settings)
    pd.testing.assert_frame_equal(after[0], before[0])
    assert after[1] == before[1]


def test_tables_the_app_creates_are_registered_as_its_own(built):
    engine, settings = built
    with engine.connect() as conn:
        owned = owned_table(settings)
        rows = dict(conn.execute(sa.select(owned.c.table_name, owned.c.purpose)).all())
    assert rows[settings.rollup_table] == "rollup"
    assert all(purpose == "rollup" for purpose in rows.values())  # nothing half-built left registered
    assert sa.inspect(engine).has_table(state_table(settings).name)


# --- helpers ----------------------------------------------------------------------------------------

def replace_rollup(settings: Settings, name: str) -> Settings:
    from dataclasses import replace

    return replace(settings, rollup_table=name)


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar()


def qualified(settings: Settings, name: str) -> str:
    return f"{settings.schema}.{name}" if settings.schema else name


def test_a_changed_mapping_rebuilds_everything_instead_of_mixing_old_and_new_rows(built):
    engine, settings = built
    assert refresh_rollup(engine, settings).kind == "incremental"  # same mapping: the recent days only
    renamed = replace_rollup(settings, settings.rollup_table)
    from dataclasses import replace

    renamed = replace(renamed, value_maps={"workflow": {"dmca": ("copyright",)}})
    result = refresh_rollup(engine, renamed)
    assert result.kind == "full"
    with engine.connect() as conn:
        names = set(conn.execute(sa.select(rollup_table(renamed).c.workflow).distinct()).scalars())
    assert "dmca" in names and "copyright" not in names  # every day, not only the last few


def test_a_state_table_of_an_earlier_version_is_adopted_and_the_next_refresh_rebuilds(built):
    engine, settings = built
    st = state_table(settings)
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {conn.dialect.identifier_preparer.format_table(st)} DROP COLUMN mapping"))
    result = refresh_rollup(engine, settings)
    assert result.kind == "full"  # its rows' mapping is unknown
    assert "mapping" in {c["name"] for c in sa.inspect(engine).get_columns(st.name)}
    assert refresh_rollup(engine, settings).kind == "incremental"


def test_a_refresh_that_brings_nothing_new_keeps_the_rows_version_and_one_that_does_not_changes_it(
        built, sample_cases):
    engine, settings = built
    after_build = rollup_state(engine, settings).content
    assert after_build  # a full build gives the rows a version
    refresh_rollup(engine, settings)
    same = rollup_state(engine, settings)
    refresh_rollup(engine, settings)
    again = rollup_state(engine, settings)
    assert same.kind == again.kind == "incremental"
    assert again.content == same.content  # the same rows rewritten: whatever was computed from them holds
    write_cases(engine, sample_cases.iloc[6000:6200], settings=settings)  # the next cases arrive
    refresh_rollup(engine, settings)
    newer = rollup_state(engine, settings)
    assert newer.rows > again.rows and newer.content != again.content
    # the state's row count is kept from the refresh's own counts, not counted again: it must stay exact
    assert newer.rows == count(engine, settings.rollup_table) and again.rows == same.rows
    refresh_rollup(engine, settings, full=True)
    assert rollup_state(engine, settings).content not in (newer.content, None)  # a rebuild is always new


def test_a_state_table_without_the_rows_version_gets_one_on_the_next_refresh(built):
    engine, settings = built
    st = state_table(settings)
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {conn.dialect.identifier_preparer.format_table(st)} DROP COLUMN content"))
    assert rollup_state(engine, settings).content is None
    assert refresh_rollup(engine, settings).kind == "incremental"  # its mapping is known: no rebuild
    first = rollup_state(engine, settings).content
    assert first and "content" in {c["name"] for c in sa.inspect(engine).get_columns(st.name)}
    refresh_rollup(engine, settings)
    assert rollup_state(engine, settings).content == first

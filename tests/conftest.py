"""Shared fixtures: a small seeded sample, written for real into SQLite, PostgreSQL and MariaDB.

PostgreSQL and MariaDB tests create their own uniquely named database and drop only that. When a server
is unreachable the tests skip — except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from loaders import Settings, create_cases_table, make_engine, refresh_rollup, write_cases
from sample_data import SampleConfig, generate_cases

PG_ADMIN_URL = os.environ.get("OPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN_URL = os.environ.get("OPS_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
SAMPLE_END = date(2026, 6, 30)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def visible(markdown: str) -> str:
    """What a reader sees of markdown the app escaped (``ui.text.md``): the text without its backslashes and
    zero-width spaces."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def unavailable(what: str, err: Exception) -> None:
    """Skip locally, fail in CI: a missing service must never pass silently there."""
    message = f"{what} is unreachable: {err}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test keeps what users create (decks, views) in an app database of its own, never the checkout's, and
    the pages' stored results in a page cache of its own."""
    url = f"sqlite:///{tmp_path / 'app_db.sqlite'}"
    monkeypatch.setenv("OPS_APP_DB_URL", url)
    monkeypatch.setenv("OPS_CACHE_DIR", str(tmp_path / "page_cache"))
    return url


def stored_deck(at) -> list:
    """The charts of the deck an AppTest session collects into, read back from the app database."""
    from charts.deck_items import DeckItem
    from store import AppStore

    deck_id = at.session_state["current_deck_id"] if "current_deck_id" in at.session_state else None  # noqa: SIM401 (no .get on AppTest state)
    if deck_id is None:
        return []
    store = AppStore(os.environ["OPS_APP_DB_URL"])
    try:
        return [DeckItem.from_record(r) for r in store.items(deck_id)]
    finally:
        store.dispose()


@pytest.fixture(scope="session")
def chart_browser() -> None:
    """Chart images need Chrome/Chromium (through Kaleido): skip locally without one, fail in CI."""
    from charts import browser_status

    ok, message = browser_status()
    if not ok:
        unavailable("a browser to render chart images", RuntimeError(message))


@pytest.fixture(scope="session")
def small_config() -> SampleConfig:
    return SampleConfig.small(seed=7, end=SAMPLE_END)


@pytest.fixture(scope="session")
def sample_cases(small_config: SampleConfig) -> pd.DataFrame:
    """Every case of the small sample, as the generator made them (the reference for hand computations)."""
    return pd.concat(list(generate_cases(small_config)), ignore_index=True)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'ops.sqlite'}"


def _server_database(admin_url: str, kind: str) -> Iterator[str]:
    name = f"ops_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT",
                                 connect_args={"connect_timeout": 5})
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as err:
        unavailable(kind, err)
    url = sa.make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if kind == "PostgreSQL":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield from _server_database(PG_ADMIN_URL, "PostgreSQL")


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    yield from _server_database(MARIADB_ADMIN_URL, "MariaDB")


@pytest.fixture(scope="session", params=["sqlite", "postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind (one per session and kind)."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url",
                                    "mariadb": "mariadb_url"}[request.param])


@pytest.fixture(scope="session")
def loaded(db_url: str, sample_cases: pd.DataFrame) -> tuple[sa.Engine, Settings]:
    """The small sample written into the database, roll-up built."""
    settings = Settings(url=db_url)
    engine = make_engine(db_url)
    create_cases_table(engine, settings, drop=True)
    write_cases(engine, sample_cases, settings=settings)
    refresh_rollup(engine, settings, full=True)
    return engine, settings


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory, small_config: SampleConfig) -> Path:
    """A small sample SQLite file built the way the app builds its own (for page tests)."""
    from sample_data.build import build_sample

    path = tmp_path_factory.mktemp("app") / "ops_sample.sqlite"
    build_sample(path, config=small_config)
    return path


ADMIN, PARTNER, ANALYST = "ops-lead@example.com", "lead@vendor-manila.example", "analyst@example.com"
ROLES_CONFIG = f"""
[auth]
mode = "header"
[roles]
admins = ["{ADMIN}"]
analysts = ["*@example.com"]
[roles.partners."{PARTNER}"]
vendor_site = ["Manila"]
"""


@pytest.fixture()
def signed_in(sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``open(page, as_=email, **params)`` runs a page for that user (``None``: nobody signed in)."""
    config = tmp_path / "ops.toml"
    config.write_text(ROLES_CONFIG)
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.setenv("OPS_CONFIG", str(config))
    who: dict[str, str | None] = {"email": None}
    monkeypatch.setattr("ui.auth._identity", lambda settings: (who["email"], ""))

    from streamlit.testing.v1 import AppTest

    def open_page(script: str, *, as_: str | None, **params) -> AppTest:
        who["email"] = as_
        at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
        at.query_params.update(params)
        if script != "app.py":
            at.switch_page(script)
        at.run()
        assert not at.exception, at.exception
        return at

    return open_page

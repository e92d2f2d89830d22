"""The app's own database on SQLite, PostgreSQL and MariaDB: migrations on open, decks and views that last,
concurrent writers that lose nothing, and clear messages for a wrong URL."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import plotly.graph_objects as go
import pytest
import sqlalchemy as sa

from charts import ChartMeta
from charts.deck import DeckItem
from loaders.settings import ConfigError, load_settings, settings_from_mapping
from store import AppStore, StoreError
from tests.conftest import MARIADB_ADMIN_URL, PG_ADMIN_URL, _server_database

pytestmark = pytest.mark.xdist_group("servers")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppStore]:
    """A store on a database of its own (created for the test, dropped after)."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'app.sqlite'}"])
    else:
        urls = _server_database(PG_ADMIN_URL if request.param == "postgresql" else MARIADB_ADMIN_URL,
                                "PostgreSQL" if request.param == "postgresql" else "MariaDB")
    url = next(urls)
    opened = AppStore(url)
    try:
        yield opened
    finally:
        opened.dispose()
        for _ in urls:  # runs the generator's cleanup (drops the database)
            pass


def item(title: str, y: list[float]) -> DeckItem:
    fig = go.Figure(go.Scatter(x=["2026-11-30", "2026-12-01", "2026-12-02"], y=y, name="Incoming"))
    meta = ChartMeta(title, subtitle="30 Nov 2026 – 02 Dec 2026 · Vendor site: Manila", unit="cases",
                     source="ops_daily_volume (daily roll-up)", as_of=dt.date(2026, 12, 2))
    return DeckItem.from_figure(fig, meta, kpi_names=["incoming"])


def test_migrations_run_on_open_create_only_the_apps_tables_and_are_idempotent(store: AppStore) -> None:
    assert store.revision() == AppStore.head() != ""
    tables = set(sa.inspect(store.engine).get_table_names())
    assert tables == {"ops_app_decks", "ops_app_deck_items", "ops_app_views", "ops_app_version"}
    again = AppStore(store.url.render_as_string(hide_password=False))  # a restart: nothing to do, nothing lost
    deck = store.create_deck("Kept")
    assert again.revision() == AppStore.head() and again.deck(deck).title == "Kept"
    again.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_queries(store: AppStore) -> None:
    """``store/schema.py`` (what the code reads and writes) and the migrations (what creates the tables) agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from store.schema import VERSION_TABLE, metadata

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        diffs = compare_metadata(context, metadata)
    assert diffs == []


def test_a_deck_keeps_its_charts_in_order_exactly_as_collected(store: AppStore) -> None:
    deck = store.create_deck("Weekly review", "Identity Operations · 30 Nov 2026 – 02 Dec 2026")
    first, second = item("Incoming by day", [410.0, 395.0, 640.0]), item("Manila incoming", [50.0, 48.0, 91.0])
    assert store.add_item(deck, first.to_record()) == 1
    assert store.add_item(deck, second.to_record()) == 2
    back = [DeckItem.from_record(r) for r in store.items(deck)]
    assert back == [first, second]  # figure, meta (with its date), KPIs, takeaway, key numbers, id
    assert list(back[0].figure().to_dict()["data"][0]["y"]) == [410.0, 395.0, 640.0]
    listed = store.decks()
    assert [(d.id, d.title, d.charts) for d in listed] == [(deck, "Weekly review", 2)]
    store.replace_items(deck, [second.edited(takeaway="Manila doubled").to_record(), first.to_record()],
                        expected=[first.item_id, second.item_id])
    assert [DeckItem.from_record(r).takeaway for r in store.items(deck)] == ["Manila doubled", first.takeaway]
    store.update_deck(deck, title="Renamed")
    assert store.deck(deck).title == "Renamed"
    store.delete_deck(deck)
    assert store.deck(deck) is None and store.items(deck) == []
    with pytest.raises(StoreError, match="no longer exists"):
        store.add_item(deck, first.to_record())


def test_an_edit_started_before_another_tab_added_a_chart_keeps_that_chart(store: AppStore) -> None:
    deck = store.create_deck()
    a, b, c = (item(t, [1.0, 2.0, 3.0]) for t in ("A", "B", "C"))
    store.add_item(deck, a.to_record())
    store.add_item(deck, b.to_record())
    seen = [a, b]                                # tab 1 opened the deck …
    store.add_item(deck, c.to_record())          # … tab 2 added a chart …
    store.replace_items(deck, [b.to_record()], expected=[x.item_id for x in seen])  # … tab 1 removed A
    assert [r["meta"]["title"] for r in store.items(deck)] == ["B", "C"]


def test_concurrent_writers_lose_nothing(store: AppStore) -> None:
    deck = store.create_deck()
    url = store.url.render_as_string(hide_password=False)
    writers = [AppStore(url, migrate=False) for _ in range(2)]
    errors: list[BaseException] = []

    def add(writer: AppStore, tag: str) -> None:
        try:
            for k in range(8):
                writer.add_item(deck, item(f"{tag}{k}", [1.0, 2.0, float(k)]).to_record())
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=add, args=(w, tag)) for w, tag in zip(writers, "xy", strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for w in writers:
        w.dispose()
    assert errors == []
    titles = [r["meta"]["title"] for r in store.items(deck)]
    assert sorted(titles) == sorted([f"x{k}" for k in range(8)] + [f"y{k}" for k in range(8)])
    with store.engine.connect() as conn:
        positions = conn.execute(sa.text("SELECT position FROM ops_app_deck_items WHERE deck_id = :d"),
                                 {"d": deck}).scalars().all()
    assert len(set(positions)) == 16  # every chart has its own place in the deck


def test_saved_views_are_named_once_replaced_on_request_and_deleted(store: AppStore) -> None:
    params = {"f.vendor_site": ["Manila", "Krakow"], "day": "2026-11-27"}
    first = store.save_view("Manila and Krakow, Friday", "app.py", params)
    (view,) = store.views()
    assert (view.id, view.name, view.page, view.params) == (first, "Manila and Krakow, Friday", "app.py", params)
    with pytest.raises(StoreError, match="exists already"):
        store.save_view("Manila and Krakow, Friday", "pages/trends.py", {})
    store.save_view("Manila and Krakow, Friday", "pages/trends.py", {"split": "workflow"}, replace=True)
    (view,) = store.views()
    assert (view.page, view.params) == ("pages/trends.py", {"split": "workflow"})
    with pytest.raises(StoreError, match="empty"):
        store.save_view("   ", "app.py", {})
    store.delete_view(view.id)
    assert store.views() == []


def test_a_wrong_app_database_url_is_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        AppStore("not a url")
    with pytest.raises(StoreError, match=r"cannot be reached or written .*OPS_APP_DB_URL") as info:
        AppStore("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert "SELECT" not in str(info.value) and "CREATE" not in str(info.value)


def test_the_app_database_is_never_the_source_and_the_environment_wins(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    with pytest.raises(ConfigError, match="is the source database"):
        settings_from_mapping({"app_db": {"url": f"sqlite:///{tmp_path}/./cases.sqlite"}}, url=source,
                              url_source="test")
    config = tmp_path / "ops.toml"
    config.write_text('[app_db]\nurl = "sqlite:///from-file.sqlite"\n')
    from_file = load_settings(environ={"OPS_CONFIG": str(config)})
    assert from_file.app_db_url == "sqlite:///from-file.sqlite"
    env = load_settings(environ={"OPS_CONFIG": str(config), "OPS_APP_DB_URL": "sqlite:///env.sqlite"})
    assert env.app_db_url == "sqlite:///env.sqlite"
    default = settings_from_mapping({}, url=source, url_source="test")
    assert default.app_db_url.endswith("/.cache/app.sqlite")


def test_a_database_failure_mid_session_is_a_store_error_without_sql(tmp_path: Path) -> None:
    opened = AppStore(f"sqlite:///{tmp_path / 'app.sqlite'}")
    with opened.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE ops_app_views")  # the table vanished under a running app
    with pytest.raises(StoreError, match="cannot be reached or written") as info:
        opened.views()
    assert "SELECT" not in str(info.value) and "[SQL" not in str(info.value)
    opened.dispose()


@pytest.mark.parametrize(("app", "source"), [
    ("postgresql+psycopg://ops@db.internal/ops", "postgresql://ops@db.internal:5432/ops"),
    ("mariadb+pymysql://root@localhost/ops", "mysql+pymysql://root@127.0.0.1:3306/ops"),
    ("postgresql://ops@DB.internal/ops", "postgresql://ops@db.internal/ops"),
])
def test_the_source_is_recognised_under_another_spelling_of_its_url(app: str, source: str) -> None:
    with pytest.raises(ConfigError, match="is the source database"):
        settings_from_mapping({"app_db": {"url": app}}, url=source, url_source="test")
    other = settings_from_mapping({"app_db": {"url": app.replace("/ops", "/ops_app")}}, url=source, url_source="t")
    assert other.app_db_url.endswith("/ops_app")


def test_edits_of_different_slides_from_two_tabs_both_stay(store: AppStore) -> None:
    deck = store.create_deck()
    a, b, c = (item(t, [1.0, 2.0, 3.0]) for t in ("A", "B", "C"))
    for it in (a, b, c):
        store.add_item(deck, it.to_record())
    store.update_item(deck, a.edited(takeaway="tab 1 retitled A").to_record())   # tab 1
    store.update_item(deck, c.edited(takeaway="tab 2 retitled C").to_record())   # tab 2, from its older copy
    store.move_item(deck, c.item_id, -2)
    store.remove_item(deck, b.item_id)
    back = [DeckItem.from_record(r) for r in store.items(deck)]
    assert [(x.meta.title, x.takeaway) for x in back] == [("C", "tab 2 retitled C"), ("A", "tab 1 retitled A")]
    with pytest.raises(StoreError, match="removed from the deck meanwhile"):
        store.update_item(deck, b.to_record())

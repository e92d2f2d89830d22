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
from charts.deck_items import DeckItem
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


def together(*calls) -> list[object]:
    """Run the calls at once, one thread each; returns what each returned or raised, in order."""
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as err:
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def writers(store: AppStore, n: int) -> list[AppStore]:
    """``n`` more stores on the same database: other processes of the app."""
    url = store.url.render_as_string(hide_password=False)
    return [AppStore(url, migrate=False) for _ in range(n)]


def item(title: str, y: list[float]) -> DeckItem:
    fig = go.Figure(go.Scatter(x=["2026-11-30", "2026-12-01", "2026-12-02"], y=y, name="Incoming"))
    meta = ChartMeta(title, subtitle="30 Nov 2026 – 02 Dec 2026 · Vendor site: Manila", unit="cases",
                     source="ops_daily_volume (daily roll-up)", as_of=dt.date(2026, 12, 2))
    return DeckItem.from_figure(fig, meta, kpi_names=["incoming"])


def test_migrations_run_on_open_create_only_the_apps_tables_and_are_idempotent(store: AppStore) -> None:
    assert store.revision() == AppStore.head() != ""
    tables = set(sa.inspect(store.engine).get_table_names())
    assert tables == {"ops_app_decks", "ops_app_deck_items", "ops_app_views", "ops_app_notes", "ops_app_audit",
                      "ops_app_subscriptions", "ops_app_sends", "ops_app_send_claims",
                      "ops_app_version"}
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
    tabs = writers(store, 2)

    def add(writer: AppStore, tag: str) -> None:
        for k in range(8):
            writer.add_item(deck, item(f"{tag}{k}", [1.0, 2.0, float(k)]).to_record())

    results = together(lambda: add(tabs[0], "x"), lambda: add(tabs[1], "y"))
    for w in tabs:
        w.dispose()
    assert results == [None, None]
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


DAY = dt.date(2026, 10, 21)
MANILA = (("vendor_site", "Manila"),)


def test_an_upgrade_from_the_first_schema_keeps_every_deck(tmp_path: Path) -> None:
    """A database made by the first version (decks, no owners) is migrated on open, its decks kept."""
    from alembic import command

    from store import _alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = AppStore(url, migrate=False)
    with old._writer.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        conn.execute(sa.text("INSERT INTO ops_app_decks (id, title, subtitle, created_at, updated_at) "
                             "VALUES ('old1', 'Kept', '', '2026-11-01 09:00:00', '2026-11-01 09:00:00')"))
    assert old.revision() == "0001"
    old.dispose()
    new = AppStore(url)
    assert new.revision() == AppStore.head() and [(d.id, d.title, d.owner, d.scope) for d in new.decks()] == [
        ("old1", "Kept", None, None)]
    new.dispose()


def test_notes_are_written_read_back_and_validated(store: AppStore) -> None:
    first = store.add_note(day=DAY, slice=MANILA, kpi="incoming", text="known: routing change",
                           link="https://tickets.example/OPS-1", author="ana@example.com")
    store.add_note(day=DAY, slice=(), status="false_alarm", author="bo@example.com", event=True)
    store.add_note(day=DAY + dt.timedelta(days=3), slice=MANILA, text="later", author="ana@example.com")
    listed = store.notes(DAY, DAY)
    assert [(n.status, n.slice, n.author) for n in listed] == [("false_alarm", (), "bo@example.com"),
                                                               ("note", MANILA, "ana@example.com")]
    note = next(n for n in listed if n.id == first)
    assert (note.kpi, note.text, note.link, note.version, note.event) == (
        "incoming", "known: routing change", "https://tickets.example/OPS-1", 1, False)
    assert [n.status for n in store.notes(DAY, DAY + dt.timedelta(days=5), events_only=True)] == ["false_alarm"]
    for bad in ({"text": ""}, {"text": "x", "link": "javascript:alert(1)"}, {"text": "x", "status": "ignored"},
                {"text": "x" * 2001}):
        with pytest.raises(StoreError):
            store.add_note(day=DAY, slice=MANILA, author="ana@example.com", **bad)


def test_two_analysts_writing_notes_at_once_lose_nothing(store: AppStore) -> None:
    analysts = writers(store, 2)

    def write(writer: AppStore, who: str) -> None:
        for k in range(10):
            writer.add_note(day=DAY, slice=MANILA, text=f"{who} {k}", author=who)

    assert together(lambda: write(analysts[0], "ana"), lambda: write(analysts[1], "bo")) == [None, None]
    assert sorted(n.text for n in store.notes(DAY, DAY)) == sorted(f"{w} {k}" for w in ("ana", "bo")
                                                                   for k in range(10))
    # the same note edited by both from the version they read: one edit lands, the other is refused and told
    # what the note now says, never written over it
    note = store.add_note(day=DAY, slice=(), text="first draft", author="ana")
    results = together(*(lambda w=w, t=t: w.update_note(note, version=1, author=t, text=t)
                         for w, t in zip(analysts, ("ana's edit", "bo's edit"), strict=True)))
    for w in analysts:
        w.dispose()
    assert sorted(type(r).__name__ for r in results) == ["StoreError", "int"]
    refused = next(r for r in results if isinstance(r, StoreError))
    saved = next(n for n in store.notes(DAY, DAY) if n.id == note)
    assert saved.version == 2 and saved.text in ("ana's edit", "bo's edit") and saved.text in str(refused)
    with pytest.raises(StoreError):
        store.delete_note(note, version=1)  # a stale delete does not remove the newer text either
    store.delete_note(note, version=2)
    assert note not in {n.id for n in store.notes(DAY, DAY)}


def test_the_audit_log_keeps_who_exported_what(store: AppStore) -> None:
    store.log("ana@example.com", "export_csv", {"chart": "Incoming by day", "filters": "Vendor site: Manila"})
    store.log("lead@vendor-manila.example", "deck_pptx", {"deck": "abc", "slides": 4})
    entries = store.audit_log()
    assert [(e.user, e.action) for e in entries] == [("lead@vendor-manila.example", "deck_pptx"),
                                                     ("ana@example.com", "export_csv")]
    assert entries[1].what["filters"] == "Vendor site: Manila"


def test_decks_and_views_remember_who_made_them_under_which_scope(store: AppStore) -> None:
    deck = store.create_deck("Manila weekly", owner="lead@vendor-manila.example",
                             scope={"vendor_site": ["Manila"]})
    old = store.create_deck("Before sign-in")
    found = {d.id: d for d in store.decks()}
    assert (found[deck].owner, found[deck].scope) == ("lead@vendor-manila.example", {"vendor_site": ["Manila"]})
    assert (found[old].owner, found[old].scope) == (None, None)
    store.save_view("Everything", "app.py", {}, owner="ana@example.com", scope={})
    with pytest.raises(StoreError) as err:  # a partner cannot replace a view it may not see
        store.save_view("Everything", "app.py", {"f.vendor_site": "Manila"}, replace=True,
                        owner="lead@vendor-manila.example",
                        may_replace=lambda v: v.owner == "lead@vendor-manila.example")
    assert "replace" not in str(err.value)
    assert store.views()[0].params == {} and store.views()[0].owner == "ana@example.com"


def test_an_unreachable_server_is_not_waited_for_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = AppStore("postgresql+psycopg://nobody@127.0.0.1:1/none", migrate=False)
    with pytest.raises(StoreError, match="cannot be reached"):
        gone.notes(DAY, DAY)
    tried = []
    monkeypatch.setattr(gone.engine, "connect", lambda *a, **k: tried.append(1) or (_ for _ in ()).throw(OSError))
    with pytest.raises(StoreError, match="cannot be reached"):
        gone.notes_version()  # failed at once, from the last failure: no new connection attempt
    assert tried == []
    monkeypatch.setattr("store.time.monotonic", lambda: float("inf"))  # after the retry delay it is tried again
    with pytest.raises(OSError):
        gone.notes_version()
    assert tried == [1]
    gone.dispose()


def test_only_one_of_two_overlapping_runs_may_send_a_digest(store: AppStore) -> None:
    runs = writers(store, 4)
    barrier = threading.Barrier(len(runs))

    def claim(run: AppStore) -> bool:
        barrier.wait()
        return run.claim_send("daily", DAY, "subscription 1", "email")

    won = together(*(lambda r=r: claim(r) for r in runs))
    for r in runs:
        r.dispose()
    assert sorted(won) == [False, False, False, True]
    assert not store.claim_send("daily", DAY, "subscription 1", "email")           # sent: a rerun sends nothing
    assert store.claim_send("daily", DAY, "subscription 1", "email", force=True)   # unless forced
    store.release_send("daily", DAY, "subscription 1", "email")                     # a failed send gives it back
    assert store.claim_send("daily", DAY, "subscription 1", "email")
    assert store.claim_send("weekly", DAY, "subscription 1", "email")               # another digest, another claim

"""The Deck page: collected charts listed in order, reordered, removed, retitled by their takeaway, and built
into a .pptx that reopens with the right slides, titles, pictures and notes; an empty deck explains itself."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches
from streamlit.testing.v1 import AppTest

from charts import ChartMeta
from charts.deck_items import DeckItem
from metrics.kpis import get_kpi
from store import AppStore
from tests.conftest import stored_deck, visible

APP = Path(__file__).resolve().parent.parent / "app.py"


def items() -> list[DeckItem]:
    days = pd.date_range("2026-06-01", periods=30, freq="D")
    incoming = go.Figure(go.Scatter(x=days, y=[400 + 3 * i for i in range(30)], name="Incoming"))
    aht = go.Figure(go.Bar(x=["Manila", "Lisbon", "Krakow"], y=[4.1, 5.0, 12.5], name="AHT"))
    meta = {"source": "ops_daily_volume (daily roll-up)", "as_of": dt.date(2026, 6, 30),
            "subtitle": "01 Jun 2026 – 30 Jun 2026 · all workflows"}
    return [
        DeckItem.from_figure(incoming, ChartMeta("Incoming by day", unit="cases", **meta), kpi_names=["incoming"]),
        DeckItem.from_figure(aht, ChartMeta("AHT by vendor site", unit="minutes", **meta), kpi_names=["aht"]),
    ]


@pytest.fixture()
def page(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    # Pages run inside the app (pages-directory mode): start at app.py, open the Deck page straight away.
    return AppTest.from_file(str(APP), default_timeout=90).switch_page("pages/deck.py")


@pytest.fixture()
def collected(page: AppTest, app_db: str) -> AppTest:
    store = AppStore(app_db)
    deck_id = store.create_deck()
    for item in items():
        store.add_item(deck_id, item.to_record())
    store.dispose()
    page.query_params["deck"] = deck_id  # the deck's link
    return page.run()


def titles(at: AppTest) -> list[str]:
    return [it.meta.title for it in stored_deck(at)]


def open_built(at: AppTest) -> Presentation:
    return Presentation(io.BytesIO(at.session_state["deck_pptx"][1]))


def test_an_empty_deck_explains_how_to_add_charts(page: AppTest) -> None:
    at = page.run()
    assert not at.exception
    assert "Add to deck" in at.info[0].value
    assert not at.get("download_button") and not [b for b in at.button if b.key == "deck_build"]


def test_collected_charts_are_listed_in_order_with_their_takeaways(collected: AppTest) -> None:
    at = collected
    assert not at.exception
    first, second = stored_deck(at)
    assert at.text_input(key=f"deck_takeaway_{first.item_id}").value == first.takeaway
    assert at.text_input(key=f"deck_takeaway_{second.item_id}").value == second.takeaway
    assert at.button(key=f"deck_up_{first.item_id}").disabled
    assert at.button(key=f"deck_down_{second.item_id}").disabled


def test_moving_a_chart_down_and_removing_one(collected: AppTest) -> None:
    at = collected
    first, second = stored_deck(at)
    at.button(key=f"deck_down_{first.item_id}").click().run()
    assert not at.exception
    assert titles(at) == ["AHT by vendor site", "Incoming by day"]
    at.button(key=f"deck_up_{first.item_id}").click().run()
    assert titles(at) == ["Incoming by day", "AHT by vendor site"]
    at.button(key=f"deck_remove_{second.item_id}").click().run()
    assert titles(at) == ["Incoming by day"]


def test_editing_a_takeaway_changes_that_slide_only(collected: AppTest) -> None:
    at = collected
    first, second = stored_deck(at)
    at.text_input(key=f"deck_takeaway_{second.item_id}").input("Krakow's AHT is three times Manila's").run()
    assert not at.exception
    edited = stored_deck(at)
    assert [it.takeaway for it in edited] == [first.takeaway, "Krakow's AHT is three times Manila's"]
    assert edited[1].item_id == second.item_id


def test_built_deck_reopens_with_title_chart_and_appendix_slides(chart_browser: None, collected: AppTest) -> None:
    at = collected
    first, second = stored_deck(at)
    at.text_input(key=f"deck_takeaway_{second.item_id}").input("Krakow is slowest").run()
    at.button(key=f"deck_down_{first.item_id}").click().run()
    at.text_input(key="deck_title").input("June review").run()
    at.button(key="deck_build").click().run()
    assert not at.exception and not at.error
    prs = open_built(at)
    assert [s.shapes.title.text for s in prs.slides] == [
        "June review", "Stand-up summary, Tue 30 Jun 2026", "Krakow is slowest", first.takeaway,
        "Appendix: definitions"]
    # the summary slide is the stand-up's own summary of that day, sentence by sentence
    home = AppTest.from_file(str(APP), default_timeout=90).run()
    narrative = next(c.value for c in home.code)
    points = [p.text for sh in prs.slides[1].shapes if sh.has_text_frame and sh != prs.slides[1].shapes.title
              for p in sh.text_frame.paragraphs if p.text.strip()]
    assert len(points) >= 3 and " ".join(points) == " ".join(narrative.split())
    for slide in list(prs.slides)[2:4]:
        assert len([s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]) == 1
    notes = prs.slides[2].notes_slide.notes_text_frame.text
    assert f"AHT: {get_kpi('aht').description}" in notes
    assert "Source: ops_daily_volume (daily roll-up) · Data as of 2026-06-30" in notes
    assert "Identity Operations · " in " ".join(sh.text_frame.text for sh in prs.slides[0].shapes if sh.has_text_frame)
    assert at.get("download_button")[0].label == "Download .pptx"
    at.text_input(key=f"deck_takeaway_{second.item_id}").input("Changed after the build").run()
    assert not at.get("download_button"), "a stale deck is not offered"


def test_appendix_can_be_left_out_and_a_template_is_used(chart_browser: None, collected: AppTest) -> None:
    template = Presentation()
    template.slide_width, template.slide_height = Inches(12), Inches(6.75)
    blob = io.BytesIO()
    template.save(blob)
    at = collected
    at.checkbox(key="deck_appendix").uncheck()
    at.file_uploader(key="deck_template").set_value(("brand.pptx", blob.getvalue(), "application/octet-stream"))
    at.run()
    at.button(key="deck_build").click().run()
    assert not at.exception and not at.error
    prs = open_built(at)
    assert len(prs.slides) == 4  # title, summary, two charts
    assert (prs.slide_width, prs.slide_height) == (Inches(12), Inches(6.75))


def test_a_broken_template_is_reported_not_raised(collected: AppTest) -> None:
    at = collected
    at.file_uploader(key="deck_template").set_value(("brand.pptx", b"not a pptx", "application/octet-stream"))
    at.run()
    at.button(key="deck_build").click().run()
    assert not at.exception
    assert "must be a PowerPoint .pptx file" in visible(at.error[0].value)
    assert "deck_pptx" not in at.session_state


def test_a_broken_app_database_is_a_message_and_the_data_pages_keep_working(
        sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    monkeypatch.setenv("OPS_APP_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    assert not at.exception
    assert len(at.metric) >= 5  # the stand-up draws its tiles
    assert any("Saved views are unavailable" in c.value for c in at.sidebar.caption)
    at.switch_page("pages/deck.py").run()
    assert not at.exception
    assert "Decks cannot be opened" in at.error[0].value and "OPS_APP_DB_URL" in visible(at.error[0].value)
    assert "SELECT" not in at.error[0].value


def test_a_saved_view_never_carries_the_savers_deck(page: AppTest, app_db: str) -> None:
    store = AppStore(app_db)
    deck_id = store.create_deck("Mine")
    page.query_params["deck"] = deck_id
    at = page.run()
    at.text_input(key="view_name").input("Deck page, June").run()
    at.button(key="view_save").click().run()
    assert not at.exception
    (view,) = store.views()
    assert view.name == "Deck page, June" and "deck" not in view.params
    store.dispose()


def test_the_heading_follows_the_deck_a_link_opens(page: AppTest, app_db: str) -> None:
    store = AppStore(app_db)
    ids = []
    for title in ("Deck A", "Deck B"):
        ids.append(store.create_deck(title))
        store.add_item(ids[-1], items()[0].to_record())
    page.query_params["deck"] = ids[0]
    at = page.run()
    assert at.text_input(key="deck_title").value == "Deck A"
    at.query_params["deck"] = ids[1]  # a link or a saved view opens another deck in the same session
    at.run()
    assert at.text_input(key="deck_title").value == "Deck B"
    at.text_input(key="deck_subtitle").input("B's own subtitle").run()
    assert store.deck(ids[1]).title == "Deck B" and store.deck(ids[0]).title == "Deck A"
    store.dispose()


def test_add_to_deck_under_a_link_to_a_deleted_deck_starts_a_deck_that_stays(
        sample_db: Path, monkeypatch: pytest.MonkeyPatch, app_db: str) -> None:
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params["deck"] = "deleted123"
    at.switch_page("pages/trends.py").run()
    at.button(key="trends_chart_deck").click().run()
    at.run()
    assert not at.exception
    current = at.session_state["current_deck_id"]
    assert current != "deleted123" and at.query_params["deck"] == current
    assert [it.meta.title for it in stored_deck(at)] == ["Incoming by day"]


def test_redraw_draws_the_trends_charts_again_on_the_newest_data_and_keeps_the_pictures(
        page: AppTest, app_db: str, sample_db: Path) -> None:
    import loaders
    from loaders import Filters
    from tests.conftest import SAMPLE_END
    from ui.data import DataContext
    from ui.redraw import trends_chart

    settings = loaders.load_settings(environ={"OPS_DB_URL": f"sqlite:///{sample_db}"})
    engine = loaders.make_engine(settings.url)
    ctx = DataContext(settings, engine, engine, version="deck-redraw",
                      measures=loaders.available_measures(engine, settings))
    earlier = SAMPLE_END - dt.timedelta(days=21)
    drawn, _ = trends_chart(ctx, Filters(earlier - dt.timedelta(days=27), earlier), kpi="solved")
    engine.dispose()
    trend = DeckItem.from_figure(drawn.fig, drawn.meta, kpi_names=drawn.kpi_names, data=drawn.data,
                                 takeaway=drawn.takeaway, key_numbers=drawn.key_numbers, spec=drawn.spec)
    store = AppStore(app_db)
    deck_id = store.create_deck()
    for item in (trend, items()[1]):
        store.add_item(deck_id, item.to_record())
    store.dispose()
    page.query_params["deck"] = deck_id
    at = page.run()
    assert any("1 of 2 charts can be redrawn" in visible(c.value) for c in at.caption), [c.value for c in at.caption]
    at.button(key="deck_redraw").click().run()
    assert not at.exception
    said = visible(" ".join(i.value for i in at.info))
    assert f"Redrew 1 chart on the data up to {SAMPLE_END:%a %d %b %Y}" in said and "1 kept as collected" in said
    redrawn, kept = stored_deck(at)
    assert redrawn.item_id == trend.item_id and redrawn.spec["end"] == SAMPLE_END.isoformat()
    assert f"{SAMPLE_END:%d %b %Y}" in redrawn.meta.subtitle and redrawn.takeaway != trend.takeaway
    assert kept.to_record() == items()[1].to_record() | {"item_id": kept.item_id}  # the picture, untouched

"""The chart panel every page uses: the chart, PNG / SVG / CSV downloads rendered only on demand, "Add to deck",
and a clear, fix-bearing message (CSV still working) when no browser can render images."""

from __future__ import annotations

import datetime as dt
import io
import struct
import xml.etree.ElementTree as ET

import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

import charts
from charts import ChartMeta, browser_status
from charts.deck_items import DeckItem
from tests.conftest import stored_deck
from ui.chart_panel import export_files, file_stem

META = ChartMeta("AHT by vendor site", subtitle="01 Jun 2026 – 30 Jun 2026 · Workflow: copyright", unit="minutes",
                 source="ops_daily_volume (daily roll-up)", as_of=dt.date(2026, 6, 30))


def site_figure() -> go.Figure:
    return go.Figure(go.Bar(x=["Manila", "Lisbon", "Krakow"], y=[4.1, 5.0, 12.5], name="AHT"))


def panel_script() -> None:
    """The app side of the tests: one page drawing one chart through the panel."""
    import datetime as dt

    import plotly.graph_objects as go

    from charts import ChartMeta
    from ui.chart_panel import chart_panel

    fig = go.Figure(go.Bar(x=["Manila", "Lisbon", "Krakow"], y=[4.1, 5.0, 12.5], name="AHT"))
    meta = ChartMeta("AHT by vendor site", subtitle="01 Jun 2026 – 30 Jun 2026 · Workflow: copyright",
                     unit="minutes", source="ops_daily_volume (daily roll-up)", as_of=dt.date(2026, 6, 30))
    chart_panel(fig, key="test_chart", meta=meta, kpi_names=("aht",))


# ----------------------------------------------------------------------------- files


def test_file_names_follow_the_title_and_the_data_date() -> None:
    assert file_stem(META) == "aht-by-vendor-site_2026-06-30"
    assert file_stem(ChartMeta("%%%")) == "chart"
    sentence = ChartMeta("Incoming +18 % vs expected (565 vs 477); brand impersonation × web form at Manila explains "
                         "56 %", as_of=dt.date(2026, 6, 30))
    assert file_stem(sentence) == "incoming-18-vs-expected-565-vs_2026-06-30"  # whole words, short
    assert {f.file_name for f in export_files(site_figure(), META).values()} == {
        "aht-by-vendor-site_2026-06-30.png", "aht-by-vendor-site_2026-06-30.svg", "aht-by-vendor-site_2026-06-30.csv"}


def test_csv_is_the_data_passed_in_or_else_what_the_chart_draws() -> None:
    data = pd.DataFrame({"AHT": [4.1, 5.0, 12.5], "solved": [10, 20, 30]},
                        index=pd.Index(["Manila", "Lisbon", "Krakow"], name="Vendor site"))
    given = pd.read_csv(io.BytesIO(export_files(site_figure(), META, data=data)["csv"].make()), index_col=0)
    pd.testing.assert_frame_equal(given, data)
    drawn = pd.read_csv(io.BytesIO(export_files(site_figure(), META)["csv"].make()), index_col=0)
    pd.testing.assert_frame_equal(drawn, data[["AHT"]].rename_axis("x"))


def test_only_images_need_the_browser() -> None:
    needs = {name: f.needs_browser for name, f in export_files(site_figure(), META).items()}
    assert needs == {"png": True, "svg": True, "csv": False}


def test_png_is_presentation_sized_and_svg_carries_the_deck_texts(chart_browser: None) -> None:
    files = export_files(site_figure(), META)
    png = files["png"].make()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (3200, 1800)
    root = ET.fromstring(files["svg"].make())
    text = " ".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("text"))
    for expected in (META.title, META.subtitle, charts.footnote(META), "minutes"):
        assert expected in text


# ----------------------------------------------------------------------------- the panel in a page


def test_panel_draws_the_chart_with_its_buttons_and_renders_nothing_up_front(chart_browser: None) -> None:
    charts.shutdown()
    at = AppTest.from_function(panel_script, default_timeout=30).run()
    assert not at.exception
    assert [(b.label, b.disabled) for b in at.get("download_button")] == [
        ("PNG", False), ("SVG", False), ("CSV", False)]
    assert at.button(key="test_chart_deck").label == "Add to deck"
    ok, message = browser_status()
    assert ok and "started on first export" in message, "drawing the page must not start the browser"


def test_add_to_deck_stores_the_chart_with_its_meta_kpis_and_a_default_takeaway() -> None:
    at = AppTest.from_function(panel_script, default_timeout=30).run()
    at.button(key="test_chart_deck").click().run()
    assert not at.exception
    (item,) = stored_deck(at)
    assert isinstance(item, DeckItem)
    assert item.meta == META and item.kpi_names == ("aht",) and item.origin == "test_chart"
    assert item.figure().to_dict()["data"] == site_figure().to_dict()["data"]
    assert item.takeaway == "AHT: highest at Krakow (12.5 min), lowest at Manila (4.1 min)"
    assert "(1 chart)" in at.toast[0].value
    at.button(key="test_chart_deck").click().run()
    assert len(stored_deck(at)) == 2
    assert "(2 charts)" in at.toast[0].value


def test_without_a_browser_images_are_disabled_with_the_fix_and_csv_still_works(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    charts.shutdown()  # a running shared browser would (rightly) be reported as available
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chrome"))
    at = AppTest.from_function(panel_script, default_timeout=30).run()
    assert not at.exception
    buttons = {b.label: b for b in at.get("download_button")}
    assert buttons["PNG"].disabled and buttons["SVG"].disabled and not buttons["CSV"].disabled
    assert "BROWSER_PATH" in buttons["PNG"].help
    (caption,) = [c.value for c in at.caption if "apt-get install chromium" in c.value]
    assert "CSV export works without a browser" in caption
    at.button(key="test_chart_deck").click().run()
    assert len(stored_deck(at)) == 1, "collecting for the deck needs no browser"

"""A deck drawn again on newer data: the chart's spec, kept with the item, redraws it by the page's own function."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

import loaders
from charts.deck_items import DeckItem
from loaders import Filters
from metrics.kpis import get_kpi
from tests.conftest import SAMPLE_END

EARLIER = SAMPLE_END - timedelta(days=14)


@pytest.fixture(scope="module")
def ctx(sample_db):
    from ui.data import DataContext

    settings = loaders.load_settings(environ={"OPS_DB_URL": f"sqlite:///{sample_db}"})
    engine = loaders.make_engine(settings.url)
    loaders.refresh_rollup(engine, settings)
    yield DataContext(settings, engine, engine, version="redraw", measures=loaders.available_measures(engine, settings))
    engine.dispose()


def _collected(drawn) -> DeckItem:
    return DeckItem.from_figure(drawn.fig, drawn.meta, kpi_names=drawn.kpi_names, data=drawn.data,
                                takeaway=drawn.takeaway, key_numbers=drawn.key_numbers, origin="trends_chart",
                                spec=drawn.spec)


def _last_x(item: DeckItem) -> pd.Timestamp:
    return max(pd.Timestamp(x) for t in item.figure().data if t.x is not None for x in t.x)


def test_a_trends_chart_is_redrawn_on_the_newest_data_with_its_range_moved(ctx):
    from ui.redraw import redraw, trends_chart

    filters = Filters(EARLIER - timedelta(days=27), EARLIER, vendor_site=("Manila",))
    drawn, _ = trends_chart(ctx, filters, kpi="incoming", grain="day")
    item = DeckItem.from_record(_collected(drawn).to_record())  # as the app database keeps it
    assert item.spec["chart"] == "trends" and item.spec["end"] == EARLIER.isoformat()
    assert _last_x(item).date() == EARLIER

    fresh = redraw(ctx, item, end=SAMPLE_END)
    assert fresh.item_id == item.item_id and fresh.origin == item.origin
    assert _last_x(fresh).date() == SAMPLE_END
    assert fresh.spec["start"] == (SAMPLE_END - timedelta(days=27)).isoformat()  # the same 28 days, moved
    assert fresh.spec["dims"] == {"vendor_site": ["Manila"]}  # the same filters
    assert f"{SAMPLE_END:%d %b %Y}" in fresh.meta.subtitle and "Manila" in fresh.meta.subtitle
    # the takeaway and key numbers the data wrote are written again by the newer data: the page's own words
    now, _ = trends_chart(ctx, Filters(SAMPLE_END - timedelta(days=27), SAMPLE_END, vendor_site=("Manila",)),
                          kpi="incoming", grain="day")
    assert fresh.takeaway == now.takeaway != item.takeaway
    assert fresh.key_numbers == now.key_numbers


def test_an_analysts_own_takeaway_survives_a_redraw(ctx):
    from ui.redraw import redraw, trends_chart

    drawn, _ = trends_chart(ctx, Filters(EARLIER - timedelta(days=27), EARLIER), kpi="aht", split="vendor_site")
    item = _collected(drawn).edited(takeaway="AHT is back to normal after the Manila training week")
    fresh = redraw(ctx, item, end=SAMPLE_END)
    assert fresh.takeaway == "AHT is back to normal after the Manila training week"
    assert fresh.spec["split"] == "vendor_site" and _last_x(fresh).date() == SAMPLE_END


def test_the_stand_up_small_multiples_are_redrawn_on_the_new_day(ctx):
    from ui.redraw import multiples_chart, redraw

    drawn = multiples_chart(ctx, Filters(EARLIER - timedelta(days=55), EARLIER), day=EARLIER, kpi="incoming")
    item = _collected(drawn)
    fresh = redraw(ctx, item, end=SAMPLE_END)
    assert fresh.spec["day"] == SAMPLE_END.isoformat()
    assert fresh.takeaway.startswith(f"Incoming on {SAMPLE_END:%a %d %b %Y}")
    assert _last_x(fresh).date() == SAMPLE_END


def test_a_chart_without_a_spec_is_kept_as_collected(ctx):
    import plotly.graph_objects as go

    from charts.export import ChartMeta
    from ui.redraw import redraw

    item = DeckItem.from_figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), ChartMeta("A picture"))
    assert item.spec == {} and redraw(ctx, item, end=SAMPLE_END) is None
    assert DeckItem.from_record(item.to_record()).spec == {}


def test_an_anomaly_chart_stays_on_its_day_and_shows_the_weeks_after_it_when_redrawn(ctx):
    from ui.redraw import anomaly_chart, redraw

    day = SAMPLE_END - timedelta(days=40)
    slice_ = {"vendor_site": "Manila"}
    # collected from the Anomalies page, then redrawn: the same day, the same slice
    drawn, detected, _known = anomaly_chart(ctx, Filters(day, day), kpi="incoming", slice=slice_, day=day)
    item = _collected(drawn)
    assert item.spec["chart"] == "anomaly" and item.spec["day"] == day.isoformat()
    fresh = redraw(ctx, item, end=SAMPLE_END)
    assert fresh.spec["day"] == day.isoformat()  # the incident's day is kept
    assert _last_x(fresh).date() == day + timedelta(days=28)  # the weeks after it, as far as the data goes
    point = detected.loc[pd.Timestamp(day)]
    assert fresh.key_numbers[0][1] == get_kpi("incoming").format(point["observed"])
    assert fresh.takeaway.startswith(f"Incoming at Manila on {day:%a %d %b %Y}")


def test_a_drill_down_chart_is_redrawn_on_its_own_day(ctx):
    from metrics.drilldown import DrilldownState
    from ui.redraw import drilldown_view, redraw

    state = DrilldownState("incoming", SAMPLE_END, (("workflow", "brand_impersonation"),))
    view = drilldown_view(ctx, state)
    assert set(view.charts) == {"decomp", "contrib", "weekdays"}
    for part, drawn in view.charts.items():
        item = _collected(drawn)
        assert item.spec["chart"] == "drilldown" and item.spec["part"] == part
        fresh = redraw(ctx, item, end=SAMPLE_END)
        assert fresh.item_id == item.item_id and fresh.spec == item.spec
        assert fresh.takeaway == item.takeaway  # the same day on the same data: the same words
    assert view.charts["contrib"].takeaway == view.analysis.sentence

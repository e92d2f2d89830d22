"""One judgment: every screen that states an expected value, a band or a flag states the same one.

Walks every (KPI, slice, day) two screens show — the stand-up's tiles, anomaly items, scorecard and small
multiples, the Anomalies list, the Trends band and the drill-down's decomposition and sentence — on the small
sample, and asserts they agree.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

import loaders
from loaders import Filters
from metrics.drilldown import DrilldownState
from metrics.kpis import get_kpi
from metrics.standup import SCORECARD_KPIS, TILE_KPIS
from tests.conftest import SAMPLE_END


@pytest.fixture(scope="module")
def ctx(sample_db):
    from ui.data import DataContext

    settings = loaders.load_settings(environ={"OPS_DB_URL": f"sqlite:///{sample_db}"})
    engine = loaders.make_engine(settings.url)
    loaders.refresh_rollup(engine, settings)
    yield DataContext(settings, engine, engine, version="one-judgment",
                      measures=loaders.available_measures(engine, settings))
    engine.dispose()


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b):
        return (a is None or not np.isfinite(a)) and (b is None or not np.isfinite(b))
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def test_every_screen_states_the_same_expected_value_band_and_flag(ctx):
    from ui import standup as su
    from ui.anomaly_data import anomalies, expected_band
    from ui.drilldown_data import analysis, decomposition

    day = SAMPLE_END
    window = Filters(day - timedelta(days=55), day)  # the default range: the Anomalies page's and Trends' days
    listed = anomalies(ctx, window, day=day, days=window.days)
    assert len(listed), "the sample's planted incidents are flagged"
    by_point = {(k, tuple(sorted(s.items())), d.date()): r
                for k, s, d, r in zip(listed["kpi"], listed["slice"], listed["day"], listed.to_dict("records"),
                                      strict=True)}
    first = loaders.load_rollup_bounds(ctx.rollup, settings=ctx.settings)[0]
    checked = 0

    # tiles = Trends band = drill-down decomposition, on the total; a flagged tile is in the list
    for tile in su.standup_tiles(ctx, window, day):
        band_lower, band_flags = expected_band(ctx, window, kpi=tile.kpi.name)
        stamp = pd.Timestamp(day)
        history = decomposition(ctx, DrilldownState(tile.kpi.name, day), first)
        assert close(tile.expected, history.loc[stamp, "expected"]), tile.kpi.name
        assert close(tile.lower, history.loc[stamp, "lower"]) and close(tile.upper, history.loc[stamp, "upper"])
        assert close(tile.lower, band_lower.loc[stamp, "lower"]) and close(tile.upper, band_lower.loc[stamp, "upper"])
        assert tile.abnormal == bool(history.loc[stamp, "is_anomaly"]) == (stamp in band_flags.index)
        assert tile.abnormal == ((tile.kpi.name, (), day) in by_point)
        checked += 1

    # every flagged point of the list: the drill-down's decomposition of that slice and day says the same
    for (kpi, slice_, d), row in list(by_point.items())[:40]:
        history = decomposition(ctx, DrilldownState(kpi, d, slice_), first)
        stamp = pd.Timestamp(d)
        assert close(row["expected"], history.loc[stamp, "expected"]), (kpi, slice_, d)
        assert close(row["upper"], history.loc[stamp, "upper"]) and bool(history.loc[stamp, "is_anomaly"])
        checked += 1

    # the stand-up's anomaly items are the list's points of that day, with their expected values; the "why"
    # allocates that expected value (flows, the stock, and ratios, whose leaf rates are scaled to it)
    items, _total = su.day_anomalies(ctx, window, day)
    for item in items:
        row = by_point[(item.kpi, tuple(sorted(item.slice.items())), day)]
        assert close(item.expected, row["expected"]) and close(item.upper, row["upper"])
        why = analysis(ctx, DrilldownState(item.kpi, day, tuple(item.slice.items())), float(row["expected"]))
        assert close(why.expected, row["expected"])
        checked += 1
    ratios = [(k, s, d, r) for (k, s, d), r in by_point.items() if get_kpi(k).kind == "ratio"][:10]
    assert ratios, "the sample's window holds flagged ratio points"
    for kpi, slice_, d, row in ratios:  # the sentence states the detector's expected rate, not a second one
        why = analysis(ctx, DrilldownState(kpi, d, slice_), float(row["expected"]))
        assert close(why.expected, row["expected"]) and get_kpi(kpi).format(row["expected"]) in why.sentence
        checked += 1

    # the scorecard tints exactly the cells the list flags for that site on the day
    table, flags = su.site_scorecard(ctx, window, day)
    site = ctx.site_dim
    for value in table.index:
        for column in (c for c in SCORECARD_KPIS if c in flags.columns and c in ctx.kpis):
            listed_here = (column, ((site, str(value)),), day) in by_point
            assert (flags.loc[value, column] != "") == listed_here, (value, column)
            checked += 1

    # the small multiples mark exactly the list's points of each workflow over their 8 weeks
    for kpi in (k for k in TILE_KPIS if k in ctx.kpis):
        frame = su.workflow_frame(ctx, window, day, kpi)
        for w, d, state, expected in zip(frame[ctx.main_dim], frame["day"], frame["state"], frame["expected"],
                                         strict=True):
            point = (kpi, ((ctx.main_dim, str(w)),), pd.Timestamp(d).date())
            assert (state in ("bad", "good")) == (point in by_point), point
            if point in by_point:
                assert close(expected, by_point[point]["expected"])
            checked += 1
    assert checked > 500

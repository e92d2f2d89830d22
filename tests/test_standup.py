"""The stand-up's rules from plain data: tiles, colours, changes, scorecard, freshness, narrative, TV options."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from metrics.kpis import PARTS, compute_kpis, get_kpi, kpi_parts
from metrics.panel import kpi_panel
from metrics.standup import (
    TILE_KPIS,
    assess_freshness,
    day_phrase,
    narrative,
    panel_frame,
    same_weekday_baseline,
    scorecard,
    tile_state,
    tiles,
    workflow_bands,
)
from ui.shell import TVMode, parse_tv

DAY = date(2026, 6, 30)


def _daily(n: int = 120, *, seed: int = 0, level: float = 1000.0, end: date = DAY) -> pd.Series:
    """A seeded daily count series with a weekly pattern (weekends at 60 %)."""
    idx = pd.date_range(end=pd.Timestamp(end), periods=n, freq="D", name="day")
    rng = np.random.default_rng(seed)
    base = level * np.where(idx.day_of_week >= 5, 0.6, 1.0)
    return pd.Series(rng.poisson(base).astype(float), index=idx)


def _kpi_values(n: int = 120) -> pd.DataFrame:
    frame = pd.DataFrame({name: _daily(n, seed=i, level=500.0 + 100 * i) for i, name in enumerate(TILE_KPIS)})
    for name in ("automation_rate", "sla_attainment"):  # percentages: stable values around 90
        frame[name] = 90 + np.random.default_rng(len(name)).normal(0, 0.5, n)
    return frame


def test_same_weekday_baseline_takes_last_week_and_the_median_of_four_skipping_gaps():
    s = _daily(60)
    day = s.index[-1].date()
    week_ago, median = same_weekday_baseline(s, day)
    assert week_ago == s.iloc[-8]
    assert median == pytest.approx(float(np.median(s.iloc[[-8, -15, -22, -29]])))
    s.iloc[-8] = np.nan
    week_ago, median = same_weekday_baseline(s, day)
    assert week_ago is None and median == pytest.approx(float(np.median(s.iloc[[-15, -22, -29]])))
    with pytest.raises(ValueError, match="`weeks` must be >= 1, got 0"):
        same_weekday_baseline(s, day, weeks=0)


@pytest.mark.parametrize(("abnormal", "direction", "bad", "state"), [
    (True, "spike", "up", "bad"),     # backlog up
    (True, "drop", "up", "good"),     # backlog down
    (True, "spike", "down", "good"),  # solved up
    (True, "drop", "down", "bad"),    # solved down
    (False, "", "up", "normal"),
])
def test_tile_colour_follows_the_detector_and_the_kpis_bad_direction(abnormal, direction, bad, state):
    assert tile_state(abnormal, direction, bad) == state


def test_tiles_flag_a_spike_by_direction_and_leave_normal_days_uncoloured():
    values = _kpi_values()
    values.iloc[-1, values.columns.get_loc("backlog")] *= 2.5  # up is bad
    values.iloc[-1, values.columns.get_loc("solved")] *= 2.5  # up is good
    got = {t.kpi.name: t for t in tiles(values, DAY)}
    assert [t.kpi.name for t in got.values()] == list(TILE_KPIS)
    assert got["backlog"].state == "bad" and got["backlog"].verdict() == "Abnormal: above expected"
    assert got["solved"].state == "good"
    calm = got["incoming"]
    assert calm.state == "normal" and not calm.abnormal
    assert calm.lower <= calm.value <= calm.upper
    assert calm.week_ago == values["incoming"].iloc[-8]
    assert calm.kpi.format_change(calm.value, calm.week_ago, against="last week") == (
        f"{(calm.value / calm.week_ago - 1) * 100:+.1f} % vs last week")
    assert len(calm.trend) == 28 and calm.trend[-1] == calm.value


def test_tiles_never_look_past_the_stand_up_day():
    values = _kpi_values(130)
    day = values.index[-11].date()
    later = values.copy()
    later.iloc[-10:] *= 5  # what happened after the day must not change its tiles
    assert [(t.value, t.expected, t.state) for t in tiles(values, day)] == \
        [(t.value, t.expected, t.state) for t in tiles(later, day)]


def test_the_expected_band_never_shows_impossible_values():
    values = _kpi_values()
    values["sla_attainment"] = 99.5 + np.random.default_rng(1).normal(0, 1.0, len(values))
    values["manual_solved"] = np.random.default_rng(2).poisson(1.0, len(values)).astype(float)
    got = {t.kpi.name: t for t in tiles(values, DAY, kpis=["sla_attainment", "manual_solved"])}
    assert got["sla_attainment"].upper > 100 and got["sla_attainment"].expected_text().endswith("– 100.0 %)")
    assert got["manual_solved"].lower < 0 and "(0 – " in got["manual_solved"].expected_text()


def test_a_short_history_gives_unscored_tiles_not_an_error():
    got = tiles(_kpi_values(20), DAY, kpis=["incoming"])[0]
    assert got.expected is None and got.state == "unknown"
    assert "history too short" in got.expected_text()


def test_tiles_reject_a_day_outside_the_data_and_missing_columns():
    values = _kpi_values()
    with pytest.raises(ValueError, match="`day` 2026-07-01 must be a row of `values`"):
        tiles(values, DAY + timedelta(days=1))
    with pytest.raises(ValueError, match="lacks KPI column"):
        tiles(values.drop(columns="aht"), DAY)


def _by_site(n: int = 120) -> pd.DataFrame:
    frames = []
    for i, site in enumerate(["Austin", "Manila"]):
        frame = _kpi_values(n) * (1 + i)
        frame["sla_attainment"] = frame["sla_attainment"] / (1 + i)
        frame["automation_rate"] = frame["automation_rate"] / (1 + i)
        frame["manual_share"] = frame["manual_incoming"] / frame["incoming"] * 100
        frame.insert(0, "vendor_site", site)
        frames.append(frame)
    return pd.concat(frames)


def test_scorecard_has_one_row_per_site_with_trends_and_marks_the_abnormal_cell():
    frame = _by_site()
    spike = (frame["vendor_site"] == "Austin") & (frame.index == pd.Timestamp(DAY))
    frame.loc[spike, "backlog"] *= 3
    table, flags = scorecard(frame, DAY)
    assert list(table.index) == ["Austin", "Manila"]  # the site with a bad flag first
    assert flags.loc["Austin", "backlog"] == "bad" and (flags.loc["Manila"] == "").all()
    assert table.loc["Austin", "abnormal"] == "Backlog ▲"
    day_rows = frame[frame.index == pd.Timestamp(DAY)].set_index("vendor_site")
    expected_share = day_rows["manual_incoming"] / day_rows["incoming"] * 100
    pd.testing.assert_series_equal(table["manual_share"], expected_share.reindex(table.index), check_names=False)
    assert all(len(t) == 28 for t in table["incoming_trend"])
    assert table.loc["Manila", "incoming_trend"][-1] == pytest.approx(day_rows.loc["Manila", "incoming"])


def test_scorecard_states_which_columns_it_needs():
    with pytest.raises(ValueError, match="lacks column"):
        scorecard(_by_site().drop(columns="aas"), DAY)


def test_workflow_bands_cover_eight_weeks_per_workflow_and_flag_by_direction():
    frame = _by_site().rename(columns={"vendor_site": "workflow"})
    frame.loc[(frame["workflow"] == "Manila") & (frame.index == pd.Timestamp(DAY)), "incoming"] *= 3
    got = workflow_bands(frame, "incoming", DAY)
    assert got.groupby("workflow").size().to_dict() == {"Austin": 56, "Manila": 56}
    last = got[got["day"] == pd.Timestamp(DAY)].set_index("workflow")
    assert last.loc["Manila", "state"] == "bad" and last.loc["Austin", "state"] == "normal"
    with pytest.raises(ValueError, match="`weeks` must be >= 1"):
        workflow_bands(frame, "incoming", DAY, weeks=0)


def test_panel_frame_gives_the_same_numbers_as_compute_kpis():
    idx = pd.date_range("2026-06-01", periods=10, freq="D")
    rng = np.random.default_rng(3)
    rows = []
    for wf in ("copyright", "trademark"):
        for site in ("Austin", "Manila"):
            part = pd.DataFrame({p: rng.integers(5, 50, len(idx)).astype(float) for p in PARTS}, index=idx)
            part["solved_manual"] = np.minimum(part["solved_manual"], part["solved"])
            part.insert(0, "vendor_site", site)
            part.insert(0, "workflow", wf)
            rows.append(part)
    parts = kpi_parts(pd.concat(rows).sort_index(kind="stable"), by=("workflow", "vendor_site"))
    panel = kpi_panel(parts, kpis=["incoming", "aht", "backlog"])
    got = panel_frame(panel.values, by="vendor_site").reset_index().sort_values(["day", "vendor_site"])
    want = compute_kpis(parts, by=("vendor_site",), kpis=["incoming", "aht", "backlog"]).reset_index()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.sort_values(["day", "vendor_site"])
                                  .reset_index(drop=True), check_dtype=False)
    total = panel_frame(panel.values)
    pd.testing.assert_series_equal(total["incoming"], compute_kpis(parts, kpis=["incoming"])["incoming"],
                                   check_names=False, check_freq=False)
    with pytest.raises(ValueError, match="no series split by channel"):
        panel_frame(panel.values, by="channel")


NOW = datetime(2026, 7, 1, 8, 0)


@pytest.mark.parametrize(("newest", "rollup_day", "late", "says"), [
    (datetime(2026, 6, 30, 23, 55), date(2026, 6, 30), False, ""),
    (datetime(2026, 6, 28, 10, 0), date(2026, 6, 28), True, "the newest case is from Sun 28 Jun 2026 10:00 UTC"),
    (datetime(2026, 6, 30, 23, 55), date(2026, 6, 29), True, "the daily roll-up only reaches Mon 29 Jun 2026"),
    (None, None, True, "the cases table has no cases"),
])
def test_freshness_says_when_the_data_is_late_and_why(newest, rollup_day, late, says):
    fresh = assess_freshness(newest_case=newest, refreshed_at=None, rollup_day=rollup_day, now=NOW,
                             stale_after_hours=36)
    assert fresh.is_late is late
    message = fresh.message(date(2026, 6, 28))
    assert (says in message) if says else message == ""
    if late:
        assert "not of yesterday (Tue 30 Jun 2026)" in message


def test_freshness_checks_its_limit_and_whether_a_day_is_complete():
    with pytest.raises(ValueError, match="`stale_after_hours` must be > 0, got 0"):
        assess_freshness(newest_case=None, refreshed_at=None, rollup_day=None, now=NOW, stale_after_hours=0)
    fresh = assess_freshness(newest_case=datetime(2026, 6, 30, 14, 3), refreshed_at=None,
                             rollup_day=date(2026, 6, 30), now=NOW, stale_after_hours=36)
    assert fresh.day_complete(date(2026, 6, 29)) and not fresh.day_complete(date(2026, 6, 30))


def test_only_fresh_data_from_yesterday_is_called_yesterday():
    assert day_phrase(DAY, today=DAY + timedelta(days=1), fresh=True).startswith("yesterday, ")
    assert "yesterday" not in day_phrase(DAY, today=DAY + timedelta(days=1), fresh=False)
    assert "yesterday" not in day_phrase(DAY - timedelta(days=3), today=DAY + timedelta(days=1), fresh=True)


def _story(*, anomalies: pd.DataFrame, late: bool = False) -> str:
    values = _kpi_values()
    table, flags = scorecard(_by_site(), DAY)
    fresh = assess_freshness(newest_case=datetime(2026, 6, 20) if late else datetime(2026, 6, 30, 23, 59),
                             refreshed_at=None, rollup_day=DAY, now=NOW, stale_after_hours=36)
    return narrative(DAY, tiles(values, DAY), anomalies, table, flags, fresh, flagged=7,
                     explanations={0: "Incoming +120.0 % vs expected (1,100 vs 500); web form explains 98 %"})


def _sentences(text: str) -> int:
    return text.count(". ") + 1


def test_narrative_of_a_quiet_day_says_nothing_was_abnormal_in_three_to_five_sentences():
    text = _story(anomalies=pd.DataFrame())
    assert text.startswith("On Tuesday 30 June 2026, ")
    assert "Nothing was abnormal" in text
    assert 3 <= _sentences(text) <= 5
    assert f"{get_kpi('incoming').format(_kpi_values()['incoming'].iloc[-1])} cases came in" in text


def test_narrative_names_the_worst_incident_with_its_why_once():
    flags = pd.DataFrame({"kpi": ["incoming"], "slice": [{"workflow": "brand_impersonation", "vendor_site": "Manila"}],
                          "observed": [1100.0], "expected": [500.0], "bad": [True]})
    text = _story(anomalies=flags)
    assert "1 incident (7 flagged series)" in text
    assert "Incoming brand impersonation at Manila was 1,100 against 500 expected (+120.0 %); web form explains 98 %" \
        in text
    assert text.count("1,100") == 1  # the drill-down's own "how far off" half is not repeated
    assert 3 <= _sentences(text) <= 5


def test_narrative_of_late_data_opens_with_a_caution():
    text = _story(anomalies=pd.DataFrame(), late=True)
    assert text.startswith("Caution: the data is late")
    assert _sentences(text) <= 5


def test_tv_mode_is_read_from_the_url_with_checked_options():
    assert parse_tv({}) is None and parse_tv({"tv": "0"}) is None
    assert parse_tv({"tv": "1"}) == TVMode()
    got = parse_tv({"tv": "1", "refresh": "120", "rotate": "standup, trends", "dwell": "45"})
    assert got == TVMode(refresh_s=120, rotate=("app.py", "pages/trends.py"), dwell_s=45)
    with pytest.raises(ValueError, match=r"`\?refresh=` must be >= 10 seconds, got 5"):
        parse_tv({"tv": "1", "refresh": "5"})
    with pytest.raises(ValueError, match=r"`\?rotate=` names unknown page 'weather'"):
        parse_tv({"tv": "1", "rotate": "weather"})
    with pytest.raises(ValueError, match="must be a number of seconds"):
        parse_tv({"tv": "1", "dwell": "soon"})


def test_small_multiples_show_the_largest_workflows_when_there_are_many():
    """150 workflows would need 38 rows of panels (plotly refuses the spacing): the 12 largest are drawn."""
    from charts.figures import MULTIPLES_MAX, workflow_figure

    days = pd.date_range("2026-05-01", periods=14, freq="D")
    frame = pd.DataFrame([{"day": d, "workflow": f"wf{i:03d}", "observed": float(i), "expected": float(i),
                           "lower": i - 1.0, "upper": i + 1.0, "state": "normal"} for i in range(150) for d in days])
    fig = workflow_figure(frame, "incoming")
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [f"wf{i:03d}" for i in range(150 - MULTIPLES_MAX, 150)]


def test_a_tile_on_a_known_event_says_it_is_not_judged_and_why() -> None:
    from metrics.standup import tiles

    idx = pd.date_range("2026-08-01", periods=70, freq="D")
    rng = np.random.default_rng(5)
    values = pd.DataFrame({"incoming": rng.poisson(300, 70).astype(float)}, index=idx)
    values.iloc[-1, 0] = 30.0  # the office was closed
    day = idx[-1].date()
    closed = pd.DataFrame({"start": [idx[-1]], "name": ["Independence Day (PL)"]})
    tile = tiles(values, day, kpis=("incoming",), events=closed)[0]
    assert not tile.abnormal and tile.state == "unknown" and tile.expected is None
    assert tile.verdict() == "Not judged: Independence Day (PL)"
    assert tile.expected_text() == "Independence Day (PL): not judged"
    judged = tiles(values, day, kpis=("incoming",))[0]  # without the event the same day is a drop
    assert judged.abnormal and judged.direction == "drop"


def test_the_summary_says_one_case_in_the_singular() -> None:
    from metrics.standup import Tile
    from metrics.standup import narrative as summary

    day = date(2026, 4, 26)
    tile = Tile(kpi=get_kpi("incoming"), day=day, value=1.0, expected=1.0, lower=0.0, upper=4.0, score=0.1,
                abnormal=False, direction="", week_ago=1.0, median_4w=1.0, trend=())
    text = summary(day, [tile], pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), None)
    assert ", 1 case came in" in text

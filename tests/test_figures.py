"""Figures: expected bands stay within what a KPI can take, legends stay clear of the axis labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import charts  # noqa: F401  (registers the "ops" template)
from charts.drilldown import contribution_figure, decomposition_figure
from charts.figures import anomaly_figure, clip_band, trend_figure
from metrics.anomalies import detect
from metrics.kpis import get_kpi

DAYS = pd.date_range("2026-03-01", periods=84, freq="D")


def small_counts(seed: int = 1) -> pd.Series:
    """A count of a few cases a day: the detector's band dips below zero on it."""
    rng = np.random.default_rng(seed)
    return pd.Series(rng.poisson(np.where(DAYS.day_of_week < 5, 6.0, 1.0)).astype(float), index=DAYS)


def test_clip_band_keeps_counts_at_or_above_zero_and_shares_within_100():
    band = pd.DataFrame({"lower": [-3.0, 1.0, np.nan], "upper": [2.0, 104.0, np.nan], "observed": [-1.0, 0.0, 5.0]})
    counts = clip_band(band, get_kpi("incoming"))
    pd.testing.assert_frame_equal(counts, band.assign(lower=[0.0, 1.0, np.nan]))
    shares = clip_band(band, get_kpi("sla_attainment"))
    pd.testing.assert_frame_equal(shares, band.assign(lower=[0.0, 1.0, np.nan], upper=[2.0, 100.0, np.nan]))
    assert band.loc[0, "lower"] == -3.0  # the input is left alone
    assert get_kpi("aht").bounds == (0.0, None) and get_kpi("automation_rate").bounds == (0.0, 100.0)


def _band_traces(fig) -> list[np.ndarray]:
    """The band's two edges: the filled trace (lower) and the one it fills to (upper)."""
    lower = next(i for i, t in enumerate(fig.data) if getattr(t, "fill", None) == "tonexty")
    return [np.asarray(fig.data[i].y, dtype=float) for i in (lower - 1, lower)]


@pytest.mark.parametrize("build", ["trend", "anomaly", "decomposition", "standup multiples"])
def test_no_chart_draws_a_count_band_below_zero(build: str):
    detected = detect(small_counts(), period=7, kind="count", engine="fast")
    assert (detected["lower"] < 0).any(), "the example must have a band below zero to clip"
    kpi = get_kpi("incoming")
    if build == "trend":
        fig = trend_figure(pd.DataFrame({"incoming": detected["observed"]}), kpi, band=detected[["lower", "upper"]])
    elif build == "anomaly":
        fig = anomaly_figure(detected.dropna(subset=["expected"]), kpi)
    elif build == "decomposition":
        fig = decomposition_figure(detected, kpi, DAYS[-1].date())
    else:
        from charts.figures import workflow_figure

        frame = detected.reset_index(names="day").assign(workflow="copyright", state="")
        fig = workflow_figure(frame, "incoming")
    bands = _band_traces(fig)
    assert len(bands) == 2
    assert all(np.nanmin(y) >= 0 for y in bands)
    assert any(np.nanmin(y) == 0 for y in bands)  # clipped, not dropped


def test_trend_legend_sits_above_the_plot_not_on_the_date_labels():
    frame = pd.DataFrame({"incoming": small_counts().to_numpy()}, index=DAYS)
    fig = trend_figure(frame, get_kpi("incoming"), band=pd.DataFrame({"lower": 0.0, "upper": 9.0}, index=DAYS))
    # the figure's own legend settings, else the "ops" template's (above the plot, anchored at its bottom)
    legend, default = fig.layout.legend, fig.layout.template.layout.legend
    y = legend.y if legend.y is not None else default.y
    assert y >= 1.0 and (legend.yanchor or default.yanchor) == "bottom"
    assert fig.layout.title.yref == "container" and fig.layout.margin.t >= 80  # room for title and legend


def test_long_cause_names_wrap_instead_of_tilting_the_waterfall_labels():
    causes = pd.DataFrame({"filters": [{"workflow": "brand_impersonation", "channel": "web_form",
                                        "vendor_site": "Manila"}], "delta": [48.0], "share_of_delta": [0.5]})

    class Result:  # the fields contribution_figure reads from an Analysis
        kpi = get_kpi("incoming")
        mix = None
        expected, actual = 450.0, 549.0

    Result.causes = causes
    labels = list(contribution_figure(Result).data[0].x)
    assert labels[0] == "expected" and labels[-1] == "actual"
    assert "<br>" in labels[1] and max(len(part) for part in labels[1].split("<br>")) <= 22
    assert labels[1].replace("<br>", " ") == "brand impersonation × web form at Manila"


def test_the_trend_tooltip_states_expected_deviation_and_the_comparison() -> None:
    days = pd.date_range("2026-06-01", periods=14, freq="D")
    frame = pd.DataFrame({"incoming": np.arange(100.0, 114.0)}, index=days)
    band = pd.DataFrame({"expected": 100.0, "lower": 90.0, "upper": 110.0}, index=days)
    week = frame["incoming"].shift(7, freq="D")
    fig = trend_figure(frame, get_kpi("incoming"), band=band, compare=week, compare_name="same day last week")
    line = next(t for t in fig.data if t.name == "Incoming")
    assert "expected" in line.hovertemplate and "same day last week" in line.hovertemplate
    last = line.customdata[-1]
    assert last[0] == 100.0 and last[1] == pytest.approx(13.0)  # 113 vs 100 expected: +13 %
    assert last[2] == 106.0 and last[3] == pytest.approx((113 - 106) / 106 * 100)
    assert any(t.name == "same day last week" and t.line.dash == "dash" for t in fig.data)
    sla = trend_figure(frame.rename(columns={"incoming": "sla_attainment"}), get_kpi("sla_attainment"), band=band)
    assert "pts" in next(t for t in sla.data if t.name == "SLA attainment").hovertemplate  # points for a rate

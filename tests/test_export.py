"""Chart exports: deck-ready PNG/SVG of the requested size, CSV equal to the chart's data, and a
clean, explained failure when no browser is available (CSV keeps working)."""

from __future__ import annotations

import datetime as dt
import io
import os
import struct
import subprocess
import sys
import textwrap
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import charts
from charts import BAND, ChartMeta, browser_status, chart_data, decorate, to_csv, to_png, to_svg

REPO = Path(__file__).resolve().parents[1]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def kpi_frame() -> pd.DataFrame:
    days = pd.date_range("2024-04-01", periods=28, freq="D", name="Day")
    rng = np.random.default_rng(5)
    expected = np.where(days.day_of_week >= 5, 600.0, 1000.0)
    return pd.DataFrame(
        {"Expected (low)": expected * 0.9, "Expected (high)": expected * 1.1,
         "Incoming": np.round(expected * rng.normal(1, 0.05, len(days)))},
        index=days,
    )


@pytest.fixture
def line_fig(kpi_frame: pd.DataFrame) -> go.Figure:
    """A daily KPI line with its expected band, as the trend pages draw it."""
    f = kpi_frame
    fig = go.Figure([
        go.Scatter(x=f.index, y=f["Expected (low)"], name="Expected (low)", line={"width": 0}, showlegend=False),
        go.Scatter(x=f.index, y=f["Expected (high)"], name="Expected (high)", fill="tonexty", fillcolor=BAND,
                   line={"width": 0}),
        go.Scatter(x=f.index, y=f["Incoming"], name="Incoming"),
    ])
    fig.update_layout(xaxis_title="Day", yaxis_title="Incoming")
    return fig


@pytest.fixture
def meta() -> ChartMeta:
    return ChartMeta("Incoming cases per day", subtitle="Workflow: copyright · Site: Lisbon", unit="cases",
                     source="ops_daily_volume", as_of=dt.date(2024, 4, 28))


# ----------------------------------------------------------------------------- metadata and decoration


def test_chart_meta_requires_a_title() -> None:
    with pytest.raises(ValueError, match="`title` must be a non-empty string"):
        ChartMeta("  ")


def test_chart_meta_rejects_a_non_date_as_of() -> None:
    with pytest.raises(TypeError, match="`as_of` must be a date"):
        ChartMeta("Incoming", as_of="2024-04-28")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "as_of", "expected"),
    [
        ("warehouse", dt.date(2024, 4, 28), "Source: warehouse · Data as of 2024-04-28"),
        ("warehouse", dt.datetime(2024, 4, 28, 6, 30), "Source: warehouse · Data as of 2024-04-28 06:30 UTC"),
        ("", dt.date(2024, 4, 28), "Data as of 2024-04-28"),
        ("warehouse", None, "Source: warehouse"),
        ("", None, ""),
    ],
)
def test_footnote_names_source_and_freshness(source: str, as_of: dt.date | None, expected: str) -> None:
    assert charts.footnote(ChartMeta("t", source=source, as_of=as_of)) == expected


def test_decorate_titles_labels_and_sources_a_copy(line_fig: go.Figure, meta: ChartMeta) -> None:
    before = line_fig.to_json()
    out = decorate(line_fig, meta)
    assert line_fig.to_json() == before, "decorate must not modify the app's figure"
    assert out.layout.title.text == meta.title
    assert out.layout.title.subtitle.text == meta.subtitle
    assert out.layout.yaxis.title.text == "Incoming (cases)"
    assert (out.layout.width, out.layout.height) == (1600, 900)
    assert out.layout.template.layout.colorway == tuple(charts.PALETTE)
    notes = [a.text for a in out.layout.annotations]
    assert notes == [charts.footnote(meta)]


def test_decorate_puts_the_unit_on_the_value_axis_of_horizontal_bars() -> None:
    fig = go.Figure(go.Bar(y=["Lisbon", "Manila"], x=[4.2, 6.1], orientation="h"))
    out = decorate(fig, ChartMeta("AHT by site", unit="minutes"))
    assert out.layout.xaxis.title.text == "minutes"
    assert out.layout.yaxis.title.text is None


def test_decorate_does_not_repeat_a_unit_already_in_the_axis_title() -> None:
    fig = go.Figure(go.Bar(x=["a"], y=[1])).update_layout(yaxis_title="AHT (minutes)")
    assert decorate(fig, ChartMeta("AHT", unit="minutes")).layout.yaxis.title.text == "AHT (minutes)"


def test_decorate_scales_fonts_with_the_export_size(line_fig: go.Figure, meta: ChartMeta) -> None:
    big = decorate(line_fig, meta, width=1600, height=900)
    small = decorate(line_fig, meta, width=800, height=450)
    assert small.layout.font.size * 2 == pytest.approx(big.layout.font.size, abs=1)
    assert small.layout.title.font.size < big.layout.title.font.size


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"width": 50}, "`width` must be an integer >= 100"), ({"height": 12.5}, "`height` must be an integer >= 100")],
)
def test_decorate_rejects_bad_sizes(line_fig: go.Figure, meta: ChartMeta, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decorate(line_fig, meta, **kwargs)


def test_importing_charts_makes_ops_the_default_template() -> None:
    # a fresh interpreter: in this one, Streamlit (imported by other tests) may have set its own default
    probe = ("import charts, plotly.io as pio, plotly.graph_objects as go; "
             "print(pio.templates.default); print(go.Figure().layout.template.layout.font.family)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout.splitlines()
    assert out == [charts.TEMPLATE_NAME, charts.theme.FONT_FAMILY]


# ----------------------------------------------------------------------------- images (need a browser)


def test_png_has_the_requested_pixel_size(chart_browser: None, line_fig: go.Figure, meta: ChartMeta) -> None:
    assert png_size(to_png(line_fig, meta)) == (1600 * 2, 900 * 2)
    assert png_size(to_png(line_fig, meta, width=640, height=400, scale=1.5)) == (960, 600)


def test_png_without_meta_keeps_the_figure_as_drawn(chart_browser: None, line_fig: go.Figure) -> None:
    assert png_size(to_png(line_fig, width=500, height=300, scale=1)) == (500, 300)


def test_svg_has_the_requested_size_and_searchable_titles(chart_browser: None, line_fig: go.Figure,
                                                          meta: ChartMeta) -> None:
    svg = to_svg(line_fig, meta, width=1200, height=675)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert (float(root.get("width")), float(root.get("height"))) == (1200, 675)
    text = " ".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("text"))
    for expected in (meta.title, meta.subtitle, charts.footnote(meta), "Incoming (cases)"):
        assert expected in text


def test_concurrent_exports_each_get_their_own_image(chart_browser: None, line_fig: go.Figure) -> None:
    sizes = [(400 + 40 * i, 300 + 20 * i) for i in range(4)]
    results: dict[int, tuple[int, int]] = {}

    def export(i: int) -> None:
        width, height = sizes[i]
        results[i] = png_size(to_png(line_fig, width=width, height=height, scale=1))

    threads = [threading.Thread(target=export, args=(i,)) for i in range(len(sizes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [results.get(i) for i in range(len(sizes))] == sizes


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"scale": 0}, r"`scale` must be a number in \(0, 8\]"), ({"width": 99}, "`width` must be an integer >= 100")],
)
def test_image_export_rejects_bad_sizes_before_rendering(line_fig: go.Figure, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        to_png(line_fig, **kwargs)


def test_browser_status_reports_a_running_browser_after_an_export(chart_browser: None,
                                                                   line_fig: go.Figure) -> None:
    to_png(line_fig, width=300, height=200, scale=1)
    ok, message = browser_status()
    assert ok, message
    assert "running" in message


# ----------------------------------------------------------------------------- CSV


def test_csv_of_a_kpi_line_equals_its_data(line_fig: go.Figure, kpi_frame: pd.DataFrame) -> None:
    back = pd.read_csv(io.BytesIO(to_csv(line_fig)), index_col="Day", parse_dates=["Day"])
    pd.testing.assert_frame_equal(back, kpi_frame, check_freq=False, check_index_type=False,
                                  check_dtype=False)  # whole numbers come back as integers: same values


def test_csv_of_bars_by_vendor_site_has_one_row_per_site_and_one_column_per_trace() -> None:
    data = pd.DataFrame({"solved": [120, 80, 95], "incoming": [130, 70, 99]},
                        index=pd.Index(["Manila", "Lisbon", "Austin"], name="Vendor site"))
    fig = go.Figure([go.Bar(x=data.index, y=data[c], name=c) for c in data.columns])
    fig.update_layout(xaxis_title="Vendor site")
    back = pd.read_csv(io.BytesIO(to_csv(fig)), index_col="Vendor site")
    pd.testing.assert_frame_equal(back, data, check_index_type=False)


def test_csv_reads_horizontal_bars_with_the_category_on_y() -> None:
    fig = go.Figure(go.Bar(y=["Manila", "Lisbon"], x=[4.5, 6.0], orientation="h", name="AHT"))
    table = chart_data(fig)
    assert table.index.name == "y"
    assert table["AHT"].to_dict() == {"Manila": 4.5, "Lisbon": 6.0}


def test_csv_keeps_traces_with_different_x_as_a_union_of_rows() -> None:
    fig = go.Figure([go.Scatter(x=[1, 2], y=[10, 20], name="a"), go.Scatter(x=[2, 3], y=[5, 6], name="b")])
    expected = pd.DataFrame({"a": [10, 20, np.nan], "b": [np.nan, 5, 6]}, index=pd.Index([1, 2, 3], name="x"))
    pd.testing.assert_frame_equal(chart_data(fig), expected, check_dtype=False)


def test_csv_names_unnamed_and_repeated_traces() -> None:
    fig = go.Figure([go.Bar(x=["a"], y=[1]), go.Bar(x=["a"], y=[2], name="s"), go.Bar(x=["a"], y=[3], name="s")])
    assert list(chart_data(fig).columns) == ["trace 0", "s", "s (2)"]


def test_csv_falls_back_to_long_form_when_x_repeats() -> None:
    fig = go.Figure([go.Scatter(x=[1, 1, 2], y=[3, 4, 5], mode="markers", name="cases")])
    fig.update_layout(xaxis_title="AHT", yaxis_title="CSAT")
    expected = pd.DataFrame({"trace": ["cases"] * 3, "AHT": [1, 1, 2], "CSAT": [3, 4, 5]})
    back = pd.read_csv(io.BytesIO(to_csv(fig)))
    pd.testing.assert_frame_equal(back, expected)


def test_csv_of_a_frame_keeps_a_meaningful_index_only(kpi_frame: pd.DataFrame) -> None:
    assert to_csv(kpi_frame).decode().startswith("Day,")
    plain = kpi_frame.reset_index(drop=True)
    assert to_csv(plain).decode().splitlines()[0] == ",".join(plain.columns)


@pytest.mark.parametrize(("cell", "written"), [
    ('=HYPERLINK("http://x")', "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"), ("\r=cmd", "'\r=cmd"), ("plain", "plain"), ("a=b", "a=b"), ("", ""),
])
def test_csv_bytes_defuses_formulas_in_text_cells_only(cell: str, written: str) -> None:
    from charts.export import csv_bytes

    frame = pd.DataFrame({"text": [cell, "ok"], "delta": [-5, 2], "share": [-0.5, np.nan]})
    text = pd.read_csv(io.BytesIO(csv_bytes(frame)), keep_default_na=False, dtype=str)
    assert text["text"].tolist() == [written, "ok"]
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)))
    assert back["delta"].tolist() == [-5, 2] and back["share"].iloc[0] == -0.5  # numbers stay numbers
    assert frame["text"].iloc[0] == cell  # the caller's frame is untouched


def test_csv_bytes_defuses_headers_and_a_text_index_and_to_csv_uses_it() -> None:
    from charts.export import csv_bytes

    frame = pd.DataFrame({"=cmd": [-1, 2]}, index=pd.Index(["@site", "Dublin"], name="-site"))
    assert csv_bytes(frame, index=True).decode().splitlines() == ["'-site,'=cmd", "'@site,-1", "Dublin,2"]
    assert to_csv(frame) == csv_bytes(frame, index=True)
    fig = go.Figure([go.Bar(x=["=1+1", "B"], y=[-3, 4], name="solved")])
    assert to_csv(fig).decode().splitlines() == ["x,solved", "'=1+1,-3", "B,4"]


def test_csv_refuses_what_it_cannot_tabulate() -> None:
    with pytest.raises(ValueError, match="cannot tabulate a 'heatmap' trace"):
        to_csv(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
    with pytest.raises(ValueError, match="the figure has no traces"):
        to_csv(go.Figure())
    with pytest.raises(TypeError, match="`data` must be a plotly Figure or a pandas DataFrame"):
        to_csv([1, 2])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- no browser

_NO_BROWSER_SCRIPT = textwrap.dedent(
    """
    import json, time
    import plotly.graph_objects as go
    import charts
    fig = go.Figure(go.Bar(x=["Manila", "Lisbon"], y=[3, 4], name="solved"))
    ok, message = charts.browser_status()
    started = time.perf_counter()
    try:
        charts.to_png(fig, charts.ChartMeta("Solved"))
        error = None
    except charts.ExportUnavailable as exc:
        error = str(exc)
    seconds = time.perf_counter() - started
    ok_after, message_after = charts.browser_status()
    print(json.dumps({"ok": ok, "message": message, "error": error, "seconds": seconds,
                      "ok_after": ok_after, "message_after": message_after, "csv": charts.to_csv(fig).decode()}))
    """
)


def _run_without_browser(browser_path: str) -> dict:
    env = {**os.environ, "BROWSER_PATH": browser_path, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _NO_BROWSER_SCRIPT], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_browser_is_reported_with_the_fix_and_csv_still_works(tmp_path: Path) -> None:
    result = _run_without_browser(str(tmp_path / "no-such-chrome"))
    assert result["ok"] is False
    for text in (result["message"], result["error"]):
        assert "apt-get install chromium" in text
        assert "BROWSER_PATH" in text
    assert result["seconds"] < 1, "a missing browser must be reported at once"
    assert result["csv"].splitlines() == ["x,solved", "Manila,3", "Lisbon,4"]


def test_a_browser_that_dies_at_start_raises_instead_of_hanging(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    result = _run_without_browser(str(fake))
    assert result["ok"] is True, "an executable is found before it is tried"
    assert result["error"] is not None and "failed to start" in result["error"]
    assert result["ok_after"] is False and "failed to start" in result["message_after"]
    assert result["csv"].startswith("x,solved")


def test_decorate_leaves_room_for_the_bottom_axis_title_of_horizontal_bars() -> None:
    fig = go.Figure(go.Bar(y=["Lisbon", "Manila"], x=[4.2, 6.1], orientation="h"))
    meta = ChartMeta("AHT by site", unit="minutes", source="ops_daily_volume")
    titled = decorate(fig, meta)
    untitled = decorate(fig, ChartMeta("AHT by site", source="ops_daily_volume"))
    assert titled.layout.xaxis.title.text == "minutes"
    assert titled.layout.margin.b > untitled.layout.margin.b


def test_decorate_leaves_room_for_the_year_line_of_a_date_axis(line_fig: go.Figure, meta: ChartMeta) -> None:
    dated = decorate(line_fig, meta)
    categories = decorate(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])).update_layout(xaxis_title="Day"), meta)
    assert dated.layout.margin.b > categories.layout.margin.b

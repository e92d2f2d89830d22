"""PowerPoint decks: a title slide, one slide per chart (takeaway as title, chart picture, key
numbers, speaker notes with definitions and source), an optional appendix, and a user template
whose masters and layouts are honoured."""

from __future__ import annotations

import datetime as dt
import io
import os
import struct
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches

from charts import ChartMeta, Slide, browser_status, build_deck
from charts.deck import DEFINITIONS_PER_SLIDE

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

DEFINITIONS = {
    "Incoming": "cases created in the period",
    "AHT": "agent handle time summed over manual solved cases / manual solved",
    "Backlog": "cases open at the end of the period",
}


@pytest.fixture(scope="module")
def browser() -> None:
    """Decks embed rendered charts: skip locally without a browser, fail in CI."""
    ok, message = browser_status()
    if not ok:
        if IN_CI:
            pytest.fail(f"CI must render chart images: {message}")
        pytest.skip(f"no browser to render chart images: {message}")


def incoming_slide() -> Slide:
    days = pd.date_range("2024-05-01", periods=21, freq="D")
    fig = go.Figure(go.Scatter(x=days, y=[1000 + 10 * i for i in range(21)], name="Incoming"))
    meta = ChartMeta("Incoming cases per day", subtitle="Workflow: copyright", unit="cases",
                     source="ops_daily_volume", as_of=dt.date(2024, 5, 21))
    return Slide(fig, meta, "Incoming grew 20% over three weeks",
                 key_numbers=[("Incoming, last day", "1,200"), ("Change", "+20%")], notes="Say why it grew.")


def aht_slide() -> Slide:
    fig = go.Figure(go.Bar(x=["Manila", "Lisbon", "Krakow"], y=[4.1, 5.0, 12.5], name="AHT"))
    meta = ChartMeta("AHT by vendor site", unit="minutes", source="warehouse.ops", as_of=dt.datetime(2024, 5, 21, 6))
    return Slide(fig, meta, "")


def open_deck(data: bytes) -> Presentation:
    return Presentation(io.BytesIO(data))


def pictures(slide) -> list:
    return [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]


# ----------------------------------------------------------------------------- validation


def test_slide_rejects_malformed_key_numbers() -> None:
    with pytest.raises(ValueError, match=r"`key_numbers` must hold \(label, value\) pairs of strings"):
        Slide(go.Figure(), ChartMeta("t"), "x", key_numbers=[("Incoming", 1200)])  # type: ignore[list-item]


def test_slide_requires_chart_meta() -> None:
    with pytest.raises(TypeError, match="`meta` must be a ChartMeta"):
        Slide(go.Figure(), {"title": "t"}, "x")  # type: ignore[arg-type]


def test_build_deck_needs_slides_and_a_title() -> None:
    with pytest.raises(ValueError, match="`slides` must hold at least one Slide, got 0"):
        build_deck([], title="Weekly")
    with pytest.raises(ValueError, match="`title` must be a non-empty string"):
        build_deck([aht_slide()], title=" ")


def test_build_deck_reports_a_missing_template_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"`template` must be an existing \.pptx file"):
        build_deck([aht_slide()], title="Weekly", template=tmp_path / "missing.pptx")


# ----------------------------------------------------------------------------- decks (need a browser)


@pytest.fixture(scope="module")
def default_deck(browser: None) -> bytes:
    return build_deck([incoming_slide(), aht_slide()], title="Identity Ops weekly review",
                      subtitle="Identity Operations · 2024-05-15 to 2024-05-21", definitions=DEFINITIONS)


def test_deck_has_title_chart_and_appendix_slides(default_deck: bytes) -> None:
    prs = open_deck(default_deck)
    titles = [s.shapes.title.text if s.shapes.title is not None else None for s in prs.slides]
    assert titles == ["Identity Ops weekly review", "Incoming grew 20% over three weeks",
                      "AHT by vendor site", "Appendix: definitions"]
    assert "2024-05-15 to 2024-05-21" in " ".join(sh.text_frame.text for sh in prs.slides[0].shapes
                                                    if sh.has_text_frame)


def test_default_deck_is_16_to_9_with_titles_inside_the_slide(default_deck: bytes) -> None:
    prs = open_deck(default_deck)
    assert prs.slide_width * 9 == pytest.approx(prs.slide_height * 16, rel=1e-3)
    for slide in prs.slides:
        title = slide.shapes.title
        assert title.left >= 0 and title.left + title.width <= prs.slide_width


def test_each_chart_slide_holds_one_slide_sized_chart_picture(default_deck: bytes) -> None:
    prs = open_deck(default_deck)
    for slide in list(prs.slides)[1:3]:
        (picture,) = pictures(slide)
        blob = picture.image.blob
        assert picture.image.content_type == "image/png"
        assert struct.unpack(">II", blob[16:24]) == (3200, 1800)
        assert picture.left + picture.width <= prs.slide_width
        assert picture.top + picture.height <= prs.slide_height
        assert picture.top >= slide.shapes.title.top + slide.shapes.title.height, "chart overlaps the title"
    assert not pictures(prs.slides[0]) and not pictures(prs.slides[3])


def test_key_numbers_are_shown_beside_the_chart(default_deck: bytes) -> None:
    slide = open_deck(default_deck).slides[1]
    (box,) = [s for s in slide.shapes if s.name == "Key numbers"]
    lines = box.text_frame.text.splitlines()
    assert lines == ["1,200", "Incoming, last day", "+20%", "Change"]
    (picture,) = pictures(slide)
    assert box.left >= picture.left + picture.width
    assert not [s for s in open_deck(default_deck).slides[2].shapes if s.name == "Key numbers"]


def test_speaker_notes_carry_notes_relevant_definitions_and_source(default_deck: bytes) -> None:
    prs = open_deck(default_deck)
    incoming = prs.slides[1].notes_slide.notes_text_frame.text
    assert incoming.startswith("Say why it grew.")
    assert f"Incoming: {DEFINITIONS['Incoming']}" in incoming
    assert "Backlog" not in incoming, "only the definitions the slide talks about"
    assert "Source: ops_daily_volume · Data as of 2024-05-21" in incoming
    assert "Filters: Workflow: copyright" in incoming
    aht = prs.slides[2].notes_slide.notes_text_frame.text
    assert f"AHT: {DEFINITIONS['AHT']}" in aht
    assert "Source: warehouse.ops · Data as of 2024-05-21 06:00 UTC" in aht


def test_appendix_lists_every_definition(default_deck: bytes) -> None:
    text = " ".join(sh.text_frame.text for sh in open_deck(default_deck).slides[3].shapes if sh.has_text_frame)
    for term, definition in DEFINITIONS.items():
        assert f"{term}: {definition}" in text


def test_long_appendix_continues_on_more_slides(browser: None) -> None:
    many = {f"KPI {i:02d}": f"definition {i}" for i in range(DEFINITIONS_PER_SLIDE + 3)}
    prs = open_deck(build_deck([aht_slide()], title="Weekly", definitions=many))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles[2:] == ["Appendix: definitions (1/2)", "Appendix: definitions (2/2)"]
    text = " ".join(sh.text_frame.text for s in list(prs.slides)[2:] for sh in s.shapes if sh.has_text_frame)
    assert all(f"{term}: {d}" in text for term, d in many.items())


def test_no_definitions_means_no_appendix(browser: None) -> None:
    prs = open_deck(build_deck([aht_slide()], title="Weekly"))
    assert len(prs.slides) == 2


# ----------------------------------------------------------------------------- user templates

BRAND = RGBColor(0xF4, 0xEF, 0xE6)


def make_template(*, rename_title_only: bool = False) -> bytes:
    """A user template: custom size, a branded master background, and a sample slide that must not survive."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(12), Inches(6.75)
    fill = prs.slide_master.background.fill
    fill.solid()
    fill.fore_color.rgb = BRAND
    if rename_title_only:
        layout = next(la for la in prs.slide_layouts if la.name == "Title Only")
        layout._element.cSld.set("name", "Chart headline")
    sample = prs.slides.add_slide(prs.slide_layouts[1])
    sample.shapes.title.text = "Sample slide from the template"
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def test_template_masters_size_and_layouts_are_honoured(browser: None, tmp_path: Path) -> None:
    path = tmp_path / "brand.pptx"
    path.write_bytes(make_template())
    prs = open_deck(build_deck([aht_slide(), incoming_slide()], title="Weekly", template=path))
    assert (prs.slide_width, prs.slide_height) == (Inches(12), Inches(6.75))
    assert len(prs.slides) == 3, "the template's own sample slide is dropped"
    assert prs.slide_master.background.fill.fore_color.rgb == BRAND
    assert all(s.slide_layout.slide_master == prs.slide_master for s in prs.slides)
    assert [s.slide_layout.name for s in prs.slides] == ["Title Slide", "Title Only", "Title Only"]
    for slide in list(prs.slides)[1:]:
        (picture,) = pictures(slide)
        assert picture.left + picture.width <= prs.slide_width


def test_template_without_a_title_only_layout_falls_back_to_one_with_a_title(browser: None) -> None:
    prs = open_deck(build_deck([aht_slide()], title="Weekly", template=make_template(rename_title_only=True)))
    chart_slide = prs.slides[1]
    assert chart_slide.slide_layout.name != "Title Only"
    assert chart_slide.shapes.title.text == "AHT by vendor site"
    assert len(pictures(chart_slide)) == 1
    assert not [ph for ph in chart_slide.placeholders if not ph.text_frame.text.strip()], "no empty placeholders"

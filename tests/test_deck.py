"""PowerPoint decks: a title slide, one slide per chart (takeaway as title, chart picture, key
numbers, speaker notes with definitions and source), an optional appendix, and a user template
whose masters and layouts are honoured."""

from __future__ import annotations

import datetime as dt
import io
import struct
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches

from charts import ChartMeta, Slide, build_deck
from charts.deck import DEFINITIONS_PER_SLIDE
from charts.deck_items import DeckItem, kpi_definitions, summarize
from metrics.kpis import KPIS, get_kpi

DEFINITIONS = {
    "Incoming": "cases created in the period",
    "AHT": "agent handle time summed over manual solved cases / manual solved",
    "Backlog": "cases open at the end of the period",
}


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
def default_deck(chart_browser: None) -> bytes:
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


def test_long_appendix_continues_on_more_slides(chart_browser: None) -> None:
    many = {f"KPI {i:02d}": f"definition {i}" for i in range(DEFINITIONS_PER_SLIDE + 3)}
    prs = open_deck(build_deck([aht_slide()], title="Weekly", definitions=many))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles[2:] == ["Appendix: definitions (1/2)", "Appendix: definitions (2/2)"]
    text = " ".join(sh.text_frame.text for s in list(prs.slides)[2:] for sh in s.shapes if sh.has_text_frame)
    assert all(f"{term}: {d}" in text for term, d in many.items())


def test_no_definitions_means_no_appendix(chart_browser: None) -> None:
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


def test_template_masters_size_and_layouts_are_honoured(chart_browser: None, tmp_path: Path) -> None:
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


def test_template_without_a_title_only_layout_falls_back_to_one_with_a_title(chart_browser: None) -> None:
    prs = open_deck(build_deck([aht_slide()], title="Weekly", template=make_template(rename_title_only=True)))
    chart_slide = prs.slides[1]
    assert chart_slide.slide_layout.name != "Title Only"
    assert chart_slide.shapes.title.text == "AHT by vendor site"
    assert len(pictures(chart_slide)) == 1
    assert not [ph for ph in chart_slide.placeholders if not ph.text_frame.text.strip()], "no empty placeholders"


# ----------------------------------------------------------------------------- terms, appendix switch, bad templates


def test_slide_terms_put_their_definitions_in_the_notes(chart_browser: None) -> None:
    spec = aht_slide()
    with_terms = Slide(spec.figure, spec.meta, "Sites differ", terms=("Backlog",))
    prs = open_deck(build_deck([with_terms], title="Weekly", definitions=DEFINITIONS, appendix=False))
    notes = prs.slides[1].notes_slide.notes_text_frame.text
    assert f"Backlog: {DEFINITIONS['Backlog']}" in notes
    assert len(prs.slides) == 2, "appendix=False keeps the definitions out of the slides"


def test_slide_rejects_a_string_as_terms() -> None:
    spec = aht_slide()
    with pytest.raises(TypeError, match="`terms` must be a sequence of strings"):
        Slide(spec.figure, spec.meta, "", terms="AHT")  # type: ignore[arg-type]


@pytest.mark.parametrize("blob", [b"not a zip at all", b"PK\x03\x04broken"])
def test_a_template_that_is_not_a_pptx_is_refused_with_the_rule(blob: bytes) -> None:
    with pytest.raises(ValueError, match=r"`template` must be a PowerPoint \.pptx file"):
        build_deck([aht_slide()], title="Weekly", template=blob)


# ----------------------------------------------------------------------------- collected items



def daily(values: list[float], name: str = "incoming", start: str = "2026-06-01") -> pd.DataFrame:
    return pd.DataFrame({name: values}, index=pd.date_range(start, periods=len(values), freq="D"))


def test_summary_of_a_daily_flow_compares_with_a_week_earlier_and_totals() -> None:
    takeaway, numbers = summarize(daily([100.0] * 7 + [125.0]), kpi=get_kpi("incoming"))
    assert takeaway == "Incoming 125 on Mon 08 Jun 2026, +25.0 % vs a week earlier"
    assert numbers == (("Incoming, 08 Jun 2026", "125"), ("Change vs a week earlier", "+25.0 %"),
                       ("Total, 01 Jun – 08 Jun 2026", "825"))


def test_summary_of_a_percent_kpi_speaks_in_points_and_gives_a_range_not_a_mean() -> None:
    takeaway, numbers = summarize(daily([90.0, 95.0, 92.0, 91.0, 90.0, 93.0, 94.0, 88.5], "sla_attainment"),
                                  kpi=get_kpi("sla_attainment"))
    assert takeaway.endswith("-1.5 pts vs a week earlier")
    assert ("Lowest – highest", "88.5 % – 95.0 %") in numbers


def test_summary_of_weekly_values_compares_with_the_previous_week() -> None:
    frame = pd.DataFrame({"aht": [10.0, 12.0]}, index=pd.to_datetime(["2026-06-01", "2026-06-08"]))
    takeaway, _ = summarize(frame, kpi=get_kpi("aht"))
    assert takeaway == "AHT 12.0 min in the week of 08 Jun 2026, +20.0 % vs the previous week"


def test_summary_of_categories_names_highest_and_lowest_and_skips_bands() -> None:
    frame = pd.DataFrame({"Expected (high)": [99.0, 99.0, 99.0], "AHT": [4.0, 9.5, 6.0]},
                         index=pd.Index(["Manila", "Lisbon", "Austin"]))
    takeaway, numbers = summarize(frame, kpi=get_kpi("aht"))
    assert takeaway == "AHT: highest at Lisbon (9.5 min), lowest at Manila (4.0 min)"
    assert numbers == (("Lisbon", "9.5 min"), ("Austin", "6.0 min"), ("Manila", "4.0 min"))


def test_summary_of_nothing_numeric_is_empty() -> None:
    assert summarize(pd.DataFrame({"site": ["a", "b"]})) == ("", ())
    with pytest.raises(TypeError, match="`data` must be a pandas DataFrame"):
        summarize([1, 2])  # type: ignore[arg-type]


def test_deck_item_keeps_the_figure_as_json_and_defaults_from_its_data() -> None:
    slide = aht_slide()
    item = DeckItem.from_figure(slide.figure, slide.meta, kpi_names=["aht"], origin="trends_chart")
    assert item.figure().to_dict()["data"] == slide.figure.to_dict()["data"]
    assert item.takeaway == "AHT: highest at Krakow (12.5 min), lowest at Manila (4.1 min)"
    assert item.key_numbers[0] == ("Krakow", "12.5 min")
    as_slide = item.to_slide()
    assert (as_slide.takeaway, as_slide.terms, as_slide.meta) == (item.takeaway, ("AHT",), slide.meta)


def test_deck_item_overrides_and_edits_keep_its_identity() -> None:
    slide = incoming_slide()
    item = DeckItem.from_figure(slide.figure, slide.meta, kpi_names=["incoming"], takeaway="Mine",
                                key_numbers=[("a", "1")])
    assert (item.takeaway, item.key_numbers) == ("Mine", (("a", "1"),))
    edited = item.edited(takeaway="Better", key_numbers=[("b", "2")])
    assert (edited.item_id, edited.takeaway, edited.key_numbers) == (item.item_id, "Better", (("b", "2"),))
    assert item.takeaway == "Mine", "items are immutable"
    assert DeckItem.from_figure(slide.figure, slide.meta).item_id != item.item_id


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"kpi_names": ("speed",)}, ValueError, "`kpi_names` must name registered KPIs: unknown KPI 'speed'"),
     ({"figure_json": "[]"}, ValueError, "`figure_json` must be a plotly figure as JSON"),
     ({"key_numbers": (("only a label",),)}, ValueError, "`key_numbers` must hold"),
     ({"meta": "Incoming"}, TypeError, "`meta` must be a ChartMeta")],
)
def test_deck_item_validates_its_fields(kwargs: dict, error: type, match: str) -> None:
    fields = {"figure_json": aht_slide().figure.to_json(), "meta": aht_slide().meta, **kwargs}
    with pytest.raises(error, match=match):
        DeckItem(**fields)


def test_kpi_definitions_follow_the_items_in_registry_order() -> None:
    fig, meta = aht_slide().figure, aht_slide().meta
    items = [DeckItem.from_figure(fig, meta, kpi_names=[name]) for name in ("aht", "incoming")]
    assert list(kpi_definitions(items)) == ["Incoming", "AHT"]
    assert kpi_definitions(items)["AHT"] == get_kpi("aht").description
    assert len(kpi_definitions(every=True)) == len(KPIS)

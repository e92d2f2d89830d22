"""Build a stakeholder PowerPoint deck (.pptx) from charts the analyst picked.

One title slide, one slide per chart (the takeaway as the slide title, the chart as a PNG, key
numbers beside it, speaker notes with KPI definitions and the data source), and an optional
appendix of definitions. A user template's masters, theme and layouts are honoured; without one
the deck is 16:9 on python-pptx's default theme.
"""

from __future__ import annotations

import io
import os
import re
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from lxml import etree
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.enum.text import MSO_AUTO_SIZE, PP_ALIGN
from pptx.exc import PackageNotFoundError
from pptx.presentation import Presentation as PresentationT
from pptx.slide import Slide as PptxSlide
from pptx.slide import SlideLayout
from pptx.util import Emu, Inches, Pt

from charts import theme
from charts.export import ChartMeta, footnote, to_png
from metrics.kpis import KPI, KPIS, get_kpi

__all__ = [
    "DEFINITIONS_PER_SLIDE",
    "DeckItem",
    "Slide",
    "build_deck",
    "kpi_definitions",
    "sentences",
    "summarize",
]

#: Appendix definitions listed per slide before continuing on another one (keeps 14 pt text on the slide).
DEFINITIONS_PER_SLIDE = 10

_SLIDE_WIDTH = Inches(13.333)
_SLIDE_HEIGHT = Inches(7.5)
_MARGIN = Inches(0.4)
_GAP = Inches(0.25)
# The chart picture is rendered at the exports' slide size; its aspect ratio drives the layout.
_IMG_WIDTH, _IMG_HEIGHT, _IMG_SCALE = 1600, 900, 2
_TITLE_TYPES = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE)
_BODY_TYPES = (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT, PP_PLACEHOLDER.SUBTITLE)


@dataclass(frozen=True)
class Slide:
    """One chart slide of a deck.

    Parameters
    ----------
    figure : plotly.graph_objects.Figure
        The chart as shown in the app (decorated with ``meta`` when rendered).
    meta : ChartMeta
        Title, filters, unit, source and freshness printed on the chart.
    takeaway : str
        The one-line message of the slide; it becomes the slide title (``meta.title`` if blank).
    key_numbers : sequence of (label, value) pairs
        Numbers shown beside the chart, e.g. ``("Incoming, Tue", "12,480")``; values are
        preformatted strings.
    notes : str
        Extra speaker notes, placed before the definitions and the source.
    terms : sequence of str
        Definition terms (e.g. the labels of the KPIs the chart shows) always listed in the speaker
        notes when ``build_deck`` has a definition for them, besides those found in the text.
    """

    figure: go.Figure
    meta: ChartMeta
    takeaway: str
    key_numbers: Sequence[tuple[str, str]] = ()
    notes: str = ""
    terms: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.figure, go.Figure):
            raise TypeError(f"`figure` must be a plotly Figure, got {type(self.figure).__name__}")
        if not isinstance(self.meta, ChartMeta):
            raise TypeError(f"`meta` must be a ChartMeta, got {type(self.meta).__name__}")
        if not isinstance(self.takeaway, str):
            raise TypeError(f"`takeaway` must be a string, got {type(self.takeaway).__name__}")
        pairs = tuple(tuple(p) for p in self.key_numbers)
        for pair in pairs:
            if len(pair) != 2 or not all(isinstance(v, str) for v in pair):
                raise ValueError(f"`key_numbers` must hold (label, value) pairs of strings, got {pair!r}")
        object.__setattr__(self, "key_numbers", pairs)
        if isinstance(self.terms, str) or not all(isinstance(t, str) for t in self.terms):
            raise TypeError(f"`terms` must be a sequence of strings, got {self.terms!r}")
        object.__setattr__(self, "terms", tuple(self.terms))


# ----------------------------------------------------------------------------- template handling


def _open(template: bytes | str | os.PathLike[str] | None) -> tuple[PresentationT, bool]:
    if template is None:
        prs = Presentation()
        _widen_default(prs)
        return prs, False
    if isinstance(template, bytes | bytearray):
        source: io.BytesIO | str = io.BytesIO(bytes(template))
    elif isinstance(template, str | os.PathLike):
        if not os.path.isfile(template):
            raise FileNotFoundError(f"`template` must be an existing .pptx file, got {os.fspath(template)!r}")
        source = os.fspath(template)
    else:
        raise TypeError(f"`template` must be bytes, a path or None, got {type(template).__name__}")
    try:
        prs = Presentation(source)
    # python-pptx reports a bad file as whichever zip/XML/package error it meets first.
    except (zipfile.BadZipFile, KeyError, ValueError, PackageNotFoundError, etree.XMLSyntaxError) as exc:
        raise ValueError(f"`template` must be a PowerPoint .pptx file (not .ppt/.potx/.odp), "
                         f"but it could not be read: {exc}") from exc
    if not [layout for master in prs.slide_masters for layout in master.slide_layouts]:
        raise ValueError("`template` must have at least one slide layout, got none")
    return prs, True


def _widen_default(prs: PresentationT) -> None:
    """Make python-pptx's 4:3 default template 16:9, stretching master and layout shapes to match."""
    factor = _SLIDE_WIDTH / prs.slide_width
    prs.slide_width, prs.slide_height = _SLIDE_WIDTH, _SLIDE_HEIGHT
    shapes = [*prs.slide_master.shapes, *(ph for layout in prs.slide_layouts for ph in layout.placeholders)]
    # Read every geometry before writing any: layout placeholders inherit theirs from the master,
    # and setting one field on an inheriting shape creates an xfrm whose other fields are zero.
    boxes = [(shape, shape.left, shape.top, shape.width, shape.height) for shape in shapes if shape.width is not None]
    for shape, left, top, width, height in boxes:
        shape.left, shape.width = Emu(round(left * factor)), Emu(round(width * factor))
        shape.top, shape.height = top, height


def _drop_existing_slides(prs: PresentationT) -> None:
    # A template file often carries sample slides; the deck must hold only what we build.
    id_list = prs.slides._sldIdLst
    for sld_id in list(id_list):
        r_id = sld_id.rId
        id_list.remove(sld_id)
        prs.part.drop_rel(r_id)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _has(layout: SlideLayout, types: tuple[PP_PLACEHOLDER, ...]) -> bool:
    return any(ph.placeholder_format.type in types for ph in layout.placeholders)


def _layout(prs: PresentationT, names: Sequence[str], *, need_body: bool = False) -> SlideLayout:
    """First layout whose name matches ``names`` (any master), else one with a title (and body)."""
    layouts = [layout for master in prs.slide_masters for layout in master.slide_layouts]
    by_name = {_norm(layout.name): layout for layout in reversed(layouts)}
    for name in names:
        if _norm(name) in by_name:
            return by_name[_norm(name)]
    for layout in layouts:
        if _has(layout, _TITLE_TYPES) and (not need_body or _has(layout, _BODY_TYPES)):
            return layout
    return layouts[0]


def _title(slide: PptxSlide, text: str) -> object | None:
    shape = slide.shapes.title
    if shape is None:
        return None
    shape.text = text
    return shape


def _placeholder(slide: PptxSlide, types: tuple[PP_PLACEHOLDER, ...]) -> object | None:
    return next((ph for ph in slide.placeholders if ph.placeholder_format.type in types), None)


def _drop_empty_placeholders(slide: PptxSlide) -> None:
    # Unused placeholders show "Click to add text" in the editor and, in some viewers, in print.
    for ph in list(slide.placeholders):
        if not ph.has_text_frame or not ph.text_frame.text.strip():
            ph._element.getparent().remove(ph._element)


def _content_box(prs: PresentationT, slide: PptxSlide) -> tuple[int, int, int, int]:
    """(left, top, width, height) below the slide title, with the title's left margin on both sides.

    Mirroring the left margin (rather than using the title's width) keeps charts full-width on
    templates whose title placeholder is narrower than the slide.
    """
    width, height = prs.slide_width, prs.slide_height
    title = slide.shapes.title
    if title is not None and title.width:
        left = min(max(title.left, _MARGIN // 2), width // 4)
        right = width - left
        top = title.top + title.height + _GAP // 2
    else:
        left, right, top = _MARGIN, width - _MARGIN, _MARGIN
    return int(left), int(top), int(right - left), int(height - _MARGIN - top)


# ----------------------------------------------------------------------------- slides


def _fit_title(shape: object, *, size: int | None, align_left: bool = False) -> None:
    """Let a long takeaway wrap; on our own default theme also set its size and alignment.

    A user template's title style is left alone except for shrink-on-overflow.
    """
    frame = shape.text_frame  # type: ignore[attr-defined]
    frame.word_wrap = True
    if size is None:
        frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
        return
    for paragraph in frame.paragraphs:
        if align_left:
            paragraph.alignment = PP_ALIGN.LEFT
        for run in paragraph.runs:
            run.font.size = Pt(size)


def _title_slide(prs: PresentationT, title: str, subtitle: str, *, own_template: bool) -> None:
    slide = prs.slides.add_slide(_layout(prs, ("Title Slide", "Title"), need_body=True))
    shape = _title(slide, title)
    if shape is not None and not own_template:
        _fit_title(shape, size=40)
    if subtitle:
        sub = _placeholder(slide, (PP_PLACEHOLDER.SUBTITLE, PP_PLACEHOLDER.BODY))
        if sub is not None:
            sub.text = subtitle
            if not own_template:
                _fit_title(sub, size=24)
        else:
            left, top, width, _ = _content_box(prs, slide)
            box = slide.shapes.add_textbox(left, top, width, Inches(1))
            box.text_frame.text = subtitle
    _drop_empty_placeholders(slide)


def _relevant_definitions(spec: Slide, definitions: Mapping[str, str]) -> list[tuple[str, str]]:
    """Definitions named in ``spec.terms`` or whose term occurs in the slide's text or trace names."""
    haystack = " ".join(
        [spec.takeaway, spec.meta.title, spec.meta.subtitle, spec.notes]
        + [str(t.name) for t in spec.figure.data if getattr(t, "name", None)]
    ).lower()
    named = {t.lower() for t in spec.terms}
    return [
        (term, text)
        for term, text in definitions.items()
        if term.lower() in named or term.lower() in haystack or term.lower().replace("_", " ") in haystack
    ]


def _notes_text(spec: Slide, definitions: Mapping[str, str]) -> str:
    parts = [spec.notes.strip()] if spec.notes.strip() else []
    relevant = _relevant_definitions(spec, definitions)
    if relevant:
        parts.append("Definitions:\n" + "\n".join(f"- {term}: {text}" for term, text in relevant))
    filters = f"Filters: {spec.meta.subtitle}" if spec.meta.subtitle else ""
    source = footnote(spec.meta)
    parts.append("\n".join(p for p in (filters, source or "Source: not stated") if p))
    return "\n\n".join(parts)


def _key_numbers_box(slide: PptxSlide, pairs: Sequence[tuple[str, str]], box: tuple[int, int, int, int]) -> None:
    left, top, width, height = box
    shape = slide.shapes.add_textbox(left, top, width, height)
    shape.name = "Key numbers"
    frame = shape.text_frame
    frame.word_wrap = True
    muted = RGBColor.from_string(theme.MUTED.lstrip("#"))
    # One value size for the whole box, small enough that the longest value fits on one line.
    value_size = Pt(30) if max(len(v) for _, v in pairs) <= 9 else Pt(22)
    first = True
    for label, value in pairs:
        value_par = frame.paragraphs[0] if first else frame.add_paragraph()
        if not first:
            value_par.space_before = Pt(14)
        first = False
        run = value_par.add_run()
        run.text = value
        run.font.size, run.font.bold = value_size, True
        label_par = frame.add_paragraph()
        run = label_par.add_run()
        run.text = label
        run.font.size = Pt(14)
        run.font.color.rgb = muted


def _chart_slide(prs: PresentationT, spec: Slide, definitions: Mapping[str, str], *, own_template: bool) -> None:
    slide = prs.slides.add_slide(_layout(prs, ("Title Only", "Title and Content", "Title")))
    shape = _title(slide, spec.takeaway.strip() or spec.meta.title)
    if shape is not None:
        _fit_title(shape, size=None if own_template else 28, align_left=True)
    _drop_empty_placeholders(slide)

    left, top, width, height = _content_box(prs, slide)
    numbers_width = int(width * 0.24) if spec.key_numbers else 0
    chart_width = width - (numbers_width + _GAP if numbers_width else 0)
    # Fit the picture in the chart area, keeping its aspect ratio.
    pic_w = min(chart_width, int(height * _IMG_WIDTH / _IMG_HEIGHT))
    pic_h = int(pic_w * _IMG_HEIGHT / _IMG_WIDTH)
    png = to_png(spec.figure, spec.meta, width=_IMG_WIDTH, height=_IMG_HEIGHT, scale=_IMG_SCALE)
    picture = slide.shapes.add_picture(io.BytesIO(png), left, top, width=pic_w, height=pic_h)
    picture.name = "Chart"
    picture._element.nvPicPr.cNvPr.set("descr", spec.meta.title)  # alt text for screen readers
    if spec.key_numbers:
        _key_numbers_box(slide, spec.key_numbers, (left + pic_w + _GAP, top + Inches(0.3), numbers_width, pic_h))
    slide.notes_slide.notes_text_frame.text = _notes_text(spec, definitions)


def _text_slide(prs: PresentationT, heading: str, *, own_template: bool) -> tuple[PptxSlide, object]:
    """A slide of text: its title, and the text frame of its body (the layout's, else a box under the title)."""
    slide = prs.slides.add_slide(_layout(prs, ("Title and Content", "Title Only", "Title")))
    shape = _title(slide, heading)
    if shape is not None:
        _fit_title(shape, size=None if own_template else 28, align_left=True)
    body = _placeholder(slide, (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT))
    if body is None:
        body = slide.shapes.add_textbox(*_content_box(prs, slide))
    frame = body.text_frame
    frame.word_wrap = True
    return slide, frame


def _summary_slide(prs: PresentationT, heading: str, points: Sequence[str], *, own_template: bool) -> None:
    """The deck's opening message: the stand-up's summary, one sentence per bullet."""
    slide, frame = _text_slide(prs, heading, own_template=own_template)
    size = Pt(20 if len(points) <= 4 and sum(map(len, points)) <= 520 else 16)
    for i, point in enumerate(points):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        paragraph.space_after = Pt(8)
        run = paragraph.add_run()
        run.text = point
        run.font.size = size
    _drop_empty_placeholders(slide)


def sentences(text: str) -> list[str]:
    """A paragraph as its sentences (a full stop followed by a space and a capital ends one; "5.2 %" does not).

    >>> sentences("Incoming 5,210 (+3.1 %). Two things are abnormal. AHT 9.4 min.")
    ['Incoming 5,210 (+3.1 %).', 'Two things are abnormal.', 'AHT 9.4 min.']
    """
    return [p.strip() for p in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])", str(text).strip()) if p.strip()]


def _appendix(prs: PresentationT, definitions: Mapping[str, str], *, own_template: bool) -> None:
    items = list(definitions.items())
    chunks = [items[i : i + DEFINITIONS_PER_SLIDE] for i in range(0, len(items), DEFINITIONS_PER_SLIDE)]
    for n, chunk in enumerate(chunks, start=1):
        suffix = f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""
        slide, frame = _text_slide(prs, f"Appendix: definitions{suffix}", own_template=own_template)
        for i, (term, text) in enumerate(chunk):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            paragraph.space_after = Pt(4)
            term_run = paragraph.add_run()
            term_run.text = f"{term}: "
            term_run.font.bold = True
            text_run = paragraph.add_run()
            text_run.text = text
            for run in (term_run, text_run):
                run.font.size = Pt(16 if len(chunk) <= 6 else 14)
        _drop_empty_placeholders(slide)


def build_deck(
    slides: Sequence[Slide],
    *,
    title: str,
    subtitle: str = "",
    definitions: Mapping[str, str] | None = None,
    appendix: bool = True,
    template: bytes | str | os.PathLike[str] | None = None,
    summary: tuple[str, Sequence[str]] | None = None,
) -> bytes:
    """Build a .pptx deck: title slide, one slide per chart, optional definitions appendix.

    Parameters
    ----------
    slides : sequence of Slide
        Charts in presentation order (at least one).
    title : str, keyword-only
        Deck title, e.g. "Identity Ops weekly review".
    subtitle : str, keyword-only
        Team and date range, e.g. "Identity Operations · 2024-05-20 to 2024-05-26".
    definitions : mapping of str to str, optional, keyword-only
        KPI term -> definition. Each chart slide's speaker notes list the definitions whose term
        occurs in its takeaway, chart title, filters, notes or trace names (or is one of its
        ``terms``); when given, appendix slides list them all (:data:`DEFINITIONS_PER_SLIDE` per slide).
    appendix : bool, keyword-only
        Add the definitions appendix (default); ``False`` keeps the definitions in the notes only.
    template : bytes or path-like, optional, keyword-only
        A user .pptx whose masters, theme, slide size and layouts are used. Layouts are picked by
        name ("Title Slide"; "Title Only" for charts; "Title and Content" for the appendix), else
        the first layout with a title. Slides already in the template are dropped. Without a
        template the deck is 16:9 (13.33 x 7.5 in) on python-pptx's default theme.
    summary : (str, sequence of str), optional, keyword-only
        ``(heading, points)``: a slide right after the title slide with the deck's message, e.g. the
        stand-up's summary of the day, one sentence per point.

    Returns
    -------
    bytes
        The .pptx file.

    Raises
    ------
    ValueError
        If ``slides`` is empty, ``title`` is blank, or ``template`` is not a readable .pptx.
    TypeError
        If a slide is not a :class:`Slide` or ``template`` has an unsupported type.
    FileNotFoundError
        If ``template`` is a path that does not exist.
    charts.export.ExportUnavailable
        If no browser is available to render the chart pictures.

    Examples
    --------
    >>> deck = build_deck([Slide(fig, meta, "Backlog is back to normal")],
    ...                   title="Weekly review", subtitle="Identity Ops · May 20-26")  # doctest: +SKIP
    >>> deck[:2]  # doctest: +SKIP
    b'PK'
    """
    slides = list(slides)
    if not slides:
        raise ValueError("`slides` must hold at least one Slide, got 0")
    for i, spec in enumerate(slides):
        if not isinstance(spec, Slide):
            raise TypeError(f"`slides[{i}]` must be a Slide, got {type(spec).__name__}")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"`title` must be a non-empty string, got {title!r}")
    definitions = dict(definitions or {})

    prs, own_template = _open(template)
    _drop_existing_slides(prs)
    prs.core_properties.title = title
    prs.core_properties.subject = subtitle
    _title_slide(prs, title, subtitle, own_template=own_template)
    if summary is not None and [p for p in summary[1] if str(p).strip()]:
        _summary_slide(prs, summary[0], [str(p) for p in summary[1] if str(p).strip()], own_template=own_template)
    for spec in slides:
        _chart_slide(prs, spec, definitions, own_template=own_template)
    if definitions and appendix:
        _appendix(prs, definitions, own_template=own_template)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


# ----------------------------------------------------------------------------- collected items


def _new_id() -> str:
    return uuid.uuid4().hex[:10]


def _fallback_format(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _pick_column(data: pd.DataFrame, kpi: KPI | None) -> str | None:
    numeric = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
    if kpi is not None:
        for name in (kpi.name, kpi.label):
            if name in numeric:
                return name
    # Band traces ("Expected (low)", "expected range") are context, not the KPI.
    plain = [c for c in numeric if not str(c).lower().startswith("expected")]
    return plain[0] if plain else None


def _change(last: float, before: float, kpi: KPI | None) -> str | None:
    if kpi is not None:
        return kpi.format_change(last, before) or None
    if not np.isfinite(before) or before == 0:
        return None
    return f"{(last - before) / abs(before) * 100:+.1f} %"


def _span(first: pd.Timestamp, last: pd.Timestamp) -> str:
    """A date range with its year(s): ``"08 Oct – 02 Dec 2026"``, ``"15 Dec 2025 – 12 Jan 2026"``."""
    if first.year == last.year:
        return f"{first:%d %b} – {last:%d %b %Y}"
    return f"{first:%d %b %Y} – {last:%d %b %Y}"


def plain_label(value: object) -> str:
    """A chart's category or trace name as slide text: plotly markup (``<br>``, tags, entities) removed."""
    import html

    text = re.sub(r"<br\s*/?>", " ", str(value), flags=re.IGNORECASE)
    text = re.sub(r"</?[a-zA-Z][^>]*>", "", text)
    return " ".join(html.unescape(text).split())


def summarize(data: pd.DataFrame, *, kpi: KPI | None = None) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A default takeaway line and key numbers for a chart's data.

    Parameters
    ----------
    data : pandas.DataFrame
        The chart's data (e.g. :func:`charts.export.chart_data`): a time series (``DatetimeIndex``)
        or one row per category. The column summarised is ``kpi``'s name or label if present,
        else the first numeric column that is not an expected-range band.
    kpi : metrics.kpis.KPI, optional, keyword-only
        Gives the label, the number format and whether totals are meaningful (flows only; ratios
        and stocks get their range instead, since averaging daily ratios would be wrong).

    Returns
    -------
    tuple of (str, tuple of (str, str))
        ``(takeaway, key_numbers)``; ``("", ())`` when there is nothing numeric to say.

    Examples
    --------
    >>> days = pd.date_range("2026-06-01", periods=8, freq="D")
    >>> frame = pd.DataFrame({"incoming": [100.0] * 7 + [110.0]}, index=days)
    >>> summarize(frame, kpi=get_kpi("incoming"))[0]
    'Incoming 110 on Mon 08 Jun 2026, +10.0 % vs a week earlier'
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"`data` must be a pandas DataFrame, got {type(data).__name__}")
    column = _pick_column(data, kpi)
    if column is None:
        return "", ()
    values = pd.to_numeric(data[column], errors="coerce").dropna()
    values = values[np.isfinite(values.to_numpy(dtype="float64"))]
    if values.empty:
        return "", ()
    fmt = kpi.format if kpi is not None else _fallback_format
    label = kpi.label if kpi is not None else str(column)

    if isinstance(values.index, pd.DatetimeIndex):
        values = values.sort_index()
        last_day, last = values.index[-1], float(values.iloc[-1])
        step = values.index.to_series().diff().median() if len(values) > 1 else pd.Timedelta(days=1)
        if step <= pd.Timedelta(days=1):
            when, ref = f"on {last_day:%a %d %b %Y}", "a week earlier"
            before = values.get(last_day - pd.Timedelta(days=7), np.nan)
        else:
            period = "week" if step <= pd.Timedelta(days=7) else "month"
            when, ref = f"in the {period} of {last_day:%d %b %Y}", f"the previous {period}"
            before = float(values.iloc[-2]) if len(values) > 1 else np.nan
        change = _change(last, float(before), kpi)
        takeaway = f"{label} {fmt(last)} {when}" + (f", {change} vs {ref}" if change else "")
        numbers = [(f"{label}, {last_day:%d %b %Y}", fmt(last))]
        if change:
            numbers.append((f"Change vs {ref}", change))
        if kpi is not None and kpi.kind == "flow":
            numbers.append((f"Total, {_span(values.index[0], last_day)}", fmt(float(values.sum()))))
        else:
            numbers.append(("Lowest – highest", f"{fmt(float(values.min()))} – {fmt(float(values.max()))}"))
        return takeaway, tuple(numbers)

    ranked = values.sort_values(ascending=False)
    ranked.index = [plain_label(k) for k in ranked.index]
    top, bottom = ranked.index[0], ranked.index[-1]
    takeaway = f"{label}: highest at {top} ({fmt(float(ranked.iloc[0]))})"
    if len(ranked) > 1:
        takeaway += f", lowest at {bottom} ({fmt(float(ranked.iloc[-1]))})"
    return takeaway, tuple((str(k), fmt(float(v))) for k, v in ranked.head(3).items())


@dataclass(frozen=True)
class DeckItem:
    """A chart the analyst collected for a deck: plain data, kept in the app database (``store``).

    Built by the "Add to deck" button of every chart (with the page's current filters in
    ``meta.subtitle``), edited on the Deck page, turned into a :class:`Slide` when the deck is
    built; the command-line weekly deck builds the same items.

    Parameters
    ----------
    figure_json : str
        The chart as plotly JSON (``fig.to_json()``), so the item does not share a live figure.
    meta : ChartMeta
        Title, filters, unit, source and freshness printed on the chart.
    kpi_names : tuple of str
        Registry names of the KPIs the chart shows; their definitions go in the speaker notes.
    takeaway : str
        The slide title; blank means the chart title.
    key_numbers : tuple of (str, str)
        (label, preformatted value) pairs shown beside the chart.
    notes : str
        Extra speaker notes.
    origin : str
        Key of the chart it came from (e.g. ``"trends_chart"``).
    item_id : str
        Unique id (widget keys on the Deck page follow it when items are reordered).
    """

    figure_json: str
    meta: ChartMeta
    kpi_names: tuple[str, ...] = ()
    takeaway: str = ""
    key_numbers: tuple[tuple[str, str], ...] = ()
    notes: str = ""
    origin: str = ""
    item_id: str = field(default_factory=_new_id)

    def __post_init__(self) -> None:
        if not isinstance(self.figure_json, str) or not self.figure_json.lstrip().startswith("{"):
            raise ValueError("`figure_json` must be a plotly figure as JSON (fig.to_json()), "
                             f"got {str(self.figure_json)[:40]!r}")
        if not isinstance(self.meta, ChartMeta):
            raise TypeError(f"`meta` must be a ChartMeta, got {type(self.meta).__name__}")
        names = (self.kpi_names,) if isinstance(self.kpi_names, str) else tuple(self.kpi_names)
        for name in names:
            try:
                get_kpi(name)
            except KeyError as exc:
                raise ValueError(f"`kpi_names` must name registered KPIs: {exc.args[0]}") from None
        object.__setattr__(self, "kpi_names", names)
        # Slide validates the rest (takeaway type, key number pairs) with the same messages.
        probe = Slide(go.Figure(), self.meta, self.takeaway, self.key_numbers, self.notes)
        object.__setattr__(self, "key_numbers", probe.key_numbers)

    def to_record(self) -> dict:
        """The item as plain JSON-able data (how the app database keeps it); :meth:`from_record` reads it back."""
        meta = self.meta
        return {"version": 1, "figure": self.figure_json,
                "meta": {"title": meta.title, "subtitle": meta.subtitle, "unit": meta.unit, "source": meta.source,
                         "as_of": meta.as_of.isoformat() if meta.as_of is not None else None,
                         "as_of_kind": type(meta.as_of).__name__ if meta.as_of is not None else None},
                "kpi_names": list(self.kpi_names), "takeaway": self.takeaway,
                "key_numbers": [list(pair) for pair in self.key_numbers], "notes": self.notes,
                "origin": self.origin, "item_id": self.item_id}

    @classmethod
    def from_record(cls, record: Mapping) -> DeckItem:
        """An item from :meth:`to_record`'s data (validated as any new item is)."""
        import datetime as dt

        if not isinstance(record, Mapping) or record.get("version") != 1:
            raise ValueError("not a deck item record (version 1)")
        m = record["meta"]
        as_of = None
        if m.get("as_of"):
            as_of = (dt.datetime if m.get("as_of_kind") == "datetime" else dt.date).fromisoformat(m["as_of"])
        meta = ChartMeta(m["title"], subtitle=m.get("subtitle", ""), unit=m.get("unit", ""),
                         source=m.get("source", ""), as_of=as_of)
        return cls(record["figure"], meta, kpi_names=tuple(record.get("kpi_names", ())),
                   takeaway=record.get("takeaway", ""),
                   key_numbers=tuple(tuple(pair) for pair in record.get("key_numbers", ())),
                   notes=record.get("notes", ""), origin=record.get("origin", ""), item_id=record["item_id"])

    @classmethod
    def from_figure(
        cls,
        fig: go.Figure,
        meta: ChartMeta,
        *,
        kpi_names: Sequence[str] = (),
        data: pd.DataFrame | None = None,
        takeaway: str | None = None,
        key_numbers: Sequence[tuple[str, str]] | None = None,
        notes: str = "",
        origin: str = "",
    ) -> DeckItem:
        """Collect ``fig``; a missing takeaway / key numbers come from :func:`summarize`.

        Parameters
        ----------
        fig : plotly.graph_objects.Figure
            The chart as drawn.
        meta : ChartMeta
            Its export metadata.
        kpi_names : sequence of str, keyword-only
            Registry names of the KPIs shown (the first one is summarised).
        data : pandas.DataFrame, optional, keyword-only
            The chart's data; defaults to :func:`charts.export.chart_data` of ``fig``.
        takeaway, key_numbers : optional, keyword-only
            Override the generated defaults.
        notes, origin : str, keyword-only
            See the class parameters.

        Returns
        -------
        DeckItem

        Raises
        ------
        TypeError
            If ``fig`` is not a plotly Figure.
        ValueError
            If a KPI name is not registered.

        Examples
        --------
        >>> fig = go.Figure(go.Bar(x=["Manila", "Lisbon"], y=[4.2, 6.1], name="AHT"))
        >>> item = DeckItem.from_figure(fig, ChartMeta("AHT by site"), kpi_names=["aht"])
        >>> item.takeaway
        'AHT: highest at Lisbon (6.1 min), lowest at Manila (4.2 min)'
        """
        from charts.export import chart_data

        if not isinstance(fig, go.Figure):
            raise TypeError(f"`fig` must be a plotly Figure, got {type(fig).__name__}")
        names = tuple(kpi_names)
        if takeaway is None or key_numbers is None:
            kpi = get_kpi(names[0]) if names and names[0] in {k.name for k in KPIS} else None
            try:
                frame = data if data is not None else chart_data(fig)
                default_takeaway, default_numbers = summarize(frame, kpi=kpi)
            except ValueError:  # a chart we cannot tabulate still goes in the deck, untitled
                default_takeaway, default_numbers = "", ()
            takeaway = default_takeaway if takeaway is None else takeaway
            key_numbers = default_numbers if key_numbers is None else key_numbers
        return cls(fig.to_json(), meta, names, takeaway, tuple(tuple(p) for p in key_numbers), notes, origin)

    def figure(self) -> go.Figure:
        """The chart as a new plotly Figure."""
        return pio.from_json(self.figure_json, skip_invalid=True)

    def edited(self, *, takeaway: str | None = None,
               key_numbers: Sequence[tuple[str, str]] | None = None) -> DeckItem:
        """A copy with a new takeaway and/or key numbers (same ``item_id``)."""
        changes: dict[str, object] = {}
        if takeaway is not None:
            changes["takeaway"] = takeaway
        if key_numbers is not None:
            changes["key_numbers"] = tuple(tuple(p) for p in key_numbers)
        return replace(self, **changes)

    def to_slide(self) -> Slide:
        """The :class:`Slide` to build; its notes name the item's KPIs."""
        terms = tuple(get_kpi(n).label for n in self.kpi_names)
        return Slide(self.figure(), self.meta, self.takeaway, self.key_numbers, self.notes, terms)


def kpi_definitions(items: Sequence[DeckItem] = (), *, every: bool = False) -> dict[str, str]:
    """KPI label -> definition (registry order) for the KPIs the items show.

    Parameters
    ----------
    items : sequence of DeckItem
        The deck's items.
    every : bool, keyword-only
        All registered KPIs instead.

    Returns
    -------
    dict of str to str
        Suitable for ``build_deck(definitions=...)``.

    Examples
    --------
    >>> list(kpi_definitions(every=True))[:2]
    ['Incoming', 'Manual incoming']
    """
    used = {n for item in items for n in item.kpi_names}
    return {k.label: k.description for k in KPIS if every or k.name in used}

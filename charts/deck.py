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
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
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

__all__ = [
    "DEFINITIONS_PER_SLIDE",
    "Slide",
    "build_deck",
    "sentences",
    "slide_count",
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


def slide_count(pptx: bytes) -> int:
    """How many slides a built deck holds, read from the file itself (title, summary, charts and appendix alike)."""
    return len(Presentation(io.BytesIO(pptx)).slides)

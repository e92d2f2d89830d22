"""Decks checked the way a VP sees them: every slide rendered by LibreOffice, and the .pptx measured.

Two decks: every chart of the app collected through its own "Add to deck" buttons and built by the Deck page
(title, summary, one slide per chart, appendix), and the weekly command-line deck. For each:

- LibreOffice (Debian ``libreoffice-impress``) turns it into a PDF and ``pdftoppm`` into one PNG per slide,
  saved to ``artifacts/deck-slides/<deck>/``: every slide renders and none is blank;
- a geometry check: every shape inside the slide, no two shapes overlapping, no text needing more room than its
  box (each paragraph wrapped at its box's width in Liberation Sans at its own size, measured with Pillow);
- no markup (``<br>``, tags, entities) in any slide text or note, no two slides with one title, every date
  with its year;
- every chart title fits inside its picture (wrapped lines measured against the picture's width).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageFont
from pptx import Presentation
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.util import Emu
from streamlit.testing.v1 import AppTest

from charts.deck_items import DeckItem
from charts.export import decorate
from tests.conftest import stored_deck, unavailable

pytestmark = pytest.mark.xdist_group("deck_render")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "deck-slides"
APP_CHARTS = (("app.py", "standup_multiples"), ("pages/trends.py", "trends_chart"),
              ("pages/anomalies.py", "anomalies_chart"), ("pages/drilldown.py", "drilldown_decomp"),
              ("pages/drilldown.py", "drilldown_contrib"), ("pages/drilldown.py", "drilldown_weekdays"))
FONTS = {False: "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
         True: "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"}
MARKUP = re.compile(r"<br\s*/?>|</?[a-z][a-z0-9]*[ >/]|&(amp|lt|gt|nbsp|#\d+);", re.IGNORECASE)
DAY_MONTH = re.compile(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")


@pytest.fixture(scope="module")
def decks(sample_db: Path, chart_browser: None, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[dict[str, tuple[bytes, list[DeckItem]]]]:
    """The two decks, as bytes, with the app deck's collected items."""
    tmp = tmp_path_factory.mktemp("decks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
        mp.setenv("OPS_APP_DB_URL", f"sqlite:///{tmp / 'app.sqlite'}")
        mp.delenv("OPS_CONFIG", raising=False)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
        for page, chart in APP_CHARTS:
            at.switch_page(page).run()
            at.button(key=f"{chart}_deck").click().run()
            assert not at.exception, (page, [e.value for e in at.exception])
        # a split chart too: its legend and its own takeaway
        at.switch_page("pages/trends.py").run()
        at.selectbox(key="trends_split").select("channel").run()
        at.button(key="trends_chart_deck").click().run()
        items = stored_deck(at)
        assert len(items) == len(APP_CHARTS) + 1
        at.switch_page("pages/deck.py").run()
        at.button(key="deck_build").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        app_deck = at.session_state["deck_pptx"][1]

        weekly_file = tmp / "weekly.pptx"
        done = subprocess.run(["python3", "-m", "reports.weekly", "--from", "2026-06-01", "--to", "2026-06-30",
                               "--out", str(weekly_file), "--no-refresh"], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    yield {"app": (app_deck, items), "weekly": (weekly_file.read_bytes(), [])}


@pytest.fixture(scope="module", params=["app", "weekly"])
def deck(request: pytest.FixtureRequest, decks) -> tuple[str, bytes, list[DeckItem]]:
    data, items = decks[request.param]
    return request.param, data, items


def texts(prs) -> list[tuple[int, str]]:
    """(slide number, text) of every paragraph on every slide and in its notes."""
    out = []
    for n, slide in enumerate(prs.slides, start=1):
        for shape in slide.shapes:
            if shape.has_text_frame:
                out += [(n, p.text) for p in shape.text_frame.paragraphs if p.text.strip()]
        if slide.has_notes_slide:
            out += [(n, line) for line in slide.notes_slide.notes_text_frame.text.splitlines() if line.strip()]
    return out


def test_every_slide_renders_in_libreoffice(deck, tmp_path: Path) -> None:
    name, data, _ = deck
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    if not soffice or not pdftoppm:
        unavailable("LibreOffice and pdftoppm (Debian libreoffice-impress, poppler-utils)",
                    FileNotFoundError("soffice / pdftoppm"))
    source = tmp_path / f"{name}.pptx"
    source.write_bytes(data)
    profile = tmp_path / "profile"  # a profile of its own: parallel runs never share LibreOffice's lock
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
    out = ARTIFACTS / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run([pdftoppm, "-png", "-r", "80", str(tmp_path / f"{name}.pdf"), str(out / "slide")], check=True,
                   capture_output=True, timeout=300)
    pages = sorted(out.glob("slide-*.png"))
    assert len(pages) == len(Presentation(io.BytesIO(data)).slides)
    for page in pages:
        image = Image.open(page).convert("L")
        assert image.getextrema()[0] < 128, f"{page.name} is blank"  # some ink on every slide


def _size(run, paragraph, default: float) -> float:
    for font in (run.font, paragraph.font):
        if font.size is not None:
            return font.size.pt
    return default


def _needed_height(frame, width_pt: float, default_size: float) -> float:
    """Points of height the frame's paragraphs need when wrapped at ``width_pt``."""
    total = 0.0
    for paragraph in frame.paragraphs:
        runs = list(paragraph.runs)
        if not runs or not paragraph.text.strip():
            continue
        size = max(_size(r, paragraph, default_size) for r in runs)
        bold = any(r.font.bold for r in runs)
        font = ImageFont.truetype(FONTS[bold], max(1, round(size)))
        lines, current = 0, ""
        for word in paragraph.text.split():
            trial = f"{current} {word}".strip()
            if current and font.getlength(trial) > width_pt:
                lines, current = lines + 1, word
            else:
                current = trial
        lines += 1
        before = paragraph.space_before.pt if paragraph.space_before is not None else 0.0
        after = paragraph.space_after.pt if paragraph.space_after is not None else 0.0
        total += lines * size * 1.2 + before + after
    return total


def layout_problems(prs) -> list[str]:
    """Shapes that leave the slide, overlap another, or hold more text than their box shows."""
    width, height = prs.slide_width, prs.slide_height
    problems = []
    for n, slide in enumerate(prs.slides, start=1):
        shapes = [s for s in slide.shapes if s.width and s.height]
        for s in shapes:
            if s.left < 0 or s.top < 0 or s.left + s.width > width or s.top + s.height > height:
                problems.append(f"slide {n}: {s.name} leaves the slide")
        for i, a in enumerate(shapes):
            for b in shapes[i + 1:]:
                dx = min(a.left + a.width, b.left + b.width) - max(a.left, b.left)
                dy = min(a.top + a.height, b.top + b.height) - max(a.top, b.top)
                if dx > 0 and dy > 0:
                    problems.append(f"slide {n}: {a.name} overlaps {b.name}")
        for s in shapes:
            if not s.has_text_frame or not s.text_frame.text.strip():
                continue
            frame = s.text_frame
            if frame.auto_size == MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE:
                continue  # the renderer shrinks it to fit (a user template's title)
            insets = [Emu(v if v is not None else d).pt for v, d in (
                (frame.margin_left, 91440), (frame.margin_right, 91440), (frame.margin_top, 45720),
                (frame.margin_bottom, 45720))]
            body = s.is_placeholder and s.placeholder_format.idx != 0
            inner_w = Emu(s.width).pt - insets[0] - insets[1] - (27 if body else 0)  # bullet indent
            inner_h = Emu(s.height).pt - insets[2] - insets[3]
            need = _needed_height(frame, inner_w, 44.0 if s == slide.shapes.title else 18.0)
            if need > inner_h * 1.02:
                problems.append(f"slide {n}: {s.name} needs {need:.0f} pt of {inner_h:.0f} pt "
                                f"({s.text_frame.text[:60]!r})")
    return problems


def test_the_layout_check_finds_overflow_overlap_and_a_shape_off_the_slide() -> None:
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(0.5))
    box.text_frame.word_wrap = True
    box.text_frame.text = "A takeaway far too long for a box half an inch high and three inches wide " * 2
    slide.shapes.add_textbox(Inches(2), Inches(1.2), Inches(2), Inches(1)).text_frame.text = "on top"
    slide.shapes.add_textbox(Inches(9), Inches(7), Inches(2), Inches(1)).text_frame.text = "off"
    found = " ".join(layout_problems(prs))
    assert "needs" in found and "overlaps" in found and "leaves the slide" in found


def test_no_shape_leaves_the_slide_overlaps_another_or_overflows_its_text(deck) -> None:
    name, data, _ = deck
    problems = layout_problems(Presentation(io.BytesIO(data)))
    assert problems == [], f"{name} deck: " + "; ".join(problems)


def test_no_markup_no_repeated_title_and_every_date_has_its_year(deck) -> None:
    name, data, _ = deck
    prs = Presentation(io.BytesIO(data))
    leaks = [(n, t) for n, t in texts(prs) if MARKUP.search(t)]
    assert leaks == [], f"{name} deck: markup in {leaks[:3]}"
    titles = [s.shapes.title.text for s in prs.slides if s.shapes.title is not None]
    assert len(titles) == len(set(titles)), f"{name} deck: repeated titles {titles}"
    undated = [(n, t) for n, t in texts(prs) if DAY_MONTH.search(t) and not re.search(r"\b20\d\d\b", t)]
    assert undated == [], f"{name} deck: dates without a year: {undated[:3]}"


def test_the_app_deck_opens_with_a_summary_and_every_chart_slide_has_a_picture(decks) -> None:
    data, items = decks["app"]
    prs = Presentation(io.BytesIO(data))
    slides = list(prs.slides)
    assert slides[1].shapes.title.text.startswith("Stand-up summary, ")
    charts = slides[2:2 + len(items)]
    assert [s.shapes.title.text for s in charts] == [it.takeaway for it in items]
    assert all(any(sh.shape_type == 13 for sh in s.shapes) for s in charts)  # 13: a picture


def test_every_chart_title_fits_inside_its_picture(decks) -> None:
    _, items = decks["app"]
    for item in items:
        fig = decorate(item.figure(), item.meta)
        size = fig.layout.title.font.size
        font = ImageFont.truetype(FONTS[False], int(size))
        room = fig.layout.width - fig.layout.margin.l - fig.layout.margin.r
        for line in fig.layout.title.text.split("<br>"):
            assert font.getlength(line) <= room, (item.meta.title, line)

"""One plotly template, "ops", for every chart of the dashboard and its exports.

The template is registered under :data:`TEMPLATE_NAME` and made plotly's default when
``charts`` is imported, so figures built anywhere in the app share one look:

- readable when projected: 16 px base font, 22 px titles, light grid, no background fill;
- a colour-blind safe categorical palette (Okabe & Ito, 2008), most contrasting colours first;
- constants for direction-aware flags (:data:`BAD`, :data:`GOOD`, :data:`NEUTRAL`) and the
  expected-range band (:data:`BAND`, :data:`BAND_LINE`). Which of BAD/GOOD applies depends on the
  KPI's ``bad_direction``; callers decide, the theme only names the colours;
"""

from __future__ import annotations

import functools
import html

import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "BAD",
    "BAD_INK",
    "BAD_TINT",
    "BAND",
    "BAND_LINE",
    "FONT_FAMILY",
    "GOOD",
    "GOOD_INK",
    "GOOD_TINT",
    "INK",
    "MUTED",
    "NEUTRAL",
    "NOTE",
    "PALETTE",
    "SOFT_INK",
    "TEMPLATE_NAME",
    "build_template",
    "css_variables",
    "plot_text",
    "register",
    "text_width",
    "wrap_text",
]

TEMPLATE_NAME = "ops"

# Okabe-Ito minus yellow first: yellow (#F0E442) is nearly invisible on white when projected,
# so it comes last, after the greys are exhausted.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#000000",  # black
    "#F0E442",  # yellow
)

# Vermillion vs bluish green stay distinct under deuteranopia and protanopia, unlike red vs green.
BAD = "#D55E00"
GOOD = "#009E73"
NEUTRAL = "#8C8C8C"
#: notes drawn on charts (Okabe-Ito reddish purple: apart from the flags' orange and green)
NOTE = "#CC79A7"
# The expected range is context, not data: a pale fill that any line colour reads on top of.
BAND = "rgba(140, 140, 140, 0.22)"
BAND_LINE = "rgba(140, 140, 140, 0.0)"
INK = "#222222"
MUTED = "#666666"
#: secondary text where MUTED is too light (a TV across a room)
SOFT_INK = "#444444"
#: pale fills behind a flagged tile or table cell, and the darker text that reads on them
BAD_TINT, BAD_INK = "#FBE7DD", "#8A2C00"
GOOD_TINT, GOOD_INK = "#E1F4EE", "#00563F"

# Liberation Sans is metric-compatible with Arial and ships with Debian, so exports rendered
# by headless Chromium look like the browser view on the analyst's machine.
FONT_FAMILY = "Liberation Sans, Arial, Helvetica, sans-serif"



_FONT_FILES = ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
               "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf")


@functools.lru_cache(maxsize=32)
def _font(size: int):  # a PIL font, or None without Liberation Sans
    from PIL import ImageFont

    for path in _FONT_FILES:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return None


def text_width(text: str, size: float) -> float:
    """How wide ``text`` is in pixels at ``size`` px in the theme's font (Liberation Sans, metric-compatible with
    Arial); without the font file, a conservative 0.6 em per character."""
    font = _font(max(1, round(size)))
    if font is None:
        return 0.6 * size * len(text)
    return float(font.getlength(text))


def wrap_text(text: str, size: float, width: float) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` px at ``size`` px (a word longer than the
    line stays whole on its own line)."""
    lines: list[str] = []
    for word in str(text).split():
        if lines and text_width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def plot_text(value: object) -> str:
    """A value from the data as plotly text: plotly reads ``<a href>``, ``<b>``, ``<br>`` in names, titles and
    labels, so ``<``, ``>`` and ``&`` are written as entities and shown as typed.

    Examples
    --------
    >>> plot_text('<a href="https://evil.example">x</a> & co')
    '&lt;a href="https://evil.example"&gt;x&lt;/a&gt; &amp; co'
    """
    return html.escape(str(value), quote=False)


def css_variables() -> str:
    """The theme's colours as CSS custom properties (``--ops-bad``, ``--ops-good-tint``…) for the app's style sheets
    (``ui/assets/*.css``), so a page's CSS names no colour of its own."""
    colours = {"bad": BAD, "good": GOOD, "bad-tint": BAD_TINT, "good-tint": GOOD_TINT, "bad-ink": BAD_INK,
               "good-ink": GOOD_INK, "ink": INK, "muted": MUTED, "soft-ink": SOFT_INK}
    return ":root { " + " ".join(f"--ops-{name}: {value};" for name, value in colours.items()) + " }"


def build_template() -> go.layout.Template:
    """Build the "ops" plotly template.

    Returns
    -------
    plotly.graph_objects.layout.Template
        A fresh template object; registering it is :func:`register`'s job.

    Examples
    --------
    >>> build_template().layout.colorway[0]
    '#0072B2'
    """
    axis = {
        "showgrid": True,
        "gridcolor": "#E6E6E6",
        "zeroline": False,
        "linecolor": "#BBBBBB",
        "ticks": "outside",
        "tickcolor": "#BBBBBB",
        "automargin": True,
        "title": {"standoff": 12},
    }
    return go.layout.Template(
        layout={
            "font": {"family": FONT_FAMILY, "size": 16, "color": INK},
            "title": {
                "font": {"size": 22, "color": INK},
                "subtitle": {"font": {"size": 15, "color": MUTED}},
                "x": 0.0,
                "xanchor": "left",
                "xref": "paper",
            },
            "colorway": list(PALETTE),
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "separators": ".,",
            "xaxis": dict(axis, showgrid=False),
            "yaxis": dict(axis),
            # Above the plot, left-aligned: it reads as part of the title block, not the data.
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0.0,
                       "title_text": ""},
            "hoverlabel": {"font": {"family": FONT_FAMILY, "size": 15}},
            "hovermode": "x unified",
            "margin": {"l": 64, "r": 24, "t": 72, "b": 56},
        },
        data={
            "bar": [go.Bar(marker={"line": {"width": 0}})],
            "scatter": [go.Scatter(line={"width": 2.5})],
        },
    )


def register(*, make_default: bool = True) -> go.layout.Template:
    """Register the "ops" template with plotly (idempotent).

    Parameters
    ----------
    make_default : bool, keyword-only
        Also set ``plotly.io.templates.default`` to "ops", so figures built without an explicit
        template use it.

    Returns
    -------
    plotly.graph_objects.layout.Template
        The registered template.

    Examples
    --------
    >>> import plotly.io as pio
    >>> _ = register()
    >>> pio.templates.default
    'ops'
    """
    template = build_template()
    pio.templates[TEMPLATE_NAME] = template
    if make_default:
        pio.templates.default = TEMPLATE_NAME
    return template

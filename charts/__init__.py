"""Plotly figures, the one "ops" theme, deck-ready exports (Kaleido) and PowerPoint decks.

Importing ``charts`` registers the "ops" plotly template and makes it the default.
"""

from charts.deck import Slide, build_deck
from charts.export import (
    BROWSER_ENV_VAR,
    ChartMeta,
    ExportUnavailable,
    browser_status,
    chart_data,
    decorate,
    footnote,
    shutdown,
    to_csv,
    to_png,
    to_svg,
)
from charts.theme import (
    BAD,
    BAND,
    BAND_LINE,
    GOOD,
    NEUTRAL,
    PALETTE,
    TEMPLATE_NAME,
    register,
)

register(make_default=True)

__all__ = [
    "BAD",
    "BAND",
    "BAND_LINE",
    "BROWSER_ENV_VAR",
    "GOOD",
    "NEUTRAL",
    "PALETTE",
    "TEMPLATE_NAME",
    "ChartMeta",
    "ExportUnavailable",
    "Slide",
    "browser_status",
    "build_deck",
    "chart_data",
    "decorate",
    "footnote",
    "register",
    "shutdown",
    "to_csv",
    "to_png",
    "to_svg",
]

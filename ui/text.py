"""Text from a user, a URL or the data, made safe for Streamlit's markdown.

Streamlit renders every label, caption, alert and ``st.markdown`` as markdown with its own extensions
(``:red[…]`` colours, ``:material/…:`` icons, emoji shortcodes, ``$…$`` maths, GitHub autolinks). A value
that reaches one of them unescaped can draw a link, fetch an image or restyle the page, so every such value
passes through :func:`md` first; the page's own markup stays outside it.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["md", "style_sheets"]

# every ASCII punctuation character may be backslash-escaped in CommonMark; these start markup anywhere in a
# line, in markdown, GitHub's extensions (autolinks, e-mail links) or Streamlit's (":" directives, "$" maths)
_SPECIAL = re.compile(r"([\\`*_\[\]()<>!~$:#|&@])")
# these start markup only at the start of a block (a list item, a quote)
_LEADING = re.compile(r"^([-+=>]|\d+[.)])")
# GitHub's autolinks ("https://…", "www.…", "name@host") are found in the text even when escaped: a
# zero-width space after the scheme word or before "@" keeps them plain text
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|www)(?=\\?[:.])|(?=\\@))")
_ZWSP = "\u200b"


def md(value: object, *, code: bool = False) -> str:
    """``value`` as text that markdown shows literally.

    Newlines become spaces (a value never starts a new block); a zero-width space breaks what GitHub's
    markdown would turn into a link by itself (``https://…``, ``www.…``, ``name@host``).

    Parameters
    ----------
    value : object
        Any text from a user, a URL, the data or an error.
    code : bool, keyword-only
        Keep balanced backtick spans as code (our messages quote names so: ``table `cases` has no column``);
        a code span shows its content literally, so nothing inside it can become markup. With an odd number
        of backticks everything is escaped.

    Examples
    --------
    >>> md("[Session expired](https://evil.example/login)")
    '\\\\[Session expired\\\\]\\\\(https\\u200b\\\\://evil.example/login\\\\)'
    >>> md("Manila")
    'Manila'
    >>> md("table `cases` has no column `route_*`", code=True)
    'table `cases` has no column `route_*`'
    """
    text = " ".join(str(value).split())
    parts = text.split("`")
    if not code or len(parts) % 2 == 0:
        return _escape(text)
    return "`".join(part if i % 2 else _escape(part, leading=i == 0) for i, part in enumerate(parts))


def _escape(text: str, *, leading: bool = True) -> str:
    text = _SPECIAL.sub(r"\\\1", text)
    text = _AUTOLINK.sub(lambda m: m.group(1) + _ZWSP, text)
    return _LEADING.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text) if leading else text


_ASSETS = Path(__file__).resolve().parent / "assets"


def style_sheets(*names: str) -> None:
    """Apply the app's style sheets (``ui/assets/<name>``), with the theme's colours as CSS variables
    (``charts.theme.css_variables``): the one way a page adds CSS, and no page names a colour of its own."""
    import streamlit as st

    from charts.theme import css_variables

    rules = "".join((_ASSETS / name).read_text(encoding="utf-8") for name in names)
    st.html(f"<style>{css_variables()}\n{rules}</style>")

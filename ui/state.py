"""Page state in the URL, Grafana-style: every filter and choice a page offers is a query parameter.

A link therefore opens the same view for anyone: the sidebar filters (``from``, ``to`` and ``f.<dimension>``,
repeated for several values), the stand-up day (``day``), Trends' KPI / split / grain, the Anomalies
options, TV mode. Only values that differ from the page's default are written, so a link without ``to``
keeps meaning "up to the newest day".

How a run reads and writes it. A widget bound with :func:`widget` takes its value from the URL when the
URL changed from outside since this session last wrote it (a pasted link, a reload, the back button, a
link from another page); otherwise the widget keeps what the user just chose, and the URL is rewritten
from it at once (so a page that stops early never leaves a stale URL behind). Links between pages
(:func:`link_params`) carry the shared parameters, plus the parameters the target page had when it was
last seen in this session, so coming back to Trends finds its split where it was left.

A value in a link that the page cannot use (a KPI that does not exist, a site that is not in the data)
is dropped with a message saying so (:func:`problems`); the page opens with the default instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import streamlit as st

from ui.text import md

__all__ = [
    "UrlValueError",
    "a_date",
    "a_flag",
    "as_text",
    "begin",
    "current_page",
    "date_range",
    "from_outside",
    "link_params",
    "mark_shared",
    "one_of",
    "replace_page_params",
    "report",
    "set_param",
    "shared_params",
    "some_of",
    "widget",
]

_RUN = "_url_run"        # this run's view of the URL (a _Run)
_LAST = "_url_last"      # (page, params) as this session last left the URL
_PAGES = "_url_pages"    # page script -> its own (not shared) parameters when it was last drawn
_BINDINGS = "_url_bindings"  # page script -> param -> (widget key, render, default, shared)
FILTER_PREFIX = "f."     # sidebar dimension filters: ``f.vendor_site=Manila``


class UrlValueError(ValueError):
    """A value in the URL that the page cannot use; the message names the parameter and the fix."""


@dataclass
class _Run:
    page: str
    external: bool                      # the URL came from outside this session's last write
    problems: list[str] = field(default_factory=list)
    reported: int = 0                   # how many of them are on screen already
    shared: set[str] = field(default_factory=set)  # the shared parameter names bound in this run


def _snapshot() -> dict[str, tuple[str, ...]]:
    qp = st.query_params
    return {k: tuple(qp.get_all(k)) for k in qp.keys()}  # noqa: SIM118 (QueryParamsProxy has no iteration of items)


def begin(page: str) -> None:
    """Start a page run (``ui.shell.page`` calls it first): note whether the URL was changed from outside."""
    now = _snapshot()
    st.session_state[_RUN] = _Run(page, st.session_state.get(_LAST) != (page, now))


def _run() -> _Run:
    run = st.session_state.get(_RUN)
    if run is None:  # a page that did not go through ui.shell.page (a test harness): read the URL as given
        run = _Run("", True)
        st.session_state[_RUN] = run
    return run


def _shared(name: str) -> bool:
    """Whether a parameter travels to every page (the filters, the deck, TV options) rather than being one page's."""
    return name in _run().shared or name.startswith(FILTER_PREFIX)


def _own(params: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {k: list(v) for k, v in params.items() if not _shared(k)}


def _remember() -> None:
    now = _snapshot()
    st.session_state[_LAST] = (_run().page, now)
    st.session_state.setdefault(_PAGES, {})[_run().page] = _own(now)


def as_text(value: Any) -> list[str]:
    """The default way a widget's value is written to the URL: a list as one parameter per item, a day as
    ``YYYY-MM-DD``, ``True`` as ``1``, anything else as its text."""
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return ["1"] if value else []
    if isinstance(value, date):
        return [f"{value:%Y-%m-%d}"]
    return [str(value)]


def _rendered(value: Any, default: Any, render: Callable[[Any], list[str] | None]) -> list[str] | None:
    """What the URL says for ``value``: nothing for the default, None to leave the URL as it is."""
    value = default if value is None else value
    return [] if _same(value, default) else render(value)


def _write(name: str, values: Sequence[str]) -> None:
    values = list(values)
    current = st.query_params.get_all(name)
    if values == current:
        return
    if values:
        st.query_params[name] = values if len(values) > 1 else values[0]
    elif name in st.query_params:
        del st.query_params[name]


def widget(make: Callable[..., Any], *args: Any, key: str, param: str, default: Any,
           parse: Callable[[list[str]], Any], render: Callable[[Any], list[str] | None] = as_text,
           shared: bool = False, **kwargs: Any) -> Any:
    """Draw a widget whose value lives in the URL parameter ``param``; returns the widget's value.

    Parameters
    ----------
    make : callable
        The Streamlit widget (``st.selectbox``, ``st.sidebar.date_input``, a column's ``multiselect`` …); it is
        called with ``*args``, ``key`` and ``**kwargs`` and never with a default value (the URL or the user's
        choice is in session state under ``key``).
    param : str
        The query parameter.
    default : any
        The value when the URL has none; it is never written to the URL.
    parse : callable
        ``list of str -> value``; raises :class:`UrlValueError` (or ``ValueError``) for a value it cannot use.
    render : callable
        ``value -> list of str`` (empty: remove the parameter; None: leave the URL as it is); :func:`as_text` by
        default.
    shared : bool
        Carried to every page (the sidebar filters), not only this one.
    """
    run = _run()
    if shared:
        run.shared.add(param)
    if run.external or key not in st.session_state:
        raw = st.query_params.get_all(param)
        value = default
        if raw:
            try:
                value = parse(raw)
            except ValueError as err:
                run.problems.append(str(err))
        st.session_state[key] = value
    st.session_state.setdefault(_BINDINGS, {}).setdefault(run.page, {})[param] = (key, render, default, shared)
    value = make(*args, key=key, **kwargs)
    rendered = _rendered(value, default, render)
    if rendered is not None:  # None: nothing to say yet (a half-picked range keeps what the URL holds)
        _write(param, rendered)
    _remember()
    return value


def _own_now(page: str) -> dict[str, list[str]]:
    """This page's own parameters as its widgets hold them now: the URL, updated from the widgets' state (the
    menu is drawn before the page's widgets write, and must not carry the value the user just changed)."""
    own = _own(_snapshot())
    for param, (key, render, default, shared) in st.session_state.get(_BINDINGS, {}).get(page, {}).items():
        if shared or key not in st.session_state:
            continue
        rendered = _rendered(st.session_state[key], default, render)
        if rendered is None:
            continue
        if rendered:
            own[param] = list(rendered)
        else:
            own.pop(param, None)
    return own


def from_outside() -> bool:
    """Whether this run's URL came from outside this session's last write (a link, a reload, another page)."""
    return _run().external


def current_page() -> str:
    """The script of the page being drawn (as in ``ui.shell.NAVIGATION``)."""
    return _run().page


def mark_shared(name: str) -> None:
    """Carry ``name`` to every page like the filters (the current deck)."""
    _run().shared.add(name)


def set_param(name: str, values: Sequence[str]) -> None:
    """Write one of this page's own parameters that no widget holds (a row picked in a table); ``[]`` removes it."""
    _write(name, values)
    _remember()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return a == b


def report() -> None:
    """Say, once, what the URL asked for that the page could not use (a KPI or a site not in the data)."""
    run = _run()
    new, run.reported = run.problems[run.reported:], len(run.problems)
    if new:
        st.warning("This link asks for what the data does not have: " + "; ".join(md(p) for p in new) + ".",
                   icon=":material/link_off:")


def shared_params() -> dict[str, list[str]]:
    """The shared parameters as the URL holds them now (sidebar filters and range)."""
    return {k: list(v) for k, v in _snapshot().items() if _shared(k)}


def link_params(page: str, extra: dict[str, Any] | None = None, *, remembered: bool = True) -> dict[str, Any]:
    """Query parameters for a link to ``page``: the shared ones, that page's own as last seen (unless
    ``remembered=False``: the link states the whole view, as a drill-down link does), then ``extra``."""
    run = _run()
    if not remembered:
        own = {}
    elif page == run.page:
        own = _own_now(page)
    else:
        own = st.session_state.get(_PAGES, {}).get(page, {})
    out: dict[str, Any] = {**own, **shared_params(), **(extra or {})}
    return {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in out.items() if v not in ([], None)}


def replace_page_params(params: dict[str, Any]) -> None:
    """Set this page's own parameters to ``params`` (the shared ones stay): a page that keeps its state itself."""
    st.query_params.from_dict({**shared_params(), **params})
    _remember()


# ----------------------------------------------------------------------------------------------- codecs
def one_of(options: Iterable[Any], *, name: str, what: str) -> Callable[[list[str]], Any]:
    """A parser for a single value among ``options`` (compared as text)."""
    by_text = {str(o): o for o in options}

    def parse(raw: list[str]) -> Any:
        text = raw[-1]
        if text not in by_text:
            raise UrlValueError(f"?{name}={text} is not a {what} here; showing the default")
        return by_text[text]

    return parse


def some_of(options: Iterable[Any], *, name: str, what: str) -> Callable[[list[str]], list[Any]]:
    """A parser for several values among ``options``; unknown ones are dropped and reported."""
    by_text = {str(o): o for o in options}

    def parse(raw: list[str]) -> list[Any]:
        unknown = [t for t in raw if t not in by_text]
        if unknown:
            _run().problems.append(f"?{name}= names {', '.join(repr(t) for t in unknown[:3])}, not a {what} in the "
                                   "data; left out of the filter")
        return list(dict.fromkeys(by_text[t] for t in raw if t in by_text))

    return parse


def a_flag(*, name: str) -> Callable[[list[str]], bool]:
    """A parser for an on/off choice: ``1``/``0`` (also ``true``/``false``, ``yes``/``no``)."""
    def parse(raw: list[str]) -> bool:
        text = raw[-1].strip().lower()
        if text not in ("1", "0", "true", "false", "yes", "no"):
            raise UrlValueError(f"?{name}={raw[-1]} must be 1 or 0; showing the default")
        return text in ("1", "true", "yes")

    return parse


def a_date(*, name: str, first: date, last: date) -> Callable[[list[str]], date]:
    """A parser for one ``YYYY-MM-DD`` day between ``first`` and ``last``."""
    def parse(raw: list[str]) -> date:
        try:
            day = date.fromisoformat(raw[-1].strip()[:10])
        except ValueError:
            raise UrlValueError(f"?{name}= must be a date like 2026-10-17, got {raw[-1]!r}") from None
        if not first <= day <= last:
            raise UrlValueError(f"?{name}={day} is outside the data ({first} – {last}); showing the default")
        return day

    return parse


def date_range(*, name: str, first: date, last: date) -> tuple[Callable[[list[str]], tuple[date, date]],
                                                                 Callable[[Any], list[str]]]:
    """Parser and renderer for a range ``YYYY-MM-DD..YYYY-MM-DD`` inside ``first`` – ``last`` (clipped to it)."""
    def parse(raw: list[str]) -> tuple[date, date]:
        text = raw[-1]
        try:
            a, b = (date.fromisoformat(p.strip()[:10]) for p in text.split(".."))
        except ValueError:
            raise UrlValueError(f"?{name}= must be a range like 2026-10-01..2026-11-25, got {text!r}") from None
        a, b = max(min(a, b), first), min(max(a, b), last)
        if a > b:
            raise UrlValueError(f"?{name}={text} is outside the data ({first} – {last}); showing the default")
        return a, b

    def render(value: Any) -> list[str] | None:
        if isinstance(value, tuple | list) and len(value) == 2:
            return [f"{value[0]:%Y-%m-%d}..{value[1]:%Y-%m-%d}"]
        return None  # half picked: the URL keeps the range it holds

    return parse, render

"""Deck-ready chart exports: PNG / SVG through Kaleido, data as CSV.

Images are rendered by Kaleido 1.x in **one persistent headless Chrome/Chromium per process**,
started lazily on the first PNG/SVG and shared by every caller under a lock (a new browser per
image costs ~2 s; a warm one ~0.2 s). :func:`browser_status` says, without starting or crashing
anything, whether images can be rendered and how to fix it if not; image functions raise
:class:`ExportUnavailable` (whose message carries the fix) when no browser is usable.
CSV export never needs a browser, and every CSV the app offers goes through :func:`csv_bytes`, which
defuses spreadsheet formulas in text cells.

Route every static image of the app through this module: once the shared browser runs,
``plotly.io.to_image`` anywhere in the process uses it too, but without this module's lock.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import kaleido
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from charts import theme

__all__ = [
    "BROWSER_ENV_VAR",
    "ChartMeta",
    "ExportUnavailable",
    "browser_status",
    "chart_data",
    "csv_bytes",
    "decorate",
    "footnote",
    "shutdown",
    "to_csv",
    "to_png",
    "to_svg",
]

#: Environment variable Kaleido's browser finder (choreographer) reads before searching PATH.
BROWSER_ENV_VAR = "BROWSER_PATH"

_INSTALL_HINT = (
    "Fix: install Debian's chromium (`apt-get install chromium`), or set the environment variable "
    f"{BROWSER_ENV_VAR} to the full path of a Chrome/Chromium executable, then restart the app. "
    "CSV export works without a browser."
)
_BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Reference size of a slide-sized export; decorate() scales fonts from it so text keeps the same
# share of the picture whatever size is asked for.
_SLIDE_WIDTH = 1600
_SLIDE_HEIGHT = 900

_LOCK = threading.Lock()
# Browser path -> why it failed last time, so browser_status() stops promising a broken browser.
_FAILED: dict[str, str] = {}
_server_path = ""
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


class ExportUnavailable(RuntimeError):
    """Raised when a PNG/SVG cannot be rendered because no usable browser is available.

    The message states the cause and the fix; show it to the user as is.
    """


@dataclass(frozen=True)
class ChartMeta:
    """What a stakeholder needs printed around a chart.

    Parameters
    ----------
    title : str
        Chart title, e.g. "Incoming cases per day".
    subtitle : str
        The filters applied, e.g. "Workflow: copyright · Site: Manila · 2024-05-01 to 2024-05-28".
    unit : str
        Unit of the values axis, e.g. "cases", "%", "minutes".
    source : str
        Where the data comes from, e.g. "ops_daily_volume (warehouse)".
    as_of : datetime.date or datetime.datetime or None
        Freshness of the data (last loaded day or refresh time, UTC).
    """

    title: str
    subtitle: str = ""
    unit: str = ""
    source: str = ""
    as_of: dt.date | dt.datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValueError(f"`title` must be a non-empty string, got {self.title!r}")
        for name in ("subtitle", "unit", "source"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"`{name}` must be a string, got {type(getattr(self, name)).__name__}")
        if self.as_of is not None and not isinstance(self.as_of, dt.date):
            raise TypeError(f"`as_of` must be a date, a datetime or None, got {type(self.as_of).__name__}")


def footnote(meta: ChartMeta) -> str:
    """The "Source: … · Data as of …" line printed under an exported chart.

    Parameters
    ----------
    meta : ChartMeta
        Chart metadata.

    Returns
    -------
    str
        The footnote; parts with no value are left out ("" if neither is known).

    Examples
    --------
    >>> import datetime as dt
    >>> footnote(ChartMeta("Incoming", source="ops_daily_volume", as_of=dt.date(2024, 5, 28)))
    'Source: ops_daily_volume · Data as of 2024-05-28'
    """
    parts = []
    if meta.source:
        parts.append(f"Source: {meta.source}")
    if isinstance(meta.as_of, dt.datetime):
        # Timestamps in this app are naive UTC (see docs/architecture.md).
        parts.append(f"Data as of {meta.as_of:%Y-%m-%d %H:%M} UTC")
    elif isinstance(meta.as_of, dt.date):
        parts.append(f"Data as of {meta.as_of:%Y-%m-%d}")
    return " · ".join(parts)


def _value_axis(fig: go.Figure) -> Literal["x", "y"]:
    """Horizontal bar charts carry their values on x; everything else on y."""
    orientations = {getattr(t, "orientation", None) for t in fig.data if t.type in ("bar", "box", "violin")}
    return "x" if orientations == {"h"} else "y"


def _has_dates(fig: go.Figure) -> bool:
    if fig.layout.xaxis.type == "date":
        return True
    for trace in fig.data:
        x = getattr(trace, "x", None)
        if x is not None and len(x):
            first = x[0]
            return isinstance(first, dt.date | np.datetime64 | pd.Timestamp) or bool(
                isinstance(first, str) and _ISO_DATE.match(first))
    return False


def _check_size(width: int, height: int, scale: float | None = None) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 100:
            raise ValueError(f"`{name}` must be an integer >= 100 (layout pixels), got {value!r}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 8):
        raise ValueError(f"`scale` must be a number in (0, 8], got {scale!r}")


def _values(values: object) -> list:
    """A trace's x or y as a list (None, a tuple or an array)."""
    return [] if values is None else list(values)


def decorate(fig: go.Figure, meta: ChartMeta, *, width: int = _SLIDE_WIDTH, height: int = _SLIDE_HEIGHT) -> go.Figure:
    """Return a deck-ready copy of ``fig``: titled, subtitled, unit-labelled, sourced, themed, sized.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The chart as drawn in the app; it is not modified.
    meta : ChartMeta
        Title, subtitle (filters), unit, source and freshness to print.
    width, height : int, keyword-only
        Layout size in CSS pixels (default 1600 x 900, a 16:9 slide). Fonts and margins scale
        with the smaller of width/1600 and height/900, so text keeps its share of the picture.

    Returns
    -------
    plotly.graph_objects.Figure
        A new figure with the "ops" template, ``meta.title`` as title and ``meta.subtitle`` under
        it, ``meta.unit`` on the values axis title, and :func:`footnote` at the bottom left.

    Raises
    ------
    ValueError
        If ``width`` or ``height`` is not an integer >= 100.

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> out = decorate(go.Figure(go.Bar(x=["A", "B"], y=[3, 4])), ChartMeta("Solved", unit="cases"))
    >>> out.layout.title.text, out.layout.yaxis.title.text
    ('Solved', 'cases')
    """
    if not isinstance(meta, ChartMeta):
        raise TypeError(f"`meta` must be a ChartMeta, got {type(meta).__name__}")
    _check_size(width, height)
    out = go.Figure(fig)
    k = min(width / _SLIDE_WIDTH, height / _SLIDE_HEIGHT)
    base, title_size, sub_size, note_size = (round(s * k) for s in (28, 40, 28, 20))

    value_axis = _value_axis(out)
    axis = out.layout.xaxis if value_axis == "x" else out.layout.yaxis
    axis_title = axis.title.text or ""
    if meta.unit and meta.unit not in axis_title:
        axis_title = f"{axis_title} ({meta.unit})" if axis_title else meta.unit
    key_axis = out.layout.yaxis if value_axis == "x" else out.layout.xaxis
    has_key_title = bool(key_axis.title.text)

    note = footnote(meta)
    shown = [t for t in out.data if t.showlegend is not False]
    legend = out.layout.showlegend if out.layout.showlegend is not None else len(shown) > 1
    # plotly never wraps a title: a long one ran off the picture ("… web form at l"); break it at spaces to the
    # width it has, measured in the theme's font, and give every line its room
    # the title starts at the plot area's left edge, after the value axis' labels; horizontal bars have long
    # category labels there, so their title starts at the picture's margin instead
    horizontal = value_axis == "x"
    room = (width - 80 * k) if horizontal else (0.88 * width - 40 * k)
    title_lines = theme.wrap_text(meta.title, title_size, room)
    while len(title_lines) > 2 and title_size > 0.7 * round(40 * k):  # two lines at most: smaller type first
        title_size -= 1
        title_lines = theme.wrap_text(meta.title, title_size, room)
    sub_lines = theme.wrap_text(meta.subtitle, sub_size, room) if meta.subtitle else []
    # panel titles of stacked subplots sit just above their panel: the top one needs room under the subtitle
    panels = any(getattr(a, "yref", None) == "paper" and (a.y or 0) >= 0.98 and a.yanchor == "bottom"
                 for a in out.layout.annotations)
    top = (title_size * 1.25 * len(title_lines) + 0.15 * title_size + sub_size * 1.3 * len(sub_lines)
           + (0.3 * sub_size if sub_lines else 0) + (2.6 * base if legend else 0) + (1.8 * base if panels else 0)
           + 40 * k)
    # Whichever axis runs along the bottom (the key axis, or the value axis of horizontal bars)
    # needs room for its title above the footnote.
    bottom_titled = has_key_title if value_axis == "y" else bool(axis_title)
    # Date axes print the year on a second tick line, which would otherwise touch the footnote.
    dated = value_axis == "y" and _has_dates(out)
    # category labels broken over lines (``a<br>b``) need a line each above the footnote
    key = "x" if value_axis == "y" else "y"
    broken = max((str(v).count("<br>") for t in out.data for v in _values(getattr(t, key, None))
                  if isinstance(v, str)), default=0)
    bottom = (2.4 * base + (1.8 * base if bottom_titled else 0) + (1.3 * base if dated else 0)
              + 1.25 * base * broken + (2.2 * note_size if note else 0))

    out.update_layout(
        template=theme.TEMPLATE_NAME,
        width=width,
        height=height,
        font={"size": base},
        title={
            # title and subtitle are plain text (slice and filter values from the data): plotly must not read
            # markup in them
            "text": "<br>".join(theme.plot_text(line) for line in title_lines),
            "subtitle": {"text": "<br>".join(theme.plot_text(line) for line in sub_lines), "font": {"size": sub_size}},
            "font": {"size": title_size},
            # Title, subtitle, legend and footnote all start at the plot area's left edge.
            "x": 40 * k / width if horizontal else 0.0,
            "xref": "container" if horizontal else "paper",
            "xanchor": "left",
            # plotly anchors a multi-line title by its first line: move it down by what the others add
            "y": 1.0 - (20 * k + 0.8 * title_size * (len(title_lines) - 1)) / height,
            "yref": "container",
            "yanchor": "top",
        },
        legend={"font": {"size": round(base * 0.9)}},
        margin={"l": round(40 * k), "r": round(40 * k), "t": round(top), "b": round(bottom)},
    )
    out.update_annotations(font_size=base)
    if value_axis == "x":
        out.layout.xaxis.title.text = axis_title
    else:
        out.layout.yaxis.title.text = axis_title
    if note:
        out.add_annotation(
            text=theme.plot_text(note),
            x=0.0,
            xref="paper",
            xanchor="left",
            y=0.0,
            yref="paper",
            yanchor="bottom",
            yshift=-round(bottom) + round(10 * k),
            showarrow=False,
            align="left",
            font={"size": note_size, "color": theme.MUTED},
        )
    return out


# ----------------------------------------------------------------------------- browser


def _find_browser() -> tuple[str | None, str]:
    """(path, problem): where Kaleido will find a browser, or why it will not."""
    override = os.environ.get(BROWSER_ENV_VAR)
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override, ""
        return None, f"{BROWSER_ENV_VAR}={override!r} is not an executable file."
    try:
        # The same search Kaleido runs (its downloaded copy, then PATH, then typical locations).
        from choreographer.browsers.chromium import Chromium

        path = Chromium.find_browser(skip_local=False)
    except ImportError:  # pragma: no cover - choreographer moved its finder
        path = next((p for p in map(shutil.which, _BROWSER_NAMES) if p), None)
    if path:
        return str(path), ""
    return None, "No Chrome/Chromium was found on PATH."


def _server_thread() -> threading.Thread | None:
    # Kaleido keeps its sync server's worker thread private; we only read it to notice a browser
    # that died, because a call into a dead server would otherwise wait forever.
    server = kaleido._global_server
    return getattr(server, "_thread", None) if server.is_running() else None


def browser_status() -> tuple[bool, str]:
    """Tell whether PNG/SVG export can work here, and if not, how to fix it.

    Never starts a browser and never raises.

    Returns
    -------
    tuple of (bool, str)
        ``(True, description)`` when the shared browser runs or a browser was found, else
        ``(False, message)`` with the cause and the fix (install Debian's chromium, or set
        :data:`BROWSER_ENV_VAR`).

    Examples
    --------
    >>> ok, message = browser_status()
    >>> isinstance(ok, bool) and bool(message)
    True
    """
    try:
        thread = _server_thread()
        if thread is not None and thread.is_alive():
            return True, "Chart images render in the shared headless browser (running)."
        path, problem = _find_browser()
    except Exception as exc:  # a status probe must report, not crash the page
        return False, f"Could not look for a browser ({exc}). {_INSTALL_HINT}"
    if path is None:
        return False, f"Chart images (PNG/SVG, decks) are unavailable: {problem} {_INSTALL_HINT}"
    if path in _FAILED:
        return False, _FAILED[path]
    return True, f"Chart images render with {path} (started on first export)."


def _configure_plotly_defaults() -> None:
    # Per-call kopts make Kaleido warn on every call once a server runs; plotly passes its default
    # HTTP headers (meant for map tiles, which these charts never load) as kopts, so drop them.
    pio.defaults.headers = None
    pio.defaults.mathjax = False
    pio.defaults.default_width = _SLIDE_WIDTH
    pio.defaults.default_height = _SLIDE_HEIGHT
    pio.defaults.default_scale = 2


def _ensure_server() -> None:
    """Start the shared browser if it is not running. Caller holds ``_LOCK``."""
    thread = _server_thread()
    if thread is not None and thread.is_alive():
        return
    if thread is not None:  # it died (browser crashed or failed to start): reset before retrying
        kaleido.stop_sync_server(silence_warnings=True)
    path, problem = _find_browser()
    if path is None:
        raise ExportUnavailable(f"Cannot render chart images: {problem} {_INSTALL_HINT}")
    _configure_plotly_defaults()
    global _server_path
    _server_path = path
    # mathjax=False: the default loads MathJax from the internet, which stalls offline.
    kaleido.start_sync_server(mathjax=False, silence_warnings=True)


def _render(fig: go.Figure, fmt: Literal["png", "svg"], width: int, height: int, scale: float) -> bytes:
    with _LOCK:
        _ensure_server()
        server_thread = _server_thread()
        box: dict[str, object] = {}

        def call() -> None:
            try:
                box["value"] = pio.to_image(fig, format=fmt, width=width, height=height, scale=scale)
            except BaseException as exc:  # re-raised in the caller's thread
                box["error"] = exc

        # The call runs in a helper thread so that a browser dying under it (Kaleido's queue would
        # then block forever) turns into an exception instead of a hung page.
        worker = threading.Thread(target=call, name="chart-export", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.05)
            if worker.is_alive() and (server_thread is None or not server_thread.is_alive()):
                kaleido.stop_sync_server(silence_warnings=True)
                message = (
                    f"Chart images are unavailable: the browser at {_server_path!r} failed to start or "
                    f"exited while rendering. {_INSTALL_HINT}"
                )
                _FAILED[_server_path] = message
                raise ExportUnavailable(message)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def shutdown() -> None:
    """Stop the shared browser (it restarts on the next export). Useful in tests and benchmarks.

    Examples
    --------
    >>> shutdown()
    """
    with _LOCK:
        if kaleido._global_server.is_running():
            kaleido.stop_sync_server(silence_warnings=True)


def _prepare(fig: go.Figure, meta: ChartMeta | None, width: int, height: int, scale: float) -> go.Figure:
    _check_size(width, height, scale)
    if not isinstance(fig, go.Figure):
        raise TypeError(f"`fig` must be a plotly Figure, got {type(fig).__name__}")
    return decorate(fig, meta, width=width, height=height) if meta is not None else fig


def to_png(
    fig: go.Figure, meta: ChartMeta | None = None, *, width: int = 1600, height: int = 900, scale: float = 2
) -> bytes:
    """Render ``fig`` as a PNG, deck-ready when ``meta`` is given.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The chart.
    meta : ChartMeta, optional
        When given, the figure is passed through :func:`decorate` first.
    width, height : int, keyword-only
        Layout size in CSS pixels (default 1600 x 900, 16:9).
    scale : float, keyword-only
        Pixel density; the PNG is ``width * scale`` x ``height * scale`` pixels (default 2).

    Returns
    -------
    bytes
        The PNG file.

    Raises
    ------
    ExportUnavailable
        If no usable Chrome/Chromium is available (the message holds the fix).
    ValueError
        If ``width``/``height`` is not an integer >= 100 or ``scale`` not in (0, 8].

    Examples
    --------
    >>> png = to_png(fig, ChartMeta("Incoming per day", unit="cases"))  # doctest: +SKIP
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"  # doctest: +SKIP
    True
    """
    return _render(_prepare(fig, meta, width, height, scale), "png", width, height, scale)


def to_svg(
    fig: go.Figure, meta: ChartMeta | None = None, *, width: int = 1600, height: int = 900, scale: float = 1
) -> bytes:
    """Render ``fig`` as an SVG, deck-ready when ``meta`` is given.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The chart.
    meta : ChartMeta, optional
        When given, the figure is passed through :func:`decorate` first.
    width, height : int, keyword-only
        Layout size (the SVG's ``width``/``height`` attributes), default 1600 x 900.
    scale : float, keyword-only
        Kept for symmetry with :func:`to_png`; Kaleido multiplies the SVG size by it (default 1).

    Returns
    -------
    bytes
        The SVG document (UTF-8); chart text stays text, so titles are searchable.

    Raises
    ------
    ExportUnavailable
        If no usable Chrome/Chromium is available (the message holds the fix).
    ValueError
        If ``width``/``height`` is not an integer >= 100 or ``scale`` not in (0, 8].

    Examples
    --------
    >>> b"Incoming per day" in to_svg(fig, ChartMeta("Incoming per day"))  # doctest: +SKIP
    True
    """
    return _render(_prepare(fig, meta, width, height, scale), "svg", width, height, scale)


# ----------------------------------------------------------------------------- data


def _axis_title(fig: go.Figure, axis: Literal["x", "y"], default: str) -> str:
    text = (fig.layout.xaxis if axis == "x" else fig.layout.yaxis).title.text
    return text or default


def _as_keys(values: Sequence[object]) -> pd.Index:
    keys = pd.Index(np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values)
    # Plotly stores datetimes as ISO strings; give them back their type so the CSV sorts and parses.
    if len(keys) and all(isinstance(v, str) and _ISO_DATE.match(v) for v in keys):
        return pd.DatetimeIndex(pd.to_datetime(keys, format="ISO8601"))
    return keys.infer_objects()


def _trace_columns(trace: object) -> tuple[Sequence[object], Sequence[object]]:
    if getattr(trace, "type", None) == "pie":
        return trace.labels, trace.values  # type: ignore[attr-defined]
    x = getattr(trace, "x", None)
    y = getattr(trace, "y", None)
    if getattr(trace, "orientation", None) == "h":
        x, y = y, x  # key on the category axis, value on the value axis
    if y is None and x is not None and getattr(trace, "type", None) in ("histogram", "box", "violin"):
        return range(len(x)), x
    if y is None:
        raise ValueError(
            f"cannot tabulate a {getattr(trace, 'type', '?')!r} trace: it has no x/y or labels/values; "
            "pass the DataFrame behind the chart to to_csv instead"
        )
    if x is None:
        x = range(len(y))
    if len(x) != len(y):
        raise ValueError(f"trace {getattr(trace, 'name', None)!r} has {len(x)} x values but {len(y)} y values")
    return x, y


def chart_data(fig: go.Figure) -> pd.DataFrame:
    """The data a chart draws, as a table (what :func:`to_csv` writes).

    Wide form when every trace has each x (category) at most once: one row per x value (union
    over traces, in order of first appearance), one column per trace named after the trace
    (unnamed traces become "trace 0", "trace 1", …; repeated names get " (2)", " (3)", …), and the
    index named after the category axis title (or "x"). Horizontal bars are read with the
    category on y. Otherwise long form: columns ``trace``, <category>, <value>, one row per point.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        A figure of x/y traces (scatter, bar, …) or pies.

    Returns
    -------
    pandas.DataFrame
        Wide (indexed by category) or long (RangeIndex) table; ISO date strings become datetimes.

    Raises
    ------
    ValueError
        If the figure has no traces, or a trace has neither x/y nor labels/values (e.g. a
        heatmap: export the frame behind it instead).

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> fig = go.Figure([go.Bar(x=["A", "B"], y=[3, 4], name="solved")])
    >>> chart_data(fig).to_dict()
    {'solved': {'A': 3, 'B': 4}}
    """
    if not fig.data:
        raise ValueError("the figure has no traces, so there is no data to export")
    value_axis = _value_axis(fig)
    key_axis: Literal["x", "y"] = "y" if value_axis == "x" else "x"
    key_name = _axis_title(fig, key_axis, key_axis)
    value_name = _axis_title(fig, value_axis, "value")

    series: list[pd.Series] = []
    seen: dict[str, int] = {}
    for i, trace in enumerate(fig.data):
        name = trace.name if getattr(trace, "name", None) else f"trace {i}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        keys, values = _trace_columns(trace)
        series.append(pd.Series(list(values), index=_as_keys(keys), name=name).infer_objects())

    if all(s.index.is_unique for s in series):
        frame = pd.concat(series, axis=1, sort=False)
        frame.index.name = key_name
        return frame
    long = pd.concat(
        [pd.DataFrame({"trace": s.name, key_name: s.index, value_name: s.to_numpy()}) for s in series],
        ignore_index=True,
    )
    return long


# a spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: object) -> object:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def _defuse_values(values: pd.Series | pd.Index) -> pd.Series | pd.Index:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        return values.map(_defuse)
    return values  # numbers, dates, booleans: a negative number stays a number


def csv_bytes(frame: pd.DataFrame, *, index: bool = False) -> bytes:
    """CSV bytes (UTF-8) of a frame, safe to open in a spreadsheet.

    Text cells (and header cells) starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    are prefixed with a single quote, as OWASP recommends against CSV injection: ``=HYPERLINK(…)`` from
    an uploaded file is shown as text, never run. Only text (object, string or categorical) columns are
    touched, so numeric columns keep their negative numbers as numbers. Lines end in CRLF (RFC 4180), which
    makes the writer quote every field holding a CR: with ``\n`` endings pandas leaves ``"'\r=cmd"``
    unquoted and a spreadsheet would start a new row at ``=cmd``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to write; it is not modified.
    index : bool, default False
        Write the index as the first column (defused like a text column).

    Returns
    -------
    bytes
        The CSV file.

    Examples
    --------
    >>> frame = pd.DataFrame({"key": ['=HYPERLINK("http://x")', "@SUM(A1)", "ok"], "delta": [-5, 2, 0]})
    >>> for line in csv_bytes(frame).decode().splitlines():
    ...     print(line)
    key,delta
    "'=HYPERLINK(""http://x"")",-5
    '@SUM(A1),2
    ok,0
    """
    safe = frame.copy(deep=False)
    for i in range(safe.shape[1]):
        safe.isetitem(i, _defuse_values(safe.iloc[:, i]))
    safe.columns = _defuse_values(safe.columns) if not isinstance(safe.columns, pd.MultiIndex) else safe.columns
    if index:
        if not isinstance(safe.index, pd.MultiIndex):
            safe.index = _defuse_values(safe.index)
        safe.index = safe.index.set_names([_defuse(name) for name in safe.index.names])
    return safe.to_csv(index=index, lineterminator="\r\n").encode("utf-8")


def to_csv(data: go.Figure | pd.DataFrame) -> bytes:
    """CSV bytes (UTF-8) of a chart's data or of a frame.

    Parameters
    ----------
    data : plotly.graph_objects.Figure or pandas.DataFrame
        A figure (tabulated by :func:`chart_data`: wide, one row per x and one column per trace
        named after it, or long form when x values repeat) or the frame behind a chart (written
        as is; its index is kept unless it is a default RangeIndex).

    Returns
    -------
    bytes
        The CSV file (formulas in text cells defused by :func:`csv_bytes`). Needs no browser.

    Raises
    ------
    TypeError
        If ``data`` is neither a Figure nor a DataFrame.
    ValueError
        See :func:`chart_data`.

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> to_csv(go.Figure([go.Bar(x=["A", "B"], y=[3, 4], name="solved")])).decode().splitlines()
    ['x,solved', 'A,3', 'B,4']
    >>> to_csv(pd.DataFrame({"incoming": [6339.0, 5551.0], "aht": [9.5, 10.0]})).decode().splitlines()
    ['incoming,aht', '6339,9.5', '5551,10.0']
    """
    if isinstance(data, go.Figure):
        frame = chart_data(data)
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise TypeError(f"`data` must be a plotly Figure or a pandas DataFrame, got {type(data).__name__}")
    keep_index = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)
    return csv_bytes(_whole_numbers(frame), index=keep_index)


def _whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns that hold only whole numbers (counts) as integers: ``6339``, not ``6339.0``."""
    out = None
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_float_dtype(values):
            finite = values.dropna()
            if len(finite) and np.isfinite(finite).all() and (finite == finite.round()).all() \
                    and finite.abs().max() < 2**53:
                out = frame.copy() if out is None else out
                out[col] = values.astype("Int64")
    return frame if out is None else out

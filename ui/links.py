"""Links to the drill-down, and the clicks that lead there: the drill-down's URL protocol.

A drill-down view (``metrics.drilldown.DrilldownState``: a KPI, a day, a slice) lives in the URL's query
parameters (``?kpi=incoming&day=2026-06-30&workflow=brand_impersonation``), so a link is shareable and a reload
restores the view. Other pages link there with :func:`drilldown_link` (a URL) or :func:`drilldown_params` (for
``st.page_link`` / ``st.switch_page(..., query_params=...)``); a click on a chart point becomes a state
(:func:`selection_to_state`) or a link (:func:`point_params`). Pure functions: Streamlit's event shapes are read
as plain mappings, so every rule is tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pandas as pd

from metrics.drilldown import DrilldownState
from metrics.kpis import KPIS

__all__ = [
    "LinkError",
    "check_state",
    "drilldown_link",
    "drilldown_params",
    "parse_params",
    "point_params",
    "selection_to_state",
    "to_params",
]



class LinkError(ValueError):
    """A drill-down link (query parameters) that breaks a rule; the message says which."""


def _check_slice(filters: Mapping[str, Any], dimensions: Sequence[str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    for d, v in filters.items():
        if dimensions is not None and d not in dimensions:
            raise LinkError(f"unknown dimension {d!r}; expected one of {', '.join(dimensions)}")
        if v is None or str(v) == "":
            raise LinkError(f"dimension `{d}` needs a value, got an empty one")
        out[d] = str(v)
    return out


def drilldown_params(kpi: str, day: date | str, slice: Mapping[str, str] | None = None) -> dict[str, str]:
    """Query parameters of a drill-down view (for ``st.page_link(..., query_params=...)``).

    Parameters
    ----------
    kpi : str
        A registered KPI name.
    day : datetime.date or str
        The day (``YYYY-MM-DD`` when a string).
    slice : mapping, optional
        ``{dimension: value}``; order kept.

    Returns
    -------
    dict of str to str

    Raises
    ------
    LinkError
        For an unknown KPI or dimension, or a day that is not a date.

    Examples
    --------
    >>> drilldown_params("incoming", date(2026, 6, 30), {"channel": "web_form"})
    {'kpi': 'incoming', 'day': '2026-06-30', 'channel': 'web_form'}
    """
    state = parse_params({"kpi": kpi, "day": str(day)}, default_day=date.min, dimensions=())
    return to_params(replace(state, slice=tuple(_check_slice(slice or {}).items())))


def drilldown_link(kpi: str, day: date | str, slice: Mapping[str, str] | None = None, *,
                   page: str = "drilldown") -> str:
    """A relative URL that opens the drill-down on ``kpi``, ``day`` and ``slice``.

    Relative (no leading slash) so it works under any ``server.baseUrlPath``.

    Examples
    --------
    >>> drilldown_link("incoming", date(2026, 6, 30), {"workflow": "brand_impersonation"})
    'drilldown?kpi=incoming&day=2026-06-30&workflow=brand_impersonation'
    """
    return f"{page}?{urlencode(drilldown_params(kpi, day, slice))}"


def to_params(state: DrilldownState) -> dict[str, str]:
    """The state as query parameters (``kpi``, ``day``, then the slice in order)."""
    return {"kpi": state.kpi, "day": state.day.isoformat(), **state.filters}


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise LinkError(f"`day` must be a date like 2026-06-30, got {text!r}") from None


def parse_params(params: Mapping[str, Any], *, default_kpi: str = "incoming",
                 default_day: date, dimensions: Sequence[str]) -> DrilldownState:
    """Read a state from query parameters; missing ones take the defaults, unknown keys are ignored.

    Parameters
    ----------
    params : mapping
        Query parameters (``st.query_params.to_dict()``); a list value uses its last item.
    default_kpi : str, keyword-only
    default_day : datetime.date, keyword-only
    dimensions : sequence of str, keyword-only
        The configured dimensions: only these parameters form the slice (others, e.g. ``utm``, are ignored).

    Returns
    -------
    DrilldownState

    Raises
    ------
    LinkError
        For an unknown KPI, a day that is not a date, or an empty dimension value.

    Examples
    --------
    >>> parse_params({"kpi": "aht", "vendor_site": "Krakow"}, default_day=date(2026, 6, 30),
    ...              dimensions=("workflow", "vendor_site"))
    DrilldownState(kpi='aht', day=datetime.date(2026, 6, 30), slice=(('vendor_site', 'Krakow'),))
    """
    def value(key: str) -> str | None:
        v = params.get(key)
        if isinstance(v, list | tuple):
            v = v[-1] if v else None
        return None if v is None else str(v)

    kpi = value("kpi") or default_kpi
    if kpi not in {k.name for k in KPIS}:
        raise LinkError(f"unknown KPI {kpi!r} in the link; known: {', '.join(k.name for k in KPIS)}")
    day_text = value("day")
    day = _parse_day(day_text) if day_text else default_day
    slice_ = _check_slice({k: value(k) for k in params if k in dimensions})
    return DrilldownState(kpi, day, tuple(slice_.items()))


def check_state(state: DrilldownState, *, first: date, last: date,
                values: Mapping[str, Sequence[str]]) -> None:
    """Check a state against the data: day inside ``[first, last]``, slice values known.

    Raises
    ------
    LinkError
        Naming the rule broken (and the valid range or values).
    """
    if not first <= state.day <= last:
        raise LinkError(f"day {state.day} is outside the data ({first} – {last})")
    for d, v in state.slice:
        known = list(values.get(d, ()))
        if v not in known:
            shown = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
            raise LinkError(f"{d.replace('_', ' ')} {v!r} does not occur in the data (known: {shown})")


def _points(event: Any) -> list[Mapping[str, Any]]:
    if not event:
        return []
    selection = event.get("selection") if isinstance(event, Mapping) else getattr(event, "selection", None)
    if not selection:
        return []
    points = selection.get("points") if isinstance(selection, Mapping) else getattr(selection, "points", None)
    return list(points or [])


def selection_to_state(event: Any, state: DrilldownState) -> DrilldownState | None:
    """The state a click on a chart point leads to, or ``None`` when nothing was selected.

    The first selected point decides. Its ``customdata`` may carry a query string (first item when a
    list) such as ``"workflow=brand_impersonation&channel=web_form"`` or ``"kpi=aht&day=2026-06-30"``:
    a ``kpi``/``day`` replaces the current one, dimensions narrow the slice. Without a ``day`` there,
    an ``x`` that reads as a date (a point on a time axis) becomes the day.

    Parameters
    ----------
    event : mapping
        What ``st.plotly_chart(..., on_select="rerun")`` returns (``{"selection": {"points": [...]}}``).
    state : DrilldownState
        The current state.

    Returns
    -------
    DrilldownState or None
        ``None`` for an empty selection or when the point changes nothing.

    Raises
    ------
    LinkError
        When the point's ``customdata`` names an unknown KPI or dimension.

    Examples
    --------
    >>> s = DrilldownState("incoming", date(2026, 6, 30))
    >>> selection_to_state({"selection": {"points": [{"x": "2026-06-23", "y": 400}]}}, s).day
    datetime.date(2026, 6, 23)
    """
    points = _points(event)
    if not points:
        return None
    point = points[0]
    custom = point.get("customdata")
    if isinstance(custom, list | tuple):
        custom = custom[0] if custom else None
    updates = dict(parse_qsl(custom)) if isinstance(custom, str) and "=" in custom else {}
    new = state
    if "kpi" in updates:
        new = replace(new, kpi=parse_params({"kpi": updates["kpi"]}, default_day=state.day, dimensions=()).kpi)
    if "day" in updates:
        new = replace(new, day=_parse_day(updates["day"]))
    else:
        x = point.get("x")
        if isinstance(x, str | date | pd.Timestamp):
            with suppress(ValueError, TypeError):  # a category label, not a date
                new = replace(new, day=pd.Timestamp(x).date())
    narrowed = _check_slice({k: v for k, v in updates.items() if k not in ("kpi", "day")})
    if narrowed:
        new = new.with_filters({**new.filters, **narrowed})
    return None if new == state else new


def point_params(event: Any, *, kpi: str, split: str | None = None, traces: Sequence[str | None] = (),
                 slice: Mapping[str, str] | None = None,
                 dimensions: Sequence[str] | None = None) -> dict[str, str] | None:
    """Drill-down query parameters for a click on a point of a daily KPI chart, or ``None``.

    The first selected point decides: its ``x`` is the day and, on a chart split by ``split``, the
    slice value of its trace (``traces[curve_number]``) narrows ``slice``. A trace that is no slice
    (the expected band, the flag markers) leaves the slice as it is.

    Parameters
    ----------
    event : mapping
        What ``st.plotly_chart(..., on_select=...)`` reports (``{"selection": {"points": [...]}}``).
    kpi : str, keyword-only
        The chart's KPI (a registered name).
    split : str, optional, keyword-only
        The dimension the chart's lines are split by.
    traces : sequence of str or None, keyword-only
        Per curve number of the figure, the value of ``split`` that trace draws (``None``: no slice).
    slice : mapping, optional, keyword-only
        The slice the whole chart already shows (e.g. single-valued sidebar filters).

    Returns
    -------
    dict of str to str or None
        ``{"kpi", "day", *slice}`` (see :func:`drilldown_params`); ``None`` for an empty selection or a
        point whose ``x`` is not a date.

    Raises
    ------
    LinkError
        For an unknown KPI or dimension (``split`` or in ``slice``).

    Examples
    --------
    >>> event = {"selection": {"points": [{"curve_number": 1, "x": "2026-06-30", "y": 412}]}}
    >>> point_params(event, kpi="incoming", split="workflow", traces=["copyright", "brand_impersonation"])
    {'kpi': 'incoming', 'day': '2026-06-30', 'workflow': 'brand_impersonation'}
    """
    narrowed = _check_slice(dict(slice or {}), dimensions)
    if split is not None and dimensions is not None and split not in dimensions:
        raise LinkError(f"unknown dimension {split!r} to split by; expected one of {', '.join(dimensions)}")
    points = _points(event)
    if not points:
        return None
    point = points[0]
    x = point.get("x")
    if not isinstance(x, str | date | pd.Timestamp):
        return None
    try:
        day = pd.Timestamp(x).date()
    except (ValueError, TypeError):  # a category label, not a date
        return None
    curve = point.get("curve_number")
    value = traces[curve] if split is not None and isinstance(curve, int) and 0 <= curve < len(traces) else None
    if value is not None:
        narrowed[split] = str(value)
    return drilldown_params(kpi, day, narrowed)


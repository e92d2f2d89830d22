"""What a deck is made of: the charts an analyst collected (:class:`DeckItem`), their takeaway and key numbers
(:func:`summarize`), and the KPI definitions they need (:func:`kpi_definitions`).

Plain data, kept in the app database (``store``) and edited on the Deck page; ``charts.deck`` renders them
(each item becomes a :class:`charts.deck.Slide`). The Trends page and the weekly deck summarise a chart with the
same :func:`summarize`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from charts.deck import Slide
from charts.export import ChartMeta
from metrics.kpis import KPI, KPIS, get_kpi

__all__ = ["DeckItem", "kpi_definitions", "plain_label", "summarize"]



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
    spec_json : str
        How to draw the chart again, as JSON (``ui.redraw``: the chart's kind, its choices, its date range and
        filters, and the takeaway it was collected with); ``""`` for a chart kept as collected.
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
    spec_json: str = ""

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
                "origin": self.origin, "item_id": self.item_id, "spec": self.spec}

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
                   notes=record.get("notes", ""), origin=record.get("origin", ""), item_id=record["item_id"],
                   spec_json=json.dumps(record["spec"]) if record.get("spec") else "")

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
        spec: Mapping | None = None,
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
        spec : mapping, optional, keyword-only
            How to draw the chart again (JSON-able; ``ui.redraw``); the takeaway it is collected with is kept in
            it, so a redraw can tell an analyst's own takeaway from the computed one.

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
        return cls(fig.to_json(), meta, names, takeaway, tuple(tuple(p) for p in key_numbers), notes, origin,
                   spec_json=json.dumps({**spec, "takeaway": takeaway}) if spec else "")

    def figure(self) -> go.Figure:
        """The chart as a new plotly Figure."""
        return pio.from_json(self.figure_json, skip_invalid=True)

    @property
    def spec(self) -> dict:
        """How to draw the chart again (see ``spec_json``); ``{}`` when it is kept as collected."""
        return json.loads(self.spec_json) if self.spec_json else {}

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

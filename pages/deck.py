"""Deck: the charts collected with "Add to deck", ordered and annotated, built into a PowerPoint deck.

Decks live in the app database: a reload, another browser or the page's link (``?deck=``) opens the same
deck, and the list of decks reopens any earlier one.
"""

import time

import pandas as pd
import streamlit as st

from charts.deck import build_deck, sentences, slide_count
from charts.deck_items import kpi_definitions
from charts.export import ExportUnavailable, browser_status
from loaders import OpsDataError
from ui.app_store import (
    StoreError,
    app_store,
    audited,
    current_deck,
    deck_items,
    move_deck_item,
    new_deck,
    open_deck,
    remove_deck_item,
    retitle_deck,
    set_deck_items,
    update_deck_item,
    visible_decks,
)
from ui.data import newest_complete_day
from ui.errors import show_problem
from ui.redraw import redraw
from ui.shell import page
from ui.standup import day_summary
from ui.text import md

BUILT = "deck_pptx"  # session key: (fingerprint, pptx bytes, slide count, seconds)
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def _change(edit, *args) -> None:
    """Apply one edit to the stored deck; a failure is a message, never a lost deck."""
    try:
        edit(*args)
    except StoreError as err:
        st.toast(f"The deck was not changed: {md(err)}", icon=":material/error:")


def _remove_all() -> None:
    before = deck_items()
    set_deck_items([], expected=before)  # a chart another tab adds meanwhile stays


def _edited(item_id: str, **changes) -> None:
    """Edit one chart from its freshest stored copy, and store only it."""
    fresh = next((it for it in deck_items() if it.item_id == item_id), None)
    if fresh is None:
        raise StoreError("This chart was removed from the deck meanwhile (in another tab).")
    update_deck_item(fresh.edited(**changes))


def _move(item_id: str, offset: int) -> None:
    _change(move_deck_item, item_id, offset)


def _remove(item_id: str) -> None:
    _change(remove_deck_item, item_id)


def _set_takeaway(item_id: str) -> None:
    _change(lambda: _edited(item_id, takeaway=st.session_state[f"deck_takeaway_{item_id}"]))


def _set_heading() -> None:
    try:
        retitle_deck(st.session_state["deck_title"], st.session_state["deck_subtitle"])
    except StoreError as err:
        st.toast(f"Not saved: {md(err)}", icon=":material/error:")


def _redraw_all(end) -> None:
    """Every chart that carries its spec, drawn again with its range moved to end on ``end``; the others, and any
    the newer data cannot draw, stay as they were (the toast says which)."""
    done, kept, failed = 0, 0, []
    for item in deck_items():
        try:
            fresh = redraw(ctx, item, end=end)
            if fresh is None:
                kept += 1
                continue
            update_deck_item(fresh)
            done += 1
        except (OpsDataError, ValueError, StoreError) as err:
            failed.append(f"“{item.takeaway or item.meta.title}”: {err}")
    st.session_state.pop(BUILT, None)
    said = f"Redrew {done} chart{'s' if done != 1 else ''} on the data up to {end:%a %d %b %Y}."
    if kept:
        said += f" {kept} kept as collected (a weekly slide, or a chart collected before charts kept their spec)."
    if failed:
        said += " Not redrawn: " + "; ".join(failed)
    st.session_state["deck_redrawn"] = md(said)


def _pick_deck() -> None:
    open_deck(st.session_state["deck_pick"])
    for key in ("deck_title", "deck_subtitle", BUILT):
        st.session_state.pop(key, None)


def _new_deck() -> None:
    try:
        open_deck(new_deck(subtitle=_default_subtitle()))
    except StoreError as err:
        st.toast(f"No new deck: {md(err)}", icon=":material/error:")
        return
    for key in ("deck_title", "deck_subtitle", BUILT):
        st.session_state.pop(key, None)


def _default_subtitle() -> str:
    return f"Identity Operations · {filters.start:%d %b %Y} – {filters.end:%d %b %Y}" if filters else ""


def _numbers_key(item) -> str:
    # A new key once the numbers change: the editor's own edit log would otherwise be applied twice.
    return f"deck_numbers_{item.item_id}_{abs(hash(item.key_numbers)) % 10**8}"


def _preview(item):
    fig = item.figure()
    # a chart of stacked subplots (decomposition, small multiples) squeezed to one short preview made its
    # panel titles overlap: give each row of panels its own height and smaller titles
    rows = len({tuple(axis.domain or (0, 1)) for axis in fig.select_yaxes()}) or 1
    fig.update_layout(height=230 if rows == 1 else 70 + 130 * rows, showlegend=False, font={"size": 12},
                      margin={"l": 8, "r": 8, "t": 36 if rows == 1 else 60, "b": 8},
                      title={"text": item.meta.title, "font": {"size": 14}, "x": 0, "xanchor": "left",
                             "xref": "paper", "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 8}})
    fig.update_annotations(font_size=12)
    return fig


ctx, filters = page("Deck", uses_filters=False)
st.title("Deck")
try:
    store = app_store()
    deck = current_deck()
    decks = visible_decks()
except StoreError as err:
    show_problem(err, what="Decks cannot be opened:", icon=":material/database:")
    st.stop()
if st.query_params.get("deck") and deck is None:
    st.warning("This link names a deck that does not exist any more (it was deleted), or one you may not open. "
               "Pick another one below or start a new one.", icon=":material/link_off:")
picker, fresh = st.columns([5, 1], vertical_alignment="bottom")
if decks:
    names = {d.id: f"{d.title} · {d.charts} chart{'s' if d.charts != 1 else ''} · changed "
                   f"{d.updated_at:%d %b %Y %H:%M} UTC" for d in decks}
    if deck is not None:
        st.session_state["deck_pick"] = deck.id
    picker.selectbox("Open a deck", list(names), key="deck_pick", on_change=_pick_deck, index=None,
                     placeholder="Choose a saved deck", format_func=names.get)
fresh.button("New deck", key="deck_new", icon=":material/add:", on_click=_new_deck, width="stretch")
items = deck_items()
if deck is None or not items:
    st.info("**The deck is empty.** Under every chart of the app, **Add to deck** collects it with its current "
            "filters. Come back here to order the charts, write the takeaway of each slide and download a "
            "PowerPoint deck (title slide, one slide per chart with key numbers and speaker notes, "
            "an appendix of KPI definitions). Decks are saved: this page's link reopens the deck anywhere.",
            icon=":material/slideshow:")
    st.page_link("pages/trends.py", label="Collect charts on Trends", icon=":material/show_chart:")
    st.stop()

st.caption(f"Saved · {len(items)} chart{'s' if len(items) != 1 else ''} · this page's link opens this deck "
           "for anyone who can open the dashboard.")
newest = newest_complete_day(ctx) if ctx is not None else None
redrawable = sum(1 for it in items if it.spec)
if newest is not None and redrawable:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("Redraw on the newest data", key="deck_redraw", icon=":material/refresh:", on_click=_redraw_all,
                  args=(newest,),
                  help=f"Draw the charts again on the data up to {newest:%a %d %b %Y}: Trends and stand-up charts "
                       "with their date range moved to end there (same length), Anomalies and drill-down charts on "
                       "their own day (an Anomalies chart with the weeks after it). Numbers, bands, flags, "
                       "takeaways and key numbers are the newer data's; a takeaway you wrote yourself is kept.")
        st.caption("Every chart can be redrawn." if redrawable == len(items) else
                   f"{redrawable} of {len(items)} charts can be redrawn; the others are kept as collected.")
if said := st.session_state.pop("deck_redrawn", None):
    st.info(said, icon=":material/refresh:")
left, right = st.columns([3, 2])
if st.session_state.get("deck_heading_of") != deck.id:  # another deck (a link, a saved view): its own heading
    st.session_state["deck_heading_of"] = deck.id
    for key in ("deck_title", "deck_subtitle", BUILT):
        st.session_state.pop(key, None)
st.session_state.setdefault("deck_title", deck.title)
st.session_state.setdefault("deck_subtitle", deck.subtitle or _default_subtitle())
title = left.text_input("Deck title", key="deck_title", on_change=_set_heading, max_chars=200)
subtitle = left.text_input("Subtitle (team, date range)", key="deck_subtitle", on_change=_set_heading,
                           max_chars=300)
summary_day = min(filters.end, newest_complete_day(ctx)) if filters is not None and ctx is not None else None
with_summary = right.checkbox(
    f"Summary slide: the stand-up of {summary_day:%a %d %b %Y}" if summary_day else "Summary slide", value=True,
    key="deck_summary", disabled=summary_day is None,
    help="The stand-up's summary of the range's last day under the sidebar's filters, right after the title slide")
appendix = right.checkbox("Appendix: definitions of the KPIs shown", value=True, key="deck_appendix")
template = right.file_uploader("PowerPoint template (optional)", type=["pptx"], key="deck_template",
                               help="Its slide masters, theme and layouts are used; its own slides are dropped.")

st.subheader(f"{len(items)} chart slide{'s' if len(items) != 1 else ''}")
st.caption("Slide 1 is the title slide; each chart below becomes one slide, titled by its takeaway.")
for i, item in enumerate(items):
    with st.container(border=True, key=f"deck_item_{item.item_id}"):
        chart, edit, buttons = st.columns([4, 6, 1], vertical_alignment="top")
        chart.plotly_chart(_preview(item), key=f"deck_preview_{item.item_id}", theme=None,
                           config={"displayModeBar": False, "staticPlot": True})
        edit.markdown(f"**Slide {i + 2}** · {md(item.meta.title)}")
        as_of = f"data as of {item.meta.as_of:%d %b %Y}" if item.meta.as_of else "data date unknown"
        edit.caption((md(item.meta.subtitle) if item.meta.subtitle else "No filters recorded") + f" · {as_of}"
                     + ("" if item.spec else " · kept as collected"))
        edit.text_input("Takeaway (the slide title)", value=item.takeaway, key=f"deck_takeaway_{item.item_id}",
                        on_change=_set_takeaway, args=(item.item_id,), placeholder=item.meta.title,
                        max_chars=140)
        with edit.expander(f"Key numbers ({len(item.key_numbers)})"):
            shown = pd.DataFrame(list(item.key_numbers) or None, columns=["label", "value"], dtype="str")
            edited = st.data_editor(shown, key=_numbers_key(item), num_rows="dynamic", hide_index=True,
                                    width="stretch")
            numbers = tuple((str(a).strip(), str(b).strip()) for a, b in edited.fillna("").itertuples(index=False)
                            if str(a).strip() or str(b).strip())
            if numbers != item.key_numbers:
                _change(lambda item=item, numbers=numbers: _edited(item.item_id, key_numbers=numbers))
        buttons.button("", key=f"deck_up_{item.item_id}", icon=":material/arrow_upward:", help="Move up",
                       disabled=i == 0, on_click=_move, args=(item.item_id, -1))
        buttons.button("", key=f"deck_down_{item.item_id}", icon=":material/arrow_downward:", help="Move down",
                       disabled=i == len(items) - 1, on_click=_move, args=(item.item_id, 1))
        buttons.button("", key=f"deck_remove_{item.item_id}", icon=":material/delete:", help="Remove from the deck",
                       on_click=_remove, args=(item.item_id,))

items = deck_items()  # the key-number editors may have changed items above
template_bytes = template.getvalue() if template is not None else None
summary = None
if with_summary and summary_day is not None:
    try:
        summary = (f"Stand-up summary, {summary_day:%a %d %b %Y}", tuple(sentences(day_summary(ctx, filters,
                                                                                                summary_day))))
    except (OpsDataError, ValueError) as err:
        st.warning(f"No summary slide: {md(err)}", icon=":material/warning:")
titles = [it.takeaway.strip() or it.meta.title for it in items]
repeated = sorted({t for t in titles if titles.count(t) > 1})
if repeated:
    st.warning("Two slides have the same title: " + "; ".join(f"“{md(t)}”" for t in repeated)
               + ". Edit a takeaway so each slide says its own thing.", icon=":material/content_copy:")
fingerprint = hash((tuple(items), title, subtitle, appendix, template_bytes, summary))
ok, status = browser_status()
if not ok:
    st.warning(f"The deck cannot be built here: {md(status)}", icon=":material/warning:")
actions = st.container(horizontal=True, vertical_alignment="center")
if actions.button("Build deck", key="deck_build", type="primary", icon=":material/slideshow:", disabled=not ok):
    started = time.perf_counter()
    try:
        with st.spinner(f"Rendering {len(items)} charts…"):
            pptx = build_deck([it.to_slide() for it in items], title=title.strip() or "Identity Ops review",
                              subtitle=subtitle, definitions=kpi_definitions(items), appendix=appendix,
                              template=template_bytes, summary=summary)
    except (ExportUnavailable, ValueError) as err:
        show_problem(err, what="The deck could not be built:")
    else:
        st.session_state[BUILT] = (fingerprint, pptx, slide_count(pptx), time.perf_counter() - started)
built = st.session_state.get(BUILT)
if built and built[0] == fingerprint:
    _, pptx, slides, seconds = built
    actions.download_button("Download .pptx", data=audited(pptx, "deck_pptx", {
                                "deck": deck.id if deck else "", "title": st.session_state.get("deck_title", ""),
                                "slides": slides}), mime=PPTX_MIME, key="deck_download", type="primary",
                            file_name=f"identity-ops-deck_{filters.end:%Y-%m-%d}.pptx", on_click="ignore",
                            icon=":material/download:")
    actions.caption(f"{slides} slides · {len(pptx) / 1e6:.1f} MB · built in {seconds:.1f} s")
elif built:
    actions.caption("The deck changed since it was built: build it again.")
actions.button("Remove every chart", key="deck_clear", type="tertiary", icon=":material/delete_sweep:",
               on_click=_change, args=(_remove_all,))

"""Notes and acknowledgements on a day and slice: written on the stand-up and the drill-down, shown on charts.

A note belongs to a day, a slice (single values of some dimensions; none: the total) and optionally a KPI. The
slice is the one the *data layer* reads: a partner's "all" is its own sites, so a note a partner sees on its
total is the note an admin sees on those sites — never a note about the global total. Notes are kept in the
app database (``store``); a note marked as a known event is masked by the detector from then on
(:func:`event_frame`, read by ``ui.anomaly_data.events``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import pandas as pd
import streamlit as st

from loaders import Filters, Scope
from metrics.events import note_events
from store import NOTE_STATUSES, Note, StoreError
from ui.app_store import app_store
from ui.data import DataContext
from ui.errors import show_problem
from ui.text import md

__all__ = ["STATUS_LABELS", "chart_marks", "deck_notes", "event_frame", "events_version", "note_form", "notes_on",
           "render_notes", "view_slice", "visible_notes"]

STATUS_LABELS = {"note": "Note", "seen": "Seen", "expected": "Expected", "false_alarm": "False alarm"}
_BADGE = {"note": "gray", "seen": "blue", "expected": "green", "false_alarm": "orange"}
Slice = tuple[tuple[str, str], ...]


def view_slice(ctx: DataContext, filters: Filters, extra: Mapping[str, str] | None = None) -> Slice | None:
    """The slice a view shows, as the data layer reads it (the user's scope applied), plus ``extra`` (an item's
    own slice); ``None`` when a dimension holds several values (a note is about one slice)."""
    chosen = ctx.scope.restrict(filters).dimension_filters
    pairs = dict(extra or {})
    for d, values in chosen.items():
        if d in pairs:
            continue
        if len(values) != 1:
            return None
        pairs[d] = values[0]
    return tuple(sorted(pairs.items()))


def visible_notes(ctx: DataContext, start: date, end: date) -> tuple[list[Note], str | None]:
    """The notes from ``start`` to ``end`` the user may see, and the reason when they cannot be read (the app
    database is down: the pages go on without notes)."""
    try:
        found = app_store().notes(start, end)
    except StoreError as err:
        return [], str(err)
    return [n for n in found if ctx.scope.sees_slice(n.slice)], None


def notes_on(notes: Sequence[Note], *, slice_: Slice | None, day: date | None = None,
             kpi: str | None = None) -> list[Note]:
    """The notes about exactly this slice (and day, and KPI: a note without a KPI is about every KPI)."""
    if slice_ is None:
        return []
    return [n for n in notes if n.slice == slice_ and (day is None or n.day == day)
            and (kpi is None or n.kpi in (None, kpi))]


def _line(note: Note, *, with_day: bool) -> str:
    badge = f":{_BADGE[note.status]}-badge[{STATUS_LABELS[note.status]}]"
    event = ":violet-badge[known event] " if note.event else ""
    # the store admits only http(s) addresses without spaces; brackets are encoded so the link cannot end early
    target = note.link.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")
    link = f" · [ticket]({target})" if note.link.startswith(("https://", "http://")) else ""
    text = md(note.text) if note.text else ""
    day = f"{note.day:%a %d %b %Y}: " if with_day else ""
    return f"{badge} {event}{day}{text}{link} — {md(note.author)}, {note.updated_at:%d %b %H:%M} UTC"


def render_notes(notes: Sequence[Note], *, with_day: bool = False, key: str, user_email: str | None = None,
                 admin: bool = False) -> None:
    """The notes, newest first, each with its author and time; the author (or an admin) can edit or delete one.

    An edit is saved only over the version it started from: when another analyst changed the note meanwhile, the
    edit is refused with what the note now says (nothing is written over it)."""
    for note in notes:
        line, edit, drop = st.columns([12, 1, 1], vertical_alignment="center")
        line.markdown(_line(note, with_day=with_day))
        if not (admin or (user_email and note.author == user_email)):
            continue
        _edit_form(edit, note, key=f"{key}_edit_{note.id}", editor=user_email or "")
        drop.button("", key=f"{key}_del_{note.id}", icon=":material/delete:", type="tertiary",
                    help="Delete this note", on_click=_delete, args=(note.id, note.version))


def _edit_form(where, note: Note, *, key: str, editor: str) -> None:
    # the version the edit started from is kept with the form: a submit after someone else's save is refused
    # (its key does not change with the note, so the stale submit is seen, not dropped with its form)
    started = f"{key}_version"
    if started not in st.session_state:
        st.session_state[started] = note.version
        st.session_state[f"{key}_text"] = note.text
        st.session_state[f"{key}_link"] = note.link
        st.session_state[f"{key}_status"] = note.status
    with where.popover("", icon=":material/edit:", help="Edit this note"), st.form(key=key, border=False):
        status = st.segmented_control("What is it", list(NOTE_STATUSES), format_func=STATUS_LABELS.get,
                                      key=f"{key}_status")
        text = st.text_area("Note", max_chars=2000, key=f"{key}_text")
        link = st.text_input("Ticket link (optional)", key=f"{key}_link")
        if not st.form_submit_button("Save", icon=":material/save:"):
            return
    version = st.session_state.pop(started)
    try:
        app_store().update_note(note.id, version=version, author=editor, status=status or note.status,
                                text=text, link=link)
    except StoreError as err:
        show_problem(err, what="The note was not saved:")  # the form reopens on the note as it now reads
        return
    st.rerun()


def _delete(note_id: int, version: int) -> None:
    try:
        app_store().delete_note(note_id, version=version)
    except StoreError as err:
        st.toast(f"Not deleted: {md(err)}", icon=":material/error:")
        return
    st.toast("Note deleted.", icon=":material/delete:")


def note_form(ctx: DataContext, *, day: date, slice_: Slice | None, kpi: str | None, key: str,
              label: str = "Note") -> None:
    """A popover to write a note or acknowledge a flag on ``day`` and ``slice_``."""
    user = ctx.user
    if not user.can_write_notes:
        return
    if slice_ is None:
        st.caption("Notes are about one slice: filter each dimension to one value to write one.")
        return
    with st.popover(label, icon=":material/edit_note:"), st.form(key=f"{key}_form", clear_on_submit=True,
                                                                   border=False):
        status = st.segmented_control("What is it", list(NOTE_STATUSES), default="note",
                                      format_func=STATUS_LABELS.get, key=f"{key}_status")
        text = st.text_area("Note", key=f"{key}_text", max_chars=2000, placeholder="known: routing change",
                            height=90)
        link = st.text_input("Ticket link (optional)", key=f"{key}_link", placeholder="https://…")
        scanned = all(d in ctx.scan_dims for d, _v in slice_)
        event = st.checkbox("Known event: the detector stops flagging this day for this slice",
                            key=f"{key}_event", disabled=not scanned,
                            help=None if scanned else "Only slices of the scanned dimensions can be masked.")
        if st.form_submit_button("Save", icon=":material/save:"):
            try:
                app_store().add_note(day=day, slice=slice_, kpi=kpi, status=status or "note", text=text,
                                     link=link, event=bool(event and scanned), author=user.email)
            except StoreError as err:
                show_problem(err, what="The note was not saved:")
                return
            # a known event changes the judgment: the scored panel's key holds the notes' version
            st.toast("Note saved.", icon=":material/check:")
            st.rerun()


def events_version() -> str:
    """Changes whenever a note marked as a known event is added, changed or deleted (``DataContext.key``)."""
    try:
        return app_store().notes_version(events_only=True)
    except StoreError:
        return "unavailable"


def event_frame(dims: tuple[str, ...], scope: Scope) -> pd.DataFrame:
    """The notes marked as known events that a user of ``scope`` may read, as an events frame
    (``metrics.events.note_events``). An unreachable app database gives no events."""
    try:
        found = app_store().notes(date.min, date.max, events_only=True)
    except StoreError:
        found = []
    return note_events([n for n in found if scope.sees_slice(n.slice)], dims)


def deck_notes(notes: Sequence[Note]) -> str:
    """The notes of a chart as a slide's speaker notes: day, what, author and time (plain text)."""
    lines = [f"{n.day:%a %d %b %Y} — {STATUS_LABELS[n.status]}" + (f": {n.text}" if n.text else "")
             + (" (known event)" if n.event else "") + (f" · {n.link}" if n.link else "")
             + f" ({n.author}, {n.updated_at:%d %b %Y %H:%M} UTC)" for n in sorted(notes, key=lambda n: n.day)]
    return "Notes on this chart:\n" + "\n".join(lines) if lines else ""


def chart_marks(notes: Sequence[Note]) -> list[tuple[date, str]]:
    """Notes as ``(day, text)`` marks for a chart (``charts.figures.add_note_marks``)."""
    return [(n.day, f"{STATUS_LABELS[n.status]}: {n.text}" if n.text else STATUS_LABELS[n.status])
            for n in notes]

"""The app database as the pages use it: one store per URL, the current deck, saved views.

The current deck is named in the URL (``?deck=<id>``, carried by every page link like the filters), so a
reload, another browser or a pasted link opens the same deck. A problem with the app database is shown
where a deck or a view is used and never stops the pages that only read data.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from charts.deck_items import DeckItem
from loaders import OpsDataError, Scope, User
from store import AppStore, Deck, SavedView, StoreError
from ui import state
from ui.auth import signed_in_user
from ui.data import cached, current_settings

__all__ = [
    "DECK_PARAM",
    "StoreError",
    "add_to_deck",
    "app_store",
    "audited",
    "bind_deck",
    "current_deck",
    "deck_items",
    "delete_view",
    "move_deck_item",
    "new_deck",
    "open_deck",
    "remove_deck_item",
    "retitle_deck",
    "save_view",
    "saved_views",
    "set_deck_items",
    "sync_deck_param",
    "update_deck_item",
    "visible_decks",
]

DECK_PARAM = "deck"
RETRY_S = 60  # a failed connection to the app database is tried again after this many seconds
_FAILED: dict[str, tuple[float, StoreError]] = {}
_DECK = "current_deck_id"   # session key: the deck this session is collecting into


@st.cache_resource(show_spinner=False)
def _store(url: str) -> AppStore:
    return AppStore(url)  # migrations run here, once per process and URL (a failure is not cached)


def app_store() -> AppStore:
    """The app database (migrated to the newest schema on first use). Raises :class:`StoreError`."""
    try:
        settings = current_settings()
    except OpsDataError:
        raise StoreError("the configuration has a problem (the Data page says which); decks and saved views "
                         "open once it is fixed") from None
    url = settings.app_db_url
    failed = _FAILED.get(url)
    if failed and time.monotonic() - failed[0] < RETRY_S:  # an unreachable server is not waited for on every run
        raise failed[1]
    try:
        store = _store(url)
    except StoreError as err:
        _FAILED[url] = (time.monotonic(), err)
        raise
    _FAILED.pop(url, None)
    return store


def bind_deck() -> None:
    """Read ``?deck=`` into the session (a link or a reload) and keep the URL naming the session's deck.

    Called by ``ui.shell.page`` on every page, so every page link carries the deck."""
    state.mark_shared(DECK_PARAM)
    linked = st.query_params.get(DECK_PARAM)
    # like a widget: the URL's deck wins only when the URL came from outside (a link, a reload); otherwise the
    # session's deck does (a deck just started by "Add to deck" is not replaced by a stale or deleted one)
    if linked and state.from_outside():
        st.session_state[_DECK] = linked
    sync_deck_param()


def sync_deck_param() -> None:
    """Write the session's deck into the URL (also from the "Add to deck" fragment, so a reload keeps it)."""
    current = st.session_state.get(_DECK)
    if st.query_params.get(DECK_PARAM) != current:
        state.set_param(DECK_PARAM, [current] if current else [])


def _user() -> User:
    try:
        user = signed_in_user(current_settings())
    except OpsDataError:
        user = None
    if user is None:
        raise StoreError("nobody with a role is signed in")
    return user


def _visible(scope: dict | None, user: User) -> bool:
    """Whether ``user`` may open what was made under ``scope`` (``None``: made before sign-in, seeing everything):
    only when the user sees at least as much, so a partner never opens an analyst's deck or view."""
    return Scope.from_record(scope).within(user.scope) if scope is not None else user.scope.everything


def _owned(user: User) -> dict:
    return {"owner": user.email, "scope": user.scope.to_record()}


def audited(make: Callable[[], bytes] | bytes, action: str, what: Mapping[str, Any]) -> Callable[[], bytes]:
    """A download button's data that records, when the file is made, who downloaded what (the audit log in
    the app database). The user and the store are taken now, in the page run; a store that cannot be reached
    does not stop the download (the data pages work without the app database)."""
    try:
        who, store = _user().email, app_store()
    except StoreError:
        who, store = None, None

    def run() -> bytes:
        data = make() if callable(make) else make
        if store is not None and who is not None:
            with contextlib.suppress(StoreError):  # the file is the user's either way
                store.log(who, action, {**what, "bytes": len(data)})
        return data

    return run


def current_deck() -> Deck | None:
    """The deck this session collects into, or None (no deck yet, its link names a deleted one, or one the user
    may not open: the two are told apart to nobody)."""
    deck_id = st.session_state.get(_DECK)
    deck = app_store().deck(deck_id) if deck_id else None
    return deck if deck is not None and _visible(deck.scope, _user()) else None


def visible_decks() -> list[Deck]:
    """The decks the signed-in user may open, the most recently changed first."""
    user = _user()
    return [d for d in app_store().decks() if _visible(d.scope, user)]


def new_deck(subtitle: str = "") -> str:
    """A new deck owned by the signed-in user, under its scope; returns its id."""
    return app_store().create_deck(subtitle=subtitle, **_owned(_user()))


def open_deck(deck_id: str | None) -> None:
    """Make ``deck_id`` the session's deck (None: start afresh on the next "Add to deck")."""
    if deck_id:
        st.session_state[_DECK] = deck_id
    else:
        st.session_state.pop(_DECK, None)
    state.set_param(DECK_PARAM, [deck_id] if deck_id else [])


def deck_items() -> list[DeckItem]:
    """The current deck's charts in slide order (none without a deck; an unreadable record is skipped)."""
    deck = current_deck()
    if deck is None:
        return []
    out = []
    for record in app_store().items(deck.id):
        try:
            out.append(DeckItem.from_record(record))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def set_deck_items(items: Sequence[DeckItem], *, expected: Sequence[DeckItem] | None = None) -> None:
    """Replace the current deck's charts (reorder, edit, remove); charts another tab added meanwhile stay."""
    deck_id = _deck_id()
    app_store().replace_items(deck_id, [it.to_record() for it in items],
                              expected=[it.item_id for it in expected] if expected is not None else None)


def _writable(deck: Deck, user: User) -> bool:
    """Whether ``user`` may change ``deck``: only when everything it sees is within the deck's scope, so an
    analyst's all-sites chart never lands in a partner's deck (the partner would then see it)."""
    return user.scope.within(Scope.from_record(deck.scope)) if deck.scope is not None else True


def _deck_id() -> str:
    deck = current_deck()
    if deck is None:
        raise StoreError("There is no deck to change: add a chart first.")
    if not _writable(deck, _user()):
        raise StoreError("This deck was made for a narrower view of the data than yours: you can read it, not "
                         "change it. Start a new deck to collect your own charts.")
    return deck.id


def retitle_deck(title: str, subtitle: str) -> None:
    """Change the current deck's title and subtitle (its owner's, or a deck of a scope within the user's)."""
    app_store().update_deck(_deck_id(), title=title, subtitle=subtitle)


def update_deck_item(item: DeckItem) -> None:
    """Store one edited chart (only that one: another tab's edits of other slides stay)."""
    app_store().update_item(_deck_id(), item.to_record())


def remove_deck_item(item_id: str) -> None:
    app_store().remove_item(_deck_id(), item_id)


def move_deck_item(item_id: str, offset: int) -> None:
    app_store().move_item(_deck_id(), item_id, offset)


def add_to_deck(item: DeckItem) -> int:
    """Append ``item`` to the current deck, starting one when there is none; returns the deck's chart count."""
    store = app_store()
    deck, user = current_deck(), _user()
    if deck is None or not _writable(deck, user):  # a partner's deck open here: the chart starts a deck of one's own
        deck_id = store.create_deck(**_owned(user))
        st.session_state[_DECK] = deck_id
    else:
        deck_id = deck.id
    return store.add_item(deck_id, item.to_record())


def save_view(name: str, page: str, *, replace: bool = False) -> int:
    """Store the current page with its URL state (filters, choices, deck) under ``name``."""
    # a view is shared by everyone: it never carries the saver's deck (opening it must not switch decks)
    params = {k: v for k, v in state.link_params(page).items() if k != DECK_PARAM}
    user = _user()
    view_id = app_store().save_view(name, page, params, replace=replace, **_owned(user),
                                    may_replace=lambda view: _visible(view.scope, user))
    _views.clear()
    return view_id


def delete_view(view_id: int) -> None:
    if not any(v.id == view_id for v in saved_views()):
        raise StoreError("This view is not yours to delete.")
    app_store().delete_view(view_id)
    _views.clear()


@cached(ttl="live")
def _views(url: str) -> list[SavedView]:
    return _store(url).views()


def saved_views() -> list[SavedView]:
    """Every saved view the signed-in user may open, by name (read at most once a minute per process: the
    sidebar lists them on every run; a view saved or deleted here shows at once)."""
    app_store()  # reached, or raises StoreError (and waits out a failure like every other store call)
    user = _user()
    return [v for v in _views(current_settings().app_db_url) if _visible(v.scope, user)]

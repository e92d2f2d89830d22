"""The app's own database: what users create — decks and saved views (notes and subscriptions later).

Always a database of its own, never the source (which the app only reads): SQLite beside the local cache
by default (``.cache/app.sqlite``), or PostgreSQL / MariaDB by URL (``[app_db] url`` in ``ops.toml``, or
``OPS_APP_DB_URL``). Its schema is managed by Alembic migrations (``store/migrations``), applied when the
store is opened, so a new version of the app brings its tables up to date on start.

Every write is one transaction: adding a chart to a deck while another tab reorders it loses neither
(positions are assigned inside the transaction that inserts). Errors reach the user as
:class:`StoreError`, with what to fix and no SQL.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from store.schema import VERSION_TABLE, audit, deck_items, decks, notes, send_claims, sends, subscriptions, views

__all__ = ["NOTE_STATUSES", "AppStore", "AuditEntry", "Deck", "Note", "SavedView", "StoreError", "Subscription",
           "open_store"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MAX_VIEW_NAME = 120
MAX_TITLE = 200
MAX_NOTE = 2000
#: after the database failed to answer, calls fail at once for this long (then it is tried again)
RETRY_AFTER_S = 30.0
#: what a note says about a flag: a plain note, or an acknowledgement
NOTE_STATUSES = ("note", "seen", "expected", "false_alarm")


class StoreError(RuntimeError):
    """The app database cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class Deck:
    """A deck as listed: its link id, title, subtitle, times and number of charts."""

    id: str
    title: str
    subtitle: str
    created_at: dt.datetime
    updated_at: dt.datetime
    charts: int
    #: who made it, and the scope it was made under (``loaders.access.Scope.to_record``; None: everything)
    owner: str | None = None
    scope: dict[str, Any] | None = None


@dataclass(frozen=True)
class SavedView:
    """A named page with its URL state."""

    id: int
    name: str
    page: str
    params: dict[str, Any]
    created_at: dt.datetime
    owner: str | None = None
    scope: dict[str, Any] | None = None


@dataclass(frozen=True)
class Note:
    """A note or an acknowledgement on a day and slice (``slice``: sorted ``(dimension, value)`` pairs, ``()``
    for the total; ``kpi`` None: every KPI of the slice). ``event``: the detector masks that day as known."""

    id: int
    day: dt.date
    kpi: str | None
    slice: tuple[tuple[str, str], ...]
    status: str
    text: str
    link: str
    event: bool
    author: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


@dataclass(frozen=True)
class Subscription:
    """Who gets the stand-up, where, how often: the digest is cut to ``email``'s scope."""

    id: int
    email: str
    channel: str          # email | webhook
    target: str           # the address, or the webhook URL
    cadence: str          # daily | weekly
    kpis: tuple[str, ...]
    min_severity: float
    created_by: str


@dataclass(frozen=True)
class AuditEntry:
    """Who did what (an export, a deck download), when."""

    at: dt.datetime
    user: str
    action: str
    what: dict[str, Any]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _alembic_config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _store_errors(method):
    """A database failure inside a store method (unreachable, locked, no permission) becomes a StoreError that
    says what to check, in a few words of the driver's and never the SQL."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        down = getattr(self, "_down", None)
        if down is not None and time.monotonic() < down[0]:  # a server that just failed is not waited for again
            raise down[1]
        try:
            return method(self, *args, **kwargs)
        except sa.exc.SQLAlchemyError as err:
            problem = StoreError(f"The app database cannot be reached or written ({_reason(err)}). Check "
                                 "[app_db] url / OPS_APP_DB_URL, that the database exists and that the account may "
                                 "write to it.")
            server = self.url.get_backend_name() != "sqlite"  # a local file has no connect timeout to wait out
            if server and isinstance(err, sa.exc.OperationalError | sa.exc.InterfaceError) and not _answers(self):
                # unreachable (not a deadlock or a lock timeout: the server then still answers): every page run
                # would wait out the connect timeout on each of its calls
                self._down = (time.monotonic() + RETRY_AFTER_S, problem)
            raise problem from None
    return wrapper


class AppStore:
    """The app database behind one SQLAlchemy engine.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://…``, ``mysql+pymysql://…``).
    migrate : bool
        Apply the migrations up to the newest now (the default; the app does so on start).
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError:
            raise StoreError("The app database URL is not a database URL (e.g. sqlite:///.cache/app.sqlite or "
                             "postgresql+psycopg://user@host/db)") from None
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["connect_args"] = {"connect_timeout": 10}
        self.url = parsed
        try:
            self.engine = sa.create_engine(parsed, **kwargs)
        except (sa.exc.ArgumentError, ImportError) as err:
            raise StoreError(f"The app database URL cannot be used: {type(err).__name__}") from None
        if parsed.get_backend_name() == "sqlite":
            # SQLAlchemy's documented pysqlite recipe: the driver's own transaction handling starts a transaction
            # only at the first INSERT, so "read the last position, then insert" raced between two writers
            # (measured: duplicate positions); every write transaction now begins IMMEDIATE, taking the write lock
            # (only for writes: a read begins DEFERRED, so in WAL mode it never waits for a writer)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self._writer = self.engine.execution_options(ops_write=True)
        if migrate:
            self.migrate()

    # ------------------------------------------------------------------------------------------ schema
    @_store_errors
    def migrate(self) -> str:
        """Bring the schema to the newest migration; returns the revision now applied."""
        with self._writer.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        return self.revision() or ""

    @_store_errors
    def revision(self) -> str | None:
        """The migration the database is at (None before the first)."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()

    @staticmethod
    def head() -> str:
        """The newest migration this version of the app knows."""
        return ScriptDirectory(str(_MIGRATIONS)).get_current_head() or ""

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------------------------------- decks
    @_store_errors
    def create_deck(self, title: str = "Identity Ops review", subtitle: str = "", *, owner: str | None = None,
                    scope: Mapping[str, Any] | None = None) -> str:
        """A new, empty deck; returns its id (the token in its link). ``owner`` and ``scope`` say who made it
        and what they may see (a deck is opened only by those who see at least as much)."""
        deck_id = secrets.token_urlsafe(9)
        now = _now()
        with self._writer.begin() as conn:
            conn.execute(decks.insert().values(id=deck_id, title=_text(title, MAX_TITLE, "deck title"),
                                               subtitle=_text(subtitle, 300, "subtitle", empty=True),
                                               created_at=now, updated_at=now, owner=owner, scope=_json(scope)))
        return deck_id

    @_store_errors
    def deck(self, deck_id: str) -> Deck | None:
        """The deck with this id, or None."""
        found = [d for d in self._decks(decks.c.id == str(deck_id))]
        return found[0] if found else None

    @_store_errors
    def decks(self) -> list[Deck]:
        """Every deck, the most recently changed first."""
        return self._decks(None)

    def _decks(self, where: Any) -> list[Deck]:
        count = (sa.select(deck_items.c.deck_id, sa.func.count().label("n"))
                 .group_by(deck_items.c.deck_id).subquery())
        query = (sa.select(decks, sa.func.coalesce(count.c.n, 0).label("n"))
                 .select_from(decks.outerjoin(count, count.c.deck_id == decks.c.id))
                 .order_by(decks.c.updated_at.desc(), decks.c.id))
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            return [Deck(r.id, r.title, r.subtitle, r.created_at, r.updated_at, int(r.n), r.owner,
                         _unjson(r.scope)) for r in conn.execute(query)]

    @_store_errors
    def update_deck(self, deck_id: str, *, title: str | None = None, subtitle: str | None = None) -> None:
        values: dict[str, Any] = {"updated_at": _now()}
        if title is not None:
            values["title"] = _text(title, MAX_TITLE, "deck title")
        if subtitle is not None:
            values["subtitle"] = _text(subtitle, 300, "subtitle", empty=True)
        with self._writer.begin() as conn:
            self._require(conn, deck_id)
            conn.execute(decks.update().where(decks.c.id == deck_id).values(**values))

    @_store_errors
    def delete_deck(self, deck_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(deck_items.delete().where(deck_items.c.deck_id == deck_id))
            conn.execute(decks.delete().where(decks.c.id == deck_id))

    @_store_errors
    def items(self, deck_id: str) -> list[dict[str, Any]]:
        """The deck's charts in slide order, as the records they were stored as (``DeckItem.to_record``)."""
        query = (sa.select(deck_items.c.payload).where(deck_items.c.deck_id == str(deck_id))
                 .order_by(deck_items.c.position, deck_items.c.created_at))
        with self.engine.connect() as conn:
            return [json.loads(payload) for (payload,) in conn.execute(query)]

    @_store_errors
    def add_item(self, deck_id: str, item: Mapping[str, Any]) -> int:
        """Append a chart record (with its ``item_id``) to the deck, atomically: two tabs adding at once both
        land. Returns the deck's chart count."""
        payload, item_id = json.dumps(dict(item)), _item_id(item)
        with self._writer.begin() as conn:
            self._require(conn, deck_id, lock=True)
            last = conn.execute(sa.select(sa.func.max(deck_items.c.position))
                                .where(deck_items.c.deck_id == deck_id)).scalar()
            conn.execute(deck_items.insert().values(deck_id=deck_id, item_id=item_id,
                                                    position=(last or 0) + 1, payload=payload, created_at=_now()))
            _touch(conn, deck_id)
            return int(conn.execute(sa.select(sa.func.count()).where(deck_items.c.deck_id == deck_id)).scalar())

    @_store_errors
    def replace_items(self, deck_id: str, items: Sequence[Mapping[str, Any]], *,
                      expected: Sequence[str] | None = None) -> None:
        """Make the deck exactly ``items`` in this order (reorder, edit, remove) in one transaction.

        ``expected`` is the item ids the caller's edit started from: when another session changed the deck
        meanwhile (a chart added in another tab), charts it added are kept at the end, never lost.
        """
        now = _now()
        with self._writer.begin() as conn:
            self._require(conn, deck_id, lock=True)
            current = [r.item_id for r in conn.execute(
                sa.select(deck_items.c.item_id).where(deck_items.c.deck_id == deck_id)
                .order_by(deck_items.c.position))]
            keep_new = [] if expected is None else [i for i in current if i not in set(expected)]
            extra = {r.item_id: r.payload for r in conn.execute(
                sa.select(deck_items.c.item_id, deck_items.c.payload)
                .where(deck_items.c.deck_id == deck_id, deck_items.c.item_id.in_(keep_new)))} if keep_new else {}
            conn.execute(deck_items.delete().where(deck_items.c.deck_id == deck_id))
            rows = [{"deck_id": deck_id, "item_id": _item_id(it), "position": i + 1,
                     "payload": json.dumps(dict(it)), "created_at": now} for i, it in enumerate(items)]
            rows += [{"deck_id": deck_id, "item_id": i, "position": len(rows) + k + 1, "payload": extra[i],
                      "created_at": now} for k, i in enumerate(keep_new) if i in extra]
            if rows:
                conn.execute(deck_items.insert(), rows)
            _touch(conn, deck_id)

    @_store_errors
    def update_item(self, deck_id: str, item: Mapping[str, Any]) -> None:
        """Replace one chart's record (its takeaway, key numbers…) in place; the other charts are untouched, so
        two tabs editing different slides both keep their edits."""
        item_id = _item_id(item)
        with self._writer.begin() as conn:
            self._require(conn, deck_id, lock=True)
            done = conn.execute(deck_items.update().where(deck_items.c.deck_id == deck_id,
                                                          deck_items.c.item_id == item_id)
                                .values(payload=json.dumps(dict(item))))
            if done.rowcount == 0:
                raise StoreError("This chart was removed from the deck meanwhile (in another tab).")
            _touch(conn, deck_id)

    @_store_errors
    def remove_item(self, deck_id: str, item_id: str) -> None:
        """Remove one chart (nothing else changes; removing a chart already gone is no error)."""
        with self._writer.begin() as conn:
            self._require(conn, deck_id, lock=True)
            conn.execute(deck_items.delete().where(deck_items.c.deck_id == deck_id,
                                                   deck_items.c.item_id == str(item_id)))
            _touch(conn, deck_id)

    @_store_errors
    def move_item(self, deck_id: str, item_id: str, offset: int) -> None:
        """Move one chart ``offset`` places (negative: earlier) in the deck's current order."""
        with self._writer.begin() as conn:
            self._require(conn, deck_id, lock=True)
            order = [r.item_id for r in conn.execute(
                sa.select(deck_items.c.item_id).where(deck_items.c.deck_id == deck_id)
                .order_by(deck_items.c.position, deck_items.c.created_at))]
            if item_id not in order:
                return
            i = order.index(item_id)
            j = min(max(i + int(offset), 0), len(order) - 1)
            order.insert(j, order.pop(i))
            for position, moved in enumerate(order, start=1):
                conn.execute(deck_items.update().where(deck_items.c.deck_id == deck_id,
                                                       deck_items.c.item_id == moved).values(position=position))
            _touch(conn, deck_id)

    def _require(self, conn: sa.Connection, deck_id: str, *, lock: bool = False) -> None:
        query = sa.select(decks.c.id).where(decks.c.id == str(deck_id))
        if lock and conn.dialect.name != "sqlite":
            query = query.with_for_update()
        if conn.execute(query).first() is None:
            raise StoreError("This deck no longer exists (it was deleted). Start a new one from any chart.")

    # ------------------------------------------------------------------------------------------- views
    @_store_errors
    def save_view(self, name: str, page: str, params: Mapping[str, Any], *, replace: bool = False,
                  owner: str | None = None, scope: Mapping[str, Any] | None = None,
                  may_replace: Any = None) -> int:
        """Name the page ``page`` with its URL state; with ``replace`` an existing view of that name is updated
        (only when ``may_replace(view)`` allows it, if given: a partner never overwrites an analyst's view)."""
        name = _text(name, MAX_VIEW_NAME, "view name")
        body = json.dumps({str(k): v for k, v in params.items()}, sort_keys=True)
        with self._writer.begin() as conn:
            existing = conn.execute(sa.select(views).where(views.c.name == name)).first()
            if existing is not None:
                mine = may_replace is None or may_replace(_view(existing))
                if not replace or not mine:
                    raise StoreError(f"A view named {name!r} exists already: choose another name"
                                     + (" or replace it." if mine else "."))
                conn.execute(views.update().where(views.c.id == existing.id).values(
                    page=page, params=body, created_at=_now(), owner=owner, scope=_json(scope)))
                return int(existing.id)
            try:
                return int(conn.execute(views.insert().values(
                    name=name, page=page, params=body, created_at=_now(), owner=owner,
                    scope=_json(scope))).inserted_primary_key[0])
            except sa.exc.IntegrityError:
                raise StoreError(f"A view named {name!r} was just saved by someone else: choose another "
                                 "name.") from None

    @_store_errors
    def views(self) -> list[SavedView]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(views).order_by(views.c.name)).all()
        return [_view(r) for r in rows]

    @_store_errors
    def delete_view(self, view_id: int) -> None:
        with self._writer.begin() as conn:
            conn.execute(views.delete().where(views.c.id == int(view_id)))

    # ------------------------------------------------------------------------------------------- notes
    @_store_errors
    def add_note(self, *, day: dt.date, slice: Sequence[tuple[str, str]] = (), kpi: str | None = None,
                 status: str = "note", text: str = "", link: str = "", event: bool = False,
                 author: str) -> int:
        """Write a note (or an acknowledgement) on a day and slice; returns its id. Two analysts writing at
        once both land: each note is its own row."""
        row = _note_values(day=day, slice=slice, kpi=kpi, status=status, text=text, link=link, event=event)
        now = _now()
        with self._writer.begin() as conn:
            return int(conn.execute(notes.insert().values(
                **row, author=_text(author, 320, "author"), created_at=now, updated_at=now, version=1,
            )).inserted_primary_key[0])

    @_store_errors
    def update_note(self, note_id: int, *, version: int, author: str, **changes: Any) -> int:
        """Change a note, if nobody changed it since ``version`` was read; returns the new version.

        Raises
        ------
        StoreError
            When another analyst changed or deleted it meanwhile: their edit is kept, and this one is not
            applied silently over it (reload and edit again).
        """
        with self._writer.begin() as conn:
            query = sa.select(notes).where(notes.c.id == int(note_id))
            if conn.dialect.name != "sqlite":  # a locking read: the latest committed note, even under REPEATABLE READ
                query = query.with_for_update()
            current = conn.execute(query).first()
            if current is None:
                raise StoreError("This note was deleted meanwhile.")
            note = _note(current)
            merged = {"day": note.day, "slice": note.slice, "kpi": note.kpi, "status": note.status,
                      "text": note.text, "link": note.link, "event": note.event, **changes}
            row = _note_values(**merged)
            _text(author, 320, "author")  # who edits: checked, but the note keeps the author who wrote it
            done = conn.execute(notes.update().where(notes.c.id == int(note_id), notes.c.version == int(version))
                                .values(**row, updated_at=_now(), version=int(version) + 1))
            if done.rowcount == 0:
                raise StoreError(f"This note was changed meanwhile; it now reads “{note.text[:80]}”. "
                                 "Your edit was not saved over theirs: edit it again.")
            return int(version) + 1

    @_store_errors
    def delete_note(self, note_id: int, *, version: int) -> None:
        with self._writer.begin() as conn:
            done = conn.execute(notes.delete().where(notes.c.id == int(note_id), notes.c.version == int(version)))
            if done.rowcount == 0 and conn.execute(sa.select(notes.c.id).where(notes.c.id == int(note_id))).first():
                raise StoreError("Someone changed this note meanwhile; it was not deleted. Look at it again.")

    @_store_errors
    def notes(self, start: dt.date, end: dt.date, *, events_only: bool = False) -> list[Note]:
        """Notes on days ``start`` to ``end``, oldest day first (newest note first within a day)."""
        query = sa.select(notes).where(notes.c.day >= start, notes.c.day <= end)
        if events_only:
            query = query.where(notes.c.event.is_(True))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(notes.c.day, notes.c.created_at.desc(), notes.c.id.desc())).all()
        return [_note(r) for r in rows]

    @_store_errors
    def notes_version(self, *, events_only: bool = False) -> str:
        """Changes whenever a note (``events_only``: a note marked as a known event) is added, changed or
        deleted: part of cache keys."""
        query = sa.select(sa.func.count(), sa.func.max(notes.c.updated_at), sa.func.sum(notes.c.id + notes.c.version))
        if events_only:
            query = query.where(notes.c.event.is_(True))
        with self.engine.connect() as conn:
            n, last, ids = conn.execute(query).one()
        return f"{n}|{last}|{ids}"

    # ----------------------------------------------------------------------------- subscriptions, sends
    @_store_errors
    def add_subscription(self, *, email: str, channel: str, target: str, cadence: str = "daily",
                         kpis: Sequence[str] = (), min_severity: float = 0.0, created_by: str) -> int:
        """Subscribe ``email`` (whose scope the digest is cut to) on ``channel`` at ``target``."""
        email = str(email).strip().lower()
        if not _EMAIL.match(email):
            raise StoreError(f"{email!r} is not one e-mail address.")
        if channel not in ("email", "webhook"):
            raise StoreError("A subscription goes out by e-mail or to a webhook.")
        target = str(target).strip()
        if channel == "email" and target.lower() != email:
            # a digest is cut to its subscriber's scope: it goes to that person's own address only
            raise StoreError("An e-mail digest goes to its subscriber's own address.")
        if channel == "webhook" and not (target.startswith("https://") or target.startswith("http://")):
            raise StoreError("A webhook is a web address starting with https://.")
        if cadence not in ("daily", "weekly"):
            raise StoreError("A digest is daily or weekly.")
        with self._writer.begin() as conn:
            return int(conn.execute(subscriptions.insert().values(
                email=email, channel=channel, target=target[:500], cadence=cadence, kpis=json.dumps(list(kpis)),
                min_severity=float(min_severity), created_by=str(created_by)[:320], created_at=_now(),
            )).inserted_primary_key[0])

    @_store_errors
    def subscriptions(self) -> list[Subscription]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(subscriptions).order_by(subscriptions.c.id)).all()
        return [Subscription(r.id, r.email, r.channel, r.target, r.cadence, tuple(json.loads(r.kpis)),
                             float(r.min_severity), r.created_by) for r in rows]

    @_store_errors
    def delete_subscription(self, subscription_id: int) -> None:
        with self._writer.begin() as conn:
            conn.execute(subscriptions.delete().where(subscriptions.c.id == int(subscription_id)))

    @_store_errors
    def was_sent(self, kind: str, day: dt.date, recipient: str, channel: str) -> bool:
        """Whether this digest already went out to this recipient (a rerun then sends nothing)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sends.c.id).where(
                sends.c.kind == kind, sends.c.day == day, sends.c.recipient == recipient[:500],
                sends.c.channel == channel, sends.c.status == "sent").limit(1)).first() is not None

    @_store_errors
    def claim_send(self, kind: str, day: dt.date, recipient: str, channel: str, *, force: bool = False) -> bool:
        """Take the right to send this digest to this recipient; ``False`` when it went out already or another run
        is sending it now (the claim's primary key lets exactly one writer in, on every database). ``force``
        takes it over. A failed send gives it back (:meth:`release_send`)."""
        key = {"kind": kind, "day": day, "recipient": recipient[:200], "channel": channel}
        with self._writer.begin() as conn:
            if force:
                conn.execute(send_claims.delete().where(*(send_claims.c[k] == v for k, v in key.items())))
            try:
                with conn.begin_nested():
                    conn.execute(send_claims.insert().values(**key, at=_now()))
            except sa.exc.IntegrityError:
                return False
        return True

    @_store_errors
    def release_send(self, kind: str, day: dt.date, recipient: str, channel: str) -> None:
        """Give a claim back after a failed send, so that the next run tries again."""
        key = {"kind": kind, "day": day, "recipient": recipient[:200], "channel": channel}
        with self._writer.begin() as conn:
            conn.execute(send_claims.delete().where(*(send_claims.c[k] == v for k, v in key.items())))

    @_store_errors
    def record_send(self, kind: str, day: dt.date, recipient: str, channel: str, *, status: str,
                    detail: str = "") -> None:
        with self._writer.begin() as conn:
            conn.execute(sends.insert().values(kind=kind, day=day, recipient=recipient[:500], channel=channel,
                                               status=status, detail=str(detail)[:4000], at=_now()))

    @_store_errors
    def send_log(self, *, limit: int = 200) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sends).order_by(sends.c.at.desc(), sends.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    # ------------------------------------------------------------------------------------------- audit
    @_store_errors
    def log(self, user: str, action: str, what: Mapping[str, Any]) -> None:
        """Record that ``user`` did ``action`` (an export, a download) on ``what``."""
        with self._writer.begin() as conn:
            conn.execute(audit.insert().values(at=_now(), username=str(user)[:320], action=str(action)[:40],
                                               what=json.dumps(dict(what), default=str, sort_keys=True)))

    @_store_errors
    def audit_log(self, *, limit: int = 200) -> list[AuditEntry]:
        """The newest entries first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit).order_by(audit.c.at.desc(), audit.c.id.desc()).limit(limit)).all()
        return [AuditEntry(r.at, r.username, r.action, json.loads(r.what)) for r in rows]


_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")


def _answers(store: AppStore) -> bool:
    """Whether the server takes a connection at all (after a failed statement)."""
    try:
        with store.engine.connect():
            return True
    except (sa.exc.SQLAlchemyError, OSError):
        return False


def _json(record: Mapping[str, Any] | None) -> str | None:
    return None if record is None else json.dumps(dict(record), sort_keys=True)


def _unjson(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)


def _view(r: Any) -> SavedView:
    return SavedView(r.id, r.name, r.page, json.loads(r.params), r.created_at, r.owner, _unjson(r.scope))


def _slice_json(pairs: Sequence[tuple[str, str]]) -> str:
    text = json.dumps(sorted([str(d), str(v)] for d, v in pairs))
    if len(text) > 400:
        raise StoreError("This slice is too long to note; note a coarser one.")
    return text


def _note_values(*, day: dt.date, slice: Sequence[tuple[str, str]], kpi: str | None, status: str, text: str,
                 link: str, event: bool) -> dict[str, Any]:
    if status not in NOTE_STATUSES:
        raise StoreError(f"A note's status is one of {', '.join(NOTE_STATUSES)}, not {status!r}.")
    body = str(text or "").strip()
    if status == "note" and not body:
        raise StoreError("The note is empty: type what is known about this day.")
    if len(body) > MAX_NOTE:
        raise StoreError(f"The note is {len(body)} characters long; keep it to {MAX_NOTE}.")
    link = str(link or "").strip()
    if link and not (link.startswith(("https://", "http://")) and len(link) <= 500 and " " not in link):
        raise StoreError("The ticket link must be a web address starting with https:// (500 characters at most).")
    return {"day": day, "slice": _slice_json(slice), "kpi": kpi or None, "status": status, "text": body,
            "link": link, "event": bool(event)}


def _note(r: Any) -> Note:
    day = r.day if isinstance(r.day, dt.date) else dt.date.fromisoformat(str(r.day))
    return Note(int(r.id), day, r.kpi, tuple((d, v) for d, v in json.loads(r.slice)), r.status, r.text, r.link,
                bool(r.event), r.author, r.created_at, r.updated_at, int(r.version))


def _touch(conn: sa.Connection, deck_id: str) -> None:
    """Mark a deck as changed now (the list of decks shows the most recently changed first)."""
    conn.execute(decks.update().where(decks.c.id == deck_id).values(updated_at=_now()))


def _item_id(record: Mapping[str, Any]) -> str:
    item_id = str(record.get("item_id", ""))
    if not item_id or len(item_id) > 32:
        raise StoreError("A deck chart needs an id of 1 to 32 characters.")
    return item_id


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ops_write") else "BEGIN")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by the "begin" listener, not by the driver
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
    cur.close()


def _text(value: Any, limit: int, what: str, *, empty: bool = False) -> str:
    text = " ".join(str(value if value is not None else "").split())
    if not text and not empty:
        raise StoreError(f"The {what} is empty: type one.")
    if len(text) > limit:
        raise StoreError(f"The {what} is {len(text)} characters long; keep it to {limit}.")
    return text


def _reason(err: Exception) -> str:
    """A driver error in a few words, without the SQL."""
    orig = getattr(err, "orig", None) or err
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return first.split("[SQL")[0].strip()[:160]


def open_store(url: str) -> AppStore:
    """Open (and migrate) the app database at ``url``."""
    return AppStore(url)

"""The app database's tables: what users create (decks, saved views; later notes and subscriptions).

Kept apart from the source database (which the app only reads) and from the roll-up. Every table is
prefixed ``ops_app_`` so the app database may be a schema shared with other tools; the migrations in
``store/migrations`` create them, and their version table is ``ops_app_version``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()

VERSION_TABLE = "ops_app_version"

decks = sa.Table(
    "ops_app_decks", metadata,
    sa.Column("id", sa.String(32), primary_key=True),              # a URL-safe token: the deck's link
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("subtitle", sa.String(300), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
)

deck_items = sa.Table(
    "ops_app_deck_items", metadata,
    sa.Column("deck_id", sa.String(32), sa.ForeignKey("ops_app_decks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("item_id", sa.String(32), primary_key=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("payload", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
)

views = sa.Table(
    "ops_app_views", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("page", sa.String(120), nullable=False),             # the page script, e.g. "pages/trends.py"
    sa.Column("params", sa.Text(), nullable=False),                # the page's URL state, JSON
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.UniqueConstraint("name", name="uq_ops_app_views_name"),
)

# 0002: who made a deck or a view, and under which scope (``loaders.access.Scope`` as JSON; NULL: everything,
# as every deck and view made before sign-in); notes and acknowledgements on a day and slice; the audit log.
for _table in (decks, views):
    _table.append_column(sa.Column("owner", sa.String(320), nullable=True))
    _table.append_column(sa.Column("scope", sa.Text(), nullable=True))

notes = sa.Table(
    "ops_app_notes", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("kpi", sa.String(40), nullable=True),                 # NULL: about every KPI of the slice
    sa.Column("slice", sa.String(400), nullable=False),             # JSON [[dimension, value], ...], sorted
    sa.Column("status", sa.String(20), nullable=False),             # note | seen | expected | false_alarm
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("link", sa.String(500), nullable=False, server_default=""),
    sa.Column("event", sa.Boolean(), nullable=False, server_default=sa.false()),  # masked by the detector
    sa.Column("author", sa.String(320), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),  # optimistic concurrency
    sa.Index("ix_ops_app_notes_day", "day"),
)

audit = sa.Table(
    "ops_app_audit", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.Column("username", sa.String(320), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),             # export_png, export_csv, deck_pptx, ...
    sa.Column("what", sa.Text(), nullable=False),                   # JSON: the chart, its filters, the file
    sa.Index("ix_ops_app_audit_at", "at"),
)

# 0003: digest subscriptions and the send log (a rerun for the same day and recipient sends nothing)
subscriptions = sa.Table(
    "ops_app_subscriptions", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),             # whose scope the digest is cut to
    sa.Column("channel", sa.String(20), nullable=False),            # email | webhook
    sa.Column("target", sa.String(500), nullable=False),            # the address, or the webhook URL
    sa.Column("cadence", sa.String(20), nullable=False),            # daily | weekly
    sa.Column("kpis", sa.Text(), nullable=False),                   # JSON list of KPI names; [] = the tiles'
    sa.Column("min_severity", sa.Float(), nullable=False, server_default="0"),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
)

sends = sa.Table(
    "ops_app_sends", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),               # daily | weekly | alert
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("recipient", sa.String(500), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),             # sent | failed
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.Index("ix_ops_app_sends_key", "kind", "day", "recipient", "channel"),
)

# 0004: a claim per digest and recipient, taken before sending: two overlapping runs cannot both send
send_claims = sa.Table(
    "ops_app_send_claims", metadata,
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("recipient", sa.String(200), primary_key=True),
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("at", sa.DateTime(), nullable=False),
)

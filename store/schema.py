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

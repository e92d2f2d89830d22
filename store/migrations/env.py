"""Alembic environment of the app database: run programmatically by ``store.AppStore`` (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from store.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

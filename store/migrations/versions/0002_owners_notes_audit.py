"""Owners and scopes of decks and views; notes and acknowledgements; the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("ops_app_decks", "ops_app_views"):
        op.add_column(table, sa.Column("owner", sa.String(320), nullable=True))
        op.add_column(table, sa.Column("scope", sa.Text(), nullable=True))
    op.create_table(
        "ops_app_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kpi", sa.String(40), nullable=True),
        sa.Column("slice", sa.String(400), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.String(500), nullable=False, server_default=""),
        sa.Column("event", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_index("ix_ops_app_notes_day", "ops_app_notes", ["day"])
    op.create_table(
        "ops_app_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(320), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
    )
    op.create_index("ix_ops_app_audit_at", "ops_app_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_ops_app_audit_at", "ops_app_audit")
    op.drop_table("ops_app_audit")
    op.drop_index("ix_ops_app_notes_day", "ops_app_notes")
    op.drop_table("ops_app_notes")
    with op.batch_alter_table("ops_app_views") as batch:
        batch.drop_column("scope")
        batch.drop_column("owner")
    with op.batch_alter_table("ops_app_decks") as batch:
        batch.drop_column("scope")
        batch.drop_column("owner")

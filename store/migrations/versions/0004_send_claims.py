"""A claim per digest and recipient, so that overlapping runs cannot both send.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ops_app_send_claims",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("recipient", sa.String(200), primary_key=True),
        sa.Column("channel", sa.String(20), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ops_app_send_claims")

"""Remember the curators' archive notes, and which items got the archive date as their date.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("date_is_fallback", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "archive_notes",
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("url_key", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_archive_notes_url_key", "archive_notes", ["url_key"])


def downgrade() -> None:
    op.drop_table("archive_notes")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("date_is_fallback")

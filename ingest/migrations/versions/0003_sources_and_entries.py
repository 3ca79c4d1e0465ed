"""Sources with their polling state, the entries each source has shown, and item retries.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("fetch_url", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("every_s", sa.Float, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("body_hash", sa.String(64)),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("last_polled_at", sa.DateTime(timezone=True)),
        sa.Column("last_success_at", sa.DateTime(timezone=True)),
        sa.Column("last_new_at", sa.DateTime(timezone=True)),
        sa.Column("publish_interval_s", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_code", sa.String(40)),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("backfilled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sources_next_check_at", "sources", ["next_check_at"])
    op.create_table(
        "entries",
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("url_key", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("skipped", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("source_id", sa.Integer))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("hint", sa.Text))
    op.create_index("ix_items_retry_at", "items", ["retry_at"])


def downgrade() -> None:
    op.drop_index("ix_items_retry_at", "items")
    with op.batch_alter_table("items") as batch:
        for column in ("hint", "retry_at", "attempts", "source_id"):
            batch.drop_column(column)
    op.drop_table("entries")
    op.drop_table("sources")

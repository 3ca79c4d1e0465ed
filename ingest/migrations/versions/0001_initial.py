"""The first ledger: items, their URL aliases and fetch attempts.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("url_key", sa.Text, nullable=False),
        sa.Column("final_url", sa.Text),
        sa.Column("canonical_url", sa.Text),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("title", sa.Text),
        sa.Column("note_path", sa.Text),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("items.id")),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_items_content_hash", "items", ["content_hash"])
    op.create_index("ix_items_updated_at", "items", ["updated_at"])
    op.create_table(
        "aliases",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False),
    )
    op.create_index("ix_aliases_item_id", "aliases", ["item_id"])
    op.create_table(
        "fetches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id")),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_fetches_item_id", "fetches", ["item_id"])


def downgrade() -> None:
    op.drop_table("fetches")
    op.drop_table("aliases")
    op.drop_table("items")

"""Keep every ingested response (snapshots) and a hash of each note as written, for reextract.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False, server_default="page"),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("final_url", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_snapshots_item_id", "snapshots", ["item_id"])
    op.create_index("ix_snapshots_body_sha256", "snapshots", ["body_sha256"])
    op.add_column("items", sa.Column("note_sha256", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("note_sha256")
    op.drop_table("snapshots")

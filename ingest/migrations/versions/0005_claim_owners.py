"""Name the process holding each claim, so a restart can take back the work of a killed one.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (nullable, no default) works on every database, SQLite included, without a table copy
    op.add_column("items", sa.Column("claimed_by", sa.String(255)))
    op.add_column("sources", sa.Column("claimed_by", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("claimed_by")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("claimed_by")

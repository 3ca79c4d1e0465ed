"""A SimHash of each note's main text, cut into bands for lookup: near-duplicates found by index.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("simhash", sa.BigInteger))
    op.create_table(
        "simhash_bands",
        sa.Column("band", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("simhash_bands")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("simhash")

"""URL keys as this version computes them: every arXiv address of a paper and every spelling of a
DOI are one key now, and real query parameters that courlan cut (game=, ref-like names, bare
fields) are kept. Without this, a URL known under its old key would be fetched again.

Items gain aliases under their new keys (the old ones stay, harmless); the entries a source has
shown are re-keyed; the archive's stat cache is emptied, so the next run reads the notes again.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

items = sa.table("items", sa.column("id", sa.Integer), sa.column("url", sa.Text), sa.column("url_key", sa.Text),
                 sa.column("final_url", sa.Text), sa.column("canonical_url", sa.Text))
aliases = sa.table("aliases", sa.column("key", sa.Text), sa.column("item_id", sa.Integer))
entries = sa.table("entries", sa.column("source_id", sa.Integer), sa.column("url_key", sa.Text),
                   sa.column("url", sa.Text))
archive_notes = sa.table("archive_notes", sa.column("path", sa.Text))


def upgrade() -> None:
    # the application's own rule, as of this revision: a later change of the rule needs its own migration
    from ingest.urls import try_key

    conn = op.get_bind()
    taken = set(conn.execute(sa.select(aliases.c.key)).scalars())
    for row in conn.execute(sa.select(items)).all():
        key = try_key(row.url)
        if key and key != row.url_key:
            conn.execute(items.update().where(items.c.id == row.id).values(url_key=key))
        for url in (row.url, row.final_url, row.canonical_url):
            key = try_key(url) if url else None
            if key and key not in taken:  # a key already naming an item keeps naming that one
                conn.execute(aliases.insert().values(key=key, item_id=row.id))
                taken.add(key)
    seen = {(r.source_id, r.url_key) for r in conn.execute(sa.select(entries.c.source_id, entries.c.url_key))}
    for row in conn.execute(sa.select(entries)).all():
        key = try_key(row.url)
        if not key or key == row.url_key:
            continue
        old = (entries.c.source_id == row.source_id) & (entries.c.url_key == row.url_key)
        if (row.source_id, key) in seen:  # two old spellings of one entry: keep one row
            conn.execute(entries.delete().where(old))
        else:
            conn.execute(entries.update().where(old).values(url_key=key))
            seen.add((row.source_id, key))
    conn.execute(archive_notes.delete())


def downgrade() -> None:
    pass  # the new aliases and keys name the same items; nothing to undo

"""Alembic environment: runs on the connection `ingest.ledger` hands over, or on `sqlalchemy.url`."""

from typing import cast

from alembic import context
from sqlalchemy import create_engine

config = context.config
connection = config.attributes.get("connection")


def run(conn) -> None:
    # batch mode lets SQLite alter tables by copying them
    context.configure(connection=conn, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    with create_engine(cast(str, config.get_main_option("sqlalchemy.url"))).begin() as conn:
        run(conn)

"""Alembic environment of the history store: run by ``raytuner.results.history.store.upgrade``
with an open connection in ``config.attributes["connection"]`` (or a URL, for the alembic CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from raytuner.results.history.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

"""The body of every schema's Alembic env.py: run the revisions on the connection given in the config.

The runtime always hands a connection in (migration.upgrade); Alembic's own command line is not used,
so there is no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context


def run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("corridor schemas migrate through `corridor migrate` or a service's start, "
                           "which hand Alembic a connection")
    context.configure(
        connection=connection,
        version_table=config.attributes["version_table"],
        target_metadata=config.attributes.get("target_metadata"),
        render_item=config.attributes.get("render_item"),
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()

"""Versioned database schemas: each service's tables (and the node's access store) migrate with Alembic.

Every service keeps its revisions in its own package (`corridor_<service>/migrations/versions/`) and
its applied revision in its own version table (`<service>_schema_version`), so the four services of
a node can share one PostgreSQL database and still upgrade one at a time. A service brings its schema
to the newest revision it knows when it starts (`upgrade`); `corridor migrate` does the same for a
whole node ahead of a start, and `corridor migrate --check` only says what would be done.

A database written before the schema was versioned (release 0.1.0 and the commits after it) holds
the service's tables but no version table: it is recognised as the first release's schema, stamped
so, and upgraded from there (the first upgrade adds only what is missing, so that a database made by
any later unreleased commit is brought up too). A database at a revision this release does not know
was written by a newer release: the service refuses it (SchemaError) instead of guessing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import import_module, resources
from pathlib import Path

import structlog
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection

from ..database import Database
from ..tables import DeliveryTables

log = structlog.get_logger("corridor.migration")

ACCESS = "access"  # the node's access store (accounts, tokens, audit trail), shared by its services


class SchemaError(RuntimeError):
    """The database's schema is one this release cannot run on; the text says what to do."""


@dataclass(frozen=True)
class SchemaState:
    """Where one service's database stands against the revisions this release knows."""

    schema: str  # a service's name, or "access"
    current: str | None  # the revision applied; None for an empty database
    head: str  # the newest revision this release knows
    unversioned: bool  # the tables exist without a version table (written before versioning)
    pending: tuple[str, ...]  # revisions to apply, oldest first

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.unversioned


def version_table(schema: str) -> str:
    return f"{schema}_schema_version"


def script_location(schema: str) -> Path:
    """The folder of a schema's revisions: in the service's package, or the runtime's for access."""
    package = "corridor_runtime.access" if schema == ACCESS else f"corridor_{schema}"
    return Path(str(resources.files(package) / "migrations"))


def _config(schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location(schema)))
    config.attributes["version_table"] = version_table(schema)
    config.attributes["schema"] = schema
    return config


def _read_state(connection: Connection, schema: str) -> SchemaState:
    config = _config(schema)
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    assert head is not None, f"no revisions for {schema}"
    tables = set(inspect(connection).get_table_names())
    context = MigrationContext.configure(connection, opts={"version_table": version_table(schema)})
    current = context.get_current_revision()
    unversioned = version_table(schema) not in tables and any(t.startswith(f"{schema}_") for t in tables)
    if unversioned:
        current = _first_revision(scripts)
    if current is not None:
        try:
            scripts.get_revision(current)
        except CommandError:
            raise SchemaError(
                f"the {schema} database is at schema revision {current!r}, which this release does not know "
                f"(it knows up to {head!r}): a newer release wrote it. Run that release again, or restore the "
                "backup taken before the upgrade.") from None
    pending = [] if current == head else [
        r.revision for r in scripts.iterate_revisions(head, current or "base")]
    if unversioned:
        pending.append(current)  # nothing to create, but the first revision is stamped
    return SchemaState(schema=schema, current=None if unversioned else current, head=head, unversioned=unversioned,
                       pending=tuple(reversed(pending)))


def _first_revision(scripts: ScriptDirectory) -> str:
    (base,) = scripts.get_bases()
    return base


def _upgrade(connection: Connection, schema: str) -> SchemaState:
    if connection.dialect.name == "postgresql":
        # Two replicas starting together on one database: the second waits for the first's upgrade.
        key = int.from_bytes(hashlib.sha256(f"corridor-schema:{schema}".encode()).digest()[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    before = _read_state(connection, schema)
    if before.up_to_date:
        return before
    config = _config(schema)
    config.attributes["connection"] = connection
    if before.unversioned:
        command.stamp(config, _first_revision(ScriptDirectory.from_config(config)))
    command.upgrade(config, "head")
    return before


async def upgrade(db: Database, schema: str) -> SchemaState:
    """Bring a schema to this release's newest revision, in one transaction; returns where it stood."""
    async with db.transaction() as connection:
        before = await connection.run_sync(_upgrade, schema)
    if not before.up_to_date:
        log.info("database schema upgraded", schema=schema, from_revision=before.current, to_revision=before.head,
                 unversioned=before.unversioned, applied=list(before.pending))
    return before


async def state(db: Database, schema: str) -> SchemaState:
    """Where a schema stands, changing nothing."""
    async with db.reading() as connection:
        return await connection.run_sync(_read_state, schema)


def target_metadata(schema: str) -> MetaData:
    """The tables a schema's code declares, as its newest revision must create them (for comparing
    and for writing a new revision; the services' start does not need it)."""
    if schema == ACCESS:
        from ..access.store import metadata

        return metadata
    import_module(f"corridor_{schema}.bootstrap")  # every module of the service that declares a table
    metadata: MetaData = import_module(f"corridor_{schema}.tables").metadata
    if f"{schema}_outbox" not in metadata.tables:
        DeliveryTables.define(metadata, schema)
    return metadata


def differences(connection: Connection, schema: str) -> list:
    """What the database lacks or has beyond the code's tables (Alembic's comparison); empty when
    the migrations made exactly what the code declares."""
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    ours = target_metadata(schema)
    found = compare_metadata(context, ours)
    prefix = f"{schema}_"
    return [d for d in found if _table_of(d).startswith(prefix) and _table_of(d) != version_table(schema)]


def _table_of(difference) -> str:
    kind, *rest = difference[0] if isinstance(difference, list) else difference  # modify_* come as lists
    if kind in ("add_table", "remove_table"):
        return rest[0].name
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        return rest[0].table.name
    if kind in ("add_fk", "remove_fk"):
        return rest[0].parent.name
    return rest[1]  # add_column, remove_column, modify_*: (schema, table, ...)

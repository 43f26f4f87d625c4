"""`corridor migrate`: bring every service's database (and the node's access store) to this release's
schema before the node starts, or with `--check` only say where each stands (exit 1 if any is behind).

The services upgrade their own schema at start all the same; this is for an operator who wants to
upgrade (or see what an upgrade will do) as a step of its own, e.g. after a backup.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from . import migration
from .access_cli import CONFIG, DATA_DIR, DATABASE, NODE
from .database import Database
from .node import SERVICES
from .registry_file import ConfigError
from .settings import access_database_url, service_database_url
from .terminal import operator_console

console = operator_console()
SCHEMAS = (*SERVICES, migration.ACCESS)


def migrate(
    check: bool = typer.Option(False, "--check", help="change nothing: show each schema's state; exit 1 if any is behind"),
    config: Path | None = CONFIG,
    data_dir: Path = DATA_DIR,
    node: str = NODE,
    database_url: str | None = DATABASE,
) -> None:
    """Upgrade the node's databases to this release's schemas (the services also do it at start)."""
    try:
        if config is not None:
            from .node import NodeConfig

            loaded = NodeConfig.load(config)
            data_dir, node, database_url = loaded.data_dir, loaded.node_id, loaded.database_url
        urls = {schema: (access_database_url(data_dir, node, database_url) if schema == migration.ACCESS
                         else service_database_url(data_dir, node, schema, database_url)) for schema in SCHEMAS}
        rows = asyncio.run(_each(urls, check))
    except (ConfigError, migration.SchemaError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    table = Table(title=f"node {node}: database schemas" + (" (nothing changed)" if check else ""))
    for column in ("schema", "database", "revision", "this release", "state"):
        table.add_column(column)
    behind = False
    for schema, url, state in rows:
        where = _where(url)
        if state is None:
            table.add_row(schema, where, "-", "-", "no database yet (made at the first start)")
            continue
        was = "unversioned (0.1.0)" if state.unversioned else (state.current or "empty")
        if state.up_to_date:
            table.add_row(schema, where, state.head, state.head, "[green]up to date[/green]")
        elif check:
            behind = True
            table.add_row(schema, where, was, state.head,
                          f"[yellow]behind: {len(state.pending)} to apply ({', '.join(state.pending)})[/yellow]")
        else:
            table.add_row(schema, where, was, state.head, f"[green]upgraded[/green] ({', '.join(state.pending)})")
    console.print(table)
    if behind:
        raise typer.Exit(1)


async def _each(urls: dict[str, str], check: bool) -> list[tuple[str, str, migration.SchemaState | None]]:
    rows = []
    for schema, url in urls.items():
        if check and _missing_file(url):
            rows.append((schema, url, None))  # --check creates no file
            continue
        db = Database(url)
        try:
            rows.append((schema, url, await (migration.state if check else migration.upgrade)(db, schema)))
        finally:
            await db.dispose()
    return rows


def _missing_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file()


def _where(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)

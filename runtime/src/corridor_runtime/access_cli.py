"""`corridor users`, `corridor tokens` and `corridor audit`: a node's local accounts, the tokens it
issues for automation (and for a corridor coordinator or Prometheus), and its audit trail.

They work on the node's access store directly (its database), as the person who runs the node does,
on the machine that runs it; nothing here is reachable over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from .access import AccessError, AccessStore, Role, audit_as_csv
from .database import Database
from .registry_file import ConfigError
from .settings import access_database_url
from .terminal import operator_console

T = TypeVar("T")
console = operator_console()
users = typer.Typer(
    help="The node's own accounts (when it has no OpenID provider, or beside it).", no_args_is_help=True
)
tokens = typer.Typer(
    help="Bearer tokens the node issues: automation, a corridor coordinator, Prometheus.", no_args_is_help=True
)
audit = typer.Typer(help="The audit trail: every read and change of personal data.", no_args_is_help=True)

CONFIG = typer.Option(
    None, "--config", "-c", envvar="CORRIDOR_NODE_CONFIG", help="the node's config file (as for `corridor up`)"
)
DATA_DIR = typer.Option(
    Path("var"), envvar="CORRIDOR_DATA_DIR", help="the node's data folder's parent (without --config)"
)
NODE = typer.Option("demo", "--node", envvar="CORRIDOR_NODE_ID", help="the node's id (without --config)")
DATABASE = typer.Option(
    None, envvar="CORRIDOR_DATABASE_URL", help="the node's database, if it has one (without --config)"
)
ROLES = typer.Option(..., "--role", "-r", help=f"a role: {', '.join(r.value for r in Role)} (repeat for several)")


def _store(config: Path | None, data_dir: Path, node: str, database_url: str | None) -> AccessStore:
    if os.environ.get("CORRIDOR_ACCESS_DATABASE_URL"):
        return AccessStore(Database(os.environ["CORRIDOR_ACCESS_DATABASE_URL"]))
    if config is not None:
        from .node import NodeConfig

        loaded = NodeConfig.load(config)
        data_dir, node, database_url = loaded.data_dir, loaded.node_id, loaded.database_url
    return AccessStore(Database(access_database_url(data_dir, node, database_url)))


def _run(store: AccessStore, work: Callable[[AccessStore], Awaitable[T]]) -> T:
    async def go() -> T:
        try:
            await store.create()
            return await work(store)
        finally:
            await store.dispose()

    try:
        return asyncio.run(go())
    except (AccessError, ValueError, ConfigError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)  # a pattern like [a-z] is no markup
        raise typer.Exit(2) from None


def _new_password(given_on_stdin: bool) -> tuple[str, bool]:
    """The password read from stdin (one line), or a new random one to show once."""
    if given_on_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return secrets.token_urlsafe(15), True


@users.command("add")
def users_add(
    username: str,
    roles: list[str] = ROLES,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from stdin (else one is made)"
    ),
    config: Path | None = CONFIG,
    data_dir: Path = DATA_DIR,
    node: str = NODE,
    database_url: str | None = DATABASE,
) -> None:
    """Add an account; its password is shown once unless given on stdin."""
    password, made = _new_password(password_stdin)
    account = _run(_store(config, data_dir, node, database_url), lambda s: s.add_account(username, roles, password))
    console.print(
        escape(f"account {account.username} added, roles: {', '.join(account.roles)}")
        + (f"; password: [bold]{password}[/bold] (shown this once)" if made else "")
    )


@users.command("list")
def users_list(
    config: Path | None = CONFIG, data_dir: Path = DATA_DIR, node: str = NODE, database_url: str | None = DATABASE
) -> None:
    """The accounts, their roles, and whether they are disabled."""
    found = _run(_store(config, data_dir, node, database_url), lambda s: s.list_accounts())
    table = Table(title="accounts")
    for column in ("username", "roles", "created", "disabled"):
        table.add_column(column)
    for account in found:
        table.add_row(
            escape(account.username),
            escape(", ".join(account.roles)),
            f"{account.created_at:%Y-%m-%d %H:%M}",
            f"{account.disabled_at:%Y-%m-%d %H:%M}" if account.disabled_at else "",
        )
    console.print(table)


@users.command("disable")
def users_disable(
    username: str,
    config: Path | None = CONFIG,
    data_dir: Path = DATA_DIR,
    node: str = NODE,
    database_url: str | None = DATABASE,
) -> None:
    """Disable an account: its sessions stop working at their next request."""
    _run(_store(config, data_dir, node, database_url), lambda s: s.set_disabled(username, True))
    console.print(escape(f"account {username} disabled"))


@users.command("enable")
def users_enable(
    username: str,
    config: Path | None = CONFIG,
    data_dir: Path = DATA_DIR,
    node: str = NODE,
    database_url: str | None = DATABASE,
) -> None:
    """Enable a disabled account again."""
    _run(_store(config, data_dir, node, database_url), lambda s: s.set_disabled(username, False))
    console.print(escape(f"account {username} enabled"))


@users.command("password")
def users_password(
    username: str,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from stdin (else one is made)"
    ),
    config: Path | None = CONFIG,
    data_dir: Path = DATA_DIR,
    node: str = NODE,
    database_url: str | None = DATABASE,
) -> None:
    """Set a new password (shown once unless given on stdin)."""
    password, made = _new_password(password_stdin)
    _run(_store(config, data_dir, node, database_url), lambda s: s.set_password(username, password))
    console.print(escape(f"password of {username} changed") + (f": [bold]{password}[/bold] (shown this once)" if made else ""))


@tokens.command("issue")
def tokens_issue(
    name: str = typer.Option(..., help="what it is for, e.g. prometheus, corridor coordinator, nightly import"),
    roles: list[str] = ROLES,
    days: int = typer.Option(365, min=1, max=3650, help="days until it expires"),
    config: Path | None = CONFIG,
    data_dir: Path = DATA_DIR,
    node: str = NODE,
    database_url: str | None = DATABASE,
) -> None:
    """Issue a bearer token; its value is printed once, on stdout alone (for a secret store)."""
    value = _run(_store(config, data_dir, node, database_url), lambda s: s.issue_token(name, roles, days=days))
    print(value)


@tokens.command("list")
def tokens_list(
    config: Path | None = CONFIG, data_dir: Path = DATA_DIR, node: str = NODE, database_url: str | None = DATABASE
) -> None:
    """The tokens issued (never their values)."""
    found = _run(_store(config, data_dir, node, database_url), lambda s: s.list_tokens())
    table = Table(title="tokens")
    for column in ("id", "name", "roles", "issued", "expires", "revoked"):
        table.add_column(column)
    for token in found:
        table.add_row(
            escape(token.token_id),
            escape(token.name),
            escape(", ".join(token.roles)),
            f"{token.created_at:%Y-%m-%d}",
            f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "never",
            f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "",
        )
    console.print(table)


@tokens.command("revoke")
def tokens_revoke(
    token_id: str,
    config: Path | None = CONFIG,
    data_dir: Path = DATA_DIR,
    node: str = NODE,
    database_url: str | None = DATABASE,
) -> None:
    """Revoke a token: refused from its next request."""
    _run(_store(config, data_dir, node, database_url), lambda s: s.revoke_token(token_id))
    console.print(escape(f"token {token_id} revoked"))


@audit.command("export")
def audit_export(
    output: Path = typer.Option(..., "--output", "-o", help="the CSV file to write ('-': stdout)"),
    since: datetime | None = typer.Option(None, help="from this time (ISO 8601)"),
    until: datetime | None = typer.Option(None, help="before this time (ISO 8601)"),
    config: Path | None = CONFIG,
    data_dir: Path = DATA_DIR,
    node: str = NODE,
    database_url: str | None = DATABASE,
) -> None:
    """Export the audit trail as CSV."""

    def aware(moment: datetime | None) -> datetime | None:
        return moment.astimezone() if moment is not None and moment.tzinfo is None else moment

    rows, total = _run(
        _store(config, data_dir, node, database_url),
        lambda s: s.audit(since=aware(since), until=aware(until), limit=None),
    )
    text = audit_as_csv(rows)
    if str(output) == "-":
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(escape(f"{total} rows written to {output}"))

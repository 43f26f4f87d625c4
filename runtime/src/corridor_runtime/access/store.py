"""What a node keeps about access: its local accounts, the tokens it issued, sign-in attempts and the
audit trail. One store per node, shared by its services (a SQLite file of its own beside theirs, or
the node's PostgreSQL database).

Passwords are argon2id hashes (argon2-cffi); a token is kept as the SHA-256 of its secret, which is
shown once when it is issued. The audit trail is append-only: nothing here updates a row of it, and
rows leave only when they are older than the node's retention.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, and_, func, select

from .. import migration
from ..database import Database, UtcDateTime
from .roles import Role, parse_roles

metadata = MetaData()

accounts = Table(
    "access_accounts",
    metadata,
    Column("username", String(200), primary_key=True),
    Column("roles", JSON, nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
)

tokens = Table(
    "access_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)

sign_ins = Table(
    "access_sign_ins",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Index("access_sign_ins_by_name", "username", "at"),
    Index("access_sign_ins_by_address", "address", "at"),
)

audit_trail = Table(
    "access_audit",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("service", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("via", String(16), nullable=False),  # account, token, oidc
    Column("action", String(16), nullable=False),  # read, create, change, erase
    Column("subject_kind", String(32), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("endpoint", String(200), nullable=False),  # method and route template, never the raw URL
    Index("access_audit_by_subject", "subject_id"),
    Index("access_audit_by_time", "at"),
)

AUDIT_COLUMNS = ["seq", "at", "service", "actor", "via", "action", "subject_kind", "subject_id", "endpoint"]
TOKEN_PREFIX = "crd_"
_hasher = PasswordHasher()  # argon2id, the library's current defaults
# Verified when the username is unknown, so that a wrong name takes as long as a wrong password.
_NOBODY = _hasher.hash(secrets.token_urlsafe(16))


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a local account, a token the node issued, or an identity from the provider."""

    name: str
    roles: frozenset[Role]
    via: str  # account | token | oidc

    def may(self, allowed: set[Role] | frozenset[Role]) -> bool:
        return bool(self.roles & allowed)


@dataclass(frozen=True)
class Account:
    username: str
    roles: list[str]
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    name: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class AccessError(ValueError):
    """A request to the store that cannot be done (unknown account, name taken, ...)."""


class AccessStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self) -> None:
        await migration.upgrade(self.db, migration.ACCESS)

    async def dispose(self) -> None:
        await self.db.dispose()

    # --- accounts --------------------------------------------------------------------------------
    async def add_account(self, username: str, roles: list[str], password: str) -> Account:
        username = username.strip()
        if not username or len(username) > 200:
            raise AccessError("a username is 1 to 200 characters")
        if len(password) < 12:
            raise AccessError("a password has at least 12 characters")
        checked = sorted(r.value for r in parse_roles(roles))
        hashed = await asyncio.to_thread(_hasher.hash, password)
        async with self.db.transaction() as connection:
            if (await connection.execute(select(accounts.c.username).where(accounts.c.username == username))).first():
                raise AccessError(f"account {username} exists already")
            created = now()
            await connection.execute(
                accounts.insert().values(username=username, roles=checked, password_hash=hashed, created_at=created)
            )
        return Account(username, checked, created, None)

    async def list_accounts(self) -> list[Account]:
        async with self.db.reading() as connection:
            rows = (await connection.execute(select(accounts).order_by(accounts.c.username))).all()
        return [Account(r.username, list(r.roles), r.created_at, r.disabled_at) for r in rows]

    async def has_accounts(self) -> bool:
        async with self.db.reading() as connection:
            return (await connection.execute(select(func.count()).select_from(accounts))).scalar_one() > 0

    async def set_disabled(self, username: str, disabled: bool) -> None:
        async with self.db.transaction() as connection:
            done = await connection.execute(
                accounts.update().where(accounts.c.username == username).values(disabled_at=now() if disabled else None)
            )
            if done.rowcount == 0:
                raise AccessError(f"no account {username}")

    async def set_password(self, username: str, password: str) -> None:
        if len(password) < 12:
            raise AccessError("a password has at least 12 characters")
        hashed = await asyncio.to_thread(_hasher.hash, password)
        async with self.db.transaction() as connection:
            done = await connection.execute(
                accounts.update().where(accounts.c.username == username).values(password_hash=hashed)
            )
            if done.rowcount == 0:
                raise AccessError(f"no account {username}")

    async def check_password(self, username: str, password: str) -> Principal | None:
        """The account's principal if the password is right and the account enabled, else None."""
        row = await self._account_row(username)
        try:
            await asyncio.to_thread(_hasher.verify, row.password_hash if row else _NOBODY, password)
        except (VerificationError, InvalidHashError):
            return None
        return _enabled(row)

    async def account(self, username: str) -> Principal | None:
        """The enabled account's principal, with its roles as they are now."""
        return _enabled(await self._account_row(username))

    async def _account_row(self, username: str):
        async with self.db.reading() as connection:
            return (await connection.execute(select(accounts).where(accounts.c.username == username))).first()

    # --- sign-in attempts --------------------------------------------------------------------------
    async def record_sign_in(self, username: str, address: str, *, succeeded: bool) -> None:
        async with self.db.transaction() as connection:
            await connection.execute(
                sign_ins.insert().values(username=username[:200], address=address[:64], at=now(), succeeded=succeeded)
            )

    async def recent_failures(self, *, username: str, address: str, window: timedelta) -> tuple[int, int]:
        """Failed sign-ins in the window: for this username since its last success, and from this address."""
        since = now() - window
        async with self.db.reading() as connection:
            last_ok = (
                await connection.execute(
                    select(func.max(sign_ins.c.at)).where(sign_ins.c.username == username, sign_ins.c.succeeded)
                )
            ).scalar()
            start = max(since, last_ok) if last_ok is not None else since
            by_name = (
                await connection.execute(
                    select(func.count())
                    .select_from(sign_ins)
                    .where(sign_ins.c.username == username, ~sign_ins.c.succeeded, sign_ins.c.at > start)
                )
            ).scalar_one()
            by_address = (
                await connection.execute(
                    select(func.count())
                    .select_from(sign_ins)
                    .where(sign_ins.c.address == address, ~sign_ins.c.succeeded, sign_ins.c.at > since)
                )
            ).scalar_one()
        return by_name, by_address

    async def forget_sign_ins(self, before: datetime) -> int:
        async with self.db.transaction() as connection:
            return (await connection.execute(sign_ins.delete().where(sign_ins.c.at < before))).rowcount

    # --- tokens ------------------------------------------------------------------------------------
    async def issue_token(self, name: str, roles: list[str], *, days: int | None = 365) -> str:
        """A new bearer token; the value returned is the only time its secret is seen."""
        if not name.strip():
            raise AccessError("a token needs a name that says what it is for")
        checked = sorted(r.value for r in parse_roles(roles))
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        created = now()
        async with self.db.transaction() as connection:
            await connection.execute(
                tokens.insert().values(
                    token_id=token_id,
                    name=name.strip()[:200],
                    roles=checked,
                    secret_sha256=_sha256(secret),
                    created_at=created,
                    expires_at=created + timedelta(days=days) if days else None,
                )
            )
        return f"{TOKEN_PREFIX}{token_id}_{secret}"

    async def list_tokens(self) -> list[IssuedToken]:
        async with self.db.reading() as connection:
            rows = (await connection.execute(select(tokens).order_by(tokens.c.created_at))).all()
        return [IssuedToken(r.token_id, r.name, list(r.roles), r.created_at, r.expires_at, r.revoked_at) for r in rows]

    async def revoke_token(self, token_id: str) -> None:
        async with self.db.transaction() as connection:
            done = await connection.execute(
                tokens.update()
                .where(tokens.c.token_id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now())
            )
            if done.rowcount == 0:
                raise AccessError(f"no token {token_id} in force")

    async def token_principal(self, value: str) -> Principal | None:
        token_id, _, secret = value.removeprefix(TOKEN_PREFIX).partition("_")
        if not token_id or not secret:
            return None
        async with self.db.reading() as connection:
            row = (await connection.execute(select(tokens).where(tokens.c.token_id == token_id))).first()
        if row is None or not hmac.compare_digest(row.secret_sha256, _sha256(secret)):
            return None
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now()):
            return None
        return Principal(f"token:{row.name}", parse_roles(row.roles), "token")

    # --- audit trail -------------------------------------------------------------------------------
    async def record(self, entries: list[dict]) -> None:
        if not entries:
            return
        async with self.db.transaction() as connection:
            await connection.execute(audit_trail.insert(), entries)

    async def audit(
        self,
        *,
        subject_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> tuple[list[dict], int]:
        conditions = []
        if subject_id is not None:
            conditions.append(audit_trail.c.subject_id == subject_id)
        if actor is not None:
            conditions.append(audit_trail.c.actor == actor)
        if since is not None:
            conditions.append(audit_trail.c.at >= since)
        if until is not None:
            conditions.append(audit_trail.c.at < until)
        where = and_(True, *conditions)
        async with self.db.reading() as connection:
            total = (await connection.execute(select(func.count()).select_from(audit_trail).where(where))).scalar_one()
            query = select(audit_trail).where(where).order_by(audit_trail.c.seq).offset(offset)
            if limit is not None:
                query = query.limit(limit)
            rows = (await connection.execute(query)).all()
        return [dict(row._mapping) for row in rows], total

    async def forget_audit(self, before: datetime) -> int:
        """Retention: the only way rows leave the audit trail."""
        async with self.db.transaction() as connection:
            return (await connection.execute(audit_trail.delete().where(audit_trail.c.at < before))).rowcount


def _enabled(row) -> Principal | None:
    if row is None or row.disabled_at is not None:
        return None
    return Principal(row.username, parse_roles(row.roles), "account")


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()

"""What a service has learnt of who owns each shared datum, and the gate every event passes.

The rules are the contracts' (`corridor_contracts.authority`); this is where a service applies
them, once, for all its consumers: before any handler runs, each event of a batch is checked
against the service's ledger, in the consumer's transaction. An event that breaks a rule is
refused (dead-lettered with the reason once the batch commits, nothing of it applied or recorded,
the rest of the batch applied as usual); an opportunity's version that is not newer than the one
applied is `superseded` (recorded in the inbox, handed to no handler). Handlers raise `Refused`
for what only they can tell (the saga's own checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Column, MetaData, String, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from corridor_contracts.authority import OPENING, SPEAKING, Hosts, Made, Opens, Owns, Speaks, Statement, statements
from corridor_contracts.events.placements import Side

from .database import UtcDateTime

if TYPE_CHECKING:  # unit_of_work and consumer import tables, which defines this module's table
    from .consumer import Subscription
    from .unit_of_work import Incoming


def learn_openings(subscriptions: list[Subscription]) -> None:
    """A service that reads what is said about placements also reads, for its ledger alone, the
    events that open them: on LOCAL (her home node's proposals) and on IN (requests to this host)."""
    if not any(SPEAKING & set(s.handlers) for s in subscriptions):
        return
    for stream, opening in OPENING.items():
        readers = [s for s in subscriptions if s.stream == stream and not s.outgoing]
        if readers and not any(opening in s.handlers for s in readers):
            readers[0].learns = readers[0].learns | {opening}


class Refused(Exception):
    """An event from a node that has no authority over what it states; the text says why."""


def define_table(metadata: MetaData, service: str) -> Table:
    return Table(
        f"{service}_authority",
        metadata,
        Column("datum", String(64), primary_key=True),  # "opportunity/<id>", "placement/<id>", "outcome/<id>"
        Column("owner", String(16), nullable=False),  # the owner; for a placement, her home node
        Column("host", String(16), nullable=True),  # a placement's host node
        Column("revision", BigInteger, nullable=True),  # the owner's last version applied
        Column("stated_at", UtcDateTime, nullable=True),  # ... and its time (orders senders without revisions)
    )


@dataclass
class Admission:
    admitted: list[Incoming]  # to apply, in order
    superseded: int  # older versions than the ones applied: recorded, not applied
    refused: list[tuple[Incoming, str]]  # and why: to dead-letter, neither recorded nor applied


class Ledger:
    def __init__(self, table: Table, node_id: str) -> None:
        self._table = table
        self._me = node_id

    async def admit(self, session: AsyncSession, items: list[Incoming]) -> Admission:
        """Which events of a batch may be applied, in order, and which are refused. Reads the rows
        the batch names in one query (locked, in key order, so that two consumers of the service
        never write one over the other) and writes back what the admitted events changed."""
        stated = [(incoming, statements(incoming.event, origin=incoming.envelope.origin,
                                        target=incoming.envelope.target, me=self._me)) for incoming in items]
        keys = sorted({s.datum for _, found in stated for s in found})
        if not keys:
            return Admission(list(items), 0, [])
        t = self._table
        known: dict[str, dict] = {}
        for start in range(0, len(keys), 500):
            rows = await session.execute(select(t).where(t.c.datum.in_(keys[start:start + 500]))
                                         .order_by(t.c.datum).with_for_update())
            known.update((row.datum, dict(row._mapping)) for row in rows)
        before = {datum: dict(row) for datum, row in known.items()}
        admitted, superseded, refused = [], 0, []
        for incoming, found in stated:
            try:
                newer = _decide(known, found, incoming)
            except Refused as error:  # what it stated is not taken into the ledger
                refused.append((incoming, str(error)))
                continue
            if newer:
                admitted.append(incoming)
            else:
                superseded += 1
        new = [row for datum, row in known.items() if datum not in before]
        changed = [{"key": datum, "new_revision": row["revision"], "new_stated_at": row["stated_at"]}
                   for datum, row in known.items() if datum in before and row != before[datum]]
        if new:
            await session.execute(t.insert(), new)
        if changed:
            await session.execute(update(t).where(t.c.datum == bindparam("key")).values(
                revision=bindparam("new_revision"), stated_at=bindparam("new_stated_at")), changed)
        return Admission(admitted, superseded, refused)


def _decide(known: dict[str, dict], found: list[Statement], incoming: Incoming) -> bool:
    """Check one event's statements against what is known (updated in place when it passes):
    True to apply it, False when it is an older version than the one applied."""
    origin, occurred_at = incoming.envelope.origin, incoming.envelope.occurred_at
    changes: dict[str, dict] = {}
    newer = True
    for statement in found:
        row = changes.get(statement.datum) or known.get(statement.datum)
        match statement:
            case Owns(datum=datum, revision=revision):
                if row is None:
                    changes[datum] = {"datum": datum, "owner": origin, "host": None, "revision": revision,
                                      "stated_at": occurred_at}
                elif row["owner"] != origin:
                    raise Refused(f"{datum} belongs to {row['owner']}; {origin} may not state it")
                elif not _newer(revision, occurred_at, row):
                    newer = False
                else:
                    changes[datum] = {**row, "revision": revision, "stated_at": occurred_at}
            case Made(datum=datum, node=node):
                raise Refused(f"{datum} was not made by {node}: its id names another node")
            case Hosts(datum=datum, node=node):
                if row is not None and row["owner"] != node:
                    raise Refused(f"{datum} is hosted by {row['owner']}, not by {node}")
            case Opens(datum=datum, home=home, host=host):
                if row is None:
                    changes[datum] = {"datum": datum, "owner": home, "host": host, "revision": None, "stated_at": None}
                elif (row["owner"], row["host"]) != (home, host):
                    raise Refused(f"{datum} is between home {row['owner']} and host {row['host']}, "
                                  f"not home {home} and host {host}")
            case Speaks(datum=datum, side=side):
                if row is None:
                    continue  # never heard of here: the handler decides
                parties = {Side.HOME: row["owner"], Side.HOST: row["host"]}
                allowed = set(parties.values()) if side is None else {parties[side]}
                if origin not in allowed:
                    who = "either side" if side is None else f"its {side.value} ({parties[side]})"
                    raise Refused(f"{datum} is between home {row['owner']} and host {row['host']}: "
                                  f"{origin} may not speak for {who}")
    if newer:
        known.update(changes)
    return newer


def _newer(revision: int | None, occurred_at: datetime, row: dict) -> bool:
    """Is this version of an owned datum newer than the one applied? The owner's revision decides;
    its time only orders the versions of an owner on older code, which sends no revision."""
    if (revision or 0) != (row["revision"] or 0):
        return (revision or 0) > (row["revision"] or 0)
    if revision is not None:
        return False  # the same revision again: a copy of the version applied
    return row["stated_at"] is None or occurred_at > row["stated_at"]

"""The corridor's and a node's channels as one AsyncAPI 3.0 document, committed as docs/asyncapi.yaml.

    python -m corridor_runtime.asyncapi          # write docs/asyncapi.yaml
    python -m corridor_runtime.asyncapi --check  # exit 1 if the committed document differs

A FastStream NatsBroker that only documents gets one publisher per message: each event type and
version of the contract catalogue (the envelope with that version's payload), and the node's
control-plane requests and answers. FastStream's AsyncAPI 3.0 export turns their models into the
payload schemas and the servers; `shape` then groups the messages of one subject into one channel
(with its parameters), names the operations, the servers and the headers, and describes the sealed
form of addressed events. It lives in the runtime, not in the contracts, because the contracts
package must stay light enough for a partner to build a node on it alone, and because the
control-plane subjects are the runtime's.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import warnings
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import yaml
from corridor_contracts import CATALOGUE, Event, Scope, subjects
from corridor_contracts.jsonschemas import travelling_model, wire_model
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, RootModel, create_model

from . import dead_letters
from .consumer import ConsumerCounters
from .service import status_subject

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"
NODE_URL, HUB_URL = "nats://127.0.0.1:4222", "nats://hub:7422"
REF = "#/components/schemas/{model}"


# --- payloads that are not events --------------------------------------------------------------


class StatusRequest(RootModel[Any]):
    """Any body (the service ignores it); the answer goes to the request's reply subject."""


ConsumerStatus = create_model(
    "ConsumerStatus",
    __doc__="One durable consumer of the service: its counters since start, and its backlog in its stream.",
    name=(str, ...),
    stream=(str, Field(description="LOCAL, IN or OUT")),
    **{f.name: (int, ...) for f in dataclasses.fields(ConsumerCounters)},
    pending=(int | None, Field(default=None, description="messages not yet delivered to it")),
    ack_pending=(int | None, Field(default=None, description="delivered, not yet acknowledged")),
    error=(str | None, Field(default=None, description="why its backlog could not be read")),
)


class ServiceStatus(BaseModel):
    """A running service's status (what `corridor status` shows)."""

    node: str
    service: str
    uptime_s: float
    outbox_backlog: int | None = Field(description="events written, not yet acknowledged by JetStream")
    published: int
    http: str | None = Field(description="its HTTP address, when it serves one")
    consumers: list[ConsumerStatus]  # type: ignore[valid-type]
    failing: dict[str, str] = Field(description="what keeps failing (its schema, a background loop) and why")
    metrics: str = Field(description="its own metrics in Prometheus' text format")


class ServiceGivenUp(BaseModel):
    """The node answers for a service it gave up restarting (it kept exiting): `failing` says why."""

    node: str
    service: str
    failing: dict[str, str] = Field(description='{"process": why}')
    consumers: list[Any] = Field(max_length=0)
    outbox_backlog: None
    http: None


class StatusFailure(BaseModel):
    """The service is up but could not gather its status."""

    node: str
    service: str
    error: str


class ReplayRequest(BaseModel):
    """An operator's request to apply one of the service's dead letters again, after a fix."""

    sequence: int = Field(ge=1, description="the dead letter's sequence in the DEADLETTER stream")


class ReplayApplied(BaseModel):
    """The dead letter went through its consumer again and was removed from DEADLETTER."""

    sequence: int
    consumer: str
    applied: bool = Field(description="false when the event had been applied already (its inbox knew it)")


class ReplayRefused(BaseModel):
    """The dead letter could not be applied again; it stays in DEADLETTER."""

    error: str


class DeadLetteredMessage(RootModel[Any]):
    """The original message's bytes as they arrived (an envelope, or whatever poison came), kept whole
    unless Corridor-Truncated is set: then the whole message is still in its original stream."""


# --- what is documented ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Message:
    id: str
    model: type[BaseModel]
    title: str
    description: str
    headers: dict[str, Any] | None = None
    opened: type[BaseModel] | None = None  # an addressed event once opened by its target
    content_type: str | None = None


@dataclasses.dataclass(frozen=True)
class Channel:
    id: str
    address: str | None
    description: str
    servers: tuple[str, ...]
    messages: tuple[Message, ...]
    scope: Scope | None = None  # None: the control plane


PARAMETERS = {
    "node": {"description": "The node's id, which is also its JetStream domain.", "examples": ["fr", "es"]},
    "origin": {"description": "The id of the node that sent and signed the event.", "examples": ["fr"]},
    "target": {"description": "The id of the one node the event is addressed to.", "examples": ["es"]},
    "service": {"description": "The service on the node.",
                "examples": ["profiles", "matching", "notifications", "reporting"]},
    "consumer": {"description": "The durable consumer that dead-lettered the message.",
                 "examples": ["matching-corridor", "notifications-local"]},
}

EVENT_HEADERS = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {"type": "string", "format": "uuid",
                        "description": "The envelope's event_id: JetStream drops a repeat inside its duplicate window."},
        "traceparent": {"type": "string",
                        "description": "W3C trace context of the span that emitted the event, when tracing is on."},
    },
    "required": ["Nats-Msg-Id"],
}

DEAD_LETTER_HEADERS = {
    "type": "object",
    "properties": {
        dead_letters.REASON: {"type": "string", "description": "Why it was dead-lettered (at most 4000 characters)."},
        dead_letters.ORIGINAL_SUBJECT: {"type": "string"},
        dead_letters.ORIGINAL_STREAM: {"type": "string", "description": "LOCAL, IN or OUT."},
        dead_letters.ORIGINAL_SEQUENCE: {"type": "string", "pattern": "^[0-9]+$"},
        dead_letters.CONSUMER: {"type": "string"},
        dead_letters.DELIVERIES: {"type": "string", "pattern": "^[0-9]+$"},
        dead_letters.TRUNCATED: {"type": "string", "pattern": "^[0-9]+$",
                                 "description": "The original size in bytes, when only its start is kept."},
        "Nats-Msg-Id": {"type": "string", "description": "dead:<stream>:<sequence>:<consumer>, against a repeat."},
    },
    "required": [dead_letters.REASON, dead_letters.ORIGINAL_SUBJECT, dead_letters.ORIGINAL_STREAM,
                 dead_letters.ORIGINAL_SEQUENCE, dead_letters.CONSUMER, dead_letters.DELIVERIES],
}

SCOPE_WORDS = {
    Scope.LOCAL: "Node-internal: in the node's LOCAL stream, read by its own services. It may carry personal data "
                 "and never leaves the node.",
    Scope.BROADCAST: "Broadcast to every node: in the origin's OUT stream, which every other node's IN sources "
                     "across the hub. Signed by the origin.",
    Scope.DIRECT: "Addressed to one node: in the origin's OUT stream, which only the target's IN sources "
                  "(corridor.direct.<target>.>). Signed by the origin and sealed for the target.",
}


def prose(doc: str | None) -> list[str]:
    """A docstring's paragraphs, each on one line unless it is a list or indented."""
    paragraphs = [p for p in inspect.cleandoc(doc or "").split("\n\n") if p.strip()]
    return [p if re.search(r"^\s*[-*]|^\s", p, re.MULTILINE) else " ".join(p.split()) for p in paragraphs]


def event_message(cls: type[Event]) -> Message:
    """Local events as the node's services read them; shared ones exactly as they travel between
    nodes (signed, and an addressed one sealed for its target, with its opened form beside it)."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    name, title = f"{cls.TYPE}V{cls.VERSION}", f"{cls.TYPE} v{cls.VERSION}"
    if cls.SCOPE is Scope.LOCAL:
        return Message(name, wire_model(cls), title, doc, EVENT_HEADERS)
    if cls.SCOPE is Scope.BROADCAST:
        return Message(name, travelling_model(cls), title, doc, EVENT_HEADERS)
    return Message(
        name, travelling_model(cls), f"{title} (sealed)",
        f"{doc}\n\nIt travels sealed: the envelope's `payload` is {{}} and `sealed` holds the payload as a "
        f"libsodium crypto_box (X25519, XSalsa20-Poly1305) between the origin's and the target's sealing keys, "
        f"which the registry lists. The signature covers the sealed envelope. The target checks the signature, "
        f"then opens it into the envelope of `x-opened-payload` ({name}).",
        EVENT_HEADERS, opened=wire_model(cls))


def event_channels() -> list[Channel]:
    by_type: dict[str, list[type[Event]]] = {}
    for cls in CATALOGUE:
        by_type.setdefault(cls.TYPE, []).append(cls)
    channels = []
    for event_type, versions in by_type.items():
        scope = versions[-1].SCOPE
        address = {Scope.LOCAL: subjects.local("{node}", event_type),
                   Scope.BROADCAST: subjects.broadcast("{origin}", event_type),
                   Scope.DIRECT: subjects.direct("{target}", "{origin}", event_type)}[scope]
        servers = ("node",) if scope is Scope.LOCAL else ("node", "hub")
        channels.append(Channel(event_type, address, f"{event_type} events. {SCOPE_WORDS[scope]}", servers,
                                tuple(event_message(cls) for cls in versions), scope))
    return channels


def control_channels() -> list[Channel]:
    node = ("node",)
    return [
        Channel("status", status_subject("{node}", "{service}"),
                "Request/reply: each running service answers its status here (node-internal).", node,
                (Message("StatusRequest", StatusRequest, "Status request", StatusRequest.__doc__),)),
        Channel("statusReply", None, "The status request's reply subject (a NATS inbox).", node,
                (Message("ServiceStatus", ServiceStatus, "Service status", ServiceStatus.__doc__),
                 Message("ServiceGivenUp", ServiceGivenUp, "Service given up", ServiceGivenUp.__doc__),
                 Message("StatusFailure", StatusFailure, "Status failure", StatusFailure.__doc__))),
        Channel("replay", dead_letters.replay_subject("{node}", "{service}"),
                "Request/reply: the service applies one of its dead letters again (node-internal). Replay goes "
                "through the service, not the original subject: an event from a peer has no local stream that "
                "would take its subject again.", node,
                (Message("ReplayRequest", ReplayRequest, "Replay request", ReplayRequest.__doc__),)),
        Channel("replayReply", None, "The replay request's reply subject (a NATS inbox).", node,
                (Message("ReplayApplied", ReplayApplied, "Dead letter applied again", ReplayApplied.__doc__),
                 Message("ReplayRefused", ReplayRefused, "Replay refused", ReplayRefused.__doc__))),
        Channel("deadLetter", dead_letters.subject("{node}", "{service}", "{consumer}"),
                f"Poison messages and events that failed too often, with their reason, in the node's "
                f"{dead_letters.STREAM} stream (node-internal): listed, replayed or discarded by an operator.", node,
                (Message("DeadLetter", DeadLetteredMessage, "Dead letter", DeadLetteredMessage.__doc__,
                         DEAD_LETTER_HEADERS, content_type="application/octet-stream"),)),
    ]


def operations(events: list[Channel], control: list[Channel]) -> dict[str, Any]:
    messages = {c.id: c.messages for c in events + control}

    def refs(channel: str) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{channel}/messages/{m.id}"} for m in messages[channel]]

    def op(action: str, channel: str, summary: str, **extra: Any) -> dict[str, Any]:
        return {"action": action, "channel": {"$ref": f"#/channels/{channel}"}, "summary": summary,
                "messages": refs(channel), **extra}

    def reply(channel: str) -> dict[str, Any]:
        return {"channel": {"$ref": f"#/channels/{channel}"}, "messages": refs(channel)}

    ops: dict[str, Any] = {}
    for c in events:
        into, out_of = ("LOCAL", "LOCAL") if c.scope is Scope.LOCAL else ("OUT", "IN")
        checks = {Scope.LOCAL: "", Scope.BROADCAST: " after checking its signature",
                  Scope.DIRECT: " after checking its signature and opening it"}[c.scope]
        ops[f"send{c.id}"] = op("send", c.id, f"A service of the node emits {c.id}: written in its outbox with its "
                                              f"change, published into {into} after commit (Nats-Msg-Id = event_id).")
        ops[f"receive{c.id}"] = op("receive", c.id, f"The node's services that subscribe to {c.id} consume it from "
                                                    f"{out_of}{checks}, each with an idempotent inbox.")
    ops["answerStatus"] = op("receive", "status", "The service answers its status.", reply=reply("statusReply"))
    ops["replayDeadLetter"] = op("receive", "replay", "The service applies a dead letter again and answers.",
                                 reply=reply("replayReply"))
    ops["putDeadLetter"] = op("send", "deadLetter", "A consumer keeps a message it cannot apply, with the reason, "
                                                    "before acknowledging it.")
    return ops


# --- generation --------------------------------------------------------------------------------


def documenting_broker(channels: list[Channel]) -> NatsBroker:
    """A broker that never connects: one publisher per message, titled by the message's id."""
    broker = NatsBroker([NODE_URL, HUB_URL])
    for channel in channels:
        for message in channel.messages:
            broker.publisher(channel.address or f"reply.{channel.id}", title=message.id, schema=message.model)
    return broker


def _add_schemas(components: dict[str, Any], model: type[BaseModel]) -> None:
    """Put a model's schema and those it refers to into components, or check those already there
    (FastStream gives every top-level payload a `properties`, empty for a root model: that is the
    one difference allowed, and the model's own schema is kept)."""
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        there = components.setdefault(name, sub)
        if there.get("properties") == {} and "properties" not in sub:
            there = {k: v for k, v in there.items() if k != "properties"}
        if there != sub:
            raise ValueError(f"two different schemas are named {name!r}: rename one of the models")
        components[name] = sub


def shape(raw: dict[str, Any], events: list[Channel], control: list[Channel]) -> dict[str, Any]:
    """FastStream's document (one channel per publisher) shaped into the corridor's channels."""
    channels = events + control
    server_names = dict(zip(raw["servers"], ("node", "hub"), strict=True))
    servers = {server_names[k]: {**s} for k, s in raw["servers"].items()}
    servers["node"].update(host="{host}:4222", description=(
        "A partner's node: its own nats-server with JetStream (domain = the node id). Its services connect only "
        "here; its LOCAL, OUT, IN and DEADLETTER streams are here."),
        variables={"host": {"default": "127.0.0.1", "description": "The node's nats-server."}})
    servers["hub"].update(host="{host}:7422", description=(
        "The corridor hub: a plain nats-server (no JetStream, it stores nothing) that nodes join as leafnodes. "
        "Each node's IN stream sources every peer's OUT through it ($JS.<peer>.API)."),
        variables={"host": {"default": "hub", "description": "The hub's leafnode listener."}})
    for s in servers.values():
        s.pop("protocolVersion", None)  # FastStream writes "custom"
        if not s.get("pathname"):
            s.pop("pathname", None)

    schemas = dict(raw["components"]["schemas"])
    messages: dict[str, Any] = {}
    out_channels: dict[str, Any] = {}
    for channel in channels:
        for m in channel.messages:
            made = raw["components"]["messages"][f"{m.id}:Message"]
            _add_schemas(schemas, m.model)  # FastStream's hoisted schemas must be the model's own
            entry: dict[str, Any] = {"name": m.id, "title": m.title}
            paragraphs = prose(m.description)
            if paragraphs:
                entry["summary"] = paragraphs[0]
            if len(paragraphs) > 1:
                entry["description"] = "\n\n".join(paragraphs)
            entry["payload"] = made["payload"]
            if m.content_type:
                entry["contentType"] = m.content_type
            if m.headers:
                entry["headers"] = m.headers
            if "correlation_id" in m.model.model_fields:
                entry["correlationId"] = {"location": "$message.payload#/correlation_id",
                                          "description": "One per placement journey."}
            if m.opened is not None:
                _add_schemas(schemas, m.opened)
                entry["x-opened-payload"] = {"$ref": REF.format(model=m.opened.__name__)}
            messages[m.id] = entry
        body: dict[str, Any] = {"address": channel.address, "description": channel.description,
                                "servers": [{"$ref": f"#/servers/{s}"} for s in channel.servers],
                                "messages": {m.id: {"$ref": f"#/components/messages/{m.id}"} for m in channel.messages}}
        names = re.findall(r"{(\w+)}", channel.address or "")
        if names:
            body["parameters"] = {n: PARAMETERS[n] for n in names}
        out_channels[channel.id] = body

    return {
        "asyncapi": raw["asyncapi"],
        "info": raw["info"],
        "defaultContentType": raw["defaultContentType"],
        "servers": servers,
        "channels": out_channels,
        "operations": operations(events, control),
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


DESCRIPTION = """\
Every channel of the SMART volunteering corridor and of one partner node, generated from the contract \
catalogue (corridor_contracts) by `python -m corridor_runtime.asyncapi`.

Every event travels in one envelope (event_id, type, version, origin, target, occurred_at, correlation_id, \
causation_id, payload, sealed, signature); each message below is the envelope of one event type and version. \
Local events (node.<node>.<Type>) stay on their node. Broadcast events (corridor.bcast.<origin>.<Type>) and \
addressed events (corridor.direct.<target>.<origin>.<Type>) are signed by their origin (ed25519 over the \
canonical encoding); addressed events are also sealed for their target. A receiver also applies the rules of \
docs/protocol.md (authority and order). The status, replay and deadletter subjects are the node's control plane."""


def generated() -> dict[str, Any]:
    events, control = event_channels(), control_channels()
    broker = documenting_broker(events + control)
    spec = AsyncAPI(broker, title="SMART volunteering corridor", version=installed_version("corridor-contracts"),
                    description=DESCRIPTION, schema_version="3.0.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # FastStream warns when it overwrites a schema or channel
        raw = spec.to_specification().to_jsonable()
    return shape(raw, events, control)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # a shared parameter is written out at each use
        return True


def render(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if the committed file differs")
    parser.add_argument("--output", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    text = render(generated())
    if args.check:
        if not args.output.is_file() or args.output.read_text() != text:
            print(f"{args.output} differs from the contracts: run python -m corridor_runtime.asyncapi", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

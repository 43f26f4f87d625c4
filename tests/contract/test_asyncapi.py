"""docs/asyncapi.yaml is what the generator makes from the contracts, the official AsyncAPI parser
finds no error in it, every message's payload schema takes the envelopes the project's own code puts
on the wire (addressed events sealed, and once opened), and the control plane's messages are what
the runtime answers and keeps."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
import yaml
from corridor_contracts import CATALOGUE, Envelope, Scope, Sealer, Signer, new_node_seed, sealing_key_of, subjects
from corridor_runtime import asyncapi
from corridor_runtime.consumer import ConsumerCounters
from corridor_runtime.dead_letters import DeadLetters
from corridor_runtime.service import ServiceHost, status_subject
from corridor_runtime.settings import NodeSettings
from corridor_runtime.supervisor import Supervisor
from harness.asyncapi import ERROR, WARNING, parse
from harness.samples import SAMPLES
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:corridor:asyncapi"
SEEDS = {"fr": new_node_seed(), "es": new_node_seed()}
KEYS = {node: sealing_key_of(seed) for node, seed in SEEDS.items()}


@pytest.fixture(scope="module")
def document():
    return yaml.safe_load(asyncapi.DOCUMENT.read_text())


def test_the_committed_document_is_what_the_generator_makes():
    assert asyncapi.DOCUMENT.read_text() == asyncapi.render(asyncapi.generated()), (
        "docs/asyncapi.yaml differs from the contracts: run `make asyncapi` and commit it")
    assert asyncapi.main(["--check"]) == 0


def test_check_fails_on_a_stale_document(tmp_path, capsys):
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text(asyncapi.DOCUMENT.read_text().replace("PlacementRequested", "PlacementAsked", 1))
    assert asyncapi.main(["--check", "--output", str(stale)]) == 1
    assert "differs from the contracts" in capsys.readouterr().err


def test_the_official_parser_finds_no_error():
    result = parse(asyncapi.DOCUMENT)
    for d in result["diagnostics"]:
        if d["severity"] != ERROR:
            kind = "warning" if d["severity"] == WARNING else f"severity {d['severity']}"
            print(f"asyncapi parser {kind}: {d['code']} at {'/'.join(map(str, d['path']))}: {d['message']}")
    errors = [d for d in result["diagnostics"] if d["severity"] == ERROR]
    assert errors == []
    assert result["parsed"]


def test_every_event_type_and_version_has_one_message(document):
    pinned = {}
    for name, message in document["components"]["messages"].items():
        payload = _resolve(document, message["payload"])
        if "type" in payload.get("properties", {}):
            key = (payload["properties"]["type"]["const"], payload["properties"]["version"]["const"])
            assert key not in pinned, f"{key} has two messages: {pinned[key]} and {name}"
            pinned[key] = name
    assert sorted(pinned) == sorted((cls.TYPE, cls.VERSION) for cls in CATALOGUE)


def test_every_subject_parameter_is_declared(document):
    for name, channel in document["channels"].items():
        names = set(re.findall(r"{(\w+)}", channel["address"] or ""))
        assert names == set(channel.get("parameters", {})), name


def _resolve(document, node):
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validator(document, pointer: str) -> Draft202012Validator:
    registry = Registry().with_resource(DOC_URI, Resource(contents=document, specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=registry, format_checker=FormatChecker())


def _wire(event) -> tuple[Envelope, Envelope | None]:
    """The envelope as the node's emitter puts it on the wire, and an addressed one as its target opens it."""
    if event.SCOPE is Scope.LOCAL:
        return Envelope.wrap(event, origin="fr"), None
    signer = Signer(SEEDS["fr"])
    if event.SCOPE is Scope.BROADCAST:
        return signer.sign(Envelope.wrap(event, origin="fr")), None
    sealed = signer.sign(Sealer("fr", SEEDS["fr"], KEYS).seal(Envelope.wrap(event, origin="fr", target="es")))
    return sealed, Sealer("es", SEEDS["es"], KEYS).open(sealed)


def _channel_of(document, subject: str, message: str) -> str:
    for name, channel in document["channels"].items():
        pattern = re.sub(r"\\{\w+\\}", r"[^.*>]+", re.escape(channel["address"] or ""))
        if re.fullmatch(pattern, subject) and message in channel["messages"]:
            return name
    raise AssertionError(f"no channel carries {message} on {subject}")


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_each_message_takes_the_envelope_the_code_makes(document, event_type):
    event = SAMPLES[event_type]
    name = f"{event.TYPE}V{event.VERSION}"
    message = document["components"]["messages"][name]
    wire, opened = _wire(event)
    data = wire.to_wire()
    if event.SCOPE is Scope.DIRECT:
        assert data["payload"] == {} and data["sealed"]
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in _validator(document, f"/components/messages/{name}/payload").iter_errors(data)]
    assert errors == []
    _channel_of(document, subjects.for_envelope(wire, node="fr"), name)

    if opened is None:
        assert "x-opened-payload" not in message
        return
    pointer = f"/components/messages/{name}/x-opened-payload"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(document, pointer).iter_errors(opened.to_wire())]
    assert errors == []
    assert not _validator(document, pointer).is_valid(data), "the opened form must not take a sealed envelope"
    assert not _validator(document, f"/components/messages/{name}/payload").is_valid(opened.to_wire())


# --- the control plane: what the runtime's own code answers and keeps --------------------------


class _Responder:
    """A NATS request as a subscriber callback gets it: the answer is kept."""

    answer: dict | None = None

    async def respond(self, data: bytes) -> None:
        self.answer = json.loads(data)


class _Nats:
    def __init__(self) -> None:
        self.subscriptions: dict[str, object] = {}

    async def subscribe(self, subject: str, cb) -> None:
        self.subscriptions[subject] = cb

    async def flush(self, timeout: float | None = None) -> None:
        pass


async def _status_answers(tmp_path) -> dict[str, tuple[str, dict]]:
    host = ServiceHost(NodeSettings(node_id="fr", service="matching", data_dir=tmp_path), versioned_schema=False)

    async def consumer_info(stream, name):
        return SimpleNamespace(num_pending=2, num_ack_pending=1)

    host.js = SimpleNamespace(consumer_info=consumer_info)
    host.consumers = [SimpleNamespace(name="matching-local", subscription=SimpleNamespace(stream="LOCAL"),
                                      counters=ConsumerCounters(processed=3, dead_lettered=1))]
    answers = {}
    try:
        running = _Responder()
        await host._answer_status(running)
        answers["ServiceStatus"] = (status_subject("fr", "matching"), running.answer)

        async def broken():
            raise RuntimeError("database is locked")

        host.status = broken
        failing = _Responder()
        await host._answer_status(failing)
        answers["StatusFailure"] = (status_subject("fr", "matching"), failing.answer)
    finally:
        await host.db.dispose()
        host.telemetry.shutdown()

    supervisor = Supervisor(SimpleNamespace(layout=SimpleNamespace(node_id="fr")), say=lambda _: None)
    supervisor._nc = _Nats()
    await supervisor._answer_for("matching", "exited with code 3, three times in a minute")
    (subject, answer_for), = supervisor._nc.subscriptions.items()
    given_up = _Responder()
    await answer_for(given_up)
    answers["ServiceGivenUp"] = (subject, given_up.answer)
    return answers


async def test_status_answers_are_the_reply_messages(document, tmp_path):
    answers = await _status_answers(tmp_path)
    assert sorted(answers) == sorted(document["channels"]["statusReply"]["messages"])
    for name, (subject, answer) in answers.items():
        _channel_of(document, subject, "StatusRequest")
        validator = _validator(document, f"/components/messages/{name}/payload")
        assert [e.message for e in validator.iter_errors(answer)] == [], name


async def test_a_dead_letter_has_the_documented_subject_and_headers(document):
    kept = []

    async def publish(subject, data, headers):
        kept.append((subject, data, headers))

    original = SimpleNamespace(subject="corridor.bcast.es.OpportunityPublished", data=b"{not json",
                               metadata=SimpleNamespace(stream="IN", sequence=SimpleNamespace(stream=41),
                                                        num_delivered=1))
    letters = DeadLetters(SimpleNamespace(publish=publish), node="fr", service="matching")
    await letters.put(original, "invalid JSON", consumer="matching-corridor")
    (subject, data, headers), = kept
    _channel_of(document, subject, "DeadLetter")
    validator = _validator(document, "/components/messages/DeadLetter/headers")
    assert [e.message for e in validator.iter_errors(headers)] == []
    assert data == original.data

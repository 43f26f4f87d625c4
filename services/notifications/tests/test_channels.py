"""Notifications on a real nats-server and database, with a real SMTP server (aiosmtpd), a webhook
receiver and a Maildir, all on loopback: the right message to the right person in her language,
exactly once per channel, SMTP down then up, replays, and a bounced address dead-lettered."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import json
import mailbox
import secrets
import uuid
from datetime import datetime, timedelta, timezone

import nats
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from sqlalchemy import select

from corridor_contracts import Envelope, PartnerNode, Registry, Signer, events, new_node_seed, public_key_of, subjects
from corridor_notifications.bootstrap import build
from corridor_notifications.settings import NotificationSettings
from corridor_notifications.tables import deliveries
from corridor_runtime.nats_server import free_port
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness.ledger import eventually
from harness.samples import MATCH, OPPORTUNITY_FIELDS, PROFILE
from harness.streams import shared

pytestmark = pytest.mark.nats
SEED = new_node_seed()
IT_SEED = new_node_seed()  # a partner node fr sends placement answers to
WEBHOOK_SECRET = secrets.token_hex(16)


class Mailroom:
    """An SMTP server on loopback that keeps what it receives and bounces 'bounce@' addresses."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[tuple[list[str], email.message.Message]] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 Message accepted for delivery"


class WebhookReceiver:
    def __init__(self) -> None:
        self.posts: list[tuple[dict, bytes]] = []
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request):
            self.posts.append((dict(request.headers), await request.body()))
            return {"ok": True}

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, lifespan="off"))

    async def __aenter__(self):
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc):
        self.server.should_exit = True
        await self.task


@pytest.fixture
async def node(tmp_path, nats_node, database_url):
    """Node fr with its streams, and a way to start its notifications service with chosen channels."""
    nc = await nats.connect(nats_node.url)
    js = nc.jetstream()
    await provision(js, "fr", peers=[])
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEED, id="fr", name="Elan Interculturel", country="FR"),
                                  PartnerNode.of_seed(IT_SEED, id="it", name="MateraHub", country="IT")]),
                  registry)
    started = []

    async def start(**notify):
        settings = NodeSettings(node_id="fr", service="notifications", nats_url=nats_node.url, database_url=database_url,
                                data_dir=tmp_path, registry_file=registry, signing_seed=SEED.decode())
        host = build(settings, NotificationSettings(maildir=tmp_path / "maildir", sender="elan@corridor.test", **notify))
        await host.start()
        started.append(host)
        return host

    async def publish(event, *, origin="fr", target=None, msg_id=None):
        envelope = Envelope.wrap(event, origin=origin, target=target)
        if event.SCOPE.value != "local":
            envelope = shared(envelope, {"fr": SEED, "it": IT_SEED})
        await js.publish(subjects.for_envelope(envelope, node=origin), envelope.encode(),
                         headers={"Nats-Msg-Id": msg_id or str(envelope.event_id)})
        return envelope

    node = type("Node", (), {"start": staticmethod(start), "publish": staticmethod(publish), "js": js, "tmp": tmp_path})
    try:
        yield node
    finally:
        for host in started:
            await host.stop()
        await nc.close()


async def _she_is_proposed(node, email_address="amina.haddad@example.org"):
    volunteer_id = uuid.uuid4()
    profile = PROFILE.model_copy(update={"email": email_address})
    await node.publish(events.VolunteerRegistered(volunteer_id=volunteer_id, registered_at=datetime.now(timezone.utc),
                                                  profile=profile))
    await node.publish(events.OpportunityPublished(**OPPORTUNITY_FIELDS))
    proposed = events.PlacementProposed(
        proposal_id=uuid.uuid4(), volunteer_id=volunteer_id, opportunity_id=OPPORTUNITY_FIELDS["opportunity_id"],
        host_node="fr", match=MATCH, expires_at=datetime.now(timezone.utc) + timedelta(days=7),
        explanation=["A la compétence demandée : Aide aux personnes âgées", "Habite la même ville"])
    return proposed, await node.publish(proposed)


async def _rows(host, **where):
    async with host.sessions() as session:
        query = select(deliveries)
        for column, value in where.items():
            query = query.where(deliveries.c[column] == value)
        return (await session.execute(query)).all()


async def test_a_proposal_reaches_her_once_on_every_channel_in_her_language(node):
    mailroom = Mailroom(free_port())
    mailroom.controller.start()
    try:
        async with WebhookReceiver() as webhook:
            host = await node.start(channels=["maildir", "smtp", "webhook"], smtp_port=mailroom.port,
                                    webhook_url=f"http://127.0.0.1:{webhook.port}/hook", webhook_secret=WEBHOOK_SECRET)
            proposed, envelope = await _she_is_proposed(node)

            async def all_sent():
                rows = await _rows(host, cause_event_id=str(envelope.event_id))
                return rows if len(rows) == 3 and all(r.status == "sent" for r in rows) else None
            await eventually(all_sent, timeout=30)

            [(recipients, message)] = mailroom.messages
            assert recipients == ["amina.haddad@example.org"]
            assert message["Content-Language"] == "fr" and message["From"] == "elan@corridor.test"
            assert "Companion for elderly residents" in message["Subject"]
            text = message.get_body(preferencelist=("plain",)).get_content()
            assert "Amina" in text and "Habite la même ville" in text and "Elan Interculturel" in text
            assert "<" in message.get_body(preferencelist=("html",)).get_content()

            maildir = mailbox.Maildir(node.tmp / "maildir", create=False)
            [key] = maildir.keys()
            stored = email.message_from_bytes(maildir.get_bytes(key), policy=email.policy.default)
            assert stored["Subject"] == message["Subject"] and stored["To"] == "amina.haddad@example.org"

            [(headers, body)] = webhook.posts
            expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["x-corridor-signature"] == expected
            post = json.loads(body)
            assert post["kind"] == "proposal" and post["language"] == "fr" and post["recipient"]["kind"] == "volunteer"
            assert headers["idempotency-key"] == post["delivery_id"]
    finally:
        mailroom.controller.stop()


async def test_smtp_down_then_up_the_message_arrives_once(node):
    port = free_port()  # nothing listens here yet
    host = await node.start(channels=["smtp"], smtp_port=port)
    _, envelope = await _she_is_proposed(node)

    async def deferred():
        rows = await _rows(host, cause_event_id=str(envelope.event_id))
        return rows if rows and rows[0].attempts >= 1 and rows[0].status == "pending" else None
    [row] = await eventually(deferred, timeout=30)
    assert "unreachable" in row.last_error

    mailroom = Mailroom(port)
    mailroom.controller.start()
    try:
        async def sent():
            rows = await _rows(host, cause_event_id=str(envelope.event_id))
            return rows[0].status == "sent"
        await eventually(sent, timeout=60)
        await asyncio.sleep(1.0)
        assert len(mailroom.messages) == 1
    finally:
        mailroom.controller.stop()


async def test_a_redelivered_and_replayed_event_sends_nothing_twice(node):
    host = await node.start(channels=["maildir"])
    proposed, envelope = await _she_is_proposed(node)
    await node.js.publish(subjects.for_envelope(envelope, node="fr"), envelope.encode(),
                          headers={"Nats-Msg-Id": f"{envelope.event_id}-again"})  # the same event, redelivered

    async def one_sent():
        rows = await _rows(host, cause_event_id=str(envelope.event_id))
        return rows if rows and rows[0].status == "sent" else None
    await eventually(one_sent, timeout=30)
    await host.stop()
    await node.js.delete_consumer("LOCAL", "notifications-local")  # replay LOCAL from its start
    host = await node.start(channels=["maildir"])

    async def replayed():
        consumer = next(c for c in host.consumers if c.name == "notifications-local")
        return consumer.counters.processed + consumer.counters.duplicates >= 3  # registered, proposed twice
    await eventually(replayed, timeout=30)
    await asyncio.sleep(1.0)
    assert len(await _rows(host, cause_event_id=str(envelope.event_id))) == 1
    assert len(list(mailbox.Maildir(node.tmp / "maildir", create=False))) == 1


async def test_a_bounced_address_is_dead_lettered_with_its_reason(node):
    mailroom = Mailroom(free_port())
    mailroom.controller.start()
    try:
        host = await node.start(channels=["smtp"], smtp_port=mailroom.port)
        _, envelope = await _she_is_proposed(node, email_address="bounce@example.org")

        async def failed():
            rows = await _rows(host, cause_event_id=str(envelope.event_id))
            return rows if rows and rows[0].status == "failed" else None
        [row] = await eventually(failed, timeout=30)
        assert row.last_error.startswith("address refused: 550 mailbox unavailable") or "550" in row.last_error
        assert row.attempts == 1  # permanent: not retried
        assert mailroom.messages == []

        async def announced():
            count = (await node.js.stream_info("LOCAL")).state.messages
            found = [json.loads((await node.js.get_msg("LOCAL", s)).data) for s in range(1, count + 1)]
            return [e for e in found if e["type"] == "NotificationFailed"]
        [failure] = await eventually(announced, timeout=30)
        assert failure["payload"]["delivery_id"] == row.delivery_id
        assert failure["payload"]["channel"] == "smtp" and "550" in failure["payload"]["reason"]
        assert "bounce@example.org" not in json.dumps(failure)  # no address in the event
    finally:
        mailroom.controller.stop()


async def test_the_host_organisation_gets_her_consented_contact_in_its_language(node):
    from corridor_contracts.events.placements import DisclosedContact
    from harness.samples import ORGANISATION, SAMPLES

    host = await node.start(channels=["maildir"])
    await node.publish(SAMPLES["OrganisationRegistered"])  # its contact person writes in Spanish
    await node.publish(events.OpportunityPublished(**OPPORTUNITY_FIELDS))
    placement_id = uuid.uuid4()
    await node.publish(SAMPLES["PlacementRequested"].model_copy(update={"placement_id": placement_id}), target="fr")
    disclosed = await node.publish(events.ContactDisclosed(
        placement_id=placement_id, volunteer=SAMPLES["PlacementRequested"].volunteer,
        contact=DisclosedContact(given_name="Amina", family_name="Haddad", email="amina.haddad@example.org",
                                 phone="+33 6 12 34 56 78", preferred_language="fr"),
        consented_at=datetime.now(timezone.utc)), target="fr")

    async def sent():
        rows = await _rows(host, cause_event_id=str(disclosed.event_id))
        return rows if rows and rows[0].status == "sent" else None
    [row] = await eventually(sent, timeout=30)
    assert (row.recipient_id, row.recipient_kind, row.language, row.address) == (
        str(ORGANISATION), "organisation", "es", "lucia@abrazo.example.es")
    assert "Amina Haddad" in row.text and "amina.haddad@example.org" in row.text and "+33 6 12 34 56 78" in row.text
    assert "Lucía" in row.text  # addressed to the contact person
    # Her language named in the message's language (CLDR, through Babel), in text and HTML.
    assert "Idioma preferido: francés" in row.text and "Idioma preferido: francés" in row.html and "French" not in row.text


async def test_an_address_with_accents_stays_an_address_in_the_maildir(node):
    await node.start(channels=["maildir"])
    proposed, envelope = await _she_is_proposed(node, email_address="lucía.pérez@example.org")

    async def stored():
        folder = mailbox.Maildir(node.tmp / "maildir", create=False) if (node.tmp / "maildir").exists() else {}
        return [folder.get_bytes(k) for k in folder.keys()] if folder else None
    [data] = await eventually(stored, timeout=30)
    message = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)  # as a UTF-8 mail client reads it
    assert message["To"].addresses[0].addr_spec == "lucía.pérez@example.org"
    assert b"=?utf-8?" not in data.split(b"\n\n", 1)[0].lower()  # UTF-8 headers, not encoded words
    assert "Amina" in message.get_body(preferencelist=("plain",)).get_content()


async def test_erasure_removes_her_from_the_directory_the_maildir_and_the_delivery_log(node):
    host = await node.start(channels=["maildir"])
    proposed, envelope = await _she_is_proposed(node)

    async def sent():
        rows = await _rows(host, cause_event_id=str(envelope.event_id))
        return rows and rows[0].status == "sent"
    await eventually(sent, timeout=30)
    assert len(mailbox.Maildir(node.tmp / "maildir", create=False)) == 1
    await node.publish(events.VolunteerErased(volunteer_id=proposed.volunteer_id, erased_at=datetime.now(timezone.utc)))

    async def redacted():
        rows = await _rows(host, recipient_id=str(proposed.volunteer_id))
        return rows if rows and all(r.status == "erased" for r in rows) else None
    # The operator's record stays (which message, when, by which channel), without her in it.
    [row] = await eventually(redacted, timeout=30)
    assert (row.kind, row.channel, row.address, row.subject, row.text, row.html) == ("proposal", "maildir", None, "", "", "")
    assert row.sent_at is not None
    assert len(mailbox.Maildir(node.tmp / "maildir", create=False)) == 0
    from corridor_notifications.tables import recipients
    async with host.sessions() as session:
        assert (await session.execute(select(recipients).where(
            recipients.c.recipient_id == str(proposed.volunteer_id)))).first() is None


async def test_a_reminder_before_her_proposal_expires(node):
    host = await node.start(channels=["maildir"])
    proposed, _ = await _she_is_proposed(node)
    expiring = await node.publish(events.PlacementProposalExpiring(
        proposal_id=proposed.proposal_id, volunteer_id=proposed.volunteer_id, opportunity_id=proposed.opportunity_id,
        expires_at=proposed.expires_at))

    async def sent():
        rows = await _rows(host, cause_event_id=str(expiring.event_id))
        return rows if rows and rows[0].status == "sent" else None
    [row] = await eventually(sent, timeout=30)
    assert (row.kind, row.language) == ("reminder", "fr")
    assert f"{proposed.expires_at:%Y-%m-%d}" in row.text and "Companion for elderly residents" in row.text


async def test_a_host_organisation_with_several_placements_waiting_gets_one_digest_a_day(node):
    from harness.samples import ORGANISATION, SAMPLES

    host = await node.start(channels=["maildir"], digest_every=0.3)
    await node.publish(SAMPLES["OrganisationRegistered"])
    await node.publish(events.OpportunityPublished(**OPPORTUNITY_FIELDS))
    for _ in range(2):  # two requests for its opportunity, both confirmed by this node, none started
        placement_id = uuid.uuid4()
        await node.publish(SAMPLES["PlacementRequested"].model_copy(update={"placement_id": placement_id}), target="fr")
        await node.publish(events.PlacementConfirmed(placement_id=placement_id, opportunity_id=OPPORTUNITY_FIELDS["opportunity_id"],
                                                     slots_free=1), target="it")

    async def digest():
        rows = [r for r in await _rows(host, recipient_id=str(ORGANISATION)) if r.kind == "digest"]
        return rows if rows and rows[0].status == "sent" else None
    [row] = await eventually(digest, timeout=30)
    assert row.language == "es" and row.text.count("Companion for elderly residents") == 2
    assert "confirmada, pendiente de inicio" in row.text
    await asyncio.sleep(1.0)  # more digest passes the same day add nothing
    assert len([r for r in await _rows(host, recipient_id=str(ORGANISATION)) if r.kind == "digest"]) == 1


async def test_she_is_told_when_the_host_did_not_answer_in_time(node):
    host = await node.start(channels=["maildir"])
    proposed, _ = await _she_is_proposed(node)
    lapsed = await node.publish(events.PlacementExpired(placement_id=proposed.proposal_id, volunteer_id=proposed.volunteer_id,
                                                        opportunity_id=proposed.opportunity_id, stage="request"))

    async def sent():
        rows = await _rows(host, cause_event_id=str(lapsed.event_id))
        return rows if rows and rows[0].status == "sent" else None
    [row] = await eventually(sent, timeout=30)
    assert row.kind == "expired" and row.subject.startswith("Pas encore de réponse de Fundación Abrazo")


async def test_she_is_told_when_her_proposal_ended_because_the_last_place_was_taken(node):
    host = await node.start(channels=["maildir"])
    proposed, _ = await _she_is_proposed(node)
    ended = await node.publish(events.PlacementExpired(placement_id=proposed.proposal_id, volunteer_id=proposed.volunteer_id,
                                                       opportunity_id=proposed.opportunity_id, stage="proposal", reason="full"))

    async def sent():
        rows = await _rows(host, cause_event_id=str(ended.event_id))
        return rows if rows and rows[0].status == "sent" else None
    [row] = await eventually(sent, timeout=30)
    assert "La dernière place de « Companion for elderly residents » auprès de Fundación Abrazo vient d'être prise" in row.text
    assert "n'a pas reçu de réponse à temps" not in row.text and "vient d'être prise" in row.html


async def test_secrets_appear_in_no_log_line_and_no_table(node, capsys):
    """The node's signing seed and the SMTP password, while a delivery fails and is retried."""
    password = "Sm7p-" + uuid.uuid4().hex
    host = await node.start(channels=["smtp"], smtp_port=free_port(), smtp_username="elan", smtp_password=password)
    _, envelope = await _she_is_proposed(node)

    async def failed_once():
        rows = await _rows(host, cause_event_id=str(envelope.event_id))
        return rows if rows and rows[0].attempts >= 1 else None
    [row] = await eventually(failed_once, timeout=30)
    logged = capsys.readouterr()
    text = logged.out + logged.err + " ".join(str(v) for v in row)
    assert "unreachable" in text  # the failure was logged and kept
    for secret in (SEED.decode(), SEED.decode()[2:20], password):
        assert secret not in text
    assert password not in repr(host.settings) and SEED.decode() not in repr(host.settings)

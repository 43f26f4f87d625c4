"""Partners upgrade at different times: one corridor where France still runs release 0.1.0 (its own
`corridor up`, its nats-server, its four services, from the release's source) and Spain runs this
code, both leaves of one hub and sharing one registry file written by this release's
`corridor registry add`. Everything is driven and checked as the partners would: each node's HTTP
APIs, its nats-server's streams and consumers, its files.

What release 0.1.0 does with 0.2.0 partners, as this test finds it (docs/upgrading.md):

- Placements work both ways: an opportunity of either node is proposed to a volunteer of the other,
  requested, confirmed by the host, and her consented contact reaches the host node only.
- A registry with a node added by this release's `corridor registry add` is read by 0.1.0, which
  sources the new partner's events and keeps exchanging with the others.
- Erasure does not cross from 0.1.0: its erasure is local. A 0.1.0 home node tells no host (the host
  keeps her contact; withdrawing the placement frees the slot only). A 0.2.0 home node asks the 0.1.0
  host (ErasureRequested), which has no handler for it: the request waits in the host's IN stream
  and the home node lists the erasure as missing its receipt (`GET /erasures?missing=true`).
- An event type release 0.1.0 does not know (e.g. OutcomeFigures, broadcast by 0.2.0's reporting)
  is documented 0.1.0 behaviour: its consumers read only the subjects of the types they handle, so
  such an event stays in the node's IN stream, never delivered, never acknowledged, never
  dead-lettered, until the stream's age limit (90 days).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import nats
import pytest
from corridor_contracts import Envelope, Signer
from corridor_contracts.events.outcomes import OutcomeFigures
from corridor_contracts.events.placements import OutcomeKind
from corridor_contracts.types import CEFRLevel
from corridor_contracts.values import HostSummary, LanguageSkill, OpportunityPlace
from corridor_runtime import dead_letters
from corridor_runtime.streams import provision
from harness import releases
from harness.ledger import eventually
from harness.old_node import SERVICES, OldNode
from harness.partners import PartnerNodeUnderTest, placement_of, publish_accounting_role
from harness.samples import SAMPLES
from harness.servers import hub_server, node_server
from harness.streams import stream_messages

pytestmark = pytest.mark.nats

OLD, NEW, THIRD = "fr", "es", "it"  # France on 0.1.0, Spain on this code, Italy joins later
RELEASE = "0.1.0"

OLENA = {"given_name": "Olena", "family_name": "Kovalenko", "email": "olena.kovalenko@example.org",
         "phone": "+34 611 22 33 44"}
LUCIA = {"given_name": "Lucía", "family_name": "Pérez", "email": "lucia.perez@example.org", "phone": "+33 6 11 22 33 44"}


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")}


def registry_add(registry: Path, data_dir: Path, node: str, name: str, country: str) -> None:
    """This release's operator command, as a partner's operator runs it to list a node."""
    command = [str(Path(sys.executable).parent / "corridor"), "registry", "add", "--node-id", node, "--name", name,
               "--country", country, "--registry-file", str(registry), "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=_clean_environment(), check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def seed_of(data_dir: Path, node: str) -> bytes:
    return (data_dir / node / "signing.seed").read_bytes().strip()


def matches(subject: str, pattern: str) -> bool:
    """NATS subject matching: '*' one token, '>' the rest."""
    tokens, wanted = subject.split("."), pattern.split(".")
    for i, want in enumerate(wanted):
        if want == ">":
            return len(tokens) > i
        if i >= len(tokens) or (want != "*" and want != tokens[i]):
            return False
    return len(tokens) == len(wanted)


async def consumers_of(url: str, stream: str) -> list:
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().consumers_info(stream)
    finally:
        await nc.close()


def filters(info) -> list[str]:
    return list(info.config.filter_subjects or ([info.config.filter_subject] if info.config.filter_subject else []))


async def in_stream(node, subject: str) -> list:
    """The messages of the node's IN stream on `subject`."""
    return [m for m in await node.stream("IN") if m.subject == subject]


def mail_text(maildir: Path) -> str:
    """Every message of a Maildir as a reader sees it: headers and decoded parts."""
    texts = []
    for sub in ("new", "cur"):
        for path in sorted((maildir / sub).glob("*")) if (maildir / sub).exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            texts.append("\n".join(f"{k}: {v}" for k, v in message.items()))
            for part in message.walk():
                body = part.get_payload(decode=True)
                if body:
                    texts.append(body.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(texts)


@pytest.fixture
async def corridor(tmp_path):
    """A hub; France on release 0.1.0 (`corridor up` of that release, a leaf of the hub); Spain on this
    code (PartnerNodeUnderTest on its own leaf nats-server); Italy's leaf nats-server, not yet in the
    registry. Everything stops at the end, even when the test fails."""
    tree = releases.release_source(RELEASE, tmp_path / "releases")
    registry = tmp_path / "corridor.yaml"
    started, old, new = [], None, None
    try:
        await asyncio.to_thread(registry_add, registry, tmp_path, OLD, "Elan Interculturel", "FR")
        await asyncio.to_thread(registry_add, registry, tmp_path, NEW, "Cámara de Comercio de Sevilla", "ES")
        hub = hub_server(tmp_path, [OLD, NEW, THIRD]).start()
        started.append(hub)
        servers = {}
        for node in (NEW, THIRD):
            servers[node] = node_server(tmp_path, node, hub=hub).start()
            started.append(servers[node])
        old = OldNode(RELEASE, tree, OLD, tmp_path, registry, hub, env={"CORRIDOR_REGISTRY_POLL_SECONDS": "1"}).start()
        nc = await nats.connect(servers[NEW].url)
        try:
            await provision(nc.jetstream(), NEW, peers=[OLD])
        finally:
            await nc.close()
        new = PartnerNodeUnderTest(NEW, tmp_path, servers[NEW].url, registry, {NEW: seed_of(tmp_path, NEW)})
        await new.start()
        await old.wait_until_up()
        yield old, new, servers, tmp_path, registry
    finally:
        try:
            if new is not None:
                await new.stop()
        finally:
            try:
                if old is not None:
                    print(old.logs())  # shown when the test failed
                    old.stop()
            finally:
                for server in reversed(started):
                    server.stop()


async def test_a_node_on_release_0_1_0_and_a_node_on_this_code_share_a_corridor(corridor):
    old, new, servers, tmp_path, registry = corridor
    async with old.client("profiles") as fr_profiles, old.client("matching") as fr_matching:
        await _scenario(old, new, servers, tmp_path, registry, fr_profiles, fr_matching)


async def _scenario(old: OldNode, new: PartnerNodeUnderTest, servers, tmp_path, registry, fr_profiles, fr_matching):
    # 1a. France (0.1.0) hosts: a childcare NGO in Lyon; Spain (this code) is home to Olena.
    org = await fr_profiles.post("/organisations", json={
        "name": "Crèche Les Petits Pas", "kind": "ngo", "sector": "care", "country": "FR", "city": "Lyon",
        "contact": {"name": "Claire Martin", "email": "claire@petitspas.example.fr", "preferred_language": "fr"}})
    assert org.status_code == 201, org.text
    creche = await fr_profiles.post("/opportunities", json={
        "organisation_id": org.json()["organisation_id"], "title": "Aide en crèche",
        "required_skills": [{"code": "care.childcare"}], "languages": [{"language": "fr", "level": "B2"}],
        "place": {"country": "FR", "region": "Auvergne-Rhône-Alpes", "city": "Lyon"}, "hours_per_week": 12,
        "starts_on": "2027-03-01", "slots_total": 1})
    assert creche.status_code == 201, creche.text
    creche = creche.json()
    olena = (await new.profiles.post("/volunteers", json={
        **OLENA, "country_of_origin": "UA", "preferred_language": "uk",
        "place": {"country": "ES", "region": "Madrid", "city": "Madrid", "willing_to_move": True},
        "languages": [{"language": "fr", "level": "C1"}, {"language": "es", "level": "A2"}],
        "skills": ["care.childcare"], "availability": {"hours_per_week": 20, "available_from": "2027-01-15"},
        "sector_preferences": ["care"],
        "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})).json()

    proposal = await eventually(lambda: placement_of(new, olena["volunteer_id"], "proposed"), timeout=90, interval=0.3)
    assert (proposal["opportunity_id"], proposal["host_node"]) == (creche["opportunity_id"], OLD)
    to_france = proposal["placement_id"]
    assert (await new.matching.post(f"/placements/{to_france}/accept")).status_code == 200
    await eventually(lambda: placement_of(new, olena["volunteer_id"], "confirmed"), timeout=90, interval=0.3)

    async def hosted_in_france():  # the 0.1.0 host confirmed, and holds her consented contact
        found = await fr_profiles.get(f"/placements/{to_france}")
        return found.json() if found.status_code == 200 and found.json()["contact_disclosed"] else None
    hosted = await eventually(hosted_in_france, timeout=60, interval=0.3)
    assert (hosted["status"], hosted["home_node"]) == ("confirmed", NEW)
    assert hosted["volunteer"] != olena["volunteer_id"]  # a pseudonym
    assert (await fr_profiles.get(f"/opportunities/{creche['opportunity_id']}")).json()["slots_free"] == 0

    async def creche_told():  # 0.1.0's notifications gave the host organisation her contact
        return OLENA["email"] in mail_text(old.root / "maildir")
    assert await eventually(creche_told, timeout=60, interval=0.3)
    await _contact_went_to_the_host_only(new.stream("OUT"), host=OLD, home=NEW, personal=OLENA)

    # 3. A registry change: Italy is added with this release's `corridor registry add`; France (0.1.0)
    # still reads the registry, sources Italy's events and trusts its key.
    await asyncio.to_thread(registry_add, registry, tmp_path, THIRD, "MateraHub", "IT")
    listed = await asyncio.to_thread(old.python, "import sys; from pathlib import Path; "
                                     "from corridor_runtime.registry_file import load_registry; "
                                     "print(' '.join(n.id for n in load_registry(Path(sys.argv[1])).nodes))",
                                     str(registry))
    assert listed.split() == [OLD, NEW, THIRD]

    async def every_service_has_it():  # as operators confirm before the new partner starts sending
        france = all(any(line.get("event") == "registry change picked up" and THIRD in line.get("nodes", [])
                         for line in old.log_lines(service)) for service in SERVICES)
        spain = all(THIRD in host.sealer.sealing_keys for host in new.hosts)
        return france and spain
    assert await eventually(every_service_has_it, timeout=60, interval=0.5)
    nc = await nats.connect(servers[THIRD].url)
    try:
        await provision(nc.jetstream(), THIRD, peers=[OLD, NEW])
        italian = SAMPLES["OpportunityPublished"].model_copy(update={
            "opportunity_id": uuid.uuid4(), "title": "Mediatrice culturale",
            "host": HostSummary(organisation_id=uuid.uuid4(), organisation_name="Cooperativa Sassi", kind="ngo",
                                sector="translation_mediation", country="IT"),
            "place": OpportunityPlace(country="IT", region="Basilicata", city="Matera"),
            "languages": [LanguageSkill(language="it", level=CEFRLevel.C2)]})  # nobody here speaks Italian
        news = Signer(seed_of(tmp_path, THIRD)).sign(Envelope.wrap(italian, origin=THIRD))
        await nc.jetstream().publish(f"corridor.bcast.{THIRD}.OpportunityPublished", news.encode(),
                                     headers={"Nats-Msg-Id": str(news.event_id)})
    finally:
        await nc.close()

    async def france_sources_italy():
        nc = await nats.connect(old.nats_url)
        try:
            sources = (await nc.jetstream().stream_info("IN")).config.sources or []
            return {s.external.api for s in sources if s.external} >= {f"$JS.{NEW}.API", f"$JS.{THIRD}.API"}
        finally:
            await nc.close()
    assert await eventually(france_sources_italy, timeout=60, interval=0.5)
    subject = f"corridor.bcast.{THIRD}.OpportunityPublished"
    [arrived] = await eventually(lambda: in_stream(old, subject), timeout=90, interval=0.5)

    async def france_read_it():  # every 0.1.0 consumer of that type acknowledged it: verified, applied
        readers = [c for c in await consumers_of(old.nats_url, "IN") if any(matches(subject, f) for f in filters(c))]
        done = [c for c in readers if c.ack_floor.stream_seq >= arrived.seq and c.num_ack_pending == 0]
        return readers if readers and len(done) == len(readers) else None
    readers = await eventually(france_read_it, timeout=60, interval=0.5)
    assert {c.name for c in readers} >= {"matching-corridor", "profiles-corridor"}

    # 1b. And the other way, after the registry change: Spain (this code) hosts, France (0.1.0) is home.
    role = await publish_accounting_role(new)
    lucia = await fr_profiles.post("/volunteers", json={
        **LUCIA, "country_of_origin": "VE", "preferred_language": "es",
        "place": {"country": "FR", "region": "Occitanie", "city": "Toulouse", "willing_to_move": True},
        "languages": [{"language": "es", "level": "C2"}, {"language": "fr", "level": "A2"}],
        "skills": ["accounting.bookkeeping"], "availability": {"hours_per_week": 20, "available_from": "2027-01-15"},
        "sector_preferences": ["accounting"],
        "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})
    assert lucia.status_code == 201, lucia.text
    lucia = lucia.json()

    async def french_placement(status):
        items = (await fr_matching.get("/placements", params={"volunteer_id": lucia["volunteer_id"]})).json()["items"]
        found = next((p for p in items if p["status"] == status), None)
        if found is None and status == "proposed":
            await fr_matching.post("/rounds")  # what an operator may do: run a matching round now
        return found
    proposal = await eventually(lambda: french_placement("proposed"), timeout=90, interval=0.5)
    assert (proposal["opportunity_id"], proposal["host_node"]) == (role["opportunity_id"], NEW)
    to_spain = proposal["placement_id"]
    accepted = await fr_matching.post(f"/placements/{to_spain}/accept")
    assert accepted.status_code == 200, accepted.text
    await eventually(lambda: french_placement("confirmed"), timeout=90, interval=0.5)

    async def hosted_in_spain():
        found = (await new.profiles.get(f"/placements/{to_spain}")).json()
        return found if found.get("contact_disclosed") else None
    hosted = await eventually(hosted_in_spain, timeout=60, interval=0.3)
    assert (hosted["status"], hosted["home_node"]) == ("confirmed", OLD)
    assert (await new.profiles.get(f"/opportunities/{role['opportunity_id']}")).json()["slots_free"] == 0

    async def giralda_told():
        return LUCIA["email"] in new.mail_text()
    assert await eventually(giralda_told, timeout=60, interval=0.3)
    await _contact_went_to_the_host_only(old.stream("OUT"), host=NEW, home=OLD, personal=LUCIA)
    italy = [m.subject for m in await _stream(servers[THIRD].url, "IN")]
    assert f"corridor.bcast.{OLD}.OpportunityPublished" in italy and f"corridor.bcast.{NEW}.OpportunityPublished" in italy
    assert not [s for s in italy if s.startswith("corridor.direct.")], italy  # nothing of the placements

    # 4. An event type 0.1.0 does not know (Spain's reporting broadcasts its outcome figures): it stays
    # in France's IN stream, where no consumer of that release reads it, and is not dead-lettered.
    figures = OutcomeFigures(revision=1, threshold=5, outcomes=[OutcomeKind.EMPLOYED], host_countries=["FR"],
                             counts=[[None]], outcome_totals=[None], host_country_totals=[None], total=None)
    sent = Signer(seed_of(tmp_path, NEW)).sign(Envelope.wrap(figures, origin=NEW))
    nc = await nats.connect(servers[NEW].url)
    try:
        await nc.jetstream().publish(f"corridor.bcast.{NEW}.OutcomeFigures", sent.encode(),
                                     headers={"Nats-Msg-Id": str(sent.event_id)})
    finally:
        await nc.close()
    unknown = f"corridor.bcast.{NEW}.OutcomeFigures"
    [waiting] = await eventually(lambda: in_stream(old, unknown), timeout=60, interval=0.5)
    assert json.loads(waiting.data)["event_id"] == str(sent.event_id)

    # 2a. Spain (this code) erases Olena: it asks France to erase what it holds. France's 0.1.0 has no
    # handler for ErasureRequested; Spain shows the erasure as waiting for France's receipt.
    erased = await new.profiles.delete(f"/volunteers/{olena['volunteer_id']}")
    assert erased.status_code == 200, erased.text

    async def asked_france():
        found = (await new.matching.get("/erasures", params={"volunteer_id": olena["volunteer_id"]})).json()
        return found or None
    [erasure] = await eventually(asked_france, timeout=60, interval=0.3)
    assert (erasure["host_node"], erasure["placement_ids"], erasure["receipt_at"]) == (OLD, [to_france], None)
    request = f"corridor.direct.{OLD}.{NEW}.ErasureRequested"
    [asked] = await eventually(lambda: in_stream(old, request), timeout=60, interval=0.5)
    assert json.loads(asked.data)["correlation_id"] == erasure["erasure_id"]

    # 2b. France (0.1.0) erases Lucía as that release does: on its own node only. Nothing about the
    # erasure leaves France; its operator then withdraws her placement, which Spain acts on.
    gone = await fr_profiles.delete(f"/volunteers/{lucia['volunteer_id']}")
    assert gone.status_code == 200 and gone.json()["status"] == "erased", gone.text
    withdrawn = await fr_matching.post(f"/placements/{to_spain}/withdraw", json={"reason": "other"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn", withdrawn.text

    async def spain_released_the_slot():
        placement = (await new.profiles.get(f"/placements/{to_spain}")).json()
        slots = (await new.profiles.get(f"/opportunities/{role['opportunity_id']}")).json()["slots_free"]
        return placement if placement["status"] == "withdrawn" and slots == 1 else None
    released = await eventually(spain_released_the_slot, timeout=60, interval=0.3)
    assert released["contact_disclosed"] is True  # a withdrawal is not an erasure: Spain still holds her contact
    sent_by_france = {m.subject.rsplit(".", 1)[-1] for m in await old.stream("OUT")}
    assert "PlacementWithdrawn" in sent_by_france and "ErasureRequested" not in sent_by_france

    # Spain's withdrawal broadcast (the slot free again) reached France and was read there: by then
    # France's consumers have passed Spain's erasure request, and the outcome figures, without them.
    update = f"corridor.bcast.{NEW}.OpportunityUpdated"

    async def france_caught_up():
        last = max(m.seq for m in await in_stream(old, update))
        readers = [c for c in await consumers_of(old.nats_url, "IN") if any(matches(update, f) for f in filters(c))]
        return all(c.ack_floor.stream_seq >= last for c in readers) and last > asked.seq
    assert await eventually(france_caught_up, timeout=60, interval=0.5)
    in_consumers = await consumers_of(old.nats_url, "IN")
    for subject, message in ((unknown, waiting), (request, asked)):
        readers = [c.name for c in in_consumers if any(matches(subject, f) for f in filters(c))]
        assert readers == [], (subject, readers)  # never delivered to any 0.1.0 consumer, so never acknowledged
        assert [m.seq for m in await in_stream(old, subject)] == [message.seq]  # still in IN
    still = (await fr_profiles.get(f"/placements/{to_france}")).json()  # the 0.1.0 host could not erase her
    assert (still["status"], still["contact_disclosed"]) == ("confirmed", True)
    assert (await fr_profiles.get(f"/opportunities/{creche['opportunity_id']}")).json()["slots_free"] == 0

    missing = (await new.matching.get("/erasures", params={"missing": "true"})).json()
    assert [(e["erasure_id"], e["host_node"], e["receipt_at"]) for e in missing] == [(erasure["erasure_id"], OLD, None)]

    # Nothing was dead-lettered on either node: each read what it knows, and left the rest.
    nc = await nats.connect(old.nats_url)
    try:
        assert await dead_letters.read_all(nc.jetstream()) == []
    finally:
        await nc.close()
    assert await new.dead_letters() == []
    for name, node in (("France (0.1.0)", old), ("Spain", new)):  # shown with -s, and when a later check fails
        print(name, {stream: len(await node.stream(stream)) for stream in ("LOCAL", "OUT", "IN", "DEADLETTER")})


async def _contact_went_to_the_host_only(out_stream, *, host: str, home: str, personal: dict) -> None:
    """Her contact left her home node once, addressed to the host node, sealed."""
    disclosures = [m for m in await out_stream if m.subject.endswith(".ContactDisclosed")]
    assert [m.subject for m in disclosures] == [f"corridor.direct.{host}.{home}.ContactDisclosed"]
    assert not any(value.encode() in disclosures[0].data for value in personal.values())


async def _stream(url: str, name: str) -> list:
    nc = await nats.connect(url)
    try:
        return await stream_messages(nc.jetstream(), name)
    finally:
        await nc.close()

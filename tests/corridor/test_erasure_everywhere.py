"""After her erasure, nothing of her is left in any file of any node, as an auditor would check it.

The demo corridor (a hub and three nodes, every service its own process, SQLite files, Maildirs,
logs, JetStream stores under one folder) runs a placement from France to Spain to its end: she
gets her four messages, the host organisation gets her consented contact. Her home node erases
her. Then every file under the corridor's folder is searched for her name, e-mail and phone: as
UTF-8, as JSON writes them (non-ASCII escaped), and, in mail files, in every decoded part and
header. The nodes keep running while it is searched: what a running node keeps is what counts.
"""

from __future__ import annotations

import csv
import email
import email.header
import email.policy
import io
import json
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from corridor_runtime.demo import Corridor
from harness.ledger import eventually

pytestmark = pytest.mark.nats

HER = {"given_name": "Lucía", "family_name": "Pérez-Ñúñez", "email": "lucía.pérez@example.org", "phone": "+33 6 11 22 33 44"}


def forms(value: str) -> set[bytes]:
    """The ways a file may hold a value: UTF-8, JSON's ASCII escapes, and their lower case."""
    escaped = json.dumps(value)[1:-1]
    return {value.encode(), escaped.encode(), value.lower().encode(), escaped.lower().encode()}


NEEDLES = {form for value in (HER["given_name"], HER["family_name"], HER["email"], HER["phone"], "Pérez-Ñúñez")
           for form in forms(value)}


def decoded_mail(data: bytes) -> bytes:
    """A mail file's headers and parts as a reader sees them (MIME words and transfer encodings undone)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    text = [str(email.header.make_header(email.header.decode_header(str(value)))) for value in message.values()]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if payload:
            text.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(text).encode()


def traces_of_her(root: Path) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.parent.name in ("new", "cur", "tmp") and path.parent.parent.name == "maildir":
            data += b"\n" + decoded_mail(data)
        lowered = data.lower()
        hits = sorted({n.decode() for n in NEEDLES if n in data or n in lowered})
        if hits:
            found.append(f"{path.relative_to(root)}: {hits}")
    return found


async def test_after_her_erasure_no_file_of_any_node_holds_her_name_email_or_phone(tmp_path):
    corridor = Corridor(tmp_path / "corridor", Console(file=io.StringIO()))
    try:
        await corridor.start()
        org = await corridor.call("es", "profiles", "POST", "/organisations", {
            "name": "Asesoría Giralda", "kind": "business", "sector": "accounting", "country": "ES", "city": "Sevilla",
            "contact": {"name": "Carmen Ruiz", "email": "carmen@giralda.example.es", "preferred_language": "es"}})
        await corridor.call("es", "profiles", "POST", "/opportunities", {
            "organisation_id": org["organisation_id"], "title": "Auxiliar contable",
            "required_skills": [{"code": "accounting.bookkeeping"}], "languages": [{"language": "es", "level": "B2"}],
            "place": {"country": "ES", "city": "Sevilla"}, "hours_per_week": 10, "starts_on": "2027-02-01", "slots_total": 1})
        her = await corridor.call("fr", "profiles", "POST", "/volunteers", {
            **HER, "birth_date": "1991-04-12", "country_of_origin": "VE", "preferred_language": "es",
            "place": {"country": "FR", "city": "Toulouse", "willing_to_move": True},
            "languages": [{"language": "es", "level": "C2"}], "skills": ["accounting.bookkeeping"],
            "availability": {"hours_per_week": 20, "available_from": "2027-01-15"},
            "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})

        async def placement(status):
            items = (await corridor.call("fr", "matching", "GET", f"/placements?volunteer_id={her['volunteer_id']}"))["items"]
            return next((p for p in items if p["status"] == status), None)
        pid = (await eventually(lambda: placement("proposed"), timeout=120))["placement_id"]
        await corridor.call("fr", "matching", "POST", f"/placements/{pid}/accept")
        await eventually(lambda: placement("confirmed"), timeout=120)

        async def host_has_contact():
            return (await corridor.call("es", "profiles", "GET", f"/placements/{pid}")).get("contact_disclosed")
        await eventually(host_has_contact, timeout=60)
        await corridor.call("es", "profiles", "POST", f"/placements/{pid}/start", {"started_on": "2027-02-01"})
        await corridor.call("es", "profiles", "POST", f"/placements/{pid}/complete",
                            {"completed_on": "2027-05-31", "skills_practised": ["accounting.bookkeeping"]})
        await eventually(lambda: placement("completed"), timeout=120)

        # The operators can follow the placement in their logs: each saga step is one line naming it
        # and its journey, on the side that took it, and the messages about it name it too.
        def lines_about(node, service):
            path = corridor.nodes[node].layout.logs / f"{service}.log"
            found = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
            return [line for line in found if line.get("placement_id") == pid]

        async def steps_logged():
            home = [(line["status"], line["correlation_id"]) for line in lines_about("fr", "matching")
                    if line["event"] == "placement step"]
            host = [line["step"] for line in lines_about("es", "profiles") if line["event"] == "placement step"]
            return (home, host) if len(home) >= 4 and len(host) >= 3 else None
        home_steps, host_steps = await eventually(steps_logged, timeout=30)
        assert [s for s, _ in home_steps] == ["requested", "confirmed", "started", "completed"], home_steps
        assert len({c for _, c in home_steps}) == 1 and None not in {c for _, c in home_steps}
        assert host_steps == ["PlacementConfirmed", "PlacementStarted", "PlacementCompleted"], host_steps
        for node in ("fr", "es"):
            sent = [line for line in lines_about(node, "notifications") if line["event"] == "notification sent"]
            assert sent, f"no 'notification sent' line of {node} names the placement"
        # `corridor trace --logs` puts those lines into the journey, from both nodes' folders.
        from corridor_runtime.trace import from_logs
        merged = [s.what for s in from_logs([corridor.nodes[n].layout.logs for n in ("fr", "es")], pid)]
        assert {"placement step: requested", "placement step: completed", "placement step: PlacementConfirmed",
                "notification sent"} <= set(merged), merged

        # Both Maildirs hold her before: four messages to her at home, her contact at the host.
        def mails(node):
            folder = corridor.nodes[node].layout.root / "maildir"
            return [p for sub in ("new", "cur") for p in (folder / sub).glob("*")] if folder.exists() else []

        async def all_sent():
            return len(mails("fr")) >= 4 and len(mails("es")) >= 1
        await eventually(all_sent, timeout=60)
        assert any(HER["email"] in decoded_mail(p.read_bytes()).decode() for p in mails("es"))
        before = traces_of_her(corridor.root)
        assert any("maildir" in line for line in before) and any(".sqlite" in line for line in before), before

        await corridor.call("fr", "profiles", "DELETE", f"/volunteers/{her['volunteer_id']}")

        async def receipts():
            found = await corridor.call("fr", "matching", "GET", f"/erasures?volunteer_id={her['volunteer_id']}")
            return found if found and all(e["receipt_at"] for e in found) else None
        [receipt] = await eventually(receipts, timeout=120)
        assert receipt["host_node"] == "es"

        # The receipt says what went where: each service of the host that held her sends its own.
        async def every_service_answered():
            [found] = await corridor.call("fr", "matching", "GET", f"/erasures?volunteer_id={her['volunteer_id']}")
            by_service = {r["service"]: r["erased"] for r in found["receipts"]}
            return by_service if {"profiles", "notifications"} <= set(by_service) else None
        by_service = await eventually(every_service_answered, timeout=60)
        assert by_service == {"profiles": {"placements": 1, "contacts": 1},
                              "notifications": {"delivery log rows": 1, "mail files": 1}}, by_service

        async def nothing_left():
            return traces_of_her(corridor.root) or None
        try:
            await eventually(lambda: _negate(nothing_left()), timeout=60, interval=1.0)
        except AssertionError:
            raise AssertionError("her data is still on disk:\n" + "\n".join(traces_of_her(corridor.root))) from None

        # The operators keep their record of what was sent: the delivery log's rows, without her.
        for node in ("fr", "es"):
            log = await corridor.call(node, "notifications", "GET", "/deliveries?limit=100")
            assert any(d["status"] == "erased" for d in log["items"]), log

        # The audit trail, read as an auditor would (signed in, the CSV export), kept every read and
        # change of her data on both nodes: who, what, which person, when, through which endpoint.
        async def audit(node) -> list[dict]:
            async with httpx.AsyncClient(base_url=corridor.urls[node]["profiles"]) as auditor:
                signed = await auditor.post("/login", data={"username": "operator", "password": corridor.sign_ins[node]})
                assert signed.status_code == 303, signed.text
                return list(csv.DictReader(io.StringIO((await auditor.get("/audit.csv")).text)))
        fr_rows = [r for r in await audit("fr") if r["subject_id"] == her["volunteer_id"]]
        seen = {(r["service"], r["action"], r["endpoint"]) for r in fr_rows}
        assert {("profiles", "create", "POST /volunteers"), ("matching", "read", "GET /placements"),
                ("matching", "change", "POST /placements/{placement_id}/accept"),
                ("profiles", "erase", "DELETE /volunteers/{volunteer_id}"), ("matching", "read", "GET /erasures")} <= seen, seen
        assert all(r["actor"] == "token:demo" and r["at"] for r in fr_rows)
        es_rows = await audit("es")
        assert {"GET /placements/{placement_id}", "POST /placements/{placement_id}/start",
                "POST /placements/{placement_id}/complete"} <= {r["endpoint"] for r in es_rows if r["subject_kind"] == "pseudonym"}
        # ...and none of her data is in it (the file search above covered the stores' files too).
        for text in (json.dumps(fr_rows), json.dumps(es_rows)):
            assert HER["email"] not in text and HER["family_name"] not in text
    finally:
        await corridor.stop()


async def _negate(awaitable):
    return not await awaitable

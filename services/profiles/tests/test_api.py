"""The operators' HTTP API against the real app and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from profiles_support import opportunity, organisation, outbox_events, volunteer

PERSONAL = ("Amina", "Haddad", "amina.haddad@example.org", "+33 6 12 34 56 78", "1991-04-03", "FR-2026-0042")


async def test_register_read_update_and_erase_a_volunteer(api):
    created = await api.post("/volunteers", json=volunteer())
    assert created.status_code == 201, created.text
    her = created.json()
    assert her["status"] == "active" and her["details"]["given_name"] == "Amina"
    assert her["consents"]["share_match_profile"] is not None  # consent is stamped with its time
    volunteer_id = her["volunteer_id"]

    assert (await api.get(f"/volunteers/{volunteer_id}")).json() == her

    moved = volunteer(place={"country": "FR", "city": "Villeurbanne"})
    del moved["reference"], moved["consents"]
    updated = await api.put(f"/volunteers/{volunteer_id}", json=moved)
    assert updated.status_code == 200, updated.text
    assert updated.json()["details"]["place"]["city"] == "Villeurbanne"

    erased = await api.delete(f"/volunteers/{volunteer_id}")
    assert erased.status_code == 200
    assert erased.json()["status"] == "erased" and erased.json()["details"] is None
    assert (await api.get(f"/volunteers/{volunteer_id}")).json()["details"] is None
    assert (await api.put(f"/volunteers/{volunteer_id}", json=moved)).status_code == 409


async def test_after_erasure_no_table_of_the_service_holds_her_name_or_contact(api):
    her = (await api.post("/volunteers", json=volunteer())).json()
    await api.post(f"/volunteers/{her['volunteer_id']}/consents", json={"consent": "disclose_contact", "granted": False})
    assert (await api.delete(f"/volunteers/{her['volunteer_id']}")).status_code == 200

    found = []
    async with api.host.sessions() as session:
        for table in api.host.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                text = " ".join(v.decode(errors="replace") if isinstance(v, bytes) else json.dumps(v, default=str)
                                for v in row)
                found += [(table.name, value) for value in PERSONAL if value in text]
    assert found == []
    erased = [json.loads(data) for subject, data in await outbox_events(api.host)]
    assert [e["type"] for e in erased] == ["VolunteerErased"]  # her earlier events are gone from the outbox


async def test_consent_changes_are_stamped_and_withdrawn(api):
    her = (await api.post("/volunteers", json=volunteer())).json()
    changed = await api.post(f"/volunteers/{her['volunteer_id']}/consents",
                             json={"consent": "share_match_profile", "granted": False})
    assert changed.status_code == 200
    assert changed.json()["consents"]["share_match_profile"] is None
    assert changed.json()["consents"]["processing"] == her["consents"]["processing"]


@pytest.mark.parametrize(
    "body, field",
    [
        (volunteer(languages=[]), ["body", "languages"]),
        (volunteer(place={"country": "XX", "city": "Lyon"}), ["body", "place", "country"]),
        (volunteer(languages=[{"language": "fr", "level": "D1"}]), ["body", "languages", 0, "level"]),
        (volunteer(skills=["Not A Code!"]), ["body", "skills", 0]),
        (volunteer(email="amina-at-example"), ["body", "email"]),
        (volunteer(birth_date="2020-01-01"), ["body", "birth_date"]),
        (volunteer(availability={"hours_per_week": 0, "available_from": "2026-12-01"}), ["body", "availability", "hours_per_week"]),
        (volunteer(consents={"processing": False}), ["body", "consents", "processing"]),
        (volunteer(nickname="Ami"), ["body", "nickname"]),
        ({"given_name": "Amina"}, ["body", "family_name"]),
    ],
)
async def test_invalid_volunteers_are_refused_naming_the_field(api, body, field):
    response = await api.post("/volunteers", json=body)
    assert response.status_code == 422, response.text
    assert field in [error["loc"] for error in response.json()["detail"]], response.json()


@pytest.mark.parametrize(
    "method, path, content, status",
    [
        ("post", "/volunteers", b'{"given_name": "Amina",', 422),
        ("post", "/volunteers", b"\xff\xfe not json", 400),
        ("post", "/volunteers", b"[]", 422),
        ("get", "/volunteers/not-a-uuid", None, 422),
        ("get", f"/volunteers/{uuid.uuid4()}", None, 404),
        ("get", "/volunteers?limit=0", None, 422),
        ("get", "/volunteers?limit=lots", None, 422),
        ("get", "/volunteers?offset=-1", None, 422),
        ("get", "/volunteers?status=sleeping", None, 422),
        ("post", "/volunteers", b"x" * 1_000_001, 413),
        ("delete", f"/volunteers/{uuid.uuid4()}", None, 404),
        ("post", f"/opportunities/{uuid.uuid4()}/close", b"{}", 404),
        ("post", f"/placements/{uuid.uuid4()}/start", b'{"started_on": "2027-01-11"}', 404),
    ],
)
async def test_malformed_requests_get_a_4xx_never_a_500(api, method, path, content, status):
    response = await api.request(method.upper(), path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert "detail" in response.json()


async def test_a_reference_is_registered_once(api):
    assert (await api.post("/volunteers", json=volunteer())).status_code == 201
    again = await api.post("/volunteers", json=volunteer(given_name="Other"))
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "reference"]


async def test_lists_are_paginated(api):
    ids = [(await api.post("/volunteers", json=volunteer(reference=f"R{i}"))).json()["volunteer_id"] for i in range(7)]
    pages = [(await api.get(f"/volunteers?limit=3&offset={offset}")).json() for offset in (0, 3, 6)]
    assert [p["total"] for p in pages] == [7, 7, 7]
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert sorted(v["volunteer_id"] for p in pages for v in p["items"]) == sorted(ids)
    await api.delete(f"/volunteers/{ids[0]}")
    assert (await api.get("/volunteers?status=active")).json()["total"] == 6


async def test_organisations_and_opportunities_are_published_revised_and_closed(api):
    org = await api.post("/organisations", json=organisation())
    assert org.status_code == 201, org.text
    org_id = org.json()["organisation_id"]
    created = await api.post("/opportunities", json=opportunity(org_id))
    assert created.status_code == 201, created.text
    opp = created.json()
    assert (opp["status"], opp["slots_free"], opp["slots_taken"]) == ("open", 3, 0)

    revised = await api.put(f"/opportunities/{opp['opportunity_id']}",
                            json={k: v for k, v in opportunity(org_id, slots_total=5).items() if k != "organisation_id"})
    assert revised.status_code == 200, revised.text
    assert revised.json()["slots_free"] == 5
    closed = await api.post(f"/opportunities/{opp['opportunity_id']}/close", json={"reason": "withdrawn"})
    assert closed.json()["status"] == "closed"
    assert (await api.post(f"/opportunities/{opp['opportunity_id']}/close", json={})).status_code == 409
    assert (await api.get("/opportunities?status=open")).json()["total"] == 0

    emitted = [json.loads(data)["type"] for subject, data in await outbox_events(api.host)]
    assert emitted == ["OrganisationRegistered", "OpportunityPublished", "OpportunityUpdated", "OpportunityClosed"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"organisation_id": str(uuid.uuid4())}, ["body", "organisation_id"]),
        ({"slots_total": 0}, ["body", "slots_total"]),
        ({"ends_on": "2026-01-01"}, ["body"]),
        ({"languages": [{"language": "es", "level": "Z9"}]}, ["body", "languages", 0, "level"]),
        ({"hours_per_week": 61}, ["body", "hours_per_week"]),
    ],
)
async def test_invalid_opportunities_are_refused_naming_the_field(api, changes, field):
    org_id = (await api.post("/organisations", json=organisation())).json()["organisation_id"]
    response = await api.post("/opportunities", json={**opportunity(org_id), **changes})
    assert response.status_code == 422, response.text
    assert field in [error["loc"] for error in response.json()["detail"]], response.json()


async def test_the_openapi_page_describes_every_resource(api):
    schema = (await api.get("/openapi.json")).json()
    for path in ("/volunteers", "/volunteers/{volunteer_id}/consents", "/organisations", "/opportunities",
                 "/opportunities/{opportunity_id}/close", "/placements/{placement_id}/hours/{entry_id}/approve",
                 "/volunteers/{volunteer_id}/outcomes"):
        assert path in schema["paths"]
    assert (await api.get("/docs")).status_code == 200


async def test_her_events_not_yet_sent_when_she_is_erased_never_leave_the_outbox(api):
    her = (await api.post("/volunteers", json=volunteer())).json()  # no relay runs here: nothing is sent
    await api.delete(f"/volunteers/{her['volunteer_id']}")
    assert [json.loads(data)["type"] for _, data in await outbox_events(api.host)] == ["VolunteerErased"]


async def test_text_with_a_nul_character_is_refused_not_a_server_error(api):
    """PostgreSQL cannot store NUL in text (schemathesis found the 500); both databases refuse it alike."""
    body = organisation()
    body["name"] = "Maison\u0000des aînés"
    response = await api.post("/organisations", json=body)
    assert response.status_code == 422 and "NUL" in response.text
    body["name"] = "Maison \\u0000 des aînés"  # a backslash and 'u0000' as text: fine
    assert (await api.post("/organisations", json=body)).status_code == 201


async def test_text_that_is_not_valid_unicode_is_refused_not_a_server_error(api):
    body = '{"name": "Maison \\ud800 des a\\u00eenes", "kind": "ngo", "sector": "care", "country": "FR", "city": "Lyon", ' \
           '"contact": {"name": "Claire", "email": "claire@example.org", "preferred_language": "fr"}}'
    response = await api.post("/organisations", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


async def test_a_value_the_database_refuses_is_a_422(api, monkeypatch):
    """Whatever slips past validation and is refused by the database is the client's 4xx, not a 500."""
    from sqlalchemy.exc import DataError

    from corridor_profiles import organisations

    async def refused(*_args, **_kwargs):
        raise DataError("INSERT ...", {}, Exception("value out of range for type integer"))
    monkeypatch.setattr(organisations, "register", refused)
    response = await api.post("/organisations", json=organisation())
    assert response.status_code == 422 and "cannot be stored" in response.text

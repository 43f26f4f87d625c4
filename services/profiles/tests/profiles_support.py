"""Helpers of the profiles service's tests: settings, request bodies, the outbox as written."""

from __future__ import annotations

from sqlalchemy import select

from corridor_contracts import new_node_seed
from corridor_runtime.settings import NodeSettings

SEEDS = {node: new_node_seed() for node in ("fr", "es", "it", "cy")}
COUNTRIES = {"fr": "FR", "es": "ES", "it": "IT", "cy": "CY"}


def profiles_settings(tmp_path, registry_file, database_url, node="fr", nats_url="nats://127.0.0.1:1", **more):
    return NodeSettings(node_id=node, service="profiles", nats_url=nats_url, database_url=database_url, data_dir=tmp_path,
                        registry_file=registry_file, signing_seed=SEEDS[node].decode(), **more)


async def outbox_events(host) -> list[tuple[str, bytes]]:
    outbox = host.tables.outbox
    async with host.sessions() as session:
        return [(r.subject, r.data) for r in await session.execute(select(outbox).order_by(outbox.c.seq))]


def volunteer(**changes) -> dict:
    body = {
        "reference": "FR-2026-0042",
        "given_name": "Amina",
        "family_name": "Haddad",
        "email": "amina.haddad@example.org",
        "phone": "+33 6 12 34 56 78",
        "birth_date": "1991-04-03",
        "country_of_origin": "SY",
        "preferred_language": "fr",
        "place": {"country": "FR", "region": "Auvergne-Rhône-Alpes", "city": "Lyon", "willing_to_move": True},
        "languages": [{"language": "ar", "level": "C2"}, {"language": "fr", "level": "B2"}, {"language": "es", "level": "B1"}],
        "skills": ["care.elderly-care", "translation.community-interpreting"],
        "free_text_skills": ["couture"],
        "availability": {"hours_per_week": 12, "available_from": "2026-12-01"},
        "sector_preferences": ["care", "translation_mediation"],
        "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True},
    }
    body.update(changes)
    return body


def organisation(**changes) -> dict:
    body = {
        "reference": "ORG-17",
        "name": "Fundación Abrazo",
        "kind": "ngo",
        "sector": "care",
        "country": "ES",
        "city": "Sevilla",
        "contact": {"name": "Lucía Romero", "email": "lucia@abrazo.example.es", "preferred_language": "es"},
    }
    body.update(changes)
    return body


def opportunity(organisation_id: str, **changes) -> dict:
    body = {
        "organisation_id": organisation_id,
        "title": "Companion for elderly residents",
        "description": "Afternoon activities with residents of a care home in Triana.",
        "required_skills": [{"code": "care.elderly-care", "level": "basic"}],
        "languages": [{"language": "es", "level": "B1"}],
        "place": {"country": "ES", "region": "Andalucía", "city": "Sevilla"},
        "hours_per_week": 10,
        "starts_on": "2027-01-11",
        "ends_on": "2027-06-30",
        "application_deadline": "2026-12-20",
        "slots_total": 3,
    }
    body.update(changes)
    return body

"""No event that leaves a node carries a direct identifier, except the consented contact disclosure.

Checked field by field on the published JSON Schemas: every property path of every
shared event is matched against the names of direct identifiers and against the e-mail format.
"""

from __future__ import annotations

import re

from corridor_contracts import CATALOGUE, Scope, jsonschemas

IDENTIFIER_WORDS = {
    "name", "names", "surname", "firstname", "lastname", "fullname", "forename",
    "email", "mail", "phone", "telephone", "mobile", "fax",
    "address", "street", "postcode", "zip", "postal",
    "birth", "birthday", "dob", "birthdate",
    "notes", "note", "comment", "comments", "remarks", "freetext",
    "passport", "nationalid", "ssn",
}
# Paths that match but are not about a person, each with the reason it is allowed.
ALLOWED = {
    ("OpportunityPublished", "host.organisation_name"): "an organisation's name, not a person's",
    ("OpportunityUpdated", "host.organisation_name"): "an organisation's name, not a person's",
}
# The one exception of the protocol (docs/protocol.md): her contact, consented, addressed to the host node only.
CONSENTED_DISCLOSURE = ("ContactDisclosed", "contact")
# Her local id is not a direct identifier, but it would link her across nodes: shared events use her pseudonym.
LINKING_FIELDS = {"volunteer_id"}


def _resolve(schema, defs):
    ref = schema.get("$ref")
    return defs[ref.removeprefix("#/$defs/")] if ref else schema


def property_paths(schema, defs, prefix=""):
    """Every property path of a schema, with the schema at that path (through $refs, unions, arrays)."""
    schema = _resolve(schema, defs)
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from property_paths(alternative, defs, prefix)
    if "items" in schema:
        yield from property_paths(schema["items"], defs, prefix)
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, _resolve(sub, defs)
        yield from property_paths(sub, defs, path)


def identifier_findings(event_type: str, schema: dict) -> list[str]:
    defs = schema.get("$defs", {})
    payload = _resolve(schema["properties"]["payload"], defs)
    findings = []
    for path, sub in property_paths(payload, defs):
        if (event_type, path.split(".")[0]) == CONSENTED_DISCLOSURE or (event_type, path) in ALLOWED:
            continue
        words = set(re.split(r"[_.]", path.lower())) | {path.lower().replace("_", "").rsplit(".", 1)[-1]}
        if words & IDENTIFIER_WORDS:
            findings.append(f"{event_type}.{path}: looks like a direct identifier")
        if path.rsplit(".", 1)[-1] in LINKING_FIELDS:
            findings.append(f"{event_type}.{path}: her node-local id; use her pseudonym toward the peer")
        if sub.get("format") == "email" or "@" in sub.get("pattern", ""):
            findings.append(f"{event_type}.{path}: an e-mail address")
    return findings


def shared_schemas():
    return [(cls.TYPE, jsonschemas.schema_of(cls)) for cls in CATALOGUE if cls.SCOPE is not Scope.LOCAL]


def test_shared_events_carry_no_direct_identifiers():
    assert len(shared_schemas()) == 15  # OutcomeFigures: counts by outcome and host country, no person
    findings = [f for event_type, schema in shared_schemas() for f in identifier_findings(event_type, schema)]
    assert findings == []


def test_the_check_finds_identifiers_where_they_are():
    local = {cls.TYPE: jsonschemas.schema_of(cls) for cls in CATALOGUE if cls.SCOPE is Scope.LOCAL}
    findings = identifier_findings("VolunteerRegistered", local["VolunteerRegistered"])
    for path in ("profile.given_name", "profile.family_name", "profile.email", "profile.phone", "profile.birth_date"):
        assert any(f.startswith(f"VolunteerRegistered.{path}:") for f in findings), (path, findings)
    assert any(".volunteer_id:" in f for f in findings)


def test_the_contact_disclosure_is_the_only_exception_and_it_is_addressed():
    contact = dict(shared_schemas())["ContactDisclosed"]
    assert contact["$comment"] == "scope: direct"
    findings = identifier_findings("ContactDisclosedElsewhere", contact)  # the same fields under another name
    assert any("contact.email" in f for f in findings) and any("contact.family_name" in f for f in findings)

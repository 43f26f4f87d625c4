"""Every operation of every service's API, tried as a stranger and as each role would.

The four services of one node (fr) run in this process on SQLite files, without a broker: what is
tried here is the HTTP gate, the sign-in and the audit trail, not the corridor.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from corridor_contracts import PartnerNode, Registry, new_node_seed
from corridor_runtime.access import Role
from corridor_runtime.registry_file import save_registry
from harness.access import bearer
from harness.partners import PartnerNodeUnderTest

SEEDS = {"fr": new_node_seed()}
PUBLIC = {("GET", "/health"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
EVERYONE = set(Role)
# What each role may do, said once per path pattern: what an operator, a coordinator, an auditor and
# Prometheus would expect. Anything not listed answers nobody: the walk fails on a new endpoint
# until its rule is written here too.
RULES: list[tuple[str, str, set[Role]]] = [
    ("profiles", r"^/(volunteers|organisations|opportunities|placements)(/.*)?$", {Role.OPERATOR}),
    ("matching", r"^/(placements|erasures|rounds)(/.*)?$", {Role.OPERATOR}),
    ("notifications", r"^/deliveries(/.*)?$", {Role.OPERATOR}),
    ("reporting", r"^/(indicators(/.*)?|)$", {Role.OPERATOR, Role.COORDINATOR}),
    ("reporting", r"^/metrics$", {Role.OPERATOR, Role.SCRAPER}),
    ("*", r"^/audit(\.csv)?$", {Role.AUDITOR}),
    ("*", r"^/session$", EVERYONE),
]


def allowed(service: str, path: str) -> set[Role]:
    for where, pattern, roles in RULES:
        if where in (service, "*") and re.match(pattern, path):
            return roles
    raise AssertionError(f"{service} {path}: no rule in this test says who may use it")


@pytest.fixture
async def node(tmp_path):
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEEDS["fr"], id="fr", name="Elan", country="FR")]), registry)
    fr = PartnerNodeUnderTest("fr", tmp_path, "nats://127.0.0.1:1", registry, SEEDS, reporting=True)
    for host in fr.hosts:
        await host.db.create_tables(host.metadata)
        await host.open_access()
    try:
        yield fr
    finally:
        for host in fr.hosts:
            await host.db.dispose()
            await host.access.stop()


def operations(app) -> list[tuple[str, str]]:
    schema = app.openapi()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete", "patch"}
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def client(host, headers=None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host.http_app, raise_app_exceptions=False),
        base_url="http://fr",
        headers=headers or {},
        follow_redirects=False,
    )


async def test_no_operation_answers_a_stranger_and_each_role_gets_exactly_its_own(node):
    tried = 0
    for host in node.hosts:
        tokens = {role: await bearer(host, role) for role in Role}
        async with client(host) as stranger:
            for method, path in operations(host.http_app):
                if (method, path) in PUBLIC:
                    continue
                tried += 1
                answer = await stranger.request(method, concrete(path), json={})
                assert answer.status_code == 401, (
                    f"{host.name} {method} {path} answered a stranger: {answer.status_code}"
                )
                assert answer.headers.get("www-authenticate") == "Bearer"
                # A forged or foreign token is no better than none.
                forged = await stranger.request(
                    method, concrete(path), json={}, headers={"Authorization": "Bearer crd_0123456789abcdef_forged"}
                )
                assert forged.status_code == 401
                for role, headers in tokens.items():
                    answer = await stranger.request(method, concrete(path), json={}, headers=headers)
                    if role in allowed(host.name, path):
                        assert answer.status_code not in (401, 403), f"{host.name} {method} {path} refused a {role}"
                    else:
                        assert answer.status_code == 403, (
                            f"{host.name} {method} {path} let a {role} in: {answer.status_code}"
                        )
            # The API's description, too, is for people signed in.
            for path in ("/openapi.json", "/docs"):
                assert (await stranger.get(path)).status_code == 401
                assert (await stranger.get(path, headers=tokens[Role.COORDINATOR])).status_code == 200
            assert (await stranger.get("/health")).status_code == 200
    assert tried >= 35  # every service's operations were walked, not an empty list


async def test_a_browser_signs_in_once_for_the_whole_node_and_is_throttled_and_disabled(node):
    profiles, reporting = node.profiles_host, node.reporting_host
    await profiles.access.store.add_account("ana@elan.example", ["operator"], "correct horse battery")
    await profiles.access.store.add_account("cora@corridor.example", ["coordinator"], "another long password")
    async with client(profiles) as browser:
        page = await browser.get("/volunteers", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/volunteers"
        form = await browser.get("/login")
        assert form.status_code == 200 and 'name="password"' in form.text

        wrong = await browser.post("/login", data={"username": "ana@elan.example", "password": "guess"})
        assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
        assert not browser.cookies

        signed = await browser.post(
            "/login",
            data={"username": "ana@elan.example", "password": "correct horse battery", "next": "//evil.example/"},
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/session"  # never to another site
        cookie = signed.headers["set-cookie"]
        assert "corridor_fr=" in cookie and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        assert (await browser.get("/volunteers")).status_code == 200
        assert (await browser.get("/session")).json()["name"] == "ana@elan.example"
        # The same cookie opens the node's other services (one secret per node)...
        async with client(reporting) as other:
            other.cookies = browser.cookies
            assert (await other.get("/indicators")).status_code == 200
            assert (await other.get("/audit")).status_code == 403  # ...with her roles, no more

        await profiles.access.store.set_disabled("ana@elan.example", True)
        assert (await browser.get("/volunteers")).status_code == 401  # at once, not when the cookie expires

        await browser.post("/logout")
        assert (await browser.get("/session")).status_code == 401

    # A coordinator never sees personal data.
    async with client(profiles) as browser:
        await browser.post("/login", data={"username": "cora@corridor.example", "password": "another long password"})
        assert (await browser.get("/volunteers")).status_code == 403

    # Throttled: after five failures, even the right password waits.
    async with client(profiles) as browser:
        for _ in range(5):
            assert (
                await browser.post("/login", data={"username": "cora@corridor.example", "password": "x"})
            ).status_code == 401
        late = await browser.post(
            "/login", data={"username": "cora@corridor.example", "password": "another long password"}
        )
        assert late.status_code == 429 and int(late.headers["retry-after"]) > 0
        # The attempts are kept in the node's store: another service of the node refuses too.
        async with client(reporting) as other:
            assert (
                await other.post(
                    "/login", data={"username": "cora@corridor.example", "password": "another long password"}
                )
            ).status_code == 429


async def test_tokens_expire_and_are_revoked(node):
    store = node.profiles_host.access.store
    async with client(node.profiles_host) as api:
        value = await store.issue_token("nightly import", ["operator"], days=1)
        headers = {"Authorization": f"Bearer {value}"}
        assert (await api.get("/volunteers", headers=headers)).status_code == 200
        (issued,) = [t for t in await store.list_tokens() if t.name == "nightly import"]
        await store.revoke_token(issued.token_id)
        assert (await api.get("/volunteers", headers=headers)).status_code == 401
        tampered = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
        assert (await api.get("/volunteers", headers={"Authorization": f"Bearer {tampered}"})).status_code == 401
        assert (await api.get("/volunteers", headers={"Authorization": f"Basic {value}"})).status_code == 401


def test_session_cookies_are_secure_unless_the_api_listens_on_loopback(tmp_path):
    from corridor_runtime.settings import NodeSettings

    assert NodeSettings(node_id="fr", http_host="0.0.0.0").cookies_secure() is True
    assert NodeSettings(node_id="fr", http_host="127.0.0.1").cookies_secure() is False
    with pytest.raises(ValueError, match="oidc_audience is required"):
        NodeSettings(node_id="fr", oidc_issuer="https://id.example.org")
    with pytest.raises(ValueError, match="none"):
        NodeSettings(
            node_id="fr", oidc_issuer="https://id.example.org", oidc_audience="x", oidc_algorithms=["RS256", "none"]
        )


async def test_every_read_of_her_data_is_in_the_audit_trail_and_her_data_is_not(node):
    async with (
        client(node.profiles_host, await bearer(node.profiles_host, Role.OPERATOR, name="ana")) as api,
        client(node.profiles_host, await bearer(node.profiles_host, Role.AUDITOR, name="audrey")) as auditor,
    ):
        org = (
            await api.post(
                "/organisations",
                json={
                    "name": "Accueil",
                    "kind": "ngo",
                    "sector": "care",
                    "country": "FR",
                    "city": "Lyon",
                    "contact": {"name": "Jeanne Martin", "email": "jeanne@accueil.example", "preferred_language": "fr"},
                },
            )
        ).json()
        her = (
            await api.post(
                "/volunteers",
                json={
                    "reference": "FR-1",
                    "given_name": "Zainab",
                    "family_name": "Haddad",
                    "email": "zainab.haddad@example.org",
                    "phone": "+33 6 98 76 54 32",
                    "country_of_origin": "SY",
                    "preferred_language": "fr",
                    "place": {"country": "FR", "city": "Lyon", "willing_to_move": False},
                    "languages": [{"language": "fr", "level": "B2"}],
                    "skills": ["care.elderly-care"],
                    "availability": {"hours_per_week": 10, "available_from": "2027-01-04"},
                    "sector_preferences": ["care"],
                    "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True},
                },
            )
        ).json()
        vid = her["volunteer_id"]
        await api.get(f"/volunteers/{vid}")
        await api.get("/volunteers?limit=10")
        await api.get("/volunteers?limit=10&status=active")
        await api.delete(f"/volunteers/{vid}")

        trail = (await auditor.get(f"/audit?subject_id={vid}")).json()["items"]
        assert [(r["action"], r["endpoint"], r["actor"]) for r in trail] == [
            ("create", "POST /volunteers", "token:ana"),
            ("read", "GET /volunteers/{volunteer_id}", "token:ana"),
            ("read", "GET /volunteers", "token:ana"),
            ("read", "GET /volunteers", "token:ana"),
            ("erase", "DELETE /volunteers/{volunteer_id}", "token:ana"),
        ]
        assert all(r["service"] == "profiles" and r["via"] == "token" for r in trail)
        assert (await auditor.get(f"/audit?subject_id={org['organisation_id']}")).json()["items"][0][
            "action"
        ] == "create"

        exported = await auditor.get("/audit.csv")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        assert exported.text.splitlines()[0] == "seq,at,service,actor,via,action,subject_kind,subject_id,endpoint"
        assert len(exported.text.splitlines()) == 1 + 6

    # The trail keeps the rows, not her: no name, e-mail or phone in the access store's file.
    await node.profiles_host.access.store.db.scrub()
    stored = b"".join(p.read_bytes() for p in (node.tmp.parent / "fr").glob("access.sqlite*"))
    assert stored, "the access store's file was not found"
    for value in ("Zainab", "Haddad", "zainab.haddad@example.org", "98 76 54 32"):
        assert value.encode() not in stored


async def test_the_audit_trail_keeps_rows_for_its_retention_only(node):
    from datetime import timedelta

    from corridor_runtime.access.store import audit_trail, now

    store = node.profiles_host.access.store
    await store.record(
        [
            {
                "at": now() - timedelta(days=800),
                "service": "profiles",
                "actor": "old",
                "via": "token",
                "action": "read",
                "subject_kind": "volunteer",
                "subject_id": "x",
                "endpoint": "GET /volunteers",
            },
            {
                "at": now(),
                "service": "profiles",
                "actor": "new",
                "via": "token",
                "action": "read",
                "subject_kind": "volunteer",
                "subject_id": "y",
                "endpoint": "GET /volunteers",
            },
        ]
    )
    await node.profiles_host.access.forget_old()  # retention: 730 days by default
    rows, total = await store.audit(limit=None)
    assert [r["actor"] for r in rows] == ["new"] and total == 1
    assert audit_trail.name == "access_audit"

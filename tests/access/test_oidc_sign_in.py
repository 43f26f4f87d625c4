"""Signing in through the partner's own OpenID provider: a real oidc-provider process on loopback
(tests/harness/oidc), the node's services as its relying party.

A person signs in with the browser flow (authorization code with PKCE) and gets the roles the
provider says; automation sends client-credentials tokens. Every token the node should not trust is
refused: expired, from another issuer, for another audience, unsigned (`alg: none`), or signed by a
key the provider does not publish.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time

import httpx
import pytest
from corridor_contracts import PartnerNode, Registry, new_node_seed
from corridor_profiles.bootstrap import build as build_profiles
from corridor_reporting.bootstrap import build as build_reporting
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from harness.oidc import OidcProvider, automation_client, browser_client
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

pytestmark = pytest.mark.nats  # not NATS: a server process of its own, on loopback all the same

AUDIENCE = "urn:corridor:fr"
CALLBACK = "http://fr.node/login/callback"
SEED = new_node_seed()
ACCOUNTS = {
    "ana": {"email": "ana@elan.example", "email_verified": True, "name": "Ana", "roles": ["operator"]},
    "cora": {"email": "cora@corridor.example", "name": "Cora", "roles": ["coordinator", "provider-admin"]},
}
CLIENTS = [
    browser_client("fr-node", "fr-node-secret", [CALLBACK]),
    automation_client("prometheus", "scrape-secret", roles=["scraper"]),
    automation_client("importer", "import-secret", roles=["operator"]),
]


def _keys() -> dict:
    key = RSAKey.generate_key(2048, parameters={"kid": "provider-key", "use": "sig", "alg": "RS256"})
    return {"keys": [key.as_dict(private=True)]}


@pytest.fixture
async def corridor_idp(tmp_path):
    """The partner's provider, a second provider holding the same keys under another issuer (a
    token it signs verifies, but was not issued for this node's provider), and the node's profiles
    and reporting services trusting the first."""
    keys = _keys()
    async with (
        OidcProvider(
            clients=CLIENTS,
            accounts=ACCOUNTS,
            audience=AUDIENCE,
            audiences=["urn:corridor:es"],
            jwks=keys,
            access_token_ttl=2,
        ) as provider,
        OidcProvider(clients=CLIENTS, accounts=ACCOUNTS, audience=AUDIENCE, jwks=keys) as elsewhere,
    ):
        registry = tmp_path / "corridor.yaml"
        save_registry(Registry(nodes=[PartnerNode.of_seed(SEED, id="fr", name="Elan", country="FR")]), registry)

        def settings(service: str) -> NodeSettings:
            return NodeSettings(
                node_id="fr",
                service=service,
                data_dir=tmp_path,
                registry_file=registry,
                database_url=f"sqlite+aiosqlite:///{tmp_path / (service + '.sqlite')}",
                signing_seed=SEED.decode(),
                pseudonym_secret=secrets.token_hex(32),
                oidc_issuer=provider.issuer,
                oidc_audience=AUDIENCE,
                oidc_client_id="fr-node",
                oidc_client_secret="fr-node-secret",
                oidc_redirect_url=CALLBACK,
                oidc_leeway_seconds=0,
            )

        hosts = [build_profiles(settings("profiles")), build_reporting(settings("reporting"))]
        for host in hosts:
            await host.db.create_tables(host.metadata)
            await host.open_access()
        try:
            yield provider, elsewhere, hosts[0], hosts[1]
        finally:
            for host in hosts:
                await host.db.dispose()
                await host.access.stop()


def _b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def browser(profiles) -> httpx.AsyncClient:
    """A browser: the node's API in process (at http://fr.node), the provider over loopback."""
    return httpx.AsyncClient(mounts={"http://fr.node": httpx.ASGITransport(app=profiles.http_app)}, timeout=20)


async def test_a_person_signs_in_through_the_provider_with_the_roles_it_gives(corridor_idp):
    provider, _, profiles, _ = corridor_idp
    async with browser(profiles) as http:
        first = await http.get("http://fr.node/login?next=/volunteers")
        assert first.status_code == 302
        assert first.headers["location"].startswith(provider.authorization_endpoint)
        assert "code_challenge_method=S256" in first.headers["location"]  # PKCE

        back = await provider.acomplete_browser_sign_in(http, "http://fr.node/login?next=/volunteers", "ana")
        assert back.headers["location"].startswith(CALLBACK)
        signed_in = await http.get(back.headers["location"])
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/volunteers"
        assert (await http.get("http://fr.node/volunteers")).status_code == 200
        who = (await http.get("http://fr.node/session")).json()
        assert who["name"] == "ana@elan.example" and who["via"] == "oidc" and list(who["roles"]) == ["operator"]

        # The same answer again (a replayed code and state) signs nobody in.
        await http.post("http://fr.node/logout")
        replay = await http.get(back.headers["location"])
        assert replay.status_code == 401
        assert (await http.get("http://fr.node/volunteers")).status_code == 401


async def test_a_coordinator_from_the_provider_sees_figures_not_people(corridor_idp):
    provider, _, profiles, _ = corridor_idp
    async with browser(profiles) as http:
        back = await provider.acomplete_browser_sign_in(http, "http://fr.node/login", "cora")
        await http.get(back.headers["location"])
        who = (await http.get("http://fr.node/session")).json()
        assert list(who["roles"]) == ["coordinator"]  # the provider's other roles mean nothing here
        assert (await http.get("http://fr.node/volunteers")).status_code == 403


async def test_automation_uses_client_credentials_and_gets_only_its_roles(corridor_idp):
    provider, _, profiles, reporting = corridor_idp
    scraper = await provider.aclient_credentials_token("prometheus", "scrape-secret")
    importer = await provider.aclient_credentials_token("importer", "import-secret")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=reporting.http_app), base_url="http://r") as api:
        assert (await api.get("/metrics", headers={"Authorization": f"Bearer {scraper}"})).status_code == 200
        assert (await api.get("/indicators", headers={"Authorization": f"Bearer {scraper}"})).status_code == 403
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=profiles.http_app), base_url="http://p") as api:
        assert (await api.get("/volunteers", headers={"Authorization": f"Bearer {importer}"})).status_code == 200
        assert (await api.get("/volunteers", headers={"Authorization": f"Bearer {scraper}"})).status_code == 403


async def test_tokens_the_node_must_not_trust_are_refused(corridor_idp):
    provider, elsewhere, profiles, _ = corridor_idp

    async def answer(token: str) -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=profiles.http_app), base_url="http://p") as api:
            return (await api.get("/volunteers", headers={"Authorization": f"Bearer {token}"})).status_code

    good = await provider.aclient_credentials_token("importer", "import-secret")
    claims = jwt.decode(good, KeySet.import_key_set(provider.jwks())).claims
    assert await answer(good) == 200

    # Another audience: a token the same provider issued for another node's API.
    assert (
        await answer(await provider.aclient_credentials_token("importer", "import-secret", resource="urn:corridor:es"))
        == 401
    )
    # Another issuer, signed with the very same key.
    assert await answer(await elsewhere.aclient_credentials_token("importer", "import-secret")) == 401
    # Unsigned: alg none, the claims copied from the good token.
    assert await answer(f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}.") == 401
    # Signed by a key the provider does not publish, under the provider's key id.
    forger = RSAKey.generate_key(2048, parameters={"kid": "provider-key"})
    assert await answer(jwt.encode({"alg": "RS256", "kid": "provider-key", "typ": "at+jwt"}, claims, forger)) == 401
    # HMAC with the provider's public key as the secret (the old algorithm-confusion attack).
    public_pem = RSAKey.import_key(provider.jwks()["keys"][0]).as_pem(private=False)
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'provider-key'})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert await answer(f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}") == 401
    # Expired: this provider's tokens live 2 s; the node allows no clock difference in this test.
    started = time.time()
    await asyncio.sleep(max(0.0, claims["exp"] + 1.1 - started))
    assert await answer(good) == 401


async def test_a_provider_that_cannot_be_reached_lets_nobody_in(corridor_idp):
    provider, _, profiles, _ = corridor_idp
    token = await provider.aclient_credentials_token("importer", "import-secret")
    profiles.access.provider.issuer = "http://127.0.0.1:9"  # nothing listens there: discovery fails
    profiles.access.provider._metadata = profiles.access.provider._keys = None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=profiles.http_app), base_url="http://p") as api:
        assert (await api.get("/volunteers", headers={"Authorization": f"Bearer {token}"})).status_code == 401

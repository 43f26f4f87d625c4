"""The OpenID provider test peer (tests/harness/oidc): a real oidc-provider process gives what the
relying-party tests of the services' HTTP APIs need, checked with authlib against its JWKS."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from joserfc.jwk import KeySet

from corridor_runtime.nats_server import free_port
from harness.oidc import (  # noqa: F401 (oidc_providers: a fixture)
    OidcProvider,
    OidcProviderError,
    automation_client,
    browser_client,
    oidc_provider_fixture,
    oidc_providers,
    pid_alive,
    running_oidc_provider,
    wait_gone,
)

AUDIENCE = "urn:corridor:fr"
REDIRECT_URI = "http://127.0.0.1:9/auth/callback"  # nothing listens: the redirect is returned, not followed
ACCOUNTS = {
    "ana": {"email": "ana@example.org", "email_verified": True, "name": "Ana", "roles": ["operator"]},
    "olu": {"email": "olu@example.org", "name": "Olu", "roles": ["auditor", "operator"]},
}
CLIENTS = [
    browser_client("web", "web-secret", [REDIRECT_URI]),
    browser_client("web-post", "post-secret", [REDIRECT_URI], auth_method="client_secret_post"),
    automation_client("scraper-bot", "bot secret/+%", roles=["scraper"]),  # Basic auth form-encodes it
    automation_client("importer", "importer-secret", roles=["importer", "scraper"], auth_method="client_secret_post"),
]


@pytest.fixture(scope="module")
def provider():
    with OidcProvider(clients=CLIENTS, accounts=ACCOUNTS, audience=AUDIENCE) as started:
        pid = started.pid
        yield started
    assert wait_gone(pid), f"the provider process {pid} outlived its context"


def key_set(provider: OidcProvider) -> KeySet:
    return KeySet.import_key_set(provider.jwks())


def access_claims(provider: OidcProvider, token: str) -> JWTAccessTokenClaims:
    """An RFC 9068 access token, signature checked against the provider's JWKS."""
    decoded = jwt.decode(token, key_set(provider), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    return JWTAccessTokenClaims(decoded.claims, decoded.header, {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": AUDIENCE},
        "exp": {"essential": True},
        "sub": {"essential": True},
        "client_id": {"essential": True},
    })


def authorize_url(provider: OidcProvider, client_id: str = "web", **extra: str) -> tuple[str, dict[str, str]]:
    flow = {"state": generate_token(16), "nonce": generate_token(16), "verifier": generate_token(48)}
    params = {"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT_URI,
              "scope": "openid email profile", "state": flow["state"], "nonce": flow["nonce"],
              "code_challenge": create_s256_code_challenge(flow["verifier"]), "code_challenge_method": "S256",
              **extra}
    return f"{provider.authorization_endpoint}?{urlencode(params)}", flow


def callback_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_discovery_names_the_endpoints(provider):
    assert provider.issuer.startswith("http://127.0.0.1:")
    assert provider.metadata["issuer"] == provider.issuer
    assert provider.jwks_uri == f"{provider.issuer}/jwks"
    assert provider.token_endpoint == f"{provider.issuer}/token"
    assert provider.authorization_endpoint == f"{provider.issuer}/auth"
    assert provider.metadata["code_challenge_methods_supported"] == ["S256"]
    assert "client_credentials" in provider.metadata["grant_types_supported"]
    assert [k["alg"] for k in provider.jwks()["keys"]] == ["RS256"]
    assert all("d" not in k for k in provider.jwks()["keys"]), "the JWKS must publish public keys only"


def test_client_credentials_token_is_a_jwt_for_the_audience_with_roles(provider):
    token = provider.client_credentials_token("scraper-bot", "bot secret/+%")

    claims = access_claims(provider, token)
    claims.validate()
    assert claims.header["typ"] == "at+jwt"
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == claims["client_id"] == "scraper-bot"
    assert claims["roles"] == ["scraper"]
    assert 0 < claims["exp"] - time.time() <= 300

    # The resource-server side as a relying party would write it with authlib.
    class Validator(JWTBearerTokenValidator):
        def get_jwks(self):
            return key_set(provider)

    validator = Validator(issuer=provider.issuer, resource_server=AUDIENCE)
    validated = validator.authenticate_token(token)
    validator.validate_token(validated, scopes=None, request=None, roles=["scraper"])


def test_client_credentials_with_client_secret_post_resource_and_refusals(provider):
    token = provider.client_credentials_token("importer", "importer-secret", resource=AUDIENCE)
    claims = access_claims(provider, token)
    claims.validate()
    assert claims["roles"] == ["importer", "scraper"]

    with pytest.raises(OidcProviderError, match="invalid_client"):
        provider.client_credentials_token("scraper-bot", "wrong")
    with pytest.raises(OidcProviderError, match="invalid_target"):
        provider.client_credentials_token("scraper-bot", "bot secret/+%", resource="urn:corridor:elsewhere")
    with pytest.raises(OidcProviderError, match="grant type is not allowed"):  # a browser client has no such grant
        provider.client_credentials_token("web", "web-secret")


def test_a_token_for_another_audience_fails_validation(provider):
    decoded = jwt.decode(provider.client_credentials_token("scraper-bot", "bot secret/+%"), key_set(provider))
    options = {"aud": {"essential": True, "value": "urn:corridor:ke"}}
    claims = JWTAccessTokenClaims(decoded.claims, decoded.header, options)
    with pytest.raises(InvalidClaimError):
        claims.validate()


async def test_browser_sign_in_with_pkce_yields_id_and_access_tokens_with_roles(provider):
    url, flow = authorize_url(provider)
    async with httpx.AsyncClient(timeout=10) as browser:
        redirect = await provider.acomplete_browser_sign_in(browser, url, "ana")
        params = callback_params(redirect)
        assert params["state"] == flow["state"]
        assert params["iss"] == provider.issuer
        assert "code" in params, params

        # Signed in: the same browser is sent straight back (no login page, no consent page).
        again_url, again = authorize_url(provider)
        again_redirect = await provider.acomplete_browser_sign_in(browser, again_url, "ana")
        assert callback_params(again_redirect)["state"] == again["state"]

    tokens = await provider.atoken_response("authorization_code", "web", "web-secret", code=params["code"],
                                            redirect_uri=REDIRECT_URI, code_verifier=flow["verifier"])
    assert tokens["token_type"] == "Bearer"

    id_token = jwt.decode(tokens["id_token"], key_set(provider), algorithms=["RS256"])
    id_claims = CodeIDToken(id_token.claims, id_token.header,
                            {"iss": {"essential": True, "value": provider.issuer},
                             "aud": {"essential": True, "value": "web"}},
                            params={"nonce": flow["nonce"]})
    id_claims.validate()
    assert id_claims["sub"] == "ana"
    assert id_claims["roles"] == ["operator"]
    assert id_claims["email"] == "ana@example.org" and id_claims["email_verified"] is True
    assert id_claims["name"] == "Ana"

    access = access_claims(provider, tokens["access_token"])
    access.validate()
    assert access["sub"] == "ana" and access["client_id"] == "web"
    assert access["roles"] == ["operator"]

    # A code is good once, and only with its verifier.
    with pytest.raises(OidcProviderError, match="invalid_grant"):
        await provider.atoken_response("authorization_code", "web", "web-secret", code=params["code"],
                                       redirect_uri=REDIRECT_URI, code_verifier=flow["verifier"])


def test_sync_sign_in_with_client_secret_post_and_the_code_verifier_is_checked(provider):
    url, flow = authorize_url(provider, "web-post", scope="openid")
    with httpx.Client(timeout=10) as browser:
        params = callback_params(provider.complete_browser_sign_in(browser, url, "olu"))
    with pytest.raises(OidcProviderError, match="invalid_grant"):
        provider.token_response("authorization_code", "web-post", "post-secret", code=params["code"],
                                redirect_uri=REDIRECT_URI, code_verifier=generate_token(48))

    url, flow = authorize_url(provider, "web-post", scope="openid")
    with httpx.Client(timeout=10) as browser:
        params = callback_params(provider.complete_browser_sign_in(browser, url, "olu"))
    tokens = provider.token_response("authorization_code", "web-post", "post-secret", code=params["code"],
                                     redirect_uri=REDIRECT_URI, code_verifier=flow["verifier"])
    id_token = jwt.decode(tokens["id_token"], key_set(provider)).claims
    assert id_token["roles"] == ["auditor", "operator"]
    assert "email" not in id_token  # scope openid alone: no email claim
    assert access_claims(provider, tokens["access_token"])["roles"] == ["auditor", "operator"]


def test_pkce_is_required_and_unknown_accounts_are_refused(provider):
    url, flow = authorize_url(provider)
    without_pkce = url.replace("code_challenge=", "x_challenge=").replace("code_challenge_method=", "x_method=")
    with httpx.Client(timeout=10) as browser:
        params = callback_params(provider.complete_browser_sign_in(browser, without_pkce, "ana"))
    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]

    with httpx.Client(timeout=10) as browser, pytest.raises(OidcProviderError, match="refused the login 'mallory'"):
        provider.complete_browser_sign_in(browser, url, "mallory")


short_lived = oidc_provider_fixture(clients=CLIENTS, accounts=ACCOUNTS, audience=AUDIENCE, access_token_ttl=1)


def test_a_short_lived_access_token_is_expired_after_two_seconds(short_lived):
    token = short_lived.client_credentials_token("scraper-bot", "bot secret/+%")
    claims = access_claims(short_lived, token)
    assert claims["exp"] - claims["iat"] == 1
    # Valid when issued (whole seconds: with a 1 s life it may have expired already by now).
    claims.validate(now=claims["iat"])
    time.sleep(2.1)
    with pytest.raises(ExpiredTokenError):
        access_claims(short_lived, token).validate()


def test_the_process_exits_when_its_stdin_closes_and_stop_is_idempotent():
    provider = OidcProvider(clients=CLIENTS[2:], audience=AUDIENCE).start()
    try:
        pid = provider.pid
        assert pid_alive(pid)
        provider.process.stdin.close()  # what the kernel does when the test process dies
        provider.process.wait(timeout=5)
        assert not pid_alive(pid)
    finally:
        provider.stop()
    provider.stop()
    assert provider.process is None and provider.last_pid == pid


def test_a_provider_that_cannot_start_reports_its_stderr():
    provider = OidcProvider(clients=[{"client_id": "broken", "grant_types": ["no-such-grant"]}])
    try:
        with pytest.raises(OidcProviderError, match="did not start") as failure:
            provider.start()
    finally:
        provider.stop()
    assert 'client "broken": invalid_client_metadata' in str(failure.value), failure.value
    assert provider.returncode == 2 and not pid_alive(provider.last_pid)


def test_sigkill_of_the_provider_is_survived_by_stop(oidc_providers):  # noqa: F811
    provider = oidc_providers(clients=CLIENTS[2:], audience=AUDIENCE)
    pid = provider.pid
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    provider.stop()
    assert provider.returncode == -signal.SIGKILL


def relying_party(provider: OidcProvider, redirect_uri: str) -> FastAPI:
    """A minimal confidential relying party: /login redirects to the provider with PKCE, a cookie of its
    own holds the flow; /auth/callback exchanges the code and answers who signed in."""
    app = FastAPI()
    verifiers: dict[str, str] = {}

    @app.get("/login")
    def login() -> RedirectResponse:
        state, verifier = generate_token(16), generate_token(48)
        verifiers[state] = verifier
        query = urlencode({"client_id": "rp", "response_type": "code", "redirect_uri": redirect_uri,
                           "scope": "openid email", "state": state,
                           "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"})
        response = RedirectResponse(f"{provider.authorization_endpoint}?{query}", status_code=302)
        response.set_cookie("rp_flow", state, httponly=True, samesite="lax")
        return response

    @app.get("/auth/callback")
    async def callback(request: Request, code: str, state: str) -> dict:
        assert request.cookies.get("rp_flow") == state
        tokens = await provider.atoken_response("authorization_code", "rp", "rp-secret", code=code,
                                                redirect_uri=redirect_uri, code_verifier=verifiers.pop(state))
        async with httpx.AsyncClient(timeout=10) as http:
            keys = KeySet.import_key_set((await http.get(provider.jwks_uri)).json())
        claims = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"]).claims
        return {"sub": claims["sub"], "email": claims["email"], "roles": claims["roles"]}

    return app


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", ws="none"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await task


async def test_a_relying_party_served_by_uvicorn_signs_ana_in():
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/auth/callback"
    clients = [browser_client("rp", "rp-secret", [redirect_uri])]
    async with running_oidc_provider(clients=clients, accounts=ACCOUNTS, audience=AUDIENCE) as provider:
        async with serving(relying_party(provider, redirect_uri), port), httpx.AsyncClient(timeout=10) as browser:
            # The generic helper: with an AsyncClient it returns an awaitable.
            back = await provider.complete_browser_sign_in(browser, f"http://127.0.0.1:{port}/login", "ana")
            assert back.headers["location"].startswith(redirect_uri + "?")
            signed_in = await browser.get(back.headers["location"])
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json() == {"sub": "ana", "email": "ana@example.org", "roles": ["operator"]}
        pid = provider.pid
    assert wait_gone(pid)
    assert provider.returncode == 0, "SIGTERM should end the provider cleanly"

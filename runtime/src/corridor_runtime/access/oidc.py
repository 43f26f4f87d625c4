"""The partner's own OpenID provider: bearer tokens checked against its keys, and browser sign-in.

A token is accepted only if joserfc verifies its signature with a key the provider publishes (JWKS,
found through the provider's discovery document), with an algorithm the node accepts (never `none`,
never a shared secret), and its claims name the provider as issuer and this node as audience and are
not expired. Keys are fetched again when a token names a key not yet known (the provider rotated),
at most every 30 seconds.

Browser sign-in is the authorization code flow with PKCE, done by authlib's Starlette client (it
keeps state and nonce in the session and checks the ID token).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from typing import Any

import httpx
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..settings import NodeSettings
from .roles import Role
from .store import Principal

log = structlog.get_logger("corridor.access.oidc")
KEY_REFRESH_SECONDS = 30.0


class TokenRefused(Exception):
    """A bearer token this node does not accept; the message says why (logged, not sent)."""


def roles_from_claims(claims: dict[str, Any], *, claim: str, role_map: dict[str, str]) -> frozenset[Role]:
    """The corridor roles a provider's claims grant: the claim's values, mapped; unknown ones ignored."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        value = value.split()
    roles = set()
    for name in value or []:
        mapped = role_map.get(str(name), str(name))
        try:
            roles.add(Role(mapped))
        except ValueError:
            continue
    return frozenset(roles)


class OidcProvider:
    def __init__(self, settings: NodeSettings) -> None:
        assert settings.oidc_issuer and settings.oidc_audience
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.audience = settings.oidc_audience
        self.algorithms = list(settings.oidc_algorithms)
        self.roles_claim = settings.oidc_roles_claim
        self.role_map = dict(settings.oidc_role_map)
        self.settings = settings
        self._metadata: dict | None = None
        self._keys: KeySet | None = None
        self._keys_fetched = 0.0
        self._lock = asyncio.Lock()
        self._browser = None

    async def metadata(self) -> dict:
        if self._metadata is None:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                found = response.json()
            if found.get("issuer", "").rstrip("/") != self.issuer:
                raise TokenRefused(
                    f"the provider's discovery document names issuer {found.get('issuer')!r}, not {self.issuer!r}"
                )
            self._metadata = found
        return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            stale = time.monotonic() - self._keys_fetched > KEY_REFRESH_SECONDS
            if self._keys is None or (refresh and stale):
                async with httpx.AsyncClient(timeout=10) as http:
                    response = await http.get((await self.metadata())["jwks_uri"])
                    response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
                self._keys_fetched = time.monotonic()
            return self._keys

    async def principal(self, token: str) -> Principal:
        """The caller a bearer token stands for, or TokenRefused."""
        try:
            decoded = await self._decode(token)
        except JoseError as error:
            raise TokenRefused(f"{type(error).__name__}: {error}") from None
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=self.settings.oidc_leeway_seconds,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise TokenRefused(f"{type(error).__name__}: {error}") from None
        name = str(claims.get("email") or claims.get("sub") or claims.get("client_id") or "?")
        return Principal(name, roles_from_claims(claims, claim=self.roles_claim, role_map=self.role_map), "oidc")

    async def _decode(self, token: str):
        if token.count(".") != 2:
            raise TokenRefused("not a signed JWT")
        try:
            return jwt.decode(token, await self._key_set(), algorithms=self.algorithms)
        except JoseError as first:
            # A key the node has not seen yet (the provider rotated its keys): fetch them once more.
            keys_before = self._keys
            refreshed = await self._key_set(refresh=True)
            if refreshed is keys_before:
                raise first
            return jwt.decode(token, refreshed, algorithms=self.algorithms)

    # --- browser sign-in -----------------------------------------------------------------------------
    def browser(self):
        """authlib's client for the authorization code flow with PKCE (S256)."""
        if self._browser is None:
            # authlib announces, at import, a preference for another HTTP package (and sets its own
            # warning filter first): it works with httpx, which the project uses.
            from authlib.deprecate import AuthlibDeprecationWarning

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AuthlibDeprecationWarning)
                from authlib.integrations.httpx_client import assertion_client  # noqa: F401
                from authlib.integrations.starlette_client import OAuth
            oauth = OAuth()
            secret = self.settings.oidc_client_secret
            self._browser = oauth.register(
                "corridor",
                client_id=self.settings.oidc_client_id,
                client_secret=secret.get_secret_value() if secret else None,
                server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
                client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
            )
        return self._browser

    def principal_from_id_token(self, claims: dict) -> Principal:
        name = str(claims.get("email") or claims.get("sub"))
        return Principal(name, roles_from_claims(claims, claim=self.roles_claim, role_map=self.role_map), "oidc")

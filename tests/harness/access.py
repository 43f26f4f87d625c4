"""Credentials for tests that call a service's HTTP API: a token the service's node issued."""

from __future__ import annotations

import httpx
from corridor_runtime.access import Role
from corridor_runtime.service import ServiceHost


async def bearer(host: ServiceHost, *roles: Role, name: str = "tests") -> dict[str, str]:
    """Headers carrying a new token of the host's node with these roles (operator if none)."""
    token = await host.access.store.issue_token(name, [r.value for r in roles or (Role.OPERATOR,)])
    return {"Authorization": f"Bearer {token}"}


class NodeToken(httpx.Auth):
    """Authenticates an in-process client with a token of the host's node, issued at its first
    request (opening the host's access store first when the host was not started)."""

    def __init__(self, host: ServiceHost, roles: tuple[Role, ...]) -> None:
        self.host, self.roles, self.header = host, roles, None

    async def async_auth_flow(self, request: httpx.Request):
        if self.header is None:
            if getattr(self.host.http_app.state, "access", None) is None:
                await self.host.open_access()
            self.header = (await bearer(self.host, *self.roles))["Authorization"]
        request.headers["Authorization"] = self.header
        yield request


def signed_in_client(host: ServiceHost, base_url: str, *roles: Role) -> httpx.AsyncClient:
    """An in-process client of the host's app, carrying a token of its node (operator if no roles)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host.http_app), base_url=base_url, auth=NodeToken(host, roles)
    )

"""Access to a service's HTTP API: who is calling (a session, a token the node issued, a token from
the partner's provider), whether their roles allow the endpoint, and the audit trail of personal data.

Every endpoint declares the roles it allows with `allow(...)`, or `audited(...)` when it reads or
changes personal data (the parameter it gives the endpoint records each person concerned).
`NodeAccess.install` refuses an app with an endpoint that declares neither (health excepted): an
endpoint added later without a decision does not start answering strangers.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
import structlog
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..database import Database
from ..settings import NodeSettings
from .oidc import OidcProvider, TokenRefused
from .roles import DESCRIPTIONS, Role
from .store import AUDIT_COLUMNS, TOKEN_PREFIX, AccessStore, Principal, now

log = structlog.get_logger("corridor.access")

PUBLIC = {"/health", "/login", "/login/callback", "/logout"}
THROTTLE_WINDOW = timedelta(minutes=15)
ADDRESS_ATTEMPTS = 50  # failed sign-ins from one address per window, whatever the names tried
_bearer = HTTPBearer(
    auto_error=False,
    description="a token this node issued (`corridor tokens issue`) or one from the partner's OpenID provider",
)


class NodeAccess:
    """The access machinery of one service of a node (its store is the node's)."""

    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.service = settings.service
        self.store = AccessStore(Database(settings.resolved_access_database_url()))
        self.provider = OidcProvider(settings) if settings.oidc_issuer else None
        self.cookie = f"corridor_{settings.node_id}"
        seed = settings.node_seed()
        # One secret for every service of the node, so one sign-in serves all four of its APIs.
        self.session_secret = (
            hashlib.sha256(b"corridor-session\0" + seed).hexdigest()
            if seed is not None
            else hashlib.sha256(f"corridor-session\0{settings.node_id}\0{time.time_ns()}".encode()).hexdigest()
        )

    async def start(self) -> None:
        await self.store.create()

    async def stop(self) -> None:
        await self.store.dispose()

    # --- who is calling ------------------------------------------------------------------------------
    async def authenticate(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                return None
            value = value.strip()
            if value.startswith(TOKEN_PREFIX):
                return await self.store.token_principal(value)
            if self.provider is None:
                return None
            try:
                return await self.provider.principal(value)
            except TokenRefused as why:
                log.info("bearer token refused", reason=str(why), endpoint=request.url.path)
                return None
            except httpx.HTTPError as error:  # the provider's keys cannot be fetched: nobody gets in by token
                log.error("identity provider unreachable", issuer=self.provider.issuer, error=repr(error))
                return None
        if "session" not in request.scope:
            return None
        who = request.session.get("who")
        if not isinstance(who, dict) or who.get("until", 0) < time.time():
            return None
        if who.get("via") == "account":
            return await self.store.account(str(who.get("name")))  # disabled or changed since: as it is now
        if who.get("via") == "oidc":
            roles = frozenset(Role(r) for r in who.get("roles", []) if r in Role._value2member_map_)
            return Principal(str(who.get("name")), roles, "oidc")
        return None

    # --- the app -----------------------------------------------------------------------------------------
    def install(self, app: FastAPI) -> None:
        """Sign-in, the audit trail's endpoints and the session cookie, on a service's app; refuses an
        app with an endpoint that allows nobody in particular."""
        if getattr(app.state, "access", None) is self:
            return
        unguarded = [
            f"{sorted(r.methods or ())[0] if r.methods else '?'} {r.path}"
            for r in app.routes
            if isinstance(r, APIRoute) and r.path not in PUBLIC and not _guarded(r)
        ]
        if unguarded:
            raise RuntimeError(
                f"endpoints without an access rule: {', '.join(unguarded)} (declare allow(...) or audited(...))"
            )
        app.state.access = self
        app.include_router(_sign_in_routes(self))
        app.include_router(_audit_routes())
        for route in app.routes:  # the answers of the gate, in the API's description
            if isinstance(route, APIRoute) and _guarded(route):
                route.responses.setdefault(401, {"description": "no credential, or one this node does not accept"})
                route.responses.setdefault(403, {"description": "the caller's roles do not allow this"})
        app.openapi_schema = None
        app.add_middleware(
            _ProtectedDocs, access=self, paths={p for p in (app.openapi_url, app.docs_url, app.redoc_url) if p}
        )
        app.add_middleware(
            SessionMiddleware,
            secret_key=self.session_secret,
            session_cookie=self.cookie,
            max_age=int(self.settings.session_hours * 3600),
            same_site="lax",
            https_only=self.settings.cookies_secure(),
        )

    async def forget_old(self) -> None:
        """Retention of the audit trail and of sign-in attempts."""
        removed = await self.store.forget_audit(now() - timedelta(days=self.settings.audit_retention_days))
        await self.store.forget_sign_ins(now() - timedelta(days=30))
        if removed:
            log.info(
                "audit trail rows past their retention removed", rows=removed, days=self.settings.audit_retention_days
            )


def _guarded(route: APIRoute) -> bool:
    return _checks(route.dependant)


def _checks(dependant) -> bool:
    """Whether the gate is among the dependencies, at any depth (allow() directly, or inside audited())."""
    return any(getattr(d, "call", None) in (_authorized, _audit) or _checks(d) for d in dependant.dependencies)


def _access(request: Request) -> NodeAccess:
    access = getattr(request.app.state, "access", None)
    if access is None:  # an app served without install(): nobody gets in
        raise HTTPException(503, "access control is not set up on this service")
    return access


async def _authorized(
    request: Request, scopes: SecurityScopes, _token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    # A browser signed in at /login is known by its session cookie (corridor_<node>); the bearer
    # scheme above is what OpenAPI shows.
    access = _access(request)
    principal = await access.authenticate(request)
    if principal is None:
        if (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "authorization" not in request.headers
        ):
            raise HTTPException(303, "sign in first", headers={"Location": f"/login?next={request.url.path}"})
        raise HTTPException(401, "sign in, or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
    allowed = {Role(s) for s in scopes.scopes}
    if not principal.may(allowed):
        log.info("access refused", who=principal.name, roles=sorted(principal.roles), endpoint=_endpoint(request))
        raise HTTPException(403, f"{principal.name} may not: this needs the role {' or '.join(sorted(allowed))}")
    request.state.principal = principal
    return principal


def allow(*roles: Role) -> Any:
    """An endpoint's rule: callers holding any of these roles (as `dependencies=[allow(...)]`)."""
    return Security(_authorized, scopes=[r.value for r in roles])


class Audit:
    """Records, for the endpoint it was given to, each person whose data it reads or changes."""

    def __init__(self, access: NodeAccess, principal: Principal, endpoint: str) -> None:
        self.access, self.principal, self.endpoint = access, principal, endpoint

    @property
    def who(self) -> Principal:
        return self.principal

    async def read(self, kind: str, ids: Iterable[object]) -> None:
        await self._record("read", kind, ids)

    async def created(self, kind: str, ids: Iterable[object]) -> None:
        await self._record("create", kind, ids)

    async def changed(self, kind: str, ids: Iterable[object]) -> None:
        await self._record("change", kind, ids)

    async def erased(self, kind: str, ids: Iterable[object]) -> None:
        await self._record("erase", kind, ids)

    async def _record(self, action: str, kind: str, ids: Iterable[object]) -> None:
        at = now()
        await self.access.store.record(
            [
                {
                    "at": at,
                    "service": self.access.service,
                    "actor": self.principal.name,
                    "via": self.principal.via,
                    "action": action,
                    "subject_kind": kind,
                    "subject_id": str(i),
                    "endpoint": self.endpoint,
                }
                for i in dict.fromkeys(ids)
                if i is not None
            ]
        )


async def _audit(request: Request, principal: Annotated[Principal, Security(_authorized)]) -> Audit:
    return Audit(_access(request), principal, _endpoint(request))


def audited(*roles: Role) -> Any:
    """An endpoint's rule for personal data: as allow(...), and its parameter records who was read or changed."""
    return Security(_audit, scopes=[r.value for r in roles])


def _endpoint(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', '?')}"  # the template: a query or path value never lands here


# --- sign-in -------------------------------------------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    """Only a path of this service: never another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/session"
    return target


def _sign_in_page(node: str, *, next_: str, message: str = "") -> str:
    note = f'<p role="alert">{html.escape(message)}</p>' if message else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in · node {html.escape(node)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Sign in to node {html.escape(node)}</h1>{note}
<form method="post" action="/login"><input type="hidden" name="next" value="{html.escape(next_)}">
<p><label for="username">Username</label><br>
<input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p></form></main></body></html>"""


def _sign_in_routes(access: NodeAccess) -> APIRouter:
    router = APIRouter(tags=["sign-in"])
    node = access.settings.node_id

    @router.get(
        "/login", response_class=HTMLResponse, summary="Sign in: the partner's provider, or this node's own accounts"
    )
    async def sign_in_form(request: Request, next: str | None = None):
        if access.provider is not None and access.settings.oidc_client_id:
            request.session["next"] = _safe_next(next)
            redirect = access.settings.oidc_redirect_url or str(request.url_for("signed_in"))
            return await access.provider.browser().authorize_redirect(request, redirect)
        return HTMLResponse(_sign_in_page(node, next_=_safe_next(next)))

    @router.post(
        "/login",
        response_class=HTMLResponse,
        summary="Sign in with a local account",
        responses={
            303: {"description": "signed in"},
            401: {"description": "wrong name or password"},
            429: {"description": "too many failed attempts"},
        },
    )
    async def sign_in(
        request: Request,
        username: Annotated[str, Form(max_length=200)],
        password: Annotated[str, Form(max_length=1000)],
        next: Annotated[str, Form(max_length=2000)] = "/session",
    ):
        address = request.client.host if request.client else "?"
        by_name, by_address = await access.store.recent_failures(
            username=username, address=address, window=THROTTLE_WINDOW
        )
        if by_name >= access.settings.sign_in_attempts or by_address >= ADDRESS_ATTEMPTS:
            log.warning("sign-in throttled", username=username, address=address, failures=by_name)
            return HTMLResponse(
                _sign_in_page(node, next_=next, message="Too many failed attempts. Try again in 15 minutes."),
                status_code=429,
                headers={"Retry-After": str(int(THROTTLE_WINDOW.total_seconds()))},
            )
        principal = await access.store.check_password(username, password)
        await access.store.record_sign_in(username, address, succeeded=principal is not None)
        if principal is None:
            log.info("sign-in failed", username=username, address=address)
            return HTMLResponse(_sign_in_page(node, next_=next, message="Wrong username or password."), status_code=401)
        request.session.clear()
        request.session["who"] = {
            "name": principal.name,
            "via": "account",
            "until": time.time() + access.settings.session_hours * 3600,
        }
        log.info("signed in", who=principal.name, via="account")
        return RedirectResponse(_safe_next(next), status_code=303)

    @router.get("/login/callback", include_in_schema=False, name="signed_in")
    async def signed_in(request: Request):
        if access.provider is None:
            raise HTTPException(404, "this node signs in with its own accounts")
        try:
            token = await access.provider.browser().authorize_access_token(request)
        except Exception as error:  # a refused, replayed or forged answer from the provider
            log.info("provider sign-in refused", error=repr(error))
            raise HTTPException(401, "the sign-in could not be completed; try again") from None
        principal = access.provider.principal_from_id_token(dict(token.get("userinfo") or {}))
        target = _safe_next(request.session.pop("next", None))
        request.session.clear()
        request.session["who"] = {
            "name": principal.name,
            "via": "oidc",
            "roles": sorted(principal.roles),
            "until": time.time() + access.settings.session_hours * 3600,
        }
        log.info("signed in", who=principal.name, via="oidc", roles=sorted(principal.roles))
        return RedirectResponse(target, status_code=303)

    @router.post("/logout", summary="Sign out", status_code=204)
    async def sign_out(request: Request):
        request.session.clear()

    @router.get("/session", summary="Who is signed in, and what each of their roles gives")
    async def session(principal: Annotated[Principal, allow(*Role)]):
        return {
            "name": principal.name,
            "via": principal.via,
            "roles": {r.value: DESCRIPTIONS[r] for r in sorted(principal.roles)},
        }

    return router


# --- the audit trail --------------------------------------------------------------------------------------------
def _audit_routes() -> APIRouter:
    router = APIRouter(tags=["audit"], dependencies=[allow(Role.AUDITOR)])

    @router.get("/audit", summary="The audit trail: every read and change of personal data on this node")
    async def audit_rows(
        request: Request,
        subject_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ):
        rows, total = await _access(request).store.audit(
            subject_id=subject_id, actor=actor, since=since, until=until, limit=limit, offset=offset
        )
        return JSONResponse(
            {
                "items": [{**r, "at": r["at"].isoformat()} for r in rows],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )

    @router.get(
        "/audit.csv",
        response_class=PlainTextResponse,
        summary="The audit trail as CSV",
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def audit_csv(request: Request, since: datetime | None = None, until: datetime | None = None):
        rows, _ = await _access(request).store.audit(since=since, until=until, limit=None)
        return PlainTextResponse(
            audit_as_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )

    return router


def audit_as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_COLUMNS)
    for row in rows:
        writer.writerow([row["at"].isoformat() if c == "at" else row[c] for c in AUDIT_COLUMNS])
    return out.getvalue()


class _ProtectedDocs:
    """The API's description (OpenAPI, /docs) only for someone signed in to the node."""

    def __init__(self, app: ASGIApp, *, access: NodeAccess, paths: set[str]) -> None:
        self.app, self.access, self.paths = app, access, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            if await self.access.authenticate(Request(scope, receive)) is None:
                await PlainTextResponse(
                    "sign in, or send a bearer token", status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)

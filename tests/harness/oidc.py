"""A real OpenID Connect provider for tests: panva's oidc-provider (Node.js), on plain http over loopback.

    from harness.oidc import OidcProvider, automation_client, browser_client

    with OidcProvider(
        clients=[browser_client("web", "web-secret", ["http://127.0.0.1:8123/auth/callback"]),
                 automation_client("scraper-bot", "bot-secret", roles=["scraper"])],
        accounts={"ana": {"email": "ana@example.org", "name": "Ana", "roles": ["operator"]}},
        audience="urn:corridor:fr",
    ) as provider:
        token = provider.client_credentials_token("scraper-bot", "bot-secret")   # an RS256 JWT, aud = audience
        redirect = await provider.acomplete_browser_sign_in(http, rp_login_url, "ana")  # 303 to the redirect_uri

The provider process (tests/harness/oidc/provider.mjs) binds a free loopback port itself (port 0: no race
with other test processes), prints `ready <issuer>`, and exits by itself when its stdin closes, so it
never outlives the test process; `stop()` (the context manager's exit) sends SIGTERM to its pid, then
SIGKILL after 5 s. Its node_modules are installed on first use by `ensure_installed()` (`npm ci`).

Browser sign-in uses oidc-provider's development interactions: a login form (any login name is taken
as the account id, any password) and a consent form. The provider's cookies (`_session`,
`_interaction`, `_interaction_resume` and their `.sig`) sit in the caller's httpx cookie jar beside the
relying party's: cookies do not tell ports apart, so a relying party must not use those names.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html.parser
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest

from . import npm

PACKAGE_DIR = Path(__file__).with_name("oidc")
PROVIDER_SCRIPT = PACKAGE_DIR / "provider.mjs"
START_TIMEOUT = 30.0
STOP_GRACE = 5.0
_MAX_PAGES = 12  # requests a browser sign-in may take before it is declared stuck


class OidcProviderError(RuntimeError):
    """The test provider could not be installed, started or driven."""


# --- installation ------------------------------------------------------------------------------


def ensure_installed(timeout: float = 300.0) -> Path:
    """`npm ci` in tests/harness/oidc on first use (harness/npm.py)."""
    try:
        return npm.ensure_installed(PACKAGE_DIR, what="the OIDC test provider", timeout=timeout)
    except npm.NpmError as error:
        raise OidcProviderError(str(error)) from None


# --- client metadata ---------------------------------------------------------------------------


def browser_client(client_id: str, client_secret: str, redirect_uris: list[str], *,
                   auth_method: str = "client_secret_basic", **metadata: Any) -> dict[str, Any]:
    """A confidential browser client: authorization code (PKCE S256 is required by the provider)."""
    return {"client_id": client_id, "client_secret": client_secret, "grant_types": ["authorization_code"],
            "response_types": ["code"], "redirect_uris": list(redirect_uris),
            "token_endpoint_auth_method": auth_method, **metadata}


def automation_client(client_id: str, client_secret: str, roles: list[str], *,
                      auth_method: str = "client_secret_basic", **metadata: Any) -> dict[str, Any]:
    """A machine client: client_credentials only; its access tokens carry `roles`."""
    return {"client_id": client_id, "client_secret": client_secret, "grant_types": ["client_credentials"],
            "response_types": [], "redirect_uris": [], "token_endpoint_auth_method": auth_method,
            "roles": list(roles), **metadata}


# --- the browser flow, without I/O ---------------------------------------------------------------


class _Forms(html.parser.HTMLParser):
    """The forms of a page: (action, method, {input name: value})."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), a.get("method", "get").lower(), {}))
        elif tag == "input" and self.forms and "name" in a:
            self.forms[-1][2][a["name"]] = a.get("value", "")


def _describe(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text[:1500]}"


_Step = tuple[str, str, dict[str, str] | None]  # method, url, form data


def _sign_in_steps(issuer: str, authorize_url: str, account: str,
                   password: str) -> Generator[_Step, httpx.Response, httpx.Response]:
    """Yields the requests of a browser sign-in and receives their responses; returns the first redirect
    that leaves the provider (to the relying party's redirect_uri, with `code` and `state` or `error`).
    The driver builds each request with its client's build_request, so that its cookie jar is used."""
    origin = urlsplit(issuer)

    def at_provider(url: str) -> bool:
        u = urlsplit(url)
        return (u.scheme, u.netloc) == (origin.scheme, origin.netloc) and u.path.startswith(origin.path)

    request: _Step = ("GET", authorize_url, None)
    logged_in = False
    for _ in range(_MAX_PAGES):
        response = yield request
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if not at_provider(location):
                return response
            request = ("GET", location, None)
            continue
        if response.status_code != 200 or not at_provider(str(response.url)):
            raise OidcProviderError(f"browser sign-in: unexpected response: {_describe(response)}")
        parser = _Forms()
        parser.feed(response.text)
        forms = [f for f in parser.forms if f[1] == "post" and "prompt" in f[2]]
        if not forms:
            raise OidcProviderError(f"browser sign-in: no interaction form on the page: {_describe(response)}")
        action, _, fields = forms[0]
        prompt = fields["prompt"]
        if prompt == "login":
            if logged_in:
                raise OidcProviderError(f"browser sign-in: the provider refused the login {account!r} "
                                        "(no such account) and shows its login page again")
            fields.update(login=account, password=password)
            logged_in = True
        elif prompt != "consent":
            raise OidcProviderError(f"browser sign-in: unknown prompt {prompt!r}: {_describe(response)}")
        request = ("POST", urljoin(str(response.url), action), fields)
    raise OidcProviderError(f"browser sign-in for {account!r} did not leave the provider after {_MAX_PAGES} requests")


# --- the provider ------------------------------------------------------------------------------


class OidcProvider:
    """A running oidc-provider process (context manager, sync or async). See the module docstring.

    clients: oidc-provider client metadata (see `browser_client`, `automation_client`; a `roles` key
    gives the roles of a client's client-credentials tokens). accounts: account id -> claims, `roles`
    among them. audience: the resource indicator every access token is for (`aud`). access_token_ttl:
    seconds. jwks: private JWKs ({"keys": [...]}); default: an RSA key generated by the process."""

    def __init__(self, *, clients: list[dict[str, Any]] | None = None,
                 accounts: dict[str, dict[str, Any]] | None = None, audience: str = "urn:corridor:test",
                 audiences: list[str] | None = None, resource_scope: str = "corridor", access_token_ttl: int = 300,
                 jwks: dict[str, Any] | None = None, port: int = 0, pkce_required: bool = True,
                 start_timeout: float = START_TIMEOUT) -> None:
        self.clients = [dict(c) for c in clients or []]
        self.accounts = dict(accounts or {})
        self.audience = audience
        self.access_token_ttl = access_token_ttl
        self.start_timeout = start_timeout
        self.config: dict[str, Any] = {
            "port": port, "clients": self.clients, "accounts": self.accounts, "audience": audience,
            "audiences": list(audiences or []), "resourceScope": resource_scope,
            "accessTokenTTL": access_token_ttl, "pkceRequired": pkce_required,
        }
        if jwks is not None:
            self.config["jwks"] = jwks
        self.process: subprocess.Popen[bytes] | None = None
        self.metadata: dict[str, Any] = {}
        self.issuer = self.jwks_uri = self.token_endpoint = self.authorization_endpoint = ""
        self.userinfo_endpoint = ""
        self._workdir: Path | None = None
        self.last_pid: int | None = None  # the pid of the process, kept after stop()
        self.returncode: int | None = None  # its exit code, once stopped

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def stderr(self) -> str:
        """What the process wrote on stderr so far (oidc-provider's warnings and errors)."""
        if self._workdir is None:
            return ""
        with contextlib.suppress(FileNotFoundError):
            return (self._workdir / "stderr.log").read_text(errors="replace")
        return ""

    # lifecycle

    def start(self) -> OidcProvider:
        if self.process is not None:
            raise OidcProviderError("the provider is already started")
        ensure_installed()
        node = shutil.which("node")
        if node is None:
            raise OidcProviderError("the OIDC test provider needs Node.js (>= 20) on PATH")
        self._workdir = Path(tempfile.mkdtemp(prefix="corridor-oidc-"))
        config_path = self._workdir / "config.json"
        config_path.write_text(json.dumps(self.config))
        try:
            with open(self._workdir / "stderr.log", "wb") as stderr:
                self.process = subprocess.Popen(
                    [node, str(PROVIDER_SCRIPT), str(config_path)], cwd=PACKAGE_DIR,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
            self.issuer = self._wait_ready()
            discovery = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
            self.metadata = discovery.raise_for_status().json()
        except BaseException:
            self.stop()
            raise
        self.jwks_uri = self.metadata["jwks_uri"]
        self.token_endpoint = self.metadata["token_endpoint"]
        self.authorization_endpoint = self.metadata["authorization_endpoint"]
        self.userinfo_endpoint = self.metadata.get("userinfo_endpoint", "")
        return self

    def _wait_ready(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = self.process.stdout
        reader = threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True,
                                  name="oidc-provider-ready")
        reader.start()
        try:
            line = lines.get(timeout=self.start_timeout).decode(errors="replace").strip()
        except queue.Empty:
            raise OidcProviderError(f"the OIDC provider did not print `ready` within {self.start_timeout:.0f} s; "
                                    f"stderr:\n{self.stderr}") from None
        if not line.startswith("ready "):
            code = self.process.wait(timeout=STOP_GRACE) if not line else self.process.poll()
            raise OidcProviderError(f"the OIDC provider did not start (exit code {code}, stdout {line!r}); "
                                    f"stderr:\n{self.stderr}")
        return line.removeprefix("ready ").strip()

    def stop(self) -> None:
        """SIGTERM to the process's pid, SIGKILL after 5 s; idempotent, and safe on a half-started one."""
        process, self.process = self.process, None
        if process is not None:
            try:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=STOP_GRACE)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            finally:
                for pipe in (process.stdin, process.stdout):
                    if pipe is not None:
                        with contextlib.suppress(OSError):
                            pipe.close()
            self.last_pid = process.pid
            self.returncode = process.returncode
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> OidcProvider:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # helpers

    def jwks(self) -> dict[str, Any]:
        """The provider's public JWKS (what a relying party fetches from jwks_uri)."""
        return httpx.get(self.jwks_uri, timeout=10).raise_for_status().json()

    def _token_form(self, grant_type: str, client_id: str, client_secret: str,
                    params: dict[str, str | None]) -> tuple[dict[str, str], dict[str, str]]:
        """The form and headers of a token request, the client authenticated as its metadata says."""
        data = {"grant_type": grant_type, **{k: v for k, v in params.items() if v is not None}}
        method = next((c.get("token_endpoint_auth_method", "client_secret_basic") for c in self.clients
                       if c.get("client_id") == client_id), "client_secret_basic")
        if method == "client_secret_post":
            return {**data, "client_id": client_id, "client_secret": client_secret}, {}
        # client_secret_basic; RFC 6749 2.3.1: both parts form-urlencoded before the Basic encoding
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
        return data, {"authorization": f"Basic {base64.b64encode(pair).decode()}"}

    @staticmethod
    def _token_body(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise OidcProviderError(f"token request refused: {_describe(response)}")
        return response.json()

    def token_response(self, grant_type: str, client_id: str, client_secret: str,
                       **params: str | None) -> dict[str, Any]:
        """POST to the token endpoint (e.g. "authorization_code" with code=, redirect_uri=, code_verifier=;
        None values are left out); returns the JSON body, raises OidcProviderError unless 200."""
        data, headers = self._token_form(grant_type, client_id, client_secret, params)
        return self._token_body(httpx.post(self.token_endpoint, data=data, headers=headers, timeout=10))

    async def atoken_response(self, grant_type: str, client_id: str, client_secret: str,
                              **params: str | None) -> dict[str, Any]:
        """`token_response` without blocking the event loop."""
        data, headers = self._token_form(grant_type, client_id, client_secret, params)
        async with httpx.AsyncClient(timeout=10) as http:
            return self._token_body(await http.post(self.token_endpoint, data=data, headers=headers))

    def client_credentials_token(self, client_id: str, client_secret: str, *, resource: str | None = None,
                                 scope: str | None = None) -> str:
        """A client-credentials access token (the raw JWT) for the client; for `resource`, else the audience."""
        return self.token_response("client_credentials", client_id, client_secret, resource=resource,
                                   scope=scope)["access_token"]

    async def aclient_credentials_token(self, client_id: str, client_secret: str, *, resource: str | None = None,
                                        scope: str | None = None) -> str:
        """`client_credentials_token` without blocking the event loop."""
        body = await self.atoken_response("client_credentials", client_id, client_secret, resource=resource,
                                          scope=scope)
        return body["access_token"]

    @overload
    def complete_browser_sign_in(self, http: httpx.Client, authorize_url: str, account: str, *,
                                 password: str = ...) -> httpx.Response: ...
    @overload
    def complete_browser_sign_in(self, http: httpx.AsyncClient, authorize_url: str, account: str, *,
                                 password: str = ...) -> Any: ...

    def complete_browser_sign_in(self, http, authorize_url, account, *, password="secret"):
        """Drive a browser sign-in for `account` with `http` (its cookie jar is the browser's): GET
        `authorize_url` (the provider's authorization URL, or a relying-party URL that redirects there),
        follow the provider's redirects, submit its login form (login = account id) and its consent form,
        and return the redirect that leaves the provider (303 to the redirect_uri with code and state),
        not followed. With an httpx.AsyncClient, returns an awaitable (see acomplete_browser_sign_in)."""
        if isinstance(http, httpx.AsyncClient):
            return self.acomplete_browser_sign_in(http, authorize_url, account, password=password)
        steps = _sign_in_steps(self.issuer, authorize_url, account, password)
        method, url, data = next(steps)
        while True:
            response = http.send(http.build_request(method, url, data=data), follow_redirects=False)
            response.read()
            try:
                method, url, data = steps.send(response)
            except StopIteration as done:
                return done.value

    async def acomplete_browser_sign_in(self, http: httpx.AsyncClient, authorize_url: str, account: str, *,
                                        password: str = "secret") -> httpx.Response:
        """`complete_browser_sign_in` with an httpx.AsyncClient."""
        steps = _sign_in_steps(self.issuer, authorize_url, account, password)
        method, url, data = next(steps)
        while True:
            response = await http.send(http.build_request(method, url, data=data), follow_redirects=False)
            await response.aread()
            try:
                method, url, data = steps.send(response)
            except StopIteration as done:
                return done.value


def pid_alive(pid: int) -> bool:
    """Whether a (non-zombie) process has this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def wait_gone(pid: int, timeout: float = STOP_GRACE) -> bool:
    """True once no process has `pid` (or only a zombie does), waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


# --- pytest fixtures ---------------------------------------------------------------------------


def oidc_provider_fixture(*, scope: str = "function", **options: Any) -> Callable[..., Any]:
    """A fixture yielding a started OidcProvider(**options), stopped afterwards (failed test or not);
    a test module assigns it: `oidc_provider = oidc_provider_fixture(scope="module", clients=[...])`."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def fixture() -> Iterator[OidcProvider]:
        with OidcProvider(**options) as provider:
            yield provider
        _assert_gone(provider)

    return fixture


def _assert_gone(provider: OidcProvider) -> None:
    if provider.last_pid is not None and not wait_gone(provider.last_pid):
        raise OidcProviderError(f"the OIDC provider process {provider.last_pid} outlived stop()")


@pytest.fixture
def oidc_providers() -> Iterator[Callable[..., OidcProvider]]:
    """A factory of started providers (`provider = oidc_providers(clients=..., ...)`); each one is
    stopped when the test ends, failed or not. Import it into a test module to use it."""
    started: list[OidcProvider] = []

    def start(**options: Any) -> OidcProvider:
        provider = OidcProvider(**options)
        started.append(provider)
        return provider.start()

    try:
        yield start
    finally:
        for provider in started:
            provider.stop()
        for provider in started:
            _assert_gone(provider)


@contextlib.asynccontextmanager
async def running_oidc_provider(**options: Any) -> AsyncIterator[OidcProvider]:
    """`async with running_oidc_provider(...) as provider:` for async tests and async fixtures."""
    async with OidcProvider(**options) as provider:
        yield provider

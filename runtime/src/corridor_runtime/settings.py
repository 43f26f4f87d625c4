"""Settings of one service on one node: environment variables (CORRIDOR_*) over a node config file.

The node config file is TOML, named by CORRIDOR_CONFIG; its keys are the field names below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from corridor_contracts import Registry, Signer
from corridor_contracts.types import NodeId

from .registry_file import ConfigError, read_config_text


class NodeConfigFile(TomlConfigSettingsSource):
    """The node config file, read as UTF-8 with or without a byte-order mark (which Windows editors
    write and TOML parsers refuse)."""

    def _read_file(self, file_path) -> dict:
        return tomllib.loads(read_config_text(Path(file_path), what="node config (CORRIDOR_CONFIG)"))


class NodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="forbid")

    node_id: NodeId = "demo"
    service: str = Field(default="node", pattern=r"^[a-z][a-z0-9_]{1,31}$")
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str | None = Field(default=None, description="SQLAlchemy async URL; default: a SQLite file in data_dir")
    data_dir: Path = Path("var")
    registry_file: Path | None = None
    registry_poll_seconds: float = Field(default=10.0, gt=0, le=3600, description="how often a changed registry file is picked up")
    signing_seed_file: Path | None = None
    signing_seed: SecretStr | None = None
    pseudonym_secret_file: Path | None = Field(default=None, description="the node's secret for volunteers' pseudonyms")
    pseudonym_secret: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(default=None, ge=0, le=65535, description="the service's HTTP API, if it has one")
    log_level: str = "INFO"
    log_json: bool = True
    otlp_endpoint: str | None = Field(
        default=None, description="where to send traces (OTLP over HTTP, e.g. http://collector:4318); unset: no spans are made")
    batch_size: int = Field(default=256, ge=1, le=10_000)
    max_deliver: int = Field(default=8, ge=2, le=100, description="attempts before a failing event is dead-lettered")
    inbox_retention_days: int = Field(
        default=90, ge=1,
        description="how long applied event ids are remembered; an event older than this is refused as a replay "
                    "(keep it at least the streams' max age, 90 days, so nothing a stream still holds is refused)")

    max_clock_skew_seconds: float = Field(
        default=300, gt=0, le=86_400,
        description="how far in the future an event's time may be before it is refused (nodes' clocks differ a little)")

    # --- who may use the HTTP APIs (access/) ---------------------------------------------------------
    access_database_url: str | None = Field(
        default=None, description="accounts, tokens and the audit trail; default: database_url, or access.sqlite in the node's folder")
    oidc_issuer: str | None = Field(default=None, description="the partner's OpenID provider (its issuer URL); unset: local accounts only")
    oidc_audience: str | None = Field(default=None, description="the audience bearer tokens must name (required with oidc_issuer)")
    oidc_client_id: str | None = Field(default=None, description="this node's client at the provider, for browser sign-in")
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_url: str | None = Field(default=None, description="where the provider sends the browser back; default: this service's /login/callback")
    oidc_roles_claim: str = Field(default="roles", description="the claim listing a person's roles; a dotted path reaches inside (realm_access.roles)")
    oidc_role_map: dict[str, str] = Field(default_factory=dict, description="the provider's role or group names mapped to the corridor's roles")
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"],
                                       description="signature algorithms accepted on tokens (never none, never HMAC)")
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300, description="clock difference allowed on a token's times")
    secure_cookies: bool | None = Field(default=None, description="session cookies only over HTTPS; default: unless the API listens on loopback")
    session_hours: float = Field(default=8, gt=0, le=24 * 30, description="how long a browser session lasts")
    sign_in_attempts: int = Field(default=5, ge=1, le=100, description="failed sign-ins of one account allowed per 15 minutes")
    audit_retention_days: int = Field(default=730, ge=1, description="how long the audit trail keeps a row")

    @field_validator("oidc_algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        refused = [a for a in value if a.lower() == "none" or a.upper().startswith("HS")]
        if refused:
            raise ValueError(f"oidc_algorithms: {', '.join(refused)} cannot be accepted (no signature, or a secret the provider shares)")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> NodeSettings:
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("oidc_audience is required with oidc_issuer: tokens meant for another service must be refused")
        if self.oidc_client_id and not self.oidc_issuer:
            raise ValueError("oidc_client_id needs oidc_issuer")
        return self

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CORRIDOR_CONFIG")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"CORRIDOR_CONFIG names {path}, which is not a file")
            try:
                sources.append(NodeConfigFile(settings_cls, toml_file=path))
            except tomllib.TOMLDecodeError as error:
                raise ConfigError(f"{path} (CORRIDOR_CONFIG): not valid TOML: {error}") from None
        return tuple(sources)

    @property
    def node_dir(self) -> Path:
        return self.data_dir / self.node_id

    def resolved_database_url(self) -> str:
        return service_database_url(self.data_dir, self.node_id, self.service, self.database_url)

    def resolved_access_database_url(self) -> str:
        return self.access_database_url or access_database_url(self.data_dir, self.node_id, self.database_url)

    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.http_host not in {"127.0.0.1", "localhost", "::1"}

    def node_seed(self) -> bytes | None:
        """The node's one secret key (an nkey seed): it signs what the node shares and opens what is
        sealed for it."""
        if self.signing_seed is not None:
            return self.signing_seed.get_secret_value().strip().encode()
        if self.signing_seed_file is not None:
            return self.signing_seed_file.read_bytes().strip()
        return None

    def signer(self) -> Signer | None:
        seed = self.node_seed()
        return Signer(seed) if seed is not None else None

    def pseudonym_key(self) -> bytes | None:
        """The node's secret behind volunteers' pseudonyms (hex, at least 32 bytes)."""
        if self.pseudonym_secret is not None:
            text = self.pseudonym_secret.get_secret_value()
        elif self.pseudonym_secret_file is not None:
            text = self.pseudonym_secret_file.read_text()
        else:
            return None
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            raise ValueError("the pseudonym secret must be hexadecimal") from None
        if len(key) < 32:
            raise ValueError("the pseudonym secret must have at least 32 bytes (64 hex digits)")
        return key

    def registry(self) -> Registry | None:
        if self.registry_file is None:
            return None
        from .registry_file import load_registry

        return load_registry(self.registry_file)


def service_database_url(data_dir: Path, node_id: str, service: str, database_url: str | None) -> str:
    """A service's database: the node's one database when it has one, else the service's SQLite file."""
    if database_url:
        return database_url
    return f"sqlite+aiosqlite:///{(data_dir / node_id / f'{service}.sqlite').resolve()}"


def access_database_url(data_dir: Path, node_id: str, database_url: str | None) -> str:
    """Where a node keeps its accounts, tokens and audit trail, for all its services: the node's
    database when it has one server database (PostgreSQL), else a SQLite file of its own in the node's
    folder (each service's SQLite file is its own)."""
    if database_url and not database_url.startswith("sqlite"):
        return database_url
    return f"sqlite+aiosqlite:///{(data_dir / node_id / 'access.sqlite').resolve()}"

"""Channel settings of a node's notifications (CORRIDOR_NOTIFY_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Channel = Literal["maildir", "smtp", "webhook"]


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_NOTIFY_", extra="forbid")

    channels: list[Channel] = ["maildir"]
    node_name: str | None = Field(default=None, description="the partner's name signing messages (default: the registry's)")
    maildir: Path | None = Field(default=None, description="default: <data_dir>/<node>/maildir")
    sender: str = "corridor@localhost"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False  # TLS from the start (port 465)
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout: float = 10.0
    max_attempts: int = Field(default=8, ge=1, le=50)
    digest_every: float = Field(default=3600.0, gt=0, description="seconds between digest checks (one digest a day)")

"""Where messages go: a Maildir on disk (the embedded default), e-mail over SMTP, or a signed webhook.

Each channel raises TransientFailure (try again later) or PermanentFailure (give up, dead-letter).
Sends are idempotent where the channel allows it: the Maildir file is named after the delivery, the
webhook carries an Idempotency-Key, the e-mail a Message-ID derived from the delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib
import httpx


UTF8_FILE = default_policy.clone(utf8=True, max_line_length=None)  # unfolded: the stdlib folds a long UTF-8 header badly


class TransientFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


@dataclass(frozen=True)
class Outgoing:
    delivery_id: str
    kind: str
    language: str
    address: str | None
    recipient_id: str
    recipient_kind: str
    subject: str
    text: str
    html: str

    def email(self, sender: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.address or "undisclosed-recipients:;"
        message["Subject"] = self.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(idstring=self.delivery_id, domain="corridor.invalid")
        message["X-Corridor-Delivery"] = self.delivery_id
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        message["Content-Language"] = self.language  # after the content: set_content clears Content-* headers
        return message


class MaildirChannel:
    """Writes each message as a file of a Maildir (any mail client opens it); tmp/ then new/."""

    name = "maildir"
    needs_address = False

    def __init__(self, path: Path, sender: str) -> None:
        self.path = path
        self.sender = sender
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    async def send(self, message: Outgoing) -> None:
        name = f"{message.delivery_id}.corridor.{socket.gethostname().replace('/', '_').replace(':', '_')}"
        final = self.path / "new" / name
        if final.exists() or any((self.path / "cur").glob(f"{message.delivery_id}.*")):
            return  # already delivered (a retry after a crash), perhaps already read
        temporary = self.path / "tmp" / name
        try:
            # Headers in UTF-8 (RFC 6532), as a mail client reads them: an address with accents is an
            # address, not an encoded word (which no client accepts in an address).
            temporary.write_bytes(message.email(self.sender).as_bytes(policy=UTF8_FILE))
            os.replace(temporary, final)
        except OSError as error:
            raise TransientFailure(f"cannot write to the Maildir: {error.strerror}") from None


    def erase(self, delivery_id: str) -> int:
        """Remove the message's file, wherever a mail client moved it; how many files went."""
        removed = 0
        for sub in ("new", "cur", "tmp"):
            for path in (self.path / sub).glob(f"{delivery_id}.*"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


class SmtpChannel:
    name = "smtp"
    needs_address = True

    def __init__(self, *, host: str, port: int, sender: str, username: str | None = None, password: str | None = None,
                 use_tls: bool = False, start_tls: bool = False, timeout: float = 10.0) -> None:
        self._options = dict(hostname=host, port=port, username=username, password=password, use_tls=use_tls,
                             start_tls=start_tls, timeout=timeout)
        self.sender = sender

    async def send(self, message: Outgoing) -> None:
        try:
            await aiosmtplib.send(message.email(self.sender), **self._options)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            if all(500 <= c < 600 for c in codes):
                raise PermanentFailure(f"address refused: {'; '.join(f'{r.code} {r.message}' for r in error.recipients)}") from None
            raise TransientFailure(f"address deferred: {codes}") from None
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600:
                raise PermanentFailure(f"{error.code} {error.message}") from None
            raise TransientFailure(f"{error.code} {error.message}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise TransientFailure(f"SMTP server unreachable: {error}") from None


    def erase(self, delivery_id: str) -> int:
        return 0  # the message left this node: the recipient's server holds it, not this node


class WebhookChannel:
    """A JSON POST to the partner's own system, signed with HMAC-SHA256 of the body."""

    name = "webhook"
    needs_address = False

    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        self.url = url
        self._secret = secret.encode()
        self._timeout = timeout

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    async def send(self, message: Outgoing) -> None:
        body = json.dumps({
            "delivery_id": message.delivery_id, "kind": message.kind, "language": message.language,
            "recipient": {"id": message.recipient_id, "kind": message.recipient_kind, "address": message.address},
            "subject": message.subject, "text": message.text, "html": message.html,
        }, ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-Corridor-Signature": self.sign(body),
                   "Idempotency-Key": message.delivery_id}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise TransientFailure(f"webhook unreachable: {error!r}") from None
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            raise TransientFailure(f"webhook answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentFailure(f"webhook refused it: {response.status_code} {response.text[:200]}")

    def erase(self, delivery_id: str) -> int:
        return 0  # the message left this node: the receiving service holds it, not this node

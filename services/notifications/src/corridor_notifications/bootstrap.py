"""Wires the notifications service: directory, messages, channels, dispatcher and HTTP API."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from corridor_runtime.consumer import Subscription
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings

from . import directory
from .api import create_app
from .channels import MaildirChannel, SmtpChannel, WebhookChannel
from .dispatcher import Dispatcher
from .erasure import Erasure
from .messages import Messages
from .settings import NotificationSettings
from .tables import metadata
from .templates import Templates

SERVICE = "notifications"


def channels_for(settings: NodeSettings, notify: NotificationSettings) -> list:
    chosen = []
    for name in dict.fromkeys(notify.channels):
        if name == "maildir":
            chosen.append(MaildirChannel(notify.maildir or settings.node_dir / "maildir", notify.sender))
        elif name == "smtp":
            chosen.append(SmtpChannel(host=notify.smtp_host, port=notify.smtp_port, sender=notify.sender,
                                      username=notify.smtp_username,
                                      password=notify.smtp_password.get_secret_value() if notify.smtp_password else None,
                                      use_tls=notify.smtp_tls, start_tls=notify.smtp_starttls, timeout=notify.smtp_timeout))
        elif name == "webhook":
            if not notify.webhook_url or notify.webhook_secret is None:
                raise ValueError("the webhook channel needs CORRIDOR_NOTIFY_WEBHOOK_URL and CORRIDOR_NOTIFY_WEBHOOK_SECRET")
            chosen.append(WebhookChannel(notify.webhook_url, notify.webhook_secret.get_secret_value(), notify.webhook_timeout))
    return chosen


def build(settings: NodeSettings | None = None, notify: NotificationSettings | None = None) -> ServiceHost:
    settings = (settings or NodeSettings(service=SERVICE)).model_copy(update={"service": SERVICE})
    notify = notify or NotificationSettings()
    registry = settings.registry()
    node_name = notify.node_name or (registry.node(settings.node_id).name if registry else settings.node_id)
    host = ServiceHost(settings, metadata=metadata)
    channels = channels_for(settings, notify)
    dispatcher = Dispatcher(host, channels, max_attempts=notify.max_attempts)
    messages = Messages(channels=channels, templates=Templates(), node_name=node_name, wake=dispatcher.wake)
    erasure = Erasure(channels)
    host.subscriptions = [
        Subscription("notifications-local", "LOCAL", {
            "VolunteerRegistered": directory.on_volunteer,
            "VolunteerUpdated": directory.on_volunteer,
            "VolunteerErased": erasure.on_volunteer_erased,
            "OrganisationRegistered": directory.on_organisation,
            "PlacementProposed": messages.on_proposed,
            "PlacementProposalExpiring": messages.on_expiring,
            "PlacementExpired": messages.on_expired,
        }),
        Subscription("notifications-corridor", "IN", {
            "OpportunityPublished": directory.on_opportunity,
            "OpportunityUpdated": directory.on_opportunity,
            "PlacementConfirmed": messages.on_answer,
            "PlacementDeclined": messages.on_answer,
            "PlacementWithdrawn": messages.on_answer,
            "PlacementStarted": messages.on_answer,
            "PlacementCompleted": messages.on_answer,
            "PlacementRequested": messages.on_requested,
            "ContactDisclosed": messages.on_contact_disclosed,
            "ErasureRequested": erasure.on_erasure_requested,
        }),
        Subscription("notifications-sent", "OUT", {
            "PlacementConfirmed": messages.on_host_step,
            "PlacementStarted": messages.on_host_step,
            "PlacementCompleted": messages.on_host_step,
            "PlacementWithdrawn": messages.on_host_step,
        }, outgoing=True),
    ]

    async def digests() -> None:
        while True:
            async with host.unit_of_work() as uow:
                sent = await messages.digest(uow, today=datetime.now(timezone.utc).date())
            if sent:
                dispatcher.wake()
            await asyncio.sleep(notify.digest_every)

    host.add_loop("digests", digests)
    host.add_loop("dispatcher", dispatcher.run_forever)
    host.http_app = create_app(host, dispatcher)
    return host


